//! A loaded scenario and what a test does with it: probes, raw packets, timed replays.
//!
//! What it is for: [`Sim`], the entry point of the harness API. Probes and raw packets go
//! through the data plane against the network as it is at their time (every timed event up to
//! then applied), sharing one NSG flow table, so a probe in the reverse direction of an
//! allowed one is a reply (stateful NSGs). [`Sim::run`] and [`Sim::run_for`] replay the whole
//! scenario (traffic, probes, events) in simulated time with the engine and return its report
//! as a [`Replay`]. A `Sim` is `Send + Sync` and cheap to clone (the checked scenario and its
//! compiled data plane are shared behind an `Arc`), so one `static` serves every test of a
//! binary. What it is not: a real-time driver, and it keeps no wall clock.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use vnetsim_dataplane::expect::describe;
use vnetsim_dataplane::explain::explain;
use vnetsim_dataplane::probe::{ProbeResult, run_probe};
use vnetsim_dataplane::wire::{self, PROTO_TCP, PROTO_UDP};
use vnetsim_dataplane::{Dataplane, FlowTable, Ingress};
use vnetsim_engine::network::Network;
use vnetsim_engine::{Engine, Options};
use vnetsim_scenario::{Endpoint, Nanos, Probe, Protocol, Scenario};

use crate::error::Error;
use crate::replay::Replay;
use crate::verdict::Verdict;

/// Source port of probes that name none (as in scenario files).
pub const DEFAULT_SRC_PORT: u16 = 49152;
/// Destination port of probes that name none (as in scenario files).
pub const DEFAULT_DST_PORT: u16 = 80;

/// A loaded, checked scenario, ready for probes, raw packets and replays.
///
/// Probes and raw packets share one NSG flow table (see the module docs); [`Sim::reset_flows`]
/// forgets it. Replays start from a fresh network each time.
///
/// `Sim` is `Send + Sync`: a `static` (`std::sync::LazyLock`) or a fixture loads a scenario
/// once for every test of a binary, tests running in parallel. Cloning is cheap: a clone shares
/// the checked scenario and its compiled data plane (behind an `Arc`) and has its own copy of
/// the NSG flow records; [`Sim::fresh`] gives one with no flow records, for a test whose probes
/// must not meet the records of other tests.
///
/// ```
/// use std::sync::LazyLock;
/// use vnetsim::Sim;
///
/// static SIM: LazyLock<Sim> = LazyLock::new(|| {
///     Sim::from_yaml("
/// name: shared
/// vnets: [ { name: v, address_space: [10.0.0.0/16], subnets: [ { name: s, prefix: 10.0.0.0/24 } ] } ]
/// vms:
///   - { name: a, size: Standard_D2s_v3, nics: [ { name: a-nic, vnet: v, subnet: s, ip: 10.0.0.4 } ] }
///   - { name: b, size: Standard_D2s_v3, nics: [ { name: b-nic, vnet: v, subnet: s, ip: 10.0.0.5 } ] }
/// ").expect("the scenario loads")
/// });
///
/// // In any number of tests, on any thread:
/// SIM.probe("a", "b").tcp(443).send().assert_delivered();
/// let own = SIM.fresh(); // the same compiled network, flow records of its own
/// own.probe("b", "a").udp(53).send().assert_delivered();
/// ```
#[derive(Debug)]
pub struct Sim {
    shared: Arc<Loaded>,
    flows: Mutex<FlowTable>,
    packets: AtomicU16,
    seed: Option<u64>,
}

/// What every clone of a [`Sim`] shares: the checked scenario, its data plane compiled at time
/// zero, and where it came from.
#[derive(Debug)]
pub(crate) struct Loaded {
    /// Shared with `base` and with every replay (`Engine::shared`): one copy however many.
    pub(crate) scenario: Arc<Scenario>,
    base: Network,
    pub(crate) source: Option<PathBuf>,
}

/// Scenarios checked and compiled into a [`Sim`] by this process (see [`loads`]).
static LOADS: AtomicU64 = AtomicU64::new(0);

/// How many scenarios this process has loaded and compiled into a [`Sim`] ([`Sim::load`],
/// [`Sim::from_yaml`], [`Sim::from_scenario`]); clones and [`Sim::fresh`] do not count. A test
/// reads it to show that a shared `Sim` was loaded once.
pub fn loads() -> u64 {
    LOADS.load(Ordering::Relaxed)
}

impl Clone for Sim {
    /// Shares the checked scenario and its compiled data plane; copies the NSG flow records
    /// and the seed.
    fn clone(&self) -> Sim {
        Sim {
            shared: Arc::clone(&self.shared),
            flows: Mutex::new(self.flows().clone()),
            packets: AtomicU16::new(self.packets.load(Ordering::Relaxed)),
            seed: self.seed,
        }
    }
}

/// Nanoseconds in a duration, saturating.
fn nanos(d: Duration) -> Nanos {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Sim {
    /// Loads and checks a scenario file (YAML or JSON). On failure the error renders every
    /// diagnostic with file, line, column and the Azure rule broken.
    pub fn load(path: impl AsRef<Path>) -> Result<Sim, Error> {
        let path = path.as_ref();
        let scenario = vnetsim_scenario::load_file(path)?;
        Ok(Sim::compile(scenario, Some(path.to_path_buf())))
    }

    /// Loads and checks a scenario given as YAML text (named `<inline>` in diagnostics).
    pub fn from_yaml(text: &str) -> Result<Sim, Error> {
        let scenario = vnetsim_scenario::load_str(text, "<inline>")?;
        Ok(Sim::from_scenario(scenario))
    }

    /// Wraps a scenario built in code (or loaded elsewhere).
    pub fn from_scenario(scenario: Scenario) -> Sim {
        Sim::compile(scenario, None)
    }

    /// Compiles the data plane of a checked scenario read from `source`.
    fn compile(scenario: Scenario, source: Option<PathBuf>) -> Sim {
        LOADS.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(scenario = %scenario.name, source = ?source, "compiling a Sim");
        let scenario = Arc::new(scenario);
        Sim {
            shared: Arc::new(Loaded {
                base: Network::shared(Arc::clone(&scenario)),
                scenario,
                source,
            }),
            flows: Mutex::new(FlowTable::new()),
            packets: AtomicU16::new(0),
            seed: None,
        }
    }

    /// A `Sim` sharing this one's checked scenario and compiled data plane, with no NSG flow
    /// records and this one's seed: what a test starts from when its probes must not meet the
    /// records other tests' probes left in a shared `Sim`.
    pub fn fresh(&self) -> Sim {
        Sim {
            shared: Arc::clone(&self.shared),
            flows: Mutex::new(FlowTable::new()),
            packets: AtomicU16::new(0),
            seed: self.seed,
        }
    }

    /// Whether `other` shares this one's compiled network (it is a clone, or a clone of a
    /// clone, or [`Sim::fresh`] of one).
    pub fn shares_network_with(&self, other: &Sim) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// The file the scenario was loaded from (`None` for YAML text or a scenario built in
    /// code).
    pub fn source(&self) -> Option<&Path> {
        self.shared.source.as_deref()
    }

    /// The NSG flow records, even after a panic in another thread poisoned the lock (a
    /// half-done probe leaves at most a flow record, which a real network could hold too).
    fn flows(&self) -> MutexGuard<'_, FlowTable> {
        self.flows.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Replays use this seed instead of the file's.
    pub fn with_seed(mut self, seed: u64) -> Sim {
        self.seed = Some(seed);
        self
    }

    /// The scenario as loaded (no timed event applied).
    pub fn scenario(&self) -> &Scenario {
        &self.shared.scenario
    }

    /// The data plane compiled from the scenario at time zero.
    pub fn dataplane(&self) -> &Dataplane {
        self.shared.base.dataplane()
    }

    /// Forgets every NSG flow record made by earlier probes and packets.
    pub fn reset_flows(&self) {
        self.flows().clear();
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
        let sc = self.scenario();
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
            let outcome =
                dataplane.forward(&mut packet, ingress, &mut self.flows(), at, &mut steps);
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
        let sc = self.scenario();
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
        let shared = &*self.shared;
        let mut events: Vec<_> = shared
            .scenario
            .events
            .iter()
            .filter(|e| e.at <= at)
            .collect();
        if events.is_empty() {
            return f(shared.base.scenario(), shared.base.dataplane());
        }
        events.sort_by_key(|e| e.at);
        let mut network = Network::shared(Arc::clone(&shared.scenario));
        for e in events {
            network.apply(&e.action);
        }
        f(network.scenario(), network.dataplane())
    }

    fn next_identification(&self) -> u16 {
        self.packets.fetch_add(1, Ordering::Relaxed).wrapping_add(1)
    }

    /// Replays the scenario (traffic, probes, timed events) in simulated time, to its
    /// `duration` or until nothing is pending, and returns the engine's report: conservation,
    /// drops by reason, per-flow statistics (throughput, latency percentiles), NICs, shapers,
    /// peerings, and which expectations held. The [`Replay`] reads as its [`vnetsim_engine::Report`] and adds
    /// the flow assertions ([`Replay::assert_throughput`], ...).
    pub fn run(&self) -> Replay {
        let report = Engine::shared(
            Arc::clone(&self.shared.scenario),
            Options {
                seed: self.seed,
                ..Options::default()
            },
        )
        .run();
        Replay::new(report, Arc::clone(&self.shared))
    }

    /// Like [`Sim::run`], with the scenario's `duration` set to `duration`.
    pub fn run_for(&self, duration: Duration) -> Replay {
        let mut scenario = self.scenario().clone();
        scenario.duration = Some(nanos(duration));
        let report = Engine::new(
            &scenario,
            Options {
                seed: self.seed,
                ..Options::default()
            },
        )
        .run();
        Replay::new(report, Arc::clone(&self.shared))
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
        let sc = sim.scenario();
        let endpoint = |name: &str, role: &'static str| {
            sc.endpoint_by_name(name)
                .ok_or_else(|| Error::UnknownEndpoint {
                    role,
                    name: name.to_string(),
                    scenario: sc.name.clone(),
                })
        };
        let from = endpoint(&self.from, "from")?;
        check_sender(sc, &self.from, from)?;
        let probe = Probe {
            from,
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
                &mut sim.flows(),
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

/// A NIC as an endpoint: its VM when it is the VM's primary NIC, else the NIC itself (a VM's
/// other NICs are named `vm/nic`).
/// Refuses a sender that cannot send, as the scenario's own probes are refused: a private
/// endpoint only answers connections made to it (`private-endpoint-sender`), and an address of
/// a VNet no NIC holds sends nothing (`sender-unheld-address`).
fn check_sender(sc: &Scenario, name: &str, from: Endpoint) -> Result<(), Error> {
    let Endpoint::Ip(ip) = from else {
        return Ok(());
    };
    if let Some(pe) = sc.private_endpoint_at(ip) {
        return Err(Error::InvalidSender {
            name: name.to_string(),
            message: format!(
                "private endpoint {} never initiates traffic, it only answers connections made \
                 to it; make it the destination",
                sc.private_endpoints[pe.index()].name
            ),
            rule: "private-endpoint-sender",
        });
    }
    if let Some(place) = sc.unheld_vnet_address(ip) {
        return Err(Error::InvalidSender {
            name: name.to_string(),
            message: format!(
                "the address lies in {place} but no NIC holds it, so nothing can send from it; \
                 name the VM, or an address a NIC holds"
            ),
            rule: "sender-unheld-address",
        });
    }
    Ok(())
}

fn endpoint_of_nic(sc: &Scenario, nic: vnetsim_scenario::NicId) -> Endpoint {
    let vm = sc.nics[nic.index()].vm;
    if sc.vms[vm.index()].nics.first() == Some(&nic) {
        Endpoint::Vm(vm)
    } else {
        Endpoint::Nic(nic)
    }
}
