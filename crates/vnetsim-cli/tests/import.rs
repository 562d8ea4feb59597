//! `vnetsim import az`: Azure CLI exports in, a scenario out that `explain` reads.

mod common;

use std::path::PathBuf;

use common::vnetsim;

fn export(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../vnetsim-import/tests/data/az-hub-spoke")
        .join(name)
}

#[test]
fn import_az_writes_a_scenario_explain_follows_through_the_appliance() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = dir.path().join("imported.yaml");
    let files = [
        "vnets.json",
        "nics.json",
        "vms.json",
        "nsgs.json",
        "route-tables.json",
        "other.json",
    ];
    let run = vnetsim()
        .arg("import")
        .arg("az")
        .args(files.iter().map(|f| export(f)))
        .arg("-o")
        .arg(&out)
        .output()
        .expect("runs");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("1 Microsoft.Network/natGateways not modelled"),
        "{stderr}"
    );
    let text = std::fs::read_to_string(&out).expect("written");
    assert!(text.starts_with("# Imported by `vnetsim import`"), "{text}");
    let explain = vnetsim()
        .args(["explain"])
        .arg(&out)
        .args([
            "--from",
            "web-vm",
            "--to",
            "db-vm",
            "--protocol",
            "tcp",
            "--dst-port",
            "1433",
        ])
        .output()
        .expect("runs");
    let shown = String::from_utf8_lossy(&explain.stdout);
    assert!(explain.status.success(), "{shown}");
    assert!(shown.contains("path web-vm -> nva-vm -> db-vm"), "{shown}");
}

#[test]
fn import_az_refuses_a_file_that_is_not_json_with_its_name() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let bad = dir.path().join("vnets.json");
    std::fs::write(&bad, "[{\"name\": ").expect("written");
    let run = vnetsim()
        .args(["import", "az"])
        .arg(&bad)
        .output()
        .expect("runs");
    assert_eq!(run.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("vnets.json: not JSON (line 1"), "{stderr}");
}

#[test]
fn import_arm_writes_a_scenario_whose_spokes_go_through_the_firewall() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = dir.path().join("arm.yaml");
    let template = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../vnetsim-import/tests/data/arm-hub-firewall/azuredeploy.json");
    let run = vnetsim()
        .args(["import", "arm"])
        .arg(&template)
        .args(["--set", "spokeCount=2", "-o"])
        .arg(&out)
        .output()
        .expect("runs");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let text = std::fs::read_to_string(&out).expect("written");
    assert!(
        text.contains("era: current") && text.contains("--set spokeCount=2"),
        "{text}"
    );
    let explain = vnetsim()
        .arg("explain")
        .arg(&out)
        .args([
            "--from",
            "vm1",
            "--to",
            "vm2",
            "--protocol",
            "tcp",
            "--dst-port",
            "1433",
        ])
        .output()
        .expect("runs");
    let shown = String::from_utf8_lossy(&explain.stdout);
    assert!(
        shown.contains("verdict: delivered to vm2; path vm1 -> fw-"),
        "{shown}"
    );
}
