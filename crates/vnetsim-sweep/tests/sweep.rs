//! A sweep's merged report is the same whatever the number of workers, equals the report made
//! from every run at once, and equals the merge of its shards' parts; parts that do not belong
//! together are refused.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use serde::Serialize;
use vnetsim_engine::{Engine, Options, Prepared};
use vnetsim_sweep::{
    FlowSpread, MergeError, Merged, PartFile, REPORT_FORMAT, RunFragments, ScenarioId, Seeds,
    Shard, Spread, merge_parts, scenario_hash, sweep, write_part,
};

fn scenario_text(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios")
        .join(name);
    std::fs::read_to_string(path).expect("example scenario reads")
}

/// peered-latency.yaml with Poisson traffic: every seed gives different results.
fn poisson() -> (String, vnetsim_scenario::Scenario) {
    let text = scenario_text("peered-latency.yaml").replace(
        "start: 0s, duration: 1s",
        "pattern: poisson, start: 0s, duration: 1s",
    );
    assert!(text.contains("pattern: poisson"));
    let sc = vnetsim_scenario::load_str(&text, "poisson.yaml")
        .unwrap_or_else(|e| panic!("{}", e.render(false)));
    (text, sc)
}

fn jobs(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).unwrap()
}

fn report(merged: &mut Merged) -> String {
    let mut out = Vec::new();
    merged.write_report(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn swept(prepared: &Prepared, seeds: &str, workers: usize) -> Merged {
    let (merged, timing) = sweep(
        prepared,
        seeds.parse().unwrap(),
        jobs(workers),
        RunFragments::spill().unwrap(),
    )
    .unwrap();
    assert_eq!(timing.jobs, workers.min(merged.seeds.len()));
    merged
}

#[test]
fn the_report_does_not_depend_on_the_number_of_workers() {
    let (_, sc) = poisson();
    let prepared = Prepared::new(&sc);
    let one = report(&mut swept(&prepared, "3..8", 1));
    assert_eq!(one, report(&mut swept(&prepared, "3..8", 2)));
    assert_eq!(one, report(&mut swept(&prepared, "3..8", 8)));
    let v: serde_json::Value = serde_json::from_str(&one).unwrap();
    assert_eq!(v["format"], "vnetsim-sweep/1");
    assert_eq!(v["seeds"], serde_json::json!([3, 4, 5, 6, 7]));
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 5);
    for (run, seed) in runs.iter().zip(3..) {
        assert_eq!(run["seed"], seed);
        assert!(run.get("wall_seconds").is_none(), "measured, not simulated");
        let c = &run["conservation"];
        assert_eq!(
            c["sent"].as_u64().unwrap(),
            c["delivered"].as_u64().unwrap()
                + c["dropped"].as_u64().unwrap()
                + c["in_flight"].as_u64().unwrap()
        );
    }
    let sent: Vec<u64> = runs
        .iter()
        .map(|r| r["conservation"]["sent"].as_u64().unwrap())
        .collect();
    assert!(sent.windows(2).any(|w| w[0] != w[1]), "{sent:?}");
    assert_eq!(v["flows"].as_array().unwrap().len(), sc.traffic.len());
}

/// The report as it was made before runs were merged as they finish: every run kept, the
/// spreads computed over all of them at once, the whole serialized in one go.
#[derive(Serialize)]
struct Whole {
    format: &'static str,
    scenario: String,
    seeds: Seeds,
    flows: Vec<FlowSpread>,
    runs: Vec<WholeRun>,
    runs_with_failed_expectations: usize,
}

#[derive(Serialize)]
struct WholeRun {
    seed: u64,
    conservation: vnetsim_engine::report::Conservation,
    expectations_failed: u64,
    flows: Vec<WholeFlow>,
}

#[derive(Serialize)]
struct WholeFlow {
    name: String,
    delivered_ratio: f64,
    throughput_bps: f64,
    latency_p99_ns: Option<u64>,
}

fn whole(sc: &vnetsim_scenario::Scenario, seeds: Seeds) -> String {
    let runs: Vec<WholeRun> = seeds
        .iter()
        .map(|seed| {
            let r = Engine::new(
                sc,
                Options {
                    seed: Some(seed),
                    ..Options::default()
                },
            )
            .run();
            WholeRun {
                seed,
                conservation: r.conservation,
                expectations_failed: r.expectations.failed,
                flows: r
                    .flows
                    .iter()
                    .map(|f| WholeFlow {
                        name: f.name.to_string(),
                        delivered_ratio: f.delivered_ratio,
                        throughput_bps: f.throughput_bps,
                        latency_p99_ns: f.latency_ns.map(|l| l.p99),
                    })
                    .collect(),
            }
        })
        .collect();
    let flows = sc
        .traffic
        .iter()
        .enumerate()
        .map(|(i, f)| FlowSpread {
            name: f.name.clone(),
            delivered_ratio: Spread::of(runs.iter().map(|r| r.flows[i].delivered_ratio)),
            throughput_bps: Spread::of(runs.iter().map(|r| r.flows[i].throughput_bps)),
            latency_p99_ns: Spread::of(
                runs.iter()
                    .filter_map(|r| r.flows[i].latency_p99_ns.map(|v| v as f64)),
            ),
        })
        .collect();
    let runs_with_failed_expectations = runs.iter().filter(|r| r.expectations_failed > 0).count();
    serde_json::to_string_pretty(&Whole {
        format: REPORT_FORMAT,
        scenario: sc.name.to_string(),
        seeds,
        flows,
        runs,
        runs_with_failed_expectations,
    })
    .unwrap()
}

#[test]
fn the_merged_report_equals_the_report_of_every_run_at_once() {
    let (_, sc) = poisson();
    let prepared = Prepared::new(&sc);
    for seeds in ["0..6", "9,2,5"] {
        assert_eq!(
            report(&mut swept(&prepared, seeds, 2)),
            whole(&sc, seeds.parse().unwrap()),
            "{seeds}"
        );
    }
    // Several flows, some never delivered in some runs (no latency), timed changes.
    let sc = vnetsim_scenario::load_str(&scenario_text("peering-removed.yaml"), "p.yaml")
        .unwrap_or_else(|e| panic!("{}", e.render(false)));
    assert_eq!(
        report(&mut swept(&Prepared::new(&sc), "0..3", 2)),
        whole(&sc, "0..3".parse().unwrap())
    );
}

/// Writes the parts of `shards` shards of `seeds` into `dir`, returning their paths.
fn write_parts(
    dir: &Path,
    text: &str,
    prepared: &Prepared,
    seeds: &str,
    shards: u64,
) -> Vec<PathBuf> {
    let all: Seeds = seeds.parse().unwrap();
    let id = ScenarioId {
        name: prepared.scenario().name.to_string(),
        hash: scenario_hash(text.as_bytes()),
    };
    (0..shards)
        .map(|index| {
            let shard = Shard::new(index, shards).unwrap();
            let (mut merged, _) = sweep(
                prepared,
                all.shard(shard),
                jobs(2),
                RunFragments::spill().unwrap(),
            )
            .unwrap();
            let mut out = Vec::new();
            write_part(&mut out, &mut merged, &id, &all, shard).unwrap();
            let path = dir.join(format!("part-{index}.json"));
            std::fs::write(&path, out).unwrap();
            path
        })
        .collect()
}

fn merged(paths: &[PathBuf]) -> Result<String, MergeError> {
    let mut m = merge_parts(paths, RunFragments::spill().unwrap())?;
    Ok(report(&mut m))
}

#[test]
fn the_merge_of_the_shards_equals_the_single_host_sweep() {
    let (text, sc) = poisson();
    let prepared = Prepared::new(&sc);
    let dir = tempfile::tempdir().unwrap();
    let single = report(&mut swept(&prepared, "0..6", 1));
    let mut parts = write_parts(dir.path(), &text, &prepared, "0..6", 3);
    assert_eq!(merged(&parts).unwrap(), single);
    // In any order.
    parts.reverse();
    assert_eq!(merged(&parts).unwrap(), single);
    // More shards than seeds: the empty parts merge too.
    let dir = tempfile::tempdir().unwrap();
    let parts = write_parts(dir.path(), &text, &prepared, "4,1,7", 5);
    assert_eq!(
        merged(&parts).unwrap(),
        report(&mut swept(&prepared, "4,1,7", 2))
    );
    // A part carries what the merge checks, and its shard's tallies; it is of the type the
    // schema is made from, which refuses unknown fields.
    let text = std::fs::read_to_string(&parts[4]).unwrap();
    let typed: PartFile = serde_json::from_str(&text).unwrap();
    assert_eq!(typed.runs.len(), 1);
    let part: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(part["format"], "vnetsim-sweep-part/1");
    assert_eq!(part["sweep_seeds"], "4,1,7");
    assert_eq!(part["shard"], serde_json::json!({"index": 4, "count": 5}));
    assert_eq!(part["seeds"], serde_json::json!([7]));
    assert_eq!(part["flows"][0]["delivered_ratio"]["count"], 1);
    assert!(
        part["scenario_hash"]
            .as_str()
            .unwrap()
            .starts_with("fnv1a64:")
    );
}

#[test]
fn parts_that_do_not_belong_together_are_refused() {
    let (text, sc) = poisson();
    let prepared = Prepared::new(&sc);
    let dir = tempfile::tempdir().unwrap();
    let parts = write_parts(dir.path(), &text, &prepared, "0..6", 3);

    // A shard missing: the gap names it and its seeds.
    let err = merged(&parts[..2]).unwrap_err();
    assert!(
        matches!(
            err,
            MergeError::Gaps {
                count: 1,
                of: 3,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("shard 2/3 (seeds 4..6)"), "{err}");

    // A shard twice.
    let twice = [parts[0].clone(), parts[1].clone(), parts[1].clone()];
    let err = merged(&twice).unwrap_err();
    assert!(matches!(err, MergeError::Overlap { .. }), "{err}");
    assert!(
        err.to_string().contains("shard 1/3 is given twice"),
        "{err}"
    );

    // A part of another file (the same scenario with one more space).
    let other_dir = tempfile::tempdir().unwrap();
    let other = write_parts(other_dir.path(), &format!("{text} "), &prepared, "0..6", 3);
    let err = merged(&[parts[0].clone(), parts[1].clone(), other[2].clone()]).unwrap_err();
    assert!(matches!(err, MergeError::Different { .. }), "{err}");
    assert!(
        err.to_string().contains("scenario 'peered-latency'"),
        "{err}"
    );

    // A part of another split or seed set.
    let split = write_parts(other_dir.path(), &text, &prepared, "0..6", 2);
    let err = merged(&[parts[0].clone(), split[1].clone()]).unwrap_err();
    assert!(err.to_string().contains("3 shards and 2 shards"), "{err}");
    let seeds = write_parts(other_dir.path(), &text, &prepared, "0..7", 3);
    let err = merged(&[parts[0].clone(), seeds[1].clone()]).unwrap_err();
    assert!(
        err.to_string().contains("seeds 0..6 and seeds 0..7"),
        "{err}"
    );

    // A merged report is not a part.
    let report_path = dir.path().join("report.json");
    std::fs::write(&report_path, report(&mut swept(&prepared, "0..6", 1))).unwrap();
    let err = merged(&[report_path]).unwrap_err();
    assert!(matches!(err, MergeError::NotAPart { .. }), "{err}");
    assert!(err.to_string().contains("merged report"), "{err}");

    // A part whose runs were edited.
    let edited = dir.path().join("edited.json");
    let body =
        std::fs::read_to_string(&parts[2])
            .unwrap()
            .replacen("\"seed\": 4", "\"seed\": 40", 1);
    std::fs::write(&edited, body).unwrap();
    let err = merged(&[parts[0].clone(), parts[1].clone(), edited]).unwrap_err();
    assert!(matches!(err, MergeError::Inconsistent { .. }), "{err}");
    assert!(err.to_string().contains("seed 40"), "{err}");

    // Not JSON, missing, nothing.
    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "{\"format\": ").unwrap();
    assert!(matches!(merged(&[garbage]), Err(MergeError::Parse { .. })));
    assert!(matches!(
        merged(&[dir.path().join("absent.json")]),
        Err(MergeError::Read { .. })
    ));
    assert!(matches!(merged(&[]), Err(MergeError::NoParts)));
}

#[test]
fn failed_expectations_are_counted_per_run() {
    let sc = vnetsim_scenario::load_str(&scenario_text("basic-peering.yaml"), "b.yaml")
        .unwrap_or_else(|e| panic!("{}", e.render(false)));
    let (merged, _) = sweep(
        &Prepared::new(&sc),
        "0,9".parse().unwrap(),
        NonZeroUsize::MIN,
        RunFragments::discard(),
    )
    .unwrap();
    assert_eq!(merged.runs.len(), 2);
    assert_eq!(merged.merger.runs(), 2);
    assert_eq!(merged.merger.runs_with_failed_expectations(), 0);
}
