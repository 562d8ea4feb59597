//! The file format of Azure Firewall and what it reads: firewalls (a VNet's `firewall`),
//! firewall policies with rule collection groups, IP groups, the `names` an application rule
//! matches, and the Internet hosts that play clients and servers outside Azure.
//!
//! What it is for: serde types mirroring the YAML one to one, with ARM's property names in
//! snake case (`rule_collection_groups`, `source_ip_groups`, `translated_port`, ...), so that an
//! ARM template maps onto them field by field. What it is not: checked (the `firewall` room of
//! the validator) or evaluated (the data plane's `tables::firewall`).

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::{OneOrMany, Text};

/// An Azure Firewall in its VNet's `AzureFirewallSubnet`; its private IP is that subnet's first
/// usable address.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFirewall {
    /// Name, unique among firewalls.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// `Basic`, `Standard` (default) or `Premium`.
    #[schemars(with = "Option<String>")]
    pub sku: Option<Spanned<String>>,
    /// The firewall policy whose rules it applies; none: it denies everything.
    #[schemars(with = "Option<String>")]
    pub policy: Option<Spanned<String>>,
    /// Its public IP addresses (at least one); SNAT uses the first, DNAT rules name any.
    #[schemars(with = "Vec<String>")]
    pub public_ips: Spanned<Vec<Spanned<String>>>,
    /// Throughput (a rate such as `5Gbps`); overrides the SKU's. vnetsim addition.
    #[schemars(with = "Option<Text>")]
    pub throughput: Option<Spanned<Text>>,
}

/// A firewall policy (ARM `Microsoft.Network/firewallPolicies` with its rule collection
/// groups).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFirewallPolicy {
    /// Name, unique among policies.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// Destinations network rules do not SNAT (`snat.privateRanges`): CIDRs, or the token
    /// `IANAPrivateRanges`; default: IANA RFC 1918 and RFC 6598.
    #[schemars(with = "Option<Vec<String>>")]
    pub private_ranges: Option<Vec<Spanned<String>>>,
    /// Rule collection groups.
    #[serde(default)]
    pub rule_collection_groups: Vec<RawRuleCollectionGroup>,
}

/// A rule collection group.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRuleCollectionGroup {
    /// Name, unique in its policy.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// 100 to 65000; lower is evaluated first.
    #[schemars(with = "u32")]
    pub priority: Spanned<u32>,
    /// Its rule collections.
    #[serde(default)]
    pub rule_collections: Vec<RawRuleCollection>,
}

/// A rule collection: rules of one kind with one action.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRuleCollection {
    /// Name, unique in its group.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// 100 to 65000; lower is evaluated first within its group.
    #[schemars(with = "u32")]
    pub priority: Spanned<u32>,
    /// `dnat`, `network` or `application`.
    #[schemars(with = "String")]
    pub kind: Spanned<String>,
    /// `allow` or `deny` (network and application), `dnat` (DNAT collections; may be left out).
    #[schemars(with = "Option<String>")]
    pub action: Option<Spanned<String>>,
    /// Its rules, evaluated in order.
    #[serde(default)]
    pub rules: Vec<RawFirewallRule>,
}

/// A rule of a collection; which fields apply depends on the collection's kind.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFirewallRule {
    /// Name, unique in its collection.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// Network: `TCP`, `UDP`, `ICMP`, `Any`; DNAT: `TCP`, `UDP`; application: `Http`, `Https`,
    /// `Mssql`, each with an optional `:port` (defaults 80, 443, 1433).
    #[schemars(with = "Vec<String>")]
    #[serde(default)]
    pub protocols: Vec<Spanned<String>>,
    /// Source addresses: `*`, IPs, CIDRs or ranges `a-b`.
    #[schemars(with = "Vec<String>")]
    #[serde(default)]
    pub source_addresses: Vec<Spanned<String>>,
    /// Source IP groups by name.
    #[schemars(with = "Vec<String>")]
    #[serde(default)]
    pub source_ip_groups: Vec<Spanned<String>>,
    /// Destination addresses (network, DNAT): `*`, IPs, CIDRs, ranges, or a service tag
    /// (network rules). A DNAT rule names one of the firewall's public IPs.
    #[schemars(with = "Vec<String>")]
    #[serde(default)]
    pub destination_addresses: Vec<Spanned<String>>,
    /// Destination IP groups by name (network rules).
    #[schemars(with = "Vec<String>")]
    #[serde(default)]
    pub destination_ip_groups: Vec<Spanned<String>>,
    /// Destination FQDNs (network rules), matched through the scenario's `names`.
    #[schemars(with = "Vec<String>")]
    #[serde(default)]
    pub destination_fqdns: Vec<Spanned<String>>,
    /// Destination ports (network, DNAT): `*`, a port or a range.
    #[schemars(with = "Vec<Text>")]
    #[serde(default)]
    pub destination_ports: Vec<Spanned<Text>>,
    /// Target FQDNs (application rules), `*.contoso.com` wildcards allowed.
    #[schemars(with = "Vec<String>")]
    #[serde(default)]
    pub target_fqdns: Vec<Spanned<String>>,
    /// DNAT: the private address the destination becomes.
    #[schemars(with = "Option<String>")]
    pub translated_address: Option<Spanned<String>>,
    /// DNAT: the port the destination port becomes.
    #[schemars(with = "Option<Text>")]
    pub translated_port: Option<Spanned<Text>>,
}

/// An IP group (ARM `Microsoft.Network/ipGroups`).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawIpGroup {
    /// Name, unique among IP groups.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// IPs, CIDRs or ranges `a-b`.
    #[schemars(with = "Vec<String>")]
    #[serde(default)]
    pub addresses: Vec<Spanned<String>>,
}

/// A host on the Internet: a named public address that sends and receives.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawInternetHost {
    /// Name, unique among VMs, hosts and Internet hosts.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// Its public IPv4 address.
    #[schemars(with = "String")]
    pub ip: Spanned<String>,
}

/// `names`: DNS names and the addresses they resolve to, what firewall application rules and
/// FQDN network rules match against.
pub type RawNames = IndexMap<String, Spanned<OneOrMany<String>>>;
