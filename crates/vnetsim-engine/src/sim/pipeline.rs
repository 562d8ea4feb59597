//! One replay on two cores: the senders on one, the waypoints on the other.
//!
//! What it is for: replaying a large scenario whose packets cross one appliance or gateway
//! (a hub and its spokes) faster than one core can, with the report byte for byte the one of
//! the sequential replay. The replay is cut where each packet's way pauses for the first
//! time. The senders' stage runs every emission: the flow sources, their VMs' shapers and
//! each packet's first segment, delivered or dropped there, or handed over when it reaches a
//! waypoint. The waypoints' stage takes each handed-over packet at its arrival: the waypoint's
//! shaper, its next segment and the delivery. Nothing flows back, so the senders wait for
//! nothing but room (conservative synchronization with no cycle; they stay at most
//! [`MAX_PENDING`] batches ahead): they hand packets over in batches with their clock, a
//! packet always arrives no earlier than the moment it was handed over, and the waypoints
//! replay an arrival only once the senders' clock has reached its time. Each stage
//! keeps the relative order of its events as the sequential queue orders them (the waypoints
//! take arrivals in the order the senders made them), so each shaper, memo and table sees
//! the same packets at the same times in the same order; the counters of the two stages are
//! added at the end, and the report is built once, as after a sequential replay.
//!
//! When it applies (checked before the replay, see [`Engine::parallel_refusal`]): no timed
//! changes or probes (which touch both stages), no capture or plot, no jitter (one random
//! stream for both stages), no replies (they flow back), no load balancer or private
//! endpoint (translations and sessions shared by both stages), no flow from the Internet or
//! addressed to a firewall (a firewall's sessions and translations stay with the waypoints),
//! and no two flows whose 5-tuples are each other's reverse (their NSG records would answer
//! each other across stages). Found during the replay, each of which discards
//! both stages and replays sequentially instead: a packet reaching a second waypoint, a
//! shaper or a VM flow limit used by both stages.
//!
//! What it is not: a general partition of the network. It uses two cores at most (the
//! speed-up stops there), and a scenario that does not qualify replays on one core as before.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::BytesMut;
use vnetsim_dataplane::{FlowCache, FlowTable, Ingress};
use vnetsim_scenario::{DropReason, Expectation, Nanos};

use super::source::Source;
use super::{Engine, NicCounts, Packet, What, key};
use crate::journey::SegmentStart;
use crate::network::Network;
use crate::queue::EventQueue;
use crate::report::Conservation;
use crate::shaper::Shapers;

/// Which part of a replay an engine runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Stage {
    /// All of it (the sequential replay).
    Whole,
    /// Emissions and first segments; packets reaching a waypoint are handed over.
    Senders,
    /// Handed-over packets, from their arrival at the waypoint.
    Waypoints,
}

/// Whether a replay may use two cores (see [`Engine::parallel`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Parallel {
    /// On two cores when the scenario qualifies, the machine has two and the replay is
    /// large enough to gain from it (at least 100,000 packets, four per flow on average).
    #[default]
    Auto,
    /// Always on one core.
    Never,
    /// On two cores whenever the scenario qualifies, whatever its size or the machine (for
    /// tests that compare both replays).
    Always,
}

/// Packets a replay sends at least before [`Parallel::Auto`] uses a second core.
const AUTO_MIN_PACKETS: f64 = 100_000.0;

/// Packets per flow a replay sends at least before [`Parallel::Auto`] uses a second core: the
/// waypoints' stage costs a flow's state per flow, and when nearly every packet opens its
/// flow, the senders' stage does most of the work (measured with 1,000,000 flows of one
/// packet: 0.62 to 0.66 s on two cores against 0.49 to 0.55 s on one).
const AUTO_MIN_PACKETS_PER_FLOW: f64 = 4.0;

/// Flows beyond which a replay stays on one core: the waypoints' stage keeps a copy of every
/// flow's state (up to 64 MiB).
const MAX_FLOWS: usize = 1 << 18;

/// Packets per batch handed over.
const BATCH: usize = 256;

/// Batches the senders may be ahead before they wait. The waypoints take one batch at a
/// time, so that the packets they hold stay few (and in the processor's cache).
const MAX_PENDING: usize = 16;

/// A packet handed from the senders to the waypoints (its bytes follow in the batch's).
#[derive(Clone, Copy, Debug)]
pub(super) struct Handoff {
    at: Nanos,
    flow: u32,
    created: Nanos,
    next: SegmentStart,
    segments: u8,
    generation: u32,
    len: u32,
}

/// Packets handed over together.
#[derive(Debug, Default)]
pub(super) struct Batch {
    packets: Vec<Handoff>,
    bytes: Vec<u8>,
    /// Every packet the senders hand over after this batch arrives at this time or later.
    clock: Nanos,
    /// The last batch: the senders are done.
    last: bool,
}

/// What the two stages share: the batches on their way and the senders' clock.
#[derive(Default)]
struct Channel {
    state: Mutex<ChannelState>,
    /// Batches handed over so far, and taken so far: each side looks at these before it
    /// takes the lock, so that a stage waiting does not contend for it.
    handed: AtomicUsize,
    taken: AtomicUsize,
}

#[derive(Default)]
struct ChannelState {
    full: VecDeque<Batch>,
    /// Batches the waypoints emptied, for the senders to fill again.
    empty: Vec<Batch>,
    /// The waypoints found the replay cannot be split: the senders stop.
    abort: bool,
    /// Times the senders waited for the waypoints, and the waypoints for the senders.
    senders_waited: u64,
    waypoints_waited: u64,
}

impl Channel {
    fn lock(&self) -> std::sync::MutexGuard<'_, ChannelState> {
        // A stage that panicked poisons the lock; its panic is resumed when it is joined.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What the waypoints' stage gives back to be added to the senders'.
struct WaypointsPart {
    sources: Vec<Source>,
    nic_counts: Vec<NicCounts>,
    peerings: Vec<[u64; 2]>,
    conservation: Conservation,
    drops: [u64; DropReason::ALL.len()],
    events_processed: u64,
    now: Nanos,
    horizon: Nanos,
    shapers: Shapers,
    /// (flow slot, reply) of each packet still in flight.
    in_flight: Vec<(u32, bool)>,
    limits_in_use: Vec<bool>,
    aborted: bool,
}

impl<'c> Engine<'c> {
    /// Chooses whether [`Engine::replay`] may use a second core (default [`Parallel::Auto`]).
    /// The report is the same either way.
    pub fn parallel(mut self, parallel: Parallel) -> Self {
        self.parallel = parallel;
        self
    }

    /// Whether the last [`Engine::replay`] ran on two cores.
    pub fn replayed_in_parallel(&self) -> bool {
        self.in_parallel
    }

    /// Why this replay cannot run on two cores (`None`: it can; see the module docs), its
    /// size and the machine aside.
    pub fn parallel_refusal(&self) -> Option<&'static str> {
        let sc = self.network.scenario();
        if self.events_processed > 0 || !self.packets.is_empty() {
            return Some("it has already replayed");
        }
        if self.capture.is_some() {
            return Some("a capture watches it");
        }
        if self.latency_cdf {
            return Some("it draws plots");
        }
        if self.jitter > 0 {
            return Some("its latency has jitter");
        }
        if !sc.events.is_empty() {
            return Some("it has timed changes");
        }
        if sc
            .expectations
            .iter()
            .any(|e| matches!(e, Expectation::Probe { .. }))
        {
            return Some("it has probes");
        }
        if !sc.load_balancers.is_empty() {
            return Some("it has load balancers");
        }
        if !sc.private_endpoints.is_empty() {
            return Some("it has private endpoints");
        }
        if self.sources.len() > MAX_FLOWS {
            return Some("it has more than 262,144 flows");
        }
        if self.sources.iter().any(|s| s.replies.is_some()) {
            return Some("a flow is answered");
        }
        if self
            .sources
            .iter()
            .any(|s| matches!(s.ingress, Ingress::Internet | Ingress::PrivateEndpoint(_)))
        {
            return Some("a flow comes from the Internet");
        }
        // A firewall's sessions and translations belong to the waypoints' stage as long as no
        // flow is addressed to the firewall itself (a DNAT rule, or a record on the sending
        // side matching a translated packet).
        let firewall_ips: Vec<[u8; 4]> = sc
            .firewalls
            .iter()
            .flat_map(|f| std::iter::once(f.ip).chain(f.public_ips.iter().copied()))
            .map(|ip| ip.octets())
            .collect();
        if !firewall_ips.is_empty()
            && self
                .sources
                .iter()
                .any(|s| firewall_ips.iter().any(|ip| s.template[16..20] == ip[..]))
        {
            return Some("a flow is addressed to a firewall");
        }
        // NSG records answer the reverse 5-tuple: no flow's may be another's (ICMP flows
        // compare by their addresses alone). Only a flow sending from a port some flow sends
        // to can be one: the few destination ports sort out nearly every flow at once.
        let ports = |s: &Source| match s.template[9] {
            6 | 17 => {
                let t = &s.template;
                (
                    u16::from_be_bytes([t[20], t[21]]),
                    u16::from_be_bytes([t[22], t[23]]),
                )
            }
            _ => (0, 0),
        };
        let mut to_ports: Vec<(u8, u16)> = Vec::new();
        for s in &self.sources {
            let to = (s.template[9], ports(s).1);
            if !to_ports.contains(&to) {
                to_ports.push(to);
                if to_ports.len() > 64 {
                    break;
                }
            }
        }
        let tuple = |s: &Source, reverse: bool| {
            let t = &s.template;
            let (sport, dport) = ports(s);
            let (src, dst, sport, dport) = if reverse {
                (&t[16..20], &t[12..16], dport, sport)
            } else {
                (&t[12..16], &t[16..20], sport, dport)
            };
            src.iter()
                .chain(dst)
                .chain(&sport.to_be_bytes())
                .chain(&dport.to_be_bytes())
                .fold(u128::from(t[9]), |acc, &b| (acc << 8) | u128::from(b))
        };
        let candidates: Vec<&Source> = if to_ports.len() > 64 {
            self.sources.iter().collect()
        } else {
            self.sources
                .iter()
                .filter(|s| to_ports.contains(&(s.template[9], ports(s).0)))
                .collect()
        };
        if !candidates.is_empty() {
            let mut tuples: Vec<u128> = self.sources.iter().map(|s| tuple(s, false)).collect();
            tuples.sort_unstable();
            if candidates
                .iter()
                .any(|s| tuples.binary_search(&tuple(s, true)).is_ok())
            {
                return Some("two flows are each other's reverse");
            }
        }
        None
    }

    /// Whether this replay runs on two cores, by [`Engine::parallel`], the machine and its
    /// size; `tracing` says why not.
    #[inline(never)]
    pub(super) fn wants_two_cores(&self) -> bool {
        let auto = match self.parallel {
            Parallel::Never => return false,
            Parallel::Always => false,
            Parallel::Auto => true,
        };
        if auto {
            if crate::worker_threads() < 2 {
                return false;
            }
            let packets: f64 = self
                .sources
                .iter()
                .map(|s| (s.end.saturating_sub(s.start)) as f64 / s.interval.max(1.0))
                .sum();
            if packets < AUTO_MIN_PACKETS
                || packets < AUTO_MIN_PACKETS_PER_FLOW * self.sources.len() as f64
            {
                return false;
            }
        }
        match self.parallel_refusal() {
            Some(why) => {
                tracing::debug!(why, "replay on one core");
                false
            }
            None => true,
        }
    }

    /// Replays on two cores (see the module docs). `false` when the replay turned out not to
    /// split, and nothing changed: the caller replays sequentially.
    #[inline(never)]
    pub(super) fn replay_on_two_cores(
        &mut self,
        progress: &mut dyn FnMut(Nanos, Option<Nanos>),
    ) -> bool {
        let channel = Channel::default();
        let network = self.network.clone();
        let sizes: Vec<u16> = self.sources.iter().map(|s| s.size).collect();
        let (end, seed) = (self.end, self.seed);
        // Everything but the flows' state, to start again from if the replay does not split
        // (the flows' state is built again then).
        let pristine = self.fork_without_sources();
        tracing::debug!("replay on two cores");
        self.stage = Stage::Senders;
        let part = std::thread::scope(|scope| {
            let channel = &channel;
            let waypoints = scope.spawn(move || {
                let sources = sizes.into_iter().map(Source::blank).collect();
                let mut engine = Engine::waypoints(network, sources, end, seed);
                engine.run_waypoints(channel);
                tracing::debug!("waypoints ended");
                engine.into_part()
            });
            self.run_senders(channel, progress);
            tracing::debug!("senders ended");
            waypoints
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e))
        });
        self.stage = Stage::Whole;
        let state = channel.lock();
        tracing::debug!(
            senders_waited = state.senders_waited,
            waypoints_waited = state.waypoints_waited,
            "stages ended"
        );
        drop(state);
        match self.absorb(part) {
            Ok(()) => {
                self.in_parallel = true;
                true
            }
            Err(why) => {
                tracing::debug!(why, "replay on one core after all");
                *self = pristine;
                let sc = self.network.scenario();
                self.sources = super::build_sources(
                    sc,
                    &super::flow_order(sc),
                    &vnetsim_dataplane::probe::EndpointIndex::new(sc),
                );
                false
            }
        }
    }

    /// A copy of this engine, not yet replayed, without its flows' state.
    fn fork_without_sources(&self) -> Engine<'c> {
        Engine {
            network: self.network.clone(),
            flows_nsg: self.flows_nsg.clone(),
            cache: FlowCache::new(),
            queue: self.queue.clone(),
            horizon: self.horizon,
            fifos: self.fifos.clone(),
            now: self.now,
            end: self.end,
            rng: rand::rngs::ChaCha8Rng::deserialize_state(&self.rng.serialize_state()),
            seed: self.seed,
            latency_cdf: self.latency_cdf,
            timelines: Vec::new(),
            plot_interval: self.plot_interval,
            jitter: self.jitter,
            packets: Vec::new(),
            free: Vec::new(),
            live: self.live,
            sources: Vec::new(),
            slot_of_flow: self.slot_of_flow.clone(),
            shapers: self.shapers.clone(),
            nic_counts: self.nic_counts.clone(),
            peerings: self.peerings.clone(),
            conservation: self.conservation,
            drops: self.drops,
            probes: Vec::new(),
            probe_failures: Default::default(),
            events_applied: Vec::new(),
            events_processed: self.events_processed,
            capture: None,
            flow_of_slot: Vec::new(),
            stage: self.stage,
            outbox: Box::default(),
            aborted: false,
            parallel: self.parallel,
            in_parallel: false,
        }
    }

    /// The waypoints' stage of a replay of `network` whose flows are `sources`: nothing
    /// scheduled, every counter at zero.
    fn waypoints(
        network: Network,
        sources: Vec<Source>,
        end: Option<Nanos>,
        seed: u64,
    ) -> Engine<'static> {
        let sc = network.scenario();
        Engine {
            flows_nsg: FlowTable::for_scenario(sc),
            cache: FlowCache::new(),
            queue: EventQueue::default(),
            horizon: 0,
            fifos: Vec::new(),
            now: 0,
            end,
            rng: rand::SeedableRng::seed_from_u64(seed),
            seed,
            latency_cdf: false,
            timelines: Vec::new(),
            plot_interval: crate::report::plot_interval(sc.duration),
            jitter: 0,
            packets: Vec::new(),
            free: Vec::new(),
            live: 0,
            sources,
            slot_of_flow: Vec::new(),
            shapers: Shapers::new(sc),
            nic_counts: vec![NicCounts::default(); sc.nics.len()],
            peerings: vec![[0, 0]; sc.peerings.len()],
            conservation: Conservation::default(),
            drops: [0; DropReason::ALL.len()],
            probes: Vec::new(),
            probe_failures: Default::default(),
            events_applied: Vec::new(),
            events_processed: 0,
            capture: None,
            flow_of_slot: Vec::new(),
            stage: Stage::Waypoints,
            outbox: Box::default(),
            aborted: false,
            parallel: Parallel::Never,
            in_parallel: false,
            network,
        }
    }

    /// A packet of one stage of a split replay reached a waypoint at `at`: the senders hand
    /// it over; at the waypoints it is a second waypoint, and the replay does not split.
    #[cold]
    #[inline(never)]
    pub(super) fn paused_in_stage(&mut self, p: u32, at: Nanos) {
        match self.stage {
            Stage::Senders => self.hand_off(p, at),
            Stage::Waypoints | Stage::Whole => {
                self.aborted = self.stage == Stage::Waypoints;
                self.schedule(at, What::Arrive(p));
            }
        }
    }

    /// Senders: hands packet `p`, arriving at its waypoint at `at`, to the waypoints.
    #[inline]
    pub(super) fn hand_off(&mut self, p: u32, at: Nanos) {
        let pkt = &self.packets[p as usize];
        self.outbox.bytes.extend_from_slice(&pkt.buf);
        self.outbox.packets.push(Handoff {
            at: at.max(self.now),
            flow: pkt.flow,
            created: pkt.created,
            next: pkt.next,
            segments: pkt.segments,
            generation: pkt.generation,
            len: pkt.buf.len() as u32,
        });
        self.release(p);
    }

    /// Senders: the event loop of [`Engine::replay`], handing packets over in batches.
    fn run_senders(&mut self, channel: &Channel, progress: &mut dyn FnMut(Nanos, Option<Nanos>)) {
        while self.step(progress) {
            if self.outbox.packets.len() >= BATCH && !self.flush(channel, false) {
                return;
            }
        }
        self.flush(channel, true);
    }

    /// Senders: hands the batch over with the clock (`done`: the last). `false` when the
    /// waypoints gave up.
    fn flush(&mut self, channel: &Channel, done: bool) -> bool {
        // Every later event of this stage is at the queue's next time or later, and so is
        // every arrival it will hand over.
        let clock = match self.queue.peek_key() {
            Some(k) if !done => k >> 2,
            _ => Nanos::MAX,
        };
        let mut spins = 0u32;
        loop {
            let ahead =
                channel.handed.load(Ordering::Relaxed) - channel.taken.load(Ordering::Acquire);
            if done || ahead < MAX_PENDING {
                let mut state = channel.lock();
                if state.abort {
                    return false;
                }
                let empty = state.empty.pop().unwrap_or_default();
                let mut batch = std::mem::replace(&mut *self.outbox, empty);
                batch.clock = clock;
                batch.last = done;
                state.full.push_back(batch);
                state.senders_waited += u64::from(spins > 0);
                drop(state);
                channel.handed.fetch_add(1, Ordering::Release);
                return true;
            }
            if spins.is_multiple_of(64) && channel.lock().abort {
                return false;
            }
            backoff(&mut spins);
        }
    }

    /// Waypoints: takes handed-over packets and replays each from its arrival, never past
    /// the senders' clock.
    fn run_waypoints(&mut self, channel: &Channel) {
        let mut done: Option<Batch> = None;
        let mut ended = false;
        let mut spins = 0u32;
        loop {
            let ready =
                channel.handed.load(Ordering::Acquire) > channel.taken.load(Ordering::Relaxed);
            if !ready {
                backoff(&mut spins);
                continue;
            }
            let taken = {
                let mut state = channel.lock();
                if let Some(batch) = done.take() {
                    state.empty.push(batch);
                }
                state.waypoints_waited += u64::from(spins > 0);
                state.full.pop_front()
            };
            let Some(mut batch) = taken else {
                continue;
            };
            channel.taken.fetch_add(1, Ordering::Release);
            spins = 0;
            self.receive(&mut batch);
            // Events at the senders' clock may go: what they hand over later at that time
            // comes after them in the sequential order too.
            let (last, limit) = match batch.last {
                true => (true, u64::MAX),
                false => (false, key(batch.clock, What::Emit(0)) | 3),
            };
            done = Some(batch);
            while !ended && let Some((k, what)) = self.queue.pop_at_most(limit) {
                if self.end.is_some_and(|end| k >> 2 > end) {
                    // Its packet stays in flight, as in the sequential replay.
                    ended = true;
                    break;
                }
                self.now = k >> 2;
                self.events_processed += 1;
                self.prefetch_arrivals();
                self.dispatch(what);
                if self.aborted {
                    channel.lock().abort = true;
                    return;
                }
            }
            if last {
                return;
            }
        }
    }

    /// Waypoints: starts loading the state of the flows whose packets arrive next (as the
    /// senders' emissions do, see `prefetch_emissions`). Hints only: no effect on results.
    #[inline]
    fn prefetch_arrivals(&self) {
        if let Some(What::Arrive(q)) = self.queue.arrival_ahead(4)
            && let Some(pkt) = self.packets.get(q as usize)
            && let Some(s) = self.sources.get(pkt.flow as usize)
        {
            let s: *const Source = s;
            for line in 0..std::mem::size_of::<Source>().div_ceil(64) {
                crate::prefetch(s.cast::<u8>().wrapping_add(line * 64));
            }
        }
        if let Some(What::Arrive(q)) = self.queue.arrival_ahead(2)
            && let Some(pkt) = self.packets.get(q as usize)
            && let Some(s) = self.sources.get(pkt.flow as usize)
            && let Some(nic) = s.memos.iter().find_map(|m| m.delivered_nic())
        {
            crate::prefetch(&self.nic_counts[nic.index()]);
        }
    }

    /// Waypoints: the packets of `batch`, each queued for its arrival; the batch is emptied.
    fn receive(&mut self, batch: &mut Batch) {
        let mut from = 0;
        for h in &batch.packets {
            let bytes = &batch.bytes[from..from + h.len as usize];
            from += h.len as usize;
            let p = match self.free.pop() {
                Some(i) => {
                    let pkt = &mut self.packets[i as usize];
                    pkt.buf.clear();
                    pkt.buf.extend_from_slice(bytes);
                    i
                }
                None => {
                    let mut buf = BytesMut::with_capacity(bytes.len());
                    buf.extend_from_slice(bytes);
                    self.packets.push(Packet {
                        buf,
                        flow: 0,
                        reply: false,
                        segments: 0,
                        generation: 0,
                        created: 0,
                        next: h.next,
                        delivered_to: None,
                    });
                    (self.packets.len() - 1) as u32
                }
            };
            let pkt = &mut self.packets[p as usize];
            pkt.flow = h.flow;
            pkt.reply = false;
            pkt.segments = h.segments;
            pkt.generation = h.generation;
            pkt.created = h.created;
            pkt.next = h.next;
            pkt.delivered_to = None;
            self.live += 1;
            debug_assert!(h.at >= self.now, "an arrival before the waypoints' clock");
            self.schedule(h.at, What::Arrive(p));
        }
        batch.packets.clear();
        batch.bytes.clear();
    }

    /// Waypoints: what the senders add to theirs.
    fn into_part(self) -> WaypointsPart {
        let free: HashSet<u32> = self.free.iter().copied().collect();
        let in_flight = (0..self.packets.len() as u32)
            .filter(|i| !free.contains(i))
            .map(|i| {
                let p = &self.packets[i as usize];
                (p.flow, p.reply)
            })
            .collect();
        WaypointsPart {
            limits_in_use: self.flows_nsg.flow_limits_in_use(),
            sources: self.sources,
            nic_counts: self.nic_counts,
            peerings: self.peerings,
            conservation: self.conservation,
            drops: self.drops,
            events_processed: self.events_processed,
            now: self.now,
            horizon: self.horizon,
            shapers: self.shapers,
            in_flight,
            aborted: self.aborted,
        }
    }

    /// Senders: adds the waypoints' counters to these, or says why the two stages did not
    /// replay independently (then the result is discarded).
    fn absorb(&mut self, part: WaypointsPart) -> Result<(), &'static str> {
        if part.aborted {
            return Err("a packet reached a second waypoint");
        }
        let mine = self.flows_nsg.flow_limits_in_use();
        if mine.iter().zip(&part.limits_in_use).any(|(a, b)| *a && *b) {
            return Err("both stages used one VM's flow limit");
        }
        if !self.shapers.absorb(part.shapers) {
            return Err("both stages used one shaper");
        }
        for (s, w) in self.sources.iter_mut().zip(&part.sources) {
            let (d, o) = (&mut s.forward, &w.forward);
            d.sent += o.sent;
            d.delivered += o.delivered;
            for (reason, n) in o.dropped.iter() {
                d.dropped.add_n(reason, n);
            }
            d.latency.merge(&o.latency);
        }
        for (c, o) in self.nic_counts.iter_mut().zip(&part.nic_counts) {
            c.tx_packets += o.tx_packets;
            c.tx_bytes += o.tx_bytes;
            c.rx_packets += o.rx_packets;
            c.rx_bytes += o.rx_bytes;
            c.forwarded_packets += o.forwarded_packets;
        }
        for (c, o) in self.peerings.iter_mut().zip(&part.peerings) {
            c[0] += o[0];
            c[1] += o[1];
        }
        let (c, o) = (&mut self.conservation, part.conservation);
        c.sent += o.sent;
        c.delivered += o.delivered;
        c.dropped += o.dropped;
        for (c, o) in self.drops.iter_mut().zip(part.drops) {
            *c += o;
        }
        self.events_processed += part.events_processed;
        self.now = self.now.max(part.now);
        self.horizon = self.horizon.max(part.horizon);
        // Packets in flight at the waypoints count as this stage's own.
        for (flow, reply) in part.in_flight {
            self.live += 1;
            self.packets.push(Packet {
                buf: BytesMut::new(),
                flow,
                reply,
                segments: 0,
                generation: 0,
                created: 0,
                next: SegmentStart::Ingress(Ingress::Internet),
                delivered_to: None,
            });
        }
        Ok(())
    }
}

/// Waits a little: spins first (the other stage is usually a few microseconds away), then
/// yields the core (on a loaded machine the other stage may need it).
fn backoff(spins: &mut u32) {
    *spins += 1;
    if *spins < 64 {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}
