//! Azure Load Balancer in the data plane, each test named after the page it follows:
//! [LBSKU23] SKUs (learn.microsoft.com/azure/load-balancer/skus), [LBPROBE18] health probes
//! (.../load-balancer-custom-probe-overview), [LBDIST23] distribution modes
//! (.../distribution-mode-concepts), [LBFIP23] floating IP (.../load-balancer-floating-ip),
//! [LBHA17] HA ports (.../load-balancer-ha-ports-overview), [LBFAQ26] FAQ.

mod common;

use std::collections::HashSet;

use common::{Net, spec};
use vnetsim_dataplane::lb::LbDecision;
use vnetsim_dataplane::wire::{self, PacketSpec};
use vnetsim_dataplane::{Dataplane, Destination, DropCause, FlowTable, Ingress, Outcome, Step};
use vnetsim_scenario::{DropReason, NicId, Protocol};

/// A hub with backends `b1`, `b2` (IP forwarding on, forwarding guests) behind `lb`, two
/// spokes whose routes send each other's range to `next_hop`; `lb` is the YAML of
/// `load_balancers`, `extra` more top-level YAML; `spoke2_region` the second spoke's region.
fn net(lb: &str, next_hop: &str, b2_nsg: &str, spoke2_region: &str) -> Net {
    Net::new(&format!(
        r#"
name: lb
azure: {{ era: current, global_peering: true }}
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    subnets: [ {{ name: be, prefix: 10.0.1.0/24 }} ]
  - name: s1
    address_space: [10.1.0.0/16]
    subnets: [ {{ name: a, prefix: 10.1.1.0/24, route_table: rt1 }} ]
  - name: s2
    address_space: [10.2.0.0/16]
    region: {spoke2_region}
    subnets: [ {{ name: a, prefix: 10.2.1.0/24, route_table: rt2 }} ]
vms:
  - {{ name: b1, size: Standard_D2s_v3, forwarding: true, nics: [ {{ name: b1-nic, vnet: hub, subnet: be, ip: 10.0.1.4, ip_forwarding: true }} ] }}
  - {{ name: b2, size: Standard_D2s_v3, forwarding: true, nics: [ {{ name: b2-nic, vnet: hub, subnet: be, ip: 10.0.1.5, ip_forwarding: true {b2_nsg} }} ] }}
  - {{ name: web, size: Standard_D2s_v3, nics: [ {{ name: web-nic, vnet: s1, subnet: a, ip: 10.1.1.4 }} ] }}
  - {{ name: db, size: Standard_D2s_v3, nics: [ {{ name: db-nic, vnet: s2, subnet: a, ip: 10.2.1.4 }} ] }}
nsgs:
  - name: no-probe
    rules:
      - {{ name: deny-probe, priority: 100, direction: inbound, access: deny, protocol: tcp, source: AzureLoadBalancer, destination: "*", destination_ports: "8080" }}
  - name: web-in
    rules:
      - {{ name: allow-https, priority: 100, direction: inbound, access: allow, protocol: tcp, source: Internet, destination: "*", destination_ports: "8443" }}
route_tables:
  - name: rt1
    routes: [ {{ name: r, prefix: 10.2.0.0/16, next_hop: VirtualAppliance, next_hop_ip: {next_hop} }} ]
  - name: rt2
    routes: [ {{ name: r, prefix: 10.1.0.0/16, next_hop: VirtualAppliance, next_hop_ip: {next_hop} }} ]
peerings:
  - {{ name: h1, from: hub, to: s1 }}
  - {{ name: s1h, from: s1, to: hub, allow_forwarded_traffic: true }}
  - {{ name: h2, from: hub, to: s2 }}
  - {{ name: s2h, from: s2, to: hub, allow_forwarded_traffic: true }}
load_balancers:
{lb}
"#
    ))
}

const HA: &str = r#"  - name: ilb
    frontends: [ { name: fe, subnet: hub/be, ip: 10.0.1.100 } ]
    backend_pools: [ { name: p, nics: [b1-nic, b2-nic] } ]
    probes: [ { name: h, protocol: tcp, port: 8080 } ]
    rules: [ { name: ha, frontend: fe, backend_pool: p, protocol: all, frontend_port: 0, backend_port: 0, probe: h } ]"#;

fn send_at(
    dp: &Dataplane,
    ingress: Ingress,
    s: &PacketSpec,
    flows: &mut FlowTable,
) -> (Outcome, Vec<Step>, wire::PacketMeta) {
    let mut buf = vec![0u8; 64];
    wire::build_probe(&mut buf, s).expect("builds");
    let mut steps = Vec::new();
    let outcome = dp.forward(&mut buf, ingress, flows, 0, &mut steps);
    (outcome, steps, wire::parse(&buf).expect("parses"))
}

fn reply(
    dp: &Dataplane,
    ingress: Ingress,
    request: &wire::PacketMeta,
    flows: &mut FlowTable,
) -> (Outcome, Vec<Step>, wire::PacketMeta) {
    let mut buf = vec![0u8; 64];
    let len = wire::build_reply(&mut buf, request, 64).expect("builds");
    let mut steps = Vec::new();
    let outcome = dp.forward(&mut buf[..len], ingress, flows, 0, &mut steps);
    (outcome, steps, wire::parse(&buf[..len]).expect("parses"))
}

/// The backend the load balancer step chose, and how.
fn backend(steps: &[Step]) -> Option<(NicId, LbDecision)> {
    steps.iter().find_map(|s| match s {
        Step::LoadBalancer {
            backend, decision, ..
        } => Some((*backend, *decision)),
        _ => None,
    })
}

#[test]
fn lbha_nvas_behind_an_internal_frontend_carry_both_directions_through_one_nva() {
    let n = net(HA, "10.0.1.100", "", "westeurope");
    let web = Ingress::Nic(n.vm_nic("web"));
    let db = Ingress::Nic(n.vm_nic("db"));
    let mut flows = FlowTable::new();
    let mut used = HashSet::new();
    for port in 40000..40032u16 {
        let s = spec("10.1.1.4", "10.2.1.4", Protocol::Tcp, port, 1433);
        let (out, steps, meta) = send_at(&n.dp, web, &s, &mut flows);
        assert_eq!(out, Outcome::Delivered(Destination::Nic(n.vm_nic("db"))));
        // The destination is kept: the load balancer is the next hop, not a translation.
        assert_eq!(meta.key.dst, u32::from_be_bytes([10, 2, 1, 4]));
        let (there, how) = backend(&steps).expect("a load balancer hop");
        assert!(matches!(how, LbDecision::Rule(0)));
        used.insert(there);
        let (back, steps, _) = reply(&n.dp, db, &meta, &mut flows);
        assert_eq!(back, Outcome::Delivered(Destination::Nic(n.vm_nic("web"))));
        assert_eq!(backend(&steps), Some((there, LbDecision::Session)));
        assert!(
            steps
                .iter()
                .any(|s| matches!(s, Step::Forward { nic, .. } if *nic == there))
        );
    }
    // The 5-tuple hash spreads connections over both NVAs.
    assert_eq!(used.len(), 2);
}

#[test]
fn lbha_the_reply_finds_the_same_nva_by_hash_alone() {
    // Flow symmetry of HA ports [LBHA-live]: without the forward session (another flow table),
    // the reply still hashes to the NVA of its request.
    let n = net(HA, "10.0.1.100", "", "westeurope");
    for port in 40000..40016u16 {
        let s = spec("10.1.1.4", "10.2.1.4", Protocol::Udp, port, 53);
        let (_, steps, meta) = send_at(
            &n.dp,
            Ingress::Nic(n.vm_nic("web")),
            &s,
            &mut FlowTable::new(),
        );
        let (_, back, _) = reply(
            &n.dp,
            Ingress::Nic(n.vm_nic("db")),
            &meta,
            &mut FlowTable::new(),
        );
        assert_eq!(backend(&steps).map(|b| b.0), backend(&back).map(|b| b.0));
    }
}

#[test]
fn lbprobe18_a_backend_whose_nsg_refuses_the_probe_takes_no_flows() {
    let n = net(HA, "10.0.1.100", ", nsg: no-probe", "westeurope");
    let lb = vnetsim_scenario::LoadBalancerId(0);
    assert_eq!(n.dp.lb_healthy_backends(lb, 0), vec![n.nic("b1-nic")]);
    let mut flows = FlowTable::new();
    for port in 40000..40016u16 {
        let s = spec("10.1.1.4", "10.2.1.4", Protocol::Tcp, port, 1433);
        let (_, steps, _) = send_at(&n.dp, Ingress::Nic(n.vm_nic("web")), &s, &mut flows);
        assert_eq!(backend(&steps).map(|b| b.0), Some(n.nic("b1-nic")));
    }
}

#[test]
fn lbprobe18_a_backend_marked_down_keeps_its_flows_and_takes_no_new_ones() {
    let mut n = net(HA, "10.0.1.100", "", "westeurope");
    let mut flows = FlowTable::new();
    let web = Ingress::Nic(n.vm_nic("web"));
    // Find a connection placed on b2.
    let b2 = n.nic("b2-nic");
    let s = (40000..40064u16)
        .map(|p| spec("10.1.1.4", "10.2.1.4", Protocol::Tcp, p, 1433))
        .find(|s| {
            let (_, steps, _) = send_at(&n.dp, web, s, &mut flows);
            backend(&steps).map(|b| b.0) == Some(b2)
        })
        .expect("some connection hashes to b2");
    n.sc.load_balancers[0].down.push(b2);
    let dp = Dataplane::compile(&n.sc);
    let (out, steps, _) = send_at(&dp, web, &s, &mut flows);
    assert!(matches!(out, Outcome::Delivered(_)));
    assert_eq!(backend(&steps), Some((b2, LbDecision::Session)));
    for port in 41000..41016u16 {
        let s = spec("10.1.1.4", "10.2.1.4", Protocol::Tcp, port, 1433);
        let (_, steps, _) = send_at(&dp, web, &s, &mut flows);
        assert_eq!(backend(&steps).map(|b| b.0), Some(n.nic("b1-nic")));
    }
    // Every backend down: no healthy backend.
    let b1 = n.nic("b1-nic");
    n.sc.load_balancers[0].down.push(b1);
    let dp = Dataplane::compile(&n.sc);
    let s = spec("10.1.1.4", "10.2.1.4", Protocol::Tcp, 42000, 1433);
    let (out, _, _) = send_at(&dp, web, &s, &mut flows);
    assert!(matches!(
        out,
        Outcome::Dropped(
            DropReason::LbNoHealthyBackend,
            DropCause::LbNoHealthyBackend { rule: 0, .. }
        )
    ));
}

const WEB: &str = r#"  - name: ilb
    frontends: [ { name: fe, subnet: hub/be, ip: 10.0.1.100 } ]
    backend_pools: [ { name: p, nics: [b1-nic, b2-nic] } ]
    rules:
      - { name: web, frontend: fe, backend_pool: p, protocol: tcp, frontend_port: 80, backend_port: 8080, load_distribution: LOAD }"#;

#[test]
fn lbfip23_without_floating_ip_the_backend_receives_its_own_ip_and_port_and_replies_as_the_frontend()
 {
    let n = net(
        &WEB.replace("LOAD", "default"),
        "10.0.1.4",
        "",
        "westeurope",
    );
    let mut flows = FlowTable::new();
    let s = spec("10.1.1.4", "10.0.1.100", Protocol::Tcp, 40000, 80);
    let (out, steps, meta) = send_at(&n.dp, Ingress::Nic(n.vm_nic("web")), &s, &mut flows);
    let (b, _) = backend(&steps).expect("placed");
    assert_eq!(out, Outcome::Delivered(Destination::Nic(b)));
    // Source kept, destination the backend's IP and the backend port.
    assert_eq!(meta.key.src, u32::from_be_bytes([10, 1, 1, 4]));
    assert_eq!(meta.key.dst, u32::from(n.sc.nics[b.index()].ip));
    assert_eq!(meta.key.dst_port, 8080);
    let (back, _, rmeta) = reply(&n.dp, Ingress::Nic(b), &meta, &mut flows);
    assert_eq!(back, Outcome::Delivered(Destination::Nic(n.vm_nic("web"))));
    assert_eq!(rmeta.key.src, u32::from_be_bytes([10, 0, 1, 100]));
    assert_eq!(rmeta.key.src_port, 80);
}

#[test]
fn lbfip23_with_floating_ip_the_backend_receives_the_frontend_ip_and_port() {
    let yaml = WEB.replace("LOAD", "default").replace(
        "backend_port: 8080",
        "backend_port: 8080, floating_ip: true",
    );
    let n = net(&yaml, "10.0.1.4", "", "westeurope");
    let mut flows = FlowTable::new();
    let s = spec("10.1.1.4", "10.0.1.100", Protocol::Tcp, 40000, 80);
    let (out, steps, meta) = send_at(&n.dp, Ingress::Nic(n.vm_nic("web")), &s, &mut flows);
    let (b, _) = backend(&steps).expect("placed");
    assert_eq!(out, Outcome::Delivered(Destination::Nic(b)));
    assert_eq!(meta.key.dst, u32::from_be_bytes([10, 0, 1, 100]));
    assert_eq!(meta.key.dst_port, 80);
    // The guest answers from the frontend IP on its loopback: the reply passes.
    let (back, _, rmeta) = reply(&n.dp, Ingress::Nic(b), &meta, &mut flows);
    assert_eq!(back, Outcome::Delivered(Destination::Nic(n.vm_nic("web"))));
    assert_eq!(rmeta.key.src, u32::from_be_bytes([10, 0, 1, 100]));
}

#[test]
fn lbdist23_source_ip_keeps_a_client_on_one_backend_and_default_spreads_it() {
    for (mode, spread) in [
        ("source_ip", false),
        ("source_ip_protocol", false),
        ("default", true),
    ] {
        let n = net(&WEB.replace("LOAD", mode), "10.0.1.4", "", "westeurope");
        let used: HashSet<NicId> = (40000..40032u16)
            .filter_map(|p| {
                let s = spec("10.1.1.4", "10.0.1.100", Protocol::Tcp, p, 80);
                let (_, steps, _) = send_at(
                    &n.dp,
                    Ingress::Nic(n.vm_nic("web")),
                    &s,
                    &mut FlowTable::new(),
                );
                backend(&steps).map(|b| b.0)
            })
            .collect();
        assert_eq!(used.len() > 1, spread, "{mode}: {used:?}");
    }
}

#[test]
fn lbsku23_a_port_no_rule_covers_is_dropped() {
    let n = net(
        &WEB.replace("LOAD", "default"),
        "10.0.1.4",
        "",
        "westeurope",
    );
    let s = spec("10.1.1.4", "10.0.1.100", Protocol::Tcp, 40000, 443);
    let (out, _, _) = send_at(
        &n.dp,
        Ingress::Nic(n.vm_nic("web")),
        &s,
        &mut FlowTable::new(),
    );
    assert!(matches!(
        out,
        Outcome::Dropped(DropReason::LbNoRule, DropCause::LbNoRule { .. })
    ));
}

#[test]
fn lbsku23_basic_frontends_are_not_reachable_over_global_peering_standard_ones_are() {
    let basic = WEB
        .replace("LOAD", "default")
        .replace("  - name: ilb\n", "  - name: ilb\n    sku: Basic\n");
    let n = net(&basic, "10.0.1.4", "", "northeurope");
    let db = Ingress::Nic(n.vm_nic("db"));
    let web = Ingress::Nic(n.vm_nic("web"));
    let s = spec("10.2.1.4", "10.0.1.100", Protocol::Tcp, 40000, 80);
    let (out, _, _) = send_at(&n.dp, db, &s, &mut FlowTable::new());
    assert!(matches!(
        out,
        Outcome::Dropped(DropReason::LbGlobalPeering, _)
    ));
    // From the frontend's own region (spoke s1) the Basic frontend answers.
    let s = spec("10.1.1.4", "10.0.1.100", Protocol::Tcp, 40000, 80);
    assert!(matches!(
        send_at(&n.dp, web, &s, &mut FlowTable::new()).0,
        Outcome::Delivered(_)
    ));
    let n = net(
        &WEB.replace("LOAD", "default"),
        "10.0.1.4",
        "",
        "northeurope",
    );
    let s = spec("10.2.1.4", "10.0.1.100", Protocol::Tcp, 40000, 80);
    assert!(matches!(
        send_at(&n.dp, db, &s, &mut FlowTable::new()).0,
        Outcome::Delivered(_)
    ));
}

#[test]
fn lbsku23_a_public_frontend_takes_internet_traffic_to_a_backend_and_its_reply_leaves_as_the_frontend()
 {
    // The backend's NSG opens the Standard frontend to the Internet [LBSKU23].
    let yaml = r#"  - name: plb
    frontends: [ { name: pub, public_ip: 203.0.113.50 } ]
    backend_pools: [ { name: p, nics: [b2-nic] } ]
    rules: [ { name: https, frontend: pub, backend_pool: p, protocol: tcp, frontend_port: 443, backend_port: 8443 } ]
internet:
  - { name: client, ip: 198.51.100.7 }"#;
    let n = net(yaml, "10.0.1.4", ", nsg: web-in", "westeurope");
    assert!(n.dp.is_public_ip("203.0.113.50".parse().unwrap()));
    let mut flows = FlowTable::new();
    let s = spec("198.51.100.7", "203.0.113.50", Protocol::Tcp, 40000, 443);
    let (out, steps, meta) = send_at(&n.dp, Ingress::Internet, &s, &mut flows);
    let (b, _) = backend(&steps).expect("placed");
    assert_eq!(out, Outcome::Delivered(Destination::Nic(b)));
    assert_eq!(meta.key.dst, u32::from(n.sc.nics[b.index()].ip));
    assert_eq!(meta.key.dst_port, 8443);
    let (back, _, rmeta) = reply(&n.dp, Ingress::Nic(b), &meta, &mut flows);
    assert_eq!(back, Outcome::Delivered(Destination::Internet));
    assert_eq!(rmeta.key.src, u32::from_be_bytes([203, 0, 113, 50]));
    assert_eq!(rmeta.key.src_port, 443);
}

/// "Standard: closed to inbound flows unless allowed by a network security group; Basic: open
/// by default" [LBSKU23]: a Standard public frontend whose backend has no NSG (on its NIC or
/// subnet) takes nothing from the Internet; a Basic one does.
#[test]
fn lbsku23_a_standard_public_frontend_is_closed_without_an_nsg_a_basic_one_is_open() {
    let lb = |sku: &str| {
        format!(
            r#"  - name: plb
    sku: {sku}
    frontends: [ {{ name: pub, public_ip: 203.0.113.50 }} ]
    backend_pools: [ {{ name: p, nics: [b1-nic] }} ]
    rules: [ {{ name: https, frontend: pub, backend_pool: p, protocol: tcp, frontend_port: 443, backend_port: 8443 }} ]
internet:
  - {{ name: client, ip: 198.51.100.7 }}"#
        )
    };
    let s = spec("198.51.100.7", "203.0.113.50", Protocol::Tcp, 40000, 443);
    let standard = net(&lb("Standard"), "10.0.1.4", "", "westeurope");
    let (out, _, _) = send_at(&standard.dp, Ingress::Internet, &s, &mut FlowTable::new());
    assert!(
        matches!(
            out,
            Outcome::Dropped(DropReason::PublicIpClosed, DropCause::LbPublicClosed { .. })
        ),
        "{out:?}"
    );
    let basic = net(&lb("Basic"), "10.0.1.4", "", "westeurope");
    let (out, _, _) = send_at(&basic.dp, Ingress::Internet, &s, &mut FlowTable::new());
    assert!(
        matches!(out, Outcome::Delivered(Destination::Nic(_))),
        "{out:?}"
    );
}

/// "A backend VM cannot reach its own internal load balancer's frontend" [LBFAQ26]: whichever
/// backend the hash would choose, a backend's packet to the frontend is dropped; a VM that is
/// not a backend reaches it.
#[test]
fn lbfaq26_a_backend_cannot_reach_its_own_internal_frontend() {
    let lb = r#"  - name: ilb
    frontends: [ { name: fe, subnet: hub/be, ip: 10.0.1.100 } ]
    backend_pools: [ { name: p, nics: [b1-nic, b2-nic] } ]
    rules: [ { name: web, frontend: fe, backend_pool: p, protocol: tcp, frontend_port: 80, backend_port: 80 } ]"#;
    let n = net(lb, "10.0.1.4", "", "westeurope");
    for port in 40000..40008 {
        let s = spec("10.0.1.4", "10.0.1.100", Protocol::Tcp, port, 80);
        let (out, _, _) = send_at(
            &n.dp,
            Ingress::Nic(n.nic("b1-nic")),
            &s,
            &mut FlowTable::new(),
        );
        assert!(
            matches!(
                out,
                Outcome::Dropped(DropReason::LbOwnFrontend, DropCause::LbOwnFrontend { .. })
            ),
            "{out:?}"
        );
    }
    let s = spec("10.1.1.4", "10.0.1.100", Protocol::Tcp, 40000, 80);
    let (out, _, _) = send_at(
        &n.dp,
        Ingress::Nic(n.nic("web-nic")),
        &s,
        &mut FlowTable::new(),
    );
    assert!(
        matches!(out, Outcome::Delivered(Destination::Nic(_))),
        "{out:?}"
    );
}

/// A NIC's IP configuration in two backend pools of one load balancer, each pool behind a rule
/// of its own: Microsoft's quickstart `quickstarts/microsoft.network/load-balancer-standard-create`
/// deploys each VM's NIC in an inbound and an outbound pool of the same Standard load balancer,
/// so Azure accepts it. Each rule reaches its pool's backends.
#[test]
fn lbsku23_a_nic_may_be_in_two_pools_of_one_load_balancer() {
    let two_pools = r#"  - name: ilb
    frontends: [ { name: fe, subnet: hub/be, ip: 10.0.1.100 } ]
    backend_pools: [ { name: both, nics: [b1-nic, b2-nic] }, { name: only-b1, nics: [b1-nic] } ]
    rules:
      - { name: a, frontend: fe, backend_pool: both, protocol: tcp, frontend_port: 80, backend_port: 80 }
      - { name: b, frontend: fe, backend_pool: only-b1, protocol: tcp, frontend_port: 81, backend_port: 81 }"#;
    let n = net(two_pools, "10.0.1.4", "", "westeurope");
    let web = Ingress::Nic(n.vm_nic("web"));
    let mut flows = FlowTable::new();
    let mut via_a = HashSet::new();
    for port in 40000..40032u16 {
        let (out, steps, _) = send_at(
            &n.dp,
            web,
            &spec("10.1.1.4", "10.0.1.100", Protocol::Tcp, port, 80),
            &mut flows,
        );
        assert!(matches!(out, Outcome::Delivered(_)), "{out:?}");
        via_a.insert(backend(&steps).expect("a load balancer hop").0);
        let (out, steps, _) = send_at(
            &n.dp,
            web,
            &spec("10.1.1.4", "10.0.1.100", Protocol::Tcp, port, 81),
            &mut flows,
        );
        assert_eq!(out, Outcome::Delivered(Destination::Nic(n.vm_nic("b1"))));
        assert_eq!(backend(&steps).map(|b| b.0), Some(n.vm_nic("b1")));
    }
    assert_eq!(via_a.len(), 2, "rule a spreads over both backends");
}
