//! The subcommands: each loads the scenario, asks the data plane, prints, returns the exit code.

use std::io::IsTerminal;
use std::path::Path;

use serde::Serialize;
use serde_json::json;
use vnetsim_dataplane::expect::{check_probes, describe};
use vnetsim_dataplane::explain::{explain as explain_probe, protocol_name, render_text};
use vnetsim_dataplane::probe::run_probe;
use vnetsim_dataplane::views::{effective_routes_of_vm, effective_rules_of_vm};
use vnetsim_dataplane::{Dataplane, FlowTable, Outcome};
use vnetsim_scenario::{Endpoint, Expectation, Probe, Protocol, Scenario};

use crate::Format;
use crate::table::Table;

/// Exit code: success.
const OK: u8 = 0;
/// Exit code: an expectation failed.
const FAILED: u8 = 1;
/// Exit code: the scenario or the command line is invalid.
const INVALID: u8 = 2;

/// The scenario `vnetsim run` uses when no file is given.
pub const DEFAULT_SCENARIO: &str = include_str!("../../../scenarios/hub-and-spoke.yaml");
/// Its name in messages.
pub const DEFAULT_SCENARIO_NAME: &str = "scenarios/hub-and-spoke.yaml (bundled)";

fn load(file: &Path) -> Result<Scenario, u8> {
    vnetsim_scenario::load_file(file).map_err(|e| {
        eprint!("{}", e.render(std::io::stderr().is_terminal()));
        INVALID
    })
}

/// `vnetsim validate FILE`.
pub fn validate(file: &Path) -> u8 {
    match load(file) {
        Ok(s) => {
            println!(
                "{}: valid scenario '{}': {} VNets, {} subnets, {} VMs, {} NSGs, {} route tables, \
                 {} peering links, {} on-premises sites, {} expectations",
                file.display(),
                s.name,
                s.vnets.len(),
                s.subnets.len(),
                s.vms.len(),
                s.nsgs.len(),
                s.route_tables.len(),
                s.peerings.len(),
                s.sites.len(),
                s.expectations.len()
            );
            OK
        }
        Err(code) => code,
    }
}

#[derive(Serialize)]
struct ProbeReport {
    index: usize,
    line: u32,
    from: String,
    to: String,
    protocol: &'static str,
    dst_port: Option<u16>,
    verdict: &'static str,
    reason: Option<&'static str>,
    detail: String,
    path: Vec<String>,
    passed: bool,
    failures: Vec<String>,
}

/// `vnetsim run [FILE]`.
pub fn run(file: Option<&Path>, report: Option<&Path>, seed: Option<u64>, format: Format) -> u8 {
    let (mut scenario, shown) = match file {
        Some(f) => match load(f) {
            Ok(s) => (s, f.display().to_string()),
            Err(code) => return code,
        },
        None => match vnetsim_scenario::load_str(DEFAULT_SCENARIO, DEFAULT_SCENARIO_NAME) {
            Ok(s) => (s, DEFAULT_SCENARIO_NAME.to_string()),
            Err(e) => {
                eprint!("{}", e.render(false));
                return INVALID;
            }
        },
    };
    if let Some(seed) = seed {
        scenario.seed = seed;
    }
    if !scenario.traffic.is_empty() || !scenario.events.is_empty() {
        eprintln!(
            "error: {shown}: this scenario has {} traffic source(s) and {} timed event(s); this \
             build of vnetsim replays probe expectations only and will not pass a timed scenario \
             silently. Remove `traffic` and `events`, or use a build with the timed replay.",
            scenario.traffic.len(),
            scenario.events.len()
        );
        return INVALID;
    }
    let flow_expectations = scenario
        .expectations
        .iter()
        .filter(|e| matches!(e, Expectation::Flow { .. }))
        .count();
    if flow_expectations > 0 {
        eprintln!(
            "error: {shown}: {flow_expectations} flow expectation(s) need the timed replay, which \
             this build does not have"
        );
        return INVALID;
    }
    let dataplane = Dataplane::compile(&scenario);
    let checks = check_probes(&scenario, &dataplane);
    let probes: Vec<ProbeReport> = checks
        .iter()
        .map(|c| ProbeReport {
            index: c.index,
            line: c.line,
            from: scenario.endpoint_name(c.probe.from),
            to: scenario.endpoint_name(c.probe.to),
            protocol: protocol_name(c.probe.protocol),
            dst_port: (c.probe.protocol != Protocol::Icmp).then_some(c.probe.dst_port),
            verdict: match c.result.outcome {
                Outcome::Delivered(_) => "delivered",
                Outcome::Dropped(..) => "dropped",
            },
            reason: c.result.outcome.drop_reason().map(|r| r.as_str()),
            detail: describe(&scenario, &dataplane, &c.result.outcome),
            path: c.path.clone(),
            passed: c.passed(),
            failures: c.failures.clone(),
        })
        .collect();
    let delivered = probes.iter().filter(|p| p.verdict == "delivered").count();
    let dropped = probes.len() - delivered;
    let passed = probes.iter().filter(|p| p.passed).count();
    let failed = probes.len() - passed;
    let mut drops_by_reason = serde_json::Map::new();
    for p in &probes {
        if let Some(r) = p.reason {
            let n = drops_by_reason.get(r).and_then(|v| v.as_u64()).unwrap_or(0);
            drops_by_reason.insert(r.to_string(), json!(n + 1));
        }
    }
    let doc = json!({
        "scenario": scenario.name,
        "file": shown,
        "seed": scenario.seed,
        "conservation": {
            "sent": probes.len(),
            "delivered": delivered,
            "dropped": dropped,
            "in_flight": 0,
        },
        "drops_by_reason": drops_by_reason,
        "expectations": { "passed": passed, "failed": failed },
        "probes": probes,
    });
    if let Some(path) = report {
        let text = serde_json::to_string_pretty(&doc).expect("report serializes");
        if let Err(e) = std::fs::write(path, text + "\n") {
            eprintln!("error: cannot write report {}: {e}", path.display());
            return INVALID;
        }
    }
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&doc).expect("report serializes")
        ),
        Format::Text => {
            println!(
                "scenario '{}' ({shown}): {} probe expectation(s)",
                scenario.name,
                probes.len()
            );
            let mut t = Table::new(["#", "line", "probe", "verdict", "path", "result"]);
            for p in &probes {
                let port = p.dst_port.map(|d| format!("/{d}")).unwrap_or_default();
                t.row([
                    (p.index + 1).to_string(),
                    p.line.to_string(),
                    format!("{} -> {} {}{}", p.from, p.to, p.protocol, port),
                    match p.reason {
                        Some(r) => format!("dropped ({r})"),
                        None => "delivered".to_string(),
                    },
                    p.path.join(" > "),
                    if p.passed {
                        "ok".to_string()
                    } else {
                        "FAILED".to_string()
                    },
                ]);
            }
            print!("{}", t.render());
            for p in probes.iter().filter(|p| !p.passed) {
                println!("expectation #{} (line {}) failed:", p.index + 1, p.line);
                for f in &p.failures {
                    println!("  - {f}");
                }
            }
            println!(
                "conservation: sent {} = delivered {delivered} + dropped {dropped} + in flight 0",
                probes.len()
            );
            println!("{passed} passed, {failed} failed");
        }
    }
    if failed > 0 { FAILED } else { OK }
}

fn parse_protocol(text: &str) -> Option<Protocol> {
    match text.to_ascii_lowercase().as_str() {
        "tcp" => Some(Protocol::Tcp),
        "udp" => Some(Protocol::Udp),
        "icmp" => Some(Protocol::Icmp),
        _ => None,
    }
}

fn endpoint(scenario: &Scenario, name: &str, flag: &str) -> Result<Endpoint, u8> {
    scenario.endpoint_by_name(name).ok_or_else(|| {
        eprintln!(
            "error: --{flag} {name}: not a VM, an on-premises host or an IPv4 address of scenario '{}'",
            scenario.name
        );
        INVALID
    })
}

/// `vnetsim explain FILE --from A --to B ...`.
#[allow(clippy::too_many_arguments)]
pub fn explain(
    file: &Path,
    from: &str,
    to: &str,
    protocol: &str,
    src_port: u16,
    dst_port: u16,
    at: &str,
    format: Format,
) -> u8 {
    let scenario = match load(file) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let Some(protocol) = parse_protocol(protocol) else {
        eprintln!("error: --protocol {protocol}: expected tcp, udp or icmp");
        return INVALID;
    };
    let at = match vnetsim_scenario::units::parse_duration(at) {
        Ok(at) => at,
        Err(e) => {
            eprintln!("error: --at {at}: {e}");
            return INVALID;
        }
    };
    if !scenario.events.is_empty() && at > 0 {
        eprintln!(
            "error: --at {at}ns: the scenario has timed events and this build explains packets \
             against the initial network only"
        );
        return INVALID;
    }
    let (from, to) = match (
        endpoint(&scenario, from, "from"),
        endpoint(&scenario, to, "to"),
    ) {
        (Ok(f), Ok(t)) => (f, t),
        _ => return INVALID,
    };
    let probe = Probe {
        from,
        to,
        protocol,
        src_port,
        dst_port,
        at,
    };
    let dataplane = Dataplane::compile(&scenario);
    let result = run_probe(&scenario, &dataplane, &probe, 1, &mut FlowTable::new());
    let explanation = explain_probe(&scenario, &dataplane, &probe, &result);
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&explanation).expect("serializes")
        ),
        Format::Text => print!("{}", render_text(&explanation)),
    }
    OK
}

fn vm_or_exit(scenario: &Scenario, vm: &str) -> Result<vnetsim_scenario::VmId, u8> {
    scenario.vm_by_name(vm).ok_or_else(|| {
        eprintln!(
            "error: --vm {vm}: no VM of that name in scenario '{}'",
            scenario.name
        );
        INVALID
    })
}

/// `vnetsim routes FILE --vm NAME`.
pub fn routes(file: &Path, vm: &str, format: Format) -> u8 {
    let scenario = match load(file) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let vm = match vm_or_exit(&scenario, vm) {
        Ok(vm) => vm,
        Err(code) => return code,
    };
    let dataplane = Dataplane::compile(&scenario);
    let nics = effective_routes_of_vm(&scenario, &dataplane, vm);
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&nics).expect("serializes")
        ),
        Format::Text => {
            for nic in &nics {
                println!(
                    "Effective routes of NIC {} ({}, subnet {})",
                    nic.nic, nic.ip, nic.subnet
                );
                let mut t = Table::new([
                    "Source",
                    "State",
                    "Address Prefix",
                    "Next Hop Type",
                    "Next Hop IP",
                    "Name",
                    "Note",
                ]);
                for r in &nic.routes {
                    t.row([
                        r.source.to_string(),
                        r.state.to_string(),
                        r.prefix.clone(),
                        r.next_hop_type.to_string(),
                        r.next_hop_ip.clone().unwrap_or_else(|| "-".to_string()),
                        r.name.clone().unwrap_or_else(|| "-".to_string()),
                        r.note.unwrap_or("").to_string(),
                    ]);
                }
                print!("{}", t.render());
            }
        }
    }
    OK
}

/// `vnetsim rules FILE --vm NAME`.
pub fn rules(file: &Path, vm: &str, format: Format) -> u8 {
    let scenario = match load(file) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let vm = match vm_or_exit(&scenario, vm) {
        Ok(vm) => vm,
        Err(code) => return code,
    };
    let dataplane = Dataplane::compile(&scenario);
    let nics = effective_rules_of_vm(&scenario, &dataplane, vm);
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&nics).expect("serializes")
        ),
        Format::Text => {
            for nic in &nics {
                println!(
                    "Effective security rules of NIC {} ({}, subnet {})",
                    nic.nic, nic.ip, nic.subnet
                );
                for group in &nic.groups {
                    println!(
                        "{} {}: NSG {} ({})",
                        group.direction, group.stage, group.nsg, group.attached_to
                    );
                    let mut t = Table::new([
                        "Priority",
                        "Name",
                        "Access",
                        "Protocol",
                        "Source",
                        "Source Ports",
                        "Destination",
                        "Destination Ports",
                    ]);
                    for r in &group.rules {
                        t.row([
                            r.priority.to_string(),
                            r.name.clone(),
                            r.access.to_string(),
                            r.protocol.to_string(),
                            r.source.clone(),
                            r.source_ports.clone(),
                            r.destination.clone(),
                            r.destination_ports.clone(),
                        ]);
                    }
                    print!("{}", t.render());
                }
                println!(
                    "VirtualNetwork service tag here: {}",
                    nic.virtual_network_tag.join(", ")
                );
                if nic.groups.is_empty() {
                    println!("no NSG on the NIC or its subnet: all traffic is allowed");
                }
            }
        }
    }
    OK
}
