//! The "Routing example" of Azure's "Virtual network traffic routing" article [udr-overview]:
//! Subnet1's and Subnet2's effective routes row for row, and every derived test vector.
//!
//! Topology, as the article gives it: Virtual-network-1 (10.0.0.0/16) with Subnet1
//! (10.0.0.0/24, route table with the user routes of IDs 2, 3, 6, 7, 9 and 12), Subnet2 (no
//! route table) and an NVA at 10.0.100.4 in a third subnet; a VPN gateway in VNet1 with the
//! on-premises prefix 10.10.0.0/16; Virtual-network-2 (10.1.0.0/16 and 10.2.0.0/16) peered.

mod common;

use common::{Net, assert_delivered_to, assert_same_rows, dropped, forwarders, routes_taken, row};
use vnetsim_dataplane::pipeline::DropCause;
use vnetsim_dataplane::routes::RouteSource;
use vnetsim_dataplane::{Destination, Outcome};
use vnetsim_scenario::{DropReason, Protocol};

const EXAMPLE: &str = r#"
name: udr-overview-routing-example
vnets:
  - name: vnet1
    address_space: [10.0.0.0/16]
    subnets:
      - { name: Subnet1, prefix: 10.0.0.0/24, route_table: subnet1-rt }
      - { name: Subnet2, prefix: 10.0.1.0/24 }
      - { name: nva, prefix: 10.0.100.0/24 }
      - { name: GatewaySubnet, prefix: 10.0.255.0/27 }
    gateway: { name: vnet1-gw, sku: VpnGw1 }
  - name: vnet2
    address_space: [10.1.0.0/16, 10.2.0.0/16]
    subnets:
      - { name: a, prefix: 10.1.3.0/24 }
      - { name: b, prefix: 10.2.0.0/24 }
vms:
  - { name: s1-vm, size: Standard_D2s_v3, nics: [ { name: s1-vm-nic, subnet: vnet1/Subnet1, ip: 10.0.0.4 } ] }
  - { name: s1-peer, size: Standard_D2s_v3, nics: [ { name: s1-peer-nic, subnet: vnet1/Subnet1, ip: 10.0.0.7 } ] }
  - { name: s2-vm, size: Standard_D2s_v3, nics: [ { name: s2-vm-nic, subnet: vnet1/Subnet2, ip: 10.0.1.5 } ] }
  - name: nva
    size: Standard_D2s_v3
    forwarding: true
    nics: [ { name: nva-nic, subnet: vnet1/nva, ip: 10.0.100.4, ip_forwarding: true } ]
  - { name: v2a, size: Standard_D2s_v3, nics: [ { name: v2a-nic, subnet: vnet2/a, ip: 10.1.3.4 } ] }
  - { name: v2b, size: Standard_D2s_v3, nics: [ { name: v2b-nic, subnet: vnet2/b, ip: 10.2.0.9 } ] }
route_tables:
  - name: subnet1-rt
    routes:
      - { name: Within-VNet1, prefix: 10.0.0.0/16, next_hop: VirtualAppliance, next_hop_ip: 10.0.100.4 }
      - { name: Within-Subnet1, prefix: 10.0.0.0/24, next_hop: VnetLocal }
      - { name: ToVNet2-1-Drop, prefix: 10.1.0.0/16, next_hop: None }
      - { name: ToVNet2-2-Drop, prefix: 10.2.0.0/16, next_hop: None }
      - { name: To-On-Prem, prefix: 10.10.0.0/16, next_hop: VirtualAppliance, next_hop_ip: 10.0.100.4 }
      - { name: Default-NVA, prefix: 0.0.0.0/0, next_hop: VirtualAppliance, next_hop_ip: 10.0.100.4 }
peerings:
  - { name: vnet1-to-vnet2, from: vnet1, to: vnet2 }
  - { name: vnet2-to-vnet1, from: vnet2, to: vnet1 }
on_premises:
  - name: on-prem
    address_space: [10.10.0.0/16]
    connection: vnet1-gw
    hosts: [ { name: on-prem-host, ip: 10.10.5.5 } ]
"#;

/// Table 2.2: Subnet1's effective routes [udr-overview, "Routing example"].
#[test]
fn subnet1_effective_routes_match_the_worked_example() {
    let net = Net::new(EXAMPLE);
    // The gateway's IP is the first usable address of GatewaySubnet.
    let gw = "10.0.255.4";
    let expected = vec![
        row("Default", "Invalid", "10.0.0.0/16", "VnetLocal", ""), // ID 1
        row(
            "User",
            "Active",
            "10.0.0.0/16",
            "VirtualAppliance",
            "10.0.100.4",
        ), // ID 2
        row("User", "Active", "10.0.0.0/24", "VnetLocal", ""),     // ID 3
        row("Default", "Invalid", "10.1.0.0/16", "VNetPeering", ""), // ID 4
        row("Default", "Invalid", "10.2.0.0/16", "VNetPeering", ""), // ID 5
        row("User", "Active", "10.1.0.0/16", "None", ""),          // ID 6
        row("User", "Active", "10.2.0.0/16", "None", ""),          // ID 7
        // ID 8. The article's table gives the source as "Default"; Azure's effective routes
        // (and vnetsim) name gateway-propagated routes "VirtualNetworkGateway" [udr-overview,
        // "Optional default routes" / "Border gateway protocol"].
        row(
            "VirtualNetworkGateway",
            "Invalid",
            "10.10.0.0/16",
            "VirtualNetworkGateway",
            gw,
        ),
        row(
            "User",
            "Active",
            "10.10.0.0/16",
            "VirtualAppliance",
            "10.0.100.4",
        ), // ID 9
        // ID 10 (the Storage service endpoint route) is not modelled: vnetsim has no service
        // endpoints, so the row is absent.
        row("Default", "Invalid", "0.0.0.0/0", "Internet", ""), // ID 11
        row(
            "User",
            "Active",
            "0.0.0.0/0",
            "VirtualAppliance",
            "10.0.100.4",
        ), // ID 12
                                                                // No 10/8, 172.16/12, 192.168/16 or 100.64/10 -> None rows: the 0.0.0.0/0 user route
                                                                // removed them.
    ];
    assert_same_rows(net.rows("vnet1/Subnet1"), expected);
}

/// The Invalid rows of table 2.2 say why they lost.
#[test]
fn subnet1_invalid_rows_name_the_overriding_user_route() {
    let net = Net::new(EXAMPLE);
    let s1 = net.subnet("vnet1/Subnet1");
    for r in net.dp.routes(s1) {
        match r.state {
            vnetsim_dataplane::routes::RouteState::Invalid => {
                assert_eq!(
                    r.note,
                    Some("overridden by a user route with the same prefix"),
                    "{r:?}"
                );
            }
            vnetsim_dataplane::routes::RouteState::Active => assert_eq!(r.note, None, "{r:?}"),
        }
    }
}

/// Table 2.3: Subnet2 (no route table) [udr-overview, "Routing example"].
#[test]
fn subnet2_effective_routes_match_the_worked_example() {
    let net = Net::new(EXAMPLE);
    let expected = vec![
        row("Default", "Active", "10.0.0.0/16", "VnetLocal", ""),
        row("Default", "Active", "10.1.0.0/16", "VNetPeering", ""),
        row("Default", "Active", "10.2.0.0/16", "VNetPeering", ""),
        // The article's table says "Default"; the source of a gateway-propagated route is
        // VirtualNetworkGateway in Azure's effective routes, with the gateway's IP.
        row(
            "VirtualNetworkGateway",
            "Active",
            "10.10.0.0/16",
            "VirtualNetworkGateway",
            "10.0.255.4",
        ),
        row("Default", "Active", "0.0.0.0/0", "Internet", ""),
        row("Default", "Active", "10.0.0.0/8", "None", ""),
        row("Default", "Active", "100.64.0.0/10", "None", ""),
        row("Default", "Active", "192.168.0.0/16", "None", ""),
        // Not in the worked example: its tables predate the current default-route table, which
        // lists 172.16.0.0/12 -> None among the reserved prefixes [udr-overview, "Default"].
        // vnetsim follows the current table.
        row("Default", "Active", "172.16.0.0/12", "None", ""),
    ];
    assert_same_rows(net.rows("vnet1/Subnet2"), expected);
}

/// Table 2.4, Subnet1 -> 10.0.0.7: ID 3 keeps traffic inside Subnet1 direct.
#[test]
fn subnet1_to_own_subnet_uses_within_subnet1_vnetlocal() {
    let net = Net::new(EXAMPLE);
    let r = net.ping("s1-vm", "s1-peer");
    assert_delivered_to(&r, net.nic("s1-peer-nic"));
    let s1 = net.subnet("vnet1/Subnet1");
    let id3 = net.route_index(s1, RouteSource::User, "10.0.0.0/24");
    assert_eq!(routes_taken(&r.steps), vec![(s1, id3)]);
    assert!(forwarders(&r.steps).is_empty(), "no appliance on the way");
}

/// Table 2.4, Subnet1 -> 10.0.1.5 (Subnet2): ID 2 sends it through the NVA.
#[test]
fn subnet1_to_subnet2_goes_through_the_nva() {
    let net = Net::new(EXAMPLE);
    let r = net.ping("s1-vm", "s2-vm");
    assert_delivered_to(&r, net.nic("s2-vm-nic"));
    let s1 = net.subnet("vnet1/Subnet1");
    let id2 = net.route_index(s1, RouteSource::User, "10.0.0.0/16");
    assert_eq!(routes_taken(&r.steps)[0], (s1, id2));
    assert_eq!(forwarders(&r.steps), vec![net.nic("nva-nic")]);
}

/// Table 2.4, Subnet1 -> 10.1.3.4 and 10.2.0.9 (VNet2): dropped by IDs 6 and 7, although the
/// peering works (Subnet2 reaches the same hosts, see below).
#[test]
fn subnet1_to_vnet2_is_dropped_by_the_none_user_routes() {
    let net = Net::new(EXAMPLE);
    let s1 = net.subnet("vnet1/Subnet1");
    for (dst, prefix) in [("v2a", "10.1.0.0/16"), ("v2b", "10.2.0.0/16")] {
        let r = net.ping("s1-vm", dst);
        let id = net.route_index(s1, RouteSource::User, prefix);
        assert_eq!(
            dropped(&r),
            (
                DropReason::NoRoute,
                DropCause::NoneRoute {
                    subnet: s1,
                    route: id
                }
            ),
            "to {dst}"
        );
    }
}

/// Table 2.4, Subnet1 -> 10.10.5.5 (on-premises): ID 9 sends it to the NVA, whose subnet then
/// uses the gateway route.
#[test]
fn subnet1_to_on_premises_goes_through_the_nva() {
    let net = Net::new(EXAMPLE);
    let r = net.send("s1-vm", "on-prem-host", Protocol::Tcp, 443);
    let host = net.sc.host_by_name("on-prem-host").unwrap();
    assert_eq!(
        r.outcome,
        Outcome::Delivered(Destination::Host(host)),
        "{:#?}",
        r.steps
    );
    let s1 = net.subnet("vnet1/Subnet1");
    let id9 = net.route_index(s1, RouteSource::User, "10.10.0.0/16");
    assert_eq!(routes_taken(&r.steps)[0], (s1, id9));
    assert_eq!(forwarders(&r.steps), vec![net.nic("nva-nic")]);
    let nva = net.subnet("vnet1/nva");
    let gw_route = net.route_index(nva, RouteSource::VirtualNetworkGateway, "10.10.0.0/16");
    assert_eq!(routes_taken(&r.steps)[1], (nva, gw_route));
}

/// Table 2.4, Subnet1 -> a public address (the article uses 8.8.8.8; 203.0.113.8 stands for
/// it): ID 12 sends it to the NVA, which hands it to the Internet.
#[test]
fn subnet1_to_internet_goes_through_the_nva() {
    let net = Net::new(EXAMPLE);
    let r = net.ping("s1-vm", "203.0.113.8");
    assert_eq!(
        r.outcome,
        Outcome::Delivered(Destination::Internet),
        "{:#?}",
        r.steps
    );
    let s1 = net.subnet("vnet1/Subnet1");
    let id12 = net.route_index(s1, RouteSource::User, "0.0.0.0/0");
    assert_eq!(routes_taken(&r.steps)[0], (s1, id12));
    assert_eq!(forwarders(&r.steps), vec![net.nic("nva-nic")]);
}

/// Table 2.4, Subnet1 -> 192.168.1.1: the None route was removed by the 0/0 user route, so ID 12
/// hands it to the NVA. The NVA's own subnet has no route table and keeps 192.168/16 -> None,
/// which is where the packet ends.
#[test]
fn subnet1_to_192_168_goes_to_the_nva_not_to_none() {
    let net = Net::new(EXAMPLE);
    let r = net.ping("s1-vm", "192.168.1.1");
    let s1 = net.subnet("vnet1/Subnet1");
    let nva = net.subnet("vnet1/nva");
    let id12 = net.route_index(s1, RouteSource::User, "0.0.0.0/0");
    let none = net.route_index(nva, RouteSource::Default, "192.168.0.0/16");
    assert_eq!(routes_taken(&r.steps), vec![(s1, id12), (nva, none)]);
    assert_eq!(forwarders(&r.steps), vec![net.nic("nva-nic")]);
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

/// Table 2.4, Subnet2 -> 10.0.0.7: VnetLocal.
#[test]
fn subnet2_to_subnet1_is_vnetlocal() {
    let net = Net::new(EXAMPLE);
    let r = net.ping("s2-vm", "s1-peer");
    assert_delivered_to(&r, net.nic("s1-peer-nic"));
    let s2 = net.subnet("vnet1/Subnet2");
    assert_eq!(
        routes_taken(&r.steps),
        vec![(s2, net.route_index(s2, RouteSource::Default, "10.0.0.0/16"))]
    );
    assert!(forwarders(&r.steps).is_empty());
}

/// Table 2.4, Subnet2 -> 10.1.3.4: VNet peering.
#[test]
fn subnet2_to_vnet2_uses_the_peering() {
    let net = Net::new(EXAMPLE);
    let r = net.ping("s2-vm", "v2a");
    assert_delivered_to(&r, net.nic("v2a-nic"));
    let s2 = net.subnet("vnet1/Subnet2");
    assert_eq!(
        routes_taken(&r.steps),
        vec![(s2, net.route_index(s2, RouteSource::Default, "10.1.0.0/16"))]
    );
    assert!(
        r.steps
            .iter()
            .any(|s| matches!(s, vnetsim_dataplane::Step::Peering { .. }))
    );
}

/// Table 2.4, Subnet2 -> 10.10.5.5: the virtual network gateway.
#[test]
fn subnet2_to_on_premises_uses_the_gateway() {
    let net = Net::new(EXAMPLE);
    let r = net.ping("s2-vm", "on-prem-host");
    let host = net.sc.host_by_name("on-prem-host").unwrap();
    assert_eq!(
        r.outcome,
        Outcome::Delivered(Destination::Host(host)),
        "{:#?}",
        r.steps
    );
    let s2 = net.subnet("vnet1/Subnet2");
    let gw = net.route_index(s2, RouteSource::VirtualNetworkGateway, "10.10.0.0/16");
    assert_eq!(routes_taken(&r.steps), vec![(s2, gw)]);
    assert!(forwarders(&r.steps).is_empty());
}

/// Table 2.4, Subnet2 -> 10.200.0.1 and 192.168.1.1: dropped by the reserved None routes.
#[test]
fn subnet2_to_unassigned_private_space_is_dropped() {
    let net = Net::new(EXAMPLE);
    let s2 = net.subnet("vnet1/Subnet2");
    for (dst, prefix) in [
        ("10.200.0.1", "10.0.0.0/8"),
        ("192.168.1.1", "192.168.0.0/16"),
    ] {
        let r = net.ping("s2-vm", dst);
        let none = net.route_index(s2, RouteSource::Default, prefix);
        assert_eq!(
            dropped(&r),
            (
                DropReason::NoRoute,
                DropCause::NoneRoute {
                    subnet: s2,
                    route: none
                }
            ),
            "to {dst}"
        );
    }
}

/// Table 2.4, Subnet2 -> a public address (8.8.8.8 in the article): Internet.
#[test]
fn subnet2_to_internet_is_direct() {
    let net = Net::new(EXAMPLE);
    let r = net.ping("s2-vm", "203.0.113.8");
    assert_eq!(r.outcome, Outcome::Delivered(Destination::Internet));
    let s2 = net.subnet("vnet1/Subnet2");
    assert_eq!(
        routes_taken(&r.steps),
        vec![(s2, net.route_index(s2, RouteSource::Default, "0.0.0.0/0"))]
    );
    assert!(forwarders(&r.steps).is_empty());
}
