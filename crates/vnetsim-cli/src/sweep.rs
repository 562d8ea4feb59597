//! `vnetsim sweep` and `vnetsim generate`: many replays at once, and large generated scenarios.
//!
//! What it is for: arguments in, tables or JSON out. What it is not: the sweep runner, which is
//! the `vnetsim-sweep` library.

use std::num::NonZeroUsize;
use std::path::Path;

use vnetsim_engine::Estimate;
use vnetsim_scenario::generate::HubSpoke;
use vnetsim_sweep::{Seeds, Spread};

use crate::Format;
use crate::commands::{FAILED, INVALID, OK, load};
use crate::out::{OutputFile, out, outln};
use crate::replay::check_estimate;

/// `vnetsim sweep FILE --seeds A..B [--jobs N]`: independent replays in parallel, one report.
pub fn sweep(
    file: &Path,
    seeds: &str,
    jobs: Option<NonZeroUsize>,
    report: Option<&Path>,
    format: Format,
    force: bool,
) -> u8 {
    let seeds: Seeds = match seeds.parse() {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "error: --seeds {seeds}: {e}; expected a range A..B (B excluded) or a list 1,2,3"
            );
            return INVALID;
        }
    };
    let scenario = match load(file) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let estimate = Estimate::of(&scenario).times(seeds.len() as u64);
    if let Err(code) = check_estimate(&file.display().to_string(), estimate, force) {
        return code;
    }
    let jobs = jobs.unwrap_or_else(vnetsim_sweep::default_jobs);
    let (merged, timing) = vnetsim_sweep::sweep(&scenario, seeds, jobs);
    let json = serde_json::to_string_pretty(&merged).expect("the sweep report serializes") + "\n";
    if let Some(path) = report
        && let Err(e) = OutputFile::write_whole(path, json.as_bytes())
    {
        eprintln!("error: cannot write report {}: {e}", path.display());
        return INVALID;
    }
    match format {
        Format::Json => out!("{json}"),
        Format::Text => {
            outln!(
                "scenario '{}': {} replays on {} worker(s) in {:.3} s (one after another: {:.3} s, speed-up {:.2}x)",
                merged.scenario,
                merged.runs.len(),
                timing.jobs,
                timing.wall_seconds,
                timing.busy_seconds,
                timing.speedup()
            );
            let show = |s: Option<Spread>| {
                let s = s.unwrap_or(Spread {
                    min: 0.0,
                    mean: 0.0,
                    max: 0.0,
                });
                format!("{:.4} / {:.4} / {:.4}", s.min, s.mean, s.max)
            };
            for f in &merged.flows {
                outln!(
                    "flow {}: delivered ratio min/mean/max {}",
                    f.name,
                    show(f.delivered_ratio)
                );
            }
            outln!(
                "{} of {} replays had failed expectations",
                merged.runs_with_failed_expectations,
                merged.runs.len()
            );
        }
    }
    if merged.runs_with_failed_expectations > 0 {
        FAILED
    } else {
        OK
    }
}

/// `vnetsim generate hub-spoke ...`: writes a generated scenario.
pub fn generate(params: HubSpoke, out: Option<&Path>) -> u8 {
    let yaml = match params.to_yaml() {
        Ok(y) => y,
        Err(e) => {
            eprintln!("error: {e}");
            return INVALID;
        }
    };
    match out {
        Some(path) => match OutputFile::write_whole(path, yaml.as_bytes()) {
            Ok(()) => OK,
            Err(e) => {
                eprintln!("error: cannot write {}: {e}", path.display());
                INVALID
            }
        },
        None => {
            out!("{yaml}");
            OK
        }
    }
}
