//! A unified flow table in the style of Azure's VFP: the whole decision of a segment, cached
//! per 5-tuple and starting point.
//!
//! What it is for: the hot path of a timed replay. The first packet of a flow through a segment
//! runs the full pipeline (NSGs, route lookups, peering checks); the cache keeps the result, the
//! peering crossings and the NSG flow records it relied on, and later packets of the flow reuse
//! it after refreshing those records and applying the TTL decrement. It gives exactly the
//! pipeline's decisions (a property test checks it): entries are tied to the data plane's
//! generation (a timed change invalidates them all), NSG denials are never cached (a reverse
//! flow record may admit the next packet), and a hit whose flow records expired or whose TTL
//! runs out falls back to the full pipeline. What it is not: an explanation (a hit reports only
//! its peering crossings to the trace) or bounded in size (one entry per active flow segment).

use std::collections::HashMap;

use foldhash::fast::FixedState;
use vnetsim_scenario::{DropReason, Nanos, NicId, VnetId};

use crate::forward::Dataplane;
use crate::forward::pipeline::{
    FlowTable, Outcome, Reliance, Segment, SegmentStart, Step, Strategy, Trace,
};
use crate::tables::peering::Edge;
use crate::wire::{self, FlowKey};

const MAX_RECORDS: usize = 4;
const MAX_CROSSINGS: usize = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct CacheKey {
    start: SegmentStart,
    key: FlowKey,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    generation: u64,
    segment: Segment,
    /// The NICs (and directions) whose NSG flow records the decision relied on.
    records: [(NicId, bool); MAX_RECORDS],
    n_records: u8,
    /// Peering crossings of the segment, replayed to the trace on a hit.
    crossings: [(VnetId, Edge); MAX_CROSSINGS],
    n_crossings: u8,
    /// TTL decrements the segment applies (an appliance or gateway hop).
    ttl_hops: u8,
    /// The slot of the firewall session that passed the packet, if one did.
    firewall: Option<u32>,
    /// The slot of the load balancer session that passed the packet, if one did.
    lb: Option<u32>,
}

/// Collects what a remembered decision relied on while the full pipeline decides it: the
/// pipeline reports each NSG flow record, peering crossing and TTL decrement through
/// [`Reliance`] as it goes (the trace is left to the caller).
/// [`Recorder::slots`] of a record whose slot is not known.
pub(crate) const NO_SLOT: u32 = u32::MAX;

pub(crate) struct Recorder {
    pub(crate) records: [(NicId, bool); MAX_RECORDS],
    /// Each record's slot in the flow table as [`FlowTable::hit_slot`] names it;
    /// [`NO_SLOT`] until known.
    pub(crate) slots: [u32; MAX_RECORDS],
    pub(crate) n_records: usize,
    pub(crate) crossings: [(VnetId, Edge); MAX_CROSSINGS],
    pub(crate) n_crossings: usize,
    pub(crate) ttl_hops: u8,
    /// The slot of the firewall session that passed the packet unchanged, if one did.
    pub(crate) firewall: Option<u32>,
    /// The slot of the load balancer session that passed the packet unchanged, if one did.
    pub(crate) lb: Option<u32>,
    /// False once more records or crossings came than an entry holds.
    pub(crate) fits: bool,
}

impl Recorder {
    /// A recorder for a segment about to be decided.
    #[inline]
    pub(crate) fn new() -> Self {
        Recorder {
            records: [(NicId(0), false); MAX_RECORDS],
            slots: [NO_SLOT; MAX_RECORDS],
            n_records: 0,
            crossings: [(
                VnetId(0),
                Edge {
                    peer: VnetId(0),
                    local: None,
                    remote: None,
                },
            ); MAX_CROSSINGS],
            n_crossings: 0,
            ttl_hops: 0,
            firewall: None,
            lb: None,
            fits: true,
        }
    }

    /// Whether a decision with this result may be remembered: it fits, and it is no NSG
    /// denial (a reverse flow record may admit the next packet) and no TTL expiry (the next
    /// packet's TTL may last).
    #[inline]
    pub(crate) fn rememberable(&self, segment: &Segment) -> bool {
        self.fits
            && !matches!(
                segment,
                Segment::Done(Outcome::Dropped(
                    DropReason::NsgDenied | DropReason::TtlExceeded | DropReason::FlowLimit,
                    _
                ))
            )
    }
}

impl Reliance for Recorder {
    #[inline]
    fn flow_slot(&mut self, nic: NicId, outbound: bool, named: u32) {
        if let Some(i) = self.records[..self.n_records]
            .iter()
            .position(|&r| r == (nic, outbound))
            && self.slots[i] == NO_SLOT
        {
            self.slots[i] = named;
        }
    }

    #[inline]
    fn flow_record(&mut self, nic: NicId, outbound: bool) {
        if self.records[..self.n_records].contains(&(nic, outbound)) {
            return;
        }
        if self.n_records < MAX_RECORDS {
            self.records[self.n_records] = (nic, outbound);
            self.n_records += 1;
        } else {
            self.fits = false;
        }
    }

    #[inline]
    fn crossing(&mut self, from: VnetId, edge: Edge) {
        if self.n_crossings < MAX_CROSSINGS {
            self.crossings[self.n_crossings] = (from, edge);
            self.n_crossings += 1;
        } else {
            self.fits = false;
        }
    }

    #[inline]
    fn ttl_hop(&mut self) {
        self.ttl_hops += 1;
    }

    #[inline]
    fn vm_flow(&mut self) {
        // Admitted or refused for this packet only: decided in full every time.
        self.fits = false;
    }

    #[inline]
    fn firewall_session(&mut self, slot: u32) {
        if self.firewall.is_some_and(|s| s != slot) {
            // Two firewalls on one segment: more than an entry holds.
            self.fits = false;
        }
        self.firewall = Some(slot);
    }

    #[inline]
    fn lb_session(&mut self, slot: u32) {
        if self.lb.is_some_and(|s| s != slot) {
            // Two load balancers on one segment: more than an entry holds.
            self.fits = false;
        }
        self.lb = Some(slot);
    }

    #[inline]
    fn stateful(&mut self) {
        // A firewall's sessions or an address translation: decided in full every time.
        self.fits = false;
    }
}

/// Cached segment decisions (see the module documentation).
#[derive(Debug, Default)]
pub struct FlowCache {
    entries: HashMap<CacheKey, Entry, FixedState>,
    hits: u64,
    misses: u64,
}

impl FlowCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// (hits, misses) so far.
    pub fn stats(&self) -> (u64, u64) {
        (self.hits, self.misses)
    }

    /// Forgets every entry.
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

/// Deciding through a [`FlowCache`]: its entries of data plane generation `generation` (bump
/// it whenever a new data plane is compiled; entries of another generation are ignored).
#[derive(Debug)]
pub struct Cached<'a> {
    /// The cache.
    pub cache: &'a mut FlowCache,
    /// The generation of the data plane that decides.
    pub generation: u64,
}

impl Strategy for Cached<'_> {
    #[inline]
    fn segment<T: Trace>(
        self,
        dp: &Dataplane,
        start: SegmentStart,
        packet: &mut [u8],
        flows: &mut FlowTable,
        now: Nanos,
        trace: &mut T,
    ) -> Segment {
        dp.cached(
            self.cache,
            self.generation,
            packet,
            start,
            flows,
            now,
            trace,
        )
    }
}

impl Dataplane {
    #[allow(clippy::too_many_arguments)]
    fn cached<T: Trace>(
        &self,
        cache: &mut FlowCache,
        generation: u64,
        packet: &mut [u8],
        start: SegmentStart,
        flows: &mut FlowTable,
        now: Nanos,
        trace: &mut T,
    ) -> Segment {
        let Ok(meta) = wire::parse(packet) else {
            return self.run(packet, start, true, flows, now, trace, &mut ());
        };
        let ck = CacheKey {
            start,
            key: meta.key,
        };
        if let Some(e) = cache.entries.get(&ck)
            && e.generation == generation
            && meta.ttl > e.ttl_hops
            && e.records[..usize::from(e.n_records)]
                .iter()
                .all(|&(nic, outbound)| flows.hit(nic, outbound, &meta.key, now))
            && e.firewall
                .is_none_or(|fw| flows.firewall_passes(fw, &meta.key, now))
            && e.lb.is_none_or(|s| flows.lb_passes(s, &meta.key, now))
        {
            for _ in 0..e.ttl_hops {
                // Cannot fail: the TTL was checked above.
                let _ = wire::forward_hop(packet);
            }
            for &(from, edge) in &e.crossings[..usize::from(e.n_crossings)] {
                trace.step(Step::Peering { from, edge });
            }
            cache.hits += 1;
            return e.segment;
        }
        cache.misses += 1;
        let mut rec = Recorder::new();
        let segment = self.run(packet, start, true, flows, now, trace, &mut rec);
        let malformed = matches!(
            segment,
            Segment::Done(Outcome::Dropped(DropReason::Malformed, _))
        );
        // Only decisions that evaluated NSGs are worth a cache entry: a lookup in a large
        // table costs more than re-deciding a segment without NSGs.
        if rec.rememberable(&segment)
            && !malformed
            && (rec.n_records > 0 || rec.firewall.is_some() || rec.lb.is_some())
        {
            cache.entries.insert(
                ck,
                Entry {
                    generation,
                    segment,
                    records: rec.records,
                    n_records: rec.n_records as u8,
                    crossings: rec.crossings,
                    n_crossings: rec.n_crossings as u8,
                    ttl_hops: rec.ttl_hops,
                    firewall: rec.firewall,
                    lb: rec.lb,
                },
            );
        }
        segment
    }
}
