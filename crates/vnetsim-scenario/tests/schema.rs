//! The checked-in JSON Schema (`docs/scenario.schema.json`) matches the raw types, and the
//! scenario reference has one row per rule code. `UPDATE_SCHEMA=1` rewrites the schema file.

use std::path::PathBuf;

fn docs() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs")
}

#[test]
fn checked_in_schema_is_current() {
    let fresh =
        serde_json::to_string_pretty(&vnetsim_scenario::json_schema()).expect("json") + "\n";
    let path = docs().join("scenario.schema.json");
    if std::env::var_os("UPDATE_SCHEMA").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(docs()).expect("docs dir");
        std::fs::write(&path, &fresh).expect("write schema");
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == fresh,
        "docs/scenario.schema.json is out of date; run with UPDATE_SCHEMA=1 to rewrite it"
    );
}

#[test]
fn schema_describes_the_additions() {
    let schema = vnetsim_scenario::json_schema().to_string();
    for field in [
        "address_space",
        "bandwidth",
        "disable_gateway_route_propagation",
        "use_remote_gateways",
        "jitter",
        "shaping",
        "queue_bytes",
        "burst_bytes",
        "pricing",
        "peering_egress_per_gb",
        "peering_ingress_per_gb",
    ] {
        assert!(schema.contains(&format!("\"{field}\"")), "{field}");
    }
}

/// The rows of the reference's "Rules and their codes" table.
fn reference_rule_rows() -> Vec<String> {
    let text = std::fs::read_to_string(docs().join("scenario-reference.md")).expect("reference");
    let table = text
        .split("## Rules and their codes")
        .nth(1)
        .expect("a `Rules and their codes` section");
    let table = table.split("\n## ").next().unwrap_or_default();
    table
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_rule_has_its_reference_row_and_every_row_a_rule() {
    use vnetsim_scenario::Rule;
    let rows = reference_rule_rows();
    let missing: Vec<String> = Rule::ALL
        .iter()
        .map(|r| r.docs_row())
        .filter(|row| !rows.contains(row))
        .collect();
    assert!(
        missing.is_empty(),
        "rules whose row is missing from (or differs in) the reference:\n{}",
        missing.join("\n")
    );
    let stray: Vec<&String> = rows
        .iter()
        .filter(|row| !Rule::ALL.iter().any(|r| r.docs_row() == **row))
        .collect();
    assert!(stray.is_empty(), "reference rows naming no rule: {stray:?}");
    assert_eq!(rows.len(), Rule::ALL.len(), "a rule listed twice");
}
