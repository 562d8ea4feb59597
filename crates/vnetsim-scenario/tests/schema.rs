//! The checked-in JSON Schema (`docs/scenario.schema.json`) matches the raw types, and the
//! scenario reference lists every rule code. `UPDATE_SCHEMA=1` rewrites the schema file.

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

#[test]
fn reference_lists_every_rule() {
    let text = std::fs::read_to_string(docs().join("scenario-reference.md")).expect("reference");
    let missing: Vec<_> = vnetsim_scenario::RULES
        .iter()
        .filter(|(code, _)| !text.contains(&format!("`{code}`")))
        .map(|(code, _)| *code)
        .collect();
    assert!(
        missing.is_empty(),
        "rule codes missing from the reference: {missing:?}"
    );
}
