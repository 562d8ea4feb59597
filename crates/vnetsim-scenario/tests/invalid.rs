//! Every file under `tests/fixtures/invalid/` breaks exactly one rule: the one its name says.
//! Its first line reads `# expect: <rule-code> line <N>`; loading it must fail with that rule
//! on that line, and with no diagnostic of another rule.
//!
//! `tests/fixtures/invalid/events/<action>/<rule-code>.yaml` break a rule through one event of
//! that action: the diagnostic names the event's field. Each action has a fixture for every
//! rule it can break (the same rules as the declaration it changes, in the file).

use std::path::{Path, PathBuf};

use vnetsim_scenario::{RULES, load_file};

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("fixture directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn fixtures() -> Vec<PathBuf> {
    yaml_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid"))
}

fn expected(path: &Path) -> (String, u32) {
    let text = std::fs::read_to_string(path).expect("readable");
    let header = text.lines().next().unwrap_or_default();
    let rest = header
        .strip_prefix("# expect: ")
        .unwrap_or_else(|| panic!("{}: no `# expect:` header", path.display()));
    let (rule, line) = rest.split_once(" line ").expect("`<rule> line <N>`");
    (rule.to_owned(), line.trim().parse().expect("line number"))
}

fn stem(path: &Path) -> String {
    path.file_stem().unwrap().to_string_lossy().into_owned()
}

/// Loads one fixture; the problems found with it (none when it fails as its header says).
/// `field` is a text the failing diagnostic's field path must contain.
fn check(path: &Path, field: &str) -> Vec<String> {
    let (rule, line) = expected(path);
    let name = stem(path);
    let mut failures = Vec::new();
    if name != rule {
        failures.push(format!("{}: file name and header disagree", path.display()));
    }
    match load_file(path) {
        Ok(_) => failures.push(format!("{name}: loaded without error")),
        Err(err) => {
            let got: Vec<_> = err
                .diagnostics
                .iter()
                .map(|d| (d.rule, d.line, d.path.as_str()))
                .collect();
            if !got
                .iter()
                .any(|(r, l, p)| *r == rule && *l == line && p.contains(field))
            {
                failures.push(format!(
                    "{name}: expected {rule} on line {line} at a field with `{field}`, got {got:?}"
                ));
            } else if got.iter().any(|(r, _, _)| *r != rule) {
                failures.push(format!("{name}: other rules too: {got:?}"));
            }
            let text = err.render(false);
            let file = path.display().to_string();
            if !text.contains(&format!("{file}:{line}:")) {
                failures.push(format!("{name}: rendering lacks {file}:{line}:\n{text}"));
            }
        }
    }
    failures
}

#[test]
fn every_fixture_fails_with_its_rule_on_its_line() {
    let failures: Vec<String> = fixtures().iter().flat_map(|p| check(p, "")).collect();
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// Each event action and the rules it can break: the rules of the declaration it changes.
const EVENT_RULES: &[(&str, &[&str])] = &[
    ("remove_peering", &["unknown-peering"]),
    (
        "add_peering",
        &[
            "unknown-vnet",
            "peering-self",
            "peering-duplicate-link",
            "peering-limit",
            "peering-classic-classic",
            "peering-from-classic",
            "peering-classic-subscription",
            "peering-cross-region",
            "peering-cross-tenant",
            "peering-address-overlap",
            "gateway-transit-cross-model",
            "use-remote-gateways-multiple",
            "use-remote-gateways-no-transit",
            "use-remote-gateways-no-remote-gateway",
            "use-remote-gateways-local-gateway",
            "udr-gateway-expressroute",
        ],
    ),
    (
        "set_route_table",
        &[
            "unknown-subnet",
            "unknown-route-table",
            "udr-gateway-expressroute",
        ],
    ),
    ("set_subnet_nsg", &["unknown-subnet", "unknown-nsg"]),
    ("set_nic_nsg", &["unknown-nic", "unknown-nsg"]),
    (
        "add_nsg_rule",
        &[
            "unknown-nsg",
            "nsg-priority-range",
            "nsg-priority-duplicate",
            "invalid-protocol",
            "invalid-address",
            "invalid-port",
            "nsg-several-tags",
            "nsg-platform-tag-outbound",
            "unknown-asg",
            "asg-with-addresses",
            "asg-several",
            "asg-rule-vnets",
        ],
    ),
    ("remove_nsg_rule", &["unknown-nsg"]),
    ("set_ip_forwarding", &["unknown-nic"]),
    (
        "update_address_space",
        &[
            "unknown-vnet",
            "invalid-cidr",
            "vnet-address-space-empty",
            "address-space-overlap",
            "address-space-reserved",
            "peering-address-overlap",
            "address-space-update-peered",
            "address-space-update-classic",
            "address-range-holds-subnets",
        ],
    ),
    ("sync_peering", &["unknown-peering"]),
    (
        "add_connection",
        &[
            "unknown-connection",
            "unknown-connection-peer",
            "connection-endpoints",
            "connection-route-based",
            "connection-bgp-settings",
            "connection-bgp-asn",
            "connection-address-overlap",
            "gateway-bgp-basic",
        ],
    ),
    ("remove_connection", &["unknown-gateway-connection"]),
    (
        "set_backend_health",
        &["lb-unknown-name", "unknown-nic", "lb-backend"],
    ),
];

#[test]
fn every_event_fixture_fails_at_its_event() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid/events");
    let mut failures = Vec::new();
    for (action, rules) in EVENT_RULES {
        let files = yaml_files(&root.join(action));
        let have: Vec<String> = files.iter().map(|p| stem(p)).collect();
        for rule in *rules {
            if !have.iter().any(|h| h == rule) {
                failures.push(format!("{action}: no fixture for {rule}"));
            }
        }
        for (path, name) in files.iter().zip(&have) {
            if !rules.contains(&name.as_str()) {
                failures.push(format!("{action}: fixture {name} is not listed"));
            }
            failures.extend(check(path, &format!("].{action}")));
        }
    }
    let actions: Vec<String> = std::fs::read_dir(&root)
        .expect("events fixtures")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    for a in &actions {
        if !EVENT_RULES.iter().any(|(action, _)| action == a) {
            failures.push(format!("fixtures for an unknown action: {a}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_rule_has_a_fixture() {
    let have: Vec<String> = fixtures().iter().map(|p| stem(p)).collect();
    let missing: Vec<_> = RULES
        .iter()
        .map(|(code, _)| *code)
        .filter(|code| *code != "io-error" && !have.iter().any(|h| h == code))
        .collect();
    assert!(missing.is_empty(), "rules without a fixture: {missing:?}");
    for h in &have {
        assert!(
            RULES.iter().any(|(c, _)| c == h),
            "fixture {h} names no rule"
        );
    }
}

#[test]
fn a_missing_file_is_an_io_error() {
    let err = load_file(Path::new("no/such/scenario.yaml")).unwrap_err();
    assert_eq!(err.rules(), vec!["io-error"]);
    assert!(err.render(false).contains("no/such/scenario.yaml"));
}
