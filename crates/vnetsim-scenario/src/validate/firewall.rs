//! The firewall room: Azure Firewalls and their policies, IP groups, DNS names, Internet hosts
//! and public IP addresses.
//!
//! What it is for: each VNet's firewall in an `AzureFirewallSubnet` of at least /26 that holds
//! nothing else, with its private IP the subnet's first usable address and at least one public
//! IP; policies whose rule collection groups and collections carry priorities from 100 to
//! 65000 and whose rules use the fields of their kind (DNAT, network, application) as Azure
//! accepts them; IP groups and names; Internet hosts and NIC public IPs at public addresses that
//! no two resources share. What it is not: evaluating rules (the data plane) or the routes that
//! lead to the firewall (user routes are checked by the security room; a VirtualAppliance next
//! hop may be the firewall's private IP).

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use ipnet::Ipv4Net;
use serde_saphyr::Spanned;

use super::resolver::{Names, Resolver, first_usable, loc};
use super::security::port_ranges;
use crate::diag::nearest;
use crate::model::*;
use crate::raw::*;
use crate::rules::Rule;

/// The subnet Azure Firewall lives in [FWFAQ23].
pub const FIREWALL_SUBNET: &str = "AzureFirewallSubnet";

/// Lowest and highest priority of a rule collection group or collection [FWRULE23].
const PRIORITY: (u32, u32) = (100, 65000);

impl<'r> Resolver<'r> {
    /// IP groups, names, policies, then each VNet's firewall, Internet hosts and NIC public IPs.
    /// Runs after VMs (the firewall's IP must not be a NIC's) and sites (Internet hosts join the
    /// endpoint names after the on-premises hosts).
    pub(super) fn firewalls(&mut self) {
        let raw = self.raw;
        let groups = self.ip_groups();
        self.names_map();
        let policies = self.index(
            "firewall policy",
            raw.firewall_policies
                .iter()
                .enumerate()
                .map(|(i, p)| (&p.name, format!("firewall_policies[{i}].name"))),
        );
        for (i, p) in raw.firewall_policies.iter().enumerate() {
            let policy = self.policy(p, i, &groups);
            self.sc.firewall_policies.push(policy);
        }
        self.index(
            "firewall",
            raw.vnets.iter().enumerate().filter_map(|(i, v)| {
                v.firewall
                    .as_ref()
                    .map(|f| (&f.name, format!("vnets[{i}].firewall.name")))
            }),
        );
        let mut public: HashMap<Ipv4Addr, (String, u32)> = HashMap::new();
        for (i, v) in raw.vnets.iter().enumerate() {
            if let Some(f) = &v.firewall
                && let Some(fw) = self.firewall(v, f, i, &policies, &mut public)
            {
                self.sc.vnets[i].firewall = Some(FirewallId(self.sc.firewalls.len() as u32));
                self.sc.firewalls.push(fw);
            }
        }
        self.nics_outside_firewall_subnet();
        self.nic_public_ips(&mut public);
        self.internet_hosts(&mut public);
        self.dnat_addresses();
    }

    /// `ip_groups`: names and address entries.
    fn ip_groups(&mut self) -> Names<'r> {
        let raw = self.raw;
        let names = self.index(
            "IP group",
            raw.ip_groups
                .iter()
                .enumerate()
                .map(|(i, g)| (&g.name, format!("ip_groups[{i}].name"))),
        );
        for (i, g) in raw.ip_groups.iter().enumerate() {
            let mut ranges = Vec::new();
            for (k, a) in g.addresses.iter().enumerate() {
                let path = format!("ip_groups[{i}].addresses[{k}]");
                match address_range(&a.value) {
                    Some(r) => ranges.push(r),
                    None => self.bad_address(a, &path, "an IP, a CIDR or a range `a-b`"),
                }
            }
            self.sc.ip_groups.push(IpGroup {
                name: g.name.value.clone(),
                ranges,
            });
        }
        names
    }

    /// `names`: each DNS name and the addresses it resolves to.
    fn names_map(&mut self) {
        let raw = self.raw;
        for (name, ips) in &raw.names {
            let lower: Arc<str> = name.trim().to_ascii_lowercase().into();
            let path = format!("names.{name}");
            if !valid_fqdn(&lower) {
                self.err_help(
                    loc(ips),
                    path.clone(),
                    Rule::FirewallFqdn,
                    format!("`{name}` is not a DNS name"),
                    "write a name such as `www.contoso.com`",
                );
            }
            for ip in ips.value.as_slice() {
                match ip.trim().parse::<Ipv4Addr>() {
                    Ok(ip) => self.sc.names.push(NameRecord {
                        name: lower.clone(),
                        ip,
                    }),
                    Err(_) => self.err(
                        loc(ips),
                        path.clone(),
                        Rule::InvalidIp,
                        format!("`{ip}` is not an IPv4 address"),
                    ),
                }
            }
        }
    }

    /// One policy: private ranges, groups, collections and rules.
    fn policy(&mut self, p: &RawFirewallPolicy, i: usize, groups: &Names<'r>) -> FirewallPolicy {
        let path = format!("firewall_policies[{i}]");
        let private_ranges = match &p.private_ranges {
            None => iana_private_ranges(),
            Some(list) => {
                let mut out = Vec::new();
                for (k, r) in list.iter().enumerate() {
                    if r.value.trim().eq_ignore_ascii_case("IANAPrivateRanges") {
                        out.extend(iana_private_ranges());
                    } else if let Some(net) = self.cidr(r, format!("{path}.private_ranges[{k}]")) {
                        out.push(net);
                    }
                }
                out
            }
        };
        let mut seen: HashMap<&str, u32> = HashMap::new();
        let mut out_groups = Vec::new();
        for (g, group) in p.rule_collection_groups.iter().enumerate() {
            let gpath = format!("{path}.rule_collection_groups[{g}]");
            self.unique_name(
                &mut seen,
                &group.name,
                &gpath,
                "rule collection group",
                "their list",
            );
            self.priority(&group.priority, &format!("{gpath}.priority"));
            let mut seen_c: HashMap<&str, u32> = HashMap::new();
            let mut collections = Vec::new();
            for (c, coll) in group.rule_collections.iter().enumerate() {
                let cpath = format!("{gpath}.rule_collections[{c}]");
                self.unique_name(
                    &mut seen_c,
                    &coll.name,
                    &cpath,
                    "rule collection",
                    "their list",
                );
                self.priority(&coll.priority, &format!("{cpath}.priority"));
                if let Some(collection) = self.collection(coll, &cpath, groups) {
                    collections.push(collection);
                }
            }
            out_groups.push(RuleCollectionGroup {
                name: group.name.value.clone(),
                priority: group.priority.value,
                collections,
            });
        }
        FirewallPolicy {
            name: p.name.value.clone(),
            private_ranges,
            groups: out_groups,
        }
    }

    /// Reports a name already used in the same list (`scope` says which: "their list",
    /// "their load balancer").
    pub(super) fn unique_name<'a>(
        &mut self,
        seen: &mut HashMap<&'a str, u32>,
        name: &'a Spanned<String>,
        path: &str,
        kind: &str,
        scope: &str,
    ) {
        if let Some(line) = seen.get(name.value.as_str()) {
            self.err(
                loc(name),
                format!("{path}.name"),
                Rule::DuplicateName,
                format!(
                    "{kind} name `{}` is already used on line {line}; names are unique in {scope}",
                    name.value
                ),
            );
        } else {
            seen.insert(&name.value, loc(name).line() as u32);
        }
    }

    /// A priority from 100 to 65000 [FWRULE23].
    fn priority(&mut self, p: &Spanned<u32>, path: &str) {
        if !(PRIORITY.0..=PRIORITY.1).contains(&p.value) {
            self.err(
                loc(p),
                path,
                Rule::FirewallPriority,
                format!(
                    "priority {} is outside {}..{}; Azure Firewall priorities run from 100 to 65000",
                    p.value, PRIORITY.0, PRIORITY.1
                ),
            );
        }
    }

    /// One rule collection: its kind, action and rules.
    fn collection(
        &mut self,
        c: &RawRuleCollection,
        path: &str,
        groups: &Names<'r>,
    ) -> Option<RuleCollection> {
        let kind = match c.kind.value.trim().to_ascii_lowercase().as_str() {
            "dnat" | "nat" => RuleKind::Dnat,
            "network" => RuleKind::Network,
            "application" => RuleKind::Application,
            other => {
                self.err_help(
                    loc(&c.kind),
                    format!("{path}.kind"),
                    Rule::UnknownVariant,
                    format!("`{other}` is not a kind of rule collection"),
                    "use `dnat`, `network` or `application`",
                );
                return None;
            }
        };
        let action = match (kind, &c.action) {
            (RuleKind::Dnat, None) => FirewallAction::Dnat,
            (_, None) => {
                self.err_help(
                    loc(&c.name),
                    format!("{path}.action"),
                    Rule::FirewallCollectionAction,
                    format!(
                        "{} rule collection `{}` has no action",
                        kind.as_str(),
                        c.name.value
                    ),
                    "write `action: allow` or `action: deny`",
                );
                return None;
            }
            (_, Some(a)) => {
                let action = match a.value.trim().to_ascii_lowercase().as_str() {
                    "allow" => Some(FirewallAction::Allow),
                    "deny" => Some(FirewallAction::Deny),
                    "dnat" => Some(FirewallAction::Dnat),
                    _ => None,
                };
                let fits = match (kind, action) {
                    (RuleKind::Dnat, Some(FirewallAction::Dnat)) => true,
                    (RuleKind::Dnat, _) | (_, Some(FirewallAction::Dnat)) | (_, None) => false,
                    _ => true,
                };
                if !fits {
                    self.err_help(
                        loc(a),
                        format!("{path}.action"),
                        Rule::FirewallCollectionAction,
                        format!(
                            "`{}` is not an action of a {} rule collection",
                            a.value,
                            kind.as_str()
                        ),
                        "DNAT collections translate (`dnat`); network and application \
                         collections `allow` or `deny`",
                    );
                    return None;
                }
                action?
            }
        };
        let mut rules = Vec::new();
        let mut seen: HashMap<&str, u32> = HashMap::new();
        for (k, r) in c.rules.iter().enumerate() {
            let rpath = format!("{path}.rules[{k}]");
            self.unique_name(&mut seen, &r.name, &rpath, "rule", "their list");
            if let Some(rule) = self.fw_rule(kind, r, &rpath, groups) {
                rules.push(rule);
            }
        }
        Some(RuleCollection {
            name: c.name.value.clone(),
            priority: c.priority.value,
            kind,
            action,
            rules,
        })
    }

    /// One rule of a collection of `kind`.
    fn fw_rule(
        &mut self,
        kind: RuleKind,
        r: &RawFirewallRule,
        path: &str,
        groups: &Names<'r>,
    ) -> Option<FirewallRule> {
        // Fields of other kinds: Azure's rule types have separate properties.
        let misplaced: &[(&str, bool)] = match kind {
            RuleKind::Network => &[
                ("target_fqdns", !r.target_fqdns.is_empty()),
                ("translated_address", r.translated_address.is_some()),
                ("translated_port", r.translated_port.is_some()),
            ],
            RuleKind::Application => &[
                ("destination_addresses", !r.destination_addresses.is_empty()),
                ("destination_ip_groups", !r.destination_ip_groups.is_empty()),
                ("destination_fqdns", !r.destination_fqdns.is_empty()),
                ("destination_ports", !r.destination_ports.is_empty()),
                ("translated_address", r.translated_address.is_some()),
                ("translated_port", r.translated_port.is_some()),
            ],
            RuleKind::Dnat => &[
                ("target_fqdns", !r.target_fqdns.is_empty()),
                ("destination_ip_groups", !r.destination_ip_groups.is_empty()),
                ("destination_fqdns", !r.destination_fqdns.is_empty()),
            ],
        };
        let mut ok = true;
        for (field, present) in misplaced {
            if *present {
                ok = false;
                self.err_help(
                    loc(&r.name),
                    format!("{path}.{field}"),
                    Rule::FirewallRuleField,
                    format!(
                        "rule `{}` of a {} collection sets `{field}`, which {} rules do not have",
                        r.name.value,
                        kind.as_str(),
                        kind.as_str()
                    ),
                    "network rules: protocols, addresses, IP groups, FQDNs, ports; application \
                     rules: protocols, sources, target_fqdns; DNAT rules: protocols, sources, \
                     destination_addresses, destination_ports, translated_address, translated_port",
                );
            }
        }
        let mut rule = FirewallRule {
            name: r.name.value.clone(),
            protocols: FirewallProtocols::default(),
            app_protocols: Vec::new(),
            sources: self.fw_addresses(
                &r.source_addresses,
                &r.source_ip_groups,
                &format!("{path}.source"),
                groups,
            ),
            destinations: Vec::new(),
            fqdns: Vec::new(),
            ports: Vec::new(),
            translated: None,
        };
        if r.source_addresses.is_empty() && r.source_ip_groups.is_empty() {
            ok &= self.incomplete(r, path, "source_addresses or source_ip_groups");
        }
        match kind {
            RuleKind::Application => {
                for (k, p) in r.protocols.iter().enumerate() {
                    match app_protocol(&p.value) {
                        Some(ap) => rule.app_protocols.push(ap),
                        None => {
                            ok = false;
                            self.err_help(
                                loc(p),
                                format!("{path}.protocols[{k}]"),
                                Rule::FirewallRuleProtocol,
                                format!("`{}` is not an application rule protocol", p.value),
                                "application rules cover `Http`, `Https` and `Mssql`, each with \
                                 an optional port (`Https:8443`) [FWRULE23]",
                            );
                        }
                    }
                }
                if r.protocols.is_empty() {
                    ok &= self.incomplete(r, path, "protocols");
                }
                rule.fqdns = self.fqdns(&r.target_fqdns, &format!("{path}.target_fqdns"));
                if r.target_fqdns.is_empty() {
                    ok &= self.incomplete(r, path, "target_fqdns");
                }
            }
            RuleKind::Network | RuleKind::Dnat => {
                for (k, p) in r.protocols.iter().enumerate() {
                    let v = p.value.trim().to_ascii_lowercase();
                    let known = match v.as_str() {
                        "tcp" => {
                            rule.protocols.tcp = true;
                            true
                        }
                        "udp" => {
                            rule.protocols.udp = true;
                            true
                        }
                        "icmp" if kind == RuleKind::Network => {
                            rule.protocols.icmp = true;
                            true
                        }
                        "any" if kind == RuleKind::Network => {
                            rule.protocols.any = true;
                            true
                        }
                        _ => false,
                    };
                    if !known {
                        ok = false;
                        self.err_help(
                            loc(p),
                            format!("{path}.protocols[{k}]"),
                            Rule::FirewallRuleProtocol,
                            format!(
                                "`{}` is not a protocol of a {} rule",
                                p.value,
                                kind.as_str()
                            ),
                            if kind == RuleKind::Dnat {
                                "DNAT rules translate `TCP` or `UDP` [FWDNAT25]"
                            } else {
                                "network rules match `TCP`, `UDP`, `ICMP` or `Any` [FWRULE23]"
                            },
                        );
                    }
                }
                if r.protocols.is_empty() {
                    ok &= self.incomplete(r, path, "protocols");
                }
                rule.destinations = self.fw_addresses(
                    &r.destination_addresses,
                    &r.destination_ip_groups,
                    &format!("{path}.destination"),
                    groups,
                );
                rule.fqdns = self.fqdns(&r.destination_fqdns, &format!("{path}.destination_fqdns"));
                if r.destination_addresses.is_empty()
                    && r.destination_ip_groups.is_empty()
                    && r.destination_fqdns.is_empty()
                {
                    ok &= self.incomplete(r, path, "a destination");
                }
                for (k, p) in r.destination_ports.iter().enumerate() {
                    match port_ranges(&p.value.0) {
                        Ok(ranges) => rule.ports.extend(ranges),
                        Err(e) => {
                            ok = false;
                            self.err(
                                loc(p),
                                format!("{path}.destination_ports[{k}]"),
                                Rule::InvalidPort,
                                e,
                            );
                        }
                    }
                }
                if r.destination_ports.is_empty()
                    && !(kind == RuleKind::Network && icmp_only(&rule))
                {
                    ok &= self.incomplete(r, path, "destination_ports");
                }
                if kind == RuleKind::Dnat {
                    ok &= self.dnat(r, path, &mut rule);
                }
            }
        }
        ok.then_some(rule)
    }

    /// A DNAT rule: one public destination address and port (1-63999), and its translation.
    fn dnat(&mut self, r: &RawFirewallRule, path: &str, rule: &mut FirewallRule) -> bool {
        let single_dest =
            matches!(rule.destinations.as_slice(), [FirewallAddress::Range(a, b)] if a == b);
        let single_port =
            matches!(rule.ports.as_slice(), [p] if p.lo == p.hi && p.lo >= 1 && p.lo <= 63999);
        let translated = match (&r.translated_address, &r.translated_port) {
            (Some(a), Some(p)) => {
                let addr = self.ip(a, format!("{path}.translated_address"));
                let port = p.value.0.trim().parse::<u16>().ok().filter(|p| *p > 0);
                if port.is_none() {
                    self.err(
                        loc(p),
                        format!("{path}.translated_port"),
                        Rule::InvalidPort,
                        format!("`{}` is not a port (1..65535)", p.value.0),
                    );
                }
                addr.zip(port)
            }
            _ => None,
        };
        if !single_dest || !single_port || translated.is_none() {
            self.err_help(
                loc(&r.name),
                path,
                Rule::FirewallDnat,
                format!(
                    "DNAT rule `{}` must name one destination address (a public IP of the \
                     firewall), one destination port from 1 to 63999, a translated_address and a \
                     translated_port",
                    r.name.value
                ),
                "e.g. destination_addresses: [20.1.2.3], destination_ports: [443], \
                 translated_address: 10.1.1.4, translated_port: 443 [FWDNAT25], [FWKI23]",
            );
            return false;
        }
        rule.translated = translated;
        true
    }

    /// A rule without a field Azure requires.
    fn incomplete(&mut self, r: &RawFirewallRule, path: &str, what: &str) -> bool {
        self.err(
            loc(&r.name),
            path,
            Rule::FirewallRuleIncomplete,
            format!("rule `{}` needs {what}", r.name.value),
        );
        false
    }

    /// Addresses and IP groups of a rule field.
    fn fw_addresses(
        &mut self,
        addresses: &[Spanned<String>],
        ip_groups: &[Spanned<String>],
        path: &str,
        groups: &Names<'r>,
    ) -> Vec<FirewallAddress> {
        let mut out = Vec::new();
        for (k, a) in addresses.iter().enumerate() {
            let v = a.value.trim();
            if v == "*" {
                out.push(FirewallAddress::Any);
            } else if let Some((lo, hi)) = address_range(v) {
                out.push(FirewallAddress::Range(lo, hi));
            } else if let Some(tag) = ServiceTag::ALL
                .into_iter()
                .find(|t| t.name().eq_ignore_ascii_case(v))
            {
                // Service tags overview, "Can use with Azure Firewall?": No for VirtualNetwork,
                // Internet, AzureLoadBalancer and the three platform tags.
                self.err_help(
                    loc(a),
                    format!("{path}_addresses[{k}]"),
                    Rule::FirewallAddress,
                    format!(
                        "service tag `{}` cannot be used in Azure Firewall rules (service tags \
                         overview: \"Can use with Azure Firewall? No\")",
                        tag.name()
                    ),
                    "write its addresses (CIDRs or an IP group) instead",
                );
            } else {
                self.bad_address(
                    a,
                    &format!("{path}_addresses[{k}]"),
                    "`*`, an IP, a CIDR or a range `a-b`",
                );
            }
        }
        for (k, g) in ip_groups.iter().enumerate() {
            match groups.get(g.value.as_str()) {
                Some((id, _)) => out.push(FirewallAddress::IpGroup(IpGroupId(*id))),
                None => {
                    let best = nearest(&g.value, groups.keys().copied()).map(str::to_owned);
                    self.unknown(
                        loc(g),
                        format!("{path}_ip_groups[{k}]"),
                        Rule::UnknownIpGroup,
                        format!("there is no IP group named `{}`", g.value),
                        best.as_deref(),
                        None,
                    );
                }
            }
        }
        out
    }

    fn bad_address(&mut self, a: &Spanned<String>, path: &str, what: &str) {
        self.err(
            loc(a),
            path,
            Rule::FirewallAddress,
            format!("`{}` is not {what}", a.value),
        );
    }

    /// FQDNs of a rule, lower case.
    fn fqdns(&mut self, list: &[Spanned<String>], path: &str) -> Vec<Arc<str>> {
        let mut out = Vec::new();
        for (k, f) in list.iter().enumerate() {
            let v = f.value.trim().to_ascii_lowercase();
            let bare = v.strip_prefix("*.").unwrap_or(&v);
            if v == "*" || valid_fqdn(bare) {
                out.push(v.into());
            } else {
                self.err_help(
                    loc(f),
                    format!("{path}[{k}]"),
                    Rule::FirewallFqdn,
                    format!("`{}` is not a DNS name", f.value),
                    "write a name such as `www.contoso.com` or a wildcard `*.contoso.com`",
                );
            }
        }
        out
    }

    /// One VNet's firewall.
    fn firewall(
        &mut self,
        v: &RawVnet,
        f: &RawFirewall,
        i: usize,
        policies: &Names<'r>,
        public: &mut HashMap<Ipv4Addr, (String, u32)>,
    ) -> Option<Firewall> {
        let path = format!("vnets[{i}].firewall");
        let vnet = VnetId(i as u32);
        let subnet = self.sc.vnets[i]
            .subnets
            .iter()
            .copied()
            .find(|s| self.sc.subnets[s.index()].name == FIREWALL_SUBNET);
        let Some(subnet) = subnet else {
            self.err_help(
                loc(&f.name),
                format!("{path}.name"),
                Rule::FirewallSubnetMissing,
                format!(
                    "firewall `{}` needs a subnet named AzureFirewallSubnet in VNet `{}`",
                    f.name.value, v.name.value
                ),
                "add `{ name: AzureFirewallSubnet, prefix: <a /26> }` to the VNet's subnets \
                 [FWFAQ23]",
            );
            return None;
        };
        let prefix = self.sc.subnets[subnet.index()].prefix;
        if prefix.prefix_len() > 26 {
            let at = v
                .subnets
                .iter()
                .find(|s| s.name.value == FIREWALL_SUBNET)
                .map_or(loc(&f.name), |s| loc(&s.prefix));
            self.err_help(
                at,
                format!("{path}.subnet"),
                Rule::FirewallSubnetSize,
                format!("AzureFirewallSubnet of VNet `{}` is {prefix}; Azure Firewall needs at least a /26", v.name.value),
                "make the subnet a /26 (\"Azure Firewall needs a /26 subnet\" [FWFAQ23])",
            );
        }
        let sku = match &f.sku {
            None => FirewallSku::Standard,
            Some(s) => match s.value.trim().to_ascii_lowercase().as_str() {
                "basic" => FirewallSku::Basic,
                "standard" => FirewallSku::Standard,
                "premium" => FirewallSku::Premium,
                other => {
                    self.err_help(
                        loc(s),
                        format!("{path}.sku"),
                        Rule::UnknownVariant,
                        format!("`{other}` is not an Azure Firewall SKU"),
                        "use `Basic`, `Standard` or `Premium`",
                    );
                    FirewallSku::Standard
                }
            },
        };
        let throughput_bps = match &f.throughput {
            None => sku.throughput_bps(),
            Some(t) => match self.rate(t, format!("{path}.throughput")) {
                Some(Rate::BitsPerSecond(b)) => b,
                Some(Rate::PacketsPerSecond(_)) => {
                    self.err(
                        loc(t),
                        format!("{path}.throughput"),
                        Rule::InvalidRate,
                        "a firewall's throughput is in bits per second, e.g. `5Gbps`",
                    );
                    sku.throughput_bps()
                }
                None => sku.throughput_bps(),
            },
        };
        let policy = f.policy.as_ref().and_then(|p| {
            if let Some((id, _)) = policies.get(p.value.as_str()) {
                return Some(FirewallPolicyId(*id));
            }
            let best = nearest(&p.value, policies.keys().copied()).map(str::to_owned);
            self.unknown(
                loc(p),
                format!("{path}.policy"),
                Rule::UnknownFirewallPolicy,
                format!("there is no firewall policy named `{}`", p.value),
                best.as_deref(),
                None,
            );
            None
        });
        if f.public_ips.value.is_empty() {
            self.err_help(
                loc(&f.public_ips),
                format!("{path}.public_ips"),
                Rule::FirewallPublicIp,
                format!("firewall `{}` has no public IP", f.name.value),
                "Azure Firewall needs at least one public IP address [FWFAQ23]; add one to \
                 `public_ips`",
            );
        }
        let mut public_ips = Vec::new();
        for (k, p) in f.public_ips.value.iter().enumerate() {
            let ppath = format!("{path}.public_ips[{k}]");
            if let Some(ip) =
                self.public_ip(p, &ppath, &format!("firewall `{}`", f.name.value), public)
            {
                public_ips.push(ip);
            }
        }
        Some(Firewall {
            name: f.name.value.clone(),
            vnet,
            subnet,
            sku,
            throughput_bps,
            ip: first_usable(prefix),
            public_ips,
            policy,
        })
    }

    /// A public address of `owner`: public, and no other resource's.
    fn public_ip(
        &mut self,
        p: &Spanned<String>,
        path: &str,
        owner: &str,
        public: &mut HashMap<Ipv4Addr, (String, u32)>,
    ) -> Option<Ipv4Addr> {
        let ip = self.ip(p, path)?;
        if let Some(why) = not_public(ip) {
            self.err_help(
                loc(p),
                path,
                Rule::PublicIpRange,
                format!("{ip} is {why}, not a public address"),
                "use a public address; documentation ranges such as 203.0.113.0/24 work",
            );
            return None;
        }
        if let Some(v) = self
            .sc
            .vnets
            .iter()
            .find(|v| v.address_space.iter().any(|a| a.contains(&ip)))
        {
            let msg = format!(
                "{ip} lies in VNet `{}`'s address space, not on the Internet",
                v.name
            );
            self.err(loc(p), path, Rule::PublicIpRange, msg);
            return None;
        }
        if let Some((other, line)) = public.get(&ip) {
            let msg = format!("{ip} is already the public address of {other} (line {line})");
            self.err(loc(p), path, Rule::PublicIpDuplicate, msg);
            return None;
        }
        public.insert(ip, (owner.to_owned(), loc(p).line() as u32));
        Some(ip)
    }

    /// No VM's NIC in AzureFirewallSubnet.
    fn nics_outside_firewall_subnet(&mut self) {
        let raw = self.raw;
        let mut k = 0;
        for (i, vm) in raw.vms.iter().enumerate() {
            for (j, n) in vm.nics.value.iter().enumerate() {
                let in_fw = self.sc.nics.get(k).is_some_and(|nic| {
                    self.sc
                        .subnets
                        .get(nic.subnet.index())
                        .is_some_and(|s| s.name == FIREWALL_SUBNET)
                });
                k += 1;
                if in_fw {
                    self.err_help(
                        loc(&n.subnet),
                        format!("vms[{i}].nics[{j}].subnet"),
                        Rule::NicInFirewallSubnet,
                        format!(
                            "NIC `{}` is in AzureFirewallSubnet, which holds only the Azure Firewall",
                            n.name.value
                        ),
                        "put the VM in another subnet of the VNet [FWFAQ23]",
                    );
                }
            }
        }
    }

    /// Each NIC's public IP and its SKU.
    fn nic_public_ips(&mut self, public: &mut HashMap<Ipv4Addr, (String, u32)>) {
        let raw = self.raw;
        let mut k = 0;
        for (i, vm) in raw.vms.iter().enumerate() {
            for (j, n) in vm.nics.value.iter().enumerate() {
                let id = k;
                k += 1;
                // Written out only for a diagnostic or a public IP, not for every NIC.
                let path = || format!("vms[{i}].nics[{j}]");
                let sku = match &n.public_ip_sku {
                    None => PublicIpSku::Standard,
                    Some(s) => match s.value.trim().to_ascii_lowercase().as_str() {
                        "standard" => PublicIpSku::Standard,
                        "basic" => PublicIpSku::Basic,
                        other => {
                            self.err_help(
                                loc(s),
                                format!("{}.public_ip_sku", path()),
                                Rule::UnknownVariant,
                                format!("`{other}` is not a public IP SKU"),
                                "use `Standard` or `Basic`",
                            );
                            PublicIpSku::Standard
                        }
                    },
                };
                let Some(p) = &n.public_ip else { continue };
                let owner = format!("NIC `{}`", n.name.value);
                if let Some(ip) =
                    self.public_ip(p, &format!("{}.public_ip", path()), &owner, public)
                    && let Some(nic) = self.sc.nics.get_mut(id)
                {
                    nic.public_ip = Some(PublicIp { ip, sku });
                }
            }
        }
    }

    /// `internet`: hosts with public addresses, named like VMs and on-premises hosts.
    fn internet_hosts(&mut self, public: &mut HashMap<Ipv4Addr, (String, u32)>) {
        let raw = self.raw;
        let start = raw.vms.len() + raw.on_premises.iter().map(|s| s.hosts.len()).sum::<usize>();
        let mut endpoints = std::mem::take(&mut self.names.endpoints);
        self.index_into(
            "VM or host",
            raw.internet
                .iter()
                .enumerate()
                .map(|(i, h)| (&h.name, format!("internet[{i}].name"))),
            &mut endpoints,
            start as u32,
        );
        self.names.endpoints = endpoints;
        for (i, h) in raw.internet.iter().enumerate() {
            let owner = format!("Internet host `{}`", h.name.value);
            let ip = self
                .public_ip(&h.ip, &format!("internet[{i}].ip"), &owner, public)
                .unwrap_or(Ipv4Addr::UNSPECIFIED);
            self.sc.internet_hosts.push(InternetHost {
                name: h.name.value.as_str().into(),
                ip,
            });
        }
    }

    /// Each DNAT rule's destination is a public IP of every firewall that applies its policy.
    fn dnat_addresses(&mut self) {
        let raw = self.raw;
        for (fi, fw) in self.sc.firewalls.clone().iter().enumerate() {
            let Some(pid) = fw.policy else { continue };
            let rp = &raw.firewall_policies[pid.index()];
            for group in &rp.rule_collection_groups {
                for coll in &group.rule_collections {
                    if !coll.kind.value.trim().eq_ignore_ascii_case("dnat") {
                        continue;
                    }
                    for r in &coll.rules {
                        for a in &r.destination_addresses {
                            let Ok(ip) = a.value.trim().parse::<Ipv4Addr>() else {
                                continue;
                            };
                            if !fw.public_ips.contains(&ip) {
                                let _ = fi;
                                self.err_help(
                                    loc(a),
                                    format!("firewall_policies[{}].rule `{}`", pid.index(), r.name.value),
                                    Rule::FirewallDnat,
                                    format!(
                                        "DNAT rule `{}` translates {ip}, which is not a public IP of firewall `{}` that applies policy `{}`",
                                        r.name.value, fw.name, rp.name.value
                                    ),
                                    format!(
                                        "a DNAT rule matches traffic to one of the firewall's public IPs: {}",
                                        fw.public_ips.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ")
                                    ),
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

/// An IP, a CIDR or a range `a-b`, as an inclusive range.
pub(super) fn address_range(s: &str) -> Option<(u32, u32)> {
    let s = s.trim();
    if let Ok(ip) = s.parse::<Ipv4Addr>() {
        let v = u32::from(ip);
        return Some((v, v));
    }
    if let Ok(net) = s.parse::<Ipv4Net>() {
        let net = net.trunc();
        return Some((u32::from(net.network()), u32::from(net.broadcast())));
    }
    let (a, b) = s.split_once('-')?;
    let (a, b) = (
        a.trim().parse::<Ipv4Addr>().ok()?,
        b.trim().parse::<Ipv4Addr>().ok()?,
    );
    (u32::from(a) <= u32::from(b)).then_some((u32::from(a), u32::from(b)))
}

/// `Http`, `Https:8443`, `Mssql`.
fn app_protocol(s: &str) -> Option<AppProtocol> {
    let (name, port) = match s.trim().split_once(':') {
        Some((n, p)) => (n, Some(p.trim().parse::<u16>().ok().filter(|p| *p > 0)?)),
        None => (s.trim(), None),
    };
    let (kind, default) = match name.to_ascii_lowercase().as_str() {
        "http" => (AppProtocolKind::Http, 80),
        "https" => (AppProtocolKind::Https, 443),
        "mssql" => (AppProtocolKind::Mssql, 1433),
        _ => return None,
    };
    Some(AppProtocol {
        kind,
        port: port.unwrap_or(default),
    })
}

/// Whether a rule matches ICMP only (which needs no ports).
fn icmp_only(rule: &FirewallRule) -> bool {
    let p = rule.protocols;
    p.icmp && !p.tcp && !p.udp && !p.any
}

/// A DNS name: dot-separated labels of letters, digits and hyphens.
fn valid_fqdn(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

/// Why `ip` is not a public address, if it is not.
pub(super) fn not_public(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    Some(match o {
        [10, ..] => "a private address (RFC 1918)",
        [172, b, ..] if (16..32).contains(&b) => "a private address (RFC 1918)",
        [192, 168, ..] => "a private address (RFC 1918)",
        [100, b, ..] if (64..128).contains(&b) => "a shared address (RFC 6598)",
        [0, ..] => "in 0.0.0.0/8",
        [127, ..] => "a loopback address",
        [169, 254, ..] => "a link-local address",
        [168, 63, 129, 16] => "Azure's platform address",
        [a, ..] if a >= 224 => "a multicast or reserved address",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A NIC's public IP problems name the NIC by its VM's and its own index.
    #[test]
    fn a_nic_public_ip_problem_names_the_nic() {
        let text = "name: t\nvnets:\n  - { name: v, address_space: [10.0.0.0/16], subnets: [ { name: a, prefix: 10.0.1.0/24 } ] }\n\
            vms:\n  - { name: a, size: Standard_D2s_v3, nics: [ { name: a0, vnet: v, subnet: a, ip: 10.0.1.4 } ] }\n\
            \x20 - { name: b, size: Standard_D2s_v3, nics: [ { name: b0, vnet: v, subnet: a, ip: 10.0.1.5 }, \
            { name: b1, vnet: v, subnet: a, ip: 10.0.1.6, public_ip: 20.1.2.300, public_ip_sku: Premium } ] }\n";
        let err = crate::load_str(text, "t.yaml").unwrap_err();
        let paths: Vec<(&str, &str)> = err
            .diagnostics
            .iter()
            .map(|d| (d.rule, d.path.as_str()))
            .collect();
        assert_eq!(
            paths,
            [
                ("invalid-ip", "vms[1].nics[1].public_ip"),
                ("unknown-variant", "vms[1].nics[1].public_ip_sku")
            ]
        );
    }

    #[test]
    fn address_ranges_parse_ip_cidr_and_range() {
        assert_eq!(address_range("10.0.0.1"), Some((0x0a00_0001, 0x0a00_0001)));
        assert_eq!(
            address_range("10.0.0.0/30"),
            Some((0x0a00_0000, 0x0a00_0003))
        );
        assert_eq!(
            address_range("10.0.0.5-10.0.0.9"),
            Some((0x0a00_0005, 0x0a00_0009))
        );
        assert_eq!(address_range("10.0.0.9-10.0.0.5"), None);
        assert_eq!(address_range("web"), None);
    }

    #[test]
    fn application_protocols_take_default_ports() {
        assert_eq!(app_protocol("Https").map(|p| p.port), Some(443));
        assert_eq!(app_protocol("http:8080").map(|p| p.port), Some(8080));
        assert_eq!(app_protocol("mssql").map(|p| p.port), Some(1433));
        assert_eq!(app_protocol("ftp"), None);
        assert_eq!(app_protocol("https:0"), None);
    }

    #[test]
    fn public_addresses_exclude_private_and_reserved_ranges() {
        assert!(not_public("203.0.113.10".parse().unwrap()).is_none());
        assert!(not_public("10.1.2.3".parse().unwrap()).is_some());
        assert!(not_public("172.20.0.1".parse().unwrap()).is_some());
        assert!(not_public("100.64.0.1".parse().unwrap()).is_some());
        assert!(not_public("168.63.129.16".parse().unwrap()).is_some());
        assert!(not_public("172.32.0.1".parse().unwrap()).is_none());
    }
}
