//! The checked scenario model: every name resolved to a dense index, every unit parsed.
//!
//! This is what the rest of vnetsim consumes. A [`Scenario`] is produced by
//! [`crate::load_str`] / [`crate::load_file`] after the file parsed and every Azure rule held, or
//! built directly by code (tests, generators). It holds no source positions except the
//! `line` of items that later stages report on (expectations, flows); diagnostics about the file
//! itself are the loader's job, not this module's.
//!
//! Ids are indices into the vectors of [`Scenario`]: `VnetId(3)` is `scenario.vnets[3]`.

use std::net::Ipv4Addr;
use std::sync::Arc;

use ipnet::Ipv4Net;

/// Simulated time or a duration, in nanoseconds.
pub type Nanos = u64;

macro_rules! id_type {
    ($(#[$doc:meta] $name:ident),* $(,)?) => {$(
        #[$doc]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub u32);
        impl $name {
            /// The index into the scenario's vector of this kind.
            #[inline]
            pub fn index(self) -> usize { self.0 as usize }
        }
    )*};
}

id_type!(
    /// Index into [`Scenario::subscriptions`].
    SubscriptionId,
    /// Index into [`Scenario::vnets`].
    VnetId,
    /// Index into [`Scenario::subnets`].
    SubnetId,
    /// Index into [`Scenario::vms`].
    VmId,
    /// Index into [`Scenario::nics`].
    NicId,
    /// Index into [`Scenario::nsgs`].
    NsgId,
    /// Index into [`Scenario::route_tables`].
    RouteTableId,
    /// Index into [`Scenario::peerings`].
    PeeringId,
    /// Index into [`Scenario::sites`].
    SiteId,
    /// Index into [`Scenario::hosts`].
    HostId,
    /// Index into [`Scenario::traffic`].
    FlowId,
);

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

/// A whole checked scenario.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scenario {
    /// The scenario's name (required in the file).
    pub name: String,
    /// Seed of the random number generator; same file and seed give the same report.
    pub seed: u64,
    /// Simulated time for flows; `None`: until the last flow ends.
    pub duration: Option<Nanos>,
    /// Switches for Azure behaviour that changed over time.
    pub azure: AzureSwitches,
    /// Subscriptions (a default one when the file names none).
    pub subscriptions: Vec<Subscription>,
    /// Virtual networks.
    pub vnets: Vec<Vnet>,
    /// All subnets of all VNets, flattened; each names its VNet.
    pub subnets: Vec<Subnet>,
    /// Virtual machines.
    pub vms: Vec<Vm>,
    /// All NICs of all VMs, flattened; each names its VM.
    pub nics: Vec<Nic>,
    /// Network security groups.
    pub nsgs: Vec<Nsg>,
    /// Route tables (user-defined routes).
    pub route_tables: Vec<RouteTable>,
    /// Peering links, one per direction as in Azure.
    pub peerings: Vec<Peering>,
    /// On-premises sites connected through a VNet gateway.
    pub sites: Vec<Site>,
    /// All hosts of all sites, flattened; each names its site.
    pub hosts: Vec<Host>,
    /// One-way latency model.
    pub latency: LatencyModel,
    /// Bandwidth shaping (queue depths).
    pub shaping: Shaping,
    /// Prices used in reports.
    pub pricing: Pricing,
    /// Traffic sources.
    pub traffic: Vec<Flow>,
    /// Changes to the network at simulated times.
    pub events: Vec<Event>,
    /// Azure Firewalls (each in its VNet's `AzureFirewallSubnet`).
    pub firewalls: Vec<Firewall>,
    /// Firewall policies.
    pub firewall_policies: Vec<FirewallPolicy>,
    /// IP groups.
    pub ip_groups: Vec<IpGroup>,
    /// DNS names and their addresses, for firewall application and FQDN rules.
    pub names: Vec<NameRecord>,
    /// Hosts on the Internet.
    pub internet_hosts: Vec<InternetHost>,
    /// What must hold when the scenario is replayed.
    pub expectations: Vec<Expectation>,
    /// Application security groups with their member NICs.
    pub application_security_groups: Vec<ApplicationSecurityGroup>,
    /// Private endpoints (network interfaces of private-link resources).
    pub private_endpoints: Vec<PrivateEndpoint>,
    /// Connections of virtual network gateways: the sites' `connection` shorthands first (in
    /// site order), then the file's `connections`.
    pub connections: Vec<GatewayConnection>,
    /// Azure Load Balancers.
    pub load_balancers: Vec<LoadBalancer>,
}

/// Which period of Azure's documentation a scenario follows. Every era-dependent switch of
/// [`AzureSwitches`] takes its value from the era unless the file sets it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub enum Era {
    /// The 2016 peering document (the seed) and the pages of its time. The default.
    #[default]
    Y2016,
    /// Microsoft's pages as they read now.
    Current,
}

impl Era {
    /// The name used in files and reports: `2016` or `current`.
    pub fn as_str(self) -> &'static str {
        match self {
            Era::Y2016 => "2016",
            Era::Current => "current",
        }
    }
}

/// Which definition of the VirtualNetwork service tag NSGs use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub enum VirtualNetworkTagMode {
    /// The VNet's ranges, its peers and the on-premises ranges behind its gateway (2016-2018
    /// pages).
    #[default]
    Y2016,
    /// Also the host's virtual IP 168.63.129.16 and the prefixes of the user-defined routes of
    /// the subnet's route table (service-tags page, 2021 onward).
    Current,
}

/// Switches for Azure behaviour that Azure's own documentation changed over time. Each takes
/// its value from [`AzureSwitches::era`] unless the file sets it ([`AzureSwitches::for_era`]
/// gives an era's values; [`AzureSwitches::differences`] lists what a file changed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AzureSwitches {
    /// The era the other switches default to.
    pub era: Era,
    /// Peerings across regions allowed (Global VNet Peering, 2018+).
    pub global_peering: bool,
    /// Peerings across AD tenants allowed (2019+).
    pub cross_tenant_peering: bool,
    /// Peering links per VNet.
    pub peering_limit: u32,
    /// What `allow_virtual_network_access: false` does.
    pub virtual_network_access: VirtualNetworkAccessMode,
    /// Whether `allow_forwarded_traffic` is enforced.
    pub forwarded_traffic: ForwardedTrafficMode,
    /// Which definition of the VirtualNetwork service tag NSGs use.
    pub virtual_network_tag: VirtualNetworkTagMode,
    /// Gateway transit between a classic VNet and a Resource Manager VNet whose gateway it uses
    /// (2018+, gateway in the Resource Manager VNet).
    pub classic_gateway_transit: bool,
    /// A peered VNet's address space may change while peered (`update_address_space`, 2021+).
    pub address_space_update: bool,
    /// Subnets that do not say otherwise give their VMs default outbound access to the
    /// Internet (retired for new VNets: private subnets by default [DOA], [TCPRIV26]).
    pub default_outbound_access: bool,
}

impl Default for AzureSwitches {
    fn default() -> Self {
        Self::for_era(Era::Y2016)
    }
}

/// The line `run`, `explain` and reports print for an era and the switches that differ from it
/// (name, value): `era 2016`, or `era current; differs from the era: global_peering: false`.
pub fn describe_era(era: &str, diffs: &[(&str, String)]) -> String {
    let mut out = format!("era {era}");
    if !diffs.is_empty() {
        let parts: Vec<String> = diffs.iter().map(|(n, v)| format!("{n}: {v}")).collect();
        out.push_str("; differs from the era: ");
        out.push_str(&parts.join(", "));
    }
    out
}

/// One switch's value as a file writes it, for reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SwitchValue {
    /// The switch's name in the `azure` block.
    pub name: &'static str,
    /// Its value.
    pub value: Setting,
}

/// The value of one switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    /// `true` or `false`.
    Bool(bool),
    /// A count.
    Number(u32),
    /// A word such as `tag` or `2016`.
    Word(&'static str),
}

impl std::fmt::Display for Setting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Setting::Bool(b) => write!(f, "{b}"),
            Setting::Number(n) => write!(f, "{n}"),
            Setting::Word(w) => f.write_str(w),
        }
    }
}

impl AzureSwitches {
    /// Every switch as `era` sets it. The values and the pages behind them are the table of
    /// `docs/azure-rules.md` ("Eras").
    pub fn for_era(era: Era) -> Self {
        let current = era == Era::Current;
        Self {
            era,
            // [peering-2016]: same region only; [manage-peering 2025]: any region.
            global_peering: current,
            // [peering-2016]: one tenant; [vnet-faq]: other Entra tenants too.
            cross_tenant_peering: current,
            // The seed gives no figure ("see limits"); 500 since 2019 [limits].
            peering_limit: 500,
            // [create-peering-2016] and [manage-peering 2022] agree: the flag shapes the tag.
            virtual_network_access: VirtualNetworkAccessMode::Tag,
            // Enforced in both: the receiving link's setting decides ([manage-peering 2025]).
            forwarded_traffic: ForwardedTrafficMode::Enforce,
            // [service-tags 2021+]: host VIP and UDR prefixes joined the tag.
            virtual_network_tag: if current {
                VirtualNetworkTagMode::Current
            } else {
                VirtualNetworkTagMode::Y2016
            },
            // [peering-2016]: "not supported"; [gw-transit 2018]: supported, gateway in RM.
            classic_gateway_transit: current,
            // [peering-2016]: delete the peering first; [update-address-space 2022]: allowed.
            address_space_update: current,
            // [DOA22]: implicit outbound IP; [TCPRIV26] 2026: new VNets get private subnets.
            default_outbound_access: !current,
        }
    }

    /// Every switch with its value, in the order of the reference table.
    pub fn values(&self) -> Vec<SwitchValue> {
        let v = |name: &'static str, value: Setting| SwitchValue { name, value };
        let b = Setting::Bool;
        vec![
            v("global_peering", b(self.global_peering)),
            v("cross_tenant_peering", b(self.cross_tenant_peering)),
            v("peering_limit", Setting::Number(self.peering_limit)),
            v(
                "virtual_network_access",
                Setting::Word(match self.virtual_network_access {
                    VirtualNetworkAccessMode::Tag => "tag",
                    VirtualNetworkAccessMode::Block => "block",
                }),
            ),
            v(
                "forwarded_traffic",
                Setting::Word(match self.forwarded_traffic {
                    ForwardedTrafficMode::Enforce => "enforce",
                    ForwardedTrafficMode::Ignore => "ignore",
                }),
            ),
            v(
                "virtual_network_tag",
                Setting::Word(match self.virtual_network_tag {
                    VirtualNetworkTagMode::Y2016 => "2016",
                    VirtualNetworkTagMode::Current => "current",
                }),
            ),
            v("classic_gateway_transit", b(self.classic_gateway_transit)),
            v("address_space_update", b(self.address_space_update)),
            v("default_outbound_access", b(self.default_outbound_access)),
        ]
    }

    /// The switches whose value differs from what the era sets, so that no choice is silent.
    pub fn differences(&self) -> Vec<SwitchValue> {
        let era = Self::for_era(self.era).values();
        self.values()
            .into_iter()
            .zip(era)
            .filter(|(mine, era)| mine.value != era.value)
            .map(|(mine, _)| mine)
            .collect()
    }

    /// One line for people: `era 2016`, or `era current; differs from the era:
    /// global_peering: false`.
    pub fn describe(&self) -> String {
        let diffs: Vec<(&str, String)> = self
            .differences()
            .iter()
            .map(|d| (d.name, d.value.to_string()))
            .collect();
        describe_era(self.era.as_str(), &diffs)
    }
}

/// How `allow_virtual_network_access: false` acts on the data plane.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum VirtualNetworkAccessMode {
    /// The peer leaves the VirtualNetwork service tag: default NSG rules deny, explicit rules
    /// may still allow (manage-peering 2022).
    #[default]
    Tag,
    /// A link with access off carries nothing (`vnet-access-blocked`).
    Block,
}

/// Whether the `allow_forwarded_traffic` flag of a peering link is enforced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ForwardedTrafficMode {
    /// Forwarded packets need `allow_forwarded_traffic` on the receiving VNet's link.
    #[default]
    Enforce,
    /// The flag only documents intent.
    Ignore,
}

/// A subscription and the AD tenant it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscription {
    /// Subscription name.
    pub name: String,
    /// Tenant name.
    pub tenant: String,
}

/// Deployment model of a VNet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Deployment {
    /// Azure Resource Manager.
    #[default]
    ResourceManager,
    /// Classic (Azure Service Manager); holds no peering links of its own.
    Classic,
}

/// A virtual network.
#[derive(Clone, Debug, PartialEq)]
pub struct Vnet {
    /// Name, unique among VNets.
    pub name: String,
    /// Its subscription.
    pub subscription: SubscriptionId,
    /// Its region.
    pub region: String,
    /// Its deployment model.
    pub deployment: Deployment,
    /// Address ranges.
    pub address_space: Vec<Ipv4Net>,
    /// Its subnets, in file order.
    pub subnets: Vec<SubnetId>,
    /// Its virtual network gateway, if any (with two, the VPN one).
    pub gateway: Option<Gateway>,
    /// Its Azure Firewall.
    pub firewall: Option<FirewallId>,
    /// Its ExpressRoute gateway when it also holds a VPN gateway (coexistence [ERCOEX18]).
    pub expressroute: Option<Gateway>,
}

/// A VNet's virtual network gateway (VPN or ExpressRoute).
#[derive(Clone, Debug, PartialEq)]
pub struct Gateway {
    /// Gateway name.
    pub name: String,
    /// SKU name (Basic, VpnGw1..5, ErGw1AZ, ...).
    pub sku: String,
    /// The VNet's `GatewaySubnet`.
    pub subnet: SubnetId,
    /// The gateway's private IP: the first usable address of the GatewaySubnet (an
    /// ExpressRoute gateway beside a VPN gateway: the next one).
    pub ip: Ipv4Addr,
    /// VPN or ExpressRoute.
    pub kind: crate::sizes::GatewayKind,
    /// A policy-based VPN gateway (static site-to-site only).
    pub policy_based: bool,
    /// BGP settings (none: default ASN 65515, no BGP peering address of its own).
    pub bgp: Option<BgpSettings>,
}

/// A subnet of a VNet.
#[derive(Clone, Debug, PartialEq)]
pub struct Subnet {
    /// Name, unique inside its VNet.
    pub name: String,
    /// Its VNet.
    pub vnet: VnetId,
    /// Its prefix (/8 to /29 under era 2016, /2 to /29 under era current).
    pub prefix: Ipv4Net,
    /// The subnet-level NSG.
    pub nsg: Option<NsgId>,
    /// The attached route table.
    pub route_table: Option<RouteTableId>,
    /// VMs without an explicit outbound method reach the Internet through an implicit public
    /// IP (ARM `defaultOutboundAccess`; false: a private subnet).
    pub default_outbound_access: bool,
    /// ARM `privateEndpointNetworkPolicies`: whether the subnet's NSG and route table apply to
    /// its private endpoints [PENP23].
    pub private_endpoint_network_policies: PrivateEndpointNetworkPolicies,
}

/// A virtual machine.
#[derive(Clone, Debug, PartialEq)]
pub struct Vm {
    /// Name, unique among VMs (shared: reports name VMs without copying).
    pub name: Arc<str>,
    /// Azure size name, e.g. `Standard_D2s_v3`.
    pub size: String,
    /// Egress bandwidth in bits per second, when the file sets it (otherwise the size catalog's).
    pub bandwidth: Option<u64>,
    /// The guest forwards packets not addressed to it (a network virtual appliance).
    pub forwarding: bool,
    /// Active flows the VM holds in each direction ([`DEFAULT_FLOW_LIMIT`] unless the file
    /// sets `flow_limit`); a new connection beyond it is dropped (`flow-limit`).
    pub flow_limit: u32,
    /// Its NICs; the first is the primary.
    pub nics: Vec<NicId>,
}

/// Active flows a VM holds in each direction: "500k active flows ... in each direction"
/// at any VM size (Virtual machine network bandwidth, 2023-2025).
pub const DEFAULT_FLOW_LIMIT: u32 = 500_000;

/// The largest `flow_limit` a file may set: the largest figure Azure publishes (4M connections
/// for the largest network-optimized sizes, preview 2025).
pub const MAX_FLOW_LIMIT: u32 = 4_000_000;

/// A network interface.
#[derive(Clone, Debug, PartialEq)]
pub struct Nic {
    /// Name, unique among NICs.
    pub name: String,
    /// Its VM.
    pub vm: VmId,
    /// Its VNet.
    pub vnet: VnetId,
    /// Its subnet.
    pub subnet: SubnetId,
    /// Its private IPv4 address.
    pub ip: Ipv4Addr,
    /// Azure's "Enable IP forwarding" (turns off the source/destination check).
    pub ip_forwarding: bool,
    /// The NIC-level NSG.
    pub nsg: Option<NsgId>,
    /// Its public IP address.
    pub public_ip: Option<PublicIp>,
}

/// A network security group.
#[derive(Clone, Debug, PartialEq)]
pub struct Nsg {
    /// Name, unique among NSGs.
    pub name: String,
    /// The user rules, in file order (not sorted). The six default rules are implied.
    pub rules: Vec<NsgRule>,
}

/// Direction of an NSG rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Traffic entering the subnet or NIC.
    Inbound,
    /// Traffic leaving the subnet or NIC.
    Outbound,
}

/// Allow or deny.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    /// Allow.
    Allow,
    /// Deny.
    Deny,
}

/// IP protocol of a probe, flow or rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// TCP (6).
    Tcp,
    /// UDP (17).
    Udp,
    /// ICMP (1).
    Icmp,
}

impl Protocol {
    /// The IPv4 protocol number.
    pub fn number(self) -> u8 {
        match self {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
            Protocol::Icmp => 1,
        }
    }
}

/// Protocol of an NSG rule: one protocol or any. An NSG rule's protocol is "TCP, UDP, ICMP, ESP,
/// AH, or Any" [nsg-overview]; ESP and AH are rule protocols only (no probe or flow sends them;
/// raw packets may).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RuleProtocol {
    /// Any protocol ("*").
    Any,
    /// One protocol.
    One(Protocol),
    /// IPsec Encapsulating Security Payload (IP protocol 50).
    Esp,
    /// IPsec Authentication Header (IP protocol 51).
    Ah,
}

impl RuleProtocol {
    /// The IPv4 protocol number the rule matches, `None` for any.
    pub fn number(self) -> Option<u8> {
        match self {
            RuleProtocol::Any => None,
            RuleProtocol::One(p) => Some(p.number()),
            RuleProtocol::Esp => Some(50),
            RuleProtocol::Ah => Some(51),
        }
    }

    /// Azure's name of the protocol as effective security rules spell it: `Tcp`, `Udp`, `Icmp`,
    /// `Esp`, `Ah`, or `any` (the caller's word for any: `Any` in effective rules, `All` in IP
    /// flow verify).
    pub fn azure_name(self, any: &'static str) -> &'static str {
        match self {
            RuleProtocol::Any => any,
            RuleProtocol::One(Protocol::Tcp) => "Tcp",
            RuleProtocol::One(Protocol::Udp) => "Udp",
            RuleProtocol::One(Protocol::Icmp) => "Icmp",
            RuleProtocol::Esp => "Esp",
            RuleProtocol::Ah => "Ah",
        }
    }
}

/// Azure service tags vnetsim models.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServiceTag {
    /// The VNet's address space, connected peers with access allowed, and on-premises ranges
    /// reached through a gateway; with `azure.virtual_network_tag: current` also 168.63.129.16
    /// and the prefixes of the subnet's user-defined routes [service-tags] 2021+.
    VirtualNetwork,
    /// Public address space outside the VirtualNetwork tag.
    Internet,
    /// Azure's infrastructure load balancer, 168.63.129.16.
    AzureLoadBalancer,
    /// The platform's DNS at 168.63.129.16 (port 53, UDP and TCP); outbound destinations only
    /// [service-tags], [ip-168].
    AzurePlatformDns,
    /// The Instance Metadata Service at 169.254.169.254; outbound destinations only
    /// [service-tags].
    AzurePlatformImds,
    /// Windows license activation (KMS, TCP port 1688); outbound destinations only
    /// [service-tags], [nsg-overview].
    AzurePlatformLkm,
}

impl ServiceTag {
    /// Every tag, in the order the reference lists them.
    pub const ALL: [ServiceTag; 6] = [
        ServiceTag::VirtualNetwork,
        ServiceTag::Internet,
        ServiceTag::AzureLoadBalancer,
        ServiceTag::AzurePlatformDns,
        ServiceTag::AzurePlatformImds,
        ServiceTag::AzurePlatformLkm,
    ];

    /// Azure's name of the tag, e.g. `AzurePlatformDNS`.
    pub const fn name(self) -> &'static str {
        match self {
            ServiceTag::VirtualNetwork => "VirtualNetwork",
            ServiceTag::Internet => "Internet",
            ServiceTag::AzureLoadBalancer => "AzureLoadBalancer",
            ServiceTag::AzurePlatformDns => "AzurePlatformDNS",
            ServiceTag::AzurePlatformImds => "AzurePlatformIMDS",
            ServiceTag::AzurePlatformLkm => "AzurePlatformLKM",
        }
    }

    /// Whether it is one of the platform tags (AzurePlatformDNS, AzurePlatformIMDS,
    /// AzurePlatformLKM): outbound-only, they let an NSG deny what the platform otherwise
    /// allows past every NSG [service-tags] 01/2023.
    pub const fn is_platform(self) -> bool {
        matches!(
            self,
            ServiceTag::AzurePlatformDns
                | ServiceTag::AzurePlatformImds
                | ServiceTag::AzurePlatformLkm
        )
    }
}

/// One source or destination entry of an NSG rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AddressMatch {
    /// `"*"`: every address.
    Any,
    /// A CIDR prefix or a single address (/32).
    Prefix(Ipv4Net),
    /// A service tag.
    Tag(ServiceTag),
    /// An application security group: the private IPs of its member NICs [ASG20].
    Asg(AsgId),
}

/// An inclusive port range; `"*"` is `0..=65535`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PortRange {
    /// First port.
    pub lo: u16,
    /// Last port (inclusive).
    pub hi: u16,
}

impl PortRange {
    /// Every port.
    pub const ANY: PortRange = PortRange { lo: 0, hi: 65535 };

    /// Whether `port` lies in the range.
    #[inline]
    pub fn contains(self, port: u16) -> bool {
        self.lo <= port && port <= self.hi
    }
}

/// A user rule of an NSG.
#[derive(Clone, Debug, PartialEq)]
pub struct NsgRule {
    /// Name, unique in the NSG.
    pub name: String,
    /// Priority 100..=4096; lower is evaluated first.
    pub priority: u16,
    /// Inbound or outbound.
    pub direction: Direction,
    /// Allow or deny.
    pub access: Access,
    /// Protocol matched.
    pub protocol: RuleProtocol,
    /// Sources (any one matches).
    pub source: Vec<AddressMatch>,
    /// Source ports (any one matches).
    pub source_ports: Vec<PortRange>,
    /// Destinations (any one matches).
    pub destination: Vec<AddressMatch>,
    /// Destination ports (any one matches).
    pub destination_ports: Vec<PortRange>,
}

/// A route table of user-defined routes.
#[derive(Clone, Debug, PartialEq)]
pub struct RouteTable {
    /// Name, unique among route tables.
    pub name: String,
    /// "Propagate gateway routes: No": gateway (BGP) routes are not added to subnets using it.
    pub disable_gateway_route_propagation: bool,
    /// Its routes.
    pub routes: Vec<UserRoute>,
}

/// Next hop types of Azure's effective routes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NextHopType {
    /// Inside the VNet ("Virtual network").
    VnetLocal,
    /// Into a peered VNet (created by Azure only).
    VNetPeering,
    /// To the VNet's (or the remote) virtual network gateway.
    VirtualNetworkGateway,
    /// To the Internet.
    Internet,
    /// To a network virtual appliance's IP.
    VirtualAppliance,
    /// Drop.
    None,
    /// To a private endpoint: the `/32` system route each private endpoint adds to its VNet
    /// and to peered VNets [PENP23]. The type's name is unconfirmed: only community sources
    /// show it (azure-current 8.2, 11.1).
    InterfaceEndpoint,
}

impl NextHopType {
    /// Azure's spelling in effective routes.
    pub fn as_str(self) -> &'static str {
        match self {
            NextHopType::VnetLocal => "VnetLocal",
            NextHopType::VNetPeering => "VNetPeering",
            NextHopType::VirtualNetworkGateway => "VirtualNetworkGateway",
            NextHopType::Internet => "Internet",
            NextHopType::VirtualAppliance => "VirtualAppliance",
            NextHopType::None => "None",
            NextHopType::InterfaceEndpoint => "InterfaceEndpoint",
        }
    }
}

/// A user-defined route.
#[derive(Clone, Debug, PartialEq)]
pub struct UserRoute {
    /// Name, unique in its table.
    pub name: String,
    /// Destination prefix.
    pub prefix: Ipv4Net,
    /// Next hop type (never VNetPeering: Azure creates those only).
    pub next_hop: NextHopType,
    /// Next hop IP, exactly when `next_hop` is VirtualAppliance.
    pub next_hop_ip: Option<Ipv4Addr>,
}

/// One direction of a VNet peering.
#[derive(Clone, Debug, PartialEq)]
pub struct Peering {
    /// Name, unique among peerings.
    pub name: String,
    /// The VNet that owns this link.
    pub from: VnetId,
    /// The remote VNet.
    pub to: VnetId,
    /// allowVirtualNetworkAccess (default true).
    pub allow_virtual_network_access: bool,
    /// allowForwardedTraffic (default false): `from` accepts traffic that did not originate in `to`.
    pub allow_forwarded_traffic: bool,
    /// allowGatewayTransit (default false): `to` may use `from`'s gateway.
    pub allow_gateway_transit: bool,
    /// useRemoteGateways (default false): `from` uses `to`'s gateway.
    pub use_remote_gateways: bool,
}

/// An on-premises site, connected site-to-site to one VNet's gateway.
#[derive(Clone, Debug, PartialEq)]
pub struct Site {
    /// Name, unique among sites.
    pub name: String,
    /// The site's address ranges (the local network gateway's prefixes).
    pub address_space: Vec<Ipv4Net>,
    /// The VNet whose gateway the site's `connection` shorthand names (none: connected by
    /// `connections` entries, or not at all).
    pub connection: Option<VnetId>,
    /// One-way latency between the gateway and the site.
    pub latency: Nanos,
    /// Its hosts.
    pub hosts: Vec<HostId>,
    /// BGP settings of its local network gateway.
    pub bgp: Option<BgpSettings>,
    /// Prefixes its device advertises over BGP.
    pub advertises: Vec<Ipv4Net>,
}

/// A host at an on-premises site.
#[derive(Clone, Debug, PartialEq)]
pub struct Host {
    /// Name, unique among hosts and VMs (shared: reports name hosts without copying).
    pub name: Arc<str>,
    /// Its site.
    pub site: SiteId,
    /// Its IPv4 address (inside the site's address space).
    pub ip: Ipv4Addr,
}

/// The one-way latency model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LatencyModel {
    /// VM to VM, the same inside a VNet and across a peering (the seed document says so).
    pub host_to_host: Nanos,
    /// Added per network virtual appliance hop.
    pub appliance: Nanos,
    /// Added per gateway hop.
    pub gateway: Nanos,
    /// Each segment of a packet's way gets a seeded uniform extra delay in `0..=jitter`.
    pub jitter: Nanos,
}

impl Default for LatencyModel {
    fn default() -> Self {
        Self {
            host_to_host: 30_000,
            appliance: 10_000,
            gateway: 200_000,
            jitter: 0,
        }
    }
}

/// Bandwidth shaping: each VM's egress (all its NICs together) and each gateway is a token
/// bucket feeding a FIFO shaping queue of at most `queue_bytes`; a packet that does not fit is
/// dropped as `queue-overflow`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shaping {
    /// Depth of each shaping queue in bytes.
    pub queue_bytes: u64,
    /// Bucket size (burst) in bytes: how much may leave at once after an idle period.
    pub burst_bytes: u64,
}

impl Default for Shaping {
    fn default() -> Self {
        Self {
            queue_bytes: 1 << 20,
            burst_bytes: 64 * 1024,
        }
    }
}

/// Prices used in reports.
#[derive(Clone, Debug, PartialEq)]
pub struct Pricing {
    /// US dollars per GB (10^9 bytes) leaving a VNet over a peering (billed at the sender).
    pub peering_egress_per_gb: f64,
    /// US dollars per GB entering a VNet over a peering (billed at the receiver).
    pub peering_ingress_per_gb: f64,
}

impl Default for Pricing {
    /// The same-region figures of the seed era: $0.01 per GB each way.
    fn default() -> Self {
        Self {
            peering_egress_per_gb: 0.01,
            peering_ingress_per_gb: 0.01,
        }
    }
}

/// An endpoint of a probe or flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// A VM (its primary NIC, the first listed).
    Vm(VmId),
    /// An on-premises host.
    Host(HostId),
    /// A bare IPv4 address (e.g. on the Internet).
    Ip(Ipv4Addr),
    /// One NIC of a VM (`vm/nic` or the NIC's name): packets leave from it, with its subnet's
    /// routes and NSGs, and arrive at its address.
    Nic(NicId),
}

/// A rate of a traffic source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rate {
    /// Bits per second.
    BitsPerSecond(u64),
    /// Packets per second.
    PacketsPerSecond(u64),
}

/// Inter-packet pattern of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Pattern {
    /// Fixed spacing.
    #[default]
    Constant,
    /// Exponential spacing (seeded).
    Poisson,
}

/// The most flows a scenario file's traffic holds, `pairs` entries expanded (rule
/// `pairs-count`): 10,000,000, so that a few lines cannot ask the loader for unbounded memory.
pub const MAX_FLOWS: u64 = 10_000_000;

/// A traffic source.
#[derive(Clone, Debug, PartialEq)]
pub struct Flow {
    /// Name, unique among flows (shared: reports name flows without copying).
    pub name: Arc<str>,
    /// Sender.
    pub from: Endpoint,
    /// Receiver.
    pub to: Endpoint,
    /// Protocol.
    pub protocol: Protocol,
    /// Source port (TCP/UDP); chosen by vnetsim when absent.
    pub src_port: Option<u16>,
    /// Destination port (TCP/UDP).
    pub dst_port: Option<u16>,
    /// Offered rate.
    pub rate: Rate,
    /// Size of the whole IPv4 packet in bytes.
    pub packet_size: u16,
    /// Start time.
    pub start: Nanos,
    /// Duration; `None`: until the scenario's duration.
    pub duration: Option<Nanos>,
    /// Spacing pattern.
    pub pattern: Pattern,
    /// The destination answers each packet.
    pub reply: bool,
    /// Line of the flow in the file (0 when built in code).
    pub line: u32,
}

/// A change to the network at a simulated time.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// When it happens.
    pub at: Nanos,
    /// What happens.
    pub action: EventAction,
    /// Line of the event in the file (0 when built in code).
    pub line: u32,
}

/// The kinds of timed change.
#[derive(Clone, Debug, PartialEq)]
pub enum EventAction {
    /// Delete a peering link (the other side moves to Disconnected).
    RemovePeering(PeeringId),
    /// Create a peering link (a new one, or one removed earlier).
    AddPeering(Peering),
    /// Attach (or with `None` detach) a route table to a subnet.
    SetRouteTable {
        /// The subnet.
        subnet: SubnetId,
        /// The table, or none.
        route_table: Option<RouteTableId>,
    },
    /// Attach (or detach) a subnet's NSG.
    SetSubnetNsg {
        /// The subnet.
        subnet: SubnetId,
        /// The NSG, or none.
        nsg: Option<NsgId>,
    },
    /// Attach (or detach) a NIC's NSG.
    SetNicNsg {
        /// The NIC.
        nic: NicId,
        /// The NSG, or none.
        nsg: Option<NsgId>,
    },
    /// Add a rule to an NSG.
    AddNsgRule {
        /// The NSG.
        nsg: NsgId,
        /// The rule.
        rule: NsgRule,
    },
    /// Remove a rule (by name) from an NSG.
    RemoveNsgRule {
        /// The NSG.
        nsg: NsgId,
        /// The rule's name.
        rule: String,
    },
    /// Turn a NIC's IP forwarding on or off.
    SetIpForwarding {
        /// The NIC.
        nic: NicId,
        /// On or off.
        enabled: bool,
    },
    /// Replace a VNet's address ranges ([update-address-space]: adding, removing or resizing
    /// ranges, also while peered). Each remote peering must then be synced: until then the
    /// peer's link is active across the old ranges only.
    UpdateAddressSpace {
        /// The VNet.
        vnet: VnetId,
        /// Its whole new address space.
        address_space: Vec<Ipv4Net>,
        /// Every remote peering synced at once; with false each waits for a
        /// [`EventAction::SyncPeering`] of its link.
        sync: bool,
    },
    /// Sync a peering link with the remote VNet's current address space (portal "Sync", REST
    /// `syncRemoteAddressSpace=true`).
    SyncPeering(PeeringId),
    /// Create a gateway connection (a new one, or one named like a present one: replaced).
    AddConnection(GatewayConnection),
    /// Delete a gateway connection, by name.
    RemoveConnection(String),
    /// Mark a load balancer's backend down (`healthy: false`: it takes no new flows, its
    /// flows keep it) or back to what its probe says (`healthy: true`) [LBPROBE18].
    SetBackendHealth {
        /// The load balancer.
        lb: LoadBalancerId,
        /// The backend NIC.
        nic: NicId,
        /// Healthy again (true) or down (false).
        healthy: bool,
    },
}

/// The stable drop reasons of reports and expectations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropReason {
    /// An NSG rule (or default rule) denied it.
    NsgDenied,
    /// The chosen route's next hop is None, or no route matches.
    NoRoute,
    /// The route leads into a VNet or site where no NIC or host holds the address.
    NoDestination,
    /// It reached a NIC not addressed to it without IP forwarding, or a VM that does not forward.
    ForwardingDisabled,
    /// It crossed a peering whose receiving side does not allow forwarded traffic.
    ForwardedTrafficBlocked,
    /// `virtual_network_access: block` and it crossed a link with access off.
    VnetAccessBlocked,
    /// A VirtualAppliance next hop IP is not held by any reachable NIC.
    NextHopUnreachable,
    /// TTL ran out.
    TtlExceeded,
    /// A bandwidth queue was full.
    QueueOverflow,
    /// The bytes are not a valid IPv4 packet.
    Malformed,
    /// Multicast (224.0.0.0/4): Azure's virtual networks carry unicast only.
    MulticastBlocked,
    /// Broadcast (255.255.255.255, or a subnet's last address): Azure carries unicast only.
    BroadcastBlocked,
    /// GRE or IP-in-IP: blocked inside Azure virtual networks.
    ProtocolBlocked,
    /// A destination no network carries: 0.0.0.0/8 ("this network") or 127.0.0.0/8 (loopback).
    InvalidDestination,
    /// A new connection at a VM whose flow table is full (`flow_limit` active flows in each
    /// direction).
    FlowLimit,
    /// An Azure Firewall denied a new connection (a deny rule, or no rule matched).
    FirewallDenied,
    /// A TCP packet of a connection an Azure Firewall never saw opening (asymmetric routing).
    FirewallNoSession,
    /// A VM in a private subnet sent to the Internet without an explicit outbound method.
    NoOutboundAccess,
    /// A new connection from the Internet to a Standard public IP that no NSG allows.
    PublicIpClosed,
    /// A packet reached a load balancer frontend whose rules have no healthy backend for it.
    LbNoHealthyBackend,
    /// A packet reached a load balancer frontend and no rule covers its protocol and port.
    LbNoRule,
    /// A Basic load balancer's frontend reached over global peering (another region), where
    /// only Standard frontends answer [LBFAQ26].
    LbGlobalPeering,
    /// A backend of an internal load balancer sent to that load balancer's frontend: "a
    /// backend VM cannot reach its own internal load balancer's frontend" [LBFAQ26].
    LbOwnFrontend,
}

impl DropReason {
    /// Every reason, in report order.
    pub const ALL: [DropReason; 23] = [
        DropReason::NsgDenied,
        DropReason::NoRoute,
        DropReason::NoDestination,
        DropReason::ForwardingDisabled,
        DropReason::ForwardedTrafficBlocked,
        DropReason::VnetAccessBlocked,
        DropReason::NextHopUnreachable,
        DropReason::TtlExceeded,
        DropReason::QueueOverflow,
        DropReason::Malformed,
        DropReason::MulticastBlocked,
        DropReason::BroadcastBlocked,
        DropReason::ProtocolBlocked,
        DropReason::InvalidDestination,
        DropReason::FlowLimit,
        DropReason::FirewallDenied,
        DropReason::FirewallNoSession,
        DropReason::NoOutboundAccess,
        DropReason::PublicIpClosed,
        DropReason::LbNoHealthyBackend,
        DropReason::LbNoRule,
        DropReason::LbGlobalPeering,
        DropReason::LbOwnFrontend,
    ];

    /// The stable name used in files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::NsgDenied => "nsg-denied",
            DropReason::NoRoute => "no-route",
            DropReason::NoDestination => "no-destination",
            DropReason::ForwardingDisabled => "forwarding-disabled",
            DropReason::ForwardedTrafficBlocked => "forwarded-traffic-blocked",
            DropReason::VnetAccessBlocked => "vnet-access-blocked",
            DropReason::NextHopUnreachable => "next-hop-unreachable",
            DropReason::TtlExceeded => "ttl-exceeded",
            DropReason::QueueOverflow => "queue-overflow",
            DropReason::Malformed => "malformed",
            DropReason::MulticastBlocked => "multicast-blocked",
            DropReason::BroadcastBlocked => "broadcast-blocked",
            DropReason::ProtocolBlocked => "protocol-blocked",
            DropReason::InvalidDestination => "invalid-destination",
            DropReason::FlowLimit => "flow-limit",
            DropReason::FirewallDenied => "firewall-denied",
            DropReason::FirewallNoSession => "firewall-no-session",
            DropReason::NoOutboundAccess => "no-outbound-access",
            DropReason::PublicIpClosed => "public-ip-closed",
            DropReason::LbNoHealthyBackend => "lb-no-healthy-backend",
            DropReason::LbNoRule => "lb-no-rule",
            DropReason::LbGlobalPeering => "lb-global-peering",
            DropReason::LbOwnFrontend => "lb-own-frontend",
        }
    }

    /// Parses a stable name.
    pub fn from_name(name: &str) -> Option<DropReason> {
        DropReason::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

/// The stable name (`nsg-denied`, `no-route`, ...), as [`DropReason::as_str`].
impl std::fmt::Display for DropReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is no drop reason, with the nearest reason's name when it looks like a typo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownDropReason {
    /// The name given.
    pub name: String,
    /// The reason whose name is nearest, when one is close.
    pub suggestion: Option<DropReason>,
}

impl std::fmt::Display for UnknownDropReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` is not a drop reason", self.name)?;
        if let Some(s) = self.suggestion {
            write!(f, "; did you mean `{s}`?")?;
        }
        let names = DropReason::ALL.map(DropReason::as_str);
        write!(f, " (drop reasons: {})", names.join(", "))
    }
}

impl std::error::Error for UnknownDropReason {}

/// Parses the stable name; surrounding whitespace is ignored.
impl std::str::FromStr for DropReason {
    type Err = UnknownDropReason;

    fn from_str(s: &str) -> Result<DropReason, UnknownDropReason> {
        DropReason::from_name(s.trim()).ok_or_else(|| UnknownDropReason {
            name: s.to_string(),
            suggestion: crate::diag::nearest(s.trim(), DropReason::ALL.map(DropReason::as_str))
                .and_then(DropReason::from_name),
        })
    }
}

/// Serialized as its stable name, as reports and scenario files write it.
impl serde::Serialize for DropReason {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Read from its stable name.
impl<'de> serde::Deserialize<'de> for DropReason {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// A string schema listing the stable names.
impl schemars::JsonSchema for DropReason {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "DropReason".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A drop reason by its stable name.",
            "type": "string",
            "enum": DropReason::ALL.map(DropReason::as_str),
        })
    }
}

/// A single packet to decide, as named in an expectation or on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    /// Sender.
    pub from: Endpoint,
    /// Receiver.
    pub to: Endpoint,
    /// Protocol.
    pub protocol: Protocol,
    /// Source port (TCP/UDP); default 49152.
    pub src_port: u16,
    /// Destination port (TCP/UDP); default 80.
    pub dst_port: u16,
    /// When the probe is sent (events before it have happened).
    pub at: Nanos,
}

/// Expected verdict of a probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpectedVerdict {
    /// Reaches its destination.
    Delivered,
    /// Is dropped.
    Dropped,
}

/// A comparison in a flow expectation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparison {
    /// `>=`
    AtLeast,
    /// `<=`
    AtMost,
    /// `==`
    Equal,
}

/// The measured quantity a flow expectation checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowMetric {
    /// Delivered / sent, 0..=1.
    DeliveredRatio,
    /// Achieved throughput, bits per second.
    Throughput,
    /// One-way latency percentile 50, in ns.
    LatencyP50,
    /// One-way latency percentile 90, in ns.
    LatencyP90,
    /// One-way latency percentile 99, in ns.
    LatencyP99,
    /// Maximum one-way latency, in ns.
    LatencyMax,
    /// Packets dropped for this reason.
    Drops(DropReason),
    /// Delivered / sent of the replies, 0..=1.
    ReplyDeliveredRatio,
    /// Replies dropped for this reason.
    ReplyDrops(DropReason),
}

/// One check of a flow expectation: `metric comparison value`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FlowCheck {
    /// What is measured.
    pub metric: FlowMetric,
    /// How it is compared.
    pub comparison: Comparison,
    /// The bound, in the metric's unit (ratio, bit/s, ns, packets).
    pub value: f64,
}

impl FlowCheck {
    /// Parses one check as a scenario file writes it: `>=`, `<=` or `==` and a value in the
    /// metric's unit (`">= 0.99"`, `">= 900Mbps"`, `"<= 2ms"`, `"== 0"`).
    pub fn parse(metric: FlowMetric, text: &str) -> Result<FlowCheck, FlowCheckError> {
        let s = text.trim();
        let (comparison, rest) = if let Some(r) = s.strip_prefix(">=") {
            (Comparison::AtLeast, r)
        } else if let Some(r) = s.strip_prefix("<=") {
            (Comparison::AtMost, r)
        } else if let Some(r) = s.strip_prefix("==") {
            (Comparison::Equal, r)
        } else {
            return Err(FlowCheckError::NoComparison(s.to_string()));
        };
        let value = metric
            .parse_value(rest.trim())
            .map_err(FlowCheckError::Value)?;
        Ok(FlowCheck {
            metric,
            comparison,
            value,
        })
    }
}

impl FlowMetric {
    /// A bound in the metric's unit: a ratio from 0 to 1, a rate in bits per second
    /// (`900Mbps`), a duration (`2ms`) or a packet count.
    pub fn parse_value(self, text: &str) -> Result<f64, String> {
        match self {
            FlowMetric::DeliveredRatio | FlowMetric::ReplyDeliveredRatio => text
                .parse::<f64>()
                .ok()
                .filter(|v| (0.0..=1.0).contains(v))
                .ok_or_else(|| format!("`{text}` is not a ratio between 0 and 1")),
            FlowMetric::Throughput => match crate::units::parse_rate(text) {
                Ok(Rate::BitsPerSecond(v)) => Ok(v as f64),
                Ok(Rate::PacketsPerSecond(_)) => {
                    Err("throughput is in bits per second (e.g. 150Mbps)".to_owned())
                }
                Err(e) => Err(e),
            },
            FlowMetric::Drops(_) | FlowMetric::ReplyDrops(_) => text
                .parse::<u64>()
                .map(|v| v as f64)
                .map_err(|_| format!("`{text}` is not a packet count")),
            FlowMetric::LatencyP50
            | FlowMetric::LatencyP90
            | FlowMetric::LatencyP99
            | FlowMetric::LatencyMax => crate::units::parse_duration(text).map(|v| v as f64),
        }
    }
}

/// Why a flow check's text does not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FlowCheckError {
    /// It does not start with `>=`, `<=` or `==` (the text, trimmed).
    NoComparison(String),
    /// The value is not in the metric's unit (the message says why).
    Value(String),
}

impl std::fmt::Display for FlowCheckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FlowCheckError::NoComparison(s) => write!(
                f,
                "`{s}` does not start with >=, <= or == (write e.g. \">= 0.99\")"
            ),
            FlowCheckError::Value(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for FlowCheckError {}

/// An expectation of the `expect` list.
#[derive(Clone, Debug, PartialEq)]
pub enum Expectation {
    /// A probe packet and what must happen to it.
    Probe {
        /// The packet.
        probe: Probe,
        /// Delivered or dropped, when given.
        verdict: Option<ExpectedVerdict>,
        /// The drop reason, when given.
        reason: Option<DropReason>,
        /// The hops by name (VMs, gateways, hosts), when given.
        path: Option<Vec<String>>,
        /// The probe ignores the NSG flow records of the run (neither uses nor leaves any),
        /// so only rules decide it. By default a probe is a packet like any other: it shares
        /// the NSG flow state of the run's traffic and earlier probes.
        stateless: bool,
        /// Line in the file (0 when built in code).
        line: u32,
    },
    /// Checks on a flow's measurements.
    Flow {
        /// The flow.
        flow: FlowId,
        /// The checks.
        checks: Vec<FlowCheck>,
        /// Line in the file (0 when built in code).
        line: u32,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_reasons_round_trip_through_their_stable_names() {
        for r in DropReason::ALL {
            assert_eq!(r.to_string(), r.as_str());
            assert_eq!(r.as_str().parse::<DropReason>(), Ok(r));
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(json, format!("\"{}\"", r.as_str()));
            assert_eq!(serde_json::from_str::<DropReason>(&json).unwrap(), r);
        }
        let err = "nsg-deny".parse::<DropReason>().unwrap_err();
        assert_eq!(err.suggestion, Some(DropReason::NsgDenied));
        assert!(
            err.to_string()
                .starts_with("`nsg-deny` is not a drop reason; did you mean `nsg-denied`?"),
            "{err}"
        );
        let err = "zzz".parse::<DropReason>().unwrap_err();
        assert_eq!(err.suggestion, None);
        assert!(serde_json::from_str::<DropReason>("\"zzz\"").is_err());
    }

    #[test]
    fn flow_checks_parse_as_in_scenario_files() {
        let check = FlowCheck::parse(FlowMetric::Throughput, " >= 900Mbps ").unwrap();
        assert_eq!(
            (check.comparison, check.value),
            (Comparison::AtLeast, 900e6)
        );
        let check = FlowCheck::parse(FlowMetric::LatencyP99, "<= 2ms").unwrap();
        assert_eq!((check.comparison, check.value), (Comparison::AtMost, 2e6));
        let check = FlowCheck::parse(FlowMetric::Drops(DropReason::NoRoute), "== 0").unwrap();
        assert_eq!((check.comparison, check.value), (Comparison::Equal, 0.0));
        assert_eq!(
            FlowCheck::parse(FlowMetric::DeliveredRatio, "0.99"),
            Err(FlowCheckError::NoComparison("0.99".into()))
        );
        assert!(matches!(
            FlowCheck::parse(FlowMetric::DeliveredRatio, ">= 1.5"),
            Err(FlowCheckError::Value(e)) if e.contains("between 0 and 1")
        ));
        assert!(matches!(
            FlowCheck::parse(FlowMetric::Throughput, ">= 10pps"),
            Err(FlowCheckError::Value(e)) if e.contains("bits per second")
        ));
        assert!(FlowCheck::parse(FlowMetric::LatencyP50, "<= 2").is_err());
    }
}
