//! The worked example of Azure's "How network security groups filter network traffic" [nsg-how]:
//! VM1 and VM2 in Subnet1 (NSG1 on the subnet), NSG2 on the NICs of VM1 and VM3, VM3 in Subnet2
//! and VM4 in Subnet3 without any NSG; TCP port 80 to and from the Internet.
//!
//! Outbound, a probe to a public address (203.0.113.10) runs through the pipeline. Inbound: no
//! public IPs are modelled, so Internet traffic enters through an edge appliance (IP forwarding
//! on, no NSG) that hands packets with their Internet source address on into the VNet, as a
//! forced-tunnelling NVA with a public IP does [udr-overview, "Default route"]. The VMs' NSGs then
//! see an Internet source, as Azure's NSGs do after DNAT [nsg-overview].

mod common;

use common::{Net, nsg_passes, tcp_spec};
use vnetsim_dataplane::nsg::{DefaultRule, RuleRef};
use vnetsim_dataplane::pipeline::{DropCause, NsgDecision, NsgPoint};
use vnetsim_dataplane::probe::ProbeResult;
use vnetsim_dataplane::{Destination, Ingress, Outcome, Step};
use vnetsim_scenario::{Access, Direction, DropReason, Protocol};

const INTERNET_HOST: &str = "203.0.113.10";

/// The example's network with the given user rules in NSG1 and NSG2 (YAML lists).
fn example(nsg1_rules: &str, nsg2_rules: &str) -> Net {
    Net::new(&format!(
        r#"
name: nsg-how-worked-example
vnets:
  - name: vnet
    address_space: [10.0.0.0/16]
    subnets:
      - {{ name: Subnet1, prefix: 10.0.1.0/24, nsg: NSG1 }}
      - {{ name: Subnet2, prefix: 10.0.2.0/24 }}
      - {{ name: Subnet3, prefix: 10.0.3.0/24 }}
      - {{ name: edge, prefix: 10.0.9.0/24 }}
vms:
  - {{ name: VM1, size: Standard_D2s_v3, nics: [ {{ name: vm1-nic, subnet: vnet/Subnet1, ip: 10.0.1.4, nsg: NSG2 }} ] }}
  - {{ name: VM2, size: Standard_D2s_v3, nics: [ {{ name: vm2-nic, subnet: vnet/Subnet1, ip: 10.0.1.5 }} ] }}
  - {{ name: VM3, size: Standard_D2s_v3, nics: [ {{ name: vm3-nic, subnet: vnet/Subnet2, ip: 10.0.2.4, nsg: NSG2 }} ] }}
  - {{ name: VM4, size: Standard_D2s_v3, nics: [ {{ name: vm4-nic, subnet: vnet/Subnet3, ip: 10.0.3.4 }} ] }}
  - name: edge
    size: Standard_D2s_v3
    forwarding: true
    nics: [ {{ name: edge-nic, subnet: vnet/edge, ip: 10.0.9.4, ip_forwarding: true }} ]
nsgs:
  - {{ name: NSG1, rules: {nsg1_rules} }}
  - {{ name: NSG2, rules: {nsg2_rules} }}
"#
    ))
}

const ALLOW_80_IN: &str = "[ { name: allow-80-in, priority: 100, direction: inbound, access: allow, protocol: tcp, source: Internet, destination_ports: 80 } ]";
const DENY_80_OUT: &str = "[ { name: deny-80-out, priority: 100, direction: outbound, access: deny, protocol: tcp, destination: Internet, destination_ports: 80 } ]";

/// Internet -> VM, TCP 80, entering through the edge appliance.
fn inbound(net: &Net, vm: &str) -> (Outcome, Vec<Step>) {
    let ip = net.sc.nics[net.vm_nic(vm).index()].ip.to_string();
    net.inject(
        Ingress::Nic(net.nic("edge-nic")),
        &tcp_spec(INTERNET_HOST, &ip, 49152, 80),
    )
}

/// VM -> Internet, TCP 80.
fn outbound(net: &Net, vm: &str) -> ProbeResult {
    net.send(vm, INTERNET_HOST, Protocol::Tcp, 80)
}

fn deny_cause(
    net: &Net,
    point: NsgPoint,
    nsg: &str,
    direction: Direction,
    rule: RuleRef,
) -> (DropReason, DropCause) {
    (
        DropReason::NsgDenied,
        DropCause::Nsg {
            point,
            nsg: net.nsg(nsg),
            direction,
            rule,
        },
    )
}

fn delivered_to(net: &Net, vm: &str) -> Outcome {
    Outcome::Delivered(Destination::Nic(net.vm_nic(vm)))
}

/// [nsg-how] VM1 inbound: NSG1 first; by default its DenyAllInbound drops the packet and NSG2 is
/// never evaluated.
#[test]
fn vm1_inbound_default_is_denied_by_nsg1_before_nsg2() {
    let net = example("[]", "[]");
    let (outcome, steps) = inbound(&net, "VM1");
    let s1 = net.subnet("vnet/Subnet1");
    let expected = deny_cause(
        &net,
        NsgPoint::Subnet(s1),
        "NSG1",
        Direction::Inbound,
        RuleRef::Default(DefaultRule::DenyAllInbound),
    );
    assert_eq!(outcome, Outcome::Dropped(expected.0, expected.1));
    assert!(
        nsg_passes(&steps)
            .iter()
            .all(|(_, nsg, _)| *nsg != net.nsg("NSG2")),
        "NSG2 must not be evaluated: {steps:#?}"
    );
}

/// [nsg-how] VM1 inbound: both NSGs need an allow rule for port 80; NSG1's alone is not enough.
#[test]
fn vm1_inbound_needs_an_allow_in_both_nsgs() {
    let net = example(ALLOW_80_IN, "[]");
    let (outcome, steps) = inbound(&net, "VM1");
    let nic = net.nic("vm1-nic");
    let expected = deny_cause(
        &net,
        NsgPoint::Nic(nic),
        "NSG2",
        Direction::Inbound,
        RuleRef::Default(DefaultRule::DenyAllInbound),
    );
    assert_eq!(outcome, Outcome::Dropped(expected.0, expected.1));
    // NSG1 was evaluated first and allowed by its user rule.
    let s1 = net.subnet("vnet/Subnet1");
    assert_eq!(
        nsg_passes(&steps),
        vec![(
            NsgPoint::Subnet(s1),
            net.nsg("NSG1"),
            NsgDecision::Rule(RuleRef::User(0))
        )]
    );

    let net = example(ALLOW_80_IN, ALLOW_80_IN);
    let (outcome, steps) = inbound(&net, "VM1");
    assert_eq!(outcome, delivered_to(&net, "VM1"));
    assert_eq!(
        nsg_passes(&steps),
        vec![
            (
                NsgPoint::Subnet(s1),
                net.nsg("NSG1"),
                NsgDecision::Rule(RuleRef::User(0))
            ),
            (
                NsgPoint::Nic(nic),
                net.nsg("NSG2"),
                NsgDecision::Rule(RuleRef::User(0))
            ),
        ]
    );
}

/// [nsg-how] VM2 inbound: only NSG1 decides, the same for every VM of Subnet1.
#[test]
fn vm2_inbound_is_decided_by_nsg1_alone() {
    let net = example("[]", ALLOW_80_IN);
    let (outcome, _) = inbound(&net, "VM2");
    let s1 = net.subnet("vnet/Subnet1");
    let expected = deny_cause(
        &net,
        NsgPoint::Subnet(s1),
        "NSG1",
        Direction::Inbound,
        RuleRef::Default(DefaultRule::DenyAllInbound),
    );
    assert_eq!(outcome, Outcome::Dropped(expected.0, expected.1));

    let net = example(ALLOW_80_IN, "[]");
    let (outcome, _) = inbound(&net, "VM2");
    assert_eq!(outcome, delivered_to(&net, "VM2"));
}

/// [nsg-how] VM3 inbound: no subnet NSG, so NSG2 on the NIC decides.
#[test]
fn vm3_inbound_is_decided_by_nsg2_on_the_nic() {
    let net = example(ALLOW_80_IN, "[]");
    let (outcome, _) = inbound(&net, "VM3");
    let expected = deny_cause(
        &net,
        NsgPoint::Nic(net.nic("vm3-nic")),
        "NSG2",
        Direction::Inbound,
        RuleRef::Default(DefaultRule::DenyAllInbound),
    );
    assert_eq!(outcome, Outcome::Dropped(expected.0, expected.1));

    let net = example("[]", ALLOW_80_IN);
    let (outcome, _) = inbound(&net, "VM3");
    assert_eq!(outcome, delivered_to(&net, "VM3"));
}

/// [nsg-how] VM4 has no NSG anywhere: inbound and outbound are allowed.
#[test]
fn vm4_without_any_nsg_allows_both_directions() {
    let net = example("[]", "[]");
    let (outcome, steps) = inbound(&net, "VM4");
    assert_eq!(outcome, delivered_to(&net, "VM4"));
    assert!(nsg_passes(&steps).is_empty());
    let r = outbound(&net, "VM4");
    assert_eq!(r.outcome, Outcome::Delivered(Destination::Internet));
}

/// [nsg-how] Outbound is allowed by default (AllowInternetOutBound in both NSGs); for VM1 NSG2
/// is evaluated before NSG1.
#[test]
fn outbound_to_internet_is_allowed_by_default_nic_nsg_first() {
    let net = example("[]", "[]");
    for vm in ["VM1", "VM2", "VM3", "VM4"] {
        assert_eq!(
            outbound(&net, vm).outcome,
            Outcome::Delivered(Destination::Internet),
            "{vm}"
        );
    }
    let r = outbound(&net, "VM1");
    let allow = NsgDecision::Rule(RuleRef::Default(DefaultRule::AllowInternetOutBound));
    assert_eq!(
        nsg_passes(&r.steps),
        vec![
            (NsgPoint::Nic(net.nic("vm1-nic")), net.nsg("NSG2"), allow),
            (
                NsgPoint::Subnet(net.subnet("vnet/Subnet1")),
                net.nsg("NSG1"),
                allow
            ),
        ]
    );
}

/// [nsg-how] VM1 outbound: a deny in NSG2 blocks it and NSG1 is never evaluated; VM3 (NSG2)
/// is blocked too; VM2 (NSG1 only) and VM4 are not.
#[test]
fn outbound_deny_in_nsg2_stops_vm1_before_nsg1_and_blocks_vm3() {
    let net = example("[]", DENY_80_OUT);
    let r = outbound(&net, "VM1");
    let expected = deny_cause(
        &net,
        NsgPoint::Nic(net.nic("vm1-nic")),
        "NSG2",
        Direction::Outbound,
        RuleRef::User(0),
    );
    assert_eq!(r.outcome, Outcome::Dropped(expected.0, expected.1));
    assert!(
        nsg_passes(&r.steps).is_empty(),
        "NSG1 must not be evaluated: {:#?}",
        r.steps
    );

    let r = outbound(&net, "VM3");
    let expected = deny_cause(
        &net,
        NsgPoint::Nic(net.nic("vm3-nic")),
        "NSG2",
        Direction::Outbound,
        RuleRef::User(0),
    );
    assert_eq!(r.outcome, Outcome::Dropped(expected.0, expected.1));

    assert_eq!(
        outbound(&net, "VM2").outcome,
        Outcome::Delivered(Destination::Internet)
    );
    assert_eq!(
        outbound(&net, "VM4").outcome,
        Outcome::Delivered(Destination::Internet)
    );
}

/// [nsg-how] VM1 outbound: a deny in NSG1 blocks it after NSG2 allowed; it blocks VM2 too, and
/// leaves VM3 and VM4 alone.
#[test]
fn outbound_deny_in_nsg1_blocks_subnet1_only() {
    let net = example(DENY_80_OUT, "[]");
    let s1 = NsgPoint::Subnet(net.subnet("vnet/Subnet1"));
    let r = outbound(&net, "VM1");
    let expected = deny_cause(&net, s1, "NSG1", Direction::Outbound, RuleRef::User(0));
    assert_eq!(r.outcome, Outcome::Dropped(expected.0, expected.1));
    assert_eq!(
        nsg_passes(&r.steps),
        vec![(
            NsgPoint::Nic(net.nic("vm1-nic")),
            net.nsg("NSG2"),
            NsgDecision::Rule(RuleRef::Default(DefaultRule::AllowInternetOutBound))
        )]
    );
    let r = outbound(&net, "VM2");
    assert_eq!(r.outcome, Outcome::Dropped(expected.0, expected.1));
    assert_eq!(
        outbound(&net, "VM3").outcome,
        Outcome::Delivered(Destination::Internet)
    );
    assert_eq!(
        outbound(&net, "VM4").outcome,
        Outcome::Delivered(Destination::Internet)
    );
}

/// [nsg-overview] The Internet service tag covers the public sender, so the compiled NSGs answer
/// as the article's table says when evaluated directly in Azure's inbound order (subnet, NIC).
#[test]
fn compiled_nsgs_evaluate_internet_port_80_in_azure_order() {
    let net = example(ALLOW_80_IN, "[]");
    let src = u32::from(INTERNET_HOST.parse::<std::net::Ipv4Addr>().unwrap());
    let key = |dst: &str| vnetsim_dataplane::wire::FlowKey {
        src,
        dst: u32::from(dst.parse::<std::net::Ipv4Addr>().unwrap()),
        protocol: 6,
        src_port: 49152,
        dst_port: 80,
    };
    let (_, nsg1) = net.dp.subnet_nsg(net.subnet("vnet/Subnet1")).unwrap();
    let (_, nsg2) = net.dp.nic_nsg(net.nic("vm1-nic")).unwrap();
    let v1 = nsg1.evaluate(Direction::Inbound, &key("10.0.1.4"));
    assert_eq!((v1.access, v1.rule), (Access::Allow, RuleRef::User(0)));
    let v2 = nsg2.evaluate(Direction::Inbound, &key("10.0.1.4"));
    assert_eq!(
        (v2.access, v2.rule),
        (Access::Deny, RuleRef::Default(DefaultRule::DenyAllInbound))
    );
    // No NSG on VM4's NIC or subnet.
    assert!(net.dp.nic_nsg(net.nic("vm4-nic")).is_none());
    assert!(net.dp.subnet_nsg(net.subnet("vnet/Subnet3")).is_none());
}

const DENY_ALL: &str = "[ { name: deny-all-in, priority: 100, direction: inbound, access: deny, protocol: '*' }, { name: deny-all-out, priority: 100, direction: outbound, access: deny, protocol: '*' } ]";

/// [nsg-how] Intra-subnet traffic is filtered too: a deny-all rule in NSG1 cuts VM1 <-> VM2
/// although they share Subnet1. Without it, the default AllowVNet rules let them talk.
#[test]
fn deny_all_in_nsg1_cuts_vm1_and_vm2_inside_subnet1() {
    let net = example("[]", "[]");
    assert_eq!(net.ping("VM1", "VM2").outcome, delivered_to(&net, "VM2"));
    assert_eq!(net.ping("VM2", "VM1").outcome, delivered_to(&net, "VM1"));

    let net = example(DENY_ALL, "[]");
    let s1 = NsgPoint::Subnet(net.subnet("vnet/Subnet1"));
    // VM1 -> VM2: NSG2 (VM1's NIC) allows outbound, then NSG1 denies it.
    let r = net.ping("VM1", "VM2");
    let out = deny_cause(&net, s1, "NSG1", Direction::Outbound, RuleRef::User(1));
    assert_eq!(r.outcome, Outcome::Dropped(out.0, out.1));
    let r = net.ping("VM2", "VM1");
    assert_eq!(r.outcome, Outcome::Dropped(out.0, out.1));
    // Inbound only: the deny hits on the way in.
    let net = example(
        "[ { name: deny-all-in, priority: 100, direction: inbound, access: deny, protocol: '*' } ]",
        "[]",
    );
    let s1 = NsgPoint::Subnet(net.subnet("vnet/Subnet1"));
    let r = net.ping("VM1", "VM2");
    let inb = deny_cause(&net, s1, "NSG1", Direction::Inbound, RuleRef::User(0));
    assert_eq!(r.outcome, Outcome::Dropped(inb.0, inb.1));
}
