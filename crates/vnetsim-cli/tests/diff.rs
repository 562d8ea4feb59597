//! `vnetsim diff`: a pull request removing one firewall rule lists exactly the flows it
//! changes, and gates on them.

mod common;

use std::path::PathBuf;

use common::{scenario, vnetsim};
use serde_json::Value;

fn template(dir: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../vnetsim-import/tests/data")
        .join(dir)
        .join("azuredeploy.json")
}

#[test]
fn removing_a_firewall_rule_lists_exactly_the_flows_it_allowed_and_exits_1() {
    let run = vnetsim()
        .arg("diff")
        .arg(template("arm-hub-firewall"))
        .arg(template("arm-hub-firewall-no-sql"))
        .args(["--format", "json"])
        .output()
        .expect("runs");
    assert_eq!(
        run.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let report: Value = serde_json::from_slice(&run.stdout).expect("JSON");
    assert_eq!(report["format"], "vnetsim-diff/1");
    assert_eq!(report["cells"], 8, "2 VMs both ways, 4 ports");
    let changed: Vec<(String, String, u64)> = report["changed"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|c| {
            assert_eq!(c["before"]["verdict"], "delivered");
            assert_eq!(c["after"]["reason"], "firewall-denied");
            (
                c["source"].as_str().unwrap().to_string(),
                c["destination"].as_str().unwrap().to_string(),
                c["port"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        changed,
        [
            ("vm1".into(), "vm2".into(), 1433),
            ("vm2".into(), "vm1".into(), 1433)
        ]
    );
}

#[test]
fn the_same_network_twice_exits_0_and_expect_unchanged_gates_on_its_flows() {
    let hub = scenario("hub-firewall.yaml");
    let same = vnetsim()
        .arg("diff")
        .arg(&hub)
        .arg(&hub)
        .output()
        .expect("runs");
    assert_eq!(same.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&same.stdout).starts_with("0 of "));
    let (before, after) = (
        template("arm-hub-firewall"),
        template("arm-hub-firewall-no-sql"),
    );
    let untouched = vnetsim()
        .arg("diff")
        .arg(&before)
        .arg(&after)
        .args(["--expect-unchanged", "vm1,vm2,22"])
        .output()
        .expect("runs");
    assert_eq!(
        untouched.status.code(),
        Some(0),
        "port 22 was denied before and after"
    );
    let touched = vnetsim()
        .arg("diff")
        .arg(&before)
        .arg(&after)
        .args(["--expect-unchanged", "vm1,vm2"])
        .output()
        .expect("runs");
    assert_eq!(touched.status.code(), Some(1));
    let text = String::from_utf8_lossy(&touched.stdout);
    assert!(
        text.contains("vm1 -> vm2 tcp 1433 (expected unchanged)"),
        "{text}"
    );
    assert!(text.contains("vnetsim import arm"), "{text}");
}
