//! Sweeps: independent replays of one scenario, one per seed, on a pool of threads, merged into
//! one report (`vnetsim-sweep/1`); and sharded sweeps, whose parts merge into the same report.
//!
//! What it is for: the parameter study a researcher runs on one machine or on a cluster. The
//! scenario is compiled once ([`Prepared`]) and every seed replays from it on every core; runs
//! are merged as they finish, in seed order, into per-flow min, mean and max (see `merge`), so
//! memory does not grow with the number of seeds. `--shard I/N` replays a contiguous block of
//! the seeds (see `seeds`) and writes a part; [`merge_parts`] merges the parts of all shards
//! into the report one host would have written, byte for byte (see `part`). The report is
//! deterministic whatever the number of workers or hosts (wall times are kept beside it, in
//! [`SweepTiming`], not in it). What it is not: a command line (the CLI parses arguments and
//! prints) and not a cluster scheduler (a job array runs the shards).

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use vnetsim_engine::{Engine, Options, Parallel, Prepared};

pub mod edit;
mod grid;
mod merge;
mod part;
mod seeds;
mod variants;

pub use grid::{
    AnyMerged, Comparison, ComparisonRow, FlowSpreadValues, GridBlock, GridMerged, PartVariant,
    SpreadValues, VARIANTS_PART_FORMAT, VARIANTS_REPORT_FORMAT, VariantMerge, VariantReport,
    VariantsPartFile, VariantsReportFile, grid_estimate, merge_any_parts, merge_variant_parts,
    shard_block, sweep_variants, variants_part_schema, variants_report_schema,
};
pub use merge::{
    FlowSpread, FlowTally, Merger, REPORT_FORMAT, RunConservation, RunFragments, RunMismatch,
    Spread, SweepFlow, SweepRun, Tally, run_fragment, write_report,
};
pub use part::{
    MergeError, PART_FORMAT, PartFile, PartFlowTally, ScenarioId, TallyValues, merge_parts,
    part_schema, scenario_hash, write_part,
};
pub use seeds::{MAX_SEEDS, Seeds, SeedsError, Shard, ShardError};
pub use variants::{MAX_VARIANTS, Variant, Variants, VariantsError};

/// A sweep merged: its spreads so far, and its runs in seed order (kept or only counted).
pub struct Merged {
    /// The scenario's name.
    pub scenario: String,
    /// The seeds of the runs, in order.
    pub seeds: Seeds,
    /// The running merge.
    pub merger: Merger,
    /// The runs' entries of the report.
    pub runs: RunFragments,
    /// Threads that format the report's per-flow entries (the bytes do not depend on it).
    pub jobs: NonZeroUsize,
}

impl Merged {
    /// Writes the merged report (`vnetsim-sweep/1`), without a trailing newline. The runs must
    /// have been kept ([`RunFragments::spill`]).
    pub fn write_report(&mut self, out: &mut dyn Write) -> io::Result<()> {
        write_report(
            out,
            &self.scenario,
            &self.seeds,
            &self.merger,
            &mut self.runs,
            self.jobs,
        )
    }
}

/// How a sweep went on this machine: kept out of the report, which stays deterministic.
#[derive(Clone, Copy, Debug)]
pub struct SweepTiming {
    /// Workers used.
    pub jobs: usize,
    /// Wall seconds of the whole sweep.
    pub wall_seconds: f64,
    /// Wall seconds of the replays added up (the sweep's time on one worker).
    pub busy_seconds: f64,
}

impl SweepTiming {
    /// How much faster than one replay after another.
    pub fn speedup(&self) -> f64 {
        self.busy_seconds / self.wall_seconds.max(1e-9)
    }
}

/// The number of workers when the caller does not say: the machine's available parallelism.
pub fn default_jobs() -> NonZeroUsize {
    std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN)
}

/// Replays one seed; its report entry is made here too (when kept), on the worker's thread.
/// With a variant's name (`tag`), the run names its variant and keeps its drops by reason.
pub(crate) fn replay(
    prepared: &Prepared,
    seed: u64,
    fragment: bool,
    tag: Option<&Arc<str>>,
) -> (SweepRun, Option<Vec<u8>>) {
    let started = Instant::now();
    // Only what the sweep keeps: no report row is built for its flows. Each replay stays on
    // its worker's core: the sweep's parallelism is its workers.
    let summary = Engine::from_prepared(
        prepared,
        Options {
            seed: Some(seed),
            ..Options::default()
        },
    )
    .parallel(Parallel::Never)
    .run_summary();
    let c = summary.conservation;
    let run = SweepRun {
        variant: tag.cloned(),
        seed,
        wall_seconds: 0.0,
        conservation: RunConservation {
            sent: c.sent,
            delivered: c.delivered,
            dropped: c.dropped,
            in_flight: c.in_flight,
        },
        drops_by_reason: tag.map(|_| {
            summary
                .drops_by_reason
                .iter()
                .map(|(reason, n)| (reason.as_str().to_owned(), n))
                .collect()
        }),
        expectations_failed: summary.expectations_failed,
        flows: prepared
            .scenario()
            .traffic
            .iter()
            .zip(&summary.flows)
            .map(|(f, s)| SweepFlow {
                name: f.name.clone(),
                delivered_ratio: s.delivered_ratio,
                throughput_bps: s.throughput_bps,
                latency_p99_ns: s.latency_p99_ns,
            })
            .collect(),
    };
    drop(summary);
    let fragment = fragment.then(|| run_fragment(&run));
    (
        SweepRun {
            wall_seconds: started.elapsed().as_secs_f64(),
            ..run
        },
        fragment,
    )
}

/// Replays `seeds` of the prepared scenario on `jobs` workers and hands each run to `fold` in
/// seed order (with its report entry when `keep`). Workers take the next seed as they finish,
/// so a slow seed does not hold the others back; a run is handed over once every run before
/// it (in seed order) is, so only the runs finished ahead of a slower one wait in memory (about
/// one per worker when seeds cost alike), and a worker waits while `jobs` finished runs are not
/// yet taken. After `fold` fails, later runs are no longer handed over and its first error is
/// returned. Returns the workers used and the replays' wall seconds added up.
pub(crate) fn replay_seeds(
    prepared: &Prepared,
    seeds: &Seeds,
    jobs: NonZeroUsize,
    keep: bool,
    tag: Option<&Arc<str>>,
    mut fold: impl FnMut(usize, &SweepRun, Option<&[u8]>) -> io::Result<()>,
) -> io::Result<(usize, f64)> {
    let jobs = jobs.get().min(seeds.len().max(1));
    let next = AtomicUsize::new(0);
    let mut busy_seconds = 0.0;
    let mut failure: Option<io::Error> = None;
    std::thread::scope(|scope| {
        // Bounded: a worker that finishes while the merge is behind waits before replaying
        // another seed, so finished runs never pile up in memory.
        let (tx, rx) = mpsc::sync_channel(jobs);
        let workers: Vec<_> = (0..jobs)
            .map(|_| {
                let tx = tx.clone();
                let (next, seeds) = (&next, seeds);
                scope.spawn(move || {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(seed) = seeds.get(i) else { break };
                        if tx.send((i, replay(prepared, seed, keep, tag))).is_err() {
                            break;
                        }
                    }
                })
            })
            .collect();
        drop(tx);
        // Runs finished ahead of the next one in seed order wait here.
        let mut waiting = BTreeMap::new();
        let mut due = 0usize;
        for (i, done) in rx {
            waiting.insert(i, done);
            while let Some((run, fragment)) = waiting.remove(&due) {
                busy_seconds += run.wall_seconds;
                if failure.is_none()
                    && let Err(e) = fold(due, &run, fragment.as_deref())
                {
                    tracing::debug!("run {due} not folded: {e}");
                    failure = Some(e);
                }
                due += 1;
            }
        }
        for worker in workers {
            if let Err(panic) = worker.join() {
                std::panic::resume_unwind(panic);
            }
        }
    });
    match failure {
        Some(e) => Err(e),
        None => Ok((jobs, busy_seconds)),
    }
}

/// Replays the prepared scenario once per seed on `jobs` workers (never more than there are
/// seeds) and merges the runs into `runs` as they finish, in seed order (see `replay_seeds`),
/// so memory does not grow with the number of seeds. Fails only when the runs cannot be kept.
pub fn sweep(
    prepared: &Prepared,
    seeds: Seeds,
    jobs: NonZeroUsize,
    mut runs: RunFragments,
) -> io::Result<(Merged, SweepTiming)> {
    let scenario = prepared.scenario();
    let mut merger = Merger::new(scenario.traffic.iter().map(|f| f.name.clone()));
    let keep = runs.keeps();
    let started = Instant::now();
    let (jobs, busy_seconds) =
        replay_seeds(prepared, &seeds, jobs, keep, None, |_, run, fragment| {
            if let Err(e) = merger.add(run) {
                // The engine reports every flow of the scenario, in order.
                unreachable!("a replay does not fit its own scenario: {e}");
            }
            runs.push(fragment.unwrap_or_default())
        })?;
    let timing = SweepTiming {
        jobs,
        wall_seconds: started.elapsed().as_secs_f64(),
        busy_seconds,
    };
    Ok((
        Merged {
            scenario: scenario.name.to_string(),
            seeds,
            merger,
            runs,
            jobs: NonZeroUsize::new(jobs).unwrap_or(NonZeroUsize::MIN),
        },
        timing,
    ))
}
