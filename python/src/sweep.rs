//! Sweeps for Python: a whole sweep, one shard of a sweep as a part, and the merge of parts;
//! each with or without variants of the scenario (the variants file's text, or a Python dict
//! written as that text by `python/vnetsim/_sweep.py`).
//!
//! What it is for: the native side of `vnetsim.sweep` (`python/vnetsim/_sweep.py`), which runs
//! a sweep in-process or as one task per shard on Ray. A shard's part and the merged report
//! cross as the JSON text `vnetsim sweep --shard I/N --report` and `vnetsim merge -o` write,
//! byte for byte (with the final newline). The scenario always comes as YAML text, so a remote
//! task needs no shared file system: a part's `scenario_hash` is the hash of that text's bytes.
//! What it is not: a sweep runner or a merger of its own (both are `vnetsim-sweep`'s) and not a
//! scheduler (Ray, or the caller, places the shards).

use std::io::Write;
use std::num::NonZeroUsize;
use std::path::PathBuf;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use vnetsim_engine::{Estimate, Prepared};
use vnetsim_scenario::Scenario;
use vnetsim_sweep::{
    GridMerged, Merged, RunFragments, ScenarioId, Seeds, Shard, Variants, VariantsError,
};

/// The seed set given as `vnetsim sweep --seeds` takes it (`A..B` or `1,2,3`).
fn parse_seeds(seeds: &str) -> PyResult<Seeds> {
    seeds.parse().map_err(|e| {
        PyValueError::new_err(format!(
            "seeds {seeds}: {e}; expected a range A..B (B excluded) or a list 1,2,3"
        ))
    })
}

/// Loads the scenario text, refusing a sweep over the packet limit unless `force`.
fn load_for(
    py: Python<'_>,
    text: &str,
    source: &str,
    runs: usize,
    force: bool,
) -> PyResult<Scenario> {
    let scenario = py
        .detach(|| vnetsim_scenario::load_str(text, source))
        .map_err(|e| crate::load_error(py, &e))?;
    let estimate = Estimate::of(&scenario).times(runs as u64);
    if !estimate.within_limits() && !force {
        return Err(PyValueError::new_err(format!(
            "{source}: this sweep would send {estimate}; the limit is {} packets (shorten \
             durations, lower rates, fewer seeds, or pass force=True)",
            vnetsim_engine::estimate::MAX_PACKETS
        )));
    }
    Ok(scenario)
}

/// Replays `seeds` of `scenario` on `jobs` workers (every core when `None`), keeping the runs.
fn replay_all(scenario: &Scenario, seeds: Seeds, jobs: Option<usize>) -> Result<Merged, String> {
    let jobs = jobs
        .and_then(NonZeroUsize::new)
        .unwrap_or_else(vnetsim_sweep::default_jobs);
    let prepared = Prepared::new(scenario);
    let runs = RunFragments::spill()
        .map_err(|e| format!("cannot create a temporary file for the runs: {e}"))?;
    let (merged, timing) = vnetsim_sweep::sweep(&prepared, seeds, jobs, runs)
        .map_err(|e| format!("cannot keep the runs in a temporary file: {e}"))?;
    tracing::debug!(
        "sweep of '{}': {} replays on {} worker(s) in {:.3} s",
        merged.scenario,
        merged.merger.runs(),
        timing.jobs,
        timing.wall_seconds
    );
    Ok(merged)
}

/// Writes a document with the final newline the command line writes, as text.
fn to_text(write: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> Result<String, String> {
    let mut out = Vec::new();
    write(&mut out).map_err(|e| format!("cannot write the report: {e}"))?;
    out.push(b'\n');
    String::from_utf8(out).map_err(|e| format!("the report is not UTF-8: {e}"))
}

/// Checks a `jobs` argument: `None` (every core) or at least 1.
fn check_jobs(jobs: Option<usize>) -> PyResult<()> {
    match jobs {
        Some(0) => Err(PyValueError::new_err("jobs: expected at least 1 worker")),
        _ => Ok(()),
    }
}

/// Replays the scenario (YAML text; `source` names it in diagnostics) once per seed of `seeds`
/// (`A..B` or `1,2,3`) on `jobs` workers (every core when `None`); returns the report `vnetsim
/// sweep --report` writes, byte for byte. The replays release the GIL.
#[pyfunction]
#[pyo3(signature = (text, source, seeds, jobs=None, force=false))]
pub fn sweep(
    py: Python<'_>,
    text: &str,
    source: &str,
    seeds: &str,
    jobs: Option<usize>,
    force: bool,
) -> PyResult<String> {
    check_jobs(jobs)?;
    let seeds = parse_seeds(seeds)?;
    let scenario = load_for(py, text, source, seeds.len(), force)?;
    py.detach(|| {
        let mut merged = replay_all(&scenario, seeds, jobs)?;
        to_text(|w| merged.write_report(w))
    })
    .map_err(PyValueError::new_err)
}

/// Replays shard `index` of `count` of the seed set `seeds` (a contiguous block, as `vnetsim
/// sweep --shard index/count`) of the scenario (YAML text) and returns the part
/// (`vnetsim-sweep-part/1`) as text, byte for byte what the command line writes for a file of
/// that text. The replays release the GIL.
#[pyfunction]
#[pyo3(signature = (text, source, seeds, index, count, jobs=None, force=false))]
#[allow(clippy::too_many_arguments)]
pub fn sweep_part(
    py: Python<'_>,
    text: &str,
    source: &str,
    seeds: &str,
    index: u64,
    count: u64,
    jobs: Option<usize>,
    force: bool,
) -> PyResult<String> {
    check_jobs(jobs)?;
    let all = parse_seeds(seeds)?;
    let shard = Shard::new(index, count)
        .map_err(|e| PyValueError::new_err(format!("shard {index}/{count}: {e}")))?;
    let mine = all.shard(shard);
    let scenario = load_for(py, text, source, mine.len(), force)?;
    let id = ScenarioId {
        name: scenario.name.to_string(),
        hash: vnetsim_sweep::scenario_hash(text.as_bytes()),
    };
    py.detach(|| {
        let mut merged = replay_all(&scenario, mine, jobs)?;
        to_text(|w| vnetsim_sweep::write_part(w, &mut merged, &id, &all, shard))
    })
    .map_err(PyValueError::new_err)
}

/// Merges the parts of a sharded sweep, with or without variants (their texts, in any order),
/// into the report one sweep on one host would have written, as `vnetsim merge` does; `ValueError` when they are not
/// every shard of one sweep of one scenario, each once (the message says which part, counted
/// from 0 in the order given, and why).
#[pyfunction]
pub fn merge_parts(py: Python<'_>, parts: Vec<String>) -> PyResult<String> {
    py.detach(|| {
        // The library reads parts from files, one at a time, to keep its memory small.
        let dir = tempfile::Builder::new()
            .prefix("vnetsim-parts-")
            .tempdir()
            .map_err(|e| format!("cannot create a temporary directory for the parts: {e}"))?;
        let mut paths: Vec<PathBuf> = Vec::with_capacity(parts.len());
        for (i, text) in parts.iter().enumerate() {
            let path = dir.path().join(format!("part-{i}.json"));
            std::fs::File::create(&path)
                .and_then(|mut f| f.write_all(text.as_bytes()))
                .map_err(|e| format!("cannot write part {i} to a temporary file: {e}"))?;
            paths.push(path);
        }
        let runs = RunFragments::spill()
            .map_err(|e| format!("cannot create a temporary file for the runs: {e}"))?;
        let mut merged = vnetsim_sweep::merge_any_parts(&paths, runs).map_err(|e| {
            // Name parts by their position, not by the temporary directory.
            let prefix = format!("{}{}", dir.path().display(), std::path::MAIN_SEPARATOR);
            format!("cannot merge the parts: {e}").replace(&prefix, "")
        })?;
        to_text(|w| merged.write_report(w))
    })
    .map_err(PyValueError::new_err)
}

/// Variants that cannot be used: `VariantsError(text, source, line, variant, diagnostics)`.
fn variants_error(py: Python<'_>, e: &VariantsError) -> PyErr {
    let (source, line, variant, diagnostics): (&str, u64, Option<&str>, &[_]) = match e {
        VariantsError::File {
            source_name, line, ..
        } => (source_name, *line, None, &[]),
        VariantsError::Edit {
            source_name,
            line,
            variant,
            ..
        } => (source_name, *line, Some(variant), &[]),
        VariantsError::Invalid {
            source_name,
            line,
            variant,
            diagnostics,
        } => (source_name, *line, Some(variant), diagnostics),
    };
    match crate::diagnostics_list(py, diagnostics) {
        Ok(list) => crate::raise(
            py,
            "VariantsError",
            (e.to_string(), source, line, variant, list),
        ),
        Err(err) => err,
    }
}

/// The variants (text; `variants_source` names them) of the scenario (text), each checked.
fn grid_for(
    py: Python<'_>,
    text: &str,
    source: &str,
    variants: &str,
    variants_source: &str,
) -> PyResult<(Variants, Vec<Scenario>)> {
    let base = py
        .detach(|| vnetsim_scenario::load_str(text, source))
        .map_err(|e| crate::load_error(py, &e))?;
    let list = Variants::parse(variants, variants_source).map_err(|e| variants_error(py, &e))?;
    let scenarios = py
        .detach(|| list.scenarios(&base, text, source))
        .map_err(|e| variants_error(py, &e))?;
    Ok((list, scenarios))
}

/// Refuses a sweep over the packet limit unless `force`.
fn check_grid(
    scenarios: &[Scenario],
    seeds: &Seeds,
    block: std::ops::Range<u64>,
    source: &str,
    force: bool,
) -> PyResult<()> {
    let estimate = vnetsim_sweep::grid_estimate(scenarios, seeds, block);
    if !estimate.within_limits() && !force {
        return Err(PyValueError::new_err(format!(
            "{source}: this sweep would send {estimate}; the limit is {} packets (shorten \
             durations, lower rates, fewer seeds or variants, or pass force=True)",
            vnetsim_engine::estimate::MAX_PACKETS
        )));
    }
    Ok(())
}

/// Replays the grid positions `block` of the variants, keeping the runs.
fn replay_grid(
    scenarios: &[Scenario],
    list: &Variants,
    seeds: &Seeds,
    block: std::ops::Range<u64>,
    jobs: Option<usize>,
) -> Result<GridMerged, String> {
    let jobs = jobs
        .and_then(NonZeroUsize::new)
        .unwrap_or_else(vnetsim_sweep::default_jobs);
    let runs = RunFragments::spill()
        .map_err(|e| format!("cannot create a temporary file for the runs: {e}"))?;
    let (merged, timing) = vnetsim_sweep::sweep_variants(scenarios, list, seeds, block, jobs, runs)
        .map_err(|e| format!("cannot keep the runs: {e}"))?;
    tracing::debug!(
        "sweep of '{}' over {} variants: {} replays on {} worker(s) in {:.3} s",
        merged.scenario,
        merged.variants.len(),
        merged.runs(),
        timing.jobs,
        timing.wall_seconds
    );
    Ok(merged)
}

/// Checks the variants (text, named `variants_source` in errors) of the scenario (text) as
/// `vnetsim sweep --variants` does before anything replays; returns their number. Raises
/// `ScenarioError` for the scenario itself and `VariantsError` for a variant.
#[pyfunction]
pub fn check_variants(
    py: Python<'_>,
    text: &str,
    source: &str,
    variants: &str,
    variants_source: &str,
) -> PyResult<usize> {
    let (list, _) = grid_for(py, text, source, variants, variants_source)?;
    Ok(list.list.len())
}

/// Replays every variant (the variants file's text; `variants_source` names it in errors) of
/// the scenario (YAML text) once per seed of `seeds` on `jobs` workers; returns the report
/// `vnetsim sweep --variants --report` writes, byte for byte. The replays release the GIL.
#[pyfunction]
#[pyo3(signature = (text, source, seeds, variants, variants_source, jobs=None, force=false))]
#[allow(clippy::too_many_arguments)]
pub fn sweep_variants(
    py: Python<'_>,
    text: &str,
    source: &str,
    seeds: &str,
    variants: &str,
    variants_source: &str,
    jobs: Option<usize>,
    force: bool,
) -> PyResult<String> {
    check_jobs(jobs)?;
    let seeds = parse_seeds(seeds)?;
    let (list, scenarios) = grid_for(py, text, source, variants, variants_source)?;
    let block = 0..(scenarios.len() as u64).saturating_mul(seeds.len() as u64);
    check_grid(&scenarios, &seeds, block.clone(), source, force)?;
    py.detach(|| {
        let mut merged = replay_grid(&scenarios, &list, &seeds, block, jobs)?;
        to_text(|w| merged.write_report(w))
    })
    .map_err(PyValueError::new_err)
}

/// Replays shard `index` of `count` of the (variant, seed) grid (a contiguous block of
/// positions, as `vnetsim sweep --variants --shard index/count`) and returns its part
/// (`vnetsim-sweep-variants-part/1`) as text. The replays release the GIL.
#[pyfunction]
#[pyo3(signature = (text, source, seeds, variants, variants_source, index, count, jobs=None, force=false))]
#[allow(clippy::too_many_arguments)]
pub fn sweep_variants_part(
    py: Python<'_>,
    text: &str,
    source: &str,
    seeds: &str,
    variants: &str,
    variants_source: &str,
    index: u64,
    count: u64,
    jobs: Option<usize>,
    force: bool,
) -> PyResult<String> {
    check_jobs(jobs)?;
    let all = parse_seeds(seeds)?;
    let shard = Shard::new(index, count)
        .map_err(|e| PyValueError::new_err(format!("shard {index}/{count}: {e}")))?;
    let (list, scenarios) = grid_for(py, text, source, variants, variants_source)?;
    let block = vnetsim_sweep::shard_block(shard, scenarios.len(), all.len());
    check_grid(&scenarios, &all, block.clone(), source, force)?;
    let id = ScenarioId {
        name: scenarios
            .first()
            .map(|s| s.name.to_string())
            .unwrap_or_default(),
        hash: vnetsim_sweep::scenario_hash(text.as_bytes()),
    };
    let hash = list.hash();
    py.detach(|| {
        let mut merged = replay_grid(&scenarios, &list, &all, block, jobs)?;
        to_text(|w| merged.write_part(w, &id, &hash, &all, shard))
    })
    .map_err(PyValueError::new_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_parse_as_the_command_line_takes_them() {
        assert_eq!(parse_seeds("0..3").map(|s| s.len()).ok(), Some(3));
        assert_eq!(parse_seeds("4,5").map(|s| s.len()).ok(), Some(2));
    }

    #[test]
    fn a_report_text_ends_with_one_newline() {
        let text = to_text(|w| w.write_all(b"{}")).expect("writes");
        assert_eq!(text, "{}\n");
    }
}
