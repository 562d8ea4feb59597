//! `vnetsim diff BEFORE AFTER`: which flows change verdict, path or deciding rule between two
//! versions of a network.
//!
//! What it is for: a pull request's gate. Both sides are scenario files or ARM templates
//! (imported as `vnetsim import arm` does); every ordered pair of endpoints present on both
//! sides (as `vnetsim matrix` lists them) is decided on each port at time 0 against each
//! network, and the cells whose verdict, drop reason, path or deciding rule differ are listed
//! with both sides and the `explain` command that shows the new one. Endpoints present on one
//! side only are listed apart. Exit 1 when anything changed (or, with `--expect-unchanged`,
//! when one of those flows changed), 0 otherwise. What it is not: a replay (no traffic,
//! timing or flow state: each cell is a lone first packet).

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Serialize;
use vnetsim_dataplane::explain::{explain, protocol_name, render_text};
use vnetsim_dataplane::names::matrix::{Decider, MatrixEndpoint, MatrixEndpoints, MatrixRow};
use vnetsim_dataplane::probe::ProbeResult;
use vnetsim_engine::network::Network;
use vnetsim_scenario::{Protocol, Scenario};

use crate::commands::{FAILED, INVALID, OK};
use crate::matrix::network_at;
use crate::out::{out, outln};

/// `vnetsim diff` arguments.
#[derive(clap::Args, Debug)]
pub struct DiffArgs {
    /// The network before: a scenario file or an ARM template.
    pub before: PathBuf,
    /// The network after.
    pub after: PathBuf,
    /// Destination ports (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "22,80,443,1433")]
    pub ports: Vec<u16>,
    /// `tcp`, `udp` or `icmp`.
    #[arg(long, default_value = "tcp")]
    pub protocol: String,
    /// `text` or `json` (`vnetsim-diff/1`).
    #[arg(long, default_value = "text")]
    pub format: String,
    /// For ARM templates: a parameters file, used on both sides.
    #[arg(long)]
    pub parameters: Option<PathBuf>,
    /// For ARM templates: a parameter value `name=value` (repeatable), used on both sides.
    #[arg(long = "set")]
    pub set: Vec<String>,
    /// A flow that must not change, `SOURCE,DESTINATION[,PORT]` (repeatable): with it, only
    /// these flows decide the exit code.
    #[arg(long = "expect-unchanged", value_name = "SRC,DST[,PORT]")]
    pub expect_unchanged: Vec<String>,
}

/// One side of a changed cell.
#[derive(Serialize, Debug, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Side {
    /// `delivered` or `dropped`.
    verdict: &'static str,
    /// The stable drop reason, when dropped.
    reason: Option<&'static str>,
    /// The NSG rule, firewall rule or route that decided, where one did.
    rule: Option<String>,
    /// Sender, appliances, firewalls, load balancers and gateways, receiver when delivered.
    path: Vec<String>,
    /// The packet hop by hop, as `vnetsim explain` prints it.
    explanation: Vec<String>,
}

/// One side of a changed cell: the row and the explanation of the steps `decider` kept.
fn side(
    r: MatrixRow,
    decider: &Decider<'_>,
    network: &Network,
    src: &MatrixEndpoint,
    dst: &MatrixEndpoint,
    protocol: Protocol,
    port: u16,
) -> Side {
    let probe = Decider::probe(src, dst, protocol, port, 0);
    let result = ProbeResult {
        outcome: r.outcome,
        steps: decider.steps().to_vec(),
        ingress: src.ingress,
        src: src.ip,
        dst: dst.ip,
    };
    let e = explain(network.scenario(), network.dataplane(), &probe, &result);
    Side {
        verdict: r.verdict,
        reason: r.reason,
        rule: r.rule,
        path: r.path,
        explanation: render_text(&e).lines().map(str::to_string).collect(),
    }
}

/// A cell whose verdict, reason, path or rule changed.
#[derive(Serialize, Debug, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Change {
    /// Sender name.
    source: String,
    /// Receiver name.
    destination: String,
    /// `tcp`, `udp` or `icmp`.
    protocol: &'static str,
    /// Destination port (none for icmp).
    port: Option<u16>,
    /// The cell against the network before.
    before: Side,
    /// The cell against the network after.
    after: Side,
    /// The `vnetsim explain` command that shows the new side.
    explain: String,
}

/// The JSON output of `vnetsim diff --format json` (`format: "vnetsim-diff/1"`).
#[derive(Serialize, Debug, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DiffReport {
    /// Always `vnetsim-diff/1`.
    #[schemars(extend("const" = "vnetsim-diff/1"))]
    format: &'static str,
    /// The file of the network before, as given.
    before: String,
    /// The file of the network after, as given.
    after: String,
    /// Cells decided on each side (ordered pairs present on both sides, times ports).
    cells: usize,
    /// The cells that changed.
    changed: Vec<Change>,
    /// Endpoints present before only.
    only_before: Vec<String>,
    /// Endpoints present after only.
    only_after: Vec<String>,
}

/// Loads a side: an ARM template (a JSON file whose `$schema` is a deployment template's) is
/// imported, anything else loaded as a scenario file.
fn load_side(path: &Path, args: &DiffArgs) -> Result<(Scenario, bool), u8> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        eprintln!("error: cannot read {}: {e}", path.display());
        INVALID
    })?;
    let is_template = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        && text.contains("deploymentTemplate.json");
    let yaml = if is_template {
        let import = vnetsim_import::arm::import_template(
            path,
            args.parameters.as_deref(),
            &args.set,
            "imported",
        )
        .map_err(|e| {
            eprintln!("error: {e}");
            INVALID
        })?;
        vnetsim_import::yaml::write(&[], &import.scenario)
    } else {
        text
    };
    vnetsim_scenario::load_str(&yaml, &path.display().to_string())
        .map(|s| (s, is_template))
        .map_err(|e| {
            eprint!("{}", e.render(std::io::stderr().is_terminal()));
            INVALID
        })
}

/// `vnetsim diff BEFORE AFTER`.
pub fn diff(args: &DiffArgs) -> u8 {
    let protocol = match args.protocol.to_ascii_lowercase().as_str() {
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        "icmp" => Protocol::Icmp,
        other => {
            eprintln!("error: --protocol {other}: expected tcp, udp or icmp");
            return INVALID;
        }
    };
    let json = match args.format.as_str() {
        "text" => false,
        "json" => true,
        other => {
            eprintln!("error: --format {other}: expected text or json");
            return INVALID;
        }
    };
    let mut expected = Vec::new();
    for e in &args.expect_unchanged {
        let parts: Vec<&str> = e.split(',').map(str::trim).collect();
        let port = match parts.get(2).map(|p| p.parse::<u16>()) {
            None => None,
            Some(Ok(p)) => Some(p),
            Some(Err(_)) => {
                eprintln!("error: --expect-unchanged {e}: the port is not a number");
                return INVALID;
            }
        };
        if parts.len() < 2 || parts.len() > 3 {
            eprintln!("error: --expect-unchanged {e}: expected SOURCE,DESTINATION[,PORT]");
            return INVALID;
        }
        expected.push((parts[0].to_string(), parts[1].to_string(), port));
    }
    let ((before, _), (after, after_template)) =
        match (load_side(&args.before, args), load_side(&args.after, args)) {
            (Ok(b), Ok(a)) => (b, a),
            (Err(c), _) | (_, Err(c)) => return c,
        };
    let ports: Vec<u16> = if protocol == Protocol::Icmp {
        vec![0]
    } else {
        args.ports.clone()
    };
    let (nb, na) = (network_at(&before, 0), network_at(&after, 0));
    // `explain` reads scenario files: a template is imported first.
    let explain_file = if after_template {
        format!(
            "vnetsim import arm {}{} -o after.yaml && vnetsim explain after.yaml",
            args.after.display(),
            args.set
                .iter()
                .map(|s| format!(" --set {s}"))
                .collect::<String>()
        )
    } else {
        format!("vnetsim explain {}", args.after.display())
    };
    let (eb, ea) = (
        MatrixEndpoints::of(nb.scenario()),
        MatrixEndpoints::of(na.scenario()),
    );
    let names = |e: &MatrixEndpoints| -> BTreeSet<String> {
        e.sources
            .iter()
            .chain(&e.destinations)
            .map(|x| x.name.clone())
            .collect()
    };
    let (nbs, nas) = (names(&eb), names(&ea));
    // A watched flow must name endpoints of either side, or the watch would silently hold.
    for (source, destination, _) in &expected {
        for name in [source, destination] {
            if nbs.contains(name) || nas.contains(name) {
                continue;
            }
            let hint =
                vnetsim_scenario::diag::nearest(name, nbs.iter().chain(&nas).map(String::as_str))
                    .map(|n| format!("; did you mean `{n}`?"))
                    .unwrap_or_default();
            eprintln!(
                "error: --expect-unchanged {source},{destination}: `{name}` is no endpoint of \
                 either network{hint}"
            );
            return INVALID;
        }
    }
    let mut db = Decider::new(nb.scenario(), nb.dataplane());
    let mut da = Decider::new(na.scenario(), na.dataplane());
    let mut changed = Vec::new();
    let mut cells = 0;
    for sb in &eb.sources {
        let Some(sa) = ea.sources.iter().find(|x| x.name == sb.name) else {
            continue;
        };
        for tb in &eb.destinations {
            if tb.name == sb.name {
                continue;
            }
            let Some(ta) = ea.destinations.iter().find(|x| x.name == tb.name) else {
                continue;
            };
            for &port in &ports {
                cells += 1;
                let rb = db.row(sb, tb, protocol, port, 0);
                let ra = da.row(sa, ta, protocol, port, 0);
                if (rb.verdict, rb.reason, &rb.rule, &rb.path)
                    == (ra.verdict, ra.reason, &ra.rule, &ra.path)
                {
                    continue;
                }
                let proto = protocol_name(protocol);
                let port_arg = if protocol == Protocol::Icmp {
                    String::new()
                } else {
                    format!(" --dst-port {port}")
                };
                changed.push(Change {
                    source: sb.name.clone(),
                    destination: tb.name.clone(),
                    protocol: proto,
                    port: (protocol != Protocol::Icmp).then_some(port),
                    explain: format!(
                        "{explain_file} --from {} --to {} --protocol {}{port_arg}",
                        sb.name,
                        tb.name,
                        proto.to_ascii_lowercase()
                    ),
                    before: side(rb, &db, &nb, sb, tb, protocol, port),
                    after: side(ra, &da, &na, sa, ta, protocol, port),
                });
            }
        }
    }
    let only_before: Vec<String> = nbs.difference(&nas).cloned().collect();
    let only_after: Vec<String> = nas.difference(&nbs).cloned().collect();
    let watched = |c: &Change| {
        expected.iter().any(|(s, d, p)| {
            *s == c.source && *d == c.destination && p.is_none_or(|p| Some(p) == c.port)
        })
    };
    let failed = if expected.is_empty() {
        !changed.is_empty() || !only_before.is_empty() || !only_after.is_empty()
    } else {
        changed.iter().any(watched)
    };
    if json {
        let report = DiffReport {
            format: "vnetsim-diff/1",
            before: args.before.display().to_string(),
            after: args.after.display().to_string(),
            cells,
            changed,
            only_before,
            only_after,
        };
        match serde_json::to_string_pretty(&report) {
            Ok(s) => outln!("{s}"),
            Err(e) => {
                eprintln!("error: {e}");
                return INVALID;
            }
        }
    } else {
        let line = |s: &Side| {
            let mut t = match s.reason {
                Some(r) => format!("dropped ({r})"),
                None => s.verdict.to_string(),
            };
            if let Some(rule) = &s.rule {
                t.push_str(&format!(" by {rule}"));
            }
            t.push_str(&format!("; path {}", s.path.join(" -> ")));
            t
        };
        outln!(
            "{} of {cells} flows changed ({} ports over {}), {} -> {}",
            changed.len(),
            ports.len(),
            protocol_name(protocol),
            args.before.display(),
            args.after.display()
        );
        for c in &changed {
            let port = c.port.map(|p| format!(" {p}")).unwrap_or_default();
            let mark = if watched(c) {
                " (expected unchanged)"
            } else {
                ""
            };
            out!(
                "\n{} -> {} {}{port}{mark}\n  before: {}\n  after:  {}\n",
                c.source,
                c.destination,
                c.protocol,
                line(&c.before),
                line(&c.after),
            );
            for (label, s) in [("before", &c.before), ("after", &c.after)] {
                outln!("  {label}, hop by hop:");
                for l in s.explanation.iter().skip(1) {
                    outln!("    {l}");
                }
            }
            outln!("  again: {}", c.explain);
        }
        for (label, list) in [("only before", &only_before), ("only after", &only_after)] {
            if !list.is_empty() {
                outln!("\nendpoints {label}: {}", list.join(", "));
            }
        }
    }
    if failed { FAILED } else { OK }
}
