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
    write(
        &import,
        &format!("az exports: {}", sources.join(", ")),
        output,
    )
}

/// `vnetsim import arm TEMPLATE [--parameters P] [--set name=value]... [-o OUT] [--name N]`.
pub fn import_arm(
    template: &Path,
    parameters: Option<&Path>,
    set: &[String],
    output: Option<&Path>,
    name: &str,
) -> u8 {
    match vnetsim_import::arm::import_template(template, parameters, set, name) {
        Ok(import) => {
            let mut source = format!("the ARM template {}", file_name(template));
            if let Some(p) = parameters {
                source.push_str(&format!(" with {}", file_name(p)));
            }
            for s in set {
                source.push_str(&format!(" --set {s}"));
            }
            write(&import, &source, output)
        }
        Err(e) => {
            eprintln!("error: {e}");
            INVALID
        }
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| p.display().to_string())
}

/// Writes the scenario (stdout without `output`), says what was left out, and loads it back.
fn write(import: &vnetsim_import::Import, source: &str, output: Option<&Path>) -> u8 {
    let yaml = vnetsim_import::yaml::write(&import.header(source), &import.scenario);
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
