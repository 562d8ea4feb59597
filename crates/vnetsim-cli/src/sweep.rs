//! `vnetsim sweep`, `vnetsim merge` and `vnetsim generate`: many replays at once (on one host,
//! or in shards merged afterwards), and large generated scenarios.
//!
//! With `--variants`, the sweep covers every (variant, seed) of a grid and its report
//! (`vnetsim-sweep-variants/1`) compares the variants first; `merge` takes parts of either kind.
//!
//! What it is for: arguments in, tables or JSON out. What it is not: the sweep runner, which is
//! the `vnetsim-sweep` library.

use std::io::Write;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use vnetsim_engine::{Estimate, Prepared};
use vnetsim_scenario::Scenario;
use vnetsim_scenario::generate::HubSpoke;
use vnetsim_sweep::{GridMerged, Merged, RunFragments, ScenarioId, Seeds, Shard, Spread, Variants};

use crate::Format;
use crate::commands::{FAILED, INVALID, OK, load};
use crate::out::{OutputFile, check_distinct, out, outln, write_stdout_with};
use crate::replay::check_estimate;
use crate::table::Table;

/// `vnetsim sweep FILE --seeds A..B [--jobs N] [--shard I/N]`: independent replays in
/// parallel, one report (or, for a shard, one part of it); with `--variants`, every variant of
/// the scenario replays every seed.
#[allow(clippy::too_many_arguments)]
pub fn sweep(
    file: &Path,
    seeds: &str,
    jobs: Option<NonZeroUsize>,
    shard: Option<&str>,
    variants: Option<&Path>,
    report: Option<&Path>,
    format: Format,
    force: bool,
    all_rows: bool,
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
    if let Some(path) = report {
        let mut inputs = vec![("scenario", file)];
        inputs.extend(variants.map(|v| ("--variants", v)));
        if let Err(e) = check_distinct(&inputs, &[("--report", path)]) {
            eprintln!("error: {e}");
            return INVALID;
        }
    }
    let started = std::time::Instant::now();
    let scenario = match load(file) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if let Some(variants) = variants {
        let job = GridJob {
            file,
            all,
            shard,
            jobs,
            report,
            format,
            force,
        };
        return sweep_variants(job, scenario, variants);
    }
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
    let prepared = Prepared::shared(std::sync::Arc::new(scenario));
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
            print_summary(&merged, all_rows);
        }
    }
    exit_code(&merged)
}

/// A sweep over variants: what the command line asked for.
struct GridJob<'a> {
    file: &'a Path,
    all: Seeds,
    shard: Option<Shard>,
    jobs: Option<NonZeroUsize>,
    report: Option<&'a Path>,
    format: Format,
    force: bool,
}

/// `vnetsim sweep FILE --variants V.yaml ...`: every variant replays every seed (or the
/// shard's block of that grid).
fn sweep_variants(job: GridJob<'_>, base: Scenario, variants: &Path) -> u8 {
    let started = std::time::Instant::now();
    let file = job.file;
    let list = match Variants::read(variants) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return INVALID;
        }
    };
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", file.display());
            return INVALID;
        }
    };
    // The scenario loaded above, so its bytes are UTF-8 text.
    let text = String::from_utf8_lossy(&bytes);
    let scenarios = match list.scenarios(&base, &text, &file.display().to_string()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return INVALID;
        }
    };
    tracing::debug!(
        "sweep: {} variants checked at {:.3} s",
        scenarios.len(),
        started.elapsed().as_secs_f64()
    );
    let block = match job.shard {
        Some(s) => vnetsim_sweep::shard_block(s, scenarios.len(), job.all.len()),
        None => 0..(scenarios.len() as u64).saturating_mul(job.all.len() as u64),
    };
    let estimate = vnetsim_sweep::grid_estimate(&scenarios, &job.all, block.clone());
    if let Err(code) = check_estimate(&file.display().to_string(), estimate, job.force) {
        return code;
    }
    let keep = job.report.is_some() || matches!(job.format, Format::Json);
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
    let jobs = job.jobs.unwrap_or_else(vnetsim_sweep::default_jobs);
    let (mut merged, timing) =
        match vnetsim_sweep::sweep_variants(&scenarios, &list, &job.all, block, jobs, runs) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("error: {e}");
                return INVALID;
            }
        };
    drop(scenarios);
    let id = ScenarioId {
        name: merged.scenario.clone(),
        hash: vnetsim_sweep::scenario_hash(&bytes),
    };
    let variants_hash = list.hash();
    let mut write = |w: &mut dyn Write| -> std::io::Result<()> {
        match job.shard {
            Some(shard) => merged.write_part(w, &id, &variants_hash, &job.all, shard)?,
            None => merged.write_report(w)?,
        }
        w.write_all(b"\n")
    };
    if let Some(path) = job.report
        && let Err(e) = OutputFile::write_with(path, &mut write)
    {
        eprintln!("error: cannot write report {}: {e}", path.display());
        return INVALID;
    }
    match job.format {
        Format::Json => write_stdout_with(&mut write),
        Format::Text => {
            let what = match job.shard {
                Some(s) => format!(
                    "shard {s} of {} variants x seeds {}: ",
                    merged.variants.len(),
                    job.all
                ),
                None => format!(
                    "{} variants x {} seeds: ",
                    merged.variants.len(),
                    job.all.len()
                ),
            };
            outln!(
                "scenario '{}': {what}{} replays on {} worker(s) in {:.3} s (one after another: {:.3} s, speed-up {:.2}x)",
                merged.scenario,
                merged.runs(),
                timing.jobs,
                timing.wall_seconds,
                timing.busy_seconds,
                timing.speedup()
            );
            out!("{}", comparison_table(&merged));
            outln!(
                "{} of {} replays had failed expectations",
                merged.runs_with_failed_expectations(),
                merged.runs()
            );
        }
    }
    if merged.runs_with_failed_expectations() > 0 {
        FAILED
    } else {
        OK
    }
}

/// The comparison of the variants as a table: per variant, its runs, delivered ratio, drops
/// (the three largest reasons), mean total throughput, mean worst p99 latency and failed runs.
fn comparison_table(merged: &GridMerged) -> String {
    let mut t = Table::new([
        "variant",
        "runs",
        "delivered",
        "drops",
        "throughput (mean)",
        "worst p99 (mean)",
        "failed",
    ]);
    for v in &merged.variants {
        let c = &v.comparison;
        let mut drops: Vec<(&String, &u64)> = c.drops().iter().collect();
        drops.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let mut shown: Vec<String> = drops
            .iter()
            .take(3)
            .map(|(r, n)| format!("{r} {n}"))
            .collect();
        if drops.len() > 3 {
            shown.push(format!("+{} more", drops.len() - 3));
        }
        t.row([
            v.name.to_string(),
            c.runs().to_string(),
            c.delivered_ratio()
                .map_or("-".into(), |r| format!("{r:.4}")),
            if shown.is_empty() {
                "none".into()
            } else {
                shown.join(", ")
            },
            c.throughput()
                .map_or("-".into(), |s| format!("{:.3} Mbit/s", s.mean / 1e6)),
            c.worst_p99()
                .map_or("-".into(), |s| format!("{:.1} us", s.mean / 1e3)),
            c.failed().to_string(),
        ]);
    }
    t.render()
}

fn exit_code(merged: &Merged) -> u8 {
    if merged.merger.runs_with_failed_expectations() > 0 {
        FAILED
    } else {
        OK
    }
}

fn print_summary(merged: &Merged, all_rows: bool) {
    use vnetsim_engine::report::{FULL_TABLE_ROWS, SUMMARY_ROWS};
    let show = |s: Option<Spread>| {
        let s = s.unwrap_or(Spread {
            min: 0.0,
            mean: 0.0,
            max: 0.0,
        });
        format!("{:.4} / {:.4} / {:.4}", s.min, s.mean, s.max)
    };
    let tallies = merged.merger.tallies();
    let mut shown: Vec<usize> = (0..tallies.len()).collect();
    if !all_rows && tallies.len() > FULL_TABLE_ROWS {
        // The flows that most need a look: lowest mean delivered ratio, then file order.
        let mean = |i: usize| tallies[i].delivered_ratio.spread().map_or(0.0, |s| s.mean);
        shown.sort_by(|&a, &b| mean(a).total_cmp(&mean(b)).then(a.cmp(&b)));
        shown.truncate(SUMMARY_ROWS);
        shown.sort_unstable();
        outln!(
            "{} flows; the {SUMMARY_ROWS} with the lowest mean delivered ratio below (run with \
             --all-rows for every one, or --report for the JSON)",
            tallies.len()
        );
    }
    for i in shown {
        let f = &tallies[i];
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
    let mut merged = match vnetsim_sweep::merge_any_parts(parts, runs) {
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
                merged.runs(),
                merged.scenario(),
                path.display()
            );
        }
        None => write_stdout_with(&mut write),
    }
    if merged.runs_with_failed_expectations() > 0 {
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
