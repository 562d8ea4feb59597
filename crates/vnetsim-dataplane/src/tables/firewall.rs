//! Azure Firewall rules compiled for matching, in the order Azure applies them.
//!
//! What it is for: one [`CompiledFirewall`] per firewall: its private and public addresses, the
//! destinations it does not SNAT, and its policy's rules flattened into three lists, DNAT, then
//! network, then application, each sorted by rule collection group priority, then rule
//! collection priority, then rule order ("Rule type still wins: DNAT, then network, then
//! application rules, regardless of Rule collection group or Rule collection priority"
//! [FWRULE23]). Addresses (IPs, CIDRs, ranges, IP groups, FQDNs through the scenario's
//! `names`) become merged address sets, so a match is a few binary searches. (The service tags
//! vnetsim models are not usable in Azure Firewall [service-tags]; the loader refuses them.)
//! [`CompiledFirewall::evaluate`] gives the first matching rule; none means Azure Firewall's
//! default deny. What it is not: the firewall's connection state, its address translation or
//! its place on a packet's way (see `forward::firewall`).

use vnetsim_scenario::{
    FirewallAction, FirewallAddress, FirewallId, FirewallProtocols, FirewallRule, PortRange,
    RuleKind, Scenario, SubnetId, VnetId,
};

use crate::tables::addrset::AddrSet;
use crate::wire::FlowKey;

/// Where a firewall rule sits in its policy: kind, group, collection and rule (indices in
/// file order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FirewallRuleRef {
    /// DNAT, network or application.
    pub kind: RuleKind,
    /// Index of the rule collection group in the policy.
    pub group: u16,
    /// Index of the collection in its group.
    pub collection: u16,
    /// Index of the rule in its collection.
    pub rule: u16,
}

/// A rule compiled for matching.
#[derive(Clone, Debug)]
struct Compiled {
    at: FirewallRuleRef,
    action: FirewallAction,
    protocols: FirewallProtocols,
    /// Application rules: TCP destination ports of their protocols.
    app_ports: Vec<u16>,
    sources: AddrSet,
    destinations: AddrSet,
    ports: Vec<PortRange>,
    translated: Option<(u32, u16)>,
}

/// What the first matching rule says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FirewallMatch {
    /// The rule.
    pub rule: FirewallRuleRef,
    /// Its collection's action.
    pub action: FirewallAction,
    /// A DNAT rule's translated address and port.
    pub translated: Option<(u32, u16)>,
}

/// One Azure Firewall, compiled.
#[derive(Clone, Debug)]
pub struct CompiledFirewall {
    /// Which firewall.
    pub id: FirewallId,
    /// Its VNet.
    pub vnet: VnetId,
    /// Its AzureFirewallSubnet: packets it passes are routed by this subnet's routes.
    pub subnet: SubnetId,
    /// Its private IP.
    pub ip: u32,
    /// Its public IPs; SNAT to the Internet uses the first.
    pub public_ips: Vec<u32>,
    /// Destinations network rules do not SNAT (`snat.privateRanges`).
    pub private: AddrSet,
    /// DNAT, network and application rules, each in evaluation order.
    rules: [Vec<Compiled>; 3],
}

impl CompiledFirewall {
    /// Compiles firewall `id` of `scenario`.
    pub fn compile(scenario: &Scenario, id: FirewallId) -> Self {
        let fw = &scenario.firewalls[id.index()];
        let mut rules: [Vec<(u32, u32, Compiled)>; 3] = Default::default();
        let mut private = AddrSet::empty();
        if let Some(pid) = fw.policy {
            let policy = &scenario.firewall_policies[pid.index()];
            private = AddrSet::from_prefixes(policy.private_ranges.iter().copied());
            for (g, group) in policy.groups.iter().enumerate() {
                for (c, coll) in group.collections.iter().enumerate() {
                    for (r, rule) in coll.rules.iter().enumerate() {
                        let at = FirewallRuleRef {
                            kind: coll.kind,
                            group: g as u16,
                            collection: c as u16,
                            rule: r as u16,
                        };
                        let compiled = compile_rule(scenario, rule, at, coll.action);
                        let slot = match coll.kind {
                            RuleKind::Dnat => 0,
                            RuleKind::Network => 1,
                            RuleKind::Application => 2,
                        };
                        rules[slot].push((group.priority, coll.priority, compiled));
                    }
                }
            }
        }
        // Stable: equal priorities keep file order.
        let rules = rules.map(|mut list| {
            list.sort_by_key(|(g, c, _)| (*g, *c));
            list.into_iter().map(|(_, _, r)| r).collect()
        });
        CompiledFirewall {
            id,
            vnet: fw.vnet,
            subnet: fw.subnet,
            ip: u32::from(fw.ip),
            public_ips: fw.public_ips.iter().map(|p| u32::from(*p)).collect(),
            private,
            rules,
        }
    }

    /// Whether `addr` is one of the firewall's public IPs.
    #[inline]
    pub fn is_public(&self, addr: u32) -> bool {
        self.public_ips.contains(&addr)
    }

    /// The first rule that matches a new connection `key`, in Azure's order: DNAT rules (only
    /// for traffic to a public IP of the firewall), then network rules, then application rules
    /// (TCP only, the destination's declared names against the target FQDNs). `None`: the
    /// default deny. A packet to a public IP that no DNAT rule translates goes no further
    /// ([FWRULE23]: DNAT is how traffic enters through a public IP).
    pub fn evaluate(&self, key: &FlowKey) -> Option<FirewallMatch> {
        if self.is_public(key.dst) {
            return self.rules[0]
                .iter()
                .find(|r| r.matches_l4(key))
                .map(Compiled::verdict);
        }
        if let Some(m) = self.rules[1].iter().find(|r| r.matches_l4(key)) {
            return Some(m.verdict());
        }
        if key.protocol != PROTO_TCP {
            return None;
        }
        self.rules[2]
            .iter()
            .find(|r| {
                r.sources.contains(key.src)
                    && r.destinations.contains(key.dst)
                    && r.app_ports.contains(&key.dst_port)
            })
            .map(Compiled::verdict)
    }
}

const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;

impl Compiled {
    fn verdict(&self) -> FirewallMatch {
        FirewallMatch {
            rule: self.at,
            action: self.action,
            translated: self.translated,
        }
    }

    /// Network and DNAT rules: protocol, addresses, and ports for TCP and UDP.
    #[inline]
    fn matches_l4(&self, key: &FlowKey) -> bool {
        self.protocols.matches(key.protocol)
            && self.sources.contains(key.src)
            && self.destinations.contains(key.dst)
            && (!(key.protocol == PROTO_TCP || key.protocol == PROTO_UDP)
                || self.ports.is_empty()
                || self
                    .ports
                    .iter()
                    .any(|p| p.lo <= key.dst_port && key.dst_port <= p.hi))
    }
}

fn compile_rule(
    scenario: &Scenario,
    rule: &FirewallRule,
    at: FirewallRuleRef,
    action: FirewallAction,
) -> Compiled {
    let sources = addresses(scenario, &rule.sources);
    let mut destinations = addresses(scenario, &rule.destinations);
    if !rule.fqdns.is_empty() {
        destinations = destinations.union(&names_matching(scenario, &rule.fqdns));
    }
    Compiled {
        at,
        action,
        protocols: rule.protocols,
        app_ports: rule.app_protocols.iter().map(|p| p.port).collect(),
        sources,
        destinations,
        ports: rule.ports.clone(),
        translated: rule.translated.map(|(a, p)| (u32::from(a), p)),
    }
}

/// The set of addresses a rule field names. An IP group with no entries adds nothing, so a
/// rule naming only empty groups never matches ([FWIPG20]: the rule is skipped).
fn addresses(scenario: &Scenario, list: &[FirewallAddress]) -> AddrSet {
    let mut set = AddrSet::empty();
    for a in list {
        let part = match a {
            FirewallAddress::Any => AddrSet::all(),
            FirewallAddress::Range(lo, hi) => AddrSet::from_ranges([(*lo, *hi)]),
            FirewallAddress::IpGroup(g) => {
                AddrSet::from_ranges(scenario.ip_groups[g.index()].ranges.iter().copied())
            }
        };
        set = set.union(&part);
    }
    set
}

/// The addresses whose declared names match any of `fqdns` (exact names; `*.x` matches names
/// under `x`; `*` matches every declared name).
pub fn names_matching(scenario: &Scenario, fqdns: &[std::sync::Arc<str>]) -> AddrSet {
    AddrSet::from_ranges(
        scenario
            .names
            .iter()
            .filter(|n| fqdns.iter().any(|f| fqdn_matches(f, &n.name)))
            .map(|n| (u32::from(n.ip), u32::from(n.ip))),
    )
}

/// Whether `name` matches the rule's FQDN `pattern` (both lower case).
pub fn fqdn_matches(pattern: &str, name: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    match pattern.strip_prefix("*.") {
        Some(suffix) => name
            .strip_suffix(suffix)
            .is_some_and(|head| head.ends_with('.') && head.len() > 1),
        None => pattern == name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_subdomains_only() {
        assert!(fqdn_matches("*.contoso.com", "www.contoso.com"));
        assert!(fqdn_matches("*.contoso.com", "a.b.contoso.com"));
        assert!(!fqdn_matches("*.contoso.com", "contoso.com"));
        assert!(!fqdn_matches("*.contoso.com", "evilcontoso.com"));
        assert!(fqdn_matches("www.contoso.com", "www.contoso.com"));
        assert!(!fqdn_matches("www.contoso.com", "api.contoso.com"));
        assert!(fqdn_matches("*", "anything.example"));
    }
}
