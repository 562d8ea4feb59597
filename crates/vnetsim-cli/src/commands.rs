//! The subcommands: each loads the scenario, asks the data plane, prints, returns the exit code.

use std::io::IsTerminal;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use vnetsim_dataplane::Dataplane;
use vnetsim_dataplane::explain::render_text;
use vnetsim_dataplane::views::{effective_routes_of_nic, effective_rules_of_nic};
use vnetsim_scenario::diag::Diagnostic;
use vnetsim_scenario::{Endpoint, Protocol, Scenario};

use crate::out::{out, outln};
use crate::table::Table;
use crate::{Format, ViewFormat};

/// Exit code: success.
pub const OK: u8 = 0;
/// Exit code: an expectation failed.
pub const FAILED: u8 = 1;
/// Exit code: the scenario or the command line is invalid.
pub const INVALID: u8 = 2;

/// The scenario `vnetsim run` uses when no file is given (`default-scenario.yaml` links to
/// `scenarios/hub-and-spoke.yaml`, so the packaged crate carries it).
pub const DEFAULT_SCENARIO: &str = include_str!("../default-scenario.yaml");
/// Its name in messages.
pub const DEFAULT_SCENARIO_NAME: &str = "scenarios/hub-and-spoke.yaml (bundled)";

/// The scenario of a subcommand, or the exit code after printing its diagnostics.
pub fn load(file: &Path) -> Result<Scenario, u8> {
    vnetsim_scenario::load_file(file).map_err(shown)
}

/// [`load`] for `validate`, which ends right after: the file as read is not freed. (A
/// subcommand that goes on to compile or run the scenario frees it, so that its memory serves
/// what comes next instead of adding to the peak.)
fn load_then_exit(file: &Path) -> Result<Scenario, u8> {
    vnetsim_scenario::load_file_once(file).map_err(shown)
}

/// Prints a load's diagnostics; the exit code.
fn shown(e: vnetsim_scenario::LoadError) -> u8 {
    eprint!("{}", e.render(std::io::stderr().is_terminal()));
    INVALID
}

/// The JSON output of `vnetsim validate --format json` (`format: "vnetsim-validate/1"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateOut {
    /// Always `vnetsim-validate/1`.
    #[schemars(extend("const" = "vnetsim-validate/1"))]
    pub format: String,
    /// The scenario file as given on the command line.
    pub file: String,
    /// Whether the scenario is valid (then `diagnostics` is empty).
    pub valid: bool,
    /// Every problem found, sorted by line and column.
    pub diagnostics: Vec<DiagnosticOut>,
}

/// One problem found in a scenario file: a loader [`Diagnostic`] as data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiagnosticOut {
    /// The file name as given to the loader.
    pub file: String,
    /// 1-based line (0 when the position is unknown, e.g. an I/O error).
    pub line: u32,
    /// 1-based column (0 when unknown).
    pub column: u32,
    /// Field path inside the file, e.g. `vnets[1].address_space[0]` (empty for the whole file).
    pub path: String,
    /// Stable rule code, e.g. `peering-address-overlap`.
    pub rule: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when there is something useful to say.
    pub help: Option<String>,
}

impl From<&Diagnostic> for DiagnosticOut {
    fn from(d: &Diagnostic) -> Self {
        DiagnosticOut {
            file: d.file.clone(),
            line: d.line,
            column: d.column,
            path: d.path.clone(),
            rule: d.rule.to_string(),
            message: d.message.clone(),
            help: d.help.clone(),
        }
    }
}

/// `vnetsim validate FILE [--format json]`: exit 0 valid, 2 invalid, in either format.
pub fn validate(file: &Path, format: Format) -> u8 {
    if format == Format::Json {
        let (valid, diagnostics) = match vnetsim_scenario::load_file_once(file) {
            // The process ends next: freeing a million flows one by one is time for nothing.
            Ok(s) => {
                std::mem::forget(s);
                (true, Vec::new())
            }
            Err(e) => (
                false,
                e.diagnostics.iter().map(DiagnosticOut::from).collect(),
            ),
        };
        let report = ValidateOut {
            format: "vnetsim-validate/1".to_string(),
            file: file.display().to_string(),
            valid,
            diagnostics,
        };
        outln!("{}", to_json(&report));
        return if valid { OK } else { INVALID };
    }
    match load_then_exit(file) {
        Ok(s) => {
            outln!(
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
            // The process ends next: freeing a million flows one by one is time for nothing.
            std::mem::forget(s);
            OK
        }
        Err(code) => code,
    }
}

/// The `format` tag of `vnetsim explain --format json`.
pub const EXPLAIN_FORMAT: &str = "vnetsim-explain/1";
/// The `format` tag of `vnetsim routes --format json`.
pub const ROUTES_FORMAT: &str = "vnetsim-routes/1";
/// The `format` tag of `vnetsim rules --format json`.
pub const RULES_FORMAT: &str = "vnetsim-rules/1";

/// The JSON output of `vnetsim explain --format json`: the tag, then the explanation's fields.
#[derive(Serialize, JsonSchema)]
pub struct ExplainOut<'a> {
    /// Always `vnetsim-explain/1`.
    #[schemars(extend("const" = "vnetsim-explain/1"))]
    pub format: &'static str,
    /// The probe's explanation, its fields at this level.
    #[serde(flatten)]
    pub explanation: &'a vnetsim_dataplane::explain::Explanation,
}

/// The JSON output of `vnetsim routes --format json`.
#[derive(Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutesOut<'a> {
    /// Always `vnetsim-routes/1`.
    #[schemars(extend("const" = "vnetsim-routes/1"))]
    pub format: &'static str,
    /// The effective routes of each NIC named, in the VM's order.
    pub nics: &'a [vnetsim_dataplane::views::NicRoutes],
}

/// The JSON output of `vnetsim rules --format json`.
#[derive(Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RulesOut<'a> {
    /// Always `vnetsim-rules/1`.
    #[schemars(extend("const" = "vnetsim-rules/1"))]
    pub format: &'static str,
    /// The effective security rules of each NIC named, in the VM's order.
    pub nics: &'a [vnetsim_dataplane::views::NicRules],
}

/// The JSON Schemas of the tagged outputs this module, `bench` and `diff` print, by the file name
/// they are checked in under in `docs/`.
#[cfg_attr(not(test), allow(dead_code))]
pub fn json_schemas() -> Vec<(&'static str, serde_json::Value)> {
    let value = |s: schemars::Schema| serde_json::to_value(s).expect("schema serializes");
    vec![
        (
            "validate.schema.json",
            value(schemars::schema_for!(ValidateOut)),
        ),
        (
            "explain.schema.json",
            value(schemars::schema_for!(ExplainOut<'static>)),
        ),
        (
            "routes.schema.json",
            value(schemars::schema_for!(RoutesOut<'static>)),
        ),
        (
            "rules.schema.json",
            value(schemars::schema_for!(RulesOut<'static>)),
        ),
        (
            "bench.schema.json",
            value(schemars::schema_for!(crate::replay::BenchOut)),
        ),
        (
            "diff.schema.json",
            value(schemars::schema_for!(crate::diff::DiffReport)),
        ),
    ]
    .into_iter()
    .chain(crate::watcher::json_schemas())
    .collect()
}

/// Pretty JSON of an output type whose serialization cannot fail (plain structs, string keys).
fn to_json(value: &impl Serialize) -> String {
    serde_json::to_string_pretty(value).expect("serializes")
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
    let endpoint = scenario.endpoint_by_name(name).ok_or_else(|| {
        let hint = scenario
            .nearest_endpoint_name(name)
            .map(|n| format!("; did you mean `{n}`?"))
            .unwrap_or_default();
        eprintln!(
            "error: --{flag} {name}: not a VM, an on-premises host, a NIC (`vm/nic`) or an IPv4 address of scenario '{}'{hint}",
            scenario.name
        );
        INVALID
    })?;
    Ok(endpoint)
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
    // The same harness API tests use: load, describe the probe, send it, read the verdict.
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
    if endpoint(&scenario, from, "from").is_err() || endpoint(&scenario, to, "to").is_err() {
        return INVALID;
    }
    let sim = vnetsim::Sim::from_scenario(scenario);
    let probe = sim.probe(from, to).at(std::time::Duration::from_nanos(at));
    let probe = match protocol {
        Protocol::Tcp => probe.tcp(dst_port),
        Protocol::Udp => probe.udp(dst_port),
        Protocol::Icmp => probe.icmp(),
    }
    .src_port(src_port);
    let verdict = match probe.try_send() {
        Ok(v) => v,
        // The harness refuses a sender that cannot send (a private endpoint, an address no NIC
        // holds) with the rule it breaks.
        Err(vnetsim::Error::InvalidSender {
            name,
            message,
            rule,
        }) => {
            eprintln!("error: --from {name}: {message} [{rule}]");
            return INVALID;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return INVALID;
        }
    };
    let explanation = verdict.explanation();
    match format {
        Format::Json => outln!(
            "{}",
            to_json(&ExplainOut {
                format: EXPLAIN_FORMAT,
                explanation,
            })
        ),
        Format::Text => out!("{}", render_text(explanation)),
    }
    OK
}

/// The scenario, the NICs `vm` names (every NIC of a VM, or one NIC written `vm/nic` or by
/// its name) and the compiled data plane, or the exit code after saying what is wrong.
fn load_vm(
    file: &Path,
    vm: &str,
) -> Result<(Scenario, Vec<vnetsim_scenario::NicId>, Dataplane), u8> {
    let scenario = load(file)?;
    let nics = nics_or_exit(&scenario, vm)?;
    let dataplane = Dataplane::compile(&scenario);
    Ok((scenario, nics, dataplane))
}

pub(crate) fn nics_or_exit(
    scenario: &Scenario,
    vm: &str,
) -> Result<Vec<vnetsim_scenario::NicId>, u8> {
    if let Some(nics) = scenario.nics_named(vm) {
        return Ok(nics);
    }
    let hint = scenario
        .nearest_vm_name(vm)
        .map(|n| format!("; did you mean `{n}`?"))
        .unwrap_or_default();
    eprintln!(
        "error: --vm {vm}: no VM or NIC (`vm/nic`) of that name in scenario '{}'{hint}",
        scenario.name
    );
    Err(INVALID)
}

/// The one NIC `--format az` answers for: the Azure CLI's commands take one NIC.
fn one_nic(
    scenario: &Scenario,
    vm: &str,
    nics: &[vnetsim_scenario::NicId],
) -> Result<vnetsim_scenario::NicId, u8> {
    match nics {
        [one] => Ok(*one),
        _ => {
            let names: Vec<String> = nics
                .iter()
                .map(|n| format!("`{vm}/{}`", scenario.nics[n.index()].name))
                .collect();
            eprintln!(
                "error: --format az answers for one NIC, as the Azure CLI's command does, and \
                 `{vm}` has {}: name one of {}",
                nics.len(),
                names.join(", ")
            );
            Err(INVALID)
        }
    }
}

/// Prints what `answer` gives for the one NIC `--format az` answers for, or says why there
/// is not one.
fn print_az<T: Serialize>(
    scenario: &Scenario,
    vm: &str,
    nics: &[vnetsim_scenario::NicId],
    answer: impl FnOnce(vnetsim_scenario::NicId) -> T,
) -> u8 {
    match one_nic(scenario, vm, nics) {
        Ok(nic) => {
            outln!("{}", to_json(&answer(nic)));
            OK
        }
        Err(code) => code,
    }
}

/// `vnetsim routes FILE --vm NAME` (a VM, or one NIC as `vm/nic` or by its name).
pub fn routes(file: &Path, vm: &str, format: ViewFormat) -> u8 {
    let (scenario, nics, dataplane) = match load_vm(file, vm) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    if format == ViewFormat::Az {
        return print_az(&scenario, vm, &nics, |nic| {
            crate::watcher::az_routes(&scenario, &dataplane, nic)
        });
    }
    let nics: Vec<_> = nics
        .iter()
        .map(|&nic| effective_routes_of_nic(&scenario, &dataplane, nic))
        .collect();
    match format {
        ViewFormat::Json => outln!(
            "{}",
            to_json(&RoutesOut {
                format: ROUTES_FORMAT,
                nics: &nics,
            })
        ),
        // `Az` was answered above.
        ViewFormat::Text | ViewFormat::Az => {
            for nic in &nics {
                outln!(
                    "Effective routes of NIC {} ({}, subnet {})",
                    nic.nic,
                    nic.ip,
                    nic.subnet
                );
                // BGP-learned routes carry their AS path [VPNFAQ26]: a column only then.
                let bgp = nic.routes.iter().any(|r| r.as_path.is_some());
                let mut t = if bgp {
                    Table::new([
                        "Source",
                        "State",
                        "Address Prefix",
                        "Next Hop Type",
                        "Next Hop IP",
                        "Name",
                        "AS Path",
                        "Note",
                    ])
                } else {
                    Table::new([
                        "Source",
                        "State",
                        "Address Prefix",
                        "Next Hop Type",
                        "Next Hop IP",
                        "Name",
                        "Note",
                    ])
                };
                for r in &nic.routes {
                    let cells = [
                        r.source.to_string(),
                        r.state.to_string(),
                        r.prefix.clone(),
                        r.next_hop_type.to_string(),
                        r.next_hop_ip.clone().unwrap_or_else(|| "-".to_string()),
                        r.name.clone().unwrap_or_else(|| "-".to_string()),
                    ];
                    let note = r.note.unwrap_or("").to_string();
                    if bgp {
                        let [a, b, c, d, e, f] = cells;
                        let path = r.as_path.clone().unwrap_or_else(|| "-".to_string());
                        t.row([a, b, c, d, e, f, path, note]);
                    } else {
                        let [a, b, c, d, e, f] = cells;
                        t.row([a, b, c, d, e, f, note]);
                    }
                }
                out!("{}", t.render());
            }
        }
    }
    OK
}

/// `vnetsim rules FILE --vm NAME` (a VM, or one NIC as `vm/nic` or by its name).
pub fn rules(file: &Path, vm: &str, format: ViewFormat) -> u8 {
    let (scenario, nics, dataplane) = match load_vm(file, vm) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    if format == ViewFormat::Az {
        return print_az(&scenario, vm, &nics, |nic| {
            crate::watcher::az_rules(&scenario, &dataplane, nic)
        });
    }
    let nics: Vec<_> = nics
        .iter()
        .map(|&nic| effective_rules_of_nic(&scenario, &dataplane, nic))
        .collect();
    match format {
        ViewFormat::Json => outln!(
            "{}",
            to_json(&RulesOut {
                format: RULES_FORMAT,
                nics: &nics,
            })
        ),
        // `Az` was answered above.
        ViewFormat::Text | ViewFormat::Az => {
            for nic in &nics {
                outln!(
                    "Effective security rules of NIC {} ({}, subnet {})",
                    nic.nic,
                    nic.ip,
                    nic.subnet
                );
                for group in &nic.groups {
                    outln!(
                        "{} {}: NSG {} ({})",
                        group.direction,
                        group.stage,
                        group.nsg,
                        group.attached_to
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
                    out!("{}", t.render());
                }
                outln!(
                    "VirtualNetwork service tag here: {}",
                    nic.virtual_network_tag.join(", ")
                );
                if nic.groups.is_empty() {
                    outln!("no NSG on the NIC or its subnet: all traffic is allowed");
                }
            }
        }
    }
    OK
}

#[cfg(test)]
mod tests {
    /// Every checked-in `docs/*.schema.json` of these outputs is the schema of its type;
    /// `UPDATE_SCHEMA=1` rewrites them.
    #[test]
    fn checked_in_output_schemas_are_current() {
        let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
        for (name, schema) in super::json_schemas() {
            let path = docs.join(name);
            let text = serde_json::to_string_pretty(&schema).expect("serializes") + "\n";
            if std::env::var_os("UPDATE_SCHEMA").is_some() {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).expect("docs directory");
                }
                std::fs::write(&path, &text).expect("write schema");
            }
            let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                checked_in == text,
                "docs/{name} is out of date; run with UPDATE_SCHEMA=1 to rewrite it"
            );
        }
    }
}
