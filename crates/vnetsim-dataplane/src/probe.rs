//! Probes: one real packet built from a [`Probe`] and decided by the pipeline.
//!
//! What it is for: the slow path used by `run` expectations, `explain` and tests: build the
//! IPv4 packet (real headers and checksums), pick where it enters, forward it with a full trace.
//! What it is not: the hot path (it allocates a trace) and not a timed replay.

use std::net::Ipv4Addr;

use vnetsim_scenario::{Endpoint, Probe, Protocol, Scenario};

use crate::pipeline::{Destination, FlowTable, Ingress, Outcome, Step};
use crate::topology::Dataplane;
use crate::wire::{self, PacketSpec};

/// TTL of probe packets (Linux's default).
pub const PROBE_TTL: u8 = 64;

/// The result of one probe.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeResult {
    /// The verdict.
    pub outcome: Outcome,
    /// Every step, in order.
    pub steps: Vec<Step>,
    /// Where the packet entered.
    pub ingress: Ingress,
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
}

/// Size of a probe packet: 40 bytes for a TCP SYN, 64 for UDP, 84 for an ICMP echo (ping).
pub fn probe_size(protocol: Protocol) -> u16 {
    match protocol {
        Protocol::Tcp => 40,
        Protocol::Udp => 64,
        Protocol::Icmp => 84,
    }
}

/// Where packets from `endpoint` enter the data plane.
pub fn ingress_for(scenario: &Scenario, endpoint: Endpoint) -> Ingress {
    match endpoint {
        Endpoint::Vm(vm) => match scenario.vms[vm.index()].nics.first() {
            Some(nic) => Ingress::Nic(*nic),
            None => Ingress::Internet,
        },
        Endpoint::Host(host) => Ingress::Site(scenario.hosts[host.index()].site),
        Endpoint::Ip(ip) => {
            if let Some(nic) = scenario.nics.iter().position(|n| n.ip == ip) {
                Ingress::Nic(vnetsim_scenario::NicId(nic as u32))
            } else if let Some(host) = scenario.hosts.iter().find(|h| h.ip == ip) {
                Ingress::Site(host.site)
            } else {
                Ingress::Internet
            }
        }
    }
}

/// Builds the probe packet and forwards it with a full trace. Flow records created by an
/// allowed probe stay in `flows`, so a later probe in the reverse direction is a reply.
pub fn run_probe(
    scenario: &Scenario,
    dataplane: &Dataplane,
    probe: &Probe,
    identification: u16,
    flows: &mut FlowTable,
) -> ProbeResult {
    run_probe_observed(
        scenario,
        dataplane,
        probe,
        identification,
        flows,
        &mut |_, _| {},
    )
}

/// Like [`run_probe`], showing `observe` the packet bytes as sent (`false`) and, when it is
/// delivered, as they arrive (`true`, after any TTL decrements): for captures.
pub fn run_probe_observed(
    scenario: &Scenario,
    dataplane: &Dataplane,
    probe: &Probe,
    identification: u16,
    flows: &mut FlowTable,
    observe: &mut dyn FnMut(&[u8], bool),
) -> ProbeResult {
    let src = scenario
        .endpoint_ip(probe.from)
        .unwrap_or(Ipv4Addr::UNSPECIFIED);
    let dst = scenario
        .endpoint_ip(probe.to)
        .unwrap_or(Ipv4Addr::UNSPECIFIED);
    let ingress = ingress_for(scenario, probe.from);
    let spec = PacketSpec {
        src,
        dst,
        protocol: probe.protocol,
        src_port: probe.src_port,
        dst_port: probe.dst_port,
        ttl: PROBE_TTL,
        total_len: probe_size(probe.protocol),
        identification,
    };
    let mut buf = [0u8; 128];
    let mut steps = Vec::new();
    let outcome = match wire::build_probe(&mut buf, &spec) {
        Ok(len) => {
            let packet = &mut buf[..len];
            observe(packet, false);
            let outcome = dataplane.forward(packet, ingress, flows, probe.at, &mut steps);
            if let Outcome::Delivered(_) = outcome {
                observe(packet, true);
            }
            outcome
        }
        // A probe that cannot be built is as malformed as one that cannot be parsed.
        Err(_) => dataplane.forward(&mut [], ingress, flows, probe.at, &mut steps),
    };
    ProbeResult {
        outcome,
        steps,
        ingress,
        src,
        dst,
    }
}

/// The hops of a probe by name, as an expectation's `path` lists them: the sender, every
/// appliance VM and gateway on the way, and the receiver when delivered.
pub fn path_names(scenario: &Scenario, probe: &Probe, result: &ProbeResult) -> Vec<String> {
    let mut path = vec![scenario.endpoint_name(probe.from).to_string()];
    for step in &result.steps {
        match *step {
            Step::Forward { nic, .. } => {
                let vm = scenario.nics[nic.index()].vm;
                path.push(scenario.vms[vm.index()].name.to_string());
            }
            Step::Gateway { vnet } => {
                if let Some(gw) = &scenario.vnets[vnet.index()].gateway {
                    path.push(gw.name.clone());
                }
            }
            Step::Deliver { to } => path.push(destination_name(scenario, to)),
            _ => {}
        }
    }
    path
}

/// The display name of a destination: the VM of a NIC, a host, or `Internet`.
pub fn destination_name(scenario: &Scenario, to: Destination) -> String {
    match to {
        Destination::Nic(nic) => scenario.vms[scenario.nics[nic.index()].vm.index()]
            .name
            .to_string(),
        Destination::Host(host) => scenario.hosts[host.index()].name.to_string(),
        Destination::Internet => "Internet".to_string(),
    }
}
