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
            // Both explanations, hop by hop, as `explain` prints them.
            let hops = |side: &str| c[side]["explanation"].as_array().expect("lines").len();
            assert!(hops("before") > hops("after"), "{c:#}");
            assert!(
                c["after"]["explanation"]
                    .to_string()
                    .contains("denies by default"),
                "{c:#}"
            );
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

/// The Architecture Center's hub-spoke (mspnp/samples, MIT) before and after a pull request
/// that removes its only network rule (DNS, UDP 53, from anywhere): exactly the spoke-to-spoke
/// DNS flows change, from a drop entering the other spoke (its peering refuses forwarded
/// traffic) to the firewall's default deny [FWRULE23]; TCP flows do not change.
#[test]
fn fwrule23_a_public_hub_spoke_template_without_its_dns_rule_changes_exactly_the_dns_flows() {
    let before = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../vnetsim-import/tests/data/quickstart/mspnp-azure-hub-spoke/azuredeploy.json");
    let mut template: Value =
        serde_json::from_str(&std::fs::read_to_string(&before).expect("readable")).expect("JSON");
    let group = template["resources"]
        .as_array_mut()
        .expect("resources")
        .iter_mut()
        .find(|r| {
            r["name"]
                .as_str()
                .is_some_and(|n| n.contains("DefaultNetworkRuleCollectionGroup"))
        })
        .expect("the network rule collection group");
    let rules = group["properties"]["ruleCollections"][0]["rules"]
        .as_array_mut()
        .expect("rules");
    assert_eq!(rules[0]["name"], "DNS");
    rules.clear();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let after = dir.path().join("azuredeploy.json");
    std::fs::write(&after, template.to_string()).expect("written");
    let set = [
        "--set",
        "adminPassword=Not-a-Secret-1",
        "--set",
        "deployVirtualMachines=true",
    ];
    let run = |protocol: &str, port: &str| {
        vnetsim()
            .arg("diff")
            .arg(&before)
            .arg(&after)
            .args(set)
            .args(["--protocol", protocol, "--ports", port, "--format", "json"])
            .output()
            .expect("runs")
    };
    let dns = run("udp", "53");
    assert_eq!(
        dns.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&dns.stderr)
    );
    let report: Value = serde_json::from_slice(&dns.stdout).expect("JSON");
    let changed = report["changed"].as_array().expect("a list");
    assert_eq!(changed.len(), 2, "{report:#}");
    for c in changed {
        assert!(c["source"].as_str().unwrap().contains("spoke"), "{c:#}");
        assert_eq!(c["before"]["reason"], "forwarded-traffic-blocked");
        assert_eq!(c["after"]["reason"], "firewall-denied");
    }
    let tcp = run("tcp", "22,443");
    assert_eq!(
        tcp.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&tcp.stdout)
    );
}
