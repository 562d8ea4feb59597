//! Shared helpers of the data plane's integration tests: load an inline scenario, compile it,
//! probe it by names, and read effective routes as plain rows.

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use std::net::Ipv4Addr;

use vnetsim_dataplane::pipeline::{DropCause, NsgDecision, NsgPoint};
use vnetsim_dataplane::probe::{ProbeResult, run_probe};
use vnetsim_dataplane::routes::{EffectiveRoute, RouteSource};
use vnetsim_dataplane::wire::{self, PacketSpec};
use vnetsim_dataplane::{Dataplane, FlowTable, Ingress, Outcome, Step};
use vnetsim_scenario::{
    DropReason, Endpoint, NicId, NsgId, PeeringId, Probe, Protocol, Scenario, SubnetId, VnetId,
};

/// A loaded scenario and its compiled data plane.
pub struct Net {
    pub sc: Scenario,
    pub dp: Dataplane,
}

/// Loads `yaml` (panicking with the rendered diagnostics if it is invalid).
pub fn load(yaml: &str) -> Scenario {
    match vnetsim_scenario::load_str(yaml, "test.yaml") {
        Ok(s) => s,
        Err(e) => panic!("scenario does not load: {e:?}"),
    }
}

impl Net {
    /// Loads and compiles with every peering link present.
    pub fn new(yaml: &str) -> Self {
        let sc = load(yaml);
        let dp = Dataplane::compile(&sc);
        Net { sc, dp }
    }

    pub fn vnet(&self, name: &str) -> VnetId {
        self.sc
            .vnet_by_name(name)
            .unwrap_or_else(|| panic!("no VNet {name}"))
    }

    pub fn subnet(&self, path: &str) -> SubnetId {
        self.sc
            .subnet_by_path(path)
            .unwrap_or_else(|| panic!("no subnet {path}"))
    }

    pub fn nic(&self, name: &str) -> NicId {
        self.sc
            .nic_by_name(name)
            .unwrap_or_else(|| panic!("no NIC {name}"))
    }

    /// The primary NIC of a VM.
    pub fn vm_nic(&self, vm: &str) -> NicId {
        let vm = self
            .sc
            .vm_by_name(vm)
            .unwrap_or_else(|| panic!("no VM {vm}"));
        self.sc.vms[vm.index()].nics[0]
    }

    pub fn nsg(&self, name: &str) -> NsgId {
        self.sc
            .nsg_by_name(name)
            .unwrap_or_else(|| panic!("no NSG {name}"))
    }

    pub fn peering(&self, name: &str) -> PeeringId {
        self.sc
            .peering_by_name(name)
            .unwrap_or_else(|| panic!("no peering {name}"))
    }

    /// An endpoint by VM name, host name or IPv4 address.
    pub fn endpoint(&self, name: &str) -> Endpoint {
        self.sc
            .endpoint_by_name(name)
            .unwrap_or_else(|| panic!("no endpoint {name}"))
    }

    /// A probe between two named endpoints (source port 49152).
    pub fn probe_of(&self, from: &str, to: &str, protocol: Protocol, dst_port: u16) -> Probe {
        Probe {
            from: self.endpoint(from),
            to: self.endpoint(to),
            protocol,
            src_port: 49152,
            dst_port,
            at: 0,
        }
    }

    /// One ICMP echo probe with a fresh flow table.
    pub fn ping(&self, from: &str, to: &str) -> ProbeResult {
        self.send(from, to, Protocol::Icmp, 0)
    }

    /// One probe with a fresh flow table.
    pub fn send(&self, from: &str, to: &str, protocol: Protocol, dst_port: u16) -> ProbeResult {
        let probe = self.probe_of(from, to, protocol, dst_port);
        run_probe(&self.sc, &self.dp, &probe, 1, &mut FlowTable::new())
    }

    /// A hand-built packet (e.g. with a foreign source address) forwarded from `ingress`.
    pub fn inject(&self, ingress: Ingress, spec: &PacketSpec) -> (Outcome, Vec<Step>) {
        let mut buf = [0u8; 128];
        let len = wire::build_probe(&mut buf, spec).expect("packet builds");
        let mut steps = Vec::new();
        let outcome = self.dp.forward(
            &mut buf[..len],
            ingress,
            &mut FlowTable::new(),
            0,
            &mut steps,
        );
        (outcome, steps)
    }

    /// Index of the route with this source and prefix in a subnet's effective routes.
    pub fn route_index(&self, subnet: SubnetId, source: RouteSource, prefix: &str) -> u32 {
        let prefix = prefix.parse().expect("prefix");
        self.dp
            .routes(subnet)
            .iter()
            .position(|r| r.source == source && r.prefix == prefix)
            .unwrap_or_else(|| panic!("no {source:?} route {prefix} in subnet {subnet:?}"))
            as u32
    }

    /// The effective routes of a subnet as rows.
    pub fn rows(&self, subnet: &str) -> Vec<Row> {
        self.dp
            .routes(self.subnet(subnet))
            .iter()
            .map(Row::of)
            .collect()
    }
}

/// One effective route as Azure shows it: source, state, prefix, next hop type, next hop IP.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Row {
    pub source: String,
    pub state: String,
    pub prefix: String,
    pub next_hop: String,
    pub next_hop_ip: Option<Ipv4Addr>,
}

impl Row {
    pub fn of(r: &EffectiveRoute) -> Row {
        Row {
            source: r.source.as_str().to_string(),
            state: r.state.as_str().to_string(),
            prefix: r.prefix.to_string(),
            next_hop: r.next_hop.as_str().to_string(),
            next_hop_ip: r.next_hop_ip,
        }
    }
}

/// A row from its five columns (`ip` empty for none).
pub fn row(source: &str, state: &str, prefix: &str, next_hop: &str, ip: &str) -> Row {
    Row {
        source: source.to_string(),
        state: state.to_string(),
        prefix: prefix.to_string(),
        next_hop: next_hop.to_string(),
        next_hop_ip: (!ip.is_empty()).then(|| ip.parse().expect("next hop ip")),
    }
}

/// Asserts two route lists hold the same rows, whatever their order.
pub fn assert_same_rows(actual: Vec<Row>, expected: Vec<Row>) {
    let mut a = actual;
    let mut e = expected;
    a.sort();
    e.sort();
    assert_eq!(a, e, "effective routes differ");
}

/// The drop reason and cause, panicking if the probe was delivered.
pub fn dropped(result: &ProbeResult) -> (DropReason, DropCause) {
    match result.outcome {
        Outcome::Dropped(reason, cause) => (reason, cause),
        Outcome::Delivered(to) => panic!(
            "expected a drop, delivered to {to:?}; steps {:#?}",
            result.steps
        ),
    }
}

/// Asserts the probe was delivered to `nic`.
pub fn assert_delivered_to(result: &ProbeResult, nic: NicId) {
    assert_eq!(
        result.outcome,
        Outcome::Delivered(vnetsim_dataplane::Destination::Nic(nic)),
        "steps: {:#?}",
        result.steps
    );
}

/// The routes chosen on the way, as (subnet, route index).
pub fn routes_taken(steps: &[Step]) -> Vec<(SubnetId, u32)> {
    steps
        .iter()
        .filter_map(|s| match *s {
            Step::Route { subnet, route } => Some((subnet, route)),
            _ => None,
        })
        .collect()
}

/// The NICs whose appliance forwarded the packet.
pub fn forwarders(steps: &[Step]) -> Vec<NicId> {
    steps
        .iter()
        .filter_map(|s| match *s {
            Step::Forward { nic, .. } => Some(nic),
            _ => None,
        })
        .collect()
}

/// The NSG evaluations that let the packet pass, as (point, nsg, decision).
pub fn nsg_passes(steps: &[Step]) -> Vec<(NsgPoint, NsgId, NsgDecision)> {
    steps
        .iter()
        .filter_map(|s| match *s {
            Step::Nsg {
                point,
                nsg,
                decision,
                ..
            } => Some((point, nsg, decision)),
            _ => None,
        })
        .collect()
}

/// A TCP SYN spec with TTL 64.
pub fn tcp_spec(src: &str, dst: &str, src_port: u16, dst_port: u16) -> PacketSpec {
    PacketSpec {
        src: src.parse().expect("src"),
        dst: dst.parse().expect("dst"),
        protocol: Protocol::Tcp,
        src_port,
        dst_port,
        ttl: 64,
        total_len: 40,
        identification: 1,
    }
}

/// A packet of `protocol` from `src` to `dst` (TTL 64, 64 bytes).
pub fn spec(src: &str, dst: &str, protocol: Protocol, sport: u16, dport: u16) -> PacketSpec {
    PacketSpec {
        src: src.parse().unwrap(),
        dst: dst.parse().unwrap(),
        protocol,
        src_port: sport,
        dst_port: dport,
        ttl: 64,
        total_len: 64,
        identification: 1,
    }
}
