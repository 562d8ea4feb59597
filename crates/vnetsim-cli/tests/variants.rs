//! `vnetsim sweep FILE --variants V.yaml`: the example variants file sweeps, its report names
//! and compares every variant, shards merge into it byte for byte, and bad variants files are
//! clear errors (exit code 2) naming the file, the line, the variant and the diagnostic.

mod common;

use std::path::{Path, PathBuf};

use common::{json_of, scenario, vnetsim};

fn example_variants() -> PathBuf {
    scenario("variants/vm-size-shaping.yaml")
}

fn sweep(extra: &[&str], variants: &Path, report: &Path) -> std::process::Output {
    vnetsim()
        .arg("sweep")
        .arg(scenario("vm-size-shaping.yaml"))
        .args(["--seeds", "0..2"])
        .arg("--variants")
        .arg(variants)
        .args(extra)
        .arg("--report")
        .arg(report)
        .output()
        .expect("runs")
}

/// Asserts `value` is valid against `docs/NAME`, and that the schema refuses it with another
/// format tag.
fn valid(name: &str, value: &serde_json::Value) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs")
        .join(name);
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let v = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = v.iter_errors(value).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "docs/{name}: {errors:?}");
    let mut other = value.clone();
    other["format"] = "vnetsim-sweep/1".into();
    assert!(!v.is_valid(&other), "docs/{name} accepts another format");
}

#[test]
fn the_example_variants_sweep_and_shards_merge_into_its_report() {
    let dir = tempfile::tempdir().unwrap();
    let single = dir.path().join("single.json");
    let out = sweep(&["--jobs", "2"], &example_variants(), &single);
    // The scenario's expectations describe the baseline: other variants fail some.
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("4 variants x 2 seeds: 8 replays"), "{text}");
    for name in [
        "baseline",
        "sender-d4s",
        "one-sided-peering",
        "nsg-denies-bulk",
    ] {
        assert!(text.contains(name), "{name}: {text}");
    }
    assert!(text.contains("nsg-denied"), "{text}");
    let report = json_of(&std::fs::read(&single).unwrap());
    assert_eq!(report["format"], "vnetsim-sweep-variants/1");
    assert_eq!(report["comparison"].as_array().unwrap().len(), 4);
    assert_eq!(report["runs"].as_array().unwrap().len(), 8);
    assert_eq!(report["runs"][2]["variant"], "sender-d4s");
    assert_eq!(report["runs"][2]["seed"], 0);

    // One worker, the same report.
    let one = dir.path().join("one.json");
    sweep(&["--jobs", "1"], &example_variants(), &one);
    assert_eq!(
        std::fs::read(&single).unwrap(),
        std::fs::read(&one).unwrap()
    );

    // 8 grid positions in 3 shards, merged in any order.
    let parts: Vec<PathBuf> = (0..3)
        .map(|i| {
            let part = dir.path().join(format!("part-{i}.json"));
            let out = sweep(&["--shard", &format!("{i}/3")], &example_variants(), &part);
            assert!(out.status.code().is_some_and(|c| c <= 1));
            part
        })
        .collect();
    let part = json_of(&std::fs::read(&parts[1]).unwrap());
    assert_eq!(part["format"], "vnetsim-sweep-variants-part/1");
    valid("sweep-variants-part.schema.json", &part);
    valid("sweep-variants.schema.json", &report);
    assert_eq!(part["grid"], serde_json::json!({ "start": 2, "end": 5 }));
    let merged = dir.path().join("merged.json");
    let out = vnetsim()
        .arg("merge")
        .args(parts.iter().rev())
        .arg("-o")
        .arg(&merged)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        std::fs::read(&single).unwrap(),
        std::fs::read(&merged).unwrap()
    );
    let out = vnetsim().arg("merge").args(&parts[..2]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("shard 2/3"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bad_variants_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let cases = [
        (
            "variants:\n  - name: base\n  - name: big\n    set:\n      vms[sendr].size: Standard_D4s_v3\n",
            "v.yaml:5: variant `big`: `vms[sendr].size`: `vms` has no item named `sendr` (did you mean `sender`?)",
        ),
        (
            "variants:\n  - name: tiny\n    set:\n      vms[sender].size: Standard_Z9\n",
            "v.yaml:2: variant `tiny`: the edited scenario is not valid:\n  - ",
        ),
        (
            "variants:\n  - name: a\n  - name: a\n",
            "v.yaml:3: variant name `a` is used twice",
        ),
        (
            "variants:\n  - name: a\n    remove: [\"traffic[bulk\"]\n",
            "v.yaml:3: variant `a`: `traffic[bulk` is not a path: a `[` is not closed",
        ),
        ("variant:\n  - name: a\n", "v.yaml:1: not a variants file"),
    ];
    for (body, expected) in cases {
        let v = dir.path().join("v.yaml");
        std::fs::write(&v, body).unwrap();
        let out = vnetsim()
            .current_dir(dir.path())
            .arg("sweep")
            .arg(scenario("vm-size-shaping.yaml"))
            .args(["--seeds", "0..2", "--variants", "v.yaml", "--report"])
            .arg(&report)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{body}: {err}");
        assert!(err.contains(expected), "{body}:\n{err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(!report.exists());
    }
    let out = vnetsim()
        .current_dir(dir.path())
        .arg("sweep")
        .arg(scenario("vm-size-shaping.yaml"))
        .args(["--variants", "v.yaml", "--report", "v.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = vnetsim()
        .arg("sweep")
        .arg(scenario("vm-size-shaping.yaml"))
        .args(["--variants", "/nonexistent/v.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot read the variants file"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
