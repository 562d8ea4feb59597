//! A packet's journey between two forwarding decisions, the same for every driver.
//!
//! What it is for: the rules that the replay engine ([`crate::sim`]) and the live fabric
//! (`vnetsim-live`) both follow, written once. A packet waits in its sender VM's egress shaper
//! ([`sender_vm`]); the data plane decides a segment of its way from a [`SegmentStart`]
//! ([`vnetsim_dataplane::Dataplane::decide`]); the segment takes [`segment_delay`]; a packet
//! paused at a waypoint queues in that appliance VM's or gateway's shaper ([`arrival`]) and the
//! next segment starts there; timed changes apply to the network with [`apply_event`]; every
//! packet is copied to a [`Capture`] at each [`Hop`] (leaving a place, reaching a waypoint,
//! delivered; drops with their reason), and a [`crate::pcap::PcapCapture`] keeps a capture's
//! first write error.
//!
//! What it is not: a clock, a queue or a random source. Each driver keeps its own time
//! (virtual or wall clock) and its own order of pending work; the engine adds its seeded
//! jitter to [`segment_delay`], the live fabric none. Nothing here allocates per packet.

use vnetsim_dataplane::{Destination, Ingress, Outcome, Segment, WaypointAt};
use vnetsim_scenario::{
    DropReason, Event, FirewallId, HostId, Nanos, NicId, PrivateEndpointId, Scenario, SiteId, VmId,
    VnetId,
};

pub use vnetsim_dataplane::SegmentStart;

use crate::network::{Network, describe};
use crate::report::EventReport;
use crate::shaper::Limit;

/// A point of a packet's way where a capture sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Place {
    /// A NIC: a VM's (sending, receiving) or an appliance's (forwarding).
    Nic(NicId),
    /// The gateway of this VNet.
    Gateway(VnetId),
    /// An Azure Firewall.
    Firewall(FirewallId),
    /// An on-premises site (packets it sends).
    Site(SiteId),
    /// An on-premises host (packets delivered to it).
    Host(HostId),
    /// The Internet.
    Internet,
    /// A platform address (168.63.129.16, 169.254.169.254).
    Platform,
    /// A private endpoint (the service behind it sends and receives).
    PrivateEndpoint(PrivateEndpointId),
}

/// Which way a packet passes a [`Place`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Side {
    /// Leaving it (after its shaper, before the data plane decides the next segment).
    Out,
    /// Reaching it (after the segment's decision: TTL decremented, addresses translated).
    In,
}

/// Where a capture sees a packet: a place and a side, one pcapng interface each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hop {
    /// Where.
    pub place: Place,
    /// Which way.
    pub side: Side,
}

impl Hop {
    /// Where a packet whose next segment starts at `start` leaves from.
    pub fn leaving(start: SegmentStart) -> Hop {
        let place = match start {
            SegmentStart::Ingress(i) => match i {
                Ingress::Nic(nic) => Place::Nic(nic),
                Ingress::Site(s) => Place::Site(s),
                Ingress::Internet => Place::Internet,
                Ingress::PrivateEndpoint(pe) => Place::PrivateEndpoint(pe),
            },
            SegmentStart::At(w) => Self::waypoint(w.at()),
        };
        Hop {
            place,
            side: Side::Out,
        }
    }

    /// Where a packet paused at waypoint `at` arrives.
    pub fn arriving(at: WaypointAt) -> Hop {
        Hop {
            place: Self::waypoint(at),
            side: Side::In,
        }
    }

    /// Where a packet delivered to `to` arrives.
    pub fn delivered(to: Destination) -> Hop {
        let place = match to {
            Destination::Nic(nic) => Place::Nic(nic),
            Destination::Host(h) => Place::Host(h),
            Destination::Internet => Place::Internet,
            Destination::Platform(_) => Place::Platform,
            Destination::PrivateEndpoint(pe) => Place::PrivateEndpoint(pe),
        };
        Hop {
            place,
            side: Side::In,
        }
    }

    fn waypoint(at: WaypointAt) -> Place {
        match at {
            WaypointAt::Appliance(nic) => Place::Nic(nic),
            WaypointAt::GatewayFromSite(v) | WaypointAt::GatewayToSite(v) => Place::Gateway(v),
            WaypointAt::Firewall(f) => Place::Firewall(f),
        }
    }

    /// The place's name in `scenario` (a NIC's, a gateway's, ...), without the side.
    pub fn place_name(&self, scenario: &Scenario) -> String {
        match self.place {
            Place::Nic(nic) => scenario.nics[nic.index()].name.to_string(),
            Place::Gateway(v) => {
                let vnet = &scenario.vnets[v.index()];
                match (&vnet.gateway, &vnet.expressroute) {
                    (Some(g), _) | (None, Some(g)) => g.name.clone(),
                    (None, None) => format!("{}-gateway", vnet.name),
                }
            }
            Place::Firewall(f) => scenario.firewalls[f.index()].name.clone(),
            Place::Site(s) => scenario.sites[s.index()].name.to_string(),
            Place::Host(h) => scenario.hosts[h.index()].name.to_string(),
            Place::Internet => "internet".to_string(),
            Place::Platform => "platform".to_string(),
            Place::PrivateEndpoint(pe) => scenario.private_endpoints[pe.index()].name.to_string(),
        }
    }

    /// The interface name a capture gives it: the place's name and `out` or `in`
    /// (`web1-nic out`, `nva1-nic in`, `hub-gw out`).
    pub fn name(&self, scenario: &Scenario) -> String {
        let side = match self.side {
            Side::Out => "out",
            Side::In => "in",
        };
        format!("{} {side}", self.place_name(scenario))
    }

    /// The NIC it is on, if any.
    pub fn nic(&self) -> Option<NicId> {
        match self.place {
            Place::Nic(nic) => Some(nic),
            _ => None,
        }
    }
}

/// A packet as a capture sees it.
#[derive(Clone, Copy, Debug)]
pub struct Seen<'a> {
    /// The simulated time, in nanoseconds since the start.
    pub at: Nanos,
    /// The IPv4 packet.
    pub bytes: &'a [u8],
    /// Where.
    pub hop: Hop,
    /// The flow it belongs to (its index in the scenario's `traffic`, replies included);
    /// `None` for probes.
    pub flow: Option<u32>,
}

/// A place packets are copied to as they pass each hop (a pcap file, a test).
pub trait Capture {
    /// The packet is on the wire at `seen.hop`.
    fn packet(&mut self, seen: Seen<'_>);

    /// The packet was dropped for `reason` (by a decision, a full queue or because it is
    /// malformed) on its way from `seen.hop` (where it was last seen); `detail` says why in
    /// words (the rule, when one decided), or is empty. Captures that write only what is on
    /// the wire ignore it.
    fn dropped(&mut self, seen: Seen<'_>, reason: DropReason, detail: &str) {
        let _ = (seen, reason, detail);
    }
}

/// The VM whose egress shaper a packet entering at `ingress` waits in: a NIC's VM. Packets
/// from a site, the Internet or a private endpoint's service are not shaped at their sender.
#[inline]
pub fn sender_vm(scenario: &Scenario, ingress: Ingress) -> Option<VmId> {
    match ingress {
        Ingress::Nic(nic) => Some(scenario.nics[nic.index()].vm),
        Ingress::Site(_) | Ingress::Internet | Ingress::PrivateEndpoint(_) => None,
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
    let here = match segment {
        Segment::Done(Outcome::Dropped(..)) => 0,
        Segment::Done(Outcome::Delivered(to)) => match to {
            // A platform address answers from the sender's host; vnetsim charges it the
            // host-to-host latency (derived).
            // A private endpoint is a NIC in its VNet: host-to-host too (derived).
            Destination::Nic(_)
            | Destination::Internet
            | Destination::Platform(_)
            | Destination::PrivateEndpoint(_) => lat.host_to_host,
            Destination::Host(h) => site_latency(scenario.hosts[h.index()].site),
        },
        Segment::Paused(w) => match w.at() {
            WaypointAt::Appliance(_) => lat.appliance,
            WaypointAt::GatewayFromSite(_) | WaypointAt::GatewayToSite(_) => lat.gateway,
            // An Azure Firewall is charged as an appliance hop (derived: a routed, inspecting
            // hop inside the VNet).
            WaypointAt::Firewall(_) => lat.appliance,
        },
    };
    vnetsim_scenario::units::after(from, here)
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
        WaypointAt::Firewall(f) => Arrival {
            limit: Limit::Firewall(f),
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

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;
    use std::path::PathBuf;

    use vnetsim_dataplane::wire::{PacketSpec, build_probe};
    use vnetsim_dataplane::{FlowTable, Full};
    use vnetsim_scenario::Protocol;

    use super::*;

    fn load(name: &str) -> Scenario {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../scenarios")
            .join(name);
        vnetsim_scenario::load_file(&path).unwrap_or_else(|e| panic!("{}", e.render(false)))
    }

    fn packet(src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
        let spec = PacketSpec {
            src,
            dst,
            protocol: Protocol::Udp,
            src_port: 5000,
            dst_port: 5001,
            ttl: 64,
            total_len: 100,
            identification: 1,
        };
        let mut buf = vec![0u8; 100];
        build_probe(&mut buf, &spec).expect("builds");
        buf
    }

    /// Every segment of `bytes`'s way from `ingress`, each with its start.
    fn segments(
        sc: &Scenario,
        ingress: Ingress,
        mut bytes: Vec<u8>,
    ) -> Vec<(SegmentStart, Segment)> {
        let dp = vnetsim_dataplane::Dataplane::compile(sc);
        let mut flows = FlowTable::new();
        let mut start = SegmentStart::Ingress(ingress);
        let mut out = Vec::new();
        loop {
            let segment = dp.decide(start, &mut bytes, &mut flows, 0, Full, &mut ());
            out.push((start, segment));
            match segment {
                Segment::Paused(w) => start = SegmentStart::At(w),
                Segment::Done(_) => return out,
            }
        }
    }

    /// From a site: the site link, then the gateway; on to a VM: `host_to_host`. To a site:
    /// the gateway, then the site link. The gateway's shaper, and no forwarding NIC.
    #[test]
    fn a_gateway_journey_takes_the_site_link_and_the_gateway() {
        let sc = load("gateway-transit.yaml");
        let (site, gw) = (SiteId(0), VnetId(0));
        let branch = Ipv4Addr::new(192, 168, 1, 10);
        let app = Ipv4Addr::new(10, 1, 1, 4);
        let lat = &sc.latency;
        let site_link = sc.sites[site.index()].latency;
        let inbound = segments(&sc, Ingress::Site(site), packet(branch, app));
        let delays: Vec<Nanos> = inbound
            .iter()
            .map(|&(start, seg)| segment_delay(&sc, start, seg))
            .collect();
        assert_eq!(delays, [site_link + lat.gateway, lat.host_to_host]);
        let Segment::Paused(w) = inbound[0].1 else {
            panic!("waits at the gateway: {inbound:?}");
        };
        assert_eq!(
            arrival(&sc, w.at()),
            Arrival {
                limit: Limit::Gateway(gw),
                forwarded_by: None
            }
        );
        let nic = sc
            .nics
            .iter()
            .position(|n| n.ip == app)
            .expect("app-vm's NIC");
        let from = Ingress::Nic(NicId(nic as u32));
        assert_eq!(sender_vm(&sc, from), Some(sc.nics[nic].vm));
        assert_eq!(sender_vm(&sc, Ingress::Site(site)), None);
        let outbound = segments(&sc, from, packet(app, branch));
        let delays: Vec<Nanos> = outbound
            .iter()
            .map(|&(start, seg)| segment_delay(&sc, start, seg))
            .collect();
        assert_eq!(delays, [lat.gateway, site_link]);
    }

    /// Through an appliance: `appliance`, then `host_to_host`; the appliance VM's shaper, and
    /// its NIC counts the packet as forwarded.
    #[test]
    fn an_appliance_journey_waits_in_the_appliance_vm() {
        let sc = load("hub-and-spoke.yaml");
        let nic_of = |ip: Ipv4Addr| NicId(sc.nics.iter().position(|n| n.ip == ip).unwrap() as u32);
        let web1 = Ipv4Addr::new(10, 1, 1, 4);
        let way = segments(
            &sc,
            Ingress::Nic(nic_of(web1)),
            packet(web1, Ipv4Addr::new(10, 2, 1, 4)),
        );
        let delays: Vec<Nanos> = way
            .iter()
            .map(|&(start, seg)| segment_delay(&sc, start, seg))
            .collect();
        assert_eq!(delays, [sc.latency.appliance, sc.latency.host_to_host]);
        let Segment::Paused(w) = way[0].1 else {
            panic!("waits at the appliance: {way:?}");
        };
        let nva = nic_of(Ipv4Addr::new(10, 0, 1, 4));
        assert_eq!(
            arrival(&sc, w.at()),
            Arrival {
                limit: Limit::Vm(sc.nics[nva.index()].vm),
                forwarded_by: Some(nva)
            }
        );
    }
}
