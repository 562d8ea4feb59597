//! Reachability matrix: the verdict of every ordered pair of endpoints on a port, decided one
//! probe at a time by the pipeline, and the names of what decided it.
//!
//! What it is for: `vnetsim matrix`. [`MatrixEndpoints`] lists who sends (every VM by its
//! primary NIC, on-premises hosts, declared Internet hosts) and who receives (the same, plus
//! private endpoints and load balancer frontends, which only answer). A [`Decider`] decides a
//! (source, destination, protocol, port) the way `vnetsim explain` does (the same probe packet,
//! ingress and empty flow table, so a stateless first packet) but on the fast path: one packet
//! buffer and one flow table reused, no trace (`Trace = ()`) and no allocation per decision.
//! Only what is printed is named ([`Decider::row`]): the drop reason, the deciding rule and
//! the path.
//! What it is not: a replay (no time passes, no replies, no flow state kept between decisions)
//! and not the place where timed events are applied: the caller compiles the network as it is
//! at the matrix's time and hands its scenario and data plane in.

use std::net::Ipv4Addr;

use vnetsim_scenario::{Endpoint, LbFrontendKind, Probe, Protocol, Scenario};

use crate::forward::Dataplane;
use crate::forward::firewall::FirewallDecision;
use crate::forward::pipeline::{DropCause, FlowTable, Ingress, NsgDecision, Outcome, Step};
use crate::names::explain::{endpoint_route_view, route_view};
use crate::names::probe::{PROBE_TTL, ProbeResult, ingress_for, path_names, probe_size};
use crate::tables::firewall::FirewallRuleRef;
use crate::tables::nsg::RuleRef;
use crate::wire::{self, PacketSpec};

/// Source port of every matrix probe: the one `vnetsim explain` and scenario probes use when
/// they name none.
pub const MATRIX_SRC_PORT: u16 = 49152;

/// IPv4 identification of every matrix probe (the first probe `vnetsim explain` sends).
const MATRIX_IDENTIFICATION: u16 = 1;

/// What kind of endpoint a matrix row names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatrixKind {
    /// A VM, by its primary NIC.
    Vm,
    /// An on-premises host behind a site.
    OnPremises,
    /// A declared Internet host.
    Internet,
    /// A private endpoint (destination only: it never initiates traffic [PEOV20]).
    PrivateEndpoint,
    /// A load balancer frontend (destination only).
    LbFrontend,
}

impl MatrixKind {
    /// Stable name in JSON output: `vm`, `on-premises`, `internet`, `private-endpoint`,
    /// `lb-frontend`.
    pub fn as_str(self) -> &'static str {
        match self {
            MatrixKind::Vm => "vm",
            MatrixKind::OnPremises => "on-premises",
            MatrixKind::Internet => "internet",
            MatrixKind::PrivateEndpoint => "private-endpoint",
            MatrixKind::LbFrontend => "lb-frontend",
        }
    }
}

/// One endpoint of the matrix, resolved once: its address, where its packets enter, its
/// group (for summaries) and the names a `--from`/`--to` selection may use for it.
#[derive(Clone, Debug)]
pub struct MatrixEndpoint {
    /// Display name: the VM, host, Internet host or private endpoint name; `lb/frontend` for a
    /// load balancer frontend.
    pub name: String,
    /// What it is.
    pub kind: MatrixKind,
    /// The endpoint as a probe names it.
    pub endpoint: Endpoint,
    /// Its address (a VM's primary NIC's).
    pub ip: Ipv4Addr,
    /// Where its packets enter the data plane (meaningful for sources only).
    pub ingress: Ingress,
    /// Its group in summaries: `vnet/subnet`, `site NAME`, `Internet`.
    pub group: String,
    /// Every name that selects it: its own name, its VNet, its `vnet/subnet`, its site, its
    /// load balancer, `Internet` for Internet hosts and public frontends.
    pub selectors: Vec<String>,
}

impl MatrixEndpoint {
    /// Whether `selector` (a name, VNet, `vnet/subnet`, site, load balancer or `Internet`)
    /// selects this endpoint. `Internet` is matched without regard to case.
    pub fn selected_by(&self, selector: &str) -> bool {
        self.selectors
            .iter()
            .any(|s| s == selector || (s == "Internet" && selector.eq_ignore_ascii_case(s)))
    }
}

/// The senders and receivers of a scenario's matrix, in scenario order (VMs, hosts, Internet
/// hosts; then private endpoints and load balancer frontends as receivers).
#[derive(Clone, Debug)]
pub struct MatrixEndpoints {
    /// Endpoints that send.
    pub sources: Vec<MatrixEndpoint>,
    /// Endpoints that receive.
    pub destinations: Vec<MatrixEndpoint>,
}

impl MatrixEndpoints {
    /// Lists the endpoints of `scenario`. A VM without a NIC is left out (it has no address).
    pub fn of(scenario: &Scenario) -> Self {
        let mut both = Vec::new();
        for (i, vm) in scenario.vms.iter().enumerate() {
            let Some(&nic) = vm.nics.first() else {
                continue;
            };
            let n = &scenario.nics[nic.index()];
            let endpoint = Endpoint::Vm(vnetsim_scenario::VmId(i as u32));
            let subnet = scenario.subnet_path(n.subnet);
            both.push(MatrixEndpoint {
                name: vm.name.to_string(),
                kind: MatrixKind::Vm,
                endpoint,
                ip: n.ip,
                ingress: ingress_for(scenario, endpoint),
                selectors: vec![
                    vm.name.to_string(),
                    scenario.vnets[n.vnet.index()].name.to_string(),
                    subnet.clone(),
                ],
                group: subnet,
            });
        }
        for (i, host) in scenario.hosts.iter().enumerate() {
            let endpoint = Endpoint::Host(vnetsim_scenario::HostId(i as u32));
            let site = scenario.sites[host.site.index()].name.to_string();
            both.push(MatrixEndpoint {
                name: host.name.to_string(),
                kind: MatrixKind::OnPremises,
                endpoint,
                ip: host.ip,
                ingress: ingress_for(scenario, endpoint),
                selectors: vec![host.name.to_string(), site.clone()],
                group: format!("site {site}"),
            });
        }
        for host in &scenario.internet_hosts {
            let endpoint = Endpoint::Ip(host.ip);
            both.push(MatrixEndpoint {
                name: host.name.to_string(),
                kind: MatrixKind::Internet,
                endpoint,
                ip: host.ip,
                ingress: ingress_for(scenario, endpoint),
                selectors: vec![host.name.to_string(), "Internet".to_string()],
                group: "Internet".to_string(),
            });
        }
        let sources = both.clone();
        let mut destinations = both;
        for pe in &scenario.private_endpoints {
            let subnet = scenario.subnet_path(pe.subnet);
            destinations.push(MatrixEndpoint {
                name: pe.name.to_string(),
                kind: MatrixKind::PrivateEndpoint,
                endpoint: Endpoint::Ip(pe.ip),
                ip: pe.ip,
                ingress: Ingress::Internet,
                selectors: vec![
                    pe.name.to_string(),
                    scenario.vnets[pe.vnet.index()].name.to_string(),
                    subnet.clone(),
                ],
                group: subnet,
            });
        }
        for lb in &scenario.load_balancers {
            for fe in &lb.frontends {
                let mut selectors = vec![format!("{}/{}", lb.name, fe.name), lb.name.to_string()];
                let group = match fe.kind {
                    LbFrontendKind::Internal { vnet, subnet } => {
                        let path = scenario.subnet_path(subnet);
                        selectors.push(scenario.vnets[vnet.index()].name.to_string());
                        selectors.push(path.clone());
                        path
                    }
                    LbFrontendKind::Public => {
                        selectors.push("Internet".to_string());
                        "Internet".to_string()
                    }
                };
                destinations.push(MatrixEndpoint {
                    name: format!("{}/{}", lb.name, fe.name),
                    kind: MatrixKind::LbFrontend,
                    endpoint: Endpoint::Ip(fe.ip),
                    ip: fe.ip,
                    ingress: Ingress::Internet,
                    selectors,
                    group,
                });
            }
        }
        MatrixEndpoints {
            sources,
            destinations,
        }
    }

    /// Keeps the sources `from` selects and the destinations `to` selects (each a list of
    /// selectors, any of which may match; empty keeps all). Returns the first selector that
    /// selects nothing, if one does.
    pub fn select<'s>(&mut self, from: &'s [String], to: &'s [String]) -> Result<(), &'s str> {
        fn keep<'s>(list: &mut Vec<MatrixEndpoint>, sel: &'s [String]) -> Result<(), &'s str> {
            if sel.is_empty() {
                return Ok(());
            }
            if let Some(s) = sel.iter().find(|s| !list.iter().any(|e| e.selected_by(s))) {
                return Err(s);
            }
            list.retain(|e| sel.iter().any(|s| e.selected_by(s)));
            Ok(())
        }
        keep(&mut self.sources, from)?;
        keep(&mut self.destinations, to)
    }
}

/// A named matrix row: what a table, CSV or JSON line prints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatrixRow {
    /// The data plane's verdict.
    pub outcome: Outcome,
    /// `delivered` or `dropped`.
    pub verdict: &'static str,
    /// The stable drop reason, when dropped.
    pub reason: Option<&'static str>,
    /// The rule or route that decided (see [`deciding_rule`]).
    pub rule: Option<String>,
    /// Sender, appliances, firewalls, load balancers and gateways on the way, receiver when
    /// delivered (as an expectation's `path` lists them).
    pub path: Vec<String>,
}

/// Decides matrix cells: one data plane, one reused packet buffer, flow table and step list.
#[derive(Debug)]
pub struct Decider<'a> {
    scenario: &'a Scenario,
    dataplane: &'a Dataplane,
    flows: FlowTable,
    buf: [u8; 128],
    steps: Vec<Step>,
}

impl<'a> Decider<'a> {
    /// A decider over the network `scenario` compiled into `dataplane` (both as they are at
    /// the matrix's time).
    pub fn new(scenario: &'a Scenario, dataplane: &'a Dataplane) -> Self {
        Decider {
            scenario,
            dataplane,
            flows: FlowTable::new(),
            buf: [0; 128],
            steps: Vec::new(),
        }
    }

    /// The probe `vnetsim explain` would send for this cell (the port is ignored for ICMP).
    pub fn probe(
        src: &MatrixEndpoint,
        dst: &MatrixEndpoint,
        protocol: Protocol,
        port: u16,
        at: vnetsim_scenario::Nanos,
    ) -> Probe {
        Probe {
            from: src.endpoint,
            to: dst.endpoint,
            protocol,
            src_port: MATRIX_SRC_PORT,
            dst_port: port,
            at,
        }
    }

    /// Builds the probe packet into the reused buffer and forwards it from an empty flow
    /// table, reporting steps to `trace`.
    #[inline]
    fn forward<T: crate::forward::pipeline::Trace>(
        &mut self,
        src: &MatrixEndpoint,
        dst: &MatrixEndpoint,
        protocol: Protocol,
        port: u16,
        at: vnetsim_scenario::Nanos,
        trace: &mut T,
    ) -> Outcome {
        // Stateless: nothing an earlier decision left (NSG flow records, firewall or load
        // balancer sessions) may turn this packet into a reply.
        self.flows.clear();
        let spec = PacketSpec {
            src: src.ip,
            dst: dst.ip,
            protocol,
            src_port: MATRIX_SRC_PORT,
            dst_port: port,
            ttl: PROBE_TTL,
            total_len: probe_size(protocol),
            identification: MATRIX_IDENTIFICATION,
        };
        match wire::build_probe(&mut self.buf, &spec) {
            Ok(len) => self.dataplane.forward(
                &mut self.buf[..len],
                src.ingress,
                &mut self.flows,
                at,
                trace,
            ),
            // As `run_probe` does: a probe that cannot be built is malformed.
            Err(_) => self
                .dataplane
                .forward(&mut [], src.ingress, &mut self.flows, at, trace),
        }
    }

    /// The verdict of one cell on the fast path: no trace, no allocation.
    #[inline]
    pub fn verdict(
        &mut self,
        src: &MatrixEndpoint,
        dst: &MatrixEndpoint,
        protocol: Protocol,
        port: u16,
        at: vnetsim_scenario::Nanos,
    ) -> Outcome {
        self.forward(src, dst, protocol, port, at, &mut ())
    }

    /// The verdict of one cell with every step recorded into the reused step list (no
    /// allocation once the list has grown to a path's length); the steps stay readable
    /// through [`Decider::steps`] until the next decision.
    pub fn traced(
        &mut self,
        src: &MatrixEndpoint,
        dst: &MatrixEndpoint,
        protocol: Protocol,
        port: u16,
        at: vnetsim_scenario::Nanos,
    ) -> Outcome {
        let mut steps = std::mem::take(&mut self.steps);
        steps.clear();
        let outcome = self.forward(src, dst, protocol, port, at, &mut steps);
        self.steps = steps;
        outcome
    }

    /// The steps of the last [`Decider::traced`] decision.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// One cell decided and named: verdict, reason, deciding rule and path.
    pub fn row(
        &mut self,
        src: &MatrixEndpoint,
        dst: &MatrixEndpoint,
        protocol: Protocol,
        port: u16,
        at: vnetsim_scenario::Nanos,
    ) -> MatrixRow {
        let outcome = self.traced(src, dst, protocol, port, at);
        let probe = Self::probe(src, dst, protocol, port, at);
        let rule = deciding_rule(self.scenario, self.dataplane, &outcome, &self.steps);
        // `path_names` reads a probe result; lend it the step list without copying it.
        let result = ProbeResult {
            outcome,
            steps: std::mem::take(&mut self.steps),
            ingress: src.ingress,
            src: src.ip,
            dst: dst.ip,
        };
        let path = path_names(self.scenario, &probe, &result);
        self.steps = result.steps;
        let (verdict, reason) = match outcome {
            Outcome::Delivered(_) => ("delivered", None),
            Outcome::Dropped(reason, _) => ("dropped", Some(reason.as_str())),
        };
        MatrixRow {
            outcome,
            verdict,
            reason,
            rule,
            path,
        }
    }
}

/// `nsg/rule` for an NSG rule (a default rule by its Azure name).
fn nsg_rule_text(scenario: &Scenario, nsg: vnetsim_scenario::NsgId, rule: RuleRef) -> String {
    let n = &scenario.nsgs[nsg.index()];
    match rule {
        RuleRef::User(i) => format!("{}/{}", n.name, n.rules[i as usize].name),
        RuleRef::Default(d) => format!("{}/{}", n.name, d.name()),
    }
}

/// `firewall/rule` for a firewall rule, `firewall/default-deny` when none matched.
fn firewall_rule_text(
    scenario: &Scenario,
    fw: vnetsim_scenario::FirewallId,
    rule: Option<FirewallRuleRef>,
) -> String {
    let f = &scenario.firewalls[fw.index()];
    let policy = f.policy.map(|p| &scenario.firewall_policies[p.index()]);
    match (rule, policy) {
        (Some(r), Some(p)) => {
            let c = &p.groups[usize::from(r.group)].collections[usize::from(r.collection)];
            format!("{}/{}", f.name, c.rules[usize::from(r.rule)].name)
        }
        _ => format!("{}/default-deny", f.name),
    }
}

/// `route PREFIX -> NEXT_HOP (vnet/subnet)` for a route that dropped a packet.
fn route_text(view: crate::names::explain::RouteView) -> String {
    format!(
        "route {} -> {} ({})",
        view.prefix, view.next_hop_type, view.subnet
    )
}

/// The rule or route that decided a cell, where there is one: for a drop, the NSG rule
/// (`nsg/rule`), firewall rule (`firewall/rule`, `firewall/default-deny`) or route (`route
/// PREFIX -> NEXT_HOP (vnet/subnet)`) that dropped it; for a delivery, the firewall rule that
/// allowed the connection if a firewall did, else the last NSG rule that allowed it (the
/// receiver's inbound rule). `None` when no rule or route decided (a drop for another
/// reason, or a delivery no NSG or firewall rule looked at).
pub fn deciding_rule(
    scenario: &Scenario,
    dataplane: &Dataplane,
    outcome: &Outcome,
    steps: &[Step],
) -> Option<String> {
    match *outcome {
        Outcome::Dropped(_, cause) => match cause {
            DropCause::Nsg { nsg, rule, .. } => Some(nsg_rule_text(scenario, nsg, rule)),
            DropCause::Firewall { fw, rule } => Some(firewall_rule_text(scenario, fw, rule)),
            DropCause::NoneRoute { subnet, route }
            | DropCause::NoGateway { subnet, route }
            | DropCause::ApplianceUnreachable { subnet, route } => {
                Some(route_text(route_view(scenario, dataplane, subnet, route)))
            }
            DropCause::EndpointRoute { pe, route } => Some(route_text(endpoint_route_view(
                scenario, dataplane, pe, route,
            ))),
            _ => None,
        },
        Outcome::Delivered(_) => {
            let firewall = steps.iter().rev().find_map(|s| match *s {
                Step::Firewall {
                    fw,
                    decision: FirewallDecision::Rule(r),
                } => Some(firewall_rule_text(scenario, fw, Some(r))),
                _ => None,
            });
            firewall.or_else(|| {
                steps.iter().rev().find_map(|s| match *s {
                    Step::Nsg {
                        nsg,
                        decision: NsgDecision::Rule(r),
                        ..
                    } => Some(nsg_rule_text(scenario, nsg, r)),
                    _ => None,
                })
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::probe::run_probe;

    fn example(name: &str) -> Scenario {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../scenarios")
            .join(name);
        vnetsim_scenario::load_file(&path).unwrap_or_else(|e| panic!("{}", e.render(false)))
    }

    /// Private endpoints and frontends receive only; VMs, hosts and Internet hosts both.
    #[test]
    fn endpoints_send_and_receive_as_azure_allows() {
        let sc = example("private-endpoint-bypass.yaml");
        let eps = MatrixEndpoints::of(&sc);
        assert!(
            eps.sources
                .iter()
                .all(|e| e.kind != MatrixKind::PrivateEndpoint)
        );
        assert!(
            eps.destinations
                .iter()
                .any(|e| e.kind == MatrixKind::PrivateEndpoint && e.name == "sql-pe")
        );
        assert_eq!(
            eps.sources
                .iter()
                .filter(|e| e.kind == MatrixKind::Vm)
                .count(),
            sc.vms.len()
        );
    }

    /// Selecting by VNet, subnet and name keeps exactly what they name; a selector that names
    /// nothing is reported.
    #[test]
    fn selection_by_vnet_subnet_and_name() {
        let sc = example("hub-firewall.yaml");
        let all = MatrixEndpoints::of(&sc);
        let web1 = all.sources.iter().find(|e| e.name == "web1").expect("web1");
        let vnet = web1.selectors[1].clone();
        let mut eps = all.clone();
        eps.select(std::slice::from_ref(&vnet), &["web1".to_string()])
            .expect("selects");
        assert!(!eps.sources.is_empty());
        assert!(eps.sources.iter().all(|e| e.selectors[1] == vnet));
        assert_eq!(eps.destinations.len(), 1);
        let mut eps = all.clone();
        let nothing = ["no-such".to_string()];
        assert_eq!(eps.select(&nothing, &[]), Err("no-such"));
    }

    /// The fast verdict, the traced one and a probe through `run_probe` agree on every cell of
    /// an example, and decisions do not leak state into each other (reverse pairs included).
    #[test]
    fn fast_traced_and_probe_verdicts_agree() {
        let sc = example("hub-firewall.yaml");
        let dp = Dataplane::compile(&sc);
        let eps = MatrixEndpoints::of(&sc);
        let mut d = Decider::new(&sc, &dp);
        for src in &eps.sources {
            for dst in &eps.destinations {
                for (protocol, port) in [(Protocol::Tcp, 1433), (Protocol::Tcp, 22)] {
                    let fast = d.verdict(src, dst, protocol, port, 0);
                    let traced = d.traced(src, dst, protocol, port, 0);
                    let probe = Decider::probe(src, dst, protocol, port, 0);
                    let alone = run_probe(&sc, &dp, &probe, 1, &mut FlowTable::new());
                    assert_eq!(fast, alone.outcome, "{} -> {}", src.name, dst.name);
                    assert_eq!(traced, alone.outcome);
                    assert_eq!(d.steps(), &alone.steps[..]);
                }
            }
        }
    }

    /// The deciding rule names the firewall rule of an allowed connection and the default
    /// deny of a denied one ([FWRULE23] examples of `hub-firewall.yaml`).
    #[test]
    fn deciding_rules_of_the_firewall_example() {
        let sc = example("hub-firewall.yaml");
        let dp = Dataplane::compile(&sc);
        let eps = MatrixEndpoints::of(&sc);
        let find =
            |list: &[MatrixEndpoint], n: &str| list.iter().find(|e| e.name == n).cloned().expect(n);
        let web1 = find(&eps.sources, "web1");
        let db2 = find(&eps.destinations, "db2");
        let mut d = Decider::new(&sc, &dp);
        let ok = d.row(&web1, &db2, Protocol::Tcp, 1433, 0);
        assert_eq!(ok.verdict, "delivered");
        assert_eq!(ok.path, ["web1", "hub-fw", "db2"]);
        assert!(ok.rule.as_deref().is_some_and(|r| r.starts_with("hub-fw/")));
        let denied = d.row(&web1, &db2, Protocol::Tcp, 3389, 0);
        assert_eq!(denied.reason, Some("firewall-denied"));
        assert_eq!(denied.rule.as_deref(), Some("hub-fw/default-deny"));
    }
}
