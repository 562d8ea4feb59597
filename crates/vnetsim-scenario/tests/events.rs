//! Timed events meet the rules of the declarations they change, against the network as it is
//! at their time: earlier events applied (by time, then file order), later ones not yet.

use vnetsim_scenario::load_str;

const NET: &str = "\
name: timeline
azure: { peering_limit: 1 }
vnets:
  - name: a
    address_space: [10.0.0.0/16]
    subnets: [ { name: app, prefix: 10.0.1.0/24 } ]
  - name: b
    address_space: [10.1.0.0/16]
    subnets: [ { name: app, prefix: 10.1.1.0/24 } ]
  - name: c
    address_space: [10.2.0.0/16]
    subnets: [ { name: app, prefix: 10.2.1.0/24 } ]
nsgs:
  - name: web
    rules:
      - { name: allow-http, priority: 100, direction: inbound, access: allow, protocol: tcp }
peerings:
  - { name: a-to-b, from: a, to: b }
events:
";

/// The rule codes and lines of loading `NET` with `events` appended (empty when it loads).
fn problems(events: &str) -> Vec<(&'static str, u32)> {
    match load_str(&format!("{NET}{events}"), "timeline.yaml") {
        Ok(_) => Vec::new(),
        Err(err) => err.diagnostics.iter().map(|d| (d.rule, d.line)).collect(),
    }
}

/// The line of the first event.
const FIRST: u32 = 20;

#[test]
fn a_link_removed_earlier_may_come_back_under_any_name() {
    assert_eq!(
        problems(
            "  - { at: 1s, remove_peering: a-to-b }\n  - { at: 2s, add_peering: { name: a-b-new, from: a, to: b } }\n"
        ),
        vec![]
    );
    assert_eq!(
        problems("  - { at: 2s, add_peering: { name: a-b-new, from: a, to: b } }\n"),
        vec![("peering-duplicate-link", FIRST), ("peering-limit", FIRST)]
    );
}

#[test]
fn events_apply_in_time_order_not_file_order() {
    // Listed first but later in time: the link is gone by then.
    assert_eq!(
        problems(
            "  - { at: 2s, add_peering: { name: a-b-new, from: a, to: b } }\n  - { at: 1s, remove_peering: a-to-b }\n"
        ),
        vec![]
    );
    // The removal comes after the addition: two links a -> b at 1s.
    assert_eq!(
        problems(
            "  - { at: 1s, add_peering: { name: a-b-new, from: a, to: b } }\n  - { at: 2s, remove_peering: a-to-b }\n"
        ),
        vec![("peering-duplicate-link", FIRST), ("peering-limit", FIRST)]
    );
}

#[test]
fn links_added_by_events_count_for_later_events() {
    let twice = "  - { at: 1s, add_peering: { name: b-to-c, from: b, to: c } }\n  - { at: 2s, add_peering: { name: b-c-again, from: b, to: c } }\n";
    assert_eq!(
        problems(twice),
        vec![
            ("peering-duplicate-link", FIRST + 1),
            ("peering-limit", FIRST + 1)
        ]
    );
    // An event's link named like a present one replaces it.
    let replaced = "  - { at: 1s, add_peering: { name: a-to-b, from: a, to: b, allow_forwarded_traffic: true } }\n";
    assert_eq!(problems(replaced), vec![]);
}

#[test]
fn nsg_priorities_are_checked_against_the_rules_held_then() {
    let rule = |at: &str, name: &str, priority: u32| {
        format!(
            "  - {{ at: {at}, add_nsg_rule: {{ nsg: web, rule: {{ name: {name}, priority: {priority}, direction: inbound, access: deny, protocol: udp }} }} }}\n"
        )
    };
    assert_eq!(
        problems(&rule("1s", "deny-udp", 100)),
        vec![("nsg-priority-duplicate", FIRST)]
    );
    // Same name: the rule is replaced, its priority with it.
    assert_eq!(problems(&rule("1s", "allow-http", 100)), vec![]);
    // Removed first: the priority is free.
    let removed = format!(
        "  - {{ at: 1s, remove_nsg_rule: {{ nsg: web, rule: allow-http }} }}\n{}",
        rule("2s", "deny-udp", 100)
    );
    assert_eq!(problems(&removed), vec![]);
    // Two events taking one priority: the later one is refused, naming the first one's line.
    let both = format!("{}{}", rule("1s", "x", 200), rule("2s", "y", 200));
    assert_eq!(problems(&both), vec![("nsg-priority-duplicate", FIRST + 1)]);
    let err = load_str(&format!("{NET}{both}"), "timeline.yaml").unwrap_err();
    assert!(
        err.diagnostics[0]
            .message
            .contains(&format!("line {FIRST}")),
        "{}",
        err.diagnostics[0].message
    );
    assert_eq!(
        err.diagnostics[0].path,
        "events[1].add_nsg_rule.rule.priority"
    );
}

#[test]
fn gateway_transit_added_earlier_serves_a_later_remote_gateway_user() {
    let hub = "\
name: transit
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    subnets: [ { name: GatewaySubnet, prefix: 10.0.255.0/27 } ]
    gateway: { name: hub-gw, sku: VpnGw1 }
  - name: spoke
    address_space: [10.1.0.0/16]
    subnets: [ { name: app, prefix: 10.1.1.0/24 } ]
events:
";
    let transit = "  - { at: 1s, add_peering: { name: hub-spoke, from: hub, to: spoke, allow_gateway_transit: true } }\n";
    let user = "  - { at: 2s, add_peering: { name: spoke-hub, from: spoke, to: hub, use_remote_gateways: true } }\n";
    assert!(load_str(&format!("{hub}{transit}{user}"), "t.yaml").is_ok());
    let late = transit.replace("at: 1s", "at: 3s");
    let err = load_str(&format!("{hub}{late}{user}"), "t.yaml").unwrap_err();
    assert_eq!(err.rules(), vec!["use-remote-gateways-no-transit"]);
    assert_eq!(err.diagnostics[0].line, 12);
}

/// The NET file in the current era (address spaces of peered VNets may change).
fn problems_current(events: &str) -> Vec<(&'static str, u32)> {
    let text = format!("{NET}{events}").replace(
        "azure: { peering_limit: 1 }",
        "azure: { peering_limit: 1, era: current }",
    );
    match load_str(&text, "timeline.yaml") {
        Ok(_) => Vec::new(),
        Err(err) => err.diagnostics.iter().map(|d| (d.rule, d.line)).collect(),
    }
}

#[test]
fn peering_2016_a_peered_vnets_address_space_changes_only_after_the_peering_is_deleted() {
    let grow = "  - { at: 2s, update_address_space: { vnet: b, address_space: [10.1.0.0/16, 10.9.0.0/16] } }\n";
    assert_eq!(problems(grow), vec![("address-space-update-peered", FIRST)]);
    // Delete the peering first: allowed in 2016 too. A VNet never peered: allowed.
    assert_eq!(
        problems(&format!("  - {{ at: 1s, remove_peering: a-to-b }}\n{grow}")),
        vec![]
    );
    assert_eq!(
        problems(
            "  - { at: 2s, update_address_space: { vnet: c, address_space: [10.2.0.0/16, 10.9.0.0/16] } }\n"
        ),
        vec![]
    );
}

#[test]
fn update_address_space_2022_allowed_while_peered_and_later_events_see_the_new_ranges() {
    let grow = "  - { at: 1s, update_address_space: { vnet: b, address_space: [10.1.0.0/16, 10.9.0.0/16], sync: false } }\n";
    assert_eq!(problems_current(grow), vec![]);
    assert_eq!(
        problems_current(&format!("{grow}  - {{ at: 2s, sync_peering: a-to-b }}\n")),
        vec![]
    );
    // A link created after the change meets the new ranges (c grows into b's new range).
    let clash = "  - { at: 2s, update_address_space: { vnet: c, address_space: [10.2.0.0/16, 10.9.1.0/24] } }\n  - { at: 3s, remove_peering: a-to-b }\n  - { at: 4s, add_peering: { name: c-to-b, from: c, to: b } }\n";
    assert_eq!(
        problems_current(&format!("{grow}{clash}")),
        vec![("peering-address-overlap", FIRST + 3)]
    );
    // Before b grows, the same link is fine.
    assert_eq!(problems_current(clash), vec![]);
}

#[test]
fn update_address_space_2022_new_ranges_clear_of_peers_and_no_subnet_left_outside() {
    assert_eq!(
        problems_current(
            "  - { at: 1s, update_address_space: { vnet: b, address_space: [10.1.0.0/16, 10.0.128.0/17] } }\n"
        ),
        vec![("peering-address-overlap", FIRST)]
    );
    // b's subnet app lies in 10.1.0.0/16: the range cannot go.
    assert_eq!(
        problems_current(
            "  - { at: 1s, update_address_space: { vnet: b, address_space: [10.9.0.0/16] } }\n"
        ),
        vec![("address-range-holds-subnets", FIRST)]
    );
    // Resizing a range around its subnets is fine.
    assert_eq!(
        problems_current(
            "  - { at: 1s, update_address_space: { vnet: b, address_space: [10.1.0.0/20] } }\n"
        ),
        vec![]
    );
}

#[test]
fn a_subnet_may_lie_in_a_range_a_later_update_adds() {
    let text = NET.replace(
        "subnets: [ { name: app, prefix: 10.2.1.0/24 } ]",
        "subnets: [ { name: app, prefix: 10.2.1.0/24 }, { name: new, prefix: 10.8.1.0/24 } ]",
    );
    let load = |events: &str| match load_str(&format!("{text}{events}"), "t.yaml") {
        Ok(_) => Vec::new(),
        Err(err) => err.diagnostics.iter().map(|d| d.rule).collect(),
    };
    assert_eq!(
        load(
            "  - { at: 1s, update_address_space: { vnet: c, address_space: [10.2.0.0/16, 10.8.0.0/16] } }\n"
        ),
        Vec::<&str>::new()
    );
    assert_eq!(
        load("  - { at: 1s, remove_peering: a-to-b }\n"),
        vec!["subnet-outside-address-space"]
    );
}
