//! The matrix's decisions are the probe path's: on random cells of every example scenario, in a
//! random order (so one decision could leak state into the next), the fast-path verdict, the
//! traced verdict and the named row equal what a lone probe (`run_probe` from an empty flow
//! table, which `vnetsim explain` sends) and its explanation say.

use std::path::PathBuf;

use proptest::prelude::*;
use vnetsim_dataplane::Dataplane;
use vnetsim_dataplane::explain::explain;
use vnetsim_dataplane::names::matrix::{Decider, MatrixEndpoints, deciding_rule};
use vnetsim_dataplane::pipeline::FlowTable;
use vnetsim_dataplane::probe::run_probe;
use vnetsim_scenario::{Protocol, Scenario};

/// Every example scenario, compiled, with its matrix endpoints.
fn examples() -> Vec<(String, Scenario, Dataplane, MatrixEndpoints)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("scenarios")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let sc = vnetsim_scenario::load_file(&path)
                .unwrap_or_else(|e| panic!("{}", e.render(false)));
            let dp = Dataplane::compile(&sc);
            let eps = MatrixEndpoints::of(&sc);
            (path.display().to_string(), sc, dp, eps)
        })
        .collect()
}

fn protocol() -> impl Strategy<Value = Protocol> {
    prop_oneof![
        Just(Protocol::Tcp),
        Just(Protocol::Udp),
        Just(Protocol::Icmp)
    ]
}

fn port() -> impl Strategy<Value = u16> {
    prop_oneof![
        Just(22u16),
        Just(80),
        Just(443),
        Just(1433),
        Just(8080),
        Just(53),
        any::<u16>()
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Random cells (indexes taken modulo each list's length), decided in sequence by one
    /// decider: each equals a lone probe's verdict, steps, explanation verdict, reason and path.
    #[test]
    fn matrix_cells_equal_lone_probes(
        file in any::<prop::sample::Index>(),
        cells in prop::collection::vec(
            (any::<prop::sample::Index>(), any::<prop::sample::Index>(), protocol(), port()),
            1..24,
        ),
    ) {
        thread_local! {
            static EXAMPLES: Vec<(String, Scenario, Dataplane, MatrixEndpoints)> = examples();
        }
        EXAMPLES.with(|all| {
            let (name, sc, dp, eps) = &all[file.index(all.len())];
            let mut d = Decider::new(sc, dp);
            for (s, t, protocol, port) in &cells {
                let src = &eps.sources[s.index(eps.sources.len())];
                let dst = &eps.destinations[t.index(eps.destinations.len())];
                let probe = Decider::probe(src, dst, *protocol, *port, 0);
                let alone = run_probe(sc, dp, &probe, 1, &mut FlowTable::new());
                let what = format!("{name}: {} -> {} {protocol:?} {port}", src.name, dst.name);
                let fast = d.verdict(src, dst, *protocol, *port, 0);
                prop_assert_eq!(fast, alone.outcome, "{}", what);
                let row = d.row(src, dst, *protocol, *port, 0);
                prop_assert_eq!(d.steps(), &alone.steps[..], "{}", what);
                let e = explain(sc, dp, &probe, &alone);
                prop_assert_eq!(row.outcome, alone.outcome, "{}", what);
                prop_assert_eq!(row.verdict, e.verdict, "{}", what);
                prop_assert_eq!(row.reason, e.reason, "{}", what);
                prop_assert_eq!(&row.path, &e.path, "{}", what);
                prop_assert_eq!(
                    row.rule,
                    deciding_rule(sc, dp, &alone.outcome, &alone.steps),
                    "{}",
                    what
                );
            }
            Ok(())
        })?;
    }
}

/// Every example has senders and receivers, and a private endpoint or frontend only receives.
#[test]
fn every_example_has_a_matrix() {
    for (name, _, _, eps) in examples() {
        assert!(!eps.sources.is_empty(), "{name}");
        assert!(eps.destinations.len() >= eps.sources.len(), "{name}");
    }
}
