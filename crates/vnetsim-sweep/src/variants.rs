//! Variants files: named sets of edits of a scenario, each variant checked as a whole scenario.
//!
//! What it is for: `vnetsim sweep FILE --variants V.yaml` (and `vnetsim.sweep(..., variants=)`
//! in Python). A variants file is YAML (or JSON):
//!
//! ```yaml
//! variants:
//!   - name: baseline              # no edits: the scenario as it is
//!   - name: bigger-web
//!     set:
//!       vms[web1].size: Standard_D8s_v5
//!   - name: no-deny-sql
//!     remove:
//!       - nsgs[web-nsg].rules[deny-sql]
//! ```
//!
//! Each variant's edits (see `edit`) apply to the scenario document in the order `remove`,
//! `add`, `set`, and the edited document is loaded and checked like any scenario file; every
//! problem (a bad path, a name that is not there, a broken Azure rule, a duplicate variant
//! name) is a [`VariantsError`] naming the variants file, the line, the variant and the
//! loader's diagnostics. What it is not: the replays (see `grid`).

use std::fmt;
use std::sync::Arc;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;
use vnetsim_scenario::{Diagnostic, Scenario};

use crate::edit::{Edit, EditPath, Node};

/// The most variants one sweep takes.
pub const MAX_VARIANTS: usize = 1000;

/// The largest variants file read: 64 MiB.
pub const MAX_VARIANTS_BYTES: u64 = 64 << 20;

/// One named variant.
#[derive(Clone, Debug, PartialEq)]
pub struct Variant {
    /// Its name, unique in the file.
    pub name: Arc<str>,
    /// The line of the variants file where it starts (0 when unknown).
    pub line: u64,
    /// Its edits, in the order they apply (removals, additions, then settings), each with the
    /// line it is written on.
    pub edits: Vec<(Edit, u64)>,
}

impl Variant {
    /// Its edits in a few words each, as the report lists them.
    pub fn described(&self) -> Vec<String> {
        self.edits.iter().map(|(e, _)| e.describe()).collect()
    }
}

/// The variants of a sweep, in the order of their file.
#[derive(Clone, Debug, PartialEq)]
pub struct Variants {
    /// The file as named in errors (a path, or `<variants>` for a Python dict).
    pub source: String,
    /// The variants.
    pub list: Vec<Variant>,
}

/// Why the variants could not be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum VariantsError {
    /// The file cannot be read or is not a variants file.
    #[error("{source_name}{}: {message}", at(*line))]
    File {
        /// The variants file.
        source_name: String,
        /// Where (0: the whole file).
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// An edit cannot be made.
    #[error("{source_name}{}: variant `{variant}`: {message}", at(*line))]
    Edit {
        /// The variants file.
        source_name: String,
        /// The edit's line.
        line: u64,
        /// The variant.
        variant: String,
        /// What is wrong.
        message: String,
    },
    /// The edited scenario breaks a rule of the scenario format or of Azure.
    #[error("{source_name}{}: variant `{variant}`: the edited scenario is not valid:{}", at(*line), Listed(diagnostics))]
    Invalid {
        /// The variants file.
        source_name: String,
        /// The variant's line.
        line: u64,
        /// The variant.
        variant: String,
        /// The loader's diagnostics of the edited scenario, their paths written with names
        /// (`vms[web1].size`, not `vms[0].size`); their lines are those of the edited text, so
        /// only their paths, rules and messages are shown.
        diagnostics: Vec<Diagnostic>,
    },
}

fn at(line: u64) -> String {
    if line > 0 {
        format!(":{line}")
    } else {
        String::new()
    }
}

/// Diagnostics as an indented list (the first 20).
struct Listed<'a>(&'a [Diagnostic]);

impl fmt::Display for Listed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 20;
        for d in self.0.iter().take(SHOWN) {
            write!(f, "\n  - ")?;
            if !d.path.is_empty() {
                write!(f, "{}: ", d.path)?;
            }
            write!(f, "{} [{}]", d.message, d.rule)?;
            if let Some(help) = &d.help {
                write!(f, "\n    help: {help}")?;
            }
        }
        if self.0.len() > SHOWN {
            write!(f, "\n  and {} more", self.0.len() - SHOWN)?;
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    variants: Vec<Spanned<RawVariant>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVariant {
    name: Spanned<String>,
    #[serde(default)]
    remove: Vec<Spanned<String>>,
    #[serde(default)]
    add: IndexMap<String, Spanned<Node>>,
    #[serde(default)]
    set: IndexMap<String, Spanned<Node>>,
}

/// The canonical form of the variants, hashed to tell parts of different variants apart.
#[derive(Serialize)]
struct Canonical<'a> {
    name: &'a str,
    edits: Vec<CanonicalEdit<'a>>,
}

#[derive(Serialize)]
enum CanonicalEdit<'a> {
    Remove(&'a str),
    Add(&'a str, &'a [Node]),
    Set(&'a str, &'a Node),
}

impl Variants {
    /// Reads a variants file.
    pub fn read(path: &std::path::Path) -> Result<Variants, VariantsError> {
        use std::io::Read;
        let source_name = path.display().to_string();
        let fail = |message: String| VariantsError::File {
            source_name: source_name.clone(),
            line: 0,
            message,
        };
        let mut text = String::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_VARIANTS_BYTES + 1).read_to_string(&mut text))
            .map_err(|e| fail(format!("cannot read the variants file: {e}")))?;
        if text.len() as u64 > MAX_VARIANTS_BYTES {
            return Err(fail(format!(
                "the variants file is larger than {} MiB",
                MAX_VARIANTS_BYTES >> 20
            )));
        }
        Variants::parse(&text, &source_name)
    }

    /// Parses a variants file's text; `source_name` names it in errors.
    pub fn parse(text: &str, source_name: &str) -> Result<Variants, VariantsError> {
        let fail = |line: u64, message: String| VariantsError::File {
            source_name: source_name.to_owned(),
            line,
            message,
        };
        let raw: RawFile = serde_saphyr::from_str(text).map_err(|e| {
            let line = e.location().map_or(0, |l| l.line());
            let text = e.without_snippet().to_string();
            let first = text.lines().next().unwrap_or("").trim().to_owned();
            fail(
                line,
                format!(
                    "not a variants file ({first}); expected `variants:` and a list of \
                     variants, each with a `name` and optional `set`, `remove` and `add`"
                ),
            )
        })?;
        if raw.variants.is_empty() {
            return Err(fail(0, "`variants` lists no variant".into()));
        }
        if raw.variants.len() > MAX_VARIANTS {
            return Err(fail(
                0,
                format!(
                    "{} variants exceed the limit of {MAX_VARIANTS} per sweep",
                    raw.variants.len()
                ),
            ));
        }
        let mut list: Vec<Variant> = Vec::with_capacity(raw.variants.len());
        for v in raw.variants {
            let line = v.referenced.line();
            let v = v.value;
            let name = v.name.value.trim();
            let name_line = v.name.referenced.line();
            if name.is_empty() {
                return Err(fail(name_line, "a variant's `name` is empty".into()));
            }
            if let Some(first) = list.iter().find(|o| &*o.name == name) {
                return Err(fail(
                    name_line,
                    format!(
                        "variant name `{name}` is used twice (first at line {}); each variant \
                         needs its own name",
                        first.line
                    ),
                ));
            }
            let edit_error = |line: u64, message: String| VariantsError::Edit {
                source_name: source_name.to_owned(),
                line,
                variant: name.to_owned(),
                message,
            };
            let path = |text: &str, line: u64| {
                text.parse::<EditPath>()
                    .map_err(|e| edit_error(line, e.message))
            };
            let mut edits = Vec::new();
            for r in &v.remove {
                let l = r.referenced.line();
                edits.push((
                    Edit::Remove {
                        path: path(&r.value, l)?,
                    },
                    l,
                ));
            }
            for (p, items) in &v.add {
                let l = items.referenced.line();
                let items = match &items.value {
                    Node::Seq(items) => items.clone(),
                    one => vec![one.clone()],
                };
                edits.push((
                    Edit::Add {
                        path: path(p, l)?,
                        items,
                    },
                    l,
                ));
            }
            for (p, value) in &v.set {
                let l = value.referenced.line();
                edits.push((
                    Edit::Set {
                        path: path(p, l)?,
                        value: value.value.clone(),
                    },
                    l,
                ));
            }
            list.push(Variant {
                name: name.into(),
                line,
                edits,
            });
        }
        Ok(Variants {
            source: source_name.to_owned(),
            list,
        })
    }

    /// A hash of the variants' names and edits (values included), so parts of sweeps over
    /// different variants never merge; the same variants give the same hash whether they come
    /// from a file or from Python.
    pub fn hash(&self) -> String {
        let canonical: Vec<Canonical> = self
            .list
            .iter()
            .map(|v| Canonical {
                name: &v.name,
                edits: v
                    .edits
                    .iter()
                    .map(|(e, _)| match e {
                        Edit::Remove { path } => CanonicalEdit::Remove(&path.text),
                        Edit::Add { path, items } => CanonicalEdit::Add(&path.text, items),
                        Edit::Set { path, value } => CanonicalEdit::Set(&path.text, value),
                    })
                    .collect(),
            })
            .collect();
        let text = serde_json::to_vec(&canonical).unwrap_or_default();
        crate::part::scenario_hash(&text)
    }

    /// Every variant's scenario: `base` (the scenario loaded from `text`, named `source` in
    /// diagnostics) for a variant without edits, else `text` edited and checked. Fails at the
    /// first variant whose edits cannot be made or whose scenario is not valid.
    pub fn scenarios(
        &self,
        base: &Scenario,
        text: &str,
        source: &str,
    ) -> Result<Vec<Scenario>, VariantsError> {
        let mut doc: Option<Node> = None;
        let mut out = Vec::with_capacity(self.list.len());
        for v in &self.list {
            if v.edits.is_empty() {
                out.push(base.clone());
                continue;
            }
            let doc = match &mut doc {
                Some(d) => d,
                None => doc.insert(read_document(text).map_err(|e| VariantsError::File {
                    source_name: source.to_owned(),
                    line: e.location().map_or(0, |l| l.line()),
                    message: format!(
                        "the scenario cannot be read for editing: {}",
                        e.without_snippet()
                    ),
                })?),
            };
            let mut edited = doc.clone();
            for (edit, line) in &v.edits {
                edit.apply(&mut edited).map_err(|e| VariantsError::Edit {
                    source_name: self.source.clone(),
                    line: *line,
                    variant: v.name.to_string(),
                    message: e.message,
                })?;
            }
            let yaml = edited.to_yaml();
            let name = format!("{source} (variant {})", v.name);
            match vnetsim_scenario::load_str(&yaml, &name) {
                Ok(s) => out.push(s),
                Err(e) => {
                    let mut diagnostics = e.diagnostics;
                    for d in &mut diagnostics {
                        d.path = crate::edit::named_path(&edited, &d.path);
                    }
                    return Err(VariantsError::Invalid {
                        source_name: self.source.clone(),
                        line: v.line,
                        variant: v.name.to_string(),
                        diagnostics,
                    });
                }
            }
            tracing::debug!("variant `{}`: {} edits, checked", v.name, v.edits.len());
        }
        Ok(out)
    }
}

/// Reads a scenario's YAML as a document to edit, with the scenario loader's limits (a
/// generated scenario exceeds the parser's default budget of nodes).
fn read_document(text: &str) -> Result<Node, serde_saphyr::Error> {
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_events: 100_000_000,
            max_nodes: 40_000_000,
            max_depth: 64,
            max_total_scalar_bytes: 1 << 30,
        },
    };
    serde_saphyr::from_str_with_options(text, options)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "\
variants:
  - name: baseline
  - name: big
    set:
      vms[web1].size: Standard_D8s_v5
  - name: no-deny
    remove:
      - nsgs[web-nsg].rules[deny-sql]
    add:
      nsgs[web-nsg].rules:
        - { name: allow-ssh, priority: 300 }
";

    #[test]
    fn a_file_parses_with_lines_and_the_edits_in_order() {
        let v = Variants::parse(FILE, "v.yaml").unwrap();
        let names: Vec<&str> = v.list.iter().map(|v| &*v.name).collect();
        assert_eq!(names, ["baseline", "big", "no-deny"]);
        assert!(v.list[0].edits.is_empty());
        assert_eq!(v.list[1].line, 3);
        assert_eq!(
            v.list[1].described(),
            ["set vms[web1].size = Standard_D8s_v5"]
        );
        assert_eq!(v.list[1].edits[0].1, 5);
        assert_eq!(
            v.list[2].described(),
            [
                "remove nsgs[web-nsg].rules[deny-sql]",
                "add nsgs[web-nsg].rules[allow-ssh]"
            ]
        );
        assert_eq!(v.list[2].edits[0].1, 8);
    }

    #[test]
    fn bad_files_are_refused_with_their_line() {
        let e = Variants::parse("variants:\n  - name: a\n  - name: a\n", "v.yaml").unwrap_err();
        assert_eq!(
            e.to_string(),
            "v.yaml:3: variant name `a` is used twice (first at line 2); each variant needs \
             its own name"
        );
        let e = Variants::parse("variants:\n  - name: a\n    sett: {}\n", "v.yaml").unwrap_err();
        let shown = e.to_string();
        assert!(
            shown.starts_with("v.yaml:3: not a variants file"),
            "{shown}"
        );
        let e = Variants::parse("variants:\n  - name: a\n    remove: [\"vms[\"]\n", "v.yaml")
            .unwrap_err();
        let shown = e.to_string();
        assert!(
            shown.starts_with("v.yaml:3: variant `a`: `vms[` is not a path"),
            "{shown}"
        );
        let e = Variants::parse("variants: []\n", "v.yaml").unwrap_err();
        assert!(e.to_string().contains("no variant"));
        let e = Variants::parse("variants:\n  - name: ' '\n", "v.yaml").unwrap_err();
        assert!(e.to_string().contains("empty"));
        assert!(Variants::parse("", "v.yaml").is_err());
        assert!(Variants::parse("[1, 2", "v.yaml").is_err());
    }

    #[test]
    fn a_scenario_past_the_parsers_default_budget_is_edited() {
        // 20,000 flows written out: about 400,000 YAML nodes, past the default 250,000.
        let mut text = String::from(
            "name: big\nvnets:\n  - { name: v, address_space: [10.0.0.0/16], subnets: \
             [{ name: s, prefix: 10.0.0.0/24 }] }\nvms:\n  - { name: a, size: Standard_D2s_v3, \
             nics: [{ name: a-nic, subnet: v/s, ip: 10.0.0.4 }] }\n  - { name: b, size: \
             Standard_D2s_v3, nics: [{ name: b-nic, subnet: v/s, ip: 10.0.0.5 }] }\ntraffic:\n",
        );
        for i in 0..20_000 {
            text.push_str(&format!(
                "  - {{ name: f{i}, from: a, to: b, protocol: udp, dst_port: {}, rate: 1pps, \
                 packet_size: 100, start: 0s, duration: 1s }}\n",
                1000 + i % 5000
            ));
        }
        let base = vnetsim_scenario::load_str(&text, "big.yaml").unwrap();
        let v = Variants::parse(
            "variants:\n  - name: faster\n    set:\n      traffic[f7].rate: 2pps\n",
            "v.yaml",
        )
        .unwrap();
        let edited = v.scenarios(&base, &text, "big.yaml").unwrap();
        assert_eq!(edited[0].traffic.len(), 20_000);
        assert_ne!(edited[0].traffic[7].rate, base.traffic[7].rate);
        assert_eq!(edited[0].traffic[8].rate, base.traffic[8].rate);
    }

    #[test]
    fn the_hash_follows_names_and_values_not_lines() {
        let a = Variants::parse(FILE, "a.yaml").unwrap();
        let b = Variants::parse(&FILE.replace("variants:\n", "variants:\n\n\n"), "b.yaml").unwrap();
        assert_eq!(a.hash(), b.hash());
        let c = Variants::parse(&FILE.replace("D8s", "D4s"), "c.yaml").unwrap();
        assert_ne!(a.hash(), c.hash());
    }
}
