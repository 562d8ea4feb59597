//! The ARM template expression language: `[...]` strings parsed into an [`Expr`] tree.
//!
//! What it is for: recognising which JSON strings are expressions (a string starting with `[`
//! and ending with `]`; `[[` escapes a literal `[`), and parsing them: string literals in
//! single quotes with `''` as an escaped quote, integers, function calls with nested
//! arguments, property access `.name` and index `[expr]`. Syntax follows
//! <https://learn.microsoft.com/azure/azure-resource-manager/templates/template-expressions>.
//! What it is not: the evaluator (see `eval` and `functions`).

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `'text'`.
    Str(String),
    /// An integer literal.
    Int(i64),
    /// `name(args...)`; `name` as written (ARM matches it case-insensitively), a user-defined
    /// function's as `namespace.member`.
    Call(String, Vec<Expr>),
    /// `base.name`.
    Prop(Box<Expr>, String),
    /// `base[index]`.
    Index(Box<Expr>, Box<Expr>),
}

/// What a template string is: a literal (with any `[[` escape removed) or an expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Template<'a> {
    /// A plain string value.
    Literal(std::borrow::Cow<'a, str>),
    /// The text between the outer brackets, to be parsed.
    Expression(&'a str),
}

/// Classifies a JSON string as ARM does.
pub fn classify(s: &str) -> Template<'_> {
    if s.starts_with("[[") {
        return Template::Literal(std::borrow::Cow::Owned(s[1..].to_string()));
    }
    if s.len() >= 2 && s.starts_with('[') && s.ends_with(']') {
        return Template::Expression(&s[1..s.len() - 1]);
    }
    Template::Literal(std::borrow::Cow::Borrowed(s))
}

/// Parses the inside of `[...]`. The error says what was expected and at which character.
pub fn parse(text: &str) -> Result<Expr, String> {
    let mut p = P {
        s: text.as_bytes(),
        text,
        pos: 0,
        depth: 0,
    };
    p.ws();
    let e = p.expr()?;
    p.ws();
    if p.pos != p.s.len() {
        return Err(p.err("unexpected text after the expression"));
    }
    Ok(e)
}

const MAX_DEPTH: usize = 128;

struct P<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
    depth: usize,
}

impl P<'_> {
    fn err(&self, m: &str) -> String {
        format!("{m} at character {} of '[{}]'", self.pos + 1, self.text)
    }
    /// Skips white space: ASCII, and any other Unicode white space (a no-break space
    /// between arguments, as in Microsoft's event-grid-subscription-and-storage quickstart,
    /// which ARM deploys; .NET's `char.IsWhiteSpace` counts it).
    fn ws(&mut self) {
        while let Some(c) = self.text.get(self.pos..).and_then(|r| r.chars().next()) {
            if !c.is_whitespace() {
                break;
            }
            self.pos += c.len_utf8();
        }
    }
    fn expr(&mut self) -> Result<Expr, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err("expression nested too deeply"));
        }
        let mut e = self.primary()?;
        loop {
            self.ws();
            match self.s.get(self.pos) {
                Some(b'.') => {
                    self.pos += 1;
                    self.ws();
                    // `.?` (safe dereference) is read as plain access.
                    if self.s.get(self.pos) == Some(&b'?') {
                        self.pos += 1;
                    }
                    let Some(name) = self.ident() else {
                        return Err(self.err("expected a property name after '.'"));
                    };
                    e = Expr::Prop(Box::new(e), name);
                }
                Some(b'[') => {
                    self.pos += 1;
                    self.ws();
                    let i = self.expr()?;
                    self.ws();
                    if self.s.get(self.pos) != Some(&b']') {
                        return Err(self.err("expected ']'"));
                    }
                    self.pos += 1;
                    e = Expr::Index(Box::new(e), Box::new(i));
                }
                _ => break,
            }
        }
        self.depth -= 1;
        Ok(e)
    }
    fn ident(&mut self) -> Option<String> {
        let start = self.pos;
        while let Some(c) = self.s.get(self.pos) {
            if c.is_ascii_alphanumeric() || *c == b'_' || (*c == b'$' && self.pos == start) {
                self.pos += 1;
            } else {
                break;
            }
        }
        (self.pos > start && !self.s[start].is_ascii_digit())
            .then(|| self.text[start..self.pos].to_string())
    }
    fn primary(&mut self) -> Result<Expr, String> {
        self.ws();
        match self.s.get(self.pos) {
            None => Err(self.err("unexpected end of expression")),
            Some(b'\'') => {
                self.pos += 1;
                let mut out = String::new();
                loop {
                    let rest = &self.text[self.pos..];
                    let Some(i) = rest.find('\'') else {
                        return Err(self.err("unterminated string literal"));
                    };
                    out.push_str(&rest[..i]);
                    self.pos += i + 1;
                    if self.s.get(self.pos) == Some(&b'\'') {
                        out.push('\'');
                        self.pos += 1;
                    } else {
                        return Ok(Expr::Str(out));
                    }
                }
            }
            Some(c) if c.is_ascii_digit() || *c == b'-' || *c == b'+' => {
                let start = self.pos;
                self.pos += 1;
                while self.s.get(self.pos).is_some_and(u8::is_ascii_digit) {
                    self.pos += 1;
                }
                let t = &self.text[start..self.pos];
                t.parse::<i64>()
                    .map(Expr::Int)
                    .map_err(|_| self.err(&format!("invalid integer '{t}'")))
            }
            Some(_) => {
                let start = self.pos;
                let Some(mut name) = self.ident() else {
                    return Err(self.err("expected a function name, string or number"));
                };
                // A user-defined function is called as `namespace.member(...)`
                // (https://learn.microsoft.com/azure/azure-resource-manager/templates/user-defined-functions).
                if self.s.get(self.pos) == Some(&b'.') {
                    self.pos += 1;
                    let Some(member) = self.ident() else {
                        return Err(self.err(&format!(
                            "expected a function name after the namespace '{name}.'"
                        )));
                    };
                    name = format!("{name}.{member}");
                }
                self.ws();
                if self.s.get(self.pos) != Some(&b'(') {
                    self.pos = start;
                    return Err(self.err(&format!("expected '(' after function name '{name}'")));
                }
                self.pos += 1;
                let mut args = Vec::new();
                self.ws();
                if self.s.get(self.pos) == Some(&b')') {
                    self.pos += 1;
                    return Ok(Expr::Call(name, args));
                }
                loop {
                    args.push(self.expr()?);
                    self.ws();
                    match self.s.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b')') => {
                            self.pos += 1;
                            return Ok(Expr::Call(name, args));
                        }
                        _ => return Err(self.err("expected ',' or ')' in argument list")),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(n: &str, a: Vec<Expr>) -> Expr {
        Expr::Call(n.into(), a)
    }

    #[test]
    fn classify_follows_the_double_bracket_escape() {
        assert_eq!(
            classify("[[not an expression]"),
            Template::Literal("[not an expression]".into())
        );
        assert_eq!(
            classify("[parameters('a')]"),
            Template::Expression("parameters('a')")
        );
        assert_eq!(classify("plain"), Template::Literal("plain".into()));
        assert_eq!(classify("[]").clone(), Template::Expression(""));
    }

    #[test]
    fn nested_calls_properties_indexes_and_escaped_quotes() {
        let e = parse("concat('it''s', parameters('x').a[0], -3)").unwrap();
        let p = Expr::Index(
            Box::new(Expr::Prop(
                Box::new(call("parameters", vec![Expr::Str("x".into())])),
                "a".into(),
            )),
            Box::new(Expr::Int(0)),
        );
        assert_eq!(
            e,
            call("concat", vec![Expr::Str("it's".into()), p, Expr::Int(-3)])
        );
    }

    #[test]
    fn a_user_defined_function_is_called_with_its_namespace() {
        assert_eq!(
            parse("contoso.uniqueName('x')").unwrap(),
            call("contoso.uniqueName", vec![Expr::Str("x".into())])
        );
        assert_eq!(
            parse("__bicep.f(_1.g())").unwrap(),
            call("__bicep.f", vec![call("_1.g", vec![])])
        );
        // Property access after a call is still property access.
        assert_eq!(
            parse("a.b().c").unwrap(),
            Expr::Prop(Box::new(call("a.b", vec![])), "c".into())
        );
        assert!(
            parse("contoso.(1)")
                .unwrap_err()
                .contains("after the namespace")
        );
        assert!(parse("contoso.f").unwrap_err().contains("expected '('"));
    }

    #[test]
    fn unicode_white_space_separates_arguments() {
        assert_eq!(
            parse("concat('a',\u{a0}'b')").unwrap(),
            call("concat", vec![Expr::Str("a".into()), Expr::Str("b".into())])
        );
        assert!(parse("concat('a',\u{a0}x)").is_err());
    }

    #[test]
    fn syntax_errors_name_the_position() {
        let e = parse("concat('a'").unwrap_err();
        assert!(e.contains("expected ',' or ')'"), "{e}");
        assert!(parse("'abc").unwrap_err().contains("unterminated"));
        assert!(parse("foo").unwrap_err().contains("expected '('"));
        assert!(parse("a() b").unwrap_err().contains("after the expression"));
    }
}
