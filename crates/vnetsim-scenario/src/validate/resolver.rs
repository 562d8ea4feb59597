//! The resolver every room of the validator works in: the raw file, the diagnostics, the
//! scenario being built and the name indexes, with the helpers that read one field.
//!
//! What it is for: reporting a problem at a field (with a "did you mean" for unknown names),
//! indexing names of one kind (reporting duplicates), and parsing the field types shared by the
//! rooms (CIDR, IP, duration, rate, protocol). What it is not: any rule about how objects fit
//! together; those live in the rooms.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde_saphyr::{Location, Spanned};

use crate::diag::{Recorder, nearest};
use crate::model::{Nanos, Protocol, Rate, Scenario};
use crate::raw::{RawScenario, Text};
use crate::rules::Rule;
use crate::units::{parse_duration, parse_rate};

/// A name index of one kind: name -> (id, location).
/// A hash map with a fast, fixed-seed hasher: names come from the user's own file, and a fixed
/// seed keeps every iteration order the same from run to run.
pub(super) type FastMap<K, V> = HashMap<K, V, foldhash::fast::FixedState>;
pub(super) type Names<'a> = FastMap<&'a str, (u32, Location)>;

/// Where a value sits in the file.
pub(super) fn loc<T>(s: &Spanned<T>) -> Location {
    s.referenced
}

/// The kinds of name a field can refer to: which index holds them, which rule an unknown one
/// breaks, and how a message calls them.
#[derive(Clone, Copy, Debug)]
pub(super) enum Kind {
    /// `subscriptions[].name`.
    Subscription,
    /// `vnets[].name`.
    Vnet,
    /// `nsgs[].name`.
    Nsg,
    /// `route_tables[].name`.
    RouteTable,
    /// `peerings[].name`.
    Peering,
    /// `vms[].nics[].name`.
    Nic,
    /// `traffic[].name`.
    Flow,
    /// VM and host names (one namespace); an IPv4 address is an endpoint too.
    Endpoint,
    /// A site's connection: a gateway name (or a VNet name, checked first by the caller).
    Connection,
    /// `application_security_groups[].name`.
    Asg,
}

impl Kind {
    fn rule(self) -> Rule {
        match self {
            Kind::Subscription => Rule::UnknownSubscription,
            Kind::Vnet => Rule::UnknownVnet,
            Kind::Nsg => Rule::UnknownNsg,
            Kind::RouteTable => Rule::UnknownRouteTable,
            Kind::Peering => Rule::UnknownPeering,
            Kind::Nic => Rule::UnknownNic,
            Kind::Flow => Rule::UnknownFlow,
            Kind::Endpoint => Rule::UnknownEndpoint,
            Kind::Connection => Rule::UnknownConnection,
            Kind::Asg => Rule::UnknownAsg,
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Kind::Subscription => "subscription",
            Kind::Vnet => "VNet",
            Kind::Nsg => "NSG",
            Kind::RouteTable => "route table",
            Kind::Peering => "peering",
            Kind::Nic => "NIC",
            Kind::Flow => "flow",
            Kind::Endpoint => "VM, host or NIC (and it is not an IPv4 address)",
            Kind::Connection => "gateway or VNet",
            Kind::Asg => "application security group",
        }
    }
}

/// The name indexes, filled room by room.
#[derive(Default)]
pub(super) struct Indexes<'r> {
    pub(super) subscriptions: Names<'r>,
    pub(super) vnets: Names<'r>,
    pub(super) nsgs: Names<'r>,
    pub(super) route_tables: Names<'r>,
    /// First gateway name of each VNet whose gateway resolved -> that VNet.
    pub(super) gateways: Names<'r>,
    pub(super) peerings: Names<'r>,
    pub(super) nics: Names<'r>,
    /// VMs (ids `0..vms`) then hosts (ids from `vms`).
    pub(super) endpoints: Names<'r>,
    pub(super) flows: Names<'r>,
    pub(super) asgs: Names<'r>,
}

impl<'r> Indexes<'r> {
    fn of(&self, kind: Kind) -> &Names<'r> {
        match kind {
            Kind::Subscription => &self.subscriptions,
            Kind::Vnet => &self.vnets,
            Kind::Nsg => &self.nsgs,
            Kind::RouteTable => &self.route_tables,
            Kind::Peering => &self.peerings,
            Kind::Nic => &self.nics,
            Kind::Flow => &self.flows,
            Kind::Endpoint => &self.endpoints,
            Kind::Connection => &self.gateways,
            Kind::Asg => &self.asgs,
        }
    }
}

/// The state of one validation run.
pub(super) struct Resolver<'r> {
    /// The file as parsed.
    pub(super) raw: &'r RawScenario,
    sink: &'r mut (dyn Recorder + 'r),
    /// The scenario being built; meaningful only when no diagnostic was recorded.
    pub(super) sc: Scenario,
    /// Names of each kind.
    pub(super) names: Indexes<'r>,
    /// The subscription of VNets that name none.
    pub(super) default_subscription: u32,
    /// The VNets of each declared peering, when both resolved.
    pub(super) peering_ends: Vec<Option<(u32, u32)>>,
    /// The `pairs` entries of the traffic, with the flow ids they make.
    pub(super) pair_entries: Vec<super::traffic::PairEntry<'r>>,
}

impl<'r> Resolver<'r> {
    pub(super) fn new(raw: &'r RawScenario, sink: &'r mut (dyn Recorder + 'r)) -> Self {
        Resolver {
            raw,
            sink,
            sc: Scenario {
                name: raw.name.clone(),
                seed: raw.seed,
                ..Scenario::default()
            },
            names: Indexes::default(),
            default_subscription: 0,
            peering_ends: Vec::new(),
            pair_entries: Vec::new(),
        }
    }

    /// Records a broken rule at a field.
    pub(super) fn err(
        &mut self,
        at: Location,
        path: impl Into<String>,
        rule: Rule,
        message: impl Into<String>,
    ) {
        self.sink
            .record(at, path.into(), rule, message.into(), None);
    }

    /// Records a broken rule at a field, with a line of help.
    pub(super) fn err_help(
        &mut self,
        at: Location,
        path: impl Into<String>,
        rule: Rule,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        self.sink
            .record(at, path.into(), rule, message.into(), Some(help.into()));
    }

    /// Records an unknown name with the nearest known one (`best`), or else the `fallback`
    /// help.
    pub(super) fn unknown(
        &mut self,
        at: Location,
        path: impl Into<String>,
        rule: Rule,
        message: String,
        best: Option<&str>,
        fallback: Option<String>,
    ) {
        match (best, fallback) {
            (Some(best), _) => {
                self.err_help(at, path, rule, message, format!("did you mean `{best}`?"))
            }
            (None, Some(help)) => self.err_help(at, path, rule, message, help),
            (None, None) => self.err(at, path, rule, message),
        }
    }

    /// Indexes names of one kind, reporting duplicates; the first item gets id `start`.
    pub(super) fn index_into<P: Into<String> + Clone>(
        &mut self,
        kind: &str,
        items: impl Iterator<Item = (&'r Spanned<String>, P)>,
        names: &mut Names<'r>,
        start: u32,
    ) {
        for (next, (name, path)) in (start..).zip(items) {
            let chars = name.value.chars().count();
            if chars == 0 || chars > 80 || name.value.chars().any(char::is_control) {
                // Shown escaped: a name holding terminal escapes must not act on the terminal.
                self.err(
                    loc(name),
                    path.clone(),
                    Rule::NameCharacters,
                    format!(
                        "{kind} name {:?} is {chars} characters long or holds a control \
                         character; names are 1 to 80 printable characters",
                        name.value
                    ),
                );
            }
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

    /// Indexes names of one kind, reporting duplicates; the first item gets id 0.
    pub(super) fn index<P: Into<String> + Clone>(
        &mut self,
        kind: &str,
        items: impl Iterator<Item = (&'r Spanned<String>, P)>,
    ) -> Names<'r> {
        let mut names = Names::default();
        self.index_into(kind, items, &mut names, 0);
        names
    }

    /// Resolves a reference, reporting an unknown name with the nearest known one.
    pub(super) fn find(
        &mut self,
        kind: Kind,
        name: &Spanned<String>,
        path: impl Into<String>,
    ) -> Option<u32> {
        let names = self.names.of(kind);
        if let Some((id, _)) = names.get(name.value.as_str()) {
            return Some(*id);
        }
        let best = nearest(&name.value, names.keys().copied()).map(str::to_owned);
        let msg = format!("there is no {} named `{}`", kind.noun(), name.value);
        match best {
            Some(best) => self.err_help(
                loc(name),
                path,
                kind.rule(),
                msg,
                format!("did you mean `{best}`?"),
            ),
            None => self.err(loc(name), path, kind.rule(), msg),
        }
        None
    }

    /// An IPv4 prefix without host bits (a prefix with host bits is reported and truncated).
    pub(super) fn cidr(
        &mut self,
        text: &Spanned<String>,
        path: impl Into<String>,
    ) -> Option<Ipv4Net> {
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

    /// An IPv4 address.
    pub(super) fn ip(
        &mut self,
        text: &Spanned<String>,
        path: impl Into<String>,
    ) -> Option<Ipv4Addr> {
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

    /// A duration.
    pub(super) fn duration(
        &mut self,
        text: &Spanned<Text>,
        path: impl Into<String>,
    ) -> Option<Nanos> {
        match parse_duration(&text.value.0) {
            Ok(v) => Some(v),
            Err(e) => {
                self.err(loc(text), path, Rule::InvalidDuration, e);
                None
            }
        }
    }

    /// An optional duration, `default` when absent or wrong.
    pub(super) fn opt_duration(
        &mut self,
        text: Option<&Spanned<Text>>,
        path: impl Into<String>,
        default: Nanos,
    ) -> Nanos {
        text.and_then(|t| self.duration(t, path)).unwrap_or(default)
    }

    /// A rate above zero.
    pub(super) fn rate(&mut self, text: &Spanned<Text>, path: impl Into<String>) -> Option<Rate> {
        match parse_rate(&text.value.0) {
            Ok(Rate::BitsPerSecond(0) | Rate::PacketsPerSecond(0)) => {
                self.err(
                    loc(text),
                    path,
                    Rule::InvalidRate,
                    "a rate must be above zero",
                );
                None
            }
            Ok(r) => Some(r),
            Err(e) => {
                self.err(loc(text), path, Rule::InvalidRate, e);
                None
            }
        }
    }

    /// `tcp`, `udp` or `icmp`, any case.
    pub(super) fn protocol(
        &mut self,
        text: &Spanned<String>,
        path: impl Into<String>,
    ) -> Option<Protocol> {
        self.protocol_or(text, path, "a protocol; use tcp, udp or icmp")
    }

    /// An NSG rule's single protocol: `tcp`, `udp` or `icmp`, any case (`*`, `esp` and `ah` are
    /// read by the caller); the error names every protocol a rule takes.
    pub(super) fn nsg_protocol(
        &mut self,
        text: &Spanned<String>,
        path: impl Into<String>,
    ) -> Option<Protocol> {
        self.protocol_or(
            text,
            path,
            "an NSG rule protocol; use tcp, udp, icmp, esp, ah or \"*\"",
        )
    }

    /// `tcp`, `udp` or `icmp`, any case; otherwise an error saying the text is not `expected`.
    fn protocol_or(
        &mut self,
        text: &Spanned<String>,
        path: impl Into<String>,
        expected: &str,
    ) -> Option<Protocol> {
        match text.value.trim().to_ascii_lowercase().as_str() {
            "tcp" => Some(Protocol::Tcp),
            "udp" => Some(Protocol::Udp),
            "icmp" => Some(Protocol::Icmp),
            _ => {
                self.err(
                    loc(text),
                    path,
                    Rule::InvalidProtocol,
                    format!("`{}` is not {expected}", text.value),
                );
                None
            }
        }
    }

    /// The finished scenario.
    pub(super) fn finish(self) -> Scenario {
        self.sc
    }
}

/// Whether two prefixes share an address.
pub(super) fn overlaps(a: Ipv4Net, b: Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The ranges no VNet may hold, with what Azure uses them for (Virtual Network FAQ, "Are there
/// any restrictions on using IP addresses within these subnets?": "You can't add the following
/// address ranges: 224.0.0.0/4 (Multicast), 255.255.255.255/32 (Broadcast), 127.0.0.0/8
/// (Loopback), 169.254.0.0/16 (Link-local), 168.63.129.16/32 (Internal DNS)").
const RESERVED_RANGES: [(Ipv4Net, &str); 5] = [
    (net(224, 0, 0, 0, 4), "multicast"),
    (net(255, 255, 255, 255, 32), "broadcast"),
    (net(127, 0, 0, 0, 8), "loopback"),
    (net(169, 254, 0, 0, 16), "link-local"),
    (
        net(168, 63, 129, 16, 32),
        "Azure's internal DNS and host address",
    ),
];

const fn net(a: u8, b: u8, c: u8, d: u8, len: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), len)
}

/// The reserved range `range` overlaps, and what it is, if any ([`RESERVED_RANGES`]).
pub(super) fn reserved_overlap(range: Ipv4Net) -> Option<(Ipv4Net, &'static str)> {
    RESERVED_RANGES
        .iter()
        .copied()
        .find(|(r, _)| overlaps(*r, range))
}

/// First usable address of a subnet (network + 4).
pub(super) fn first_usable(net: Ipv4Net) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(net.network()).saturating_add(4))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_ip_is_network_plus_four() {
        assert_eq!(
            first_usable("10.0.255.0/27".parse().unwrap()),
            Ipv4Addr::new(10, 0, 255, 4)
        );
    }

    #[test]
    fn overlap_is_containment_either_way() {
        let net = |s: &str| s.parse::<Ipv4Net>().unwrap();
        assert!(overlaps(net("10.0.0.0/16"), net("10.0.1.0/24")));
        assert!(overlaps(net("10.0.1.0/24"), net("10.0.0.0/16")));
        assert!(!overlaps(net("10.0.0.0/16"), net("10.1.0.0/16")));
    }
}
