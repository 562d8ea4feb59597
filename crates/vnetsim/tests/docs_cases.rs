//! Cases written from Microsoft's documentation, one test per documented statement, as a new
//! user would write them: each test names the page and quotes the sentence it checks.
//!
//! What it is for: checking vnetsim's verdicts against the pages' own words, in both eras.
//! What it is not: a test of vnetsim's additions or of behaviours the pages leave open (those
//! live with their crates' tests and in docs/azure-rules.md as "derived").

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
  - {{ name: vm-a, size: Standard_D2s_v3, nics: [ {{ name: vm-a-nic, subnet: hub/a, ip: 10.0.1.4 }} ] }}
  - {{ name: vm-b, size: Standard_D2s_v3, nics: [ {{ name: vm-b-nic, subnet: hub/b, ip: 10.0.2.4 }} ] }}
  - {{ name: nva, size: Standard_D2s_v3, forwarding: true, nics: [ {{ name: nva-nic, subnet: hub/b, ip: 10.0.2.10, ip_forwarding: true }} ] }}
on_premises:
  - name: branch
    address_space: [192.168.0.0/16]
    connection: hub
    hosts: [ {{ name: branch-pc, ip: 192.168.1.10 }} ]
{tables}
"
    )
}

const ERAS: [&str; 2] = ["2016", "current"];

// ---------------------------------------------------------------------------------------------
// Routing: https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview
// ---------------------------------------------------------------------------------------------

/// "Azure selects a route based on the destination IP address, using the longest prefix match
/// algorithm." A /24 user route to an NVA beats the VNet's /16 system route.
#[test]
fn udr_overview_longest_prefix_match_selects_the_route() {
    for era in ERAS {
        let tables = "route_tables:\n  - { name: rt, routes: [ { name: b-via-nva, prefix: 10.0.2.0/24, next_hop: VirtualAppliance, next_hop_ip: 10.0.2.10 } ] }";
        let s = sim(&one_vnet(era, ", route_table: rt", tables));
        s.probe("vm-a", "vm-b")
            .tcp(443)
            .send()
            .assert_delivered()
            .assert_path(&["vm-a", "nva", "vm-b"]);
    }
}

/// "If multiple routes contain the same address prefix, Azure selects the route type, based on
/// the following priority: User-defined route, BGP route, System route." A user route for the
/// VNet's own /16 with next hop None beats the system VnetLocal route of the same prefix.
#[test]
fn udr_overview_on_an_equal_prefix_a_user_route_beats_the_system_route() {
    for era in ERAS {
        let tables = "route_tables:\n  - { name: rt, routes: [ { name: drop-vnet, prefix: 10.0.0.0/16, next_hop: None } ] }";
        let s = sim(&one_vnet(era, ", route_table: rt", tables));
        tcp_dropped(&s, "vm-a", "vm-b", 443, DropReason::NoRoute);
    }
}

/// Same priority list: on an equal prefix a user route beats the gateway's (BGP/VPN) route.
#[test]
fn udr_overview_on_an_equal_prefix_a_user_route_beats_the_gateway_route() {
    for era in ERAS {
        let tables = "route_tables:\n  - { name: rt, routes: [ { name: onprem-via-nva, prefix: 192.168.0.0/16, next_hop: VirtualAppliance, next_hop_ip: 10.0.2.10 } ] }";
        let s = sim(&one_vnet(era, ", route_table: rt", tables));
        let v = s.probe("vm-a", "branch-pc").tcp(443).send();
        assert_eq!(v.path()[..2], ["vm-a", "nva"], "{v}");
    }
}

/// "None: Traffic routed to the None next hop type is dropped, rather than routed outside the
/// subnet. Azure automatically creates default routes for the following address prefixes:
/// 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 ... 100.64.0.0/10".
#[test]
fn udr_overview_reserved_private_prefixes_route_to_none() {
    let s = sim(&one_vnet("2016", "", ""));
    for dst in ["10.99.0.4", "172.16.5.4", "100.64.0.9"] {
        tcp_dropped(&s, "vm-a", dst, 443, DropReason::NoRoute);
    }
}

/// "Virtual network gateway: ... routes ... on-premises" with gateway route propagation; and
/// "If you don't want the routes ... propagated ... disable virtual network gateway route
/// propagation" (Propagate gateway routes: No): the subnet loses the on-premises routes.
#[test]
fn udr_overview_disabling_gateway_route_propagation_removes_on_premises_routes() {
    for era in ERAS {
        let on = sim(&one_vnet(era, "", ""));
        tcp_delivered(&on, "vm-a", "branch-pc", 443);
        let tables = "route_tables:\n  - { name: rt, disable_gateway_route_propagation: true }";
        let off = sim(&one_vnet(era, ", route_table: rt", tables));
        tcp_dropped(&off, "vm-a", "branch-pc", 443, DropReason::NoRoute);
        // The other subnet keeps them.
        tcp_delivered(&off, "vm-b", "branch-pc", 443);
    }
}

/// "Virtual appliance: ... Any network interface attached to a virtual machine that forwards
/// network traffic to an address other than its own must have the Azure Enable IP forwarding
/// option enabled for it."
#[test]
fn udr_overview_an_appliance_without_ip_forwarding_drops() {
    let yaml = one_vnet(
        "current",
        ", route_table: rt",
        "route_tables:\n  - { name: rt, routes: [ { name: b-via-nva, prefix: 10.0.2.0/24, next_hop: VirtualAppliance, next_hop_ip: 10.0.2.10 } ] }",
    )
    .replace("ip: 10.0.2.10, ip_forwarding: true", "ip: 10.0.2.10");
    let s = sim(&yaml);
    tcp_dropped(&s, "vm-a", "vm-b", 443, DropReason::ForwardingDisabled);
}

/// "Internet: Routes traffic specified by the address prefix to the Internet. The system default
/// route specifies the 0.0.0.0/0 address prefix." A user route 0.0.0.0/0 -> VirtualAppliance
/// takes Internet-bound traffic to the appliance instead.
#[test]
fn udr_overview_a_default_route_to_an_appliance_overrides_the_internet_route() {
    for era in ERAS {
        let mut yaml = one_vnet(
            era,
            ", route_table: rt",
            "route_tables:\n  - { name: rt, routes: [ { name: default-via-nva, prefix: 0.0.0.0/0, next_hop: VirtualAppliance, next_hop_ip: 10.0.2.10 } ] }",
        );
        yaml.push_str("internet:\n  - { name: site, ip: 198.51.100.20 }\n");
        yaml = yaml.replace(
            "ip: 10.0.2.10, ip_forwarding: true",
            "ip: 10.0.2.10, ip_forwarding: true, public_ip: 203.0.113.7",
        );
        let s = sim(&yaml);
        let v = s.probe("vm-a", "site").tcp(443).send();
        assert_eq!(v.path()[..2], ["vm-a", "nva"], "{v}");
    }
}

// ---------------------------------------------------------------------------------------------
// Peering: https://learn.microsoft.com/azure/virtual-network/virtual-network-peering-overview,
// https://learn.microsoft.com/azure/virtual-network/virtual-network-manage-peering
// ---------------------------------------------------------------------------------------------

fn three_vnets(era: &str, extra_peerings: &str, hub_link: &str, spoke_link: &str) -> String {
    format!(
        "
name: three
azure: {{ era: {era} }}
vnets:
  - {{ name: hub, address_space: [10.0.0.0/16], subnets: [ {{ name: nva, prefix: 10.0.1.0/24 }} ] }}
  - {{ name: spoke1, address_space: [10.1.0.0/16], subnets: [ {{ name: app, prefix: 10.1.1.0/24, route_table: s1 }} ] }}
  - {{ name: spoke2, address_space: [10.2.0.0/16], subnets: [ {{ name: app, prefix: 10.2.1.0/24, route_table: s2 }} ] }}
vms:
  - {{ name: nva, size: Standard_D2s_v3, forwarding: true, nics: [ {{ name: nva-nic, subnet: hub/nva, ip: 10.0.1.4, ip_forwarding: true }} ] }}
  - {{ name: web1, size: Standard_D2s_v3, nics: [ {{ name: web1-nic, subnet: spoke1/app, ip: 10.1.1.4 }} ] }}
  - {{ name: db2, size: Standard_D2s_v3, nics: [ {{ name: db2-nic, subnet: spoke2/app, ip: 10.2.1.4 }} ] }}
route_tables:
  - {{ name: s1, routes: [ {{ name: to-s2, prefix: 10.2.0.0/16, next_hop: VirtualAppliance, next_hop_ip: 10.0.1.4 }} ] }}
  - {{ name: s2, routes: [ {{ name: to-s1, prefix: 10.1.0.0/16, next_hop: VirtualAppliance, next_hop_ip: 10.0.1.4 }} ] }}
peerings:
  - {{ name: hub-to-spoke1, from: hub, to: spoke1{hub_link} }}
  - {{ name: spoke1-to-hub, from: spoke1, to: hub{spoke_link} }}
  - {{ name: hub-to-spoke2, from: hub, to: spoke2{hub_link} }}
  - {{ name: spoke2-to-hub, from: spoke2, to: hub{spoke_link} }}
{extra_peerings}
"
    )
}

/// "Peering isn't transitive": spokes peered with one hub do not reach each other without an
/// appliance (here the route tables are removed).
#[test]
fn manage_peering_peering_is_not_transitive() {
    for era in ERAS {
        let yaml = three_vnets(era, "", "", "")
            .replace(", route_table: s1", "")
            .replace(", route_table: s2", "");
        let s = sim(&yaml);
        tcp_dropped(&s, "web1", "db2", 443, DropReason::NoRoute);
        s.probe("web1", "nva").tcp(443).send().assert_delivered();
    }
}

/// "Allow forwarded traffic ... Select this option if you want traffic forwarded by a network
/// virtual appliance in a virtual network (that didn't originate from the virtual network) to
/// flow to this virtual network through a peering." Off by default: the NVA's packet is refused.
#[test]
fn manage_peering_forwarded_traffic_needs_allow_forwarded_traffic() {
    for era in ERAS {
        let blocked = sim(&three_vnets(era, "", "", ""));
        blocked
            .probe("web1", "db2")
            .tcp(443)
            .send()
            .assert_dropped(DropReason::ForwardedTrafficBlocked);
        let allowed = sim(&three_vnets(era, "", "", ", allow_forwarded_traffic: true"));
        allowed
            .probe("web1", "db2")
            .tcp(443)
            .send()
            .assert_delivered()
            .assert_path(&["web1", "nva", "db2"]);
    }
}

fn transit(era: &str, hub_link: &str, spoke_link: &str, spoke_gateway: bool) -> String {
    let spoke_subnets = if spoke_gateway {
        "[ { name: app, prefix: 10.1.1.0/24 }, { name: GatewaySubnet, prefix: 10.1.255.0/27 } ], gateway: { name: spoke-gw, sku: VpnGw1 }"
    } else {
        "[ { name: app, prefix: 10.1.1.0/24, nsg: app-nsg } ]"
    };
    format!(
        "
name: transit
azure: {{ era: {era} }}
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    subnets: [ {{ name: shared, prefix: 10.0.1.0/24 }}, {{ name: GatewaySubnet, prefix: 10.0.255.0/27 }} ]
    gateway: {{ name: hub-gw, sku: VpnGw1 }}
  - {{ name: spoke, address_space: [10.1.0.0/16], subnets: {spoke_subnets} }}
nsgs:
  - {{ name: app-nsg, rules: [] }}
vms:
  - {{ name: app-vm, size: Standard_D2s_v3, nics: [ {{ name: app-vm-nic, subnet: spoke/app, ip: 10.1.1.4 }} ] }}
peerings:
  - {{ name: hub-to-spoke, from: hub, to: spoke{hub_link} }}
  - {{ name: spoke-to-hub, from: spoke, to: hub{spoke_link} }}
on_premises:
  - name: branch
    address_space: [192.168.0.0/16]
    connection: hub
    hosts: [ {{ name: branch-pc, ip: 192.168.1.10 }} ]
"
    )
}

/// Gateway transit (https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-peering-gateway-transit):
/// with "Allow gateway transit" on the hub's link and "Use remote gateways" on the spoke's, the
/// spoke reaches on-premises, and on-premises reaches the spoke (the spoke's default NSG admits
/// it: "AllowVNetInBound", the VirtualNetwork tag holds the on-premises address space).
#[test]
fn gw_transit_spoke_and_on_premises_reach_each_other() {
    for era in ERAS {
        let s = sim(&transit(
            era,
            ", allow_gateway_transit: true",
            ", use_remote_gateways: true",
            false,
        ));
        s.probe("app-vm", "branch-pc")
            .tcp(3389)
            .send()
            .assert_delivered()
            .assert_path(&["app-vm", "hub-gw", "branch-pc"]);
        s.fresh()
            .probe("branch-pc", "app-vm")
            .tcp(22)
            .send()
            .assert_delivered();
    }
}

/// Allow gateway transit alone does not give the spoke the gateway's routes: the spoke must
/// also use the remote gateway.
#[test]
fn gw_transit_without_use_remote_gateways_the_spoke_has_no_on_premises_route() {
    for era in ERAS {
        let s = sim(&transit(era, ", allow_gateway_transit: true", "", false));
        // The spoke's NSG meets the packet before its routes ("outbound: the NIC NSG, then the
        // subnet NSG, then the UDRs", Virtual Network FAQ): outside the VirtualNetwork tag, the
        // on-premises range is refused by DenyAllOutBound; without the NSG, no route leads there.
        tcp_dropped(&s, "app-vm", "branch-pc", 3389, DropReason::NsgDenied);
        let s =
            sim(&transit(era, ", allow_gateway_transit: true", "", false)
                .replace(", nsg: app-nsg", ""));
        tcp_dropped(&s, "app-vm", "branch-pc", 3389, DropReason::NoRoute);
        tcp_dropped(&s, "branch-pc", "app-vm", 22, DropReason::NoRoute);
    }
}

/// "Use remote gateways ... the remote virtual network must have allow gateway transit" and
/// "you can't use remote gateways if you already have a gateway configured in your virtual
/// network" (manage-peering, "Use remote virtual network's gateway").
#[test]
fn manage_peering_use_remote_gateways_needs_transit_and_no_local_gateway() {
    for era in ERAS {
        rejected(
            &transit(era, "", ", use_remote_gateways: true", false),
            "use-remote-gateways-no-transit",
        );
        rejected(
            &transit(
                era,
                ", allow_gateway_transit: true",
                ", use_remote_gateways: true",
                true,
            ),
            "use-remote-gateways-local-gateway",
        );
    }
}

// ---------------------------------------------------------------------------------------------
// NSGs: https://learn.microsoft.com/azure/virtual-network/network-security-groups-overview,
// https://learn.microsoft.com/azure/virtual-network/network-security-group-how-it-works
// ---------------------------------------------------------------------------------------------

fn nsg_case(era: &str, subnet_nsg_rules: &str, nic_nsg_rules: &str) -> String {
    format!(
        "
name: nsg
azure: {{ era: {era} }}
vnets:
  - name: app
    address_space: [10.0.0.0/16]
    subnets:
      - {{ name: web, prefix: 10.0.1.0/24, nsg: subnet-nsg }}
      - {{ name: other, prefix: 10.0.2.0/24 }}
      - {{ name: GatewaySubnet, prefix: 10.0.255.0/27 }}
    gateway: {{ name: gw, sku: VpnGw1 }}
  - {{ name: peer, address_space: [10.5.0.0/16], subnets: [ {{ name: default, prefix: 10.5.1.0/24 }} ] }}
  - {{ name: far, address_space: [10.9.0.0/16], subnets: [ {{ name: default, prefix: 10.9.1.0/24 }} ] }}
nsgs:
  - {{ name: subnet-nsg, rules: [{subnet_nsg_rules}] }}
  - {{ name: nic-nsg, rules: [{nic_nsg_rules}] }}
vms:
  - {{ name: web1, size: Standard_D2s_v3, nics: [ {{ name: web1-nic, subnet: app/web, ip: 10.0.1.4, nsg: nic-nsg, public_ip: 203.0.113.4 }} ] }}
  - {{ name: web2, size: Standard_D2s_v3, nics: [ {{ name: web2-nic, subnet: app/web, ip: 10.0.1.5 }} ] }}
  - {{ name: other1, size: Standard_D2s_v3, nics: [ {{ name: other1-nic, subnet: app/other, ip: 10.0.2.4 }} ] }}
  - {{ name: peer1, size: Standard_D2s_v3, nics: [ {{ name: peer1-nic, subnet: peer/default, ip: 10.5.1.4 }} ] }}
peerings:
  - {{ name: app-to-peer, from: app, to: peer }}
  - {{ name: peer-to-app, from: peer, to: app }}
on_premises:
  - name: branch
    address_space: [192.168.0.0/16]
    connection: app
    hosts: [ {{ name: branch-pc, ip: 192.168.1.10 }} ]
internet:
  - {{ name: client, ip: 198.51.100.20 }}
"
    )
}

/// Default rule AllowVNetInBound (65000), source and destination VirtualNetwork; "The
/// VirtualNetwork service tag ... includes the virtual network address space ..., all connected
/// on-premises address spaces, peered virtual networks". With no rule of its own, the NSGs admit
/// a VM of the same VNet, of a peered VNet and an on-premises host.
#[test]
fn nsg_overview_allow_vnet_inbound_admits_the_vnet_peers_and_on_premises() {
    for era in ERAS {
        let s = sim(&nsg_case(era, "", ""));
        tcp_delivered(&s, "other1", "web1", 8080);
        s.probe("peer1", "web1").tcp(8080).send().assert_delivered();
        tcp_delivered(&s, "branch-pc", "web1", 8080);
    }
}

/// Default rule DenyAllInBound (65500): a connection from the Internet to the VM's public IP is
/// denied when no rule allows it.
#[test]
fn nsg_overview_deny_all_inbound_refuses_the_internet() {
    for era in ERAS {
        let s = sim(&nsg_case(era, "", ""));
        let v = s.probe("client", "203.0.113.4").tcp(443).send();
        v.assert_dropped(DropReason::NsgDenied);
        assert!(
            v.detail().contains("DenyAllInBound") || v.detail().contains("DenyAllInbound"),
            "{v}"
        );
    }
}

/// "Rules are processed in priority order, with lower numbers processed before higher numbers":
/// a custom deny of the VirtualNetwork tag at 100 overrides AllowVNetInBound.
#[test]
fn nsg_overview_a_custom_rule_overrides_the_default_rules() {
    for era in ERAS {
        let rule = "{ name: no-vnet, priority: 100, direction: inbound, access: deny, protocol: '*', source: VirtualNetwork, destination: '*' }";
        let s = sim(&nsg_case(era, "", rule));
        tcp_dropped(&s, "peer1", "web1", 8080, DropReason::NsgDenied);
    }
}

/// "For inbound traffic, Azure processes the rules in a network security group associated to a
/// subnet first, if there's one, and then the rules in a network security group associated to
/// the network interface": both must allow.
#[test]
fn nsg_how_inbound_needs_both_the_subnet_and_the_nic_nsg() {
    for era in ERAS {
        let allow = "{ name: https, priority: 100, direction: inbound, access: allow, protocol: tcp, source: '*', destination: '*', destination_ports: '443' }";
        // Subnet allows, NIC does not: the NIC's DenyAllInBound drops it.
        let s = sim(&nsg_case(era, allow, ""));
        let v = s.probe("client", "203.0.113.4").tcp(443).send();
        v.assert_dropped(DropReason::NsgDenied);
        assert!(v.detail().contains("nic-nsg"), "{v}");
        // NIC allows, subnet does not.
        let s = sim(&nsg_case(era, "", allow));
        let v = s.probe("client", "203.0.113.4").tcp(443).send();
        v.assert_dropped(DropReason::NsgDenied);
        assert!(v.detail().contains("subnet-nsg"), "{v}");
        // Both allow.
        let s = sim(&nsg_case(era, allow, allow));
        tcp_delivered(&s, "client", "203.0.113.4", 443);
    }
}

/// "For outbound traffic, Azure processes the rules in a network security group associated to a
/// network interface first, if there's one, and then the rules in a network security group
/// associated to the subnet": a deny in either drops.
#[test]
fn nsg_how_outbound_needs_both_the_nic_and_the_subnet_nsg() {
    for era in ERAS {
        let deny = "{ name: no-out, priority: 100, direction: outbound, access: deny, protocol: tcp, source: '*', destination: '*', destination_ports: '8080' }";
        let s = sim(&nsg_case(era, "", deny));
        let v = s.probe("web1", "peer1").tcp(8080).send();
        v.assert_dropped(DropReason::NsgDenied);
        assert!(v.detail().contains("nic-nsg"), "{v}");
        let s = sim(&nsg_case(era, deny, ""));
        let v = s.probe("web1", "peer1").tcp(8080).send();
        v.assert_dropped(DropReason::NsgDenied);
        assert!(v.detail().contains("subnet-nsg"), "{v}");
    }
}

/// "Intra-Subnet traffic - It's important to note that security rules in an NSG associated to a
/// subnet can affect connectivity between VM's within it."
#[test]
fn nsg_how_a_subnet_nsg_filters_traffic_inside_the_subnet() {
    for era in ERAS {
        let deny = "{ name: no-intra, priority: 100, direction: inbound, access: deny, protocol: '*', source: 10.0.1.0/24, destination: 10.0.1.0/24 }";
        let s = sim(&nsg_case(era, deny, ""));
        tcp_dropped(&s, "web1", "web2", 22, DropReason::NsgDenied);
    }
}

/// "Security rules are stateful. If you specify an outbound security rule to any address over
/// port 80, for example, it's not necessary to specify an inbound security rule for the
/// response to the outbound traffic."
#[test]
fn nsg_overview_return_traffic_of_an_allowed_connection_passes() {
    for era in ERAS {
        // web1's NIC denies everything inbound from the peer; web1 opens a connection to it.
        let deny = "{ name: no-peer-in, priority: 100, direction: inbound, access: deny, protocol: '*', source: 10.5.0.0/16, destination: '*' }";
        let s = sim(&nsg_case(era, "", deny));
        s.probe("web1", "peer1")
            .tcp(80)
            .src_port(50000)
            .send()
            .assert_delivered();
        s.probe("peer1", "web1")
            .tcp(50000)
            .src_port(80)
            .send()
            .assert_delivered();
        // A new connection from the peer is still denied.
        s.probe("peer1", "web1")
            .tcp(80)
            .src_port(50001)
            .send()
            .assert_dropped(DropReason::NsgDenied);
    }
}

/// Default outbound rule AllowInternetOutBound (65001) and a custom outbound deny of the
/// Internet service tag: the tag "Internet" is the address space outside the virtual network
/// reachable by the public internet; VirtualNetwork traffic is unaffected.
#[test]
fn service_tags_internet_tag_denies_the_internet_only() {
    for era in ERAS {
        let deny = "{ name: no-internet, priority: 100, direction: outbound, access: deny, protocol: '*', source: '*', destination: Internet }";
        let s = sim(&nsg_case(era, "", deny));
        tcp_dropped(&s, "web1", "client", 443, DropReason::NsgDenied);
        s.probe("web1", "peer1").tcp(443).send().assert_delivered();
        tcp_delivered(&s, "web1", "branch-pc", 443);
        let s = sim(&nsg_case(era, "", ""));
        s.probe("web1", "client").tcp(443).send().assert_delivered();
    }
}

/// NSG protocol "Any" (`*`) covers ICMP: a deny of `*` blocks a ping.
#[test]
fn nsg_overview_protocol_any_includes_icmp() {
    for era in ERAS {
        let deny = "{ name: no-peer, priority: 100, direction: inbound, access: deny, protocol: '*', source: 10.5.0.0/16, destination: '*' }";
        let s = sim(&nsg_case(era, "", deny));
        s.probe("peer1", "web1")
            .icmp()
            .send()
            .assert_dropped(DropReason::NsgDenied);
        let s = sim(&nsg_case(era, "", ""));
        s.probe("peer1", "web1").icmp().send().assert_delivered();
    }
}

/// allow_virtual_network_access off: "the VirtualNetwork service tag no longer includes the
/// peered virtual network": the default rules deny the peer, an explicit rule may still allow it.
#[test]
fn manage_peering_access_off_removes_the_peer_from_the_virtual_network_tag() {
    for era in ERAS {
        let yaml = nsg_case(era, "", "")
            .replace(
                "{ name: peer-to-app, from: peer, to: app }",
                "{ name: peer-to-app, from: peer, to: app, allow_virtual_network_access: false }",
            )
            .replace(
                "{ name: app-to-peer, from: app, to: peer }",
                "{ name: app-to-peer, from: app, to: peer, allow_virtual_network_access: false }",
            );
        let s = sim(&yaml);
        tcp_dropped(&s, "peer1", "web1", 8080, DropReason::NsgDenied);
    }
}

/// Application security groups
/// (https://learn.microsoft.com/azure/virtual-network/application-security-groups): a rule
/// naming an ASG applies only to the member NICs, even in an NSG on the subnet.
#[test]
fn asg_a_rule_naming_a_group_applies_to_its_members_only() {
    for era in ERAS {
        let yaml = format!(
            "
name: asg
azure: {{ era: {era} }}
application_security_groups: [ {{ name: asg-web }} ]
vnets:
  - name: app
    address_space: [10.0.0.0/16]
    subnets: [ {{ name: web, prefix: 10.0.1.0/24, nsg: web-nsg }}, {{ name: mgmt, prefix: 10.0.9.0/24 }} ]
nsgs:
  - name: web-nsg
    rules:
      - {{ name: https-to-web, priority: 100, direction: inbound, access: allow, protocol: tcp, source: '*', destination_application_security_groups: [asg-web], destination_ports: '443' }}
      - {{ name: deny-rest, priority: 200, direction: inbound, access: deny, protocol: '*', source: '*', destination: '*' }}
vms:
  - {{ name: web1, size: Standard_D2s_v3, nics: [ {{ name: web1-nic, subnet: app/web, ip: 10.0.1.4, application_security_groups: [asg-web] }} ] }}
  - {{ name: db1, size: Standard_D2s_v3, nics: [ {{ name: db1-nic, subnet: app/web, ip: 10.0.1.5 }} ] }}
  - {{ name: jump, size: Standard_D2s_v3, nics: [ {{ name: jump-nic, subnet: app/mgmt, ip: 10.0.9.4 }} ] }}
"
        );
        let s = sim(&yaml);
        s.probe("jump", "web1").tcp(443).send().assert_delivered();
        tcp_dropped(&s, "jump", "db1", 443, DropReason::NsgDenied);
    }
}

// ---------------------------------------------------------------------------------------------
// Default outbound access:
// https://learn.microsoft.com/azure/virtual-network/ip-services/default-outbound-access
// ---------------------------------------------------------------------------------------------

/// "After March 31, 2026, new virtual networks will default to using private subnets": a VM of a
/// private subnet without an explicit outbound method reaches no public endpoint; with a public
/// IP it does. Before (era 2016) the VM had default outbound access.
#[test]
fn doa_private_subnets_need_an_explicit_outbound_method() {
    let yaml = |era: &str| {
        format!(
            "
name: doa
azure: {{ era: {era} }}
vnets:
  - {{ name: app, address_space: [10.0.0.0/16], subnets: [ {{ name: web, prefix: 10.0.1.0/24 }} ] }}
vms:
  - {{ name: plain, size: Standard_D2s_v3, nics: [ {{ name: plain-nic, subnet: app/web, ip: 10.0.1.4 }} ] }}
  - {{ name: pip, size: Standard_D2s_v3, nics: [ {{ name: pip-nic, subnet: app/web, ip: 10.0.1.5, public_ip: 203.0.113.5 }} ] }}
internet:
  - {{ name: site, ip: 198.51.100.20 }}
"
        )
    };
    let current = sim(&yaml("current"));
    current
        .probe("plain", "site")
        .tcp(443)
        .send()
        .assert_dropped(DropReason::NoOutboundAccess);
    current
        .probe("pip", "site")
        .tcp(443)
        .send()
        .assert_delivered();
    let old = sim(&yaml("2016"));
    tcp_delivered(&old, "plain", "site", 443);
}

// ---------------------------------------------------------------------------------------------
// Azure Firewall: https://learn.microsoft.com/azure/firewall/rule-processing
// ---------------------------------------------------------------------------------------------

fn firewall(era: &str, collections: &str) -> String {
    format!(
        "
name: fw
azure: {{ era: {era} }}
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    subnets: [ {{ name: AzureFirewallSubnet, prefix: 10.0.1.0/26 }} ]
    firewall: {{ name: hub-fw, policy: pol, public_ips: [203.0.113.10] }}
  - {{ name: spoke, address_space: [10.1.0.0/16], subnets: [ {{ name: app, prefix: 10.1.1.0/24, route_table: rt }} ] }}
vms:
  - {{ name: web1, size: Standard_D2s_v3, nics: [ {{ name: web1-nic, subnet: spoke/app, ip: 10.1.1.4 }} ] }}
route_tables:
  - {{ name: rt, routes: [ {{ name: default-via-fw, prefix: 0.0.0.0/0, next_hop: VirtualAppliance, next_hop_ip: 10.0.1.4 }} ] }}
peerings:
  - {{ name: hub-to-spoke, from: hub, to: spoke }}
  - {{ name: spoke-to-hub, from: spoke, to: hub }}
internet:
  - {{ name: contoso, ip: 198.51.100.20 }}
  - {{ name: other, ip: 198.51.100.30 }}
names:
  www.contoso.com: 198.51.100.20
firewall_policies:
  - name: pol
    rule_collection_groups:
      - name: g
        priority: 100
        rule_collections:
{collections}
"
    )
}

/// "By default, Azure Firewall blocks traffic" / default deny: a policy with no matching rule
/// drops the connection.
#[test]
fn fwrule_traffic_no_rule_allows_is_denied() {
    for era in ERAS {
        let c = "          - { name: app, priority: 100, kind: application, action: allow, rules: [ { name: contoso, protocols: ['Https:443'], source_addresses: ['*'], target_fqdns: [www.contoso.com] } ] }";
        let s = sim(&firewall(era, c));
        tcp_delivered(&s, "web1", "contoso", 443);
        tcp_dropped(&s, "web1", "other", 443, DropReason::FirewallDenied);
    }
}

/// "Network rules are applied first, then application rules" and "If there's a network rule
/// match, ... application rules aren't processed": a network deny at a higher priority number
/// still wins over an application allow.
#[test]
fn fwrule_network_rules_are_processed_before_application_rules() {
    for era in ERAS {
        let c = "          - { name: app, priority: 100, kind: application, action: allow, rules: [ { name: contoso, protocols: ['Https:443'], source_addresses: ['*'], target_fqdns: [www.contoso.com] } ] }
          - { name: net, priority: 300, kind: network, action: deny, rules: [ { name: no-443, protocols: [TCP], source_addresses: ['*'], destination_addresses: ['*'], destination_ports: ['443'] } ] }";
        let s = sim(&firewall(era, c));
        tcp_dropped(&s, "web1", "contoso", 443, DropReason::FirewallDenied);
    }
}

/// DNAT (https://learn.microsoft.com/azure/firewall/tutorial-firewall-dnat): a packet from the
/// Internet to the firewall's public IP and a DNAT rule's port is translated to the VM.
#[test]
fn fw_dnat_translates_to_the_private_address() {
    for era in ERAS {
        let c = "          - { name: nat, priority: 100, kind: dnat, rules: [ { name: rdp, protocols: [TCP], source_addresses: ['*'], destination_addresses: [203.0.113.10], destination_ports: ['4000'], translated_address: 10.1.1.4, translated_port: 3389 } ] }";
        let s = sim(&firewall(era, c));
        let v = s.probe("contoso", "203.0.113.10").tcp(4000).send();
        v.assert_delivered();
        assert_eq!(v.delivered_to(), Some("web1"), "{v}");
    }
}

// ---------------------------------------------------------------------------------------------
// Load Balancer health probes:
// https://learn.microsoft.com/azure/load-balancer/load-balancer-custom-probe-overview
// ---------------------------------------------------------------------------------------------

fn lb(era: &str, nsg_rules: &str) -> String {
    format!(
        "
name: lb
azure: {{ era: {era} }}
vnets:
  - {{ name: app, address_space: [10.0.0.0/16], subnets: [ {{ name: web, prefix: 10.0.1.0/24, nsg: web-nsg }}, {{ name: client, prefix: 10.0.2.0/24 }} ] }}
nsgs:
  - {{ name: web-nsg, rules: [{nsg_rules}] }}
vms:
  - {{ name: web1, size: Standard_D2s_v3, nics: [ {{ name: web1-nic, subnet: app/web, ip: 10.0.1.4 }} ] }}
  - {{ name: cli, size: Standard_D2s_v3, nics: [ {{ name: cli-nic, subnet: app/client, ip: 10.0.2.4 }} ] }}
load_balancers:
  - name: ilb
    frontends: [ {{ name: fe, subnet: app/web, ip: 10.0.1.100 }} ]
    backend_pools: [ {{ name: pool, nics: [web1-nic] }} ]
    probes: [ {{ name: p, protocol: tcp, port: 80 }} ]
    rules: [ {{ name: http, frontend: fe, backend_pool: pool, protocol: tcp, frontend_port: 80, backend_port: 80, probe: p }} ]
"
    )
}

/// "AllowAzureLoadBalancerInBound" (65001) admits the probe from 168.63.129.16 by default; a
/// custom rule denying all inbound before it makes the probe fail ("Custom rules ... must allow
/// the AzureLoadBalancer service tag"), and the backend takes no new flow even though the
/// client's own traffic is allowed.
#[test]
fn lbprobe_the_probe_passes_allow_azure_load_balancer_inbound_unless_a_rule_denies_it() {
    for era in ERAS {
        let s = sim(&lb(era, ""));
        tcp_delivered(&s, "cli", "10.0.1.100", 80);
        let deny_all = "{ name: deny-all, priority: 4096, direction: inbound, access: deny, protocol: '*', source: '*', destination: '*' }, { name: http, priority: 100, direction: inbound, access: allow, protocol: tcp, source: 10.0.2.0/24, destination: '*', destination_ports: '80' }";
        let s = sim(&lb(era, deny_all));
        tcp_dropped(&s, "cli", "10.0.1.100", 80, DropReason::LbNoHealthyBackend);
    }
}

// ---------------------------------------------------------------------------------------------
// The 2016 peering document (the seed) and its successors
// ---------------------------------------------------------------------------------------------

/// "VMs connected to a VNet can access the internal load-balanced (ILB) endpoints in the peered
/// VNet."
#[test]
fn peering_2016_vms_reach_an_internal_load_balancer_in_the_peered_vnet() {
    for era in ERAS {
        let yaml = format!(
            "
name: ilb-peer
azure: {{ era: {era} }}
vnets:
  - {{ name: svc, address_space: [10.0.0.0/16], subnets: [ {{ name: web, prefix: 10.0.1.0/24 }} ] }}
  - {{ name: client, address_space: [10.1.0.0/16], subnets: [ {{ name: app, prefix: 10.1.1.0/24 }} ] }}
vms:
  - {{ name: web1, size: Standard_D2s_v3, nics: [ {{ name: web1-nic, subnet: svc/web, ip: 10.0.1.4 }} ] }}
  - {{ name: app1, size: Standard_D2s_v3, nics: [ {{ name: app1-nic, subnet: client/app, ip: 10.1.1.4 }} ] }}
peerings:
  - {{ name: svc-to-client, from: svc, to: client }}
  - {{ name: client-to-svc, from: client, to: svc }}
load_balancers:
  - name: ilb
    frontends: [ {{ name: fe, subnet: svc/web, ip: 10.0.1.100 }} ]
    backend_pools: [ {{ name: pool, nics: [web1-nic] }} ]
    rules: [ {{ name: http, frontend: fe, backend_pool: pool, protocol: tcp, frontend_port: 80, backend_port: 80 }} ]
"
        );
        let s = sim(&yaml);
        let v = s.probe("app1", "10.0.1.100").tcp(80).send();
        v.assert_delivered();
        assert_eq!(v.delivered_to(), Some("web1"), "{v}");
    }
}

/// "Users can also configure VNet-to-VNet connections by using gateways, even though the VNets
/// are peered. When both options for VNet interconnectivity are configured, the traffic between
/// the VNets flows through the peering configuration (that is, through the Azure backbone)."
#[test]
fn peering_2016_with_both_peering_and_vnet_to_vnet_traffic_uses_the_peering() {
    for era in ERAS {
        let yaml = format!(
            "
name: both
azure: {{ era: {era} }}
vnets:
  - name: a
    address_space: [10.0.0.0/16]
    subnets: [ {{ name: app, prefix: 10.0.1.0/24 }}, {{ name: GatewaySubnet, prefix: 10.0.255.0/27 }} ]
    gateway: {{ name: gw-a, sku: VpnGw1 }}
  - name: b
    address_space: [10.1.0.0/16]
    subnets: [ {{ name: app, prefix: 10.1.1.0/24 }}, {{ name: GatewaySubnet, prefix: 10.1.255.0/27 }} ]
    gateway: {{ name: gw-b, sku: VpnGw1 }}
vms:
  - {{ name: vm-a, size: Standard_D2s_v3, nics: [ {{ name: vm-a-nic, subnet: a/app, ip: 10.0.1.4 }} ] }}
  - {{ name: vm-b, size: Standard_D2s_v3, nics: [ {{ name: vm-b-nic, subnet: b/app, ip: 10.1.1.4 }} ] }}
connections:
  - {{ name: a-to-b, type: vnet2vnet, from: gw-a, to: gw-b }}
  - {{ name: b-to-a, type: vnet2vnet, from: gw-b, to: gw-a }}
peerings:
  - {{ name: a-b, from: a, to: b }}
  - {{ name: b-a, from: b, to: a }}
"
        );
        let s = sim(&yaml);
        s.probe("vm-a", "vm-b")
            .tcp(443)
            .send()
            .assert_delivered()
            .assert_path(&["vm-a", "vm-b"]);
        // Without the peering, the VNet-to-VNet connection carries it.
        let s = sim(&yaml.replace(
            "peerings:\n  - { name: a-b, from: a, to: b }\n  - { name: b-a, from: b, to: a }\n",
            "",
        ));
        s.probe("vm-a", "vm-b")
            .tcp(443)
            .send()
            .assert_delivered()
            .assert_path(&["vm-a", "gw-a", "gw-b", "vm-b"]);
    }
}

/// "The peered VNets must exist in the same Azure region" (2016); global peering since 2018:
/// "You can peer virtual networks in the same region, or different regions" (manage-peering).
#[test]
fn peering_2016_same_region_only_current_any_region() {
    let yaml = |era: &str| {
        format!(
            "
name: regions
azure: {{ era: {era} }}
vnets:
  - {{ name: a, region: westeurope, address_space: [10.0.0.0/16], subnets: [ {{ name: app, prefix: 10.0.1.0/24 }} ] }}
  - {{ name: b, region: eastus, address_space: [10.1.0.0/16], subnets: [ {{ name: app, prefix: 10.1.1.0/24 }} ] }}
vms:
  - {{ name: vm-a, size: Standard_D2s_v3, nics: [ {{ name: vm-a-nic, subnet: a/app, ip: 10.0.1.4 }} ] }}
  - {{ name: vm-b, size: Standard_D2s_v3, nics: [ {{ name: vm-b-nic, subnet: b/app, ip: 10.1.1.4 }} ] }}
peerings:
  - {{ name: a-b, from: a, to: b }}
  - {{ name: b-a, from: b, to: a }}
"
        )
    };
    rejected(&yaml("2016"), "peering-cross-region");
    sim(&yaml("current"))
        .probe("vm-a", "vm-b")
        .tcp(443)
        .send()
        .assert_delivered();
}

/// "The peered VNets must have non-overlapping IP address spaces."
#[test]
fn peering_2016_overlapping_address_spaces_cannot_peer() {
    for era in ERAS {
        let yaml = format!(
            "
name: overlap
azure: {{ era: {era} }}
vnets:
  - {{ name: a, address_space: [10.0.0.0/16] }}
  - {{ name: b, address_space: [10.0.128.0/17] }}
peerings:
  - {{ name: a-b, from: a, to: b }}
  - {{ name: b-a, from: b, to: a }}
"
        );
        rejected(&yaml, "peering-address-overlap");
    }
}

// ---------------------------------------------------------------------------------------------
// Load Balancer and NSGs: https://learn.microsoft.com/azure/load-balancer/skus,
// https://learn.microsoft.com/azure/virtual-network/service-tags-overview
// ---------------------------------------------------------------------------------------------

/// AzureLoadBalancer: "This tag covers only probe traffic, not real traffic from your load
/// balancer." A client's connection through a public Standard load balancer reaches the backend
/// with the client's address, so AllowAzureLoadBalancerInBound does not admit it: the backend's
/// NSG needs a rule for the client ("Standard ... closed to inbound flows unless opened by
/// network security groups").
#[test]
fn service_tags_azure_load_balancer_covers_probes_not_client_traffic() {
    for era in ERAS {
        let yaml = |rules: &str| {
            format!(
                "
name: public-lb
azure: {{ era: {era} }}
vnets:
  - {{ name: app, address_space: [10.0.0.0/16], subnets: [ {{ name: web, prefix: 10.0.1.0/24, nsg: web-nsg }} ] }}
nsgs:
  - {{ name: web-nsg, rules: [{rules}] }}
vms:
  - {{ name: web1, size: Standard_D2s_v3, nics: [ {{ name: web1-nic, subnet: app/web, ip: 10.0.1.4 }} ] }}
internet:
  - {{ name: client, ip: 198.51.100.20 }}
load_balancers:
  - name: plb
    frontends: [ {{ name: fe, public_ip: 203.0.113.50 }} ]
    backend_pools: [ {{ name: pool, nics: [web1-nic] }} ]
    probes: [ {{ name: p, protocol: tcp, port: 80 }} ]
    rules: [ {{ name: http, frontend: fe, backend_pool: pool, protocol: tcp, frontend_port: 80, backend_port: 80, probe: p }} ]
"
            )
        };
        let closed = sim(&yaml(""));
        closed
            .probe("client", "203.0.113.50")
            .tcp(80)
            .send()
            .assert_dropped(DropReason::NsgDenied);
        let open = sim(&yaml(
            "{ name: http-in, priority: 100, direction: inbound, access: allow, protocol: tcp, source: Internet, destination: '*', destination_ports: '80' }",
        ));
        let v = open.probe("client", "203.0.113.50").tcp(80).send();
        v.assert_delivered();
        assert_eq!(v.delivered_to(), Some("web1"), "{v}");
    }
}

/// "A backend VM can't reach its own internal load balancer's frontend" (Load Balancer FAQ).
#[test]
fn lbfaq_a_backend_cannot_reach_its_own_internal_frontend() {
    for era in ERAS {
        let s = sim(&lb(era, ""));
        tcp_dropped(&s, "web1", "10.0.1.100", 80, DropReason::LbOwnFrontend);
    }
}

/// HA ports: "HA ports load-balancing rules ... are available ... on an internal Standard load
/// balancer" only.
#[test]
fn lbha_ha_ports_only_on_an_internal_standard_load_balancer() {
    for era in ERAS {
        let basic = lb(era, "")
            .replace("  - name: ilb\n", "  - name: ilb\n    sku: Basic\n")
            .replace(
                "protocol: tcp, frontend_port: 80, backend_port: 80",
                "protocol: all, frontend_port: 0, backend_port: 0",
            );
        rejected(&basic, "lb-ha-ports");
    }
}

// ---------------------------------------------------------------------------------------------
// NSG statefulness over time: https://learn.microsoft.com/azure/virtual-network/network-security-groups-overview
// ---------------------------------------------------------------------------------------------

/// "If you remove a security rule that allowed a connection, existing connections aren't
/// interrupted"; a rule change affects new connections only: "Existing connections ... are not
/// reevaluated".
#[test]
fn nsg_overview_a_rule_change_does_not_break_existing_connections() {
    for era in ERAS {
        let mut yaml = nsg_case(era, "", "");
        yaml.push_str(
            "events:\n  - { at: 10ms, add_nsg_rule: { nsg: nic-nsg, rule: { name: no-peer, priority: 100, direction: inbound, access: deny, protocol: '*', source: 10.5.0.0/16, destination: '*' } } }\n",
        );
        let s = sim(&yaml);
        s.probe("peer1", "web1")
            .tcp(8080)
            .src_port(50000)
            .send()
            .assert_delivered();
        s.probe("peer1", "web1")
            .tcp(8080)
            .src_port(50000)
            .at(std::time::Duration::from_millis(20))
            .send()
            .assert_delivered();
        s.probe("peer1", "web1")
            .tcp(8080)
            .src_port(50001)
            .at(std::time::Duration::from_millis(20))
            .send()
            .assert_dropped(DropReason::NsgDenied);
    }
}

// ---------------------------------------------------------------------------------------------
// Private endpoints: https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy
// ---------------------------------------------------------------------------------------------

fn pe(era: &str, policies: &str) -> String {
    format!(
        "
name: pe
azure: {{ era: {era} }}
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    subnets:
      - {{ name: AzureFirewallSubnet, prefix: 10.0.1.0/26 }}
      - {{ name: pe, prefix: 10.0.3.0/24, nsg: pe-nsg{policies} }}
    firewall: {{ name: hub-fw, policy: pol, public_ips: [203.0.113.10] }}
  - {{ name: spoke, address_space: [10.1.0.0/16], subnets: [ {{ name: app, prefix: 10.1.1.0/24, route_table: rt }} ] }}
nsgs:
  - {{ name: pe-nsg, rules: [ {{ name: no-spoke, priority: 100, direction: inbound, access: deny, protocol: '*', source: 10.1.0.0/16, destination: '*' }} ] }}
vms:
  - {{ name: web1, size: Standard_D2s_v3, nics: [ {{ name: web1-nic, subnet: spoke/app, ip: 10.1.1.4 }} ] }}
private_endpoints:
  - {{ name: sql-pe, subnet: hub/pe, ip: 10.0.3.4, service: contoso.database.windows.net }}
route_tables:
  - {{ name: rt, routes: [ {{ name: default-via-fw, prefix: 0.0.0.0/0, next_hop: VirtualAppliance, next_hop_ip: 10.0.1.4 }} ] }}
peerings:
  - {{ name: hub-to-spoke, from: hub, to: spoke }}
  - {{ name: spoke-to-hub, from: spoke, to: hub }}
firewall_policies:
  - {{ name: pol, rule_collection_groups: [] }}
"
    )
}

/// "By default, network policies are disabled for a subnet in a virtual network": the subnet's
/// NSG does not filter traffic to the private endpoint until NetworkSecurityGroupEnabled; and
/// the endpoint's /32 route "sends traffic directly to the private endpoint in accordance with
/// the longest prefix match algorithm", past a 0.0.0.0/0 route to the firewall (which would deny).
#[test]
fn penp_the_subnet_nsg_applies_to_the_endpoint_only_with_network_policies() {
    for era in ERAS {
        let s = sim(&pe(era, ""));
        s.probe("web1", "sql-pe")
            .tcp(1433)
            .send()
            .assert_delivered()
            .assert_path(&["web1", "sql-pe"]);
        let s = sim(&pe(
            era,
            ", private_endpoint_network_policies: network_security_group_enabled",
        ));
        tcp_dropped(&s, "web1", "sql-pe", 1433, DropReason::NsgDenied);
    }
}

// ---------------------------------------------------------------------------------------------
// Virtual Network FAQ: https://learn.microsoft.com/azure/virtual-network/virtual-networks-faq
// ---------------------------------------------------------------------------------------------

/// "Azure reserves the first four and the last IP address for a total of 5 IP addresses within
/// each subnet."
#[test]
fn vnet_faq_five_addresses_of_a_subnet_are_reserved() {
    for era in ERAS {
        for ip in ["10.0.1.0", "10.0.1.1", "10.0.1.2", "10.0.1.3", "10.0.1.255"] {
            let yaml = format!(
                "
name: reserved
azure: {{ era: {era} }}
vnets:
  - {{ name: app, address_space: [10.0.0.0/16], subnets: [ {{ name: web, prefix: 10.0.1.0/24 }} ] }}
vms:
  - {{ name: web1, size: Standard_D2s_v3, nics: [ {{ name: web1-nic, subnet: app/web, ip: {ip} }} ] }}
"
            );
            rejected(&yaml, "nic-ip-reserved");
        }
    }
}

/// "The smallest supported IPv4 subnet is /29".
#[test]
fn vnet_faq_the_smallest_subnet_is_a_29() {
    for era in ERAS {
        let yaml = format!(
            "
name: small
azure: {{ era: {era} }}
vnets:
  - {{ name: app, address_space: [10.0.0.0/16], subnets: [ {{ name: web, prefix: 10.0.1.0/30 }} ] }}
"
        );
        rejected(&yaml, "subnet-prefix-length");
    }
}

/// "Are there any restrictions on using IP addresses within these subnets? ... You can't add the
/// following address ranges: 224.0.0.0/4 (Multicast), 255.255.255.255/32 (Broadcast),
/// 127.0.0.0/8 (Loopback), 169.254.0.0/16 (Link-local), 168.63.129.16/32 (Internal DNS)".
#[test]
fn vnet_faq_reserved_ranges_cannot_be_a_vnets_address_space() {
    for era in ERAS {
        for range in [
            "224.0.0.0/24",
            "127.0.0.0/16",
            "169.254.0.0/16",
            "168.63.0.0/16",
            "255.255.255.255/32",
        ] {
            let yaml = format!(
                "
name: bad-range
azure: {{ era: {era} }}
vnets:
  - {{ name: app, address_space: [{range}] }}
"
            );
            rejected(&yaml, "address-space-reserved");
        }
    }
}

/// "Can I ping my default gateway within a virtual network? No. The Azure-provided default
/// gateway doesn't respond to ping."
#[test]
fn vnet_faq_the_default_gateway_does_not_answer_ping() {
    for era in ERAS {
        let s = sim(&one_vnet(era, "", ""));
        let v = s.probe("vm-a", "10.0.1.1").icmp().send();
        assert!(!v.is_delivered(), "{v}");
    }
}

/// BGP: "System routes for traffic related to virtual network, virtual network peerings, or
/// virtual network service endpoints, are preferred routes, even if BGP routes are more
/// specific." An on-premises site advertising a /24 inside the VNet's range does not capture
/// traffic to it.
#[test]
fn udr_overview_vnet_routes_beat_more_specific_bgp_routes() {
    for era in ERAS {
        let yaml = format!(
            "
name: bgp-specific
azure: {{ era: {era} }}
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    subnets: [ {{ name: a, prefix: 10.0.1.0/24 }}, {{ name: b, prefix: 10.0.2.0/24 }}, {{ name: GatewaySubnet, prefix: 10.0.255.0/27 }} ]
    gateway: {{ name: hub-gw, sku: VpnGw1, bgp: {{ asn: 65010 }} }}
vms:
  - {{ name: vm-a, size: Standard_D2s_v3, nics: [ {{ name: vm-a-nic, subnet: hub/a, ip: 10.0.1.4 }} ] }}
  - {{ name: vm-b, size: Standard_D2s_v3, nics: [ {{ name: vm-b-nic, subnet: hub/b, ip: 10.0.2.4 }} ] }}
on_premises:
  - name: branch
    address_space: [192.168.0.0/16]
    bgp: {{ asn: 65050, peering_ip: 192.168.0.1 }}
    advertises: [192.168.0.0/16, 10.0.2.0/24]
    hosts: [ {{ name: branch-pc, ip: 192.168.1.10 }} ]
connections:
  - {{ name: to-branch, type: ipsec, from: hub-gw, to: branch, bgp: true }}
"
        );
        let s = sim(&yaml);
        s.probe("vm-a", "vm-b")
            .tcp(443)
            .send()
            .assert_delivered()
            .assert_path(&["vm-a", "vm-b"]);
        tcp_delivered(&s, "vm-a", "branch-pc", 443);
    }
}

// ---------------------------------------------------------------------------------------------
// Appliances, gateways and the firewall subnet
// ---------------------------------------------------------------------------------------------

/// NSGs filter by the 5-tuple at every NIC a packet enters or leaves, an appliance's too: "a
/// network security group ... filters network traffic to and from Azure resources" (NSG
/// overview). A deny on the appliance's subnet for the spoke's range drops forwarded traffic.
#[test]
fn nsg_overview_the_appliances_nsg_filters_forwarded_traffic() {
    for era in ERAS {
        let yaml = three_vnets(era, "", "", ", allow_forwarded_traffic: true")
            .replace(
                "{ name: nva, prefix: 10.0.1.0/24 }",
                "{ name: nva, prefix: 10.0.1.0/24, nsg: nva-nsg }",
            )
            .replace(
                "route_tables:",
                "nsgs:\n  - { name: nva-nsg, rules: [ { name: no-spoke1, priority: 100, direction: inbound, access: deny, protocol: '*', source: 10.1.0.0/16, destination: '*' } ] }\nroute_tables:",
            );
        let s = sim(&yaml);
        tcp_dropped(&s, "web1", "db2", 443, DropReason::NsgDenied);
        s.probe("db2", "web1").tcp(443).send().assert_delivered();
    }
}

/// Azure Firewall FAQ: "Subnet level NSGs aren't required on the AzureFirewallSubnet, and are
/// disabled to ensure no service interruption." An NSG on that subnet does not filter what the
/// firewall carries.
#[test]
fn fw_faq_an_nsg_on_the_firewall_subnet_is_disabled() {
    for era in ERAS {
        let c = "          - { name: net, priority: 100, kind: network, action: allow, rules: [ { name: any-443, protocols: [TCP], source_addresses: ['*'], destination_addresses: ['*'], destination_ports: ['443'] } ] }";
        let yaml = firewall(era, c)
            .replace(
                "{ name: AzureFirewallSubnet, prefix: 10.0.1.0/26 }",
                "{ name: AzureFirewallSubnet, prefix: 10.0.1.0/26, nsg: fw-nsg }",
            )
            .replace(
                "route_tables:",
                "nsgs:\n  - { name: fw-nsg, rules: [ { name: deny-in, priority: 100, direction: inbound, access: deny, protocol: '*', source: '*', destination: '*' }, { name: deny-out, priority: 100, direction: outbound, access: deny, protocol: '*', source: '*', destination: '*' } ] }\nroute_tables:",
            );
        let s = sim(&yaml);
        s.probe("web1", "other").tcp(443).send().assert_delivered();
    }
}

/// A user route on GatewaySubnet sends on-premises traffic for a spoke through an appliance in
/// the hub (gw-transit, "Configure VPN gateway transit", and the hub-spoke reference
/// architecture: "a user-defined route on the GatewaySubnet" routes on-premises traffic through
/// the NVA).
#[test]
fn gw_transit_a_route_on_gateway_subnet_takes_on_premises_traffic_through_an_appliance() {
    for era in ERAS {
        let yaml = format!(
            "
name: gw-udr
azure: {{ era: {era} }}
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    subnets: [ {{ name: nva, prefix: 10.0.1.0/24 }}, {{ name: GatewaySubnet, prefix: 10.0.255.0/27, route_table: gw-rt }} ]
    gateway: {{ name: hub-gw, sku: VpnGw1 }}
  - {{ name: spoke, address_space: [10.1.0.0/16], subnets: [ {{ name: app, prefix: 10.1.1.0/24, route_table: spoke-rt }} ] }}
vms:
  - {{ name: nva, size: Standard_D2s_v3, forwarding: true, nics: [ {{ name: nva-nic, subnet: hub/nva, ip: 10.0.1.4, ip_forwarding: true }} ] }}
  - {{ name: app-vm, size: Standard_D2s_v3, nics: [ {{ name: app-vm-nic, subnet: spoke/app, ip: 10.1.1.4 }} ] }}
route_tables:
  - {{ name: gw-rt, routes: [ {{ name: spoke-via-nva, prefix: 10.1.0.0/16, next_hop: VirtualAppliance, next_hop_ip: 10.0.1.4 }} ] }}
  - {{ name: spoke-rt, disable_gateway_route_propagation: true, routes: [ {{ name: onprem-via-nva, prefix: 192.168.0.0/16, next_hop: VirtualAppliance, next_hop_ip: 10.0.1.4 }} ] }}
peerings:
  - {{ name: hub-to-spoke, from: hub, to: spoke, allow_gateway_transit: true }}
  - {{ name: spoke-to-hub, from: spoke, to: hub, use_remote_gateways: true, allow_forwarded_traffic: true }}
on_premises:
  - name: branch
    address_space: [192.168.0.0/16]
    connection: hub
    hosts: [ {{ name: branch-pc, ip: 192.168.1.10 }} ]
"
        );
        let s = sim(&yaml);
        s.probe("branch-pc", "app-vm")
            .tcp(443)
            .send()
            .assert_delivered()
            .assert_path(&["branch-pc", "hub-gw", "nva", "app-vm"]);
        s.fresh()
            .probe("app-vm", "branch-pc")
            .tcp(443)
            .send()
            .assert_delivered()
            .assert_path(&["app-vm", "nva", "hub-gw", "branch-pc"]);
    }
}

/// A private endpoint is reachable "from ... on-premises" through the VNet's gateway (Private
/// Endpoint overview: "connect privately ... from on-premises using VPN or ExpressRoute").
#[test]
fn peov_an_endpoint_is_reachable_from_on_premises() {
    for era in ERAS {
        let yaml = format!(
            "
name: pe-onprem
azure: {{ era: {era} }}
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    subnets: [ {{ name: pe, prefix: 10.0.3.0/24 }}, {{ name: GatewaySubnet, prefix: 10.0.255.0/27 }} ]
    gateway: {{ name: hub-gw, sku: VpnGw1 }}
private_endpoints:
  - {{ name: sql-pe, subnet: hub/pe, service: contoso.database.windows.net }}
on_premises:
  - name: branch
    address_space: [192.168.0.0/16]
    connection: hub
    hosts: [ {{ name: branch-pc, ip: 192.168.1.10 }} ]
"
        );
        let s = sim(&yaml);
        tcp_delivered(&s, "branch-pc", "sql-pe", 1433);
    }
}

/// A peering with one link only is Initiated and carries nothing ("the peering status is
/// Initiated ... Connected once both links exist", manage-peering).
#[test]
fn manage_peering_a_one_sided_peering_carries_nothing() {
    for era in ERAS {
        let yaml =
            nsg_case(era, "", "").replace("  - { name: peer-to-app, from: peer, to: app }\n", "");
        let s = sim(&yaml);
        assert!(!s.probe("peer1", "web1").tcp(443).send().is_delivered());
        assert!(!s.probe("web1", "peer1").tcp(443).send().is_delivered());
    }
}

/// "Only one peering of a VNet may use a remote gateway" (manage-peering: "You can't use remote
/// gateways ... on more than one peering"), and two classic VNets never peer (2016: "Two VNets
/// created through the classic deployment model cannot be peered to each other").
#[test]
fn manage_peering_validation_rules_from_the_pages() {
    for era in ERAS {
        let yaml = format!(
            "
name: two-remote
azure: {{ era: {era} }}
vnets:
  - {{ name: hub1, address_space: [10.0.0.0/16], subnets: [ {{ name: GatewaySubnet, prefix: 10.0.255.0/27 }} ], gateway: {{ name: gw1, sku: VpnGw1 }} }}
  - {{ name: hub2, address_space: [10.2.0.0/16], subnets: [ {{ name: GatewaySubnet, prefix: 10.2.255.0/27 }} ], gateway: {{ name: gw2, sku: VpnGw1 }} }}
  - {{ name: spoke, address_space: [10.1.0.0/16] }}
peerings:
  - {{ name: h1-s, from: hub1, to: spoke, allow_gateway_transit: true }}
  - {{ name: s-h1, from: spoke, to: hub1, use_remote_gateways: true }}
  - {{ name: h2-s, from: hub2, to: spoke, allow_gateway_transit: true }}
  - {{ name: s-h2, from: spoke, to: hub2, use_remote_gateways: true }}
"
        );
        rejected(&yaml, "use-remote-gateways-multiple");
        let classic = format!(
            "
name: classic
azure: {{ era: {era} }}
vnets:
  - {{ name: a, deployment: classic, address_space: [10.0.0.0/16] }}
  - {{ name: b, deployment: classic, address_space: [10.1.0.0/16] }}
peerings:
  - {{ name: a-b, from: a, to: b }}
"
        );
        rejected(&classic, "peering-");
    }
}

/// Placement rules: "The GatewaySubnet ... don't deploy anything else (for example, additional
/// VMs) to the gateway subnet" (VPN Gateway settings) and "AzureFirewallSubnet ... must be at
/// least /26" (Azure Firewall FAQ).
#[test]
fn gateway_and_firewall_subnets_hold_only_their_service() {
    for era in ERAS {
        let gw = format!(
            "
name: gw-vm
azure: {{ era: {era} }}
vnets:
  - {{ name: hub, address_space: [10.0.0.0/16], subnets: [ {{ name: GatewaySubnet, prefix: 10.0.255.0/27 }} ] }}
vms:
  - {{ name: vm, size: Standard_D2s_v3, nics: [ {{ name: vm-nic, subnet: hub/GatewaySubnet, ip: 10.0.255.4 }} ] }}
"
        );
        rejected(&gw, "nic-in-gateway-subnet");
        let fw = firewall(era, "          - { name: app, priority: 100, kind: application, action: allow, rules: [ { name: contoso, protocols: ['Https:443'], source_addresses: ['*'], target_fqdns: [www.contoso.com] } ] }")
            .replace("10.0.1.0/26", "10.0.1.0/27");
        rejected(&fw, "firewall-subnet-size");
    }
}

/// The worked example of the routing page: Subnet1's route table holds "Within-VNet1"
/// (10.0.0.0/16 -> Virtual appliance) and "Within-Subnet1" (10.0.0.0/24 -> Virtual network),
/// the latter so that "traffic destined for addresses within Subnet1 is routed within the
/// subnet, rather than to the NVA": a user route covering a subnet's own prefix also routes
/// traffic between two VMs of that subnet.
#[test]
fn udr_overview_a_user_route_also_routes_traffic_inside_the_subnet() {
    for era in ERAS {
        let extra_vm = "  - { name: vm-a2, size: Standard_D2s_v3, nics: [ { name: vm-a2-nic, subnet: hub/a, ip: 10.0.1.5 } ] }\non_premises:";
        let via_nva = one_vnet(
            era,
            ", route_table: rt",
            "route_tables:\n  - { name: rt, routes: [ { name: within-vnet, prefix: 10.0.0.0/16, next_hop: VirtualAppliance, next_hop_ip: 10.0.2.10 } ] }",
        )
        .replacen("on_premises:", extra_vm, 1);
        let s = sim(&via_nva);
        s.probe("vm-a", "vm-a2")
            .tcp(443)
            .send()
            .assert_delivered()
            .assert_path(&["vm-a", "nva", "vm-a2"]);
        let within_subnet = one_vnet(
            era,
            ", route_table: rt",
            "route_tables:\n  - { name: rt, routes: [ { name: within-vnet, prefix: 10.0.0.0/16, next_hop: VirtualAppliance, next_hop_ip: 10.0.2.10 }, { name: within-subnet, prefix: 10.0.1.0/24, next_hop: VnetLocal } ] }",
        )
        .replacen("on_premises:", extra_vm, 1);
        let s = sim(&within_subnet);
        s.probe("vm-a", "vm-a2")
            .tcp(443)
            .send()
            .assert_delivered()
            .assert_path(&["vm-a", "vm-a2"]);
        s.probe("vm-a", "vm-b")
            .tcp(443)
            .send()
            .assert_delivered()
            .assert_path(&["vm-a", "nva", "vm-b"]);
    }
}

/// An IPv4 packet of IP protocol `protocol` with an 8-byte payload, header checksum set.
fn raw_ipv4(src: [u8; 4], dst: [u8; 4], protocol: u8) -> Vec<u8> {
    let mut p = vec![
        0x45, 0, 0, 28, 0, 1, 0, 0, 64, protocol, 0, 0, src[0], src[1], src[2], src[3], dst[0],
        dst[1], dst[2], dst[3], 0, 0, 0, 1, 0, 0, 0, 1,
    ];
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

/// Virtual Network FAQ: "You can use TCP, UDP, ESP, AH, and ICMP TCP/IP protocols within virtual
/// networks"; NSG overview: a rule's protocol is "TCP, UDP, ICMP, ESP, AH, or Any". ESP and AH
/// cross a peering under the default rules, and a rule naming ESP (or AH) matches them only.
#[test]
fn nsg_overview_rules_match_esp_and_ah() {
    for era in ERAS {
        let s = sim(&nsg_case(era, "", ""));
        for proto in [50u8, 51] {
            s.send_bytes("peer1", &raw_ipv4([10, 5, 1, 4], [10, 0, 1, 4], proto))
                .unwrap()
                .assert_delivered();
        }
        let deny_esp = "{ name: no-esp, priority: 100, direction: inbound, access: deny, protocol: esp, source: '*', destination: '*' }, { name: no-ah, priority: 110, direction: inbound, access: deny, protocol: Ah, source: '*', destination: '*' }";
        let s = sim(&nsg_case(era, "", deny_esp));
        for proto in [50u8, 51] {
            s.send_bytes("peer1", &raw_ipv4([10, 5, 1, 4], [10, 0, 1, 4], proto))
                .unwrap()
                .assert_dropped(DropReason::NsgDenied);
        }
        s.probe("peer1", "web1").tcp(443).send().assert_delivered();
        s.probe("peer1", "web1").icmp().send().assert_delivered();
    }
}

/// Gateway transit: the spoke gets the gateway's routes "unless the spoke subnet's route table
/// disables propagation" (Configure VPN gateway transit, "Propagate gateway routes").
#[test]
fn gw_transit_a_spoke_table_without_propagation_loses_the_gateway_routes() {
    for era in ERAS {
        let yaml = transit(
            era,
            ", allow_gateway_transit: true",
            ", use_remote_gateways: true",
            false,
        )
        .replace(", nsg: app-nsg", ", route_table: rt")
        .replace(
            "nsgs:\n",
            "route_tables:\n  - { name: rt, disable_gateway_route_propagation: true }\nnsgs:\n",
        );
        let s = sim(&yaml);
        tcp_dropped(&s, "app-vm", "branch-pc", 3389, DropReason::NoRoute);
    }
}

/// Default outbound access: a private subnet's VMs "reach no public endpoint" without an
/// explicit outbound method: another VM's public IP is a public endpoint too.
#[test]
fn doa_a_private_subnet_reaches_no_public_ip_not_even_azures() {
    let yaml = "
name: doa-pip
azure: { era: current }
vnets:
  - { name: app, address_space: [10.0.0.0/16], subnets: [ { name: web, prefix: 10.0.1.0/24 } ] }
  - { name: other, address_space: [10.1.0.0/16], subnets: [ { name: web, prefix: 10.1.1.0/24, default_outbound_access: true } ] }
vms:
  - { name: plain, size: Standard_D2s_v3, nics: [ { name: plain-nic, subnet: app/web, ip: 10.0.1.4 } ] }
  - { name: pip, size: Standard_D2s_v3, nics: [ { name: pip-nic, subnet: other/web, ip: 10.1.1.5, public_ip: 203.0.113.5, public_ip_sku: Basic } ] }
  - { name: legacy, size: Standard_D2s_v3, nics: [ { name: legacy-nic, subnet: other/web, ip: 10.1.1.6 } ] }
";
    let s = sim(yaml);
    tcp_dropped(
        &s,
        "plain",
        "203.0.113.5",
        443,
        DropReason::NoOutboundAccess,
    );
    // A subnet that keeps default outbound access reaches it.
    tcp_delivered(&s, "legacy", "203.0.113.5", 443);
}

/// Azure Firewall is stateful: "allowing A to B does not allow connections started by B"
/// (rule processing): a network rule spoke1 -> spoke2 does not let spoke2 open a connection back.
#[test]
fn fwrule_an_allow_rule_does_not_allow_the_reverse_connection() {
    for era in ERAS {
        let yaml = format!(
            "
name: fw-stateful
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
firewall_policies:
  - name: pol
    rule_collection_groups:
      - name: g
        priority: 100
        rule_collections:
          - {{ name: net, priority: 100, kind: network, action: allow, rules: [ {{ name: web-to-db, protocols: [TCP], source_addresses: [10.1.0.0/16], destination_addresses: [10.2.0.0/16], destination_ports: ['1433'] }} ] }}
"
        );
        let s = sim(&yaml);
        s.probe("web1", "db2")
            .tcp(1433)
            .src_port(50000)
            .send()
            .assert_delivered();
        // The reply passes on the session.
        s.probe("db2", "web1")
            .tcp(50000)
            .src_port(1433)
            .send()
            .assert_delivered();
        // A connection db2 opens is denied.
        tcp_dropped(&s, "db2", "web1", 1433, DropReason::FirewallDenied);
    }
}

/// NSG overview: "Priority: A number between 100 and 4096"; ASG overview: "All network
/// interfaces assigned to an application security group have to exist in the same virtual
/// network that the first network interface assigned to the application security group is in."
#[test]
fn nsg_and_asg_validation_rules_from_the_pages() {
    for era in ERAS {
        for priority in [99, 4097] {
            let rule = format!(
                "{{ name: r, priority: {priority}, direction: inbound, access: allow, protocol: tcp, source: '*', destination: '*' }}"
            );
            rejected(&nsg_case(era, &rule, ""), "nsg-priority-range");
        }
        let yaml = format!(
            "
name: asg-vnets
azure: {{ era: {era} }}
application_security_groups: [ {{ name: asg-web }} ]
vnets:
  - {{ name: a, address_space: [10.0.0.0/16], subnets: [ {{ name: web, prefix: 10.0.1.0/24 }} ] }}
  - {{ name: b, address_space: [10.1.0.0/16], subnets: [ {{ name: web, prefix: 10.1.1.0/24 }} ] }}
vms:
  - {{ name: web1, size: Standard_D2s_v3, nics: [ {{ name: web1-nic, subnet: a/web, ip: 10.0.1.4, application_security_groups: [asg-web] }} ] }}
  - {{ name: web2, size: Standard_D2s_v3, nics: [ {{ name: web2-nic, subnet: b/web, ip: 10.1.1.4, application_security_groups: [asg-web] }} ] }}
"
        );
        rejected(&yaml, "asg-vnet");
    }
}

/// Service tags: VirtualNetwork includes "virtual networks connected to a virtual network
/// gateway" (2021+; in 2016 "VNet to VNet address spaces"): a VM of a VNet joined by a
/// VNet-to-VNet connection passes AllowVNetInBound.
#[test]
fn service_tags_virtual_network_includes_vnets_connected_by_a_gateway() {
    for era in ERAS {
        let yaml = format!(
            "
name: v2v-tag
azure: {{ era: {era} }}
vnets:
  - name: a
    address_space: [10.0.0.0/16]
    subnets: [ {{ name: app, prefix: 10.0.1.0/24 }}, {{ name: GatewaySubnet, prefix: 10.0.255.0/27 }} ]
    gateway: {{ name: gw-a, sku: VpnGw1 }}
  - name: b
    address_space: [10.1.0.0/16]
    subnets: [ {{ name: app, prefix: 10.1.1.0/24, nsg: b-nsg }}, {{ name: GatewaySubnet, prefix: 10.1.255.0/27 }} ]
    gateway: {{ name: gw-b, sku: VpnGw1 }}
nsgs:
  - {{ name: b-nsg, rules: [] }}
vms:
  - {{ name: vm-a, size: Standard_D2s_v3, nics: [ {{ name: vm-a-nic, subnet: a/app, ip: 10.0.1.4 }} ] }}
  - {{ name: vm-b, size: Standard_D2s_v3, nics: [ {{ name: vm-b-nic, subnet: b/app, ip: 10.1.1.4 }} ] }}
connections:
  - {{ name: a-to-b, type: vnet2vnet, from: gw-a, to: gw-b }}
  - {{ name: b-to-a, type: vnet2vnet, from: gw-b, to: gw-a }}
"
        );
        let s = sim(&yaml);
        s.probe("vm-a", "vm-b")
            .tcp(443)
            .send()
            .assert_delivered()
            .assert_path(&["vm-a", "gw-a", "gw-b", "vm-b"]);
        s.fresh()
            .probe("vm-b", "vm-a")
            .tcp(443)
            .send()
            .assert_delivered();
    }
}

/// Virtual Network FAQ: "The smallest supported IPv4 subnet is /29, and the largest is /2" (the
/// 2016-2019 FAQ: the largest is /8).
#[test]
fn vnet_faq_subnet_sizes_follow_the_era() {
    let yaml = |era: &str| {
        format!(
            "
name: big
azure: {{ era: {era} }}
vnets:
  - {{ name: app, address_space: [64.0.0.0/3], subnets: [ {{ name: web, prefix: 64.0.0.0/7 }} ] }}
"
        )
    };
    rejected(&yaml("2016"), "subnet-prefix-length");
    sim(&yaml("current"));
}

/// Service tags overview, column "Can use with Azure Firewall?": "No" for VirtualNetwork,
/// Internet, AzureLoadBalancer, AzurePlatformDNS, AzurePlatformIMDS and AzurePlatformLKM. A
/// firewall rule naming one is refused.
#[test]
fn service_tags_the_modelled_tags_cannot_be_used_in_azure_firewall() {
    for era in ERAS {
        for tag in [
            "VirtualNetwork",
            "Internet",
            "AzureLoadBalancer",
            "AzurePlatformDNS",
        ] {
            let c = format!(
                "          - {{ name: net, priority: 100, kind: network, action: allow, rules: [ {{ name: tagged, protocols: [TCP], source_addresses: ['*'], destination_addresses: [{tag}], destination_ports: ['443'] }} ] }}"
            );
            rejected(&firewall(era, &c), "firewall-address");
        }
    }
}

/// Configure VPN gateway transit (current page): "The transit option ... can be used with all
/// VPN Gateway SKUs except the Basic SKU." The 2016 and 2018 pages are silent: era 2016 allows it.
#[test]
fn gw_transit_the_basic_sku_does_not_support_transit_today() {
    let basic = |era: &str| {
        transit(
            era,
            ", allow_gateway_transit: true",
            ", use_remote_gateways: true",
            false,
        )
        .replace("sku: VpnGw1", "sku: Basic")
    };
    rejected(&basic("current"), "gateway-transit-basic");
    sim(&basic("2016"))
        .probe("app-vm", "branch-pc")
        .tcp(3389)
        .send()
        .assert_delivered();
}

/// Routing page, "Virtual network gateway" next hop: "You can't specify a virtual network gateway
/// created as type ExpressRoute in a user-defined route ... You can't specify Virtual Network
/// Gateways if you have VPN and ExpressRoute coexisting connections either."
#[test]
fn udr_overview_no_user_route_to_a_gateway_when_vpn_and_expressroute_coexist() {
    for era in ERAS {
        let yaml = |gateway: &str| {
            format!(
                "
name: coexist
azure: {{ era: {era} }}
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    subnets:
      - {{ name: app, prefix: 10.0.1.0/24, route_table: rt }}
      - {{ name: GatewaySubnet, prefix: 10.0.255.0/27 }}
    gateway: {gateway}
route_tables:
  - {{ name: rt, routes: [ {{ name: onprem-via-gw, prefix: 192.168.0.0/16, next_hop: VirtualNetworkGateway }} ] }}
on_premises:
  - {{ name: branch, address_space: [192.168.0.0/16], connection: vpn, hosts: [ {{ name: branch-pc, ip: 192.168.1.10 }} ] }}
vms:
  - {{ name: vm, size: Standard_D2s_v3, nics: [ {{ name: nic, subnet: hub/app, ip: 10.0.1.4 }} ] }}
"
            )
        };
        sim(&yaml("{ name: vpn, sku: VpnGw1 }"))
            .probe("vm", "branch-pc")
            .tcp(443)
            .send()
            .assert_delivered();
        rejected(
            &yaml(
                "[ { name: vpn, sku: VpnGw1, type: vpn }, { name: er, sku: ErGw1AZ, type: expressroute } ]",
            ),
            "udr-gateway-expressroute",
        );
    }
}

/// Virtual Network FAQ, "What protocols can I use within VNets?": "You can't use Dynamic Host
/// Configuration Protocol (DHCP) via Unicast (source port UDP/68 / destination port UDP/67)."
/// Such a packet between VMs is not carried (`protocol-blocked`); the platform's own DHCP at
/// 168.63.129.16 still answers.
#[test]
fn vnet_faq_dhcp_via_unicast_is_not_carried() {
    for era in ERAS {
        let s = sim(&nsg_case(era, "", ""));
        s.probe("peer1", "web1")
            .udp(67)
            .src_port(68)
            .send()
            .assert_dropped(DropReason::ProtocolBlocked);
        s.probe("web2", "web1")
            .udp(67)
            .src_port(68)
            .send()
            .assert_dropped(DropReason::ProtocolBlocked);
        s.probe("web2", "168.63.129.16")
            .udp(67)
            .src_port(68)
            .send()
            .assert_delivered();
        s.probe("web2", "web1")
            .udp(67)
            .src_port(1068)
            .send()
            .assert_delivered();
    }
}

/// Virtual Network FAQ, "What protocols can I use within VNets?": "Unicast is supported within
/// VNets, with the exception of Dynamic Host Configuration Protocol (DHCP) via Unicast (source
/// port UDP/68 / destination port UDP/67) and UDP source port 65330 which is reserved for the
/// host." A VM's UDP packet from source port 65330 is not carried (`protocol-blocked`), to a
/// VM or to the Internet; TCP from that port, and UDP to it, are.
#[test]
fn vnet_faq_udp_source_port_65330_is_reserved_for_the_host() {
    for era in ERAS {
        let s = sim(&nsg_case(era, "", ""));
        for to in ["web1", "198.51.100.9"] {
            s.probe("web2", to)
                .udp(53)
                .src_port(65330)
                .send()
                .assert_dropped(DropReason::ProtocolBlocked);
        }
        s.probe("web2", "web1")
            .udp(53)
            .src_port(65329)
            .send()
            .assert_delivered();
        s.probe("web2", "web1")
            .tcp(443)
            .src_port(65330)
            .send()
            .assert_delivered();
        s.probe("web2", "web1")
            .udp(65330)
            .src_port(40000)
            .send()
            .assert_delivered();
    }
}

/// NSG overview: inbound traffic is evaluated "after ... translation of public IP addresses to
/// private IP addresses": a rule whose destination is the VM's private address admits traffic
/// the Internet sends to the VM's public IP.
#[test]
fn nsg_overview_inbound_rules_see_the_private_address_after_translation() {
    for era in ERAS {
        let allow = "{ name: to-private, priority: 100, direction: inbound, access: allow, protocol: tcp, source: Internet, destination: 10.0.1.4, destination_ports: '443' }";
        let s = sim(&nsg_case(era, allow, allow));
        tcp_delivered(&s, "client", "203.0.113.4", 443);
        let public = "{ name: to-public, priority: 100, direction: inbound, access: allow, protocol: tcp, source: Internet, destination: 203.0.113.4, destination_ports: '443' }";
        let s = sim(&nsg_case(era, public, public));
        tcp_dropped(&s, "client", "203.0.113.4", 443, DropReason::NsgDenied);
    }
}
