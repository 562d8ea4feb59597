//! The discrete-event engine: a virtual nanosecond clock, a queue of pending events, and the
//! packets on their way.
//!
//! What it is for: replaying a scenario's traffic, probes and timed changes. Each packet is a
//! real IPv4 packet in a pooled buffer. It waits in its sender's egress shaper (the VM size's
//! bandwidth), then the data plane decides its way segment by segment: a packet that an
//! appliance forwards, or that a gateway carries, waits again in that VM's or gateway's shaper
//! and continues against the network as it is when it leaves (so packets in flight meet timed
//! changes). Delays follow the scenario's latency model. What it is not: a real-time driver,
//! and not deterministic under any other source of randomness than its seeded ChaCha8 stream.
//!
//! Latency model (one way, [`crate::journey::segment_delay`]): delivery to a VM (or the
//! Internet) adds `host_to_host`, the same inside a VNet and across a peering [peering-2016];
//! each appliance adds `appliance`; each gateway adds `gateway`; the site link adds the site's
//! `latency`; every segment may add a seeded uniform jitter in `0..=jitter`; every shaper adds
//! the packet's serialization time at its rate, and any queueing.
//!
//! This module holds the event loop, its dispatch and the per-packet state machine (emit ->
//! sender's shaper -> segment -> waypoint's shaper -> ... -> delivery), following the rules of
//! [`crate::journey`]. A flow's state, its hand-made cache-line layout, its emissions and their
//! prefetching are in `sim/source.rs`; the report is built in `sim/report.rs`.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use bytes::BytesMut;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use vnetsim_dataplane::probe::EndpointIndex;
use vnetsim_dataplane::wire;
use vnetsim_dataplane::{
    Cached, Destination, DropCause, FlowCache, FlowTable, Full, Ingress, Outcome, Segment,
    SegmentMemo, Step, Trace,
};
use vnetsim_scenario::units::after;
use vnetsim_scenario::{DropReason, Endpoint, Expectation, Nanos, Scenario, VmId};

use self::source::{DirStats, MEMOS, Source};
use crate::journey::{self, Capture, Hop, Seen, SegmentStart};
use crate::network::Network;
use crate::prefetch;
use crate::queue::{EventQueue, Lane};
use crate::report::{Conservation, EventReport, ProbeReport, Report};
use crate::shaper::{Admission, Limit, Shapers};

mod pipeline;
pub use pipeline::Parallel;
use pipeline::{Batch, Stage};
mod report;
pub use report::{FlowSummary, Summary};
mod segments;
mod source;

/// How long a flow without a duration of its own (and a scenario without one) sends.
pub const DEFAULT_FLOW_DURATION: Nanos = 1_000_000_000;

/// First source port given to flows that name none (see [`default_src_port`]).
pub const FIRST_FLOW_PORT: u16 = 40000;

/// The source port of flow `i` (in file order) when it names none: 40000 + i, cycling through
/// 40000 to 65329. UDP source port 65330 is Azure's ("UDP source port 65330 which is reserved
/// for the host", Virtual Network FAQ, "What protocols can I use within VNets?"), so the
/// simulator never chooses it, nor a port below 40000.
pub fn default_src_port(i: usize) -> u16 {
    const PORTS: usize = (HOST_RESERVED_PORT - FIRST_FLOW_PORT) as usize;
    FIRST_FLOW_PORT + (i % PORTS) as u16
}

/// The UDP source port Azure reserves for the host.
const HOST_RESERVED_PORT: u16 = 65330;

/// Knobs of one replay.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
    /// Fills every flow's [`crate::report::FlowReport::latency_cdf`] (for plots; a copy of each
    /// flow's histogram, so off unless asked).
    pub latency_cdf: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum What {
    /// A timed change (index into `events`).
    Event(u32),
    /// A probe expectation (index into `expect`).
    Probe(u32),
    /// A flow emits its next packet.
    Emit(u32),
    /// The head of an emission FIFO (index into `fifos`) is due.
    Fifo(u32),
    /// A packet reaches a waypoint and queues for its bandwidth.
    Arrive(u32),
    /// A packet reaches its destination.
    Deliver(u32),
}

#[inline]
fn key(at: Nanos, what: What) -> u64 {
    let class = match what {
        What::Event(_) => 0,
        What::Probe(_) => 1,
        _ => 2,
    };
    // 2^62 ns is 146 years of simulated time.
    (at.min(u64::MAX >> 2) << 2) | class
}

#[derive(Clone, Debug)]
struct Packet {
    buf: BytesMut,
    flow: u32,
    reply: bool,
    /// Segments of its way decided so far.
    segments: u8,
    /// The data plane generation (low 32 bits) that decided its last segment.
    generation: u32,
    created: Nanos,
    /// Where its next segment starts.
    next: SegmentStart,
    delivered_to: Option<Destination>,
}

/// Packet counters of one NIC (names are added in the report).
#[derive(Clone, Copy, Debug, Default)]
struct NicCounts {
    tx_packets: u64,
    tx_bytes: u64,
    rx_packets: u64,
    rx_bytes: u64,
    forwarded_packets: u64,
}

/// Peering crossings of one segment, fed by the data plane's trace: counted once the packet
/// has left (a packet still queued at the end of the run has crossed nothing). Each is the
/// link naming the pair of VNets ([`vnetsim_dataplane::Edge::pair_link`]) and
/// whether it goes from the higher VNet id to the lower.
#[derive(Default)]
struct SegmentTrace {
    crossings: [(u32, bool); 4],
    n: usize,
}

impl Trace for SegmentTrace {
    #[inline]
    fn step(&mut self, step: Step) {
        if let Step::Peering { from, edge } = step
            && self.n < self.crossings.len()
        {
            self.crossings[self.n] = (edge.pair_link().0, from.0 > edge.peer.0);
            self.n += 1;
        }
    }
}

/// A replay of one scenario.
pub struct Engine<'c> {
    network: Network,
    flows_nsg: FlowTable,
    cache: FlowCache,
    queue: EventQueue<What>,
    /// The latest delivery counted ahead of its event (the run's end is at least this late).
    horizon: Nanos,
    /// Pending emissions of constant flows, one FIFO per interval (f64 bits).
    fifos: Vec<(u64, VecDeque<(Nanos, u32)>)>,
    now: Nanos,
    end: Option<Nanos>,
    rng: ChaCha8Rng,
    seed: u64,
    latency_cdf: bool,
    /// Bytes delivered per plot interval, by flow slot then direction (empty unless plotting).
    timelines: Vec<[Vec<u64>; 2]>,
    /// The width of a plot interval.
    plot_interval: Nanos,
    jitter: Nanos,
    packets: Vec<Packet>,
    free: Vec<u32>,
    live: u64,
    /// Flow sources, in the order of their first packet (slots).
    sources: Vec<Source>,
    /// The slot of each flow of the file.
    slot_of_flow: Vec<u32>,
    shapers: Shapers,
    nic_counts: Vec<NicCounts>,
    /// Bytes across each pair of peered VNets (by the link naming the pair), from the lower
    /// VNet id to the higher and back.
    peerings: Vec<[u64; 2]>,
    conservation: Conservation,
    drops: [u64; DropReason::ALL.len()],
    probes: Vec<ProbeReport>,
    probe_failures: BTreeMap<usize, Vec<String>>,
    events_applied: Vec<EventReport>,
    events_processed: u64,
    capture: Option<&'c mut dyn Capture>,
    /// The flow (index in the file) of each slot, filled when a capture is attached.
    flow_of_slot: Vec<u32>,
    /// The part of the replay this engine runs (see [`pipeline`]).
    stage: Stage,
    /// Senders' stage: packets not yet handed over.
    outbox: Box<Batch>,
    /// Waypoints' stage: a packet reached a second waypoint, so the replay does not split.
    aborted: bool,
    parallel: Parallel,
    /// Whether the last replay ran on two cores.
    in_parallel: bool,
}

/// What every replay of one scenario starts from, whatever its seed: the compiled network
/// (data plane and scenario, shared), and each flow's source in its initial state (template
/// packet, ingress, shaper, interval, window), in the order of its first packet.
///
/// Built once by [`Prepared::new`]; immutable and `Send + Sync`, so the replays of a sweep, on
/// any number of threads, each start with [`Engine::from_prepared`] from the same value instead
/// of compiling the network again. It holds no randomness: the seed belongs to each replay.
#[derive(Clone, Debug)]
pub struct Prepared {
    network: Network,
    /// Flow sources in their initial state, in the order of their first packet (slots).
    sources: Vec<Source>,
    /// The slot of each flow of the file.
    slot_of_flow: Vec<u32>,
    /// First emissions (time, slot), in time order.
    first: Vec<(Nanos, u32)>,
}

impl Prepared {
    /// Compiles `scenario`'s network and builds its flow sources.
    pub fn new(scenario: &Scenario) -> Self {
        Self::shared(Arc::new(scenario.clone()))
    }

    /// [`Prepared::new`] without a copy of the scenario (see [`Network::shared`]): for a caller
    /// that keeps it too, such as the CLI with a million flows.
    pub fn shared(scenario: Arc<Scenario>) -> Self {
        let network = Network::shared(scenario);
        let scenario = network.scenario();
        tracing::debug!("network compiled");
        // Flows are stored in the order of their first packet: constant flows then emit (and
        // mostly deliver) in memory order, which the processor prefetches, instead of jumping
        // across 100,000 flows. Slots map back to the file's order in the report.
        let order = flow_order(scenario);
        let mut slot_of_flow = vec![0; order.len()];
        for (slot, &(_, i)) in order.iter().enumerate() {
            slot_of_flow[i as usize] = slot as u32;
        }
        let endpoints = EndpointIndex::new(scenario);
        let sources = build_sources(network.scenario(), &order, &endpoints);
        tracing::debug!(flows = sources.len(), "flow sources built");
        // First packets, in time order (constant flows enter their FIFO sorted).
        let mut first: Vec<(Nanos, u32)> = sources
            .iter()
            .enumerate()
            .filter(|(_, s)| s.start < s.end)
            .map(|(i, s)| (s.start, i as u32))
            .collect();
        first.sort_unstable();
        Prepared {
            network,
            sources,
            slot_of_flow,
            first,
        }
    }

    /// The scenario it was prepared from.
    pub fn scenario(&self) -> &Scenario {
        self.network.scenario()
    }
}

/// Each flow's (start, index in the file), in the order of its first packet: the slots.
fn flow_order(scenario: &Scenario) -> Vec<(Nanos, u32)> {
    let mut order: Vec<(Nanos, u32)> = scenario
        .traffic
        .iter()
        .enumerate()
        .map(|(i, f)| (f.start, i as u32))
        .collect();
    sort_by_time(&mut order);
    order
}

/// Pairs at or above which [`sort_by_time`] sorts by radix.
const RADIX_SORT_FROM: usize = 1 << 12;

/// Sorts `(time, index)` pairs given in increasing index order into (time, index) order: what
/// `sort_unstable` gives (the pairs are distinct), but for many pairs by a stable least
/// significant digit radix sort on the time, 11 bits a pass and only as many passes as the
/// largest time needs (a million flows starting within a second: 3 passes, against about
/// 350 instructions a pair for the comparison sort).
fn sort_by_time(pairs: &mut Vec<(Nanos, u32)>) {
    if pairs.len() < RADIX_SORT_FROM {
        pairs.sort_unstable();
        return;
    }
    const BITS: u32 = 11;
    const BUCKETS: usize = 1 << BITS;
    let largest = pairs.iter().map(|&(t, _)| t).max().unwrap_or(0);
    let passes = (u64::BITS - largest.leading_zeros()).div_ceil(BITS);
    let mut other: Vec<(Nanos, u32)> = vec![(0, 0); pairs.len()];
    for pass in 0..passes {
        let shift = pass * BITS;
        let digit = |t: Nanos| ((t >> shift) as usize) & (BUCKETS - 1);
        let mut starts = vec![0usize; BUCKETS];
        for &(t, _) in pairs.iter() {
            starts[digit(t)] += 1;
        }
        let mut at = 0;
        for s in &mut starts {
            let n = *s;
            *s = at;
            at += n;
        }
        for &p in pairs.iter() {
            let d = digit(p.0);
            other[starts[d]] = p;
            starts[d] += 1;
        }
        std::mem::swap(pairs, &mut other);
    }
}

/// Flows at or above which sources are built on all cores.
const PARALLEL_SOURCES: usize = 1 << 16;

/// The source of each flow in `order` (slot order): independent of one another, so a large
/// scenario's are built on all cores, each thread a contiguous run of slots, joined in order.
fn build_sources(sc: &Scenario, order: &[(Nanos, u32)], endpoints: &EndpointIndex) -> Vec<Source> {
    let workers = crate::worker_threads();
    let workers = if order.len() < PARALLEL_SOURCES {
        1
    } else {
        workers
    };
    build_sources_on(sc, order, endpoints, workers)
}

/// [`build_sources`] on `workers` threads, each writing its run of slots in place in the one
/// vector (no copy of the sources when the threads join).
fn build_sources_on(
    sc: &Scenario,
    order: &[(Nanos, u32)],
    endpoints: &EndpointIndex,
    workers: usize,
) -> Vec<Source> {
    let mut sources: Vec<Source> = Vec::new();
    vnetsim_scenario::par::extend_in_parallel(
        &mut sources,
        order.len(),
        workers,
        |scratch: &mut Vec<u8>, k| {
            // Slots follow the first packets' times, not the file: with flows starting at
            // scattered times nearly every flow's description was a cache miss.
            if let Some(&(_, ahead)) = order.get(k + 8)
                && let Some(f) = sc.traffic.get(ahead as usize)
            {
                let f: *const vnetsim_scenario::Flow = f;
                for line in 0..std::mem::size_of::<vnetsim_scenario::Flow>().div_ceil(64) {
                    prefetch(f.cast::<u8>().wrapping_add(line * 64));
                }
            }
            let i = order[k].1 as usize;
            Source::new(sc, i, &sc.traffic[i], endpoints, scratch)
        },
    );
    sources
}

impl<'c> Engine<'c> {
    /// Prepares a replay: compiles the network and schedules every flow, event and probe.
    /// The same as [`Engine::from_prepared`] with a [`Prepared`] made for this replay alone.
    pub fn new(scenario: &Scenario, options: Options) -> Self {
        Self::start(Prepared::new(scenario), options)
    }

    /// [`Engine::new`] without a copy of the scenario (see [`Prepared::shared`]).
    pub fn shared(scenario: Arc<Scenario>, options: Options) -> Self {
        Self::start(Prepared::shared(scenario), options)
    }

    /// Prepares a replay from a scenario prepared once ([`Prepared::new`]) for many replays:
    /// the network is shared, not compiled again; the flow sources are copied.
    pub fn from_prepared(prepared: &Prepared, options: Options) -> Self {
        Self::start(prepared.clone(), options)
    }

    fn start(prepared: Prepared, options: Options) -> Self {
        let Prepared {
            network,
            sources,
            slot_of_flow,
            first,
        } = prepared;
        let scenario = network.scenario();
        let seed = options.seed.unwrap_or(scenario.seed);
        let nic_counts = vec![NicCounts::default(); scenario.nics.len()];
        let mut engine = Engine {
            flows_nsg: FlowTable::for_scenario(scenario),
            cache: FlowCache::new(),
            queue: EventQueue::default(),
            horizon: 0,
            fifos: Vec::new(),
            now: 0,
            end: scenario.duration,
            rng: ChaCha8Rng::seed_from_u64(seed),
            seed,
            latency_cdf: options.latency_cdf,
            timelines: Vec::new(),
            plot_interval: crate::report::plot_interval(scenario.duration),
            jitter: scenario.latency.jitter,
            packets: Vec::new(),
            free: Vec::new(),
            live: 0,
            sources,
            slot_of_flow,
            shapers: Shapers::new(scenario),
            nic_counts,
            peerings: vec![[0, 0]; scenario.peerings.len()],
            conservation: Conservation::default(),
            drops: [0; DropReason::ALL.len()],
            probes: Vec::new(),
            probe_failures: BTreeMap::new(),
            events_applied: Vec::new(),
            events_processed: 0,
            capture: None,
            flow_of_slot: Vec::new(),
            stage: Stage::Whole,
            outbox: Box::default(),
            aborted: false,
            parallel: Parallel::Auto,
            in_parallel: false,
            network,
        };
        // Timed changes first: at equal times they happen before probes and packets.
        let scenario = engine.network.scenario();
        let events: Vec<Nanos> = scenario.events.iter().map(|e| e.at).collect();
        let probes: Vec<(usize, Nanos)> = scenario
            .expectations
            .iter()
            .enumerate()
            .filter_map(|(i, e)| match e {
                Expectation::Probe { probe, .. } => Some((i, probe.at)),
                _ => None,
            })
            .collect();
        for (i, at) in events.into_iter().enumerate() {
            engine.schedule(at, What::Event(i as u32));
        }
        for (i, at) in probes {
            engine.schedule(at, What::Probe(i as u32));
        }
        for (at, f) in first {
            engine.schedule_emit(at, f);
        }
        tracing::debug!("engine set up");
        engine
    }

    /// Copies every packet at every hop to `capture` (for pcap files).
    pub fn with_capture(mut self, capture: &'c mut dyn Capture) -> Self {
        self.capture = Some(capture);
        self.flow_of_slot = vec![0; self.slot_of_flow.len()];
        for (flow, &slot) in self.slot_of_flow.iter().enumerate() {
            self.flow_of_slot[slot as usize] = flow as u32;
        }
        self
    }

    fn schedule(&mut self, at: Nanos, what: What) {
        // The clock never goes back: an event is never scheduled before now.
        let lane = match what {
            What::Arrive(_) => Some(Lane::Arrive),
            What::Deliver(_) => Some(Lane::Deliver),
            _ => None,
        };
        self.queue.push(key(at.max(self.now), what), what, lane);
    }

    /// Runs to the end: the scenario's duration, or until nothing is pending.
    pub fn run(self) -> Report {
        self.run_with_progress(&mut |_, _| {})
    }

    /// Runs to the end, as [`Engine::run`] does, and keeps only what a sweep needs of the
    /// report ([`Engine::finish_summary`]): no row per flow or NIC is built.
    pub fn run_summary(mut self) -> Summary {
        self.replay(&mut |_, _| {});
        self.finish_summary()
    }

    /// Like [`Engine::run`], calling `progress(now, end)` every 65,536 events.
    pub fn run_with_progress(mut self, progress: &mut dyn FnMut(Nanos, Option<Nanos>)) -> Report {
        self.replay(progress);
        self.finish()
    }

    /// The event loop alone: replays to the end (the scenario's duration, or until nothing is
    /// pending), calling `progress(now, end)` every 65,536 events. [`Engine::finish`] then
    /// builds the report; [`Engine::run`] is the two. Replaying twice does nothing more.
    ///
    /// A large replay that qualifies runs on two cores (see [`Engine::parallel`]), with the
    /// same result.
    pub fn replay(&mut self, progress: &mut dyn FnMut(Nanos, Option<Nanos>)) {
        let parallel = self.stage == Stage::Whole
            && self.wants_two_cores()
            && self.replay_on_two_cores(progress);
        if !parallel {
            self.in_parallel = false;
            while let Some((k, what)) = self.queue.pop() {
                let at = k >> 2;
                if self.end.is_some_and(|end| at > end) {
                    break;
                }
                self.now = at;
                self.events_processed += 1;
                if self.events_processed.is_multiple_of(65_536) {
                    progress(self.now, self.end);
                }
                self.dispatch(what);
            }
        }
        self.now = self.now.max(self.horizon);
        if let Some(end) = self.end {
            self.now = self.now.max(end);
        }
        // Phase boundaries for `VNETSIM_LOG=debug`, whose timestamps time the phases.
        tracing::debug!(
            events = self.events_processed,
            two_cores = parallel,
            "event loop ended"
        );
    }

    /// Processes the next event, calling `progress(now, end)` every 65,536 events; `false`
    /// when none is due (nothing is pending, or the next event is past the end).
    #[inline(always)]
    fn step(&mut self, progress: &mut dyn FnMut(Nanos, Option<Nanos>)) -> bool {
        let Some((k, what)) = self.queue.pop() else {
            return false;
        };
        let at = k >> 2;
        if self.end.is_some_and(|end| at > end) {
            return false;
        }
        self.now = at;
        self.events_processed += 1;
        if self.events_processed.is_multiple_of(65_536) {
            progress(self.now, self.end);
        }
        self.dispatch(what);
        true
    }

    #[inline(always)]
    fn dispatch(&mut self, what: What) {
        match what {
            What::Event(i) => self.apply_event(i as usize),
            What::Probe(i) => self.probe(i as usize),
            What::Emit(f) => self.emit(f),
            What::Fifo(i) => self.fifo_head(i),
            What::Arrive(p) => self.arrive(p),
            What::Deliver(p) => self.deliver(p),
        }
    }

    /// The report of what was replayed (see [`Engine::replay`]); without a replay, the report
    /// of nothing sent.
    pub fn finish(self) -> Report {
        let report = self.report();
        tracing::debug!(flows = report.flows.len(), "report built");
        report
    }

    fn apply_event(&mut self, i: usize) {
        let e = self.network.scenario().events[i].clone();
        let applied = journey::apply_event(&mut self.network, &e);
        // A peering added under a new name is a new link: give it counters.
        let links = self.network.scenario().peerings.len();
        if self.peerings.len() < links {
            self.peerings.resize(links, [0, 0]);
        }
        // Entries of the old generation are never used again: free them.
        self.cache.clear();
        self.events_applied.push(applied);
    }

    fn probe(&mut self, index: usize) {
        self.conservation.sent += 1;
        let scenario = self.network.scenario();
        let now = self.now;
        // The probe's bytes as sent and, when delivered, as they arrive (kept for a capture).
        let capturing = self.capture.is_some();
        let mut seen: Vec<(bool, Vec<u8>)> = Vec::new();
        let Some(check) = vnetsim_dataplane::expect::check_probe_observed(
            scenario,
            self.network.dataplane(),
            index,
            self.probes.len() as u16 + 1,
            // One NSG state for probes and traffic: a probe is a packet like any other.
            &mut self.flows_nsg,
            &mut |bytes, arrived| {
                if capturing {
                    seen.push((arrived, bytes.to_vec()));
                }
            },
        ) else {
            return;
        };
        if let Some(c) = self.capture.as_deref_mut() {
            let sent = Hop::leaving(SegmentStart::Ingress(
                vnetsim_dataplane::probe::ingress_for(scenario, check.probe.from),
            ));
            for (arrived, bytes) in &seen {
                let hop = match (arrived, check.result.outcome) {
                    (true, Outcome::Delivered(to)) => Hop::delivered(to),
                    _ => sent,
                };
                c.packet(Seen {
                    at: now,
                    bytes,
                    hop,
                    flow: None,
                });
            }
            if let (Outcome::Dropped(reason, _), Some((_, bytes))) =
                (check.result.outcome, seen.first())
            {
                let detail = vnetsim_dataplane::expect::describe(
                    scenario,
                    self.network.dataplane(),
                    &check.result.outcome,
                );
                let seen = Seen {
                    at: now,
                    bytes,
                    hop: sent,
                    flow: None,
                };
                c.dropped(seen, reason, &detail);
            }
        }
        match check.result.outcome {
            Outcome::Delivered(_) => self.conservation.delivered += 1,
            Outcome::Dropped(reason, _) => {
                self.conservation.dropped += 1;
                self.drops[reason as usize] += 1;
            }
        }
        let detail = vnetsim_dataplane::expect::describe(
            scenario,
            self.network.dataplane(),
            &check.result.outcome,
        );
        self.probe_failures.insert(index, check.failures.clone());
        self.probes.push(ProbeReport {
            index,
            line: check.line,
            at_ns: check.probe.at,
            from: scenario.endpoint_name(check.probe.from).to_string(),
            to: scenario.endpoint_name(check.probe.to).to_string(),
            protocol: vnetsim_dataplane::explain::protocol_name(check.probe.protocol),
            src_port: (check.probe.protocol != vnetsim_scenario::Protocol::Icmp)
                .then_some(check.probe.src_port),
            dst_port: (check.probe.protocol != vnetsim_scenario::Protocol::Icmp)
                .then_some(check.probe.dst_port),
            verdict: match check.result.outcome {
                Outcome::Delivered(_) => "delivered",
                Outcome::Dropped(..) => "dropped",
            },
            reason: check.result.outcome.drop_reason(),
            detail,
            passed: check.failures.is_empty(),
            failures: check.failures,
            path: check.path,
        });
    }

    fn alloc(&mut self, flow: u32, reply: bool, next: SegmentStart, size: usize) -> u32 {
        self.live += 1;
        self.conservation.sent += 1;
        match self.free.pop() {
            Some(i) => {
                let p = &mut self.packets[i as usize];
                p.buf.clear();
                p.buf.resize(size, 0);
                p.flow = flow;
                p.reply = reply;
                p.segments = 0;
                p.created = self.now;
                p.next = next;
                p.delivered_to = None;
                i
            }
            None => {
                let mut buf = BytesMut::with_capacity(size.max(1500));
                buf.resize(size, 0);
                self.packets.push(Packet {
                    buf,
                    flow,
                    reply,
                    segments: 0,
                    generation: 0,
                    created: self.now,
                    next,
                    delivered_to: None,
                });
                (self.packets.len() - 1) as u32
            }
        }
    }

    fn release(&mut self, p: u32) {
        self.live -= 1;
        self.free.push(p);
    }

    fn dir(&mut self, p: u32) -> &mut DirStats {
        let pkt = &self.packets[p as usize];
        let src = &mut self.sources[pkt.flow as usize];
        match (&mut src.replies, pkt.reply) {
            (Some(replies), true) => &mut replies.stats,
            _ => &mut src.forward,
        }
    }

    fn drop_packet(&mut self, p: u32, reason: DropReason) {
        self.drop_for(p, reason, None, self.now);
    }

    /// Drops packet `p` for `reason`, decided by `cause` when a decision dropped it (the
    /// capture names it, at time `at`: when the packet left, for a decision).
    fn drop_for(&mut self, p: u32, reason: DropReason, cause: Option<DropCause>, at: Nanos) {
        self.conservation.dropped += 1;
        self.drops[reason as usize] += 1;
        self.dir(p).drop_one(reason);
        if let Some(c) = self.capture.as_deref_mut() {
            let pkt = &self.packets[p as usize];
            let hop = Hop::leaving(pkt.next);
            let scenario = self.network.scenario();
            let detail = match cause {
                Some(cause) => vnetsim_dataplane::expect::describe(
                    scenario,
                    self.network.dataplane(),
                    &Outcome::Dropped(reason, cause),
                ),
                None if reason == DropReason::QueueOverflow => format!(
                    "dropped ({}): the queue of {} is full",
                    reason.as_str(),
                    hop.place_name(scenario)
                ),
                None => format!("dropped ({})", reason.as_str()),
            };
            let seen = Seen {
                at,
                bytes: &pkt.buf,
                hop,
                flow: self.flow_of_slot.get(pkt.flow as usize).copied(),
            };
            c.dropped(seen, reason, &detail);
        }
        self.release(p);
    }

    /// The flow (index in the file) of packet `p`, for captures.
    fn flow_of(&self, p: u32) -> Option<u32> {
        self.flow_of_slot
            .get(self.packets[p as usize].flow as usize)
            .copied()
    }

    /// The packet's sender hands it to its VM's egress shaper (or straight on, from a site).
    fn send(&mut self, p: u32, shaper: Option<u32>) {
        let shaper = shaper.map(|vm| vm as usize);
        let len = self.packets[p as usize].buf.len();
        // A flow's own packets are counted on its NIC from the flow's counters in the report
        // (one memory access less per packet); replies here.
        if self.packets[p as usize].reply
            && let Ingress::Nic(nic) = self.nic_of(p)
        {
            let c = &mut self.nic_counts[nic.index()];
            c.tx_packets += 1;
            c.tx_bytes += len as u64;
        }
        match shaper {
            Some(vm) => self.shape(p, Limit::Vm(VmId(vm as u32)), len),
            None => self.leave(p, self.now),
        }
    }

    /// The packet waits in `limit`'s shaper, then leaves (or is dropped when the queue is full).
    fn shape(&mut self, p: u32, limit: Limit, len: usize) {
        match self.shapers.offer(limit, self.now, len as u32) {
            Admission::Overflow => self.drop_packet(p, DropReason::QueueOverflow),
            Admission::Leaves {
                departure,
                serialization,
            } => self.leave(p, after(departure, serialization)),
        }
    }

    fn nic_of(&self, p: u32) -> Ingress {
        match self.packets[p as usize].next {
            SegmentStart::Ingress(Ingress::Nic(nic)) => Ingress::Nic(nic),
            _ => Ingress::Internet,
        }
    }

    fn jitter(&mut self) -> Nanos {
        if self.jitter == 0 {
            0
        } else {
            self.rng.random_range(0..=self.jitter)
        }
    }

    /// The data plane decides the packet's next segment now, as the host does when it takes
    /// the packet in; the packet leaves at `departure` (after its shaper) and reaches the next
    /// waypoint or its destination after the segment's delay.
    fn leave(&mut self, p: u32, departure: Nanos) {
        let now = self.now;
        if self.capture.is_some() {
            let flow = self.flow_of(p);
            let pkt = &self.packets[p as usize];
            if let Some(c) = self.capture.as_deref_mut() {
                c.packet(Seen {
                    at: departure,
                    bytes: &pkt.buf,
                    hop: Hop::leaving(pkt.next),
                    flow,
                });
            }
        }
        let pkt = &mut self.packets[p as usize];
        let start = pkt.next;
        let mut trace = SegmentTrace::default();
        let dp = self.network.dataplane();
        let generation = self.network.generation();
        let (cache, flows, buf) = (&mut self.cache, &mut self.flows_nsg, &mut pkt.buf);
        // A flow's own packets go through the memos beside it: the first segment always, a
        // later one when the data plane that decided the packet's way so far is today's.
        let segment_index = usize::from(pkt.segments);
        pkt.segments = pkt.segments.saturating_add(1);
        let memo = if !pkt.reply && segment_index < MEMOS {
            let src = &mut self.sources[pkt.flow as usize];
            if src.memo_generation != generation as u32 {
                src.memo_generation = generation as u32;
                src.memos = [SegmentMemo::default(); MEMOS];
            }
            (segment_index == 0 || pkt.generation == generation as u32)
                .then(|| &mut src.memos[segment_index])
        } else {
            None
        };
        pkt.generation = generation as u32;
        // Other packets: the flow cache saves NSG evaluations; without NSGs deciding is
        // cheaper than a lookup.
        let segment = match memo {
            Some(memo) => dp.decide(start, buf, flows, now, memo, &mut trace),
            None if dp.has_nsgs() => {
                let cached = Cached { cache, generation };
                dp.decide(start, buf, flows, now, cached, &mut trace)
            }
            None => dp.decide(start, buf, flows, now, Full, &mut trace),
        };
        if self.end.is_none_or(|end| departure <= end) {
            let bytes = self.packets[p as usize].buf.len() as u64;
            for &(pair, reverse) in &trace.crossings[..trace.n] {
                self.peerings[pair as usize][usize::from(reverse)] += bytes;
            }
        }
        let delay = journey::segment_delay(self.network.scenario(), start, segment);
        match segment {
            Segment::Done(Outcome::Dropped(reason, cause)) => {
                self.drop_for(p, reason, Some(cause), departure)
            }
            Segment::Done(Outcome::Delivered(to)) => {
                self.packets[p as usize].delivered_to = Some(to);
                let at = after(after(departure, delay), self.jitter());
                // A delivery that nothing else waits for (no reply to send, no capture to write
                // in time order) is counted now, for its time: one queue operation less per
                // packet. It still counts as the event it stands for, so `events_processed`
                // does not depend on whether a capture watches the run. One due after the end
                // stays in flight, as it would in the queue.
                let pkt = &self.packets[p as usize];
                let answers = !pkt.reply && self.sources[pkt.flow as usize].replies.is_some();
                if answers || self.capture.is_some() {
                    self.schedule(at, What::Deliver(p));
                } else if self.end.is_none_or(|end| at <= end) {
                    self.events_processed += 1;
                    self.horizon = self.horizon.max(at);
                    self.deliver_at(p, at);
                }
            }
            Segment::Paused(w) => {
                self.packets[p as usize].next = SegmentStart::At(w);
                let at = after(after(departure, delay), self.jitter());
                if self.stage == Stage::Whole {
                    self.schedule(at, What::Arrive(p));
                } else {
                    self.paused_in_stage(p, at);
                }
            }
        }
    }

    /// The packet reached a waypoint: it queues in the appliance VM's or the gateway's shaper.
    fn arrive(&mut self, p: u32) {
        let SegmentStart::At(w) = self.packets[p as usize].next else {
            return;
        };
        if self.capture.is_some() {
            let flow = self.flow_of(p);
            if let Some(c) = self.capture.as_deref_mut() {
                c.packet(Seen {
                    at: self.now,
                    bytes: &self.packets[p as usize].buf,
                    hop: Hop::arriving(w.at()),
                    flow,
                });
            }
        }
        let len = self.packets[p as usize].buf.len();
        let arrival = journey::arrival(self.network.scenario(), w.at());
        if let Some(nic) = arrival.forwarded_by {
            self.nic_counts[nic.index()].forwarded_packets += 1;
        }
        self.shape(p, arrival.limit, len);
    }

    fn deliver(&mut self, p: u32) {
        self.deliver_at(p, self.now);
    }

    /// Adds `bytes` delivered at `now` to the throughput timeline of flow slot `flow` (its
    /// replies' when `reply`). Only when plotting: the report is the same either way.
    fn plot_delivery(&mut self, flow: usize, reply: bool, now: Nanos, bytes: u64) {
        if self.timelines.len() <= flow {
            self.timelines.resize_with(flow + 1, Default::default);
        }
        let line = &mut self.timelines[flow][usize::from(reply)];
        let at = (now / self.plot_interval) as usize;
        if line.len() <= at {
            line.resize(at + 1, 0);
        }
        line[at] += bytes;
    }

    /// Counts packet `p` delivered at `now` and sends the destination's answer if asked.
    fn deliver_at(&mut self, p: u32, now: Nanos) {
        if self.capture.is_some() {
            let flow = self.flow_of(p);
            let pkt = &self.packets[p as usize];
            if let (Some(c), Some(to)) = (self.capture.as_deref_mut(), pkt.delivered_to) {
                c.packet(Seen {
                    at: now,
                    bytes: &pkt.buf,
                    hop: Hop::delivered(to),
                    flow,
                });
            }
        }
        let (len, created, to, reply, flow) = {
            let pkt = &self.packets[p as usize];
            (
                pkt.buf.len() as u64,
                pkt.created,
                pkt.delivered_to,
                pkt.reply,
                pkt.flow as usize,
            )
        };
        self.conservation.delivered += 1;
        debug_assert_eq!(
            len,
            u64::from(self.sources[flow].size),
            "bytes are packets * size"
        );
        let d = self.dir(p);
        d.delivered += 1;
        d.latency.record(now - created);
        if self.latency_cdf {
            self.plot_delivery(flow, reply, now, len);
        }
        if reply {
            self.client_received(flow, p);
        }
        if let Some(Destination::Nic(nic)) = to {
            let c = &mut self.nic_counts[nic.index()];
            c.rx_packets += 1;
            c.rx_bytes += len;
        }
        // The destination answers: the reply is the reverse 5-tuple (stateful NSGs admit it).
        if self.sources[flow].replies.is_some() && !reply {
            let ingress = match to {
                Some(Destination::Nic(nic)) => Some(Ingress::Nic(nic)),
                // The private-link service answers from its private endpoint.
                Some(Destination::PrivateEndpoint(pe)) => Some(Ingress::PrivateEndpoint(pe)),
                Some(Destination::Host(h)) => {
                    Some(Ingress::Site(self.network.scenario().hosts[h.index()].site))
                }
                // The Internet answers a packet whose source is a public IP (a NIC's, or a
                // firewall's after SNAT); an untranslated private source cannot be answered.
                Some(Destination::Internet)
                    if wire::parse(&self.packets[p as usize].buf)
                        .is_ok_and(|m| self.network.dataplane().is_public_ip(m.key.src.into())) =>
                {
                    Some(Ingress::Internet)
                }
                _ => None,
            };
            if let (Some(ingress), Ok(meta)) = (ingress, wire::parse(&self.packets[p as usize].buf))
            {
                let size = self.sources[flow].size;
                let shaper = journey::sender_vm(self.network.scenario(), ingress).map(|vm| vm.0);
                let r = self.alloc(
                    flow as u32,
                    true,
                    SegmentStart::Ingress(ingress),
                    usize::from(size),
                );
                let built = wire::build_reply(&mut self.packets[r as usize].buf, &meta, size);
                let d = self.dir(r);
                d.sent += 1;
                match built {
                    Ok(n) => {
                        self.packets[r as usize].buf.truncate(n);
                        if meta.key.protocol == wire::PROTO_TCP {
                            self.answer_segment(flow, p, r, &meta);
                        }
                        self.send(r, shaper);
                    }
                    Err(_) => self.drop_packet(r, DropReason::Malformed),
                }
            }
        }
        self.release(p);
    }
}

impl Engine<'_> {
    /// The server of TCP flow `flow` received segment `p` and answers it with `r` (built as a
    /// SYN-ACK): a SYN-ACK to a SYN, else an ACK (with FIN to a FIN) whose sequence number
    /// follows the server's earlier data; it acknowledges the furthest segment received (see
    /// [`segments`]).
    fn answer_segment(&mut self, flow: usize, p: u32, r: u32, request: &wire::PacketMeta) {
        let src = &mut self.sources[flow];
        let (isn, payload) = (src.client_isn(), src.payload());
        let Some(replies) = src.replies.as_mut() else {
            return;
        };
        let got = &mut replies.received.by_server;
        let start = segments::offset_near(request.seq, isn, *got);
        let len = wire::tcp_segment_len(&self.packets[p as usize].buf).unwrap_or(0);
        *got = (*got).max(start + u64::from(len));
        let ack = isn.wrapping_add(*got as u32);
        // A SYN (again) gets the SYN-ACK (again); a data segment the server's next one.
        let start = if request.tcp_flags & wire::TCP_SYN != 0 {
            0
        } else {
            replies.received.server_data += 1;
            segments::segment_start(replies.received.server_data + 1, payload)
        };
        let seq = segments::server_isn(isn).wrapping_add(start as u32);
        let flags = segments::server_flags(request.tcp_flags);
        wire::set_tcp_segment(&mut self.packets[r as usize].buf, seq, ack, flags);
    }

    /// The source of TCP flow `flow` received the server's segment `p`: what it acknowledges
    /// from now on.
    fn client_received(&mut self, flow: usize, p: u32) {
        let src = &mut self.sources[flow];
        if src.template[9] != wire::PROTO_TCP {
            return;
        }
        let isn = segments::server_isn(src.client_isn());
        let Some(replies) = src.replies.as_mut() else {
            return;
        };
        let buf = &self.packets[p as usize].buf;
        let (Ok(meta), Some(len)) = (wire::parse(buf), wire::tcp_segment_len(buf)) else {
            return;
        };
        let got = &mut replies.received.by_client;
        let start = segments::offset_near(meta.seq, isn, *got);
        *got = (*got).max(start + u64::from(len));
    }
}

/// Replays a scenario with default options.
pub fn replay(scenario: &Scenario) -> Report {
    Engine::new(scenario, Options::default()).run()
}

/// Whether an endpoint is a VM (its packets are shaped by the VM's size).
pub fn is_vm(endpoint: Endpoint) -> bool {
    matches!(endpoint, Endpoint::Vm(_))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A generated hub and spoke: 5 spokes of 20 VMs, 1,001 flows (an odd count, so that
    /// threads get runs of different lengths).
    pub(crate) fn generated() -> Scenario {
        let text = vnetsim_scenario::generate::HubSpoke {
            spokes: 5,
            vms_per_spoke: 20,
            flows: 1_001,
            ..Default::default()
        }
        .to_yaml()
        .unwrap();
        vnetsim_scenario::load_str(&text, "g.yaml").unwrap()
    }

    /// Sources built on several threads are the ones one thread builds, in the same slots.
    #[test]
    fn sources_built_on_several_threads_equal_one_threads() {
        let sc = generated();
        let order = flow_order(&sc);
        let endpoints = EndpointIndex::new(&sc);
        let one = format!("{:?}", build_sources_on(&sc, &order, &endpoints, 1));
        for workers in [2, 3, 7] {
            let many = format!("{:?}", build_sources_on(&sc, &order, &endpoints, workers));
            assert!(one == many, "{workers} workers");
        }
        assert!(build_sources_on(&sc, &[], &endpoints, 3).is_empty());
    }

    proptest::proptest! {
        /// The radix sort orders (time, index) pairs as the comparison sort does, on both sides
        /// of the length where it takes over, with times of any width and many repeats.
        #[test]
        fn sort_by_time_is_the_comparison_sort(
            times in proptest::collection::vec(proptest::prelude::any::<u64>(), 0..6000),
            narrow in 0u32..64,
            len in 0usize..6000,
        ) {
            let mut pairs: Vec<(Nanos, u32)> = times
                .iter()
                .take(len)
                .enumerate()
                .map(|(i, &t)| (t >> narrow, i as u32))
                .collect();
            let mut want = pairs.clone();
            want.sort_unstable();
            sort_by_time(&mut pairs);
            proptest::prop_assert_eq!(pairs, want);
        }
    }
}

#[cfg(test)]
mod default_port_tests {
    use super::default_src_port;

    #[test]
    fn default_source_ports_cycle_from_40000_and_never_reach_the_hosts_65330() {
        assert_eq!(default_src_port(0), 40_000);
        assert_eq!(default_src_port(25_329), 65_329);
        assert_eq!(default_src_port(25_330), 40_000);
        assert!((0..200_000).all(|i| (40_000..65_330).contains(&default_src_port(i))));
    }
}
