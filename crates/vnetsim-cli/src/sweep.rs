//! `vnetsim sweep`, `vnetsim merge` and `vnetsim generate`: many replays at once (on one host,
//! or in shards merged afterwards), and large generated scenarios.
//!
//! What it is for: arguments in, tables or JSON out. What it is not: the sweep runner, which is
//! the `vnetsim-sweep` library.

use std::io::Write;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use vnetsim_engine::{Estimate, Prepared};
use vnetsim_scenario::generate::HubSpoke;
use vnetsim_sweep::{Merged, RunFragments, ScenarioId, Seeds, Shard, Spread};

use crate::Format;
use crate::commands::{FAILED, INVALID, OK, load};
use crate::out::{OutputFile, check_distinct, out, outln, write_stdout_with};
use crate::replay::check_estimate;

/// `vnetsim sweep FILE --seeds A..B [--jobs N] [--shard I/N]`: independent replays in
/// parallel, one report (or, for a shard, one part of it).
pub fn sweep(
    file: &Path,
    seeds: &str,
    jobs: Option<NonZeroUsize>,
    shard: Option<&str>,
    report: Option<&Path>,
    format: Format,
    force: bool,
) -> u8 {
    let all: Seeds = match seeds.parse() {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "error: --seeds {seeds}: {e}; expected a range A..B (B excluded) or a list 1,2,3"
            );
            return INVALID;
        }
    };
    let shard: Option<Shard> = match shard.map(str::parse).transpose() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: --shard: {e}");
            return INVALID;
        }
    };
    if let Some(path) = report
        && let Err(e) = check_distinct(&[("scenario", file)], &[("--report", path)])
    {
        eprintln!("error: {e}");
        return INVALID;
    }
    let started = std::time::Instant::now();
    let scenario = match load(file) {
        Ok(s) => s,
        Err(code) => return code,
    };
    tracing::debug!(
        "sweep: scenario loaded in {:.3} s",
        started.elapsed().as_secs_f64()
    );
    // A part names the file it replayed, so parts of different files never merge.
    let id = match shard {
        Some(_) => match std::fs::read(file) {
            Ok(bytes) => Some(ScenarioId {
                name: scenario.name.to_string(),
                hash: vnetsim_sweep::scenario_hash(&bytes),
            }),
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", file.display());
                return INVALID;
            }
        },
        None => None,
    };
    let seeds = match shard {
        Some(s) => all.shard(s),
        None => all.clone(),
    };
    let estimate = Estimate::of(&scenario).times(seeds.len() as u64);
    if let Err(code) = check_estimate(&file.display().to_string(), estimate, force) {
        return code;
    }
    let jobs = jobs.unwrap_or_else(vnetsim_sweep::default_jobs);
    let prepared = Prepared::new(&scenario);
    drop(scenario);
    tracing::debug!(
        "sweep: network compiled at {:.3} s",
        started.elapsed().as_secs_f64()
    );
    let keep = report.is_some() || matches!(format, Format::Json);
    let runs = if keep {
        match RunFragments::spill() {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: cannot create a temporary file for the runs: {e}");
                return INVALID;
            }
        }
    } else {
        RunFragments::discard()
    };
    let (mut merged, timing) = match vnetsim_sweep::sweep(&prepared, seeds, jobs, runs) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: cannot keep the runs in a temporary file: {e}");
            return INVALID;
        }
    };
    drop(prepared);
    tracing::debug!(
        "sweep: runs merged at {:.3} s",
        started.elapsed().as_secs_f64()
    );
    // The report, or the shard's part.
    let mut write = |w: &mut dyn Write| -> std::io::Result<()> {
        match (shard, &id) {
            (Some(shard), Some(id)) => vnetsim_sweep::write_part(w, &mut merged, id, &all, shard)?,
            _ => merged.write_report(w)?,
        }
        w.write_all(b"\n")
    };
    if let Some(path) = report
        && let Err(e) = OutputFile::write_with(path, &mut write)
    {
        eprintln!("error: cannot write report {}: {e}", path.display());
        return INVALID;
    }
    tracing::debug!(
        "sweep: report written at {:.3} s",
        started.elapsed().as_secs_f64()
    );
    match format {
        Format::Json => write_stdout_with(&mut write),
        Format::Text => {
            let what = match shard {
                Some(s) => format!("shard {s} of seeds {all}: "),
                None => String::new(),
            };
            outln!(
                "scenario '{}': {what}{} replays on {} worker(s) in {:.3} s (one after another: {:.3} s, speed-up {:.2}x)",
                merged.scenario,
                merged.merger.runs(),
                timing.jobs,
                timing.wall_seconds,
                timing.busy_seconds,
                timing.speedup()
            );
            print_summary(&merged);
        }
    }
    exit_code(&merged)
}

fn exit_code(merged: &Merged) -> u8 {
    if merged.merger.runs_with_failed_expectations() > 0 {
        FAILED
    } else {
        OK
    }
}

fn print_summary(merged: &Merged) {
    let show = |s: Option<Spread>| {
        let s = s.unwrap_or(Spread {
            min: 0.0,
            mean: 0.0,
            max: 0.0,
        });
        format!("{:.4} / {:.4} / {:.4}", s.min, s.mean, s.max)
    };
    for f in merged.merger.tallies() {
        outln!(
            "flow {}: delivered ratio min/mean/max {}",
            f.name,
            show(f.delivered_ratio.spread())
        );
    }
    outln!(
        "{} of {} replays had failed expectations",
        merged.merger.runs_with_failed_expectations(),
        merged.merger.runs()
    );
}

/// `vnetsim merge PART... [-o OUT.json]`: the parts of a sharded sweep merged into the report
/// one sweep on one host would have written.
pub fn merge(parts: &[PathBuf], output: Option<&Path>) -> u8 {
    if let Some(path) = output {
        let inputs: Vec<(&str, &Path)> = parts.iter().map(|p| ("part", p.as_path())).collect();
        if let Err(e) = check_distinct(&inputs, &[("--output", path)]) {
            eprintln!("error: {e}");
            return INVALID;
        }
    }
    let runs = match RunFragments::spill() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot create a temporary file for the runs: {e}");
            return INVALID;
        }
    };
    let mut merged = match vnetsim_sweep::merge_parts(parts, runs) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return INVALID;
        }
    };
    let mut write = |w: &mut dyn Write| -> std::io::Result<()> {
        merged.write_report(w)?;
        w.write_all(b"\n")
    };
    match output {
        Some(path) => {
            if let Err(e) = OutputFile::write_with(path, &mut write) {
                eprintln!("error: cannot write report {}: {e}", path.display());
                return INVALID;
            }
            eprintln!(
                "merged {} parts: {} replays of scenario '{}' into {}",
                parts.len(),
                merged.merger.runs(),
                merged.scenario,
                path.display()
            );
        }
        None => write_stdout_with(&mut write),
    }
    exit_code(&merged)
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
