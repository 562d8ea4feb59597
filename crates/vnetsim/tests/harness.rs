//! The harness API against the bundled example scenarios: probes, raw bytes, timed events,
//! replays, and the text of failing assertions.

use std::net::Ipv4Addr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::time::Duration;

use vnetsim::{DropReason, Error, Sim, assert_delivered, assert_dropped};
use vnetsim_dataplane::views::effective_routes_of_nic;
use vnetsim_dataplane::wire::{PacketSpec, build_probe};
use vnetsim_scenario::Protocol;

fn scenario(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios")
        .join(name)
}

fn hub() -> Sim {
    Sim::load(scenario("hub-and-spoke.yaml")).expect("the example loads")
}

/// The panic message of `f`, which must panic.
fn panic_text(f: impl FnOnce()) -> String {
    let err = catch_unwind(AssertUnwindSafe(f)).expect_err("it panics");
    err.downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn spoke_to_spoke_goes_through_the_appliance() {
    let sim = hub();
    let v = sim.probe("web1", "db1").tcp(1433).send();
    assert!(v.is_delivered());
    assert_eq!(v.reason(), None);
    assert_eq!(v.delivered_to(), Some("db1"));
    v.assert_delivered().assert_path(&["web1", "nva1", "db1"]);
    let kinds: Vec<&str> = v.hops().iter().map(|h| h.kind).collect();
    assert_eq!(
        kinds,
        [
            "send", "nsg", "route", "peering", "arrive", "forward", "route", "peering", "arrive",
            "nsg", "deliver"
        ]
    );
    assert_eq!(
        v.allowed_by(),
        [
            "spoke-nsg allow-spokes-out (priority 200)",
            "spoke-nsg allow-spokes-in (priority 200)"
        ]
    );
    let text = v.to_string();
    assert!(text.contains("route 10.2.0.0/16 -> VirtualAppliance 10.0.1.4 (User, to-spoke2)"));
    assert!(text.ends_with("verdict: delivered to db1; path web1 -> nva1 -> db1\n"));
}

#[test]
fn drops_name_the_rule_or_switch() {
    let sim = hub();
    let ssh = sim.probe("web1", "db1").tcp(22).send();
    assert_dropped!(ssh, "nsg-denied");
    assert_eq!(ssh.reason(), Some(DropReason::NsgDenied));
    assert!(ssh.detail().contains("deny-ssh-from-spokes (priority 100)"));
    let drop = ssh.hops().last().expect("a drop hop");
    assert_eq!(drop.kind, "drop");
    let rule = drop.rule.as_ref().expect("the deny rule");
    assert_eq!(
        (rule.rule.as_str(), rule.access),
        ("deny-ssh-from-spokes", "deny")
    );

    let batch = sim.probe("web1", "batch1").tcp(443).send();
    assert_dropped!(batch, "forwarded-traffic-blocked");
    assert!(batch.detail().contains("spoke3-to-hub"));
    assert_eq!(batch.path(), ["web1", "nva1"]);
}

#[test]
fn a_failed_assert_delivered_names_the_deny_rule() {
    let sim = hub();
    let v = sim.probe("web1", "db1").tcp(22).send();
    let text = panic_text(|| assert_delivered!(v));
    assert!(
        text.starts_with(
            "expected web1 (10.1.1.4) -> db1 (10.2.1.4) tcp 49152 -> 22 to be delivered, but it \
             was dropped (nsg-denied): denied by NSG spoke-nsg (subnet spoke2/app) inbound rule \
             deny-ssh-from-spokes (priority 100)"
        ),
        "{text}"
    );
    // The hop listing follows.
    assert!(text.contains("  1. send     web1"), "{text}");
}

#[test]
fn a_failed_assert_dropped_names_the_allow_rules_and_the_path() {
    let sim = hub();
    let v = sim.probe("web1", "db1").tcp(1433).send();
    let text = panic_text(|| {
        v.assert_dropped("nsg-denied");
    });
    assert!(
        text.contains(
            "to be dropped (nsg-denied), but it was delivered to db1 (allowed by spoke-nsg \
             allow-spokes-out (priority 200), spoke-nsg allow-spokes-in (priority 200)); path \
             web1 -> nva1 -> db1"
        ),
        "{text}"
    );
    let wrong_reason = sim.probe("web1", "db1").tcp(22).send();
    let text = panic_text(|| {
        wrong_reason.assert_dropped("no-route");
    });
    assert!(
        text.contains("to be dropped (no-route), but it was dropped (nsg-denied)"),
        "{text}"
    );
    let text = panic_text(|| {
        wrong_reason.assert_dropped("denied");
    });
    assert!(text.contains("`denied` is not a drop reason"), "{text}");
    let text = panic_text(|| {
        v.assert_path(&["web1", "db1"]);
    });
    assert!(
        text.contains("to take path [web1, db1], but it took [web1, nva1, db1]"),
        "{text}"
    );
}

#[test]
fn probes_share_flow_records_so_a_reverse_probe_is_a_reply() {
    let sim = Sim::load(scenario("basic-peering.yaml")).unwrap();
    sim.probe("vm-a", "vm-b").tcp(443).send().assert_delivered();
    let reply = sim.probe("vm-b", "vm-a").tcp(49152).src_port(443).send();
    let reply = reply.assert_delivered();
    let first_rule = reply.hops().iter().find_map(|h| h.rule.as_ref()).unwrap();
    assert_eq!(first_rule.rule, "flow-record");
    sim.reset_flows();
    let fresh = sim.probe("vm-b", "vm-a").tcp(49152).src_port(443).send();
    let first_rule = fresh.hops().iter().find_map(|h| h.rule.as_ref()).unwrap();
    assert_eq!(first_rule.rule, "AllowVnetOutBound");
}

#[test]
fn probes_at_a_time_see_the_timed_events_up_to_then() {
    let sim = Sim::load(scenario("peering-removed.yaml")).unwrap();
    let at = |ms| {
        sim.probe("vm-a", "vm-b")
            .at(Duration::from_millis(ms))
            .send()
    };
    at(100).assert_delivered();
    at(600).assert_dropped("no-route");
    at(900).assert_delivered();
}

#[test]
fn the_network_at_a_time_has_the_timed_events_up_to_then_applied() {
    let sim = Sim::load(scenario("peering-removed.yaml")).unwrap();
    let peering_routes = |ms| {
        sim.with_network_at(Duration::from_millis(ms), |sc, dp| {
            let vm = sc.vm_by_name("vm-a").expect("vm-a");
            let nic = sc.vms[vm.index()].nics[0];
            effective_routes_of_nic(sc, dp, nic)
                .routes
                .iter()
                .filter(|r| r.next_hop_type == "VNetPeering" && r.state == "Active")
                .count()
        })
    };
    assert_eq!(peering_routes(100), 1);
    assert_eq!(
        peering_routes(600),
        0,
        "one link removed at 500 ms: Disconnected"
    );
    assert_eq!(peering_routes(900), 1, "added back at 800 ms");
}

#[test]
fn raw_bytes_get_a_trace_and_come_out_with_the_ttl_decremented() {
    let sim = hub();
    let spec = PacketSpec {
        src: Ipv4Addr::new(10, 1, 1, 4),
        dst: Ipv4Addr::new(10, 2, 1, 4),
        protocol: Protocol::Udp,
        src_port: 5000,
        dst_port: 1433,
        ttl: 64,
        total_len: 64,
        identification: 7,
    };
    let mut buf = [0u8; 64];
    let len = build_probe(&mut buf, &spec).unwrap();
    let v = sim.send_bytes("web1-nic", &buf[..len]).unwrap();
    v.assert_delivered().assert_path(&["web1", "nva1", "db1"]);
    assert_eq!(v.explanation().protocol, "udp");
    assert_eq!(v.explanation().dst_port, Some(1433));
    let out = v.packet().expect("the packet");
    assert_eq!(out.len(), len);
    assert_eq!(out[8], 63, "the appliance decremented the TTL");
    assert_eq!(buf[8], 64, "the caller's bytes are untouched");

    // The same packet from a VM name (its primary NIC).
    sim.send_bytes("web1", &buf[..len])
        .unwrap()
        .assert_delivered();
}

#[test]
fn garbage_is_dropped_as_malformed_and_unknown_names_are_errors() {
    let sim = hub();
    let v = sim.send_bytes("web1", &[0x45, 0, 0]).unwrap();
    assert_dropped!(v, "malformed");
    assert!(
        v.detail().contains("not a valid IPv4 packet"),
        "{}",
        v.detail()
    );

    let err = sim.send_bytes("nobody", &[]).unwrap_err();
    assert!(matches!(err, Error::UnknownIngress { .. }));
    assert!(err.to_string().contains("`nobody`"));

    let err = sim.probe("web1", "db9").try_send().unwrap_err();
    assert_eq!(
        err.to_string(),
        "probe to `db9`: not a VM, an on-premises host or an IPv4 address of scenario \
         'hub-and-spoke'"
    );
    let text = panic_text(|| {
        let _ = sim.probe("web9", "db1").send();
    });
    assert!(text.starts_with("probe from `web9`"), "{text}");
}

#[test]
fn a_scenario_that_does_not_load_renders_its_diagnostics() {
    let err = Sim::from_yaml(
        "name: broken\nvnets:\n  - { name: a, address_space: [10.0.0.0/16], subnets: [ { name: s, prefix: 10.1.0.0/24 } ] }\n",
    )
    .unwrap_err();
    assert!(matches!(err, Error::Load(_)));
    assert!(!err.rules().is_empty());
    let text = format!("{err:?}");
    assert!(text.starts_with("the scenario did not load:"), "{text}");
    assert!(text.contains("<inline>:3:"), "{text}");

    let missing = Sim::load(scenario("no-such-file.yaml")).unwrap_err();
    assert_eq!(missing.rules(), ["io-error"]);
}

#[test]
fn run_replays_the_scenario_and_its_expectations_hold() {
    let report = hub().run();
    report.assert_expectations();
    assert!(report.conservation.holds());
    assert_eq!(report.probes.len(), 6);
}

#[test]
fn run_for_sets_the_duration_and_reads_flow_statistics() {
    let sim = Sim::load(scenario("vm-size-shaping.yaml")).unwrap();
    let report = sim.run_for(Duration::from_millis(50));
    assert_eq!(report.simulated_ns, 50_000_000);
    let bulk = report.flow("bulk").expect("the flow");
    assert_eq!(bulk.end_ns, 50_000_000);
    // Offered 2 Gbit/s, shaped to the D2s_v3's 1 Gbit/s: about half is delivered.
    assert!(bulk.delivered_ratio < 0.6, "{}", bulk.delivered_ratio);
    assert!(bulk.throughput_bps > 0.9e9, "{}", bulk.throughput_bps);
    assert!(report.nic("sender-nic").unwrap().tx_packets > 0);
    assert!(report.flow("nope").is_none());
}

#[test]
fn a_failing_expectation_is_reported_with_its_line() {
    let sim = Sim::from_yaml(
        "name: wrong-expectation
vnets: [ { name: v, address_space: [10.0.0.0/16], subnets: [ { name: s, prefix: 10.0.0.0/24 } ] } ]
vms:
  - { name: a, size: Standard_D2s_v3, nics: [ { name: a-nic, vnet: v, subnet: s, ip: 10.0.0.4 } ] }
  - { name: b, size: Standard_D2s_v3, nics: [ { name: b-nic, vnet: v, subnet: s, ip: 10.0.0.5 } ] }
expect:
  - probe: { from: a, to: b, protocol: icmp }
    verdict: dropped
",
    )
    .unwrap();
    let report = sim.with_seed(9).run();
    assert_eq!(report.seed, 9);
    let text = panic_text(|| {
        report.assert_expectations();
    });
    assert!(
        text.contains("1 of 1 expectations of scenario 'wrong-expectation' failed"),
        "{text}"
    );
    assert!(
        text.contains("line 7 (probe): expected dropped, got delivered to b"),
        "{text}"
    );
}

/// [nsg-overview] 2016-2018 against [service-tags] 2021+: the same hub and spoke with
/// default-rules-only spoke NSGs; the 2016 tag leaves the other spoke out (DenyAllOutBound), the
/// current tag holds the spoke route table's prefixes (AllowVnetOutBound, AllowVNetInBound).
#[test]
fn service_tags_2021_spoke_to_spoke_with_default_rules_depends_on_the_era() {
    let old = Sim::load(scenario("hub-spoke-default-nsg-2016.yaml")).expect("loads");
    let v = old.probe("web1", "db1").tcp(1433).send();
    v.assert_dropped("nsg-denied");
    assert!(v.detail().contains("DenyAllOutBound"), "{}", v.detail());
    let new = Sim::load(scenario("hub-spoke-default-nsg-current.yaml")).expect("loads");
    let v = new.probe("web1", "db1").tcp(1433).send();
    v.assert_delivered().assert_path(&["web1", "nva1", "db1"]);
    assert_eq!(
        v.allowed_by(),
        [
            "spoke1-nsg AllowVnetOutBound (priority 65000)",
            "spoke2-nsg AllowVNetInBound (priority 65000)"
        ]
    );
}

/// [update-address-space 2022] The spoke adds a range while peered (era current): the hub's
/// link routes the old range until it is synced, so a probe to a VM in the new range is dropped
/// before the sync and delivered after; the report lists both events.
#[test]
fn update_address_space_2022_a_new_range_is_reached_once_the_peering_is_synced() {
    let sim = Sim::load(scenario("address-space-update.yaml")).expect("the example loads");
    let before = sim
        .probe("hub-vm", "batch-vm")
        .at(Duration::from_millis(15))
        .send();
    before.assert_dropped("no-route");
    let peering = before
        .hops()
        .iter()
        .find(|h| h.kind == "route")
        .expect("a route hop");
    assert!(
        peering.detail.contains("10.0.0.0/8 -> None"),
        "{}",
        peering.detail
    );
    sim.probe("hub-vm", "batch-vm")
        .at(Duration::from_millis(25))
        .send()
        .assert_delivered()
        .assert_path(&["hub-vm", "batch-vm"]);
    let report = sim.run();
    let actions: Vec<&str> = report.events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "update address space of spoke to 10.1.0.0/16, 10.11.0.0/16 (remote peerings not synced)",
            "sync peering hub-to-spoke with the address space of spoke"
        ]
    );
}

/// [service-tags] 2021+: the tag follows the subnet's route table, so attaching the route
/// table by a timed event changes what the default rules allow from then on.
#[test]
fn service_tags_2021_a_route_table_attached_by_an_event_changes_the_tag() {
    let text = std::fs::read_to_string(scenario("hub-spoke-default-nsg-current.yaml"))
        .expect("readable")
        .replace("nsg: spoke1-nsg, route_table: spoke1-rt", "nsg: spoke1-nsg")
        .replace(
            "\nexpect:",
            "\nevents:\n  - at: 1s\n    set_route_table: { subnet: spoke1/app, route_table: spoke1-rt }\nexpect:",
        );
    let sim = Sim::from_yaml(&text).expect("loads");
    let before = sim.probe("web1", "db1").tcp(1433).send();
    before.assert_dropped("nsg-denied");
    assert!(before.detail().contains("DenyAllOutBound"));
    let after = sim
        .probe("web1", "db1")
        .tcp(1433)
        .at(Duration::from_secs(2))
        .send();
    after
        .assert_delivered()
        .assert_path(&["web1", "nva1", "db1"]);
}

/// [ip-168], [nsg-overview]: a probe to the platform's DNS passes a deny-all outbound rule and
/// a 0.0.0.0/0 route to an NVA; a rule naming AzurePlatformDNS blocks it.
#[test]
fn ip_168_probes_reach_the_platform_past_nsgs_and_routes() {
    let sim = Sim::load(scenario("platform-addresses.yaml")).expect("loads");
    let v = sim.probe("web1", "168.63.129.16").udp(53).send();
    v.assert_delivered()
        .assert_path(&["web1", "168.63.129.16 (Azure platform)"]);
    assert_eq!(v.delivered_to(), Some("168.63.129.16 (Azure platform)"));
    let v = sim.probe("tools1", "169.254.169.254").tcp(80).send();
    v.assert_delivered()
        .assert_path(&["tools1", "169.254.169.254 (Azure platform IMDS)"]);
    let v = sim.probe("locked1", "168.63.129.16").udp(53).send();
    v.assert_dropped("nsg-denied");
    assert!(v.detail().contains("deny-platform-dns"), "{}", v.detail());
}

/// [manage-peering 2022] Spoke to spoke through the hub's VPN gateway: `explain` names the
/// gateway's forwarding and the peering it takes.
#[test]
fn manage_peering_2022_explain_names_the_gateway_forwarding_between_spokes() {
    let sim = Sim::load(scenario("gateway-spoke-to-spoke.yaml")).expect("the example loads");
    let v = sim.probe("web1", "db2").tcp(1433).send();
    v.assert_delivered().assert_path(&["web1", "hub-gw", "db2"]);
    assert!(
        v.hops().iter().any(|h| h.kind == "gateway"
            && h.detail
                .starts_with("gateway hub-gw forwards it to spoke2 over peering hub-to-spoke2")),
        "{:?}",
        v.hops()
    );
    sim.probe("batch3", "db2").send().assert_dropped("no-route");
}

/// [update-address-space 2022] `sync: true` (the default) syncs every remote peering with the
/// change; a link created again after a change knows the current ranges at once.
#[test]
fn update_address_space_2022_a_synced_change_or_a_new_link_reaches_the_new_range_at_once() {
    let text = std::fs::read_to_string(scenario("address-space-update.yaml")).expect("readable");
    let synced = text.replace(
        "address_space: [10.1.0.0/16, 10.11.0.0/16], sync: false }",
        "address_space: [10.1.0.0/16, 10.11.0.0/16] }",
    );
    assert_ne!(synced, text);
    let sim = Sim::from_yaml(&synced).expect("loads");
    sim.probe("hub-vm", "batch-vm")
        .at(Duration::from_millis(15))
        .send()
        .assert_delivered();
    // Unsynced, then the hub's link deleted and created again: a new link, in sync.
    let relinked = text.replace(
        "  - at: 20ms\n    sync_peering: hub-to-spoke\n",
        "  - { at: 12ms, remove_peering: hub-to-spoke }\n  - { at: 14ms, add_peering: { name: hub-to-spoke, from: hub, to: spoke } }\n",
    );
    assert_ne!(relinked, text);
    let sim = Sim::from_yaml(&relinked).expect("loads");
    sim.probe("hub-vm", "batch-vm")
        .at(Duration::from_millis(11))
        .send()
        .assert_dropped("no-route");
    sim.probe("hub-vm", "batch-vm")
        .at(Duration::from_millis(15))
        .send()
        .assert_delivered();
}

/// A probe from a private endpoint, or from a VNet address no NIC holds, is refused with the
/// rule it breaks, as `vnetsim explain` and the scenario's own probes refuse it.
#[test]
fn a_sender_that_cannot_send_is_refused_with_its_rule() {
    let sim = Sim::load(scenario("private-endpoint-bypass.yaml")).expect("the example loads");
    let err = sim
        .probe("10.0.3.4", "web1")
        .tcp(1433)
        .try_send()
        .expect_err("a private endpoint only answers");
    assert!(
        matches!(
            &err,
            Error::InvalidSender {
                rule: "private-endpoint-sender",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("sql-pe"), "{err}");
    assert_eq!(err.rules(), ["private-endpoint-sender"]);
    let err = sim
        .probe("10.1.1.99", "web2")
        .icmp()
        .try_send()
        .expect_err("no NIC holds 10.1.1.99");
    assert_eq!(err.rules(), ["sender-unheld-address"], "{err}");
    // The destination may be either: a private endpoint answers, and an unheld address is
    // where a packet is dropped, not refused.
    assert!(sim.probe("web1", "10.0.3.4").tcp(1433).try_send().is_ok());
    assert!(sim.probe("web1", "10.1.1.99").icmp().try_send().is_ok());
}
