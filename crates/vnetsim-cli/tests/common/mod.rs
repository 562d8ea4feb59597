//! Helpers shared by the binary's integration tests: the example scenarios and the binary.

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The example scenario `name` under `scenarios/`.
pub fn scenario(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios")
        .join(name)
}

/// The `vnetsim` binary, built by cargo for the tests.
pub fn vnetsim() -> Command {
    Command::cargo_bin("vnetsim").expect("binary builds")
}

/// A command's stdout read as JSON.
pub fn json_of(output: &[u8]) -> serde_json::Value {
    serde_json::from_slice(output)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(output)))
}

/// Writes `vnetsim generate hub-spoke ARGS` to `file` (the test fails if it cannot).
pub fn generate_hub_spoke(file: &Path, args: &[&str]) {
    let out = vnetsim()
        .args(["generate", "hub-spoke"])
        .args(args)
        .arg("-o")
        .arg(file)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
