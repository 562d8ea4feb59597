//! Where, in a JSON scenario, the items whose lines the model keeps begin: each event, each
//! expectation, and the `name` of each flow.
//!
//! What it is for: the loader's JSON fast path. `serde_json` reads a JSON scenario several times
//! faster than the YAML parser, but gives no positions; the model keeps the line of each flow,
//! event and expectation (reports print them). One pass over the bytes finds those positions,
//! where the YAML parser would have put them (the `{` of an item, the opening quote of a name),
//! and they are written into the raw file's spans. What it is not: a JSON parser or validator
//! (`serde_json` has already accepted the text), nor a source of diagnostics: a file with any
//! problem takes the YAML path, whose positions every diagnostic uses.

use serde::Deserialize;
use serde::de::value::{Error as ValueError, MapDeserializer};
use serde_saphyr::{Location, Spanned};

use crate::raw::RawScenario;

/// Byte offsets of the items the model keeps lines for, in file order.
#[derive(Debug, Default, PartialEq, Eq)]
struct Starts {
    events: Vec<usize>,
    expect: Vec<usize>,
    flow_names: Vec<usize>,
}

/// Which top-level array the scanner is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum List {
    Events,
    Expect,
    Traffic,
    Other,
}

/// One open container.
#[derive(Clone, Copy, Debug)]
enum Frame {
    /// An object; `key` is the list its current key names (at the top level) or whether it is
    /// `name` (inside a flow).
    Object { key: Key, expect_key: bool },
    /// An array, and the list it is when it is a top-level one.
    Array(List),
}

/// What the current key of an object names, where that matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Key {
    None,
    List(List),
    Name,
}

/// Scans `text` (which `serde_json` accepted) for the item starts; `None` when the structure is
/// not the expected one (the caller then takes the YAML path).
fn scan(text: &str) -> Option<Starts> {
    let bytes = text.as_bytes();
    let mut starts = Starts::default();
    let mut stack: Vec<Frame> = Vec::with_capacity(16);
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b' ' | b'\t' | b'\n' | b'\r' | b',' | b':' => {
                i += 1;
                continue;
            }
            _ => {}
        }
        // A value (or a key) starts at `i`: note it where it is an item we want.
        let is_key = matches!(
            stack.last(),
            Some(Frame::Object {
                expect_key: true,
                ..
            })
        );
        if !is_key && b != b'}' && b != b']' {
            note_value_start(&stack, i, &mut starts);
        }
        match b {
            b'{' => {
                stack.push(Frame::Object {
                    key: Key::None,
                    expect_key: true,
                });
                i += 1;
            }
            b'[' => {
                let list = match stack.as_slice() {
                    [
                        Frame::Object {
                            key: Key::List(list),
                            ..
                        },
                    ] => *list,
                    _ => List::Other,
                };
                stack.push(Frame::Array(list));
                i += 1;
            }
            b'}' | b']' => {
                stack.pop()?;
                value_done(&mut stack);
                i += 1;
            }
            b'"' => {
                let end = string_end(bytes, i)?;
                if is_key {
                    let key = &bytes[i + 1..end - 1];
                    let depth = stack.len();
                    let named = match (depth, key) {
                        (1, b"events") => Key::List(List::Events),
                        (1, b"expect") => Key::List(List::Expect),
                        (1, b"traffic") => Key::List(List::Traffic),
                        (1, _) => Key::List(List::Other),
                        (3, b"name") => Key::Name,
                        _ => Key::None,
                    };
                    if let Some(Frame::Object { key, expect_key }) = stack.last_mut() {
                        *key = named;
                        *expect_key = false;
                    }
                } else {
                    value_done(&mut stack);
                }
                i = end;
            }
            _ => {
                // A number, `true`, `false` or `null`: up to the next delimiter.
                while i < bytes.len()
                    && !matches!(
                        bytes[i],
                        b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r' | b':'
                    )
                {
                    i += 1;
                }
                value_done(&mut stack);
            }
        }
    }
    stack.is_empty().then_some(starts)
}

/// Records `at` when a value starting there is an event, an expectation or a flow's name.
fn note_value_start(stack: &[Frame], at: usize, starts: &mut Starts) {
    match stack {
        [_, Frame::Array(List::Events)] => starts.events.push(at),
        [_, Frame::Array(List::Expect)] => starts.expect.push(at),
        [
            _,
            Frame::Array(List::Traffic),
            Frame::Object {
                key: Key::Name,
                expect_key: false,
            },
        ] => starts.flow_names.push(at),
        _ => {}
    }
}

/// A value ended: the object holding it waits for its next key.
fn value_done(stack: &mut [Frame]) {
    if let Some(Frame::Object { key, expect_key }) = stack.last_mut() {
        *expect_key = true;
        if !matches!(key, Key::List(_)) {
            *key = Key::None;
        }
    }
}

/// The offset just past the string whose opening quote is at `start`.
fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// 1-based line and column (in bytes) of each offset, for offsets in increasing order.
fn positions(text: &str, offsets: &[usize]) -> Vec<(u32, u32)> {
    let bytes = text.as_bytes();
    let (mut line, mut line_start, mut at) = (1u32, 0usize, 0usize);
    offsets
        .iter()
        .map(|&o| {
            for (k, &b) in bytes[at..o].iter().enumerate() {
                if b == b'\n' {
                    line = line.saturating_add(1);
                    line_start = at + k + 1;
                }
            }
            at = o;
            let column = u32::try_from(o - line_start + 1).unwrap_or(u32::MAX);
            (line, column)
        })
        .collect()
}

fn location(line: u32, column: u32) -> Location {
    let fields = [("line", line), ("column", column)];
    Location::deserialize(MapDeserializer::<_, ValueError>::new(fields.into_iter()))
        .unwrap_or(Location::UNKNOWN)
}

fn set<T>(spanned: &mut Spanned<T>, (line, column): (u32, u32)) {
    let at = location(line, column);
    spanned.referenced = at;
    spanned.defined = at;
}

/// Writes the positions of `text`'s events, expectations and flow names into `raw` (which
/// `serde_json` read from `text`). `None` when they cannot all be found, one per item.
pub(crate) fn patch(text: &str, raw: &mut RawScenario) -> Option<()> {
    let starts = scan(text)?;
    if starts.events.len() != raw.events.len()
        || starts.expect.len() != raw.expect.len()
        || starts.flow_names.len() != raw.traffic.len()
    {
        return None;
    }
    for (e, at) in raw.events.iter_mut().zip(positions(text, &starts.events)) {
        set(e, at);
    }
    for (e, at) in raw.expect.iter_mut().zip(positions(text, &starts.expect)) {
        set(e, at);
    }
    for (f, at) in raw
        .traffic
        .iter_mut()
        .zip(positions(text, &starts.flow_names))
    {
        set(&mut f.name, at);
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_items_and_flow_names_only_where_they_are() {
        let text = "{\n  \"name\": \"x\",\n  \"traffic\": [\n    {\"from\": \"a\", \"name\": \"f1\"},\n    {\"name\": \"f\\\"2\", \"to\": {\"name\": \"not-a-flow-name\"}}\n  ],\n  \"events\": [ {\"at\": \"1s\"},\n {\"at\": \"2s\"} ],\n  \"expect\": [],\n  \"vnets\": [{\"name\": \"v\", \"events\": [{}]}]\n}\n";
        let starts = scan(text).expect("scans");
        let lines = |o: &[usize]| positions(text, o).iter().map(|p| p.0).collect::<Vec<_>>();
        assert_eq!(lines(&starts.flow_names), [4, 5]);
        assert_eq!(
            &text[starts.flow_names[1]..starts.flow_names[1] + 4],
            "\"f\\\""
        );
        assert_eq!(lines(&starts.events), [7, 8]);
        assert!(starts.expect.is_empty());
        assert_eq!(positions(text, &starts.events)[1], (8, 2));
    }

    #[test]
    fn unbalanced_text_is_refused() {
        assert_eq!(scan("{\"events\": [}"), None);
        assert_eq!(scan("{\"a\": \"unterminated}"), None);
        assert_eq!(scan("]"), None);
    }

    #[test]
    fn a_location_is_built_with_its_line_and_column() {
        let at = location(12, 7);
        assert_eq!((at.line(), at.column()), (12, 7));
    }
}
