//! Entry points of the loader: YAML text or a file in, a checked [`Scenario`] or every
//! diagnostic out.
//!
//! What it is for: running serde-saphyr, turning its errors into [`Diagnostic`]s (with a
//! "did you mean" for unknown fields), then handing the raw file to the validator. What it is
//! not: the Azure rules, which live in the `validate` module.

use std::path::Path;

use serde_saphyr::Error as YamlError;

use crate::diag::{LoadError, Sink, nearest};
use crate::model::Scenario;
use crate::raw::RawScenario;
use crate::rules::Rule;
use crate::validate;

/// Parses and checks a scenario given as text. `file_name` is only used in diagnostics.
///
/// Every problem is collected: the error lists all broken rules, not just the first one
/// (a YAML syntax or type error stops at that error, as the file cannot be read further).
pub fn load_str(source: &str, file_name: &str) -> Result<Scenario, LoadError> {
    let mut sink = Sink::new(source, file_name);
    // Generated scenarios (100,000 flows, 10,000 VMs) exceed the parser's default budget of
    // 250,000 nodes; the limits still stop resource-amplifying input (aliases stay bounded).
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_events: 100_000_000,
            max_nodes: 40_000_000,
            max_total_scalar_bytes: 1 << 30,
        },
    };
    let raw: RawScenario = match serde_saphyr::from_str_with_options(source, options) {
        Ok(raw) => raw,
        Err(err) => {
            yaml_error(&mut sink, &err);
            return Err(LoadError::from_sink(sink));
        }
    };
    let scenario = validate::resolve(&raw, &mut sink);
    if sink.diagnostics.is_empty() {
        Ok(scenario)
    } else {
        Err(LoadError::from_sink(sink))
    }
}

/// Reads a scenario file and checks it; diagnostics name the path as given.
pub fn load_file(path: &Path) -> Result<Scenario, LoadError> {
    let name = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => load_str(&text, &name),
        Err(err) => {
            let mut sink = Sink::new("", &name);
            sink.nowhere(Rule::IoError, format!("cannot read `{name}`: {err}"), None);
            Err(LoadError::from_sink(sink))
        }
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

fn yaml_error(sink: &mut Sink, err: &YamlError) {
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

    #[test]
    fn messages_lose_serde_saphyr_positions() {
        let err = serde_saphyr::from_str::<Vec<u8>>("[1, 2").unwrap_err();
        let msg = plain_message(&err);
        assert!(!msg.contains("line "), "{msg}");
        assert!(!msg.is_empty());
    }
}
