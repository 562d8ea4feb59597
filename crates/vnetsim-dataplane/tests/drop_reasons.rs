//! One test per drop reason the forwarding pipeline produces, asserting the stable reason of
//! the scenario contract and the [`DropCause`] naming what decided it.
//!
//! Private 10.x space is used on purpose where the reserved `10.0.0.0/8 -> None` route matters:
//! with public ranges the 0.0.0.0/0 Internet route would carry the packet instead.

mod common;

use common::{Net, dropped, forwarders, routes_taken, tcp_spec};
use vnetsim_dataplane::nsg::RuleRef;
use vnetsim_dataplane::pipeline::{DropCause, NotCarried, NsgPoint};
use vnetsim_dataplane::routes::RouteSource;
use vnetsim_dataplane::wire::{self, Malformed, PacketSpec};
use vnetsim_dataplane::{Destination, FlowTable, Ingress, Outcome, PeeringState, Step};
use vnetsim_scenario::{Direction, DropReason, Protocol};

// ---------------------------------------------------------------------------------------------
// nsg-denied [nsg-how]: inbound subnet NSG then NIC NSG; outbound NIC NSG then subnet NSG; a
// deny at the first stage ends the evaluation.

/// `x` in s2 (no NSG) and `y` in s1 (subnet NSG `s-nsg`, NIC NSG `n-nsg`).
fn nsg_net(subnet_rules: &str, nic_rules: &str) -> Net {
    Net::new(&format!(
        r#"
name: nsg-points
vnets:
  - name: v
    address_space: [10.0.0.0/16]
    subnets:
      - {{ name: s1, prefix: 10.0.1.0/24, nsg: s-nsg }}
      - {{ name: s2, prefix: 10.0.2.0/24 }}
vms:
  - {{ name: y, size: Standard_D2s_v3, nics: [ {{ name: y-nic, subnet: v/s1, ip: 10.0.1.4, nsg: n-nsg }} ] }}
  - {{ name: x, size: Standard_D2s_v3, nics: [ {{ name: x-nic, subnet: v/s2, ip: 10.0.2.4 }} ] }}
nsgs:
  - {{ name: s-nsg, rules: {subnet_rules} }}
  - {{ name: n-nsg, rules: {nic_rules} }}
"#
    ))
}

fn deny_ssh(direction: &str) -> String {
    format!(
        "[ {{ name: deny-ssh, priority: 200, direction: {direction}, access: deny, protocol: tcp, destination_ports: 22 }} ]"
    )
}

fn nsg_cause(
    net: &Net,
    point: NsgPoint,
    nsg: &str,
    direction: Direction,
) -> (DropReason, DropCause) {
    (
        DropReason::NsgDenied,
        DropCause::Nsg {
            point,
            nsg: net.nsg(nsg),
            direction,
            rule: RuleRef::User(0),
        },
    )
}

#[test]
fn nsg_denied_by_subnet_nsg_inbound() {
    let net = nsg_net(&deny_ssh("inbound"), "[]");
    let r = net.send("x", "y", Protocol::Tcp, 22);
    let point = NsgPoint::Subnet(net.subnet("v/s1"));
    assert_eq!(
        dropped(&r),
        nsg_cause(&net, point, "s-nsg", Direction::Inbound)
    );
    // Another port passes both NSGs (AllowVNetInBound).
    assert!(matches!(
        net.send("x", "y", Protocol::Tcp, 80).outcome,
        Outcome::Delivered(_)
    ));
}

#[test]
fn nsg_denied_by_nic_nsg_inbound() {
    let net = nsg_net("[]", &deny_ssh("inbound"));
    let r = net.send("x", "y", Protocol::Tcp, 22);
    let point = NsgPoint::Nic(net.nic("y-nic"));
    assert_eq!(
        dropped(&r),
        nsg_cause(&net, point, "n-nsg", Direction::Inbound)
    );
}

#[test]
fn nsg_denied_by_subnet_nsg_outbound() {
    let net = nsg_net(&deny_ssh("outbound"), "[]");
    let r = net.send("y", "x", Protocol::Tcp, 22);
    let point = NsgPoint::Subnet(net.subnet("v/s1"));
    assert_eq!(
        dropped(&r),
        nsg_cause(&net, point, "s-nsg", Direction::Outbound)
    );
}

#[test]
fn nsg_denied_by_nic_nsg_outbound() {
    let net = nsg_net("[]", &deny_ssh("outbound"));
    let r = net.send("y", "x", Protocol::Tcp, 22);
    let point = NsgPoint::Nic(net.nic("y-nic"));
    assert_eq!(
        dropped(&r),
        nsg_cause(&net, point, "n-nsg", Direction::Outbound)
    );
}

/// [nsg-how] Both NSGs deny; the first one in Azure's order is the one that decides, and the
/// second is never evaluated: subnet first inbound, NIC first outbound.
#[test]
fn nsg_deny_at_the_first_stage_stops_the_second() {
    let net = nsg_net(&deny_ssh("inbound"), &deny_ssh("inbound"));
    let r = net.send("x", "y", Protocol::Tcp, 22);
    let point = NsgPoint::Subnet(net.subnet("v/s1"));
    assert_eq!(
        dropped(&r),
        nsg_cause(&net, point, "s-nsg", Direction::Inbound)
    );
    assert!(
        !r.steps.iter().any(|s| matches!(s, Step::Nsg { .. })),
        "{:#?}",
        r.steps
    );

    let net = nsg_net(&deny_ssh("outbound"), &deny_ssh("outbound"));
    let r = net.send("y", "x", Protocol::Tcp, 22);
    let point = NsgPoint::Nic(net.nic("y-nic"));
    assert_eq!(
        dropped(&r),
        nsg_cause(&net, point, "n-nsg", Direction::Outbound)
    );
    assert!(
        !r.steps.iter().any(|s| matches!(s, Step::Nsg { .. })),
        "{:#?}",
        r.steps
    );
}

// ---------------------------------------------------------------------------------------------
// no-route [udr-overview], [manage-peering]

const THREE_VNETS: &str = r#"
  - name: a
    address_space: [10.0.0.0/16]
    subnets: [ { name: app, prefix: 10.0.1.0/24 } ]
  - name: b
    address_space: [10.1.0.0/16]
    subnets: [ { name: app, prefix: 10.1.1.0/24 } ]
  - name: c
    address_space: [10.2.0.0/16]
    subnets: [ { name: app, prefix: 10.2.1.0/24 } ]
vms:
  - { name: a-vm, size: Standard_D2s_v3, nics: [ { name: a-nic, subnet: a/app, ip: 10.0.1.4 } ] }
  - { name: b-vm, size: Standard_D2s_v3, nics: [ { name: b-nic, subnet: b/app, ip: 10.1.1.4 } ] }
  - { name: c-vm, size: Standard_D2s_v3, nics: [ { name: c-nic, subnet: c/app, ip: 10.2.1.4 } ] }
"#;

fn three(peerings: &str) -> Net {
    Net::new(&format!(
        "name: three\nvnets:{THREE_VNETS}peerings: {peerings}\n"
    ))
}

fn none_route(net: &Net, subnet: &str, prefix: &str) -> (DropReason, DropCause) {
    let s = net.subnet(subnet);
    let route = net.route_index(s, RouteSource::Default, prefix);
    (
        DropReason::NoRoute,
        DropCause::NoneRoute { subnet: s, route },
    )
}

/// [udr-overview] Unassigned private space hits the reserved 10.0.0.0/8 -> None route.
#[test]
fn no_route_by_the_reserved_none_route() {
    let net = three("[]");
    let r = net.ping("a-vm", "10.200.0.1");
    assert_eq!(dropped(&r), none_route(&net, "a/app", "10.0.0.0/8"));
}

/// [vnet-faq], [manage-peering] A link on one side only is Initiated: no peering route on either
/// side, so the peer's space falls to 10.0.0.0/8 -> None.
#[test]
fn no_route_over_a_one_sided_initiated_peering() {
    let net = three("[ { name: a-to-b, from: a, to: b } ]");
    assert_eq!(
        net.dp.peerings().state(net.peering("a-to-b")),
        PeeringState::Initiated
    );
    assert_eq!(
        dropped(&net.ping("a-vm", "b-vm")),
        none_route(&net, "a/app", "10.0.0.0/8")
    );
    assert_eq!(
        dropped(&net.ping("b-vm", "a-vm")),
        none_route(&net, "b/app", "10.0.0.0/8")
    );
}

/// [manage-peering] Peering is not transitive: a-b and b-c peered, a cannot reach c.
#[test]
fn no_route_without_transitivity() {
    let net = three(
        "[ { name: a-to-b, from: a, to: b }, { name: b-to-a, from: b, to: a }, \
           { name: b-to-c, from: b, to: c }, { name: c-to-b, from: c, to: b } ]",
    );
    assert_eq!(
        dropped(&net.ping("a-vm", "c-vm")),
        none_route(&net, "a/app", "10.0.0.0/8")
    );
    assert_eq!(
        dropped(&net.ping("c-vm", "a-vm")),
        none_route(&net, "c/app", "10.0.0.0/8")
    );
    // Each direct peering works.
    assert!(matches!(
        net.ping("a-vm", "b-vm").outcome,
        Outcome::Delivered(_)
    ));
    assert!(matches!(
        net.ping("b-vm", "c-vm").outcome,
        Outcome::Delivered(_)
    ));
}

// ---------------------------------------------------------------------------------------------
// no-destination (scenario contract): the route leads into a VNet where no NIC holds the address.

#[test]
fn no_destination_for_an_unused_address_in_a_peered_vnet() {
    let net = three("[ { name: a-to-b, from: a, to: b }, { name: b-to-a, from: b, to: a } ]");
    let r = net.ping("a-vm", "10.1.1.99");
    assert_eq!(
        dropped(&r),
        (
            DropReason::NoDestination,
            DropCause::NoNic {
                vnet: net.vnet("b")
            }
        )
    );
    // The peering route was taken.
    let s = net.subnet("a/app");
    assert_eq!(
        routes_taken(&r.steps),
        vec![(s, net.route_index(s, RouteSource::Default, "10.1.0.0/16"))]
    );
}

// ---------------------------------------------------------------------------------------------
// forwarding-disabled [nic], [diag-routing]: an appliance NIC needs IP forwarding, and the guest
// must forward.

fn appliance_net(ip_forwarding: bool, forwarding: bool) -> Net {
    Net::new(&format!(
        r#"
name: appliance
vnets:
  - name: v
    address_space: [10.0.0.0/16]
    subnets:
      - {{ name: app, prefix: 10.0.1.0/24, route_table: via-nva }}
      - {{ name: nva, prefix: 10.0.100.0/24 }}
      - {{ name: db, prefix: 10.0.2.0/24 }}
vms:
  - {{ name: app-vm, size: Standard_D2s_v3, nics: [ {{ name: app-nic, subnet: v/app, ip: 10.0.1.4 }} ] }}
  - {{ name: db-vm, size: Standard_D2s_v3, nics: [ {{ name: db-nic, subnet: v/db, ip: 10.0.2.4 }} ] }}
  - name: nva
    size: Standard_D2s_v3
    forwarding: {forwarding}
    nics: [ {{ name: nva-nic, subnet: v/nva, ip: 10.0.100.4, ip_forwarding: {ip_forwarding} }} ]
route_tables:
  - name: via-nva
    routes: [ {{ name: db, prefix: 10.0.2.0/24, next_hop: VirtualAppliance, next_hop_ip: 10.0.100.4 }} ]
"#
    ))
}

#[test]
fn forwarding_disabled_on_the_appliance_nic() {
    let net = appliance_net(false, true);
    let r = net.ping("app-vm", "db-vm");
    assert_eq!(
        dropped(&r),
        (
            DropReason::ForwardingDisabled,
            DropCause::NicIpForwardingOff {
                nic: net.nic("nva-nic")
            }
        )
    );
    // With IP forwarding on, the same packet goes through.
    let net = appliance_net(true, true);
    let r = net.ping("app-vm", "db-vm");
    assert_eq!(
        r.outcome,
        Outcome::Delivered(Destination::Nic(net.nic("db-nic")))
    );
    assert_eq!(forwarders(&r.steps), vec![net.nic("nva-nic")]);
}

#[test]
fn forwarding_disabled_in_a_guest_that_does_not_forward() {
    let net = appliance_net(true, false);
    let r = net.ping("app-vm", "db-vm");
    assert_eq!(
        dropped(&r),
        (
            DropReason::ForwardingDisabled,
            DropCause::GuestNotForwarding {
                nic: net.nic("nva-nic")
            }
        )
    );
}

/// [nic] Without IP forwarding a NIC may not send packets whose source is not its own address.
#[test]
fn forwarding_disabled_for_a_foreign_source_address() {
    let net = appliance_net(true, true);
    let spoofed = tcp_spec("10.0.7.7", "10.0.2.4", 49152, 80);
    let (outcome, _) = net.inject(Ingress::Nic(net.nic("app-nic")), &spoofed);
    assert_eq!(
        outcome,
        Outcome::Dropped(
            DropReason::ForwardingDisabled,
            DropCause::NicSourceCheck {
                nic: net.nic("app-nic")
            }
        )
    );
    // The appliance's NIC (IP forwarding on) may send it.
    let (outcome, _) = net.inject(Ingress::Nic(net.nic("nva-nic")), &spoofed);
    assert_eq!(
        outcome,
        Outcome::Delivered(Destination::Nic(net.nic("db-nic")))
    );
}

// ---------------------------------------------------------------------------------------------
// forwarded-traffic-blocked [manage-peering], [create-peering-2016]: spoke1 -> NVA in the hub ->
// spoke2; the link of the receiving VNet (spoke2 -> hub) must allow forwarded traffic.

fn hub_spoke(mode: &str, spoke2_link_forwarded: bool, hub_link_forwarded: bool) -> Net {
    Net::new(&format!(
        r#"
name: hub-nva
azure: {{ forwarded_traffic: {mode} }}
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    subnets: [ {{ name: nva, prefix: 10.0.1.0/24 }} ]
  - name: spoke1
    address_space: [10.1.0.0/16]
    subnets: [ {{ name: app, prefix: 10.1.1.0/24, route_table: via-hub }} ]
  - name: spoke2
    address_space: [10.2.0.0/16]
    subnets: [ {{ name: app, prefix: 10.2.1.0/24 }} ]
vms:
  - name: nva
    size: Standard_D2s_v3
    forwarding: true
    nics: [ {{ name: nva-nic, subnet: hub/nva, ip: 10.0.1.4, ip_forwarding: true }} ]
  - {{ name: s1-vm, size: Standard_D2s_v3, nics: [ {{ name: s1-nic, subnet: spoke1/app, ip: 10.1.1.4 }} ] }}
  - {{ name: s2-vm, size: Standard_D2s_v3, nics: [ {{ name: s2-nic, subnet: spoke2/app, ip: 10.2.1.4 }} ] }}
route_tables:
  - name: via-hub
    routes: [ {{ name: spoke2, prefix: 10.2.0.0/16, next_hop: VirtualAppliance, next_hop_ip: 10.0.1.4 }} ]
peerings:
  - {{ name: hub-to-spoke1, from: hub, to: spoke1 }}
  - {{ name: spoke1-to-hub, from: spoke1, to: hub }}
  - {{ name: hub-to-spoke2, from: hub, to: spoke2, allow_forwarded_traffic: {hub_link_forwarded} }}
  - {{ name: spoke2-to-hub, from: spoke2, to: hub, allow_forwarded_traffic: {spoke2_link_forwarded} }}
"#
    ))
}

#[test]
fn forwarded_traffic_blocked_on_the_receiving_link() {
    let net = hub_spoke("enforce", false, false);
    let r = net.ping("s1-vm", "s2-vm");
    let link = net.peering("spoke2-to-hub");
    assert_eq!(
        dropped(&r),
        (
            DropReason::ForwardedTrafficBlocked,
            DropCause::ForwardedOff { link }
        )
    );
    // The NVA did forward it: the block is at the second crossing.
    assert_eq!(forwarders(&r.steps), vec![net.nic("nva-nic")]);

    // The flag on the hub's own link does not count: the receiving VNet's link decides.
    let net = hub_spoke("enforce", false, true);
    assert_eq!(
        dropped(&net.ping("s1-vm", "s2-vm")),
        (
            DropReason::ForwardedTrafficBlocked,
            DropCause::ForwardedOff {
                link: net.peering("spoke2-to-hub")
            }
        )
    );

    let net = hub_spoke("enforce", true, false);
    let r = net.ping("s1-vm", "s2-vm");
    assert_eq!(
        r.outcome,
        Outcome::Delivered(Destination::Nic(net.nic("s2-nic")))
    );
}

/// `azure: { forwarded_traffic: ignore }`: the flag only documents intent (field reports of
/// spokes talking through a hub NVA with it off, MicrosoftDocs/azure-docs#48390).
#[test]
fn forwarded_traffic_delivered_when_the_flag_is_ignored() {
    let net = hub_spoke("ignore", false, false);
    let r = net.ping("s1-vm", "s2-vm");
    assert_eq!(
        r.outcome,
        Outcome::Delivered(Destination::Nic(net.nic("s2-nic"))),
        "{:#?}",
        r.steps
    );
    assert_eq!(forwarders(&r.steps), vec![net.nic("nva-nic")]);
}

// ---------------------------------------------------------------------------------------------
// vnet-access-blocked: `azure.virtual_network_access: block` reads allow_virtual_network_access
// false as a hard block of the link [create-peering-2016], [manage-peering 2018].

fn access_net(mode: &str, a_to_b: bool, b_to_a: bool) -> Net {
    Net::new(&format!(
        "name: access\nazure: {{ virtual_network_access: {mode} }}\nvnets:{THREE_VNETS}peerings:\n  \
         - {{ name: a-to-b, from: a, to: b, allow_virtual_network_access: {a_to_b} }}\n  \
         - {{ name: b-to-a, from: b, to: a, allow_virtual_network_access: {b_to_a} }}\n"
    ))
}

#[test]
fn vnet_access_blocked_with_access_off_on_either_link() {
    for (a_to_b, b_to_a, off) in [(false, true, "a-to-b"), (true, false, "b-to-a")] {
        let net = access_net("block", a_to_b, b_to_a);
        let link = net.peering(off);
        for (from, to) in [("a-vm", "b-vm"), ("b-vm", "a-vm")] {
            assert_eq!(
                dropped(&net.ping(from, to)),
                (DropReason::VnetAccessBlocked, DropCause::AccessOff { link }),
                "{from} -> {to} with {off} off"
            );
        }
    }
    // Both on: delivered.
    let net = access_net("block", true, true);
    assert!(matches!(
        net.ping("a-vm", "b-vm").outcome,
        Outcome::Delivered(_)
    ));
    // The default tag mode does not block the link itself (no NSG here: see peering.rs).
    let net = access_net("tag", false, true);
    assert!(matches!(
        net.ping("a-vm", "b-vm").outcome,
        Outcome::Delivered(_)
    ));
}

// ---------------------------------------------------------------------------------------------
// next-hop-unreachable [udr-overview]: the appliance IP must be held by a NIC reachable
// directly, in this VNet or a directly peered one.

#[test]
fn next_hop_unreachable_for_an_ip_no_nic_holds() {
    let net = Net::new(
        r#"
name: unreachable
vnets:
  - name: v
    address_space: [10.0.0.0/16]
    subnets:
      - { name: app, prefix: 10.0.1.0/24, route_table: rt }
      - { name: db, prefix: 10.0.2.0/24 }
vms:
  - { name: app-vm, size: Standard_D2s_v3, nics: [ { name: app-nic, subnet: v/app, ip: 10.0.1.4 } ] }
  - { name: db-vm, size: Standard_D2s_v3, nics: [ { name: db-nic, subnet: v/db, ip: 10.0.2.4 } ] }
route_tables:
  - name: rt
    routes: [ { name: ghost, prefix: 10.0.2.0/24, next_hop: VirtualAppliance, next_hop_ip: 10.0.200.4 } ]
"#,
    );
    let s = net.subnet("v/app");
    let route = net.route_index(s, RouteSource::User, "10.0.2.0/24");
    assert_eq!(
        dropped(&net.ping("app-vm", "db-vm")),
        (
            DropReason::NextHopUnreachable,
            DropCause::ApplianceUnreachable { subnet: s, route }
        )
    );
}

fn chain(a_peers_c: bool) -> Net {
    let direct = if a_peers_c {
        "  - { name: a-to-c, from: a, to: c }\n  - { name: c-to-a, from: c, to: a }\n"
    } else {
        ""
    };
    Net::new(&format!(
        r#"
name: chain
vnets:
  - name: a
    address_space: [10.0.0.0/16]
    subnets: [ {{ name: app, prefix: 10.0.1.0/24, route_table: via-c }} ]
  - name: b
    address_space: [10.1.0.0/16]
    subnets: [ {{ name: app, prefix: 10.1.1.0/24 }} ]
  - name: c
    address_space: [10.2.0.0/16]
    subnets: [ {{ name: nva, prefix: 10.2.1.0/24 }} ]
vms:
  - {{ name: a-vm, size: Standard_D2s_v3, nics: [ {{ name: a-nic, subnet: a/app, ip: 10.0.1.4 }} ] }}
  - {{ name: b-vm, size: Standard_D2s_v3, nics: [ {{ name: b-nic, subnet: b/app, ip: 10.1.1.4 }} ] }}
  - name: nva
    size: Standard_D2s_v3
    forwarding: true
    nics: [ {{ name: nva-nic, subnet: c/nva, ip: 10.2.1.4, ip_forwarding: true }} ]
route_tables:
  - name: via-c
    routes: [ {{ name: to-b, prefix: 10.1.0.0/16, next_hop: VirtualAppliance, next_hop_ip: 10.2.1.4 }} ]
peerings:
  - {{ name: a-to-b, from: a, to: b }}
  - {{ name: b-to-a, from: b, to: a }}
  - {{ name: b-to-c, from: b, to: c, allow_forwarded_traffic: true }}
  - {{ name: c-to-b, from: c, to: b }}
{direct}"#
    ))
}

/// [manage-peering] Service chaining works to an appliance in a directly peered VNet, not to one
/// two peerings away.
#[test]
fn next_hop_unreachable_for_an_nva_two_peerings_away() {
    let net = chain(false);
    let s = net.subnet("a/app");
    let route = net.route_index(s, RouteSource::User, "10.1.0.0/16");
    assert_eq!(
        dropped(&net.ping("a-vm", "b-vm")),
        (
            DropReason::NextHopUnreachable,
            DropCause::ApplianceUnreachable { subnet: s, route }
        )
    );
    // Peer a with c directly and the chain works.
    let net = chain(true);
    let r = net.ping("a-vm", "b-vm");
    assert_eq!(
        r.outcome,
        Outcome::Delivered(Destination::Nic(net.nic("b-nic"))),
        "{:#?}",
        r.steps
    );
    assert_eq!(forwarders(&r.steps), vec![net.nic("nva-nic")]);
}

// ---------------------------------------------------------------------------------------------
// ttl-exceeded: two appliances route a prefix to each other [udr-overview: a route to an
// appliance that routes back loops]; each forwarding decrements the TTL (64 for probes).

#[test]
fn ttl_exceeded_between_two_appliances_routing_to_each_other() {
    let net = Net::new(
        r#"
name: loop
vnets:
  - name: v
    address_space: [10.0.0.0/16]
    subnets:
      - { name: app, prefix: 10.0.1.0/24, route_table: to-nva1 }
      - { name: n1, prefix: 10.0.11.0/24, route_table: to-nva2 }
      - { name: n2, prefix: 10.0.12.0/24, route_table: to-nva1 }
vms:
  - { name: app-vm, size: Standard_D2s_v3, nics: [ { name: app-nic, subnet: v/app, ip: 10.0.1.4 } ] }
  - { name: nva1, size: Standard_D2s_v3, forwarding: true, nics: [ { name: nva1-nic, subnet: v/n1, ip: 10.0.11.4, ip_forwarding: true } ] }
  - { name: nva2, size: Standard_D2s_v3, forwarding: true, nics: [ { name: nva2-nic, subnet: v/n2, ip: 10.0.12.4, ip_forwarding: true } ] }
route_tables:
  - name: to-nva1
    routes: [ { name: web, prefix: 198.51.100.0/24, next_hop: VirtualAppliance, next_hop_ip: 10.0.11.4 } ]
  - name: to-nva2
    routes: [ { name: web, prefix: 198.51.100.0/24, next_hop: VirtualAppliance, next_hop_ip: 10.0.12.4 } ]
"#,
    );
    let r = net.ping("app-vm", "198.51.100.7");
    // TTL 64: 63 forwardings bring it to 1; the 64th appliance on the way (nva2, since nva1 is
    // reached on odd hops) cannot forward it.
    assert_eq!(
        dropped(&r),
        (
            DropReason::TtlExceeded,
            DropCause::TtlAtNic {
                nic: net.nic("nva2-nic")
            }
        )
    );
    let fwd = forwarders(&r.steps);
    assert_eq!(fwd.len(), 63);
    let last_ttl = r.steps.iter().rev().find_map(|s| match s {
        Step::Forward { ttl, .. } => Some(*ttl),
        _ => None,
    });
    assert_eq!(last_ttl, Some(1));
}

// ---------------------------------------------------------------------------------------------
// malformed (scenario contract): the bytes are not a valid IPv4 packet.

fn forward_bytes(net: &Net, bytes: &mut [u8]) -> Outcome {
    let ingress = Ingress::Nic(net.nic("a-nic"));
    net.dp
        .forward(bytes, ingress, &mut FlowTable::new(), 0, &mut ())
}

#[test]
fn malformed_garbage_truncated_and_bad_checksum() {
    let net = three("[]");
    let mut garbage = [0xde_u8; 40];
    assert_eq!(
        forward_bytes(&net, &mut garbage),
        Outcome::Dropped(
            DropReason::Malformed,
            DropCause::Malformed(Malformed::NotIpv4)
        )
    );

    let spec = PacketSpec {
        src: "10.0.1.4".parse().unwrap(),
        dst: "203.0.113.1".parse().unwrap(),
        protocol: Protocol::Udp,
        src_port: 40000,
        dst_port: 53,
        ttl: 64,
        total_len: 64,
        identification: 7,
    };
    let mut buf = [0u8; 64];
    let len = wire::build_probe(&mut buf, &spec).unwrap();
    // The valid packet itself is delivered (to the Internet). Each case works on a copy.
    assert_eq!(
        forward_bytes(&net, &mut { buf }[..len]),
        Outcome::Delivered(Destination::Internet)
    );

    // Truncated inside the IPv4 header.
    assert_eq!(
        forward_bytes(&net, &mut { buf }[..12]),
        Outcome::Dropped(
            DropReason::Malformed,
            DropCause::Malformed(Malformed::Truncated)
        )
    );
    // Fewer bytes than the total length says.
    assert_eq!(
        forward_bytes(&net, &mut { buf }[..30]),
        Outcome::Dropped(
            DropReason::Malformed,
            DropCause::Malformed(Malformed::Truncated)
        )
    );
    // A header checksum that does not verify.
    let mut bad = buf;
    bad[10] ^= 0x5a;
    assert_eq!(
        forward_bytes(&net, &mut bad[..len]),
        Outcome::Dropped(
            DropReason::Malformed,
            DropCause::Malformed(Malformed::BadChecksum)
        )
    );
    // Empty input.
    assert_eq!(
        forward_bytes(&net, &mut []),
        Outcome::Dropped(
            DropReason::Malformed,
            DropCause::Malformed(Malformed::Truncated)
        )
    );
}

// ---------------------------------------------------------------------------------------------
// multicast-blocked, broadcast-blocked, protocol-blocked, invalid-destination [vnet-faq]: "What
// protocols can I use within VNets? ... Multicast, broadcast, IP-in-IP encapsulated packets,
// and Generic Routing Encapsulation (GRE) packets are blocked within VNets"; the last address
// of every subnet is reserved (network broadcast); 0.0.0.0/8 and 127.0.0.0/8 are never routed.

/// A UDP packet from a-nic to `dst` with IP protocol `protocol` (the header checksum redone).
fn packet_to(dst: &str, protocol: u8) -> Vec<u8> {
    let spec = PacketSpec {
        src: "10.0.1.4".parse().unwrap(),
        dst: dst.parse().unwrap(),
        protocol: Protocol::Udp,
        src_port: 40000,
        dst_port: 5353,
        ttl: 64,
        total_len: 64,
        identification: 9,
    };
    let mut buf = vec![0u8; 64];
    let len = wire::build_probe(&mut buf, &spec).unwrap();
    buf.truncate(len);
    buf[9] = protocol;
    buf[10..12].copy_from_slice(&[0, 0]);
    let sum: u32 = buf[..20]
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    let folded = (sum & 0xffff) + (sum >> 16);
    let folded = (folded & 0xffff) + (folded >> 16);
    buf[10..12].copy_from_slice(&(!(folded as u16)).to_be_bytes());
    buf
}

#[test]
fn vnet_faq_traffic_azure_never_carries_is_dropped_with_its_reason() {
    let net = three("[]");
    let cases = [
        (
            "224.0.0.251",
            17,
            DropReason::MulticastBlocked,
            NotCarried::Multicast,
        ),
        (
            "239.1.2.3",
            17,
            DropReason::MulticastBlocked,
            NotCarried::Multicast,
        ),
        (
            "255.255.255.255",
            17,
            DropReason::BroadcastBlocked,
            NotCarried::LimitedBroadcast,
        ),
        (
            "10.0.1.255",
            17,
            DropReason::BroadcastBlocked,
            NotCarried::SubnetBroadcast,
        ),
        (
            "10.1.1.255",
            17,
            DropReason::BroadcastBlocked,
            NotCarried::SubnetBroadcast,
        ),
        ("10.1.1.4", 47, DropReason::ProtocolBlocked, NotCarried::Gre),
        (
            "10.1.1.4",
            4,
            DropReason::ProtocolBlocked,
            NotCarried::IpInIp,
        ),
        (
            "0.0.0.1",
            17,
            DropReason::InvalidDestination,
            NotCarried::ThisNetwork,
        ),
        (
            "127.0.0.1",
            17,
            DropReason::InvalidDestination,
            NotCarried::Loopback,
        ),
    ];
    for (dst, protocol, reason, what) in cases {
        let mut p = packet_to(dst, protocol);
        assert_eq!(
            forward_bytes(&net, &mut p),
            Outcome::Dropped(reason, DropCause::NotCarried(what)),
            "{dst} protocol {protocol}"
        );
    }
    // Unicast UDP to the Internet, and to an ordinary address of a subnet, are carried as
    // before (the latter ends at no-destination or a route, not at the new check).
    let mut internet = packet_to("203.0.113.1", 17);
    assert_eq!(
        forward_bytes(&net, &mut internet),
        Outcome::Delivered(Destination::Internet)
    );
    let mut unheld = packet_to("10.0.1.254", 17);
    assert!(!matches!(
        forward_bytes(&net, &mut unheld),
        Outcome::Dropped(_, DropCause::NotCarried(_))
    ));
}
