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

use crate::pipeline::{FlowTable, Ingress, Outcome, Resume, Segment, Step, Trace, Waypoint};
use crate::topology::{Dataplane, Edge};
use crate::wire::{self, FlowKey};

const MAX_RECORDS: usize = 4;
const MAX_CROSSINGS: usize = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct CacheKey {
    start: Resume,
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
}

/// Collects what a cache entry needs while the full pipeline runs, and passes every step on.
pub(crate) struct Recorder<'a, T: Trace> {
    pub(crate) inner: &'a mut T,
    pub(crate) last_nic: Option<NicId>,
    pub(crate) records: [(NicId, bool); MAX_RECORDS],
    pub(crate) n_records: usize,
    pub(crate) crossings: [(VnetId, Edge); MAX_CROSSINGS],
    pub(crate) n_crossings: usize,
    pub(crate) ttl_hops: u8,
    pub(crate) cacheable: bool,
}

impl<'a, T: Trace> Recorder<'a, T> {
    /// A recorder for a segment starting at `start`, passing steps on to `inner`.
    pub(crate) fn new(inner: &'a mut T, start: Resume) -> Self {
        let mut rec = Recorder {
            inner,
            last_nic: None,
            records: [(NicId(0), false); MAX_RECORDS],
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
            cacheable: true,
        };
        // An appliance resuming a packet sends it from its own NIC: that NIC's outbound NSG
        // record is the next one the segment relies on.
        if let Resume::At(w) = start
            && let crate::pipeline::WaypointAt::Appliance(nic) = w.at()
        {
            rec.last_nic = Some(nic);
        }
        rec
    }
}

impl<T: Trace> Trace for Recorder<'_, T> {
    #[inline]
    fn step(&mut self, step: Step) {
        match step {
            Step::Send { nic } | Step::Arrive { nic } => self.last_nic = Some(nic),
            Step::Forward { nic, .. } => {
                self.last_nic = Some(nic);
                self.ttl_hops += 1;
            }
            Step::Nsg { direction, .. } => {
                let outbound = direction == vnetsim_scenario::Direction::Outbound;
                match self.last_nic {
                    Some(nic) if !self.records[..self.n_records].contains(&(nic, outbound)) => {
                        if self.n_records < MAX_RECORDS {
                            self.records[self.n_records] = (nic, outbound);
                            self.n_records += 1;
                        } else {
                            self.cacheable = false;
                        }
                    }
                    Some(_) => {}
                    None => self.cacheable = false,
                }
            }
            Step::Peering { from, edge } => {
                if self.n_crossings < MAX_CROSSINGS {
                    self.crossings[self.n_crossings] = (from, edge);
                    self.n_crossings += 1;
                } else {
                    self.cacheable = false;
                }
            }
            Step::Drop {
                reason: DropReason::NsgDenied | DropReason::TtlExceeded,
                ..
            } => {
                self.cacheable = false;
            }
            Step::Deliver {
                to: crate::pipeline::Destination::Host(_),
            } => {
                // The gateway decremented the TTL before handing the packet to its site.
                self.ttl_hops += 1;
            }
            _ => {}
        }
        self.inner.step(step);
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

impl Dataplane {
    /// [`Dataplane::start_segment`] through the flow cache. `generation` names the data plane
    /// (bump it whenever a new one is compiled); entries of another generation are ignored.
    #[allow(clippy::too_many_arguments)]
    pub fn start_segment_cached<T: Trace>(
        &self,
        cache: &mut FlowCache,
        generation: u64,
        packet: &mut [u8],
        ingress: Ingress,
        flows: &mut FlowTable,
        now: Nanos,
        trace: &mut T,
    ) -> Segment {
        self.cached(
            cache,
            generation,
            packet,
            Resume::Ingress(ingress),
            flows,
            now,
            trace,
        )
    }

    /// [`Dataplane::resume`] through the flow cache.
    #[allow(clippy::too_many_arguments)]
    pub fn resume_cached<T: Trace>(
        &self,
        cache: &mut FlowCache,
        generation: u64,
        packet: &mut [u8],
        waypoint: Waypoint,
        flows: &mut FlowTable,
        now: Nanos,
        trace: &mut T,
    ) -> Segment {
        self.cached(
            cache,
            generation,
            packet,
            Resume::At(waypoint),
            flows,
            now,
            trace,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn cached<T: Trace>(
        &self,
        cache: &mut FlowCache,
        generation: u64,
        packet: &mut [u8],
        start: Resume,
        flows: &mut FlowTable,
        now: Nanos,
        trace: &mut T,
    ) -> Segment {
        let Ok(meta) = wire::parse(packet) else {
            return self.run(packet, start, true, flows, now, trace);
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
        let mut rec = Recorder::new(trace, start);
        let segment = self.run(packet, start, true, flows, now, &mut rec);
        let malformed = matches!(
            segment,
            Segment::Done(Outcome::Dropped(DropReason::Malformed, _))
        );
        // Only decisions that evaluated NSGs are worth a cache entry: a lookup in a large
        // table costs more than re-deciding a segment without NSGs.
        if rec.cacheable && !malformed && rec.n_records > 0 {
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
                },
            );
        }
        segment
    }
}
