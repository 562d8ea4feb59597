//! A packet's journey between two forwarding decisions, the same for every driver.
//!
//! What it is for: the rules that the replay engine ([`crate::sim`]) and the live fabric
//! (`vnetsim-live`) both follow, written once. A packet waits in its sender VM's egress shaper
//! ([`sender_vm`]); the data plane decides a segment of its way from a [`SegmentStart`]
//! ([`vnetsim_dataplane::Dataplane::decide`]); the segment takes [`segment_delay`]; a packet
//! paused at a waypoint queues in that appliance VM's or gateway's shaper ([`arrival`]) and the
//! next segment starts there; timed changes apply to the network with [`apply_event`]; every
//! packet is copied to a [`Capture`] as it leaves each hop and as it is delivered, and a
//! [`crate::pcap::PcapCapture`] keeps a capture's first write error.
//!
//! What it is not: a clock, a queue or a random source. Each driver keeps its own time
//! (virtual or wall clock) and its own order of pending work; the engine adds its seeded
//! jitter to [`segment_delay`], the live fabric none. Nothing here allocates per packet.

use vnetsim_dataplane::{Destination, Ingress, Outcome, Segment, WaypointAt};
use vnetsim_scenario::{DropReason, Event, Nanos, NicId, Scenario, VmId};

pub use vnetsim_dataplane::SegmentStart;

use crate::network::{Network, describe};
use crate::report::EventReport;
use crate::shaper::Limit;

/// A place packets are copied to as they leave each hop and as they are delivered (a pcap
/// file, a test).
pub trait Capture {
    /// The packet `bytes` is on the wire at time `at`.
    fn packet(&mut self, at: Nanos, bytes: &[u8]);

    /// The packet `bytes` was dropped at time `at` for `reason` (by a decision, a full queue
    /// or because it is malformed). Captures that write only what is on the wire (pcap)
    /// ignore it.
    fn dropped(&mut self, at: Nanos, bytes: &[u8], reason: DropReason) {
        let _ = (at, bytes, reason);
    }
}

/// The VM whose egress shaper a packet entering at `ingress` waits in: a NIC's VM. Packets
/// from a site or the Internet are not shaped at their sender.
#[inline]
pub fn sender_vm(scenario: &Scenario, ingress: Ingress) -> Option<VmId> {
    match ingress {
        Ingress::Nic(nic) => Some(scenario.nics[nic.index()].vm),
        Ingress::Site(_) | Ingress::Internet => None,
    }
}

/// How long a decided segment takes from the moment the packet leaves its shaper, before any
/// jitter (the scenario's latency model, one way): a segment from a site adds the site link's
/// `latency`; delivery to a VM or the Internet adds `host_to_host` (the same inside a VNet and
/// across a peering), delivery to an on-premises host its site's `latency`; reaching an
/// appliance adds `appliance`, reaching a gateway `gateway`. A dropped packet goes nowhere
/// (the site link's latency alone).
#[inline]
pub fn segment_delay(scenario: &Scenario, start: SegmentStart, segment: Segment) -> Nanos {
    let site_latency = |site: vnetsim_scenario::SiteId| scenario.sites[site.index()].latency;
    let lat = &scenario.latency;
    let from = match start {
        SegmentStart::Ingress(Ingress::Site(site)) => site_latency(site),
        _ => 0,
    };
    from + match segment {
        Segment::Done(Outcome::Dropped(..)) => 0,
        Segment::Done(Outcome::Delivered(to)) => match to {
            Destination::Nic(_) | Destination::Internet => lat.host_to_host,
            Destination::Host(h) => site_latency(scenario.hosts[h.index()].site),
        },
        Segment::Paused(w) => match w.at() {
            WaypointAt::Appliance(_) => lat.appliance,
            WaypointAt::GatewayFromSite(_) | WaypointAt::GatewayToSite(_) => lat.gateway,
        },
    }
}

/// What happens when a packet reaches a waypoint: the shaper it queues in, and the appliance
/// NIC that counts it as forwarded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arrival {
    /// The appliance VM's egress shaper, or the gateway's.
    pub limit: Limit,
    /// The appliance NIC forwarding the packet (none at a gateway).
    pub forwarded_by: Option<NicId>,
}

/// Where a packet paused at `at` queues (see [`Arrival`]).
#[inline]
pub fn arrival(scenario: &Scenario, at: WaypointAt) -> Arrival {
    match at {
        WaypointAt::Appliance(nic) => Arrival {
            limit: Limit::Vm(scenario.nics[nic.index()].vm),
            forwarded_by: Some(nic),
        },
        WaypointAt::GatewayFromSite(v) | WaypointAt::GatewayToSite(v) => Arrival {
            limit: Limit::Gateway(v),
            forwarded_by: None,
        },
    }
}

/// Applies the timed change `event` to `network` (a new data plane is compiled; NSG flow
/// records, kept by the driver, survive) and describes it for the report.
pub fn apply_event(network: &mut Network, event: &Event) -> EventReport {
    let action = describe(network.scenario(), &event.action);
    tracing::info!(at_ns = event.at, %action, "timed event applied");
    network.apply(&event.action);
    EventReport {
        at_ns: event.at,
        line: event.line,
        action,
    }
}
