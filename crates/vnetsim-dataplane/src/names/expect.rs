//! Probe expectations: run every `expect` probe of a scenario and say which held.
//!
//! What it is for: `vnetsim run` and test harnesses that assert on verdicts, drop reasons and
//! paths, with failure messages that name the rule behind the actual verdict. What it is not:
//! flow (rate, latency) expectations, which need the timed replay.

use vnetsim_scenario::{Expectation, ExpectedVerdict, Probe, Scenario};

use crate::forward::Dataplane;
use crate::forward::pipeline::{FlowTable, Outcome};
use crate::names::explain::cause_text;
use crate::names::probe::{ProbeResult, path_names, run_probe_observed};

/// The result of one probe expectation.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeCheck {
    /// Index in the scenario's `expect` list.
    pub index: usize,
    /// Line in the file.
    pub line: u32,
    /// The probe.
    pub probe: Probe,
    /// What happened.
    pub result: ProbeResult,
    /// The hops by name.
    pub path: Vec<String>,
    /// Why it failed; empty when it held.
    pub failures: Vec<String>,
}

impl ProbeCheck {
    /// Whether the expectation held.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Runs every probe expectation in order of `at` (file order among equal times), sharing one
/// flow table so a later probe can be the reply of an earlier one.
pub fn check_probes(scenario: &Scenario, dataplane: &Dataplane) -> Vec<ProbeCheck> {
    let mut order: Vec<usize> = scenario
        .expectations
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e, Expectation::Probe { .. }))
        .map(|(i, _)| i)
        .collect();
    order.sort_by_key(|&i| match &scenario.expectations[i] {
        Expectation::Probe { probe, .. } => probe.at,
        Expectation::Flow { .. } => 0,
    });
    let mut flows = FlowTable::new();
    let mut checks: Vec<ProbeCheck> = order
        .into_iter()
        .enumerate()
        .filter_map(|(n, index)| check_probe(scenario, dataplane, index, n as u16 + 1, &mut flows))
        .collect();
    checks.sort_by_key(|c| c.index);
    checks
}

/// Runs the probe expectation at `index` of the scenario's `expect` list against `dataplane`
/// (the network as it is at the probe's time) and checks verdict, reason and path. `None` when
/// that expectation is not a probe.
pub fn check_probe(
    scenario: &Scenario,
    dataplane: &Dataplane,
    index: usize,
    identification: u16,
    flows: &mut FlowTable,
) -> Option<ProbeCheck> {
    check_probe_observed(
        scenario,
        dataplane,
        index,
        identification,
        flows,
        &mut |_, _| {},
    )
}

/// Like [`check_probe`], showing `observe` the probe's bytes (see
/// [`crate::names::probe::run_probe_observed`]).
pub fn check_probe_observed(
    scenario: &Scenario,
    dataplane: &Dataplane,
    index: usize,
    identification: u16,
    flows: &mut FlowTable,
    observe: &mut dyn FnMut(&[u8], bool),
) -> Option<ProbeCheck> {
    let Expectation::Probe {
        probe,
        verdict,
        reason,
        path,
        stateless,
        line,
    } = scenario.expectations.get(index)?
    else {
        return None;
    };
    // A probe shares the caller's NSG flow state (the run's); a stateless one sees an empty
    // table and leaves nothing behind.
    let mut own = FlowTable::new();
    let flows = if *stateless { &mut own } else { flows };
    let result = run_probe_observed(scenario, dataplane, probe, identification, flows, observe);
    let actual_path = path_names(scenario, probe, &result);
    let mut failures = Vec::new();
    let actual = describe(scenario, dataplane, &result.outcome);
    match (verdict, result.outcome) {
        (Some(ExpectedVerdict::Delivered), Outcome::Dropped(..)) => {
            failures.push(format!("expected delivered, got {actual}"));
        }
        (Some(ExpectedVerdict::Dropped), Outcome::Delivered(_)) => {
            failures.push(format!("expected dropped, got {actual}"));
        }
        _ => {}
    }
    if let Some(expected) = reason
        && result.outcome.drop_reason() != Some(*expected)
    {
        failures.push(format!(
            "expected drop reason {}, got {actual}",
            expected.as_str()
        ));
    }
    if let Some(expected) = path
        && *expected != actual_path
    {
        failures.push(format!(
            "expected path [{}], got [{}]",
            expected.join(", "),
            actual_path.join(", ")
        ));
    }
    Some(ProbeCheck {
        index,
        line: *line,
        probe: *probe,
        result,
        path: actual_path,
        failures,
    })
}

/// `delivered to X` or `dropped (reason): cause`.
pub fn describe(scenario: &Scenario, dataplane: &Dataplane, outcome: &Outcome) -> String {
    match outcome {
        Outcome::Delivered(to) => {
            format!(
                "delivered to {}",
                crate::names::probe::destination_name(scenario, *to)
            )
        }
        Outcome::Dropped(reason, cause) => format!(
            "dropped ({}): {}",
            reason.as_str(),
            cause_text(scenario, dataplane, cause)
        ),
    }
}
