//! The security room: NSGs with their rules, and route tables with their routes.
//!
//! What it is for: parsing each NSG rule (priority range, protocol, addresses, ports), the
//! rules that bind rules of one NSG together (unique names, one rule per priority and
//! direction), and each route table's routes (one per prefix, a next hop IP exactly for
//! VirtualAppliance, no VNetPeering next hop). The priority rule is shared with `add_nsg_rule`
//! events through [`RuleSlot`]. What it is not: where NSGs and route tables are attached
//! (the network room and events) or which gateway a route reaches (the gateways room).

use std::collections::HashMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde_saphyr::Spanned;

use super::resolver::{Resolver, loc};
use crate::model::*;
use crate::raw::*;
use crate::rules::Rule;

/// A rule an NSG holds, as the priority rule sees it.
#[derive(Clone, Debug)]
pub(super) struct RuleSlot {
    /// The rule's name (an event's rule of the same name replaces it).
    pub(super) name: String,
    pub(super) direction: Direction,
    pub(super) priority: i64,
    /// Line of the rule in the file.
    pub(super) line: u64,
}

impl Resolver<'_> {
    /// Indexes and checks every NSG; returns the rules each NSG holds, for the events room.
    pub(super) fn nsgs(&mut self) -> Vec<Vec<RuleSlot>> {
        let raw = self.raw;
        self.names.nsgs = self.index(
            "NSG",
            raw.nsgs
                .iter()
                .enumerate()
                .map(|(i, n)| (&n.name, format!("nsgs[{i}].name"))),
        );
        let mut held = Vec::new();
        for (i, n) in raw.nsgs.iter().enumerate() {
            let mut rules = Vec::new();
            let mut slots: Vec<RuleSlot> = Vec::new();
            let mut rule_names: HashMap<&str, u32> = HashMap::new();
            for (j, r) in n.rules.iter().enumerate() {
                let path = format!("nsgs[{i}].rules[{j}]");
                if let Some(line) = rule_names.get(r.name.value.as_str()) {
                    self.err(
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
                if let Some(rule) = self.nsg_rule(r, &path) {
                    self.priority_free(&slots, &rule, &r.priority, &path);
                    slots.push(RuleSlot::of(&rule, r));
                    rules.push(rule);
                }
            }
            held.push(slots);
            self.sc.nsgs.push(Nsg {
                name: n.name.value.clone(),
                rules,
            });
        }
        held
    }

    /// nsg-priority-duplicate: `rule` (its priority written at `priority`) against the rules
    /// the NSG already holds. Returns whether the priority is free.
    pub(super) fn priority_free(
        &mut self,
        held: &[RuleSlot],
        rule: &NsgRule,
        priority: &Spanned<i64>,
        path: &str,
    ) -> bool {
        let Some(taken) = held
            .iter()
            .find(|s| s.direction == rule.direction && s.priority == priority.value)
        else {
            return true;
        };
        self.err(
            loc(priority),
            format!("{path}.priority"),
            Rule::NsgPriorityDuplicate,
            format!(
                "priority {} is already used by the {} rule on line {}; no two rules of an NSG share a priority and a direction",
                priority.value,
                if rule.direction == Direction::Inbound { "inbound" } else { "outbound" },
                taken.line
            ),
        );
        false
    }

    /// One NSG rule: priority range, protocol, addresses and ports.
    pub(super) fn nsg_rule(&mut self, r: &RawNsgRule, path: &str) -> Option<NsgRule> {
        let mut ok = true;
        if !(100..=4096).contains(&r.priority.value) {
            self.err(
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
        // "TCP, UDP, ICMP, ESP, AH, or Any" [nsg-overview].
        let protocol = match r.protocol.value.trim().to_ascii_lowercase().as_str() {
            "*" => Some(RuleProtocol::Any),
            "esp" => Some(RuleProtocol::Esp),
            "ah" => Some(RuleProtocol::Ah),
            _ => self
                .nsg_protocol(&r.protocol, format!("{path}.protocol"))
                .map(RuleProtocol::One),
        };
        // An application security group stands in for the addresses of its side [ASG20].
        let source = match self.rule_asgs(
            r.source.as_ref(),
            r.source_application_security_groups.as_ref(),
            &format!("{path}.source_application_security_groups"),
        ) {
            Some(asg) => asg,
            None => self.addresses(r.source.as_ref(), &format!("{path}.source")),
        };
        let destination = match self.rule_asgs(
            r.destination.as_ref(),
            r.destination_application_security_groups.as_ref(),
            &format!("{path}.destination_application_security_groups"),
        ) {
            Some(asg) => asg,
            None => self.addresses(r.destination.as_ref(), &format!("{path}.destination")),
        };
        let source_ports = self.ports(r.source_ports.as_ref(), &format!("{path}.source_ports"));
        let destination_ports = self.ports(
            r.destination_ports.as_ref(),
            &format!("{path}.destination_ports"),
        );
        let dir = direction(r.direction);
        for (list, field, is_source) in [
            (&source, &r.source, true),
            (&destination, &r.destination, false),
        ] {
            let (Some(list), Some(field)) = (list, field) else {
                continue;
            };
            let side = if is_source { "source" } else { "destination" };
            ok &= self.tags_allowed(list, field, dir, is_source, &format!("{path}.{side}"));
        }
        if !ok {
            return None;
        }
        Some(NsgRule {
            name: r.name.value.clone(),
            priority: u16::try_from(r.priority.value).ok()?,
            direction: dir,
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

    /// The service tags of one source or destination field: nsg-several-tags (at most one
    /// tag per field: "A field may not list several service tags" [nsg-overview]) and
    /// nsg-platform-tag-outbound (AzurePlatformDNS, AzurePlatformIMDS and AzurePlatformLKM
    /// are outbound-only tags, destinations of the platform's traffic [service-tags] 01/2023).
    /// Returns whether the field passes.
    fn tags_allowed(
        &mut self,
        list: &[AddressMatch],
        field: &Spanned<OneOrMany<String>>,
        dir: Direction,
        is_source: bool,
        path: &str,
    ) -> bool {
        let tags: Vec<ServiceTag> = list
            .iter()
            .filter_map(|m| match m {
                AddressMatch::Tag(t) => Some(*t),
                _ => None,
            })
            .collect();
        if tags.len() > 1 {
            let names: Vec<&str> = tags.iter().map(|t| t.name()).collect();
            self.err_help(
                loc(field),
                path,
                Rule::NsgSeveralTags,
                format!(
                    "this field names {} service tags ({}); Azure allows one service tag per source or destination",
                    tags.len(),
                    names.join(", ")
                ),
                "split the rule into one rule per service tag",
            );
            return false;
        }
        let Some(platform) = tags.iter().find(|t| t.is_platform()) else {
            return true;
        };
        if is_source || dir == Direction::Inbound {
            let place = if is_source {
                "a source"
            } else {
                "the destination of an inbound rule"
            };
            self.err_help(
                loc(field),
                path,
                Rule::NsgPlatformTagOutbound,
                format!(
                    "{} is {place}; the platform tags are outbound-only: they name the destination of traffic a VM sends to the platform",
                    platform.name()
                ),
                "use it as the destination of an outbound rule",
            );
            return false;
        }
        true
    }

    /// A rule's source or destination list (`*` when absent).
    fn addresses(
        &mut self,
        field: Option<&Spanned<OneOrMany<String>>>,
        path: &str,
    ) -> Option<Vec<AddressMatch>> {
        let Some(f) = field else {
            return Some(vec![AddressMatch::Any]);
        };
        let mut out = Vec::new();
        for s in f.value.as_slice() {
            match address_match(s) {
                Ok(m) => out.push(m),
                Err(e) => {
                    self.err(loc(f), path, Rule::InvalidAddress, e);
                    return None;
                }
            }
        }
        if out.is_empty() {
            self.err(
                loc(f),
                path,
                Rule::InvalidAddress,
                "the list is empty; use \"*\" for any address",
            );
            return None;
        }
        Some(out)
    }

    /// A rule's source or destination ports (`*` when absent).
    fn ports(
        &mut self,
        field: Option<&Spanned<OneOrMany<Text>>>,
        path: &str,
    ) -> Option<Vec<PortRange>> {
        let Some(f) = field else {
            return Some(vec![PortRange::ANY]);
        };
        let mut out = Vec::new();
        for s in f.value.as_slice() {
            match port_ranges(&s.0) {
                Ok(m) => out.extend(m),
                Err(e) => {
                    self.err(loc(f), path, Rule::InvalidPort, e);
                    return None;
                }
            }
        }
        if out.is_empty() {
            self.err(
                loc(f),
                path,
                Rule::InvalidPort,
                "the list is empty; use \"*\" for any port",
            );
            return None;
        }
        Some(out)
    }

    /// Indexes and checks every route table.
    pub(super) fn route_tables(&mut self) {
        let raw = self.raw;
        self.names.route_tables = self.index(
            "route table",
            raw.route_tables
                .iter()
                .enumerate()
                .map(|(i, n)| (&n.name, format!("route_tables[{i}].name"))),
        );
        for (i, t) in raw.route_tables.iter().enumerate() {
            self.index(
                "route",
                t.routes
                    .iter()
                    .enumerate()
                    .map(|(j, r)| (&r.name, format!("route_tables[{i}].routes[{j}].name"))),
            );
            let mut prefixes: HashMap<Ipv4Net, u64> = HashMap::new();
            let mut routes = Vec::new();
            for (j, r) in t.routes.iter().enumerate() {
                let path = format!("route_tables[{i}].routes[{j}]");
                routes.extend(self.route(t, r, &path, &mut prefixes));
            }
            self.sc.route_tables.push(RouteTable {
                name: t.name.value.clone(),
                disable_gateway_route_propagation: t.disable_gateway_route_propagation,
                routes,
            });
        }
    }

    /// One route of table `t`; `prefixes` holds the table's earlier prefixes and their lines.
    fn route(
        &mut self,
        t: &RawRouteTable,
        r: &RawRoute,
        path: &str,
        prefixes: &mut HashMap<Ipv4Net, u64>,
    ) -> Option<UserRoute> {
        let prefix = self.cidr(&r.prefix, format!("{path}.prefix"));
        if let Some(p) = prefix {
            if let Some(line) = prefixes.get(&p) {
                self.err(
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
                self.err_help(
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
        let next_hop_ip = self.next_hop_ip(r, next_hop, path);
        Some(UserRoute {
            name: r.name.value.clone(),
            prefix: prefix?,
            next_hop,
            next_hop_ip,
        })
    }

    /// udr-next-hop-ip: a next hop IP exactly when the next hop is VirtualAppliance.
    fn next_hop_ip(&mut self, r: &RawRoute, next_hop: NextHopType, path: &str) -> Option<Ipv4Addr> {
        match (&r.next_hop_ip, next_hop) {
            (Some(ip), NextHopType::VirtualAppliance) => self.ip(ip, format!("{path}.next_hop_ip")),
            (None, NextHopType::VirtualAppliance) => {
                self.err_help(
                    loc(&r.next_hop),
                    format!("{path}.next_hop"),
                    Rule::UdrNextHopIp,
                    "next hop VirtualAppliance needs a next hop IP address",
                    "add `next_hop_ip` with the appliance NIC's private IP",
                );
                None
            }
            (Some(ip), other) => {
                self.err(
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
        }
    }
}

impl RuleSlot {
    /// The slot of a checked rule written as `r`.
    pub(super) fn of(rule: &NsgRule, r: &RawNsgRule) -> RuleSlot {
        RuleSlot {
            name: rule.name.clone(),
            direction: rule.direction,
            priority: r.priority.value,
            line: loc(&r.priority).line(),
        }
    }
}

fn direction(d: RawDirection) -> Direction {
    match d {
        RawDirection::Inbound => Direction::Inbound,
        RawDirection::Outbound => Direction::Outbound,
    }
}

/// Parses one NSG address entry.
fn address_match(s: &str) -> Result<AddressMatch, String> {
    let t = s.trim();
    if t == "*" {
        return Ok(AddressMatch::Any);
    }
    for tag in ServiceTag::ALL {
        if t.eq_ignore_ascii_case(tag.name()) {
            return Ok(AddressMatch::Tag(tag));
        }
    }
    let unknown = || {
        format!(
            "`{t}` is not a CIDR prefix, an IP, \"*\" or a service tag (VirtualNetwork, Internet, AzureLoadBalancer, AzurePlatformDNS, AzurePlatformIMDS, AzurePlatformLKM)"
        )
    };
    if t.contains('/') {
        let net: Ipv4Net = t.parse().map_err(|_| unknown())?;
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
        .map_err(|_| unknown())
}

/// Parses one port entry (`*`, `80`, `1000-2000`, or a comma list of these).
pub(super) fn port_ranges(s: &str) -> Result<Vec<PortRange>, String> {
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
        // The platform tags [service-tags] 01/2023, any case as Azure's names.
        assert_eq!(
            address_match("AzurePlatformDNS"),
            Ok(AddressMatch::Tag(ServiceTag::AzurePlatformDns))
        );
        assert_eq!(
            address_match("azureplatformimds"),
            Ok(AddressMatch::Tag(ServiceTag::AzurePlatformImds))
        );
        assert_eq!(
            address_match("AzurePlatformLKM"),
            Ok(AddressMatch::Tag(ServiceTag::AzurePlatformLkm))
        );
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
}
