//! Replays every kept input of the fuzz targets (the corpus and the crashers found and fixed)
//! through the same checks, as ordinary tests: what a fuzzer once found stays fixed.

use std::path::{Path, PathBuf};

fn inputs(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        for e in entries {
            let path = e.expect("directory entry").path();
            if path.is_file() && path.file_name().is_some_and(|n| n != ".gitkeep") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn replay(target: &str, check: fn(&[u8])) {
    let files = inputs(target);
    assert!(
        !files.is_empty(),
        "no kept input for {target}: fuzz/corpus/{target} should hold the minimized corpus"
    );
    for path in &files {
        let data = std::fs::read(path).expect("readable input");
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(outcome.is_ok(), "{target} failed on {}", path.display());
    }
}

#[test]
fn wire_parse_corpus() {
    replay("wire_parse", vnetsim_fuzz::wire_parse);
}

#[test]
fn scenario_load_corpus() {
    replay("scenario_load", vnetsim_fuzz::scenario_load);
}

#[test]
fn live_intake_corpus() {
    replay("live_intake", vnetsim_fuzz::live_intake);
}

#[test]
fn arm_import_corpus() {
    replay("arm_import", vnetsim_fuzz::arm_import);
}
