//! Every file under `tests/fixtures/invalid/` breaks exactly one rule: the one its name says.
//! Its first line reads `# expect: <rule-code> line <N>`; loading it must fail with that rule
//! on that line, and with no diagnostic of another rule.

use std::path::Path;

use vnetsim_scenario::{RULES, load_file};

fn fixtures() -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("fixture directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn expected(path: &Path) -> (String, u32) {
    let text = std::fs::read_to_string(path).expect("readable");
    let header = text.lines().next().unwrap_or_default();
    let rest = header
        .strip_prefix("# expect: ")
        .unwrap_or_else(|| panic!("{}: no `# expect:` header", path.display()));
    let (rule, line) = rest.split_once(" line ").expect("`<rule> line <N>`");
    (rule.to_owned(), line.trim().parse().expect("line number"))
}

#[test]
fn every_fixture_fails_with_its_rule_on_its_line() {
    let mut failures = Vec::new();
    for path in fixtures() {
        let (rule, line) = expected(&path);
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        assert_eq!(
            stem,
            rule,
            "{}: file name and header disagree",
            path.display()
        );
        match load_file(&path) {
            Ok(_) => failures.push(format!("{stem}: loaded without error")),
            Err(err) => {
                let got: Vec<_> = err.diagnostics.iter().map(|d| (d.rule, d.line)).collect();
                if !got.iter().any(|(r, l)| *r == rule && *l == line) {
                    failures.push(format!(
                        "{stem}: expected {rule} on line {line}, got {got:?}"
                    ));
                } else if got.iter().any(|(r, _)| *r != rule) {
                    failures.push(format!("{stem}: other rules too: {got:?}"));
                }
                let text = err.render(false);
                let file = path.display().to_string();
                if !text.contains(&format!("{file}:{line}:")) {
                    failures.push(format!("{stem}: rendering lacks {file}:{line}:\n{text}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_rule_has_a_fixture() {
    let have: Vec<String> = fixtures()
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    let missing: Vec<_> = RULES
        .iter()
        .map(|(code, _)| *code)
        .filter(|code| *code != "io-error" && !have.iter().any(|h| h == code))
        .collect();
    assert!(missing.is_empty(), "rules without a fixture: {missing:?}");
    for h in &have {
        assert!(
            RULES.iter().any(|(c, _)| c == h),
            "fixture {h} names no rule"
        );
    }
}

#[test]
fn a_missing_file_is_an_io_error() {
    let err = load_file(Path::new("no/such/scenario.yaml")).unwrap_err();
    assert_eq!(err.rules(), vec!["io-error"]);
    assert!(err.render(false).contains("no/such/scenario.yaml"));
}
