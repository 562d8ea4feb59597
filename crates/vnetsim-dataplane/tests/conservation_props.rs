//! Property tests: for random small topologies and probes the pipeline never panics, and every
//! packet ends exactly once, delivered to the holder of its destination address or dropped with
//! a reason that matches its cause (conservation). Random bytes never panic either.
//!
//! A topology is decoded from a tape of random bytes, so proptest shrinks a failure to a small
//! tape and the scenario it decodes to is printed.

mod common;

use std::fmt::Write as _;

use proptest::prelude::*;
use vnetsim_dataplane::pipeline::{DropCause, NotCarried};
use vnetsim_dataplane::probe::run_probe;
use vnetsim_dataplane::{Dataplane, Destination, FlowTable, Ingress, Outcome, Step};
use vnetsim_scenario::{DropReason, Endpoint, Probe, Protocol, Scenario};

/// Reads bytes off the tape, answering 0 once it runs out.
struct Tape<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Tape<'_> {
    fn next(&mut self) -> u8 {
        let b = self.bytes.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }
    fn below(&mut self, n: usize) -> usize {
        self.next() as usize % n
    }
    fn flag(&mut self) -> bool {
        self.next() & 1 == 1
    }
    fn pick<'s>(&mut self, items: &[&'s str]) -> &'s str {
        items[self.below(items.len())]
    }
}

/// Decodes a valid scenario (1 to 4 VNets, VMs and appliances, NSGs, route tables, peerings,
/// optionally a gateway with a site) and the IPs worth probing.
fn decode(bytes: &[u8]) -> (String, Vec<String>) {
    let mut t = Tape { bytes, at: 0 };
    let mut y = String::from("name: random\n");
    let access = t.pick(&["tag", "block"]);
    let forwarded = t.pick(&["enforce", "ignore"]);
    writeln!(
        y,
        "azure: {{ virtual_network_access: {access}, forwarded_traffic: {forwarded} }}"
    )
    .unwrap();
    let vnets = 1 + t.below(4);
    let gateway = t.flag();
    let mut ips = Vec::new();
    let mut vms = String::new();
    y.push_str("vnets:\n");
    for v in 0..vnets {
        writeln!(
            y,
            "  - name: v{v}\n    address_space: [10.{v}.0.0/16]\n    subnets:"
        )
        .unwrap();
        for s in 1..=2 {
            let nsg = match t.below(3) {
                0 => String::new(),
                n => format!(", nsg: nsg{}", n - 1),
            };
            let rt = match t.below(3) {
                0 => String::new(),
                n => format!(", route_table: rt{}", n - 1),
            };
            writeln!(
                y,
                "      - {{ name: s{s}, prefix: 10.{v}.{s}.0/24{nsg}{rt} }}"
            )
            .unwrap();
        }
        if v == 0 && gateway {
            y.push_str("      - { name: GatewaySubnet, prefix: 10.0.255.0/27 }\n    gateway: { name: gw, sku: VpnGw1 }\n");
        }
        for k in 0..1 + t.below(3) {
            let s = 1 + t.below(2);
            let ip = format!("10.{v}.{s}.{}", 4 + k);
            let forwarding = t.flag();
            let ip_forwarding = t.flag();
            let nsg = match t.below(3) {
                0 => String::new(),
                n => format!(", nsg: nsg{}", n - 1),
            };
            writeln!(
                vms,
                "  - {{ name: vm{v}x{k}, size: Standard_D2s_v3, forwarding: {forwarding}, nics: [ {{ name: nic{v}x{k}, \
                 subnet: v{v}/s{s}, ip: {ip}, ip_forwarding: {ip_forwarding}{nsg} }} ] }}"
            )
            .unwrap();
            ips.push(ip);
        }
    }
    writeln!(y, "vms:\n{vms}").unwrap();

    y.push_str("nsgs:\n");
    for n in 0..2 {
        writeln!(y, "  - name: nsg{n}\n    rules:").unwrap();
        let rules = t.below(4);
        if rules == 0 {
            y.truncate(y.len() - "\n    rules:\n".len());
            y.push_str("\n    rules: []\n");
        }
        for r in 0..rules {
            let protocol = t.pick(&["tcp", "udp", "icmp", "'*'"]);
            let ports = if protocol == "icmp" {
                "'*'"
            } else {
                t.pick(&["'*'", "80", "22-443", "'53,80'"])
            };
            writeln!(
                y,
                "      - {{ name: r{r}, priority: {}, direction: {}, access: {}, protocol: {protocol}, source: {}, \
                 destination: {}, destination_ports: {ports} }}",
                100 + 10 * r,
                t.pick(&["inbound", "outbound"]),
                t.pick(&["allow", "deny"]),
                t.pick(&["'*'", "VirtualNetwork", "Internet", "10.0.0.0/8", "10.1.0.0/16", "192.168.0.0/16"]),
                t.pick(&["'*'", "VirtualNetwork", "Internet", "10.2.0.0/16"]),
            )
            .unwrap();
        }
    }

    y.push_str("route_tables:\n");
    let prefixes = [
        "0.0.0.0/0",
        "10.0.0.0/8",
        "10.1.0.0/16",
        "10.2.0.0/16",
        "192.168.0.0/16",
        "203.0.113.0/24",
        "10.0.2.0/24",
    ];
    for rt in 0..2 {
        let propagate = t.flag();
        writeln!(
            y,
            "  - name: rt{rt}\n    disable_gateway_route_propagation: {propagate}\n    routes:"
        )
        .unwrap();
        let mut used = Vec::new();
        for r in 0..t.below(4) {
            let prefix = t.pick(&prefixes);
            if used.contains(&prefix) {
                continue;
            }
            used.push(prefix);
            let hop = match t.below(5) {
                0 => {
                    let ip = if t.flag() {
                        ips[t.below(ips.len())].clone()
                    } else {
                        "10.3.9.9".to_string()
                    };
                    format!("VirtualAppliance, next_hop_ip: {ip}")
                }
                1 => "VnetLocal".to_string(),
                2 => "Internet".to_string(),
                3 => "None".to_string(),
                _ => "VirtualNetworkGateway".to_string(),
            };
            writeln!(
                y,
                "      - {{ name: u{r}, prefix: {prefix}, next_hop: {hop} }}"
            )
            .unwrap();
        }
        if used.is_empty() {
            y.truncate(y.len() - "\n    routes:\n".len());
            y.push_str("\n    routes: []\n");
        }
    }

    let mut peerings = String::new();
    for a in 0..vnets {
        for b in 0..vnets {
            if a == b || !t.flag() {
                continue;
            }
            let transit = gateway && a == 0;
            // use_remote_gateways on a link to v0 only (one per VNet), and only when v0's link back
            // allows transit (v0's links are written first).
            let remote =
                gateway && b == 0 && peerings.contains(&format!("name: p0to{a},")) && t.flag();
            writeln!(
                peerings,
                "  - {{ name: p{a}to{b}, from: v{a}, to: v{b}, allow_virtual_network_access: {}, \
                 allow_forwarded_traffic: {}, allow_gateway_transit: {transit}, use_remote_gateways: {remote} }}",
                t.flag(),
                t.flag()
            )
            .unwrap();
        }
    }
    if !peerings.is_empty() {
        writeln!(y, "peerings:\n{peerings}").unwrap();
    }
    if gateway {
        y.push_str(
            "on_premises:\n  - { name: site, address_space: [192.168.0.0/16], connection: gw, \
             hosts: [ { name: site-pc, ip: 192.168.1.10 } ] }\n",
        );
        ips.push("192.168.1.10".to_string());
    }
    ips.extend(
        [
            "10.3.9.9",
            "10.200.0.1",
            "192.168.7.7",
            "203.0.113.5",
            "100.64.0.1",
        ]
        .map(String::from),
    );
    (y, ips)
}

/// The reason each cause must come with (scenario contract, "Drop reasons").
fn reason_of(cause: &DropCause) -> DropReason {
    match cause {
        DropCause::Nsg { .. } => DropReason::NsgDenied,
        DropCause::NoneRoute { .. }
        | DropCause::NoMatch { .. }
        | DropCause::NoGateway { .. }
        | DropCause::NoSite { .. }
        | DropCause::NotAdvertised { .. }
        | DropCause::FromInternet
        | DropCause::SiteNotConnected { .. }
        // A private endpoint's routes without its subnet's route table hold no
        // VirtualAppliance route: only None or a missing gateway drop there.
        | DropCause::EndpointRoute { .. } => DropReason::NoRoute,
        DropCause::NoNic { .. } | DropCause::NoHost { .. } => DropReason::NoDestination,
        DropCause::ApplianceUnreachable { .. } => DropReason::NextHopUnreachable,
        DropCause::NicIpForwardingOff { .. }
        | DropCause::NicSourceCheck { .. }
        | DropCause::GuestNotForwarding { .. } => DropReason::ForwardingDisabled,
        DropCause::AccessOff { .. } => DropReason::VnetAccessBlocked,
        DropCause::ForwardedOff { .. } => DropReason::ForwardedTrafficBlocked,
        DropCause::TtlAtNic { .. } | DropCause::TtlAtGateway { .. } | DropCause::HopBudget => {
            DropReason::TtlExceeded
        }
        DropCause::Malformed(_) => DropReason::Malformed,
        DropCause::FlowLimit { .. } => DropReason::FlowLimit,
        DropCause::Firewall { .. } => DropReason::FirewallDenied,
        DropCause::FirewallNoSession { .. } => DropReason::FirewallNoSession,
        DropCause::TtlAtFirewall { .. } => DropReason::TtlExceeded,
        DropCause::NoOutboundAccess { .. } => DropReason::NoOutboundAccess,
        DropCause::PublicIpClosed { .. } => DropReason::PublicIpClosed,
        DropCause::LbNoRule { .. } => DropReason::LbNoRule,
        DropCause::LbNoHealthyBackend { .. } => DropReason::LbNoHealthyBackend,
        DropCause::LbGlobalPeering { .. } => DropReason::LbGlobalPeering,
        DropCause::LbOwnFrontend { .. } => DropReason::LbOwnFrontend,
        DropCause::LbPublicClosed { .. } => DropReason::PublicIpClosed,
        DropCause::NotCarried(NotCarried::Multicast) => DropReason::MulticastBlocked,
        DropCause::NotCarried(NotCarried::LimitedBroadcast | NotCarried::SubnetBroadcast) => {
            DropReason::BroadcastBlocked
        }
        DropCause::NotCarried(
            NotCarried::Gre
            | NotCarried::IpInIp
            | NotCarried::UnicastDhcp
            | NotCarried::HostReservedPort
            | NotCarried::FirewallNonTcpUdpSnat,
        ) => {
            DropReason::ProtocolBlocked
        }
        DropCause::NotCarried(NotCarried::ThisNetwork | NotCarried::Loopback) => {
            DropReason::InvalidDestination
        }
    }
}

/// Conservation of one probe: one terminal step, last, agreeing with the outcome; a delivery
/// reaches the holder of the destination address; a drop's reason matches its cause.
fn check(
    sc: &Scenario,
    outcome: Outcome,
    steps: &[Step],
    dst: std::net::Ipv4Addr,
) -> Result<(), TestCaseError> {
    let terminal = steps
        .iter()
        .filter(|s| matches!(s, Step::Deliver { .. } | Step::Drop { .. }))
        .count();
    prop_assert_eq!(terminal, 1, "steps: {:?}", steps);
    match (outcome, steps.last()) {
        (Outcome::Delivered(to), Some(Step::Deliver { to: t })) => {
            prop_assert_eq!(to, *t);
            match to {
                Destination::Nic(nic) => prop_assert_eq!(sc.nics[nic.index()].ip, dst),
                Destination::Host(host) => prop_assert_eq!(sc.hosts[host.index()].ip, dst),
                Destination::Internet => {}
                Destination::Platform(e) => prop_assert_eq!(e.address(), dst),
                Destination::PrivateEndpoint(pe) => {
                    prop_assert_eq!(sc.private_endpoints[pe.index()].ip, dst)
                }
            }
        }
        (
            Outcome::Dropped(reason, cause),
            Some(Step::Drop {
                reason: r,
                cause: c,
            }),
        ) => {
            prop_assert_eq!((reason, cause), (*r, *c));
            prop_assert_eq!(reason, reason_of(&cause));
            prop_assert_ne!(
                reason,
                DropReason::QueueOverflow,
                "the pipeline has no queues"
            );
            prop_assert_ne!(
                cause,
                DropCause::HopBudget,
                "a TTL of 64 runs out before the hop budget"
            );
        }
        (o, last) => prop_assert!(false, "outcome {:?} but last step {:?}", o, last),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn random_topologies_conserve_every_probe(
        tape in prop::collection::vec(any::<u8>(), 40..200),
        probes in prop::collection::vec((any::<u8>(), any::<u8>(), 0u8..3, any::<u16>(), any::<u16>()), 1..12),
    ) {
        let (yaml, ips) = decode(&tape);
        let sc = match vnetsim_scenario::load_str(&yaml, "random.yaml") {
            Ok(sc) => sc,
            Err(e) => return Err(TestCaseError::fail(format!("generator wrote an invalid scenario: {e:?}\n{yaml}"))),
        };
        let dp = Dataplane::compile(&sc);
        let senders: Vec<Endpoint> = sc
            .vms
            .iter()
            .enumerate()
            .map(|(i, _)| Endpoint::Vm(vnetsim_scenario::VmId(i as u32)))
            .chain(sc.hosts.iter().enumerate().map(|(i, _)| Endpoint::Host(vnetsim_scenario::HostId(i as u32))))
            .collect();
        let mut flows = FlowTable::new();
        for (n, (from, to, proto, sport, dport)) in probes.into_iter().enumerate() {
            let protocol = [Protocol::Tcp, Protocol::Udp, Protocol::Icmp][proto as usize];
            let from = senders[from as usize % senders.len()];
            let dst: std::net::Ipv4Addr = ips[to as usize % ips.len()].parse().unwrap();
            let probe = Probe { from, to: Endpoint::Ip(dst), protocol, src_port: sport, dst_port: dport, at: n as u64 };
            let result = run_probe(&sc, &dp, &probe, n as u16, &mut flows);
            check(&sc, result.outcome, &result.steps, dst).map_err(|e| TestCaseError::fail(format!("{e}\n{yaml}")))?;
            // The reply, through the same flow table (stateful NSGs).
            if let Outcome::Delivered(Destination::Nic(_) | Destination::Host(_)) = result.outcome {
                let src = sc.endpoint_ip(from).unwrap();
                let reply = Probe {
                    from: sc.endpoint_by_name(&dst.to_string()).unwrap(),
                    to: Endpoint::Ip(src),
                    protocol,
                    src_port: dport,
                    dst_port: sport,
                    at: n as u64,
                };
                let back = run_probe(&sc, &dp, &reply, n as u16, &mut flows);
                check(&sc, back.outcome, &back.steps, src).map_err(|e| TestCaseError::fail(format!("{e}\n{yaml}")))?;
            }
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..96), from in 0u8..3) {
        let net = common::Net::new(
            "name: bytes\nvnets:\n  - { name: v, address_space: [10.0.0.0/16], subnets: [ { name: s, prefix: 10.0.1.0/24 } ] }\n\
             vms:\n  - { name: vm, size: Standard_D2s_v3, nics: [ { name: nic, subnet: v/s, ip: 10.0.1.4, ip_forwarding: true } ] }\n",
        );
        let ingress = match from {
            0 => Ingress::Nic(net.nic("nic")),
            _ => Ingress::Internet,
        };
        let mut buf = bytes;
        let mut steps = Vec::new();
        let outcome = net.dp.forward(&mut buf, ingress, &mut FlowTable::new(), 0, &mut steps);
        let terminal = steps.iter().filter(|s| matches!(s, Step::Deliver { .. } | Step::Drop { .. })).count();
        prop_assert_eq!(terminal, 1);
        if let Outcome::Dropped(reason, cause) = outcome {
            prop_assert_eq!(reason, reason_of(&cause));
        }
    }
}
