//! JSON as Azure Resource Manager accepts it: `//` and `/* */` comments, trailing commas in
//! objects and arrays, and raw newlines (and tabs) inside strings.
//!
//! What it is for: reading template and parameter files into [`serde_json::Value`], with a
//! [`JsonError`] carrying the line and column of the first problem. What it is not: a general
//! JSON5 parser (no single quotes, no unquoted keys, no hex numbers: ARM rejects those too).

use serde_json::{Map, Number, Value};

/// A syntax error in a template or parameters file, with its 1-based position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct JsonError {
    /// 1-based line of the problem.
    pub line: usize,
    /// 1-based column (in characters) of the problem.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// Parses ARM-flavoured JSON (comments, trailing commas, raw newlines in strings).
pub fn parse(text: &str) -> Result<Value, JsonError> {
    run(text, None)
}

/// Parses the argument of ARM's `json()`: as [`parse`], and strings may also be in single
/// quotes (`{'one': 'a'}`), which the ARM engine's JSON reader (Json.NET) accepts; the
/// string functions page feeds `"{'one': 'a', 'two': 'b'}"` to `base64ToJson` this way.
pub fn parse_lenient(text: &str) -> Result<Value, JsonError> {
    let mut p = Parser {
        src: text.as_bytes(),
        text,
        pos: 0,
        depth: 0,
        single_quotes: true,
        path: String::new(),
        spans: None,
    };
    p.skip_ws()?;
    let v = p.value()?;
    p.skip_ws()?;
    if p.pos < p.src.len() {
        return Err(p.err("unexpected text after the end of the JSON value"));
    }
    Ok(v)
}

/// Where the value at a JSON path (`resources[2].properties.subnets[0].name`, as evaluation
/// errors name it) starts in `text`: 1-based line and column. Copy markers (`<copy 3>`) are
/// ignored; a path that does not exist falls back to its nearest existing parent.
pub fn locate(text: &str, path: &str) -> Option<(usize, usize)> {
    let mut spans = std::collections::HashMap::new();
    run(text, Some(&mut spans)).ok()?;
    let mut key = String::new();
    let mut rest = path;
    while let Some(i) = rest.find('<') {
        key.push_str(&rest[..i]);
        rest = rest[i..].split_once('>').map_or("", |(_, r)| r);
    }
    key.push_str(rest);
    loop {
        if let Some(&at) = spans.get(&key) {
            return Some(line_col(text, at));
        }
        let cut = key.rfind(['.', '['])?;
        key.truncate(cut);
    }
}

fn run(
    text: &str,
    spans: Option<&mut std::collections::HashMap<String, usize>>,
) -> Result<Value, JsonError> {
    let mut p = Parser {
        src: text.as_bytes(),
        text,
        pos: 0,
        depth: 0,
        single_quotes: false,
        path: String::new(),
        spans,
    };
    // A UTF-8 byte order mark is accepted, as ARM does.
    if text.starts_with('\u{feff}') {
        p.pos = 3;
    }
    p.skip_ws()?;
    let v = p.value()?;
    p.skip_ws()?;
    if p.pos < p.src.len() {
        return Err(p.err("unexpected text after the end of the JSON value"));
    }
    Ok(v)
}

fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..floor_char(text, at.min(text.len()))];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Nesting limit, so hostile input cannot overflow the stack.
const MAX_DEPTH: usize = 256;

struct Parser<'a> {
    src: &'a [u8],
    text: &'a str,
    pos: usize,
    depth: usize,
    /// Strings may be single-quoted too (the `json()` function's input).
    single_quotes: bool,
    /// The JSON path of the value being read, when `spans` records positions.
    path: String,
    spans: Option<&'a mut std::collections::HashMap<String, usize>>,
}

impl Parser<'_> {
    fn err(&self, message: impl Into<String>) -> JsonError {
        self.err_at(self.pos, message)
    }

    fn err_at(&self, at: usize, message: impl Into<String>) -> JsonError {
        let (line, column) = line_col(self.text, at);
        JsonError {
            line,
            column,
            message: message.into(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn skip_ws(&mut self) -> Result<(), JsonError> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\r' | b'\n') => self.pos += 1,
                Some(b'/') => match self.src.get(self.pos + 1) {
                    Some(b'/') => {
                        while let Some(c) = self.peek() {
                            if c == b'\n' {
                                break;
                            }
                            self.pos += 1;
                        }
                    }
                    Some(b'*') => {
                        let start = self.pos;
                        self.pos += 2;
                        loop {
                            match self.peek() {
                                None => return Err(self.err_at(start, "unterminated /* comment")),
                                Some(b'*') if self.src.get(self.pos + 1) == Some(&b'/') => {
                                    self.pos += 2;
                                    break;
                                }
                                _ => self.pos += 1,
                            }
                        }
                    }
                    _ => return Err(self.err("unexpected '/'")),
                },
                _ => return Ok(()),
            }
        }
    }

    fn value(&mut self) -> Result<Value, JsonError> {
        if let Some(spans) = self.spans.as_deref_mut() {
            spans.insert(self.path.clone(), self.pos);
        }
        match self.peek() {
            None => Err(self.err("unexpected end of input, expected a value")),
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b'\'') if self.single_quotes => Ok(Value::String(self.string()?)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.keyword("true", Value::Bool(true)),
            Some(b'f') => self.keyword("false", Value::Bool(false)),
            Some(b'n') => self.keyword("null", Value::Null),
            Some(_) => {
                let c = self.text[self.pos..].chars().next().unwrap_or('?');
                Err(self.err(format!("unexpected character '{c}', expected a value")))
            }
        }
    }

    fn keyword(&mut self, word: &str, v: Value) -> Result<Value, JsonError> {
        if self.src[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(v)
        } else {
            Err(self.err(format!("invalid literal, expected '{word}'")))
        }
    }

    fn enter(&mut self) -> Result<(), JsonError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err("JSON nested too deeply"));
        }
        Ok(())
    }

    fn object(&mut self) -> Result<Value, JsonError> {
        self.enter()?;
        self.pos += 1;
        let mut map = Map::new();
        loop {
            self.skip_ws()?;
            match self.peek() {
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                Some(b'"') => {}
                Some(b'\'') if self.single_quotes => {}
                None => return Err(self.err("unterminated object, expected '}'")),
                Some(_) => return Err(self.err("expected a property name in double quotes")),
            }
            let key = self.string()?;
            self.skip_ws()?;
            if self.peek() != Some(b':') {
                return Err(self.err(format!("expected ':' after property name \"{key}\"")));
            }
            self.pos += 1;
            self.skip_ws()?;
            let mark = self.path.len();
            if self.spans.is_some() {
                if mark > 0 {
                    self.path.push('.');
                }
                self.path.push_str(&key);
            }
            let v = self.value()?;
            self.path.truncate(mark);
            map.insert(key, v);
            self.skip_ws()?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                None => return Err(self.err("unterminated object, expected '}'")),
                Some(_) => return Err(self.err("expected ',' or '}' in object")),
            }
        }
        self.depth -= 1;
        Ok(Value::Object(map))
    }

    fn array(&mut self) -> Result<Value, JsonError> {
        self.enter()?;
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.skip_ws()?;
            if self.peek() == Some(b']') {
                self.pos += 1;
                break;
            }
            let mark = self.path.len();
            if self.spans.is_some() {
                self.path.push_str(&format!("[{}]", items.len()));
            }
            items.push(self.value()?);
            self.path.truncate(mark);
            self.skip_ws()?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    break;
                }
                None => return Err(self.err("unterminated array, expected ']'")),
                Some(_) => return Err(self.err("expected ',' or ']' in array")),
            }
        }
        self.depth -= 1;
        Ok(Value::Array(items))
    }

    fn string(&mut self) -> Result<String, JsonError> {
        let start = self.pos;
        let quote = self.src[start];
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.err_at(start, "unterminated string"));
            };
            match c {
                c if c == quote => {
                    self.pos += 1;
                    return Ok(out);
                }
                b'\\' => {
                    let esc = self.src.get(self.pos + 1).copied();
                    self.pos += 2;
                    match esc {
                        Some(b'"') => out.push('"'),
                        Some(b'\'') if quote == b'\'' => out.push('\''),
                        Some(b'\\') => out.push('\\'),
                        Some(b'/') => out.push('/'),
                        Some(b'b') => out.push('\u{8}'),
                        Some(b'f') => out.push('\u{c}'),
                        Some(b'n') => out.push('\n'),
                        Some(b'r') => out.push('\r'),
                        Some(b't') => out.push('\t'),
                        Some(b'u') => {
                            let hi = self.hex4()?;
                            let ch = if (0xd800..0xdc00).contains(&hi)
                                && self.src.get(self.pos) == Some(&b'\\')
                                && self.src.get(self.pos + 1) == Some(&b'u')
                            {
                                self.pos += 2;
                                let lo = self.hex4()?;
                                char::from_u32(
                                    0x10000
                                        + ((hi - 0xd800) << 10)
                                        + (lo.wrapping_sub(0xdc00) & 0x3ff),
                                )
                            } else {
                                char::from_u32(hi)
                            };
                            out.push(ch.unwrap_or('\u{fffd}'));
                        }
                        _ => return Err(self.err_at(self.pos - 2, "invalid escape in string")),
                    }
                }
                _ => {
                    // Raw control characters (newlines, tabs) are kept as ARM keeps them.
                    let rest = &self.text[self.pos..];
                    let ch = rest.chars().next().unwrap_or('\u{fffd}');
                    out.push(ch);
                    self.pos += ch.len_utf8();
                }
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let digits = self
            .src
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.err("truncated \\u escape"))?;
        let s = std::str::from_utf8(digits).map_err(|_| self.err("invalid \\u escape"))?;
        let v = u32::from_str_radix(s, 16).map_err(|_| self.err("invalid \\u escape"))?;
        self.pos += 4;
        Ok(v)
    }

    fn number(&mut self) -> Result<Value, JsonError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let mut float = false;
        while let Some(c) = self.peek() {
            match c {
                b'0'..=b'9' => {}
                b'.' | b'e' | b'E' | b'+' | b'-' => float = true,
                _ => break,
            }
            self.pos += 1;
        }
        let s = &self.text[start..self.pos];
        if let (false, Ok(i)) = (float, s.parse::<i64>()) {
            return Ok(Value::Number(i.into()));
        }
        s.parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| self.err_at(start, format!("invalid number '{s}'")))
    }
}

fn floor_char(s: &str, mut at: usize) -> usize {
    while at > 0 && !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn comments_trailing_commas_and_raw_newlines_are_accepted() {
        let v =
            parse("{\n // a comment\n \"a\": [1, 2,], /* block\n comment */ \"b\": \"x\ny\",\n}")
                .unwrap();
        assert_eq!(v, json!({"a": [1, 2], "b": "x\ny"}));
    }

    #[test]
    fn errors_carry_line_and_column() {
        let e = parse("{\n  \"a\": 1\n  \"b\": 2\n}").unwrap_err();
        assert_eq!((e.line, e.column), (3, 3), "{e}");
        let e = parse("{\"a\": tru}").unwrap_err();
        assert_eq!((e.line, e.column), (1, 7));
        let e = parse("[1, 2").unwrap_err();
        assert!(e.message.contains("unterminated"), "{e}");
    }

    #[test]
    fn numbers_escapes_and_bom() {
        let v = parse("\u{feff}[-3, 1.5, \"\\u00e9\\n\", 9223372036854775807]").unwrap();
        assert_eq!(v, json!([-3, 1.5, "é\n", 9223372036854775807i64]));
    }

    #[test]
    fn single_quotes_only_in_lenient_mode() {
        assert_eq!(
            parse_lenient("{'one': 'a', \"two\": 'it\\'s'}").unwrap(),
            json!({"one": "a", "two": "it's"})
        );
        assert!(parse("{'one': 'a'}").is_err());
    }

    #[test]
    fn locate_finds_the_line_of_a_json_path() {
        let text = "{\n  \"resources\": [\n    {\"name\": \"a\"},\n    {\n      \"name\": \"[bad()]\"\n    }\n  ]\n}";
        assert_eq!(locate(text, "resources[1].name"), Some((5, 15)));
        assert_eq!(locate(text, "resources[1]<copy 3>.name"), Some((5, 15)));
        assert_eq!(
            locate(text, "resources[1].properties.x"),
            Some((4, 5)),
            "nearest parent"
        );
        assert_eq!(locate(text, "resources[0]"), Some((3, 5)));
        assert_eq!(locate("{", "x"), None);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let text = "[".repeat(10_000);
        assert!(parse(&text).unwrap_err().message.contains("deeply"));
    }
}
