//! The sans-IO data plane of vnetsim.
//!
//! What it is for: compiling a checked [`vnetsim_scenario::Scenario`] into dense per-subnet
//! tables (effective routes, NSGs, address maps) and deciding, for real IPv4 packet bytes, what
//! Azure's data plane does with them, hop by hop. What it is not: it owns no clock, no socket and
//! no thread; the caller passes the time and keeps the packets.
//!
//! Layers, each importing only those before it: [`wire`] (packet bytes), [`tables`] (the
//! compiled structures: address sets, LPM, NSGs, peering state, effective routes), [`forward`]
//! ([`Dataplane`] and the forwarding decision, with its memo and flow-cache strategies), and
//! [`names`] (the slow path that names things: probes, expectations, explanations, views). Every
//! module is also re-exported at the crate root under its own name.

pub mod forward;
pub mod names;
pub mod tables;
pub mod wire;

pub use forward::{Dataplane, firewall, flowcache, lb, memo, pipeline};
pub use names::{expect, explain, probe, views, watcher};
pub use tables::firewall as firewall_rules;
pub use tables::{addrset, asg, bgp, lpm, nsg, peering, platform, routes};

pub use flowcache::{Cached, FlowCache};
pub use memo::SegmentMemo;
pub use peering::{Edge, PeeringState, PeeringStates};
pub use pipeline::{
    Destination, DropCause, FlowTable, Full, Ingress, Outcome, Segment, SegmentStart, Step,
    Strategy, Trace, Waypoint, WaypointAt,
};
