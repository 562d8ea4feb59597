//! Diagnostics: positions, rendering, suggestions, and no panic on mangled input.

use vnetsim_scenario::*;

const HUB: &str = "\
name: hub
vnets:
  - name: hub
    adress_space: [10.0.0.0/16]
";

#[test]
fn unknown_field_suggests_the_nearest_name() {
    let err = load_str(HUB, "hub.yaml").unwrap_err();
    assert_eq!(err.rules(), vec!["unknown-field"]);
    let d = &err.diagnostics[0];
    assert_eq!((d.line, d.column), (4, 5));
    assert_eq!(d.help.as_deref(), Some("did you mean `address_space`?"));
    let text = err.render(false);
    eprintln!("{text}");
    assert!(text.contains("hub.yaml:4:5"), "{text}");
    assert!(text.contains("did you mean `address_space`?"), "{text}");
    assert!(!text.contains('\u{1b}'), "no ANSI escapes without color");
    assert!(
        err.render(true).contains('\u{1b}'),
        "ANSI escapes with color"
    );
}

#[test]
fn semantic_errors_are_all_reported_with_positions() {
    let src = "\
name: two
vnets:
  - name: a
    address_space: [10.0.0.5/16]
    subnets:
      - { name: s, prefix: 10.0.0.0/30 }
  - name: a
    address_space: [10.1.0.0/16]
";
    let err = load_str(src, "two.yaml").unwrap_err();
    let got: Vec<_> = err
        .diagnostics
        .iter()
        .map(|d| (d.rule, d.line, d.column, d.path.as_str()))
        .collect();
    eprintln!("{}", err.render(false));
    assert_eq!(
        got,
        vec![
            ("cidr-host-bits", 4, 21, "vnets[0].address_space[0]"),
            ("subnet-prefix-length", 6, 28, "vnets[0].subnets[0].prefix"),
            ("duplicate-name", 7, 11, "vnets[1].name"),
        ]
    );
    let text = err.render(false);
    assert!(text.contains("two.yaml:4:21"), "{text}");
    assert!(text.contains("InvalidCIDRNotation"), "{text}");
    assert!(text.contains("10.0.0.5/16"), "{text}");
}

#[test]
fn additions_report_their_own_rules() {
    let src = "\
name: add
latency: { jitter: 3 parsecs }
shaping: { queue_bytes: 0, burst_bytes: 0 }
pricing: { peering_egress_per_gb: .inf, peering_ingress_per_gb: .nan }
vnets:
  - name: a
    address_space: [10.0.0.0/16]
    subnets: [ { name: GatewaySubnet, prefix: 10.0.255.0/27 } ]
    gateway: { name: g, sku: UltraPerformanse }
";
    let err = load_str(src, "add.yaml").unwrap_err();
    let got: Vec<_> = err
        .diagnostics
        .iter()
        .map(|d| (d.rule, d.line, d.path.as_str()))
        .collect();
    eprintln!("{}", err.render(false));
    assert_eq!(
        got,
        vec![
            ("invalid-duration", 2, "latency.jitter"),
            ("shaping-size-zero", 3, "shaping.queue_bytes"),
            ("shaping-size-zero", 3, "shaping.burst_bytes"),
            ("invalid-price", 4, "pricing.peering_egress_per_gb"),
            ("invalid-price", 4, "pricing.peering_ingress_per_gb"),
            ("unknown-gateway-sku", 9, "vnets[0].gateway.sku"),
        ]
    );
    let sku = &err.diagnostics[5];
    assert_eq!(
        sku.help.as_deref(),
        Some("did you mean `UltraPerformance`?")
    );

    let unlike = src.replace("UltraPerformanse", "Zz");
    let err = load_str(&unlike, "add.yaml").unwrap_err();
    let help = err.diagnostics[5].help.clone().unwrap_or_default();
    assert!(
        help.starts_with("known SKUs: Basic, VpnGw1"),
        "no near name: the list instead ({help})"
    );

    let typed = load_str("name: t\nshaping: { queue_bytes: -1 }\n", "t.yaml").unwrap_err();
    assert_eq!(typed.rules(), vec!["invalid-type"]);
    let unknown = load_str("name: t\npricing: { egress: 1 }\n", "t.yaml").unwrap_err();
    assert_eq!(unknown.rules(), vec!["unknown-field"]);
}

#[test]
fn parse_errors_use_their_own_words() {
    let err = load_str("name: x\nseed: seven\n", "a.yaml").unwrap_err();
    assert_eq!(
        err.diagnostics[0].message,
        "this value is not a non-negative integer"
    );
    let err = load_str("name: x\nseed: 1\nseed: 2\n", "a.yaml").unwrap_err();
    assert_eq!(
        err.diagnostics[0].message,
        "key `seed` appears twice in this mapping"
    );
    assert_eq!(err.diagnostics[0].line, 3);
    let err = load_str("name: [x\n", "a.yaml").unwrap_err();
    assert_eq!(err.rules(), vec!["yaml-syntax"]);
    assert!(
        !err.diagnostics[0].message.contains(" at line "),
        "{}",
        err.diagnostics[0].message
    );
}

#[test]
fn flow_sequences_are_underlined_whole() {
    let src = "name: x\nnsgs:\n  - name: g\n    rules:\n      - { name: r, priority: 100, direction: inbound, access: allow, protocol: tcp, source: [10.0.0.0/8, Storage] }\n";
    let err = load_str(src, "n.yaml").unwrap_err();
    assert_eq!(err.rules(), vec!["invalid-address"]);
    let text = err.render(false);
    assert!(text.contains("──────────┬──────────"), "{text}");
}

mod no_panic {
    use proptest::prelude::*;
    use std::path::Path;

    fn corpus() -> Vec<String> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut out = Vec::new();
        let mut dirs = vec![root.join("valid"), root.join("invalid")];
        while let Some(dir) = dirs.pop() {
            let mut entries: Vec<_> = std::fs::read_dir(dir)
                .expect("fixtures")
                .map(|e| e.expect("entry").path())
                .collect();
            entries.sort();
            for e in entries {
                if e.is_dir() {
                    dirs.push(e);
                } else {
                    out.push(std::fs::read_to_string(e).expect("readable"));
                }
            }
        }
        out
    }

    /// Applies one edit at a char position: delete, insert, duplicate a line, or truncate.
    fn mangle(src: &str, op: u8, at: usize, len: usize, insert: &str) -> String {
        let chars: Vec<char> = src.chars().collect();
        let at = at % (chars.len() + 1);
        let end = (at + len).min(chars.len());
        let mut out: String;
        match op % 4 {
            0 => {
                out = chars[..at].iter().collect();
                out.extend(&chars[end..]);
            }
            1 => {
                out = chars[..at].iter().collect();
                out.push_str(insert);
                out.extend(&chars[at..]);
            }
            2 => {
                let lines: Vec<&str> = src.lines().collect();
                let i = at % lines.len().max(1);
                let mut l = lines.clone();
                if let Some(line) = lines.get(i) {
                    l.insert(i, line);
                }
                out = l.join("\n");
            }
            _ => out = chars[..at].iter().collect(),
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 600, .. ProptestConfig::default() })]
        #[test]
        fn mangled_files_never_panic(
            file in 0usize..1000,
            ops in proptest::collection::vec(
                (any::<u8>(), any::<usize>(), 0usize..8, "[ -~\\n\\t:\\-\\[\\]{}#'\"µ]{0,6}"),
                1..4,
            ),
        ) {
            let corpus = corpus();
            let mut src = corpus[file % corpus.len()].clone();
            for (op, at, len, insert) in &ops {
                src = mangle(&src, *op, *at, *len, insert);
            }
            if let Err(err) = vnetsim_scenario::load_str(&src, "m.yaml") {
                prop_assert!(!err.diagnostics.is_empty());
                let text = err.render(false);
                prop_assert!(text.contains("problem"));
                for d in &err.diagnostics {
                    prop_assert!(!d.message.is_empty());
                    prop_assert!(!d.rule.is_empty());
                }
            }
        }

        #[test]
        fn arbitrary_text_never_panics(src in "\\PC{0,200}") {
            if let Err(err) = vnetsim_scenario::load_str(&src, "r.yaml") {
                prop_assert!(!err.diagnostics.is_empty());
                let _ = err.render(true);
            }
        }
    }
}

/// Field paths are written out only when a diagnostic needs them; every message, path and
/// excerpt stays as it was. `fixtures/paths/paths.txt` is the rendering of `paths.yaml` (VMs,
/// NICs, a scale set, flows written out and as `pairs`, a probe, each field wrong in its own
/// way) made before paths became lazy.
#[test]
fn field_paths_and_messages_are_as_before() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/paths");
    let source = std::fs::read_to_string(dir.join("paths.yaml")).expect("read");
    let expected = std::fs::read_to_string(dir.join("paths.txt")).expect("read");
    let err = load_str(&source, "paths.yaml").expect_err("invalid");
    assert_eq!(err.render(false), expected);
    let paths: Vec<&str> = err.diagnostics.iter().map(|d| d.path.as_str()).collect();
    for path in [
        "vms[1].name",
        "vms[1].nics[0].name",
        "vms[2].nics[0].ip",
        "vms[3].nics[1].subnet",
        "traffic[0].to",
        "traffic[0].protocol",
        "traffic[1].src_port",
        "traffic[2].from",
        "traffic[4].pairs.from[1]",
        "scale_sets[0].subnet",
    ] {
        assert!(paths.contains(&path), "{path} in {paths:?}");
    }
}
