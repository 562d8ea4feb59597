//! The fabric: the data plane driven by a real clock, with VM-size and gateway shaping, the
//! scenario's latency model and its timed events.
//!
//! What it is for: the part of live mode that decides and times packets, with no socket in it.
//! A driver (UDP ports, TUN interfaces) hands it each packet a NIC sends with
//! [`Fabric::ingest`], asks it when something is next due ([`Fabric::next_deadline`]) and
//! collects what is due with [`Fabric::advance`]: packets to hand to the destination NIC.
//! Time is nanoseconds since the fabric started (the driver reads the wall clock). A packet
//! waits in its sender VM's egress shaper, the data plane decides its way segment by segment
//! (an appliance or gateway on the way shapes it again, as in the engine), it is delayed by
//! the latency model (without jitter), and it is delivered. NSG flow records live in one
//! [`FlowTable`], so replies are admitted as in Azure. Timed events of the scenario happen at
//! their time since start. What it is not: a socket owner or a scheduler of its own; it never
//! sleeps and never reads the clock.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use vnetsim_dataplane::{Destination, FlowTable, Full, Ingress, Outcome, Segment};
use vnetsim_engine::journey::{self, SegmentStart};
use vnetsim_engine::network::Network;
use vnetsim_engine::report::{Conservation, EventReport, NicReport, count_drop};
use vnetsim_engine::shaper::{Admission, Limit, Shapers};
use vnetsim_engine::{Capture, Hop, Seen};
use vnetsim_scenario::{DropReason, Event, Nanos, NicId, Scenario};

use crate::report::{LiveNicReport, LiveReport};

/// A packet the fabric delivered to a NIC: the driver hands `bytes` to that NIC's VM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The receiving NIC.
    pub nic: NicId,
    /// The IPv4 packet as it arrives (TTL decremented by each appliance on the way).
    pub bytes: Vec<u8>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    /// Leaves a shaper: the data plane decides the next segment.
    Leave,
    /// Reaches a waypoint (appliance, gateway) and queues in its shaper.
    Arrive,
    /// Reaches its destination.
    Deliver,
}

#[derive(Debug)]
struct InFlight {
    bytes: Vec<u8>,
    /// Where its next segment starts.
    next: SegmentStart,
    delivered_to: Option<Destination>,
}

/// The live fabric of one scenario (see the module docs).
pub struct Fabric {
    scenario: Scenario,
    network: Network,
    flows: FlowTable,
    events: Vec<Event>,
    next_event: usize,
    timers: BinaryHeap<Reverse<(Nanos, u64, Stage, u32)>>,
    seq: u64,
    slots: Vec<Option<InFlight>>,
    free: Vec<u32>,
    shapers: Shapers,
    nics: Vec<LiveNicReport>,
    conservation: Conservation,
    drops: BTreeMap<&'static str, u64>,
    applied: Vec<EventReport>,
    capture: Option<Box<dyn Capture + Send>>,
}

impl std::fmt::Debug for Fabric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fabric")
            .field("scenario", &self.scenario.name)
            .field("conservation", &self.conservation)
            .finish_non_exhaustive()
    }
}

impl Fabric {
    /// A fabric for `scenario` at time zero: the network as the file describes it, shapers at
    /// each VM size's bandwidth (or the VM's `bandwidth`) and each gateway SKU's throughput.
    pub fn new(scenario: &Scenario) -> Self {
        let nics = scenario
            .nics
            .iter()
            .map(|n| LiveNicReport {
                counters: NicReport {
                    nic: n.name.clone(),
                    vm: scenario.vms[n.vm.index()].name.to_string(),
                    ..NicReport::default()
                },
                ip: n.ip.to_string(),
                malformed: 0,
                no_listener: 0,
                foreign_senders: 0,
                dropped_by_kernel: 0,
            })
            .collect();
        let mut events = scenario.events.clone();
        events.sort_by_key(|e| e.at);
        Fabric {
            network: Network::new(scenario),
            scenario: scenario.clone(),
            flows: FlowTable::for_any_traffic(scenario),
            events,
            next_event: 0,
            timers: BinaryHeap::new(),
            seq: 0,
            slots: Vec::new(),
            free: Vec::new(),
            shapers: Shapers::new(scenario),
            nics,
            conservation: Conservation::default(),
            drops: BTreeMap::new(),
            applied: Vec::new(),
            capture: None,
        }
    }

    /// Copies every packet as it leaves each hop and as it is delivered to `capture` (a pcap
    /// file), with the fabric's time as timestamp.
    pub fn set_capture(&mut self, capture: Box<dyn Capture + Send>) {
        self.capture = Some(capture);
    }

    /// Takes the capture back (to finish a pcap file).
    pub fn take_capture(&mut self) -> Option<Box<dyn Capture + Send>> {
        self.capture.take()
    }

    /// The scenario as loaded.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// Packet counts so far.
    pub fn conservation(&self) -> Conservation {
        let mut c = self.conservation;
        c.in_flight = (self.slots.len() - self.free.len()) as u64;
        c
    }

    /// Drops so far, by reason.
    pub fn drops_by_reason(&self) -> &BTreeMap<&'static str, u64> {
        &self.drops
    }

    /// The VM of `nic` sends the IPv4 packet `bytes` at `now`. Bytes that are not a valid IPv4
    /// packet are dropped at once as `malformed` (and counted on the NIC).
    pub fn ingest(&mut self, nic: NicId, bytes: &[u8], now: Nanos) {
        self.ingest_owned(nic, bytes.to_vec(), now);
    }

    /// [`Fabric::ingest`] of a packet the driver already holds in a buffer of its own: the
    /// buffer travels with the packet (no copy) and comes back in its [`Delivery`].
    pub fn ingest_owned(&mut self, nic: NicId, mut bytes: Vec<u8>, now: Nanos) {
        let Some(counters) = self.nics.get_mut(nic.index()) else {
            return;
        };
        self.conservation.sent += 1;
        counters.counters.tx_packets += 1;
        let meta = vnetsim_dataplane::wire::parse(&bytes);
        // A datagram longer than its packet's IPv4 total length carries trailing bytes that are
        // not part of the packet (as Ethernet padding is not): they are cut off, never forwarded.
        if let Ok(m) = &meta {
            bytes.truncate(usize::from(m.total_len));
        }
        counters.counters.tx_bytes += bytes.len() as u64;
        if let Err(e) = meta {
            counters.malformed += 1;
            tracing::debug!(nic = nic.0, error = %e, "malformed packet dropped");
            if let Some(c) = self.capture.as_deref_mut() {
                let seen = Seen {
                    at: now,
                    bytes: &bytes,
                    hop: Hop::leaving(SegmentStart::Ingress(Ingress::Nic(nic))),
                    flow: None,
                };
                c.dropped(seen, DropReason::Malformed, "malformed packet");
            }
            self.drop_packet(DropReason::Malformed);
            return;
        }
        let len = bytes.len();
        let slot = self.alloc(InFlight {
            bytes,
            next: SegmentStart::Ingress(Ingress::Nic(nic)),
            delivered_to: None,
        });
        match journey::sender_vm(self.network.scenario(), Ingress::Nic(nic)) {
            Some(vm) => self.shape(slot, Limit::Vm(vm), len, now),
            None => self.leave(slot, now),
        }
    }

    /// The packet in `slot` waits in `limit`'s shaper, then leaves (or is dropped when the
    /// queue is full).
    fn shape(&mut self, slot: u32, limit: Limit, len: usize, now: Nanos) {
        match self.shapers.offer(limit, now, len as u32) {
            Admission::Overflow => self.drop_slot(slot, now, DropReason::QueueOverflow),
            Admission::Leaves {
                departure,
                serialization,
            } => {
                self.schedule(
                    vnetsim_scenario::units::after(departure, serialization),
                    Stage::Leave,
                    slot,
                );
            }
        }
    }

    /// When something is next due (a packet's next stage or a timed event), if anything is.
    pub fn next_deadline(&self) -> Option<Nanos> {
        let timer = self.timers.peek().map(|Reverse((at, ..))| *at);
        let event = self.events.get(self.next_event).map(|e| e.at);
        match (timer, event) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Does everything due at or before `now`, in time order (timed events before packets at
    /// equal times), and returns the packets delivered to NICs.
    pub fn advance(&mut self, now: Nanos) -> Vec<Delivery> {
        let mut out = Vec::new();
        self.advance_into(now, &mut out);
        out
    }

    /// [`Fabric::advance`] into a vector the driver keeps from call to call: the delivered
    /// packets are appended to `out`.
    pub fn advance_into(&mut self, now: Nanos, out: &mut Vec<Delivery>) {
        loop {
            let event = self
                .events
                .get(self.next_event)
                .map(|e| e.at)
                .filter(|&at| at <= now);
            let timer = self
                .timers
                .peek()
                .map(|Reverse(t)| *t)
                .filter(|t| t.0 <= now);
            match (event, timer) {
                (Some(e), t) if t.is_none_or(|t| e <= t.0) => self.apply_event(),
                (_, Some((at, _, stage, slot))) => {
                    self.timers.pop();
                    match stage {
                        Stage::Leave => self.leave(slot, at),
                        Stage::Arrive => self.arrive(slot, at),
                        Stage::Deliver => {
                            if let Some(d) = self.deliver(slot, at) {
                                out.push(d);
                            }
                        }
                    }
                }
                _ => break,
            }
        }
    }

    /// A delivered packet could not be handed over: no program has sent from that NIC yet, so
    /// the driver does not know where its VM is.
    pub fn count_no_listener(&mut self, nic: NicId) {
        if let Some(n) = self.nics.get_mut(nic.index()) {
            n.no_listener += 1;
        }
    }

    fn apply_event(&mut self) {
        let e = &self.events[self.next_event];
        self.next_event += 1;
        let applied = journey::apply_event(&mut self.network, e);
        self.applied.push(applied);
    }

    fn alloc(&mut self, packet: InFlight) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(packet);
                i
            }
            None => {
                self.slots.push(Some(packet));
                (self.slots.len() - 1) as u32
            }
        }
    }

    fn release(&mut self, slot: u32) -> Option<InFlight> {
        let p = self.slots.get_mut(slot as usize)?.take();
        if p.is_some() {
            self.free.push(slot);
        }
        p
    }

    fn schedule(&mut self, at: Nanos, stage: Stage, slot: u32) {
        self.seq += 1;
        self.timers.push(Reverse((at, self.seq, stage, slot)));
    }

    fn drop_packet(&mut self, reason: DropReason) {
        self.conservation.dropped += 1;
        count_drop(&mut self.drops, reason);
    }

    /// Drops the packet in `slot` at `now` (shown to the capture).
    fn drop_slot(&mut self, slot: u32, now: Nanos, reason: DropReason) {
        if let Some(p) = self.release(slot)
            && let Some(c) = self.capture.as_deref_mut()
        {
            let seen = Seen {
                at: now,
                bytes: &p.bytes,
                hop: Hop::leaving(p.next),
                flow: None,
            };
            c.dropped(seen, reason, "");
        }
        self.drop_packet(reason);
    }

    fn leave(&mut self, slot: u32, now: Nanos) {
        let Some(Some(p)) = self.slots.get_mut(slot as usize) else {
            return;
        };
        if let Some(c) = self.capture.as_deref_mut() {
            c.packet(Seen {
                at: now,
                bytes: &p.bytes,
                hop: Hop::leaving(p.next),
                flow: None,
            });
        }
        let start = p.next;
        let dp = self.network.dataplane();
        let segment = dp.decide(start, &mut p.bytes, &mut self.flows, now, Full, &mut ());
        let delay = journey::segment_delay(self.network.scenario(), start, segment);
        match segment {
            Segment::Done(Outcome::Dropped(reason, cause)) => {
                if tracing::enabled!(tracing::Level::DEBUG) {
                    let why = vnetsim_dataplane::explain::cause_text(
                        self.network.scenario(),
                        self.network.dataplane(),
                        &cause,
                    );
                    tracing::debug!(reason = reason.as_str(), %why, "packet dropped");
                }
                self.drop_slot(slot, now, reason);
            }
            Segment::Done(Outcome::Delivered(to)) => {
                p.delivered_to = Some(to);
                self.schedule(
                    vnetsim_scenario::units::after(now, delay),
                    Stage::Deliver,
                    slot,
                );
            }
            Segment::Paused(w) => {
                p.next = SegmentStart::At(w);
                self.schedule(
                    vnetsim_scenario::units::after(now, delay),
                    Stage::Arrive,
                    slot,
                );
            }
        }
    }

    fn arrive(&mut self, slot: u32, now: Nanos) {
        let Some(Some(p)) = self.slots.get(slot as usize) else {
            return;
        };
        let SegmentStart::At(w) = p.next else {
            return;
        };
        if let Some(c) = self.capture.as_deref_mut() {
            c.packet(Seen {
                at: now,
                bytes: &p.bytes,
                hop: Hop::arriving(w.at()),
                flow: None,
            });
        }
        let len = p.bytes.len();
        let arrival = journey::arrival(self.network.scenario(), w.at());
        if let Some(nic) = arrival.forwarded_by {
            self.nics[nic.index()].counters.forwarded_packets += 1;
        }
        self.shape(slot, arrival.limit, len, now);
    }

    fn deliver(&mut self, slot: u32, now: Nanos) -> Option<Delivery> {
        let p = self.release(slot)?;
        if let (Some(c), Some(to)) = (self.capture.as_deref_mut(), p.delivered_to) {
            c.packet(Seen {
                at: now,
                bytes: &p.bytes,
                hop: Hop::delivered(to),
                flow: None,
            });
        }
        self.conservation.delivered += 1;
        match p.delivered_to {
            Some(Destination::Nic(nic)) => {
                let c = &mut self.nics[nic.index()].counters;
                c.rx_packets += 1;
                c.rx_bytes += p.bytes.len() as u64;
                Some(Delivery {
                    nic,
                    bytes: p.bytes,
                })
            }
            // On-premises hosts and the Internet are sinks in live mode.
            _ => None,
        }
    }

    /// The report at `now`: conservation, drops, per-NIC counters, shapers, events applied.
    pub fn report(&self, now: Nanos, mode: &'static str) -> LiveReport {
        let shapers = self.shapers.report(&self.scenario);
        LiveReport {
            format: crate::report::LIVE_REPORT_FORMAT,
            scenario: self.scenario.name.clone(),
            mode,
            wall_ns: now,
            conservation: self.conservation(),
            drops_by_reason: self.drops.clone(),
            nics: self.nics.clone(),
            shapers,
            events: self.applied.clone(),
        }
    }
}
