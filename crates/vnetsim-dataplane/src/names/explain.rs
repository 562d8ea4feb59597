//! Explanations: a probe's steps turned into named, Azure-vocabulary records and text.
//!
//! What it is for: `vnetsim explain`, failing expectations and tests that want to read why a
//! packet went where it went: each hop with the route (prefix, next hop type, next hop IP,
//! source) and the NSG rule (nsg, rule, priority, direction) that decided it, and the peering
//! switch or NIC setting behind a drop. What it is not: a decision maker; it only names what
//! [`crate::forward::pipeline`] decided.

use serde::Serialize;
use vnetsim_scenario::{
    AddressMatch, Direction, FirewallId, NsgId, PrivateEndpointId, Probe, Protocol, Scenario,
    SubnetId,
};

use crate::forward::Dataplane;
use crate::forward::firewall::{FirewallDecision, NatKind, NatPoint};
use crate::forward::lb::LbDecision;
use crate::forward::pipeline::{Destination, DropCause, NsgDecision, NsgPoint, Outcome, Step};
use crate::names::probe::{ProbeResult, destination_name, path_names};
use crate::tables::firewall::FirewallRuleRef;
use crate::tables::nsg::RuleRef;
use crate::tables::platform::PlatformEndpoint;

/// A route as shown in a hop.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct RouteView {
    /// `vnet/subnet` whose effective routes were used.
    pub subnet: String,
    /// Route source (Default, VirtualNetworkGateway, User).
    pub source: &'static str,
    /// Destination prefix.
    pub prefix: String,
    /// Next hop type.
    pub next_hop_type: &'static str,
    /// Next hop IP, if any.
    pub next_hop_ip: Option<String>,
    /// User route name, or the peering / site / connection it comes from.
    pub name: Option<String>,
    /// The AS path of a BGP-learned gateway route (`65020 65050`, nearest AS first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_path: Option<String>,
}

/// An NSG rule as shown in a hop.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct RuleView {
    /// NSG name.
    pub nsg: String,
    /// Where it is attached: `subnet vnet/name` or `nic name`.
    pub attached_to: String,
    /// Rule name, or `flow-record` for a stateful pass.
    pub rule: String,
    /// Rule priority (none for a flow record).
    pub priority: Option<u16>,
    /// `inbound` or `outbound`.
    pub direction: &'static str,
    /// `allow` or `deny`.
    pub access: &'static str,
    /// The application security group the rule names as its source, if any [ASG20].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_asg: Option<String>,
    /// The application security group the rule names as its destination, if any [ASG20].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_asg: Option<String>,
}

/// One hop of an explanation.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct HopView {
    /// What happened: send, nsg, route, peering, arrive, forward, gateway, endpoint (a private
    /// endpoint reached), deliver, drop.
    pub kind: &'static str,
    /// Where (VM, subnet, VNet, gateway, site).
    pub at: String,
    /// One line for a person.
    pub detail: String,
    /// The route, for `route` hops.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<RouteView>,
    /// The rule, for `nsg` hops and NSG drops.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<RuleView>,
    /// The firewall rule, for `firewall` hops and firewall drops.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub firewall_rule: Option<FirewallRuleView>,
}

/// An Azure Firewall rule as shown in a hop.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct FirewallRuleView {
    /// Firewall name.
    pub firewall: String,
    /// Policy name (none: the firewall has no policy).
    pub policy: Option<String>,
    /// `dnat`, `network` or `application`; none for a session or the default deny.
    pub kind: Option<&'static str>,
    /// Rule collection group name and priority.
    pub group: Option<(String, u32)>,
    /// Rule collection name and priority.
    pub collection: Option<(String, u32)>,
    /// Rule name, `session` for an established connection, `default-deny` when no rule
    /// matched.
    pub rule: String,
    /// `Allow`, `Deny` or `Dnat`.
    pub action: &'static str,
}

/// A whole explanation of one probe.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Explanation {
    /// Sender name.
    pub from: String,
    /// Receiver name.
    pub to: String,
    /// Protocol.
    pub protocol: &'static str,
    /// Source address.
    pub src_ip: String,
    /// Destination address.
    pub dst_ip: String,
    /// Source port (TCP/UDP).
    pub src_port: Option<u16>,
    /// Destination port (TCP/UDP).
    pub dst_port: Option<u16>,
    /// `delivered` or `dropped`.
    pub verdict: &'static str,
    /// Drop reason, when dropped.
    pub reason: Option<&'static str>,
    /// Where it was delivered.
    pub delivered_to: Option<String>,
    /// Sender, appliances and gateways, receiver.
    pub path: Vec<String>,
    /// Every hop.
    pub hops: Vec<HopView>,
    /// The Azure era the decision followed, and every switch the file set to another value
    /// (`era 2016`, or `era current; differs from the era: global_peering: false`).
    pub azure: String,
}

/// Protocol name in files and reports.
pub fn protocol_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Icmp => "icmp",
    }
}

fn direction_name(d: Direction) -> &'static str {
    match d {
        Direction::Inbound => "inbound",
        Direction::Outbound => "outbound",
    }
}

fn point_name(scenario: &Scenario, point: NsgPoint) -> String {
    match point {
        NsgPoint::Subnet(s) => format!("subnet {}", scenario.subnet_path(s)),
        NsgPoint::Nic(n) => format!("nic {}", scenario.nics[n.index()].name),
    }
}

fn rule_name(scenario: &Scenario, nsg: NsgId, rule: RuleRef) -> (String, u16) {
    match rule {
        RuleRef::User(i) => {
            let r = &scenario.nsgs[nsg.index()].rules[i as usize];
            (r.name.clone(), r.priority)
        }
        RuleRef::Default(d) => (d.name().to_string(), d.priority()),
    }
}

/// The application security groups a user rule names as source and destination [ASG20].
fn rule_asgs(scenario: &Scenario, nsg: NsgId, rule: RuleRef) -> (Option<String>, Option<String>) {
    let RuleRef::User(i) = rule else {
        return (None, None);
    };
    let r = &scenario.nsgs[nsg.index()].rules[i as usize];
    let asg = |entries: &[AddressMatch]| {
        entries.iter().find_map(|e| match e {
            AddressMatch::Asg(a) => scenario
                .application_security_groups
                .get(a.index())
                .map(|g| g.name.clone()),
            _ => None,
        })
    };
    (asg(&r.source), asg(&r.destination))
}

/// ` [source ASG web, destination ASG app]` for a rule naming application security groups, to
/// follow its name in a sentence; empty for any other rule.
fn asg_note(scenario: &Scenario, nsg: NsgId, rule: RuleRef) -> String {
    match rule_asgs(scenario, nsg, rule) {
        (None, None) => String::new(),
        (Some(s), None) => format!(" [source ASG {s}]"),
        (None, Some(d)) => format!(" [destination ASG {d}]"),
        (Some(s), Some(d)) => format!(" [source ASG {s}, destination ASG {d}]"),
    }
}

/// The view of a firewall's decision: a rule, its session (`None` with `session`), or its
/// default deny.
fn firewall_rule_view(
    scenario: &Scenario,
    fw: FirewallId,
    rule: Option<FirewallRuleRef>,
    session: bool,
    access: &'static str,
) -> FirewallRuleView {
    let f = &scenario.firewalls[fw.index()];
    let policy = f.policy.map(|p| &scenario.firewall_policies[p.index()]);
    let mut view = FirewallRuleView {
        firewall: f.name.clone(),
        policy: policy.map(|p| p.name.clone()),
        kind: None,
        group: None,
        collection: None,
        rule: if session { "session" } else { "default-deny" }.to_string(),
        action: access,
    };
    if let (Some(r), Some(p)) = (rule, policy) {
        let g = &p.groups[usize::from(r.group)];
        let c = &g.collections[usize::from(r.collection)];
        view.kind = Some(r.kind.as_str());
        view.group = Some((g.name.clone(), g.priority));
        view.collection = Some((c.name.clone(), c.priority));
        view.rule = c.rules[usize::from(r.rule)].name.clone();
        view.action = c.action.as_str();
    }
    view
}

/// One line naming a firewall rule: `network rule allow-web (collection spokes 200, group
/// hub 100, policy hub-policy)`.
fn firewall_rule_text(v: &FirewallRuleView) -> String {
    match (&v.kind, &v.group, &v.collection) {
        (Some(kind), Some((g, gp)), Some((c, cp))) => format!(
            "{kind} rule {} ({}, collection {c} priority {cp}, group {g} priority {gp}, policy {})",
            v.rule,
            v.action,
            v.policy.as_deref().unwrap_or("-")
        ),
        _ if v.rule == "session" => {
            "an existing session (Azure Firewall is stateful: replies and later packets of an \
             allowed connection pass)"
                .to_string()
        }
        _ => format!(
            "no rule matched{}: Azure Firewall denies by default",
            v.policy
                .as_ref()
                .map(|p| format!(" in policy {p}"))
                .unwrap_or_else(|| " (the firewall has no policy)".to_string())
        ),
    }
}

fn ip_text(a: u32) -> std::net::Ipv4Addr {
    std::net::Ipv4Addr::from(a)
}

/// The route view of route `route` of `subnet`.
pub fn route_view(
    scenario: &Scenario,
    dataplane: &Dataplane,
    subnet: SubnetId,
    route: u32,
) -> RouteView {
    let r = &dataplane.routes(subnet)[route as usize];
    RouteView {
        subnet: scenario.subnet_path(subnet),
        source: r.source.as_str(),
        prefix: r.prefix.to_string(),
        next_hop_type: r.next_hop.as_str(),
        next_hop_ip: r.next_hop_ip.map(|ip| ip.to_string()),
        name: r.name.clone(),
        as_path: route_as_path(scenario, dataplane, r),
    }
}

/// The AS path of a gateway route of a subnet's effective routes, when BGP-learned.
fn route_as_path(
    scenario: &Scenario,
    dataplane: &Dataplane,
    r: &crate::tables::routes::EffectiveRoute,
) -> Option<String> {
    match (r.source, r.target) {
        (
            crate::tables::routes::RouteSource::VirtualNetworkGateway,
            crate::tables::routes::RouteTarget::Gateway { vnet, .. },
        ) => dataplane.as_path(scenario, vnet, r.prefix, r.name.as_deref()),
        _ => None,
    }
}

/// The view of route `route` among the routes private endpoint `pe`'s traffic follows.
pub fn endpoint_route_view(
    scenario: &Scenario,
    dataplane: &Dataplane,
    pe: PrivateEndpointId,
    route: u32,
) -> RouteView {
    let r = &dataplane.private_endpoint_routes(pe)[route as usize];
    let p = &scenario.private_endpoints[pe.index()];
    RouteView {
        subnet: format!(
            "{} (private endpoint {}, without the route table)",
            scenario.subnet_path(p.subnet),
            p.name
        ),
        source: r.source.as_str(),
        prefix: r.prefix.to_string(),
        next_hop_type: r.next_hop.as_str(),
        next_hop_ip: r.next_hop_ip.map(|ip| ip.to_string()),
        name: r.name.clone(),
        as_path: route_as_path(scenario, dataplane, r),
    }
}

/// One line on a route for a hop: `route 10.0.3.4/32 -> InterfaceEndpoint (Default, sql-pe)`,
/// with what a private endpoint's /32 route means.
fn route_text(r: &RouteView) -> String {
    let endpoint = if r.next_hop_type == "InterfaceEndpoint" {
        format!(
            ": the /32 route private endpoint {} adds to its VNet and peered VNets (PENP23); the \
             longest prefix wins over shorter user routes such as 0.0.0.0/0 (next hop type name \
             unconfirmed)",
            r.name.as_deref().unwrap_or("?")
        )
    } else {
        String::new()
    };
    let as_path = r
        .as_path
        .as_ref()
        .map(|p| format!(", BGP AS path {p}"))
        .unwrap_or_default();
    format!(
        "route {} -> {}{} ({}{}){as_path}{endpoint}",
        r.prefix,
        r.next_hop_type,
        r.next_hop_ip
            .as_ref()
            .map(|ip| format!(" {ip}"))
            .unwrap_or_default(),
        r.source,
        r.name
            .as_ref()
            .map(|n| format!(", {n}"))
            .unwrap_or_default(),
    )
}

/// What a private endpoint's subnet network policies do to traffic to it, in a sentence.
fn endpoint_policy_text(scenario: &Scenario, pe: PrivateEndpointId) -> String {
    let p = &scenario.private_endpoints[pe.index()];
    let sub = &scenario.subnets[p.subnet.index()];
    let policies = sub.private_endpoint_network_policies;
    let nsg = sub.nsg.map(|n| scenario.nsgs[n.index()].name.as_str());
    let nsgs = match (policies.nsg(), nsg) {
        (true, Some(n)) => format!("the subnet's NSG {n} filters traffic to it"),
        (true, None) => "the subnet has no NSG".to_string(),
        (false, Some(n)) => {
            format!("the subnet's NSG {n} does not apply: network policies leave out NSGs")
        }
        (false, None) => "no NSG applies".to_string(),
    };
    format!(
        "network policies {} on {}: {nsgs} (PENP23)",
        policies.as_str(),
        scenario.subnet_path(p.subnet)
    )
}

fn vm_of_nic(scenario: &Scenario, nic: vnetsim_scenario::NicId) -> String {
    scenario.vms[scenario.nics[nic.index()].vm.index()]
        .name
        .to_string()
}

/// A sentence naming the Azure rule, setting or route behind a drop.
pub fn cause_text(scenario: &Scenario, dataplane: &Dataplane, cause: &DropCause) -> String {
    let link_name = |l: vnetsim_scenario::PeeringId| scenario.peerings[l.index()].name.clone();
    match *cause {
        DropCause::Nsg {
            point,
            nsg,
            direction,
            rule,
        } => {
            let (name, priority) = rule_name(scenario, nsg, rule);
            format!(
                "denied by NSG {} ({}) {} rule {}{} (priority {})",
                scenario.nsgs[nsg.index()].name,
                point_name(scenario, point),
                direction_name(direction),
                name,
                asg_note(scenario, nsg, rule),
                priority
            )
        }
        DropCause::NoneRoute { subnet, route } => {
            let r = route_view(scenario, dataplane, subnet, route);
            format!(
                "route {} -> None ({}{}) in {}: Azure drops traffic whose next hop is None",
                r.prefix,
                r.source,
                r.name.map(|n| format!(", {n}")).unwrap_or_default(),
                r.subnet
            )
        }
        DropCause::NoMatch { subnet } => {
            format!(
                "no route of {} matches the destination",
                scenario.subnet_path(subnet)
            )
        }
        DropCause::NoGateway { subnet, route } => {
            let r = route_view(scenario, dataplane, subnet, route);
            format!(
                "route {} -> VirtualNetworkGateway in {}, but the VNet has no gateway of its own \
                 and uses no remote gateway",
                r.prefix, r.subnet
            )
        }
        DropCause::NoSite { gateway } => format!(
            "gateway {} has no site-to-site connection whose address space holds the destination, \
             and no VNet peered with its VNet holds it",
            gateway_name(scenario, gateway)
        ),
        DropCause::NotAdvertised { site } => {
            let s = &scenario.sites[site.index()];
            let gw = dataplane.sites[site.index()].gateway_vnet;
            let gw_name = gw.map_or_else(|| "-".to_string(), |g| gateway_name(scenario, g));
            if dataplane.sites[site.index()].reach.is_some() {
                format!(
                    "site {} has no route to it: gateway {gw_name} did not advertise it over BGP \
                     (it advertises its VNet, its spokes, its local network gateways' prefixes \
                     and what it learned except the default route, VPNFAQ26)",
                    s.name
                )
            } else {
                format!(
                    "site {} has no route to it: gateway {gw_name} advertises only its VNet and \
                     the spokes that use it with use_remote_gateways",
                    s.name
                )
            }
        }
        DropCause::NoNic { vnet } => format!(
            "no NIC in VNet {} holds the destination address",
            scenario.vnets[vnet.index()].name
        ),
        DropCause::NoHost { site } => format!(
            "no host at site {} holds the destination address",
            scenario.sites[site.index()].name
        ),
        DropCause::ApplianceUnreachable { subnet, route } => {
            let r = route_view(scenario, dataplane, subnet, route);
            format!(
                "route {} -> VirtualAppliance {} in {}: no NIC in the VNet or a connected peered \
                 VNet holds that IP (peering is not transitive)",
                r.prefix,
                r.next_hop_ip.unwrap_or_default(),
                r.subnet
            )
        }
        DropCause::FlowLimit { nic } => {
            let vm = &scenario.vms[scenario.nics[nic.index()].vm.index()];
            format!(
                "VM {} holds its limit of {} active flows in each direction (a connection uses \
                 one each way at its endpoints, two at an appliance); a new connection is \
                 dropped (Virtual machine network bandwidth)",
                vm.name, vm.flow_limit
            )
        }
        DropCause::NicIpForwardingOff { nic } => format!(
            "NIC {} of {} received a packet not addressed to it and IP forwarding is off \
             (Azure's destination check)",
            scenario.nics[nic.index()].name,
            vm_of_nic(scenario, nic)
        ),
        DropCause::NicSourceCheck { nic } => format!(
            "NIC {} of {} sent a packet with another source address and IP forwarding is off \
             (Azure's source check)",
            scenario.nics[nic.index()].name,
            vm_of_nic(scenario, nic)
        ),
        DropCause::GuestNotForwarding { nic } => format!(
            "VM {} does not forward packets (forwarding: false)",
            vm_of_nic(scenario, nic)
        ),
        DropCause::AccessOff { link } => format!(
            "peering {} has allow_virtual_network_access off (azure.virtual_network_access: block)",
            link_name(link)
        ),
        DropCause::ForwardedOff { link: l } => format!(
            "forwarded traffic (source outside the sending VNet) and peering {} does not set \
             allow_forwarded_traffic",
            link_name(l)
        ),
        DropCause::TtlAtNic { nic } => {
            format!(
                "TTL ran out at appliance {} (a routing loop?)",
                vm_of_nic(scenario, nic)
            )
        }
        DropCause::TtlAtGateway { gateway } => {
            format!("TTL ran out at gateway {}", gateway_name(scenario, gateway))
        }
        DropCause::HopBudget => "more hops than the pipeline allows (a routing loop)".to_string(),
        DropCause::Malformed(m) => format!("not a valid IPv4 packet: {}", m.as_str()),
        DropCause::FromInternet => {
            "sent from the Internet to an address that is no public IP of a NIC or firewall: \
             private addresses are not reachable from the Internet"
                .to_string()
        }
        DropCause::NotCarried(what) => what.describe().to_string(),
        DropCause::Firewall { fw, rule } => {
            let v = firewall_rule_view(scenario, fw, rule, false, "Deny");
            format!(
                "denied by Azure Firewall {}: {}",
                v.firewall,
                firewall_rule_text(&v)
            )
        }
        DropCause::FirewallNoSession { fw } => format!(
            "Azure Firewall {} holds no session for this TCP packet, which opens no connection: \
             the connection did not pass the firewall on its way out (asymmetric routing; the \
             firewall drops return packets of sessions it has not seen)",
            scenario.firewalls[fw.index()].name
        ),
        DropCause::TtlAtFirewall { fw } => format!(
            "TTL ran out at Azure Firewall {}",
            scenario.firewalls[fw.index()].name
        ),
        DropCause::NoOutboundAccess { nic } => {
            let n = &scenario.nics[nic.index()];
            format!(
                "NIC {} of {} sends to the Internet from {}, a private subnet (no default \
                 outbound access), and has no public IP or other explicit outbound method",
                n.name,
                vm_of_nic(scenario, nic),
                scenario.subnet_path(n.subnet)
            )
        }
        DropCause::EndpointRoute { pe, route } => {
            let r = endpoint_route_view(scenario, dataplane, pe, route);
            let p = &scenario.private_endpoints[pe.index()];
            let sub = &scenario.subnets[p.subnet.index()];
            format!(
                "route {} -> {} ({}{}) of private endpoint {}'s answers: they follow the routes \
                 of {} without its route table, as network policies {} leave out route tables \
                 (user-defined routes do not apply to private endpoint traffic, PEFW25), and \
                 that route carries nothing",
                r.prefix,
                r.next_hop_type,
                r.source,
                r.name.map(|n| format!(", {n}")).unwrap_or_default(),
                p.name,
                scenario.subnet_path(p.subnet),
                sub.private_endpoint_network_policies.as_str()
            )
        }
        DropCause::LbNoRule { lb, frontend } => {
            let l = &scenario.load_balancers[lb.index()];
            let fe = &l.frontends[frontend as usize];
            format!(
                "load balancer {} has no rule on frontend {} ({}) for this protocol and port \
                 (only an HA ports rule serves a frontend used as a route's next hop)",
                l.name, fe.name, fe.ip
            )
        }
        DropCause::LbNoHealthyBackend { lb, rule } => {
            let l = &scenario.load_balancers[lb.index()];
            let r = &l.rules[rule as usize];
            let probe = match r.probe {
                Some(p) => {
                    let p = &l.probes[p as usize];
                    format!(
                        "probe {} ({} port {}) from 168.63.129.16 (AzureLoadBalancer)",
                        p.name,
                        p.protocol.as_str(),
                        p.port
                    )
                }
                None => "no probe".to_string(),
            };
            format!(
                "rule {} of load balancer {} has no healthy backend in pool {}: each is marked \
                 down or its NSGs refuse {probe}",
                r.name, l.name, l.pools[r.pool as usize].name
            )
        }
        DropCause::LbGlobalPeering { lb, frontend, from } => {
            let l = &scenario.load_balancers[lb.index()];
            format!(
                "frontend {} of Basic load balancer {} is not reachable over global peering \
                 (from {}, another region); a Standard load balancer's is [LBFAQ26]",
                l.frontends[frontend as usize].name,
                l.name,
                scenario.vnets[from.index()].name
            )
        }
        DropCause::PublicIpClosed { nic } => {
            let n = &scenario.nics[nic.index()];
            format!(
                "the Standard public IP of NIC {} is closed to inbound connections unless an NSG \
                 allows them, and neither the NIC nor {} has an NSG",
                n.name,
                scenario.subnet_path(n.subnet)
            )
        }
        DropCause::LbOwnFrontend { lb, frontend } => {
            let l = &scenario.load_balancers[lb.index()];
            format!(
                "the sender is a backend of internal load balancer {}, and a backend VM cannot \
                 reach its own internal load balancer's frontend {} (LBFAQ26)",
                l.name, l.frontends[frontend as usize].name
            )
        }
        DropCause::LbPublicClosed { lb, frontend, nic } => {
            let l = &scenario.load_balancers[lb.index()];
            let n = &scenario.nics[nic.index()];
            format!(
                "frontend {} of Standard load balancer {} is closed to inbound connections unless                  an NSG allows them (LBSKU23), and its backend {} has no NSG on the NIC nor on {}",
                l.frontends[frontend as usize].name,
                l.name,
                n.name,
                scenario.subnet_path(n.subnet)
            )
        }
        DropCause::SiteNotConnected { site } => format!(
            "site {} has no connection to a gateway now (no `connection`, and no connection \
             entry to it present)",
            scenario.sites[site.index()].name
        ),
    }
}

/// The hop of a gateway forwarding by one of its routes: which connection, static or BGP with
/// its AS path [VPNFAQ26], and which gateway won an equal prefix [ERCOEX18].
fn gateway_route_hop(
    scenario: &Scenario,
    dataplane: &Dataplane,
    vnet: vnetsim_scenario::VnetId,
    route: u32,
) -> HopView {
    use crate::tables::bgp::GatewayNext;
    let r = &dataplane.gateway_routes(vnet)[route as usize];
    let conn = &scenario.connections[r.connection as usize];
    let v = &scenario.vnets[vnet.index()];
    let gw = [v.gateway.as_ref(), v.expressroute.as_ref()]
        .into_iter()
        .flatten()
        .find(|g| g.kind == r.gateway)
        .map_or_else(|| gateway_name(scenario, vnet), |g| g.name.clone());
    let to = match r.next {
        GatewayNext::Site(s) => format!("site {}", scenario.sites[s.index()].name),
        GatewayNext::Gateway(w) => format!(
            "gateway {} of {}",
            gateway_name(scenario, w),
            scenario.vnets[w.index()].name
        ),
    };
    let how = match r.as_path_text() {
        Some(path) => format!("BGP-learned, AS path {path}"),
        None => match r.next {
            GatewayNext::Site(_) => "static: a prefix of the local network gateway".to_string(),
            GatewayNext::Gateway(_) => {
                "static: the address space of the VNet at the other end, no BGP".to_string()
            }
        },
    };
    HopView {
        kind: "gw-route",
        at: gw.clone(),
        detail: format!(
            "gateway {gw} sends it by its route {} over {} connection {} to {to} ({how})",
            r.prefix,
            conn.kind.as_str(),
            conn.name
        ),
        route: Some(RouteView {
            subnet: format!("gateway {gw}"),
            source: "VirtualNetworkGateway",
            prefix: r.prefix.to_string(),
            next_hop_type: "VirtualNetworkGateway",
            next_hop_ip: None,
            name: Some(conn.name.clone()),
            as_path: r.as_path_text(),
        }),
        rule: None,
        firewall_rule: None,
    }
}

fn gateway_name(scenario: &Scenario, vnet: vnetsim_scenario::VnetId) -> String {
    let v = &scenario.vnets[vnet.index()];
    v.gateway
        .as_ref()
        .map(|g| g.name.clone())
        .unwrap_or_else(|| v.name.clone())
}

/// Names every step of a probe's result.
pub fn explain(
    scenario: &Scenario,
    dataplane: &Dataplane,
    probe: &Probe,
    result: &ProbeResult,
) -> Explanation {
    let mut hops = Vec::new();
    for (i, step) in result.steps.iter().enumerate() {
        let mut hop = hop_view(scenario, dataplane, step);
        // Which of two coexisting gateways handled it is read from the steps around it.
        if let Step::Gateway { vnet } = *step
            && let Some(name) = crate::probe::gateway_step_name(scenario, &result.steps, i, vnet)
        {
            hop.at = name;
        }
        if let Step::FromSite { .. } = *step
            && let Some(&Step::Gateway { vnet }) = result.steps.get(i + 1)
            && let Some(name) =
                crate::probe::gateway_step_name(scenario, &result.steps, i + 1, vnet)
        {
            hop.detail = format!("sent from site {} to gateway {name}", hop.at);
        }
        hops.push(hop);
    }
    let has_ports = matches!(probe.protocol, Protocol::Tcp | Protocol::Udp);
    let (verdict, reason, delivered_to) = match result.outcome {
        Outcome::Delivered(to) => ("delivered", None, Some(destination_name(scenario, to))),
        Outcome::Dropped(reason, _) => ("dropped", Some(reason.as_str()), None),
    };
    Explanation {
        from: scenario.endpoint_name(probe.from).to_string(),
        to: scenario.endpoint_name(probe.to).to_string(),
        protocol: protocol_name(probe.protocol),
        src_ip: result.src.to_string(),
        dst_ip: result.dst.to_string(),
        src_port: has_ports.then_some(probe.src_port),
        dst_port: has_ports.then_some(probe.dst_port),
        verdict,
        reason,
        delivered_to,
        path: path_names(scenario, probe, result),
        hops,
        azure: scenario.azure.describe(),
    }
}

fn hop_view(scenario: &Scenario, dataplane: &Dataplane, step: &Step) -> HopView {
    let plain = |kind, at: String, detail: String| HopView {
        kind,
        at,
        detail,
        route: None,
        rule: None,
        firewall_rule: None,
    };
    match *step {
        Step::Send { nic } => {
            let n = &scenario.nics[nic.index()];
            plain(
                "send",
                vm_of_nic(scenario, nic),
                format!(
                    "sent from NIC {} ({}) in {}",
                    n.name,
                    n.ip,
                    scenario.subnet_path(n.subnet)
                ),
            )
        }
        Step::FromSite { site } => {
            let s = &scenario.sites[site.index()];
            let gw = dataplane.sites[site.index()]
                .gateway_vnet
                .map_or_else(|| "-".to_string(), |g| gateway_name(scenario, g));
            plain(
                "send",
                s.name.clone(),
                format!("sent from site {} to gateway {gw}", s.name),
            )
        }
        Step::GatewayRoute { vnet, route } => gateway_route_hop(scenario, dataplane, vnet, route),
        Step::Nsg {
            point,
            nsg,
            direction,
            decision,
        } => {
            let (rule, priority, (source_asg, destination_asg), note) = match decision {
                NsgDecision::Rule(r) => {
                    let (name, p) = rule_name(scenario, nsg, r);
                    (
                        name,
                        Some(p),
                        rule_asgs(scenario, nsg, r),
                        asg_note(scenario, nsg, r),
                    )
                }
                NsgDecision::FlowRecord => {
                    ("flow-record".to_string(), None, (None, None), String::new())
                }
            };
            let nsg_name = scenario.nsgs[nsg.index()].name.clone();
            let detail = match priority {
                Some(p) => format!(
                    "NSG {} ({}) {}: allowed by {}{} (priority {})",
                    nsg_name,
                    point_name(scenario, point),
                    direction_name(direction),
                    rule,
                    note,
                    p
                ),
                None => format!(
                    "NSG {} ({}) {}: allowed by an existing flow record (NSGs are stateful)",
                    nsg_name,
                    point_name(scenario, point),
                    direction_name(direction)
                ),
            };
            HopView {
                firewall_rule: None,
                kind: "nsg",
                at: point_name(scenario, point),
                detail,
                route: None,
                rule: Some(RuleView {
                    nsg: nsg_name,
                    attached_to: point_name(scenario, point),
                    rule,
                    priority,
                    direction: direction_name(direction),
                    access: "allow",
                    source_asg,
                    destination_asg,
                }),
            }
        }
        Step::EndpointRoute { pe, route } => {
            let r = endpoint_route_view(scenario, dataplane, pe, route);
            HopView {
                firewall_rule: None,
                kind: "route",
                at: r.subnet.clone(),
                detail: route_text(&r),
                route: Some(r),
                rule: None,
            }
        }
        Step::PrivateEndpoint { pe } => {
            let p = &scenario.private_endpoints[pe.index()];
            plain(
                "endpoint",
                p.name.to_string(),
                format!(
                    "private endpoint {} ({}) of {} in {}; {}",
                    p.name,
                    p.ip,
                    p.service,
                    scenario.subnet_path(p.subnet),
                    endpoint_policy_text(scenario, pe)
                ),
            )
        }
        Step::EndpointReply { pe } => {
            let p = &scenario.private_endpoints[pe.index()];
            let sub = &scenario.subnets[p.subnet.index()];
            let policies = sub.private_endpoint_network_policies;
            let routes = match sub.route_table {
                None => format!("the routes of {}", scenario.subnet_path(p.subnet)),
                Some(t) if policies.route_table() => format!(
                    "the routes of {} with route table {} (network policies {} include route \
                     tables, PENP23)",
                    scenario.subnet_path(p.subnet),
                    scenario.route_tables[t.index()].name,
                    policies.as_str()
                ),
                Some(t) => format!(
                    "the routes of {} without route table {} (network policies {} leave out \
                     route tables: user-defined routes do not apply to private endpoint \
                     traffic, PEFW25)",
                    scenario.subnet_path(p.subnet),
                    scenario.route_tables[t.index()].name,
                    policies.as_str()
                ),
            };
            plain(
                "send",
                p.name.to_string(),
                format!(
                    "{} answers from private endpoint {} ({}); the answer follows {routes}",
                    p.service, p.name, p.ip
                ),
            )
        }
        Step::Route { subnet, route } => {
            let r = route_view(scenario, dataplane, subnet, route);
            let detail = route_text(&r);
            HopView {
                firewall_rule: None,
                kind: "route",
                at: r.subnet.clone(),
                detail,
                route: Some(r),
                rule: None,
            }
        }
        Step::Peering { from, edge } => {
            let links: Vec<String> = [edge.local, edge.remote]
                .into_iter()
                .flatten()
                .map(|l| {
                    // A link not synced since its remote VNet changed its address space
                    // [update-address-space].
                    let lag = if dataplane.peerings().out_of_sync(l) {
                        ", not synced with the remote address space"
                    } else {
                        ""
                    };
                    format!(
                        "{} ({}{lag})",
                        scenario.peerings[l.index()].name,
                        dataplane.peerings().state(l).as_str()
                    )
                })
                .collect();
            plain(
                "peering",
                format!(
                    "{} -> {}",
                    scenario.vnets[from.index()].name,
                    scenario.vnets[edge.peer.index()].name
                ),
                format!("crossed the peering over links {}", links.join(" and ")),
            )
        }
        Step::Arrive { nic } => {
            let n = &scenario.nics[nic.index()];
            plain(
                "arrive",
                vm_of_nic(scenario, nic),
                format!("arrived at NIC {} ({})", n.name, n.ip),
            )
        }
        Step::Forward { nic, ttl } => plain(
            "forward",
            vm_of_nic(scenario, nic),
            format!(
                "appliance forwards it (IP forwarding on NIC {}), TTL now {}",
                scenario.nics[nic.index()].name,
                ttl
            ),
        ),
        Step::Gateway { vnet } => plain(
            "gateway",
            gateway_name(scenario, vnet),
            format!(
                "virtual network gateway of {}",
                scenario.vnets[vnet.index()].name
            ),
        ),
        Step::Platform { endpoint, tag } => {
            // 168.63.129.16 "isn't subject to user defined routes" [ip-168]; 169.254.169.254
            // is treated the same, derived.
            let routes = match endpoint {
                PlatformEndpoint::HostVip => "user-defined routes do not apply (ip-168)",
                PlatformEndpoint::Imds => {
                    "user-defined routes do not apply (derived: as for 168.63.129.16, ip-168)"
                }
            };
            let nsgs = match tag {
                Some(tag) => format!(
                    "no NSG rule applies unless an outbound rule names {} (nsg-overview)",
                    tag.name()
                ),
                None => "this traffic (not DNS) is covered by no platform tag, so no NSG rule \
                         applies (nsg-overview, ip-168)"
                    .to_string(),
            };
            plain(
                "platform",
                endpoint.name().to_string(),
                format!(
                    "{} is an Azure platform address: {nsgs}, and {routes}",
                    endpoint.address()
                ),
            )
        }
        // A VPN gateway forwarding between VNets peered with its VNet [manage-peering 2022].
        Step::GatewayForward { vnet, to } => {
            let peering = dataplane
                .peerings()
                .edge(vnet, to)
                .map(|e| scenario.peerings[e.name_link().index()].name.as_str())
                .unwrap_or("?");
            plain(
                "gateway",
                gateway_name(scenario, vnet),
                format!(
                    "gateway {} forwards it to {} over peering {} (a VPN gateway forwards \
                     between VNets peered with its VNet; forwarded traffic need not be allowed)",
                    gateway_name(scenario, vnet),
                    scenario.vnets[to.index()].name,
                    peering
                ),
            )
        }
        Step::FromInternet => plain(
            "send",
            "Internet".to_string(),
            "sent from the Internet to a public IP".to_string(),
        ),
        Step::Firewall { fw, decision } => {
            let (rule, session) = match decision {
                FirewallDecision::Session => (None, true),
                FirewallDecision::Rule(r) => (Some(r), false),
            };
            let v = firewall_rule_view(scenario, fw, rule, session, "Allow");
            HopView {
                kind: "firewall",
                at: v.firewall.clone(),
                detail: format!(
                    "Azure Firewall {} ({}): allowed by {}",
                    v.firewall,
                    ip_text(dataplane.firewall(fw).ip),
                    firewall_rule_text(&v)
                ),
                route: None,
                rule: None,
                firewall_rule: Some(v),
            }
        }
        Step::Translate {
            at,
            kind,
            addr,
            port,
        } => {
            let (place, name) = match at {
                NatPoint::Firewall(fw) => {
                    let n = scenario.firewalls[fw.index()].name.clone();
                    (format!("Azure Firewall {n}"), n)
                }
                NatPoint::LoadBalancer(lb) => {
                    let n = scenario.load_balancers[lb.index()].name.clone();
                    (format!("load balancer {n}"), n)
                }
                NatPoint::PublicIp(nic) => {
                    let n = &scenario.nics[nic.index()];
                    (
                        format!("the public IP of NIC {}", n.name),
                        vm_of_nic(scenario, nic),
                    )
                }
            };
            let what = match kind {
                NatKind::Snat => "source",
                NatKind::Dnat => "destination",
            };
            plain(
                "nat",
                name,
                format!("{place} translates the {what} to {}:{port}", ip_text(addr)),
            )
        }
        Step::Deliver {
            to: Destination::PrivateEndpoint(pe),
        } => {
            let p = &scenario.private_endpoints[pe.index()];
            plain(
                "deliver",
                p.name.to_string(),
                format!(
                    "delivered to private endpoint {}: the private-link service {} receives it",
                    p.name, p.service
                ),
            )
        }
        Step::LoadBalancer {
            lb,
            frontend,
            decision,
            rule,
            backend,
        } => {
            let l = &scenario.load_balancers[lb.index()];
            let fe = &l.frontends[frontend as usize];
            let r = &l.rules[rule as usize];
            let b = &scenario.nics[backend.index()];
            let why = match decision {
                LbDecision::Session => format!(
                    "its connection's session (placed by rule {}) keeps backend",
                    r.name
                ),
                LbDecision::Rule(_) => {
                    let ports = if r.is_ha_ports() {
                        "HA ports".to_string()
                    } else {
                        format!(
                            "{} {} -> {}",
                            r.protocol.as_str(),
                            r.frontend_port,
                            r.backend_port
                        )
                    };
                    let healthy = dataplane.lb_healthy_backends(lb, rule).len();
                    format!(
                        "rule {} ({ports}, {} distribution{}) hashes it to backend",
                        r.name,
                        r.distribution.as_str(),
                        if r.floating_ip { ", floating IP" } else { "" }
                    ) + &format!(" (1 of {healthy} healthy)")
                }
            };
            plain(
                "lb",
                l.name.clone(),
                format!(
                    "load balancer {} ({}) frontend {} ({}): {why} {} ({}) of {}",
                    l.name,
                    l.sku.as_str(),
                    fe.name,
                    fe.ip,
                    b.name,
                    b.ip,
                    vm_of_nic(scenario, backend)
                ),
            )
        }
        Step::Deliver { to } => {
            let name = destination_name(scenario, to);
            plain("deliver", name.clone(), format!("delivered to {name}"))
        }
        Step::Drop { reason, cause } => {
            let rule = match cause {
                DropCause::Nsg {
                    point,
                    nsg,
                    direction,
                    rule,
                } => {
                    let (name, p) = rule_name(scenario, nsg, rule);
                    let (source_asg, destination_asg) = rule_asgs(scenario, nsg, rule);
                    Some(RuleView {
                        nsg: scenario.nsgs[nsg.index()].name.clone(),
                        attached_to: point_name(scenario, point),
                        rule: name,
                        priority: Some(p),
                        direction: direction_name(direction),
                        access: "deny",
                        source_asg,
                        destination_asg,
                    })
                }
                _ => None,
            };
            let firewall_rule = match cause {
                DropCause::Firewall { fw, rule } => {
                    Some(firewall_rule_view(scenario, fw, rule, false, "Deny"))
                }
                _ => None,
            };
            let route = match cause {
                DropCause::NoneRoute { subnet, route }
                | DropCause::NoGateway { subnet, route }
                | DropCause::ApplianceUnreachable { subnet, route } => {
                    Some(route_view(scenario, dataplane, subnet, route))
                }
                DropCause::EndpointRoute { pe, route } => {
                    Some(endpoint_route_view(scenario, dataplane, pe, route))
                }
                _ => None,
            };
            HopView {
                kind: "drop",
                at: reason.as_str().to_string(),
                detail: format!(
                    "dropped ({}): {}",
                    reason.as_str(),
                    cause_text(scenario, dataplane, &cause)
                ),
                route,
                rule,
                firewall_rule,
            }
        }
    }
}

/// The explanation as text for a person.
pub fn render_text(e: &Explanation) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let ports = match (e.src_port, e.dst_port) {
        (Some(s), Some(d)) => format!(" {s} -> {d}"),
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "{} ({}) -> {} ({}) {}{}",
        e.from, e.src_ip, e.to, e.dst_ip, e.protocol, ports
    );
    let _ = writeln!(out, "azure: {}", e.azure);
    let width = e.hops.iter().map(|h| h.at.len()).max().unwrap_or(0).min(28);
    for (i, hop) in e.hops.iter().enumerate() {
        let _ = writeln!(
            out,
            "{:>3}. {:<8} {:<width$}  {}",
            i + 1,
            hop.kind,
            hop.at,
            hop.detail
        );
    }
    match (e.verdict, &e.delivered_to, e.reason) {
        ("delivered", Some(to), _) => {
            let _ = writeln!(
                out,
                "verdict: delivered to {to}; path {}",
                e.path.join(" -> ")
            );
        }
        (_, _, Some(reason)) => {
            let _ = writeln!(
                out,
                "verdict: dropped ({reason}); path {}",
                e.path.join(" -> ")
            );
        }
        _ => {}
    }
    out
}
