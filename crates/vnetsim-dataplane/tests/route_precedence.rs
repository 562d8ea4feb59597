//! How Azure selects a route [udr-overview, "How Azure selects a route"]: longest prefix first;
//! on equal prefixes User > VirtualNetworkGateway (BGP) > Default, the losers shown Invalid;
//! VnetLocal and VNetPeering system routes beat even more specific gateway routes; and the
//! reserved None routes' interplay with the address space and a 0.0.0.0/0 user route.

mod common;

use common::{Net, dropped, forwarders, routes_taken};
use vnetsim_dataplane::pipeline::DropCause;
use vnetsim_dataplane::routes::{RouteSource, RouteState};
use vnetsim_dataplane::{Destination, Outcome};
use vnetsim_scenario::{DropReason, NextHopType};

/// (source, state, next hop, note) of every route of `subnet` with this prefix.
fn rows_for(
    net: &Net,
    subnet: &str,
    prefix: &str,
) -> Vec<(RouteSource, RouteState, NextHopType, Option<&'static str>)> {
    let prefix = prefix.parse().unwrap();
    net.dp
        .routes(net.subnet(subnet))
        .iter()
        .filter(|r| r.prefix == prefix)
        .map(|r| (r.source, r.state, r.next_hop, r.note))
        .collect()
}

const BY_USER: &str = "overridden by a user route with the same prefix";
const BY_GATEWAY: &str = "overridden by a gateway route with the same prefix (BGP > System)";

/// A VNet with a VPN gateway whose site is 192.168.0.0/16, the same prefix as a reserved None
/// route; subnet `udr` also has a user route for it, subnet `plain` has none.
const TIE: &str = r#"
name: tie
vnets:
  - name: v
    address_space: [10.0.0.0/16]
    subnets:
      - { name: udr, prefix: 10.0.1.0/24, route_table: rt }
      - { name: plain, prefix: 10.0.2.0/24 }
      - { name: nva, prefix: 10.0.100.0/24 }
      - { name: GatewaySubnet, prefix: 10.0.255.0/27 }
    gateway: { name: gw, sku: VpnGw1 }
vms:
  - { name: udr-vm, size: Standard_D2s_v3, nics: [ { name: udr-nic, subnet: v/udr, ip: 10.0.1.4 } ] }
  - { name: plain-vm, size: Standard_D2s_v3, nics: [ { name: plain-nic, subnet: v/plain, ip: 10.0.2.4 } ] }
  - { name: nva, size: Standard_D2s_v3, forwarding: true, nics: [ { name: nva-nic, subnet: v/nva, ip: 10.0.100.4, ip_forwarding: true } ] }
route_tables:
  - name: rt
    routes: [ { name: branch-via-nva, prefix: 192.168.0.0/16, next_hop: VirtualAppliance, next_hop_ip: 10.0.100.4 } ]
on_premises:
  - { name: branch, address_space: [192.168.0.0/16], connection: gw, hosts: [ { name: branch-pc, ip: 192.168.1.10 } ] }
"#;

/// [udr-overview] Equal prefixes: a gateway route beats the Default (None) route.
#[test]
fn equal_prefix_gateway_route_beats_default_route() {
    let net = Net::new(TIE);
    assert_eq!(
        rows_for(&net, "v/plain", "192.168.0.0/16"),
        vec![
            (
                RouteSource::VirtualNetworkGateway,
                RouteState::Active,
                NextHopType::VirtualNetworkGateway,
                None
            ),
            (
                RouteSource::Default,
                RouteState::Invalid,
                NextHopType::None,
                Some(BY_GATEWAY)
            ),
        ]
    );
    let host = net.sc.host_by_name("branch-pc").unwrap();
    assert_eq!(
        net.ping("plain-vm", "branch-pc").outcome,
        Outcome::Delivered(Destination::Host(host))
    );
}

/// [udr-overview] Equal prefixes: a user route beats both the gateway and the Default route.
#[test]
fn equal_prefix_user_route_beats_gateway_and_default_routes() {
    let net = Net::new(TIE);
    assert_eq!(
        rows_for(&net, "v/udr", "192.168.0.0/16"),
        vec![
            (
                RouteSource::VirtualNetworkGateway,
                RouteState::Invalid,
                NextHopType::VirtualNetworkGateway,
                Some(BY_USER)
            ),
            (
                RouteSource::Default,
                RouteState::Invalid,
                NextHopType::None,
                Some(BY_USER)
            ),
            (
                RouteSource::User,
                RouteState::Active,
                NextHopType::VirtualAppliance,
                None
            ),
        ]
    );
    let r = net.ping("udr-vm", "branch-pc");
    let host = net.sc.host_by_name("branch-pc").unwrap();
    assert_eq!(
        r.outcome,
        Outcome::Delivered(Destination::Host(host)),
        "{:#?}",
        r.steps
    );
    let s = net.subnet("v/udr");
    assert_eq!(
        routes_taken(&r.steps)[0],
        (s, net.route_index(s, RouteSource::User, "192.168.0.0/16"))
    );
    assert_eq!(forwarders(&r.steps), vec![net.nic("nva-nic")]);
}

/// [udr-overview] Longest prefix match: with routes for 10.0.0.0/24 (user, to an appliance) and
/// 10.0.0.0/16 (the VNet), 10.0.0.5 uses the /24 and 10.0.1.5 the /16.
#[test]
fn longest_prefix_wins() {
    let net = Net::new(
        r#"
name: lpm
vnets:
  - name: v
    address_space: [10.0.0.0/16]
    subnets:
      - { name: s0, prefix: 10.0.0.0/24 }
      - { name: s1, prefix: 10.0.1.0/24 }
      - { name: app, prefix: 10.0.9.0/24, route_table: rt }
      - { name: nva, prefix: 10.0.100.0/24 }
vms:
  - { name: app-vm, size: Standard_D2s_v3, nics: [ { name: app-nic, subnet: v/app, ip: 10.0.9.4 } ] }
  - { name: h0, size: Standard_D2s_v3, nics: [ { name: h0-nic, subnet: v/s0, ip: 10.0.0.5 } ] }
  - { name: h1, size: Standard_D2s_v3, nics: [ { name: h1-nic, subnet: v/s1, ip: 10.0.1.5 } ] }
  - { name: nva, size: Standard_D2s_v3, forwarding: true, nics: [ { name: nva-nic, subnet: v/nva, ip: 10.0.100.4, ip_forwarding: true } ] }
route_tables:
  - name: rt
    routes: [ { name: s0-via-nva, prefix: 10.0.0.0/24, next_hop: VirtualAppliance, next_hop_ip: 10.0.100.4 } ]
"#,
    );
    let s = net.subnet("v/app");
    let r = net.ping("app-vm", "h0");
    assert_eq!(
        r.outcome,
        Outcome::Delivered(Destination::Nic(net.nic("h0-nic")))
    );
    assert_eq!(
        routes_taken(&r.steps)[0],
        (s, net.route_index(s, RouteSource::User, "10.0.0.0/24"))
    );
    assert_eq!(forwarders(&r.steps), vec![net.nic("nva-nic")]);

    let r = net.ping("app-vm", "h1");
    assert_eq!(
        r.outcome,
        Outcome::Delivered(Destination::Nic(net.nic("h1-nic")))
    );
    assert_eq!(
        routes_taken(&r.steps),
        vec![(s, net.route_index(s, RouteSource::Default, "10.0.0.0/16"))]
    );
    assert!(forwarders(&r.steps).is_empty());
}

/// VNet `a` (10.0.0.0/16, with a gateway) peered with `b` (10.1.0.0/16); the site announces
/// `site_space`.
fn bgp_net(site_space: &str) -> Net {
    Net::new(&format!(
        r#"
name: bgp-vs-system
vnets:
  - name: a
    address_space: [10.0.0.0/16]
    subnets:
      - {{ name: app, prefix: 10.0.1.0/24 }}
      - {{ name: inner, prefix: 10.0.9.0/24 }}
      - {{ name: GatewaySubnet, prefix: 10.0.255.0/27 }}
    gateway: {{ name: gw, sku: VpnGw1 }}
  - name: b
    address_space: [10.1.0.0/16]
    subnets: [ {{ name: app, prefix: 10.1.5.0/24 }} ]
vms:
  - {{ name: a-vm, size: Standard_D2s_v3, nics: [ {{ name: a-nic, subnet: a/app, ip: 10.0.1.4 }} ] }}
  - {{ name: inner-vm, size: Standard_D2s_v3, nics: [ {{ name: inner-nic, subnet: a/inner, ip: 10.0.9.4 }} ] }}
  - {{ name: b-vm, size: Standard_D2s_v3, nics: [ {{ name: b-nic, subnet: b/app, ip: 10.1.5.4 }} ] }}
peerings:
  - {{ name: a-to-b, from: a, to: b }}
  - {{ name: b-to-a, from: b, to: a }}
on_premises:
  - {{ name: branch, address_space: {site_space}, connection: gw, hosts: [ {{ name: branch-pc, ip: 172.16.0.10 }} ] }}
"#
    ))
}

const COVERED: &str = "a VnetLocal/VNetPeering system route covers it: Azure prefers those over more specific BGP routes";

/// [udr-overview] Exception to longest prefix match: system routes for the VNet's own space and
/// its peerings are preferred over gateway (BGP) routes even when those are more specific.
#[test]
fn vnet_and_peering_system_routes_beat_more_specific_gateway_routes() {
    let net = bgp_net("[10.1.5.0/24, 10.0.9.0/24, 172.16.0.0/16]");
    let gw = |prefix| rows_for(&net, "a/app", prefix);
    assert_eq!(
        gw("10.1.5.0/24"),
        vec![(
            RouteSource::VirtualNetworkGateway,
            RouteState::Invalid,
            NextHopType::VirtualNetworkGateway,
            Some(COVERED)
        )]
    );
    assert_eq!(
        gw("10.0.9.0/24"),
        vec![(
            RouteSource::VirtualNetworkGateway,
            RouteState::Invalid,
            NextHopType::VirtualNetworkGateway,
            Some(COVERED)
        )]
    );
    // A gateway route outside every VNet stays Active.
    assert_eq!(
        gw("172.16.0.0/16"),
        vec![(
            RouteSource::VirtualNetworkGateway,
            RouteState::Active,
            NextHopType::VirtualNetworkGateway,
            None
        )]
    );

    let s = net.subnet("a/app");
    let r = net.ping("a-vm", "b-vm");
    assert_eq!(
        r.outcome,
        Outcome::Delivered(Destination::Nic(net.nic("b-nic")))
    );
    assert_eq!(
        routes_taken(&r.steps),
        vec![(s, net.route_index(s, RouteSource::Default, "10.1.0.0/16"))]
    );
    let r = net.ping("a-vm", "inner-vm");
    assert_eq!(
        r.outcome,
        Outcome::Delivered(Destination::Nic(net.nic("inner-nic")))
    );
    assert_eq!(
        routes_taken(&r.steps),
        vec![(s, net.route_index(s, RouteSource::Default, "10.0.0.0/16"))]
    );
    let host = net.sc.host_by_name("branch-pc").unwrap();
    assert_eq!(
        net.ping("a-vm", "branch-pc").outcome,
        Outcome::Delivered(Destination::Host(host))
    );
}

/// [udr-overview] The same exception on an equal prefix: a VNetPeering system route beats a
/// gateway route for the peer's exact range (an exception to BGP > System).
#[test]
fn peering_route_beats_gateway_route_with_the_same_prefix() {
    let net = bgp_net("[10.1.0.0/16, 172.16.0.0/16]");
    assert_eq!(
        rows_for(&net, "a/app", "10.1.0.0/16"),
        vec![
            (
                RouteSource::Default,
                RouteState::Active,
                NextHopType::VNetPeering,
                None
            ),
            (
                RouteSource::VirtualNetworkGateway,
                RouteState::Invalid,
                NextHopType::VirtualNetworkGateway,
                Some(
                    "a VnetLocal/VNetPeering system route with the same prefix: Azure prefers those over BGP routes"
                )
            ),
        ]
    );
    assert_eq!(
        net.ping("a-vm", "b-vm").outcome,
        Outcome::Delivered(Destination::Nic(net.nic("b-nic")))
    );
}

/// [udr-overview, worked example] A 0.0.0.0/0 user route removes the reserved None routes of
/// its subnet: unassigned private space then goes to the appliance instead of being dropped.
#[test]
fn zero_slash_zero_user_route_removes_the_reserved_none_routes() {
    let net = Net::new(
        r#"
name: forced
vnets:
  - name: v
    address_space: [10.0.0.0/16]
    subnets:
      - { name: forced, prefix: 10.0.1.0/24, route_table: rt }
      - { name: nva, prefix: 10.0.100.0/24 }
vms:
  - { name: vm, size: Standard_D2s_v3, nics: [ { name: vm-nic, subnet: v/forced, ip: 10.0.1.4 } ] }
  - { name: nva, size: Standard_D2s_v3, forwarding: true, nics: [ { name: nva-nic, subnet: v/nva, ip: 10.0.100.4, ip_forwarding: true } ] }
route_tables:
  - name: rt
    routes: [ { name: default-nva, prefix: 0.0.0.0/0, next_hop: VirtualAppliance, next_hop_ip: 10.0.100.4 } ]
"#,
    );
    let none_rows = |subnet| {
        net.dp
            .routes(net.subnet(subnet))
            .iter()
            .filter(|r| r.next_hop == NextHopType::None)
            .map(|r| r.prefix.to_string())
            .collect::<Vec<_>>()
    };
    assert!(none_rows("v/forced").is_empty());
    let mut kept = none_rows("v/nva");
    kept.sort();
    assert_eq!(
        kept,
        vec![
            "10.0.0.0/8",
            "100.64.0.0/10",
            "172.16.0.0/12",
            "192.168.0.0/16"
        ]
    );

    let r = net.ping("vm", "10.200.0.1");
    let s = net.subnet("v/forced");
    let nva = net.subnet("v/nva");
    let none = net.route_index(nva, RouteSource::Default, "10.0.0.0/8");
    assert_eq!(
        routes_taken(&r.steps),
        vec![
            (s, net.route_index(s, RouteSource::User, "0.0.0.0/0")),
            (nva, none)
        ]
    );
    assert_eq!(
        dropped(&r),
        (
            DropReason::NoRoute,
            DropCause::NoneRoute {
                subnet: nva,
                route: none
            }
        )
    );
}

/// [udr-overview, worked example IDs 4-7] A user route with a peer's prefix overrides the
/// VNetPeering route: the peering route is Invalid and traffic follows the user route.
#[test]
fn user_route_overrides_a_peering_route() {
    let net = Net::new(
        r#"
name: udr-over-peering
vnets:
  - name: a
    address_space: [10.0.0.0/16]
    subnets:
      - { name: app, prefix: 10.0.1.0/24, route_table: rt }
      - { name: nva, prefix: 10.0.100.0/24 }
  - name: b
    address_space: [10.1.0.0/16]
    subnets: [ { name: app, prefix: 10.1.1.0/24 } ]
vms:
  - { name: a-vm, size: Standard_D2s_v3, nics: [ { name: a-nic, subnet: a/app, ip: 10.0.1.4 } ] }
  - { name: b-vm, size: Standard_D2s_v3, nics: [ { name: b-nic, subnet: b/app, ip: 10.1.1.4 } ] }
  - { name: nva, size: Standard_D2s_v3, forwarding: true, nics: [ { name: nva-nic, subnet: a/nva, ip: 10.0.100.4, ip_forwarding: true } ] }
route_tables:
  - name: rt
    routes: [ { name: b-via-nva, prefix: 10.1.0.0/16, next_hop: VirtualAppliance, next_hop_ip: 10.0.100.4 } ]
peerings:
  - { name: a-to-b, from: a, to: b }
  - { name: b-to-a, from: b, to: a }
"#,
    );
    assert_eq!(
        rows_for(&net, "a/app", "10.1.0.0/16"),
        vec![
            (
                RouteSource::Default,
                RouteState::Invalid,
                NextHopType::VNetPeering,
                Some(BY_USER)
            ),
            (
                RouteSource::User,
                RouteState::Active,
                NextHopType::VirtualAppliance,
                None
            ),
        ]
    );
    let r = net.ping("a-vm", "b-vm");
    assert_eq!(
        r.outcome,
        Outcome::Delivered(Destination::Nic(net.nic("b-nic"))),
        "{:#?}",
        r.steps
    );
    assert_eq!(forwarders(&r.steps), vec![net.nic("nva-nic")]);
    // The appliance's subnet (no route table) still uses the peering route.
    let nva = net.subnet("a/nva");
    assert_eq!(
        routes_taken(&r.steps)[1],
        (
            nva,
            net.route_index(nva, RouteSource::Default, "10.1.0.0/16")
        )
    );
}

fn one_vnet(space: &str) -> Net {
    Net::new(&format!(
        "name: space\nvnets:\n  - {{ name: v, address_space: {space}, subnets: [ {{ name: s, prefix: 10.0.1.0/24 }} ] }}\n\
         vms:\n  - {{ name: vm, size: Standard_D2s_v3, nics: [ {{ name: vm-nic, subnet: v/s, ip: 10.0.1.4 }} ] }}\n"
    ))
}

/// [udr-overview, "Default"] An address range equal to a reserved prefix turns that route's next
/// hop from None to the virtual network: one VnetLocal row, no None row.
#[test]
fn reserved_prefix_equal_to_an_address_range_becomes_vnetlocal() {
    let net = one_vnet("[10.0.0.0/16, 192.168.0.0/16]");
    assert_eq!(
        rows_for(&net, "v/s", "192.168.0.0/16"),
        vec![(
            RouteSource::Default,
            RouteState::Active,
            NextHopType::VnetLocal,
            None
        )]
    );
    // Unused space of the range: the VNet route leads into the VNet, where no NIC holds it.
    assert_eq!(
        dropped(&net.ping("vm", "192.168.7.7")),
        (
            DropReason::NoDestination,
            DropCause::NoNic {
                vnet: net.vnet("v")
            }
        )
    );
    // The other reserved routes stay.
    assert_eq!(rows_for(&net, "v/s", "172.16.0.0/12").len(), 1);
}

/// [udr-overview, "Default"] An address range larger than a reserved prefix removes that route;
/// the larger range's VnetLocal route covers it. A range inside a reserved prefix leaves it
/// (10.0.0.0/16 next to 10.0.0.0/8 -> None).
#[test]
fn reserved_prefix_inside_a_larger_address_range_is_removed() {
    let net = one_vnet("[10.0.0.0/16, 100.0.0.0/9]");
    assert!(rows_for(&net, "v/s", "100.64.0.0/10").is_empty());
    assert_eq!(
        rows_for(&net, "v/s", "100.0.0.0/9"),
        vec![(
            RouteSource::Default,
            RouteState::Active,
            NextHopType::VnetLocal,
            None
        )]
    );
    assert_eq!(
        rows_for(&net, "v/s", "10.0.0.0/8"),
        vec![(
            RouteSource::Default,
            RouteState::Active,
            NextHopType::None,
            None
        )]
    );
    assert_eq!(
        dropped(&net.ping("vm", "100.100.0.5")),
        (
            DropReason::NoDestination,
            DropCause::NoNic {
                vnet: net.vnet("v")
            }
        )
    );
}
