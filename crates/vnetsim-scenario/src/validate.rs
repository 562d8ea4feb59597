//! Azure validation and name resolution: from the raw file to the dense-id model.
//!
//! What it is for: checking every rule of the scenario contract (each with its own rule code,
//! see [`Rule`]) and building the [`Scenario`] with every name resolved to an id. Every problem
//! is recorded; resolution goes on past errors so one run reports them all. What it is not:
//! YAML parsing (the `load` module) or packet decisions (the data plane).

use std::collections::HashMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde_saphyr::{Location, Spanned};

use crate::diag::Sink;
use crate::diag::nearest;
use crate::rules::Rule;
use crate::model::*;
use crate::raw::*;
use crate::sizes;
use crate::units::{parse_duration, parse_rate};


/// The largest IPv4 packet; a shaping queue must hold at least one.
const MAX_PACKET_BYTES: u64 = 65535;

/// A name index of one kind: name -> (id, location).
type Names<'a> = HashMap<&'a str, (u32, Location)>;

struct Ctx<'a> {
    sink: &'a mut Sink,
}

fn loc<T>(s: &Spanned<T>) -> Location {
    s.referenced
}

impl Ctx<'_> {
    fn err(
        &mut self,
        at: Location,
        path: impl Into<String>,
        rule: Rule,
        message: impl Into<String>,
    ) {
        self.sink.at(at, path, rule, message, None);
    }

    fn err_help(
        &mut self,
        at: Location,
        path: impl Into<String>,
        rule: Rule,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        self.sink.at(at, path, rule, message, Some(help.into()));
    }

    /// Indexes names of one kind, reporting duplicates; the first item gets id 0.
    fn index<'a>(
        &mut self,
        kind: &str,
        items: impl Iterator<Item = (&'a Spanned<String>, String)>,
        names: &mut Names<'a>,
    ) {
        self.index_from(kind, items, names, 0);
    }

    /// Indexes names of one kind, reporting duplicates; the first item gets id `start`.
    fn index_from<'a>(
        &mut self,
        kind: &str,
        items: impl Iterator<Item = (&'a Spanned<String>, String)>,
        names: &mut Names<'a>,
        start: u32,
    ) {
        for (next, (name, path)) in (start..).zip(items) {
            if let Some((_, first)) = names.get(name.value.as_str()) {
                let first_line = first.line();
                self.err(
                    loc(name),
                    path,
                    Rule::DuplicateName,
                    format!(
                        "{kind} name `{}` is already used on line {first_line}; names are unique per kind",
                        name.value
                    ),
                );
            } else {
                names.insert(name.value.as_str(), (next, loc(name)));
            }
        }
    }

    /// Resolves a reference, reporting an unknown name with the nearest known one.
    fn resolve(
        &mut self,
        names: &Names<'_>,
        name: &Spanned<String>,
        path: impl Into<String>,
        rule: Rule,
        kind: &str,
    ) -> Option<u32> {
        if let Some((id, _)) = names.get(name.value.as_str()) {
            return Some(*id);
        }
        let msg = format!("there is no {kind} named `{}`", name.value);
        match nearest(&name.value, names.keys().copied()) {
            Some(best) => self.err_help(
                loc(name),
                path,
                rule,
                msg,
                format!("did you mean `{best}`?"),
            ),
            None => self.err(loc(name), path, rule, msg),
        }
        None
    }

    fn cidr(&mut self, text: &Spanned<String>, path: &str) -> Option<Ipv4Net> {
        let s = text.value.trim();
        let Ok(net) = s.parse::<Ipv4Net>() else {
            self.err_help(
                loc(text),
                path,
                Rule::InvalidCidr,
                format!("`{s}` is not an IPv4 prefix in CIDR notation"),
                "write a prefix such as 10.0.0.0/16",
            );
            return None;
        };
        if net != net.trunc() {
            self.err_help(
                loc(text),
                path,
                Rule::CidrHostBits,
                format!("`{net}` has host bits set; Azure rejects it (InvalidCIDRNotation)"),
                format!("write `{}`", net.trunc()),
            );
            return Some(net.trunc());
        }
        Some(net)
    }

    fn ip(&mut self, text: &Spanned<String>, path: &str) -> Option<Ipv4Addr> {
        let s = text.value.trim();
        match s.parse::<Ipv4Addr>() {
            Ok(ip) => Some(ip),
            Err(_) => {
                self.err(
                    loc(text),
                    path,
                    Rule::InvalidIp,
                    format!("`{s}` is not an IPv4 address"),
                );
                None
            }
        }
    }

    fn duration(&mut self, text: &Spanned<Text>, path: &str) -> Option<Nanos> {
        match parse_duration(&text.value.0) {
            Ok(v) => Some(v),
            Err(e) => {
                self.err(loc(text), path, Rule::InvalidDuration, e);
                None
            }
        }
    }

    fn opt_duration(&mut self, text: Option<&Spanned<Text>>, path: &str, default: Nanos) -> Nanos {
        text.and_then(|t| self.duration(t, path)).unwrap_or(default)
    }

    fn rate(&mut self, text: &Spanned<Text>, path: &str) -> Option<Rate> {
        match parse_rate(&text.value.0) {
            Ok(Rate::BitsPerSecond(0) | Rate::PacketsPerSecond(0)) => {
                self.err(loc(text), path, Rule::InvalidRate, "a rate must be above zero");
                None
            }
            Ok(r) => Some(r),
            Err(e) => {
                self.err(loc(text), path, Rule::InvalidRate, e);
                None
            }
        }
    }

    fn protocol(&mut self, text: &Spanned<String>, path: &str) -> Option<Protocol> {
        match text.value.trim().to_ascii_lowercase().as_str() {
            "tcp" => Some(Protocol::Tcp),
            "udp" => Some(Protocol::Udp),
            "icmp" => Some(Protocol::Icmp),
            _ => {
                self.err(
                    loc(text),
                    path,
                    Rule::InvalidProtocol,
                    format!("`{}` is not a protocol; use tcp, udp or icmp", text.value),
                );
                None
            }
        }
    }
}

/// Parses one NSG address entry.
fn address_match(s: &str) -> Result<AddressMatch, String> {
    let t = s.trim();
    if t == "*" {
        return Ok(AddressMatch::Any);
    }
    for (name, tag) in [
        ("VirtualNetwork", ServiceTag::VirtualNetwork),
        ("Internet", ServiceTag::Internet),
        ("AzureLoadBalancer", ServiceTag::AzureLoadBalancer),
    ] {
        if t.eq_ignore_ascii_case(name) {
            return Ok(AddressMatch::Tag(tag));
        }
    }
    if t.contains('/') {
        let net: Ipv4Net = t
            .parse()
            .map_err(|_| format!("`{t}` is not a CIDR prefix, an IP, \"*\" or a service tag (VirtualNetwork, Internet, AzureLoadBalancer)"))?;
        if net != net.trunc() {
            return Err(format!(
                "`{net}` has host bits set; Azure rejects it (InvalidCIDRNotation); write `{}`",
                net.trunc()
            ));
        }
        return Ok(AddressMatch::Prefix(net));
    }
    t.parse::<Ipv4Addr>()
        .map(|ip| AddressMatch::Prefix(Ipv4Net::from(ip)))
        .map_err(|_| format!("`{t}` is not a CIDR prefix, an IP, \"*\" or a service tag (VirtualNetwork, Internet, AzureLoadBalancer)"))
}

/// Parses one port entry (`*`, `80`, `1000-2000`, or a comma list of these).
fn port_ranges(s: &str) -> Result<Vec<PortRange>, String> {
    let mut out = Vec::new();
    for part in s.split(',') {
        let p = part.trim();
        if p == "*" {
            out.push(PortRange::ANY);
            continue;
        }
        let port = |x: &str| {
            x.trim()
                .parse::<u16>()
                .map_err(|_| format!("`{x}` is not a port (0..65535)"))
        };
        let range = match p.split_once('-') {
            Some((lo, hi)) => PortRange {
                lo: port(lo)?,
                hi: port(hi)?,
            },
            None => {
                let v = port(p)?;
                PortRange { lo: v, hi: v }
            }
        };
        if range.lo > range.hi {
            return Err(format!("port range `{p}` runs backwards"));
        }
        out.push(range);
    }
    Ok(out)
}

fn overlaps(a: Ipv4Net, b: Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// First usable address of a subnet (network + 4).
fn first_usable(net: Ipv4Net) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(net.network()).saturating_add(4))
}

struct VnetInfo {
    classic: bool,
    subscription: u32,
    tenant: String,
    region: String,
}

/// Resolves a whole raw scenario. Problems go to `sink`; the returned scenario is only
/// meaningful when none were recorded.
pub(crate) fn resolve(raw: &RawScenario, sink: &mut Sink) -> Scenario {
    let mut cx = Ctx { sink };
    let cx = &mut cx;
    let mut sc = Scenario {
        name: raw.name.clone(),
        seed: raw.seed,
        ..Scenario::default()
    };
    sc.duration = raw
        .duration
        .as_ref()
        .and_then(|d| cx.duration(d, "duration"));
    sc.azure = AzureSwitches {
        global_peering: raw.azure.global_peering,
        cross_tenant_peering: raw.azure.cross_tenant_peering,
        peering_limit: raw.azure.peering_limit.unwrap_or(500),
        virtual_network_access: match raw.azure.virtual_network_access {
            RawVnetAccessMode::Tag => VirtualNetworkAccessMode::Tag,
            RawVnetAccessMode::Block => VirtualNetworkAccessMode::Block,
        },
        forwarded_traffic: match raw.azure.forwarded_traffic {
            RawForwardedMode::Enforce => ForwardedTrafficMode::Enforce,
            RawForwardedMode::Ignore => ForwardedTrafficMode::Ignore,
        },
    };

    // Subscriptions; "default" in tenant "default" when a VNet needs it and none is declared.
    let mut subs: Names = HashMap::new();
    cx.index(
        "subscription",
        raw.subscriptions
            .iter()
            .enumerate()
            .map(|(i, s)| (&s.name, format!("subscriptions[{i}].name"))),
        &mut subs,
    );
    sc.subscriptions = raw
        .subscriptions
        .iter()
        .map(|s| Subscription {
            name: s.name.value.clone(),
            tenant: s.tenant.clone(),
        })
        .collect();
    let needs_default =
        raw.subscriptions.is_empty() || raw.vnets.iter().any(|v| v.subscription.is_none());
    let default_sub = match subs.get("default") {
        Some((id, _)) => *id,
        None if needs_default => {
            sc.subscriptions.push(Subscription {
                name: "default".into(),
                tenant: "default".into(),
            });
            (sc.subscriptions.len() - 1) as u32
        }
        None => 0,
    };

    // Name indexes of the kinds referenced before they are built.
    let mut nsgs: Names = HashMap::new();
    cx.index(
        "NSG",
        raw.nsgs
            .iter()
            .enumerate()
            .map(|(i, n)| (&n.name, format!("nsgs[{i}].name"))),
        &mut nsgs,
    );
    let mut rts: Names = HashMap::new();
    cx.index(
        "route table",
        raw.route_tables
            .iter()
            .enumerate()
            .map(|(i, n)| (&n.name, format!("route_tables[{i}].name"))),
        &mut rts,
    );
    let mut vnets: Names = HashMap::new();
    cx.index(
        "VNet",
        raw.vnets
            .iter()
            .enumerate()
            .map(|(i, n)| (&n.name, format!("vnets[{i}].name"))),
        &mut vnets,
    );

    // NSGs.
    for (i, n) in raw.nsgs.iter().enumerate() {
        let mut rules = Vec::new();
        let mut rule_names: HashMap<&str, u32> = HashMap::new();
        let mut prios: HashMap<(Direction, i64), u32> = HashMap::new();
        for (j, r) in n.rules.iter().enumerate() {
            let path = format!("nsgs[{i}].rules[{j}]");
            if let Some(line) = rule_names.get(r.name.value.as_str()) {
                cx.err(
                    loc(&r.name),
                    format!("{path}.name"),
                    Rule::NsgRuleDuplicateName,
                    format!(
                        "rule name `{}` is already used on line {line} of NSG `{}`; rule names are unique in an NSG",
                        r.name.value, n.name.value
                    ),
                );
            } else {
                rule_names.insert(&r.name.value, loc(&r.name).line() as u32);
            }
            if let Some(rule) = nsg_rule(cx, r, &path) {
                if let Some(line) = prios.get(&(rule.direction, r.priority.value)) {
                    cx.err(
                        loc(&r.priority),
                        format!("{path}.priority"),
                        Rule::NsgPriorityDuplicate,
                        format!(
                            "priority {} is already used by the {} rule on line {line}; no two rules of an NSG share a priority and a direction",
                            r.priority.value,
                            if rule.direction == Direction::Inbound { "inbound" } else { "outbound" }
                        ),
                    );
                } else {
                    prios.insert(
                        (rule.direction, r.priority.value),
                        loc(&r.priority).line() as u32,
                    );
                }
                rules.push(rule);
            }
        }
        sc.nsgs.push(Nsg {
            name: n.name.value.clone(),
            rules,
        });
    }

    // Route tables.
    for (i, t) in raw.route_tables.iter().enumerate() {
        let mut routes = Vec::new();
        let mut names: Names = HashMap::new();
        cx.index(
            "route",
            t.routes
                .iter()
                .enumerate()
                .map(|(j, r)| (&r.name, format!("route_tables[{i}].routes[{j}].name"))),
            &mut names,
        );
        let mut prefixes: HashMap<Ipv4Net, u64> = HashMap::new();
        for (j, r) in t.routes.iter().enumerate() {
            let path = format!("route_tables[{i}].routes[{j}]");
            let prefix = cx.cidr(&r.prefix, &format!("{path}.prefix"));
            if let Some(p) = prefix {
                if let Some(line) = prefixes.get(&p) {
                    cx.err(
                        loc(&r.prefix),
                        format!("{path}.prefix"),
                        Rule::UdrDuplicatePrefix,
                        format!(
                            "route table `{}` already has a route for {p} (line {line}); a route table holds one route per prefix",
                            t.name.value
                        ),
                    );
                } else {
                    prefixes.insert(p, loc(&r.prefix).line());
                }
            }
            let next_hop = match r.next_hop.value {
                RawNextHop::VnetLocal => NextHopType::VnetLocal,
                RawNextHop::VNetPeering => {
                    cx.err_help(
                        loc(&r.next_hop),
                        format!("{path}.next_hop"),
                        Rule::UdrNextHopPeering,
                        "next hop VNetPeering cannot be set in a route table; Azure creates peering routes itself",
                        "use VirtualAppliance, VirtualNetworkGateway, VnetLocal, Internet or None",
                    );
                    NextHopType::VNetPeering
                }
                RawNextHop::VirtualNetworkGateway => NextHopType::VirtualNetworkGateway,
                RawNextHop::Internet => NextHopType::Internet,
                RawNextHop::VirtualAppliance => NextHopType::VirtualAppliance,
                RawNextHop::None => NextHopType::None,
            };
            let next_hop_ip = match (&r.next_hop_ip, next_hop) {
                (Some(ip), NextHopType::VirtualAppliance) => {
                    cx.ip(ip, &format!("{path}.next_hop_ip"))
                }
                (None, NextHopType::VirtualAppliance) => {
                    cx.err_help(
                        loc(&r.next_hop),
                        format!("{path}.next_hop"),
                        Rule::UdrNextHopIp,
                        "next hop VirtualAppliance needs a next hop IP address",
                        "add `next_hop_ip` with the appliance NIC's private IP",
                    );
                    None
                }
                (Some(ip), other) => {
                    cx.err(
                        loc(ip),
                        format!("{path}.next_hop_ip"),
                        Rule::UdrNextHopIp,
                        format!(
                            "a next hop IP is allowed only with next hop VirtualAppliance, not {}",
                            other.as_str()
                        ),
                    );
                    None
                }
                (None, _) => None,
            };
            if let Some(prefix) = prefix {
                routes.push(UserRoute {
                    name: r.name.value.clone(),
                    prefix,
                    next_hop,
                    next_hop_ip,
                });
            }
        }
        sc.route_tables.push(RouteTable {
            name: t.name.value.clone(),
            disable_gateway_route_propagation: t.disable_gateway_route_propagation,
            routes,
        });
    }

    // VNets, subnets and gateways.
    let mut infos = Vec::new();
    let mut gateways: Names = HashMap::new();
    let mut gateway_names: Vec<(Spanned<String>, String)> = Vec::new();
    for (i, v) in raw.vnets.iter().enumerate() {
        let vid = VnetId(i as u32);
        let subscription = match &v.subscription {
            Some(s) => cx
                .resolve(
                    &subs,
                    s,
                    format!("vnets[{i}].subscription"),
                    Rule::UnknownSubscription,
                    "subscription",
                )
                .unwrap_or(default_sub),
            None => default_sub,
        };
        let tenant = sc
            .subscriptions
            .get(subscription as usize)
            .map(|s| s.tenant.clone())
            .unwrap_or_default();
        let region = v.region.clone().unwrap_or_else(|| "default".into());
        let deployment = match v.deployment {
            RawDeployment::ResourceManager => Deployment::ResourceManager,
            RawDeployment::Classic => Deployment::Classic,
        };
        infos.push(VnetInfo {
            classic: deployment == Deployment::Classic,
            subscription,
            tenant,
            region: region.clone(),
        });
        if v.address_space.is_empty() {
            cx.err(
                loc(&v.name),
                format!("vnets[{i}].address_space"),
                Rule::VnetAddressSpaceEmpty,
                format!(
                    "VNet `{}` has no address range; a VNet needs at least one",
                    v.name.value
                ),
            );
        }
        let mut space: Vec<Ipv4Net> = Vec::new();
        for (k, a) in v.address_space.iter().enumerate() {
            let path = format!("vnets[{i}].address_space[{k}]");
            if let Some(net) = cx.cidr(a, &path) {
                if let Some(other) = space.iter().find(|o| overlaps(**o, net)) {
                    cx.err(
                        loc(a),
                        path,
                        Rule::AddressSpaceOverlap,
                        format!(
                            "{net} overlaps {other}, another range of VNet `{}`; a VNet's address ranges must not overlap",
                            v.name.value
                        ),
                    );
                }
                space.push(net);
            }
        }
        let mut subnet_names: Names = HashMap::new();
        cx.index(
            "subnet",
            v.subnets
                .iter()
                .enumerate()
                .map(|(k, s)| (&s.name, format!("vnets[{i}].subnets[{k}].name"))),
            &mut subnet_names,
        );
        let mut ids = Vec::new();
        let mut prefixes: Vec<(Ipv4Net, String)> = Vec::new();
        let mut gateway_subnet = None;
        for (k, s) in v.subnets.iter().enumerate() {
            let path = format!("vnets[{i}].subnets[{k}]");
            let prefix = cx.cidr(&s.prefix, &format!("{path}.prefix"));
            if let Some(p) = prefix {
                let ppath = format!("{path}.prefix");
                if !(8..=29).contains(&p.prefix_len()) {
                    cx.err(
                        loc(&s.prefix),
                        ppath.clone(),
                        Rule::SubnetPrefixLength,
                        format!(
                            "subnet prefix {p} is /{}; Azure subnets are /8 to /29",
                            p.prefix_len()
                        ),
                    );
                }
                if !space.is_empty() && !space.iter().any(|a| a.contains(&p)) {
                    cx.err(
                        loc(&s.prefix),
                        ppath.clone(),
                        Rule::SubnetOutsideAddressSpace,
                        format!(
                            "subnet prefix {p} is not inside the address space of VNet `{}` ({})",
                            v.name.value,
                            space
                                .iter()
                                .map(|n| n.to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    );
                }
                if let Some((other, name)) = prefixes.iter().find(|(o, _)| overlaps(*o, p)) {
                    cx.err(
                        loc(&s.prefix),
                        ppath,
                        Rule::SubnetOverlap,
                        format!("subnet prefix {p} overlaps {other} of subnet `{name}`; subnets of a VNet must not overlap"),
                    );
                }
                prefixes.push((p, s.name.value.clone()));
            }
            let nsg = s.nsg.as_ref().and_then(|n| {
                cx.resolve(&nsgs, n, format!("{path}.nsg"), Rule::UnknownNsg, "NSG")
                    .map(NsgId)
            });
            let route_table = s.route_table.as_ref().and_then(|n| {
                cx.resolve(
                    &rts,
                    n,
                    format!("{path}.route_table"),
                    Rule::UnknownRouteTable,
                    "route table",
                )
                .map(RouteTableId)
            });
            let sid = SubnetId(sc.subnets.len() as u32);
            if s.name.value == "GatewaySubnet" {
                gateway_subnet = Some((sid, prefix));
            }
            ids.push(sid);
            sc.subnets.push(Subnet {
                name: s.name.value.clone(),
                vnet: vid,
                prefix: prefix.unwrap_or_default(),
                nsg,
                route_table,
            });
        }
        let mut gateway = None;
        if let Some(g) = &v.gateway {
            let list = g.value.as_slice();
            if list.len() > 1 {
                cx.err(
                    loc(g),
                    format!("vnets[{i}].gateway"),
                    Rule::GatewayMultiple,
                    format!("VNet `{}` lists {} gateways; a VNet has at most one virtual network gateway", v.name.value, list.len()),
                );
            }
            let skus: Vec<Option<sizes::GatewaySku>> = list
                .iter()
                .enumerate()
                .map(|(k, gw)| {
                    let path = if list.len() > 1 {
                        format!("vnets[{i}].gateway[{k}].sku")
                    } else {
                        format!("vnets[{i}].gateway.sku")
                    };
                    gateway_sku(cx, &gw.sku, loc(g), path)
                })
                .collect();
            if let Some(first) = list.first() {
                match gateway_subnet {
                    Some((subnet, prefix)) => {
                        gateway = Some(Gateway {
                            name: first.name.clone(),
                            sku: skus
                                .first()
                                .copied()
                                .flatten()
                                .map_or_else(|| first.sku.clone(), |s| s.name.to_owned()),
                            subnet,
                            ip: prefix.map(first_usable).unwrap_or(Ipv4Addr::UNSPECIFIED),
                        });
                    }
                    None => cx.err_help(
                        loc(g),
                        format!("vnets[{i}].gateway"),
                        Rule::GatewaySubnetMissing,
                        format!("VNet `{}` has a gateway but no subnet named GatewaySubnet; Azure places gateways only in GatewaySubnet", v.name.value),
                        "add a subnet `{ name: GatewaySubnet, prefix: ... }` (a /27 is usual)",
                    ),
                }
                for gw in list {
                    gateway_names.push((
                        Spanned::new(gw.name.clone(), loc(g), g.defined),
                        format!("vnets[{i}].gateway"),
                    ));
                }
            }
        }
        sc.vnets.push(Vnet {
            name: v.name.value.clone(),
            subscription: SubscriptionId(subscription),
            region,
            deployment,
            address_space: space,
            subnets: ids,
            gateway,
        });
    }
    // Gateway names: unique; each maps to its VNet.
    {
        let mut seen: HashMap<&str, Location> = HashMap::new();
        for (name, path) in &gateway_names {
            if let Some(first) = seen.get(name.value.as_str()) {
                cx.err(
                    loc(name),
                    path.clone(),
                    Rule::DuplicateName,
                    format!(
                        "gateway name `{}` is already used on line {}; names are unique per kind",
                        name.value,
                        first.line()
                    ),
                );
            } else {
                seen.insert(&name.value, loc(name));
            }
        }
        for (i, v) in sc.vnets.iter().enumerate() {
            if let Some(g) = &v.gateway {
                gateways
                    .entry(g.name.as_str())
                    .or_insert((i as u32, Location::UNKNOWN));
            }
        }
    }

    // VMs and NICs.
    let mut endpoints: Names = HashMap::new();
    let mut nic_names: Names = HashMap::new();
    cx.index(
        "VM",
        raw.vms
            .iter()
            .enumerate()
            .map(|(i, v)| (&v.name, format!("vms[{i}].name"))),
        &mut endpoints,
    );
    cx.index(
        "NIC",
        raw.vms.iter().enumerate().flat_map(|(i, v)| {
            v.nics
                .value
                .iter()
                .enumerate()
                .map(move |(k, n)| (&n.name, format!("vms[{i}].nics[{k}].name")))
        }),
        &mut nic_names,
    );
    let mut ips: HashMap<(VnetId, Ipv4Addr), (String, u64)> = HashMap::new();
    for (i, v) in raw.vms.iter().enumerate() {
        let vm_id = VmId(i as u32);
        let path = format!("vms[{i}]");
        let size = sizes::lookup(&v.size.value);
        if size.is_none() {
            let catalog = sizes::all().iter().map(|s| s.name);
            let msg = format!("VM size `{}` is not in the size catalog", v.size.value);
            match nearest(&v.size.value, catalog) {
                Some(best) => cx.err_help(
                    loc(&v.size),
                    format!("{path}.size"),
                    Rule::UnknownVmSize,
                    msg,
                    format!("did you mean `{best}`?"),
                ),
                None => cx.err_help(
                    loc(&v.size),
                    format!("{path}.size"),
                    Rule::UnknownVmSize,
                    msg,
                    "see data/vm-sizes.csv for the known sizes, or set `bandwidth`",
                ),
            }
        }
        let bandwidth = v.bandwidth.as_ref().and_then(|b| match cx.rate(b, &format!("{path}.bandwidth")) {
            Some(Rate::BitsPerSecond(bps)) => Some(bps),
            Some(Rate::PacketsPerSecond(_)) => {
                cx.err(loc(b), format!("{path}.bandwidth"), Rule::InvalidRate, "a VM's bandwidth is in bits per second (e.g. 1Gbps), not packets per second");
                None
            }
            None => None,
        });
        if let Some(sz) = &size {
            if v.nics.value.len() > sz.max_nics as usize {
                cx.err(
                    loc(&v.nics),
                    format!("{path}.nics"),
                    Rule::VmTooManyNics,
                    format!(
                        "VM `{}` has {} NICs; size {} allows at most {} ({})",
                        v.name.value,
                        v.nics.value.len(),
                        sz.name,
                        sz.max_nics,
                        sz.source
                    ),
                );
            }
            if sz.bandwidth_bps.is_none() && v.bandwidth.is_none() && !raw.traffic.is_empty() {
                cx.err_help(
                    loc(&v.size),
                    format!("{path}.size"),
                    Rule::VmBandwidthUnknown,
                    format!("Azure publishes no network bandwidth for size {} (B-series bandwidth is variable), and the scenario sends traffic", sz.name),
                    "set `bandwidth` on the VM, e.g. `bandwidth: 1Gbps`",
                );
            }
        }
        if v.nics.value.is_empty() {
            cx.err(
                loc(&v.name),
                format!("{path}.nics"),
                Rule::VmNoNic,
                format!(
                    "VM `{}` has no NIC; an Azure VM needs at least one",
                    v.name.value
                ),
            );
        }
        let mut nic_ids = Vec::new();
        let mut first_vnet: Option<VnetId> = None;
        for (k, n) in v.nics.value.iter().enumerate() {
            let npath = format!("{path}.nics[{k}]");
            let (vnet_name, subnet_name, subnet_loc) = match n.subnet.value.split_once('/') {
                Some((vn, sn)) => {
                    if let Some(given) = &n.vnet
                        && given.value != vn
                    {
                        cx.err(
                            loc(given),
                            format!("{npath}.vnet"),
                            Rule::NicVnetMismatch,
                            format!(
                                "NIC `{}` names VNet `{}` but its subnet `{}` is in VNet `{vn}`",
                                n.name.value, given.value, n.subnet.value
                            ),
                        );
                    }
                    (
                        Some(Spanned::new(
                            vn.to_owned(),
                            loc(&n.subnet),
                            n.subnet.defined,
                        )),
                        sn.to_owned(),
                        loc(&n.subnet),
                    )
                }
                None => (n.vnet.clone(), n.subnet.value.clone(), loc(&n.subnet)),
            };
            let vnet = match &vnet_name {
                Some(vn) => cx
                    .resolve(&vnets, vn, format!("{npath}.vnet"), Rule::UnknownVnet, "VNet")
                    .map(VnetId),
                None => {
                    cx.err_help(
                        subnet_loc,
                        format!("{npath}.subnet"),
                        Rule::UnknownSubnet,
                        format!(
                            "subnet `{subnet_name}` of NIC `{}` has no VNet",
                            n.name.value
                        ),
                        "set `vnet` on the NIC or write the subnet as `vnet/subnet`",
                    );
                    None
                }
            };
            let subnet = vnet.and_then(|vid| {
                let found = sc.vnets[vid.index()]
                    .subnets
                    .iter()
                    .copied()
                    .find(|s| sc.subnets[s.index()].name == subnet_name);
                if found.is_none() {
                    let names = sc.vnets[vid.index()]
                        .subnets
                        .iter()
                        .map(|s| sc.subnets[s.index()].name.as_str());
                    let msg = format!(
                        "VNet `{}` has no subnet named `{subnet_name}`",
                        sc.vnets[vid.index()].name
                    );
                    match nearest(&subnet_name, names) {
                        Some(best) => cx.err_help(
                            subnet_loc,
                            format!("{npath}.subnet"),
                            Rule::UnknownSubnet,
                            msg,
                            format!("did you mean `{best}`?"),
                        ),
                        None => {
                            cx.err(subnet_loc, format!("{npath}.subnet"), Rule::UnknownSubnet, msg)
                        }
                    }
                }
                found
            });
            if let (Some(vid), Some(first)) = (vnet, first_vnet)
                && vid != first
            {
                cx.err(
                    subnet_loc,
                    format!("{npath}.subnet"),
                    Rule::VmNicsVnet,
                    format!("NIC `{}` is in VNet `{}` but VM `{}`'s first NIC is in `{}`; all NICs of a VM are in one VNet", n.name.value, sc.vnets[vid.index()].name, v.name.value, sc.vnets[first.index()].name),
                );
            }
            first_vnet = first_vnet.or(vnet);
            let ip = cx.ip(&n.ip, &format!("{npath}.ip"));
            if let (Some(ip), Some(sid)) = (ip, subnet) {
                let prefix = sc.subnets[sid.index()].prefix;
                let ipath = format!("{npath}.ip");
                if prefix.prefix_len() > 0 && !prefix.contains(&ip) {
                    cx.err(
                        loc(&n.ip),
                        ipath,
                        Rule::NicIpOutsideSubnet,
                        format!(
                            "IP {ip} is not inside subnet `{}` ({prefix})",
                            sc.subnet_path(sid)
                        ),
                    );
                } else if prefix.prefix_len() > 0 {
                    let off = u32::from(ip) - u32::from(prefix.network());
                    if off <= 3 || ip == prefix.broadcast() {
                        cx.err_help(
                            loc(&n.ip),
                            ipath,
                            Rule::NicIpReserved,
                            format!("IP {ip} is reserved by Azure in subnet {prefix} (the network address, .1, .2, .3 and the broadcast address are reserved)"),
                            format!("the first usable address is {}", first_usable(prefix)),
                        );
                    }
                }
            }
            if let (Some(ip), Some(vid)) = (ip, vnet) {
                if let Some((other, line)) = ips.get(&(vid, ip)) {
                    cx.err(
                        loc(&n.ip),
                        format!("{npath}.ip"),
                        Rule::DuplicateIp,
                        format!(
                            "IP {ip} is already held by NIC `{other}` (line {line}) in VNet `{}`",
                            sc.vnets[vid.index()].name
                        ),
                    );
                } else {
                    ips.insert((vid, ip), (n.name.value.clone(), loc(&n.ip).line()));
                }
            }
            let nsg = n.nsg.as_ref().and_then(|x| {
                cx.resolve(&nsgs, x, format!("{npath}.nsg"), Rule::UnknownNsg, "NSG")
                    .map(NsgId)
            });
            let nid = NicId(sc.nics.len() as u32);
            nic_ids.push(nid);
            sc.nics.push(Nic {
                name: n.name.value.clone(),
                vm: vm_id,
                vnet: vnet.unwrap_or(VnetId(0)),
                subnet: subnet.unwrap_or(SubnetId(0)),
                ip: ip.unwrap_or(Ipv4Addr::UNSPECIFIED),
                ip_forwarding: n.ip_forwarding,
                nsg,
            });
        }
        sc.vms.push(Vm {
            name: v.name.value.as_str().into(),
            size: size.map_or_else(|| v.size.value.clone(), |s| s.name.to_owned()),
            bandwidth,
            forwarding: v.forwarding,
            nics: nic_ids,
        });
    }

    // Peerings.
    let mut peering_names: Names = HashMap::new();
    cx.index(
        "peering",
        raw.peerings
            .iter()
            .enumerate()
            .map(|(i, p)| (&p.name, format!("peerings[{i}].name"))),
        &mut peering_names,
    );
    let mut links: HashMap<(u32, u32), u64> = HashMap::new();
    let mut owned: HashMap<u32, u32> = HashMap::new();
    let mut remote_gw_users: HashMap<u32, u64> = HashMap::new();
    let resolved: Vec<Option<(u32, u32)>> = raw
        .peerings
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let a = cx.resolve(
                &vnets,
                &p.from,
                format!("peerings[{i}].from"),
                Rule::UnknownVnet,
                "VNet",
            );
            let b = cx.resolve(
                &vnets,
                &p.to,
                format!("peerings[{i}].to"),
                Rule::UnknownVnet,
                "VNet",
            );
            a.zip(b)
        })
        .collect();
    for (i, p) in raw.peerings.iter().enumerate() {
        let transit = p.allow_gateway_transit.as_ref().is_some_and(|s| s.value);
        let use_remote = p.use_remote_gateways.as_ref().is_some_and(|s| s.value);
        if let Some((a, b)) = resolved[i] {
            peering_rules(
                cx,
                &sc,
                &infos,
                raw,
                &resolved,
                i,
                a,
                b,
                &mut links,
                &mut owned,
                &mut remote_gw_users,
            );
        }
        sc.peerings.push(Peering {
            name: p.name.value.clone(),
            from: VnetId(resolved[i].map_or(0, |r| r.0)),
            to: VnetId(resolved[i].map_or(0, |r| r.1)),
            allow_virtual_network_access: p.allow_virtual_network_access.unwrap_or(true),
            allow_forwarded_traffic: p.allow_forwarded_traffic,
            allow_gateway_transit: transit,
            use_remote_gateways: use_remote,
        });
    }

    udr_gateway_kind(cx, &sc, raw, &resolved);

    // Sites and hosts.
    let mut site_names: Names = HashMap::new();
    cx.index(
        "site",
        raw.on_premises
            .iter()
            .enumerate()
            .map(|(i, s)| (&s.name, format!("on_premises[{i}].name"))),
        &mut site_names,
    );
    cx.index_from(
        "VM or host",
        raw.on_premises.iter().enumerate().flat_map(|(i, s)| {
            s.hosts
                .iter()
                .enumerate()
                .map(move |(k, h)| (&h.name, format!("on_premises[{i}].hosts[{k}].name")))
        }),
        &mut endpoints,
        raw.vms.len() as u32,
    );
    for (i, s) in raw.on_premises.iter().enumerate() {
        let path = format!("on_premises[{i}]");
        let space: Vec<Ipv4Net> = s
            .address_space
            .iter()
            .enumerate()
            .filter_map(|(k, a)| cx.cidr(a, &format!("{path}.address_space[{k}]")))
            .collect();
        let connection = if let Some((v, _)) = gateways.get(s.connection.value.as_str()) {
            Some(VnetId(*v))
        } else if let Some((v, _)) = vnets.get(s.connection.value.as_str()) {
            if sc.vnets[*v as usize].gateway.is_none() {
                cx.err_help(
                    loc(&s.connection),
                    format!("{path}.connection"),
                    Rule::SiteConnectionNoGateway,
                    format!("VNet `{}` has no virtual network gateway; a site-to-site connection ends on a VNet gateway", s.connection.value),
                    "add a `gateway` (and a GatewaySubnet) to the VNet",
                );
            }
            Some(VnetId(*v))
        } else {
            cx.resolve(
                &gateways,
                &s.connection,
                format!("{path}.connection"),
                Rule::UnknownConnection,
                "gateway or VNet",
            );
            None
        };
        let latency = cx.opt_duration(s.latency.as_ref(), &format!("{path}.latency"), 5_000_000);
        let site_id = SiteId(i as u32);
        let mut host_ids = Vec::new();
        for (k, h) in s.hosts.iter().enumerate() {
            let hpath = format!("{path}.hosts[{k}].ip");
            let ip = cx.ip(&h.ip, &hpath);
            if let Some(ip) = ip
                && !space.is_empty()
                && !space.iter().any(|n| n.contains(&ip))
            {
                cx.err(
                    loc(&h.ip),
                    hpath,
                    Rule::HostOutsideSite,
                    format!(
                        "host IP {ip} is not inside the address space of site `{}`",
                        s.name.value
                    ),
                );
            }
            host_ids.push(HostId(sc.hosts.len() as u32));
            sc.hosts.push(Host {
                name: h.name.value.as_str().into(),
                site: site_id,
                ip: ip.unwrap_or(Ipv4Addr::UNSPECIFIED),
            });
        }
        sc.sites.push(Site {
            name: s.name.value.clone(),
            address_space: space,
            connection: connection.unwrap_or(VnetId(0)),
            latency,
            hosts: host_ids,
        });
    }

    // Latency.
    let d = LatencyModel::default();
    sc.latency = LatencyModel {
        host_to_host: cx.opt_duration(
            raw.latency.host_to_host.as_ref(),
            "latency.host_to_host",
            d.host_to_host,
        ),
        appliance: cx.opt_duration(
            raw.latency.appliance.as_ref(),
            "latency.appliance",
            d.appliance,
        ),
        gateway: cx.opt_duration(raw.latency.gateway.as_ref(), "latency.gateway", d.gateway),
        jitter: cx.opt_duration(raw.latency.jitter.as_ref(), "latency.jitter", d.jitter),
    };
    sc.shaping = shaping(cx, &raw.shaping);
    sc.pricing = pricing(cx, &raw.pricing);

    // Traffic.
    let mut flows: Names = HashMap::new();
    cx.index(
        "flow",
        raw.traffic
            .iter()
            .enumerate()
            .map(|(i, f)| (&f.name, format!("traffic[{i}].name"))),
        &mut flows,
    );
    for (i, f) in raw.traffic.iter().enumerate() {
        let path = format!("traffic[{i}]");
        let from = endpoint(cx, &endpoints, raw, &f.from, &format!("{path}.from"));
        let to = endpoint(cx, &endpoints, raw, &f.to, &format!("{path}.to"));
        let protocol = cx.protocol(&f.protocol, &format!("{path}.protocol"));
        if protocol == Some(Protocol::Icmp) {
            for (p, name) in [(&f.src_port, "src_port"), (&f.dst_port, "dst_port")] {
                if let Some(p) = p {
                    cx.err(
                        loc(p),
                        format!("{path}.{name}"),
                        Rule::IcmpPorts,
                        "ICMP has no ports; set src_port and dst_port only for tcp or udp",
                    );
                }
            }
        }
        let rate = cx.rate(&f.rate, &format!("{path}.rate"));
        let min = if protocol == Some(Protocol::Tcp) {
            40
        } else {
            28
        };
        let size = f.packet_size.value;
        if size < min || size > 65535 {
            cx.err(
                loc(&f.packet_size),
                format!("{path}.packet_size"),
                Rule::PacketSize,
                if size > 65535 {
                    format!("packet size {size} is over 65535, the largest IPv4 packet")
                } else {
                    format!(
                        "packet size {size} is under the {min} bytes of the IPv4 and {} headers",
                        if min == 40 { "TCP" } else { "UDP/ICMP" }
                    )
                },
            );
        }
        let start = cx.opt_duration(f.start.as_ref(), &format!("{path}.start"), 0);
        let duration = f
            .duration
            .as_ref()
            .and_then(|d| cx.duration(d, &format!("{path}.duration")));
        sc.traffic.push(Flow {
            name: f.name.value.as_str().into(),
            from: from.unwrap_or(Endpoint::Ip(Ipv4Addr::UNSPECIFIED)),
            to: to.unwrap_or(Endpoint::Ip(Ipv4Addr::UNSPECIFIED)),
            protocol: protocol.unwrap_or(Protocol::Udp),
            src_port: f.src_port.as_ref().map(|p| p.value),
            dst_port: f.dst_port.as_ref().map(|p| p.value),
            rate: rate.unwrap_or(Rate::PacketsPerSecond(1)),
            packet_size: u16::try_from(size).unwrap_or(u16::MAX),
            start,
            duration,
            pattern: match f.pattern {
                RawPattern::Constant => Pattern::Constant,
                RawPattern::Poisson => Pattern::Poisson,
            },
            reply: f.reply,
            line: loc(&f.name).line() as u32,
        });
    }

    // Events.
    let all_nics = nic_names;
    for (i, e) in raw.events.iter().enumerate() {
        let path = format!("events[{i}]");
        if let Some(ev) = event(
            cx,
            &sc,
            e,
            &path,
            &peering_names,
            &vnets,
            &nsgs,
            &rts,
            &all_nics,
        ) {
            sc.events.push(ev);
        }
    }

    // Expectations.
    for (i, e) in raw.expect.iter().enumerate() {
        let path = format!("expect[{i}]");
        if let Some(x) = expectation(cx, raw, &endpoints, &flows, e, &path) {
            sc.expectations.push(x);
        }
    }
    sc
}

/// Looks a gateway SKU up in the catalog, reporting an unknown one (at `at`, the gateway entry:
/// positions inside a one-or-many value are not kept) with the nearest known name.
fn gateway_sku(
    cx: &mut Ctx<'_>,
    sku: &str,
    at: Location,
    path: String,
) -> Option<sizes::GatewaySku> {
    let found = sizes::gateway_sku(sku);
    if found.is_none() {
        let catalog = sizes::gateway_skus().iter().map(|s| s.name);
        let msg = format!("gateway SKU `{}` is not in the gateway SKU catalog", sku);
        match nearest(sku, catalog) {
            Some(best) => cx.err_help(
                at,
                path,
                Rule::UnknownGatewaySku,
                msg,
                format!("did you mean `{best}`?"),
            ),
            None => {
                let names: Vec<&str> = sizes::gateway_skus().iter().map(|s| s.name).collect();
                cx.err_help(
                    at,
                    path,
                    Rule::UnknownGatewaySku,
                    msg,
                    format!("known SKUs: {}", names.join(", ")),
                );
            }
        }
    }
    found
}

/// The `shaping` section: sizes above zero, a queue that holds the largest packet.
fn shaping(cx: &mut Ctx<'_>, raw: &RawShaping) -> Shaping {
    let d = Shaping::default();
    let mut size = |field: &Option<Spanned<u64>>, name: &str, default: u64| -> u64 {
        let Some(v) = field else {
            return default;
        };
        let path = format!("shaping.{name}");
        if v.value == 0 {
            cx.err(
                loc(v),
                path,
                Rule::ShapingSizeZero,
                format!("`{name}` is 0; shaping sizes are bytes above zero"),
            );
            return default;
        }
        if name == "queue_bytes" && v.value < MAX_PACKET_BYTES {
            cx.err_help(
                loc(v),
                path,
                Rule::ShapingQueueTooSmall,
                format!(
                    "a shaping queue of {} bytes cannot hold the largest IPv4 packet ({MAX_PACKET_BYTES} bytes)",
                    v.value
                ),
                format!("set `queue_bytes` to {MAX_PACKET_BYTES} or more (default {default})"),
            );
            return default;
        }
        v.value
    };
    Shaping {
        queue_bytes: size(&raw.queue_bytes, "queue_bytes", d.queue_bytes),
        burst_bytes: size(&raw.burst_bytes, "burst_bytes", d.burst_bytes),
    }
}

/// The `pricing` section: finite prices, zero or more.
fn pricing(cx: &mut Ctx<'_>, raw: &RawPricing) -> Pricing {
    let d = Pricing::default();
    let mut price = |field: &Option<Spanned<f64>>, name: &str, default: f64| -> f64 {
        match field {
            None => default,
            Some(v) if v.value.is_finite() && v.value >= 0.0 => v.value,
            Some(v) => {
                cx.err(
                    loc(v),
                    format!("pricing.{name}"),
                    Rule::InvalidPrice,
                    format!(
                        "`{name}` is {}; a price is a finite number of US dollars per GB, zero or more",
                        v.value
                    ),
                );
                default
            }
        }
    };
    Pricing {
        peering_egress_per_gb: price(
            &raw.peering_egress_per_gb,
            "peering_egress_per_gb",
            d.peering_egress_per_gb,
        ),
        peering_ingress_per_gb: price(
            &raw.peering_ingress_per_gb,
            "peering_ingress_per_gb",
            d.peering_ingress_per_gb,
        ),
    }
}

/// Refuses user routes to VirtualNetworkGateway in subnets whose gateway (the VNet's own, or the
/// remote one reached through `use_remote_gateways`) is an ExpressRoute gateway. Azure
/// (udr-overview): the gateway of such a route must be of type VPN; ExpressRoute learns custom
/// routes through BGP only. Each route is reported once, naming the first such subnet.
fn udr_gateway_kind(
    cx: &mut Ctx<'_>,
    sc: &Scenario,
    raw: &RawScenario,
    resolved: &[Option<(u32, u32)>],
) {
    let gateway_of = |vnet: VnetId| -> Option<&Gateway> {
        if let Some(g) = &sc.vnets[vnet.index()].gateway {
            return Some(g);
        }
        raw.peerings
            .iter()
            .zip(resolved)
            .filter(|(p, _)| p.use_remote_gateways.as_ref().is_some_and(|s| s.value))
            .filter_map(|(_, r)| *r)
            .filter(|(a, _)| *a == vnet.0)
            .find_map(|(_, b)| sc.vnets[b as usize].gateway.as_ref())
    };
    let mut reported = std::collections::HashSet::new();
    for (sid, subnet) in sc.subnets.iter().enumerate() {
        let Some(rt) = subnet.route_table else {
            continue;
        };
        let Some(gw) = gateway_of(subnet.vnet) else {
            continue;
        };
        let Some(sku) = sizes::gateway_sku(&gw.sku) else {
            continue;
        };
        if sku.kind != sizes::GatewayKind::ExpressRoute {
            continue;
        }
        let Some(table) = raw.route_tables.get(rt.index()) else {
            continue;
        };
        for (j, r) in table.routes.iter().enumerate() {
            if r.next_hop.value != RawNextHop::VirtualNetworkGateway
                || !reported.insert((rt.index(), j))
            {
                continue;
            }
            cx.err_help(
                loc(&r.next_hop),
                format!("route_tables[{}].routes[{j}].next_hop", rt.index()),
                Rule::UdrGatewayExpressroute,
                format!(
                    "route `{}` of route table `{}` points to VirtualNetworkGateway, but subnet `{}` reaches ExpressRoute gateway `{}` ({}); a user-defined route may point only to a VPN gateway",
                    r.name.value,
                    table.name.value,
                    sc.subnet_path(SubnetId(sid as u32)),
                    gw.name,
                    sku.name
                ),
                "ExpressRoute gateways take their routes from BGP; use a VPN gateway SKU or remove the route",
            );
        }
    }
}

/// The checks of one peering link `a -> b` (index `i`).
#[allow(clippy::too_many_arguments)]
fn peering_rules(
    cx: &mut Ctx<'_>,
    sc: &Scenario,
    infos: &[VnetInfo],
    raw: &RawScenario,
    resolved: &[Option<(u32, u32)>],
    i: usize,
    a: u32,
    b: u32,
    links: &mut HashMap<(u32, u32), u64>,
    owned: &mut HashMap<u32, u32>,
    remote_gw_users: &mut HashMap<u32, u64>,
) {
    let p = &raw.peerings[i];
    let path = format!("peerings[{i}]");
    let (va, vb) = (&sc.vnets[a as usize], &sc.vnets[b as usize]);
    let (ia, ib) = (&infos[a as usize], &infos[b as usize]);
    if a == b {
        cx.err(
            loc(&p.to),
            format!("{path}.to"),
            Rule::PeeringSelf,
            format!(
                "peering `{}` links VNet `{}` to itself; a VNet cannot peer with itself",
                p.name.value, va.name
            ),
        );
        return;
    }
    if let Some(line) = links.get(&(a, b)) {
        cx.err(loc(&p.name), format!("{path}.name"), Rule::PeeringDuplicateLink, format!("a link from `{}` to `{}` already exists (line {line}); Azure holds one peering per direction", va.name, vb.name));
    } else {
        links.insert((a, b), loc(&p.name).line());
    }
    let n = owned.entry(a).or_insert(0);
    *n += 1;
    if *n == sc.azure.peering_limit.saturating_add(1) {
        cx.err(
            loc(&p.name),
            format!("{path}.name"),
            Rule::PeeringLimit,
            format!(
                "VNet `{}` holds more than {} peering links (azure.peering_limit)",
                va.name, sc.azure.peering_limit
            ),
        );
    }
    let cross_model = ia.classic != ib.classic;
    if ia.classic && ib.classic {
        cx.err(
            loc(&p.from),
            format!("{path}.from"),
            Rule::PeeringClassicClassic,
            format!(
                "`{}` and `{}` are both classic VNets; two classic VNets cannot peer",
                va.name, vb.name
            ),
        );
    } else if ia.classic {
        cx.err_help(
            loc(&p.from),
            format!("{path}.from"),
            Rule::PeeringFromClassic,
            format!("VNet `{}` is classic and owns no peering link; only the Resource Manager side creates one", va.name),
            format!("keep only the link from `{}` to `{}`", vb.name, va.name),
        );
    }
    if cross_model && ia.subscription != ib.subscription {
        cx.err(loc(&p.to), format!("{path}.to"), Rule::PeeringClassicSubscription, format!("a classic and a Resource Manager VNet peer only inside one subscription; `{}` and `{}` are in different subscriptions", va.name, vb.name));
    }
    if ia.region != ib.region && !sc.azure.global_peering {
        cx.err_help(
            loc(&p.to),
            format!("{path}.to"),
            Rule::PeeringCrossRegion,
            format!(
                "`{}` is in region `{}` and `{}` in `{}`; peerings stay inside one region",
                va.name, ia.region, vb.name, ib.region
            ),
            "set `azure.global_peering: true` for Global VNet Peering (2018+)",
        );
    }
    if ia.tenant != ib.tenant && !sc.azure.cross_tenant_peering {
        cx.err_help(
            loc(&p.to),
            format!("{path}.to"),
            Rule::PeeringCrossTenant,
            format!(
                "`{}` is in tenant `{}` and `{}` in `{}`; peered VNets share an AD tenant",
                va.name, ia.tenant, vb.name, ib.tenant
            ),
            "set `azure.cross_tenant_peering: true` (2019+)",
        );
    }
    'overlap: for x in &va.address_space {
        for y in &vb.address_space {
            if overlaps(*x, *y) {
                cx.err(loc(&p.to), format!("{path}.to"), Rule::PeeringAddressOverlap, format!("{x} of `{}` overlaps {y} of `{}`; peered VNets' address spaces must not overlap", va.name, vb.name));
                break 'overlap;
            }
        }
    }
    let transit = p.allow_gateway_transit.as_ref().filter(|s| s.value);
    let use_remote = p.use_remote_gateways.as_ref().filter(|s| s.value);
    if cross_model {
        for (flag, name) in [
            (transit, "allow_gateway_transit"),
            (use_remote, "use_remote_gateways"),
        ] {
            if let Some(f) = flag {
                cx.err(loc(f), format!("{path}.{name}"), Rule::GatewayTransitCrossModel, format!("gateway transit does not work between classic and Resource Manager VNets (`{}` and `{}`)", va.name, vb.name));
            }
        }
        return;
    }
    if let Some(f) = use_remote {
        let fpath = format!("{path}.use_remote_gateways");
        if let Some(line) = remote_gw_users.get(&a) {
            cx.err(loc(f), fpath.clone(), Rule::UseRemoteGatewaysMultiple, format!("VNet `{}` already uses a remote gateway through the peering on line {line}; only one peering of a VNet may set use_remote_gateways", va.name));
        } else {
            remote_gw_users.insert(a, loc(f).line());
        }
        if va.gateway.is_some() {
            cx.err(loc(f), fpath.clone(), Rule::UseRemoteGatewaysLocalGateway, format!("VNet `{}` has its own gateway; a VNet uses either its own gateway or a remote one", va.name));
        }
        if vb.gateway.is_none() {
            cx.err(
                loc(f),
                fpath.clone(),
                Rule::UseRemoteGatewaysNoRemoteGateway,
                format!(
                    "use_remote_gateways needs a gateway in `{}`, which has none",
                    vb.name
                ),
            );
        }
        let back = raw.peerings.iter().zip(resolved).any(|(q, r)| {
            *r == Some((b, a)) && q.allow_gateway_transit.as_ref().is_some_and(|s| s.value)
        });
        if !back {
            cx.err_help(loc(f), fpath, Rule::UseRemoteGatewaysNoTransit, format!("use_remote_gateways needs the link from `{}` to `{}` with allow_gateway_transit", vb.name, va.name), format!("add or update the peering from `{}` to `{}` with `allow_gateway_transit: true`", vb.name, va.name));
        }
    }
}

fn endpoint(
    cx: &mut Ctx<'_>,
    endpoints: &Names<'_>,
    raw: &RawScenario,
    name: &Spanned<String>,
    path: &str,
) -> Option<Endpoint> {
    let vms = raw.vms.len() as u32;
    if let Some((id, _)) = endpoints.get(name.value.as_str()) {
        return Some(if *id < vms {
            Endpoint::Vm(VmId(*id))
        } else {
            Endpoint::Host(HostId(*id - vms))
        });
    }
    if let Ok(ip) = name.value.trim().parse::<Ipv4Addr>() {
        return Some(Endpoint::Ip(ip));
    }
    cx.resolve(
        endpoints,
        name,
        path,
        Rule::UnknownEndpoint,
        "VM or host (and it is not an IPv4 address)",
    );
    None
}

fn nsg_rule(cx: &mut Ctx<'_>, r: &RawNsgRule, path: &str) -> Option<NsgRule> {
    let mut ok = true;
    if !(100..=4096).contains(&r.priority.value) {
        cx.err(
            loc(&r.priority),
            format!("{path}.priority"),
            Rule::NsgPriorityRange,
            format!(
                "priority {} is outside 100..4096, the range of NSG user rules",
                r.priority.value
            ),
        );
        ok = false;
    }
    let protocol = if r.protocol.value.trim() == "*" {
        Some(RuleProtocol::Any)
    } else {
        cx.protocol(&r.protocol, &format!("{path}.protocol"))
            .map(RuleProtocol::One)
    };
    let addresses = |field: &Option<Spanned<OneOrMany<String>>>,
                     name: &str,
                     cx: &mut Ctx<'_>|
     -> Option<Vec<AddressMatch>> {
        let Some(f) = field else {
            return Some(vec![AddressMatch::Any]);
        };
        let mut out = Vec::new();
        for s in f.value.as_slice() {
            match address_match(s) {
                Ok(m) => out.push(m),
                Err(e) => {
                    cx.err(loc(f), format!("{path}.{name}"), Rule::InvalidAddress, e);
                    return None;
                }
            }
        }
        if out.is_empty() {
            cx.err(
                loc(f),
                format!("{path}.{name}"),
                Rule::InvalidAddress,
                "the list is empty; use \"*\" for any address",
            );
            return None;
        }
        Some(out)
    };
    let source = addresses(&r.source, "source", cx);
    let destination = addresses(&r.destination, "destination", cx);
    let ports = |field: &Option<Spanned<OneOrMany<Text>>>,
                 name: &str,
                 cx: &mut Ctx<'_>|
     -> Option<Vec<PortRange>> {
        let Some(f) = field else {
            return Some(vec![PortRange::ANY]);
        };
        let mut out = Vec::new();
        for s in f.value.as_slice() {
            match port_ranges(&s.0) {
                Ok(m) => out.extend(m),
                Err(e) => {
                    cx.err(loc(f), format!("{path}.{name}"), Rule::InvalidPort, e);
                    return None;
                }
            }
        }
        if out.is_empty() {
            cx.err(
                loc(f),
                format!("{path}.{name}"),
                Rule::InvalidPort,
                "the list is empty; use \"*\" for any port",
            );
            return None;
        }
        Some(out)
    };
    let source_ports = ports(&r.source_ports, "source_ports", cx);
    let destination_ports = ports(&r.destination_ports, "destination_ports", cx);
    if !ok {
        return None;
    }
    Some(NsgRule {
        name: r.name.value.clone(),
        priority: u16::try_from(r.priority.value).ok()?,
        direction: match r.direction {
            RawDirection::Inbound => Direction::Inbound,
            RawDirection::Outbound => Direction::Outbound,
        },
        access: match r.access {
            RawAccess::Allow => Access::Allow,
            RawAccess::Deny => Access::Deny,
        },
        protocol: protocol?,
        source: source?,
        source_ports: source_ports?,
        destination: destination?,
        destination_ports: destination_ports?,
    })
}

fn subnet_by_path(
    cx: &mut Ctx<'_>,
    sc: &Scenario,
    name: &Spanned<String>,
    path: &str,
) -> Option<SubnetId> {
    let found = sc.subnet_by_path(&name.value);
    if found.is_none() {
        let all: Vec<String> = (0..sc.subnets.len())
            .map(|i| sc.subnet_path(SubnetId(i as u32)))
            .collect();
        let msg = format!(
            "there is no subnet `{}` (write subnets as `vnet/subnet`)",
            name.value
        );
        match nearest(&name.value, all.iter().map(String::as_str)) {
            Some(best) => cx.err_help(
                loc(name),
                path,
                Rule::UnknownSubnet,
                msg,
                format!("did you mean `{best}`?"),
            ),
            None => cx.err(loc(name), path, Rule::UnknownSubnet, msg),
        }
    }
    found
}

#[allow(clippy::too_many_arguments)]
fn event(
    cx: &mut Ctx<'_>,
    sc: &Scenario,
    e: &Spanned<RawEvent>,
    path: &str,
    peerings: &Names<'_>,
    vnets: &Names<'_>,
    nsgs: &Names<'_>,
    rts: &Names<'_>,
    nics: &Names<'_>,
) -> Option<Event> {
    let ev = &e.value;
    let at = cx.opt_duration(ev.at.as_ref(), &format!("{path}.at"), 0);
    let count = [
        ev.remove_peering.is_some(),
        ev.add_peering.is_some(),
        ev.set_route_table.is_some(),
        ev.set_subnet_nsg.is_some(),
        ev.set_nic_nsg.is_some(),
        ev.add_nsg_rule.is_some(),
        ev.remove_nsg_rule.is_some(),
        ev.set_ip_forwarding.is_some(),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    if count != 1 {
        cx.err_help(
            loc(e),
            path,
            Rule::EventAction,
            format!("an event has exactly one action, this one has {count}"),
            "actions: remove_peering, add_peering, set_route_table, set_subnet_nsg, set_nic_nsg, add_nsg_rule, remove_nsg_rule, set_ip_forwarding",
        );
        return None;
    }
    let action = if let Some(name) = &ev.remove_peering {
        EventAction::RemovePeering(PeeringId(cx.resolve(
            peerings,
            name,
            format!("{path}.remove_peering"),
            Rule::UnknownPeering,
            "peering",
        )?))
    } else if let Some(p) = &ev.add_peering {
        let ppath = format!("{path}.add_peering");
        let a = cx.resolve(
            vnets,
            &p.from,
            format!("{ppath}.from"),
            Rule::UnknownVnet,
            "VNet",
        );
        let b = cx.resolve(vnets, &p.to, format!("{ppath}.to"), Rule::UnknownVnet, "VNet");
        let (a, b) = a.zip(b)?;
        if a == b {
            cx.err(
                loc(&p.to),
                format!("{ppath}.to"),
                Rule::PeeringSelf,
                format!(
                    "peering `{}` links VNet `{}` to itself; a VNet cannot peer with itself",
                    p.name.value, sc.vnets[a as usize].name
                ),
            );
            return None;
        }
        EventAction::AddPeering(Peering {
            name: p.name.value.clone(),
            from: VnetId(a),
            to: VnetId(b),
            allow_virtual_network_access: p.allow_virtual_network_access.unwrap_or(true),
            allow_forwarded_traffic: p.allow_forwarded_traffic,
            allow_gateway_transit: p.allow_gateway_transit.as_ref().is_some_and(|s| s.value),
            use_remote_gateways: p.use_remote_gateways.as_ref().is_some_and(|s| s.value),
        })
    } else if let Some(s) = &ev.set_route_table {
        let subnet = subnet_by_path(cx, sc, &s.subnet, &format!("{path}.set_route_table.subnet"));
        let rt = match &s.route_table {
            Some(n) => Some(RouteTableId(cx.resolve(
                rts,
                n,
                format!("{path}.set_route_table.route_table"),
                Rule::UnknownRouteTable,
                "route table",
            )?)),
            None => None,
        };
        EventAction::SetRouteTable {
            subnet: subnet?,
            route_table: rt,
        }
    } else if let Some(s) = &ev.set_subnet_nsg {
        let subnet = subnet_by_path(cx, sc, &s.subnet, &format!("{path}.set_subnet_nsg.subnet"));
        let nsg = match &s.nsg {
            Some(n) => Some(NsgId(cx.resolve(
                nsgs,
                n,
                format!("{path}.set_subnet_nsg.nsg"),
                Rule::UnknownNsg,
                "NSG",
            )?)),
            None => None,
        };
        EventAction::SetSubnetNsg {
            subnet: subnet?,
            nsg,
        }
    } else if let Some(s) = &ev.set_nic_nsg {
        let nic = cx.resolve(
            nics,
            &s.nic,
            format!("{path}.set_nic_nsg.nic"),
            Rule::UnknownNic,
            "NIC",
        );
        let nsg = match &s.nsg {
            Some(n) => Some(NsgId(cx.resolve(
                nsgs,
                n,
                format!("{path}.set_nic_nsg.nsg"),
                Rule::UnknownNsg,
                "NSG",
            )?)),
            None => None,
        };
        EventAction::SetNicNsg {
            nic: NicId(nic?),
            nsg,
        }
    } else if let Some(s) = &ev.add_nsg_rule {
        let nsg = cx.resolve(
            nsgs,
            &s.nsg,
            format!("{path}.add_nsg_rule.nsg"),
            Rule::UnknownNsg,
            "NSG",
        );
        let rule = nsg_rule(cx, &s.rule, &format!("{path}.add_nsg_rule.rule"))?;
        EventAction::AddNsgRule {
            nsg: NsgId(nsg?),
            rule,
        }
    } else if let Some(s) = &ev.remove_nsg_rule {
        let nsg = NsgId(cx.resolve(
            nsgs,
            &s.nsg,
            format!("{path}.remove_nsg_rule.nsg"),
            Rule::UnknownNsg,
            "NSG",
        )?);
        EventAction::RemoveNsgRule {
            nsg,
            rule: s.rule.value.clone(),
        }
    } else if let Some(s) = &ev.set_ip_forwarding {
        let nic = cx.resolve(
            nics,
            &s.nic,
            format!("{path}.set_ip_forwarding.nic"),
            Rule::UnknownNic,
            "NIC",
        )?;
        EventAction::SetIpForwarding {
            nic: NicId(nic),
            enabled: s.enabled,
        }
    } else {
        return None;
    };
    Some(Event {
        at,
        action,
        line: loc(e).line() as u32,
    })
}

fn drop_reason(cx: &mut Ctx<'_>, name: &str, at: Location, path: &str) -> Option<DropReason> {
    let r = DropReason::from_name(name.trim());
    if r.is_none() {
        let msg = format!("`{name}` is not a drop reason");
        let names = DropReason::ALL.map(DropReason::as_str);
        match nearest(name, names) {
            Some(best) => cx.err_help(
                at,
                path,
                Rule::UnknownDropReason,
                msg,
                format!("did you mean `{best}`?"),
            ),
            None => cx.err_help(
                at,
                path,
                Rule::UnknownDropReason,
                msg,
                format!("drop reasons: {}", names.join(", ")),
            ),
        }
    }
    r
}

fn comparison(
    cx: &mut Ctx<'_>,
    metric: FlowMetric,
    text: &Spanned<Text>,
    path: &str,
) -> Option<FlowCheck> {
    let s = text.value.0.trim();
    let (comparison, rest) = if let Some(r) = s.strip_prefix(">=") {
        (Comparison::AtLeast, r)
    } else if let Some(r) = s.strip_prefix("<=") {
        (Comparison::AtMost, r)
    } else if let Some(r) = s.strip_prefix("==") {
        (Comparison::Equal, r)
    } else {
        cx.err_help(
            loc(text),
            path,
            Rule::InvalidComparison,
            format!("`{s}` does not start with >=, <= or =="),
            "write e.g. \">= 0.99\"",
        );
        return None;
    };
    let rest = rest.trim();
    let value = match metric {
        FlowMetric::DeliveredRatio => rest
            .parse::<f64>()
            .ok()
            .filter(|v| (0.0..=1.0).contains(v))
            .ok_or_else(|| format!("`{rest}` is not a ratio between 0 and 1")),
        FlowMetric::Throughput => match parse_rate(rest) {
            Ok(Rate::BitsPerSecond(v)) => Ok(v as f64),
            Ok(Rate::PacketsPerSecond(_)) => {
                Err("throughput is in bits per second (e.g. 150Mbps)".to_owned())
            }
            Err(e) => Err(e),
        },
        FlowMetric::Drops(_) => rest
            .parse::<u64>()
            .map(|v| v as f64)
            .map_err(|_| format!("`{rest}` is not a packet count")),
        _ => parse_duration(rest).map(|v| v as f64),
    };
    match value {
        Ok(value) => Some(FlowCheck {
            metric,
            comparison,
            value,
        }),
        Err(e) => {
            cx.err(loc(text), path, Rule::InvalidComparison, e);
            None
        }
    }
}

fn expectation(
    cx: &mut Ctx<'_>,
    raw: &RawScenario,
    endpoints: &Names<'_>,
    flows: &Names<'_>,
    e: &Spanned<RawExpectation>,
    path: &str,
) -> Option<Expectation> {
    let x = &e.value;
    let line = loc(e).line() as u32;
    let metrics: [(&Option<Spanned<Text>>, FlowMetric, &str); 6] = [
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
    ];
    let has_checks = metrics.iter().any(|m| m.0.is_some()) || x.drops.is_some();
    let has_probe_fields = x.verdict.is_some() || x.reason.is_some() || x.path.is_some();
    match (&x.probe, &x.flow) {
        (Some(p), None) => {
            if has_checks {
                cx.err(
                    loc(e),
                    path,
                    Rule::ExpectationShape,
                    "a probe expectation takes verdict, reason and path, not flow checks",
                );
                return None;
            }
            let ppath = format!("{path}.probe");
            let from = endpoint(cx, endpoints, raw, &p.from, &format!("{ppath}.from"));
            let to = endpoint(cx, endpoints, raw, &p.to, &format!("{ppath}.to"));
            let protocol = match &p.protocol {
                Some(t) => cx.protocol(t, &format!("{ppath}.protocol")),
                None => Some(Protocol::Icmp),
            };
            let (src_port, dst_port) = if protocol == Some(Protocol::Icmp) {
                for (port, name) in [(&p.src_port, "src_port"), (&p.dst_port, "dst_port")] {
                    if let Some(port) = port {
                        cx.err(
                            loc(port),
                            format!("{ppath}.{name}"),
                            Rule::IcmpPorts,
                            "ICMP has no ports; set src_port and dst_port only for tcp or udp",
                        );
                    }
                }
                (0, 0)
            } else {
                (
                    p.src_port.as_ref().map_or(49152, |s| s.value),
                    p.dst_port.as_ref().map_or(80, |s| s.value),
                )
            };
            let at = cx.opt_duration(p.at.as_ref(), &format!("{ppath}.at"), 0);
            let verdict = x.verdict.as_ref().map(|v| match v.value {
                RawVerdict::Delivered => ExpectedVerdict::Delivered,
                RawVerdict::Dropped => ExpectedVerdict::Dropped,
            });
            let reason = x
                .reason
                .as_ref()
                .and_then(|r| drop_reason(cx, &r.value, loc(r), &format!("{path}.reason")));
            if let (Some(ExpectedVerdict::Delivered), Some(r)) = (verdict, &x.reason) {
                cx.err(
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
                line,
            })
        }
        (None, Some(f)) => {
            if has_probe_fields {
                cx.err(loc(e), path, Rule::ExpectationShape, "a flow expectation takes checks (delivered_ratio, throughput, latency_*, drops), not verdict, reason or path");
                return None;
            }
            if !has_checks {
                cx.err(loc(e), path, Rule::ExpectationShape, "a flow expectation needs at least one check (delivered_ratio, throughput, latency_p50/p90/p99/max, drops)");
                return None;
            }
            let flow = cx.resolve(flows, f, format!("{path}.flow"), Rule::UnknownFlow, "flow");
            let mut checks = Vec::new();
            for (field, metric, name) in metrics {
                if let Some(t) = field {
                    checks.extend(comparison(cx, metric, t, &format!("{path}.{name}")));
                }
            }
            for (reason, t) in x.drops.iter().flatten() {
                let dpath = format!("{path}.drops.{reason}");
                if let Some(r) = drop_reason(cx, reason, loc(t), &dpath) {
                    checks.extend(comparison(cx, FlowMetric::Drops(r), t, &dpath));
                }
            }
            Some(Expectation::Flow {
                flow: FlowId(flow?),
                checks,
                line,
            })
        }
        _ => {
            cx.err(
                loc(e),
                path,
                Rule::ExpectationShape,
                "an expectation has exactly one of `probe` or `flow`",
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(address_match("*"), Ok(AddressMatch::Any));
        assert_eq!(
            address_match("virtualnetwork"),
            Ok(AddressMatch::Tag(ServiceTag::VirtualNetwork))
        );
        assert_eq!(
            address_match("10.0.0.0/8"),
            Ok(AddressMatch::Prefix("10.0.0.0/8".parse().unwrap()))
        );
        assert_eq!(
            address_match("10.0.0.4"),
            Ok(AddressMatch::Prefix("10.0.0.4/32".parse().unwrap()))
        );
        assert!(address_match("10.0.0.4/8").is_err());
        assert!(address_match("Storage").is_err());
    }

    #[test]
    fn ports() {
        assert_eq!(port_ranges("*"), Ok(vec![PortRange::ANY]));
        assert_eq!(port_ranges("80"), Ok(vec![PortRange { lo: 80, hi: 80 }]));
        assert_eq!(
            port_ranges("1000-2000"),
            Ok(vec![PortRange { lo: 1000, hi: 2000 }])
        );
        assert_eq!(port_ranges("80, 443").map(|v| v.len()), Ok(2));
        assert!(port_ranges("2000-1000").is_err());
        assert!(port_ranges("70000").is_err());
        assert!(port_ranges("http").is_err());
    }

    #[test]
    fn gateway_ip_is_network_plus_four() {
        assert_eq!(
            first_usable("10.0.255.0/27".parse().unwrap()),
            Ipv4Addr::new(10, 0, 255, 4)
        );
    }
}
