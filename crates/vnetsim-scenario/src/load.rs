//! Entry points of the loader: YAML text or a file in, a checked [`Scenario`] or every
//! diagnostic out.
//!
//! What it is for: running serde-saphyr, turning its errors into [`Diagnostic`]s (with a
//! "did you mean" for unknown fields), then handing the raw file to the validator; for a process
//! that loads one file and ends ([`load_file_once`]), leaving the raw file unfreed after a load
//! that succeeded. What it is not: the Azure rules, which live in the `validate` module.

use std::path::Path;

use serde_saphyr::Error as YamlError;
use serde_saphyr::budget::BudgetBreach;

use crate::diag::{LoadError, Sink, nearest};
use crate::model::Scenario;
use crate::raw::RawScenario;
use crate::rules::Rule;
use crate::validate;

/// The largest scenario file the loader reads: 1 GiB. A larger input (or an endless one such as
/// `/dev/zero`) is refused after reading one byte more than this.
pub const MAX_FILE_BYTES: u64 = 1 << 30;
/// The most YAML nodes (mappings, sequences, scalars) one file may hold: about 10 per flow
/// written out, so a few million of them; a `pairs` entry describes up to
/// [`crate::model::MAX_FLOWS`] flows in a few nodes, so the budget stays as it is.
pub const MAX_NODES: usize = 40_000_000;
/// The deepest nesting of mappings and sequences a file may use (a scenario needs under 10).
pub const MAX_DEPTH: usize = 64;

/// What becomes of the raw file (the serde types as read) once a load has succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RawAfter {
    /// Freed, as any value: every caller that loads more than once.
    Freed,
    /// Left unfreed until the process ends: [`load_file_once`] only.
    Kept,
}

impl RawAfter {
    /// Disposes of the raw file of a load that succeeded.
    fn dispose(self, raw: RawScenario) {
        match self {
            RawAfter::Freed => drop(raw),
            // Freeing its many small parts one by one is time for nothing when the process
            // ends next; the memory goes back then.
            RawAfter::Kept => std::mem::forget(raw),
        }
    }
}

/// Parses and checks a scenario given as text. `file_name` is only used in diagnostics.
///
/// Every problem is collected: the error lists all broken rules, not just the first one
/// (a YAML syntax or type error stops at that error, as the file cannot be read further).
pub fn load_str(source: &str, file_name: &str) -> Result<Scenario, LoadError> {
    load_text(source, file_name, RawAfter::Freed)
}

fn load_text(source: &str, file_name: &str, after: RawAfter) -> Result<Scenario, LoadError> {
    if let Some(scenario) = load_json_fast(source, file_name, after) {
        return Ok(scenario);
    }
    if let Some(scenario) = load_yaml_fast(source, file_name, after) {
        return Ok(scenario);
    }
    load_yaml(source, file_name, after)
}

/// The fast path of a YAML scenario written in the plain subset most files use (block
/// mappings and sequences, one-line flow collections, plain and simply quoted scalars):
/// rewritten as JSON line for line, it takes the JSON fast path, with every item on its YAML
/// line. A file outside the subset, or with any problem, gives `None`: the caller takes the
/// YAML path, which reads every file and positions every diagnostic.
fn load_yaml_fast(source: &str, file_name: &str, after: RawAfter) -> Option<Scenario> {
    if source.trim_start().starts_with('{') {
        return None;
    }
    let started = std::time::Instant::now();
    let json = crate::yaml_json::to_json(source);
    tracing::debug!(
        ms = started.elapsed().as_millis(),
        subset = json.is_some(),
        "yaml: rewritten as json"
    );
    from_json(&json?, file_name, after)
}

/// The YAML path (JSON is YAML too): positions for every diagnostic.
fn load_yaml(source: &str, file_name: &str, after: RawAfter) -> Result<Scenario, LoadError> {
    let mut sink = Sink::new(source, file_name);
    // Generated scenarios (100,000 flows, 10,000 VMs) exceed the parser's default budget of
    // 250,000 nodes; the limits still stop resource-amplifying input (aliases stay bounded).
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_events: 100_000_000,
            max_nodes: MAX_NODES,
            max_depth: MAX_DEPTH,
            max_total_scalar_bytes: 1 << 30,
        },
    };
    let mut raw: RawScenario = match serde_saphyr::from_str_with_options(source, options) {
        Ok(raw) => raw,
        Err(err) => {
            yaml_error(&mut sink, &err);
            return Err(LoadError::from_sink(sink));
        }
    };
    validate::expand_scale_sets(&mut raw, &mut sink);
    let scenario = validate::resolve(&raw, &mut sink);
    if sink.diagnostics.is_empty() {
        after.dispose(raw);
        Ok(scenario)
    } else {
        Err(LoadError::from_sink(sink))
    }
}

/// The fast path of a JSON scenario: `serde_json` reads it (several times faster than the YAML
/// parser), the lines the model keeps are found by one pass over the bytes, and the validator
/// runs as on the YAML path. Any problem (text `serde_json` refuses, an item whose position is
/// not found, a broken rule) gives `None`, and the caller takes the YAML path, which reads JSON
/// too and positions every diagnostic: the fast path changes no answer, only the time to a
/// valid one.
fn load_json_fast(source: &str, file_name: &str, after: RawAfter) -> Option<Scenario> {
    if !source.trim_start().starts_with('{') {
        return None;
    }
    from_json(source, file_name, after)
}

/// A JSON text read by `serde_json`, its lines found, and validated; `None` on any problem.
fn from_json(source: &str, file_name: &str, after: RawAfter) -> Option<Scenario> {
    let started = std::time::Instant::now();
    let mut raw: RawScenario = serde_json::from_str(source).ok()?;
    tracing::debug!(ms = started.elapsed().as_millis(), "json: parsed");
    crate::json_lines::patch(source, &mut raw)?;
    tracing::debug!(ms = started.elapsed().as_millis(), "json: lines found");
    let mut sink = Sink::new(source, file_name);
    validate::expand_scale_sets(&mut raw, &mut sink);
    let scenario = validate::resolve(&raw, &mut sink);
    tracing::debug!(ms = started.elapsed().as_millis(), "json: resolved");
    if !sink.diagnostics.is_empty() {
        return None;
    }
    after.dispose(raw);
    Some(scenario)
}

/// Reads a scenario file and checks it; diagnostics name the path as given.
pub fn load_file(path: &Path) -> Result<Scenario, LoadError> {
    load_path(path, RawAfter::Freed)
}

/// [`load_file`] for a process that loads one file and ends right after (`vnetsim validate`):
/// after a load that succeeded, the file as read (its raw serde types, many small allocations)
/// is not freed, its memory going back when the process ends. The answer is [`load_file`]'s.
/// A program that loads more than once (tests, a sweep, the Python package), or goes on to run
/// the scenario (which would reuse that memory), calls [`load_file`], which frees it.
pub fn load_file_once(path: &Path) -> Result<Scenario, LoadError> {
    load_path(path, RawAfter::Kept)
}

fn load_path(path: &Path, after: RawAfter) -> Result<Scenario, LoadError> {
    let name = path.display().to_string();
    let refuse = |message: String| {
        let mut sink = Sink::new("", &name);
        sink.nowhere(Rule::IoError, message, None);
        Err(LoadError::from_sink(sink))
    };
    match read_limited(path, MAX_FILE_BYTES) {
        Ok(Some(text)) => load_text(&text, &name, after),
        Ok(None) => refuse(format!(
            "`{name}` is larger than the loader's limit of {} MiB",
            MAX_FILE_BYTES >> 20
        )),
        Err(err) if err.kind() == std::io::ErrorKind::InvalidData => refuse(format!(
            "cannot read `{name}`: it is not UTF-8 text (a scenario is YAML or JSON)"
        )),
        Err(err) => refuse(format!("cannot read `{name}`: {err}")),
    }
}

/// Reads at most `limit` bytes of UTF-8 text; `None` when the file is longer.
fn read_limited(path: &Path, limit: u64) -> std::io::Result<Option<String>> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let mut text = String::new();
    file.take(limit + 1).read_to_string(&mut text)?;
    Ok((text.len() as u64 <= limit).then_some(text))
}

/// A budget breach in words: which limit of the loader the file exceeds.
fn budget_message(breach: &BudgetBreach) -> String {
    match breach {
        BudgetBreach::Nodes { nodes } => format!(
            "the file holds more than {MAX_NODES} YAML nodes (stopped at {nodes}); the loader \
             takes a few million flows written out, more as a `pairs` entry"
        ),
        BudgetBreach::Depth { depth } => format!(
            "the file nests mappings and sequences {depth} deep; a scenario needs at most \
             {MAX_DEPTH} levels"
        ),
        BudgetBreach::Events { events } => {
            format!("the file is too large for the loader ({events} YAML events)")
        }
        BudgetBreach::Aliases { .. }
        | BudgetBreach::Anchors { .. }
        | BudgetBreach::AliasAnchorRatio { .. }
        | BudgetBreach::RecordedAnchorEvents { .. }
        | BudgetBreach::RecordedAnchorBytes { .. } => {
            "the file's YAML anchors and aliases expand beyond the loader's limits".to_owned()
        }
        BudgetBreach::Documents { .. } => {
            "a scenario file holds one YAML document; this one has several".to_owned()
        }
        other => format!("the file exceeds a limit of the loader ({other:?})"),
    }
}

/// Strips serde-saphyr's own `line N column M: ` prefix and snippet from a message.
fn plain_message(err: &YamlError) -> String {
    let text = err.without_snippet().to_string();
    let first = text.lines().next().unwrap_or("").trim();
    let stripped = match first.strip_prefix("line ") {
        Some(rest) => rest.split_once(": ").map_or(first, |(_, msg)| msg).trim(),
        None => first,
    };
    let stripped = stripped.strip_prefix("error: ").unwrap_or(stripped);
    let stripped = match stripped.rfind(" at line ") {
        Some(i) if stripped[i..].contains(", column ") => stripped[..i].trim_end(),
        _ => stripped,
    };
    if stripped.is_empty() {
        "the file is not valid YAML for a scenario".to_owned()
    } else {
        stripped.to_owned()
    }
}

fn yaml_error(sink: &mut Sink<'_>, err: &YamlError) {
    let loc = err.location().unwrap_or(serde_saphyr::Location::UNKNOWN);
    match err.without_snippet() {
        YamlError::SerdeUnknownField {
            field, expected, ..
        } => {
            let help = match nearest(field, expected.iter().copied()) {
                Some(best) => format!("did you mean `{best}`?"),
                None => format!("known fields: {}", expected.join(", ")),
            };
            sink.at(
                loc,
                field.clone(),
                Rule::UnknownField,
                format!("unknown field `{field}`"),
                Some(help),
            );
        }
        YamlError::SerdeUnknownVariant {
            variant, expected, ..
        } => {
            let help = match nearest(variant, expected.iter().copied()) {
                Some(best) => format!("did you mean `{best}`?"),
                None => format!("expected one of: {}", expected.join(", ")),
            };
            sink.at(
                loc,
                "",
                Rule::UnknownVariant,
                format!("unknown value `{variant}`"),
                Some(help),
            );
        }
        YamlError::SerdeMissingField { field, .. } => {
            sink.at(
                loc,
                *field,
                Rule::MissingField,
                format!("missing required field `{field}`"),
                None,
            );
        }
        YamlError::InvalidScalar { ty, .. } => {
            let what = match *ty {
                "bool" => "a boolean (true or false)",
                "u8" | "u16" | "u32" | "u64" | "usize" => "a non-negative integer",
                "i8" | "i16" | "i32" | "i64" | "isize" => "an integer",
                "f32" | "f64" => "a number",
                other => other,
            };
            sink.at(
                loc,
                "",
                Rule::InvalidType,
                format!("this value is not {what}"),
                None,
            );
        }
        YamlError::SerdeInvalidType { .. }
        | YamlError::SerdeInvalidValue { .. }
        | YamlError::SerdeInvalidLength { .. }
        | YamlError::NullIntoString { .. }
        | YamlError::InvalidBooleanStrict { .. } => {
            sink.at(loc, "", Rule::InvalidType, plain_message(err), None);
        }
        YamlError::DuplicateMappingKey { key, .. } => {
            let msg = match key {
                Some(k) => format!("key `{k}` appears twice in this mapping"),
                None => "a key appears twice in this mapping".to_owned(),
            };
            sink.at(
                loc,
                key.clone().unwrap_or_default(),
                Rule::DuplicateKey,
                msg,
                Some("keep one of them".to_owned()),
            );
        }
        YamlError::MultipleDocuments { .. } => {
            sink.at(
                loc,
                "",
                Rule::YamlSyntax,
                "a second YAML document starts here; a scenario file holds one document",
                Some(
                    "remove the `---` separator and everything after it, or split the file"
                        .to_owned(),
                ),
            );
        }
        YamlError::Budget { breach, .. } => {
            sink.nowhere(Rule::YamlSyntax, budget_message(breach), None);
        }
        _ => {
            if loc.line() == 0 {
                sink.nowhere(Rule::YamlSyntax, plain_message(err), None);
            } else {
                sink.at(loc, "", Rule::YamlSyntax, plain_message(err), None);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every example scenario written as JSON (indented and on one line) loads through the
    /// JSON fast path into the same scenario, lines included, as through the YAML parser; a
    /// broken JSON scenario gets the YAML path's diagnostics.
    #[test]
    fn the_json_fast_path_gives_what_the_yaml_path_gives() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
        let mut count = 0;
        for entry in std::fs::read_dir(dir).expect("scenarios") {
            let path = entry.expect("entry").path();
            if path.extension().is_none_or(|e| e != "yaml") {
                continue;
            }
            let yaml = std::fs::read_to_string(&path).expect("read");
            let value: serde_json::Value = serde_saphyr::from_str(&yaml).expect("yaml");
            for json in [
                serde_json::to_string_pretty(&value).expect("json"),
                serde_json::to_string(&value).expect("json"),
            ] {
                let name = path.display().to_string();
                let fast = load_json_fast(&json, &name, RawAfter::Freed)
                    .unwrap_or_else(|| panic!("{name}: the fast path refused it"));
                let slow = load_yaml(&json, &name, RawAfter::Freed).expect("valid");
                assert!(fast == slow, "{name}: the two paths differ");
                count += 1;
            }
        }
        assert!(count >= 40, "{count}");
        // A broken rule: the fast path steps aside and the diagnostics are the YAML path's.
        let broken = r#"{"name": "x", "vnets": [{"name": "a", "address_space": ["10.0.0.0/33"], "subnets": []}]}"#;
        assert!(load_json_fast(broken, "b.json", RawAfter::Freed).is_none());
        let err = load_str(broken, "b.json").expect_err("invalid");
        assert_eq!(err.diagnostics[0].line, 1, "{:?}", err.diagnostics);
    }

    /// Every example scenario in the YAML subset, and generated ones (with NSGs, with a
    /// firewall, and with their VMs and flows written out one per line), load through the YAML
    /// fast path into the same scenario, lines included, as through the YAML parser; a file
    /// outside the subset or with a broken rule gets the YAML path's answer.
    #[test]
    fn the_yaml_fast_path_gives_what_the_yaml_path_gives() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
        let mut files = Vec::new();
        for entry in std::fs::read_dir(root).expect("scenarios") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "yaml") {
                let text = std::fs::read_to_string(&path).expect("read");
                files.push((path.display().to_string(), text));
            }
        }
        let examples = files.len();
        for (nsgs, firewall) in [(false, false), (true, false), (false, true)] {
            let hub = crate::generate::HubSpoke {
                spokes: 3,
                vms_per_spoke: 5,
                flows: 40,
                nsgs,
                firewall,
                ..crate::generate::HubSpoke::default()
            };
            files.push(("generated.yaml".into(), hub.to_yaml().expect("generate")));
        }
        files.push(("written-out.yaml".into(), written_out()));
        let mut refused = Vec::new();
        for (k, (name, yaml)) in files.iter().enumerate() {
            let slow = load_yaml(yaml, name, RawAfter::Freed).expect("valid");
            if let Some(fast) = load_yaml_fast(yaml, name, RawAfter::Freed) {
                assert!(fast == slow, "{name}: the two paths differ");
            } else {
                // Only outside the subset: a valid file in it is never refused.
                assert!(crate::yaml_json::to_json(yaml).is_none(), "{name}: refused");
                assert!(k < examples, "{name}: a generated file is in the subset");
                refused.push(name.as_str());
            }
            assert!(load_str(yaml, name).expect("valid") == slow, "{name}");
        }
        // Nearly every example is in the subset.
        assert!(refused.len() <= examples / 10, "{refused:?}");
        // A broken rule: the fast path steps aside and the diagnostics are the YAML path's.
        let broken =
            "name: x\nvnets:\n  - name: a\n    address_space: [10.0.0.0/33]\n    subnets: []\n";
        assert!(load_yaml_fast(broken, "b.yaml", RawAfter::Freed).is_none());
        let err = load_str(broken, "b.yaml").expect_err("invalid");
        let slow = load_yaml(broken, "b.yaml", RawAfter::Freed).expect_err("invalid");
        assert_eq!(err.render(false), slow.render(false));
        assert_eq!(err.diagnostics[0].line, 4, "{:?}", err.diagnostics);
    }

    /// A scenario with its VMs and flows written out, one per line and as block mappings,
    /// with comments, quoted names and events and expectations on their own lines.
    fn written_out() -> String {
        let mut y = String::from(
            "# written out\nname: \"written-out\"\nseed: 7\nduration: 100ms\nvnets:\n",
        );
        for s in 0..3 {
            y.push_str(&format!(
                "  - name: v{s}\n    address_space: [10.{s}.0.0/16]\n    subnets:\n      - {{ name: app, prefix: 10.{s}.1.0/24 }}\n"
            ));
        }
        y.push_str("peerings:\n");
        for (a, b) in [(0, 1), (1, 0), (0, 2), (2, 0)] {
            y.push_str(&format!("- {{ name: p{a}{b}, from: v{a}, to: v{b} }}\n"));
        }
        y.push_str("vms:\n");
        for s in 0..3 {
            for i in 0..4 {
                y.push_str(&format!(
                    "  - {{ name: vm{s}_{i}, size: Standard_D2s_v3, nics: [ {{ name: 'vm{s}_{i}-nic', vnet: v{s}, subnet: app, ip: 10.{s}.1.{} }} ] }}\n",
                    i + 4
                ));
            }
        }
        y.push_str("traffic:\n");
        for f in 0..30 {
            let (a, b) = (f % 3, (f + 1) % 3);
            y.push_str(&format!(
                "  -\n    name: f{f}  # flow {f}\n    from: vm{a}_{}\n    to: vm{b}_{}\n    protocol: udp\n    dst_port: {}\n    rate: 10pps\n    packet_size: 64\n    start: {f}ms\n",
                f % 4,
                (f + 1) % 4,
                5000 + f
            ));
        }
        y.push_str("events:\n  - at: 50ms\n    remove_peering: p01\nexpect:\n  - flow: f1\n    delivered_ratio: \">= 0.5\"\n    drops: { no-route: \"== 0\" }\n");
        y
    }

    /// A file loaded once gives what it gives loaded any number of times: the scenario for a
    /// valid file (YAML in the subset and outside it, JSON), every diagnostic for a broken one.
    #[test]
    fn a_file_loaded_once_gives_the_same_answer() {
        let dir = std::env::temp_dir().join(format!("vnetsim-once-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let example =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/hub-and-spoke.yaml");
        let yaml = std::fs::read_to_string(&example).expect("example");
        let value: serde_json::Value = serde_saphyr::from_str(&yaml).expect("yaml");
        let hub = crate::generate::HubSpoke {
            spokes: 3,
            vms_per_spoke: 5,
            flows: 40,
            ..crate::generate::HubSpoke::default()
        };
        // The name as a block scalar: outside the fast path's subset.
        let outside = yaml.replacen(
            "\nname: hub-and-spoke\n",
            "\nname: >-\n  hub-and-spoke\n",
            1,
        );
        assert!(outside != yaml && crate::yaml_json::to_json(&outside).is_none());
        assert!(crate::yaml_json::to_json(&yaml).is_some());
        let files = [
            ("subset.yaml", yaml.clone()),
            ("outside.yaml", outside),
            (
                "pretty.json",
                serde_json::to_string_pretty(&value).expect("json"),
            ),
            ("generated.yaml", hub.to_yaml().expect("generate")),
        ];
        for (name, text) in &files {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            let once = load_file_once(&path).unwrap_or_else(|e| panic!("{}", e.render(false)));
            assert!(once == load_file(&path).expect("valid"), "{name}");
            assert!(
                once == load_str(text, &path.display().to_string()).expect("valid"),
                "{name}"
            );
        }
        let broken = dir.join("broken.yaml");
        std::fs::write(
            &broken,
            "name: x\nvnets:\n  - name: a\n    address_space: [10.0.0.0/33]\n    subnets: []\n",
        )
        .unwrap();
        let once = load_file_once(&broken).expect_err("invalid");
        let many = load_file(&broken).expect_err("invalid");
        assert_eq!(once.render(false), many.render(false));
        assert_eq!(once.diagnostics.len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_endless_file_is_cut_at_the_limit() {
        assert_eq!(read_limited(Path::new("/dev/zero"), 1000).unwrap(), None);
        let dir = std::env::temp_dir().join(format!("vnetsim-limit-{}", std::process::id()));
        std::fs::write(&dir, "name: x\n").unwrap();
        assert_eq!(read_limited(&dir, 8).unwrap().as_deref(), Some("name: x\n"));
        assert_eq!(read_limited(&dir, 7).unwrap(), None);
        std::fs::remove_file(&dir).unwrap();
    }

    #[test]
    fn two_documents_get_a_plain_message() {
        let err = load_str("name: a\n---\nname: b\n", "two.yaml").unwrap_err();
        let d = &err.diagnostics[0];
        assert_eq!((d.rule, d.line), ("yaml-syntax", 3));
        assert!(d.message.contains("one document"), "{}", d.message);
        assert!(!err.render(false).contains("from_str_multiple"));
    }

    #[test]
    fn a_budget_breach_is_said_in_words() {
        let text = format!("name: x\nvnets: {}{}\n", "[".repeat(100), "]".repeat(100));
        let err = load_str(&text, "deep.yaml").unwrap_err();
        let shown = err.render(false);
        assert!(!shown.contains("Depth {"), "{shown}");
        assert!(shown.len() < 2000, "no 200-byte line echoed: {shown}");
        assert_eq!(
            budget_message(&BudgetBreach::Nodes { nodes: 40_000_001 }),
            format!(
                "the file holds more than {MAX_NODES} YAML nodes (stopped at 40000001); the \
                 loader takes a few million flows written out, more as a `pairs` entry"
            )
        );
    }

    #[test]
    fn a_long_line_is_not_echoed() {
        let long = format!(
            "name: x\nvnets: [ {{ name: v, address_space: [10.0.0.5/16], subnets: [] }} {} ]\n",
            " ".repeat(1000)
        );
        let err = load_str(&long, "long.yaml").unwrap_err();
        let shown = err.render(false);
        assert!(shown.len() < 1000, "{shown}");
        assert!(
            shown.contains("long.yaml:2:"),
            "the position is still named: {shown}"
        );
    }

    #[test]
    fn many_problems_are_all_counted_and_a_few_shown() {
        let mut text = String::from("name: x\nvnets:\n");
        for i in 0..120 {
            text.push_str(&format!(
                "  - {{ name: v{i}, address_space: [10.{i}.0.5/16], subnets: [] }}\n"
            ));
        }
        let err = load_str(&text, "many.yaml").unwrap_err();
        assert_eq!(err.diagnostics.len(), 120);
        let shown = err.render(false);
        assert!(
            shown.ends_with("120 problems found; the first 50 are shown\n"),
            "{shown}"
        );
        assert_eq!(shown.matches("cidr-host-bits").count(), 50);
    }

    #[test]
    fn messages_lose_serde_saphyr_positions() {
        let err = serde_saphyr::from_str::<Vec<u8>>("[1, 2").unwrap_err();
        let msg = plain_message(&err);
        assert!(!msg.contains("line "), "{msg}");
        assert!(!msg.is_empty());
    }
}
