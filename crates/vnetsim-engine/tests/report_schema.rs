//! The report's JSON Schema (`docs/report.schema.json`) is generated from the types the report
//! is serialized from, is checked in up to date (`UPDATE_SCHEMA=1` rewrites it), and holds for
//! the reports of example scenarios that cover flows with replies and drops, probes, timed
//! events, gateways and a firewall. The schema denies unknown fields, so a field the types do
//! not declare fails here.

use std::path::{Path, PathBuf};

use vnetsim_engine::{Engine, Options, Report};

fn docs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs")
}

fn schema_text() -> String {
    let schema = schemars::schema_for!(Report);
    serde_json::to_string_pretty(&schema).expect("the schema serializes") + "\n"
}

#[test]
fn the_checked_in_report_schema_is_current() {
    let path = docs().join("report.schema.json");
    let text = schema_text();
    if std::env::var_os("UPDATE_SCHEMA").is_some_and(|v| v == "1") {
        std::fs::write(&path, &text).expect("write the schema");
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == text,
        "docs/report.schema.json is out of date; run with UPDATE_SCHEMA=1 to rewrite it"
    );
}

#[test]
fn example_reports_validate_against_the_schema() {
    let schema: serde_json::Value =
        serde_json::from_str(&schema_text()).expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let scenarios = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    for name in [
        "hub-and-spoke.yaml",
        "nsg-rule-added.yaml",
        "peered-latency.yaml",
        "peering-removed.yaml",
        "flow-limit.yaml",
        "gateway-transit.yaml",
        "firewall-dnat.yaml",
    ] {
        let scenario = vnetsim_scenario::load_file(&scenarios.join(name))
            .unwrap_or_else(|e| panic!("{name}: {}", e.render(false)));
        let report = Engine::new(&scenario, Options::default()).run();
        let json = serde_json::to_value(&report).expect("the report serializes");
        let errors: Vec<String> = validator
            .iter_errors(&json)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{name}:\n{}", errors.join("\n"));
    }
    // A field the types do not have is refused.
    let scenario = vnetsim_scenario::load_file(&scenarios.join("nsg-rule-added.yaml"))
        .expect("the example loads");
    let mut json =
        serde_json::to_value(Engine::new(&scenario, Options::default()).run()).expect("JSON");
    json["flows"][0]["forward"] = serde_json::json!({ "sent": 1 });
    assert!(!validator.is_valid(&json));
}
