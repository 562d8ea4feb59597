//! A replay's report and the assertions on its flows.
//!
//! What it is for: [`Replay`], what [`crate::Sim::run`] returns: the engine's [`Report`] (it
//! dereferences to it, the same type `vnetsim run --report` serializes) with the scenario it
//! replayed, and assertions that mirror a scenario file's flow expectations
//! (`delivered_ratio`, `throughput`, `latency_p50` ... `latency_max`, `drops`,
//! `reply_delivered_ratio`, `reply_drops`), each bound written as in the file (`">= 900Mbps"`,
//! `"<= 2ms"`, `"== 0"`) and checked by the same code. A failure says what was expected, what
//! happened (the flow's counters and drops by reason) and the `vnetsim explain` command that
//! shows the flow's way through the network. [`ReportExt`] adds lookups by name to a bare
//! [`Report`]. What it is not: a second checker; the comparisons are the engine's
//! [`check_flow`].

use std::fmt::{self, Write as _};
use std::ops::Deref;
use std::sync::Arc;

use vnetsim_engine::Report;
use vnetsim_engine::report::{
    FlowReport, NicReport, check_flow, format_metric, format_ns, format_rate, metric_name,
    metric_value,
};
use vnetsim_engine::sim::default_src_port;
use vnetsim_scenario::{Comparison, FlowCheck, FlowMetric, Protocol};

use crate::error::Error;
use crate::sim::Loaded;
use crate::verdict::ExpectedReason;

/// A replay's [`Report`] with the scenario it replayed: read it as the report (it dereferences
/// to [`Report`]), assert on its flows as a scenario file's `expect` does.
///
/// ```
/// # fn main() -> Result<(), vnetsim::Error> {
/// use vnetsim::{DropReason, Sim};
///
/// let sim = Sim::from_yaml("
/// name: one-flow
/// vnets: [ { name: v, address_space: [10.0.0.0/16], subnets: [ { name: s, prefix: 10.0.0.0/24 } ] } ]
/// vms:
///   - { name: a, size: Standard_D2s_v3, nics: [ { name: a-nic, vnet: v, subnet: s, ip: 10.0.0.4 } ] }
///   - { name: b, size: Standard_D2s_v3, nics: [ { name: b-nic, vnet: v, subnet: s, ip: 10.0.0.5 } ] }
/// traffic:
///   - { name: web, from: a, to: b, protocol: tcp, dst_port: 443, rate: 100Mbps, packet_size: 1500, duration: 10ms }
/// ")?;
/// let replay = sim.run();
/// replay
///     .assert_delivered_ratio("web", "== 1")
///     .assert_throughput("web", ">= 90Mbps")
///     .assert_latency_p99("web", "<= 1ms")
///     .assert_drops("web", DropReason::QueueOverflow, "== 0");
/// // The report's fields, as the JSON report names them:
/// let web = replay.flow("web").expect("the flow");
/// assert_eq!(web.delivered, web.sent);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Replay {
    report: Report,
    loaded: Arc<Loaded>,
}

impl Deref for Replay {
    type Target = Report;

    fn deref(&self) -> &Report {
        &self.report
    }
}

impl From<Replay> for Report {
    fn from(replay: Replay) -> Report {
        replay.report
    }
}

/// One flow check that failed: what was expected, what happened, and the command that shows
/// the flow's way.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowFailure {
    /// The flow's name.
    pub flow: String,
    /// The scenario's name.
    pub scenario: String,
    /// The check, as written in a scenario file: `throughput >= 900.00 Mbps`.
    pub expected: String,
    /// The measured value: `450.00 Mbps`.
    pub actual: String,
    /// How far off: `450.00 Mbps`.
    pub off_by: String,
    /// The flow's counters: packets sent, delivered, dropped by reason, in flight, latency.
    pub counters: String,
    /// The `vnetsim explain` command for the flow's first packet.
    pub explain: String,
    /// The same question from Rust: the probe that sends the flow's first packet.
    pub probe: String,
}

impl fmt::Display for FlowFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "flow `{}` of scenario '{}': expected {}, but it is {} (off by {})",
            self.flow, self.scenario, self.expected, self.actual, self.off_by
        )?;
        writeln!(f, "  what happened: {}", self.counters)?;
        writeln!(f, "  to see the flow's way: {}", self.explain)?;
        write!(f, "  or from Rust: {}", self.probe)
    }
}

impl Replay {
    pub(crate) fn new(report: Report, loaded: Arc<Loaded>) -> Replay {
        Replay { report, loaded }
    }

    /// The report (the same as `*replay`).
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// The report, owned.
    pub fn into_report(self) -> Report {
        self.report
    }

    /// The statistics of the traffic flow named `name`.
    pub fn flow(&self, name: &str) -> Option<&FlowReport> {
        self.report.flow(name)
    }

    /// The counters of the NIC named `name` (only NICs that saw traffic are listed).
    pub fn nic(&self, name: &str) -> Option<&NicReport> {
        self.report.nic(name)
    }

    /// Panics unless every expectation of the scenario held; the message lists each failure
    /// with its line in the file.
    #[track_caller]
    pub fn assert_expectations(&self) -> &Self {
        self.report.assert_expectations();
        self
    }

    /// Checks one flow expectation: `Ok` when it holds, [`Error::FlowCheck`] with what was
    /// expected and what happened when it does not, [`Error::UnknownFlow`] when the scenario
    /// has no flow of that name.
    pub fn check(&self, flow: &str, check: FlowCheck) -> Result<(), Error> {
        let report = self.flow_report(flow)?;
        if check_flow(report, &[check]).is_empty() {
            return Ok(());
        }
        let actual = metric_value(report, check.metric);
        let op = match check.comparison {
            Comparison::AtLeast => ">=",
            Comparison::AtMost => "<=",
            Comparison::Equal => "==",
        };
        Err(Error::FlowCheck(Box::new(FlowFailure {
            flow: flow.to_string(),
            scenario: self.report.scenario.clone(),
            expected: format!(
                "{} {op} {}",
                metric_name(check.metric),
                format_metric(check.metric, check.value)
            ),
            actual: format_metric(check.metric, actual),
            off_by: format_metric(check.metric, (actual - check.value).abs()),
            counters: counters(report, check.metric),
            explain: self.explain_command(flow).unwrap_or_default(),
            probe: self.probe_code(flow).unwrap_or_default(),
        })))
    }

    /// Checks `metric` of `flow` against `bound`, written as in a scenario file.
    pub fn check_text(&self, flow: &str, metric: FlowMetric, bound: &str) -> Result<(), Error> {
        let check = FlowCheck::parse(metric, bound).map_err(|e| Error::InvalidCheck {
            metric: metric_name(metric),
            message: e.to_string(),
        })?;
        self.check(flow, check)
    }

    /// Panics unless the check holds; the message says what was expected, what happened and
    /// the `vnetsim explain` command that shows the flow's way.
    #[track_caller]
    pub fn assert_flow(&self, flow: &str, check: FlowCheck) -> &Self {
        if let Err(e) = self.check(flow, check) {
            panic!("{e}");
        }
        self
    }

    #[track_caller]
    fn assert_text(&self, flow: &str, metric: FlowMetric, bound: &str) -> &Self {
        if let Err(e) = self.check_text(flow, metric, bound) {
            panic!("{e}");
        }
        self
    }

    /// Panics unless the flow's delivered / sent meets `bound` (`">= 0.99"`, `"== 1"`), as
    /// `delivered_ratio` in a scenario file.
    #[track_caller]
    pub fn assert_delivered_ratio(&self, flow: &str, bound: &str) -> &Self {
        self.assert_text(flow, FlowMetric::DeliveredRatio, bound)
    }

    /// Panics unless the flow's delivered bits per second meet `bound` (`">= 900Mbps"`), as
    /// `throughput` in a scenario file.
    #[track_caller]
    pub fn assert_throughput(&self, flow: &str, bound: &str) -> &Self {
        self.assert_text(flow, FlowMetric::Throughput, bound)
    }

    /// Panics unless the flow's median one-way latency meets `bound` (`"<= 500us"`).
    #[track_caller]
    pub fn assert_latency_p50(&self, flow: &str, bound: &str) -> &Self {
        self.assert_text(flow, FlowMetric::LatencyP50, bound)
    }

    /// Panics unless the flow's 90th percentile one-way latency meets `bound`.
    #[track_caller]
    pub fn assert_latency_p90(&self, flow: &str, bound: &str) -> &Self {
        self.assert_text(flow, FlowMetric::LatencyP90, bound)
    }

    /// Panics unless the flow's 99th percentile one-way latency meets `bound` (`"<= 2ms"`), as
    /// `latency_p99` in a scenario file.
    #[track_caller]
    pub fn assert_latency_p99(&self, flow: &str, bound: &str) -> &Self {
        self.assert_text(flow, FlowMetric::LatencyP99, bound)
    }

    /// Panics unless the flow's slowest one-way latency meets `bound`.
    #[track_caller]
    pub fn assert_latency_max(&self, flow: &str, bound: &str) -> &Self {
        self.assert_text(flow, FlowMetric::LatencyMax, bound)
    }

    /// Panics unless the flow's packets dropped for `reason` (a [`DropReason`](crate::DropReason) or its stable
    /// name) meet `bound` (`"== 0"`), as `drops` in a scenario file.
    #[track_caller]
    pub fn assert_drops(&self, flow: &str, reason: impl ExpectedReason, bound: &str) -> &Self {
        match reason.drop_reason() {
            Ok(r) => self.assert_text(flow, FlowMetric::Drops(r), bound),
            Err(e) => panic!("assert_drops: {e}"),
        }
    }

    /// Panics unless the delivered / sent of the flow's replies meets `bound`, as
    /// `reply_delivered_ratio` in a scenario file (a flow without replies has a ratio of 0).
    #[track_caller]
    pub fn assert_reply_delivered_ratio(&self, flow: &str, bound: &str) -> &Self {
        self.assert_text(flow, FlowMetric::ReplyDeliveredRatio, bound)
    }

    /// Panics unless the flow's replies dropped for `reason` meet `bound`, as `reply_drops`
    /// in a scenario file.
    #[track_caller]
    pub fn assert_reply_drops(
        &self,
        flow: &str,
        reason: impl ExpectedReason,
        bound: &str,
    ) -> &Self {
        match reason.drop_reason() {
            Ok(r) => self.assert_text(flow, FlowMetric::ReplyDrops(r), bound),
            Err(e) => panic!("assert_reply_drops: {e}"),
        }
    }

    /// The `vnetsim explain` command that shows the way of the flow's first packet (at its
    /// start time); `None` when the scenario has no flow of that name.
    pub fn explain_command(&self, flow: &str) -> Option<String> {
        let (report, protocol, src_port, dst_port) = self.flow_packet(flow)?;
        let file = self.loaded.source.as_ref().map_or_else(
            || "<the scenario file>".to_string(),
            |p| shell_word(&p.display().to_string()),
        );
        let mut cmd = format!(
            "vnetsim explain {file} --from {} --to {} --protocol {}",
            shell_word(&report.from),
            shell_word(&report.to),
            report.protocol
        );
        if protocol != Protocol::Icmp {
            let _ = write!(cmd, " --dst-port {dst_port} --src-port {src_port}");
        }
        if report.start_ns > 0 {
            let _ = write!(cmd, " --at {}ns", report.start_ns);
        }
        Some(cmd)
    }

    /// The harness probe that sends the flow's first packet, as Rust code.
    fn probe_code(&self, flow: &str) -> Option<String> {
        let (report, protocol, src_port, dst_port) = self.flow_packet(flow)?;
        let mut code = format!("sim.probe({:?}, {:?})", &*report.from, &*report.to);
        match protocol {
            Protocol::Tcp => {
                let _ = write!(code, ".tcp({dst_port}).src_port({src_port})");
            }
            Protocol::Udp => {
                let _ = write!(code, ".udp({dst_port}).src_port({src_port})");
            }
            Protocol::Icmp => {}
        }
        if report.start_ns > 0 {
            let _ = write!(code, ".at(Duration::from_nanos({}))", report.start_ns);
        }
        code.push_str(".send()");
        Some(code)
    }

    /// The flow's report, protocol and ports (as the engine stamps its packets).
    fn flow_packet(&self, flow: &str) -> Option<(&FlowReport, Protocol, u16, u16)> {
        let sc = &self.loaded.scenario;
        let index = sc.traffic.iter().position(|f| *f.name == *flow)?;
        let f = &sc.traffic[index];
        let report = self.report.flows.iter().find(|r| *r.name == *flow)?;
        let src_port = f.src_port.unwrap_or_else(|| default_src_port(index));
        let dst_port = f.dst_port.unwrap_or(match f.protocol {
            Protocol::Icmp => 0,
            _ => 80,
        });
        Some((report, f.protocol, src_port, dst_port))
    }

    /// The report of the flow named `flow`, or the error naming the nearest flow.
    fn flow_report(&self, flow: &str) -> Result<&FlowReport, Error> {
        self.report
            .flows
            .iter()
            .find(|f| *f.name == *flow)
            .ok_or_else(|| Error::UnknownFlow {
                name: flow.to_string(),
                scenario: self.report.scenario.clone(),
                flows: self
                    .report
                    .flows
                    .iter()
                    .map(|f| f.name.to_string())
                    .collect(),
            })
    }
}

/// The flow's counters for a person: the direction the metric reads (the replies' for
/// `reply_*`), with drops by reason and the latency percentiles.
fn counters(flow: &FlowReport, metric: FlowMetric) -> String {
    let replies = matches!(
        metric,
        FlowMetric::ReplyDeliveredRatio | FlowMetric::ReplyDrops(_)
    );
    let d = if replies {
        match &flow.replies {
            Some(r) => (**r).clone(),
            None => return "the flow has no replies (`reply: true` is not set)".to_string(),
        }
    } else {
        flow.forward()
    };
    let who = if replies { "replies" } else { "packets" };
    let mut out = format!(
        "{who} sent {}, delivered {}, dropped {}",
        d.sent,
        d.delivered,
        d.dropped.total()
    );
    if !d.dropped.is_empty() {
        let by: Vec<String> = d.dropped.iter().map(|(r, n)| format!("{r} {n}")).collect();
        let _ = write!(out, " ({})", by.join(", "));
    }
    let _ = write!(
        out,
        ", in flight {}; delivered ratio {:.4}, throughput {} of {} offered",
        d.in_flight,
        d.delivered_ratio,
        format_rate(d.throughput_bps),
        format_rate(flow.offered_bps)
    );
    if let Some(l) = &d.latency_ns {
        let _ = write!(
            out,
            "; latency p50 {}, p99 {}, max {}",
            format_ns(l.p50 as f64),
            format_ns(l.p99 as f64),
            format_ns(l.max as f64)
        );
    }
    out
}

/// `word` as one shell word: as it is when it holds only safe characters, else single-quoted.
fn shell_word(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@%+=,".contains(c));
    if safe {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Lookups by name on a replay's [`Report`] (a [`Replay`] has them too, through its report).
pub trait ReportExt {
    /// The statistics of the traffic flow named `name`.
    fn flow(&self, name: &str) -> Option<&FlowReport>;
    /// The counters of the NIC named `name` (only NICs that saw traffic are listed).
    fn nic(&self, name: &str) -> Option<&NicReport>;
    /// Panics unless every expectation of the scenario held; the message lists each failure
    /// with its line in the file.
    #[track_caller]
    fn assert_expectations(&self);
}

impl ReportExt for Report {
    fn flow(&self, name: &str) -> Option<&FlowReport> {
        self.flows.iter().find(|f| *f.name == *name)
    }

    fn nic(&self, name: &str) -> Option<&NicReport> {
        self.nics.iter().find(|n| n.nic == name)
    }

    #[track_caller]
    fn assert_expectations(&self) {
        let failed: Vec<String> = self
            .expectations
            .results
            .iter()
            .filter(|r| !r.passed)
            .map(|r| format!("line {} ({}): {}", r.line, r.subject, r.failures.join("; ")))
            .collect();
        if !failed.is_empty() {
            panic!(
                "{} of {} expectations of scenario '{}' failed:\n  {}",
                failed.len(),
                self.expectations.results.len(),
                self.scenario,
                failed.join("\n  ")
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(
            shell_word("scenarios/hub-and-spoke.yaml"),
            "scenarios/hub-and-spoke.yaml"
        );
        assert_eq!(shell_word("10.0.0.4"), "10.0.0.4");
        assert_eq!(shell_word("my file.yaml"), "'my file.yaml'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(shell_word(""), "''");
    }
}
