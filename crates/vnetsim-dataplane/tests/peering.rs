//! VNet peering: link states, the VirtualNetwork service tag under
//! `allow_virtual_network_access: false`, and gateway transit.

mod common;

use common::{Net, dropped, load, routes_taken};
use vnetsim_dataplane::nsg::{DefaultRule, RuleRef};
use vnetsim_dataplane::pipeline::{DropCause, NsgPoint};
use vnetsim_dataplane::routes::{RouteSource, RouteState};
use vnetsim_dataplane::{Dataplane, Destination, Outcome, PeeringState, PeeringStates};
use vnetsim_scenario::{Direction, DropReason, NextHopType};

const TWO_VNETS: &str = r#"
  - name: a
    address_space: [10.0.0.0/16]
    subnets: [ { name: app, prefix: 10.0.1.0/24 } ]
  - name: b
    address_space: [10.1.0.0/16]
    subnets: [ { name: app, prefix: 10.1.1.0/24 } ]
vms:
  - { name: a-vm, size: Standard_D2s_v3, nics: [ { name: a-nic, subnet: a/app, ip: 10.0.1.4 } ] }
  - { name: b-vm, size: Standard_D2s_v3, nics: [ { name: b-nic, subnet: b/app, ip: 10.1.1.4 } ] }
"#;

fn two(peerings: &str) -> Net {
    Net::new(&format!(
        "name: two\nvnets:{TWO_VNETS}peerings: {peerings}\n"
    ))
}

const BOTH: &str = "[ { name: a-to-b, from: a, to: b }, { name: b-to-a, from: b, to: a } ]";

fn peering_rows(net: &Net, subnet: &str) -> Vec<String> {
    net.dp
        .routes(net.subnet(subnet))
        .iter()
        .filter(|r| r.next_hop == NextHopType::VNetPeering)
        .map(|r| format!("{} {}", r.prefix, r.state.as_str()))
        .collect()
}

/// [vnet-faq], [manage-peering] One link alone is Initiated and carries nothing: neither VNet
/// gets a peering route.
#[test]
fn one_sided_link_is_initiated_and_adds_no_routes() {
    let net = two("[ { name: a-to-b, from: a, to: b } ]");
    assert_eq!(
        net.dp.peerings().state(net.peering("a-to-b")),
        PeeringState::Initiated
    );
    assert!(net.dp.peerings().edges(net.vnet("a")).is_empty());
    assert!(peering_rows(&net, "a/app").is_empty());
    assert!(peering_rows(&net, "b/app").is_empty());
}

/// [manage-peering] Creating the reverse link moves both links to Connected; each VNet gets one
/// VNetPeering route per address range of the peer.
#[test]
fn both_links_are_connected_with_a_peering_route_per_range() {
    let net = two(BOTH);
    for link in ["a-to-b", "b-to-a"] {
        assert_eq!(
            net.dp.peerings().state(net.peering(link)),
            PeeringState::Connected,
            "{link}"
        );
    }
    assert_eq!(peering_rows(&net, "a/app"), vec!["10.1.0.0/16 Active"]);
    assert_eq!(peering_rows(&net, "b/app"), vec!["10.0.0.0/16 Active"]);
    assert_eq!(
        net.ping("a-vm", "b-vm").outcome,
        Outcome::Delivered(Destination::Nic(net.nic("b-nic")))
    );
    assert_eq!(
        net.ping("b-vm", "a-vm").outcome,
        Outcome::Delivered(Destination::Nic(net.nic("a-nic")))
    );
}

/// [manage-peering] Resource Manager <-> classic: only the Resource Manager side creates a link,
/// and that link alone is Connected; traffic flows both ways.
#[test]
fn resource_manager_link_to_a_classic_vnet_alone_is_connected() {
    let net = Net::new(
        r#"
name: classic
vnets:
  - { name: arm, address_space: [10.30.0.0/16], subnets: [ { name: app, prefix: 10.30.1.0/24 } ] }
  - { name: legacy, deployment: classic, address_space: [10.40.0.0/16], subnets: [ { name: app, prefix: 10.40.1.0/24 } ] }
vms:
  - { name: arm-vm, size: Standard_D2s_v3, nics: [ { name: arm-nic, subnet: arm/app, ip: 10.30.1.4 } ] }
  - { name: legacy-vm, size: Standard_A2_v2, nics: [ { name: legacy-nic, subnet: legacy/app, ip: 10.40.1.4 } ] }
peerings:
  - { name: arm-to-legacy, from: arm, to: legacy }
"#,
    );
    assert_eq!(
        net.dp.peerings().state(net.peering("arm-to-legacy")),
        PeeringState::Connected
    );
    assert_eq!(peering_rows(&net, "arm/app"), vec!["10.40.0.0/16 Active"]);
    assert_eq!(
        net.ping("arm-vm", "legacy-vm").outcome,
        Outcome::Delivered(Destination::Nic(net.nic("legacy-nic")))
    );
    assert_eq!(
        net.ping("legacy-vm", "arm-vm").outcome,
        Outcome::Delivered(Destination::Nic(net.nic("arm-nic")))
    );
}

/// [create-peering-2016], [vnet-faq] Deleting one link leaves the other Disconnected: no routes,
/// no traffic.
#[test]
fn removed_reverse_link_leaves_the_other_disconnected_without_routes() {
    let sc = load(&format!("name: two\nvnets:{TWO_VNETS}peerings: {BOTH}\n"));
    let a_to_b = sc.peering_by_name("a-to-b").unwrap();
    let b_to_a = sc.peering_by_name("b-to-a").unwrap();
    let mut present = vec![true; sc.peerings.len()];
    let mut removed = vec![false; sc.peerings.len()];
    present[b_to_a.index()] = false;
    removed[b_to_a.index()] = true;
    let states = PeeringStates::compute(&sc, &present, &removed);
    assert_eq!(states.state(a_to_b), PeeringState::Disconnected);
    assert!(!states.is_present(b_to_a));
    let net = Net {
        dp: Dataplane::compile_with(&sc, states),
        sc,
    };
    assert!(peering_rows(&net, "a/app").is_empty());
    assert!(peering_rows(&net, "b/app").is_empty());
    let s = net.subnet("a/app");
    let none = net.route_index(s, RouteSource::Default, "10.0.0.0/8");
    assert_eq!(
        dropped(&net.ping("a-vm", "b-vm")),
        (
            DropReason::NoRoute,
            DropCause::NoneRoute {
                subnet: s,
                route: none
            }
        )
    );
}

// ---------------------------------------------------------------------------------------------
// Tag mode (the default `azure.virtual_network_access: tag`) [manage-peering 11/2022]: with
// access off the peer leaves the VirtualNetwork tag, so the default rules (AllowVNetInBound,
// AllowVnetOutBound) no longer cover it and DenyAll* applies; an explicit rule still allows it.
// The peering routes stay.

/// b's link to a has access off; b's subnet carries an NSG with `b_rules`, or no NSG at all.
fn tag_net(b_rules: Option<&str>) -> Net {
    let nsg_ref = if b_rules.is_some() {
        ", nsg: b-nsg"
    } else {
        ""
    };
    let nsgs = b_rules
        .map(|r| format!("nsgs: [ {{ name: b-nsg, rules: {r} }} ]\n"))
        .unwrap_or_default();
    Net::new(&format!(
        r#"
name: tag-mode
vnets:
  - name: a
    address_space: [10.0.0.0/16]
    subnets: [ {{ name: app, prefix: 10.0.1.0/24 }} ]
  - name: b
    address_space: [10.1.0.0/16]
    subnets: [ {{ name: app, prefix: 10.1.1.0/24{nsg_ref} }} ]
vms:
  - {{ name: a-vm, size: Standard_D2s_v3, nics: [ {{ name: a-nic, subnet: a/app, ip: 10.0.1.4 }} ] }}
  - {{ name: b-vm, size: Standard_D2s_v3, nics: [ {{ name: b-nic, subnet: b/app, ip: 10.1.1.4 }} ] }}
{nsgs}peerings:
  - {{ name: a-to-b, from: a, to: b }}
  - {{ name: b-to-a, from: b, to: a, allow_virtual_network_access: false }}
"#
    ))
}

#[test]
fn access_off_removes_the_peer_from_the_virtualnetwork_tag_but_keeps_routes() {
    let net = tag_net(Some("[]"));
    let a_ip = u32::from(std::net::Ipv4Addr::new(10, 0, 1, 4));
    let b_ip = u32::from(std::net::Ipv4Addr::new(10, 1, 1, 4));
    assert!(!net.dp.tags(net.vnet("b")).virtual_network.contains(a_ip));
    assert!(net.dp.tags(net.vnet("b")).virtual_network.contains(b_ip));
    // a's own link allows access: b stays in a's tag.
    assert!(net.dp.tags(net.vnet("a")).virtual_network.contains(b_ip));
    assert_eq!(peering_rows(&net, "b/app"), vec!["10.0.0.0/16 Active"]);
}

#[test]
fn access_off_lets_the_default_nsg_rules_deny_the_peer() {
    let net = tag_net(Some("[]"));
    let point = NsgPoint::Subnet(net.subnet("b/app"));
    let nsg = net.nsg("b-nsg");
    assert_eq!(
        dropped(&net.ping("a-vm", "b-vm")),
        (
            DropReason::NsgDenied,
            DropCause::Nsg {
                point,
                nsg,
                direction: Direction::Inbound,
                rule: RuleRef::Default(DefaultRule::DenyAllInbound)
            }
        )
    );
    assert_eq!(
        dropped(&net.ping("b-vm", "a-vm")),
        (
            DropReason::NsgDenied,
            DropCause::Nsg {
                point,
                nsg,
                direction: Direction::Outbound,
                rule: RuleRef::Default(DefaultRule::DenyAllOutBound)
            }
        )
    );
}

#[test]
fn access_off_still_admits_traffic_an_explicit_nsg_rule_allows() {
    let net = tag_net(Some(
        "[ { name: allow-a, priority: 100, direction: inbound, access: allow, protocol: '*', source: 10.0.0.0/16 } ]",
    ));
    assert_eq!(
        net.ping("a-vm", "b-vm").outcome,
        Outcome::Delivered(Destination::Nic(net.nic("b-nic")))
    );
}

/// The open point of the reference: no NSG at all with access off. vnetsim's choice: the
/// setting only changes the VirtualNetwork tag [manage-peering 11/2022], and a subnet or NIC
/// without an NSG allows everything [nsg-how], so the traffic passes. (`virtual_network_access:
/// block` is the switch for the older hard-block reading; see drop_reasons.rs.)
#[test]
fn access_off_without_any_nsg_lets_traffic_pass() {
    let net = tag_net(None);
    assert_eq!(
        net.ping("a-vm", "b-vm").outcome,
        Outcome::Delivered(Destination::Nic(net.nic("b-nic")))
    );
    assert_eq!(
        net.ping("b-vm", "a-vm").outcome,
        Outcome::Delivered(Destination::Nic(net.nic("a-nic")))
    );
}

// ---------------------------------------------------------------------------------------------
// Gateway transit [gw-transit], [manage-peering]: the hub's link allows gateway transit, the
// spoke's link uses remote gateways; the site's prefixes propagate into the spoke.

fn transit(spoke_table: &str) -> Net {
    Net::new(&format!(
        r#"
name: transit
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    subnets:
      - {{ name: shared, prefix: 10.0.1.0/24 }}
      - {{ name: GatewaySubnet, prefix: 10.0.255.0/27 }}
    gateway: {{ name: hub-gw, sku: VpnGw1 }}
  - name: spoke
    address_space: [10.1.0.0/16]
    subnets: [ {{ name: app, prefix: 10.1.1.0/24{spoke_table} }} ]
  - name: plain
    address_space: [10.2.0.0/16]
    subnets: [ {{ name: app, prefix: 10.2.1.0/24 }} ]
  - name: outer
    address_space: [10.3.0.0/16]
    subnets: [ {{ name: app, prefix: 10.3.1.0/24 }} ]
vms:
  - {{ name: hub-vm, size: Standard_D2s_v3, nics: [ {{ name: hub-nic, subnet: hub/shared, ip: 10.0.1.4 }} ] }}
  - {{ name: spoke-vm, size: Standard_D2s_v3, nics: [ {{ name: spoke-nic, subnet: spoke/app, ip: 10.1.1.4 }} ] }}
  - {{ name: plain-vm, size: Standard_D2s_v3, nics: [ {{ name: plain-nic, subnet: plain/app, ip: 10.2.1.4 }} ] }}
  - {{ name: outer-vm, size: Standard_D2s_v3, nics: [ {{ name: outer-nic, subnet: outer/app, ip: 10.3.1.4 }} ] }}
route_tables:
  - {{ name: no-propagation, disable_gateway_route_propagation: true, routes: [] }}
peerings:
  - {{ name: hub-to-spoke, from: hub, to: spoke, allow_gateway_transit: true }}
  - {{ name: spoke-to-hub, from: spoke, to: hub, use_remote_gateways: true }}
  - {{ name: hub-to-plain, from: hub, to: plain, allow_gateway_transit: true }}
  - {{ name: plain-to-hub, from: plain, to: hub }}
  - {{ name: spoke-to-outer, from: spoke, to: outer }}
  - {{ name: outer-to-spoke, from: outer, to: spoke }}
on_premises:
  - name: branch
    address_space: [192.168.0.0/16]
    connection: hub-gw
    hosts: [ {{ name: branch-pc, ip: 192.168.1.10 }} ]
"#
    ))
}

fn gateway_rows(net: &Net, subnet: &str) -> Vec<(String, String, Option<std::net::Ipv4Addr>)> {
    net.dp
        .routes(net.subnet(subnet))
        .iter()
        .filter(|r| r.source == RouteSource::VirtualNetworkGateway)
        .map(|r| {
            (
                r.prefix.to_string(),
                r.state.as_str().to_string(),
                r.next_hop_ip,
            )
        })
        .collect()
}

#[test]
fn use_remote_gateways_propagates_site_prefixes_into_the_spoke() {
    let net = transit("");
    let gw_ip = Some("10.0.255.4".parse().unwrap());
    let expected = vec![("192.168.0.0/16".to_string(), "Active".to_string(), gw_ip)];
    assert_eq!(gateway_rows(&net, "spoke/app"), expected);
    assert_eq!(gateway_rows(&net, "hub/shared"), expected);
    // Neither the spoke that does not use the remote gateway nor the spoke's own peer.
    assert!(gateway_rows(&net, "plain/app").is_empty());
    assert!(gateway_rows(&net, "outer/app").is_empty());

    let r = net.ping("spoke-vm", "branch-pc");
    let host = net.sc.host_by_name("branch-pc").unwrap();
    assert_eq!(
        r.outcome,
        Outcome::Delivered(Destination::Host(host)),
        "{:#?}",
        r.steps
    );
    let s = net.subnet("spoke/app");
    let gw = net.route_index(s, RouteSource::VirtualNetworkGateway, "192.168.0.0/16");
    assert_eq!(routes_taken(&r.steps), vec![(s, gw)]);
}

/// [udr-overview] "Propagate gateway routes: No" on the spoke's route table keeps the gateway
/// routes out; the site falls back to 192.168.0.0/16 -> None.
#[test]
fn disabled_gateway_route_propagation_removes_the_site_prefixes() {
    let net = transit(", route_table: no-propagation");
    assert!(gateway_rows(&net, "spoke/app").is_empty());
    let s = net.subnet("spoke/app");
    let none = net.route_index(s, RouteSource::Default, "192.168.0.0/16");
    assert_eq!(net.dp.routes(s)[none as usize].state, RouteState::Active);
    assert_eq!(
        dropped(&net.ping("spoke-vm", "branch-pc")),
        (
            DropReason::NoRoute,
            DropCause::NoneRoute {
                subnet: s,
                route: none
            }
        )
    );
    // The hub keeps its gateway routes.
    assert_eq!(gateway_rows(&net, "hub/shared").len(), 1);
}

/// [gw-transit] The gateway advertises the hub and the spokes that use it; on-premises reaches
/// those and nothing else (not a spoke without use_remote_gateways, not the spoke's own peer).
#[test]
fn on_premises_reaches_the_hub_and_transit_spokes_only() {
    let net = transit("");
    assert_eq!(
        net.ping("branch-pc", "hub-vm").outcome,
        Outcome::Delivered(Destination::Nic(net.nic("hub-nic")))
    );
    assert_eq!(
        net.ping("branch-pc", "spoke-vm").outcome,
        Outcome::Delivered(Destination::Nic(net.nic("spoke-nic")))
    );
    let site = net
        .sc
        .sites
        .iter()
        .position(|s| s.name == "branch")
        .unwrap();
    let site = vnetsim_scenario::SiteId(site as u32);
    for vm in ["plain-vm", "outer-vm"] {
        assert_eq!(
            dropped(&net.ping("branch-pc", vm)),
            (DropReason::NoRoute, DropCause::NotAdvertised { site }),
            "{vm}"
        );
    }
}
