//! Sweeps over variants: an edit that changes nothing gives the scenario itself (every example
//! scenario), the report compares and lists every variant, it does not depend on the number of
//! workers, shards merge into it byte for byte, and bad variants are clear errors.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use vnetsim_engine::Prepared;
use vnetsim_sweep::edit::Node;
use vnetsim_sweep::{
    AnyMerged, MergeError, RunFragments, ScenarioId, Seeds, Shard, VARIANTS_REPORT_FORMAT,
    Variants, VariantsError, VariantsPartFile, VariantsReportFile, merge_any_parts, shard_block,
    sweep, sweep_variants,
};

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios")
}

/// vm-size-shaping.yaml with Poisson traffic and a shorter flow: every seed differs.
fn base() -> (String, vnetsim_scenario::Scenario) {
    let text = std::fs::read_to_string(scenarios_dir().join("vm-size-shaping.yaml"))
        .unwrap()
        .replace("rate: 2Gbps", "rate: 2Gbps\n    pattern: poisson")
        .replace("duration: 200ms", "duration: 20ms");
    let sc = vnetsim_scenario::load_str(&text, "shaping.yaml")
        .unwrap_or_else(|e| panic!("{}", e.render(false)));
    (text, sc)
}

const VARIANTS: &str = "\
variants:
  - name: baseline
  - name: same-size
    set:
      vms[sender].size: Standard_D2s_v3
  - name: bigger
    set:
      vms[sender].size: Standard_D4s_v3
  - name: denied
    add:
      nsgs:
        - name: rx-nsg
          rules:
            - { name: deny-bulk, priority: 100, direction: inbound, access: deny,
                protocol: udp, destination_ports: \"5001\" }
    set:
      vnets[vnet-b].subnets[default].nsg: rx-nsg
  - name: no-traffic
    remove:
      - traffic[bulk]
      - expect
";

fn jobs(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).unwrap()
}

fn grid(
    text: &str,
    sc: &vnetsim_scenario::Scenario,
    seeds: &str,
    block: Option<std::ops::Range<u64>>,
    workers: usize,
) -> vnetsim_sweep::GridMerged {
    let v = Variants::parse(VARIANTS, "v.yaml").unwrap();
    let scenarios = v.scenarios(sc, text, "shaping.yaml").unwrap();
    let seeds: Seeds = seeds.parse().unwrap();
    let block = block.unwrap_or(0..(scenarios.len() * seeds.len()) as u64);
    sweep_variants(
        &scenarios,
        &v,
        &seeds,
        block,
        jobs(workers),
        RunFragments::spill().unwrap(),
    )
    .unwrap()
    .0
}

fn text_of(write: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> String {
    let mut out = Vec::new();
    write(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn an_edit_that_changes_nothing_gives_the_scenario_itself() {
    let mut checked = 0;
    for entry in std::fs::read_dir(scenarios_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.display().to_string();
        let sc = vnetsim_scenario::load_str(&text, &name).unwrap();
        let doc: Node = serde_saphyr::from_str(&text).unwrap();
        let Node::Map(m) = &doc else { panic!("{name}") };
        let own = m["name"].brief();
        let v = Variants::parse(
            &format!("variants:\n  - name: touched\n    set:\n      name: \"{own}\"\n"),
            "v.yaml",
        )
        .unwrap();
        let edited = v
            .scenarios(&sc, &text, &name)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        // Flows, events and expectations keep the line they were written on, which the edited text (one
        // line) does not have; the sweep's report never shows them.
        let unlined = |s: &vnetsim_scenario::Scenario| {
            let mut s = s.clone();
            s.traffic.iter_mut().for_each(|f| f.line = 0);
            s.events.iter_mut().for_each(|e| e.line = 0);
            for e in &mut s.expectations {
                match e {
                    vnetsim_scenario::Expectation::Probe { line, .. }
                    | vnetsim_scenario::Expectation::Flow { line, .. } => *line = 0,
                }
            }
            s
        };
        assert!(
            unlined(&edited[0]) == unlined(&sc),
            "{name}: the edited scenario differs"
        );
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} example scenarios");
}

#[test]
fn the_report_compares_and_lists_every_variant() {
    let (text, sc) = base();
    let mut merged = grid(&text, &sc, "0..3", None, 2);
    let report: serde_json::Value =
        serde_json::from_str(&text_of(|w| merged.write_report(w))).unwrap();
    assert_eq!(report["format"], VARIANTS_REPORT_FORMAT);
    // The report reads back as the type its schema comes from (unknown fields refused).
    let typed: VariantsReportFile = serde_json::from_value(report.clone()).unwrap();
    assert_eq!(typed.comparison.len(), 5);
    assert_eq!(typed.runs[3].variant.as_deref(), Some("same-size"));
    let names: Vec<&str> = report["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["baseline", "same-size", "bigger", "denied", "no-traffic"]
    );
    let cmp = report["comparison"].as_array().unwrap();
    assert_eq!(cmp.len(), 5);
    // A size set to the one it has changes nothing: same figures, same runs.
    let strip = |v: &serde_json::Value| {
        let mut v = v.clone();
        v.as_object_mut().unwrap().remove("variant");
        v
    };
    assert_eq!(strip(&cmp[0]), strip(&cmp[1]));
    assert_eq!(
        report["variants"][0]["flows"],
        report["variants"][1]["flows"]
    );
    // The baseline's flows are those of a plain sweep of the same seeds.
    let prepared = Prepared::new(&sc);
    let (mut plain, _) = sweep(
        &prepared,
        "0..3".parse().unwrap(),
        jobs(1),
        RunFragments::spill().unwrap(),
    )
    .unwrap();
    let plain: serde_json::Value =
        serde_json::from_str(&text_of(|w| plain.write_report(w))).unwrap();
    assert_eq!(report["variants"][0]["flows"], plain["flows"]);
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 15);
    for (i, run) in runs.iter().take(3).enumerate() {
        assert_eq!(run["variant"], "baseline");
        assert_eq!(run["flows"], plain["runs"][i]["flows"]);
        assert_eq!(run["conservation"], plain["runs"][i]["conservation"]);
    }
    // The bigger size carries the whole offer; the NSG drops it all.
    let ratio = |i: usize| cmp[i]["delivered_ratio"].as_f64().unwrap();
    assert!(
        ratio(2) > 0.99 && ratio(0) < 0.6,
        "{} {}",
        ratio(2),
        ratio(0)
    );
    assert!(
        cmp[0]["drops_by_reason"]["queue-overflow"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert!(cmp[3]["drops_by_reason"]["nsg-denied"].as_u64().unwrap() > 0);
    assert_eq!(cmp[3]["throughput_bps"]["max"], 0.0);
    assert_eq!(cmp[4]["sent"], 0);
    assert!(cmp[4]["delivered_ratio"].is_null());
    assert_eq!(report["variants"][4]["flows"], serde_json::json!([]));
    assert_eq!(
        report["variants"][3]["edits"],
        serde_json::json!([
            "add nsgs[rx-nsg]",
            "set vnets[vnet-b].subnets[default].nsg = rx-nsg"
        ])
    );
    // Expectations of the baseline fail for the bigger size, every seed.
    assert_eq!(cmp[2]["runs_with_failed_expectations"], 3);
    assert_eq!(
        report["runs_with_failed_expectations"].as_u64(),
        Some(merged.runs_with_failed_expectations())
    );
}

#[test]
fn the_report_does_not_depend_on_the_number_of_workers() {
    let (text, sc) = base();
    let one = text_of(|w| grid(&text, &sc, "4,1,9", None, 1).write_report(w));
    let two = text_of(|w| grid(&text, &sc, "4,1,9", None, 2).write_report(w));
    let five = text_of(|w| grid(&text, &sc, "4,1,9", None, 5).write_report(w));
    assert_eq!(one, two);
    assert_eq!(one, five);
}

fn write_parts(
    dir: &Path,
    text: &str,
    sc: &vnetsim_scenario::Scenario,
    count: u64,
) -> Vec<PathBuf> {
    let v = Variants::parse(VARIANTS, "v.yaml").unwrap();
    let all: Seeds = "0..3".parse().unwrap();
    let id = ScenarioId {
        name: sc.name.to_string(),
        hash: vnetsim_sweep::scenario_hash(text.as_bytes()),
    };
    (0..count)
        .map(|i| {
            let shard = Shard::new(i, count).unwrap();
            let block = shard_block(shard, v.list.len(), all.len());
            let mut merged = grid(text, sc, "0..3", Some(block), 2);
            let path = dir.join(format!("part-{count}-{i}.json"));
            let body = text_of(|w| merged.write_part(w, &id, &v.hash(), &all, shard));
            let typed: VariantsPartFile = serde_json::from_str(&body).unwrap();
            assert_eq!(typed.variants.len(), 5);
            std::fs::write(&path, body).unwrap();
            path
        })
        .collect()
}

fn merged_report(paths: &[PathBuf]) -> Result<String, MergeError> {
    let mut m = merge_any_parts(paths, RunFragments::spill().unwrap())?;
    assert!(matches!(m, AnyMerged::Variants(_)));
    Ok(text_of(|w| m.write_report(w)))
}

#[test]
fn shards_merge_into_the_single_host_report_byte_for_byte() {
    let (text, sc) = base();
    let whole = text_of(|w| grid(&text, &sc, "0..3", None, 2).write_report(w));
    let dir = tempfile::tempdir().unwrap();
    // 15 positions: one shard, shards cutting variants, one per position, and empty shards.
    for count in [1, 2, 4, 15, 17] {
        let mut parts = write_parts(dir.path(), &text, &sc, count);
        parts.reverse();
        assert_eq!(merged_report(&parts).unwrap(), whole, "{count} shards");
    }
    let parts = write_parts(dir.path(), &text, &sc, 4);
    let gaps = merged_report(&parts[..3]).unwrap_err();
    assert!(
        matches!(
            gaps,
            MergeError::Gaps {
                count: 1,
                of: 4,
                ..
            }
        ),
        "{gaps}"
    );
    // 15 positions in 4 shards: shard 3 holds positions 11..15.
    assert!(
        gaps.to_string()
            .ends_with("shard 3/4 (variant `denied` seeds 2..3, variant `no-traffic` seeds 0..3)"),
        "{gaps}"
    );
    assert!(matches!(
        merged_report(&[
            parts[0].clone(),
            parts[0].clone(),
            parts[1].clone(),
            parts[2].clone()
        ]),
        Err(MergeError::Overlap { .. })
    ));
    // A part of other variants (another value in one edit) does not merge.
    let other = dir.path().join("other.json");
    let body = std::fs::read_to_string(&parts[3]).unwrap().replace(
        "\"variants_hash\": \"fnv1a64:",
        "\"variants_hash\": \"fnv1a64:0",
    );
    std::fs::write(&other, body).unwrap();
    let e =
        merged_report(&[parts[0].clone(), parts[1].clone(), parts[2].clone(), other]).unwrap_err();
    assert!(matches!(e, MergeError::Different { .. }), "{e}");
    assert!(e.to_string().contains("variants"), "{e}");
}

#[test]
fn bad_variants_are_errors_naming_the_file_line_variant_and_diagnostic() {
    let (text, sc) = base();
    let fail = |variants: &str| -> VariantsError {
        match Variants::parse(variants, "v.yaml") {
            Err(e) => e,
            Ok(v) => v.scenarios(&sc, &text, "shaping.yaml").unwrap_err(),
        }
    };
    let e = fail("variants:\n  - name: a\n  - name: b\n    set:\n      vms[sendr].size: x\n");
    assert!(matches!(e, VariantsError::Edit { line: 5, .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "v.yaml:5: variant `b`: `vms[sendr].size`: `vms` has no item named `sendr` (did you \
         mean `sender`?) (its items: sender, receiver)"
    );
    let e = fail("variants:\n  - name: tiny\n    set:\n      vms[sender].size: Standard_Z1\n");
    let VariantsError::Invalid {
        line,
        variant,
        diagnostics,
        ..
    } = &e
    else {
        panic!("{e:?}")
    };
    assert_eq!((*line, variant.as_str()), (2, "tiny"));
    assert_eq!(diagnostics[0].rule, "unknown-vm-size");
    assert_eq!(diagnostics[0].path, "vms[sender].size");
    let shown = e.to_string();
    assert!(
        shown.starts_with("v.yaml:2: variant `tiny`: the edited scenario is not valid:\n  - "),
        "{shown}"
    );
    assert!(shown.contains("[unknown-vm-size]"), "{shown}");
    // An Azure rule: a subnet outside its VNet's address space.
    let e = fail(
        "variants:\n  - name: out\n    set:\n      vnets[vnet-b].subnets[default].prefix: 10.99.0.0/24\n",
    );
    assert!(e.to_string().contains("variant `out`"), "{e}");
    assert!(matches!(e, VariantsError::Invalid { .. }));
    // An unknown field set is the loader's, with its suggestion.
    let e = fail("variants:\n  - name: typo\n    set:\n      vms[sender].sise: Standard_D4s_v3\n");
    assert!(e.to_string().contains("unknown-field"), "{e}");
    let e = fail("variants:\n  - name: a\n  - name: a\n");
    assert!(e.to_string().contains("used twice"), "{e}");
}

#[test]
fn many_variants_of_one_seed_use_every_worker() {
    let (text, sc) = base();
    let v = Variants::parse(VARIANTS, "v.yaml").unwrap();
    let scenarios = v.scenarios(&sc, &text, "shaping.yaml").unwrap();
    let seeds: Seeds = "5".parse().unwrap();
    let run = |workers: usize| {
        let (mut merged, timing) = sweep_variants(
            &scenarios,
            &v,
            &seeds,
            0..5,
            jobs(workers),
            RunFragments::spill().unwrap(),
        )
        .unwrap();
        (text_of(|w| merged.write_report(w)), timing.jobs)
    };
    let (one, used_one) = run(1);
    let (three, used_three) = run(3);
    assert_eq!((used_one, used_three), (1, 3));
    assert_eq!(one, three);
}
