//! The expectations room: what a replay of the scenario must show.
//!
//! What it is for: probe expectations (a packet, and the verdict, drop reason or path it must
//! meet) and flow expectations (checks on a flow's delivered ratio, throughput, latency and
//! drops), each with its values parsed in the metric's unit. What it is not: running the
//! replay or judging it (the engine and the data plane's `expect` module).

use serde_saphyr::{Location, Spanned};

use super::resolver::{Resolver, loc};
use crate::diag::nearest;
use crate::model::*;
use crate::raw::*;
use crate::rules::Rule;

/// The flow checks of an expectation: field, metric, field name.
type Metrics<'a> = [(&'a Option<Spanned<Text>>, FlowMetric, &'static str); 7];

impl Resolver<'_> {
    /// Builds every expectation.
    pub(super) fn expectations(&mut self) {
        let raw = self.raw;
        for (i, e) in raw.expect.iter().enumerate() {
            if let Some(x) = self.expectation(e, &format!("expect[{i}]")) {
                self.sc.expectations.push(x);
            }
        }
    }

    /// One expectation: a probe or a flow, never both.
    fn expectation(&mut self, e: &Spanned<RawExpectation>, path: &str) -> Option<Expectation> {
        let x = &e.value;
        let metrics: Metrics<'_> = [
            (
                &x.delivered_ratio,
                FlowMetric::DeliveredRatio,
                "delivered_ratio",
            ),
            (&x.throughput, FlowMetric::Throughput, "throughput"),
            (&x.latency_p50, FlowMetric::LatencyP50, "latency_p50"),
            (&x.latency_p90, FlowMetric::LatencyP90, "latency_p90"),
            (&x.latency_p99, FlowMetric::LatencyP99, "latency_p99"),
            (&x.latency_max, FlowMetric::LatencyMax, "latency_max"),
            (
                &x.reply_delivered_ratio,
                FlowMetric::ReplyDeliveredRatio,
                "reply_delivered_ratio",
            ),
        ];
        let has_checks =
            metrics.iter().any(|m| m.0.is_some()) || x.drops.is_some() || x.reply_drops.is_some();
        let has_probe_fields = x.verdict.is_some() || x.reason.is_some() || x.path.is_some();
        match (&x.probe, &x.flow) {
            (Some(p), None) => {
                if has_checks {
                    self.err(
                        loc(e),
                        path,
                        Rule::ExpectationShape,
                        "a probe expectation takes verdict, reason and path, not flow checks",
                    );
                    return None;
                }
                self.probe_expectation(e, p, path)
            }
            (None, Some(f)) => {
                if has_probe_fields {
                    self.err(loc(e), path, Rule::ExpectationShape, "a flow expectation takes checks (delivered_ratio, throughput, latency_*, drops), not verdict, reason or path");
                    return None;
                }
                if !has_checks {
                    self.err(loc(e), path, Rule::ExpectationShape, "a flow expectation needs at least one check (delivered_ratio, throughput, latency_p50/p90/p99/max, drops)");
                    return None;
                }
                self.flow_expectation(e, f, metrics, path)
            }
            _ => {
                self.err(
                    loc(e),
                    path,
                    Rule::ExpectationShape,
                    "an expectation has exactly one of `probe` or `flow`",
                );
                None
            }
        }
    }

    /// A probe expectation.
    fn probe_expectation(
        &mut self,
        e: &Spanned<RawExpectation>,
        p: &RawProbe,
        path: &str,
    ) -> Option<Expectation> {
        let x = &e.value;
        let ppath = format!("{path}.probe");
        let ppath = crate::diag::FieldPath::Text(&ppath);
        let from = self.sender(&p.from, ppath.field("from"));
        let to = self.endpoint(&p.to, ppath.field("to"));
        let protocol = match &p.protocol {
            Some(t) => self.protocol(t, format!("{ppath}.protocol")),
            None => Some(Protocol::Icmp),
        };
        let (src_port, dst_port) = if protocol == Some(Protocol::Icmp) {
            self.icmp_ports(
                [(&p.src_port, "src_port"), (&p.dst_port, "dst_port")],
                ppath,
            );
            (0, 0)
        } else {
            self.nonzero_ports(
                [(&p.src_port, "src_port"), (&p.dst_port, "dst_port")],
                ppath,
            );
            (
                p.src_port.as_ref().map_or(49152, |s| s.value),
                p.dst_port.as_ref().map_or(80, |s| s.value),
            )
        };
        let at = self.opt_duration(p.at.as_ref(), format!("{ppath}.at"), 0);
        let verdict = x.verdict.as_ref().map(|v| match v.value {
            RawVerdict::Delivered => ExpectedVerdict::Delivered,
            RawVerdict::Dropped => ExpectedVerdict::Dropped,
        });
        let reason = x
            .reason
            .as_ref()
            .and_then(|r| self.drop_reason(&r.value, loc(r), &format!("{path}.reason")));
        if let (Some(ExpectedVerdict::Delivered), Some(r)) = (verdict, &x.reason) {
            self.err(
                loc(r),
                format!("{path}.reason"),
                Rule::DeliveredWithReason,
                "a drop reason goes with `verdict: dropped`; this probe expects `delivered`",
            );
        }
        Some(Expectation::Probe {
            probe: Probe {
                from: from?,
                to: to?,
                protocol: protocol?,
                src_port,
                dst_port,
                at,
            },
            verdict,
            reason,
            path: x.path.clone(),
            stateless: p.stateless,
            line: loc(e).line() as u32,
        })
    }

    /// A flow expectation with its checks.
    fn flow_expectation(
        &mut self,
        e: &Spanned<RawExpectation>,
        f: &Spanned<String>,
        metrics: Metrics<'_>,
        path: &str,
    ) -> Option<Expectation> {
        let flow = self.flow_ref(f, format!("{path}.flow"));
        let mut checks = Vec::new();
        for (field, metric, name) in metrics {
            if let Some(t) = field {
                checks.extend(self.comparison(metric, t, &format!("{path}.{name}")));
            }
        }
        for (reason, t) in e.value.drops.iter().flatten() {
            let dpath = format!("{path}.drops.{reason}");
            if let Some(r) = self.drop_reason(reason, loc(t), &dpath) {
                checks.extend(self.comparison(FlowMetric::Drops(r), t, &dpath));
            }
        }
        for (reason, t) in e.value.reply_drops.iter().flatten() {
            let dpath = format!("{path}.reply_drops.{reason}");
            if let Some(r) = self.drop_reason(reason, loc(t), &dpath) {
                checks.extend(self.comparison(FlowMetric::ReplyDrops(r), t, &dpath));
            }
        }
        Some(Expectation::Flow {
            flow: FlowId(flow?),
            checks,
            line: loc(e).line() as u32,
        })
    }

    /// A drop reason by its stable name.
    fn drop_reason(&mut self, name: &str, at: Location, path: &str) -> Option<DropReason> {
        let r = DropReason::from_name(name.trim());
        if r.is_none() {
            let names = DropReason::ALL.map(DropReason::as_str);
            self.unknown(
                at,
                path,
                Rule::UnknownDropReason,
                format!("`{name}` is not a drop reason"),
                nearest(name, names),
                Some(format!("drop reasons: {}", names.join(", "))),
            );
        }
        r
    }

    /// One check: `>=`, `<=` or `==` and a value in the metric's unit.
    fn comparison(
        &mut self,
        metric: FlowMetric,
        text: &Spanned<Text>,
        path: &str,
    ) -> Option<FlowCheck> {
        match FlowCheck::parse(metric, &text.value.0) {
            Ok(check) => Some(check),
            Err(FlowCheckError::NoComparison(s)) => {
                self.err_help(
                    loc(text),
                    path,
                    Rule::InvalidComparison,
                    format!("`{s}` does not start with >=, <= or =="),
                    "write e.g. \">= 0.99\"",
                );
                None
            }
            Err(FlowCheckError::Value(e)) => {
                self.err(loc(text), path, Rule::InvalidComparison, e);
                None
            }
        }
    }
}
