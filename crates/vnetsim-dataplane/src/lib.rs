//! The sans-IO data plane of vnetsim.
//!
//! What it is for: compiling a checked [`vnetsim_scenario::Scenario`] into dense per-subnet
//! tables (effective routes, NSGs, address maps) and deciding, for real IPv4 packet bytes, what
//! Azure's data plane does with them, hop by hop. What it is not: it owns no clock, no socket and
//! no thread; the caller passes the time and keeps the packets.

pub mod addrset;
pub mod expect;
pub mod explain;
pub mod flowcache;
pub mod lpm;
pub mod memo;
pub mod nsg;
pub mod pipeline;
pub mod probe;
pub mod routes;
pub mod topology;
pub mod views;
pub mod wire;

pub use flowcache::{Cached, FlowCache};
pub use memo::SegmentMemo;
pub use pipeline::{
    Destination, DropCause, FlowTable, Full, Ingress, Outcome, Segment, SegmentStart, Step,
    Strategy, Trace, Waypoint, WaypointAt,
};
pub use topology::{Dataplane, PeeringState, PeeringStates};
