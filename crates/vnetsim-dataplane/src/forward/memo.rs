//! A segment's decision remembered beside its flow: the flow cache without the hash table.
//!
//! What it is for: a timed driver that owns its flows (the engine's traffic sources) keeps one
//! [`SegmentMemo`] per flow and segment of its way, in the flow's own memory, and decides every
//! later packet of the flow through it. A hit costs a TTL check, the NSG flow-record refresh
//! and the TTL decrement, with no lookup at all; with 100,000 flows a hash table lookup is a
//! cache miss per segment, the memo is on a cache line the driver touches anyway. It gives
//! exactly the pipeline's decisions under the same rules as [`crate::forward::flowcache`] (a
//! property test checks it): denials and drops are never remembered, a hit whose flow records
//! expired or whose TTL runs out falls back to the full pipeline.
//!
//! What it is not: a cache keyed by anything. The caller promises three things: every packet it
//! decides through one memo belongs to the same 5-tuple and starts the segment at the same
//! place (same ingress, or a waypoint decided by the same data plane), and it forgets every
//! memo ([`SegmentMemo::clear`]) when the data plane changes.

use vnetsim_scenario::{FirewallId, HostId, Nanos, NicId, PrivateEndpointId, VnetId};

use crate::forward::Dataplane;
use crate::forward::flowcache::Recorder;
use crate::forward::pipeline::{
    Destination, FlowTable, Forwarder, Outcome, Segment, SegmentStart, Step, Strategy, Trace,
    Waypoint, WaypointAt,
};
use crate::tables::platform::PlatformEndpoint;
use crate::wire;

/// NSG flow records and peering crossings a memo holds (more and the segment is not
/// remembered; the way through an appliance relies on two records per segment).
const MEMO_RECORDS: usize = 2;
const MEMO_CROSSINGS: usize = 2;
/// The mark of a memo record that names a firewall session, not an NSG flow record (an NSG
/// record is named by its slot in the flow table, shifted left once, below 2^30).
const FIREWALL_RECORD: u32 = 1 << 31;
/// The mark of a memo record that names a load balancer session (without [`FIREWALL_RECORD`]);
/// session slots stay below it.
const LB_RECORD: u32 = 1 << 30;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(u8)]
enum Kind {
    #[default]
    Empty,
    PausedAppliance,
    PausedFromSite,
    PausedToSite,
    PausedFirewall,
    DeliveredNic,
    DeliveredHost,
    DeliveredInternet,
    DeliveredPlatform,
    DeliveredEndpoint,
}

/// One segment's remembered decision (28 bytes; see the module documentation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SegmentMemo {
    /// The NIC, VNet or host of the result.
    id: u32,
    /// The waypoint's hop count.
    hops: u16,
    kind: Kind,
    /// The waypoint's forwarder (0 origin, 1 appliance, 2 gateway).
    forwarder: u8,
    ttl_hops: u8,
    n_records: u8,
    n_crossings: u8,
    /// NSG flow records the decision relied on, `nic << 1 | outbound`, the firewall
    /// session, [`FIREWALL_RECORD`]` | slot` (its slot in the flow table's firewall sessions),
    /// and the load balancer session, [`LB_RECORD`]` | slot`.
    records: [u32; MEMO_RECORDS],
    /// Peering crossings, as edge numbers ([`crate::tables::peering::PeeringStates::edge_number`]).
    crossings: [u32; MEMO_CROSSINGS],
}

impl SegmentMemo {
    /// Whether a decision is remembered.
    pub fn is_empty(&self) -> bool {
        self.kind == Kind::Empty
    }

    /// The NIC the remembered decision delivers to, if it does.
    pub fn delivered_nic(&self) -> Option<NicId> {
        (self.kind == Kind::DeliveredNic).then_some(NicId(self.id))
    }

    /// Forgets the decision.
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    fn remembered(&self) -> Segment {
        let waypoint = |at| {
            Segment::Paused(Waypoint {
                at,
                forwarder: match self.forwarder {
                    0 => Forwarder::Origin,
                    1 => Forwarder::Appliance,
                    _ => Forwarder::Gateway,
                },
                hops: self.hops,
            })
        };
        match self.kind {
            Kind::PausedAppliance => waypoint(WaypointAt::Appliance(NicId(self.id))),
            Kind::PausedFromSite => waypoint(WaypointAt::GatewayFromSite(VnetId(self.id))),
            Kind::PausedToSite => waypoint(WaypointAt::GatewayToSite(VnetId(self.id))),
            Kind::PausedFirewall => waypoint(WaypointAt::Firewall(FirewallId(self.id))),
            Kind::DeliveredNic => {
                Segment::Done(Outcome::Delivered(Destination::Nic(NicId(self.id))))
            }
            Kind::DeliveredHost => {
                Segment::Done(Outcome::Delivered(Destination::Host(HostId(self.id))))
            }
            Kind::DeliveredPlatform => Segment::Done(Outcome::Delivered(Destination::Platform(
                PlatformEndpoint::from_index(self.id),
            ))),
            Kind::DeliveredEndpoint => Segment::Done(Outcome::Delivered(
                Destination::PrivateEndpoint(PrivateEndpointId(self.id)),
            )),
            Kind::DeliveredInternet | Kind::Empty => {
                Segment::Done(Outcome::Delivered(Destination::Internet))
            }
        }
    }

    /// The memo of a decision, if it can be remembered.
    fn of(dp: &Dataplane, segment: Segment, rec: &Recorder) -> Option<Self> {
        let n_records =
            rec.n_records + usize::from(rec.firewall.is_some()) + usize::from(rec.lb.is_some());
        if !rec.rememberable(&segment)
            || n_records > MEMO_RECORDS
            || rec.n_records > (FIREWALL_RECORD >> 1) as usize
            || rec.n_crossings > MEMO_CROSSINGS
        {
            return None;
        }
        let (kind, id, forwarder, hops) = match segment {
            Segment::Paused(w) => {
                let (kind, id) = match w.at {
                    WaypointAt::Appliance(nic) => (Kind::PausedAppliance, nic.0),
                    WaypointAt::GatewayFromSite(v) => (Kind::PausedFromSite, v.0),
                    WaypointAt::GatewayToSite(v) => (Kind::PausedToSite, v.0),
                    WaypointAt::Firewall(f) => (Kind::PausedFirewall, f.0),
                };
                let forwarder = match w.forwarder {
                    Forwarder::Origin => 0,
                    Forwarder::Appliance => 1,
                    Forwarder::Gateway => 2,
                };
                (kind, id, forwarder, w.hops)
            }
            Segment::Done(Outcome::Delivered(Destination::Nic(nic))) => {
                (Kind::DeliveredNic, nic.0, 0, 0)
            }
            Segment::Done(Outcome::Delivered(Destination::Host(h))) => {
                (Kind::DeliveredHost, h.0, 0, 0)
            }
            Segment::Done(Outcome::Delivered(Destination::Internet)) => {
                (Kind::DeliveredInternet, 0, 0, 0)
            }
            Segment::Done(Outcome::Delivered(Destination::Platform(e))) => {
                (Kind::DeliveredPlatform, e.index(), 0, 0)
            }
            Segment::Done(Outcome::Delivered(Destination::PrivateEndpoint(pe))) => {
                (Kind::DeliveredEndpoint, pe.0, 0, 0)
            }
            // Drops are rare and carry their cause: decided in full every time.
            Segment::Done(Outcome::Dropped(..)) => return None,
        };
        let mut memo = SegmentMemo {
            id,
            hops,
            kind,
            forwarder,
            ttl_hops: rec.ttl_hops,
            n_records: n_records as u8,
            n_crossings: rec.n_crossings as u8,
            ..Self::default()
        };
        // NSG flow records by their slot in the flow table (refreshed without a hash lookup).
        for (slot, &named) in memo.records.iter_mut().zip(&rec.slots[..rec.n_records]) {
            if named >= LB_RECORD {
                return None;
            }
            *slot = named;
        }
        if let Some(slot) = rec.firewall {
            if slot >= LB_RECORD {
                return None;
            }
            memo.records[rec.n_records] = FIREWALL_RECORD | slot;
        }
        if let Some(slot) = rec.lb {
            if slot >= LB_RECORD {
                return None;
            }
            let at = rec.n_records + usize::from(rec.firewall.is_some());
            memo.records[at] = LB_RECORD | slot;
        }
        for (slot, (from, edge)) in memo
            .crossings
            .iter_mut()
            .zip(&rec.crossings[..rec.n_crossings])
        {
            *slot = dp.peerings.edge_number(*from, edge)?;
        }
        Some(memo)
    }
}

/// Deciding through a flow's memo of this segment (see the module documentation).
impl Strategy for &mut SegmentMemo {
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
        dp.memoized(self, packet, start, flows, now, trace)
    }
}

impl Dataplane {
    #[inline]
    fn memoized<T: Trace>(
        &self,
        memo: &mut SegmentMemo,
        packet: &mut [u8],
        start: SegmentStart,
        flows: &mut FlowTable,
        now: Nanos,
        trace: &mut T,
    ) -> Segment {
        if memo.kind != Kind::Empty && self.memo_hit(memo, packet, flows, now) {
            for _ in 0..memo.ttl_hops {
                // Cannot fail: the TTL was checked by the hit.
                let _ = wire::forward_hop(packet);
            }
            for &number in &memo.crossings[..usize::from(memo.n_crossings)] {
                let (from, edge) = self.peerings.numbered_edge(number);
                trace.step(Step::Peering { from, edge });
            }
            return memo.remembered();
        }
        let mut rec = Recorder::new();
        let segment = self.run(packet, start, true, flows, now, trace, &mut rec);
        *memo = SegmentMemo::of(self, segment, &rec).unwrap_or_default();
        segment
    }

    /// Whether the remembered decision holds for this packet: its TTL outlives the segment's
    /// hops and every NSG flow record the decision relied on is still alive (refreshed here).
    #[inline]
    fn memo_hit(
        &self,
        memo: &SegmentMemo,
        packet: &[u8],
        flows: &mut FlowTable,
        now: Nanos,
    ) -> bool {
        if memo.n_records == 0 {
            // Without flow records only the TTL matters: read it in place (byte 8 of the
            // IPv4 header; the caller's packets are the flow's, checked when first decided).
            return packet.len() >= 20 && packet[8] > memo.ttl_hops;
        }
        // The TTL in place, as above. The packet is parsed only for a record that needs its
        // 5-tuple (a firewall's or load balancer's session, or an NSG record whose slot cannot
        // answer alone): most packets of a flow behind NSGs refresh their records by slot and
        // are never parsed here.
        if packet.len() < 20 || packet[8] <= memo.ttl_hops {
            return false;
        }
        let mut parsed: Option<Option<wire::FlowKey>> = None;
        let mut key = || *parsed.get_or_insert_with(|| wire::parse(packet).ok().map(|m| m.key));
        memo.records[..usize::from(memo.n_records)]
            .iter()
            .all(|&r| {
                if r & FIREWALL_RECORD != 0 {
                    key().is_some_and(|k| flows.firewall_passes(r & !FIREWALL_RECORD, &k, now))
                } else if r & LB_RECORD != 0 {
                    key().is_some_and(|k| flows.lb_passes(r & !LB_RECORD, &k, now))
                } else {
                    // The record's slot answers unless the connection's other record
                    // may (see `FlowTable::hit_named`); then the full lookup does.
                    flows.hit_named(r, now).unwrap_or_else(|| {
                        flows.named_nic(r).is_some_and(|(nic, outbound)| {
                            key().is_some_and(|k| flows.hit(nic, outbound, &k, now))
                        })
                    })
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::SegmentMemo;

    /// Small enough for two to sit beside a flow's other state.
    #[test]
    fn a_memo_is_28_bytes() {
        assert_eq!(std::mem::size_of::<SegmentMemo>(), 28);
    }
}
