//! A sweep's merged report is the same whatever the number of workers, and counts every replay.

use std::num::NonZeroUsize;
use std::path::Path;

use vnetsim_sweep::{Seeds, sweep};

fn scenario(name: &str) -> vnetsim_scenario::Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios")
        .join(name);
    vnetsim_scenario::load_file(&path).expect("example scenario loads")
}

#[test]
fn the_report_does_not_depend_on_the_number_of_workers() {
    let sc = scenario("vm-size-shaping.yaml");
    let seeds: Seeds = "3..8".parse().unwrap();
    let json = |jobs: usize| {
        let (report, timing) = sweep(&sc, seeds.clone(), NonZeroUsize::new(jobs).unwrap());
        assert_eq!(timing.jobs, jobs.min(5));
        let mut v = serde_json::to_value(&report).unwrap();
        // Wall seconds are the one field that is measured, not simulated.
        for run in v["runs"].as_array_mut().unwrap() {
            run["wall_seconds"] = serde_json::Value::Null;
        }
        v
    };
    let one = json(1);
    assert_eq!(one, json(2));
    assert_eq!(one, json(8));
    assert_eq!(one["format"], "vnetsim-sweep/1");
    assert_eq!(one["seeds"], serde_json::json!([3, 4, 5, 6, 7]));
    let runs = one["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 5);
    for (run, seed) in runs.iter().zip(3..) {
        assert_eq!(run["seed"], seed);
        let c = &run["conservation"];
        assert_eq!(
            c["sent"].as_u64().unwrap(),
            c["delivered"].as_u64().unwrap()
                + c["dropped"].as_u64().unwrap()
                + c["in_flight"].as_u64().unwrap()
        );
    }
    assert_eq!(
        one["flows"].as_array().unwrap().len(),
        sc.traffic.len(),
        "one spread per flow"
    );
}

#[test]
fn failed_expectations_are_counted_per_run() {
    let sc = scenario("basic-peering.yaml");
    let (report, _) = sweep(&sc, "0,9".parse().unwrap(), NonZeroUsize::MIN);
    assert_eq!(report.runs.len(), 2);
    assert_eq!(report.runs_with_failed_expectations, 0);
}
