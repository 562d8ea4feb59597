//! The streaming merge: runs folded one at a time, in seed order, into per-flow running
//! min, sum and max, and the merged report (`vnetsim-sweep/1`) written from those.
//!
//! What it is for: keeping a sweep's memory independent of its seed count. Each run is folded
//! into a [`Tally`] per flow and metric as soon as the runs before it are in, then dropped; its
//! entry of the report's `runs` array is kept as JSON text in [`RunFragments`] (an anonymous
//! temporary file), because the report lists the per-flow spreads before the runs. The fold
//! adds values in seed order, exactly as a sum over all runs at once would, so the report is
//! byte-identical whatever the number of workers or hosts. What it is not: the replays (see
//! the crate root) or the part files of a sharded sweep (`part`).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};

use serde::{Deserialize, Serialize};

use crate::seeds::Seeds;

/// The format of a merged report.
pub const REPORT_FORMAT: &str = "vnetsim-sweep/1";

/// A run's conservation block: `sent = delivered + dropped + in_flight`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct RunConservation {
    /// Packets created (traffic, replies and probes).
    pub sent: u64,
    /// Packets delivered.
    pub delivered: u64,
    /// Packets dropped, for a reason.
    pub dropped: u64,
    /// Packets still on their way when the replay ended.
    pub in_flight: u64,
}

/// One replay of a sweep, as the report lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SweepRun {
    /// The variant replayed, in a sweep over variants (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<Arc<str>>,
    /// Its seed.
    pub seed: u64,
    /// Wall seconds the replay took: measured, not simulated, so kept out of the report (which
    /// stays byte-identical for the same file and seeds).
    #[serde(skip)]
    pub wall_seconds: f64,
    /// Its conservation block.
    pub conservation: RunConservation,
    /// Drops by reason, in a sweep over variants (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drops_by_reason: Option<BTreeMap<String, u64>>,
    /// Expectations of the scenario that failed in this replay.
    pub expectations_failed: u64,
    /// Per-flow results, in the scenario's traffic order.
    pub flows: Vec<SweepFlow>,
}

/// One flow's result in one replay.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SweepFlow {
    /// The flow's name.
    pub name: Arc<str>,
    /// Delivered packets over sent packets of its forward direction.
    pub delivered_ratio: f64,
    /// Delivered bits per second of its forward direction.
    pub throughput_bps: f64,
    /// 99th percentile one-way latency, when a packet was delivered.
    pub latency_p99_ns: Option<u64>,
}

/// Min, mean and max of one metric over the runs.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Spread {
    /// Smallest value.
    pub min: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Largest value.
    pub max: f64,
}

impl Spread {
    /// The spread of `values`, or `None` when there is none.
    pub fn of(values: impl Iterator<Item = f64>) -> Option<Spread> {
        let mut tally = Tally::default();
        values.for_each(|v| tally.add(v));
        tally.spread()
    }
}

/// The running count, sum, min and max of one metric, values added in order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tally {
    /// Values added.
    pub count: u64,
    /// Their sum, added in the order they came.
    pub sum: f64,
    /// The smallest (positive infinity while empty).
    pub min: f64,
    /// The largest (negative infinity while empty).
    pub max: f64,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
}

impl Tally {
    /// Adds one value.
    #[inline]
    pub fn add(&mut self, v: f64) {
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.sum += v;
        self.count += 1;
    }

    /// Min, mean and max, or `None` before the first value.
    pub fn spread(&self) -> Option<Spread> {
        (self.count > 0).then(|| Spread {
            min: self.min,
            mean: self.sum / self.count as f64,
            max: self.max,
        })
    }
}

/// Written as `null` while empty (JSON has no infinities).
impl Serialize for Tally {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Shown {
            count: u64,
            sum: f64,
            min: f64,
            max: f64,
        }
        (self.count > 0)
            .then_some(Shown {
                count: self.count,
                sum: self.sum,
                min: self.min,
                max: self.max,
            })
            .serialize(serializer)
    }
}

/// One flow's three tallies.
#[derive(Clone, Debug, Serialize)]
pub struct FlowTally {
    /// The flow's name.
    pub name: Arc<str>,
    /// Of the delivered ratio.
    pub delivered_ratio: Tally,
    /// Of the throughput.
    pub throughput_bps: Tally,
    /// Of the 99th percentile latency, over the runs that delivered a packet.
    pub latency_p99_ns: Tally,
}

/// One flow over all runs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FlowSpread {
    /// The flow's name.
    pub name: Arc<str>,
    /// Spread of the delivered ratio.
    pub delivered_ratio: Option<Spread>,
    /// Spread of the throughput.
    pub throughput_bps: Option<Spread>,
    /// Spread of the 99th percentile latency, over the runs that delivered a packet.
    pub latency_p99_ns: Option<Spread>,
}

/// Why a run does not fit the merge.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RunMismatch {
    /// A different number of flows than the scenario's.
    #[error("run of seed {seed} has {found} flows where the scenario has {expected}")]
    FlowCount {
        /// The run's seed.
        seed: u64,
        /// Flows in the run.
        found: usize,
        /// Flows of the scenario.
        expected: usize,
    },
    /// A flow named differently than the scenario's flow at its position.
    #[error(
        "run of seed {seed} names its flow {position} `{found}` where the scenario has `{expected}`"
    )]
    FlowName {
        /// The run's seed.
        seed: u64,
        /// The flow's position, from 0.
        position: usize,
        /// The run's name for it.
        found: String,
        /// The scenario's.
        expected: String,
    },
}

/// The running merge of a sweep's runs, in seed order.
#[derive(Clone, Debug)]
pub struct Merger {
    flows: Vec<FlowTally>,
    runs: u64,
    runs_with_failed_expectations: u64,
}

impl Merger {
    /// An empty merge over flows named `names`, in the scenario's traffic order.
    pub fn new(names: impl IntoIterator<Item = Arc<str>>) -> Merger {
        Merger {
            flows: names
                .into_iter()
                .map(|name| FlowTally {
                    name,
                    delivered_ratio: Tally::default(),
                    throughput_bps: Tally::default(),
                    latency_p99_ns: Tally::default(),
                })
                .collect(),
            runs: 0,
            runs_with_failed_expectations: 0,
        }
    }

    /// Folds the next run (in seed order) in, or says why it does not belong (nothing is
    /// folded then).
    pub fn add(&mut self, run: &SweepRun) -> Result<(), RunMismatch> {
        if run.flows.len() != self.flows.len() {
            return Err(RunMismatch::FlowCount {
                seed: run.seed,
                found: run.flows.len(),
                expected: self.flows.len(),
            });
        }
        if let Some((position, (f, t))) = run
            .flows
            .iter()
            .zip(&self.flows)
            .enumerate()
            .find(|(_, (f, t))| !Arc::ptr_eq(&f.name, &t.name) && f.name != t.name)
        {
            return Err(RunMismatch::FlowName {
                seed: run.seed,
                position,
                found: f.name.to_string(),
                expected: t.name.to_string(),
            });
        }
        for (f, t) in run.flows.iter().zip(&mut self.flows) {
            t.delivered_ratio.add(f.delivered_ratio);
            t.throughput_bps.add(f.throughput_bps);
            if let Some(p99) = f.latency_p99_ns {
                t.latency_p99_ns.add(p99 as f64);
            }
        }
        self.runs += 1;
        self.runs_with_failed_expectations += u64::from(run.expectations_failed > 0);
        Ok(())
    }

    /// Runs folded in.
    pub fn runs(&self) -> u64 {
        self.runs
    }

    /// Runs folded in with at least one failed expectation.
    pub fn runs_with_failed_expectations(&self) -> u64 {
        self.runs_with_failed_expectations
    }

    /// The per-flow tallies so far.
    pub fn tallies(&self) -> &[FlowTally] {
        &self.flows
    }

    /// The per-flow spreads so far.
    pub fn spreads(&self) -> Vec<FlowSpread> {
        self.flows
            .iter()
            .map(|t| FlowSpread {
                name: t.name.clone(),
                delivered_ratio: t.delivered_ratio.spread(),
                throughput_bps: t.throughput_bps.spread(),
                latency_p99_ns: t.latency_p99_ns.spread(),
            })
            .collect()
    }
}

/// Bytes moved per read when the kept runs are copied into the report.
const COPY_BUFFER: usize = 1 << 20;

/// Indentation of a run inside a report or part: the document's object, then its `runs` array.
const RUN_INDENT: &[u8] = b"    ";

/// A run's entry of a `runs` array as JSON text, indented as the pretty printer indents it two
/// levels deep (made by the worker that replayed it, so formatting runs in parallel).
pub fn run_fragment(run: &SweepRun) -> Vec<u8> {
    // About 170 bytes of keys, indents and figures per flow, beside its name: one allocation.
    let names: usize = run.flows.iter().map(|f| f.name.len()).sum();
    let mut out = Vec::with_capacity(256 + 176 * run.flows.len() + names);
    push_run(&mut out, run);
    out
}

/// Appends `run` as [`push_element`] would (serde_json's pretty output two levels deep), each
/// key with its newline and indent as one constant and numbers formatted as serde_json formats
/// them: a run of 100,000 flows is about 18 MB of text (the tests hold it to serde_json's).
fn push_run(out: &mut Vec<u8>, run: &SweepRun) {
    use vnetsim_engine::json::rows::{push_f64, push_str, push_u64};
    use vnetsim_engine::{pretty_field as field, pretty_first as first, pretty_object as object};
    out.push(b'{');
    match &run.variant {
        Some(v) => {
            out.extend_from_slice(first!("      ", "variant"));
            push_str(out, v);
            out.extend_from_slice(field!("      ", "seed"));
        }
        None => out.extend_from_slice(first!("      ", "seed")),
    }
    push_u64(out, run.seed);
    let c = &run.conservation;
    out.extend_from_slice(field!("      ", "conservation"));
    object!(out, "        ", "      ",
        "sent" => push_u64, c.sent;
        "delivered" => push_u64, c.delivered;
        "dropped" => push_u64, c.dropped;
        "in_flight" => push_u64, c.in_flight;
    );
    if let Some(drops) = &run.drops_by_reason {
        out.extend_from_slice(field!("      ", "drops_by_reason"));
        out.push(b'{');
        for (i, (reason, n)) in drops.iter().enumerate() {
            let sep: &[u8] = if i == 0 {
                b"\n        "
            } else {
                b",\n        "
            };
            out.extend_from_slice(sep);
            push_str(out, reason);
            out.extend_from_slice(b": ");
            push_u64(out, *n);
        }
        if !drops.is_empty() {
            out.extend_from_slice(b"\n      ");
        }
        out.push(b'}');
    }
    out.extend_from_slice(field!("      ", "expectations_failed"));
    push_u64(out, run.expectations_failed);
    out.extend_from_slice(field!("      ", "flows"));
    out.push(b'[');
    let p99 = |o: &mut Vec<u8>, p: Option<u64>| match p {
        Some(p) => push_u64(o, p),
        None => o.extend_from_slice(b"null"),
    };
    for (i, f) in run.flows.iter().enumerate() {
        let sep: &[u8] = if i == 0 {
            b"\n        "
        } else {
            b",\n        "
        };
        out.extend_from_slice(sep);
        object!(out, "          ", "        ",
            "name" => push_str, &f.name;
            "delivered_ratio" => push_f64, f.delivered_ratio;
            "throughput_bps" => push_f64, f.throughput_bps;
            "latency_p99_ns" => p99, f.latency_p99_ns;
        );
    }
    if !run.flows.is_empty() {
        out.extend_from_slice(b"\n      ");
    }
    out.push(b']');
    out.extend_from_slice(b"\n    }");
}

/// Appends a flow's spread as [`push_element`] would, as [`push_run`] appends a run.
fn push_spread(out: &mut Vec<u8>, f: &FlowSpread) {
    use vnetsim_engine::json::rows::{push_f64, push_str};
    use vnetsim_engine::pretty_object as object;
    let spread = |out: &mut Vec<u8>, s: &Option<Spread>| match s {
        Some(s) => object!(out, "        ", "      ",
            "min" => push_f64, s.min;
            "mean" => push_f64, s.mean;
            "max" => push_f64, s.max;
        ),
        None => out.extend_from_slice(b"null"),
    };
    object!(out, "      ", "    ",
        "name" => push_str, &f.name;
        "delivered_ratio" => spread, &f.delivered_ratio;
        "throughput_bps" => spread, &f.throughput_bps;
        "latency_p99_ns" => spread, &f.latency_p99_ns;
    );
}

/// Appends `value` as an element of an array two levels deep, as the pretty printer writes it
/// there (its lines after the first indented by [`RUN_INDENT`]), without the separator before
/// it.
fn push_element<T: Serialize>(out: &mut Vec<u8>, value: &T) {
    // Two levels deep: the indentation of RUN_INDENT.
    let depth = RUN_INDENT.len() / 2;
    let mut ser =
        serde_json::Serializer::with_formatter(out, vnetsim_engine::json::PrettyAt::depth(depth));
    value
        .serialize(&mut ser)
        .expect("a report element serializes");
}

/// Elements of a head's large array formatted together, one block of text per chunk.
const ELEMENTS_PER_CHUNK: usize = 2048;

/// Writes `items` as the value of a field one level deep (`[`, each element as
/// [`push_element`] makes it, `\n  ]`), exactly as the pretty printer writes a sequence there.
/// With more than one job, chunks of elements are formatted on `jobs` threads while this one
/// writes the finished chunks in order (at most `2 * jobs` chunks wait in memory); the text is
/// the same whatever the number of jobs.
fn write_array<T: Sync>(
    out: &mut dyn Write,
    items: &[T],
    jobs: NonZeroUsize,
    element: fn(&mut Vec<u8>, &T),
) -> io::Result<()> {
    if items.is_empty() {
        return out.write_all(b"[]");
    }
    let format_chunk = |c: usize| {
        let start = c * ELEMENTS_PER_CHUNK;
        let chunk = &items[start..items.len().min(start + ELEMENTS_PER_CHUNK)];
        let mut text = Vec::new();
        for (i, item) in chunk.iter().enumerate() {
            text.extend_from_slice(if start + i == 0 { b"\n" } else { b",\n" });
            text.extend_from_slice(RUN_INDENT);
            element(&mut text, item);
        }
        text
    };
    let chunks = items.len().div_ceil(ELEMENTS_PER_CHUNK);
    let jobs = jobs.get().min(chunks);
    out.write_all(b"[")?;
    if jobs <= 1 {
        for c in 0..chunks {
            out.write_all(&format_chunk(c))?;
        }
    } else {
        let next = AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        let written = std::thread::scope(|scope| -> io::Result<()> {
            let (tx, rx) = mpsc::sync_channel::<(usize, Vec<u8>)>(jobs);
            for _ in 0..jobs {
                let tx = tx.clone();
                let (next, stop, format_chunk) = (&next, &stop, &format_chunk);
                scope.spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let c = next.fetch_add(1, Ordering::Relaxed);
                        if c >= chunks || tx.send((c, format_chunk(c))).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(tx);
            let mut waiting = BTreeMap::new();
            let mut due = 0usize;
            for (c, text) in rx {
                waiting.insert(c, text);
                while let Some(text) = waiting.remove(&due) {
                    if let Err(e) = out.write_all(&text) {
                        // The formatters stop at their next chunk; the channel drops with us.
                        stop.store(true, Ordering::Relaxed);
                        return Err(e);
                    }
                    due += 1;
                }
            }
            Ok(())
        });
        written?;
    }
    out.write_all(b"\n  ]")
}

/// The `runs` array of a report as it is made: each run's [`run_fragment`], in seed order, in
/// an anonymous temporary file (or only counted, when no report is written).
pub struct RunFragments {
    spill: Option<File>,
    count: u64,
}

impl RunFragments {
    /// Keeps the runs, in a temporary file that disappears with this value.
    pub fn spill() -> io::Result<RunFragments> {
        Ok(RunFragments {
            spill: Some(tempfile::tempfile()?),
            count: 0,
        })
    }

    /// Only counts the runs (no report will be written).
    pub fn discard() -> RunFragments {
        RunFragments {
            spill: None,
            count: 0,
        }
    }

    /// Whether runs are kept (the fragments are worth making).
    pub fn keeps(&self) -> bool {
        self.spill.is_some()
    }

    /// Appends the next run's fragment.
    pub fn push(&mut self, fragment: &[u8]) -> io::Result<()> {
        if let Some(file) = &mut self.spill {
            let sep: &[u8] = if self.count == 0 { b"\n" } else { b",\n" };
            file.write_all(sep)?;
            file.write_all(RUN_INDENT)?;
            file.write_all(fragment)?;
        }
        self.count += 1;
        Ok(())
    }

    /// Runs pushed.
    pub fn len(&self) -> u64 {
        self.count
    }

    /// Whether no run was pushed.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Writes the `runs` array, one level deep, as the pretty printer writes it.
    pub(crate) fn write_array(&mut self, out: &mut dyn Write) -> io::Result<()> {
        if self.count == 0 {
            return out.write_all(b"[]");
        }
        let Some(file) = &mut self.spill else {
            return Err(io::Error::other("the runs of this sweep were not kept"));
        };
        out.write_all(b"[")?;
        file.flush()?;
        file.rewind()?;
        // Large reads: a generic copy moves 8 KiB per system call, and the runs of a sweep of
        // 100,000 flows are about 18 MB each.
        let mut buf = vec![0u8; COPY_BUFFER];
        loop {
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.write_all(&buf[..n])?,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        out.write_all(b"\n  ]")
    }
}

/// Writes `head` (a struct serialized as a JSON object, its fields before `runs`), then the
/// `runs` array, then `tail` fields, exactly as `serde_json::to_writer_pretty` writes one
/// struct with all those fields in that order.
pub(crate) fn write_document<H: Serialize>(
    out: &mut dyn Write,
    head: &H,
    runs: &mut RunFragments,
    tail: &[(&str, u64)],
) -> io::Result<()> {
    write_document_with::<H, ()>(out, head, None, runs, tail)
}

/// A head's large last field before `runs` (its name and elements), formatted on `jobs`
/// threads.
pub(crate) struct LargeField<'a, T> {
    pub(crate) name: &'static str,
    pub(crate) items: &'a [T],
    pub(crate) jobs: NonZeroUsize,
    /// Appends one element as [`push_element`] would.
    pub(crate) element: fn(&mut Vec<u8>, &T),
}

impl<'a, T: Serialize> LargeField<'a, T> {
    /// `items` under `name`, each element serialized by serde_json.
    pub(crate) fn serialized(name: &'static str, items: &'a [T], jobs: NonZeroUsize) -> Self {
        LargeField {
            name,
            items,
            jobs,
            element: push_element::<T>,
        }
    }
}

/// [`write_document`] with `large` written after `head`'s fields (as if it were the head's
/// last field) and before `runs`, its elements formatted in parallel.
pub(crate) fn write_document_with<H: Serialize, T: Sync>(
    out: &mut dyn Write,
    head: &H,
    large: Option<LargeField<'_, T>>,
    runs: &mut RunFragments,
    tail: &[(&str, u64)],
) -> io::Result<()> {
    let head = serde_json::to_vec_pretty(head).map_err(io::Error::other)?;
    // `{\n  "a": 1,\n  ...\n}`: reopened after its last field.
    let Some(open) = head.strip_suffix(b"\n}") else {
        return Err(io::Error::other("the head of a report is not an object"));
    };
    out.write_all(open)?;
    if let Some(large) = large {
        write!(out, ",\n  \"{}\": ", large.name)?;
        write_array(out, large.items, large.jobs, large.element)?;
    }
    out.write_all(b",\n  \"runs\": ")?;
    runs.write_array(out)?;
    for (name, value) in tail {
        write!(out, ",\n  \"{name}\": {value}")?;
    }
    out.write_all(b"\n}")
}

/// The head of a merged report: its fields before `runs`.
#[derive(Serialize)]
struct ReportHead<'a> {
    format: &'static str,
    scenario: &'a str,
    seeds: &'a Seeds,
}

/// Writes the merged report (`vnetsim-sweep/1`) of `merger`'s runs, whose fragments are in
/// `runs`, without a trailing newline; its per-flow spreads are formatted on `jobs` threads
/// (the bytes do not depend on `jobs`).
pub fn write_report(
    out: &mut dyn Write,
    scenario: &str,
    seeds: &Seeds,
    merger: &Merger,
    runs: &mut RunFragments,
    jobs: NonZeroUsize,
) -> io::Result<()> {
    let head = ReportHead {
        format: REPORT_FORMAT,
        scenario,
        seeds,
    };
    let flows = merger.spreads();
    write_document_with(
        out,
        &head,
        Some(LargeField {
            name: "flows",
            items: &flows,
            jobs,
            element: push_spread,
        }),
        runs,
        &[(
            "runs_with_failed_expectations",
            merger.runs_with_failed_expectations(),
        )],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_of_nothing_is_none() {
        assert_eq!(Spread::of(std::iter::empty()), None);
        assert_eq!(
            Spread::of([1.0, 3.0, 2.0].into_iter()),
            Some(Spread {
                min: 1.0,
                mean: 2.0,
                max: 3.0
            })
        );
    }

    fn run(seed: u64, values: &[(f64, Option<u64>)]) -> SweepRun {
        SweepRun {
            variant: None,
            seed,
            wall_seconds: 0.5,
            drops_by_reason: None,
            conservation: RunConservation {
                sent: 10,
                delivered: 7,
                dropped: 2,
                in_flight: 1,
            },
            expectations_failed: seed % 2,
            flows: values
                .iter()
                .enumerate()
                .map(|(i, &(v, p99))| SweepFlow {
                    name: format!("f\"{i}\n").into(),
                    delivered_ratio: v,
                    throughput_bps: v * 1e6 + 0.1,
                    latency_p99_ns: p99,
                })
                .collect(),
        }
    }

    /// The report as one in-memory value, the way it was serialized before the merge streamed.
    #[derive(Serialize)]
    struct Whole<'a> {
        format: &'static str,
        scenario: &'a str,
        seeds: &'a Seeds,
        flows: Vec<FlowSpread>,
        runs: &'a [SweepRun],
        runs_with_failed_expectations: u64,
    }

    fn streamed(seeds: &Seeds, runs: &[SweepRun], names: usize, jobs: NonZeroUsize) -> String {
        let mut merger = Merger::new((0..names).map(|i| Arc::from(format!("f\"{i}\n"))));
        let mut fragments = RunFragments::spill().unwrap();
        for r in runs {
            merger.add(r).unwrap();
            fragments.push(&run_fragment(r)).unwrap();
        }
        let mut out = Vec::new();
        write_report(&mut out, "sc\u{e9}", seeds, &merger, &mut fragments, jobs).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_streamed_report_is_the_whole_report_byte_for_byte() {
        let runs: Vec<SweepRun> = (0..5)
            .map(|s| {
                run(
                    s,
                    &[
                        (0.1 * s as f64 + 1.0 / 3.0, Some(40_500 + s)),
                        (0.7, None),
                        (f64::MIN_POSITIVE * s as f64, (s > 2).then_some(7)),
                    ],
                )
            })
            .collect();
        let seeds = Seeds::List(vec![0, 1, 2, 3, 4]);
        for n in [0, 1, 5] {
            let spreads = |runs: &[SweepRun]| {
                (0..3)
                    .map(|i| FlowSpread {
                        name: format!("f\"{i}\n").into(),
                        delivered_ratio: Spread::of(
                            runs.iter().map(|r| r.flows[i].delivered_ratio),
                        ),
                        throughput_bps: Spread::of(runs.iter().map(|r| r.flows[i].throughput_bps)),
                        latency_p99_ns: Spread::of(
                            runs.iter()
                                .filter_map(|r| r.flows[i].latency_p99_ns.map(|v| v as f64)),
                        ),
                    })
                    .collect()
            };
            let whole = Whole {
                format: REPORT_FORMAT,
                scenario: "sc\u{e9}",
                seeds: &seeds,
                flows: spreads(&runs[..n]),
                runs: &runs[..n],
                runs_with_failed_expectations: runs[..n]
                    .iter()
                    .filter(|r| r.expectations_failed > 0)
                    .count() as u64,
            };
            for jobs in [1, 2, 3] {
                assert_eq!(
                    streamed(&seeds, &runs[..n], 3, NonZeroUsize::new(jobs).unwrap()),
                    serde_json::to_string_pretty(&whole).unwrap(),
                    "{n} runs, {jobs} jobs"
                );
            }
        }
    }

    #[derive(Serialize)]
    struct SmallHead {
        format: &'static str,
        n: u64,
    }

    #[derive(Serialize)]
    struct WholeDocument<'a> {
        format: &'static str,
        n: u64,
        items: &'a [FlowSpread],
        runs: [u8; 0],
        tail: u64,
    }

    #[test]
    fn a_large_field_is_written_as_the_pretty_printer_writes_it_on_any_number_of_threads() {
        let items: Vec<FlowSpread> = (0..2 * ELEMENTS_PER_CHUNK + 3)
            .map(|i| FlowSpread {
                name: format!("f{i}\t\u{e9}").into(),
                delivered_ratio: Spread::of([i as f64 / 7.0, 1.0].into_iter()),
                throughput_bps: (i % 3 > 0).then_some(Spread {
                    min: 0.1,
                    mean: i as f64 * 1e9 / 3.0,
                    max: f64::MAX,
                }),
                latency_p99_ns: None,
            })
            .collect();
        for n in [
            0,
            1,
            ELEMENTS_PER_CHUNK,
            ELEMENTS_PER_CHUNK + 1,
            items.len(),
        ] {
            let whole = WholeDocument {
                format: "x",
                n: n as u64,
                items: &items[..n],
                runs: [],
                tail: 7,
            };
            let expected = serde_json::to_string_pretty(&whole).unwrap();
            for jobs in [1, 2, 5] {
                let mut out = Vec::new();
                write_document_with(
                    &mut out,
                    &SmallHead {
                        format: "x",
                        n: n as u64,
                    },
                    Some(LargeField::serialized(
                        "items",
                        &items[..n],
                        NonZeroUsize::new(jobs).unwrap(),
                    )),
                    &mut RunFragments::discard(),
                    &[("tail", 7)],
                )
                .unwrap();
                assert_eq!(
                    String::from_utf8(out).unwrap(),
                    expected,
                    "{n} items, {jobs} jobs"
                );
            }
        }
    }

    /// A writer that fails after `left` bytes.
    struct Failing {
        left: usize,
    }

    impl Write for Failing {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.left == 0 {
                return Err(io::Error::other("disk full"));
            }
            let n = buf.len().min(self.left);
            self.left -= n;
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failed_write_of_a_large_field_is_returned_and_stops_the_formatters() {
        let items: Vec<FlowSpread> = (0..8 * ELEMENTS_PER_CHUNK)
            .map(|i| FlowSpread {
                name: format!("f{i}").into(),
                delivered_ratio: None,
                throughput_bps: None,
                latency_p99_ns: None,
            })
            .collect();
        for jobs in [1, 2] {
            let err = write_array(
                &mut Failing { left: 100_000 },
                &items,
                NonZeroUsize::new(jobs).unwrap(),
                push_spread,
            )
            .unwrap_err();
            assert_eq!(err.to_string(), "disk full");
        }
    }

    #[test]
    fn a_run_that_does_not_fit_is_refused_and_not_folded() {
        let mut merger = Merger::new((0..2).map(|i| Arc::from(format!("f\"{i}\n"))));
        let mut r = run(3, &[(1.0, None), (1.0, None)]);
        r.flows[1].name = "c".into();
        assert!(matches!(
            merger.add(&r),
            Err(RunMismatch::FlowName { position: 1, .. })
        ));
        r.flows.pop();
        assert_eq!(
            merger.add(&r),
            Err(RunMismatch::FlowCount {
                seed: 3,
                found: 1,
                expected: 2
            })
        );
        assert_eq!(merger.runs(), 0);
        assert_eq!(merger.tallies()[0].delivered_ratio.count, 0);
    }

    #[test]
    fn an_empty_tally_is_written_as_null() {
        assert_eq!(serde_json::to_string(&Tally::default()).unwrap(), "null");
        let mut t = Tally::default();
        t.add(2.0);
        t.add(0.5);
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            r#"{"count":2,"sum":2.5,"min":0.5,"max":2.0}"#
        );
    }

    fn float() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>(),
            Just(0.0),
            Just(-0.0),
            Just(1.0),
            Just(f64::NAN),
            Just(f64::INFINITY),
            (0u64..1_000_000_000).prop_map(|n| n as f64 / 1000.0),
        ]
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z0-9-]{0,12}",
            "[a-z\"\\\\\n\t\u{0}\u{1f}\u{7f}é😀 ]{0,8}"
        ]
    }

    fn spread() -> impl Strategy<Value = Option<Spread>> {
        proptest::option::of(
            (float(), float(), float()).prop_map(|(min, mean, max)| Spread { min, mean, max }),
        )
    }

    use proptest::prelude::*;

    proptest! {
        /// A run's fragment is the bytes serde_json's pretty printer writes for the run two
        /// levels deep, with or without a variant and drops, with no flow or several.
        #[test]
        fn a_run_fragment_is_what_serde_json_writes(
            variant in proptest::option::of(text()),
            seed in any::<u64>(),
            counts in proptest::array::uniform5(any::<u64>()),
            drops in proptest::option::of(proptest::collection::btree_map(text(), any::<u64>(), 0..3)),
            flows in proptest::collection::vec(
                (text(), float(), float(), proptest::option::of(any::<u64>())), 0..4),
        ) {
            let run = SweepRun {
                variant: variant.map(Arc::from),
                seed,
                wall_seconds: 1.5,
                conservation: RunConservation {
                    sent: counts[0],
                    delivered: counts[1],
                    dropped: counts[2],
                    in_flight: counts[3],
                },
                drops_by_reason: drops,
                expectations_failed: counts[4],
                flows: flows
                    .into_iter()
                    .map(|(name, delivered_ratio, throughput_bps, latency_p99_ns)| SweepFlow {
                        name: Arc::from(name),
                        delivered_ratio,
                        throughput_bps,
                        latency_p99_ns,
                    })
                    .collect(),
            };
            let mut serde = Vec::new();
            push_element(&mut serde, &run);
            prop_assert_eq!(
                String::from_utf8(run_fragment(&run)).unwrap(),
                String::from_utf8(serde).unwrap()
            );
        }

        /// A flow's spread is the bytes serde_json's pretty printer writes for it.
        #[test]
        fn a_flow_spread_is_what_serde_json_writes(
            name in text(), a in spread(), b in spread(), c in spread(),
        ) {
            let f = FlowSpread {
                name: Arc::from(name),
                delivered_ratio: a,
                throughput_bps: b,
                latency_p99_ns: c,
            };
            let (mut mine, mut serde) = (Vec::new(), Vec::new());
            push_spread(&mut mine, &f);
            push_element(&mut serde, &f);
            prop_assert_eq!(String::from_utf8(mine).unwrap(), String::from_utf8(serde).unwrap());
        }
    }
}
