//! Azure Firewall, its policies and IP groups, DNS names and Internet hosts, checked and with
//! names resolved to ids.
//!
//! What it is for: what the data plane compiles into a firewall's rule tables
//! (`vnetsim_dataplane::tables::firewall`) and what `explain` names. Rules keep Azure's
//! structure (policy -> rule collection groups -> rule collections -> rules) so a decision can
//! name group, collection and rule. What it is not: the evaluation order or the state of
//! connections, which belong to the data plane.

use std::net::Ipv4Addr;
use std::sync::Arc;

use ipnet::Ipv4Net;

use super::{PortRange, SubnetId, VnetId};

id_type!(
    /// Index into [`super::Scenario::firewalls`].
    FirewallId
);
id_type!(
    /// Index into [`super::Scenario::firewall_policies`].
    FirewallPolicyId
);
id_type!(
    /// Index into [`super::Scenario::ip_groups`].
    IpGroupId
);

/// An Azure Firewall SKU, with its documented throughput.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum FirewallSku {
    /// Basic: about 250 Mbps [FWSKU23].
    Basic,
    /// Standard: 30 Gbps [FWPERF22].
    #[default]
    Standard,
    /// Premium: 100 Gbps [FWPERF22].
    Premium,
}

impl FirewallSku {
    /// Azure's name.
    pub fn as_str(self) -> &'static str {
        match self {
            FirewallSku::Basic => "Basic",
            FirewallSku::Standard => "Standard",
            FirewallSku::Premium => "Premium",
        }
    }

    /// The documented aggregate throughput in bits per second: Basic 250 Mbps ("Azure Firewall
    /// Basic ... throughput of 250 Mbps" [FWSKU23]), Standard 30 Gbps and Premium 100 Gbps
    /// ("Azure Firewall performance" [FWPERF22]).
    pub fn throughput_bps(self) -> u64 {
        match self {
            FirewallSku::Basic => 250_000_000,
            FirewallSku::Standard => 30_000_000_000,
            FirewallSku::Premium => 100_000_000_000,
        }
    }
}

/// An Azure Firewall in a VNet's `AzureFirewallSubnet`.
#[derive(Clone, Debug, PartialEq)]
pub struct Firewall {
    /// Name.
    pub name: String,
    /// Its VNet.
    pub vnet: VnetId,
    /// Its `AzureFirewallSubnet`.
    pub subnet: SubnetId,
    /// SKU.
    pub sku: FirewallSku,
    /// Throughput in bits per second (the SKU's unless the file sets it).
    pub throughput_bps: u64,
    /// Private IP: the first usable address of `AzureFirewallSubnet` (network + 4).
    pub ip: Ipv4Addr,
    /// Public IPs (at least one); SNAT to the Internet uses the first.
    pub public_ips: Vec<Ipv4Addr>,
    /// The policy it applies (none: everything is denied).
    pub policy: Option<FirewallPolicyId>,
}

/// The three kinds of rule collection, in the order Azure applies them whatever their
/// priorities: DNAT, network, application [FWRULE23].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RuleKind {
    /// DNAT rules (destination translation of traffic to a firewall public IP).
    Dnat,
    /// Network rules (layer 3-4).
    Network,
    /// Application rules (FQDNs over HTTP, HTTPS, MSSQL).
    Application,
}

impl RuleKind {
    /// The name used in files: `dnat`, `network`, `application`.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::Dnat => "dnat",
            RuleKind::Network => "network",
            RuleKind::Application => "application",
        }
    }
}

/// A rule collection's action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FirewallAction {
    /// Allow (network, application).
    Allow,
    /// Deny (network, application).
    Deny,
    /// Translate (DNAT collections).
    Dnat,
}

impl FirewallAction {
    /// `Allow`, `Deny`, `Dnat`.
    pub fn as_str(self) -> &'static str {
        match self {
            FirewallAction::Allow => "Allow",
            FirewallAction::Deny => "Deny",
            FirewallAction::Dnat => "Dnat",
        }
    }
}

/// A firewall policy.
#[derive(Clone, Debug, PartialEq)]
pub struct FirewallPolicy {
    /// Name.
    pub name: String,
    /// Destinations network rules do not SNAT (`snat.privateRanges`).
    pub private_ranges: Vec<Ipv4Net>,
    /// Rule collection groups, in file order (evaluation sorts by priority).
    pub groups: Vec<RuleCollectionGroup>,
}

/// IANA private ranges a firewall does not SNAT by default: RFC 1918 and RFC 6598 [FWSNAT23].
pub fn iana_private_ranges() -> Vec<Ipv4Net> {
    [
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
    ]
    .iter()
    .map(|s| s.parse().expect("a valid prefix"))
    .collect()
}

/// A rule collection group.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleCollectionGroup {
    /// Name.
    pub name: String,
    /// Priority (lower first).
    pub priority: u32,
    /// Collections, in file order.
    pub collections: Vec<RuleCollection>,
}

/// A rule collection.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleCollection {
    /// Name.
    pub name: String,
    /// Priority within its group (lower first).
    pub priority: u32,
    /// Which kind of rules it holds.
    pub kind: RuleKind,
    /// What a match does.
    pub action: FirewallAction,
    /// Rules, in order.
    pub rules: Vec<FirewallRule>,
}

/// An address a firewall rule names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FirewallAddress {
    /// `*`.
    Any,
    /// An inclusive range of addresses (a single IP, a CIDR or `a-b`).
    Range(u32, u32),
    /// An IP group.
    IpGroup(IpGroupId),
}

/// Protocols a rule matches, as a bit set of IP protocol numbers vnetsim names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct FirewallProtocols {
    /// TCP.
    pub tcp: bool,
    /// UDP.
    pub udp: bool,
    /// ICMP.
    pub icmp: bool,
    /// Every IP protocol ("Any" since 2020-11-09 [FWRULE23]).
    pub any: bool,
}

impl FirewallProtocols {
    /// Whether IP protocol `p` matches.
    pub fn matches(self, p: u8) -> bool {
        self.any || (self.tcp && p == 6) || (self.udp && p == 17) || (self.icmp && p == 1)
    }
}

/// An application protocol of an application rule, with its port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AppProtocol {
    /// `Http`, `Https` or `Mssql`.
    pub kind: AppProtocolKind,
    /// The TCP port.
    pub port: u16,
}

/// The protocols application rules cover: HTTP, HTTPS and MSSQL [FWRULE23].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AppProtocolKind {
    /// HTTP (Host header), default port 80.
    Http,
    /// HTTPS (SNI), default port 443.
    Https,
    /// MSSQL (TDS), default port 1433.
    Mssql,
}

impl AppProtocolKind {
    /// Azure's name.
    pub fn as_str(self) -> &'static str {
        match self {
            AppProtocolKind::Http => "Http",
            AppProtocolKind::Https => "Https",
            AppProtocolKind::Mssql => "Mssql",
        }
    }
}

/// A firewall rule; the fields that apply depend on its collection's kind.
#[derive(Clone, Debug, PartialEq)]
pub struct FirewallRule {
    /// Name.
    pub name: String,
    /// IP protocols (network and DNAT rules).
    pub protocols: FirewallProtocols,
    /// Application protocols (application rules).
    pub app_protocols: Vec<AppProtocol>,
    /// Sources.
    pub sources: Vec<FirewallAddress>,
    /// Destinations (network rules; a DNAT rule's public IP as a one-address range).
    pub destinations: Vec<FirewallAddress>,
    /// Destination FQDNs of a network rule, or target FQDNs of an application rule (lower
    /// case; `*.` wildcards).
    pub fqdns: Vec<Arc<str>>,
    /// Destination ports (network and DNAT rules).
    pub ports: Vec<PortRange>,
    /// DNAT: the translated address and port.
    pub translated: Option<(Ipv4Addr, u16)>,
}

/// An IP group.
#[derive(Clone, Debug, PartialEq)]
pub struct IpGroup {
    /// Name.
    pub name: String,
    /// Inclusive address ranges.
    pub ranges: Vec<(u32, u32)>,
}

/// A DNS name and an address it resolves to (one entry per address).
#[derive(Clone, Debug, PartialEq)]
pub struct NameRecord {
    /// The name, lower case.
    pub name: Arc<str>,
    /// One address it resolves to.
    pub ip: Ipv4Addr,
}

/// A host on the Internet.
#[derive(Clone, Debug, PartialEq)]
pub struct InternetHost {
    /// Name.
    pub name: Arc<str>,
    /// Its public address.
    pub ip: Ipv4Addr,
}

/// The SKU of a public IP address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum PublicIpSku {
    /// Standard: "secure by default and closed to inbound traffic", an NSG must allow it
    /// [public-ip-sku].
    #[default]
    Standard,
    /// Basic: open to inbound traffic unless an NSG denies it [public-ip-sku].
    Basic,
}

/// A public IP address of a NIC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PublicIp {
    /// The address.
    pub ip: Ipv4Addr,
    /// The SKU.
    pub sku: PublicIpSku,
}
