//! The live report and the periodic counters line.
//!
//! What it is for: `vnetsim live --report OUT.json` (schema `vnetsim-live-report/1`): the
//! conservation block (`sent = delivered + dropped + in_flight`), drops by reason, per-NIC
//! counters (with the live-only `malformed` and `no_listener`), shapers and timed events, in
//! the style of the `run` report; its text rendering; and the one-line counters printed on
//! stderr while running. What it is not: the simulated replay's report (`vnetsim-engine`),
//! and it holds wall-clock figures, so two runs never give the same file.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;
use vnetsim_engine::report::{Conservation, EventReport, NicReport, ShaperReport};

/// Live report schema name and version.
pub const LIVE_REPORT_FORMAT: &str = "vnetsim-live-report/1";

/// Counters of one NIC in live mode.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LiveNicReport {
    /// `nic`, `vm`, `tx_packets`, `tx_bytes`, `rx_packets`, `rx_bytes`, `forwarded_packets`, as
    /// in the `run` report.
    #[serde(flatten)]
    pub counters: NicReport,
    /// The NIC's IPv4 address.
    pub ip: String,
    /// Datagrams or frames its VM sent that were not valid IPv4 packets (dropped, counted in
    /// `drops_by_reason.malformed` too).
    pub malformed: u64,
    /// Packets delivered to it while no program was attached to hand them to.
    pub no_listener: u64,
    /// UDP mode: datagrams from a program other than the one registered first for this NIC,
    /// refused (unless `--allow-rebind`): another local process cannot take a NIC over.
    pub foreign_senders: u64,
    /// UDP mode: datagrams the kernel dropped because this NIC's socket receive buffer was
    /// full (read from `/proc/net/udp`); they never reached the fabric, so they are not in
    /// `conservation`.
    pub dropped_by_kernel: u64,
}

/// What a live run did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LiveReport {
    /// [`LIVE_REPORT_FORMAT`].
    pub format: &'static str,
    /// Scenario name.
    pub scenario: String,
    /// `udp` or `netns`.
    pub mode: &'static str,
    /// Wall-clock nanoseconds from start to stop.
    pub wall_ns: u64,
    /// Packet counts: `sent = delivered + dropped + in_flight`.
    pub conservation: Conservation,
    /// Every drop, by reason.
    pub drops_by_reason: BTreeMap<&'static str, u64>,
    /// Every NIC, in scenario order.
    pub nics: Vec<LiveNicReport>,
    /// VM egress shapers and gateways that saw traffic.
    pub shapers: Vec<ShaperReport>,
    /// Timed changes applied, at their time since start.
    pub events: Vec<EventReport>,
}

impl LiveReport {
    /// The NIC named `name`.
    pub fn nic(&self, name: &str) -> Option<&LiveNicReport> {
        self.nics.iter().find(|n| n.counters.nic == name)
    }
}

/// `sent 12  delivered 10  dropped 2 (nsg-denied 2)  in flight 0`.
pub fn counters_line(c: &Conservation, drops: &BTreeMap<&'static str, u64>) -> String {
    let mut line = format!(
        "sent {}  delivered {}  dropped {}",
        c.sent, c.delivered, c.dropped
    );
    if !drops.is_empty() {
        let parts: Vec<String> = drops.iter().map(|(r, n)| format!("{r} {n}")).collect();
        let _ = write!(line, " ({})", parts.join(", "));
    }
    let _ = write!(line, "  in flight {}", c.in_flight);
    line
}

fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut l = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i > 0 {
                l.push_str("  ");
            }
            let _ = write!(l, "{cell:<w$}");
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

/// The report as text for a person: the counters, then a table of NICs that saw traffic.
pub fn render_text(report: &LiveReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "scenario '{}' live ({}) for {:.3} s",
        report.scenario,
        report.mode,
        report.wall_ns as f64 / 1e9
    );
    let _ = writeln!(
        out,
        "{}",
        counters_line(&report.conservation, &report.drops_by_reason)
    );
    let rows: Vec<Vec<String>> = report
        .nics
        .iter()
        .filter(|n| {
            let c = &n.counters;
            c.tx_packets + c.rx_packets + c.forwarded_packets + n.no_listener > 0
        })
        .map(|n| {
            let c = &n.counters;
            vec![
                c.nic.clone(),
                c.vm.clone(),
                n.ip.clone(),
                c.tx_packets.to_string(),
                c.rx_packets.to_string(),
                c.forwarded_packets.to_string(),
                n.malformed.to_string(),
                n.no_listener.to_string(),
            ]
        })
        .collect();
    if !rows.is_empty() {
        out.push_str(&table(
            &[
                "nic",
                "vm",
                "ip",
                "tx",
                "rx",
                "forwarded",
                "malformed",
                "no listener",
            ],
            &rows,
        ));
    }
    for e in &report.events {
        let _ = writeln!(
            out,
            "event at {:.3} s (line {}): {}",
            e.at_ns as f64 / 1e9,
            e.line,
            e.action
        );
    }
    out
}
