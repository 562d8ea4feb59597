//! `vnetsim sweep` and `vnetsim generate`: many replays at once, and large generated scenarios.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use serde::Serialize;
use vnetsim_engine::{Engine, Options, Report};
use vnetsim_scenario::generate::HubSpoke;

use crate::Format;
use crate::commands::{FAILED, INVALID, OK, load};

/// One replay of a sweep.
#[derive(Serialize)]
struct SweepRun {
    seed: u64,
    wall_seconds: f64,
    conservation: vnetsim_engine::report::Conservation,
    expectations_failed: u64,
    flows: Vec<SweepFlow>,
}

#[derive(Serialize)]
struct SweepFlow {
    name: String,
    delivered_ratio: f64,
    throughput_bps: f64,
    latency_p99_ns: Option<u64>,
}

/// Min, mean and max of one metric over the runs.
#[derive(Serialize)]
struct Spread {
    min: f64,
    mean: f64,
    max: f64,
}

fn spread(values: impl Iterator<Item = f64>) -> Option<Spread> {
    let v: Vec<f64> = values.collect();
    if v.is_empty() {
        return None;
    }
    Some(Spread {
        min: v.iter().copied().fold(f64::INFINITY, f64::min),
        mean: v.iter().sum::<f64>() / v.len() as f64,
        max: v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    })
}

fn parse_seeds(text: &str) -> Option<Vec<u64>> {
    if let Some((a, b)) = text.split_once("..") {
        let (a, b): (u64, u64) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
        return (a < b).then(|| (a..b).collect());
    }
    text.split(',').map(|s| s.trim().parse().ok()).collect()
}

/// `vnetsim sweep FILE --seeds A..B [--jobs N]`: independent replays in parallel, one report.
pub fn sweep(
    file: &Path,
    seeds: &str,
    jobs: Option<usize>,
    report: Option<&Path>,
    format: Format,
) -> u8 {
    let scenario = match load(file) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let Some(seeds) = parse_seeds(seeds) else {
        eprintln!("error: --seeds {seeds}: expected a range A..B (B excluded) or a list 1,2,3");
        return INVALID;
    };
    let jobs = jobs
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
        .clamp(1, seeds.len().max(1));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, SweepRun)>> = Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&seed) = seeds.get(i) else { break };
                    let t = Instant::now();
                    let r: Report = Engine::new(
                        &scenario,
                        Options {
                            seed: Some(seed),
                            ..Options::default()
                        },
                    )
                    .run();
                    let run = SweepRun {
                        seed,
                        wall_seconds: t.elapsed().as_secs_f64(),
                        conservation: r.conservation,
                        expectations_failed: r.expectations.failed,
                        flows: r
                            .flows
                            .iter()
                            .map(|f| SweepFlow {
                                name: f.name.to_string(),
                                delivered_ratio: f.forward.delivered_ratio,
                                throughput_bps: f.forward.throughput_bps,
                                latency_p99_ns: f.forward.latency_ns.map(|l| l.p99),
                            })
                            .collect(),
                    };
                    results
                        .lock()
                        .expect("no worker panics while holding the lock")
                        .push((i, run));
                }
            });
        }
    });
    let wall = started.elapsed().as_secs_f64();
    let mut runs = results.into_inner().expect("workers finished");
    runs.sort_by_key(|(i, _)| *i);
    let runs: Vec<SweepRun> = runs.into_iter().map(|(_, r)| r).collect();
    let busy: f64 = runs.iter().map(|r| r.wall_seconds).sum();
    let flows: Vec<serde_json::Value> = scenario
        .traffic
        .iter()
        .enumerate()
        .map(|(i, f)| {
            serde_json::json!({
                "name": f.name,
                "delivered_ratio": spread(runs.iter().map(|r| r.flows[i].delivered_ratio)),
                "throughput_bps": spread(runs.iter().map(|r| r.flows[i].throughput_bps)),
                "latency_p99_ns": spread(runs.iter().filter_map(|r| r.flows[i].latency_p99_ns.map(|v| v as f64))),
            })
        })
        .collect();
    let failed_runs = runs.iter().filter(|r| r.expectations_failed > 0).count();
    let merged = serde_json::json!({
        "format": "vnetsim-sweep/1",
        "scenario": scenario.name,
        "seeds": seeds,
        "flows": flows,
        "runs": runs,
        "runs_with_failed_expectations": failed_runs,
    });
    if let Some(path) = report
        && let Err(e) = std::fs::write(
            path,
            serde_json::to_string_pretty(&merged).expect("serializes") + "\n",
        )
    {
        eprintln!("error: cannot write report {}: {e}", path.display());
        return INVALID;
    }
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&merged).expect("serializes")
        ),
        Format::Text => {
            println!(
                "scenario '{}': {} replays on {jobs} worker(s) in {wall:.3} s (one after another: {busy:.3} s, speed-up {:.2}x)",
                scenario.name,
                runs.len(),
                busy / wall.max(1e-9)
            );
            for f in merged["flows"].as_array().into_iter().flatten() {
                let s = |k: &str| {
                    let v = &f[k];
                    format!(
                        "{:.4} / {:.4} / {:.4}",
                        v["min"].as_f64().unwrap_or(0.0),
                        v["mean"].as_f64().unwrap_or(0.0),
                        v["max"].as_f64().unwrap_or(0.0)
                    )
                };
                println!(
                    "flow {}: delivered ratio min/mean/max {}",
                    f["name"].as_str().unwrap_or(""),
                    s("delivered_ratio")
                );
            }
            println!(
                "{} of {} replays had failed expectations",
                failed_runs,
                runs.len()
            );
        }
    }
    if failed_runs > 0 { FAILED } else { OK }
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
        Some(path) => match std::fs::write(path, yaml) {
            Ok(()) => OK,
            Err(e) => {
                eprintln!("error: cannot write {}: {e}", path.display());
                INVALID
            }
        },
        None => {
            print!("{yaml}");
            OK
        }
    }
}
