//! `vnetsim import`: a real network brought in as a scenario file.
//!
//! What it is for: reading Azure CLI exports (`import az`), mapping them with
//! `vnetsim-import`, writing the scenario (to a file or stdout) and loading it back at once, so
//! that what Azure's rules refuse is said now, with the file, line and rule. What it is not:
//! the mapping itself (`vnetsim_import::map`).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use crate::commands::{INVALID, OK};
use crate::out::{OutputFile, out};

/// `vnetsim import az FILE... [-o OUT] [--name NAME]`.
pub fn import_az(files: &[PathBuf], output: Option<&Path>, name: &str) -> u8 {
    let mut resources = Vec::new();
    for f in files {
        let text = match std::fs::read_to_string(f) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", f.display());
                return INVALID;
            }
        };
        match vnetsim_import::az::resources_from_json(&text, &f.display().to_string()) {
            Ok(r) => resources.extend(r),
            Err(e) => {
                eprintln!("error: {e}");
                return INVALID;
            }
        }
    }
    let import = match vnetsim_import::to_scenario(&resources, name) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {e}");
            return INVALID;
        }
    };
    let sources: Vec<String> = files
        .iter()
        .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().to_string()))
        .collect();
    let yaml = vnetsim_import::yaml::write(
        &import.header(&format!("az exports: {}", sources.join(", "))),
        &import.scenario,
    );
    for w in &import.warnings {
        tracing::warn!("{w}");
        eprintln!("warning: {w}");
    }
    for (kind, n) in &import.unmodelled {
        eprintln!("warning: {n} {kind} not modelled, left out");
    }
    let shown = match output {
        Some(path) => {
            if let Err(e) = OutputFile::write_whole(path, yaml.as_bytes()) {
                eprintln!("error: cannot write {}: {e}", path.display());
                return INVALID;
            }
            path.display().to_string()
        }
        None => {
            out!("{yaml}");
            "(stdout)".to_string()
        }
    };
    // Loaded back at once: what Azure's rules refuse in the imported network is said now.
    if let Err(e) = vnetsim_scenario::load_str(&yaml, &shown) {
        eprint!("{}", e.render(std::io::stderr().is_terminal()));
        return INVALID;
    }
    OK
}
