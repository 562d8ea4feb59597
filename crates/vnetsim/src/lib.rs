//! The vnetsim harness API: assert what an Azure-style network of peered VNets does with a
//! packet, from your own test code.
//!
//! What it is for: loading a scenario (a file or an inline YAML string), sending a probe or raw
//! IPv4 bytes through the data plane and reading the verdict with every hop named (route, NSG
//! rule, peering switch), replaying the scenario's traffic in simulated time and reading its
//! flow statistics, and asserting verdicts with failure messages that name the rule behind the
//! actual verdict. What it is not: a new decision maker (every verdict comes from
//! `vnetsim-dataplane`, every replay from `vnetsim-engine`), and not a real-time driver (that is
//! `vnetsim-live`).
//!
//! # A three-line test
//!
//! ```
//! use vnetsim::Sim;
//!
//! const SCENARIO: &str = "
//! name: two-peered-vnets
//! vnets:
//!   - { name: vnet-a, address_space: [10.10.0.0/16], subnets: [ { name: default, prefix: 10.10.0.0/24 } ] }
//!   - { name: vnet-b, address_space: [10.20.0.0/16], subnets: [ { name: default, prefix: 10.20.0.0/24 } ] }
//! vms:
//!   - { name: vm-a, size: Standard_D2s_v3, nics: [ { name: vm-a-nic, vnet: vnet-a, subnet: default, ip: 10.10.0.4 } ] }
//!   - { name: vm-b, size: Standard_D2s_v3, nics: [ { name: vm-b-nic, vnet: vnet-b, subnet: default, ip: 10.20.0.4 } ] }
//! peerings:
//!   - { name: a-to-b, from: vnet-a, to: vnet-b }
//!   - { name: b-to-a, from: vnet-b, to: vnet-a }
//! ";
//!
//! # fn main() -> Result<(), vnetsim::Error> {
//! let sim = Sim::from_yaml(SCENARIO)?;
//! let verdict = sim.probe("vm-a", "vm-b").tcp(443).send();
//! verdict.assert_delivered();
//! # assert_eq!(verdict.path(), ["vm-a", "vm-b"]);
//! # Ok(())
//! # }
//! ```
//!
//! A drop names its cause; [`assert_dropped!`] checks the stable reason name:
//!
//! ```
//! use vnetsim::{Sim, assert_dropped};
//!
//! let sim = Sim::from_yaml("
//! name: nsg-deny
//! vnets:
//!   - { name: a, address_space: [10.10.0.0/16], subnets: [ { name: s, prefix: 10.10.0.0/24 } ] }
//!   - { name: b, address_space: [10.20.0.0/16], subnets: [ { name: s, prefix: 10.20.0.0/24, nsg: no-ssh } ] }
//! vms:
//!   - { name: vm-a, size: Standard_D2s_v3, nics: [ { name: vm-a-nic, vnet: a, subnet: s, ip: 10.10.0.4 } ] }
//!   - { name: vm-b, size: Standard_D2s_v3, nics: [ { name: vm-b-nic, vnet: b, subnet: s, ip: 10.20.0.4 } ] }
//! nsgs:
//!   - name: no-ssh
//!     rules:
//!       - { name: deny-ssh, priority: 100, direction: inbound, access: deny, protocol: tcp,
//!           source: '*', destination: '*', destination_ports: '22' }
//! peerings:
//!   - { name: a-to-b, from: a, to: b }
//!   - { name: b-to-a, from: b, to: a }
//! ").unwrap();
//! let v = sim.probe("vm-a", "vm-b").tcp(22).send();
//! assert_dropped!(v, "nsg-denied");
//! assert!(v.detail().contains("deny-ssh (priority 100)"));
//! ```
//!
//! Modules: [`mod@sim`] (loading, probes, raw bytes, replays), [`verdict`] (the verdict of one
//! packet and its assertions), [`error`] (what can go wrong, rendered for a person).

pub mod error;
pub mod sim;
pub mod verdict;

pub use error::Error;
pub use sim::{ProbeBuilder, ReportExt, Sim};
pub use verdict::Verdict;

pub use vnetsim_dataplane::explain::{Explanation, HopView, RouteView, RuleView};
pub use vnetsim_engine::Report;
pub use vnetsim_engine::report::{Conservation, FlowReport, NicReport};
pub use vnetsim_scenario::{DropReason, Protocol, Scenario};

/// Asserts that a [`Verdict`] is a delivery; on failure the panic message names the drop
/// reason, the rule or switch behind it, and every hop.
///
/// ```
/// # let sim = vnetsim::Sim::from_yaml("
/// # name: one-vnet
/// # vnets: [ { name: v, address_space: [10.0.0.0/16], subnets: [ { name: s, prefix: 10.0.0.0/24 } ] } ]
/// # vms:
/// #   - { name: a, size: Standard_D2s_v3, nics: [ { name: a-nic, vnet: v, subnet: s, ip: 10.0.0.4 } ] }
/// #   - { name: b, size: Standard_D2s_v3, nics: [ { name: b-nic, vnet: v, subnet: s, ip: 10.0.0.5 } ] }
/// # ").unwrap();
/// let v = sim.probe("a", "b").udp(53).send();
/// vnetsim::assert_delivered!(v);
/// ```
#[macro_export]
macro_rules! assert_delivered {
    ($verdict:expr $(,)?) => {{
        let _ = $crate::Verdict::assert_delivered(&$verdict);
    }};
}

/// Asserts that a [`Verdict`] is a drop for the given reason (its stable name, such as
/// `"nsg-denied"`); on failure the panic message names what actually happened and why.
#[macro_export]
macro_rules! assert_dropped {
    ($verdict:expr, $reason:expr $(,)?) => {{
        let _ = $crate::Verdict::assert_dropped(&$verdict, $reason);
    }};
}
