//! Every crate meant for crates.io carries the metadata a registry page needs: a description, a
//! license, a README that exists, keywords and categories within crates.io's limits, a
//! documentation link, and a version on every dependency on another crate of the workspace (a
//! path alone cannot be published). Read from `cargo metadata`, so it checks the manifests as
//! cargo sees them (workspace inheritance applied). `.ci/run` packages the same crates.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// The workspace's packages as `cargo metadata --no-deps` lists them.
fn packages() -> Vec<Value> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--offline",
            "--format-version",
            "1",
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
    doc["packages"].as_array().expect("a package list").clone()
}

/// Whether cargo may publish the package (`publish = false` lists no registry).
fn publishable(p: &Value) -> bool {
    !matches!(p["publish"].as_array(), Some(registries) if registries.is_empty())
}

#[test]
fn every_publishable_crate_has_complete_metadata() {
    let packages = packages();
    let names: Vec<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
    let published: Vec<&Value> = packages.iter().filter(|p| publishable(p)).collect();
    for expected in [
        "vnetsim",
        "vnetsim-scenario",
        "vnetsim-dataplane",
        "vnetsim-engine",
        "vnetsim-live",
        "vnetsim-sweep",
        "vnetsim-import",
        "vnetsim-arm",
    ] {
        assert!(
            published.iter().any(|p| p["name"] == expected),
            "{expected} is publishable"
        );
    }
    let mut problems = Vec::new();
    for p in &published {
        let name = p["name"].as_str().unwrap_or("?");
        let text = |key: &str| p[key].as_str().filter(|s| !s.trim().is_empty());
        for key in ["description", "license", "documentation", "readme"] {
            if text(key).is_none() {
                problems.push(format!("{name}: no {key}"));
            }
        }
        if let Some(readme) = text("readme") {
            let dir = Path::new(p["manifest_path"].as_str().unwrap_or(".")).parent();
            if !dir.is_some_and(|d| d.join(readme).is_file()) {
                problems.push(format!("{name}: readme {readme} is missing"));
            }
        }
        let keywords = p["keywords"].as_array().cloned().unwrap_or_default();
        if keywords.is_empty() || keywords.len() > 5 {
            problems.push(format!("{name}: {} keywords (1 to 5)", keywords.len()));
        }
        for k in keywords.iter().filter_map(Value::as_str) {
            let ok = k.len() <= 20
                && k.starts_with(|c: char| c.is_ascii_alphabetic())
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok {
                problems.push(format!("{name}: keyword `{k}` is not valid on crates.io"));
            }
        }
        let categories = p["categories"].as_array().map_or(0, Vec::len);
        if categories == 0 || categories > 5 {
            problems.push(format!("{name}: {categories} categories (1 to 5)"));
        }
        for dep in p["dependencies"].as_array().into_iter().flatten() {
            let dep_name = dep["name"].as_str().unwrap_or("?");
            let local = dep["path"].is_string() || names.contains(&dep_name);
            // Dev-dependencies without a version are left out of a package; others need one.
            if local && dep["kind"] != "dev" && dep["req"] == "*" {
                problems.push(format!(
                    "{name}: dependency {dep_name} has a path but no version"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
