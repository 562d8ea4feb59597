//! More cases written from Microsoft's documentation, one test per documented statement, as a
//! new user would write them: each test names the page and quotes the sentence it checks. The
//! helpers are those of `docs_cases.rs`.
//!
//! What it is for: checking vnetsim's verdicts against the pages' own words, in both eras, for
//! statements `docs_cases.rs` does not cover: route precedence and next hop types, BGP and
//! gateway transit, peering switches, NSG details, load balancers, Azure Firewall, private
//! endpoints and public IPs. What it is not: a test of vnetsim's additions or of behaviours the
//! pages leave open (those live with their crates' tests and in docs/azure-rules.md as
//! "derived").

use vnetsim::{DropReason, Sim};

fn sim(yaml: &str) -> Sim {
    match Sim::from_yaml(yaml) {
        Ok(s) => s,
        Err(e) => panic!("scenario does not load:\n{e}"),
    }
}

/// A TCP packet from `from` to `port` at `to` is delivered.
#[track_caller]
fn tcp_delivered(s: &Sim, from: &str, to: &str, port: u16) {
    s.probe(from, to).tcp(port).send().assert_delivered();
}

/// A TCP packet from `from` to `port` at `to` is dropped for `reason`.
#[track_caller]
fn tcp_dropped(s: &Sim, from: &str, to: &str, port: u16, reason: DropReason) {
    s.probe(from, to).tcp(port).send().assert_dropped(reason);
}

fn rejected(yaml: &str, rule: &str) {
    match Sim::from_yaml(yaml) {
        Ok(_) => panic!("expected the scenario to be rejected with `{rule}`"),
        Err(e) => {
            let text = format!("{e:?}");
            assert!(text.contains(rule), "expected rule `{rule}`, got:\n{text}");
        }
    }
}

/// The effective routes of a NIC's subnet, as `vnetsim routes` lists them:
/// (source, state, prefix, next hop type).
fn routes(s: &Sim, nic: &str) -> Vec<(String, String, String, String)> {
    let id = s
        .scenario()
        .nic_by_name(nic)
        .expect("a NIC of the scenario");
    vnetsim_dataplane::views::effective_routes_of_nic(s.scenario(), s.dataplane(), id)
        .routes
        .into_iter()
        .map(|r| {
            (
                r.source.to_owned(),
                r.state.to_owned(),
                r.prefix,
                r.next_hop_type.to_owned(),
            )
        })
        .collect()
}

/// The IPv4 source address of a packet as it left the data plane.
fn source_of(packet: &[u8]) -> [u8; 4] {
    [packet[12], packet[13], packet[14], packet[15]]
}

/// An IPv4 TCP SYN from `src:sport` to `dst:dport`, checksums left at zero (the data plane
/// does not check the TCP checksum).
fn tcp_syn(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
    let mut p = vec![
        0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, src[0], src[1], src[2], src[3], dst[0], dst[1],
        dst[2], dst[3],
    ];
    p.extend_from_slice(&sport.to_be_bytes());
    p.extend_from_slice(&dport.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]);
    let mut sum: u32 = 0;
    for i in (0..20).step_by(2) {
        sum += u32::from(u16::from_be_bytes([p[i], p[i + 1]]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let c = !(sum as u16);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p
}

/// Two VMs in one VNet (subnets a and b) with a route table slot on subnet a, and an on-premises
/// site behind a VPN gateway. `{era}`, `{rt}` and `{tables}` are filled in by the test.
fn one_vnet(era: &str, rt: &str, tables: &str) -> String {
    format!(
        "
name: one-vnet
azure: {{ era: {era} }}
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    subnets:
      - {{ name: a, prefix: 10.0.1.0/24{rt} }}
      - {{ name: b, prefix: 10.0.2.0/24 }}
      - {{ name: GatewaySubnet, prefix: 10.0.255.0/27 }}
    gateway: {{ name: hub-gw, sku: VpnGw1 }}
vms:
  - {{ name: vm-a, size: Standard_D2s_v3, nics: [ {{ name: vm-a-nic, subnet: hub/a, ip: 10.0.1.4, public_ip: 203.0.113.4 }} ] }}
  - {{ name: vm-b, size: Standard_D2s_v3, nics: [ {{ name: vm-b-nic, subnet: hub/b, ip: 10.0.2.4 }} ] }}
  - {{ name: nva, size: Standard_D2s_v3, forwarding: true, nics: [ {{ name: nva-nic, subnet: hub/b, ip: 10.0.2.10, ip_forwarding: true, public_ip: 203.0.113.7 }} ] }}
on_premises:
  - name: branch
    address_space: [192.168.0.0/16]
    connection: hub
    hosts: [ {{ name: branch-pc, ip: 192.168.1.10 }} ]
internet:
  - {{ name: site, ip: 198.51.100.20 }}
{tables}
"
    )
}

const ERAS: [&str; 2] = ["2016", "current"];

// ---------------------------------------------------------------------------------------------
// Routing: https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview
// ---------------------------------------------------------------------------------------------

/// "When you override the 0.0.0.0/0 address prefix ... Azure sends all traffic to the next hop
/// type specified in the route": a user route 0.0.0.0/0 to an appliance also takes traffic for
/// the RFC 1918 prefixes Azure otherwise routes to None (no None route stays Active; the
/// page's worked example lists none of them beside its 0.0.0.0/0 user route).
#[test]
fn udr_overview_a_default_user_route_takes_the_reserved_private_prefixes_too() {
    for era in ERAS {
        let tables = "route_tables:\n  - { name: rt, routes: [ { name: default-via-nva, prefix: 0.0.0.0/0, next_hop: VirtualAppliance, next_hop_ip: 10.0.2.10 } ] }";
        let s = sim(&one_vnet(era, ", route_table: rt", tables));
        let v = s.probe("vm-a", "172.16.5.4").tcp(443).send();
        assert_eq!(v.path()[..2], ["vm-a", "nva"], "{v}");
        let rows = routes(&s, "vm-a-nic");
        for p in [
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "100.64.0.0/10",
        ] {
            assert!(
                !rows
                    .iter()
                    .any(|r| r.2 == p && r.1 == "Active" && r.3 == "None"),
                "{p}: {rows:?}"
            );
        }
        assert!(
            routes(&s, "vm-b-nic")
                .iter()
                .any(|r| r.2 == "172.16.0.0/12" && r.1 == "Active" && r.3 == "None"),
            "the subnet without the table keeps the None route"
        );
        // Without the table the reserved prefix is dropped.
        let s = sim(&one_vnet(era, "", ""));
        tcp_dropped(&s, "vm-a", "172.16.5.4", 443, DropReason::NoRoute);
    }
}

/// "None: Traffic routed to the None next hop type is dropped, rather than routed outside the
/// subnet." A user route 0.0.0.0/0 -> None cuts the subnet off the Internet; the VNet's own
/// route (more specific) still carries traffic inside it.
#[test]
fn udr_overview_a_default_route_to_none_drops_internet_traffic() {
    for era in ERAS {
        let tables = "route_tables:\n  - { name: rt, routes: [ { name: no-internet, prefix: 0.0.0.0/0, next_hop: None } ] }";
        let s = sim(&one_vnet(era, ", route_table: rt", tables));
        tcp_dropped(&s, "vm-a", "site", 443, DropReason::NoRoute);
        tcp_delivered(&s, "vm-a", "vm-b", 443);
        let s = sim(&one_vnet(era, "", ""));
        tcp_delivered(&s, "vm-a", "site", 443);
    }
}

/// "You can't specify VNet peering or VirtualNetworkServiceEndpoint as the next hop type in
/// user-defined routes. Routes with the VNet peering or VirtualNetworkServiceEndpoint next hop
/// types are only created by Azure".
#[test]
fn udr_overview_a_user_route_cannot_name_vnet_peering() {
    for era in ERAS {
        let tables = "route_tables:\n  - { name: rt, routes: [ { name: peer, prefix: 10.5.0.0/16, next_hop: VNetPeering } ] }";
        let yaml = one_vnet(era, ", route_table: rt", tables);
        match Sim::from_yaml(&yaml) {
            Ok(_) => panic!("a VNetPeering user route must be refused"),
            Err(e) => {
                let text = format!("{e:?}");
                assert!(
                    text.contains("udr-next-hop-peering") || text.contains("unknown-variant"),
                    "{text}"
                );
            }
        }
    }
}

/// "If multiple routes contain the same address prefix, Azure selects the route type, based on
/// the following priority: User-defined route, BGP route, System route" and losing routes are
/// listed as Invalid: with a user route 0.0.0.0/0 the system 0.0.0.0/0 -> Internet route is
/// Invalid, with a user route for the site's prefix the gateway's route is Invalid.
#[test]
fn udr_overview_the_losing_route_of_an_equal_prefix_is_invalid() {
    for era in ERAS {
        let tables = "route_tables:\n  - { name: rt, routes: [ { name: default-via-nva, prefix: 0.0.0.0/0, next_hop: VirtualAppliance, next_hop_ip: 10.0.2.10 }, { name: onprem-via-nva, prefix: 192.168.0.0/16, next_hop: VirtualAppliance, next_hop_ip: 10.0.2.10 } ] }";
        let s = sim(&one_vnet(era, ", route_table: rt", tables));
        let rows = routes(&s, "vm-a-nic");
        let state = |source: &str, prefix: &str| {
            rows.iter()
                .find(|r| r.0 == source && r.2 == prefix)
                .map(|r| r.1.clone())
                .unwrap_or_else(|| panic!("no {source} route for {prefix}: {rows:?}"))
        };
        assert_eq!(state("Default", "0.0.0.0/0"), "Invalid");
        assert_eq!(state("User", "0.0.0.0/0"), "Active");
        assert_eq!(state("VirtualNetworkGateway", "192.168.0.0/16"), "Invalid");
        assert_eq!(state("User", "192.168.0.0/16"), "Active");
        // The other subnet, without the table, keeps them Active.
        let rows = routes(&s, "vm-b-nic");
        assert!(
            rows.iter()
                .any(|r| r.0 == "Default" && r.2 == "0.0.0.0/0" && r.1 == "Active"),
            "{rows:?}"
        );
    }
}

/// "Virtual network gateway: Specify when you want traffic destined for specific address
/// prefixes routed to a virtual network gateway." A user route to the gateway carries traffic
/// to on-premises even in a subnet whose table does not propagate gateway routes.
#[test]
fn udr_overview_a_user_route_to_the_gateway_works_without_route_propagation() {
    for era in ERAS {
        let tables = "route_tables:\n  - { name: rt, disable_gateway_route_propagation: true, routes: [ { name: onprem, prefix: 192.168.0.0/16, next_hop: VirtualNetworkGateway } ] }";
        let s = sim(&one_vnet(era, ", route_table: rt", tables));
        s.probe("vm-a", "branch-pc")
            .tcp(443)
            .send()
            .assert_delivered()
            .assert_path(&["vm-a", "hub-gw", "branch-pc"]);
        let tables = "route_tables:\n  - { name: rt, disable_gateway_route_propagation: true }";
        let s = sim(&one_vnet(era, ", route_table: rt", tables));
        tcp_dropped(&s, "vm-a", "branch-pc", 443, DropReason::NoRoute);
    }
}

/// "Internet: Routes traffic specified by the address prefix to the Internet." A user route
/// with next hop Internet for an on-premises prefix beats the gateway's route of that prefix
/// (User over BGP): the traffic leaves for the Internet, not through the gateway.
#[test]
fn udr_overview_a_user_route_to_internet_overrides_the_gateway_route() {
    for era in ERAS {
        let tables = "route_tables:\n  - { name: rt, routes: [ { name: onprem-out, prefix: 192.168.0.0/16, next_hop: Internet } ] }";
        let s = sim(&one_vnet(era, ", route_table: rt", tables));
        let v = s.probe("vm-a", "branch-pc").tcp(443).send();
        assert!(!v.path().iter().any(|h| h == "hub-gw"), "{v}");
        assert_ne!(v.delivered_to(), Some("branch-pc"), "{v}");
        // Without the route the gateway carries it.
        let s = sim(&one_vnet(era, "", ""));
        s.probe("vm-a", "branch-pc")
            .tcp(443)
            .send()
            .assert_delivered()
            .assert_path(&["vm-a", "hub-gw", "branch-pc"]);
    }
}

// ---------------------------------------------------------------------------------------------
// BGP: https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-vpn-faq,
// https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview
// ---------------------------------------------------------------------------------------------

fn bgp_hub(era: &str, advertises: &str, rt: &str, tables: &str) -> String {
    format!(
        "
name: bgp-hub
azure: {{ era: {era} }}
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    subnets: [ {{ name: a, prefix: 10.0.1.0/24{rt} }}, {{ name: GatewaySubnet, prefix: 10.0.255.0/27 }} ]
    gateway: {{ name: hub-gw, sku: VpnGw1, bgp: {{ asn: 65010 }} }}
  - {{ name: peer, address_space: [10.5.0.0/16], subnets: [ {{ name: default, prefix: 10.5.1.0/24 }} ] }}
vms:
  - {{ name: vm-a, size: Standard_D2s_v3, nics: [ {{ name: vm-a-nic, subnet: hub/a, ip: 10.0.1.4, public_ip: 203.0.113.4 }} ] }}
  - {{ name: peer1, size: Standard_D2s_v3, nics: [ {{ name: peer1-nic, subnet: peer/default, ip: 10.5.1.4 }} ] }}
peerings:
  - {{ name: hub-to-peer, from: hub, to: peer }}
  - {{ name: peer-to-hub, from: peer, to: hub }}
on_premises:
  - name: branch
    address_space: [192.168.1.0/24]
    bgp: {{ asn: 65050, peering_ip: 192.168.255.1 }}
    advertises: [{advertises}]
    hosts: [ {{ name: branch-pc, ip: 192.168.1.10 }} ]
connections:
  - {{ name: to-branch, type: ipsec, from: hub-gw, to: branch, bgp: true }}
internet:
  - {{ name: site, ip: 198.51.100.20 }}
{tables}
"
    )
}

/// VPN Gateway FAQ: "Can I advertise default route (0.0.0.0/0) to Azure VPN gateways? Yes." and
/// the routing page's priority "User-defined route, BGP route, System route": a learned
/// 0.0.0.0/0 beats the system Internet route (forced tunnelling to the branch), and a user route
/// 0.0.0.0/0 -> Internet takes the Internet back.
#[test]
fn vpn_faq_a_default_route_learned_by_bgp_beats_the_internet_route() {
    for era in ERAS {
        let s = sim(&bgp_hub(era, "0.0.0.0/0", "", ""));
        let v = s.probe("vm-a", "site").tcp(443).send();
        assert!(!v.is_delivered(), "{v}");
        assert_eq!(v.path()[..2], ["vm-a", "hub-gw"], "{v}");
        let rows = routes(&s, "vm-a-nic");
        assert!(
            rows.iter()
                .any(|r| r.0 == "Default" && r.2 == "0.0.0.0/0" && r.1 == "Invalid"),
            "{rows:?}"
        );
        let s = sim(&bgp_hub(
            era,
            "0.0.0.0/0",
            ", route_table: rt",
            "route_tables:\n  - { name: rt, routes: [ { name: internet, prefix: 0.0.0.0/0, next_hop: Internet } ] }",
        ));
        tcp_delivered(&s, "vm-a", "site", 443);
    }
}

/// Routing page: "System routes for traffic related to virtual network, virtual network
/// peerings, or virtual network service endpoints, are preferred routes, even if BGP routes are
/// more specific." A /24 the branch advertises inside the peered VNet does not capture traffic
/// to the peer.
#[test]
fn udr_overview_peering_routes_beat_more_specific_bgp_routes() {
    for era in ERAS {
        let s = sim(&bgp_hub(era, "192.168.0.0/16, 10.5.1.0/24", "", ""));
        s.probe("vm-a", "peer1")
            .tcp(443)
            .send()
            .assert_delivered()
            .assert_path(&["vm-a", "peer1"]);
        tcp_delivered(&s, "vm-a", "branch-pc", 443);
    }
}

fn bgp_transit(era: &str, hub_link: &str, spoke_link: &str) -> String {
    format!(
        "
name: bgp-transit
azure: {{ era: {era} }}
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    subnets: [ {{ name: shared, prefix: 10.0.1.0/24 }}, {{ name: GatewaySubnet, prefix: 10.0.255.0/27 }} ]
    gateway: {{ name: hub-gw, sku: VpnGw1, bgp: {{ asn: 65010 }} }}
  - {{ name: spoke, address_space: [10.1.0.0/16], subnets: [ {{ name: app, prefix: 10.1.1.0/24 }} ] }}
vms:
  - {{ name: app-vm, size: Standard_D2s_v3, nics: [ {{ name: app-vm-nic, subnet: spoke/app, ip: 10.1.1.4 }} ] }}
peerings:
  - {{ name: hub-to-spoke, from: hub, to: spoke{hub_link} }}
  - {{ name: spoke-to-hub, from: spoke, to: hub{spoke_link} }}
on_premises:
  - name: branch
    address_space: [192.168.1.0/24]
    bgp: {{ asn: 65050, peering_ip: 192.168.255.1 }}
    advertises: [192.168.0.0/16, 172.20.0.0/16]
    hosts: [ {{ name: branch-pc, ip: 192.168.1.10 }} ]
connections:
  - {{ name: to-branch, type: ipsec, from: hub-gw, to: branch, bgp: true }}
"
    )
}

/// Configure VPN gateway transit: with transit the spoke "uses the remote gateway" and learns
/// the gateway's routes, BGP-learned ones included (a prefix only the branch's device
/// advertises, 172.20.0.0/16); VPN Gateway FAQ: without transit "the gateway does not learn
/// peered virtual network prefixes", so the branch cannot reach the spoke.
#[test]
fn gw_transit_bgp_routes_reach_the_spoke_and_the_spoke_reaches_the_branch_only_with_transit() {
    for era in ERAS {
        let s = sim(&bgp_transit(
            era,
            ", allow_gateway_transit: true",
            ", use_remote_gateways: true",
        ));
        let rows = routes(&s, "app-vm-nic");
        assert!(
            rows.iter().any(|r| r.0 == "VirtualNetworkGateway"
                && r.2 == "172.20.0.0/16"
                && r.1 == "Active"),
            "{rows:?}"
        );
        tcp_delivered(&s, "app-vm", "branch-pc", 443);
        s.fresh()
            .probe("branch-pc", "app-vm")
            .tcp(443)
            .send()
            .assert_delivered();
        let s = sim(&bgp_transit(era, "", ""));
        assert!(
            !routes(&s, "app-vm-nic")
                .iter()
                .any(|r| r.0 == "VirtualNetworkGateway"),
        );
        tcp_dropped(&s, "branch-pc", "app-vm", 443, DropReason::NoRoute);
    }
}

fn coexist(era: &str) -> String {
    format!(
        "
name: coexist
azure: {{ era: {era} }}
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    subnets:
      - {{ name: app, prefix: 10.0.1.0/24 }}
      - {{ name: GatewaySubnet, prefix: 10.0.255.0/27 }}
    gateway:
      - {{ name: vpn, sku: VpnGw1, type: vpn }}
      - {{ name: er, sku: ErGw1AZ, type: expressroute }}
vms:
  - {{ name: vm, size: Standard_D2s_v3, nics: [ {{ name: nic, subnet: hub/app, ip: 10.0.1.4 }} ] }}
on_premises:
  - {{ name: dc, address_space: [192.168.0.0/16], connection: er, hosts: [ {{ name: dc-host, ip: 192.168.1.10 }} ] }}
  - {{ name: branch, address_space: [192.168.0.0/16, 172.20.0.0/16], hosts: [ {{ name: branch-host, ip: 172.20.1.10 }} ] }}
connections:
  - {{ name: vpn-to-branch, type: ipsec, from: vpn, to: branch }}
"
    )
}

/// Configure ExpressRoute and Site-to-Site coexisting connections
/// (https://learn.microsoft.com/azure/expressroute/expressroute-howto-coexist-resource-manager):
/// "While ExpressRoute circuit is preferred over Site-to-Site VPN when both routes are the same,
/// Azure will use the longest prefix match to choose the route towards the packet's
/// destination", and "Transit routing is not supported. You cannot route (via Azure) between
/// your local network connected via Site-to-Site VPN and your local network connected via
/// ExpressRoute." The path names the gateway that carries the packet.
#[test]
fn ercoex_expressroute_wins_an_equal_prefix_and_there_is_no_transit() {
    for era in ERAS {
        let s = sim(&coexist(era));
        s.probe("vm", "dc-host")
            .tcp(443)
            .send()
            .assert_delivered()
            .assert_path(&["vm", "er", "dc-host"]);
        s.probe("vm", "branch-host")
            .tcp(443)
            .send()
            .assert_delivered()
            .assert_path(&["vm", "vpn", "branch-host"]);
        s.fresh()
            .probe("dc-host", "vm")
            .tcp(443)
            .send()
            .assert_delivered()
            .assert_path(&["dc-host", "er", "vm"]);
        let v = s.probe("branch-host", "dc-host").tcp(443).send();
        assert!(!v.is_delivered(), "{v}");
    }
}

// ---------------------------------------------------------------------------------------------
// Peering: https://learn.microsoft.com/azure/virtual-network/virtual-network-manage-peering
// ---------------------------------------------------------------------------------------------

fn peered(era: &str, link_ab: &str, link_ba: &str, nsg_rules: &str) -> String {
    format!(
        "
name: peered
azure: {{ era: {era} }}
vnets:
  - {{ name: a, address_space: [10.0.0.0/16], subnets: [ {{ name: web, prefix: 10.0.1.0/24, nsg: web-nsg }} ] }}
  - {{ name: b, address_space: [10.5.0.0/16], subnets: [ {{ name: default, prefix: 10.5.1.0/24 }} ] }}
nsgs:
  - {{ name: web-nsg, rules: [{nsg_rules}] }}
vms:
  - {{ name: web1, size: Standard_D2s_v3, nics: [ {{ name: web1-nic, subnet: a/web, ip: 10.0.1.4 }} ] }}
  - {{ name: peer1, size: Standard_D2s_v3, nics: [ {{ name: peer1-nic, subnet: b/default, ip: 10.5.1.4 }} ] }}
peerings:
  - {{ name: a-to-b, from: a, to: b{link_ab} }}
  - {{ name: b-to-a, from: b, to: a{link_ba} }}
"
    )
}

/// Create, change, or delete a virtual network peering: turning "Allow access" off changes the
/// VirtualNetwork tag only and "doesn't fully prevent traffic flow across the peer connection":
/// an explicit NSG rule for the peer's range still admits it.
#[test]
fn manage_peering_access_off_an_explicit_rule_still_admits_the_peer() {
    for era in ERAS {
        let off = ", allow_virtual_network_access: false";
        let s = sim(&peered(era, off, off, ""));
        tcp_dropped(&s, "peer1", "web1", 443, DropReason::NsgDenied);
        let allow = "{ name: from-b, priority: 100, direction: inbound, access: allow, protocol: tcp, source: 10.5.0.0/16, destination: '*', destination_ports: '443' }";
        let s = sim(&peered(era, off, off, allow));
        tcp_delivered(&s, "peer1", "web1", 443);
    }
}

/// "Use remote virtual network's gateway ... You can't enable this option if ... the remote
/// virtual network doesn't have a gateway" (and it needs "Allow gateway transit" on the remote
/// side): a spoke link using a gateway the hub does not have is refused.
#[test]
fn manage_peering_use_remote_gateways_needs_a_gateway_in_the_remote_vnet() {
    for era in ERAS {
        rejected(
            &peered(
                era,
                ", allow_gateway_transit: true",
                ", use_remote_gateways: true",
                "",
            ),
            "use-remote-gateways-no-remote-gateway",
        );
    }
}

/// Configure VPN gateway transit: "Gateway transit is supported for both VNet peering and
/// global VNet peering" (current; the 2016 document allows same-region peering only). A spoke
/// in another region reaches the branch through the hub's gateway.
#[test]
fn gw_transit_works_over_global_peering_today() {
    let yaml = |era: &str| {
        bgp_transit(
            era,
            ", allow_gateway_transit: true",
            ", use_remote_gateways: true",
        )
        .replace(
            "{ name: spoke, address_space",
            "{ name: spoke, region: eastus, address_space",
        )
        .replace("  - name: hub\n", "  - name: hub\n    region: westeurope\n")
    };
    rejected(&yaml("2016"), "peering-cross-region");
    let s = sim(&yaml("current"));
    tcp_delivered(&s, "app-vm", "branch-pc", 443);
}

/// Update the address space for a peered virtual network: adding a range to a peered VNet is
/// possible today, then "sync" the peering; the 2016 document: "you can't make changes to the
/// address space of a VNet that is peered" (delete the peering first).
#[test]
fn update_address_space_a_peered_vnet_may_grow_today_only() {
    let yaml = |era: &str| {
        let mut y = peered(era, "", "", "");
        y.push_str(
            "events:\n  - { at: 1ms, update_address_space: { vnet: b, address_space: [10.5.0.0/16, 10.6.0.0/16] } }\n",
        );
        y
    };
    rejected(&yaml("2016"), "address-space-update-peered");
    let s = sim(&yaml("current"));
    tcp_delivered(&s, "peer1", "web1", 443);
}

// ---------------------------------------------------------------------------------------------
// NSGs: https://learn.microsoft.com/azure/virtual-network/network-security-groups-overview
// ---------------------------------------------------------------------------------------------

/// "Augmented security rules ... You can specify multiple individual IP addresses and ranges"
/// and ports: "You can specify an individual or range of ports ... 80 or 10000-10005", "you can
/// specify multiple individual ports and port ranges in a single security rule".
#[test]
fn nsg_overview_augmented_rules_list_prefixes_ports_and_ranges() {
    for era in ERAS {
        let rules = "{ name: several, priority: 100, direction: inbound, access: allow, protocol: tcp, source: [10.5.1.4, 10.9.0.0/16], destination: '*', destination_ports: ['443', '8000-8100', '9000,9001'] }, { name: deny-rest, priority: 4096, direction: inbound, access: deny, protocol: '*', source: '*', destination: '*' }";
        let s = sim(&peered(era, "", "", rules));
        for port in [443, 8000, 8050, 8100, 9000, 9001] {
            tcp_delivered(&s, "peer1", "web1", port);
        }
        for port in [80, 7999, 8101, 9002] {
            tcp_dropped(&s, "peer1", "web1", port, DropReason::NsgDenied);
        }
    }
}

/// "Priority: A number between 100 and 4096 ... Each rule must have a unique priority" per
/// direction ("Security rules ... evaluated ... for inbound and outbound separately"): two
/// inbound rules may not share a priority, an inbound and an outbound rule may.
#[test]
fn nsg_overview_priorities_are_unique_per_direction() {
    for era in ERAS {
        let dup = "{ name: r1, priority: 100, direction: inbound, access: allow, protocol: tcp, source: '*', destination: '*' }, { name: r2, priority: 100, direction: inbound, access: deny, protocol: udp, source: '*', destination: '*' }";
        rejected(&peered(era, "", "", dup), "nsg-priority-duplicate");
        let ok = "{ name: r1, priority: 100, direction: inbound, access: allow, protocol: tcp, source: '*', destination: '*' }, { name: r2, priority: 100, direction: outbound, access: deny, protocol: udp, source: '*', destination: '*' }";
        sim(&peered(era, "", "", ok));
    }
}

/// "Protocol: TCP, UDP, ICMP, ESP, AH, or Any": a rule for ICMP admits a ping and nothing else;
/// the TCP connection meets the deny below it.
#[test]
fn nsg_overview_an_icmp_rule_matches_ping_only() {
    for era in ERAS {
        let rules = "{ name: ping, priority: 100, direction: inbound, access: allow, protocol: icmp, source: '*', destination: '*' }, { name: deny-rest, priority: 4096, direction: inbound, access: deny, protocol: '*', source: '*', destination: '*' }";
        let s = sim(&peered(era, "", "", rules));
        s.probe("peer1", "web1").icmp().send().assert_delivered();
        tcp_dropped(&s, "peer1", "web1", 443, DropReason::NsgDenied);
        s.probe("peer1", "web1")
            .udp(53)
            .send()
            .assert_dropped(DropReason::NsgDenied);
    }
}

/// "Source port ranges ... You can specify an individual or range of ports": a rule matching
/// source ports 50000-50010 denies connections from those ports only.
#[test]
fn nsg_overview_source_port_ranges_are_matched() {
    for era in ERAS {
        let rules = "{ name: no-high, priority: 100, direction: inbound, access: deny, protocol: tcp, source: '*', source_ports: '50000-50010', destination: '*' }";
        let s = sim(&peered(era, "", "", rules));
        s.probe("peer1", "web1")
            .tcp(443)
            .src_port(50005)
            .send()
            .assert_dropped(DropReason::NsgDenied);
        s.probe("peer1", "web1")
            .tcp(443)
            .src_port(50011)
            .send()
            .assert_delivered();
    }
}

fn public_vm(era: &str, nsg: &str, sku: &str) -> String {
    format!(
        "
name: public-vm
azure: {{ era: {era} }}
vnets:
  - {{ name: app, address_space: [10.0.0.0/16], subnets: [ {{ name: web, prefix: 10.0.1.0/24{nsg} }} ] }}
  - {{ name: peer, address_space: [10.5.0.0/16], subnets: [ {{ name: default, prefix: 10.5.1.0/24 }} ] }}
nsgs:
  - name: web-nsg
    rules:
      - {{ name: https-from-internet, priority: 100, direction: inbound, access: allow, protocol: tcp, source: Internet, destination: '*', destination_ports: '443' }}
vms:
  - {{ name: web1, size: Standard_D2s_v3, nics: [ {{ name: web1-nic, subnet: app/web, ip: 10.0.1.4, public_ip: 203.0.113.4, public_ip_sku: {sku} }} ] }}
  - {{ name: peer1, size: Standard_D2s_v3, nics: [ {{ name: peer1-nic, subnet: peer/default, ip: 10.5.1.4 }} ] }}
peerings:
  - {{ name: app-to-peer, from: app, to: peer }}
  - {{ name: peer-to-app, from: peer, to: app }}
internet:
  - {{ name: client, ip: 198.51.100.20 }}
"
    )
}

/// Service tags overview, "Internet: The IP address space that's outside the virtual network
/// and reachable by the public internet": an inbound rule with source Internet admits a client
/// on the Internet; a peered VM is VirtualNetwork, not Internet, and is admitted by
/// AllowVNetInBound, not by that rule (a deny of Internet does not touch it).
#[test]
fn service_tags_internet_as_a_source_is_the_internet_only() {
    for era in ERAS {
        let s = sim(&public_vm(era, ", nsg: web-nsg", "Standard"));
        tcp_delivered(&s, "client", "203.0.113.4", 443);
        tcp_dropped(&s, "client", "203.0.113.4", 22, DropReason::NsgDenied);
        let yaml = public_vm(era, ", nsg: web-nsg", "Standard").replace(
            "access: allow, protocol: tcp, source: Internet",
            "access: deny, protocol: tcp, source: Internet",
        );
        let s = sim(&yaml);
        tcp_delivered(&s, "peer1", "web1", 443);
        tcp_dropped(&s, "client", "203.0.113.4", 443, DropReason::NsgDenied);
    }
}

/// Public IP addresses, "SKU": a Standard public IP is "Secure by default model and be closed to
/// inbound traffic when used as a frontend. Allow traffic with network security group (NSG) is
/// required"; a Basic one is "Open by default".
#[test]
fn public_ip_sku_basic_is_open_and_standard_closed_without_an_nsg() {
    for era in ERAS {
        let s = sim(&public_vm(era, "", "Basic"));
        tcp_delivered(&s, "client", "203.0.113.4", 443);
        let s = sim(&public_vm(era, "", "Standard"));
        tcp_dropped(&s, "client", "203.0.113.4", 443, DropReason::PublicIpClosed);
    }
}

// ---------------------------------------------------------------------------------------------
// Load Balancer: https://learn.microsoft.com/azure/load-balancer/
// ---------------------------------------------------------------------------------------------

fn ilb(era: &str, nsg_rules: &str, lb_extra: &str, rule: &str) -> String {
    format!(
        "
name: ilb
azure: {{ era: {era} }}
vnets:
  - {{ name: app, address_space: [10.0.0.0/16], subnets: [ {{ name: web, prefix: 10.0.1.0/24, nsg: web-nsg }}, {{ name: client, prefix: 10.0.2.0/24 }} ] }}
nsgs:
  - {{ name: web-nsg, rules: [{nsg_rules}] }}
vms:
  - {{ name: web1, size: Standard_D2s_v3, nics: [ {{ name: web1-nic, subnet: app/web, ip: 10.0.1.4 }} ] }}
  - {{ name: cli, size: Standard_D2s_v3, nics: [ {{ name: cli-nic, subnet: app/client, ip: 10.0.2.4 }} ] }}
load_balancers:
  - name: ilb{lb_extra}
    frontends: [ {{ name: fe, subnet: app/web, ip: 10.0.1.100 }} ]
    backend_pools: [ {{ name: pool, nics: [web1-nic] }} ]
    probes: [ {{ name: p, protocol: tcp, port: 8080 }} ]
    rules: [ {rule} ]
"
    )
}

const PORT_MAP: &str = "{ name: http, frontend: fe, backend_pool: pool, protocol: tcp, frontend_port: 80, backend_port: 8080, probe: p }";

/// NSG overview: for load-balanced traffic "The source port and address are from the
/// originating computer, not the load balancer. The destination port and address are for the
/// destination virtual machine, not the load balancer." A rule for the backend port (8080)
/// admits traffic sent to the frontend's port 80; a rule for port 80 does not.
#[test]
fn nsg_overview_load_balanced_traffic_meets_rules_for_the_backend_port() {
    for era in ERAS {
        let lb_probe = "{ name: probe, priority: 200, direction: inbound, access: allow, protocol: '*', source: AzureLoadBalancer, destination: '*' }, { name: deny-rest, priority: 4096, direction: inbound, access: deny, protocol: '*', source: '*', destination: '*' }";
        let backend = format!(
            "{{ name: app, priority: 100, direction: inbound, access: allow, protocol: tcp, source: 10.0.2.4, destination: 10.0.1.4, destination_ports: '8080' }}, {lb_probe}"
        );
        let s = sim(&ilb(era, &backend, "", PORT_MAP));
        let v = s.probe("cli", "10.0.1.100").tcp(80).send();
        v.assert_delivered();
        assert_eq!(v.delivered_to(), Some("web1"), "{v}");
        let frontend = format!(
            "{{ name: app, priority: 100, direction: inbound, access: allow, protocol: tcp, source: 10.0.2.4, destination: 10.0.1.100, destination_ports: '80' }}, {lb_probe}"
        );
        let s = sim(&ilb(era, &frontend, "", PORT_MAP));
        tcp_dropped(&s, "cli", "10.0.1.100", 80, DropReason::NsgDenied);
    }
}

/// High availability ports: "HA ports load-balancing rules help you with critical scenarios ...
/// load-balance all flows that arrive on all ports" of an internal Standard load balancer
/// ("protocol All, port 0"): TCP and UDP on any port reach the backend.
#[test]
fn lbha_an_ha_ports_rule_takes_every_port_and_protocol() {
    for era in ERAS {
        let ha = "{ name: ha, frontend: fe, backend_pool: pool, protocol: all, frontend_port: 0, backend_port: 0, probe: p }";
        let s = sim(&ilb(era, "", "", ha));
        for port in [22, 1234, 65000] {
            let v = s.probe("cli", "10.0.1.100").tcp(port).send();
            v.assert_delivered();
            assert_eq!(v.delivered_to(), Some("web1"), "{v}");
        }
        let v = s.probe("cli", "10.0.1.100").udp(5000).send();
        v.assert_delivered();
        assert_eq!(v.delivered_to(), Some("web1"), "{v}");
    }
}

/// Load Balancer SKUs: health probe protocols "TCP, HTTP, HTTPS" for Standard, "TCP, HTTP" for
/// Basic; health probes: "The minimum interval ... is 5 seconds".
#[test]
fn lbsku_https_probes_need_standard_and_probes_run_at_least_every_5_seconds() {
    for era in ERAS {
        let https = |extra: &str| {
            ilb(era, "", extra, PORT_MAP).replace(
                "{ name: p, protocol: tcp, port: 8080 }",
                "{ name: p, protocol: https, port: 8080 }",
            )
        };
        sim(&https(""));
        rejected(&https("\n    sku: Basic"), "lb-probe");
        let fast = ilb(era, "", "", PORT_MAP).replace(
            "{ name: p, protocol: tcp, port: 8080 }",
            "{ name: p, protocol: tcp, port: 8080, interval: 2s }",
        );
        rejected(&fast, "lb-probe");
    }
}

/// Load Balancer FAQ / Create, change, or delete a virtual network peering: "Resources in one
/// virtual network can't communicate with the front-end IP address of a basic internal load
/// balancer in a globally peered virtual network"; a Standard one can.
#[test]
fn lbfaq_a_basic_frontend_is_not_reachable_over_global_peering() {
    let yaml = |sku: &str| {
        format!(
            "
name: ilb-global
azure: {{ era: current }}
vnets:
  - {{ name: svc, region: westeurope, address_space: [10.0.0.0/16], subnets: [ {{ name: web, prefix: 10.0.1.0/24 }} ] }}
  - {{ name: client, region: eastus, address_space: [10.1.0.0/16], subnets: [ {{ name: app, prefix: 10.1.1.0/24 }} ] }}
vms:
  - {{ name: web1, size: Standard_D2s_v3, nics: [ {{ name: web1-nic, subnet: svc/web, ip: 10.0.1.4 }} ] }}
  - {{ name: app1, size: Standard_D2s_v3, nics: [ {{ name: app1-nic, subnet: client/app, ip: 10.1.1.4 }} ] }}
peerings:
  - {{ name: svc-to-client, from: svc, to: client }}
  - {{ name: client-to-svc, from: client, to: svc }}
load_balancers:
  - name: ilb
    sku: {sku}
    frontends: [ {{ name: fe, subnet: svc/web, ip: 10.0.1.100 }} ]
    backend_pools: [ {{ name: pool, nics: [web1-nic] }} ]
    rules: [ {{ name: http, frontend: fe, backend_pool: pool, protocol: tcp, frontend_port: 80, backend_port: 80 }} ]
"
        )
    };
    let s = sim(&yaml("Basic"));
    tcp_dropped(&s, "app1", "10.0.1.100", 80, DropReason::LbGlobalPeering);
    // The backend itself stays reachable over the global peering.
    tcp_delivered(&s, "app1", "web1", 80);
    let s = sim(&yaml("Standard"));
    tcp_delivered(&s, "app1", "10.0.1.100", 80);
}

// ---------------------------------------------------------------------------------------------
// Azure Firewall: https://learn.microsoft.com/azure/firewall/rule-processing,
// https://learn.microsoft.com/azure/firewall/policy-rule-sets,
// https://learn.microsoft.com/azure/firewall/snat-private-range
// ---------------------------------------------------------------------------------------------

fn hub_fw(era: &str, policy: &str) -> String {
    format!(
        "
name: hub-fw
azure: {{ era: {era} }}
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    subnets: [ {{ name: AzureFirewallSubnet, prefix: 10.0.1.0/26 }} ]
    firewall: {{ name: hub-fw, policy: pol, public_ips: [203.0.113.10] }}
  - {{ name: spoke1, address_space: [10.1.0.0/16], subnets: [ {{ name: app, prefix: 10.1.1.0/24, route_table: rt }} ] }}
  - {{ name: spoke2, address_space: [10.2.0.0/16], subnets: [ {{ name: app, prefix: 10.2.1.0/24, route_table: rt }} ] }}
vms:
  - {{ name: web1, size: Standard_D2s_v3, nics: [ {{ name: web1-nic, subnet: spoke1/app, ip: 10.1.1.4 }} ] }}
  - {{ name: db2, size: Standard_D2s_v3, nics: [ {{ name: db2-nic, subnet: spoke2/app, ip: 10.2.1.4 }} ] }}
route_tables:
  - {{ name: rt, routes: [ {{ name: default-via-fw, prefix: 0.0.0.0/0, next_hop: VirtualAppliance, next_hop_ip: 10.0.1.4 }} ] }}
peerings:
  - {{ name: hub-to-spoke1, from: hub, to: spoke1 }}
  - {{ name: spoke1-to-hub, from: spoke1, to: hub, allow_forwarded_traffic: true }}
  - {{ name: hub-to-spoke2, from: hub, to: spoke2 }}
  - {{ name: spoke2-to-hub, from: spoke2, to: hub, allow_forwarded_traffic: true }}
internet:
  - {{ name: contoso, ip: 198.51.100.20 }}
firewall_policies:
{policy}
"
    )
}

/// Azure Firewall Policy rule sets: rule collection groups are "the first unit that the firewall
/// processes, and they follow a priority order"; rule processing: "it will look at the rule
/// collection group with the highest priority, and within that rule collection group, at the
/// rule collection with the highest priority". A network allow in group 100 (collection 500)
/// beats a network deny in group 200 (collection 100), and the other way round.
#[test]
fn fw_policy_rule_collection_group_priority_comes_before_collection_priority() {
    for era in ERAS {
        let policy = |allow_group: u32, deny_group: u32| {
            format!(
                "  - name: pol
    rule_collection_groups:
      - name: allow-group
        priority: {allow_group}
        rule_collections:
          - {{ name: allow, priority: 500, kind: network, action: allow, rules: [ {{ name: web-to-db, protocols: [TCP], source_addresses: [10.1.0.0/16], destination_addresses: [10.2.0.0/16], destination_ports: ['1433'] }} ] }}
      - name: deny-group
        priority: {deny_group}
        rule_collections:
          - {{ name: deny, priority: 100, kind: network, action: deny, rules: [ {{ name: all, protocols: [Any], source_addresses: ['*'], destination_addresses: ['*'], destination_ports: ['*'] }} ] }}"
            )
        };
        let s = sim(&hub_fw(era, &policy(100, 200)));
        tcp_delivered(&s, "web1", "db2", 1433);
        let s = sim(&hub_fw(era, &policy(300, 200)));
        tcp_dropped(&s, "web1", "db2", 1433, DropReason::FirewallDenied);
    }
}

/// Rule processing (2023): "If there's a NAT rule match, ... The traffic is allowed by the
/// firewall ... and isn't subject to any further processing by other network rules": a
/// network deny-all does not stop DNAT-translated traffic.
#[test]
fn fw_rule_processing_dnat_traffic_is_not_subject_to_network_rules() {
    for era in ERAS {
        let policy = "  - name: pol
    rule_collection_groups:
      - name: g
        priority: 100
        rule_collections:
          - { name: nat, priority: 100, kind: dnat, rules: [ { name: rdp, protocols: [TCP], source_addresses: ['*'], destination_addresses: [203.0.113.10], destination_ports: ['4000'], translated_address: 10.1.1.4, translated_port: 3389 } ] }
          - { name: deny, priority: 200, kind: network, action: deny, rules: [ { name: all, protocols: [Any], source_addresses: ['*'], destination_addresses: ['*'], destination_ports: ['*'] } ] }";
        let s = sim(&hub_fw(era, policy));
        let v = s.probe("contoso", "203.0.113.10").tcp(4000).send();
        v.assert_delivered();
        assert_eq!(v.delivered_to(), Some("web1"), "{v}");
        tcp_dropped(&s, "web1", "db2", 1433, DropReason::FirewallDenied);
    }
}

fn net_allow_all() -> &'static str {
    "  - name: pol
    PRIVATE
    rule_collection_groups:
      - name: g
        priority: 100
        rule_collections:
          - { name: all, priority: 100, kind: network, action: allow, rules: [ { name: all, protocols: [TCP], source_addresses: ['*'], destination_addresses: ['*'], destination_ports: ['*'] } ] }"
}

/// Azure Firewall SNAT private IP address ranges: "Azure Firewall provides automatic SNAT for
/// all outbound traffic to public IP addresses" and "doesn't SNAT with Network rules when the
/// destination IP address is in a private IP address range per IANA RFC 1918": toward the
/// Internet the source becomes the firewall's public IP, toward a spoke it stays the VM's.
#[test]
fn fw_snat_network_rules_snat_to_the_internet_only() {
    for era in ERAS {
        let s = sim(&hub_fw(era, &net_allow_all().replace("    PRIVATE\n", "")));
        let v = s
            .send_bytes(
                "web1",
                &tcp_syn([10, 1, 1, 4], [198, 51, 100, 20], 50000, 443),
            )
            .unwrap();
        v.assert_delivered();
        assert_eq!(source_of(v.packet().unwrap()), [203, 0, 113, 10], "{v}");
        let v = s
            .send_bytes("web1", &tcp_syn([10, 1, 1, 4], [10, 2, 1, 4], 50001, 1433))
            .unwrap();
        v.assert_delivered();
        assert_eq!(source_of(v.packet().unwrap()), [10, 1, 1, 4], "{v}");
    }
}

/// Same page: "To configure Azure Firewall to never SNAT regardless of the destination IP
/// address, use 0.0.0.0/0 as your private IP address range"; "To configure Azure Firewall to
/// always SNAT regardless of the destination address, use 255.255.255.255/32". With "always",
/// a spoke-to-spoke connection leaves the firewall with one of its private addresses (derived
/// from the same page: traffic for private networks is SNATed "to one of the firewall's private
/// IP addresses in AzureFirewallSubnet"; the public IP is for the Internet).
#[test]
fn fw_snat_private_ranges_never_and_always() {
    for era in ERAS {
        let never = net_allow_all().replace("PRIVATE", "private_ranges: [0.0.0.0/0]");
        let s = sim(&hub_fw(era, &never));
        let v = s
            .send_bytes("web1", &tcp_syn([10, 1, 1, 4], [10, 2, 1, 4], 50001, 1433))
            .unwrap();
        v.assert_delivered();
        assert_eq!(source_of(v.packet().unwrap()), [10, 1, 1, 4], "{v}");
        let always = net_allow_all().replace("PRIVATE", "private_ranges: [255.255.255.255/32]");
        let s = sim(&hub_fw(era, &always));
        let v = s
            .send_bytes("web1", &tcp_syn([10, 1, 1, 4], [10, 2, 1, 4], 50001, 1433))
            .unwrap();
        v.assert_delivered();
        let src = source_of(v.packet().unwrap());
        assert!(
            src[..3] == [10, 0, 1] && src[3] < 64,
            "SNAT to an AzureFirewallSubnet address, got {src:?}: {v}"
        );
        // The answer comes back through the firewall to the VM.
        s.probe("web1", "db2")
            .tcp(1433)
            .src_port(50002)
            .send()
            .assert_delivered();
        let v = s.probe("db2", "10.0.1.4").tcp(50002).src_port(1433).send();
        v.assert_delivered();
        assert_eq!(v.delivered_to(), Some("web1"), "{v}");
    }
}

/// Same page: "If your organization uses registered IP address ranges outside of IANA RFC 1918
/// or IANA RFC 6598 for private networks, Azure Firewall SNATs the traffic to one of the
/// firewall's private IP addresses in AzureFirewallSubnet. You can configure Azure Firewall to
/// not SNAT your public IP address range." A spoke holding a registered range (40.2.0.0/16)
/// receives the firewall's private address as the source, and its answer returns; listing the
/// range in the private ranges keeps the VM's own address.
#[test]
fn fw_snat_registered_ranges_are_snatted_to_a_private_address_of_the_firewall() {
    for era in ERAS {
        let yaml = |private: &str| {
            hub_fw(era, &net_allow_all().replace("PRIVATE", private))
                .replace("10.2.0.0/16", "40.2.0.0/16")
                .replace("10.2.1.0/24", "40.2.1.0/24")
                .replace("10.2.1.4", "40.2.1.4")
        };
        let s = sim(&yaml("private_ranges: [IANAPrivateRanges]"));
        let v = s
            .send_bytes("web1", &tcp_syn([10, 1, 1, 4], [40, 2, 1, 4], 50001, 1433))
            .unwrap();
        v.assert_delivered();
        assert_eq!(v.delivered_to(), Some("db2"), "{v}");
        let src = source_of(v.packet().unwrap());
        assert!(
            src[..3] == [10, 0, 1] && src[3] < 64,
            "SNAT to an AzureFirewallSubnet address, got {src:?}: {v}"
        );
        s.probe("web1", "db2")
            .tcp(1433)
            .src_port(50002)
            .send()
            .assert_delivered();
        let s = sim(&yaml("private_ranges: [IANAPrivateRanges, 40.2.0.0/16]"));
        let v = s
            .send_bytes("web1", &tcp_syn([10, 1, 1, 4], [40, 2, 1, 4], 50001, 1433))
            .unwrap();
        v.assert_delivered();
        assert_eq!(source_of(v.packet().unwrap()), [10, 1, 1, 4], "{v}");
    }
}

/// Azure Firewall known issues (https://learn.microsoft.com/azure/firewall/firewall-known-issues),
/// "NAT rules with ports between 64000 and 65535 are unsupported": "Azure Firewall allows any
/// port in the 1-65535 range in network and application rules, however NAT rules only support
/// ports in the 1-63999 range." A DNAT rule on port 64000 is refused, one on 63999 accepted.
#[test]
fn fw_dnat_rule_ports_stop_at_63999() {
    for era in ERAS {
        let policy = |port: u32| {
            format!(
                "  - name: pol
    rule_collection_groups:
      - name: g
        priority: 100
        rule_collections:
          - {{ name: nat, priority: 100, kind: dnat, rules: [ {{ name: rdp, protocols: [TCP], source_addresses: ['*'], destination_addresses: [203.0.113.10], destination_ports: ['{port}'], translated_address: 10.1.1.4, translated_port: 3389 }} ] }}"
            )
        };
        sim(&hub_fw(era, &policy(63999)));
        rejected(&hub_fw(era, &policy(64000)), "firewall-dnat");
    }
}

/// Rule processing: network rules match "TCP, UDP, ICMP, or Any": a network rule for ICMP lets
/// a ping through the firewall and nothing else.
#[test]
fn fw_rule_processing_a_network_rule_for_icmp_lets_ping_through() {
    for era in ERAS {
        let policy = "  - name: pol
    rule_collection_groups:
      - name: g
        priority: 100
        rule_collections:
          - { name: ping, priority: 100, kind: network, action: allow, rules: [ { name: icmp, protocols: [ICMP], source_addresses: ['*'], destination_addresses: ['*'] } ] }";
        let s = sim(&hub_fw(era, policy));
        s.probe("web1", "db2").icmp().send().assert_delivered();
        tcp_dropped(&s, "web1", "db2", 1433, DropReason::FirewallDenied);
    }
}

// ---------------------------------------------------------------------------------------------
// Private endpoints: https://learn.microsoft.com/azure/private-link/private-endpoint-overview
// ---------------------------------------------------------------------------------------------

/// "The private endpoint ... can be accessed from ... peered virtual networks" and peering is
/// "not transitive": a VNet peered with the endpoint's VNet reaches it, one peered with that
/// peer only does not.
#[test]
fn peov_an_endpoint_is_reached_from_peered_vnets_but_not_transitively() {
    for era in ERAS {
        let yaml = format!(
            "
name: pe-peers
azure: {{ era: {era} }}
vnets:
  - {{ name: svc, address_space: [10.0.0.0/16], subnets: [ {{ name: pe, prefix: 10.0.3.0/24 }} ] }}
  - {{ name: near, address_space: [10.1.0.0/16], subnets: [ {{ name: app, prefix: 10.1.1.0/24 }} ] }}
  - {{ name: far, address_space: [10.2.0.0/16], subnets: [ {{ name: app, prefix: 10.2.1.0/24 }} ] }}
vms:
  - {{ name: near1, size: Standard_D2s_v3, nics: [ {{ name: near1-nic, subnet: near/app, ip: 10.1.1.4 }} ] }}
  - {{ name: far1, size: Standard_D2s_v3, nics: [ {{ name: far1-nic, subnet: far/app, ip: 10.2.1.4 }} ] }}
private_endpoints:
  - {{ name: sql-pe, subnet: svc/pe, ip: 10.0.3.4, service: contoso.database.windows.net }}
peerings:
  - {{ name: svc-near, from: svc, to: near }}
  - {{ name: near-svc, from: near, to: svc }}
  - {{ name: near-far, from: near, to: far }}
  - {{ name: far-near, from: far, to: near }}
"
        );
        let s = sim(&yaml);
        s.probe("near1", "sql-pe")
            .tcp(1433)
            .send()
            .assert_delivered()
            .assert_path(&["near1", "sql-pe"]);
        tcp_dropped(&s, "far1", "sql-pe", 1433, DropReason::NoRoute);
        assert!(
            routes(&s, "near1-nic").iter().any(|r| r.2 == "10.0.3.4/32"),
            "the peered VNet holds the /32"
        );
        assert!(!routes(&s, "far1-nic").iter().any(|r| r.2 == "10.0.3.4/32"));
    }
}

// ---------------------------------------------------------------------------------------------
// Default outbound access and the Virtual Network FAQ
// ---------------------------------------------------------------------------------------------

/// Default outbound access: explicit outbound methods include "Virtual appliance/firewall
/// (NVA)" reached through a user route: in a private subnet, a VM without a public IP reaches
/// the Internet through an appliance that has one.
#[test]
fn doa_a_default_route_to_an_appliance_is_an_explicit_method() {
    let tables = "route_tables:\n  - { name: rt, routes: [ { name: default-via-nva, prefix: 0.0.0.0/0, next_hop: VirtualAppliance, next_hop_ip: 10.0.2.10 } ] }";
    let yaml =
        one_vnet("current", ", route_table: rt", tables).replace(", public_ip: 203.0.113.4", "");
    let s = sim(&yaml);
    s.probe("vm-a", "site")
        .tcp(443)
        .send()
        .assert_delivered()
        .assert_path(&["vm-a", "nva", "site"]);
    let s = sim(&one_vnet("current", "", "").replace(", public_ip: 203.0.113.4", ""));
    tcp_dropped(&s, "vm-a", "site", 443, DropReason::NoOutboundAccess);
}

/// Virtual Network FAQ: "Can I ping between VMs within a virtual network? Yes" (the default
/// gateway does not answer ping, VMs do), across a peering too.
#[test]
fn vnet_faq_vms_answer_ping_within_the_vnet_and_over_peering() {
    for era in ERAS {
        let s = sim(&one_vnet(era, "", ""));
        s.probe("vm-a", "vm-b").icmp().send().assert_delivered();
        let s = sim(&peered(era, "", "", ""));
        s.probe("peer1", "web1").icmp().send().assert_delivered();
    }
}

/// The destination address of a packet as it left the data plane.
fn destination_of(packet: &[u8]) -> [u8; 4] {
    [packet[16], packet[17], packet[18], packet[19]]
}

/// Azure Load Balancer Floating IP configuration
/// (https://learn.microsoft.com/azure/load-balancer/load-balancer-floating-ip): without
/// Floating IP the VM receives traffic "addressed to its own IP"; "If you enable Floating IP
/// ... the frontend IP address ... is what the backend VM receives"; in both cases the source
/// is the client's ("The source port and address are from the originating computer, not the
/// load balancer", NSG overview).
#[test]
fn lbfip_the_backend_receives_its_own_or_the_frontend_address_and_the_clients_source() {
    for era in ERAS {
        for (floating, dst, port) in [
            ("", [10, 0, 1, 4], 8080u16),
            (", floating_ip: true", [10, 0, 1, 100], 80),
        ] {
            let rule = PORT_MAP.replace("probe: p", &format!("probe: p{floating}"));
            let s = sim(&ilb(era, "", "", &rule));
            let v = s
                .send_bytes("cli", &tcp_syn([10, 0, 2, 4], [10, 0, 1, 100], 50000, 80))
                .unwrap();
            v.assert_delivered();
            assert_eq!(v.delivered_to(), Some("web1"), "{v}");
            let p = v.packet().unwrap();
            assert_eq!(destination_of(p), dst, "{v}");
            assert_eq!(u16::from_be_bytes([p[22], p[23]]), port, "{v}");
            assert_eq!(source_of(p), [10, 0, 2, 4], "{v}");
        }
    }
}

/// Azure Virtual Network FAQ (https://learn.microsoft.com/azure/virtual-network/virtual-networks-faq),
/// peering states: a peering carries traffic once both links are "Connected"; deleting one
/// link leaves the other "Disconnected" until both are created again. After a
/// `remove_peering` of one link, neither side reaches the other.
#[test]
fn vnet_faq_deleting_one_peering_link_stops_traffic_both_ways() {
    for era in ERAS {
        let mut yaml = peered(era, "", "", "");
        yaml.push_str("events:\n  - { at: 10ms, remove_peering: b-to-a }\n");
        let s = sim(&yaml);
        tcp_delivered(&s, "peer1", "web1", 443);
        let later = std::time::Duration::from_millis(20);
        for (from, to) in [("peer1", "web1"), ("web1", "peer1")] {
            let v = s.probe(from, to).tcp(443).src_port(50100).at(later).send();
            assert!(!v.is_delivered(), "{v}");
        }
    }
}

/// Service tags overview: VirtualNetwork is usable as a destination of outbound rules too ("The
/// virtual network address space ... peered virtual networks"): an outbound deny of
/// VirtualNetwork stops traffic to a peered VM and leaves the Internet open.
#[test]
fn service_tags_virtual_network_as_an_outbound_destination() {
    for era in ERAS {
        let yaml = public_vm(era, ", nsg: web-nsg", "Standard").replace(
            "{ name: https-from-internet, priority: 100, direction: inbound, access: allow, protocol: tcp, source: Internet, destination: '*', destination_ports: '443' }",
            "{ name: no-vnet-out, priority: 100, direction: outbound, access: deny, protocol: '*', source: '*', destination: VirtualNetwork }",
        );
        let s = sim(&yaml);
        tcp_dropped(&s, "web1", "peer1", 443, DropReason::NsgDenied);
        tcp_delivered(&s, "web1", "client", 443);
    }
}

/// Azure Firewall known issues (https://learn.microsoft.com/azure/firewall/firewall-known-issues):
/// "Network filtering rules for non-TCP/UDP protocols (for example ICMP) don't work for Internet
/// bound traffic ... Network filtering rules for non-TCP/UDP protocols don't work with SNAT to
/// your public IP address. Non-TCP/UDP protocols are supported between spoke subnets and
/// VNets." A network rule for Any lets a ping reach the other spoke and TCP reach the Internet;
/// a ping to the Internet goes no further than the firewall.
#[test]
fn fw_known_issues_non_tcp_udp_rules_do_not_work_for_internet_bound_traffic() {
    for era in ERAS {
        let policy = "  - name: pol
    rule_collection_groups:
      - name: g
        priority: 100
        rule_collections:
          - { name: all, priority: 100, kind: network, action: allow, rules: [ { name: any, protocols: [Any], source_addresses: ['*'], destination_addresses: ['*'], destination_ports: ['*'] } ] }";
        let s = sim(&hub_fw(era, policy));
        s.probe("web1", "db2").icmp().send().assert_delivered();
        tcp_delivered(&s, "web1", "contoso", 443);
        s.probe("web1", "contoso").udp(53).send().assert_delivered();
        let v = s.probe("web1", "contoso").icmp().send();
        v.assert_dropped(DropReason::ProtocolBlocked);
        assert!(v.detail().contains("Azure Firewall"), "{v}");
    }
}
