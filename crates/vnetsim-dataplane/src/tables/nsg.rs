//! Compiled network security group evaluation.
//!
//! What it is for: turning one [`model::Nsg`] plus the service-tag address sets of the VNet it
//! is evaluated in (and the application security groups' member addresses, see
//! [`crate::tables::asg`]) into a [`CompiledNsg`]: per direction, the user rules in priority order
//! followed by Azure's six default rules, each with numeric protocol, address sets and port
//! sets. [`CompiledNsg::evaluate`] then returns the first matching rule for a [`FlowKey`] with no
//! allocation, lock or panic.
//!
//! What it is not: not stateful (flow records that let replies through belong to the caller),
//! not the ordering of subnet and NIC NSGs (Azure evaluates the subnet NSG first inbound and the
//! NIC NSG first outbound: the pipeline chains two `evaluate` calls), and not the computation of
//! the service tags (the data plane derives [`TagSets`] per VNet from peerings and gateways).
//!
//! Platform tags: a rule naming AzurePlatformDNS, AzurePlatformIMDS or AzurePlatformLKM is also
//! kept in a list of its own, the only rules that apply to a packet a VM sends to a platform
//! address ([`CompiledNsg::evaluate_platform`]): that traffic is "not subject to the configured
//! network security groups" unless a rule targets it with these tags [nsg-overview] 03/2023.
//!
//! Ports and ICMP: Azure's port fields do not apply to ICMP. A packet without ports (anything
//! but TCP and UDP, see [`FlowKey::has_ports`]) matches a rule only if both of its port sets are
//! "*" (cover every port); a rule restricted to some ports never matches it.

use std::borrow::Cow;

use ipnet::Ipv4Net;
use vnetsim_scenario::model::{self, Access, AddressMatch, Direction, PortRange, ServiceTag};

use crate::tables::addrset::AddrSet;
use crate::tables::asg::AsgSets;
use crate::tables::platform::{HOST_VIP, IMDS_IP};
use crate::wire::{FlowKey, PROTO_ICMP, PROTO_TCP, PROTO_UDP};

/// The address sets of the service tags, as seen from one VNet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TagSets {
    /// `VirtualNetwork`: the VNet, its peers with access allowed, on-premises ranges, ...
    pub virtual_network: AddrSet,
    /// `Internet`: public space outside the VirtualNetwork tag.
    pub internet: AddrSet,
    /// `AzureLoadBalancer`: 168.63.129.16.
    pub azure_load_balancer: AddrSet,
    /// Each application security group: its member NICs' addresses (the same in every VNet).
    pub application_security_groups: AsgSets,
}

impl TagSets {
    /// The address set of `tag`. The platform tags are the same everywhere: AzurePlatformDNS
    /// is 168.63.129.16, AzurePlatformIMDS 169.254.169.254, AzurePlatformLKM no address of a
    /// simulation (KMS answers on public addresses vnetsim does not model) [service-tags].
    pub fn get(&self, tag: ServiceTag) -> Cow<'_, AddrSet> {
        match tag {
            ServiceTag::VirtualNetwork => Cow::Borrowed(&self.virtual_network),
            ServiceTag::Internet => Cow::Borrowed(&self.internet),
            ServiceTag::AzureLoadBalancer => Cow::Borrowed(&self.azure_load_balancer),
            ServiceTag::AzurePlatformDns => {
                Cow::Owned(AddrSet::from_prefixes([Ipv4Net::from(HOST_VIP)]))
            }
            ServiceTag::AzurePlatformImds => {
                Cow::Owned(AddrSet::from_prefixes([Ipv4Net::from(IMDS_IP)]))
            }
            ServiceTag::AzurePlatformLkm => Cow::Owned(AddrSet::empty()),
        }
    }

    /// The addresses matched by one source or destination entry of a rule.
    pub fn resolve(&self, entry: &AddressMatch) -> AddrSet {
        match *entry {
            AddressMatch::Any => AddrSet::all(),
            AddressMatch::Prefix(net) => AddrSet::from_prefixes([net]),
            AddressMatch::Tag(tag) => self.get(tag).into_owned(),
            // An ASG matches its member NICs' addresses [ASG20]: numeric like a prefix list.
            AddressMatch::Asg(asg) => self.application_security_groups.get(asg),
        }
    }
}

/// Azure's six default rules, present in every NSG.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DefaultRule {
    /// Inbound 65000: VirtualNetwork to VirtualNetwork, allow.
    AllowVNetInBound,
    /// Inbound 65001: AzureLoadBalancer to any, allow.
    AllowAzureLoadBalancerInBound,
    /// Inbound 65500: any to any, deny.
    DenyAllInbound,
    /// Outbound 65000: VirtualNetwork to VirtualNetwork, allow.
    AllowVnetOutBound,
    /// Outbound 65001: any to Internet, allow.
    AllowInternetOutBound,
    /// Outbound 65500: any to any, deny.
    DenyAllOutBound,
}

/// How Azure lists a rule: every field as text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuleText {
    /// Rule name.
    pub name: &'static str,
    /// Priority.
    pub priority: u16,
    /// `Inbound` or `Outbound`.
    pub direction: &'static str,
    /// Source: a tag name or `0.0.0.0/0`.
    pub source: &'static str,
    /// Source ports.
    pub source_ports: &'static str,
    /// Destination: a tag name or `0.0.0.0/0`.
    pub destination: &'static str,
    /// Destination ports.
    pub destination_ports: &'static str,
    /// Protocol.
    pub protocol: &'static str,
    /// `Allow` or `Deny`.
    pub access: &'static str,
}

impl DefaultRule {
    /// The inbound default rules, in evaluation order.
    pub const INBOUND: [DefaultRule; 3] = [
        DefaultRule::AllowVNetInBound,
        DefaultRule::AllowAzureLoadBalancerInBound,
        DefaultRule::DenyAllInbound,
    ];

    /// The outbound default rules, in evaluation order.
    pub const OUTBOUND: [DefaultRule; 3] = [
        DefaultRule::AllowVnetOutBound,
        DefaultRule::AllowInternetOutBound,
        DefaultRule::DenyAllOutBound,
    ];

    /// The default rules of `direction`, in evaluation order.
    pub fn for_direction(direction: Direction) -> [DefaultRule; 3] {
        match direction {
            Direction::Inbound => Self::INBOUND,
            Direction::Outbound => Self::OUTBOUND,
        }
    }

    /// Azure's name (with Azure's own capitalisation, `VNet` inbound and `Vnet` outbound).
    pub fn name(self) -> &'static str {
        match self {
            DefaultRule::AllowVNetInBound => "AllowVNetInBound",
            DefaultRule::AllowAzureLoadBalancerInBound => "AllowAzureLoadBalancerInBound",
            DefaultRule::DenyAllInbound => "DenyAllInbound",
            DefaultRule::AllowVnetOutBound => "AllowVnetOutBound",
            DefaultRule::AllowInternetOutBound => "AllowInternetOutBound",
            DefaultRule::DenyAllOutBound => "DenyAllOutBound",
        }
    }

    /// Priority: 65000, 65001 or 65500.
    pub fn priority(self) -> u16 {
        match self {
            DefaultRule::AllowVNetInBound | DefaultRule::AllowVnetOutBound => 65000,
            DefaultRule::AllowAzureLoadBalancerInBound | DefaultRule::AllowInternetOutBound => {
                65001
            }
            DefaultRule::DenyAllInbound | DefaultRule::DenyAllOutBound => 65500,
        }
    }

    /// The direction the rule belongs to.
    pub fn direction(self) -> Direction {
        match self {
            DefaultRule::AllowVNetInBound
            | DefaultRule::AllowAzureLoadBalancerInBound
            | DefaultRule::DenyAllInbound => Direction::Inbound,
            DefaultRule::AllowVnetOutBound
            | DefaultRule::AllowInternetOutBound
            | DefaultRule::DenyAllOutBound => Direction::Outbound,
        }
    }

    /// Allow or deny.
    pub fn access(self) -> Access {
        match self {
            DefaultRule::DenyAllInbound | DefaultRule::DenyAllOutBound => Access::Deny,
            _ => Access::Allow,
        }
    }

    /// The source, as a rule entry.
    pub fn source(self) -> AddressMatch {
        match self {
            DefaultRule::AllowVNetInBound | DefaultRule::AllowVnetOutBound => {
                AddressMatch::Tag(ServiceTag::VirtualNetwork)
            }
            DefaultRule::AllowAzureLoadBalancerInBound => {
                AddressMatch::Tag(ServiceTag::AzureLoadBalancer)
            }
            _ => AddressMatch::Any,
        }
    }

    /// The destination, as a rule entry.
    pub fn destination(self) -> AddressMatch {
        match self {
            DefaultRule::AllowVNetInBound | DefaultRule::AllowVnetOutBound => {
                AddressMatch::Tag(ServiceTag::VirtualNetwork)
            }
            DefaultRule::AllowInternetOutBound => AddressMatch::Tag(ServiceTag::Internet),
            _ => AddressMatch::Any,
        }
    }

    /// The rule as Azure's default-rule table shows it: every port (`0-65535`), protocol
    /// `Any`, and `0.0.0.0/0` for every address.
    pub fn describe(self) -> RuleText {
        fn addr(m: AddressMatch) -> &'static str {
            match m {
                AddressMatch::Tag(tag) => tag.name(),
                _ => "0.0.0.0/0",
            }
        }
        RuleText {
            name: self.name(),
            priority: self.priority(),
            direction: match self.direction() {
                Direction::Inbound => "Inbound",
                Direction::Outbound => "Outbound",
            },
            source: addr(self.source()),
            source_ports: "0-65535",
            destination: addr(self.destination()),
            destination_ports: "0-65535",
            protocol: "Any",
            access: match self.access() {
                Access::Allow => "Allow",
                Access::Deny => "Deny",
            },
        }
    }
}

/// Which rule decided: a user rule (index into [`model::Nsg::rules`]) or a default rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RuleRef {
    /// Index into [`model::Nsg::rules`].
    User(u32),
    /// One of the six default rules.
    Default(DefaultRule),
}

/// The outcome of [`CompiledNsg::evaluate`]: the first matching rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Verdict {
    /// The rule that matched.
    pub rule: RuleRef,
    /// Its access.
    pub access: Access,
    /// Its priority.
    pub priority: u16,
}

/// A set of ports: sorted, merged inclusive ranges, with a fast flag for "*".
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PortSet {
    any: bool,
    ranges: Vec<(u16, u16)>,
}

impl PortSet {
    /// Every port ("*").
    pub fn any() -> Self {
        Self {
            any: true,
            ranges: vec![(0, u16::MAX)],
        }
    }

    /// The union of the given ranges. Ranges that together cover every port make the set "*";
    /// an empty list matches no port; a range with `lo > hi` is ignored.
    pub fn from_ranges(ranges: &[PortRange]) -> Self {
        let mut v: Vec<(u16, u16)> = ranges
            .iter()
            .filter(|r| r.lo <= r.hi)
            .map(|r| (r.lo, r.hi))
            .collect();
        v.sort_unstable();
        let mut merged: Vec<(u16, u16)> = Vec::with_capacity(v.len());
        for (lo, hi) in v {
            match merged.last_mut() {
                Some(last) if u32::from(lo) <= u32::from(last.1) + 1 => last.1 = last.1.max(hi),
                _ => merged.push((lo, hi)),
            }
        }
        Self {
            any: merged == [(0, u16::MAX)],
            ranges: merged,
        }
    }

    /// Whether the set holds every port.
    #[inline]
    pub fn is_any(&self) -> bool {
        self.any
    }

    /// The sorted, merged inclusive ranges.
    pub fn ranges(&self) -> &[(u16, u16)] {
        &self.ranges
    }

    /// Whether `port` is in the set.
    #[inline]
    pub fn contains(&self, port: u16) -> bool {
        self.any || self.ranges.iter().any(|&(lo, hi)| lo <= port && port <= hi)
    }
}

/// One rule in numeric form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompiledRule {
    /// Which rule this is.
    pub rule: RuleRef,
    /// Its priority.
    pub priority: u16,
    /// Its direction.
    pub direction: Direction,
    /// Allow or deny.
    pub access: Access,
    /// IPv4 protocol number, `None` for any protocol.
    pub protocol: Option<u8>,
    /// Source addresses (union of the rule's source entries).
    pub source: AddrSet,
    /// Destination addresses (union of the rule's destination entries).
    pub destination: AddrSet,
    /// Source ports.
    pub source_ports: PortSet,
    /// Destination ports.
    pub destination_ports: PortSet,
}

impl CompiledRule {
    /// Whether the rule matches `key` (direction aside).
    #[inline]
    pub fn matches(&self, key: &FlowKey) -> bool {
        if let Some(p) = self.protocol
            && p != key.protocol
        {
            return false;
        }
        let ports_ok = if key.has_ports() {
            self.source_ports.contains(key.src_port)
                && self.destination_ports.contains(key.dst_port)
        } else {
            self.source_ports.is_any() && self.destination_ports.is_any()
        };
        ports_ok && self.source.contains(key.src) && self.destination.contains(key.dst)
    }

    fn default_rule(d: DefaultRule, tags: &TagSets) -> Self {
        CompiledRule {
            rule: RuleRef::Default(d),
            priority: d.priority(),
            direction: d.direction(),
            access: d.access(),
            protocol: None,
            source: tags.resolve(&d.source()),
            destination: tags.resolve(&d.destination()),
            source_ports: PortSet::any(),
            destination_ports: PortSet::any(),
        }
    }
}

/// An NSG compiled against the service tags of one VNet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompiledNsg {
    inbound: Vec<CompiledRule>,
    outbound: Vec<CompiledRule>,
    inbound_index: RuleIndex,
    outbound_index: RuleIndex,
    /// The outbound user rules naming a platform tag in their destination, by priority, with
    /// that tag: the only rules platform traffic meets. Empty unless a rule names one.
    platform: Vec<(ServiceTag, CompiledRule)>,
}

/// Which rules can match a packet, by protocol and destination port: a packet is checked only
/// against the rules of its protocol class whose destination ports hold its port, still in
/// priority order. The port space of each class is cut at every rule's port bounds; each piece
/// keeps its candidate list (consecutive equal lists are stored once).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct RuleIndex {
    /// TCP and UDP: (interval starts, offsets into `candidates` per interval).
    tcp: PortIntervals,
    udp: PortIntervals,
    /// ICMP and other protocols without ports: one candidate list each.
    icmp: (u32, u32),
    other: (u32, u32),
    /// Rule indices into the direction's rule list, concatenated.
    candidates: Vec<u16>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct PortIntervals {
    starts: Vec<u16>,
    /// (start, end) of each interval's slice of `candidates`.
    slices: Vec<(u32, u32)>,
}

impl RuleIndex {
    fn build(rules: &[CompiledRule]) -> RuleIndex {
        let mut index = RuleIndex::default();
        let push = |candidates: &mut Vec<u16>, list: Vec<u16>, last: Option<(u32, u32)>| {
            if let Some((a, b)) = last
                && candidates[a as usize..b as usize] == list[..]
            {
                return (a, b);
            }
            let a = candidates.len() as u32;
            candidates.extend(list);
            (a, candidates.len() as u32)
        };
        for (proto, which) in [(PROTO_TCP, 0), (PROTO_UDP, 1)] {
            let class: Vec<usize> = (0..rules.len())
                .filter(|&i| rules[i].protocol.is_none_or(|p| p == proto))
                .collect();
            let mut cuts: Vec<u32> = vec![0];
            for &i in &class {
                for &(lo, hi) in rules[i].destination_ports.ranges() {
                    cuts.push(u32::from(lo));
                    cuts.push(u32::from(hi) + 1);
                }
            }
            cuts.retain(|&c| c <= 65535);
            cuts.sort_unstable();
            cuts.dedup();
            let mut iv = PortIntervals::default();
            let mut last = None;
            for &c in &cuts {
                let port = c as u16;
                let list: Vec<u16> = class
                    .iter()
                    .filter(|&&i| rules[i].destination_ports.contains(port))
                    .map(|&i| i as u16)
                    .collect();
                let slice = push(&mut index.candidates, list, last);
                last = Some(slice);
                iv.starts.push(port);
                iv.slices.push(slice);
            }
            if which == 0 {
                index.tcp = iv;
            } else {
                index.udp = iv;
            }
        }
        // Without ports a rule matches only if both its port sets are "*".
        for (proto, which) in [(Some(PROTO_ICMP), 0), (None, 1)] {
            let list: Vec<u16> = (0..rules.len())
                .filter(|&i| {
                    let r = &rules[i];
                    let proto_ok = match (r.protocol, proto) {
                        (None, _) => true,
                        (Some(p), Some(q)) => p == q,
                        // ESP and AH rules: `matches` checks the number.
                        (Some(p), None) => ![PROTO_TCP, PROTO_UDP, PROTO_ICMP].contains(&p),
                    };
                    proto_ok && r.source_ports.is_any() && r.destination_ports.is_any()
                })
                .map(|i| i as u16)
                .collect();
            let slice = push(&mut index.candidates, list, None);
            if which == 0 {
                index.icmp = slice;
            } else {
                index.other = slice;
            }
        }
        index
    }

    /// The candidate rules for `key`, in priority order. Protocols other than TCP, UDP and ICMP
    /// get the "other" list, which holds the rules of any protocol and those naming another
    /// protocol (ESP, AH), whose number `CompiledRule::matches` then checks.
    #[inline]
    fn candidates(&self, key: &FlowKey) -> &[u16] {
        let (a, b) = match key.protocol {
            PROTO_TCP | PROTO_UDP => {
                let iv = if key.protocol == PROTO_TCP {
                    &self.tcp
                } else {
                    &self.udp
                };
                let i = iv
                    .starts
                    .partition_point(|&s| s <= key.dst_port)
                    .saturating_sub(1);
                iv.slices.get(i).copied().unwrap_or((0, 0))
            }
            PROTO_ICMP => self.icmp,
            _ => self.other,
        };
        &self.candidates[a as usize..b as usize]
    }
}

fn union_of(entries: &[AddressMatch], tags: &TagSets) -> AddrSet {
    entries
        .iter()
        .fold(AddrSet::empty(), |acc, e| acc.union(&tags.resolve(e)))
}

impl CompiledNsg {
    /// Compiles `nsg` with `tags` resolving its service tags. Per direction, the user rules are
    /// sorted by priority (input order breaks ties, which a checked scenario never has) and the
    /// three default rules of that direction follow.
    pub fn compile(nsg: &model::Nsg, tags: &TagSets) -> CompiledNsg {
        let mut inbound = Vec::new();
        let mut outbound = Vec::new();
        for (i, r) in nsg.rules.iter().enumerate() {
            let compiled = CompiledRule {
                rule: RuleRef::User(i as u32),
                priority: r.priority,
                direction: r.direction,
                access: r.access,
                protocol: r.protocol.number(),
                source: union_of(&r.source, tags),
                destination: union_of(&r.destination, tags),
                source_ports: PortSet::from_ranges(&r.source_ports),
                destination_ports: PortSet::from_ranges(&r.destination_ports),
            };
            match r.direction {
                Direction::Inbound => inbound.push(compiled),
                Direction::Outbound => outbound.push(compiled),
            }
        }
        // Stable sort: equal priorities keep input order.
        inbound.sort_by_key(|r| r.priority);
        outbound.sort_by_key(|r| r.priority);
        let mut platform = Vec::new();
        for r in &outbound {
            let RuleRef::User(i) = r.rule else { continue };
            for entry in &nsg.rules[i as usize].destination {
                if let AddressMatch::Tag(tag) = *entry
                    && tag.is_platform()
                {
                    platform.push((tag, r.clone()));
                }
            }
        }
        for (list, dir) in [
            (&mut inbound, Direction::Inbound),
            (&mut outbound, Direction::Outbound),
        ] {
            list.extend(
                DefaultRule::for_direction(dir)
                    .into_iter()
                    .map(|d| CompiledRule::default_rule(d, tags)),
            );
        }
        CompiledNsg {
            inbound_index: RuleIndex::build(&inbound),
            outbound_index: RuleIndex::build(&outbound),
            inbound,
            outbound,
            platform,
        }
    }

    /// The first outbound rule naming the platform tag `tag` in its destination that matches
    /// `key` (a packet a VM sends to a platform address), in priority order; `None` when no
    /// rule names it: the platform's traffic then passes, "not subject to the configured
    /// network security groups" [nsg-overview] 03/2023. A Deny rule naming AzurePlatformDNS
    /// blocks the platform's DNS [ip-168] 03/2023. No allocation: a scan of the (usually
    /// empty) platform list.
    #[inline]
    pub fn evaluate_platform(&self, tag: ServiceTag, key: &FlowKey) -> Option<Verdict> {
        self.platform
            .iter()
            .find(|(t, r)| *t == tag && r.matches(key))
            .map(|(_, r)| Verdict {
                rule: r.rule,
                access: r.access,
                priority: r.priority,
            })
    }

    /// The rules of `direction` in evaluation order (user rules, then the defaults).
    pub fn rules(&self, direction: Direction) -> impl Iterator<Item = &CompiledRule> {
        self.list(direction).iter()
    }

    #[inline]
    fn list(&self, direction: Direction) -> &[CompiledRule] {
        match direction {
            Direction::Inbound => &self.inbound,
            Direction::Outbound => &self.outbound,
        }
    }

    /// The first rule of `direction` matching `key`, in priority order. Always returns: the
    /// last default rule (DenyAllInbound / DenyAllOutBound) matches every packet.
    #[inline]
    pub fn evaluate(&self, direction: Direction, key: &FlowKey) -> Verdict {
        let (list, index) = match direction {
            Direction::Inbound => (&self.inbound, &self.inbound_index),
            Direction::Outbound => (&self.outbound, &self.outbound_index),
        };
        for &i in index.candidates(key) {
            let r = &list[usize::from(i)];
            if r.matches(key) {
                return Verdict {
                    rule: r.rule,
                    access: r.access,
                    priority: r.priority,
                };
            }
        }
        // Only reachable for a hand-built value without defaults; answer like the deny-all rule.
        let d = match direction {
            Direction::Inbound => DefaultRule::DenyAllInbound,
            Direction::Outbound => DefaultRule::DenyAllOutBound,
        };
        Verdict {
            rule: RuleRef::Default(d),
            access: d.access(),
            priority: d.priority(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipnet::Ipv4Net;
    use proptest::prelude::*;
    use std::net::Ipv4Addr;
    use vnetsim_scenario::model::{NsgRule, Protocol, RuleProtocol};

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> u32 {
        u32::from(s.parse::<Ipv4Addr>().unwrap())
    }

    /// A VNet 10.0.0.0/16 peered with 10.1.0.0/16; 10/8 outside them is neither VNet nor
    /// Internet.
    fn tags() -> TagSets {
        let vnet = AddrSet::from_prefixes([net("10.0.0.0/16"), net("10.1.0.0/16")]);
        let private = AddrSet::from_prefixes([net("10.0.0.0/8")]);
        TagSets {
            internet: AddrSet::all().difference(&private).difference(&vnet),
            virtual_network: vnet,
            azure_load_balancer: AddrSet::from_prefixes([net("168.63.129.16/32")]),
            application_security_groups: AsgSets::default(),
        }
    }

    fn key(src: &str, dst: &str, protocol: u8, sp: u16, dp: u16) -> FlowKey {
        FlowKey {
            src: ip(src),
            dst: ip(dst),
            protocol,
            src_port: sp,
            dst_port: dp,
        }
    }

    fn rule(name: &str, priority: u16, direction: Direction, access: Access) -> NsgRule {
        NsgRule {
            name: name.into(),
            priority,
            direction,
            access,
            protocol: RuleProtocol::Any,
            source: vec![AddressMatch::Any],
            source_ports: vec![PortRange::ANY],
            destination: vec![AddressMatch::Any],
            destination_ports: vec![PortRange::ANY],
        }
    }

    fn empty_nsg() -> model::Nsg {
        model::Nsg {
            name: "nsg".into(),
            rules: vec![],
        }
    }

    #[test]
    fn defaults_inbound() {
        let n = CompiledNsg::compile(&empty_nsg(), &tags());
        let v = n.evaluate(
            Direction::Inbound,
            &key("203.0.113.9", "10.0.0.4", 6, 40000, 22),
        );
        assert_eq!(v.rule, RuleRef::Default(DefaultRule::DenyAllInbound));
        assert_eq!((v.access, v.priority), (Access::Deny, 65500));
        let v = n.evaluate(
            Direction::Inbound,
            &key("10.1.0.5", "10.0.0.4", 6, 40000, 22),
        );
        assert_eq!(v.rule, RuleRef::Default(DefaultRule::AllowVNetInBound));
        assert_eq!((v.access, v.priority), (Access::Allow, 65000));
        let v = n.evaluate(
            Direction::Inbound,
            &key("168.63.129.16", "10.0.0.4", 6, 1, 80),
        );
        assert_eq!(
            v.rule,
            RuleRef::Default(DefaultRule::AllowAzureLoadBalancerInBound)
        );
        // ICMP from a peer: no ports, but the default rules have "*" ports.
        let v = n.evaluate(Direction::Inbound, &key("10.1.0.5", "10.0.0.4", 1, 7, 7));
        assert_eq!(v.access, Access::Allow);
    }

    #[test]
    fn defaults_outbound() {
        let n = CompiledNsg::compile(&empty_nsg(), &tags());
        let v = n.evaluate(
            Direction::Outbound,
            &key("10.0.0.4", "198.51.100.10", 17, 5000, 53),
        );
        assert_eq!(v.rule, RuleRef::Default(DefaultRule::AllowInternetOutBound));
        assert_eq!((v.access, v.priority), (Access::Allow, 65001));
        let v = n.evaluate(
            Direction::Outbound,
            &key("10.0.0.4", "10.1.2.3", 6, 5000, 443),
        );
        assert_eq!(v.rule, RuleRef::Default(DefaultRule::AllowVnetOutBound));
        // Private space outside the VNet and its peers is not Internet either.
        let v = n.evaluate(
            Direction::Outbound,
            &key("10.0.0.4", "10.9.0.1", 6, 5000, 443),
        );
        assert_eq!(v.rule, RuleRef::Default(DefaultRule::DenyAllOutBound));
        assert_eq!(v.access, Access::Deny);
    }

    #[test]
    fn user_rules_in_priority_order_override_defaults() {
        let mut allow_ssh = rule("allow-ssh", 300, Direction::Inbound, Access::Allow);
        allow_ssh.protocol = RuleProtocol::One(Protocol::Tcp);
        allow_ssh.source = vec![AddressMatch::Prefix(net("203.0.113.0/24"))];
        allow_ssh.destination_ports = vec![PortRange { lo: 22, hi: 22 }];
        let mut deny_host = rule("deny-host", 200, Direction::Inbound, Access::Deny);
        deny_host.source = vec![AddressMatch::Prefix(net("203.0.113.66/32"))];
        let mut deny_peer = rule("deny-peer", 100, Direction::Outbound, Access::Deny);
        deny_peer.destination = vec![AddressMatch::Prefix(net("10.1.0.0/16"))];
        let nsg = model::Nsg {
            name: "n".into(),
            rules: vec![allow_ssh, deny_host, deny_peer],
        };
        let n = CompiledNsg::compile(&nsg, &tags());
        let v = n.evaluate(
            Direction::Inbound,
            &key("203.0.113.5", "10.0.0.4", 6, 40000, 22),
        );
        assert_eq!(
            (v.rule, v.access, v.priority),
            (RuleRef::User(0), Access::Allow, 300)
        );
        let v = n.evaluate(
            Direction::Inbound,
            &key("203.0.113.66", "10.0.0.4", 6, 40000, 22),
        );
        assert_eq!((v.rule, v.access), (RuleRef::User(1), Access::Deny));
        let v = n.evaluate(
            Direction::Inbound,
            &key("203.0.113.5", "10.0.0.4", 6, 40000, 23),
        );
        assert_eq!(v.rule, RuleRef::Default(DefaultRule::DenyAllInbound));
        // UDP to 22 is not TCP.
        let v = n.evaluate(
            Direction::Inbound,
            &key("203.0.113.5", "10.0.0.4", 17, 40000, 22),
        );
        assert_eq!(v.rule, RuleRef::Default(DefaultRule::DenyAllInbound));
        let v = n.evaluate(
            Direction::Outbound,
            &key("10.0.0.4", "10.1.0.9", 6, 40000, 22),
        );
        assert_eq!(v.rule, RuleRef::User(2));

        let order: Vec<u16> = n.rules(Direction::Inbound).map(|r| r.priority).collect();
        assert_eq!(order, vec![200, 300, 65000, 65001, 65500]);
        let names: Vec<RuleRef> = n.rules(Direction::Outbound).map(|r| r.rule).collect();
        assert_eq!(
            names,
            vec![
                RuleRef::User(2),
                RuleRef::Default(DefaultRule::AllowVnetOutBound),
                RuleRef::Default(DefaultRule::AllowInternetOutBound),
                RuleRef::Default(DefaultRule::DenyAllOutBound),
            ]
        );
    }

    #[test]
    fn icmp_matches_only_rules_with_any_ports() {
        let mut deny_web = rule("deny-web", 100, Direction::Inbound, Access::Deny);
        deny_web.destination_ports = vec![PortRange { lo: 80, hi: 80 }];
        // Two ranges that together cover every port count as "*".
        let mut deny_split = rule("deny-split", 200, Direction::Inbound, Access::Deny);
        deny_split.source = vec![AddressMatch::Tag(ServiceTag::VirtualNetwork)];
        deny_split.source_ports = vec![
            PortRange {
                lo: 1000,
                hi: 65535,
            },
            PortRange { lo: 0, hi: 999 },
        ];
        let nsg = model::Nsg {
            name: "n".into(),
            rules: vec![deny_web, deny_split],
        };
        let n = CompiledNsg::compile(&nsg, &tags());
        assert!(
            n.rules(Direction::Inbound)
                .nth(1)
                .unwrap()
                .source_ports
                .is_any()
        );
        let v = n.evaluate(Direction::Inbound, &key("10.1.0.5", "10.0.0.4", 1, 9, 9));
        assert_eq!(v.rule, RuleRef::User(1));
        let v = n.evaluate(Direction::Inbound, &key("10.1.0.5", "10.0.0.4", 6, 9, 80));
        assert_eq!(v.rule, RuleRef::User(0));
    }

    #[test]
    fn default_rule_table() {
        let all: Vec<RuleText> = DefaultRule::INBOUND
            .into_iter()
            .chain(DefaultRule::OUTBOUND)
            .map(DefaultRule::describe)
            .collect();
        let rows: Vec<(&str, u16, &str, &str, &str, &str)> = all
            .iter()
            .map(|t| {
                (
                    t.name,
                    t.priority,
                    t.direction,
                    t.source,
                    t.destination,
                    t.access,
                )
            })
            .collect();
        assert_eq!(
            rows,
            vec![
                (
                    "AllowVNetInBound",
                    65000,
                    "Inbound",
                    "VirtualNetwork",
                    "VirtualNetwork",
                    "Allow"
                ),
                (
                    "AllowAzureLoadBalancerInBound",
                    65001,
                    "Inbound",
                    "AzureLoadBalancer",
                    "0.0.0.0/0",
                    "Allow"
                ),
                (
                    "DenyAllInbound",
                    65500,
                    "Inbound",
                    "0.0.0.0/0",
                    "0.0.0.0/0",
                    "Deny"
                ),
                (
                    "AllowVnetOutBound",
                    65000,
                    "Outbound",
                    "VirtualNetwork",
                    "VirtualNetwork",
                    "Allow"
                ),
                (
                    "AllowInternetOutBound",
                    65001,
                    "Outbound",
                    "0.0.0.0/0",
                    "Internet",
                    "Allow"
                ),
                (
                    "DenyAllOutBound",
                    65500,
                    "Outbound",
                    "0.0.0.0/0",
                    "0.0.0.0/0",
                    "Deny"
                ),
            ]
        );
        for d in DefaultRule::INBOUND {
            assert_eq!(d.direction(), Direction::Inbound);
        }
        for d in DefaultRule::OUTBOUND {
            assert_eq!(d.direction(), Direction::Outbound);
        }
    }

    // ---- property test against a naive scan of the model rules ----

    fn naive_addr(entries: &[AddressMatch], tags: &TagSets, a: u32) -> bool {
        entries.iter().any(|e| match *e {
            AddressMatch::Any => true,
            AddressMatch::Prefix(p) => p.contains(&Ipv4Addr::from(a)),
            AddressMatch::Tag(t) => tags.get(t).contains(a),
            AddressMatch::Asg(g) => tags.application_security_groups.get(g).contains(a),
        })
    }

    fn naive_ports(ports: &[PortRange], p: u16) -> bool {
        ports.iter().any(|r| r.contains(p))
    }

    /// The generator only produces `[PortRange::ANY]` or lists that miss port 0, so "covers
    /// every port" is exactly "holds ANY" here.
    fn naive_star(ports: &[PortRange]) -> bool {
        ports.contains(&PortRange::ANY)
    }

    /// The platform rules by the book: the outbound rules naming `tag` in their destination,
    /// by priority, the first matching one (no default rule: the platform passes) [nsg-overview].
    fn naive_platform(
        nsg: &model::Nsg,
        tags: &TagSets,
        tag: ServiceTag,
        k: &FlowKey,
    ) -> Option<Verdict> {
        let mut rules: Vec<(usize, &NsgRule)> = nsg
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r.direction == Direction::Outbound
                    && r.destination.contains(&AddressMatch::Tag(tag))
            })
            .collect();
        rules.sort_by_key(|(_, r)| r.priority);
        rules
            .into_iter()
            .find(|(_, r)| naive_one(r, tags, k))
            .map(|(i, r)| Verdict {
                rule: RuleRef::User(i as u32),
                access: r.access,
                priority: r.priority,
            })
    }

    fn naive_one(r: &NsgRule, tags: &TagSets, k: &FlowKey) -> bool {
        let tcp_udp = k.protocol == 6 || k.protocol == 17;
        let proto = r.protocol.number().is_none_or(|p| p == k.protocol);
        let ports = if tcp_udp {
            naive_ports(&r.source_ports, k.src_port)
                && naive_ports(&r.destination_ports, k.dst_port)
        } else {
            naive_star(&r.source_ports) && naive_star(&r.destination_ports)
        };
        proto
            && ports
            && naive_addr(&r.source, tags, k.src)
            && naive_addr(&r.destination, tags, k.dst)
    }

    fn naive(nsg: &model::Nsg, tags: &TagSets, dir: Direction, k: &FlowKey) -> Verdict {
        let mut rules: Vec<(usize, &NsgRule)> = nsg
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.direction == dir)
            .collect();
        rules.sort_by_key(|(_, r)| r.priority);
        if let Some((i, r)) = rules.into_iter().find(|(_, r)| naive_one(r, tags, k)) {
            return Verdict {
                rule: RuleRef::User(i as u32),
                access: r.access,
                priority: r.priority,
            };
        }
        let vnet = &tags.virtual_network;
        let d = match dir {
            Direction::Inbound if vnet.contains(k.src) && vnet.contains(k.dst) => {
                DefaultRule::AllowVNetInBound
            }
            Direction::Inbound if tags.azure_load_balancer.contains(k.src) => {
                DefaultRule::AllowAzureLoadBalancerInBound
            }
            Direction::Inbound => DefaultRule::DenyAllInbound,
            Direction::Outbound if vnet.contains(k.src) && vnet.contains(k.dst) => {
                DefaultRule::AllowVnetOutBound
            }
            Direction::Outbound if tags.internet.contains(k.dst) => {
                DefaultRule::AllowInternetOutBound
            }
            Direction::Outbound => DefaultRule::DenyAllOutBound,
        };
        Verdict {
            rule: RuleRef::Default(d),
            access: d.access(),
            priority: d.priority(),
        }
    }

    const ADDRS: [&str; 13] = [
        "10.0.0.4",
        "10.0.255.255",
        "10.1.2.3",
        "10.1.2.4",
        "10.9.0.1",
        "192.0.2.1",
        "192.0.2.200",
        "198.51.100.5",
        "203.0.113.7",
        "203.0.113.8",
        "168.63.129.16",
        "169.254.169.254",
        "0.0.0.0",
    ];

    fn arb_match() -> impl Strategy<Value = AddressMatch> {
        let pool = [
            "10.0.0.0/16",
            "10.1.0.0/16",
            "10.1.2.0/24",
            "10.1.2.3/32",
            "10.0.0.0/8",
            "192.0.2.0/24",
            "192.0.2.128/25",
            "198.51.100.0/24",
            "203.0.113.7/32",
            "0.0.0.0/0",
        ];
        prop_oneof![
            1 => Just(AddressMatch::Any),
            5 => proptest::sample::select(pool.to_vec()).prop_map(|s| AddressMatch::Prefix(net(s))),
            2 => prop_oneof![
                Just(ServiceTag::VirtualNetwork),
                Just(ServiceTag::Internet),
                Just(ServiceTag::AzureLoadBalancer),
                Just(ServiceTag::AzurePlatformDns),
                Just(ServiceTag::AzurePlatformImds),
                Just(ServiceTag::AzurePlatformLkm),
            ]
            .prop_map(AddressMatch::Tag),
        ]
    }

    fn arb_ports() -> impl Strategy<Value = Vec<PortRange>> {
        let pool = [
            PortRange { lo: 22, hi: 22 },
            PortRange { lo: 80, hi: 80 },
            PortRange { lo: 443, hi: 443 },
            PortRange { lo: 53, hi: 53 },
            PortRange { lo: 1024, hi: 2000 },
            PortRange { lo: 1, hi: 65535 },
            PortRange {
                lo: 40000,
                hi: 65535,
            },
        ];
        prop_oneof![
            2 => Just(vec![PortRange::ANY]),
            3 => proptest::collection::vec(proptest::sample::select(pool.to_vec()), 1..3),
        ]
    }

    fn arb_rule() -> impl Strategy<Value = NsgRule> {
        (
            100u16..130,
            any::<bool>(),
            any::<bool>(),
            prop_oneof![
                Just(RuleProtocol::Any),
                Just(RuleProtocol::One(Protocol::Tcp)),
                Just(RuleProtocol::One(Protocol::Udp)),
                Just(RuleProtocol::One(Protocol::Icmp)),
                Just(RuleProtocol::Esp),
                Just(RuleProtocol::Ah),
            ],
            proptest::collection::vec(arb_match(), 1..3),
            arb_ports(),
            proptest::collection::vec(arb_match(), 1..3),
            arb_ports(),
        )
            .prop_map(
                |(priority, inbound, allow, protocol, source, sp, destination, dp)| NsgRule {
                    name: format!("r{priority}"),
                    priority,
                    direction: if inbound {
                        Direction::Inbound
                    } else {
                        Direction::Outbound
                    },
                    access: if allow { Access::Allow } else { Access::Deny },
                    protocol,
                    source,
                    source_ports: sp,
                    destination,
                    destination_ports: dp,
                },
            )
    }

    fn arb_key() -> impl Strategy<Value = FlowKey> {
        let addr = prop_oneof![
            4 => proptest::sample::select(&ADDRS[..]).prop_map(ip),
            1 => any::<u32>(),
        ];
        let port = prop_oneof![
            proptest::sample::select(&[0u16, 22, 53, 80, 443, 1024, 2000, 2001, 40000, 65535][..]),
            any::<u16>(),
        ];
        (
            addr.clone(),
            addr,
            proptest::sample::select(&[6u8, 17, 1, 50][..]),
            port.clone(),
            port,
        )
            .prop_map(|(src, dst, protocol, src_port, dst_port)| FlowKey {
                src,
                dst,
                protocol,
                src_port,
                dst_port,
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn evaluate_equals_naive_scan(
            rules in proptest::collection::vec(arb_rule(), 0..12),
            keys in proptest::collection::vec(arb_key(), 1..24),
        ) {
            // Priorities are unique per direction, as in a checked scenario.
            let mut seen = std::collections::HashSet::new();
            let rules: Vec<NsgRule> = rules
                .into_iter()
                .filter(|r| seen.insert((r.direction == Direction::Inbound, r.priority)))
                .collect();
            let nsg = model::Nsg { name: "n".into(), rules };
            let tags = tags();
            let compiled = CompiledNsg::compile(&nsg, &tags);
            for k in &keys {
                for dir in [Direction::Inbound, Direction::Outbound] {
                    prop_assert_eq!(
                        compiled.evaluate(dir, k),
                        naive(&nsg, &tags, dir, k),
                        "{:?} {:?}", dir, k
                    );
                }
                // The same packet sent to each platform address, against each platform tag.
                for dst in ["168.63.129.16", "169.254.169.254"] {
                    let k = FlowKey { dst: ip(dst), ..*k };
                    for tag in ServiceTag::ALL.into_iter().filter(|t| t.is_platform()) {
                        prop_assert_eq!(
                            compiled.evaluate_platform(tag, &k),
                            naive_platform(&nsg, &tags, tag, &k),
                            "{:?} {:?}", tag, k
                        );
                    }
                }
            }
        }
    }
}
