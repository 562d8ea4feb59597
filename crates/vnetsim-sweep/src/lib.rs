//! Sweeps: independent replays of one scenario, one per seed, on a pool of threads, merged into
//! one report (`vnetsim-sweep/1`).
//!
//! What it is for: the parameter study a researcher runs on one machine: parse a seed set
//! (`A..B` or `1,2,3`) with its limits checked before anything is allocated, replay each seed
//! with the deterministic engine on every core, and merge the per-flow results into min, mean and
//! max over the runs. The merged report is deterministic (wall times are kept beside it, not in
//! it), whatever the number of workers. What it is not: a command line (the CLI parses arguments
//! and prints) and not a cluster scheduler (each host runs its own sweep).

use std::fmt;
use std::num::NonZeroUsize;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use serde::Serialize;
use serde::ser::SerializeSeq;
use vnetsim_engine::report::Conservation;
use vnetsim_engine::{Engine, Options};
use vnetsim_scenario::Scenario;

/// The most seeds one sweep takes: every run's per-flow results stay in memory until the merge.
pub const MAX_SEEDS: u64 = 1_000_000;

/// The seeds of a sweep: a half-open range or an explicit list, never expanded in memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seeds {
    /// `A..B`: A, A+1, ..., B-1.
    Range {
        /// First seed.
        start: u64,
        /// One past the last seed.
        end: u64,
    },
    /// `1,2,3`: the seeds in the order given.
    List(Vec<u64>),
}

/// Why a seed set was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SeedsError {
    /// A bound or list item is not an unsigned 64-bit integer.
    #[error("`{0}` is not a seed (an integer from 0 to 18446744073709551615)")]
    NotANumber(String),
    /// `A..B` with B not above A.
    #[error("the range {start}..{end} is empty (B is excluded, so B must be greater than A)")]
    Empty {
        /// A.
        start: u64,
        /// B.
        end: u64,
    },
    /// More seeds than [`MAX_SEEDS`].
    #[error(
        "{count} seeds exceed the limit of {MAX_SEEDS} seeds per sweep (split it into several sweeps)"
    )]
    TooMany {
        /// How many seeds were asked for.
        count: u64,
    },
    /// A seed listed twice would replay the same run twice.
    #[error("seed {0} is listed twice")]
    Duplicate(u64),
}

impl FromStr for Seeds {
    type Err = SeedsError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let number = |s: &str| {
            let s = s.trim();
            s.parse::<u64>()
                .map_err(|_| SeedsError::NotANumber(s.to_string()))
        };
        if let Some((a, b)) = text.split_once("..") {
            let (start, end) = (number(a)?, number(b)?);
            if end <= start {
                return Err(SeedsError::Empty { start, end });
            }
            if end - start > MAX_SEEDS {
                return Err(SeedsError::TooMany { count: end - start });
            }
            return Ok(Seeds::Range { start, end });
        }
        let mut list = Vec::new();
        for item in text.split(',') {
            if list.len() as u64 == MAX_SEEDS {
                return Err(SeedsError::TooMany {
                    count: text.split(',').count() as u64,
                });
            }
            list.push(number(item)?);
        }
        let mut sorted = list.clone();
        sorted.sort_unstable();
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(SeedsError::Duplicate(w[0]));
        }
        Ok(Seeds::List(list))
    }
}

impl Seeds {
    /// How many seeds.
    pub fn len(&self) -> usize {
        match self {
            // The parser bounds a range by MAX_SEEDS, which fits in usize.
            Seeds::Range { start, end } => (end - start) as usize,
            Seeds::List(list) => list.len(),
        }
    }

    /// True when there is no seed (only a list built by hand can be empty).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`-th seed.
    pub fn get(&self, i: usize) -> Option<u64> {
        match self {
            Seeds::Range { start, end } => start.checked_add(i as u64).filter(|s| s < end),
            Seeds::List(list) => list.get(i).copied(),
        }
    }

    /// The seeds in order.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }
}

impl fmt::Display for Seeds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Seeds::Range { start, end } => write!(f, "{start}..{end}"),
            Seeds::List(list) => {
                for (i, s) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{s}")?;
                }
                Ok(())
            }
        }
    }
}

impl Serialize for Seeds {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.len()))?;
        for s in self.iter() {
            seq.serialize_element(&s)?;
        }
        seq.end()
    }
}

/// One replay of a sweep.
#[derive(Clone, Debug, Serialize)]
pub struct SweepRun {
    /// Its seed.
    pub seed: u64,
    /// Wall seconds the replay took (the only field that changes between identical sweeps).
    pub wall_seconds: f64,
    /// Its conservation block.
    pub conservation: Conservation,
    /// Expectations of the scenario that failed in this replay.
    pub expectations_failed: u64,
    /// Per-flow results, in the scenario's traffic order.
    pub flows: Vec<SweepFlow>,
}

/// One flow's result in one replay.
#[derive(Clone, Debug, Serialize)]
pub struct SweepFlow {
    /// The flow's name.
    pub name: String,
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
        let (mut min, mut max, mut sum, mut n) = (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0u64);
        for v in values {
            min = min.min(v);
            max = max.max(v);
            sum += v;
            n += 1;
        }
        (n > 0).then(|| Spread {
            min,
            mean: sum / n as f64,
            max,
        })
    }
}

/// One flow over all runs.
#[derive(Clone, Debug, Serialize)]
pub struct FlowSpread {
    /// The flow's name.
    pub name: String,
    /// Spread of the delivered ratio.
    pub delivered_ratio: Option<Spread>,
    /// Spread of the throughput.
    pub throughput_bps: Option<Spread>,
    /// Spread of the 99th percentile latency, over the runs that delivered a packet.
    pub latency_p99_ns: Option<Spread>,
}

/// The merged report of a sweep (`vnetsim-sweep/1`).
#[derive(Clone, Debug, Serialize)]
pub struct SweepReport {
    /// Always `vnetsim-sweep/1`.
    pub format: &'static str,
    /// The scenario's name.
    pub scenario: String,
    /// The seeds, in order.
    pub seeds: Seeds,
    /// Per-flow spreads, in the scenario's traffic order.
    pub flows: Vec<FlowSpread>,
    /// Every replay, in seed order.
    pub runs: Vec<SweepRun>,
    /// Replays with at least one failed expectation.
    pub runs_with_failed_expectations: usize,
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

fn replay(scenario: &Scenario, seed: u64) -> SweepRun {
    let started = Instant::now();
    let report = Engine::new(
        scenario,
        Options {
            seed: Some(seed),
            ..Options::default()
        },
    )
    .run();
    SweepRun {
        seed,
        wall_seconds: started.elapsed().as_secs_f64(),
        conservation: report.conservation,
        expectations_failed: report.expectations.failed,
        flows: report
            .flows
            .iter()
            .map(|f| SweepFlow {
                name: f.name.to_string(),
                delivered_ratio: f.forward.delivered_ratio,
                throughput_bps: f.forward.throughput_bps,
                latency_p99_ns: f.forward.latency_ns.map(|l| l.p99),
            })
            .collect(),
    }
}

/// Replays `scenario` once per seed on `jobs` workers (never more than there are seeds) and
/// merges the results. Workers take the next seed as they finish, so a slow seed does not hold
/// the others back; the runs are put back in seed order before the merge.
pub fn sweep(scenario: &Scenario, seeds: Seeds, jobs: NonZeroUsize) -> (SweepReport, SweepTiming) {
    let jobs = jobs.get().min(seeds.len().max(1));
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let mut slots: Vec<Option<SweepRun>> = vec![None; seeds.len()];
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..jobs)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(seed) = seeds.get(i) else { break };
                        done.push((i, replay(scenario, seed)));
                    }
                    done
                })
            })
            .collect();
        for worker in workers {
            match worker.join() {
                Ok(done) => {
                    for (i, run) in done {
                        slots[i] = Some(run);
                    }
                }
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
    let runs: Vec<SweepRun> = slots.into_iter().flatten().collect();
    let timing = SweepTiming {
        jobs,
        wall_seconds: started.elapsed().as_secs_f64(),
        busy_seconds: runs.iter().map(|r| r.wall_seconds).sum(),
    };
    (merge(scenario, seeds, runs), timing)
}

/// Merges runs (in seed order) into the sweep report.
fn merge(scenario: &Scenario, seeds: Seeds, runs: Vec<SweepRun>) -> SweepReport {
    let flows = scenario
        .traffic
        .iter()
        .enumerate()
        .map(|(i, f)| FlowSpread {
            name: f.name.to_string(),
            delivered_ratio: Spread::of(runs.iter().map(|r| r.flows[i].delivered_ratio)),
            throughput_bps: Spread::of(runs.iter().map(|r| r.flows[i].throughput_bps)),
            latency_p99_ns: Spread::of(
                runs.iter()
                    .filter_map(|r| r.flows[i].latency_p99_ns.map(|v| v as f64)),
            ),
        })
        .collect();
    let runs_with_failed_expectations = runs.iter().filter(|r| r.expectations_failed > 0).count();
    SweepReport {
        format: "vnetsim-sweep/1",
        scenario: scenario.name.to_string(),
        seeds,
        flows,
        runs,
        runs_with_failed_expectations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_lists_parse() {
        assert_eq!("0..3".parse(), Ok(Seeds::Range { start: 0, end: 3 }));
        assert_eq!(" 4 .. 6 ".parse(), Ok(Seeds::Range { start: 4, end: 6 }));
        assert_eq!("7, 1,2".parse(), Ok(Seeds::List(vec![7, 1, 2])));
        let s: Seeds = "5..8".parse().unwrap();
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![5, 6, 7]);
        assert_eq!(s.to_string(), "5..8");
    }

    #[test]
    fn a_huge_range_is_refused_before_anything_is_allocated() {
        assert_eq!(
            "0..18446744073709551615".parse::<Seeds>(),
            Err(SeedsError::TooMany { count: u64::MAX })
        );
        assert_eq!(
            "0..1000000001".parse::<Seeds>(),
            Err(SeedsError::TooMany {
                count: 1_000_000_001
            })
        );
        assert!("0..1000000".parse::<Seeds>().is_ok());
    }

    #[test]
    fn bad_seed_sets_say_why() {
        assert_eq!(
            "3..3".parse::<Seeds>(),
            Err(SeedsError::Empty { start: 3, end: 3 })
        );
        assert_eq!(
            "1,x".parse::<Seeds>(),
            Err(SeedsError::NotANumber("x".into()))
        );
        assert_eq!(
            "-1..4".parse::<Seeds>(),
            Err(SeedsError::NotANumber("-1".into()))
        );
        assert_eq!("1,2,1".parse::<Seeds>(), Err(SeedsError::Duplicate(1)));
        assert_eq!("".parse::<Seeds>(), Err(SeedsError::NotANumber("".into())));
    }

    #[test]
    fn a_range_ending_at_the_largest_seed_stays_in_bounds() {
        let s = Seeds::Range {
            start: u64::MAX - 2,
            end: u64::MAX,
        };
        assert_eq!(s.len(), 2);
        assert_eq!(s.get(1), Some(u64::MAX - 1));
        assert_eq!(s.get(2), None);
    }

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
}
