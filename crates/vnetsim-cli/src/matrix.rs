//! `vnetsim matrix`: the verdict of every ordered pair of endpoints on each port, as a summary
//! table, every row (`--all`), JSON (`vnetsim-matrix/1`) or CSV.
//!
//! What it is for: answering "who reaches whom" for a whole scenario at one time. The network is
//! compiled once as it is at `--at` (timed events up to then applied, as `explain --at` does);
//! each cell is then one stateless probe decided by the data plane's fast path
//! ([`vnetsim_dataplane::names::matrix::Decider`]), and only the rows printed are named
//! (reason, deciding rule, path). The JSON shape is [`MatrixReport`], whose schema is
//! `docs/matrix.schema.json`. What it is not: a check (the exit code is 0 whatever the
//! verdicts) and not a replay (no time passes, no replies, no flow state between cells).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use vnetsim_dataplane::Dataplane;
use vnetsim_dataplane::explain::protocol_name;
use vnetsim_dataplane::names::matrix::{Decider, MatrixEndpoint, MatrixEndpoints, MatrixRow};
use vnetsim_dataplane::pipeline::Outcome;
use vnetsim_engine::network::Network;
use vnetsim_scenario::{DropReason, Nanos, Protocol, Scenario};

use crate::commands::{INVALID, OK, load};
use crate::out::out;
use crate::table::Table;

/// The `format` tag of the JSON output.
pub const FORMAT_TAG: &str = "vnetsim-matrix/1";

/// Output format of `vnetsim matrix`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum MatrixFormat {
    /// A summary per source group and destination group, then the first drops (`--all`: then
    /// every row).
    Table,
    /// `vnetsim-matrix/1` JSON: every row, the summary and the totals.
    Json,
    /// One row per source, destination, protocol and port.
    Csv,
}

/// Options of `vnetsim matrix`.
#[derive(clap::Args, Debug)]
pub struct MatrixArgs {
    /// Scenario file.
    pub file: PathBuf,
    /// Destination ports (tcp/udp), comma-separated; ignored for icmp.
    #[arg(long, value_delimiter = ',', default_value = "22,80,443,1433")]
    pub ports: Vec<u16>,
    /// tcp, udp or icmp.
    #[arg(long, default_value = "tcp")]
    pub protocol: String,
    /// Simulated time (e.g. 0s, 1.5s): the network with every timed event up to then applied.
    #[arg(long, default_value = "0s")]
    pub at: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: MatrixFormat,
    /// Senders only from these groups (comma-separated): a VM, host or Internet host name, a
    /// VNet, `vnet/subnet`, a site, or `Internet`.
    #[arg(long, value_delimiter = ',', value_name = "GROUP")]
    pub from: Vec<String>,
    /// Receivers only in these groups (comma-separated): as --from, plus private endpoints,
    /// load balancers and `lb/frontend`.
    #[arg(long, value_delimiter = ',', value_name = "GROUP")]
    pub to: Vec<String>,
    /// Table: list every row after the summary, instead of the first drops.
    #[arg(long)]
    pub all: bool,
    /// Table: how many drops to list under the summary.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub drops: usize,
}

/// The JSON output of `vnetsim matrix` (`format: "vnetsim-matrix/1"`). Written row by row, not
/// through this type; the tests read real output back into it and generate the schema from it.
#[cfg_attr(not(test), allow(dead_code))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MatrixReport {
    /// Always `vnetsim-matrix/1`.
    #[schemars(extend("const" = "vnetsim-matrix/1"))]
    pub format: String,
    /// The scenario's name.
    pub scenario: String,
    /// The simulated time of the decisions, in nanoseconds (events up to then applied).
    pub at_ns: u64,
    /// `tcp`, `udp` or `icmp`.
    pub protocol: String,
    /// The destination ports decided (empty for icmp).
    pub ports: Vec<u16>,
    /// The senders, in order.
    pub sources: Vec<EndpointOut>,
    /// The receivers, in order.
    pub destinations: Vec<EndpointOut>,
    /// One row per source, destination (never the source itself) and port, sources outermost.
    pub rows: Vec<RowOut>,
    /// Counts per source group and destination group, in order of first appearance.
    pub summary: Vec<GroupOut>,
    /// Counts over every row.
    pub totals: Counts,
}

/// An endpoint of the matrix.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointOut {
    /// VM, host, Internet host or private endpoint name; `lb/frontend` for a frontend.
    pub name: String,
    /// `vm`, `on-premises`, `internet`, `private-endpoint` or `lb-frontend`.
    pub kind: String,
    /// Its address (a VM's primary NIC's).
    pub ip: String,
    /// Its group in the summary: `vnet/subnet`, `site NAME` or `Internet`.
    pub group: String,
}

/// One decision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RowOut {
    /// Sender name.
    pub source: String,
    /// Receiver name.
    pub destination: String,
    /// `tcp`, `udp` or `icmp`.
    pub protocol: String,
    /// Destination port (none for icmp).
    pub port: Option<u16>,
    /// `delivered` or `dropped`.
    pub verdict: String,
    /// The stable drop reason (as in reports and `expect:`), when dropped.
    pub reason: Option<String>,
    /// The NSG rule (`nsg/rule`), firewall rule (`firewall/rule`) or route that decided, where
    /// one did.
    pub rule: Option<String>,
    /// Sender, appliances, firewalls, load balancers and gateways, receiver when delivered.
    pub path: Vec<String>,
}

/// Counts of decisions.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Counts {
    /// Decisions.
    pub decisions: u64,
    /// Delivered.
    pub delivered: u64,
    /// Dropped.
    pub dropped: u64,
    /// Drops by stable reason (only reasons that occurred).
    pub reasons: BTreeMap<String, u64>,
}

/// Counts of one source group towards one destination group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupOut {
    /// The senders' group.
    pub source_group: String,
    /// The receivers' group.
    pub destination_group: String,
    /// Its counts.
    #[serde(flatten)]
    pub counts: Counts,
}

/// The JSON Schema of [`MatrixReport`] (`docs/matrix.schema.json`).
#[cfg_attr(not(test), allow(dead_code))]
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(MatrixReport)).expect("schema serializes")
}

/// Dense counts while deciding: no map lookup per reason.
#[derive(Clone, Debug)]
struct Tally {
    delivered: u64,
    dropped: u64,
    reasons: [u64; DropReason::ALL.len()],
}

impl Tally {
    fn new() -> Self {
        Tally {
            delivered: 0,
            dropped: 0,
            reasons: [0; DropReason::ALL.len()],
        }
    }

    #[inline]
    fn add(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Delivered(_) => self.delivered += 1,
            Outcome::Dropped(reason, _) => {
                self.dropped += 1;
                if let Some(i) = DropReason::ALL.iter().position(|r| r == reason) {
                    self.reasons[i] += 1;
                }
            }
        }
    }

    fn counts(&self) -> Counts {
        Counts {
            decisions: self.delivered + self.dropped,
            delivered: self.delivered,
            dropped: self.dropped,
            reasons: DropReason::ALL
                .iter()
                .zip(&self.reasons)
                .filter(|(_, n)| **n > 0)
                .map(|(r, n)| (r.as_str().to_string(), *n))
                .collect(),
        }
    }
}

/// The per-group tallies, in order of first appearance.
struct Summary {
    src_group: Vec<u32>,
    dst_group: Vec<u32>,
    names: Vec<String>,
    index: HashMap<(u32, u32), usize>,
    cells: Vec<((u32, u32), Tally)>,
    total: Tally,
}

impl Summary {
    fn new(eps: &MatrixEndpoints) -> Self {
        let mut names: Vec<String> = Vec::new();
        let mut ids: HashMap<String, u32> = HashMap::new();
        let mut id = |g: &str| -> u32 {
            if let Some(&i) = ids.get(g) {
                return i;
            }
            let i = names.len() as u32;
            names.push(g.to_string());
            ids.insert(g.to_string(), i);
            i
        };
        let src_group = eps.sources.iter().map(|e| id(&e.group)).collect();
        let dst_group = eps.destinations.iter().map(|e| id(&e.group)).collect();
        Summary {
            src_group,
            dst_group,
            names,
            index: HashMap::new(),
            cells: Vec::new(),
            total: Tally::new(),
        }
    }

    /// The cell of source `s` and destination `d` (indexes into the endpoint lists).
    fn cell(&mut self, s: usize, d: usize) -> usize {
        let key = (self.src_group[s], self.dst_group[d]);
        let cells = &mut self.cells;
        *self.index.entry(key).or_insert_with(|| {
            cells.push((key, Tally::new()));
            cells.len() - 1
        })
    }

    fn groups(&self) -> Vec<GroupOut> {
        self.cells
            .iter()
            .map(|((s, d), t)| GroupOut {
                source_group: self.names[*s as usize].clone(),
                destination_group: self.names[*d as usize].clone(),
                counts: t.counts(),
            })
            .collect()
    }
}

/// The scenario and data plane as they are at `at`: every timed event up to then applied in
/// time order, as `vnetsim explain --at` sees the network.
pub(crate) fn network_at(scenario: &Scenario, at: Nanos) -> Network {
    let mut events: Vec<_> = scenario.events.iter().filter(|e| e.at <= at).collect();
    events.sort_by_key(|e| e.at);
    let mut network = Network::new(scenario);
    for e in events {
        network.apply(&e.action);
    }
    network
}

/// Field of a CSV line, quoted when it must be.
fn csv_field(out: &mut String, text: &str) {
    if text.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&text.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(text);
    }
}

/// Output is gathered into chunks of about this size before it is written.
const CHUNK: usize = 1 << 16;

/// Hands `buf` to `sink` once it is large enough (`force`: whatever its size).
fn flush(buf: &mut String, force: bool, sink: &mut impl FnMut(&str)) {
    if force || buf.len() >= CHUNK {
        sink(buf);
        buf.clear();
    }
}

fn endpoint_out(e: &MatrixEndpoint) -> EndpointOut {
    EndpointOut {
        name: e.name.clone(),
        kind: e.kind.as_str().to_string(),
        ip: e.ip.to_string(),
        group: e.group.clone(),
    }
}

/// Everything a run of the matrix needs, resolved from the arguments.
struct Plan<'a> {
    scenario: &'a Scenario,
    dataplane: &'a Dataplane,
    eps: MatrixEndpoints,
    protocol: Protocol,
    /// The ports decided; `[0]` for icmp (one decision per pair, no port).
    ports: Vec<u16>,
    at: Nanos,
}

impl Plan<'_> {
    fn port_out(&self, port: u16) -> Option<u16> {
        (self.protocol != Protocol::Icmp).then_some(port)
    }

    /// Calls `f(source, destination, port)` for every cell, sources outermost, never a source
    /// to itself; stops when stdout is gone (`| head`), since the rows would be dropped.
    fn cells(&self, mut f: impl FnMut(usize, usize, u16)) {
        for (s, src) in self.eps.sources.iter().enumerate() {
            if crate::out::stdout_gone() {
                return;
            }
            for (d, dst) in self.eps.destinations.iter().enumerate() {
                if src.kind == dst.kind && src.endpoint == dst.endpoint {
                    continue;
                }
                for &port in &self.ports {
                    f(s, d, port);
                }
            }
        }
    }
}

/// `vnetsim matrix FILE ...`.
pub fn matrix(args: &MatrixArgs) -> u8 {
    let scenario = match load(&args.file) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let protocol = match args.protocol.to_ascii_lowercase().as_str() {
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        "icmp" => Protocol::Icmp,
        other => {
            eprintln!("error: --protocol {other}: expected tcp, udp or icmp");
            return INVALID;
        }
    };
    let at = match vnetsim_scenario::units::parse_duration(&args.at) {
        Ok(at) => at,
        Err(e) => {
            eprintln!("error: --at {}: {e}", args.at);
            return INVALID;
        }
    };
    let ports = match protocol {
        Protocol::Icmp => vec![0],
        _ if args.ports.is_empty() => {
            eprintln!("error: --ports: name at least one port");
            return INVALID;
        }
        _ => args.ports.clone(),
    };
    let mut eps = MatrixEndpoints::of(&scenario);
    if let Err(sel) = eps.select(&args.from, &args.to) {
        let flag = if args.from.iter().any(|s| s == sel) {
            "from"
        } else {
            "to"
        };
        // Anything a selector may name: endpoints, VNets, subnets, sites, `Internet`.
        let groups: Vec<String> = scenario
            .vnets
            .iter()
            .map(|v| v.name.clone())
            .chain(
                (0..scenario.subnets.len())
                    .map(|i| scenario.subnet_path(vnetsim_scenario::SubnetId(i as u32))),
            )
            .chain(scenario.sites.iter().map(|s| s.name.clone()))
            .chain(std::iter::once("Internet".to_string()))
            .collect();
        let hint = scenario
            .nearest_endpoint_name(sel)
            .or_else(|| vnetsim_scenario::diag::nearest(sel, groups.iter().map(String::as_str)))
            .map(|n| format!("; did you mean `{n}`?"))
            .unwrap_or_default();
        eprintln!(
            "error: --{flag} {sel}: selects no endpoint of scenario '{}' (a VM, host, Internet \
             host, private endpoint or load balancer name, a VNet, `vnet/subnet`, a site or \
             `Internet`){hint}",
            scenario.name
        );
        return INVALID;
    }
    let compile = Instant::now();
    let network = network_at(&scenario, at);
    tracing::info!(elapsed = ?compile.elapsed(), "matrix: network compiled");
    let plan = Plan {
        scenario: network.scenario(),
        dataplane: network.dataplane(),
        eps,
        protocol,
        ports,
        at,
    };
    let started = Instant::now();
    let sink = &mut |text: &str| out!("{text}");
    match args.format {
        MatrixFormat::Table => table(&plan, args.all, args.drops, &args.at, sink),
        MatrixFormat::Csv => csv(&plan, sink),
        MatrixFormat::Json => json_out(&plan, sink),
    }
    tracing::info!(elapsed = ?started.elapsed(), "matrix: decided and written");
    OK
}

fn csv(plan: &Plan<'_>, sink: &mut impl FnMut(&str)) {
    let mut d = Decider::new(plan.scenario, plan.dataplane);
    let mut buf = String::with_capacity(CHUNK * 2);
    buf.push_str("source,destination,protocol,port,verdict,reason,rule,path\n");
    let proto = protocol_name(plan.protocol);
    plan.cells(|s, t, port| {
        let (src, dst) = (&plan.eps.sources[s], &plan.eps.destinations[t]);
        let row = d.row(src, dst, plan.protocol, port, plan.at);
        csv_field(&mut buf, &src.name);
        buf.push(',');
        csv_field(&mut buf, &dst.name);
        let _ = write!(buf, ",{proto},");
        if let Some(p) = plan.port_out(port) {
            let _ = write!(buf, "{p}");
        }
        let _ = write!(buf, ",{},{},", row.verdict, row.reason.unwrap_or(""));
        csv_field(&mut buf, row.rule.as_deref().unwrap_or(""));
        buf.push(',');
        csv_field(&mut buf, &row.path.join(" > "));
        buf.push('\n');
        flush(&mut buf, false, sink);
    });
    flush(&mut buf, true, sink);
}

/// One value as compact JSON.
fn json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("matrix output serializes")
}

fn json_out(plan: &Plan<'_>, sink: &mut impl FnMut(&str)) {
    let mut summary = Summary::new(&plan.eps);
    let mut d = Decider::new(plan.scenario, plan.dataplane);
    let mut buf = String::with_capacity(CHUNK * 2);
    let ports: Vec<u16> = match plan.protocol {
        Protocol::Icmp => Vec::new(),
        _ => plan.ports.clone(),
    };
    let sources: Vec<EndpointOut> = plan.eps.sources.iter().map(endpoint_out).collect();
    let destinations: Vec<EndpointOut> = plan.eps.destinations.iter().map(endpoint_out).collect();
    let _ = write!(
        buf,
        "{{\"format\":{},\"scenario\":{},\"at_ns\":{},\"protocol\":{},\"ports\":{},\
         \"sources\":{},\"destinations\":{},\"rows\":[",
        json(&FORMAT_TAG),
        json(&plan.scenario.name),
        plan.at,
        json(&protocol_name(plan.protocol)),
        json(&ports),
        json(&sources),
        json(&destinations),
    );
    let mut first = true;
    plan.cells(|s, t, port| {
        let (src, dst) = (&plan.eps.sources[s], &plan.eps.destinations[t]);
        let row = d.row(src, dst, plan.protocol, port, plan.at);
        let cell = summary.cell(s, t);
        summary.cells[cell].1.add(&row.outcome);
        summary.total.add(&row.outcome);
        let out = RowOut {
            source: src.name.clone(),
            destination: dst.name.clone(),
            protocol: protocol_name(plan.protocol).to_string(),
            port: plan.port_out(port),
            verdict: row.verdict.to_string(),
            reason: row.reason.map(str::to_string),
            rule: row.rule,
            path: row.path,
        };
        buf.push_str(if first { "\n" } else { ",\n" });
        first = false;
        buf.push_str(&json(&out));
        flush(&mut buf, false, sink);
    });
    let _ = writeln!(
        buf,
        "\n],\"summary\":{},\"totals\":{}}}",
        json(&summary.groups()),
        json(&summary.total.counts())
    );
    flush(&mut buf, true, sink);
}

/// `reason n, reason n` of a count.
fn reasons_text(c: &Counts) -> String {
    c.reasons
        .iter()
        .map(|(r, n)| format!("{r} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The cells of a table of rows.
fn row_cells(plan: &Plan<'_>, s: usize, t: usize, port: u16, row: &MatrixRow) -> [String; 8] {
    [
        plan.eps.sources[s].name.clone(),
        plan.eps.destinations[t].name.clone(),
        protocol_name(plan.protocol).to_string(),
        plan.port_out(port)
            .map_or_else(|| "-".to_string(), |p| p.to_string()),
        row.verdict.to_string(),
        row.reason.unwrap_or("-").to_string(),
        row.rule.clone().unwrap_or_else(|| "-".to_string()),
        row.path.join(" > "),
    ]
}

const ROW_TITLES: [&str; 8] = [
    "source",
    "destination",
    "protocol",
    "port",
    "verdict",
    "reason",
    "rule",
    "path",
];

fn table(plan: &Plan<'_>, all: bool, drops: usize, at: &str, sink: &mut impl FnMut(&str)) {
    // First pass, on the fast path: the counts and which cells are the first drops.
    let mut summary = Summary::new(&plan.eps);
    let mut d = Decider::new(plan.scenario, plan.dataplane);
    let mut first_drops: Vec<(usize, usize, u16)> = Vec::new();
    let mut last = (usize::MAX, usize::MAX, 0);
    plan.cells(|s, t, port| {
        let outcome = d.verdict(
            &plan.eps.sources[s],
            &plan.eps.destinations[t],
            plan.protocol,
            port,
            plan.at,
        );
        if (last.0, last.1) != (s, t) {
            last = (s, t, summary.cell(s, t));
        }
        summary.cells[last.2].1.add(&outcome);
        summary.total.add(&outcome);
        if matches!(outcome, Outcome::Dropped(..)) && first_drops.len() < drops {
            first_drops.push((s, t, port));
        }
    });
    let total = summary.total.counts();
    let ports = match plan.protocol {
        Protocol::Icmp => String::new(),
        _ => format!(
            " port{} {}",
            if plan.ports.len() == 1 { "" } else { "s" },
            plan.ports
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(",")
        ),
    };
    let mut buf = String::with_capacity(CHUNK * 2);
    let _ = writeln!(
        buf,
        "matrix of scenario '{}' at {at}: {}{ports}; {} sources x {} destinations; {} decisions: \
         {} delivered, {} dropped",
        plan.scenario.name,
        protocol_name(plan.protocol),
        plan.eps.sources.len(),
        plan.eps.destinations.len(),
        total.decisions,
        total.delivered,
        total.dropped
    );
    if total.dropped > 0 {
        let _ = writeln!(buf, "drops by reason: {}", reasons_text(&total));
    }
    buf.push('\n');
    let mut groups = Table::new([
        "source group",
        "destination group",
        "decisions",
        "delivered",
        "dropped",
        "drop reasons",
    ]);
    for g in summary.groups() {
        groups.row([
            g.source_group.clone(),
            g.destination_group.clone(),
            g.counts.decisions.to_string(),
            g.counts.delivered.to_string(),
            g.counts.dropped.to_string(),
            reasons_text(&g.counts),
        ]);
    }
    buf.push_str(&groups.render());
    if all {
        // Every row, streamed: the name columns are as wide as the longest name.
        let sw = plan
            .eps
            .sources
            .iter()
            .map(|e| e.name.len())
            .max()
            .unwrap_or(0);
        let dw = plan
            .eps
            .destinations
            .iter()
            .map(|e| e.name.len())
            .max()
            .unwrap_or(0);
        let widths = [sw.max(6), dw.max(11), 8, 5, 9, 24, 32];
        let line = |buf: &mut String, cells: &[String; 8]| {
            for (i, cell) in cells.iter().enumerate() {
                match widths.get(i) {
                    Some(w) => {
                        let _ = write!(buf, "{cell:<w$}  ");
                    }
                    None => buf.push_str(cell),
                }
            }
            while buf.ends_with(' ') {
                buf.pop();
            }
            buf.push('\n');
        };
        let _ = writeln!(buf, "\nevery row ({}):", total.decisions);
        line(&mut buf, &ROW_TITLES.map(str::to_string));
        plan.cells(|s, t, port| {
            let row = d.row(
                &plan.eps.sources[s],
                &plan.eps.destinations[t],
                plan.protocol,
                port,
                plan.at,
            );
            line(&mut buf, &row_cells(plan, s, t, port, &row));
            flush(&mut buf, false, sink);
        });
    } else if !first_drops.is_empty() {
        let _ = writeln!(
            buf,
            "\nfirst {} of {} drops (--all lists every row, --drops N more drops):",
            first_drops.len(),
            total.dropped
        );
        let mut rows = Table::new(ROW_TITLES);
        for (s, t, port) in first_drops {
            let row = d.row(
                &plan.eps.sources[s],
                &plan.eps.destinations[t],
                plan.protocol,
                port,
                plan.at,
            );
            rows.row(row_cells(plan, s, t, port, &row));
        }
        buf.push_str(&rows.render());
    }
    flush(&mut buf, true, sink);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(name: &str) -> Scenario {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../scenarios")
            .join(name);
        vnetsim_scenario::load_file(&path).unwrap_or_else(|e| panic!("{}", e.render(false)))
    }

    /// Runs `write` over the whole matrix of `sc` on `ports` and returns what it printed.
    fn output(
        sc: &Scenario,
        protocol: Protocol,
        ports: &[u16],
        write: impl Fn(&Plan<'_>, &mut dyn FnMut(&str)),
    ) -> String {
        let network = network_at(sc, 0);
        let plan = Plan {
            scenario: network.scenario(),
            dataplane: network.dataplane(),
            eps: MatrixEndpoints::of(sc),
            protocol,
            ports: ports.to_vec(),
            at: 0,
        };
        let mut text = String::new();
        write(&plan, &mut |s: &str| text.push_str(s));
        text
    }

    fn json_of(sc: &Scenario, protocol: Protocol, ports: &[u16]) -> String {
        output(sc, protocol, ports, |p, sink| json_out(p, &mut |s| sink(s)))
    }

    const EXAMPLES: [&str; 3] = [
        "hub-firewall.yaml",
        "asg-tiers.yaml",
        "private-endpoint-bypass.yaml",
    ];

    /// Real JSON output reads back into the documented shape (unknown fields refused), writes
    /// out to the same value, and its counts add up.
    #[test]
    fn json_output_reads_back_into_the_documented_shape() {
        for name in EXAMPLES {
            let sc = example(name);
            for (protocol, ports) in [(Protocol::Tcp, &[22u16, 1433][..]), (Protocol::Icmp, &[0])] {
                let text = json_of(&sc, protocol, ports);
                let report: MatrixReport =
                    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}\n{text}"));
                let raw: serde_json::Value = serde_json::from_str(&text).expect("json");
                assert_eq!(serde_json::to_value(&report).expect("value"), raw, "{name}");
                assert_eq!(report.format, FORMAT_TAG);
                assert_eq!(report.scenario, sc.name);
                let rows = report.rows.len() as u64;
                assert!(rows > 0, "{name}");
                assert_eq!(report.totals.decisions, rows);
                assert_eq!(report.totals.delivered + report.totals.dropped, rows);
                let by_group: u64 = report.summary.iter().map(|g| g.counts.decisions).sum();
                assert_eq!(by_group, rows, "{name}");
                let delivered = report
                    .rows
                    .iter()
                    .filter(|r| r.verdict == "delivered")
                    .count() as u64;
                assert_eq!(delivered, report.totals.delivered, "{name}");
                if protocol == Protocol::Icmp {
                    assert!(report.ports.is_empty());
                    assert!(report.rows.iter().all(|r| r.port.is_none()));
                }
            }
        }
    }

    /// The checked-in `docs/matrix.schema.json` is the schema of [`MatrixReport`];
    /// `UPDATE_SCHEMA=1` rewrites it.
    #[test]
    fn checked_in_matrix_schema_is_current() {
        let fresh = serde_json::to_string_pretty(&json_schema()).expect("json") + "\n";
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/matrix.schema.json");
        if std::env::var_os("UPDATE_SCHEMA").is_some_and(|v| v == "1") {
            std::fs::write(&path, &fresh).expect("write schema");
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == fresh,
            "docs/matrix.schema.json is out of date; run with UPDATE_SCHEMA=1 to rewrite it"
        );
        for field in [
            "format", "rows", "summary", "totals", "verdict", "reason", "rule",
        ] {
            assert!(fresh.contains(&format!("\"{field}\"")), "{field}");
        }
    }

    /// CSV: the documented header, then one line per JSON row with the same cells.
    #[test]
    fn csv_lines_are_the_json_rows() {
        let sc = example("hub-firewall.yaml");
        let csv_text = output(&sc, Protocol::Tcp, &[22, 1433], |p, sink| {
            csv(p, &mut |s| sink(s))
        });
        let report: MatrixReport =
            serde_json::from_str(&json_of(&sc, Protocol::Tcp, &[22, 1433])).expect("json");
        let mut lines = csv_text.lines();
        assert_eq!(
            lines.next(),
            Some("source,destination,protocol,port,verdict,reason,rule,path")
        );
        let lines: Vec<&str> = lines.collect();
        assert_eq!(lines.len(), report.rows.len());
        for (line, row) in lines.iter().zip(&report.rows) {
            let want = format!(
                "{},{},{},{},{},{},{},{}",
                row.source,
                row.destination,
                row.protocol,
                row.port.map(|p| p.to_string()).unwrap_or_default(),
                row.verdict,
                row.reason.as_deref().unwrap_or(""),
                row.rule.as_deref().unwrap_or(""),
                row.path.join(" > ")
            );
            assert_eq!(*line, want);
        }
    }

    #[test]
    fn csv_fields_are_quoted_when_they_must_be() {
        let mut s = String::new();
        csv_field(&mut s, "plain");
        s.push('|');
        csv_field(&mut s, "a,b");
        s.push('|');
        csv_field(&mut s, "say \"hi\"");
        assert_eq!(s, "plain|\"a,b\"|\"say \"\"hi\"\"\"");
    }

    /// The table's totals are the JSON's; the first drops listed are the JSON's first drops;
    /// `--all` lists every row.
    #[test]
    fn table_summarizes_what_json_lists() {
        let sc = example("hub-firewall.yaml");
        let report: MatrixReport =
            serde_json::from_str(&json_of(&sc, Protocol::Tcp, &[22, 443, 1433])).expect("json");
        let text = output(&sc, Protocol::Tcp, &[22, 443, 1433], |p, sink| {
            table(p, false, 3, "0s", &mut |s| sink(s))
        });
        let t = &report.totals;
        assert!(
            text.contains(&format!(
                "{} decisions: {} delivered, {} dropped",
                t.decisions, t.delivered, t.dropped
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!("first 3 of {} drops", t.dropped)),
            "{text}"
        );
        let first_drop = report
            .rows
            .iter()
            .find(|r| r.verdict == "dropped")
            .expect("a drop");
        assert!(text.lines().any(|l| {
            l.starts_with(&first_drop.source)
                && l.contains(first_drop.reason.as_deref().unwrap_or("?"))
        }));
        let all = output(&sc, Protocol::Tcp, &[22, 443, 1433], |p, sink| {
            table(p, true, 3, "0s", &mut |s| sink(s))
        });
        let every = all.split("every row").nth(1).expect("every row section");
        assert_eq!(every.lines().count(), report.rows.len() + 2, "{all}");
    }
}
