//! Scenario files for vnetsim: the checked model, the YAML loader that reports file, line and
//! column, and the Azure rules a scenario must obey.
//!
//! What it is for: turning a scenario file (or a model built in code) into a [`model::Scenario`]
//! the data plane can compile. What it is not: it decides nothing about packets.

pub mod lookup;
pub mod model;

pub use model::*;
