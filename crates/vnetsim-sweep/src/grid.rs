//! Sweeps over variants: every (variant, seed) of a grid replayed, merged into one report per
//! sweep (`vnetsim-sweep-variants/1`) with a comparison of the variants first, and sharded
//! over the grid into parts (`vnetsim-sweep-variants-part/1`) that merge into the same report.
//!
//! What it is for: the what-if study of a scenario (a VM size, a peering switch, an NSG rule
//! present or not) over many seeds. The grid lists the variants in their file's order and,
//! within each, the seeds in order: position `v * S + i` is variant `v` with seed `i` of the
//! `S` seeds. A sweep replays a contiguous block of positions (all of them, or a shard's, cut
//! by the same rule as seeds are, see `seeds`) on a pool of workers that take the next position
//! as they finish, across variants; its runs are folded in grid order into one [`Merger`] and one [`Comparison`] per
//! variant, and their report entries kept in one [`RunFragments`], so the report is the same
//! byte for byte whatever the number of workers or shards. What it is not: the edits and their
//! checks (`variants`, `edit`) or the single-scenario sweep (the crate root).

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::num::NonZeroUsize;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Instant;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use vnetsim_engine::{Estimate, Prepared};
use vnetsim_scenario::Scenario;

use crate::merge::{
    FlowSpread, Merger, RunFragments, Spread, SweepRun, Tally, run_fragment, write_document,
};
use crate::part::{MergeError, ScenarioId, read_json};
use crate::seeds::{Seeds, Shard};
use crate::variants::Variants;
use crate::{SweepTiming, replay};

/// The format of a merged report of a sweep over variants.
pub const VARIANTS_REPORT_FORMAT: &str = "vnetsim-sweep-variants/1";

/// The format of a part of a sharded sweep over variants.
pub const VARIANTS_PART_FORMAT: &str = "vnetsim-sweep-variants-part/1";

/// One variant's figures over its runs, as the report's `comparison` lists them.
#[derive(Clone, Debug, Default)]
pub struct Comparison {
    runs: u64,
    sent: u64,
    delivered: u64,
    dropped: u64,
    in_flight: u64,
    drops: BTreeMap<String, u64>,
    throughput: Tally,
    worst_p99: Tally,
    failed: u64,
}

impl Comparison {
    fn add(&mut self, run: &SweepRun) {
        let c = &run.conservation;
        self.runs += 1;
        self.sent += c.sent;
        self.delivered += c.delivered;
        self.dropped += c.dropped;
        self.in_flight += c.in_flight;
        for (reason, n) in run.drops_by_reason.iter().flatten() {
            *self.drops.entry(reason.clone()).or_default() += n;
        }
        let mut total = 0.0;
        for f in &run.flows {
            total += f.throughput_bps;
        }
        self.throughput.add(total);
        if let Some(worst) = run.flows.iter().filter_map(|f| f.latency_p99_ns).max() {
            self.worst_p99.add(worst as f64);
        }
        self.failed += u64::from(run.expectations_failed > 0);
    }

    /// Delivered packets over sent packets, all runs together (`None`: nothing sent).
    pub fn delivered_ratio(&self) -> Option<f64> {
        (self.sent > 0).then(|| self.delivered as f64 / self.sent as f64)
    }

    /// Drops by reason, all runs together.
    pub fn drops(&self) -> &BTreeMap<String, u64> {
        &self.drops
    }

    /// Spread over the runs of the throughput of all flows together.
    pub fn throughput(&self) -> Option<Spread> {
        self.throughput.spread()
    }

    /// Spread over the runs of the worst flow's 99th percentile latency.
    pub fn worst_p99(&self) -> Option<Spread> {
        self.worst_p99.spread()
    }

    /// Runs with at least one failed expectation.
    pub fn failed(&self) -> u64 {
        self.failed
    }

    /// Runs folded in.
    pub fn runs(&self) -> u64 {
        self.runs
    }
}

/// One variant of a grid sweep: its name, its edits in words, and its running merges.
pub struct VariantMerge {
    /// Its name.
    pub name: Arc<str>,
    /// Its edits, as [`crate::variants::Variant::described`] says them.
    pub edits: Vec<String>,
    /// Its per-flow merge.
    pub merger: Merger,
    /// Its comparison figures.
    pub comparison: Comparison,
}

/// A sweep over variants, merged (or a shard's block of it).
pub struct GridMerged {
    /// The scenario's name.
    pub scenario: String,
    /// The seeds of every variant.
    pub seeds: Seeds,
    /// The variants, in order.
    pub variants: Vec<VariantMerge>,
    /// The runs' report entries, in grid order.
    pub runs: RunFragments,
    /// The grid positions folded in.
    pub block: Range<u64>,
}

impl GridMerged {
    /// An empty merge of positions from `start` on, for variants with the given names, edits
    /// and flows.
    fn new(
        scenario: String,
        seeds: Seeds,
        variants: Vec<PartVariant>,
        start: u64,
        runs: RunFragments,
    ) -> GridMerged {
        GridMerged {
            scenario,
            seeds,
            variants: variants
                .into_iter()
                .map(|v| VariantMerge {
                    name: v.name,
                    edits: v.edits,
                    merger: Merger::new(v.flows),
                    comparison: Comparison::default(),
                })
                .collect(),
            runs,
            block: start..start,
        }
    }

    /// Folds the run at the next grid position in, or says why it does not belong there.
    fn add(&mut self, run: &SweepRun, fragment: Option<&[u8]>) -> Result<(), String> {
        let position = self.block.end;
        let per = self.seeds.len().max(1) as u64;
        let v = (position / per) as usize;
        let (Some(variant), Some(seed)) = (
            self.variants.get_mut(v),
            self.seeds.get((position % per) as usize),
        ) else {
            return Err(format!(
                "a run past the end of the grid (position {position})"
            ));
        };
        if run.variant.as_deref() != Some(&*variant.name) || run.seed != seed {
            return Err(format!(
                "a run of variant {} seed {} where variant `{}` seed {seed} comes next",
                run.variant
                    .as_deref()
                    .map_or("(none)".to_owned(), |n| format!("`{n}`")),
                run.seed,
                variant.name
            ));
        }
        variant.merger.add(run).map_err(|e| e.to_string())?;
        variant.comparison.add(run);
        let owned;
        let fragment = match fragment {
            Some(f) => f,
            None if self.runs.keeps() => {
                owned = run_fragment(run);
                &owned
            }
            None => &[],
        };
        self.runs
            .push(fragment)
            .map_err(|e| format!("cannot keep the runs in a temporary file: {e}"))?;
        self.block.end += 1;
        Ok(())
    }

    /// Runs folded in.
    pub fn runs(&self) -> u64 {
        self.block.end - self.block.start
    }

    /// Runs with at least one failed expectation.
    pub fn runs_with_failed_expectations(&self) -> u64 {
        self.variants.iter().map(|v| v.comparison.failed).sum()
    }

    /// Writes the merged report (`vnetsim-sweep-variants/1`), without a trailing newline.
    pub fn write_report(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let head = ReportHead {
            format: VARIANTS_REPORT_FORMAT,
            scenario: &self.scenario,
            seeds: &self.seeds,
            comparison: self.variants.iter().map(ComparisonOut::of).collect(),
            variants: self
                .variants
                .iter()
                .map(|v| VariantOut {
                    name: &v.name,
                    edits: &v.edits,
                    flows: v.merger.spreads(),
                    runs_with_failed_expectations: v.merger.runs_with_failed_expectations(),
                })
                .collect(),
        };
        let failed = self.runs_with_failed_expectations();
        write_document(
            out,
            &head,
            &mut self.runs,
            &[("runs_with_failed_expectations", failed)],
        )
    }

    /// Writes this shard's part (`vnetsim-sweep-variants-part/1`), without a trailing newline.
    pub fn write_part(
        &mut self,
        out: &mut dyn Write,
        id: &ScenarioId,
        variants_hash: &str,
        sweep_seeds: &Seeds,
        shard: Shard,
    ) -> io::Result<()> {
        let head = PartHead {
            format: VARIANTS_PART_FORMAT,
            scenario: &id.name,
            scenario_hash: &id.hash,
            variants_hash,
            sweep_seeds: sweep_seeds.to_string(),
            variants: self
                .variants
                .iter()
                .map(|v| PartVariant {
                    name: v.name.clone(),
                    edits: v.edits.clone(),
                    flows: v.merger.tallies().iter().map(|t| t.name.clone()).collect(),
                })
                .collect(),
            shard,
            grid: GridBlock {
                start: self.block.start,
                end: self.block.end,
            },
        };
        let failed = self.runs_with_failed_expectations();
        write_document(
            out,
            &head,
            &mut self.runs,
            &[("runs_with_failed_expectations", failed)],
        )
    }
}

/// The head of a merged report over variants: its fields before `runs`.
#[derive(Serialize)]
struct ReportHead<'a> {
    format: &'static str,
    scenario: &'a str,
    seeds: &'a Seeds,
    comparison: Vec<ComparisonOut<'a>>,
    variants: Vec<VariantOut<'a>>,
}

/// One variant's row of the comparison, as written.
#[derive(Serialize)]
struct ComparisonOut<'a> {
    variant: &'a str,
    runs: u64,
    delivered_ratio: Option<f64>,
    sent: u64,
    delivered: u64,
    dropped: u64,
    in_flight: u64,
    drops_by_reason: &'a BTreeMap<String, u64>,
    throughput_bps: Option<Spread>,
    worst_latency_p99_ns: Option<Spread>,
    runs_with_failed_expectations: u64,
}

impl<'a> ComparisonOut<'a> {
    fn of(v: &'a VariantMerge) -> Self {
        let c = &v.comparison;
        ComparisonOut {
            variant: &v.name,
            runs: c.runs,
            delivered_ratio: c.delivered_ratio(),
            sent: c.sent,
            delivered: c.delivered,
            dropped: c.dropped,
            in_flight: c.in_flight,
            drops_by_reason: &c.drops,
            throughput_bps: c.throughput(),
            worst_latency_p99_ns: c.worst_p99(),
            runs_with_failed_expectations: c.failed,
        }
    }
}

#[derive(Serialize)]
struct VariantOut<'a> {
    name: &'a str,
    edits: &'a [String],
    flows: Vec<FlowSpread>,
    runs_with_failed_expectations: u64,
}

/// A block of grid positions, `start..end` (end excluded).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GridBlock {
    /// The first position.
    pub start: u64,
    /// One past the last position.
    pub end: u64,
}

#[derive(Serialize)]
struct PartHead<'a> {
    format: &'static str,
    scenario: &'a str,
    scenario_hash: &'a str,
    variants_hash: &'a str,
    sweep_seeds: String,
    variants: Vec<PartVariant>,
    shard: Shard,
    grid: GridBlock,
}

/// A variant as a part names it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PartVariant {
    /// Its name.
    pub name: Arc<str>,
    /// Its edits in words.
    pub edits: Vec<String>,
    /// Its flows' names, in its scenario's traffic order.
    pub flows: Vec<Arc<str>>,
}

/// The whole grid's estimate: each variant's run times its number of seeds.
pub fn grid_estimate(scenarios: &[Scenario], seeds: &Seeds, block: Range<u64>) -> Estimate {
    let mut total = Estimate::default();
    for (v, s) in scenarios.iter().enumerate() {
        let n = seeds_of(v, seeds.len(), &block).len() as u64;
        let e = Estimate::of(s).times(n);
        total.packets = total.packets.saturating_add(e.packets);
        total.bytes = total.bytes.saturating_add(e.bytes);
        total.memory_bytes = total.memory_bytes.max(e.memory_bytes);
        total.pcap_bytes = total.pcap_bytes.saturating_add(e.pcap_bytes);
    }
    total
}

/// The seed positions of variant `v` inside `block` (each variant has `per` seeds).
fn seeds_of(v: usize, per: usize, block: &Range<u64>) -> Range<usize> {
    let lo = (v as u64).saturating_mul(per as u64);
    let hi = lo.saturating_add(per as u64);
    let start = block.start.clamp(lo, hi) - lo;
    let end = block.end.clamp(lo, hi) - lo;
    start as usize..end.max(start) as usize
}

/// What a block of grid positions replays, in words: `variant `a` seeds 2..4, variant `b`
/// seeds 0..1`, or `no runs`.
fn describe_block(variants: &[PartVariant], seeds: &Seeds, block: &Range<u64>) -> String {
    let parts: Vec<String> = variants
        .iter()
        .enumerate()
        .filter_map(|(v, variant)| {
            let mine = seeds.slice(seeds_of(v, seeds.len(), block));
            (!mine.is_empty()).then(|| format!("variant `{}` seeds {mine}", variant.name))
        })
        .collect();
    if parts.is_empty() {
        "no runs".into()
    } else {
        parts.join(", ")
    }
}

/// The grid positions of `shard` in a grid of `variants` variants of `seeds` seeds each.
pub fn shard_block(shard: Shard, variants: usize, seeds: usize) -> Range<u64> {
    let len = variants.saturating_mul(seeds);
    let b = shard.block(len);
    b.start as u64..b.end as u64
}

/// Replays the grid positions `block` of `variants` (whose checked scenarios are `scenarios`,
/// in the same order) over `seeds` on `jobs` workers, and merges the runs in grid order.
///
/// The workers take the next position as they finish, across variants, so a grid of many
/// variants and few seeds keeps every worker busy. A variant's network is compiled by the
/// first worker that needs it and dropped once its last run is merged, so at most about one
/// compiled network per worker is alive. Fails only when the runs cannot be kept.
pub fn sweep_variants(
    scenarios: &[Scenario],
    variants: &Variants,
    seeds: &Seeds,
    block: Range<u64>,
    jobs: NonZeroUsize,
    runs: RunFragments,
) -> io::Result<(GridMerged, SweepTiming)> {
    let name = scenarios
        .first()
        .map(|s| s.name.to_string())
        .unwrap_or_default();
    let heads = variants
        .list
        .iter()
        .zip(scenarios)
        .map(|(v, s)| PartVariant {
            name: v.name.clone(),
            edits: v.described(),
            flows: s.traffic.iter().map(|f| f.name.clone()).collect(),
        })
        .collect();
    let keep = runs.keeps();
    let mut merged = GridMerged::new(name, seeds.clone(), heads, block.start, runs);
    let per = seeds.len() as u64;
    let count = scenarios.len().min(variants.list.len()) as u64;
    let block = block.start.min(count * per)..block.end.min(count * per);
    let len = (block.end - block.start) as usize;
    let jobs = jobs.get().min(len.max(1));
    // Each variant's compiled network, while its runs are under way.
    let compiled: Vec<Mutex<Option<Arc<Prepared>>>> =
        scenarios.iter().map(|_| Mutex::new(None)).collect();
    let prepared = |v: usize| -> Arc<Prepared> {
        let mut slot = compiled[v].lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert_with(|| {
            tracing::debug!("variant `{}`: network compiled", variants.list[v].name);
            Arc::new(Prepared::new(&scenarios[v]))
        })
        .clone()
    };
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let mut busy_seconds = 0.0;
    let mut failure: Option<io::Error> = None;
    std::thread::scope(|scope| {
        // Bounded, as in a sweep over seeds: finished runs never pile up.
        let (tx, rx) = mpsc::sync_channel(jobs);
        let workers: Vec<_> = (0..jobs)
            .map(|_| {
                let tx = tx.clone();
                let (next, prepared, block) = (&next, &prepared, &block);
                scope.spawn(move || {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let position = block.start + i as u64;
                        if position >= block.end {
                            break;
                        }
                        let v = (position / per) as usize;
                        let Some(seed) = seeds.get((position % per) as usize) else {
                            break;
                        };
                        let network = prepared(v);
                        let done = replay(&network, seed, keep, Some(&variants.list[v].name));
                        drop(network);
                        if tx.send((i, done)).is_err() {
                            break;
                        }
                    }
                })
            })
            .collect();
        drop(tx);
        let mut waiting = BTreeMap::new();
        let mut due = 0usize;
        for (i, done) in rx {
            waiting.insert(i, done);
            while let Some((run, fragment)) = waiting.remove(&due) {
                busy_seconds += run.wall_seconds;
                let position = block.start + due as u64;
                if failure.is_none()
                    && let Err(e) = merged.add(&run, fragment.as_deref())
                {
                    tracing::debug!("run at grid position {position} not folded: {e}");
                    failure = Some(io::Error::other(e));
                }
                // The variant's last run in the block: its network is no longer needed.
                if (position + 1).is_multiple_of(per) || position + 1 == block.end {
                    let v = (position / per) as usize;
                    let mut slot = compiled[v].lock().unwrap_or_else(|p| p.into_inner());
                    *slot = None;
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
    if let Some(e) = failure {
        return Err(e);
    }
    Ok((
        merged,
        SweepTiming {
            jobs,
            wall_seconds: started.elapsed().as_secs_f64(),
            busy_seconds,
        },
    ))
}

/// The merged report of a sweep over variants as one type, for its JSON Schema
/// (`docs/sweep-variants.schema.json`) and for reading it back; the report itself is written
/// streaming, by [`GridMerged::write_report`].
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "vnetsim sweep over variants (vnetsim-sweep-variants/1)")]
pub struct VariantsReportFile {
    /// Always `vnetsim-sweep-variants/1`.
    #[schemars(extend("const" = "vnetsim-sweep-variants/1"))]
    pub format: String,
    /// The scenario's name.
    pub scenario: String,
    /// The seeds every variant replayed, in order.
    pub seeds: Vec<u64>,
    /// One row per variant, in the variants file's order: what to read first.
    pub comparison: Vec<ComparisonRow>,
    /// Per variant, its edits and per-flow results.
    pub variants: Vec<VariantReport>,
    /// Every run, variant by variant and seed by seed within each.
    pub runs: Vec<SweepRun>,
    /// Runs with at least one failed expectation, over all variants.
    pub runs_with_failed_expectations: u64,
}

/// One variant's row of the comparison.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ComparisonRow {
    /// The variant's name.
    pub variant: String,
    /// Its runs (one per seed).
    pub runs: u64,
    /// Delivered packets over sent packets, all runs together (`null`: nothing sent).
    pub delivered_ratio: Option<f64>,
    /// Packets sent, all runs together.
    pub sent: u64,
    /// Packets delivered, all runs together.
    pub delivered: u64,
    /// Packets dropped, all runs together.
    pub dropped: u64,
    /// Packets still on their way when the runs ended, all runs together.
    pub in_flight: u64,
    /// Drops by reason, all runs together.
    pub drops_by_reason: BTreeMap<String, u64>,
    /// Min, mean and max over the runs of all flows' throughput added up, in bits per second
    /// (`null`: no run).
    pub throughput_bps: Option<SpreadValues>,
    /// Min, mean and max over the runs of the largest per-flow 99th percentile latency, in ns
    /// (`null`: no run delivered a packet).
    pub worst_latency_p99_ns: Option<SpreadValues>,
    /// Runs with at least one failed expectation.
    pub runs_with_failed_expectations: u64,
}

/// One variant in the report.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantReport {
    /// Its name.
    pub name: String,
    /// Its edits in words (`set PATH = VALUE`, `remove PATH`, `add PATH[NAME]`).
    pub edits: Vec<String>,
    /// Per flow, in its scenario's traffic order, the spreads over its runs.
    pub flows: Vec<FlowSpreadValues>,
    /// Its runs with at least one failed expectation.
    pub runs_with_failed_expectations: u64,
}

/// One flow's spreads over a variant's runs, as a sweep without variants gives them.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowSpreadValues {
    /// The flow's name.
    pub name: String,
    /// Of the delivered ratio (`null`: no run).
    pub delivered_ratio: Option<SpreadValues>,
    /// Of the throughput in bits per second (`null`: no run).
    pub throughput_bps: Option<SpreadValues>,
    /// Of the 99th percentile latency in ns, over the runs that delivered a packet (`null`:
    /// none did).
    pub latency_p99_ns: Option<SpreadValues>,
}

/// Min, mean and max of one metric.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SpreadValues {
    /// The smallest value.
    pub min: f64,
    /// The arithmetic mean.
    pub mean: f64,
    /// The largest value.
    pub max: f64,
}

/// The JSON Schema of the merged report over variants (`docs/sweep-variants.schema.json`).
pub fn variants_report_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(VariantsReportFile)).expect("schema serializes")
}

/// A part over variants as one type, for its JSON Schema (`docs/sweep-variants-part.schema.json`).
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "vnetsim sweep part over variants (vnetsim-sweep-variants-part/1)")]
pub struct VariantsPartFile {
    /// Always `vnetsim-sweep-variants-part/1`.
    #[schemars(extend("const" = "vnetsim-sweep-variants-part/1"))]
    pub format: String,
    /// The scenario's name.
    pub scenario: String,
    /// `fnv1a64:` and 16 hex digits: the hash of the scenario file's bytes.
    pub scenario_hash: String,
    /// `fnv1a64:` and 16 hex digits: the hash of the variants' names and edits.
    pub variants_hash: String,
    /// The whole sweep's seeds as given to `--seeds` (`A..B` or `1,2,3`).
    pub sweep_seeds: String,
    /// Every variant of the sweep, in order (also those this shard has no run of).
    pub variants: Vec<PartVariant>,
    /// Which shard this part is.
    pub shard: Shard,
    /// This shard's positions of the (variant, seed) grid: position `v * S + i` is variant
    /// `v` with the `i`-th of the `S` seeds.
    pub grid: GridBlock,
    /// This shard's runs, in grid order, each naming its variant.
    pub runs: Vec<SweepRun>,
    /// Runs of this shard with at least one failed expectation.
    pub runs_with_failed_expectations: u64,
}

/// The JSON Schema of a part over variants (`docs/sweep-variants-part.schema.json`).
pub fn variants_part_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(VariantsPartFile)).expect("schema serializes")
}

#[derive(Deserialize)]
struct Header {
    format: Option<String>,
    scenario: Option<String>,
    scenario_hash: Option<String>,
    variants_hash: Option<String>,
    sweep_seeds: Option<String>,
    variants: Option<Vec<PartVariant>>,
    shard: Option<Shard>,
    grid: Option<GridBlock>,
    #[serde(default)]
    #[allow(dead_code)]
    runs: Option<IgnoredAny>,
    runs_with_failed_expectations: Option<u64>,
}

struct Head {
    path: PathBuf,
    scenario: String,
    hash: String,
    variants_hash: String,
    sweep_seeds: String,
    variants: Vec<PartVariant>,
    shard: Shard,
    grid: GridBlock,
    failed: u64,
}

impl crate::part::ShardHead for Head {
    fn path(&self) -> &Path {
        &self.path
    }
    fn scenario(&self) -> (&str, &str) {
        (&self.scenario, &self.hash)
    }
    fn sweep_seeds(&self) -> &str {
        &self.sweep_seeds
    }
    fn shard(&self) -> Shard {
        self.shard
    }
}

#[derive(Deserialize)]
struct Runs {
    runs: Vec<SweepRun>,
}

fn read_head(path: &Path) -> Result<Head, MergeError> {
    let h: Header = read_json(path)?;
    if h.format.as_deref() != Some(VARIANTS_PART_FORMAT) {
        return Err(MergeError::NotAPart {
            path: path.to_path_buf(),
            found: h
                .format
                .map(|f| format!("`{f}`"))
                .unwrap_or_else(|| "missing".into()),
            hint: "; every part must come from the same `sweep --variants --shard` sweep",
        });
    }
    let missing = |field: &str| MergeError::Inconsistent {
        path: path.to_path_buf(),
        why: format!("its field `{field}` is missing"),
    };
    Ok(Head {
        path: path.to_path_buf(),
        scenario: h.scenario.ok_or_else(|| missing("scenario"))?,
        hash: h.scenario_hash.ok_or_else(|| missing("scenario_hash"))?,
        variants_hash: h.variants_hash.ok_or_else(|| missing("variants_hash"))?,
        sweep_seeds: h.sweep_seeds.ok_or_else(|| missing("sweep_seeds"))?,
        variants: h.variants.ok_or_else(|| missing("variants"))?,
        shard: h.shard.ok_or_else(|| missing("shard"))?,
        grid: h.grid.ok_or_else(|| missing("grid"))?,
        failed: h
            .runs_with_failed_expectations
            .ok_or_else(|| missing("runs_with_failed_expectations"))?,
    })
}

/// Merges the parts of a sharded sweep over variants (in any order) into the report one host
/// would have written: every shard of one sweep of one scenario file and one set of variants,
/// each once. Runs are kept in `runs` (or only counted).
pub fn merge_variant_parts(
    paths: &[PathBuf],
    runs: RunFragments,
) -> Result<GridMerged, MergeError> {
    let (heads, seeds) = crate::part::ordered_heads(paths, read_head, |a: &Head, b: &Head| {
        (a.variants_hash != b.variants_hash || a.variants != b.variants).then(|| {
            format!(
                "variants {} and variants {}",
                a.variants_hash, b.variants_hash
            )
        })
    })?;
    let head = &heads[0];
    let count = head.shard.count;
    let grid_len = head.variants.len();
    if heads.len() as u64 != count {
        let present: std::collections::BTreeSet<u64> =
            heads.iter().map(|h| h.shard.index).collect();
        let missing: Vec<u64> = (0..count).filter(|i| !present.contains(i)).collect();
        let mut list: Vec<String> = missing
            .iter()
            .take(10)
            .map(|&index| {
                let shard = Shard { index, count };
                let b = shard_block(shard, grid_len, seeds.len());
                format!(
                    "shard {shard} ({})",
                    describe_block(&head.variants, &seeds, &b)
                )
            })
            .collect();
        if missing.len() > 10 {
            list.push(format!("and {} more", missing.len() - 10));
        }
        return Err(MergeError::Gaps {
            count: missing.len() as u64,
            of: count,
            list: list.join(", "),
        });
    }
    let mut merged = GridMerged::new(
        head.scenario.clone(),
        seeds.clone(),
        head.variants.clone(),
        0,
        runs,
    );
    for h in &heads {
        let inconsistent = |why: String| MergeError::Inconsistent {
            path: h.path.clone(),
            why,
        };
        let expected = shard_block(h.shard, grid_len, seeds.len());
        if h.grid.start != expected.start || h.grid.end != expected.end {
            return Err(inconsistent(format!(
                "shard {} holds the grid positions {}..{}, but its part says {}..{}",
                h.shard, expected.start, expected.end, h.grid.start, h.grid.end
            )));
        }
        let part: Runs = read_json(&h.path)?;
        if part.runs.len() as u64 != expected.end - expected.start {
            return Err(inconsistent(format!(
                "{} runs for {} grid positions",
                part.runs.len(),
                expected.end - expected.start
            )));
        }
        let before = merged.runs_with_failed_expectations();
        for run in &part.runs {
            merged.add(run, None).map_err(inconsistent)?;
        }
        let failed = merged.runs_with_failed_expectations() - before;
        if failed != h.failed {
            return Err(inconsistent(format!(
                "runs_with_failed_expectations is {}, but {failed} of its runs failed expectations",
                h.failed
            )));
        }
    }
    Ok(merged)
}

/// A sweep's parts merged, with or without variants: what `vnetsim merge` writes.
pub enum AnyMerged {
    /// Parts of a sweep over seeds (`vnetsim-sweep-part/1`).
    Seeds(crate::Merged),
    /// Parts of a sweep over variants (`vnetsim-sweep-variants-part/1`).
    Variants(GridMerged),
}

impl AnyMerged {
    /// Writes the merged report, without a trailing newline.
    pub fn write_report(&mut self, out: &mut dyn Write) -> io::Result<()> {
        match self {
            AnyMerged::Seeds(m) => m.write_report(out),
            AnyMerged::Variants(m) => m.write_report(out),
        }
    }

    /// The scenario's name.
    pub fn scenario(&self) -> &str {
        match self {
            AnyMerged::Seeds(m) => &m.scenario,
            AnyMerged::Variants(m) => &m.scenario,
        }
    }

    /// Runs merged.
    pub fn runs(&self) -> u64 {
        match self {
            AnyMerged::Seeds(m) => m.merger.runs(),
            AnyMerged::Variants(m) => m.runs(),
        }
    }

    /// Runs with at least one failed expectation.
    pub fn runs_with_failed_expectations(&self) -> u64 {
        match self {
            AnyMerged::Seeds(m) => m.merger.runs_with_failed_expectations(),
            AnyMerged::Variants(m) => m.runs_with_failed_expectations(),
        }
    }
}

/// Merges the parts at `paths` whatever their kind, told by the first part's format.
pub fn merge_any_parts(paths: &[PathBuf], runs: RunFragments) -> Result<AnyMerged, MergeError> {
    #[derive(Deserialize)]
    struct Format {
        format: Option<String>,
    }
    let Some(first) = paths.first() else {
        return Err(MergeError::NoParts);
    };
    let f: Format = read_json(first)?;
    match f.format.as_deref() {
        Some(VARIANTS_PART_FORMAT) => merge_variant_parts(paths, runs).map(AnyMerged::Variants),
        // A part of a sweep over seeds, or a file the seeds' merge names as not a part.
        _ => crate::merge_parts(paths, runs).map(AnyMerged::Seeds),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_cuts_the_grid_into_each_variants_seeds() {
        // 3 variants of 4 seeds: positions 0..12.
        assert_eq!(seeds_of(0, 4, &(0..12)), 0..4);
        assert_eq!(seeds_of(1, 4, &(2..6)), 0..2);
        assert_eq!(seeds_of(0, 4, &(2..6)), 2..4);
        assert_eq!(seeds_of(2, 4, &(2..6)), 0..0);
        let mut covered = vec![0; 12];
        for i in 0..5 {
            let b = shard_block(Shard::new(i, 5).unwrap(), 3, 4);
            for p in b {
                covered[p as usize] += 1;
            }
        }
        assert_eq!(covered, vec![1; 12]);
    }

    /// The checked-in schemas `docs/sweep-variants-part.schema.json` and
    /// `docs/sweep-variants.schema.json` are those of [`VariantsPartFile`] and
    /// [`VariantsReportFile`]; `UPDATE_SCHEMA=1` rewrites them.
    #[test]
    fn checked_in_variants_schemas_are_current() {
        for (name, schema, fields) in [
            (
                "sweep-variants-part.schema.json",
                variants_part_schema(),
                &["variants_hash", "grid", "drops_by_reason", "variant"][..],
            ),
            (
                "sweep-variants.schema.json",
                variants_report_schema(),
                &["comparison", "worst_latency_p99_ns", "edits", "variant"][..],
            ),
        ] {
            let fresh = serde_json::to_string_pretty(&schema).expect("json") + "\n";
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../docs")
                .join(name);
            if std::env::var_os("UPDATE_SCHEMA").is_some_and(|v| v == "1") {
                std::fs::write(&path, &fresh).expect("write schema");
            }
            let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                on_disk == fresh,
                "docs/{name} is out of date; run with UPDATE_SCHEMA=1 to rewrite it"
            );
            for field in fields {
                assert!(fresh.contains(&format!("\"{field}\"")), "{name}: {field}");
            }
        }
    }
}
