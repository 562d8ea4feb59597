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
//! A replay's flows are asserted as a scenario file's `expect` does, each bound written as in
//! the file; a failure says what was expected, what happened and the `vnetsim explain` command
//! that shows the flow's way:
//!
//! ```
//! # fn main() -> Result<(), vnetsim::Error> {
//! use vnetsim::Sim;
//!
//! let sim = Sim::from_yaml("
//! name: shaped
//! vnets: [ { name: v, address_space: [10.0.0.0/16], subnets: [ { name: s, prefix: 10.0.0.0/24 } ] } ]
//! vms:
//!   - { name: a, size: Standard_D2s_v3, nics: [ { name: a-nic, vnet: v, subnet: s, ip: 10.0.0.4 } ] }
//!   - { name: b, size: Standard_D2s_v3, nics: [ { name: b-nic, vnet: v, subnet: s, ip: 10.0.0.5 } ] }
//! traffic:
//!   - { name: bulk, from: a, to: b, protocol: udp, dst_port: 5001, rate: 2Gbps, packet_size: 1500, duration: 100ms }
//! ")?;
//! let replay = sim.run();
//! // A D2s_v3 sends 1 Gbit/s: about half of the 2 Gbit/s offered is delivered.
//! replay.assert_throughput("bulk", ">= 900Mbps").assert_delivered_ratio("bulk", "<= 0.7");
//! let err = replay.check_text("bulk", vnetsim::FlowMetric::Throughput, ">= 1.5Gbps").unwrap_err();
//! assert!(err.to_string().contains("expected throughput >= 1.50 Gbps, but it is"));
//! # Ok(())
//! # }
//! ```
//!
//! Modules: [`mod@sim`] (loading, probes, raw bytes, replays), [`verdict`] (the verdict of one
//! packet and its assertions), [`replay`] (a replay's report and the assertions on its flows),
//! [`error`] (what can go wrong, rendered for a person).

/// The crate's README and the harness API's guide: their Rust examples compile as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
#[doc = include_str!("../../../docs/live-and-api.md")]
struct GuideExamples;

pub mod error;
pub mod replay;
pub mod sim;
pub mod verdict;

pub use error::Error;
pub use replay::{FlowFailure, Replay, ReportExt};
pub use sim::{ProbeBuilder, Sim};
pub use verdict::{ExpectedReason, Verdict};

pub use vnetsim_dataplane::explain::{Explanation, HopView, RouteView, RuleView};
/// The report of a replay, as `vnetsim run --report` writes it (`docs/report.md`): every
/// type below is the one the JSON is serialized from, field for field.
pub use vnetsim_engine::Report;
pub use vnetsim_engine::report::{
    AzureReport, Conservation, DirectionReport, Drops, EventReport, ExpectationResult,
    ExpectationSummary, FlowReport, Latency, NicReport, PeeringReport, ProbeReport, REPORT_FORMAT,
    ShaperReport, SwitchJson, SwitchReport,
};
pub use vnetsim_scenario::{
    Comparison, DropReason, FlowCheck, FlowCheckError, FlowMetric, Protocol, Scenario,
    UnknownDropReason,
};

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

/// Asserts that a [`Verdict`] is a drop for the given reason (a [`DropReason`] or its stable
/// name, such as `"nsg-denied"`); on failure the panic message names what actually happened and
/// why.
#[macro_export]
macro_rules! assert_dropped {
    ($verdict:expr, $reason:expr $(,)?) => {{
        let _ = $crate::Verdict::assert_dropped(&$verdict, $reason);
    }};
}
