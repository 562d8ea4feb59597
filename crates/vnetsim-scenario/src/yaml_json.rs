//! A plain subset of YAML rewritten as JSON, line for line, for the loader's YAML fast path.
//!
//! What it is for: scenario files as people and `vnetsim generate` write them (block mappings
//! and sequences, one-line flow collections, plain and simply quoted scalars, comments) are
//! turned into JSON text whose every value starts on the line it starts on in the YAML, so the
//! JSON fast path (`serde_json`, then the lines of flows, events and expectations found in one
//! pass) reads them several times faster than the YAML parser, with the same lines.
//!
//! What it is not: a YAML parser. Anything outside the subset, or whose meaning could depend
//! on YAML's typing rules (anchors, aliases, tags, block scalars, multi-line scalars, escapes,
//! `null`, `yes`, `0x1F`, `1e3`, `.5`, a duplicate key, a tab, ...), gives `None`, and the
//! loader takes the YAML parser's path, which reads every file and positions every
//! diagnostic. A scalar becomes a JSON number only when it is a short decimal whose value both
//! parsers read exactly (so `Text` fields get the same text), `true` and `false` become
//! booleans, and every other plain scalar a string, as YAML's core schema reads it.

use std::fmt::Write;

/// The most characters of a number written as a JSON number: both parsers read a decimal of at
/// most 15 digits exactly.
const MAX_NUMBER_DIGITS: usize = 15;

/// One line holding something: its 1-based number, the column its content starts at
/// (0-based, in bytes) and the content, without its comment and trailing spaces.
#[derive(Clone, Copy, Debug)]
struct Line<'a> {
    number: usize,
    indent: usize,
    text: &'a str,
}

/// The JSON being written, with its current line.
struct Out {
    json: String,
    line: usize,
}

impl Out {
    /// Moves to YAML line `line` (JSON allows a newline between any two tokens).
    fn at(&mut self, line: usize) {
        while self.line < line {
            self.json.push('\n');
            self.line += 1;
        }
    }
}

/// `text` as JSON text whose values start on their YAML lines; `None` outside the subset.
pub(crate) fn to_json(text: &str) -> Option<String> {
    if !printable(text) {
        return None;
    }
    let mut lines = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let content = strip_comment(raw)?.trim_end();
        let trimmed = content.trim_start();
        if trimmed.is_empty() {
            continue;
        }
        if raw.starts_with("---") || raw.starts_with("...") || raw.starts_with('%') {
            return None;
        }
        lines.push(Line {
            number: i + 1,
            indent: content.len() - trimmed.len(),
            text: trimmed,
        });
    }
    let first = *lines.first()?;
    if first.indent != 0 {
        return None;
    }
    let mut out = Out {
        json: String::with_capacity(text.len() + text.len() / 4),
        line: 1,
    };
    let mut at = 0;
    block(&mut lines, &mut at, 0, &mut out)?;
    (at == lines.len()).then_some(out.json)
}

/// Whether `text` holds only characters YAML reads as they are: no tab, carriage return,
/// other control character or byte order mark (the YAML path judges those).
fn printable(text: &str) -> bool {
    let ascii_ok = text
        .bytes()
        .all(|b| b == b'\n' || (0x20..0x7f).contains(&b) || b >= 0x80);
    ascii_ok
        && (text.is_ascii()
            || !text.chars().any(|c| {
                ('\u{7f}'..='\u{9f}').contains(&c)
                    || matches!(c, '\u{feff}' | '\u{fffe}' | '\u{ffff}')
            }))
}

/// The line without its comment: a `#` at its start or after a space, outside quotes.
fn strip_comment(line: &str) -> Option<&str> {
    let bytes = line.as_bytes();
    let mut quote = None;
    for (i, &b) in bytes.iter().enumerate() {
        match (quote, b) {
            (None, b'#') if i == 0 || bytes[i - 1] == b' ' => return Some(&line[..i]),
            (None, b'"' | b'\'') if i == 0 || matches!(bytes[i - 1], b' ' | b'[' | b'{' | b',') => {
                quote = Some(b)
            }
            (Some(q), _) if b == q => quote = None,
            _ => {}
        }
    }
    // A quote left open runs onto the next line: outside the subset.
    quote.is_none().then_some(line)
}

/// The block node at `lines[*at]`, indented `indent`: a sequence, a mapping or (only inside a
/// flow-free line) nothing else.
fn block(lines: &mut [Line<'_>], at: &mut usize, indent: usize, out: &mut Out) -> Option<()> {
    let line = *lines.get(*at)?;
    if line.indent != indent {
        return None;
    }
    if line.text == "-" || line.text.starts_with("- ") {
        sequence(lines, at, indent, out)
    } else if key_end(line.text).is_some() {
        mapping(lines, at, indent, out)
    } else {
        None
    }
}

/// A block sequence: items `- ...` at `indent`.
fn sequence(lines: &mut [Line<'_>], at: &mut usize, indent: usize, out: &mut Out) -> Option<()> {
    out.at(lines[*at].number);
    out.json.push('[');
    let mut first = true;
    while let Some(line) = lines.get(*at).copied() {
        if line.indent != indent || !(line.text == "-" || line.text.starts_with("- ")) {
            break;
        }
        if !first {
            out.json.push(',');
        }
        first = false;
        let rest = line.text[1..].trim_start();
        if rest.is_empty() {
            // The item is on the lines below, indented further.
            *at += 1;
            let next = lines.get(*at)?;
            if next.indent <= indent {
                return None;
            }
            let child = next.indent;
            block(lines, at, child, out)?;
        } else {
            // The item starts on this line, at the column of `rest`.
            let column = indent + (line.text.len() - rest.len());
            lines[*at] = Line {
                number: line.number,
                indent: column,
                text: rest,
            };
            item(lines, at, column, out)?;
        }
    }
    out.json.push(']');
    Some(())
}

/// A value starting on `lines[*at]` (at `column`): a block node, or a flow value alone on
/// its line.
fn item(lines: &mut [Line<'_>], at: &mut usize, column: usize, out: &mut Out) -> Option<()> {
    let line = lines[*at];
    if line.text == "-" || line.text.starts_with("- ") || key_end(line.text).is_some() {
        return block(lines, at, column, out);
    }
    out.at(line.number);
    let rest = flow(line.text, out)?;
    if !rest.trim().is_empty() {
        return None;
    }
    *at += 1;
    Some(())
}

/// A block mapping: `key: value` lines at `indent`.
fn mapping(lines: &mut [Line<'_>], at: &mut usize, indent: usize, out: &mut Out) -> Option<()> {
    out.at(lines[*at].number);
    out.json.push('{');
    let mut keys: Vec<&str> = Vec::new();
    while let Some(line) = lines.get(*at).copied() {
        if line.indent != indent {
            break;
        }
        let Some(end) = key_end(line.text) else {
            break;
        };
        let key = key_text(&line.text[..end])?;
        if keys.contains(&key) {
            return None;
        }
        if !keys.is_empty() {
            out.json.push(',');
        }
        keys.push(key);
        out.at(line.number);
        string(key, out);
        out.json.push(':');
        let rest = line.text[end + 1..].trim_start();
        if rest.is_empty() {
            *at += 1;
            let next = lines.get(*at)?;
            let is_item = next.text == "-" || next.text.starts_with("- ");
            // The value is on the lines below: indented further, or a sequence at this indent.
            if next.indent > indent || (next.indent == indent && is_item) {
                let child = next.indent;
                if next.indent == indent {
                    sequence(lines, at, child, out)?;
                } else {
                    block(lines, at, child, out)?;
                }
            } else {
                // An empty value is null: outside the subset.
                return None;
            }
        } else {
            out.at(line.number);
            let left = flow(rest, out)?;
            if !left.trim().is_empty() {
                return None;
            }
            *at += 1;
        }
    }
    out.json.push('}');
    Some(())
}

/// Where the `:` of a `key: value` (or `key:`) line is, for a plain key of word characters
/// or a quoted key without escapes.
fn key_end(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let end = match bytes.first()? {
        b'"' | b'\'' => {
            let q = bytes[0];
            1 + text[1..].find(q as char)? + 1
        }
        _ => bytes
            .iter()
            .position(|&b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')))
            .unwrap_or(bytes.len()),
    };
    if end == 0 || bytes.get(end) != Some(&b':') {
        return None;
    }
    match bytes.get(end + 1) {
        None | Some(b' ') => Some(end),
        _ => None,
    }
}

/// The text of a key as [`key_end`] found it; `None` for a key YAML could read as other than
/// that text.
fn key_text(key: &str) -> Option<&str> {
    if let Some(inner) = key.strip_prefix('"').and_then(|k| k.strip_suffix('"')) {
        return (!inner.contains('\\')).then_some(inner);
    }
    if let Some(inner) = key.strip_prefix('\'').and_then(|k| k.strip_suffix('\'')) {
        return Some(inner);
    }
    (!key.starts_with('-') && scalar_kind(key) == Some(Kind::Str)).then_some(key)
}

/// A flow value at the start of `text` (a flow mapping, a flow sequence or a scalar), written
/// to `out`; the text after it.
fn flow<'a>(text: &'a str, out: &mut Out) -> Option<&'a str> {
    let text = text.trim_start();
    match text.as_bytes().first()? {
        b'{' => {
            out.json.push('{');
            let mut rest = text[1..].trim_start();
            let mut keys: Vec<&str> = Vec::new();
            loop {
                if let Some(r) = rest.strip_prefix('}') {
                    out.json.push('}');
                    return Some(r);
                }
                let end = key_end_flow(rest)?;
                let key = key_text(&rest[..end])?;
                if keys.contains(&key) {
                    return None;
                }
                if !keys.is_empty() {
                    out.json.push(',');
                }
                keys.push(key);
                string(key, out);
                out.json.push(':');
                let after = flow(&rest[end + 1..], out)?.trim_start();
                rest = match after.as_bytes().first()? {
                    b',' => after[1..].trim_start(),
                    b'}' => after,
                    _ => return None,
                };
            }
        }
        b'[' => {
            out.json.push('[');
            let mut rest = text[1..].trim_start();
            let mut first = true;
            loop {
                if let Some(r) = rest.strip_prefix(']') {
                    out.json.push(']');
                    return Some(r);
                }
                if !first {
                    out.json.push(',');
                }
                first = false;
                let after = flow(rest, out)?.trim_start();
                rest = match after.as_bytes().first()? {
                    b',' => after[1..].trim_start(),
                    b']' => after,
                    _ => return None,
                };
            }
        }
        b'"' | b'\'' => {
            let q = text.as_bytes()[0] as char;
            let end = 1 + text[1..].find(q)?;
            let inner = &text[1..end];
            if (q == '"' && inner.contains('\\')) || text[end + 1..].starts_with(q) {
                return None;
            }
            string(inner, out);
            Some(&text[end + 1..])
        }
        _ => {
            // A plain scalar in a flow: up to `,`, `]`, `}` or `: `.
            let bytes = text.as_bytes();
            let mut end = bytes.len();
            for (i, &b) in bytes.iter().enumerate() {
                if matches!(b, b',' | b']' | b'}')
                    || (b == b':' && matches!(bytes.get(i + 1), None | Some(b' ' | b',')))
                {
                    end = i;
                    break;
                }
            }
            let scalar = text[..end].trim_end();
            plain(scalar, out)?;
            Some(&text[end..])
        }
    }
}

/// Where the `:` of a `key: value` entry of a flow mapping is.
fn key_end_flow(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let end = match bytes.first()? {
        b'"' | b'\'' => 1 + text[1..].find(bytes[0] as char)? + 1,
        _ => bytes
            .iter()
            .position(|&b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')))
            .unwrap_or(bytes.len()),
    };
    (end > 0 && bytes.get(end) == Some(&b':') && bytes.get(end + 1) == Some(&b' ')).then_some(end)
}

/// How the core schema reads a plain scalar, within the subset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Bool,
    Number,
    Str,
}

/// The kind of a plain scalar; `None` when it is outside the subset (a null, a YAML 1.1
/// boolean, a number in another notation, or text starting with an indicator).
///
/// Every plain scalar of a file passes here, so it allocates nothing and scans the text once
/// for the two-byte markers; the tests hold it to the plain reading
/// (`scalar_kind_is_the_reference`).
fn scalar_kind(s: &str) -> Option<Kind> {
    let b = s.as_bytes();
    let first = *b.first()?;
    if is_indicator(first)
        || s == "-"
        || s.starts_with("- ")
        || b.windows(2).any(|w| w == b": " || w == b" #")
    {
        return None;
    }
    match s {
        "true" | "false" => return Some(Kind::Bool),
        _ => {}
    }
    // YAML's nulls, its 1.1 booleans and its infinities and not-a-number, in any case.
    const WORDS: [&str; 10] = [
        "null", "~", "true", "false", "yes", "no", "on", "off", "y", "n",
    ];
    let starts_with_any_case = |prefix: &[u8]| {
        b.get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
    };
    if (b.len() <= 5 && WORDS.iter().any(|w| s.eq_ignore_ascii_case(w)))
        || starts_with_any_case(b".inf")
        || starts_with_any_case(b"-.inf")
        || starts_with_any_case(b"+.inf")
        || s.eq_ignore_ascii_case(".nan")
    {
        return None;
    }
    if is_short_decimal(s) {
        return Some(Kind::Number);
    }
    if looks_numeric(s) {
        return None;
    }
    Some(Kind::Str)
}

/// Whether a plain scalar starting with `b` would start with a YAML indicator instead.
fn is_indicator(b: u8) -> bool {
    matches!(
        b,
        b'?' | b':'
            | b','
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b'#'
            | b'&'
            | b'*'
            | b'!'
            | b'|'
            | b'>'
            | b'\''
            | b'"'
            | b'%'
            | b'@'
            | b'`'
    )
}

/// `-?(0|[1-9][0-9]*)(\.[0-9]+)?` with at most [`MAX_NUMBER_DIGITS`] digits, not `-0`.
fn is_short_decimal(s: &str) -> bool {
    let body = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    let digits = int.len() + frac.map_or(0, str::len);
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && (int == "0" || !int.starts_with('0'))
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
        && digits <= MAX_NUMBER_DIGITS
        && s != "-0"
        && !(s.starts_with('-') && body.bytes().all(|b| b == b'0' || b == b'.'))
}

/// Whether a YAML parser might read `s` as a number (or a YAML 1.1 sexagesimal or base
/// prefix): such scalars are left to the YAML path.
fn looks_numeric(s: &str) -> bool {
    let body = s.trim_start_matches(['-', '+']);
    // `0x`, `0o`, `0b` in either case.
    if let [b'0', p, ..] = body.as_bytes()
        && matches!(p | 0x20, b'x' | b'o' | b'b')
    {
        return true;
    }
    if !body.bytes().any(|b| b.is_ascii_digit()) {
        return body.starts_with('.') && body.len() > 1;
    }
    let numeric_chars = body
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'e' | b'E' | b'+' | b'-' | b':'));
    // A sign inside a number only follows its exponent (`1000-2000` is text).
    let signs_in_exponent = body
        .as_bytes()
        .windows(2)
        .all(|w| !matches!(w[1], b'+' | b'-') || matches!(w[0], b'e' | b'E'));
    numeric_chars && signs_in_exponent && body.matches('.').count() <= 1
}

/// A plain scalar as JSON.
fn plain(s: &str, out: &mut Out) -> Option<()> {
    match scalar_kind(s)? {
        Kind::Bool | Kind::Number => out.json.push_str(s),
        Kind::Str => string(s, out),
    }
    Some(())
}

/// A JSON string.
fn string(s: &str, out: &mut Out) {
    out.json.push('"');
    // Most names need no escape: copied whole.
    if !s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        out.json.push_str(s);
        out.json.push('"');
        return;
    }
    for c in s.chars() {
        match c {
            '"' => out.json.push_str("\\\""),
            '\\' => out.json.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out.json, "\\u{:04x}", c as u32);
            }
            c => out.json.push(c),
        }
    }
    out.json.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> serde_json::Value {
        serde_json::from_str(&to_json(text).expect("in the subset")).expect("json")
    }

    #[test]
    fn block_and_flow_collections_keep_their_lines() {
        let text = "name: x # c\nvnets:\n  - name: a\n    address_space: [10.0.0.0/16]\n\n  - { name: b, subnets: [ { name: s, prefix: 10.1.0.0/24 } ] }\nlist:\n- 1\n- -2.5\n-\n  k: 'q'\n";
        let out = to_json(text).expect("subset");
        assert_eq!(out.lines().count(), text.lines().count());
        let v: serde_json::Value = serde_json::from_str(&out).expect("json");
        assert_eq!(v["name"], "x");
        assert_eq!(v["vnets"][0]["address_space"][0], "10.0.0.0/16");
        assert_eq!(v["vnets"][1]["subnets"][0]["prefix"], "10.1.0.0/24");
        assert_eq!(v["list"][1], -2.5);
        assert_eq!(v["list"][2]["k"], "q");
        // `b` starts on line 6 of both.
        let line_of = |needle: &str| out.lines().position(|l| l.contains(needle)).map(|i| i + 1);
        assert_eq!(line_of("\"b\""), Some(6));
        assert_eq!(line_of("\"q\""), Some(11));
    }

    #[test]
    fn scalars_are_typed_as_the_core_schema_types_them() {
        let v = json(
            "a: 5001\nb: 1000ms\nc: true\nd: 10.0.0.4\ne: -1s\nf: \"80\"\ng: a b\nh: 1000-2000\n",
        );
        assert_eq!(v["h"], "1000-2000");
        assert_eq!(v["a"], 5001);
        assert_eq!(v["b"], "1000ms");
        assert_eq!(v["c"], true);
        assert_eq!(v["d"], "10.0.0.4");
        assert_eq!(v["e"], "-1s");
        assert_eq!(v["f"], "80");
        assert_eq!(v["g"], "a b");
    }

    #[test]
    fn anything_outside_the_subset_is_refused() {
        for text in [
            "a: &x 1\nb: *x\n",
            "a: !tag 1\n",
            "a: |\n  text\n",
            "a: yes\n",
            "a: null\n",
            "a:\nb: 1\n",
            "a: 0x1F\n",
            "a: 1e3\n",
            "a: .5\n",
            "a: 1_000\n",
            "a: -0\n",
            "a: 12345678901234567890\n",
            "a: 1\na: 2\n",
            "a: { b: 1, b: 2 }\n",
            "a: \"x\\ty\"\n",
            "a: 'it''s'\n",
            "a: [1,\n  2]\n",
            "a:\tb\n",
            "a: 1\r\n",
            "---\na: 1\n",
            "a: b\n  c\n",
            "  a: 1\n",
            "a: 1\n - b\n",
            "a: [b: c]\n",
            "a: 1:30\n",
            "\"a\\b\": 1\n",
            "a: [-, b]\n",
            "a: \u{1}\n",
            "a: x\u{85}\n",
        ] {
            assert_eq!(to_json(text), None, "{text:?}");
        }
    }

    /// A scalar kept as text reads the same through both parsers: numbers as the YAML parser
    /// reads them, the rest as written.
    #[test]
    fn text_fields_read_the_same_through_both_parsers() {
        let yaml = "a: [1.50, 5001, -3, 0.1, 100, true, 0, 2.25, 10pps, 1000-2000, 0.30]\n";
        type Doc = std::collections::BTreeMap<String, Vec<crate::raw::Text>>;
        let slow: Doc = serde_saphyr::from_str(yaml).expect("yaml");
        let fast: Doc = serde_json::from_str(&to_json(yaml).expect("subset")).expect("json");
        assert_eq!(slow, fast);
        assert_eq!(fast["a"][0].0, "1.5");
    }

    #[test]
    fn strings_are_escaped_for_json() {
        let v = json("a: 'x\"y\\z'\nb: c\\d\n");
        assert_eq!(v["a"], "x\"y\\z");
        assert_eq!(v["b"], "c\\d");
    }

    proptest::proptest! {
        /// The allocation-free scalar classification is the plain one on any text made of the
        /// characters that decide it, YAML's special words in any case among them.
        #[test]
        fn scalar_kind_is_the_reference(
            s in "[-+.0-9a-fA-FxXoObBnNuUlLyYsStTrReEiI_: #~,?]{0,9}|(?i)(null|true|false|yes|no|on|off|y|n|~|\\.inf|-\\.inf|\\+\\.inf|\\.nan|0x1f|0o17|0b101)[a-z0-9.]{0,2}",
        ) {
            proptest::prop_assert_eq!(scalar_kind(&s), scalar_kind_reference(&s), "{:?}", s);
        }
    }

    /// [`super::scalar_kind`] as it was first written (allocating, several scans): the reference.
    /// The kind of a plain scalar; `None` when it is outside the subset (a null, a YAML 1.1
    /// boolean, a number in another notation, or text starting with an indicator).
    fn scalar_kind_reference(s: &str) -> Option<Kind> {
        let first = *s.as_bytes().first()?;
        if is_indicator(first)
            || s == "-"
            || s.starts_with("- ")
            || s.contains(": ")
            || s.contains(" #")
        {
            return None;
        }
        match s {
            "true" | "false" => return Some(Kind::Bool),
            _ => {}
        }
        let lower = s.to_ascii_lowercase();
        if matches!(
            lower.as_str(),
            "null" | "~" | "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n"
        ) || lower.starts_with(".inf")
            || lower.starts_with("-.inf")
            || lower.starts_with("+.inf")
            || lower == ".nan"
        {
            return None;
        }
        if is_short_decimal(s) {
            return Some(Kind::Number);
        }
        if looks_numeric_reference(s) {
            return None;
        }
        Some(Kind::Str)
    }

    /// Whether a YAML parser might read `s` as a number (or a YAML 1.1 sexagesimal or base
    /// prefix): such scalars are left to the YAML path.
    fn looks_numeric_reference(s: &str) -> bool {
        let body = s.trim_start_matches(['-', '+']);
        let lower = body.to_ascii_lowercase();
        if lower.starts_with("0x") || lower.starts_with("0o") || lower.starts_with("0b") {
            return true;
        }
        if !body.bytes().any(|b| b.is_ascii_digit()) {
            return body.starts_with('.') && body.len() > 1;
        }
        let numeric_chars = body.bytes().all(|b| {
            b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'e' | b'E' | b'+' | b'-' | b':')
        });
        // A sign inside a number only follows its exponent (`1000-2000` is text).
        let signs_in_exponent = body
            .as_bytes()
            .windows(2)
            .all(|w| !matches!(w[1], b'+' | b'-') || matches!(w[0], b'e' | b'E'));
        numeric_chars && signs_in_exponent && body.matches('.').count() <= 1
    }
}
