//! Evaluates an ARM template and prints its resources: `cargo run -p vnetsim-arm --example
//! arm-eval -- TEMPLATE [PARAMETERS] [name=value ...]`.
//!
//! What it is for: looking at what the evaluator makes of a real template. What it is not:
//! the importer command (that comes with the mapping to scenarios).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(template) = args.first() else {
        eprintln!("usage: arm-eval TEMPLATE [PARAMETERS] [name=value ...]");
        return ExitCode::from(2);
    };
    let mut params = None;
    let mut overrides = BTreeMap::new();
    for a in &args[1..] {
        match a.split_once('=') {
            Some((k, v)) => {
                overrides.insert(k.to_string(), v.to_string());
            }
            None => params = Some(Path::new(a)),
        }
    }
    let opts = vnetsim_arm::EvalOptions {
        overrides,
        ..Default::default()
    };
    match vnetsim_arm::evaluate_file(Path::new(template), params, opts) {
        Ok(t) => {
            for r in &t.resources {
                let props = serde_json::to_string(&r.properties).unwrap_or_default();
                let props: String = props.chars().take(160).collect();
                println!("{}  {}  [{}]  {}", r.type_, r.name, r.json_path, props);
            }
            for (k, v) in &t.outputs {
                println!("output {k} = {v}");
            }
            for d in &t.deferred {
                println!("deferred {}: {} ({})", d.json_path, d.expression, d.reason);
            }
            for w in &t.warnings {
                println!("warning: {w}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
