//! A scenario document written as YAML.
//!
//! What it is for: [`Node`], a document tree that keeps its keys in the order they were
//! written, and [`write`], which prints it (the scenario `map` built) as block-style YAML a person reads and edits: mappings and lists of mappings as blocks, lists of scalars
//! inline, strings quoted only where YAML would read them as something else. What it is not: a
//! general YAML library (no anchors, tags or multi-line scalars) or a reader.

/// A YAML document tree whose mappings keep their keys in insertion order.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// A mapping, keys in order.
    Map(Vec<(String, Node)>),
    /// A sequence.
    List(Vec<Node>),
    /// A string.
    Str(String),
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
}

impl Node {
    /// An empty mapping.
    pub fn map() -> Self {
        Node::Map(Vec::new())
    }

    /// Appends `key: value` to a mapping (nothing for other nodes).
    pub fn set(&mut self, key: &str, value: impl Into<Node>) -> &mut Self {
        if let Node::Map(m) = self {
            m.push((key.to_string(), value.into()));
        }
        self
    }

    /// Whether it is an empty mapping or list.
    pub fn is_empty(&self) -> bool {
        matches!(self, Node::Map(m) if m.is_empty())
            || matches!(self, Node::List(l) if l.is_empty())
    }

    fn is_collection(&self) -> bool {
        matches!(self, Node::Map(_) | Node::List(_))
    }
}

impl From<&str> for Node {
    fn from(s: &str) -> Self {
        Node::Str(s.to_string())
    }
}

impl From<String> for Node {
    fn from(s: String) -> Self {
        Node::Str(s)
    }
}

impl From<bool> for Node {
    fn from(b: bool) -> Self {
        Node::Bool(b)
    }
}

impl From<i64> for Node {
    fn from(n: i64) -> Self {
        Node::Int(n)
    }
}

impl From<Vec<Node>> for Node {
    fn from(l: Vec<Node>) -> Self {
        Node::List(l)
    }
}

/// `doc` as YAML, after `header` (each line written as a `#` comment).
pub fn write(header: &[String], doc: &Node) -> String {
    let mut out = String::new();
    for line in header {
        if line.is_empty() {
            out.push_str("#\n");
        } else {
            // A line break inside a header line (a template expression kept as written) would
            // end the comment: it is written as `\n`, keeping one line per entry.
            out.push_str("# ");
            out.push_str(&line.replace("\r\n", "\\n").replace(['\n', '\r'], "\\n"));
            out.push('\n');
        }
    }
    if let Node::Map(map) = doc {
        for (k, v) in map {
            entry(&mut out, 0, k, v);
        }
    }
    out
}

fn entry(out: &mut String, indent: usize, key: &str, v: &Node) {
    pad(out, indent);
    out.push_str(&scalar_key(key));
    out.push(':');
    match v {
        Node::Map(m) if !m.is_empty() => {
            out.push('\n');
            for (k, v) in m {
                entry(out, indent + 2, k, v);
            }
        }
        Node::List(a) if a.iter().any(Node::is_collection) => {
            out.push('\n');
            list(out, indent, a);
        }
        _ => {
            out.push(' ');
            inline(out, v);
            out.push('\n');
        }
    }
}

fn list(out: &mut String, indent: usize, items: &[Node]) {
    for item in items {
        pad(out, indent);
        out.push_str("- ");
        match item {
            Node::Map(m) if !m.is_empty() => {
                let mut first = true;
                for (k, v) in m {
                    if first {
                        // The first key sits on the dash's line.
                        let mut line = String::new();
                        entry(&mut line, indent + 2, k, v);
                        out.push_str(&line[indent + 2..]);
                        first = false;
                    } else {
                        entry(out, indent + 2, k, v);
                    }
                }
            }
            _ => {
                inline(out, item);
                out.push('\n');
            }
        }
    }
}

fn inline(out: &mut String, v: &Node) {
    match v {
        Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Node::Int(n) => out.push_str(&n.to_string()),
        Node::Str(s) => out.push_str(&scalar(s)),
        Node::List(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                inline(out, x);
            }
            out.push(']');
        }
        Node::Map(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                out.push_str(if i > 0 { ", " } else { " " });
                out.push_str(&scalar_key(k));
                out.push_str(": ");
                inline(out, x);
            }
            out.push_str(if m.is_empty() { "}" } else { " }" });
        }
    }
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

fn scalar_key(k: &str) -> String {
    scalar(k)
}

/// A string as a plain scalar when YAML reads it back as the same string, else double-quoted
/// (JSON's escaping is valid YAML).
fn scalar(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | '@'))
        && !s.starts_with(['-', '.', '@'])
        && s.parse::<f64>().is_err()
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n" | "~"
        );
    if plain {
        s.to_string()
    } else {
        serde_json::Value::String(s.to_string()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_line_with_line_breaks_stays_one_comment_line() {
        let mut doc = Node::map();
        doc.set("name", "x");
        let y = write(&["kept `[split(m, '\n')]` and\r\nmore".into()], &doc);
        assert_eq!(y, "# kept `[split(m, '\\n')]` and\\nmore\nname: x\n");
    }

    #[test]
    fn blocks_inline_lists_and_quoting() {
        let strs = |v: &[&str]| Node::List(v.iter().map(|s| Node::from(*s)).collect());
        let mut azure = Node::map();
        azure.set("era", "current");
        let mut subnet = Node::map();
        subnet.set("name", "a").set("prefix", "10.0.1.0/24");
        let mut vnet = Node::map();
        vnet.set("name", "hub")
            .set("address_space", strs(&["10.0.0.0/16"]))
            .set("subnets", vec![subnet]);
        let mut doc = Node::map();
        doc.set("name", "imported")
            .set("azure", azure)
            .set("vnets", vec![vnet])
            .set("flags", strs(&["*", "80", "true", "x y"]));
        let y = write(&["from az".into()], &doc);
        assert_eq!(
            y,
            "# from az\nname: imported\nazure:\n  era: current\nvnets:\n- name: hub\n  address_space: [10.0.0.0/16]\n  subnets:\n  - name: a\n    prefix: 10.0.1.0/24\nflags: [\"*\", \"80\", \"true\", \"x y\"]\n"
        );
    }
}
