//! Every tagged JSON output of the binary, run on example scenarios, is valid against its
//! checked-in JSON Schema in `docs/`, and the schemas refuse an output with a wrong tag or a
//! missing field.

mod common;

use std::path::PathBuf;

use common::{json_of, scenario, vnetsim};
use serde_json::Value;

/// The validator of `docs/NAME`.
fn validator(name: &str) -> jsonschema::Validator {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("schema file");
    let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("docs/{name}: {e}"))
}

/// Runs `vnetsim ARGS`, expects exit `code` and an object whose first field is `format`, and
/// returns stdout as JSON.
fn output(args: &[String], code: i32) -> Value {
    let out = vnetsim().args(args).output().expect("runs");
    assert_eq!(
        out.status.code(),
        Some(code),
        "vnetsim {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.trim_start()
            .strip_prefix('{')
            .is_some_and(|rest| rest.trim_start().starts_with("\"format\"")),
        "vnetsim {args:?}: the tag is not the first field: {text}"
    );
    json_of(&out.stdout)
}

/// Asserts `value` is valid against `docs/NAME`, carries `tag`, and that the schema refuses it
/// once its tag is wrong or its first non-tag field removed.
fn check(name: &str, tag: &str, value: &Value) {
    let v = validator(name);
    let errors: Vec<String> = v.iter_errors(value).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "docs/{name}: {errors:?}\n{value:#}");
    let object = value.as_object().expect("an object");
    assert_eq!(value["format"], tag);
    let mut wrong_tag = value.clone();
    wrong_tag["format"] = Value::from("vnetsim-other/1");
    assert!(!v.is_valid(&wrong_tag), "docs/{name} accepts a wrong tag");
    let mut missing = object.clone();
    let field = missing
        .keys()
        .find(|k| *k != "format")
        .cloned()
        .expect("a field besides the tag");
    missing.remove(&field);
    assert!(
        !v.is_valid(&Value::Object(missing)),
        "docs/{name} accepts an output without `{field}`"
    );
}

fn args(parts: &[&str], file: &str) -> Vec<String> {
    let mut all = vec![parts[0].to_string(), scenario(file).display().to_string()];
    all.extend(parts[1..].iter().map(|s| s.to_string()));
    all.extend(["--format", "json"].map(String::from));
    all
}

#[test]
fn validate_outputs_match_their_schema() {
    check(
        "validate.schema.json",
        "vnetsim-validate/1",
        &output(&args(&["validate"], "gateway-transit.yaml"), 0),
    );
    let bad = tempfile::Builder::new()
        .suffix(".yaml")
        .tempfile()
        .expect("temp file");
    std::fs::write(
        bad.path(),
        "name: x\nvnets:\n  - { name: a, address_space: [10.0.0.0/33], subnets: [] }\n",
    )
    .expect("write");
    let invalid = output(
        &[
            "validate".to_string(),
            bad.path().display().to_string(),
            "--format".to_string(),
            "json".to_string(),
        ],
        2,
    );
    assert!(!invalid["diagnostics"].as_array().expect("array").is_empty());
    check("validate.schema.json", "vnetsim-validate/1", &invalid);
}

#[test]
fn explain_outputs_match_their_schema() {
    for (file, from, to, port) in [
        ("hub-and-spoke.yaml", "web1", "db1", "1433"),
        ("nsg-blocks-peer.yaml", "app1", "sql1", "1433"),
        ("hub-firewall.yaml", "web1", "db2", "1433"),
        ("vnet2vnet-bgp.yaml", "a-vm", "b-vm", "22"),
    ] {
        let value = output(
            &args(
                &[
                    "explain",
                    "--from",
                    from,
                    "--to",
                    to,
                    "--protocol",
                    "tcp",
                    "--dst-port",
                    port,
                ],
                file,
            ),
            0,
        );
        check("explain.schema.json", "vnetsim-explain/1", &value);
    }
}

#[test]
fn routes_and_rules_outputs_match_their_schemas() {
    for (file, vm) in [
        ("gateway-transit.yaml", "app-vm"),
        ("asg-tiers.yaml", "app1"),
        ("nsg-blocks-peer.yaml", "sql1"),
        ("hub-spoke-default-nsg-current.yaml", "web1"),
    ] {
        let routes = output(&args(&["routes", "--vm", vm], file), 0);
        assert!(!routes["nics"].as_array().expect("nics").is_empty());
        check("routes.schema.json", "vnetsim-routes/1", &routes);
        let rules = output(&args(&["rules", "--vm", vm], file), 0);
        check("rules.schema.json", "vnetsim-rules/1", &rules);
    }
}

#[test]
fn bench_output_matches_its_schema() {
    check(
        "bench.schema.json",
        "vnetsim-bench/1",
        &output(&args(&["bench"], "gateway-transit.yaml"), 0),
    );
}

#[test]
fn matrix_output_matches_its_schema() {
    check(
        "matrix.schema.json",
        "vnetsim-matrix/1",
        &output(
            &args(&["matrix", "--ports", "22,1433"], "nsg-blocks-peer.yaml"),
            0,
        ),
    );
}

#[test]
fn diff_output_matches_its_schema() {
    let before = scenario("nsg-blocks-peer.yaml");
    let text = std::fs::read_to_string(&before).expect("scenario");
    let dir = tempfile::tempdir().expect("temp dir");
    let same = output(
        &[
            "diff".to_string(),
            before.display().to_string(),
            before.display().to_string(),
            "--format".to_string(),
            "json".to_string(),
        ],
        0,
    );
    check("diff.schema.json", "vnetsim-diff/1", &same);
    // One more VNet and VM (an endpoint on one side only) and a deny rule turned allow (changed
    // cells): exit 1.
    let after = dir.path().join("after.yaml");
    let grown = text.replacen(
        "vms:\n",
        "vms:\n  - { name: extra1, size: Standard_D2s_v3, nics: [ { name: extra1-nic, vnet: extra, subnet: s, ip: 10.99.0.4 } ] }\n",
        1,
    )
    .replacen(
        "vnets:\n",
        "vnets:\n  - { name: extra, address_space: [10.99.0.0/16], subnets: [ { name: s, prefix: 10.99.0.0/24 } ] }\n",
        1,
    )
    .replacen(
        "name: deny-app-vnet, priority: 200, direction: inbound, access: deny",
        "name: deny-app-vnet, priority: 200, direction: inbound, access: allow",
        1,
    );
    assert_ne!(grown, text);
    std::fs::write(&after, grown).expect("write");
    let changed = output(
        &[
            "diff".to_string(),
            before.display().to_string(),
            after.display().to_string(),
            "--format".to_string(),
            "json".to_string(),
        ],
        1,
    );
    assert_eq!(changed["only_after"][0], "extra1", "{changed:#}");
    assert!(
        !changed["changed"].as_array().expect("changed").is_empty(),
        "{changed:#}"
    );
    check("diff.schema.json", "vnetsim-diff/1", &changed);
}

#[test]
fn flow_verify_and_next_hop_outputs_match_their_schemas() {
    for (direction, local, remote) in [
        ("inbound", "10.1.1.4:22", "10.2.1.4:50000"),
        ("outbound", "10.1.1.4:*", "10.2.1.4:1433"),
    ] {
        let value = output(
            &args(
                &[
                    "flow-verify",
                    "--vm",
                    "web1",
                    "--direction",
                    direction,
                    "--protocol",
                    "tcp",
                    "--local",
                    local,
                    "--remote",
                    remote,
                ],
                "hub-and-spoke.yaml",
            ),
            0,
        );
        check("flow-verify.schema.json", "vnetsim-flow-verify/1", &value);
    }
    for dest in ["10.2.1.4", "8.8.8.8", "10.0.1.4"] {
        let value = output(
            &args(
                &["next-hop", "--vm", "web1", "--dest-ip", dest],
                "hub-and-spoke.yaml",
            ),
            0,
        );
        check("next-hop.schema.json", "vnetsim-next-hop/1", &value);
    }
}

/// `--format az` prints the Azure CLI's shapes (no `format` tag: they are Azure's): each is
/// valid against its schema in `docs/az/`, and the schema refuses one without a key it
/// requires.
#[test]
fn az_outputs_match_their_schemas() {
    let az = |parts: &[&str], file: &str| -> Value {
        let mut all = vec![parts[0].to_string(), scenario(file).display().to_string()];
        all.extend(parts[1..].iter().map(|s| s.to_string()));
        all.extend(["--format", "az"].map(String::from));
        let out = vnetsim().args(&all).output().expect("runs");
        assert_eq!(out.status.code(), Some(0), "vnetsim {all:?}");
        json_of(&out.stdout)
    };
    let cases: Vec<(&str, &str, Value)> = vec![
        (
            "az/routes.schema.json",
            "value",
            az(&["routes", "--vm", "app-vm"], "gateway-transit.yaml"),
        ),
        (
            "az/rules.schema.json",
            "value",
            az(&["rules", "--vm", "app1/app1-nic"], "asg-tiers.yaml"),
        ),
        (
            "az/rules.schema.json",
            "value",
            az(
                &["rules", "--vm", "web1"],
                "hub-spoke-default-nsg-current.yaml",
            ),
        ),
        (
            "az/flow-verify.schema.json",
            "access",
            az(
                &[
                    "flow-verify",
                    "--vm",
                    "web1",
                    "--direction",
                    "Inbound",
                    "--protocol",
                    "TCP",
                    "--local",
                    "10.1.1.4:22",
                    "--remote",
                    "10.2.1.4:*",
                ],
                "hub-and-spoke.yaml",
            ),
        ),
        (
            "az/next-hop.schema.json",
            "nextHopType",
            az(
                &["next-hop", "--vm", "web1", "--dest-ip", "10.2.1.4"],
                "hub-and-spoke.yaml",
            ),
        ),
    ];
    for (name, required, value) in cases {
        let v = validator(name);
        let errors: Vec<String> = v.iter_errors(&value).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "docs/{name}: {errors:?}\n{value:#}");
        let mut missing = value.as_object().expect("an object").clone();
        assert!(missing.remove(required).is_some(), "{value:#}");
        assert!(
            !v.is_valid(&Value::Object(missing)),
            "docs/{name} accepts an output without `{required}`"
        );
    }
}
