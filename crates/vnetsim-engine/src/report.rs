//! The replay report: what happened to every packet, per flow, NIC, gateway and peering, and
//! which expectations held.
//!
//! What it is for: the `--report OUT.json` document (schema `vnetsim-report/1`, documented in
//! `docs/report.md`), the summary tables printed by `vnetsim run`, and the checks of flow
//! expectations. It holds simulated results only (no wall-clock figure), in a fixed order, so
//! the same scenario and seed give byte-identical JSON. What it is not: the simulation itself.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::Serialize;
use vnetsim_scenario::{AzureSwitches, Comparison, DropReason, FlowCheck, FlowMetric, Setting};

/// Report schema name and version.
pub const REPORT_FORMAT: &str = "vnetsim-report/1";

/// Packet counts proving that nothing was lost: `sent = delivered + dropped + in_flight`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Conservation {
    /// Packets created (traffic, replies and probes).
    pub sent: u64,
    /// Packets delivered.
    pub delivered: u64,
    /// Packets dropped, for a reason.
    pub dropped: u64,
    /// Packets still on their way when the simulation ended.
    pub in_flight: u64,
}

impl Conservation {
    /// Whether the sum holds.
    pub fn holds(&self) -> bool {
        self.sent == self.delivered + self.dropped + self.in_flight
    }
}

/// One-way latency percentiles of delivered packets, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Latency {
    /// Fastest.
    pub min: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Slowest.
    pub max: u64,
    /// Mean.
    pub mean: f64,
}

/// Packets of one direction of a flow dropped, by reason: the engine's own counters moved into
/// the report (no allocation per flow), read and serialized as a map from the stable reason
/// name to the count, names in alphabetical order, reasons with no drop left out.
#[derive(Clone, Debug, Default)]
pub struct Drops(Counts);

/// The counts behind [`Drops`]: most flows never drop, and a flow that drops mostly drops for
/// one reason (an NSG rule, a flow limit), which is kept inline; a second reason moves the
/// counts to a table of every reason.
#[derive(Clone, Debug, Default)]
enum Counts {
    #[default]
    None,
    One(DropReason, u64),
    Many(Box<[u64; DropReason::ALL.len()]>),
}

impl PartialEq for Drops {
    fn eq(&self, other: &Drops) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Drops {}

impl Drops {
    /// Drops from counters indexed by `DropReason as usize` (`None`: no drop).
    pub fn from_counts(counts: Option<Box<[u64; DropReason::ALL.len()]>>) -> Drops {
        Drops::from_pairs(
            counts
                .iter()
                .flat_map(|c| DropReason::ALL.into_iter().map(|r| (r, c[r as usize]))),
        )
    }

    /// Builds the counts from (reason, count) pairs, adding repeated reasons.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (DropReason, u64)>) -> Drops {
        let mut drops = Drops::default();
        for (reason, n) in pairs {
            drops.add_n(reason, n);
        }
        drops
    }

    /// Packets dropped for `reason`.
    pub fn count(&self, reason: DropReason) -> u64 {
        match &self.0 {
            Counts::None => 0,
            Counts::One(r, n) => {
                if *r == reason {
                    *n
                } else {
                    0
                }
            }
            Counts::Many(c) => c[reason as usize],
        }
    }

    /// The count of the reason named `name` (its stable name), `None` when none was dropped
    /// for it or the name is no reason.
    pub fn get(&self, name: &str) -> Option<&u64> {
        let reason = DropReason::from_name(name)?;
        let n = match &self.0 {
            Counts::None => None,
            Counts::One(r, n) => (*r == reason).then_some(n),
            Counts::Many(c) => Some(&c[reason as usize]),
        }?;
        (*n > 0).then_some(n)
    }

    /// (reason, count) of every reason with drops, in the order of their names.
    pub fn iter(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        let by_name: &[DropReason] = match self.0 {
            Counts::None => &[],
            _ => &BY_NAME[..],
        };
        by_name.iter().filter_map(move |&r| {
            let n = self.count(r);
            (n > 0).then_some((r, n))
        })
    }

    /// The names of the reasons with drops, in order.
    pub fn keys(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.iter().map(|(r, _)| r.as_str())
    }

    /// The counts of the reasons with drops, in the order of their names.
    pub fn values(&self) -> impl Iterator<Item = u64> + '_ {
        self.iter().map(|(_, n)| n)
    }

    /// All packets dropped, whatever the reason.
    pub fn total(&self) -> u64 {
        match &self.0 {
            Counts::None => 0,
            Counts::One(_, n) => *n,
            Counts::Many(c) => c.iter().sum(),
        }
    }

    /// How many reasons have drops.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether nothing was dropped.
    pub fn is_empty(&self) -> bool {
        self.total() == 0
    }

    /// Whether any packet was dropped for the reason named `name`.
    pub fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Adds one drop for `reason`.
    #[inline]
    pub fn add(&mut self, reason: DropReason) {
        self.add_n(reason, 1);
    }

    /// Adds `n` drops for `reason`.
    #[inline]
    pub fn add_n(&mut self, reason: DropReason, n: u64) {
        if n == 0 {
            return;
        }
        match &mut self.0 {
            Counts::None => self.0 = Counts::One(reason, n),
            Counts::One(r, count) if *r == reason => *count += n,
            Counts::One(r, count) => {
                let mut all = Box::new([0; DropReason::ALL.len()]);
                all[*r as usize] = *count;
                all[reason as usize] = n;
                self.0 = Counts::Many(all);
            }
            Counts::Many(c) => c[reason as usize] += n,
        }
    }
}

impl std::ops::Index<&str> for Drops {
    type Output = u64;

    /// The count of the reason named `name`; panics, as a map does, when there is none.
    fn index(&self, name: &str) -> &u64 {
        self.get(name)
            .unwrap_or_else(|| panic!("no packet dropped as `{name}`"))
    }
}

/// A map from the stable reason name to a positive count.
impl JsonSchema for Drops {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Drops".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let reason = generator.subschema_for::<DropReason>();
        schemars::json_schema!({
            "description": "Packets dropped, by reason: reasons with no drop are left out.",
            "type": "object",
            "propertyNames": reason,
            "additionalProperties": { "type": "integer", "minimum": 1 },
        })
    }
}

impl Serialize for Drops {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter().map(|(r, n)| (r.as_str(), n)))
    }
}

/// Every drop reason in the order of its name: the order of a report's keys.
static BY_NAME: std::sync::LazyLock<[DropReason; DropReason::ALL.len()]> =
    std::sync::LazyLock::new(|| {
        let mut all = DropReason::ALL;
        all.sort_by_key(|r| r.as_str());
        all
    });

/// Counts of one direction of a flow.
#[derive(Clone, Debug, Default, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct DirectionReport {
    /// Packets sent.
    pub sent: u64,
    /// Packets delivered.
    pub delivered: u64,
    /// Packets dropped, by reason.
    pub dropped: Drops,
    /// Packets on their way at the end.
    pub in_flight: u64,
    /// Bytes sent.
    pub bytes_sent: u64,
    /// Bytes delivered.
    pub bytes_delivered: u64,
    /// delivered / sent (1 when nothing was sent).
    pub delivered_ratio: f64,
    /// Delivered bits per second over the flow's sending window.
    pub throughput_bps: f64,
    /// One-way latency of delivered packets (`None` when none was delivered).
    pub latency_ns: Option<Latency>,
}

/// One traffic flow: its own packets' counters inline, as the JSON lists them, and its replies'
/// in [`FlowReport::replies`].
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct FlowReport {
    /// Flow name.
    pub name: Arc<str>,
    /// Sender.
    pub from: Arc<str>,
    /// Receiver.
    pub to: Arc<str>,
    /// tcp, udp or icmp.
    pub protocol: &'static str,
    /// Size of each packet in bytes.
    pub packet_size: u16,
    /// Offered load in bits per second.
    pub offered_bps: f64,
    /// First packet time.
    pub start_ns: u64,
    /// End of the sending window.
    pub end_ns: u64,
    /// Packets sent.
    pub sent: u64,
    /// Packets delivered.
    pub delivered: u64,
    /// Packets dropped, by reason.
    pub dropped: Drops,
    /// Packets on their way at the end.
    pub in_flight: u64,
    /// Bytes sent.
    pub bytes_sent: u64,
    /// Bytes delivered.
    pub bytes_delivered: u64,
    /// delivered / sent (1 when nothing was sent).
    pub delivered_ratio: f64,
    /// Delivered bits per second over the flow's sending window.
    pub throughput_bps: f64,
    /// One-way latency of delivered packets (`None` when none was delivered).
    pub latency_ns: Option<Latency>,
    /// The replies, when the flow has `reply: true`.
    pub replies: Option<Box<DirectionReport>>,
    /// The latency histogram as (latency ns, count) steps, for plots; empty unless the replay
    /// was asked for it ([`crate::Options::latency_cdf`]).
    #[serde(skip)]
    pub latency_cdf: Vec<(u64, u64)>,
    /// The replies' latency histogram, as [`FlowReport::latency_cdf`] (empty without replies).
    #[serde(skip)]
    pub reply_latency_cdf: Vec<(u64, u64)>,
    /// Bytes delivered in each interval of [`PLOT_INTERVALS`] equal parts of the run (the
    /// flow's own packets), for throughput plots; empty unless asked as
    /// [`FlowReport::latency_cdf`] is.
    #[serde(skip)]
    pub delivered_timeline: Vec<u64>,
    /// The same for its replies.
    #[serde(skip)]
    pub reply_timeline: Vec<u64>,
}

/// How many intervals the throughput timelines of a plotted run have.
pub const PLOT_INTERVALS: u64 = 200;

/// The width of one interval of the throughput timelines of a run of `duration`: a
/// [`PLOT_INTERVALS`]th of it (at least 1 us), or 10 ms for a run without a set duration.
pub fn plot_interval(duration: Option<u64>) -> u64 {
    duration.map_or(10_000_000, |d| (d / PLOT_INTERVALS).max(1_000))
}

impl FlowReport {
    /// The counters of the flow's own packets (the fields from `sent` to `latency_ns`) as a
    /// [`DirectionReport`], the type of [`FlowReport::replies`].
    pub fn forward(&self) -> DirectionReport {
        DirectionReport {
            sent: self.sent,
            delivered: self.delivered,
            dropped: self.dropped.clone(),
            in_flight: self.in_flight,
            bytes_sent: self.bytes_sent,
            bytes_delivered: self.bytes_delivered,
            delivered_ratio: self.delivered_ratio,
            throughput_bps: self.throughput_bps,
            latency_ns: self.latency_ns,
        }
    }
}

/// Counters of one NIC.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct NicReport {
    /// NIC name.
    pub nic: String,
    /// Its VM.
    pub vm: String,
    /// Packets its VM sent.
    pub tx_packets: u64,
    /// Bytes its VM sent.
    pub tx_bytes: u64,
    /// Packets delivered to it.
    pub rx_packets: u64,
    /// Bytes delivered to it.
    pub rx_bytes: u64,
    /// Packets its VM forwarded as an appliance.
    pub forwarded_packets: u64,
}

/// Counters of one VM's egress shaper or one gateway.
#[derive(Clone, Debug, Default, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ShaperReport {
    /// VM or gateway name.
    pub name: String,
    /// VM size or gateway SKU.
    pub kind: String,
    /// The limit in bits per second.
    pub rate_bps: u64,
    /// Packets that passed.
    pub packets: u64,
    /// Bytes that passed.
    pub bytes: u64,
    /// Packets dropped because the queue was full.
    pub queue_overflow: u64,
}

/// Traffic over one peering (both links of a VNet pair).
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct PeeringReport {
    /// The two VNets, in scenario order.
    pub vnets: [String; 2],
    /// Bytes from the first to the second.
    pub bytes_forward: u64,
    /// Bytes from the second to the first.
    pub bytes_backward: u64,
    /// Cost in US dollars: each byte billed as egress at the sender and ingress at the receiver.
    pub cost_usd: f64,
}

/// A timed change as it happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct EventReport {
    /// When.
    pub at_ns: u64,
    /// Line in the file.
    pub line: u32,
    /// What.
    pub action: String,
}

/// A probe as it went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ProbeReport {
    /// Index in `expect`.
    pub index: usize,
    /// Line in the file.
    pub line: u32,
    /// When it was sent.
    pub at_ns: u64,
    /// Sender.
    pub from: String,
    /// Receiver.
    pub to: String,
    /// tcp, udp or icmp.
    pub protocol: &'static str,
    /// Source port (tcp and udp; null for icmp).
    pub src_port: Option<u16>,
    /// Destination port (tcp and udp; null for icmp).
    pub dst_port: Option<u16>,
    /// delivered or dropped.
    pub verdict: &'static str,
    /// Drop reason (serialized as its stable name).
    pub reason: Option<DropReason>,
    /// The verdict in a sentence, naming the rule behind it.
    pub detail: String,
    /// Hops by name.
    pub path: Vec<String>,
    /// Whether its expectation held.
    pub passed: bool,
    /// Why not.
    pub failures: Vec<String>,
}

/// The result of one expectation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ExpectationResult {
    /// Index in `expect`.
    pub index: usize,
    /// Line in the file.
    pub line: u32,
    /// `probe` or `flow NAME`.
    pub subject: String,
    /// Whether it held.
    pub passed: bool,
    /// Why not.
    pub failures: Vec<String>,
}

/// All expectations.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ExpectationSummary {
    /// How many held.
    pub passed: u64,
    /// How many failed.
    pub failed: u64,
    /// Each one, in file order.
    pub results: Vec<ExpectationResult>,
}

/// The Azure era a run followed and every switch that differs from it, so that the choice is
/// never silent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct AzureReport {
    /// `2016` or `current`.
    pub era: &'static str,
    /// Names of the switches the file set to another value than the era's.
    pub differs_from_era: Vec<&'static str>,
    /// Every switch with the value the run used, in the reference table's order.
    pub switches: Vec<SwitchReport>,
}

/// One switch of [`AzureReport`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct SwitchReport {
    /// Its name in the `azure` block.
    pub name: &'static str,
    /// Its value (`true`, `500`, `tag`, ...).
    pub value: SwitchJson,
}

/// A switch value as JSON: a boolean, a number or a word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum SwitchJson {
    /// `true` or `false`.
    Bool(bool),
    /// A count.
    Number(u32),
    /// A word.
    Word(&'static str),
}

impl std::fmt::Display for SwitchJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SwitchJson::Bool(b) => write!(f, "{b}"),
            SwitchJson::Number(n) => write!(f, "{n}"),
            SwitchJson::Word(w) => f.write_str(w),
        }
    }
}

impl AzureReport {
    /// One line for people: `era 2016`, or `era current; differs from the era:
    /// global_peering: false`.
    pub fn describe(&self) -> String {
        let diffs: Vec<(&str, String)> = self
            .switches
            .iter()
            .filter(|s| self.differs_from_era.contains(&s.name))
            .map(|s| (s.name, s.value.to_string()))
            .collect();
        vnetsim_scenario::describe_era(self.era, &diffs)
    }

    /// The report of a scenario's switches.
    pub fn of(switches: &AzureSwitches) -> Self {
        let json = |s: Setting| match s {
            Setting::Bool(b) => SwitchJson::Bool(b),
            Setting::Number(n) => SwitchJson::Number(n),
            Setting::Word(w) => SwitchJson::Word(w),
        };
        AzureReport {
            era: switches.era.as_str(),
            differs_from_era: switches.differences().iter().map(|d| d.name).collect(),
            switches: switches
                .values()
                .into_iter()
                .map(|v| SwitchReport {
                    name: v.name,
                    value: json(v.value),
                })
                .collect(),
        }
    }
}

/// The whole report.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Report {
    /// The schema name and version, `vnetsim-report/1` ([`REPORT_FORMAT`]).
    #[schemars(extend("const" = "vnetsim-report/1"))]
    pub format: &'static str,
    /// Scenario name.
    pub scenario: String,
    /// Seed used.
    pub seed: u64,
    /// The Azure era and the switches that differ from it.
    pub azure: AzureReport,
    /// Simulated time at the end, in ns.
    pub simulated_ns: u64,
    /// Simulation events processed.
    pub events_processed: u64,
    /// Conservation of packets.
    pub conservation: Conservation,
    /// Every drop, by reason (serialized as a map from the stable reason name to the count).
    pub drops_by_reason: Drops,
    /// Flows, in file order.
    pub flows: Vec<FlowReport>,
    /// Probes, in file order.
    pub probes: Vec<ProbeReport>,
    /// NICs with traffic, in scenario order.
    pub nics: Vec<NicReport>,
    /// VM egress shapers and gateways with traffic.
    pub shapers: Vec<ShaperReport>,
    /// Peerings with traffic.
    pub peerings: Vec<PeeringReport>,
    /// Timed changes applied.
    pub events: Vec<EventReport>,
    /// Expectations.
    pub expectations: ExpectationSummary,
}

/// The value of a metric for a flow, in the metric's unit.
pub fn metric_value(flow: &FlowReport, metric: FlowMetric) -> f64 {
    let latency = |f: fn(&Latency) -> u64| flow.latency_ns.as_ref().map(f).unwrap_or(0) as f64;
    match metric {
        FlowMetric::DeliveredRatio => flow.delivered_ratio,
        FlowMetric::Throughput => flow.throughput_bps,
        FlowMetric::LatencyP50 => latency(|l| l.p50),
        FlowMetric::LatencyP90 => latency(|l| l.p90),
        FlowMetric::LatencyP99 => latency(|l| l.p99),
        FlowMetric::LatencyMax => latency(|l| l.max),
        FlowMetric::Drops(reason) => flow.dropped.count(reason) as f64,
        // A flow without replies has none delivered and none dropped.
        FlowMetric::ReplyDeliveredRatio => flow.replies.as_ref().map_or(0.0, |r| r.delivered_ratio),
        FlowMetric::ReplyDrops(reason) => {
            flow.replies.as_ref().map_or(0, |r| r.dropped.count(reason)) as f64
        }
    }
}

/// The metric's name as a scenario file's flow expectation writes it (`throughput`,
/// `latency_p99`, `drops queue-overflow`).
pub fn metric_name(metric: FlowMetric) -> String {
    match metric {
        FlowMetric::DeliveredRatio => "delivered_ratio".into(),
        FlowMetric::Throughput => "throughput".into(),
        FlowMetric::LatencyP50 => "latency_p50".into(),
        FlowMetric::LatencyP90 => "latency_p90".into(),
        FlowMetric::LatencyP99 => "latency_p99".into(),
        FlowMetric::LatencyMax => "latency_max".into(),
        FlowMetric::Drops(r) => format!("drops {}", r.as_str()),
        FlowMetric::ReplyDeliveredRatio => "reply_delivered_ratio".into(),
        FlowMetric::ReplyDrops(r) => format!("reply drops {}", r.as_str()),
    }
}

/// A value in the metric's unit for people: `1.50 Gbps`, `2.1 ms`, `0.9900`, `12`.
pub fn format_metric(metric: FlowMetric, value: f64) -> String {
    match metric {
        FlowMetric::Throughput => format_rate(value),
        FlowMetric::LatencyP50
        | FlowMetric::LatencyP90
        | FlowMetric::LatencyP99
        | FlowMetric::LatencyMax => format_ns(value),
        FlowMetric::DeliveredRatio | FlowMetric::ReplyDeliveredRatio => format!("{value:.4}"),
        FlowMetric::Drops(_) | FlowMetric::ReplyDrops(_) => format!("{value}"),
    }
}

/// Bits per second for people.
pub fn format_rate(bps: f64) -> String {
    if bps >= 1e9 {
        format!("{:.2} Gbps", bps / 1e9)
    } else if bps >= 1e6 {
        format!("{:.2} Mbps", bps / 1e6)
    } else if bps >= 1e3 {
        format!("{:.2} kbps", bps / 1e3)
    } else {
        format!("{bps:.0} bps")
    }
}

/// Nanoseconds for people.
pub fn format_ns(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.3} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.3} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.1} us", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

/// Checks one flow expectation; the failures say by how much.
pub fn check_flow(flow: &FlowReport, checks: &[FlowCheck]) -> Vec<String> {
    let mut failures = Vec::new();
    for c in checks {
        let actual = metric_value(flow, c.metric);
        let ok = match c.comparison {
            Comparison::AtLeast => actual >= c.value,
            Comparison::AtMost => actual <= c.value,
            Comparison::Equal => (actual - c.value).abs() <= 1e-9 * c.value.abs().max(1.0),
        };
        if !ok {
            let op = match c.comparison {
                Comparison::AtLeast => ">=",
                Comparison::AtMost => "<=",
                Comparison::Equal => "==",
            };
            failures.push(format!(
                "{}: {} is {}, expected {} {} (off by {})",
                flow.name,
                metric_name(c.metric),
                format_metric(c.metric, actual),
                op,
                format_metric(c.metric, c.value),
                format_metric(c.metric, (actual - c.value).abs()),
            ));
        }
    }
    failures
}

fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i > 0 {
                out.push_str("  ");
            }
            let pad = w - cell.chars().count();
            out.push_str(cell);
            out.extend(std::iter::repeat_n(' ', pad));
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(header.iter().map(|h| h.to_string()).collect());
    out.push_str(&line(widths.iter().map(|w| "-".repeat(*w)).collect()));
    for row in rows {
        out.push_str(&line(row.clone()));
    }
    out
}

fn drops_text(dropped: &Drops) -> String {
    if dropped.is_empty() {
        return "-".into();
    }
    let parts: Vec<String> = dropped
        .iter()
        .map(|(r, n)| format!("{n} {}", r.as_str()))
        .collect();
    parts.join(", ")
}

/// Rows a table shows before it summarises: a larger run shows its totals and the
/// [`SUMMARY_ROWS`] rows that most need a look.
pub const FULL_TABLE_ROWS: usize = 50;

/// Rows a summarised table shows.
pub const SUMMARY_ROWS: usize = 20;

/// The report as tables for a person; tables of more than [`FULL_TABLE_ROWS`] rows are
/// summarised (see [`render_text_with`]).
pub fn render_text(report: &Report) -> String {
    render_text_with(report, false)
}

/// Keeps the [`SUMMARY_ROWS`] rows that come first by `key` (ascending, then in report order),
/// when there are more than [`FULL_TABLE_ROWS`] and `all` is off; says what it left out.
fn summarised<T>(
    items: &[T],
    all: bool,
    what: &str,
    order: &str,
    key: impl Fn(&T) -> (u64, u64),
    out: &mut String,
) -> Vec<usize> {
    if all || items.len() <= FULL_TABLE_ROWS {
        return (0..items.len()).collect();
    }
    // The first rows by (key, index), as a stable sort would order them: a selection, not a
    // sort of every row (100,000 flows).
    let mut keyed: Vec<((u64, u64), usize)> =
        items.iter().enumerate().map(|(i, t)| (key(t), i)).collect();
    keyed.select_nth_unstable(SUMMARY_ROWS - 1);
    let mut idx: Vec<usize> = keyed[..SUMMARY_ROWS].iter().map(|&(_, i)| i).collect();
    idx.sort_unstable();
    let _ = writeln!(
        out,
        "{} {what}; the {SUMMARY_ROWS} {order} below (run with --all-rows for every one, or \
         --report for the JSON)",
        items.len()
    );
    idx
}

/// The report as tables for a person. Unless `all`, a table of more than
/// [`FULL_TABLE_ROWS`] rows shows the [`SUMMARY_ROWS`] that most need a look (flows with the
/// lowest delivered ratio, shapers with the most queue overflows, the busiest peerings) after
/// a line with the count; the conservation line and expectations always cover everything.
pub fn render_text_with(report: &Report, all: bool) -> String {
    render_text_parts(report, all, true)
}

/// [`render_text_with`] without the failed expectations' lines, for a caller that shows them
/// itself (the command line renders them as diagnostics on their lines of the file).
pub fn render_text_without_failures(report: &Report, all: bool) -> String {
    render_text_parts(report, all, false)
}

fn render_text_parts(report: &Report, all: bool, failures: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "scenario '{}' (seed {}): {} simulated, {} events",
        report.scenario,
        report.seed,
        format_ns(report.simulated_ns as f64),
        report.events_processed
    );
    let _ = writeln!(out, "azure: {}", report.azure.describe());
    if !report.flows.is_empty() {
        let shown = summarised(
            &report.flows,
            all,
            "flows",
            "with the lowest delivered ratio",
            |f| {
                let worst = f.replies.as_ref().map_or(f.delivered_ratio, |r| {
                    r.delivered_ratio.min(f.delivered_ratio)
                });
                ((worst * 1e9) as u64, u64::MAX - f.sent)
            },
            &mut out,
        );
        let rows: Vec<Vec<String>> = shown
            .iter()
            .map(|&i| &report.flows[i])
            .flat_map(|f| {
                let mut rows = vec![flow_row(&f.name, &f.from, &f.to, f.protocol, &f.forward())];
                if let Some(r) = &f.replies {
                    rows.push(flow_row(
                        &format!("{} (replies)", f.name),
                        &f.to,
                        &f.from,
                        f.protocol,
                        r,
                    ));
                }
                rows
            })
            .collect();
        out.push_str(&table(
            &[
                "flow",
                "from -> to",
                "sent",
                "delivered",
                "dropped",
                "ratio",
                "throughput",
                "p50",
                "p99",
                "max",
            ],
            &rows,
        ));
    }
    if !report.probes.is_empty() {
        let rows: Vec<Vec<String>> = report
            .probes
            .iter()
            .map(|p| {
                vec![
                    (p.index + 1).to_string(),
                    format_ns(p.at_ns as f64),
                    match p.dst_port {
                        Some(port) => format!("{} -> {} {}/{port}", p.from, p.to, p.protocol),
                        None => format!("{} -> {} {}", p.from, p.to, p.protocol),
                    },
                    match p.reason {
                        Some(r) => format!("dropped ({})", r.as_str()),
                        None => "delivered".into(),
                    },
                    p.path.join(" > "),
                ]
            })
            .collect();
        out.push_str(&table(&["probe", "at", "packet", "verdict", "path"], &rows));
    }
    if !report.shapers.is_empty() {
        let shown = summarised(
            &report.shapers,
            all,
            "shapers",
            "with the most queue overflows and packets",
            |s| (u64::MAX - s.queue_overflow, u64::MAX - s.packets),
            &mut out,
        );
        let rows: Vec<Vec<String>> = shown
            .iter()
            .map(|&i| &report.shapers[i])
            .map(|s| {
                vec![
                    s.name.clone(),
                    s.kind.clone(),
                    format_rate(s.rate_bps as f64),
                    s.packets.to_string(),
                    s.queue_overflow.to_string(),
                ]
            })
            .collect();
        out.push_str(&table(
            &["shaper", "size/sku", "limit", "packets", "queue-overflow"],
            &rows,
        ));
    }
    if !report.peerings.is_empty() {
        let shown = summarised(
            &report.peerings,
            all,
            "peerings",
            "carrying the most bytes",
            |p| (u64::MAX - (p.bytes_forward + p.bytes_backward), 0),
            &mut out,
        );
        let rows: Vec<Vec<String>> = shown
            .iter()
            .map(|&i| &report.peerings[i])
            .map(|p| {
                vec![
                    format!("{} <-> {}", p.vnets[0], p.vnets[1]),
                    p.bytes_forward.to_string(),
                    p.bytes_backward.to_string(),
                    format!("${:.6}", p.cost_usd),
                ]
            })
            .collect();
        out.push_str(&table(&["peering", "bytes ->", "bytes <-", "cost"], &rows));
    }
    for e in &report.events {
        let _ = writeln!(
            out,
            "event at {} (line {}): {}",
            format_ns(e.at_ns as f64),
            e.line,
            e.action
        );
    }
    for r in report
        .expectations
        .results
        .iter()
        .filter(|r| failures && !r.passed)
    {
        let _ = writeln!(
            out,
            "expectation #{} (line {}, {}) failed:",
            r.index + 1,
            r.line,
            r.subject
        );
        for f in &r.failures {
            let _ = writeln!(out, "  - {f}");
        }
    }
    let c = &report.conservation;
    let _ = writeln!(
        out,
        "conservation: sent {} = delivered {} + dropped {} + in flight {}",
        c.sent, c.delivered, c.dropped, c.in_flight
    );
    let _ = writeln!(
        out,
        "{} passed, {} failed",
        report.expectations.passed, report.expectations.failed
    );
    out
}

fn flow_row(name: &str, from: &str, to: &str, protocol: &str, d: &DirectionReport) -> Vec<String> {
    let lat = |f: fn(&Latency) -> u64| {
        d.latency_ns
            .as_ref()
            .map(|l| format_ns(f(l) as f64))
            .unwrap_or_else(|| "-".into())
    };
    vec![
        name.to_string(),
        format!("{from} -> {to} {protocol}"),
        d.sent.to_string(),
        d.delivered.to_string(),
        drops_text(&d.dropped),
        format!("{:.4}", d.delivered_ratio),
        format_rate(d.throughput_bps),
        lat(|l| l.p50),
        lat(|l| l.p99),
        lat(|l| l.max),
    ]
}

/// Adds one drop to a by-reason map.
pub fn count_drop(map: &mut BTreeMap<&'static str, u64>, reason: DropReason) {
    *map.entry(reason.as_str()).or_insert(0) += 1;
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        /// A summarised table keeps the rows a stable sort by key would put first, in report
        /// order.
        #[test]
        fn summarised_rows_are_those_a_stable_sort_keeps(
            keys in prop::collection::vec((0u64..5, 0u64..3), 0..200),
            all in any::<bool>(),
        ) {
            let mut out = String::new();
            let got = super::summarised(&keys, all, "rows", "first", |&k| k, &mut out);
            let mut want: Vec<usize> = (0..keys.len()).collect();
            if !all && keys.len() > FULL_TABLE_ROWS {
                want.sort_by_key(|&i| keys[i]);
                want.truncate(SUMMARY_ROWS);
                want.sort_unstable();
            }
            prop_assert_eq!(got, want);
        }
    }

    use super::*;

    /// Drops of one reason stay inline; a second reason moves them to the table of every
    /// reason. Either way they read, compare and serialize the same.
    #[test]
    fn drops_read_the_same_whether_inline_or_in_a_table() {
        let mut one = Drops::default();
        assert!(one.is_empty());
        assert_eq!(serde_json::to_string(&one).unwrap(), "{}");
        one.add(DropReason::NsgDenied);
        one.add_n(DropReason::NsgDenied, 2);
        assert!(matches!(one.0, Counts::One(DropReason::NsgDenied, 3)));
        let mut table = [0; DropReason::ALL.len()];
        table[DropReason::NsgDenied as usize] = 3;
        let many = Drops::from_counts(Some(Box::new(table)));
        assert_eq!(one, many);
        assert_eq!(one.get("nsg-denied"), Some(&3));
        assert_eq!(one.get("no-route"), None);
        assert_eq!(one.count(DropReason::NoRoute), 0);

        let mut two = one.clone();
        two.add(DropReason::NoRoute);
        assert!(matches!(two.0, Counts::Many(_)));
        assert_ne!(one, two);
        assert_eq!(two.total(), 4);
        assert_eq!(two.len(), 2);
        assert_eq!(two.keys().collect::<Vec<_>>(), ["no-route", "nsg-denied"]);
        assert_eq!(
            serde_json::to_string(&two).unwrap(),
            r#"{"no-route":1,"nsg-denied":3}"#
        );
        assert_eq!(
            Drops::from_pairs([(DropReason::NsgDenied, 3), (DropReason::NoRoute, 1)]),
            two
        );
        assert_eq!(two["no-route"], 1);
    }
}
