//! Build script: probes for Wireshark's `tshark` so that the tests that read captures with it
//! run where it is installed and show as ignored, with the reason, where it is not.
//!
//! Sets `cfg(has_tshark)` when `tshark --version` runs. Reruns when `PATH` changes, and when
//! the `tshark` found (or the directories searched, when none is) changes, so installing
//! tshark after a first build is noticed.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(has_tshark)");
    println!("cargo::rerun-if-env-changed=PATH");
    let dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    match dirs.iter().map(|d| d.join("tshark")).find(|p| p.is_file()) {
        Some(found) => println!("cargo::rerun-if-changed={}", found.display()),
        // A directory's modification time changes when a file is added to it.
        None => {
            for d in dirs.iter().filter(|d| d.is_dir()) {
                println!("cargo::rerun-if-changed={}", d.display());
            }
        }
    }
    let runs = Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if runs {
        println!("cargo::rustc-cfg=has_tshark");
    }
}
