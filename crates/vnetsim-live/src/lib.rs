//! The real-time driver of vnetsim: real programs' IPv4 packets through the simulated fabric.
//!
//! What it is for: `vnetsim live FILE`. The same data plane as `run` and `explain` (routes,
//! peerings, NSGs with flow records, appliances, gateways), the engine's VM-size and gateway
//! shapers and the scenario's latency model, driven by the wall clock under tokio.
//! Programs attach through [`udp`]: each VM NIC is a UDP port on 127.0.0.1 and one datagram
//! carries one raw IPv4 packet (no privileges; what tests and CI use).
//!
//! The decisions and timing live in [`fabric`], free of sockets; [`report`] holds the live
//! report; [`capture`] writes pcap files. What it is not: a bridge to any real network: it
//! binds only the loopback address.

pub mod capture;
pub mod fabric;
pub mod report;
pub mod udp;

pub use capture::PcapFile;
pub use fabric::{Delivery, Fabric};
pub use report::{LiveNicReport, LiveReport};
pub use udp::{PortEntry, PortMap, RunOptions, UdpFabric};
