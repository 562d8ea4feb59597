//! Scenario files for vnetsim: the checked model, the YAML loader that reports file, line and
//! column, and the Azure rules a scenario must obey.
//!
//! What it is for: turning a scenario file (or a model built in code) into a [`model::Scenario`]
//! the data plane can compile. What it is not: it decides nothing about packets.
//!
//! Entry points: [`load_str`] and [`load_file`] ([`load_file_once`] for a process that loads
//! one file and ends); on failure a [`LoadError`] lists every [`Diagnostic`] with its rule code
//! (see [`Rule`]).

mod append;
pub mod diag;
pub mod generate;
mod json_lines;
mod load;
pub mod lookup;
pub mod model;
pub mod par;
pub mod raw;
pub mod rules;
pub mod sizes;
pub mod units;
mod validate;
mod yaml_json;

pub use diag::{Diagnostic, LoadError};
pub use load::{load_file, load_file_once, load_str};
pub use model::*;
pub use rules::{RULES, Rule};

/// Threads the parallel phases of one run use (expanding `pairs` entries, building flow
/// sources; the CLI's JSON report also): `VNETSIM_THREADS` when it is a positive whole number,
/// else every core the process may use. Results never depend on it.
pub fn worker_threads() -> usize {
    std::env::var("VNETSIM_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// The JSON Schema of the scenario file, generated from the [`raw`] types.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(raw::RawScenario)).unwrap_or_default()
}
