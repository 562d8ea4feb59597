//! Scenario files for vnetsim: the checked model, the YAML loader that reports file, line and
//! column, and the Azure rules a scenario must obey.
//!
//! What it is for: turning a scenario file (or a model built in code) into a [`model::Scenario`]
//! the data plane can compile. What it is not: it decides nothing about packets.
//!
//! Entry points: [`load_str`] and [`load_file`]; on failure a [`LoadError`] lists every
//! [`Diagnostic`] with its rule code (see [`Rule`]).

pub mod diag;
pub mod generate;
mod json_lines;
mod load;
pub mod lookup;
pub mod model;
pub mod raw;
pub mod rules;
pub mod sizes;
pub mod units;
mod validate;
mod yaml_json;

pub use diag::{Diagnostic, LoadError};
pub use load::{load_file, load_str};
pub use model::*;
pub use rules::{RULES, Rule};

/// The JSON Schema of the scenario file, generated from the [`raw`] types.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(raw::RawScenario)).unwrap_or_default()
}
