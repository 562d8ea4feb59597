//! A loaded scenario and what a test does with it: probes, raw packets, timed replays.
//!
//! What it is for: [`Sim`], the entry point of the harness API. Probes and raw packets go
//! through the data plane against the network as it is at their time (every timed event up to
//! then applied), sharing one NSG flow table, so a probe in the reverse direction of an
//! allowed one is a reply (stateful NSGs). [`Sim::run`] and [`Sim::run_for`] replay the whole
//! scenario (traffic, probes, events) in simulated time with the engine and return its report.
//! What it is not: a real-time driver, and it keeps no wall clock.

use std::cell::{Cell, RefCell};
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use vnetsim_dataplane::expect::describe;
use vnetsim_dataplane::explain::explain;
use vnetsim_dataplane::probe::{ProbeResult, run_probe};
use vnetsim_dataplane::wire::{self, PROTO_TCP, PROTO_UDP};
use vnetsim_dataplane::{Dataplane, FlowTable, Ingress};
use vnetsim_engine::network::Network;
use vnetsim_engine::report::{FlowReport, NicReport};
use vnetsim_engine::{Engine, Options, Report};
use vnetsim_scenario::{Endpoint, Nanos, Probe, Protocol, Scenario};

use crate::error::Error;
use crate::verdict::Verdict;

/// Source port of probes that name none (as in scenario files).
pub const DEFAULT_SRC_PORT: u16 = 49152;
/// Destination port of probes that name none (as in scenario files).
pub const DEFAULT_DST_PORT: u16 = 80;

/// A loaded, checked scenario, ready for probes, raw packets and replays.
///
/// Probes and raw packets share one NSG flow table (see the module docs); [`Sim::reset_flows`]
/// forgets it. Replays start from a fresh network each time.
#[derive(Debug)]
pub struct Sim {
    scenario: Scenario,
    base: Network,
    flows: RefCell<FlowTable>,
    packets: Cell<u16>,
    seed: Option<u64>,
}

/// Nanoseconds in a duration, saturating.
fn nanos(d: Duration) -> Nanos {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Sim {
    /// Loads and checks a scenario file (YAML or JSON). On failure the error renders every
    /// diagnostic with file, line, column and the Azure rule broken.
    pub fn load(path: impl AsRef<Path>) -> Result<Sim, Error> {
        let scenario = vnetsim_scenario::load_file(path.as_ref())?;
        Ok(Sim::from_scenario(scenario))
    }

    /// Loads and checks a scenario given as YAML text (named `<inline>` in diagnostics).
    pub fn from_yaml(text: &str) -> Result<Sim, Error> {
        let scenario = vnetsim_scenario::load_str(text, "<inline>")?;
        Ok(Sim::from_scenario(scenario))
    }

    /// Wraps a scenario built in code (or loaded elsewhere).
    pub fn from_scenario(scenario: Scenario) -> Sim {
        Sim {
            base: Network::new(&scenario),
            scenario,
            flows: RefCell::new(FlowTable::new()),
            packets: Cell::new(0),
            seed: None,
        }
    }

    /// Replays use this seed instead of the file's.
    pub fn with_seed(mut self, seed: u64) -> Sim {
        self.seed = Some(seed);
        self
    }

    /// The scenario as loaded (no timed event applied).
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The data plane compiled from the scenario at time zero.
    pub fn dataplane(&self) -> &Dataplane {
        self.base.dataplane()
    }

    /// Forgets every NSG flow record made by earlier probes and packets.
    pub fn reset_flows(&self) {
        self.flows.borrow_mut().clear();
    }

    /// Starts a probe from `from` to `to` (VM names, on-premises host names or IPv4
    /// addresses). It is an ICMP echo request unless [`ProbeBuilder::tcp`] or
    /// [`ProbeBuilder::udp`] says otherwise, sent at time zero unless [`ProbeBuilder::at`] says
    /// otherwise.
    pub fn probe(&self, from: &str, to: &str) -> ProbeBuilder<'_> {
        ProbeBuilder {
            sim: self,
            from: from.to_string(),
            to: to.to_string(),
            protocol: Protocol::Icmp,
            src_port: DEFAULT_SRC_PORT,
            dst_port: DEFAULT_DST_PORT,
            at: 0,
        }
    }

    /// Sends the raw IPv4 packet `bytes` from `ingress` (a NIC name, a VM name for its primary
    /// NIC, or an on-premises host name for its site) at time zero, and returns the trace of
    /// what the data plane did with it. Bytes that are not a valid IPv4 packet are dropped as
    /// `malformed`, as on the wire.
    pub fn send_bytes(&self, ingress: &str, bytes: &[u8]) -> Result<Verdict, Error> {
        self.send_bytes_at(ingress, bytes, Duration::ZERO)
    }

    /// Like [`Sim::send_bytes`], against the network as it is at `at` (timed events applied).
    pub fn send_bytes_at(
        &self,
        ingress: &str,
        bytes: &[u8],
        at: Duration,
    ) -> Result<Verdict, Error> {
        let sc = &self.scenario;
        let (ingress, from) = if let Some(nic) = sc.nic_by_name(ingress) {
            (Ingress::Nic(nic), endpoint_of_nic(sc, nic))
        } else if let Some(vm) = sc.vm_by_name(ingress) {
            match sc.vms[vm.index()].nics.first() {
                Some(nic) => (Ingress::Nic(*nic), Endpoint::Vm(vm)),
                None => (Ingress::Internet, Endpoint::Vm(vm)),
            }
        } else if let Some(host) = sc.host_by_name(ingress) {
            (
                Ingress::Site(sc.hosts[host.index()].site),
                Endpoint::Host(host),
            )
        } else {
            return Err(Error::UnknownIngress {
                name: ingress.to_string(),
                scenario: sc.name.clone(),
            });
        };
        let at = nanos(at);
        let meta = wire::parse(bytes).ok();
        let (src, dst) = match meta {
            Some(m) => (Ipv4Addr::from(m.key.src), Ipv4Addr::from(m.key.dst)),
            None => (Ipv4Addr::UNSPECIFIED, Ipv4Addr::UNSPECIFIED),
        };
        let to = self.endpoint_of_ip(dst);
        let (protocol, protocol_name) = match meta.map(|m| m.key.protocol) {
            Some(PROTO_TCP) => (Protocol::Tcp, "tcp"),
            Some(PROTO_UDP) => (Protocol::Udp, "udp"),
            Some(wire::PROTO_ICMP) => (Protocol::Icmp, "icmp"),
            Some(_) => (Protocol::Icmp, "ip"),
            None => (Protocol::Icmp, "malformed"),
        };
        let probe = Probe {
            from,
            to,
            protocol,
            src_port: meta.map_or(0, |m| m.key.src_port),
            dst_port: meta.map_or(0, |m| m.key.dst_port),
            at,
        };
        let mut packet = bytes.to_vec();
        let verdict = self.with_network(at, |scenario, dataplane| {
            let mut steps = Vec::new();
            let outcome = dataplane.forward(
                &mut packet,
                ingress,
                &mut self.flows.borrow_mut(),
                at,
                &mut steps,
            );
            let result = ProbeResult {
                outcome,
                steps,
                ingress,
                src,
                dst,
            };
            verdict_of(scenario, dataplane, &probe, &result)
        });
        let mut verdict = verdict;
        verdict.explanation.protocol = protocol_name;
        verdict.packet = Some(packet);
        tracing::debug!(ingress = ?ingress, verdict = %verdict.detail, "raw packet");
        Ok(verdict)
    }

    /// The endpoint that holds `ip`: the VM of a primary NIC, another NIC itself, an on-premises
    /// host, or the bare address.
    fn endpoint_of_ip(&self, ip: Ipv4Addr) -> Endpoint {
        let sc = &self.scenario;
        if let Some(n) = sc.nics.iter().position(|n| n.ip == ip) {
            endpoint_of_nic(sc, vnetsim_scenario::NicId(n as u32))
        } else if let Some(h) = sc.hosts.iter().position(|h| h.ip == ip) {
            Endpoint::Host(vnetsim_scenario::HostId(h as u32))
        } else {
            Endpoint::Ip(ip)
        }
    }

    /// Calls `f` with the network as it is at simulated time `at`: the scenario with every
    /// timed event up to `at` applied, and its data plane compiled from it (the one compiled at
    /// load when no event applies). For read-only views at a time (routes, a reachability
    /// matrix); probes already use it.
    pub fn with_network_at<R>(
        &self,
        at: Duration,
        f: impl FnOnce(&Scenario, &Dataplane) -> R,
    ) -> R {
        self.with_network(nanos(at), f)
    }

    /// Calls `f` with the network as it is at `at`: the scenario with every timed event up to
    /// `at` applied, and its compiled data plane.
    fn with_network<R>(&self, at: Nanos, f: impl FnOnce(&Scenario, &Dataplane) -> R) -> R {
        let mut events: Vec<_> = self.scenario.events.iter().filter(|e| e.at <= at).collect();
        if events.is_empty() {
            return f(self.base.scenario(), self.base.dataplane());
        }
        events.sort_by_key(|e| e.at);
        let mut network = Network::new(&self.scenario);
        for e in events {
            network.apply(&e.action);
        }
        f(network.scenario(), network.dataplane())
    }

    fn next_identification(&self) -> u16 {
        let id = self.packets.get().wrapping_add(1);
        self.packets.set(id);
        id
    }

    /// Replays the scenario (traffic, probes, timed events) in simulated time, to its
    /// `duration` or until nothing is pending, and returns the engine's report: conservation,
    /// drops by reason, per-flow statistics (throughput, latency percentiles), NICs, shapers,
    /// peerings, and which expectations held.
    pub fn run(&self) -> Report {
        Engine::new(
            &self.scenario,
            Options {
                seed: self.seed,
                ..Options::default()
            },
        )
        .run()
    }

    /// Like [`Sim::run`], with the scenario's `duration` set to `duration`.
    pub fn run_for(&self, duration: Duration) -> Report {
        let mut scenario = self.scenario.clone();
        scenario.duration = Some(nanos(duration));
        Engine::new(
            &scenario,
            Options {
                seed: self.seed,
                ..Options::default()
            },
        )
        .run()
    }
}

fn verdict_of(
    scenario: &Scenario,
    dataplane: &Dataplane,
    probe: &Probe,
    result: &ProbeResult,
) -> Verdict {
    Verdict {
        explanation: explain(scenario, dataplane, probe, result),
        outcome: result.outcome,
        detail: describe(scenario, dataplane, &result.outcome),
        packet: None,
    }
}

/// A probe being described; [`ProbeBuilder::send`] sends it.
#[derive(Clone, Debug)]
#[must_use = "a probe does nothing until it is sent"]
pub struct ProbeBuilder<'s> {
    sim: &'s Sim,
    from: String,
    to: String,
    protocol: Protocol,
    src_port: u16,
    dst_port: u16,
    at: Nanos,
}

impl ProbeBuilder<'_> {
    /// A TCP SYN to `dst_port`.
    pub fn tcp(mut self, dst_port: u16) -> Self {
        self.protocol = Protocol::Tcp;
        self.dst_port = dst_port;
        self
    }

    /// A UDP datagram to `dst_port`.
    pub fn udp(mut self, dst_port: u16) -> Self {
        self.protocol = Protocol::Udp;
        self.dst_port = dst_port;
        self
    }

    /// An ICMP echo request (ping); the default.
    pub fn icmp(mut self) -> Self {
        self.protocol = Protocol::Icmp;
        self
    }

    /// The TCP/UDP source port (49152 unless set).
    pub fn src_port(mut self, port: u16) -> Self {
        self.src_port = port;
        self
    }

    /// Sends at simulated time `at`: the network as it is then, every timed event up to `at`
    /// applied.
    pub fn at(mut self, at: Duration) -> Self {
        self.at = nanos(at);
        self
    }

    /// Sends the probe; an error when `from` or `to` is not in the scenario.
    pub fn try_send(self) -> Result<Verdict, Error> {
        let sim = self.sim;
        let sc = &sim.scenario;
        let endpoint = |name: &str, role: &'static str| {
            sc.endpoint_by_name(name)
                .ok_or_else(|| Error::UnknownEndpoint {
                    role,
                    name: name.to_string(),
                    scenario: sc.name.clone(),
                })
        };
        let probe = Probe {
            from: endpoint(&self.from, "from")?,
            to: endpoint(&self.to, "to")?,
            protocol: self.protocol,
            src_port: self.src_port,
            dst_port: self.dst_port,
            at: self.at,
        };
        let identification = sim.next_identification();
        let verdict = sim.with_network(self.at, |scenario, dataplane| {
            let result = run_probe(
                scenario,
                dataplane,
                &probe,
                identification,
                &mut sim.flows.borrow_mut(),
            );
            verdict_of(scenario, dataplane, &probe, &result)
        });
        tracing::debug!(from = %self.from, to = %self.to, verdict = %verdict.detail, "probe");
        Ok(verdict)
    }

    /// Sends the probe.
    ///
    /// # Panics
    ///
    /// When `from` or `to` is not a VM, an on-premises host or an IPv4 address of the scenario
    /// (a mistake in the test itself); [`ProbeBuilder::try_send`] returns it as an error.
    #[track_caller]
    pub fn send(self) -> Verdict {
        match self.try_send() {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        }
    }
}

/// Lookups and assertions on a replay's [`Report`].
pub trait ReportExt {
    /// The statistics of the traffic flow named `name`.
    fn flow(&self, name: &str) -> Option<&FlowReport>;
    /// The counters of the NIC named `name` (only NICs that saw traffic are listed).
    fn nic(&self, name: &str) -> Option<&NicReport>;
    /// Panics unless every expectation of the scenario held; the message lists each failure
    /// with its line in the file.
    #[track_caller]
    fn assert_expectations(&self);
}

impl ReportExt for Report {
    fn flow(&self, name: &str) -> Option<&FlowReport> {
        self.flows.iter().find(|f| *f.name == *name)
    }

    fn nic(&self, name: &str) -> Option<&NicReport> {
        self.nics.iter().find(|n| n.nic == name)
    }

    #[track_caller]
    fn assert_expectations(&self) {
        let failed: Vec<String> = self
            .expectations
            .results
            .iter()
            .filter(|r| !r.passed)
            .map(|r| format!("line {} ({}): {}", r.line, r.subject, r.failures.join("; ")))
            .collect();
        if !failed.is_empty() {
            panic!(
                "{} of {} expectations of scenario '{}' failed:\n  {}",
                failed.len(),
                self.expectations.results.len(),
                self.scenario,
                failed.join("\n  ")
            );
        }
    }
}

/// A NIC as an endpoint: its VM when it is the VM's primary NIC, else the NIC itself (a VM's
/// other NICs are named `vm/nic`).
fn endpoint_of_nic(sc: &Scenario, nic: vnetsim_scenario::NicId) -> Endpoint {
    let vm = sc.nics[nic.index()].vm;
    if sc.vms[vm.index()].nics.first() == Some(&nic) {
        Endpoint::Vm(vm)
    } else {
        Endpoint::Nic(nic)
    }
}
