//! The real-time driver of vnetsim: real programs' IPv4 packets through the simulated fabric.
//!
//! What it is for: `vnetsim live FILE`. The same data plane as `run` and `explain` (routes,
//! peerings, NSGs with flow records, appliances, gateways), the engine's VM-size and gateway
//! shapers and the scenario's latency model, driven by the wall clock under tokio.
//! Programs attach through [`udp`]: each VM NIC is a UDP port on 127.0.0.1 and one datagram
//! carries one raw IPv4 packet (no privileges; what tests and CI use). On Linux, as root,
//! `netns` (namespace mode) makes each VM a network namespace with one TUN interface per
//! NIC, so unmodified programs run in it (`ip netns exec`).
//!
//! The decisions and timing live in [`fabric`], free of sockets; [`report`] holds the live
//! report; [`capture`] writes pcap files. What it is not: a bridge to any real network: it
//! binds only the loopback address, and in namespace mode touches only the namespaces and
//! interfaces it makes.

pub mod capture;
mod drive;
pub mod fabric;
#[cfg(target_os = "linux")]
pub mod netns;
pub mod report;
#[cfg(target_os = "linux")]
pub mod tun;
pub mod udp;

pub use capture::PcapFile;
pub use fabric::{Delivery, Fabric};
#[cfg(target_os = "linux")]
pub use netns::{NetnsError, NetnsFabric, NetnsMap, NetnsRun};
pub use report::{LiveNicReport, LiveReport};
pub use udp::{PortEntry, PortMap, RunOptions, UdpFabric};
