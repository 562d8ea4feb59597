//! Edits of a scenario document: set a field, remove an item or field, add items to a list,
//! each addressed by a readable path such as `vms[web1].size` or
//! `nsgs[web-nsg].rules[deny-sql]`.
//!
//! What it is for: the variants of a sweep (see `variants`). The scenario's YAML is read into
//! a [`Node`] tree (mappings keep their order), edited, and written back as flow-style YAML
//! text for the scenario loader, which checks the edited scenario as it checks any file. A path
//! is fields joined by `.`; `[x]` after a field picks the item of that list whose `name` is
//! `x` (for a list of scalars, the item equal to `x`), `[#n]` the item at position `n` (from 0).
//! What it is not: a check of the scenario's rules (the loader's) or of field names (an
//! unknown field set here is reported by the loader, with its "did you mean").

use std::fmt::{self, Write as _};

use indexmap::IndexMap;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Serialize, Serializer};

/// A YAML value of a scenario document, as the loader would read it.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// `null` or `~`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A negative integer.
    Int(i64),
    /// A non-negative integer.
    UInt(u64),
    /// A floating-point number.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in the order written.
    Map(IndexMap<String, Node>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NodeVisitor;
        impl<'de> Visitor<'de> for NodeVisitor {
            type Value = Node;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a YAML value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
                Node::deserialize(d)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
                Ok(Node::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
                Ok(if v < 0 {
                    Node::Int(v)
                } else {
                    Node::UInt(v as u64)
                })
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
                Ok(Node::UInt(v))
            }
            fn visit_i128<E: de::Error>(self, v: i128) -> Result<Node, E> {
                if let Ok(u) = u64::try_from(v) {
                    Ok(Node::UInt(u))
                } else if let Ok(i) = i64::try_from(v) {
                    Ok(Node::Int(i))
                } else {
                    Ok(Node::Str(v.to_string()))
                }
            }
            fn visit_u128<E: de::Error>(self, v: u128) -> Result<Node, E> {
                Ok(u64::try_from(v).map_or_else(|_| Node::Str(v.to_string()), Node::UInt))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
                Ok(Node::Float(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
                Ok(Node::Str(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
                Ok(Node::Str(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Node::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                let mut entries = IndexMap::new();
                while let Some((key, value)) = map.next_entry::<Key, Node>()? {
                    entries.insert(key.0, value);
                }
                Ok(Node::Map(entries))
            }
        }
        deserializer.deserialize_any(NodeVisitor)
    }
}

/// A mapping key: a scalar, kept as text (`80: x` has the key `80`).
struct Key(String);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Node::deserialize(deserializer)? {
            Node::Str(s) => Ok(Key(s)),
            Node::Bool(b) => Ok(Key(b.to_string())),
            Node::Int(i) => Ok(Key(i.to_string())),
            Node::UInt(u) => Ok(Key(u.to_string())),
            Node::Float(f) => Ok(Key(f.to_string())),
            Node::Null => Ok(Key("null".into())),
            Node::Seq(_) | Node::Map(_) => Err(de::Error::custom(
                "a mapping key must be a scalar, not a sequence or a mapping",
            )),
        }
    }
}

/// Serialized as the JSON value (non-finite floats, which JSON lacks, as strings).
impl Serialize for Node {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Null => serializer.serialize_unit(),
            Node::Bool(b) => serializer.serialize_bool(*b),
            Node::Int(i) => serializer.serialize_i64(*i),
            Node::UInt(u) => serializer.serialize_u64(*u),
            Node::Float(f) if f.is_finite() => serializer.serialize_f64(*f),
            Node::Float(f) => serializer.serialize_str(&f.to_string()),
            Node::Str(s) => serializer.serialize_str(s),
            Node::Seq(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Node::Map(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl Node {
    /// The document as flow-style YAML text, which the scenario loader reads back to the same
    /// values: strings double-quoted with JSON's escapes (valid in YAML), non-finite floats as
    /// `.inf`, `-.inf` and `.nan`.
    pub fn to_yaml(&self) -> String {
        let mut out = String::new();
        self.emit(&mut out);
        out.push('\n');
        out
    }

    fn emit(&self, out: &mut String) {
        match self {
            Node::Null => out.push_str("null"),
            Node::Bool(b) => {
                let _ = write!(out, "{b}");
            }
            Node::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Node::UInt(u) => {
                let _ = write!(out, "{u}");
            }
            Node::Float(f) if f.is_nan() => out.push_str(".nan"),
            Node::Float(f) if f.is_infinite() => {
                out.push_str(if *f > 0.0 { ".inf" } else { "-.inf" })
            }
            Node::Float(f) => {
                // Shortest text that reads back to the same float, with a `.` or exponent so it
                // stays a float.
                let text = serde_json::to_string(f).unwrap_or_else(|_| f.to_string());
                out.push_str(&text);
            }
            Node::Str(s) => quote(s, out),
            Node::Seq(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.emit(out);
                }
                out.push(']');
            }
            Node::Map(entries) => {
                out.push('{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    quote(k, out);
                    out.push_str(": ");
                    v.emit(out);
                }
                out.push('}');
            }
        }
    }

    /// A short text of the value for messages and reports: compact JSON.
    pub fn brief(&self) -> String {
        match self {
            Node::Str(s) => s.clone(),
            other => serde_json::to_string(other).unwrap_or_default(),
        }
    }

    /// The item's `name`, when it is a mapping with a scalar `name`.
    fn name(&self) -> Option<String> {
        match self {
            Node::Map(m) => m.get("name").and_then(Node::scalar_text),
            _ => None,
        }
    }

    /// The text of a scalar (what `[x]` compares with).
    fn scalar_text(&self) -> Option<String> {
        match self {
            Node::Str(s) => Some(s.clone()),
            Node::Bool(b) => Some(b.to_string()),
            Node::Int(i) => Some(i.to_string()),
            Node::UInt(u) => Some(u.to_string()),
            Node::Float(f) => Some(f.to_string()),
            Node::Null | Node::Seq(_) | Node::Map(_) => None,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Node::Null => "null",
            Node::Bool(_) => "a boolean",
            Node::Int(_) | Node::UInt(_) | Node::Float(_) => "a number",
            Node::Str(_) => "a string",
            Node::Seq(_) => "a list",
            Node::Map(_) => "a mapping",
        }
    }
}

/// A string as a YAML double-quoted scalar (JSON's escapes are YAML's).
fn quote(s: &str, out: &mut String) {
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()));
}

/// How a step picks an item of a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    /// `[x]`: the item named `x` (or, in a list of scalars, equal to `x`).
    Name(String),
    /// `[#n]`: the item at position `n`, from 0.
    Position(usize),
}

/// One step of a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// A field of a mapping.
    Field(String),
    /// An item of a list.
    Item(Selector),
}

/// A parsed path such as `vnets[hub].subnets[app].nsg`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EditPath {
    /// The path as written.
    pub text: String,
    /// Its steps, the first a field of the document.
    pub steps: Vec<Step>,
}

impl fmt::Display for EditPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Why an edit could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct EditError {
    /// What is wrong, naming the path.
    pub message: String,
}

fn err<T>(message: String) -> Result<T, EditError> {
    Err(EditError { message })
}

impl std::str::FromStr for EditPath {
    type Err = EditError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| {
            err(format!(
                "`{text}` is not a path: {why}; write fields joined by `.` and items of a list \
                 by name in brackets, e.g. `vms[web1].size` or `nsgs[web-nsg].rules[deny-sql]`"
            ))
        };
        let mut steps = Vec::new();
        let mut rest = text.trim();
        if rest.is_empty() {
            return bad("it is empty");
        }
        let mut expect_field = true;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('[') {
                if expect_field && steps.is_empty() {
                    return bad("it starts with `[`, not a field");
                }
                let Some(close) = after.find(']') else {
                    return bad("a `[` is not closed");
                };
                let inner = after[..close].trim();
                if inner.is_empty() {
                    return bad("`[]` names no item");
                }
                let selector = match inner.strip_prefix('#') {
                    Some(n) => match n.trim().parse::<usize>() {
                        Ok(n) => Selector::Position(n),
                        Err(_) => {
                            return bad(&format!("`[{inner}]`: `#` takes a position (0, 1, ...)"));
                        }
                    },
                    None => Selector::Name(inner.to_owned()),
                };
                steps.push(Step::Item(selector));
                rest = &after[close + 1..];
                expect_field = false;
                continue;
            }
            if !expect_field {
                match rest.strip_prefix('.') {
                    Some(r) => rest = r,
                    None => return bad("expected `.` or `[` after an item"),
                }
            }
            let end = rest.find(['.', '[', ']']).unwrap_or(rest.len());
            let field = rest[..end].trim();
            if field.is_empty() {
                return bad("a field name is missing");
            }
            if rest[end..].starts_with(']') {
                return bad("a `]` without its `[`");
            }
            steps.push(Step::Field(field.to_owned()));
            rest = &rest[end..];
            expect_field = false;
        }
        Ok(EditPath {
            text: text.trim().to_owned(),
            steps,
        })
    }
}

/// One edit of a variant.
#[derive(Clone, Debug, PartialEq)]
pub enum Edit {
    /// Sets the field or item at the path (a missing last field is created).
    Set {
        /// Where.
        path: EditPath,
        /// The new value.
        value: Node,
    },
    /// Removes the item or field at the path.
    Remove {
        /// What.
        path: EditPath,
    },
    /// Appends items to the list at the path (created when missing).
    Add {
        /// The list.
        path: EditPath,
        /// The items, in order.
        items: Vec<Node>,
    },
}

impl Edit {
    /// The edit in a few words, as a report lists it: `set vms[web1].size = Standard_D4s_v5`,
    /// `remove nsgs[web-nsg].rules[deny-sql]`, `add nsgs[web-nsg].rules[allow-ssh]`.
    pub fn describe(&self) -> String {
        match self {
            Edit::Set { path, value } => format!("set {path} = {}", value.brief()),
            Edit::Remove { path } => format!("remove {path}"),
            Edit::Add { path, items } => {
                let what: Vec<String> = items
                    .iter()
                    .map(|i| match i.name() {
                        Some(n) => format!("{path}[{n}]"),
                        None => format!("{path} += {}", i.brief()),
                    })
                    .collect();
                format!("add {}", what.join(", "))
            }
        }
    }

    /// Applies the edit to `doc`.
    pub fn apply(&self, doc: &mut Node) -> Result<(), EditError> {
        match self {
            Edit::Set { path, value } => {
                let (last, parent) = split_last(path)?;
                let target = walk(doc, path, parent)?;
                match (last, target) {
                    (Step::Field(f), Node::Map(m)) => {
                        m.insert(f.clone(), value.clone());
                        Ok(())
                    }
                    (Step::Item(sel), Node::Seq(items)) => {
                        let i = find(items, sel, path, parent.len())?;
                        items[i] = value.clone();
                        Ok(())
                    }
                    (step, node) => mismatch(path, parent.len(), step, node),
                }
            }
            Edit::Remove { path } => {
                let (last, parent) = split_last(path)?;
                let target = walk(doc, path, parent)?;
                match (last, target) {
                    (Step::Field(f), Node::Map(m)) => {
                        if m.shift_remove(f).is_none() {
                            return err(format!(
                                "`{path}`: there is no field `{f}` to remove{}",
                                did_you_mean(f, m.keys().cloned())
                            ));
                        }
                        Ok(())
                    }
                    (Step::Item(sel), Node::Seq(items)) => {
                        let i = find(items, sel, path, parent.len())?;
                        items.remove(i);
                        Ok(())
                    }
                    (step, node) => mismatch(path, parent.len(), step, node),
                }
            }
            Edit::Add { path, items } => {
                let (last, parent) = split_last(path)?;
                let target = walk(doc, path, parent)?;
                let list = match (last, target) {
                    (Step::Field(f), Node::Map(m)) => {
                        let entry = m.entry(f.clone()).or_insert(Node::Seq(Vec::new()));
                        if matches!(entry, Node::Null) {
                            *entry = Node::Seq(Vec::new());
                        }
                        entry
                    }
                    (Step::Item(sel), Node::Seq(list)) => {
                        let i = find(list, sel, path, parent.len())?;
                        &mut list[i]
                    }
                    (step, node) => return mismatch(path, parent.len(), step, node),
                };
                let Node::Seq(list) = list else {
                    return err(format!(
                        "`{path}` is {}, not a list: `add` appends to a list (use `set` to \
                         change a value)",
                        list.kind()
                    ));
                };
                for item in items {
                    if let Some(name) = item.name()
                        && list.iter().any(|i| i.name().as_deref() == Some(&name))
                    {
                        return err(format!(
                            "`{path}` already has an item named `{name}`; `remove` it first to \
                             replace it, or `set {path}[{name}]`"
                        ));
                    }
                    list.push(item.clone());
                }
                Ok(())
            }
        }
    }
}

fn split_last(path: &EditPath) -> Result<(&Step, &[Step]), EditError> {
    match path.steps.split_last() {
        Some((last, parent)) => Ok((last, parent)),
        None => err(format!("`{path}` is an empty path")),
    }
}

/// The path's text up to step `n` (excluded), for messages.
fn prefix(path: &EditPath, n: usize) -> String {
    let mut out = String::new();
    for step in &path.steps[..n] {
        match step {
            Step::Field(f) if out.is_empty() => out.push_str(f),
            Step::Field(f) => {
                let _ = write!(out, ".{f}");
            }
            Step::Item(Selector::Name(x)) => {
                let _ = write!(out, "[{x}]");
            }
            Step::Item(Selector::Position(n)) => {
                let _ = write!(out, "[#{n}]");
            }
        }
    }
    if out.is_empty() {
        "the scenario".into()
    } else {
        format!("`{out}`")
    }
}

fn mismatch<T>(path: &EditPath, at: usize, step: &Step, node: &Node) -> Result<T, EditError> {
    let what = match step {
        Step::Field(f) => format!("has no fields, so `.{f}` cannot follow it"),
        Step::Item(_) => "is not a list, so `[...]` cannot follow it".to_owned(),
    };
    err(format!(
        "`{path}`: {} is {} and {what}",
        prefix(path, at),
        node.kind()
    ))
}

fn did_you_mean(word: &str, candidates: impl Iterator<Item = String>) -> String {
    let best = candidates
        .map(|c| (strsim::jaro_winkler(word, &c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match best {
        Some((_, c)) => format!(" (did you mean `{c}`?)"),
        None => String::new(),
    }
}

/// The index of the item `sel` picks in `items`.
fn find(items: &[Node], sel: &Selector, path: &EditPath, at: usize) -> Result<usize, EditError> {
    match sel {
        Selector::Position(n) => {
            if *n < items.len() {
                Ok(*n)
            } else {
                err(format!(
                    "`{path}`: {} has {} items, so there is no item #{n} (positions count from 0)",
                    prefix(path, at),
                    items.len()
                ))
            }
        }
        Selector::Name(x) => {
            let keyed = |i: &Node| i.name().or_else(|| i.scalar_text());
            let mut hits = items
                .iter()
                .enumerate()
                .filter(|(_, i)| keyed(i).as_deref() == Some(x.as_str()));
            match (hits.next(), hits.next()) {
                (Some((i, _)), None) => Ok(i),
                (Some(_), Some(_)) => err(format!(
                    "`{path}`: {} has several items named `{x}`; pick one by position, [#n]",
                    prefix(path, at)
                )),
                (None, _) => {
                    let names: Vec<String> = items.iter().filter_map(keyed).collect();
                    let listed = if names.is_empty() {
                        " (it has no named items)".to_owned()
                    } else if names.len() <= 12 {
                        format!(" (its items: {})", names.join(", "))
                    } else {
                        String::new()
                    };
                    err(format!(
                        "`{path}`: {} has no item named `{x}`{}{listed}",
                        prefix(path, at),
                        did_you_mean(x, names.iter().cloned()),
                    ))
                }
            }
        }
    }
}

/// The node the steps `parent` of `path` lead to.
fn walk<'a>(
    doc: &'a mut Node,
    path: &EditPath,
    parent: &[Step],
) -> Result<&'a mut Node, EditError> {
    let mut node = doc;
    for (at, step) in parent.iter().enumerate() {
        node = match (step, node) {
            (Step::Field(f), Node::Map(m)) => {
                let keys: Vec<String> = m.keys().cloned().collect();
                match m.get_mut(f) {
                    Some(next) => next,
                    None => {
                        let whole = prefix(path, at + 1);
                        return err(format!(
                            "`{path}`: {whole} is not in the scenario{}",
                            did_you_mean(f, keys.into_iter())
                        ));
                    }
                }
            }
            (Step::Item(sel), Node::Seq(items)) => {
                let i = find(items, sel, path, at)?;
                &mut items[i]
            }
            (step, node) => return mismatch(path, at, step, node),
        };
    }
    Ok(node)
}

/// A loader's field path (`vms[0].nics[1].ip`) with every position of a named item replaced by
/// its name, as variants write paths (`vms[web1].nics[web1-nic].ip`). Parts it cannot follow
/// in `doc` stay as they are.
pub fn named_path(doc: &Node, path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut node = Some(doc);
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('[') {
            let Some(close) = after.find(']') else {
                out.push_str(rest);
                break;
            };
            let inner = &after[..close];
            let item = match (node, inner.parse::<usize>()) {
                (Some(Node::Seq(items)), Ok(i)) => items.get(i),
                _ => None,
            };
            match item.and_then(Node::name) {
                Some(name) => {
                    let _ = write!(out, "[{name}]");
                }
                None => {
                    let _ = write!(out, "[{inner}]");
                }
            }
            node = item;
            rest = &after[close + 1..];
            continue;
        }
        let dot = usize::from(rest.starts_with('.'));
        let end = rest[dot..].find(['.', '[']).map_or(rest.len(), |e| e + dot);
        let field = &rest[dot..end];
        out.push_str(&rest[..end]);
        node = match node {
            Some(Node::Map(m)) => m.get(field),
            _ => None,
        };
        rest = &rest[end..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
name: t
vms:
  - name: web1
    size: Standard_D2s_v3
    nics: [{ name: web1-nic, subnet: hub/app, ip: 10.0.1.4 }]
  - name: db1
    size: Standard_D2s_v3
nsgs:
  - name: web-nsg
    rules:
      - { name: deny-sql, priority: 100, direction: inbound, access: deny, protocol: tcp }
      - { name: allow-web, priority: 200, direction: inbound, access: allow, protocol: tcp }
vnets:
  - name: hub
    address_space: [10.0.0.0/16, 10.1.0.0/16]
";

    fn doc() -> Node {
        serde_saphyr::from_str(DOC).unwrap()
    }

    fn path(s: &str) -> EditPath {
        s.parse().unwrap()
    }

    fn at<'a>(doc: &'a Node, p: &str) -> &'a Node {
        let p = path(p);
        let mut copy = doc.clone();
        walk(&mut copy, &p, &p.steps).unwrap();
        // Walk the shared reference the same way.
        let mut node = doc;
        for step in &p.steps {
            node = match (step, node) {
                (Step::Field(f), Node::Map(m)) => &m[f.as_str()],
                (Step::Item(s), Node::Seq(items)) => &items[find(items, s, &p, 0).unwrap()],
                _ => panic!("bad step"),
            };
        }
        node
    }

    #[test]
    fn paths_parse() {
        assert_eq!(
            path("nsgs[web-nsg].rules[deny-sql]").steps,
            vec![
                Step::Field("nsgs".into()),
                Step::Item(Selector::Name("web-nsg".into())),
                Step::Field("rules".into()),
                Step::Item(Selector::Name("deny-sql".into())),
            ]
        );
        assert_eq!(
            path("vnets[hub].address_space[10.0.0.0/16]").steps[3],
            Step::Item(Selector::Name("10.0.0.0/16".into()))
        );
        assert_eq!(
            path("events[#2].at").steps[1],
            Step::Item(Selector::Position(2))
        );
        for bad in [
            "",
            "[a]",
            "vms[",
            "vms[]",
            "vms[a]size",
            "vms..size",
            "vms]",
            "a[#x]",
        ] {
            let e = bad.parse::<EditPath>().unwrap_err();
            assert!(e.message.contains("is not a path"), "{bad}: {}", e.message);
        }
    }

    #[test]
    fn set_changes_a_field_and_creates_a_missing_one() {
        let mut d = doc();
        Edit::Set {
            path: path("vms[web1].size"),
            value: Node::Str("Standard_D8s_v5".into()),
        }
        .apply(&mut d)
        .unwrap();
        assert_eq!(
            at(&d, "vms[web1].size"),
            &Node::Str("Standard_D8s_v5".into())
        );
        assert_eq!(
            at(&d, "vms[db1].size"),
            &Node::Str("Standard_D2s_v3".into())
        );
        Edit::Set {
            path: path("vms[db1].forwarding"),
            value: Node::Bool(true),
        }
        .apply(&mut d)
        .unwrap();
        assert_eq!(at(&d, "vms[db1].forwarding"), &Node::Bool(true));
        // A whole item, by position.
        Edit::Set {
            path: path("nsgs[web-nsg].rules[#1].priority"),
            value: Node::UInt(300),
        }
        .apply(&mut d)
        .unwrap();
        assert_eq!(
            at(&d, "nsgs[web-nsg].rules[allow-web].priority"),
            &Node::UInt(300)
        );
    }

    #[test]
    fn remove_takes_out_an_item_a_scalar_or_a_field() {
        let mut d = doc();
        Edit::Remove {
            path: path("nsgs[web-nsg].rules[deny-sql]"),
        }
        .apply(&mut d)
        .unwrap();
        let Node::Seq(rules) = at(&d, "nsgs[web-nsg].rules") else {
            panic!()
        };
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].name().as_deref(), Some("allow-web"));
        Edit::Remove {
            path: path("vnets[hub].address_space[10.1.0.0/16]"),
        }
        .apply(&mut d)
        .unwrap();
        assert_eq!(
            at(&d, "vnets[hub].address_space"),
            &Node::Seq(vec![Node::Str("10.0.0.0/16".into())])
        );
        Edit::Remove {
            path: path("vms[web1].size"),
        }
        .apply(&mut d)
        .unwrap();
        let Node::Map(web1) = at(&d, "vms[web1]") else {
            panic!()
        };
        assert!(!web1.contains_key("size"));
    }

    #[test]
    fn add_appends_items_and_creates_the_list() {
        let mut d = doc();
        let rule: Node = serde_saphyr::from_str("{ name: allow-ssh, priority: 300 }").unwrap();
        Edit::Add {
            path: path("nsgs[web-nsg].rules"),
            items: vec![rule.clone()],
        }
        .apply(&mut d)
        .unwrap();
        let Node::Seq(rules) = at(&d, "nsgs[web-nsg].rules") else {
            panic!()
        };
        assert_eq!(rules.last(), Some(&rule));
        Edit::Add {
            path: path("route_tables"),
            items: vec![serde_saphyr::from_str("{ name: rt }").unwrap()],
        }
        .apply(&mut d)
        .unwrap();
        assert_eq!(at(&d, "route_tables[rt].name"), &Node::Str("rt".into()));
        let e = Edit::Add {
            path: path("nsgs[web-nsg].rules"),
            items: vec![rule],
        }
        .apply(&mut d)
        .unwrap_err();
        assert!(
            e.message.contains("already has an item named `allow-ssh`"),
            "{}",
            e.message
        );
    }

    #[test]
    fn errors_name_the_path_and_what_is_there() {
        let mut d = doc();
        let msg = |e: Edit, d: &mut Node| e.apply(d).unwrap_err().message;
        let m = msg(
            Edit::Set {
                path: path("vms[web9].size"),
                value: Node::Null,
            },
            &mut d,
        );
        assert!(m.contains("`vms` has no item named `web9`"), "{m}");
        assert!(m.contains("did you mean `web1`?"), "{m}");
        assert!(m.contains("its items: web1, db1"), "{m}");
        let m = msg(
            Edit::Remove {
                path: path("nsgs[web-nsg].rules[deny-sqll]"),
            },
            &mut d,
        );
        assert!(m.contains("did you mean `deny-sql`?"), "{m}");
        let m = msg(
            Edit::Set {
                path: path("vm[web1].size"),
                value: Node::Null,
            },
            &mut d,
        );
        assert!(
            m.contains("`vm` is not in the scenario (did you mean `vms`?)"),
            "{m}"
        );
        let m = msg(
            Edit::Set {
                path: path("vms[web1].size.x"),
                value: Node::Null,
            },
            &mut d,
        );
        assert!(m.contains("`vms[web1].size` is a string"), "{m}");
        let m = msg(
            Edit::Add {
                path: path("vms[web1].size"),
                items: vec![Node::Null],
            },
            &mut d,
        );
        assert!(m.contains("not a list"), "{m}");
        let m = msg(
            Edit::Remove {
                path: path("vms[#7]"),
            },
            &mut d,
        );
        assert!(m.contains("has 2 items, so there is no item #7"), "{m}");
        let m = msg(
            Edit::Remove {
                path: path("vms[web1].bandwidth"),
            },
            &mut d,
        );
        assert!(m.contains("no field `bandwidth`"), "{m}");
        // Nothing was changed by the failed edits.
        assert_eq!(d, doc());
    }

    #[test]
    fn loader_paths_are_written_with_names() {
        let d = doc();
        assert_eq!(named_path(&d, "vms[0].size"), "vms[web1].size");
        assert_eq!(
            named_path(&d, "vms[0].nics[0].ip"),
            "vms[web1].nics[web1-nic].ip"
        );
        assert_eq!(
            named_path(&d, "nsgs[0].rules[1].priority"),
            "nsgs[web-nsg].rules[allow-web].priority"
        );
        // Unnamed items, positions past the end and unknown fields stay as written.
        assert_eq!(
            named_path(&d, "vnets[0].address_space[1]"),
            "vnets[hub].address_space[1]"
        );
        assert_eq!(named_path(&d, "vms[9].size"), "vms[9].size");
        assert_eq!(named_path(&d, "other[0].x"), "other[0].x");
        assert_eq!(named_path(&d, ""), "");
        assert_eq!(named_path(&d, "vms[0"), "vms[0");
    }

    #[test]
    fn the_yaml_text_reads_back_to_the_same_document() {
        let mut d = doc();
        if let Node::Map(m) = &mut d {
            m.insert("odd".into(), Node::Str("a \"q\" \\ é\n\t: # [x]".into()));
            m.insert("big".into(), Node::UInt(u64::MAX));
            m.insert("neg".into(), Node::Int(-3));
            m.insert("f".into(), Node::Float(0.1));
            m.insert("whole".into(), Node::Float(2.0));
            m.insert("yes".into(), Node::Str("yes".into()));
            m.insert("num".into(), Node::Str("1433".into()));
            m.insert("nothing".into(), Node::Null);
        }
        let back: Node = serde_saphyr::from_str(&d.to_yaml()).unwrap();
        assert_eq!(back, d);
    }
}
