//! `vnetsim._native`: the Rust side of the `vnetsim` Python package.
//!
//! What it is for: exposing the harness API (`vnetsim::Sim`), the effective route and rule
//! listings, the reachability matrix, replays and the ARM template importer to Python through
//! PyO3, and sweeps (`sweep`: whole, by shard, and the merge of parts). Every answer crosses
//! as the same JSON the command line prints (`vnetsim explain --format json`, `routes`,
//! `rules`, `matrix`, `run --report`, `sweep`, `merge`) or as plain values; the Python
//! package (`python/vnetsim/__init__.py`) turns them into verdict objects, lists of dicts with
//! the Azure CLI's field names, and report dicts. Failures become the Python exceptions of
//! `vnetsim._errors`, carrying the scenario's diagnostics (file, line, column, rule code).
//! What it is not: a decision maker (every verdict comes from `vnetsim-dataplane`, every replay
//! from `vnetsim-engine`) and not the public Python API (that is the `vnetsim` package, whose
//! names are the stable ones).

mod sweep;

use std::path::PathBuf;
use std::time::Duration;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use serde::Serialize;
use vnetsim_dataplane::explain::{protocol_name, render_text};
use vnetsim_dataplane::names::matrix::{Decider, MatrixEndpoints};
use vnetsim_dataplane::views::{effective_routes_of_nic, effective_rules_of_nic};
use vnetsim_engine::{Engine, Estimate, Options};
use vnetsim_scenario::{LoadError, NicId, Protocol, Scenario};

/// Raises `vnetsim._errors.<class>(*args)`: the exception classes live in Python, with their
/// docstrings and attributes.
fn raise<'py>(py: Python<'py>, class: &str, args: impl pyo3::call::PyCallArgs<'py>) -> PyErr {
    let made = py
        .import("vnetsim._errors")
        .and_then(|m| m.getattr(class))
        .and_then(|c| c.call1(args));
    match made {
        Ok(instance) => PyErr::from_value(instance),
        Err(e) => e,
    }
}

/// A scenario that did not load: `ScenarioError(text, diagnostics)`, each diagnostic a dict.
fn load_error(py: Python<'_>, e: &LoadError) -> PyErr {
    let diagnostics = match diagnostics_list(py, &e.diagnostics) {
        Ok(d) => d,
        Err(err) => return err,
    };
    let text = format!("the scenario did not load:\n{}", e.render(false));
    raise(py, "ScenarioError", (text, diagnostics))
}

/// Diagnostics as a list of dicts, the keyword arguments of `vnetsim.Diagnostic`.
fn diagnostics_list<'py>(
    py: Python<'py>,
    list: &[vnetsim_scenario::Diagnostic],
) -> PyResult<Bound<'py, PyList>> {
    let diagnostics = PyList::empty(py);
    for d in list {
        let item = PyDict::new(py);
        let filled = item
            .set_item("file", &d.file)
            .and_then(|()| item.set_item("line", d.line))
            .and_then(|()| item.set_item("column", d.column))
            .and_then(|()| item.set_item("path", &d.path))
            .and_then(|()| item.set_item("rule", d.rule))
            .and_then(|()| item.set_item("message", &d.message))
            .and_then(|()| item.set_item("help", d.help.as_deref()))
            .and_then(|()| diagnostics.append(item));
        filled?;
    }
    Ok(diagnostics)
}

/// An error of the harness API as its Python exception.
fn harness_error(py: Python<'_>, e: &vnetsim::Error, scenario: Option<&Scenario>) -> PyErr {
    match e {
        vnetsim::Error::Load(load) => load_error(py, load),
        vnetsim::Error::UnknownEndpoint { name, .. }
        | vnetsim::Error::UnknownIngress { name, .. } => {
            let hint = scenario
                .and_then(|s| s.nearest_endpoint_name(name))
                .map(|n| format!("; did you mean `{n}`?"))
                .unwrap_or_default();
            raise(
                py,
                "NameNotFoundError",
                (format!("{e}{hint}"), name.clone()),
            )
        }
        vnetsim::Error::UnknownFlow { name, .. } => {
            raise(py, "NameNotFoundError", (e.to_string(), name.clone()))
        }
        _ => PyValueError::new_err(e.to_string()),
    }
}

fn parse_protocol(text: &str) -> PyResult<Protocol> {
    match text.to_ascii_lowercase().as_str() {
        "tcp" => Ok(Protocol::Tcp),
        "udp" => Ok(Protocol::Udp),
        "icmp" => Ok(Protocol::Icmp),
        _ => Err(PyValueError::new_err(format!(
            "protocol {text:?}: expected \"tcp\", \"udp\" or \"icmp\""
        ))),
    }
}

/// Parses a duration as scenario files write it (`600ms`, `1.5s`, `40us`) into nanoseconds.
#[pyfunction]
fn parse_duration(text: &str) -> PyResult<u64> {
    vnetsim_scenario::units::parse_duration(text)
        .map_err(|e| PyValueError::new_err(format!("duration {text:?}: {e}")))
}

/// A loaded, checked scenario (`vnetsim::Sim`), shared by the Python `Scenario` object.
#[pyclass(module = "vnetsim._native", name = "Sim", frozen)]
struct PySim {
    /// `Sim` is `Send + Sync`: its flow state has its own lock, so calls need none here.
    sim: vnetsim::Sim,
}

/// One matrix row, as `vnetsim matrix --format json` writes it.
#[derive(Serialize)]
struct MatrixRowOut<'a> {
    source: &'a str,
    destination: &'a str,
    protocol: &'static str,
    port: Option<u16>,
    verdict: &'static str,
    reason: Option<&'static str>,
    rule: Option<String>,
    path: Vec<String>,
}

/// Each flow's name and its latency CDF as (µs, fraction) points.
type LatencyCdfs = Vec<(String, Vec<(f64, f64)>)>;

/// The NICs `vm` names: every NIC of a VM, or one NIC written `vm/nic` or by its name.
fn nics_of(py: Python<'_>, scenario: &Scenario, vm: &str) -> PyResult<Vec<NicId>> {
    if let Some(nics) = scenario.nics_named(vm) {
        return Ok(nics);
    }
    let hint = scenario
        .nearest_vm_name(vm)
        .map(|n| format!("; did you mean `{n}`?"))
        .unwrap_or_default();
    Err(raise(
        py,
        "NameNotFoundError",
        (
            format!(
                "`{vm}`: no VM or NIC (`vm/nic`) of that name in scenario '{}'{hint}",
                scenario.name
            ),
            vm.to_string(),
        ),
    ))
}

fn to_json<T: Serialize + ?Sized>(value: &T) -> PyResult<String> {
    serde_json::to_string(value)
        .map_err(|e| PyValueError::new_err(format!("cannot serialize the answer: {e}")))
}

#[pymethods]
impl PySim {
    /// Loads and checks a scenario file (YAML or JSON).
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<PySim> {
        let loaded = py.detach(|| vnetsim_scenario::load_file(&path));
        match loaded {
            Ok(scenario) => Ok(PySim {
                sim: vnetsim::Sim::from_scenario(scenario),
            }),
            Err(e) => Err(load_error(py, &e)),
        }
    }

    /// Loads and checks a scenario given as YAML text; `source` names it in diagnostics.
    #[staticmethod]
    fn from_yaml(py: Python<'_>, text: &str, source: &str) -> PyResult<PySim> {
        let loaded = py.detach(|| vnetsim_scenario::load_str(text, source));
        match loaded {
            Ok(scenario) => Ok(PySim {
                sim: vnetsim::Sim::from_scenario(scenario),
            }),
            Err(e) => Err(load_error(py, &e)),
        }
    }

    /// The scenario's `name`.
    #[getter]
    fn name(&self) -> String {
        self.sim.scenario().name.clone()
    }

    /// The names of the VMs, in file order.
    fn vms(&self) -> Vec<String> {
        self.sim
            .scenario()
            .vms
            .iter()
            .map(|v| v.name.to_string())
            .collect()
    }

    /// Forgets the NSG flow records left by earlier probes.
    fn reset_flows(&self) {
        self.sim.reset_flows();
    }

    /// Sends one probe; returns (explanation as JSON, the `vnetsim explain` text, the one-line
    /// detail).
    #[allow(clippy::too_many_arguments)]
    fn probe(
        &self,
        py: Python<'_>,
        source: &str,
        destination: &str,
        protocol: &str,
        dst_port: u16,
        src_port: u16,
        at_ns: u64,
    ) -> PyResult<(String, String, String)> {
        let protocol = parse_protocol(protocol)?;
        let sim = &self.sim;
        let probe = sim
            .probe(source, destination)
            .at(Duration::from_nanos(at_ns))
            .src_port(src_port);
        let probe = match protocol {
            Protocol::Tcp => probe.tcp(dst_port),
            Protocol::Udp => probe.udp(dst_port),
            Protocol::Icmp => probe.icmp(),
        };
        match probe.try_send() {
            Ok(v) => Ok((
                to_json(v.explanation())?,
                render_text(v.explanation()),
                v.detail().to_string(),
            )),
            Err(e) => Err(harness_error(py, &e, Some(sim.scenario()))),
        }
    }

    /// The effective routes of `vm`'s NICs (or one NIC) at `at_ns`, as `vnetsim routes
    /// --format json` prints them.
    fn routes(&self, py: Python<'_>, vm: &str, at_ns: u64) -> PyResult<String> {
        let sim = &self.sim;
        let nics = nics_of(py, sim.scenario(), vm)?;
        let listed: Vec<_> = sim.with_network_at(Duration::from_nanos(at_ns), |sc, dp| {
            nics.iter()
                .map(|&nic| effective_routes_of_nic(sc, dp, nic))
                .collect()
        });
        to_json(&listed)
    }

    /// The effective security rules of `vm`'s NICs (or one NIC) at `at_ns`, as `vnetsim rules
    /// --format json` prints them.
    fn rules(&self, py: Python<'_>, vm: &str, at_ns: u64) -> PyResult<String> {
        let sim = &self.sim;
        let nics = nics_of(py, sim.scenario(), vm)?;
        let listed: Vec<_> = sim.with_network_at(Duration::from_nanos(at_ns), |sc, dp| {
            nics.iter()
                .map(|&nic| effective_rules_of_nic(sc, dp, nic))
                .collect()
        });
        to_json(&listed)
    }

    /// Every ordered pair of endpoints on each port, as the rows of `vnetsim matrix --format
    /// json` (JSON list). `sources` and `destinations` select groups as `--from` and `--to` do.
    fn matrix(
        &self,
        py: Python<'_>,
        protocol: &str,
        ports: Vec<u16>,
        at_ns: u64,
        sources: Vec<String>,
        destinations: Vec<String>,
    ) -> PyResult<String> {
        let protocol = parse_protocol(protocol)?;
        let ports = match protocol {
            Protocol::Icmp => vec![0],
            _ if ports.is_empty() => {
                return Err(PyValueError::new_err("ports: name at least one port"));
            }
            _ => ports,
        };
        let mut eps = MatrixEndpoints::of(self.sim.scenario());
        if let Err(sel) = eps.select(&sources, &destinations) {
            let sim = &self.sim;
            let hint = sim
                .scenario()
                .nearest_endpoint_name(sel)
                .map(|n| format!("; did you mean `{n}`?"))
                .unwrap_or_default();
            return Err(raise(
                py,
                "NameNotFoundError",
                (
                    format!(
                        "`{sel}` selects no endpoint of scenario '{}' (a VM, host, Internet host, \
                         private endpoint or load balancer name, a VNet, `vnet/subnet`, a site or \
                         `Internet`){hint}",
                        sim.scenario().name
                    ),
                    sel.to_string(),
                ),
            ));
        }
        let json = py.detach(|| {
            self.sim
                .with_network_at(Duration::from_nanos(at_ns), |sc, dp| {
                    let mut decider = Decider::new(sc, dp);
                    let proto = protocol_name(protocol);
                    let mut rows = Vec::new();
                    for src in &eps.sources {
                        for dst in &eps.destinations {
                            if src.kind == dst.kind && src.endpoint == dst.endpoint {
                                continue;
                            }
                            for &port in &ports {
                                let row = decider.row(src, dst, protocol, port, at_ns);
                                rows.push(MatrixRowOut {
                                    source: &src.name,
                                    destination: &dst.name,
                                    protocol: proto,
                                    port: (protocol != Protocol::Icmp).then_some(port),
                                    verdict: row.verdict,
                                    reason: row.reason,
                                    rule: row.rule,
                                    path: row.path,
                                });
                            }
                        }
                    }
                    serde_json::to_string(&rows)
                })
        });
        json.map_err(|e| PyValueError::new_err(format!("cannot serialize the matrix: {e}")))
    }

    /// Replays the scenario; returns the report as `vnetsim run --report` writes it (pretty
    /// JSON and a final newline, byte for byte) and, when `latency_cdf`, each flow's latency
    /// CDF as (µs, fraction) points. Refuses a run over the packet limit unless `force`.
    fn run(
        &self,
        py: Python<'_>,
        seed: Option<u64>,
        latency_cdf: bool,
        force: bool,
    ) -> PyResult<(String, LatencyCdfs)> {
        let estimate = Estimate::of(self.sim.scenario());
        if !estimate.within_limits() && !force {
            return Err(PyValueError::new_err(format!(
                "this run would send {estimate}; the limit is {} packets (shorten durations, \
                 lower rates, or pass force=True)",
                vnetsim_engine::estimate::MAX_PACKETS
            )));
        }
        let done = py.detach(|| {
            let report = Engine::new(self.sim.scenario(), Options { seed, latency_cdf }).run();
            let mut text = serde_json::to_string_pretty(&report)?;
            text.push('\n');
            let cdfs = report
                .flows
                .iter()
                .filter(|_| latency_cdf)
                .map(|f| {
                    let points = vnetsim_engine::plot::cdf_points(f.latency_cdf.iter().copied());
                    (f.name.to_string(), points)
                })
                .collect();
            Ok::<_, serde_json::Error>((text, cdfs))
        });
        done.map_err(|e| PyValueError::new_err(format!("cannot serialize the report: {e}")))
    }
}

/// Imports an ARM template file (with an optional parameters file and `name=value`
/// overrides) as scenario YAML; returns (yaml, warnings). `shown` names the template (and
/// `shown_parameters` the parameters) in the written file's header.
#[pyfunction]
#[pyo3(signature = (template, parameters, overrides, name, shown, shown_parameters))]
fn import_arm(
    py: Python<'_>,
    template: PathBuf,
    parameters: Option<PathBuf>,
    overrides: Vec<String>,
    name: &str,
    shown: &str,
    shown_parameters: Option<&str>,
) -> PyResult<(String, Vec<String>)> {
    let imported = py.detach(|| {
        vnetsim_import::arm::import_template(&template, parameters.as_deref(), &overrides, name)
    });
    let import = imported.map_err(|e| raise(py, "TemplateError", (e.to_string(),)))?;
    let mut source = format!("the ARM template {shown}");
    if let Some(p) = shown_parameters {
        source.push_str(&format!(" with {p}"));
    }
    for s in &overrides {
        source.push_str(&format!(" --set {s}"));
    }
    let yaml = vnetsim_import::yaml::write(&import.header(&source), &import.scenario);
    let mut warnings = import.warnings.clone();
    for (kind, n) in &import.unmodelled {
        warnings.push(format!("{n} {kind} not modelled, left out"));
    }
    for w in &warnings {
        tracing::warn!("{w}");
    }
    Ok((yaml, warnings))
}

/// The Rust side of the `vnetsim` package.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PySim>()?;
    m.add_function(wrap_pyfunction!(parse_duration, m)?)?;
    m.add_function(wrap_pyfunction!(import_arm, m)?)?;
    m.add_function(wrap_pyfunction!(sweep::sweep, m)?)?;
    m.add_function(wrap_pyfunction!(sweep::sweep_part, m)?)?;
    m.add_function(wrap_pyfunction!(sweep::merge_parts, m)?)?;
    m.add_function(wrap_pyfunction!(sweep::check_variants, m)?)?;
    m.add_function(wrap_pyfunction!(sweep::sweep_variants, m)?)?;
    m.add_function(wrap_pyfunction!(sweep::sweep_variants_part, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
