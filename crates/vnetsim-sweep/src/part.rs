//! Part files of a sharded sweep (`vnetsim-sweep-part/1`) and their merge into the report a
//! single host would have written.
//!
//! What it is for: a sweep split over the tasks of a cluster job array. Each task replays its
//! shard's seeds (a contiguous block, see `seeds`) and writes a part: the scenario's identity
//! (name and a hash of the file's bytes), the whole sweep's seed set, its shard and seeds, its
//! per-flow tallies (count, sum, min and max of each metric) and its runs, in the report's
//! format. [`merge_parts`] checks that the parts belong together (same scenario, same seed set,
//! same number of shards, each shard once, none missing) and folds their runs in seed order, so
//! the merged report is byte-identical to the one sweep on one host would write. It reads one
//! part at a time (twice: the heads first, then the runs), so its memory is that of the largest
//! part, not of the whole sweep. What it is not: a scheduler (the job array runs the shards).
//!
//! The tallies of a part summarise it for a reader; the merge folds the runs themselves, one
//! by one, because floating-point sums depend on the order of their terms and the report's
//! means must equal those of one sweep.

use std::fs::File;
use std::io::{self, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use crate::Merged;
use crate::merge::{
    LargeField, Merger, REPORT_FORMAT, RunFragments, SweepRun, run_fragment, write_document_with,
};
use crate::seeds::{Seeds, Shard};

/// The format of a part file.
pub const PART_FORMAT: &str = "vnetsim-sweep-part/1";

/// What a part says about its scenario, so parts of different scenarios never merge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioId {
    /// The scenario's name.
    pub name: String,
    /// [`scenario_hash`] of the scenario file's bytes.
    pub hash: String,
}

/// A 64-bit FNV-1a hash of a scenario file's bytes, as `fnv1a64:` and 16 hex digits: the same
/// file gives the same hash on every host and version (a fixed algorithm, no random seed).
/// An identity check against mistakes, not a defence against forgery.
pub fn scenario_hash(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("fnv1a64:{h:016x}")
}

/// The head of a part: its fields before `runs`.
#[derive(Serialize)]
struct PartHead<'a> {
    format: &'static str,
    scenario: &'a str,
    scenario_hash: &'a str,
    sweep_seeds: String,
    shard: Shard,
    seeds: &'a Seeds,
}

/// Writes `merged` (the sweep of shard `shard` of `sweep_seeds`) as a part file, without a
/// trailing newline.
pub fn write_part(
    out: &mut dyn Write,
    merged: &mut Merged,
    id: &ScenarioId,
    sweep_seeds: &Seeds,
    shard: Shard,
) -> io::Result<()> {
    let head = PartHead {
        format: PART_FORMAT,
        scenario: &id.name,
        scenario_hash: &id.hash,
        sweep_seeds: sweep_seeds.to_string(),
        shard,
        seeds: &merged.seeds,
    };
    let failed = merged.merger.runs_with_failed_expectations();
    write_document_with(
        out,
        &head,
        Some(LargeField::serialized(
            "flows",
            merged.merger.tallies(),
            merged.jobs,
        )),
        &mut merged.runs,
        &[("runs_with_failed_expectations", failed)],
    )
}

/// A part file as one type, for its JSON Schema ([`part_schema`], `docs/sweep-part.schema.json`);
/// the merge itself reads a part in two passes, without this type.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "vnetsim sweep part (vnetsim-sweep-part/1)")]
pub struct PartFile {
    /// Always `vnetsim-sweep-part/1`.
    pub format: String,
    /// The scenario's name.
    pub scenario: String,
    /// `fnv1a64:` and 16 hex digits: the hash of the scenario file's bytes.
    pub scenario_hash: String,
    /// The whole sweep's seeds as given to `--seeds` (`A..B` or `1,2,3`).
    pub sweep_seeds: String,
    /// Which shard this part is.
    pub shard: Shard,
    /// This shard's seeds, in order: its contiguous block of the sweep's seeds.
    pub seeds: Vec<u64>,
    /// This shard's tallies per flow, in the scenario's traffic order.
    pub flows: Vec<PartFlowTally>,
    /// This shard's runs, in seed order, as the merged report lists them.
    pub runs: Vec<SweepRun>,
    /// Runs of this shard with at least one failed expectation.
    pub runs_with_failed_expectations: u64,
}

/// One flow's tallies in a part.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PartFlowTally {
    /// The flow's name.
    pub name: String,
    /// Of the delivered ratio (`null`: no run).
    pub delivered_ratio: Option<TallyValues>,
    /// Of the throughput in bits per second (`null`: no run).
    pub throughput_bps: Option<TallyValues>,
    /// Of the 99th percentile latency in ns, over the runs that delivered a packet (`null`:
    /// none did).
    pub latency_p99_ns: Option<TallyValues>,
}

/// Count, sum, min and max of one metric over a shard's runs.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TallyValues {
    /// Values.
    pub count: u64,
    /// Their sum, in seed order.
    pub sum: f64,
    /// The smallest.
    pub min: f64,
    /// The largest.
    pub max: f64,
}

/// The JSON Schema of a part file (`docs/sweep-part.schema.json`).
pub fn part_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(PartFile)).expect("schema serializes")
}

/// Why parts could not be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// No part was given.
    #[error("no part file given")]
    NoParts,
    /// A part could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The part.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A part is not JSON of the expected shape.
    #[error("{path} is not a sweep part: {source}")]
    Parse {
        /// The part.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// A JSON file of another format.
    #[error("{path} is not a sweep part ({PART_FORMAT}): its format is {found}{hint}")]
    NotAPart {
        /// The file.
        path: PathBuf,
        /// Its `format`, quoted, or `missing`.
        found: String,
        /// Advice for a known other format.
        hint: &'static str,
    },
    /// Two parts disagree on what they are parts of.
    #[error("{a} and {b} are parts of different sweeps: {what}")]
    Different {
        /// The first part read.
        a: PathBuf,
        /// The part that differs.
        b: PathBuf,
        /// What differs, with both values.
        what: String,
    },
    /// One shard given twice.
    #[error("shard {shard} is given twice ({a} and {b}); each shard must be given once")]
    Overlap {
        /// The shard.
        shard: Shard,
        /// One part.
        a: PathBuf,
        /// The other.
        b: PathBuf,
    },
    /// Shards missing.
    #[error("{count} of {of} shards missing, so these seeds have no runs: {list}")]
    Gaps {
        /// How many shards are missing.
        count: u64,
        /// The number of shards.
        of: u64,
        /// The first missing shards with their seeds.
        list: String,
    },
    /// The runs could not be kept in a temporary file.
    #[error("cannot keep the runs in a temporary file: {0}")]
    Spill(io::Error),
    /// A part contradicts itself.
    #[error("{path} is inconsistent: {why}")]
    Inconsistent {
        /// The part.
        path: PathBuf,
        /// What contradicts what.
        why: String,
    },
}

/// A part's head, read without its runs. Every field is optional so that a file of another
/// format is named as such rather than as a missing field.
#[derive(Deserialize)]
struct PartHeader {
    format: Option<String>,
    scenario: Option<String>,
    scenario_hash: Option<String>,
    sweep_seeds: Option<String>,
    shard: Option<Shard>,
    seeds: Option<Vec<u64>>,
    flows: Option<Vec<PartFlow>>,
    #[serde(default)]
    #[allow(dead_code)]
    runs: Option<IgnoredAny>,
    runs_with_failed_expectations: Option<u64>,
}

#[derive(Deserialize)]
struct PartFlow {
    name: Arc<str>,
}

/// A part's runs, read in the second pass.
#[derive(Deserialize)]
struct PartRuns {
    runs: Vec<SweepRun>,
}

/// A checked head.
struct Head {
    path: PathBuf,
    scenario: String,
    hash: String,
    sweep_seeds: String,
    shard: Shard,
    seeds: Vec<u64>,
    flows: Vec<Arc<str>>,
    failed: u64,
}

pub(crate) fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, MergeError> {
    let file = File::open(path).map_err(|source| MergeError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_reader(BufReader::with_capacity(1 << 16, file)).map_err(|source| {
        if source.is_io() {
            MergeError::Read {
                path: path.to_path_buf(),
                source: source.into(),
            }
        } else {
            MergeError::Parse {
                path: path.to_path_buf(),
                source,
            }
        }
    })
}

fn read_head(path: &Path) -> Result<Head, MergeError> {
    let h: PartHeader = read_json(path)?;
    if h.format.as_deref() != Some(PART_FORMAT) {
        let hint = if h.format.as_deref() == Some(REPORT_FORMAT) {
            "; it is a merged report, and only the parts written by `sweep --shard` merge"
        } else {
            ""
        };
        return Err(MergeError::NotAPart {
            path: path.to_path_buf(),
            found: h
                .format
                .map(|f| format!("`{f}`"))
                .unwrap_or_else(|| "missing".into()),
            hint,
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
        sweep_seeds: h.sweep_seeds.ok_or_else(|| missing("sweep_seeds"))?,
        shard: h.shard.ok_or_else(|| missing("shard"))?,
        seeds: h.seeds.ok_or_else(|| missing("seeds"))?,
        flows: h
            .flows
            .ok_or_else(|| missing("flows"))?
            .into_iter()
            .map(|f| f.name)
            .collect(),
        failed: h
            .runs_with_failed_expectations
            .ok_or_else(|| missing("runs_with_failed_expectations"))?,
    })
}

/// The most missing shards an error lists one by one.
const GAPS_LISTED: usize = 10;

/// What the merges of both kinds of part read first from each part: enough to check that the
/// parts belong to one sweep.
pub(crate) trait ShardHead {
    /// The part's file.
    fn path(&self) -> &Path;
    /// The scenario's name and the hash of its file.
    fn scenario(&self) -> (&str, &str);
    /// The whole sweep's seeds as given to `--seeds`.
    fn sweep_seeds(&self) -> &str;
    /// Which shard this is.
    fn shard(&self) -> Shard;
}

impl ShardHead for Head {
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

/// Reads the head of every part at `paths` and checks they are the shards of one sweep: the
/// same scenario, seeds and number of shards (and what `differs` adds: a difference in words),
/// each shard once. The heads come back in shard order, with the sweep's seeds.
pub(crate) fn ordered_heads<H: ShardHead>(
    paths: &[PathBuf],
    read: impl Fn(&Path) -> Result<H, MergeError>,
    differs: impl Fn(&H, &H) -> Option<String>,
) -> Result<(Vec<H>, Seeds), MergeError> {
    let Some(first) = paths.first() else {
        return Err(MergeError::NoParts);
    };
    let first = read(first)?;
    let mut heads = Vec::with_capacity(paths.len());
    for path in &paths[1..] {
        let h = read(path)?;
        let differ = |what: String| MergeError::Different {
            a: first.path().to_path_buf(),
            b: h.path().to_path_buf(),
            what,
        };
        let ((name_a, hash_a), (name_b, hash_b)) = (first.scenario(), h.scenario());
        if (name_a, hash_a) != (name_b, hash_b) {
            return Err(differ(format!(
                "scenario '{name_a}' ({hash_a}) and scenario '{name_b}' ({hash_b})"
            )));
        }
        if let Some(what) = differs(&first, &h) {
            return Err(differ(what));
        }
        if h.sweep_seeds() != first.sweep_seeds() {
            return Err(differ(format!(
                "seeds {} and seeds {}",
                first.sweep_seeds(),
                h.sweep_seeds()
            )));
        }
        if h.shard().count != first.shard().count {
            return Err(differ(format!(
                "{} shards and {} shards",
                first.shard().count,
                h.shard().count
            )));
        }
        heads.push(h);
    }
    heads.push(first);
    heads.sort_by_key(|h| h.shard().index);
    if let Some(w) = heads.windows(2).find(|w| w[0].shard() == w[1].shard()) {
        return Err(MergeError::Overlap {
            shard: w[0].shard(),
            a: w[0].path().to_path_buf(),
            b: w[1].path().to_path_buf(),
        });
    }
    let head = &heads[0];
    let seeds: Seeds = head
        .sweep_seeds()
        .parse()
        .map_err(|e| MergeError::Inconsistent {
            path: head.path().to_path_buf(),
            why: format!("its sweep_seeds `{}`: {e}", head.sweep_seeds()),
        })?;
    Ok((heads, seeds))
}

/// Merges the parts at `paths` (in any order) into the sweep they are parts of: every shard
/// of one sweep of one scenario file, each once. Runs are kept in `runs` (or only counted).
pub fn merge_parts(paths: &[PathBuf], mut runs: RunFragments) -> Result<Merged, MergeError> {
    let (heads, seeds) = ordered_heads(paths, read_head, |_, _| None)?;
    let head = &heads[0];
    let count = head.shard.count;
    if heads.len() as u64 != count {
        let present: std::collections::BTreeSet<u64> =
            heads.iter().map(|h| h.shard.index).collect();
        let missing: Vec<u64> = (0..count).filter(|i| !present.contains(i)).collect();
        let mut list: Vec<String> = missing
            .iter()
            .take(GAPS_LISTED)
            .map(|&index| {
                let shard = Shard { index, count };
                let block = seeds.shard(shard);
                let seeds = match &block {
                    Seeds::Range { start, end } if end > start => format!("seeds {start}..{end}"),
                    Seeds::List(l) if !l.is_empty() => format!("seeds {block}"),
                    _ => "no seeds".to_string(),
                };
                format!("shard {shard} ({seeds})")
            })
            .collect();
        if missing.len() > GAPS_LISTED {
            list.push(format!("and {} more", missing.len() - GAPS_LISTED));
        }
        return Err(MergeError::Gaps {
            count: missing.len() as u64,
            of: count,
            list: list.join(", "),
        });
    }
    let names = head.flows.clone();
    let scenario = head.scenario.clone();
    let mut merger = Merger::new(names.iter().cloned());
    for h in &heads {
        let inconsistent = |why: String| MergeError::Inconsistent {
            path: h.path.clone(),
            why,
        };
        let expected = seeds.shard(h.shard);
        if !h.seeds.iter().copied().eq(expected.iter()) {
            return Err(inconsistent(format!(
                "shard {} of seeds {} holds the seeds {}, but its part lists others",
                h.shard, h.sweep_seeds, expected
            )));
        }
        if h.flows != names {
            return Err(inconsistent(
                "its flows are not those of the other parts".into(),
            ));
        }
        let part: PartRuns = read_json(&h.path)?;
        if part.runs.len() != h.seeds.len() {
            return Err(inconsistent(format!(
                "{} runs for {} seeds",
                part.runs.len(),
                h.seeds.len()
            )));
        }
        let before = merger.runs_with_failed_expectations();
        for (run, &seed) in part.runs.iter().zip(&h.seeds) {
            if run.seed != seed {
                return Err(inconsistent(format!(
                    "a run of seed {} where seed {seed} comes next",
                    run.seed
                )));
            }
            merger.add(run).map_err(|e| inconsistent(e.to_string()))?;
            runs.push(&run_fragment(run)).map_err(MergeError::Spill)?;
        }
        if merger.runs_with_failed_expectations() - before != h.failed {
            return Err(inconsistent(format!(
                "runs_with_failed_expectations is {}, but {} of its runs failed expectations",
                h.failed,
                merger.runs_with_failed_expectations() - before
            )));
        }
    }
    Ok(Merged {
        scenario,
        seeds,
        merger,
        runs,
        jobs: crate::default_jobs(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scenario_hash_is_fixed() {
        // FNV-1a test vectors.
        assert_eq!(scenario_hash(b""), "fnv1a64:cbf29ce484222325");
        assert_eq!(scenario_hash(b"a"), "fnv1a64:af63dc4c8601ec8c");
        assert_ne!(scenario_hash(b"name: a\n"), scenario_hash(b"name: b\n"));
    }

    /// The checked-in `docs/sweep-part.schema.json` is the schema of [`PartFile`];
    /// `UPDATE_SCHEMA=1` rewrites it.
    #[test]
    fn checked_in_part_schema_is_current() {
        let fresh = serde_json::to_string_pretty(&part_schema()).expect("json") + "\n";
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../docs/sweep-part.schema.json");
        if std::env::var_os("UPDATE_SCHEMA").is_some_and(|v| v == "1") {
            std::fs::write(&path, &fresh).expect("write schema");
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == fresh,
            "docs/sweep-part.schema.json is out of date; run with UPDATE_SCHEMA=1 to rewrite it"
        );
        for field in [
            "scenario_hash",
            "sweep_seeds",
            "shard",
            "runs",
            "latency_p99_ns",
        ] {
            assert!(fresh.contains(&format!("\"{field}\"")), "{field}");
        }
    }
}
