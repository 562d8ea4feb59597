//! The scenario file as written: serde types that mirror the YAML one to one.
//!
//! What it is for: parsing (with `serde-saphyr`) and generating the JSON Schema of the file
//! format. Fields that validation points at are wrapped in [`Spanned`] so diagnostics can name
//! the line and column. Values with units (durations, rates, prefixes, addresses, ports) stay
//! text here and are parsed by the validator, so that every bad value is reported with its
//! position instead of stopping the parse at the first one (a scale-set instance's NIC, made by
//! the loader, also keeps the address its text was written from).
//!
//! What it is not: checked. Names are not resolved, prefixes not parsed, Azure rules not
//! applied; see [`crate::load_str`] for the checked [`crate::model::Scenario`].

use std::borrow::Cow;
use std::fmt;

use indexmap::IndexMap;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

mod asg;
mod connections;
mod firewall;
pub use asg::*;
pub use connections::*;
pub use firewall::*;
mod private_endpoint;
pub use private_endpoint::*;
mod lb;
pub use lb::*;
mod scale_set;
pub use scale_set::*;

/// A scalar kept as text: a YAML string, integer, float or boolean. Durations (`2ms`, `0`),
/// rates, ports (`80` or `"1000-2000"`) and comparisons use it, so `0` and `"0s"` both parse.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Text(pub String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl Visitor<'_> for TextVisitor {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a scalar (string or number)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text, E> {
                Ok(Text(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_u128<E: de::Error>(self, v: u128) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_i128<E: de::Error>(self, v: i128) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
        }
        deserializer.deserialize_any(TextVisitor)
    }
}

impl JsonSchema for Text {
    fn schema_name() -> Cow<'static, str> {
        "Scalar".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A scalar written as a string or a number.",
            "type": ["string", "number"]
        })
    }
}

/// One value or a list of values (`source: "*"` or `source: [10.0.0.0/8, Internet]`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "OneOrMany_{T}")]
pub enum OneOrMany<T> {
    /// A single value.
    One(T),
    /// A list of values.
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    /// The values as a slice.
    pub fn as_slice(&self) -> &[T] {
        match self {
            OneOrMany::One(v) => std::slice::from_ref(v),
            OneOrMany::Many(v) => v,
        }
    }
}

/// The whole scenario file.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "vnetsim scenario")]
pub struct RawScenario {
    /// The scenario's name (required).
    pub name: String,
    /// Seed of the random number generator (default 0).
    #[serde(default)]
    pub seed: u64,
    /// Simulated time for flows, a duration such as `2s`; default: until the last flow ends.
    #[schemars(with = "Option<Text>")]
    pub duration: Option<Spanned<Text>>,
    /// Switches for Azure behaviour that changed over time.
    #[serde(default)]
    pub azure: RawAzure,
    /// Subscriptions; default: one subscription `default` in tenant `default`.
    #[serde(default)]
    pub subscriptions: Vec<RawSubscription>,
    /// Virtual networks.
    #[serde(default)]
    pub vnets: Vec<RawVnet>,
    /// Virtual machines.
    #[serde(default)]
    pub vms: Vec<RawVm>,
    /// Virtual machine scale sets: many identical VMs in a few lines.
    #[serde(default)]
    pub scale_sets: Vec<RawScaleSet>,
    /// Network security groups.
    #[serde(default)]
    pub nsgs: Vec<RawNsg>,
    /// Route tables of user-defined routes.
    #[serde(default)]
    pub route_tables: Vec<RawRouteTable>,
    /// Peering links, one entry per direction.
    #[serde(default)]
    pub peerings: Vec<RawPeering>,
    /// On-premises sites.
    #[serde(default)]
    pub on_premises: Vec<RawSite>,
    /// One-way latency model.
    #[serde(default)]
    pub latency: RawLatency,
    /// Bandwidth shaping queues. vnetsim addition.
    #[serde(default)]
    pub shaping: RawShaping,
    /// Prices used in reports. vnetsim addition.
    #[serde(default)]
    pub pricing: RawPricing,
    /// Traffic sources.
    #[serde(default)]
    pub traffic: Vec<RawFlow>,
    /// Changes to the network at simulated times.
    #[serde(default)]
    #[schemars(with = "Vec<RawEvent>")]
    pub events: Vec<Spanned<RawEvent>>,
    /// What must hold when the scenario is replayed.
    #[serde(default)]
    #[schemars(with = "Vec<RawExpectation>")]
    pub expect: Vec<Spanned<RawExpectation>>,
    /// Azure Firewall policies.
    #[serde(default)]
    pub firewall_policies: Vec<RawFirewallPolicy>,
    /// IP groups, named in firewall rules.
    #[serde(default)]
    pub ip_groups: Vec<RawIpGroup>,
    /// DNS names and their addresses, matched by firewall application and FQDN rules.
    #[serde(default)]
    #[schemars(with = "std::collections::BTreeMap<String, OneOrMany<String>>")]
    pub names: RawNames,
    /// Hosts on the Internet: named public addresses.
    #[serde(default)]
    pub internet: Vec<RawInternetHost>,
    /// Application security groups, joined by NICs and named in NSG rules.
    #[serde(default)]
    pub application_security_groups: Vec<RawApplicationSecurityGroup>,
    /// Private endpoints: network interfaces of private-link resources in subnets.
    #[serde(default)]
    pub private_endpoints: Vec<RawPrivateEndpoint>,
    /// Connections of virtual network gateways (site-to-site, VNet-to-VNet, ExpressRoute).
    #[serde(default)]
    pub connections: Vec<RawConnection>,
    /// Azure Load Balancers.
    #[serde(default)]
    pub load_balancers: Vec<RawLoadBalancer>,
}

/// `virtual_network_access` switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawVnetAccessMode {
    /// Access off removes the peer from the VirtualNetwork service tag.
    #[default]
    Tag,
    /// A link with access off carries nothing.
    Block,
}

/// `forwarded_traffic` switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawForwardedMode {
    /// Forwarded packets need `allow_forwarded_traffic` on the receiving link.
    #[default]
    Enforce,
    /// The flag only documents intent.
    Ignore,
}

/// The `azure` section: an era and the switches it sets, each overridable.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAzure {
    /// `2016` (default) or `current`; sets every switch below unless the file sets it.
    #[schemars(with = "Option<Text>")]
    pub era: Option<Spanned<Text>>,
    /// Peerings across regions allowed (era 2016: false; current: true).
    pub global_peering: Option<bool>,
    /// Peerings across AD tenants allowed (era 2016: false; current: true).
    pub cross_tenant_peering: Option<bool>,
    /// Peering links per VNet (500).
    pub peering_limit: Option<u32>,
    /// `tag` (default) or `block`.
    pub virtual_network_access: Option<RawVnetAccessMode>,
    /// `enforce` (default) or `ignore`.
    pub forwarded_traffic: Option<RawForwardedMode>,
    /// `2016` or `current` definition of the VirtualNetwork service tag.
    #[schemars(with = "Option<Text>")]
    pub virtual_network_tag: Option<Spanned<Text>>,
    /// Gateway transit with a classic VNet (era 2016: false; current: true).
    pub classic_gateway_transit: Option<bool>,
    /// Address-space changes while peered (era 2016: false; current: true).
    pub address_space_update: Option<bool>,
    /// Subnets give VMs default outbound access unless they say otherwise (era 2016: true;
    /// current: false, private subnets).
    pub default_outbound_access: Option<bool>,
}

/// A subscription.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSubscription {
    /// Name, unique among subscriptions.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// The AD tenant it belongs to.
    pub tenant: String,
}

/// Deployment model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RawDeployment {
    /// Azure Resource Manager (default).
    #[default]
    ResourceManager,
    /// Classic (Service Manager).
    Classic,
}

/// A virtual network.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawVnet {
    /// Name, unique among VNets.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// Subscription name (default `default`).
    #[schemars(with = "Option<String>")]
    pub subscription: Option<Spanned<String>>,
    /// Region (default `default`).
    pub region: Option<String>,
    /// `resource-manager` (default) or `classic`.
    #[serde(default)]
    pub deployment: RawDeployment,
    /// Address ranges (CIDR).
    #[schemars(with = "Vec<String>")]
    pub address_space: Vec<Spanned<String>>,
    /// Subnets.
    #[serde(default)]
    pub subnets: Vec<RawSubnet>,
    /// The virtual network gateway; a list of two holds one VPN and one ExpressRoute gateway
    /// (coexistence).
    #[schemars(with = "Option<OneOrMany<RawGateway>>")]
    pub gateway: Option<Spanned<OneOrMany<RawGateway>>>,
    /// An Azure Firewall in the VNet's `AzureFirewallSubnet`.
    pub firewall: Option<RawFirewall>,
}

/// A subnet.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSubnet {
    /// Name, unique in its VNet; `GatewaySubnet` holds the gateway.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// Prefix, /8 to /29 (era current: /2 to /29).
    #[schemars(with = "String")]
    pub prefix: Spanned<String>,
    /// Subnet-level NSG name.
    #[schemars(with = "Option<String>")]
    pub nsg: Option<Spanned<String>>,
    /// Route table name.
    #[schemars(with = "Option<String>")]
    pub route_table: Option<Spanned<String>>,
    /// ARM `defaultOutboundAccess`: VMs without an explicit outbound method reach the Internet
    /// (default: `azure.default_outbound_access`).
    pub default_outbound_access: Option<bool>,
    /// ARM `privateEndpointNetworkPolicies`: `disabled` (default), `enabled`,
    /// `network_security_group_enabled` or `route_table_enabled` (Azure's PascalCase names are
    /// accepted too): whether the subnet's NSG and route table apply to its private endpoints.
    #[schemars(with = "Option<String>")]
    pub private_endpoint_network_policies: Option<Spanned<String>>,
}

/// A virtual network gateway.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawGateway {
    /// Gateway name.
    pub name: String,
    /// SKU name, e.g. `VpnGw1` (from the gateway SKU catalog, any case).
    pub sku: String,
    /// `vpn` or `expressroute`; default: the SKU's type.
    #[serde(rename = "type")]
    pub kind: Option<RawGatewayType>,
    /// `route-based` (default) or `policy-based` (VPN gateways).
    pub vpn_type: Option<RawVpnType>,
    /// BGP settings (ASN, peering address); default ASN 65515.
    pub bgp: Option<RawBgp>,
}

/// A virtual machine.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawVm {
    /// Name, unique among VMs and hosts.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// Azure size, e.g. `Standard_D2s_v3` (from the size catalog).
    #[schemars(with = "String")]
    pub size: Spanned<String>,
    /// Egress bandwidth (a rate such as `1Gbps`); overrides the size catalog. vnetsim addition.
    #[schemars(with = "Option<Text>")]
    pub bandwidth: Option<Spanned<Text>>,
    /// The guest forwards packets not addressed to it (default false).
    #[serde(default)]
    pub forwarding: bool,
    /// Active flows the VM holds in each direction (default 500000); new connections beyond
    /// it are dropped as `flow-limit`.
    #[schemars(with = "Option<u32>")]
    pub flow_limit: Option<Spanned<u64>>,
    /// NICs; the first is the primary.
    #[schemars(with = "Vec<RawNic>")]
    pub nics: Spanned<Vec<RawNic>>,
    /// The scale set (its index in `scale_sets`) this VM is an instance of; never written in
    /// a file.
    #[serde(skip)]
    #[schemars(skip)]
    pub scale_set: Option<u32>,
}

/// A network interface.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawNic {
    /// Name, unique among NICs.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// VNet name; may be left out when `subnet` is written `vnet/subnet`.
    #[schemars(with = "Option<String>")]
    pub vnet: Option<Spanned<String>>,
    /// Subnet name inside `vnet`, or `vnet/subnet`.
    #[schemars(with = "String")]
    pub subnet: Spanned<String>,
    /// Private IPv4 address.
    #[schemars(with = "String")]
    pub ip: Spanned<String>,
    /// Enable IP forwarding (default false).
    #[serde(default)]
    pub ip_forwarding: bool,
    /// NIC-level NSG name.
    #[schemars(with = "Option<String>")]
    pub nsg: Option<Spanned<String>>,
    /// A public IPv4 address of the NIC's IP configuration.
    #[schemars(with = "Option<String>")]
    pub public_ip: Option<Spanned<String>>,
    /// `Standard` (default; closed to inbound unless an NSG allows it) or `Basic`.
    #[schemars(with = "Option<String>")]
    pub public_ip_sku: Option<Spanned<String>>,
    /// The application security groups the NIC's IP configuration joins (at most 20), all of
    /// them with members in the NIC's VNet only.
    #[schemars(with = "Option<Vec<String>>")]
    pub application_security_groups: Option<Spanned<Vec<Spanned<String>>>>,
    /// The address `ip` holds, when the loader wrote `ip` from it (a scale-set instance's NIC),
    /// so that it is not read back from the text; never written in a file.
    #[serde(skip)]
    #[schemars(skip)]
    pub address: Option<std::net::Ipv4Addr>,
}

/// A network security group.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawNsg {
    /// Name, unique among NSGs.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// User rules.
    #[serde(default)]
    pub rules: Vec<RawNsgRule>,
}

/// Rule direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawDirection {
    /// Inbound.
    Inbound,
    /// Outbound.
    Outbound,
}

/// Rule access.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawAccess {
    /// Allow.
    Allow,
    /// Deny.
    Deny,
}

/// A user rule of an NSG.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawNsgRule {
    /// Name, unique in the NSG.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// 100..=4096, unique per direction.
    #[schemars(with = "i64")]
    pub priority: Spanned<i64>,
    /// `inbound` or `outbound`.
    pub direction: RawDirection,
    /// `allow` or `deny`.
    pub access: RawAccess,
    /// `tcp`, `udp`, `icmp` or `"*"` (any case).
    #[schemars(with = "String")]
    pub protocol: Spanned<String>,
    /// CIDR, IP, `"*"`, service tag (`VirtualNetwork`, `Internet`, `AzureLoadBalancer`; as a
    /// destination of an outbound rule also `AzurePlatformDNS`, `AzurePlatformIMDS`,
    /// `AzurePlatformLKM`), or a list of these with at most one service tag (default `"*"`).
    #[schemars(with = "Option<OneOrMany<String>>")]
    pub source: Option<Spanned<OneOrMany<String>>>,
    /// `"*"`, a port, a range `lo-hi`, or a list (default `"*"`).
    #[schemars(with = "Option<OneOrMany<Text>>")]
    pub source_ports: Option<Spanned<OneOrMany<Text>>>,
    /// As `source`.
    #[schemars(with = "Option<OneOrMany<String>>")]
    pub destination: Option<Spanned<OneOrMany<String>>>,
    /// As `source_ports`.
    #[schemars(with = "Option<OneOrMany<Text>>")]
    pub destination_ports: Option<Spanned<OneOrMany<Text>>>,
    /// One application security group as the source, instead of `source` (a list of one).
    #[schemars(with = "Option<Vec<String>>")]
    pub source_application_security_groups: Option<Spanned<Vec<Spanned<String>>>>,
    /// One application security group as the destination, instead of `destination`.
    #[schemars(with = "Option<Vec<String>>")]
    pub destination_application_security_groups: Option<Spanned<Vec<Spanned<String>>>>,
}

/// A route table.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRouteTable {
    /// Name, unique among route tables.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// "Propagate gateway routes: No" (default false). vnetsim addition.
    #[serde(default)]
    pub disable_gateway_route_propagation: bool,
    /// Routes.
    #[serde(default)]
    pub routes: Vec<RawRoute>,
}

/// Next hop type of a user-defined route (Azure's spelling).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum RawNextHop {
    /// Inside the VNet.
    VnetLocal,
    /// Created by Azure only; rejected in a route table.
    VNetPeering,
    /// The virtual network gateway.
    VirtualNetworkGateway,
    /// The Internet.
    Internet,
    /// An appliance IP (`next_hop_ip`).
    VirtualAppliance,
    /// Drop.
    None,
}

/// A user-defined route.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    /// Name, unique in its table.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// Destination prefix (CIDR).
    #[schemars(with = "String")]
    pub prefix: Spanned<String>,
    /// Next hop type.
    #[schemars(with = "RawNextHop")]
    pub next_hop: Spanned<RawNextHop>,
    /// Next hop IP, exactly when `next_hop` is VirtualAppliance.
    #[schemars(with = "Option<String>")]
    pub next_hop_ip: Option<Spanned<String>>,
}

/// One direction of a peering.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPeering {
    /// Name, unique among peerings.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// The VNet that owns the link.
    #[schemars(with = "String")]
    pub from: Spanned<String>,
    /// The remote VNet.
    #[schemars(with = "String")]
    pub to: Spanned<String>,
    /// Default true.
    pub allow_virtual_network_access: Option<bool>,
    /// Default false.
    #[serde(default)]
    pub allow_forwarded_traffic: bool,
    /// Default false.
    #[schemars(with = "Option<bool>")]
    pub allow_gateway_transit: Option<Spanned<bool>>,
    /// Default false.
    #[schemars(with = "Option<bool>")]
    pub use_remote_gateways: Option<Spanned<bool>>,
}

/// An on-premises site.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSite {
    /// Name, unique among sites.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// Address ranges (CIDR).
    #[schemars(with = "Vec<String>")]
    pub address_space: Vec<Spanned<String>>,
    /// The gateway (by gateway name, or by the name of the VNet holding it) it connects to
    /// with a static IPsec connection (or ExpressRoute, for an ExpressRoute gateway); none:
    /// connected by `connections` entries, or not at all.
    #[schemars(with = "Option<String>")]
    pub connection: Option<Spanned<String>>,
    /// One-way latency gateway to site (default `5ms`).
    #[schemars(with = "Option<Text>")]
    pub latency: Option<Spanned<Text>>,
    /// Hosts.
    #[serde(default)]
    pub hosts: Vec<RawHost>,
    /// BGP settings of the site's local network gateway (ASN, peering address).
    pub bgp: Option<RawBgp>,
    /// Prefixes the site's device advertises over BGP.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub advertises: Vec<Spanned<String>>,
}

/// A host at a site.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawHost {
    /// Name, unique among hosts and VMs.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// IPv4 address inside the site's address space.
    #[schemars(with = "String")]
    pub ip: Spanned<String>,
}

/// The latency model (durations).
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLatency {
    /// VM to VM (default `30us`).
    #[schemars(with = "Option<Text>")]
    pub host_to_host: Option<Spanned<Text>>,
    /// Per appliance hop (default `10us`).
    #[schemars(with = "Option<Text>")]
    pub appliance: Option<Spanned<Text>>,
    /// Per gateway hop (default `200us`).
    #[schemars(with = "Option<Text>")]
    pub gateway: Option<Spanned<Text>>,
    /// Largest seeded extra delay per segment of a packet's way (default `0`). vnetsim addition.
    #[schemars(with = "Option<Text>")]
    pub jitter: Option<Spanned<Text>>,
}

/// Bandwidth shaping: the depth of each shaping queue and the token bucket's burst, in bytes.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawShaping {
    /// Depth of each shaping queue in bytes (default 1048576); at least 65535, the largest
    /// IPv4 packet.
    #[schemars(with = "Option<u64>")]
    pub queue_bytes: Option<Spanned<u64>>,
    /// Token bucket size in bytes: how much may leave at once after an idle period (default
    /// 65536); above zero.
    #[schemars(with = "Option<u64>")]
    pub burst_bytes: Option<Spanned<u64>>,
}

/// Prices used in reports, in US dollars per GB (10^9 bytes).
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPricing {
    /// Per GB leaving a VNet over a peering, billed at the sender (default 0.01).
    #[schemars(with = "Option<f64>")]
    pub peering_egress_per_gb: Option<Spanned<f64>>,
    /// Per GB entering a VNet over a peering, billed at the receiver (default 0.01).
    #[schemars(with = "Option<f64>")]
    pub peering_ingress_per_gb: Option<Spanned<f64>>,
}

/// Inter-packet pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawPattern {
    /// Fixed spacing (default).
    #[default]
    Constant,
    /// Exponential spacing.
    Poisson,
}

/// A traffic source.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFlow {
    /// Name, unique among flows.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// Sender: VM, host or IPv4 (required unless `pairs` is given).
    #[schemars(with = "Option<String>")]
    pub from: Option<Spanned<String>>,
    /// Receiver: VM, host or IPv4 (required unless `pairs` is given).
    #[schemars(with = "Option<String>")]
    pub to: Option<Spanned<String>>,
    /// Many flows in one entry, named `<name>-0`, `<name>-1`, ...: senders and receivers
    /// paired at random from a seed; replaces `from`, `to` and `src_port`.
    #[schemars(with = "Option<RawPairs>")]
    pub pairs: Option<Spanned<RawPairs>>,
    /// `tcp`, `udp` or `icmp` (any case).
    #[schemars(with = "String")]
    pub protocol: Spanned<String>,
    /// Source port (TCP/UDP); not with `pairs`, which gives each flow its own.
    #[schemars(with = "Option<u16>")]
    pub src_port: Option<Spanned<u16>>,
    /// Destination port (TCP/UDP).
    #[schemars(with = "Option<u16>")]
    pub dst_port: Option<Spanned<u16>>,
    /// Offered rate: `200Mbps`, `50000pps`.
    #[schemars(with = "Text")]
    pub rate: Spanned<Text>,
    /// Bytes of the whole IPv4 packet.
    #[schemars(with = "u64")]
    pub packet_size: Spanned<u64>,
    /// Start time (default `0s`).
    #[schemars(with = "Option<Text>")]
    pub start: Option<Spanned<Text>>,
    /// Duration; default until the scenario's duration.
    #[schemars(with = "Option<Text>")]
    pub duration: Option<Spanned<Text>>,
    /// `constant` (default) or `poisson`.
    #[serde(default)]
    pub pattern: RawPattern,
    /// The destination answers each packet (default false).
    #[serde(default)]
    pub reply: bool,
}

/// The pairing of a compact traffic entry: `count` flows, each from a sender of `from` to a
/// receiver of `to`, both drawn with a seeded generator.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPairs {
    /// Senders: VM or host names, IPv4 addresses held by a NIC, or `vnet:<name>` for every VM
    /// whose primary NIC is in that VNet.
    #[schemars(with = "Vec<String>")]
    pub from: Spanned<Vec<Spanned<String>>>,
    /// Receivers, written as `from`.
    #[schemars(with = "Vec<String>")]
    pub to: Spanned<Vec<Spanned<String>>>,
    /// How many flows (1 to 10,000,000; all entries of a file together at most as many).
    #[schemars(with = "u64")]
    pub count: Spanned<u64>,
    /// Seed of the pairing (default 0): the same seed gives the same flows.
    #[serde(default)]
    pub seed: u64,
    /// Each flow's receiver is in another VNet than its sender (default false).
    #[serde(default)]
    pub cross_vnet: bool,
    /// Each flow starts at `start` plus a seeded offset below this duration (default `0`:
    /// every flow at `start`).
    #[schemars(with = "Option<Text>")]
    pub spread: Option<Spanned<Text>>,
}

/// `set_route_table` event.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSetRouteTable {
    /// Subnet as `vnet/subnet`.
    #[schemars(with = "String")]
    pub subnet: Spanned<String>,
    /// Route table name, or null to detach.
    #[schemars(with = "Option<String>")]
    pub route_table: Option<Spanned<String>>,
}

/// `set_subnet_nsg` event.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSetSubnetNsg {
    /// Subnet as `vnet/subnet`.
    #[schemars(with = "String")]
    pub subnet: Spanned<String>,
    /// NSG name, or null to detach.
    #[schemars(with = "Option<String>")]
    pub nsg: Option<Spanned<String>>,
}

/// `set_nic_nsg` event.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSetNicNsg {
    /// NIC name.
    #[schemars(with = "String")]
    pub nic: Spanned<String>,
    /// NSG name, or null to detach.
    #[schemars(with = "Option<String>")]
    pub nsg: Option<Spanned<String>>,
}

/// `add_nsg_rule` event.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAddNsgRule {
    /// NSG name.
    #[schemars(with = "String")]
    pub nsg: Spanned<String>,
    /// The rule.
    pub rule: RawNsgRule,
}

/// `remove_nsg_rule` event.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRemoveNsgRule {
    /// NSG name.
    #[schemars(with = "String")]
    pub nsg: Spanned<String>,
    /// Rule name.
    #[schemars(with = "String")]
    pub rule: Spanned<String>,
}

/// `set_ip_forwarding` event.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSetIpForwarding {
    /// NIC name.
    #[schemars(with = "String")]
    pub nic: Spanned<String>,
    /// On or off.
    pub enabled: bool,
}

/// `update_address_space` event: a VNet's address ranges change (added, removed or resized),
/// also while it is peered (`azure.address_space_update`, [update-address-space]).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawUpdateAddressSpace {
    /// VNet name.
    #[schemars(with = "String")]
    pub vnet: Spanned<String>,
    /// The VNet's whole new address space: prefixes such as `10.1.0.0/16`.
    #[schemars(with = "Vec<String>")]
    pub address_space: Vec<Spanned<String>>,
    /// Whether every remote peering is synced with the change at once (default true); with
    /// false each peer's link keeps the old ranges until a `sync_peering` event names it.
    #[schemars(with = "Option<bool>")]
    pub sync: Option<Spanned<bool>>,
}

/// A timed change: `at` plus exactly one action.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawEvent {
    /// When (default `0s`).
    #[schemars(with = "Option<Text>")]
    pub at: Option<Spanned<Text>>,
    /// Delete a peering link by name.
    #[schemars(with = "Option<String>")]
    pub remove_peering: Option<Spanned<String>>,
    /// Create a peering link.
    pub add_peering: Option<RawPeering>,
    /// Attach or detach a subnet's route table.
    pub set_route_table: Option<RawSetRouteTable>,
    /// Attach or detach a subnet's NSG.
    pub set_subnet_nsg: Option<RawSetSubnetNsg>,
    /// Attach or detach a NIC's NSG.
    pub set_nic_nsg: Option<RawSetNicNsg>,
    /// Add a rule to an NSG.
    pub add_nsg_rule: Option<RawAddNsgRule>,
    /// Remove a rule from an NSG.
    pub remove_nsg_rule: Option<RawRemoveNsgRule>,
    /// Turn a NIC's IP forwarding on or off.
    pub set_ip_forwarding: Option<RawSetIpForwarding>,
    /// Change a VNet's address space.
    pub update_address_space: Option<RawUpdateAddressSpace>,
    /// Sync a peering link with the remote VNet's current address space, by link name (the
    /// link owned by the VNet whose peer changed its address space).
    #[schemars(with = "Option<String>")]
    pub sync_peering: Option<Spanned<String>>,
    /// Create a gateway connection (a new one, or one removed earlier).
    pub add_connection: Option<RawConnection>,
    /// Delete a gateway connection by name.
    #[schemars(with = "Option<String>")]
    pub remove_connection: Option<Spanned<String>>,
    /// Mark a load balancer's backend down (or up again).
    pub set_backend_health: Option<RawSetBackendHealth>,
}

/// The packet of a probe expectation.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawProbe {
    /// Sender: VM, host or IPv4.
    #[schemars(with = "String")]
    pub from: Spanned<String>,
    /// Receiver: VM, host or IPv4.
    #[schemars(with = "String")]
    pub to: Spanned<String>,
    /// `tcp`, `udp` or `icmp` (default icmp, any case).
    #[schemars(with = "Option<String>")]
    pub protocol: Option<Spanned<String>>,
    /// Source port (TCP/UDP, default 49152).
    #[schemars(with = "Option<u16>")]
    pub src_port: Option<Spanned<u16>>,
    /// Destination port (TCP/UDP, default 80).
    #[schemars(with = "Option<u16>")]
    pub dst_port: Option<Spanned<u16>>,
    /// When it is sent (default `0s`).
    #[schemars(with = "Option<Text>")]
    pub at: Option<Spanned<Text>>,
    /// Decide the probe by NSG rules alone, ignoring (and leaving) no flow records (default
    /// false: the probe shares the run's NSG flow state).
    #[serde(default)]
    pub stateless: bool,
}

/// `delivered` or `dropped`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawVerdict {
    /// Reaches its destination.
    Delivered,
    /// Is dropped.
    Dropped,
}

/// An expectation: either a probe (with verdict, reason, path) or a flow (with checks).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawExpectation {
    /// A probe packet.
    pub probe: Option<RawProbe>,
    /// `delivered` or `dropped`.
    #[schemars(with = "Option<RawVerdict>")]
    pub verdict: Option<Spanned<RawVerdict>>,
    /// Drop reason (stable name).
    #[schemars(with = "Option<String>")]
    pub reason: Option<Spanned<String>>,
    /// Hops by name.
    pub path: Option<Vec<String>>,
    /// A flow name.
    #[schemars(with = "Option<String>")]
    pub flow: Option<Spanned<String>>,
    /// `">= 0.99"`: delivered / sent.
    #[schemars(with = "Option<String>")]
    pub delivered_ratio: Option<Spanned<Text>>,
    /// `">= 150Mbps"`: achieved throughput.
    #[schemars(with = "Option<String>")]
    pub throughput: Option<Spanned<Text>>,
    /// `"<= 2ms"`: latency percentile 50.
    #[schemars(with = "Option<String>")]
    pub latency_p50: Option<Spanned<Text>>,
    /// Latency percentile 90.
    #[schemars(with = "Option<String>")]
    pub latency_p90: Option<Spanned<Text>>,
    /// Latency percentile 99.
    #[schemars(with = "Option<String>")]
    pub latency_p99: Option<Spanned<Text>>,
    /// Maximum latency.
    #[schemars(with = "Option<String>")]
    pub latency_max: Option<Spanned<Text>>,
    /// Drops per reason: `{ queue-overflow: "== 0" }`.
    #[schemars(with = "Option<std::collections::BTreeMap<String, String>>")]
    pub drops: Option<IndexMap<String, Spanned<Text>>>,
    /// `">= 0.99"`: delivered / sent of the destination's replies (flows with `reply: true`).
    #[schemars(with = "Option<String>")]
    pub reply_delivered_ratio: Option<Spanned<Text>>,
    /// Drops of the replies per reason: `{ firewall-no-session: "> 0" }`.
    #[schemars(with = "Option<std::collections::BTreeMap<String, String>>")]
    pub reply_drops: Option<IndexMap<String, Spanned<Text>>>,
}
