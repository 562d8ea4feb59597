//! Diagnostics of the loader: what is wrong with a scenario file, where, and which rule says so.
//!
//! What it is for: one type ([`Diagnostic`]) for YAML syntax errors, type errors from serde and
//! broken Azure rules, each with file, line, column, field path and a stable rule code, and a
//! collection ([`LoadError`]) that renders them as miette reports; and the "did you mean"
//! helper every stage uses for a name it does not know. What it is not: the rules themselves
//! (see [`crate::rules`] and the validator) or a logger; the library never prints.

use std::fmt;
use std::sync::Arc;

use crate::rules::Rule;

use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceCode, SourceSpan,
};

/// One problem found in a scenario file.
#[derive(Clone)]
pub struct Diagnostic {
    /// The file name as given to the loader.
    pub file: String,
    /// 1-based line (0 when the position is unknown, e.g. an I/O error).
    pub line: u32,
    /// 1-based column (0 when unknown).
    pub column: u32,
    /// Field path inside the file, e.g. `vnets[1].address_space[0]` (empty for the whole file).
    pub path: String,
    /// Stable rule code, e.g. `peering-address-overlap`.
    pub rule: &'static str,
    /// What is wrong, stating the Azure (or file format) rule broken.
    pub message: String,
    /// How to fix it, when there is something useful to say.
    pub help: Option<String>,
    /// Byte offset and length of the offending text.
    span: Option<SourceSpan>,
    /// The source, shared by all diagnostics of one load.
    source: Arc<NamedSource<String>>,
}

impl fmt::Debug for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Diagnostic")
            .field("file", &self.file)
            .field("line", &self.line)
            .field("column", &self.column)
            .field("path", &self.path)
            .field("rule", &self.rule)
            .field("message", &self.message)
            .field("help", &self.help)
            .finish()
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        write!(f, "{} [{}]", self.message, self.rule)
    }
}

impl std::error::Error for Diagnostic {}

/// A diagnostic as miette shows it: the header is the message alone, the snippet names the
/// position and the label the field path.
struct Report<'a>(&'a Diagnostic);

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0, f)
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.span.is_none() && self.0.line > 0 {
            write!(f, "{}:{}:{}: ", self.0.file, self.0.line, self.0.column)?;
        }
        f.write_str(&self.0.message)
    }
}

impl std::error::Error for Report<'_> {}

impl miette::Diagnostic for Report<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        miette::Diagnostic::code(self.0)
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        miette::Diagnostic::help(self.0)
    }
    fn source_code(&self) -> Option<&dyn SourceCode> {
        miette::Diagnostic::source_code(self.0)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        miette::Diagnostic::labels(self.0)
    }
}

impl miette::Diagnostic for Diagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.rule))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display + 'a>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.span.map(|_| &*self.source as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.span?;
        let label = if self.path.is_empty() {
            None
        } else {
            Some(self.path.clone())
        };
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(
            label, span,
        ))))
    }
}

impl Diagnostic {
    /// Renders this diagnostic as a miette report (a snippet headed `file:line:column`).
    pub fn render(&self, color: bool) -> String {
        let theme = if color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        let handler = GraphicalReportHandler::new_themed(theme).with_width(100);
        let mut out = String::new();
        if handler.render_report(&mut out, &Report(self)).is_err() {
            out = format!("{self}\n");
        }
        out
    }
}

impl Diagnostic {
    /// A diagnostic about line `line` of `source` (its text marked), for a check made after
    /// loading, such as an expectation a run did not meet, so that it reads like the loader's:
    /// `file:line:column`, the excerpt, the `path` as label, `help` below. `code` names what
    /// failed (e.g. `expectation-failed`); it is not one of the loader's [`Rule`]s. A line
    /// outside `source` gives a diagnostic without an excerpt.
    pub fn on_line(
        file: &str,
        source: &str,
        line: u32,
        path: impl Into<String>,
        code: &'static str,
        message: impl Into<String>,
        help: Option<String>,
    ) -> Diagnostic {
        let start = (line as usize)
            .checked_sub(1)
            .and_then(|skip| {
                if skip == 0 {
                    Some(0)
                } else {
                    source.match_indices('\n').nth(skip - 1).map(|(i, _)| i + 1)
                }
            })
            .filter(|&o| o <= source.len());
        let (span, column) = match start {
            Some(start) => {
                let rest = &source[start..];
                let text = &rest[..rest.find('\n').unwrap_or(rest.len())];
                let indent = text.len() - text.trim_start().len();
                let len = text.trim().len();
                let column = text[..indent].chars().count() as u32 + 1;
                let span = (len > 0 && text.len() <= MAX_SNIPPET_LINE)
                    .then(|| SourceSpan::new((start + indent).into(), len));
                (span, column)
            }
            None => (None, 0),
        };
        Diagnostic {
            file: file.to_owned(),
            line,
            column,
            path: path.into(),
            rule: code,
            message: message.into(),
            help,
            span,
            source: Arc::new(NamedSource::new(file, source.to_owned())),
        }
    }
}

/// A line longer than this is not echoed in a snippet (a 200 KB line of brackets would be): the
/// diagnostic names its line and column instead.
const MAX_SNIPPET_LINE: usize = 400;

/// At most this many diagnostics are rendered; the rest are counted in the closing line.
pub const MAX_RENDERED: usize = 50;

/// Builds diagnostics against one source text, turning line/column or byte positions into
/// spans.
///
/// The text is borrowed; its shared copy (which every diagnostic holds for its excerpt) and the
/// offsets of its lines are made when the first diagnostic is recorded, so a file without a
/// problem costs neither.
#[derive(Clone)]
pub(crate) struct Sink<'s> {
    file: String,
    text: &'s str,
    /// The source shared by all diagnostics, and the byte offset of the start of each line;
    /// made on the first diagnostic.
    shared: std::cell::OnceCell<(Arc<NamedSource<String>>, Vec<usize>)>,
    pub(crate) diagnostics: Vec<Diagnostic>,
    /// Rule, line and column of each diagnostic about a scale set, said once.
    said: std::collections::HashSet<(Rule, u32, u32)>,
}

impl<'s> Sink<'s> {
    pub(crate) fn new(source: &'s str, file: &str) -> Sink<'s> {
        Sink {
            file: file.to_owned(),
            text: source,
            shared: std::cell::OnceCell::new(),
            diagnostics: Vec::new(),
            said: std::collections::HashSet::new(),
        }
    }

    /// The shared source and the line starts, made on first use.
    fn shared(&self) -> &(Arc<NamedSource<String>>, Vec<usize>) {
        self.shared.get_or_init(|| {
            let mut line_starts = vec![0];
            line_starts.extend(self.text.match_indices('\n').map(|(i, _)| i + 1));
            (
                Arc::new(NamedSource::new(&self.file, self.text.to_owned())),
                line_starts,
            )
        })
    }

    /// The byte offset of the start of each line.
    fn line_starts(&self) -> &[usize] {
        &self.shared().1
    }

    fn text(&self) -> &str {
        self.text
    }

    /// The length in bytes of the line holding byte `offset`.
    fn line_len_at(&self, offset: usize) -> usize {
        let line_starts = self.line_starts();
        let i = line_starts.partition_point(|&start| start <= offset);
        let start = line_starts[i.saturating_sub(1)];
        let end = line_starts.get(i).map_or(self.text().len(), |&e| e - 1);
        end.saturating_sub(start)
    }

    /// The byte offset of a 1-based line and character column, clamped to the text.
    fn offset_of(&self, line: u32, column: u32) -> Option<usize> {
        let start = *self.line_starts().get((line as usize).checked_sub(1)?)?;
        let text = self.text();
        let rest = &text[start..];
        let line_end = rest.find('\n').unwrap_or(rest.len());
        let col = (column as usize).saturating_sub(1);
        let within = rest[..line_end]
            .char_indices()
            .nth(col)
            .map_or(line_end, |(i, _)| i);
        Some(start + within)
    }

    /// The span of the scalar (or token) starting at `offset`: up to the end of the line, a
    /// `,`, `}` or `]` outside quotes, or a comment.
    fn token_len(&self, offset: usize) -> usize {
        let rest = &self.text()[offset..];
        if let Some(open @ ('[' | '{')) = rest.chars().next() {
            let close = if open == '[' { ']' } else { '}' };
            let mut depth = 0usize;
            for (i, c) in rest.char_indices() {
                if c == '\n' {
                    break;
                } else if c == open {
                    depth += 1;
                } else if c == close {
                    depth -= 1;
                    if depth == 0 {
                        return i + 1;
                    }
                }
            }
        }
        let mut quote = None;
        let mut end = 0;
        for (i, c) in rest.char_indices() {
            match (quote, c) {
                (_, '\n') | (_, '\r') => break,
                (None, '"') | (None, '\'') if i == 0 => quote = Some(c),
                (Some(q), c) if c == q && i > 0 => {
                    end = i + c.len_utf8();
                    break;
                }
                (None, ',' | '}' | ']') => break,
                (None, '#') if i > 0 && rest[..i].ends_with(' ') => break,
                _ => {}
            }
            end = i + c.len_utf8();
        }
        rest[..end].trim_end().len()
    }

    /// Records a diagnostic at a serde-saphyr location.
    pub(crate) fn at(
        &mut self,
        loc: serde_saphyr::Location,
        path: impl Into<String>,
        rule: Rule,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        let line = u32::try_from(loc.line()).unwrap_or(u32::MAX);
        let column = u32::try_from(loc.column()).unwrap_or(u32::MAX);
        let path = path.into();
        // The instances of a scale set break a rule together: say it once.
        if path.starts_with("scale_sets[") && !self.said.insert((rule, line, column)) {
            return;
        }
        let span = loc.span();
        let text_len = self.text().len() as u64;
        let byte = match (span.byte_offset(), span.byte_len()) {
            (Some(o), Some(l))
                if o <= text_len
                    && l > 0
                    && o + l <= text_len
                    && !matches!(self.text().as_bytes().get(o as usize), Some(b'[' | b'{')) =>
            {
                Some((o as usize, l as usize))
            }
            _ => None,
        };
        let span = byte
            .filter(|(o, _)| self.text().is_char_boundary(*o))
            .filter(|(o, l)| self.text().is_char_boundary(o + l))
            .or_else(|| {
                let o = self.offset_of(line, column)?;
                Some((o, self.token_len(o)))
            })
            .filter(|(o, _)| self.line_len_at(*o) <= MAX_SNIPPET_LINE)
            .map(|(o, l)| SourceSpan::new(o.into(), l));
        self.diagnostics.push(Diagnostic {
            file: self.file.clone(),
            line,
            column,
            path,
            rule: rule.code(),
            message: message.into(),
            help,
            span,
            source: self.shared().0.clone(),
        });
    }

    /// Records a diagnostic with no position in the file.
    pub(crate) fn nowhere(&mut self, rule: Rule, message: impl Into<String>, help: Option<String>) {
        self.diagnostics.push(Diagnostic {
            file: self.file.clone(),
            line: 0,
            column: 0,
            path: String::new(),
            rule: rule.code(),
            message: message.into(),
            help,
            span: None,
            source: self.shared().0.clone(),
        });
    }
}

/// Where the validator records a broken rule: a [`Sink`], whatever text it borrows.
pub(crate) trait Recorder {
    /// Records a diagnostic at a serde-saphyr location (see [`Sink::at`]).
    fn record(
        &mut self,
        loc: serde_saphyr::Location,
        path: String,
        rule: Rule,
        message: String,
        help: Option<String>,
    );
}

impl Recorder for Sink<'_> {
    fn record(
        &mut self,
        loc: serde_saphyr::Location,
        path: String,
        rule: Rule,
        message: String,
        help: Option<String>,
    ) {
        self.at(loc, path, rule, message, help);
    }
}

/// A field path such as `traffic[12].protocol`, written out only when a diagnostic needs it:
/// validation builds one for every field it reads, and formatting them all would cost more
/// than the checks. A path is a chain of borrowed parts, each pointing at its parent.
#[derive(Clone, Copy, Debug)]
pub(crate) enum FieldPath<'a> {
    /// A path written out, e.g. `traffic` or `azure.era`.
    Text(&'a str),
    /// An item of a list: `parent[index]`.
    Index(&'a FieldPath<'a>, usize),
    /// A field of an object: `parent.name`.
    Field(&'a FieldPath<'a>, &'a str),
}

impl<'a> FieldPath<'a> {
    /// `self[index]`.
    pub(crate) fn at(&'a self, index: usize) -> FieldPath<'a> {
        FieldPath::Index(self, index)
    }

    /// `self.name`.
    pub(crate) fn field(&'a self, name: &'a str) -> FieldPath<'a> {
        FieldPath::Field(self, name)
    }
}

impl fmt::Display for FieldPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldPath::Text(text) => f.write_str(text),
            FieldPath::Index(parent, index) => write!(f, "{parent}[{index}]"),
            FieldPath::Field(parent, name) => write!(f, "{parent}.{name}"),
        }
    }
}

/// A path written out by a closure, only when a diagnostic needs it (for paths that are not a
/// chain of [`FieldPath`] parts, or that must not borrow a local).
#[derive(Clone, Copy)]
pub(crate) struct LazyPath<F>(pub(crate) F);

impl<F: Fn() -> String> From<LazyPath<F>> for String {
    fn from(path: LazyPath<F>) -> String {
        (path.0)()
    }
}

impl<'a> From<&'a str> for FieldPath<'a> {
    fn from(text: &'a str) -> FieldPath<'a> {
        FieldPath::Text(text)
    }
}

impl<'a> From<&'a String> for FieldPath<'a> {
    fn from(text: &'a String) -> FieldPath<'a> {
        FieldPath::Text(text)
    }
}

impl From<FieldPath<'_>> for String {
    fn from(path: FieldPath<'_>) -> String {
        path.to_string()
    }
}

/// The nearest name in `candidates` to `name`, when one is close enough to be a likely typo
/// (the "did you mean" of diagnostics and of command-line names).
pub fn nearest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// A scenario that could not be loaded: every problem found, in file order.
#[derive(Clone, Debug)]
pub struct LoadError {
    /// The diagnostics, sorted by line and column (at least one).
    pub diagnostics: Vec<Diagnostic>,
}

impl LoadError {
    pub(crate) fn from_sink(sink: Sink<'_>) -> LoadError {
        let mut diagnostics = sink.diagnostics;
        diagnostics.sort_by_key(|d| (d.line, d.column));
        LoadError { diagnostics }
    }

    /// Renders every diagnostic as a miette report, one after the other, with a snippet of
    /// the file headed `file:line:column`. `color` adds ANSI colors; without it the text is
    /// plain.
    ///
    /// At most [`MAX_RENDERED`] are rendered (each snippet costs a pass over the file); the
    /// closing line counts them all.
    pub fn render(&self, color: bool) -> String {
        let mut out = String::new();
        for d in self.diagnostics.iter().take(MAX_RENDERED) {
            out.push_str(&d.render(color));
        }
        let n = self.diagnostics.len();
        if n > MAX_RENDERED {
            out.push_str(&format!(
                "{n} problems found; the first {MAX_RENDERED} are shown\n"
            ));
        } else {
            out.push_str(&format!(
                "{n} problem{} found\n",
                if n == 1 { "" } else { "s" }
            ));
        }
        out
    }

    /// The rule codes of the diagnostics, in order.
    pub fn rules(&self) -> Vec<&'static str> {
        self.diagnostics.iter().map(|d| d.rule).collect()
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadError {}

impl miette::Diagnostic for LoadError {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.diagnostics
            .first()
            .map(|d| Box::new(d.rule) as Box<dyn fmt::Display + 'a>)
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        Some(Box::new(
            self.diagnostics
                .iter()
                .map(|d| d as &dyn miette::Diagnostic),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_path_reads_as_written_out() {
        let root = FieldPath::Text("traffic");
        let item = root.at(12);
        let field = item.field("pairs");
        assert_eq!(
            field.field("from").at(0).to_string(),
            "traffic[12].pairs.from[0]"
        );
        assert_eq!(String::from(item), "traffic[12]");
        assert_eq!(FieldPath::from("azure.era").to_string(), "azure.era");
        let k = 3;
        assert_eq!(
            String::from(LazyPath(|| format!("vms[{k}].name"))),
            "vms[3].name"
        );
    }

    #[test]
    fn nearest_finds_typos_only() {
        let known = ["address_space", "subnets", "gateway"];
        assert_eq!(nearest("adress_space", known), Some("address_space"));
        assert_eq!(nearest("subnet", known), Some("subnets"));
        assert_eq!(nearest("zzz", known), None);
        assert_eq!(nearest("x", std::iter::empty()), None);
    }

    #[test]
    fn on_line_marks_the_line_and_renders_like_the_loader() {
        let source = "expect:\n  - probe: { from: a, to: b }\n    verdict: dropped\n";
        let d = Diagnostic::on_line(
            "s.yaml",
            source,
            2,
            "expect[0]",
            "expectation-failed",
            "expected dropped, got delivered",
            Some("vnetsim explain s.yaml --from a --to b".into()),
        );
        assert_eq!((d.line, d.column), (2, 3));
        let text = d.render(false);
        assert!(text.contains("s.yaml:2:3"), "{text}");
        assert!(text.contains("- probe: { from: a, to: b }"), "{text}");
        assert!(text.contains("expect[0]"), "{text}");
        assert!(text.contains("vnetsim explain s.yaml"), "{text}");
        // A line past the end: no excerpt, still the position and the message.
        let far = Diagnostic::on_line("s.yaml", source, 99, "", "expectation-failed", "m", None);
        assert!(
            far.render(false).contains("s.yaml:99:0: m"),
            "{}",
            far.render(false)
        );
        let first = Diagnostic::on_line("s.yaml", source, 1, "", "x", "m", None);
        assert_eq!(first.column, 1);
    }

    #[test]
    fn offsets_follow_lines_and_characters() {
        let sink = Sink::new("a: 1\nbµ: [x, y] # c\n", "f.yaml");
        assert_eq!(sink.offset_of(1, 1), Some(0));
        assert_eq!(sink.offset_of(2, 1), Some(5));
        // `µ` is two bytes: column 5 is the `[`.
        assert_eq!(sink.offset_of(2, 5), Some(10));
        assert_eq!(sink.offset_of(9, 1), None);
        assert_eq!(sink.offset_of(0, 1), None);
        // A column past the end of the line stops at the end of the line.
        assert_eq!(sink.offset_of(1, 99), Some(4));
    }

    #[test]
    fn tokens_end_at_separators_and_brackets_close() {
        let sink = Sink::new("k: [a, [b]] # c\nv: 'x, y' # c\nw: plain # c\n", "f.yaml");
        assert_eq!(sink.token_len(3), "[a, [b]]".len());
        assert_eq!(sink.token_len(4), 1);
        let second = 16;
        assert_eq!(sink.token_len(second + 3), "'x, y'".len());
        let third = second + 14;
        assert_eq!(sink.token_len(third + 3), "plain".len());
    }

    #[test]
    fn display_and_sorting() {
        let mut sink = Sink::new("a: 1\nb: 2\n", "f.yaml");
        let at = |line: usize| {
            serde_saphyr::from_str::<serde_saphyr::Spanned<u8>>(&format!(
                "{}x",
                "\n".repeat(line - 1)
            ))
            .err()
            .and_then(|e| e.location())
            .unwrap_or(serde_saphyr::Location::UNKNOWN)
        };
        sink.at(at(2), "b", Rule::InvalidType, "second", None);
        sink.at(
            at(1),
            "a",
            Rule::MissingField,
            "first",
            Some("fix it".into()),
        );
        let err = LoadError::from_sink(sink);
        assert_eq!(err.rules(), vec!["missing-field", "invalid-type"]);
        assert_eq!(
            err.diagnostics[0].to_string(),
            "f.yaml:1:1: a: first [missing-field]"
        );
        let text = err.render(false);
        assert!(
            text.contains("f.yaml:1:1") && text.contains("fix it"),
            "{text}"
        );
        assert!(text.ends_with("2 problems found\n"), "{text}");
    }
}
