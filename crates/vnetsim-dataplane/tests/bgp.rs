//! Gateway connections and BGP: VPN Gateway FAQ [VPNFAQ26]
//! (https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-vpn-faq), ExpressRoute and
//! site-to-site coexistence [ERCOEX18]
//! (https://learn.microsoft.com/azure/expressroute/expressroute-howto-coexist-resource-manager),
//! and learned routes in subnets [UDR-live]
//! (https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview).

mod common;

use common::{Net, dropped};
use vnetsim_dataplane::bgp::{GatewayNext, RouteOrigin};
use vnetsim_dataplane::routes::{RouteSource, RouteState};
use vnetsim_dataplane::{
    Dataplane, Destination, FlowTable, Full, Ingress, Outcome, Segment, SegmentStart, Step,
    WaypointAt, wire,
};
use vnetsim_scenario::{DropReason, Protocol};

/// Two hubs joined by VNet-to-VNet connections (BGP on both, AS 65010 and 65020), a spoke of
/// hub-a using its gateway, a branch (AS 65050) with BGP to hub-b: its local network gateway
/// holds 192.168.1.0/24, its device advertises 192.168.0.0/16, a default route and a prefix
/// inside hub-b's range. `BGP_BA` is the `bgp` of b-to-a.
const TWO_HUBS: &str = r#"
name: two-hubs
vnets:
  - name: hub-a
    address_space: [10.1.0.0/16]
    subnets:
      - { name: app, prefix: 10.1.1.0/24 }
      - { name: GatewaySubnet, prefix: 10.1.255.0/27 }
    gateway: { name: gw-a, sku: VpnGw2, bgp: { asn: 65010 } }
  - name: hub-b
    address_space: [10.2.0.0/16]
    subnets:
      - { name: app, prefix: 10.2.1.0/24 }
      - { name: GatewaySubnet, prefix: 10.2.255.0/27 }
    gateway: { name: gw-b, sku: VpnGw2, bgp: { asn: 65020 } }
  - name: spoke
    address_space: [10.3.0.0/16]
    subnets:
      - { name: app, prefix: 10.3.1.0/24 }
      - { name: quiet, prefix: 10.3.2.0/24, route_table: no-gw }
route_tables:
  - { name: no-gw, disable_gateway_route_propagation: true }
vms:
  - { name: a-vm, size: Standard_D2s_v3, nics: [ { name: a-nic, subnet: hub-a/app, ip: 10.1.1.4 } ] }
  - { name: b-vm, size: Standard_D2s_v3, nics: [ { name: b-nic, subnet: hub-b/app, ip: 10.2.1.4 } ] }
  - { name: s-vm, size: Standard_D2s_v3, nics: [ { name: s-nic, subnet: spoke/app, ip: 10.3.1.4 } ] }
  - { name: q-vm, size: Standard_D2s_v3, nics: [ { name: q-nic, subnet: spoke/quiet, ip: 10.3.2.4 } ] }
peerings:
  - { name: a-to-spoke, from: hub-a, to: spoke, allow_gateway_transit: true }
  - { name: spoke-to-a, from: spoke, to: hub-a, use_remote_gateways: true }
on_premises:
  - name: branch
    address_space: [192.168.1.0/24]
    bgp: { asn: 65050, peering_ip: 192.168.255.1 }
    advertises: [192.168.0.0/16, 0.0.0.0/0, 10.2.5.0/24]
    hosts: [ { name: branch-pc, ip: 192.168.1.10 } ]
connections:
  - { name: a-to-b, type: vnet2vnet, from: gw-a, to: gw-b, bgp: true }
  - { name: b-to-a, type: vnet2vnet, from: gw-b, to: gw-a, bgp: BGP_BA }
  - { name: b-to-branch, type: ipsec, from: gw-b, to: branch, bgp: true }
"#;

fn two_hubs(bgp_ba: bool) -> Net {
    Net::new(&TWO_HUBS.replace("BGP_BA", if bgp_ba { "true" } else { "false" }))
}

/// The gateway routes of a subnet: (prefix, state, connection name, AS path).
fn gateway_rows(net: &Net, subnet: &str) -> Vec<(String, RouteState, String, Option<String>)> {
    let sid = net.subnet(subnet);
    net.dp
        .routes(sid)
        .iter()
        .filter(|r| r.source == RouteSource::VirtualNetworkGateway)
        .map(|r| {
            let gw = match r.target {
                vnetsim_dataplane::routes::RouteTarget::Gateway { vnet, .. } => vnet,
                _ => panic!("a gateway route leads to a gateway"),
            };
            (
                r.prefix.to_string(),
                r.state,
                r.name.clone().unwrap_or_default(),
                net.dp.as_path(&net.sc, gw, r.prefix, r.name.as_deref()),
            )
        })
        .collect()
}

fn row(
    p: &str,
    state: RouteState,
    name: &str,
    path: Option<&str>,
) -> (String, RouteState, String, Option<String>) {
    (p.into(), state, name.into(), path.map(str::to_owned))
}

/// [VPNFAQ26] learned routes: one route per prefix, source and next hop VirtualNetworkGateway,
/// with the AS path; a spoke using the hub's gateway learns them too (gateway transit).
#[test]
fn vpnfaq26_learned_routes_appear_in_subnets_with_their_as_path() {
    let net = two_hubs(true);
    use RouteState::Active;
    assert_eq!(
        gateway_rows(&net, "spoke/app"),
        vec![
            row("10.2.0.0/16", Active, "a-to-b", Some("65020")),
            row("192.168.0.0/16", Active, "a-to-b", Some("65020 65050")),
            row("192.168.1.0/24", Active, "a-to-b", Some("65020")),
        ]
    );
    let a = net.sc.vnets[net.vnet("hub-a").index()]
        .gateway
        .clone()
        .unwrap();
    for r in net.dp.routes(net.subnet("spoke/app")) {
        if r.source == RouteSource::VirtualNetworkGateway {
            assert_eq!(r.next_hop.as_str(), "VirtualNetworkGateway");
            assert_eq!(r.next_hop_ip, Some(a.ip));
        }
    }
}

/// [VPNFAQ26] "Any other prefix listed becomes a static route next to the BGP routes": the
/// local network gateway's 192.168.1.0/24 is static beside the device's BGP routes.
#[test]
fn vpnfaq26_static_prefixes_of_a_local_network_gateway_stay_beside_bgp_routes() {
    let net = two_hubs(true);
    let rows = gateway_rows(&net, "hub-b/app");
    assert!(rows.contains(&row(
        "192.168.1.0/24",
        RouteState::Active,
        "b-to-branch",
        None
    )));
    assert!(rows.contains(&row(
        "192.168.0.0/16",
        RouteState::Active,
        "b-to-branch",
        Some("65050")
    )));
    let b = net.vnet("hub-b");
    let origins: Vec<RouteOrigin> = net
        .dp
        .gateway_routes(b)
        .iter()
        .filter(|r| r.next == GatewayNext::Site(vnetsim_scenario::SiteId(0)))
        .map(|r| r.origin)
        .collect();
    assert_eq!(origins[0], RouteOrigin::Static);
    assert!(origins[1..].iter().all(|o| *o == RouteOrigin::Bgp));
}

/// [VPNFAQ26] a default route from on-premises is accepted ("Yes") but Azure never passes it
/// on: hub-b sends 0.0.0.0/0 to the branch (BGP beats the system route), hub-a and the spoke
/// keep the Internet.
#[test]
fn vpnfaq26_default_route_is_accepted_but_not_passed_on() {
    let net = two_hubs(true);
    let rows = gateway_rows(&net, "hub-b/app");
    assert!(rows.contains(&row(
        "0.0.0.0/0",
        RouteState::Active,
        "b-to-branch",
        Some("65050")
    )));
    assert!(
        !gateway_rows(&net, "hub-a/app")
            .iter()
            .any(|r| r.0 == "0.0.0.0/0")
    );
    assert!(
        !net.dp
            .bgp_advertised(net.vnet("hub-b"))
            .iter()
            .any(|p| p.prefix_len() == 0)
    );
    let r = net.send("a-vm", "8.8.8.8", Protocol::Udp, 53);
    assert_eq!(r.outcome, Outcome::Delivered(Destination::Internet));
    // hub-b tunnels it to the branch, where no host holds it.
    let r = net.send("b-vm", "8.8.8.8", Protocol::Udp, 53);
    assert_eq!(dropped(&r).0, DropReason::NoDestination);
}

/// [VPNFAQ26] BGP-learned routes that overlap a VNet prefix are not advertised: hub-b learns
/// 10.2.5.0/24 (its VnetLocal route wins in its subnets [UDR-live]) and passes it to nobody.
#[test]
fn vpnfaq26_routes_overlapping_the_vnet_are_not_advertised() {
    let net = two_hubs(true);
    let rows = gateway_rows(&net, "hub-b/app");
    let r = rows.iter().find(|r| r.0 == "10.2.5.0/24").expect("learned");
    assert_eq!(r.1, RouteState::Invalid, "the VnetLocal route covers it");
    assert!(
        !gateway_rows(&net, "hub-a/app")
            .iter()
            .any(|r| r.0 == "10.2.5.0/24")
    );
}

/// [VPNFAQ26] with gateway transit the spokes' prefixes are advertised: the branch reaches the
/// spoke through hub-b, the VNet-to-VNet link and hub-a (path of gateways), and the spoke the
/// branch back.
#[test]
fn vpnfaq26_spoke_reaches_the_other_vnet_and_branch_by_bgp_transit() {
    let net = two_hubs(true);
    assert!(
        net.dp
            .bgp_advertised(net.vnet("hub-a"))
            .iter()
            .any(|p| p.to_string() == "10.3.0.0/16")
    );
    for (from, to, nic) in [("s-vm", "b-vm", "b-nic"), ("branch-pc", "s-vm", "s-nic")] {
        let r = net.ping(from, to);
        assert_eq!(
            r.outcome,
            Outcome::Delivered(Destination::Nic(net.nic(nic))),
            "{from} -> {to}: {:?}",
            r.steps
        );
        assert!(
            r.steps
                .iter()
                .any(|s| matches!(s, Step::GatewayRoute { .. }))
        );
    }
    let r = net.ping("s-vm", "branch-pc");
    assert!(
        matches!(r.outcome, Outcome::Delivered(Destination::Host(_))),
        "{:?}",
        r.steps
    );
}

/// [VPNFAQ26] transit through VNet-to-VNet needs BGP on every connection: without BGP on
/// b-to-a the link carries static routes (each VNet's address space) only, so hub-a still
/// reaches hub-b, but neither the spoke nor the branch is reachable across it.
#[test]
fn vpnfaq26_transit_needs_bgp_on_every_vnet_to_vnet_connection() {
    let net = two_hubs(false);
    assert!(matches!(
        net.ping("a-vm", "b-vm").outcome,
        Outcome::Delivered(_)
    ));
    assert_eq!(
        gateway_rows(&net, "hub-a/app"),
        vec![row("10.2.0.0/16", RouteState::Active, "a-to-b", None)]
    );
    assert_eq!(
        dropped(&net.ping("a-vm", "branch-pc")).0,
        DropReason::NoRoute
    );
    // The spoke still gets hub-a's static route to hub-b, but hub-b has no route back to it.
    let r = net.ping("b-vm", "s-vm");
    assert_eq!(dropped(&r).0, DropReason::NoRoute);
}

/// [VPNFAQ26] a VNet-to-VNet link is two connection resources; with one alone nothing flows.
#[test]
fn vpnfaq26_vnet_to_vnet_needs_both_connection_resources() {
    let mut sc = two_hubs(true).sc;
    sc.connections.retain(|c| c.name != "b-to-a");
    let dp = Dataplane::compile(&sc);
    let net = Net { sc, dp };
    assert!(gateway_rows(&net, "hub-a/app").is_empty());
    assert_eq!(dropped(&net.ping("a-vm", "b-vm")).0, DropReason::NoRoute);
}

/// [UDR-live] "Propagate gateway routes: No": neither static nor BGP routes reach the subnet.
#[test]
fn vpnfaq26_propagation_off_removes_static_and_bgp_routes() {
    let net = two_hubs(true);
    assert!(gateway_rows(&net, "spoke/quiet").is_empty());
    assert_eq!(dropped(&net.ping("q-vm", "b-vm")).0, DropReason::NoRoute);
}

/// [VPNFAQ26] AS-path prepending is honoured: the shorter path wins. With the branch also
/// connected to hub-a by BGP, hub-a reaches 192.168.0.0/16 directly (65050), not through hub-b
/// (65020 65050).
#[test]
fn vpnfaq26_the_shorter_as_path_wins() {
    let yaml = TWO_HUBS.replace("BGP_BA", "true").replace(
        "  - { name: b-to-branch,",
        "  - { name: a-to-branch, type: ipsec, from: gw-a, to: branch, bgp: true }\n  - { name: b-to-branch,",
    );
    let net = Net::new(&yaml);
    let rows = gateway_rows(&net, "hub-a/app");
    assert!(
        rows.contains(&row(
            "192.168.0.0/16",
            RouteState::Active,
            "a-to-branch",
            Some("65050")
        )),
        "{rows:?}"
    );
}

/// The gateway-to-gateway hop is a waypoint: the receiving gateway's SKU shapes the packet, as a
/// gateway receiving from a site does (engine `Limit::Gateway`).
#[test]
fn bgp_a_packet_over_vnet_to_vnet_waits_at_the_receiving_gateway() {
    let net = two_hubs(true);
    let spec = common::tcp_spec("10.1.1.4", "10.2.1.4", 40000, 443);
    let mut buf = [0u8; 128];
    let len = wire::build_probe(&mut buf, &spec).expect("packet builds");
    let packet = &mut buf[..len];
    let mut flows = FlowTable::new();
    let mut start = SegmentStart::Ingress(Ingress::Nic(net.nic("a-nic")));
    let mut waypoints = Vec::new();
    loop {
        match net.dp.decide(start, packet, &mut flows, 0, Full, &mut ()) {
            Segment::Paused(w) => {
                waypoints.push(w.at());
                start = SegmentStart::At(w);
            }
            Segment::Done(o) => {
                assert_eq!(o, Outcome::Delivered(Destination::Nic(net.nic("b-nic"))));
                break;
            }
        }
    }
    assert_eq!(
        waypoints,
        vec![
            WaypointAt::GatewayToSite(net.vnet("hub-a")),
            WaypointAt::GatewayFromSite(net.vnet("hub-b")),
        ]
    );
}

/// [ERCOEX18] A VPN and an ExpressRoute gateway in one VNet: on an equal prefix the
/// ExpressRoute route wins (the VPN one is Invalid); a longer VPN prefix still wins by longest
/// prefix match.
#[test]
fn ercoex18_expressroute_wins_on_an_equal_prefix_after_longest_prefix_match() {
    let net = Net::new(
        r#"
name: coexist
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    subnets:
      - { name: app, prefix: 10.0.1.0/24 }
      - { name: GatewaySubnet, prefix: 10.0.255.0/27 }
    gateway:
      - { name: vpn, sku: VpnGw1, type: vpn }
      - { name: er, sku: ErGw1AZ, type: expressroute }
vms:
  - { name: vm, size: Standard_D2s_v3, nics: [ { name: nic, subnet: hub/app, ip: 10.0.1.4 } ] }
on_premises:
  - { name: dc, address_space: [192.168.0.0/16], connection: er, hosts: [ { name: dc-host, ip: 192.168.1.10 } ] }
  - { name: branch, address_space: [192.168.0.0/16, 192.168.5.0/24], hosts: [ { name: branch-host, ip: 192.168.5.10 } ] }
connections:
  - { name: vpn-to-branch, type: ipsec, from: vpn, to: branch }
"#,
    );
    let hub = &net.sc.vnets[net.vnet("hub").index()];
    let (vpn_ip, er_ip) = (
        hub.gateway.as_ref().unwrap().ip,
        hub.expressroute.as_ref().unwrap().ip,
    );
    assert_ne!(vpn_ip, er_ip);
    let routes: Vec<_> = net
        .dp
        .routes(net.subnet("hub/app"))
        .iter()
        .filter(|r| r.source == RouteSource::VirtualNetworkGateway)
        .map(|r| (r.prefix.to_string(), r.state, r.next_hop_ip.unwrap()))
        .collect();
    assert_eq!(
        routes,
        vec![
            ("192.168.0.0/16".into(), RouteState::Active, er_ip),
            ("192.168.0.0/16".into(), RouteState::Invalid, vpn_ip),
            ("192.168.5.0/24".into(), RouteState::Active, vpn_ip),
        ]
    );
    let dc = net.ping("vm", "dc-host");
    assert!(
        matches!(dc.outcome, Outcome::Delivered(Destination::Host(_))),
        "{:?}",
        dc.steps
    );
    let branch = net.ping("vm", "branch-host");
    assert!(
        matches!(branch.outcome, Outcome::Delivered(Destination::Host(_))),
        "{:?}",
        branch.steps
    );
}

/// A site that no connection joins (its only connection deleted, or none declared) sends
/// nothing: `no-route`, and explain says why.
#[test]
fn bgp_a_site_without_a_connection_reaches_nothing() {
    let mut sc = two_hubs(true).sc;
    sc.connections.retain(|c| c.name != "b-to-branch");
    let dp = Dataplane::compile(&sc);
    let net = Net { sc, dp };
    let r = net.ping("branch-pc", "b-vm");
    assert!(matches!(
        dropped(&r),
        (
            DropReason::NoRoute,
            vnetsim_dataplane::pipeline::DropCause::SiteNotConnected { .. }
        )
    ));
    let probe = net.probe_of("branch-pc", "b-vm", Protocol::Icmp, 0);
    let text = vnetsim_dataplane::explain::explain(&net.sc, &net.dp, &probe, &r);
    assert!(
        text.hops
            .iter()
            .any(|h| h.detail.contains("no connection to a gateway")),
        "{:?}",
        text.hops
    );
}

/// [security-overview] 2018: the VirtualNetwork tag holds "VNets connected to a virtual network
/// gateway" and the on-premises ranges: what hub-b's gateway learned by BGP (hub-a, the spoke,
/// the branch) is in hub-b's tag, so default NSG rules admit it; the default route is not.
#[test]
fn bgp_learned_prefixes_join_the_virtual_network_tag() {
    let net = two_hubs(true);
    let tag = net.dp.virtual_network_tag(&net.sc, net.subnet("hub-b/app"));
    for p in [
        "10.1.0.0/16",
        "10.3.0.0/16",
        "192.168.0.0/16",
        "192.168.1.0/24",
    ] {
        assert!(tag.iter().any(|t| t.to_string() == p), "{p} in {tag:?}");
    }
    assert!(!tag.iter().any(|t| t.prefix_len() == 0));
}
