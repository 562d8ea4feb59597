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
//! Latency model (one way): delivery to a VM (or the Internet) adds `host_to_host`, the same
//! inside a VNet and across a peering [peering-2016]; each appliance adds `appliance`; each
//! gateway adds `gateway`; the site link adds the site's `latency`; every segment may add a
//! seeded uniform jitter in `0..=jitter`; every shaper adds the packet's serialization time at
//! its rate, and any queueing.

use std::collections::{BTreeMap, VecDeque};

use bytes::BytesMut;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use vnetsim_dataplane::probe::{EndpointIndex, probe_size};
use vnetsim_dataplane::wire::{self, PacketSpec};
use vnetsim_dataplane::{
    Cached, Destination, FlowCache, FlowTable, Full, Ingress, Outcome, Segment, SegmentMemo, Step,
    Trace,
};
use vnetsim_scenario::{
    DropReason, Endpoint, Expectation, Nanos, Pattern, Protocol, Rate, Scenario, VmId,
};

use crate::journey::{self, Capture, SegmentStart};
use crate::latency::LatencyHistogram;
use crate::network::Network;
use crate::prefetch;
use crate::queue::{EventQueue, Lane};
use crate::report::{
    Conservation, DirectionReport, EventReport, ExpectationResult, ExpectationSummary, FlowReport,
    Latency, NicReport, PeeringReport, ProbeReport, REPORT_FORMAT, Report, check_flow,
};
use crate::shaper::{Admission, Limit, Shapers};

/// How long a flow without a duration of its own (and a scenario without one) sends.
pub const DEFAULT_FLOW_DURATION: Nanos = 1_000_000_000;

/// First source port given to flows that name none (flow i gets this + i).
pub const FIRST_FLOW_PORT: u16 = 40000;

/// Knobs of one replay.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
    /// Fills every flow's [`FlowReport::latency_cdf`] (for plots; a copy of each flow's
    /// histogram, so off unless asked).
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

#[derive(Debug)]
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

/// How many emissions ahead a flow's state is prefetched (its VM's shaper half as far).
const PREFETCH_AHEAD: usize = 4;

/// Segments of a flow's way remembered beside it (the way through an appliance has two).
const MEMOS: usize = 2;

/// Per-direction counters of a flow while it runs (88 bytes, plus the histogram's buckets
/// beyond the first if its latency varies, and the drop counters once one of its packets is
/// dropped). Every packet of a flow, and every reply, has the flow's size (TTL decrements do
/// not change it), so bytes are `packets * size`.
#[derive(Debug, Default)]
#[repr(C)]
struct DirStats {
    sent: u64,
    delivered: u64,
    /// Drops by reason, allocated at the first drop (most flows never drop).
    dropped: Option<Box<[u64; DropReason::ALL.len()]>>,
    latency: LatencyHistogram,
}

impl DirStats {
    fn drop_one(&mut self, reason: DropReason) {
        self.dropped.get_or_insert_default()[reason as usize] += 1;
    }

    fn drops_by_reason(&self) -> BTreeMap<&'static str, u64> {
        let Some(dropped) = &self.dropped else {
            return BTreeMap::new();
        };
        DropReason::ALL
            .iter()
            .zip(dropped.iter())
            .filter(|(_, n)| **n > 0)
            .map(|(r, n)| (r.as_str(), *n))
            .collect()
    }
}

/// Longest header a template holds: IPv4 + TCP without options.
const TEMPLATE_LEN: usize = 40;

#[derive(Debug)]
#[repr(C)]
struct Source {
    // Laid out by hand, in the order a packet touches it (with 100,000 flows each emission
    // starts with a cache miss on its flow): first cache line, what its emission reads.
    emitted: u64,
    start: Nanos,
    end: Nanos,
    interval: f64,
    next_time: f64,
    ingress: Ingress,
    /// The VM whose egress shaper the flow's packets wait in.
    shaper: Option<u32>,
    size: u16,
    poisson: bool,
    /// Whether the template could be built (a packet size under the headers cannot).
    template_ok: bool,
    /// The data plane generation (low 32 bits) the memos were made in.
    memo_generation: u32,
    // Second and third cache lines: the headers every packet copies, then the decisions its
    // segments reuse, then the counters its delivery updates.
    /// The flow's packet headers, built once with valid checksums for a zero payload of
    /// `size` bytes; each packet is a copy with its own IPv4 identification.
    template: [u8; TEMPLATE_LEN],
    /// The decisions of the first segments of the flow's way (see [`SegmentMemo`]).
    memos: [SegmentMemo; MEMOS],
    forward: DirStats,
    /// Counters of the destination's answers, for flows with `reply: true`.
    replies: Option<Box<DirStats>>,
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
    probe_flows: FlowTable,
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
}

impl<'c> Engine<'c> {
    /// Prepares a replay: compiles the network and schedules every flow, event and probe.
    pub fn new(scenario: &Scenario, options: Options) -> Self {
        let seed = options.seed.unwrap_or(scenario.seed);
        let network = Network::new(scenario);
        let nic_counts = vec![NicCounts::default(); scenario.nics.len()];
        let mut engine = Engine {
            network,
            flows_nsg: FlowTable::new(),
            cache: FlowCache::new(),
            probe_flows: FlowTable::new(),
            queue: EventQueue::default(),
            horizon: 0,
            fifos: Vec::new(),
            now: 0,
            end: scenario.duration,
            rng: ChaCha8Rng::seed_from_u64(seed),
            seed,
            latency_cdf: options.latency_cdf,
            jitter: scenario.latency.jitter,
            packets: Vec::new(),
            free: Vec::new(),
            live: 0,
            sources: Vec::new(),
            slot_of_flow: Vec::new(),
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
        };
        // Timed changes first: at equal times they happen before probes and packets.
        for (i, e) in scenario.events.iter().enumerate() {
            engine.schedule(e.at, What::Event(i as u32));
        }
        for (i, e) in scenario.expectations.iter().enumerate() {
            if let Expectation::Probe { probe, .. } = e {
                engine.schedule(probe.at, What::Probe(i as u32));
            }
        }
        // Flows are stored in the order of their first packet: constant flows then emit (and
        // mostly deliver) in memory order, which the processor prefetches, instead of jumping
        // across 100,000 flows. Slots map back to the file's order in the report.
        let mut order: Vec<usize> = (0..scenario.traffic.len()).collect();
        order.sort_by_key(|&i| (scenario.traffic[i].start, i));
        engine.slot_of_flow = vec![0; order.len()];
        engine.sources.reserve_exact(order.len());
        let endpoints = EndpointIndex::new(scenario);
        let mut scratch = Vec::new();
        for (slot, &i) in order.iter().enumerate() {
            let source = engine.source(i, &scenario.traffic[i], &endpoints, &mut scratch);
            engine.sources.push(source);
            engine.slot_of_flow[i] = slot as u32;
        }
        // First packets, in time order (constant flows enter their FIFO sorted).
        let mut first: Vec<(Nanos, u32)> = engine
            .sources
            .iter()
            .enumerate()
            .filter(|(_, s)| s.start < s.end)
            .map(|(i, s)| (s.start, i as u32))
            .collect();
        first.sort_unstable();
        for (at, f) in first {
            engine.schedule_emit(at, f);
        }
        engine
    }

    /// Copies every packet at every hop to `capture` (for pcap files).
    pub fn with_capture(mut self, capture: &'c mut dyn Capture) -> Self {
        self.capture = Some(capture);
        self
    }

    /// The source of flow `i` (`endpoints` indexes the scenario's addresses; `scratch` is
    /// reused for building templates).
    fn source(
        &self,
        i: usize,
        f: &vnetsim_scenario::Flow,
        endpoints: &EndpointIndex,
        scratch: &mut Vec<u8>,
    ) -> Source {
        let sc = self.network.scenario();
        let ingress = endpoints.ingress(sc, f.from);
        let shaper = match (f.from, ingress) {
            // A VM sends from its primary NIC.
            (Endpoint::Vm(vm), Ingress::Nic(_)) => Some(vm.0),
            (_, Ingress::Nic(nic)) => Some(sc.nics[nic.index()].vm.0),
            _ => None,
        };
        let size = f.packet_size.max(probe_size_min(f.protocol));
        let interval = match f.rate {
            Rate::BitsPerSecond(bps) => f64::from(size) * 8.0 * 1e9 / bps.max(1) as f64,
            Rate::PacketsPerSecond(pps) => 1e9 / pps.max(1) as f64,
        };
        let start = f.start;
        let end = match (f.duration, sc.duration) {
            (Some(d), _) => start.saturating_add(d),
            (None, Some(total)) => total,
            (None, None) => start.saturating_add(DEFAULT_FLOW_DURATION),
        };
        let end = match sc.duration {
            Some(total) => end.min(total),
            None => end,
        };
        let src = endpoints
            .ip(sc, f.from)
            .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED);
        let dst = endpoints
            .ip(sc, f.to)
            .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED);
        let src_port = f.src_port.unwrap_or(FIRST_FLOW_PORT.wrapping_add(i as u16));
        let dst_port = f.dst_port.unwrap_or(match f.protocol {
            Protocol::Icmp => 0,
            _ => 80,
        });
        scratch.clear();
        scratch.resize(usize::from(size), 0);
        let full = scratch;
        let spec = PacketSpec {
            src,
            dst,
            protocol: f.protocol,
            src_port,
            dst_port,
            ttl: 64,
            total_len: size,
            identification: 0,
        };
        let template_ok = wire::build_probe(full, &spec).is_ok();
        let mut template = [0u8; TEMPLATE_LEN];
        let n = TEMPLATE_LEN.min(full.len());
        template[..n].copy_from_slice(&full[..n]);
        Source {
            template,
            template_ok,
            size,
            ingress,
            shaper,
            interval,
            poisson: f.pattern == Pattern::Poisson,
            start,
            end,
            emitted: 0,
            next_time: start as f64,
            memo_generation: 0,
            memos: [SegmentMemo::default(); MEMOS],
            forward: DirStats::default(),
            replies: f.reply.then(Box::default),
        }
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

    /// Schedules flow `f`'s next packet. Constant flows of one interval keep their next
    /// emissions in a FIFO (they stay in time order, as each adds the same interval), so the
    /// tens of thousands of pending emissions never enter the heap; Poisson flows use the heap.
    fn schedule_emit(&mut self, at: Nanos, f: u32) {
        let s = &self.sources[f as usize];
        if s.poisson {
            self.schedule(at, What::Emit(f));
            return;
        }
        let bits = s.interval.to_bits();
        let i = match self.fifos.iter().position(|(b, _)| *b == bits) {
            Some(i) => i,
            None => {
                self.fifos.push((bits, VecDeque::new()));
                self.fifos.len() - 1
            }
        };
        let fifo = &mut self.fifos[i].1;
        // Rounding to whole ns may put a flow 1 ns before the last one queued: keep the order.
        let at = fifo
            .back()
            .map_or(at, |&(last, _)| at.max(last))
            .max(self.now);
        fifo.push_back((at, f));
        // Only each FIFO's head waits in the heap.
        if fifo.len() == 1 {
            self.schedule(at, What::Fifo(i as u32));
        }
    }

    /// The head of emission FIFO `i` is due: its flow emits, and the next head takes its place
    /// in the heap.
    fn fifo_head(&mut self, i: u32) {
        let fifo = &mut self.fifos[i as usize].1;
        let Some((_, f)) = fifo.pop_front() else {
            return;
        };
        if let Some(&(next, _)) = fifo.front() {
            self.schedule(next, What::Fifo(i));
        }
        self.prefetch_emissions(i);
        self.emit(f);
    }

    /// Starts loading what the next emissions of FIFO `i` will touch, so that their cache
    /// misses overlap this packet's work (with 100,000 flows and 10,000 VMs nearly every
    /// emission misses): the flow [`PREFETCH_AHEAD`] emissions ahead, and for the one half as
    /// far (whose flow an earlier call loaded) its VM's shaper and its destination's counters.
    /// Hints only: no effect on results.
    #[inline]
    fn prefetch_emissions(&self, i: u32) {
        let fifo = &self.fifos[i as usize].1;
        if let Some(&(_, after)) = fifo.get(PREFETCH_AHEAD) {
            let s: *const Source = &self.sources[after as usize];
            for line in 0..std::mem::size_of::<Source>().div_ceil(64) {
                prefetch(s.cast::<u8>().wrapping_add(line * 64));
            }
        }
        if let Some(&(_, next)) = fifo.get(PREFETCH_AHEAD / 2) {
            let s = &self.sources[next as usize];
            if let Some(vm) = s.shaper {
                self.shapers.prefetch(Limit::Vm(VmId(vm)));
            }
            if let Some(nic) = s.memos.iter().find_map(|m| m.delivered_nic()) {
                prefetch(&self.nic_counts[nic.index()]);
            }
        }
    }

    /// Like [`Engine::run`], calling `progress(now, end)` every 65,536 events.
    pub fn run_with_progress(mut self, progress: &mut dyn FnMut(Nanos, Option<Nanos>)) -> Report {
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
            match what {
                What::Event(i) => self.apply_event(i as usize),
                What::Probe(i) => self.probe(i as usize),
                What::Emit(f) => self.emit(f),
                What::Fifo(i) => self.fifo_head(i),
                What::Arrive(p) => self.arrive(p),
                What::Deliver(p) => self.deliver(p),
            }
        }
        self.now = self.now.max(self.horizon);
        if let Some(end) = self.end {
            self.now = self.now.max(end);
        }
        self.report()
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
        let mut capture = self.capture.as_deref_mut();
        let Some(check) = vnetsim_dataplane::expect::check_probe_observed(
            scenario,
            self.network.dataplane(),
            index,
            self.probes.len() as u16 + 1,
            &mut self.probe_flows,
            &mut |bytes, _| {
                if let Some(c) = capture.as_deref_mut() {
                    c.packet(now, bytes);
                }
            },
        ) else {
            return;
        };
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
            verdict: match check.result.outcome {
                Outcome::Delivered(_) => "delivered",
                Outcome::Dropped(..) => "dropped",
            },
            reason: check.result.outcome.drop_reason().map(|r| r.as_str()),
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
            (Some(replies), true) => replies,
            _ => &mut src.forward,
        }
    }

    fn drop_packet(&mut self, p: u32, reason: DropReason) {
        self.conservation.dropped += 1;
        self.drops[reason as usize] += 1;
        self.dir(p).drop_one(reason);
        if let Some(c) = self.capture.as_deref_mut() {
            c.dropped(self.now, &self.packets[p as usize].buf, reason);
        }
        self.release(p);
    }

    fn emit(&mut self, f: u32) {
        let fi = f as usize;
        let (size, ingress, shaper, identification, ok) = {
            let s = &mut self.sources[fi];
            s.emitted += 1;
            (s.size, s.ingress, s.shaper, s.emitted as u16, s.template_ok)
        };
        let p = self.alloc(f, false, SegmentStart::Ingress(ingress), usize::from(size));
        {
            // Copy the template's headers (the payload is already zero) and stamp the id.
            let buf = &mut self.packets[p as usize].buf;
            let template = &self.sources[fi].template;
            match buf.get_mut(..TEMPLATE_LEN) {
                // A fixed-size copy: a few vector moves, not a call.
                Some(head) => head.copy_from_slice(template),
                None => {
                    let n = buf.len();
                    buf.copy_from_slice(&template[..n]);
                }
            }
            wire::set_identification(buf, identification);
        }
        {
            let d = &mut self.sources[fi].forward;
            d.sent += 1;
        }
        if ok {
            self.send(p, shaper);
        } else {
            self.drop_packet(p, DropReason::Malformed);
        }
        // The next packet of the flow.
        let s = &mut self.sources[fi];
        let gap = if s.poisson {
            let u: f64 = self.rng.random();
            -(1.0 - u).ln() * s.interval
        } else {
            s.interval
        };
        let next = if s.poisson {
            s.next_time += gap;
            round_ns(s.next_time)
        } else {
            // From the packet count, so that rounding never accumulates.
            s.start + round_ns(s.emitted as f64 * s.interval)
        };
        if next < s.end {
            self.schedule_emit(next.max(self.now), f);
        }
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
            } => self.leave(p, departure + serialization),
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
        let pkt = &mut self.packets[p as usize];
        if let Some(c) = self.capture.as_deref_mut() {
            c.packet(departure, &pkt.buf);
        }
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
            Segment::Done(Outcome::Dropped(reason, _)) => self.drop_packet(p, reason),
            Segment::Done(Outcome::Delivered(to)) => {
                self.packets[p as usize].delivered_to = Some(to);
                let at = departure + delay + self.jitter();
                // A delivery that nothing else waits for (no reply to send, no capture to write
                // in time order) is counted now, for its time: one event less per packet. One
                // due after the end stays in flight, as it would in the queue.
                let pkt = &self.packets[p as usize];
                let answers = !pkt.reply && self.sources[pkt.flow as usize].replies.is_some();
                if answers || self.capture.is_some() {
                    self.schedule(at, What::Deliver(p));
                } else if self.end.is_none_or(|end| at <= end) {
                    self.horizon = self.horizon.max(at);
                    self.deliver_at(p, at);
                }
            }
            Segment::Paused(w) => {
                self.packets[p as usize].next = SegmentStart::At(w);
                let at = departure + delay + self.jitter();
                self.schedule(at, What::Arrive(p));
            }
        }
    }

    /// The packet reached a waypoint: it queues in the appliance VM's or the gateway's shaper.
    fn arrive(&mut self, p: u32) {
        let SegmentStart::At(w) = self.packets[p as usize].next else {
            return;
        };
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

    /// Counts packet `p` delivered at `now` and sends the destination's answer if asked.
    fn deliver_at(&mut self, p: u32, now: Nanos) {
        let (len, created, to, reply, flow) = {
            let pkt = &self.packets[p as usize];
            if let Some(c) = self.capture.as_deref_mut() {
                c.packet(now, &pkt.buf);
            }
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
        if let Some(Destination::Nic(nic)) = to {
            let c = &mut self.nic_counts[nic.index()];
            c.rx_packets += 1;
            c.rx_bytes += len;
        }
        // The destination answers: the reply is the reverse 5-tuple (stateful NSGs admit it).
        if self.sources[flow].replies.is_some() && !reply {
            let ingress = match to {
                Some(Destination::Nic(nic)) => Some(Ingress::Nic(nic)),
                Some(Destination::Host(h)) => {
                    Some(Ingress::Site(self.network.scenario().hosts[h.index()].site))
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
                        self.send(r, shaper);
                    }
                    Err(_) => self.drop_packet(r, DropReason::Malformed),
                }
            }
        }
        self.release(p);
    }

    fn report(mut self) -> Report {
        let now = self.now;
        // Every packet a flow emitted from a NIC was sent by it (see `send`).
        for s in &self.sources {
            if let Ingress::Nic(nic) = s.ingress
                && s.template_ok
            {
                let c = &mut self.nic_counts[nic.index()];
                c.tx_packets += s.forward.sent;
                c.tx_bytes += s.forward.sent * u64::from(s.size);
            }
        }
        self.conservation.in_flight = self.live;
        // Packets still in flight, per flow and direction.
        let mut in_flight: BTreeMap<(u32, bool), u64> = BTreeMap::new();
        let free: std::collections::BTreeSet<u32> = self.free.iter().copied().collect();
        for (i, pkt) in self.packets.iter().enumerate() {
            if !free.contains(&(i as u32)) {
                *in_flight.entry((pkt.flow, pkt.reply)).or_insert(0) += 1;
            }
        }
        let sc = self.network.scenario();
        let flows: Vec<FlowReport> = self
            .slot_of_flow
            .iter()
            .enumerate()
            .map(|(i, &slot)| {
                prefetch_names(sc, i);
                let (f, s) = (&sc.traffic[i], &self.sources[slot as usize]);
                let active = s.end.saturating_sub(s.start).max(1) as f64 / 1e9;
                let dir = |d: &DirStats, flight: u64| DirectionReport {
                    sent: d.sent,
                    delivered: d.delivered,
                    dropped: d.drops_by_reason(),
                    in_flight: flight,
                    bytes_sent: d.sent * u64::from(s.size),
                    bytes_delivered: d.delivered * u64::from(s.size),
                    delivered_ratio: if d.sent == 0 {
                        1.0
                    } else {
                        d.delivered as f64 / d.sent as f64
                    },
                    throughput_bps: (d.delivered * u64::from(s.size)) as f64 * 8.0 / active,
                    latency_ns: (d.delivered > 0).then(|| Latency {
                        min: d.latency.min(),
                        p50: d.latency.value_at_quantile(0.5),
                        p90: d.latency.value_at_quantile(0.9),
                        p99: d.latency.value_at_quantile(0.99),
                        p999: d.latency.value_at_quantile(0.999),
                        max: d.latency.max(),
                        mean: (d.latency.mean() * 1000.0).round() / 1000.0,
                    }),
                };
                FlowReport {
                    name: f.name.clone(),
                    from: sc.endpoint_name(f.from),
                    to: sc.endpoint_name(f.to),
                    protocol: vnetsim_dataplane::explain::protocol_name(f.protocol),
                    packet_size: s.size,
                    offered_bps: f64::from(s.size) * 8.0 * 1e9 / s.interval,
                    start_ns: s.start,
                    end_ns: s.end,
                    forward: dir(
                        &s.forward,
                        in_flight.get(&(slot, false)).copied().unwrap_or(0),
                    ),
                    replies: s.replies.as_ref().map(|r| {
                        Box::new(dir(r, in_flight.get(&(slot, true)).copied().unwrap_or(0)))
                    }),
                    latency_cdf: if self.latency_cdf {
                        s.forward.latency.buckets().collect()
                    } else {
                        Vec::new()
                    },
                }
            })
            .collect();
        let mut results = Vec::new();
        for (index, e) in sc.expectations.iter().enumerate() {
            match e {
                Expectation::Probe { line, .. } => {
                    let failures = self.probe_failures.get(&index).cloned().unwrap_or_else(|| {
                        vec!["the probe was not sent before the end of the simulation".into()]
                    });
                    results.push(ExpectationResult {
                        index,
                        line: *line,
                        subject: "probe".into(),
                        passed: failures.is_empty(),
                        failures,
                    });
                }
                Expectation::Flow { flow, checks, line } => {
                    let failures = check_flow(&flows[flow.index()], checks);
                    results.push(ExpectationResult {
                        index,
                        line: *line,
                        subject: format!("flow {}", sc.traffic[flow.index()].name),
                        passed: failures.is_empty(),
                        failures,
                    });
                }
            }
        }
        let passed = results.iter().filter(|r| r.passed).count() as u64;
        let shapers = self.shapers.report(sc);
        let price = sc.pricing.peering_egress_per_gb + sc.pricing.peering_ingress_per_gb;
        // Per pair of VNets, lower id first (a pair's counters are keyed by one of its links).
        let mut pairs: BTreeMap<(u32, u32), [u64; 2]> = BTreeMap::new();
        for (link, bytes) in self.peerings.iter().enumerate() {
            if *bytes == [0, 0] {
                continue;
            }
            let l = &sc.peerings[link];
            let (a, b) = (l.from.0.min(l.to.0), l.from.0.max(l.to.0));
            let sum = pairs.entry((a, b)).or_insert([0, 0]);
            sum[0] += bytes[0];
            sum[1] += bytes[1];
        }
        let peerings = pairs
            .iter()
            .map(|(&(a, b), bytes)| PeeringReport {
                vnets: [
                    sc.vnets[a as usize].name.clone(),
                    sc.vnets[b as usize].name.clone(),
                ],
                bytes_forward: bytes[0],
                bytes_backward: bytes[1],
                cost_usd: (bytes[0] + bytes[1]) as f64 / 1e9 * price,
            })
            .collect();
        let mut probes = std::mem::take(&mut self.probes);
        probes.sort_by_key(|p| p.index);
        Report {
            format: REPORT_FORMAT,
            scenario: sc.name.clone(),
            seed: self.seed,
            simulated_ns: now,
            events_processed: self.events_processed,
            conservation: self.conservation,
            drops_by_reason: DropReason::ALL
                .iter()
                .zip(self.drops)
                .filter(|(_, n)| *n > 0)
                .map(|(r, n)| (r.as_str(), n))
                .collect(),
            flows,
            probes,
            nics: self
                .nic_counts
                .iter()
                .zip(&sc.nics)
                .filter(|(c, _)| c.tx_packets + c.rx_packets + c.forwarded_packets > 0)
                .map(|(c, n)| NicReport {
                    nic: n.name.clone(),
                    vm: sc.vms[n.vm.index()].name.to_string(),
                    tx_packets: c.tx_packets,
                    tx_bytes: c.tx_bytes,
                    rx_packets: c.rx_packets,
                    rx_bytes: c.rx_bytes,
                    forwarded_packets: c.forwarded_packets,
                })
                .collect(),
            shapers,
            peerings,
            events: std::mem::take(&mut self.events_applied),
            expectations: ExpectationSummary {
                passed,
                failed: results.len() as u64 - passed,
                results,
            },
        }
    }
}

/// `x.round() as Nanos` for `x >= 0` without a call into the maths library (the baseline
/// x86-64 target has no rounding instruction): the integer part plus one when the fraction is
/// at least a half. `x - t` is exact (both are within one of each other, below 2^53; above,
/// `x` is a whole number).
#[inline]
fn round_ns(x: f64) -> Nanos {
    let t = x as Nanos;
    if x - t as f64 >= 0.5 { t + 1 } else { t }
}

/// Starts loading what the report's row of a flow a few places after `i` will touch: the
/// records of its endpoint VMs (16 ahead), then their shared names, whose reference counts
/// the row's `Arc` clones update (8 ahead, once the records are in). With 1,000,000 flows
/// between 100,000 VMs in random order, these were cache misses on every row.
fn prefetch_names(sc: &Scenario, i: usize) {
    let vm = |e: Endpoint| match e {
        Endpoint::Vm(vm) => sc.vms.get(vm.index()),
        _ => None,
    };
    if let Some(f) = sc.traffic.get(i + 16) {
        for v in [vm(f.from), vm(f.to)].into_iter().flatten() {
            prefetch(v);
        }
    }
    if let Some(f) = sc.traffic.get(i + 8) {
        for v in [vm(f.from), vm(f.to)].into_iter().flatten() {
            prefetch(std::sync::Arc::as_ptr(&v.name).cast::<u8>());
        }
    }
}

fn probe_size_min(protocol: Protocol) -> u16 {
    // The smallest packet of each protocol (headers only); the loader refuses smaller sizes.
    match protocol {
        Protocol::Tcp => 40,
        Protocol::Udp | Protocol::Icmp => 28,
    }
    .min(probe_size(protocol))
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
mod tests {
    use super::*;

    /// The state a flow costs the engine (the scenario's own description aside): its source
    /// with counters, the memos of its way and an empty latency histogram. The performance
    /// target is 256 bytes.
    #[test]
    fn a_flow_costs_at_most_256_bytes_of_engine_state() {
        let size = std::mem::size_of::<Source>();
        assert!(size <= 256, "Source is {size} bytes");
    }

    proptest::proptest! {
        /// The same as the maths library's rounding, for every time a flow can emit at.
        #[test]
        fn round_ns_is_round(x in 0.0f64..1.8e19, whole in 0u64..1 << 62, half in proptest::bool::ANY) {
            proptest::prop_assert_eq!(round_ns(x), x.round() as Nanos);
            let y = whole as f64 + if half { 0.5 } else { 0.0 };
            proptest::prop_assert_eq!(round_ns(y), y.round() as Nanos);
        }
    }

    #[test]
    fn round_ns_edges() {
        for x in [
            0.0,
            0.5,
            0.49999999999999994,
            1.5,
            2.5,
            4503599627370495.5,
            1e17 + 0.7,
        ] {
            assert_eq!(round_ns(x), x.round() as Nanos, "{x}");
        }
    }

    /// What a constant flow's emission touches fits the first cache line, and the memos
    /// follow the template.
    #[test]
    fn the_emission_fields_fill_the_first_cache_line() {
        assert_eq!(std::mem::offset_of!(Source, template), 64);
        assert_eq!(
            std::mem::offset_of!(Source, memos),
            64 + TEMPLATE_LEN,
            "memos follow the template"
        );
    }
}
