//! Build script: probes for Wireshark's `tshark` so that the tests that read captures with it
//! run where it is installed and show as ignored, with the reason, where it is not.
//!
//! Sets `cfg(has_tshark)` when `tshark --version` runs. Reruns when `PATH` changes, and when
//! the `tshark` found (or the directories searched, when none is) changes, so installing
//! tshark after a first build is noticed.
//!
//! Sets `cfg(has_deinterlacing_tshark)` when a tshark of Wireshark 4.2 or later is at hand:
//! the program named by the environment variable `VNETSIM_TSHARK` when it is set (a path, or a
//! name looked up on `PATH`), `tshark` otherwise. Those releases have the preference
//! `protocols.conversation_deinterlacing_key`, which keys conversations by interface and MAC
//! addresses too; 4.0 (Debian 12's) has not. A test reads a whole capture with it to check
//! what `docs/capture.md` says of it: with it, the engine's pcapng captures (Ethernet frames
//! with each hop's MACs) read whole as they read one interface at a time. The program is passed to the tests as the compile-time variable
//! `VNETSIM_DEINTERLACING_TSHARK`. Reruns when `VNETSIM_TSHARK` or that program changes.
//!
//! It is not a search for Wireshark installations: a tshark elsewhere than `VNETSIM_TSHARK`
//! or `PATH` is not looked for.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(has_tshark)");
    println!("cargo::rustc-check-cfg=cfg(has_deinterlacing_tshark)");
    println!("cargo::rerun-if-env-changed=PATH");
    println!("cargo::rerun-if-env-changed=VNETSIM_TSHARK");
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

    let program = std::env::var_os("VNETSIM_TSHARK")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from);
    if let Some(p) = &program
        && p.components().count() > 1
    {
        // Its appearance (or a new version in its place) is noticed; a path that does not
        // exist yet makes cargo rerun the script on every build, which is what is wanted
        // until it does.
        println!("cargo::rerun-if-changed={}", p.display());
    }
    let program = program.unwrap_or_else(|| PathBuf::from("tshark"));
    match tshark_version(&program) {
        Some(version) if version >= (4, 2) => {
            println!("cargo::rustc-cfg=has_deinterlacing_tshark");
            println!(
                "cargo::rustc-env=VNETSIM_DEINTERLACING_TSHARK={}",
                program.display()
            );
        }
        Some((major, minor)) if std::env::var_os("VNETSIM_TSHARK").is_some() => println!(
            "cargo::warning=VNETSIM_TSHARK={} is tshark {major}.{minor}; the whole-capture \
             test needs 4.2 or later",
            program.display()
        ),
        None if std::env::var_os("VNETSIM_TSHARK").is_some() => println!(
            "cargo::warning=VNETSIM_TSHARK={} does not run or does not tell its version",
            program.display()
        ),
        _ => {}
    }
}

/// The major and minor version `program --version` reports, or `None` when it does not run.
fn tshark_version(program: &Path) -> Option<(u32, u32)> {
    let out = Command::new(program).arg("--version").output().ok()?;
    if !out.status.success() {
        return None;
    }
    parse_version(&String::from_utf8_lossy(&out.stdout))
}

/// `TShark (Wireshark) 4.4.19.` or `TShark (Wireshark) 4.0.17 (Git v4.0.17 packaged as
/// 4.0.17-0+deb12u3)`: the first line's first word that starts with a digit, read as
/// major.minor.
fn parse_version(text: &str) -> Option<(u32, u32)> {
    let line = text.lines().next()?;
    let word = line
        .split_whitespace()
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))?;
    let mut parts = word.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}
