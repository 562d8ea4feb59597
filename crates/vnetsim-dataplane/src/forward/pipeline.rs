//! The forwarding pipeline: packet bytes + compiled network + flow records + now -> verdict.
//!
//! What it is for: deciding, in Azure's order, what happens to one IPv4 packet from the NIC (or
//! on-premises site) that sends it until it is delivered or dropped, recording each decision in
//! a [`Trace`]. Order per hop: source NIC NSG out -> source subnet NSG out -> route lookup in the
//! source subnet -> next hop (VnetLocal, VNetPeering, VirtualAppliance, VirtualNetworkGateway,
//! Internet, None) -> destination subnet NSG in -> destination NIC NSG in -> delivered, with
//! appliances re-routing from their own subnet. A packet a NIC sends to a platform address
//! (168.63.129.16, 169.254.169.254) leaves that order: only rules naming a platform service tag
//! apply to it and no route does; it is delivered to the platform. A packet that reaches a
//! private endpoint's address is delivered to the endpoint (its subnet NSG applies only under
//! the subnet's network policies); the endpoint's answers enter at
//! [`Ingress::PrivateEndpoint`] and follow its subnet's routes, without the route table unless
//! the network policies include route tables [PENP23], [PEFW25]. A timed driver decides a
//! packet's way segment by segment with [`Dataplane::decide`], from a [`SegmentStart`], through
//! a [`Strategy`] (in full, or through a remembered decision); the pipeline tells a remembering
//! strategy what a decision relied on by explicit calls (the NSG step names the flow record it
//! used). What it is not: it keeps no clock, allocates nothing per packet (the flow table grows
//! only with new flows) and does no I/O; timing, bandwidth and queues belong to the drivers.

use std::collections::HashMap;

use foldhash::fast::FixedState;
use vnetsim_scenario::{
    Access, Direction, DropReason, FirewallId, HostId, LoadBalancerId, Nanos, NicId, NsgId,
    PeeringId, PrivateEndpointId, Scenario, ServiceTag, SiteId, SubnetId, VirtualNetworkAccessMode,
    VnetId,
};

use crate::forward::firewall::{FirewallDecision, FirewallSessions, NatKind, NatPoint};
use crate::forward::lb::{LbDecision, LbSessions};
use crate::forward::vmflows::{Role, VmFlows};
use crate::forward::{Dataplane, Hop, HopKind, NsgPlane, PublicOwner, addr_key};
use crate::tables::firewall::FirewallRuleRef;
use crate::tables::nsg::{RuleRef, Verdict};
use crate::tables::peering::Edge;
use crate::tables::platform::{HOST_VIP, PlatformEndpoint, platform_tag};
use crate::wire::{self, FlowKey, Malformed, PROTO_UDP};

/// Where a packet enters the data plane.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ingress {
    /// Sent by the VM that owns this NIC.
    Nic(NicId),
    /// Sent by an on-premises host at this site, towards its site-to-site gateway.
    Site(SiteId),
    /// Sent from the Internet: it reaches a VNet only at a public IP (a NIC's, or a
    /// firewall's through a DNAT rule).
    Internet,
    /// The answer of the service behind a private endpoint, leaving the endpoint (a private
    /// endpoint never initiates traffic [PEOV20]).
    PrivateEndpoint(PrivateEndpointId),
}

/// Where a delivered packet ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Destination {
    /// A NIC that holds the destination address.
    Nic(NicId),
    /// An on-premises host.
    Host(HostId),
    /// The Internet sink.
    Internet,
    /// A platform address (168.63.129.16, 169.254.169.254): the VM's host answers it
    /// [ip-168], [nsg-overview].
    Platform(PlatformEndpoint),
    /// A private endpoint: the private-link service behind it receives the packet [PEOV20].
    PrivateEndpoint(PrivateEndpointId),
}

/// Where an NSG was applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NsgPoint {
    /// The subnet-level NSG of this subnet.
    Subnet(SubnetId),
    /// The NIC-level NSG of this NIC.
    Nic(NicId),
}

/// What decided an NSG evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NsgDecision {
    /// This rule matched first.
    Rule(RuleRef),
    /// An existing flow record (stateful NSG): no rule was evaluated.
    FlowRecord,
}

/// Why a drop happened, with the ids of what decided it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropCause {
    /// The VM of this NIC holds `flow_limit` active flows: a new connection does not fit.
    FlowLimit {
        /// Where the connection was refused.
        nic: NicId,
    },
    /// An NSG rule denied it.
    Nsg {
        /// Where.
        point: NsgPoint,
        /// Which NSG.
        nsg: NsgId,
        /// Inbound or outbound.
        direction: Direction,
        /// Which rule.
        rule: RuleRef,
    },
    /// The chosen route (index into the subnet's effective routes) drops: next hop None.
    NoneRoute {
        /// The subnet whose table was used.
        subnet: SubnetId,
        /// The route.
        route: u32,
    },
    /// No route of the subnet matches (cannot happen while 0.0.0.0/0 exists).
    NoMatch {
        /// The subnet.
        subnet: SubnetId,
    },
    /// A VirtualNetworkGateway route in a VNet with no usable gateway.
    NoGateway {
        /// The subnet.
        subnet: SubnetId,
        /// The route.
        route: u32,
    },
    /// The gateway has no site for the destination.
    NoSite {
        /// The gateway's VNet.
        gateway: VnetId,
    },
    /// The site's gateway does not advertise the destination to the site.
    NotAdvertised {
        /// The sending site.
        site: SiteId,
    },
    /// No NIC holds the address in the VNet the route led to.
    NoNic {
        /// The VNet.
        vnet: VnetId,
    },
    /// No host holds the address at the site.
    NoHost {
        /// The site.
        site: SiteId,
    },
    /// The appliance IP of the route is held by no NIC in this or a connected peered VNet.
    ApplianceUnreachable {
        /// The subnet.
        subnet: SubnetId,
        /// The route.
        route: u32,
    },
    /// The NIC received a packet not addressed to it and has no IP forwarding.
    NicIpForwardingOff {
        /// The NIC.
        nic: NicId,
    },
    /// The NIC sent a packet whose source is not its own address and has no IP forwarding.
    NicSourceCheck {
        /// The NIC.
        nic: NicId,
    },
    /// The VM received a packet for another address and does not forward.
    GuestNotForwarding {
        /// The NIC it arrived on.
        nic: NicId,
    },
    /// A peering link with access off (`virtual_network_access: block`).
    AccessOff {
        /// The link.
        link: PeeringId,
    },
    /// The receiving link does not allow forwarded traffic.
    ForwardedOff {
        /// The receiving VNet's link.
        link: PeeringId,
    },
    /// TTL ran out at this forwarder.
    TtlAtNic {
        /// The appliance NIC.
        nic: NicId,
    },
    /// TTL ran out at a gateway.
    TtlAtGateway {
        /// The gateway's VNet.
        gateway: VnetId,
    },
    /// The forwarding loop exceeded its hop budget.
    HopBudget,
    /// The bytes are not a valid IPv4 packet.
    Malformed(Malformed),
    /// Sent from the Internet to an address no public IP maps to.
    FromInternet,
    /// Traffic Azure's virtual networks never carry (the VNet FAQ: unicast TCP, UDP, ICMP,
    /// ESP and AH only; multicast, broadcast, IP-in-IP and GRE are blocked).
    NotCarried(NotCarried),
    /// An Azure Firewall denied a new connection: by this rule, or by its default deny when
    /// no rule matched (`None`).
    Firewall {
        /// The firewall.
        fw: FirewallId,
        /// The deny rule, if one matched.
        rule: Option<FirewallRuleRef>,
    },
    /// A TCP packet that opens no connection reached a firewall that holds no session for it
    /// (the return path of a connection that did not pass the firewall) [FWLB20].
    FirewallNoSession {
        /// The firewall.
        fw: FirewallId,
    },
    /// TTL ran out at a firewall.
    TtlAtFirewall {
        /// The firewall.
        fw: FirewallId,
    },
    /// The NIC sent to the Internet from a private subnet, without a public IP or another
    /// explicit outbound method [DOA], [TCPRIV26].
    NoOutboundAccess {
        /// The NIC.
        nic: NicId,
    },
    /// A new connection from the Internet to the Standard public IP of this NIC, with no NSG
    /// to allow it ("closed to inbound traffic" [public-ip-sku]).
    PublicIpClosed {
        /// The NIC.
        nic: NicId,
    },
    /// A private endpoint's answer met a route that drops it (next hop None, or a next hop
    /// that does not exist) among the routes its traffic follows (index into
    /// [`Dataplane::private_endpoint_routes`]).
    EndpointRoute {
        /// The private endpoint.
        pe: PrivateEndpointId,
        /// The route.
        route: u32,
    },
    /// A site sent while no connection joins it to a gateway (its connections were removed,
    /// or it never had one).
    SiteNotConnected {
        /// The site.
        site: SiteId,
    },
    /// A packet reached a load balancer frontend that no rule of it covers.
    LbNoRule {
        /// The load balancer.
        lb: LoadBalancerId,
        /// Index into its frontends.
        frontend: u32,
    },
    /// The rule that covers the packet has no healthy backend (probe refused by NSGs, or
    /// marked down) [LBPROBE18].
    LbNoHealthyBackend {
        /// The load balancer.
        lb: LoadBalancerId,
        /// Index into its rules.
        rule: u32,
    },
    /// A Basic load balancer's internal frontend reached from a VNet of another region
    /// (global peering) [LBFAQ26].
    LbGlobalPeering {
        /// The load balancer.
        lb: LoadBalancerId,
        /// Index into its frontends.
        frontend: u32,
        /// The VNet the packet came from.
        from: VnetId,
    },
    /// A backend of an internal load balancer addressed its own load balancer's frontend
    /// [LBFAQ26].
    LbOwnFrontend {
        /// The load balancer.
        lb: LoadBalancerId,
        /// Index into its frontends.
        frontend: u32,
    },
    /// A Standard load balancer's public frontend is closed to inbound connections unless an
    /// NSG allows them, and the chosen backend's NIC and subnet have none [LBSKU23].
    LbPublicClosed {
        /// The load balancer.
        lb: LoadBalancerId,
        /// Index into its frontends.
        frontend: u32,
        /// The backend the rule chose.
        nic: NicId,
    },
}

/// What kind of traffic Azure does not carry, for [`DropCause::NotCarried`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NotCarried {
    /// A destination in 224.0.0.0/4.
    Multicast,
    /// 255.255.255.255.
    LimitedBroadcast,
    /// The last address of a subnet (Azure reserves it as the network broadcast address).
    SubnetBroadcast,
    /// IP protocol 47.
    Gre,
    /// IP protocol 4.
    IpInIp,
    /// A destination in 0.0.0.0/8.
    ThisNetwork,
    /// A destination in 127.0.0.0/8.
    Loopback,
    /// DHCP over unicast: UDP from port 68 to port 67, to any address but the platform's
    /// 168.63.129.16 (which answers the VMs' own DHCP).
    UnicastDhcp,
    /// UDP from source port 65330, which Azure reserves for the host.
    HostReservedPort,
    /// A protocol other than TCP and UDP that an Azure Firewall would SNAT to its public IP
    /// toward the Internet: "Network filtering rules for non-TCP/UDP protocols (for example
    /// ICMP) don't work for Internet bound traffic ... Network filtering rules for non-TCP/UDP
    /// protocols don't work with SNAT to your public IP address. Non-TCP/UDP protocols are
    /// supported between spoke subnets and VNets." (Azure Firewall known issues,
    /// https://learn.microsoft.com/azure/firewall/firewall-known-issues).
    FirewallNonTcpUdpSnat,
}

impl NotCarried {
    /// What Azure does not carry, as a packet of `key` would be sent into a VNet or from a
    /// site; `subnet_broadcast` says whether the destination is a subnet's last address.
    /// Source: Azure Virtual Network FAQ ("What protocols can I use within VNets?": multicast,
    /// broadcast, IP-in-IP encapsulated packets and GRE packets are blocked within VNets) and
    /// the reserved addresses of every subnet [vnet-faq]; "You can't use Dynamic Host
    /// Configuration Protocol (DHCP) via Unicast (source port UDP/68 / destination port UDP/67)"
    /// (same answer), which vnetsim reads as: such packets are not carried, except to the
    /// platform address 168.63.129.16, Azure's own DHCP service (derived); and, in the same
    /// sentence, "UDP source port 65330 which is reserved for the host": not carried either.
    pub fn of(key: &FlowKey, subnet_broadcast: bool) -> Option<NotCarried> {
        let first = (key.dst >> 24) as u8;
        Some(match () {
            _ if key.dst == u32::MAX => NotCarried::LimitedBroadcast,
            _ if first & 0xf0 == 0xe0 => NotCarried::Multicast,
            _ if first == 0 => NotCarried::ThisNetwork,
            _ if first == 127 => NotCarried::Loopback,
            _ if key.protocol == PROTO_GRE => NotCarried::Gre,
            _ if key.protocol == PROTO_IPIP => NotCarried::IpInIp,
            _ if key.protocol == PROTO_UDP
                && key.src_port == 68
                && key.dst_port == 67
                && key.dst != u32::from(HOST_VIP) =>
            {
                NotCarried::UnicastDhcp
            }
            _ if key.protocol == PROTO_UDP && key.src_port == HOST_RESERVED_UDP_PORT => {
                NotCarried::HostReservedPort
            }
            _ if subnet_broadcast => NotCarried::SubnetBroadcast,
            _ => return None,
        })
    }

    /// The drop reason it reports.
    pub fn reason(self) -> DropReason {
        match self {
            NotCarried::Multicast => DropReason::MulticastBlocked,
            NotCarried::LimitedBroadcast | NotCarried::SubnetBroadcast => {
                DropReason::BroadcastBlocked
            }
            NotCarried::Gre
            | NotCarried::IpInIp
            | NotCarried::UnicastDhcp
            | NotCarried::HostReservedPort
            | NotCarried::FirewallNonTcpUdpSnat => DropReason::ProtocolBlocked,
            NotCarried::ThisNetwork | NotCarried::Loopback => DropReason::InvalidDestination,
        }
    }

    /// Why, in a sentence.
    pub fn describe(self) -> &'static str {
        match self {
            NotCarried::Multicast => "Azure virtual networks do not carry multicast (224.0.0.0/4)",
            NotCarried::LimitedBroadcast => {
                "Azure virtual networks do not carry broadcast (255.255.255.255)"
            }
            NotCarried::SubnetBroadcast => {
                "the destination is a subnet's last address, reserved by Azure as its broadcast \
                 address, and Azure virtual networks do not carry broadcast"
            }
            NotCarried::Gre => "GRE (IP protocol 47) is blocked within Azure virtual networks",
            NotCarried::IpInIp => {
                "IP-in-IP (IP protocol 4) is blocked within Azure virtual networks"
            }
            NotCarried::ThisNetwork => "0.0.0.0/8 (\"this network\") is never routed",
            NotCarried::Loopback => "127.0.0.0/8 (loopback) never leaves a host",
            NotCarried::UnicastDhcp => {
                "DHCP via unicast (UDP port 68 to port 67) is not supported within Azure virtual \
                 networks"
            }
            NotCarried::HostReservedPort => {
                "UDP source port 65330 is reserved for the Azure host within virtual networks"
            }
            NotCarried::FirewallNonTcpUdpSnat => {
                "Azure Firewall does not SNAT protocols other than TCP and UDP to its public IP: \
                 network rules for them do not work for Internet-bound traffic (Azure Firewall \
                 known issues)"
            }
        }
    }
}

/// IP protocol number of GRE.
const PROTO_GRE: u8 = 47;
/// The UDP source port Azure reserves for the host (Virtual Network FAQ, "What protocols can I
/// use within VNets?").
const HOST_RESERVED_UDP_PORT: u16 = 65330;
/// IP protocol number of IP-in-IP.
const PROTO_IPIP: u8 = 4;

/// One decision on a packet's way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The VM of this NIC sends the packet.
    Send {
        /// The NIC.
        nic: NicId,
    },
    /// An on-premises site sends the packet through its gateway.
    FromSite {
        /// The site.
        site: SiteId,
    },
    /// An NSG let the packet pass.
    Nsg {
        /// Where.
        point: NsgPoint,
        /// Which NSG.
        nsg: NsgId,
        /// Inbound or outbound.
        direction: Direction,
        /// What decided.
        decision: NsgDecision,
    },
    /// A route was chosen in a subnet's effective routes.
    Route {
        /// The subnet.
        subnet: SubnetId,
        /// Index into the subnet's effective routes.
        route: u32,
    },
    /// The packet crossed a peering.
    Peering {
        /// From this VNet.
        from: VnetId,
        /// The links crossed.
        edge: Edge,
    },
    /// The packet arrived at this NIC.
    Arrive {
        /// The NIC.
        nic: NicId,
    },
    /// The appliance behind this NIC forwarded the packet (TTL now `ttl`).
    Forward {
        /// The NIC.
        nic: NicId,
        /// TTL after the decrement.
        ttl: u8,
    },
    /// The gateway of this VNet handled the packet.
    Gateway {
        /// The gateway's VNet.
        vnet: VnetId,
    },
    /// The packet goes to a platform address: the NSGs apply only through rules naming the
    /// platform tag `tag` (recorded as [`Step::Nsg`] before this step, when one matched), and
    /// no route applies [nsg-overview], [ip-168].
    Platform {
        /// The platform address.
        endpoint: PlatformEndpoint,
        /// The platform service tag covering the packet (`None`: no tag covers it, so no NSG
        /// rule can block it, e.g. the VM agent on TCP 80).
        tag: Option<ServiceTag>,
    },
    /// The VPN gateway of `vnet` forwards the packet towards `to`, a VNet peered with its VNet
    /// (user routes with next hop VirtualNetworkGateway [manage-peering 2022]); the routes of
    /// its GatewaySubnet take it on.
    GatewayForward {
        /// The gateway's VNet.
        vnet: VnetId,
        /// The peered VNet whose address range holds the destination.
        to: VnetId,
    },
    /// The packet arrived from the Internet.
    FromInternet,
    /// An Azure Firewall let the packet pass.
    Firewall {
        /// The firewall.
        fw: FirewallId,
        /// Its session or the rule that allowed the connection.
        decision: FirewallDecision,
    },
    /// An address of the packet was translated.
    Translate {
        /// Where.
        at: NatPoint,
        /// Source or destination.
        kind: NatKind,
        /// The new address.
        addr: u32,
        /// The new port.
        port: u16,
    },
    /// Delivered.
    Deliver {
        /// Where.
        to: Destination,
    },
    /// The packet reached a private endpoint; its subnet's NSG applies only with network
    /// policies for NSGs (recorded as [`Step::Nsg`] after this step) [PENP23].
    PrivateEndpoint {
        /// The private endpoint.
        pe: PrivateEndpointId,
    },
    /// The service behind a private endpoint answers: the packet leaves the endpoint.
    EndpointReply {
        /// The private endpoint.
        pe: PrivateEndpointId,
    },
    /// A route was chosen among the routes a private endpoint's traffic follows when they
    /// differ from its subnet's (index into [`Dataplane::private_endpoint_routes`]).
    EndpointRoute {
        /// The private endpoint.
        pe: PrivateEndpointId,
        /// The route.
        route: u32,
    },
    /// Dropped.
    Drop {
        /// Stable reason.
        reason: DropReason,
        /// What decided it.
        cause: DropCause,
    },
    /// The gateways of `vnet` forward the packet by their route `route` (index into
    /// [`Dataplane::gateway_routes`]): over a connection to a site or to another VNet's
    /// gateway, a static or BGP-learned route [VPNFAQ26]. Not recorded for a site's
    /// `connection` shorthand.
    GatewayRoute {
        /// The gateways' VNet.
        vnet: VnetId,
        /// The route.
        route: u32,
    },
    /// A load balancer frontend placed the packet on a backend.
    LoadBalancer {
        /// The load balancer.
        lb: LoadBalancerId,
        /// Index into its frontends.
        frontend: u32,
        /// A session kept the connection's backend, or a rule chose it.
        decision: LbDecision,
        /// Index into its rules: the rule that placed the connection.
        rule: u32,
        /// The backend.
        backend: NicId,
    },
}

/// A sink for the steps of a packet. `()` records nothing (the hot path); `Vec<Step>` records
/// all (explain).
pub trait Trace {
    /// Records one step.
    fn step(&mut self, step: Step);
}

impl Trace for () {
    #[inline(always)]
    fn step(&mut self, _step: Step) {}
}

impl Trace for Vec<Step> {
    fn step(&mut self, step: Step) {
        self.push(step);
    }
}

/// The final verdict on a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Delivered there.
    Delivered(Destination),
    /// Dropped for this reason.
    Dropped(DropReason, DropCause),
}

impl Outcome {
    /// The drop reason, if dropped.
    pub fn drop_reason(&self) -> Option<DropReason> {
        match self {
            Outcome::Dropped(reason, _) => Some(*reason),
            Outcome::Delivered(_) => None,
        }
    }
}

/// How long an idle flow record lives (Azure's default TCP idle timeout, 4 minutes).
pub const FLOW_IDLE_TIMEOUT: Nanos = 4 * 60 * 1_000_000_000;

/// Most pipeline steps (a NIC sending, a NIC receiving, a gateway) one packet may take before
/// it is dropped as looping. Every loop passes an appliance or gateway, which decrements the
/// TTL, and each forwarding costs at most two steps (arrive, send again): the budget lets any
/// TTL (at most 255) run out first, so a routing loop ends as `ttl-exceeded` at the appliance
/// where the TTL expired, as on a real network, and the budget is only a safety net.
pub const MAX_HOPS: usize = 2 * 256 + 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct RecordKey {
    nic: u32,
    outbound: bool,
    key: FlowKey,
}

impl std::hash::Hash for RecordKey {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64((u64::from(self.nic) << 1) | u64::from(self.outbound));
        self.key.hash(state);
    }
}

/// One NSG flow record in [`FlowTable`]'s slots.
#[derive(Clone, Copy, Debug)]
struct RecordSlot {
    /// When a packet last used it.
    seen: Nanos,
    nic: u32,
    outbound: bool,
    /// The slot of the record of the same NIC for the other direction of the connection
    /// (the reverse key), once it exists.
    partner: u32,
}

/// [`RecordSlot::partner`] before the other direction's record exists.
const NO_PARTNER: u32 = u32::MAX;

/// The state a run keeps per connection: NSG flow records (a connection allowed at a NIC, in
/// one direction, admits its packets and its reverse packets there without rule checks, until
/// idle for [`FLOW_IDLE_TIMEOUT`]) and, where a VM can reach its flow limit, its active
/// connections ([`VmFlows`]).
#[derive(Clone, Debug, Default)]
pub struct FlowTable {
    /// Where each record lives in `slots`.
    records: HashMap<RecordKey, u32, FixedState>,
    /// The records, in the order they were made (never removed until [`FlowTable::clear`]):
    /// a memo names its records by slot and refreshes them without a hash lookup.
    slots: Vec<RecordSlot>,
    vm: Option<Box<VmFlows>>,
    /// Connections Azure Firewalls allowed, with their translations.
    pub(crate) firewall: FirewallSessions,
    /// Connections load balancers placed on backends.
    pub(crate) lb: LbSessions,
}

/// The most NSG flow records [`FlowTable::for_scenario`] reserves room for (it grows beyond):
/// about 50 MB up front at most, however many flows a scenario with NSGs has, even when few
/// of them cross an NSG.
const RECORDS_RESERVED_MAX: usize = 1 << 20;

impl FlowTable {
    /// An empty table with no flow limits (a probe, a test).
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty table that enforces the flow limits of `scenario`'s VMs (see [`VmFlows`]).
    pub fn for_scenario(scenario: &Scenario) -> Self {
        // Behind NSGs each connection leaves a record at its NSGs (a few per flow): sized for
        // two per flow up front, the table does not grow (and rehash) while the first packets
        // of 100,000 flows are decided. Without NSGs no record is ever made.
        let records = if scenario.nsgs.is_empty() {
            0
        } else {
            scenario
                .traffic
                .len()
                .saturating_mul(2)
                .min(RECORDS_RESERVED_MAX)
        };
        FlowTable {
            records: HashMap::with_capacity_and_hasher(records, FixedState::default()),
            slots: Vec::with_capacity(records),
            vm: VmFlows::for_scenario(scenario).map(Box::new),
            firewall: FirewallSessions::default(),
            lb: LbSessions::default(),
        }
    }

    /// An empty table that enforces the flow limits of every VM of `scenario`, whatever the
    /// traffic (live mode).
    pub fn for_any_traffic(scenario: &Scenario) -> Self {
        FlowTable {
            records: HashMap::default(),
            slots: Vec::new(),
            vm: Some(Box::new(VmFlows::every_vm(scenario))),
            firewall: FirewallSessions::default(),
            lb: LbSessions::default(),
        }
    }

    /// New connections refused by VM flow limits so far.
    pub fn refused_by_flow_limit(&self) -> u64 {
        self.vm.as_ref().map_or(0, |v| v.refused())
    }

    /// Whether each VM whose flows are limited (see [`VmFlows`]) has had a connection
    /// admitted or refused, in the order of their tables; empty when no VM is limited.
    pub fn flow_limits_in_use(&self) -> Vec<bool> {
        self.vm
            .as_ref()
            .map_or_else(Vec::new, |v| v.tables_in_use().collect())
    }

    /// Admits a packet of a connection at the VM of `nic` (see [`VmFlows::admit`]); a decision
    /// that relied on it is never remembered (the next packet may be refused or admitted).
    #[inline]
    fn vm_admit<R: Reliance>(
        &mut self,
        nic: NicId,
        key: &FlowKey,
        role: Role,
        now: Nanos,
        rec: &mut R,
    ) -> Result<(), (DropReason, DropCause)> {
        let Some(vm) = self.vm.as_deref_mut() else {
            return Ok(());
        };
        if !vm.tracks(nic) {
            return Ok(());
        }
        rec.vm_flow();
        if vm.admit(nic, key, role, now) {
            Ok(())
        } else {
            Err((DropReason::FlowLimit, DropCause::FlowLimit { nic }))
        }
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether there are no records.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Forgets every record and every VM's connections (the limits stay).
    pub fn clear(&mut self) {
        self.records.clear();
        self.slots.clear();
        self.firewall.clear();
        self.lb.clear();
        if let Some(vm) = self.vm.as_deref_mut() {
            vm.clear();
        }
    }

    pub(crate) fn hit(&mut self, nic: NicId, outbound: bool, key: &FlowKey, now: Nanos) -> bool {
        self.hit_slot(nic, outbound, key, now).is_some()
    }

    /// Like [`FlowTable::hit`], naming the record that admitted the packet: its slot, shifted
    /// left once, with the low bit set when it is the reverse record (the one the connection's
    /// other direction made).
    pub(crate) fn hit_slot(
        &mut self,
        nic: NicId,
        outbound: bool,
        key: &FlowKey,
        now: Nanos,
    ) -> Option<u32> {
        let forward = RecordKey {
            nic: nic.0,
            outbound,
            key: *key,
        };
        let reverse = RecordKey {
            nic: nic.0,
            outbound: !outbound,
            key: key.reverse(),
        };
        for (k, bit) in [(forward, 0), (reverse, 1)] {
            if let Some(&slot) = self.records.get(&k) {
                let seen = &mut self.slots[slot as usize].seen;
                if now.saturating_sub(*seen) <= FLOW_IDLE_TIMEOUT {
                    *seen = now;
                    return Some((slot << 1) | bit);
                }
            }
        }
        None
    }

    /// [`FlowTable::hit`] for the packet whose record was `named` (as [`FlowTable::hit_slot`]
    /// names it) when its decision was remembered, without a hash lookup where the answer
    /// cannot differ from `hit`'s: `Some` with the answer, `None` when only `hit` can tell.
    #[inline]
    pub(crate) fn hit_named(&mut self, named: u32, now: Nanos) -> Option<bool> {
        let slot = *self.slots.get((named >> 1) as usize)?;
        let alive = now.saturating_sub(slot.seen) <= FLOW_IDLE_TIMEOUT;
        if named & 1 == 0 {
            // The packet's own record: `hit` looks at it first.
            if !alive {
                return None;
            }
        } else if slot.partner != NO_PARTNER {
            // The reverse record, but the packet's own exists too: `hit` prefers it.
            return None;
        } else if !alive {
            // Only the reverse record exists, and it expired.
            return Some(false);
        }
        self.slots[(named >> 1) as usize].seen = now;
        Some(true)
    }

    /// The NIC and direction of the packet whose record was `named` (see
    /// [`FlowTable::hit_slot`]).
    #[inline]
    pub(crate) fn named_nic(&self, named: u32) -> Option<(NicId, bool)> {
        let slot = self.slots.get((named >> 1) as usize)?;
        Some((NicId(slot.nic), slot.outbound != (named & 1 == 1)))
    }

    /// Notes an outbound connection of `nic` (sent through its public IP) so that its replies
    /// find it, as an NSG flow record would.
    pub(crate) fn record_outbound(&mut self, nic: NicId, key: &FlowKey, now: Nanos) {
        self.record(nic, true, key, now);
    }

    /// Connections firewalls hold (two entries each).
    pub fn firewall_sessions(&self) -> usize {
        self.firewall.len()
    }

    /// Whether the firewall session in `slot` is alive and passes `key` unchanged (refreshed
    /// here): what a remembered decision through a firewall relies on.
    #[inline]
    pub(crate) fn firewall_passes(&mut self, slot: u32, key: &FlowKey, now: Nanos) -> bool {
        self.firewall.passes(slot, key, now)
    }

    /// Connections load balancers placed (two entries each).
    pub fn lb_sessions(&self) -> usize {
        self.lb.len()
    }

    /// Whether the load balancer session in `slot` is alive and passes `key` unchanged
    /// (refreshed here).
    #[inline]
    pub(crate) fn lb_passes(&mut self, slot: u32, key: &FlowKey, now: Nanos) -> bool {
        self.lb.passes(slot, key, now)
    }

    /// Makes or refreshes the record of `key` at `nic` in one direction; its slot.
    fn record(&mut self, nic: NicId, outbound: bool, key: &FlowKey, now: Nanos) -> u32 {
        let k = RecordKey {
            nic: nic.0,
            outbound,
            key: *key,
        };
        if let Some(&slot) = self.records.get(&k) {
            self.slots[slot as usize].seen = now;
            return slot;
        }
        let slot = self.slots.len() as u32;
        let reverse = RecordKey {
            nic: nic.0,
            outbound: !outbound,
            key: key.reverse(),
        };
        let partner = match self.records.get(&reverse) {
            Some(&other) => {
                self.slots[other as usize].partner = slot;
                other
            }
            None => NO_PARTNER,
        };
        self.slots.push(RecordSlot {
            seen: now,
            nic: nic.0,
            outbound,
            partner,
        });
        self.records.insert(k, slot);
        slot
    }
}

/// Who handed the packet on last: decides whether it counts as forwarded traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Forwarder {
    Origin,
    Appliance,
    Gateway,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Pos {
    /// Leaving a NIC (its VM sends or an appliance forwards).
    Egress(NicId),
    /// Arriving at a NIC.
    Arrive(NicId),
    /// At a gateway, coming from its site: routed by the GatewaySubnet's table.
    GatewayIn(VnetId),
    /// At a gateway, going to its sites.
    GatewayOut(VnetId),
    /// Handed to the Internet sink.
    Internet,
    /// Handed to the platform at a platform address.
    Platform(PlatformEndpoint),
    /// At an Azure Firewall, to be decided there.
    Firewall(FirewallId),
    /// At a private endpoint.
    Endpoint(PrivateEndpointId),
    /// At a load balancer frontend (compiled index), reached from a VNet (none: from the
    /// Internet).
    Lb { fe: u32, from: Option<VnetId> },
}

/// Which routes a hop was taken from: what a drop names.
#[derive(Clone, Copy, Debug)]
enum RouteAt {
    /// A subnet's effective routes.
    Subnet(SubnetId),
    /// The routes a private endpoint's traffic follows.
    Endpoint(PrivateEndpointId),
}

impl RouteAt {
    /// The cause of a drop by `route`: `subnet` builds it for a subnet's routes.
    #[inline]
    fn cause(self, route: u32, subnet: impl FnOnce(SubnetId, u32) -> DropCause) -> DropCause {
        match self {
            RouteAt::Subnet(s) => subnet(s, route),
            RouteAt::Endpoint(pe) => DropCause::EndpointRoute { pe, route },
        }
    }
}

/// The key under which a private endpoint's NSG flow records live in the [`FlowTable`]: a NIC
/// number no NIC holds (counted down from the top).
#[inline]
fn endpoint_record(pe: PrivateEndpointId) -> NicId {
    NicId(u32::MAX - pe.0)
}

type Decision = Result<Pos, (DropReason, DropCause)>;

/// Where a packet waits between two segments of its way (see [`Dataplane::decide`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Waypoint {
    pub(crate) at: WaypointAt,
    pub(crate) forwarder: Forwarder,
    pub(crate) hops: u16,
}

/// What kind of place a [`Waypoint`] is: which bandwidth limit applies there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WaypointAt {
    /// An appliance about to send, from this NIC, a packet it forwards (its VM's egress limit).
    Appliance(NicId),
    /// The gateway of this VNet, with a packet from one of its sites, or from another VNet's
    /// gateway over a VNet-to-VNet connection.
    GatewayFromSite(VnetId),
    /// The gateway of this VNet, with a packet routed to it from the VNet side: for one of its
    /// sites, or for a VNet peered with its VNet (a VPN gateway forwards between them
    /// [manage-peering 2022]).
    GatewayToSite(VnetId),
    /// An Azure Firewall, with a packet routed to it (its SKU's throughput).
    Firewall(FirewallId),
}

impl Waypoint {
    /// Where the packet waits.
    pub fn at(&self) -> WaypointAt {
        self.at
    }

    fn pos(&self) -> Pos {
        match self.at {
            WaypointAt::Appliance(nic) => Pos::Egress(nic),
            WaypointAt::GatewayFromSite(vnet) => Pos::GatewayIn(vnet),
            WaypointAt::GatewayToSite(vnet) => Pos::GatewayOut(vnet),
            WaypointAt::Firewall(fw) => Pos::Firewall(fw),
        }
    }
}

/// The result of one segment of a packet's way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Segment {
    /// The packet was delivered or dropped.
    Done(Outcome),
    /// The packet waits at a waypoint.
    Paused(Waypoint),
}

/// Where a segment of a packet's way starts: where the packet entered the data plane, or the
/// waypoint where the previous segment paused it. A timed driver keeps one per packet in
/// flight and hands it to [`Dataplane::decide`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SegmentStart {
    /// The packet's first segment, from where it entered.
    Ingress(Ingress),
    /// A later segment, from the waypoint the previous one paused at.
    At(Waypoint),
}

/// What a segment's decision relied on, reported by the pipeline as it decides: the NSG flow
/// records it consulted or created, the peering crossings, the TTL decrements. A strategy that
/// remembers decisions ([`SegmentMemo`], [`FlowCache`]) collects them to know when its
/// memory still holds; `()` collects nothing (the plain pipeline, compiled away).
///
/// [`SegmentMemo`]: crate::forward::memo::SegmentMemo
/// [`FlowCache`]: crate::forward::flowcache::FlowCache
pub(crate) trait Reliance {
    /// The NSGs of `nic` in one direction were applied (through a flow record or rules); the
    /// record of that NIC and direction admits the next packets.
    fn flow_record(&mut self, nic: NicId, outbound: bool);
    /// The record of `nic` in that direction is `named` (see [`FlowTable::hit_slot`]).
    #[inline(always)]
    fn flow_slot(&mut self, _nic: NicId, _outbound: bool, _named: u32) {}
    /// The packet crossed a peering from `from` over `edge`.
    fn crossing(&mut self, from: VnetId, edge: Edge);
    /// An appliance or gateway decremented the packet's TTL.
    fn ttl_hop(&mut self);
    /// A VM's flow-limit table admitted or refused the packet: the decision holds for this
    /// packet only.
    fn vm_flow(&mut self);
    /// The decision read or changed per-connection state other than NSG records and
    /// firewall sessions, or translated the packet's addresses: it holds for this packet only.
    fn stateful(&mut self);
    /// A firewall passed the packet on the session in `slot` of the flow table's firewall
    /// sessions, unchanged (no translation): the next packets of the 5-tuple pass while that
    /// session lives.
    fn firewall_session(&mut self, slot: u32);
    /// A load balancer passed the packet on the session in `slot` of the flow table's load
    /// balancer sessions, unchanged, to that session's backend: the next packets of the
    /// 5-tuple go there while that session lives.
    fn lb_session(&mut self, slot: u32);
}

impl Reliance for () {
    #[inline(always)]
    fn flow_record(&mut self, _nic: NicId, _outbound: bool) {}
    #[inline(always)]
    fn crossing(&mut self, _from: VnetId, _edge: Edge) {}
    #[inline(always)]
    fn ttl_hop(&mut self) {}
    #[inline(always)]
    fn vm_flow(&mut self) {}
    #[inline(always)]
    fn stateful(&mut self) {}
    #[inline(always)]
    fn firewall_session(&mut self, _slot: u32) {}
    #[inline(always)]
    fn lb_session(&mut self, _slot: u32) {}
}

/// How a segment is decided: every time in full ([`Full`]), or through something that
/// remembers decisions (a flow's [`SegmentMemo`], the [`FlowCache`] of a data plane
/// generation). Each gives the same segment (property-tested); they differ in cost only.
/// Statically dispatched: the strategy is a type, so a driver's hot path pays no indirection.
///
/// [`SegmentMemo`]: crate::forward::memo::SegmentMemo
/// [`FlowCache`]: crate::forward::flowcache::FlowCache
pub trait Strategy {
    /// Decides the segment of `packet` from `start` at `now` with `dp` (see
    /// [`Dataplane::decide`]).
    fn segment<T: Trace>(
        self,
        dp: &Dataplane,
        start: SegmentStart,
        packet: &mut [u8],
        flows: &mut FlowTable,
        now: Nanos,
        trace: &mut T,
    ) -> Segment;
}

/// The full pipeline every time: no memory of earlier decisions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Full;

impl Strategy for Full {
    #[inline]
    fn segment<T: Trace>(
        self,
        dp: &Dataplane,
        start: SegmentStart,
        packet: &mut [u8],
        flows: &mut FlowTable,
        now: Nanos,
        trace: &mut T,
    ) -> Segment {
        dp.run(packet, start, true, flows, now, trace, &mut ())
    }
}

impl Dataplane {
    /// Decides what happens to the IPv4 packet in `packet`, sent from `ingress` at `now`.
    ///
    /// Appliances and gateways decrement the TTL in place (with the header checksum patched);
    /// nothing else of the packet changes. Every step is reported to `trace`.
    pub fn forward<T: Trace>(
        &self,
        packet: &mut [u8],
        ingress: Ingress,
        flows: &mut FlowTable,
        now: Nanos,
        trace: &mut T,
    ) -> Outcome {
        let mut segment = self.run(
            packet,
            SegmentStart::Ingress(ingress),
            false,
            flows,
            now,
            trace,
            &mut (),
        );
        loop {
            match segment {
                Segment::Done(outcome) => return outcome,
                // Without pauses `run` only returns Done; kept total for safety.
                Segment::Paused(w) => {
                    segment = self.run(
                        packet,
                        SegmentStart::At(w),
                        false,
                        flows,
                        now,
                        trace,
                        &mut (),
                    );
                }
            }
        }
    }

    /// Decides one segment of a packet's way: from `start` until the packet is delivered,
    /// dropped, or waits for bandwidth at a waypoint (an appliance about to send what it
    /// forwards, a gateway). A timed driver shapes it there and decides the next segment later
    /// from [`SegmentStart::At`], against the network as it is then. `strategy` says whether
    /// the decision is made in full or through remembered decisions; the result is the same.
    ///
    /// Appliances and gateways decrement the TTL in place (with the header checksum patched);
    /// steps are reported to `trace` (a remembered decision reports only its peering
    /// crossings).
    #[inline]
    pub fn decide<S: Strategy, T: Trace>(
        &self,
        start: SegmentStart,
        packet: &mut [u8],
        flows: &mut FlowTable,
        now: Nanos,
        strategy: S,
        trace: &mut T,
    ) -> Segment {
        strategy.segment(self, start, packet, flows, now, trace)
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn run<T: Trace, R: Reliance>(
        &self,
        packet: &mut [u8],
        start: SegmentStart,
        pause: bool,
        flows: &mut FlowTable,
        now: Nanos,
        trace: &mut T,
        rec: &mut R,
    ) -> Segment {
        let (outcome, waypoint) = self.run_inner(packet, start, pause, flows, now, trace, rec);
        match waypoint {
            Some(w) => Segment::Paused(w),
            None => {
                match outcome {
                    Outcome::Delivered(to) => trace.step(Step::Deliver { to }),
                    Outcome::Dropped(reason, cause) => trace.step(Step::Drop { reason, cause }),
                }
                Segment::Done(outcome)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn run_inner<T: Trace, R: Reliance>(
        &self,
        packet: &mut [u8],
        start: SegmentStart,
        pause: bool,
        flows: &mut FlowTable,
        now: Nanos,
        trace: &mut T,
        rec: &mut R,
    ) -> (Outcome, Option<Waypoint>) {
        let done = |o: Outcome| (o, None);
        let meta = match wire::parse(packet) {
            Ok(meta) => meta,
            Err(e) => {
                return done(Outcome::Dropped(
                    DropReason::Malformed,
                    DropCause::Malformed(e),
                ));
            }
        };
        let mut key = meta.key;
        if let SegmentStart::Ingress(Ingress::Nic(_) | Ingress::Site(_)) = start
            && let Some(what) = NotCarried::of(&key, self.is_subnet_broadcast(key.dst))
        {
            if let SegmentStart::Ingress(Ingress::Nic(nic)) = start {
                trace.step(Step::Send { nic });
            }
            return done(Outcome::Dropped(what.reason(), DropCause::NotCarried(what)));
        }
        let (mut pos, mut forwarder, mut hops) = match start {
            SegmentStart::At(w) => (w.pos(), w.forwarder, w.hops),
            SegmentStart::Ingress(Ingress::Nic(nic)) => {
                trace.step(Step::Send { nic });
                (Pos::Egress(nic), Forwarder::Origin, 0)
            }
            SegmentStart::Ingress(Ingress::Site(site)) => {
                trace.step(Step::FromSite { site });
                let plane = &self.sites[site.index()];
                let Some(gw) = plane.gateway_vnet else {
                    return done(Outcome::Dropped(
                        DropReason::NoRoute,
                        DropCause::SiteNotConnected { site },
                    ));
                };
                // A BGP site sends what its gateway advertised to it; a static one what its
                // gateway's VNet and spokes hold.
                let reach = plane
                    .reach
                    .as_ref()
                    .unwrap_or(&self.vnets[gw.index()].advertised);
                if !reach.contains(key.dst) {
                    return done(Outcome::Dropped(
                        DropReason::NoRoute,
                        DropCause::NotAdvertised { site },
                    ));
                }
                trace.step(Step::Gateway { vnet: gw });
                if pause {
                    let at = WaypointAt::GatewayFromSite(gw);
                    let w = Waypoint {
                        at,
                        forwarder: Forwarder::Gateway,
                        hops: 0,
                    };
                    return (Outcome::Delivered(Destination::Internet), Some(w));
                }
                (Pos::GatewayIn(gw), Forwarder::Gateway, 0)
            }
            SegmentStart::Ingress(Ingress::Internet) => {
                // From the Internet a packet reaches a VNet only at a public IP.
                match self.public.get(&key.dst) {
                    Some(&PublicOwner::Firewall(fw)) => {
                        trace.step(Step::FromInternet);
                        (Pos::Firewall(fw), Forwarder::Origin, 0)
                    }
                    Some(&PublicOwner::LoadBalancer(fe)) => {
                        trace.step(Step::FromInternet);
                        (Pos::Lb { fe, from: None }, Forwarder::Origin, 0)
                    }
                    Some(&PublicOwner::Nic(nic)) => {
                        trace.step(Step::FromInternet);
                        match self.inbound_public_ip(nic, packet, &key, flows, now, trace, rec) {
                            Ok(k) => key = k,
                            Err((r, c)) => return done(Outcome::Dropped(r, c)),
                        }
                        (Pos::Arrive(nic), Forwarder::Origin, 0)
                    }
                    None => {
                        return done(Outcome::Dropped(
                            DropReason::NoRoute,
                            DropCause::FromInternet,
                        ));
                    }
                }
            }
            SegmentStart::Ingress(Ingress::PrivateEndpoint(pe)) => {
                trace.step(Step::EndpointReply { pe });
                let pos = match self.endpoint_egress(pe, &key, trace, rec) {
                    Ok(pos) => pos,
                    Err((r, c)) => return done(Outcome::Dropped(r, c)),
                };
                // Routed to a firewall or a gateway: the packet waits for its bandwidth there.
                let at = match pos {
                    Pos::Firewall(fw) => Some(WaypointAt::Firewall(fw)),
                    Pos::GatewayOut(vnet) => Some(WaypointAt::GatewayToSite(vnet)),
                    _ => None,
                };
                if pause && let Some(at) = at {
                    let w = Waypoint {
                        at,
                        forwarder: Forwarder::Origin,
                        hops: 0,
                    };
                    return (Outcome::Delivered(Destination::Internet), Some(w));
                }
                (pos, Forwarder::Origin, 0)
            }
        };
        // The frontend IP a load balancer rule with floating IP delivers to its backend: the
        // backend's guest holds it [LBFIP23] (0: none; 0.0.0.0/8 is never a destination).
        let mut floating_dst = 0u32;
        while (hops as usize) < MAX_HOPS {
            hops += 1;
            let next = match pos {
                Pos::Internet => return done(Outcome::Delivered(Destination::Internet)),
                Pos::Platform(e) => return done(Outcome::Delivered(Destination::Platform(e))),
                Pos::Endpoint(pe) => {
                    return done(self.endpoint_arrive(pe, &key, flows, now, trace, rec));
                }
                Pos::Egress(nic) => {
                    // A backend answering a connection a load balancer placed on it: the reply
                    // leaves with the frontend's address.
                    let lb_reply = if forwarder == Forwarder::Origin {
                        self.lb_reply(nic, &key, flows, now, rec)
                    } else {
                        None
                    };
                    let sent = self.egress(
                        nic,
                        &key,
                        forwarder,
                        lb_reply.is_some(),
                        flows,
                        now,
                        trace,
                        rec,
                    );
                    if let (Ok(_), Some(to)) = (&sent, lb_reply) {
                        self.lb_reply_traced(&key, &to, packet, trace);
                        key = to;
                    }
                    match sent {
                        Ok(Pos::Internet) => {
                            match self.to_internet(nic, packet, &key, trace, rec) {
                                Ok(k) => {
                                    if k != key {
                                        self.note_outbound(nic, &key, flows, now);
                                        key = k;
                                    }
                                    Ok(Pos::Internet)
                                }
                                Err(e) => Err(e),
                            }
                        }
                        other => other,
                    }
                }
                Pos::Firewall(fw) => {
                    match self.firewall_step(
                        fw,
                        packet,
                        &key,
                        meta.tcp_flags,
                        flows,
                        now,
                        trace,
                        rec,
                    ) {
                        Ok(k) => {
                            key = k;
                            rec.ttl_hop();
                            forwarder = Forwarder::Appliance;
                            let c = &self.firewalls[fw.index()].compiled;
                            self.route(c.vnet, c.subnet, &key, forwarder, trace, rec)
                        }
                        Err((r, c)) => return done(Outcome::Dropped(r, c)),
                    }
                }
                Pos::Lb { fe, from } => {
                    match self.lb_step(fe, from, packet, &key, flows, now, trace, rec) {
                        Ok((k, backend, floating)) => {
                            key = k;
                            if floating {
                                floating_dst = key.dst;
                            }
                            Ok(Pos::Arrive(backend))
                        }
                        Err((r, c)) => return done(Outcome::Dropped(r, c)),
                    }
                }
                Pos::GatewayIn(vnet) => {
                    let subnet = self.gateway_subnet(vnet);
                    self.route(vnet, subnet, &key, forwarder, trace, rec)
                }
                Pos::Arrive(nic) => {
                    let n = &self.nics[nic.index()];
                    trace.step(Step::Arrive { nic });
                    let local = key.dst == n.ip || key.dst == floating_dst;
                    if !local && !n.ip_forwarding {
                        // Azure's destination check: without IP forwarding a NIC only
                        // receives packets addressed to it (virtual-network-network-interface).
                        return done(Outcome::Dropped(
                            DropReason::ForwardingDisabled,
                            DropCause::NicIpForwardingOff { nic },
                        ));
                    }
                    if let Err((r, c)) =
                        self.nsgs_pass(nic, Direction::Inbound, &key, flows, now, trace, rec)
                    {
                        return done(Outcome::Dropped(r, c));
                    }
                    if local {
                        if let Err((r, c)) = flows.vm_admit(nic, &key, Role::Endpoint, now, rec) {
                            return done(Outcome::Dropped(r, c));
                        }
                        return done(Outcome::Delivered(Destination::Nic(nic)));
                    }
                    if !n.vm_forwards {
                        return done(Outcome::Dropped(
                            DropReason::ForwardingDisabled,
                            DropCause::GuestNotForwarding { nic },
                        ));
                    }
                    // An appliance holds two flows each way per forwarded connection.
                    if let Err((r, c)) = flows.vm_admit(nic, &key, Role::Forwarder, now, rec) {
                        return done(Outcome::Dropped(r, c));
                    }
                    match wire::forward_hop(packet) {
                        Ok(ttl) => {
                            rec.ttl_hop();
                            trace.step(Step::Forward { nic, ttl });
                        }
                        Err(_) => {
                            return done(Outcome::Dropped(
                                DropReason::TtlExceeded,
                                DropCause::TtlAtNic { nic },
                            ));
                        }
                    }
                    forwarder = Forwarder::Appliance;
                    Ok(Pos::Egress(nic))
                }
                Pos::GatewayOut(gateway) => match self.gateway_route_for(gateway, key.dst) {
                    Some(route) if self.route_site(gateway, route).is_none() => {
                        // A VNet-to-VNet connection: the packet crosses to the other VNet's
                        // gateway, whose GatewaySubnet routes take it on [VPNFAQ26].
                        trace.step(Step::GatewayRoute {
                            vnet: gateway,
                            route,
                        });
                        let to = self.route_gateway(gateway, route);
                        if wire::forward_hop(packet).is_err() {
                            return done(Outcome::Dropped(
                                DropReason::TtlExceeded,
                                DropCause::TtlAtGateway { gateway },
                            ));
                        }
                        rec.ttl_hop();
                        forwarder = Forwarder::Gateway;
                        trace.step(Step::Gateway { vnet: to });
                        Ok(Pos::GatewayIn(to))
                    }
                    Some(route) => {
                        let site = self
                            .route_site(gateway, route)
                            .expect("a route that is not to a gateway is to a site");
                        if !self.bgp.of(gateway)[route as usize].shorthand {
                            trace.step(Step::GatewayRoute {
                                vnet: gateway,
                                route,
                            });
                        }
                        if wire::forward_hop(packet).is_err() {
                            return done(Outcome::Dropped(
                                DropReason::TtlExceeded,
                                DropCause::TtlAtGateway { gateway },
                            ));
                        }
                        return done(match self.host_by_addr.get(&addr_key(site.0, key.dst)) {
                            Some(host) => {
                                // The gateway's TTL decrement counts for a delivered packet
                                // only: other outcomes are drops, never remembered.
                                rec.ttl_hop();
                                Outcome::Delivered(Destination::Host(*host))
                            }
                            None => Outcome::Dropped(
                                DropReason::NoDestination,
                                DropCause::NoHost { site },
                            ),
                        });
                    }
                    None => {
                        // Not for a site: a VPN gateway forwards between VNets peered with its
                        // VNet, which user routes with next hop VirtualNetworkGateway send it
                        // [manage-peering 2022]; forwarded by a gateway, the packet needs no
                        // allow_forwarded_traffic on the receiving link. The GatewaySubnet's
                        // routes take it on, as they do packets from the gateway's sites.
                        let Some(to) = self.peer_for(gateway, key.dst) else {
                            return done(Outcome::Dropped(
                                DropReason::NoRoute,
                                DropCause::NoSite { gateway },
                            ));
                        };
                        if wire::forward_hop(packet).is_err() {
                            return done(Outcome::Dropped(
                                DropReason::TtlExceeded,
                                DropCause::TtlAtGateway { gateway },
                            ));
                        }
                        rec.ttl_hop();
                        trace.step(Step::GatewayForward { vnet: gateway, to });
                        forwarder = Forwarder::Gateway;
                        let subnet = self.gateway_subnet(gateway);
                        self.route(gateway, subnet, &key, forwarder, trace, rec)
                    }
                },
            };
            pos = match next {
                Ok(pos) => pos,
                Err((reason, cause)) => return done(Outcome::Dropped(reason, cause)),
            };
            // Where the packet waits for bandwidth: an appliance sending what it forwards, a
            // gateway handing it to a site.
            if pause {
                let at = match pos {
                    Pos::GatewayOut(vnet) => Some(WaypointAt::GatewayToSite(vnet)),
                    // Arrived over a VNet-to-VNet connection: the receiving gateway's shaper.
                    Pos::GatewayIn(vnet) => Some(WaypointAt::GatewayFromSite(vnet)),
                    Pos::Firewall(fw) => Some(WaypointAt::Firewall(fw)),
                    Pos::Egress(nic) if forwarder == Forwarder::Appliance => {
                        Some(WaypointAt::Appliance(nic))
                    }
                    _ => None,
                };
                if let Some(at) = at {
                    let w = Waypoint {
                        at,
                        forwarder,
                        hops,
                    };
                    return (Outcome::Delivered(Destination::Internet), Some(w));
                }
            }
        }
        done(Outcome::Dropped(
            DropReason::TtlExceeded,
            DropCause::HopBudget,
        ))
    }

    /// The packet leaves `nic`: source check, NSGs out, route lookup in the NIC's subnet.
    #[allow(clippy::too_many_arguments)]
    fn egress<T: Trace, R: Reliance>(
        &self,
        nic: NicId,
        key: &FlowKey,
        forwarder: Forwarder,
        lb_reply: bool,
        flows: &mut FlowTable,
        now: Nanos,
        trace: &mut T,
        rec: &mut R,
    ) -> Decision {
        let n = &self.nics[nic.index()];
        if key.src != n.ip && !n.ip_forwarding && !lb_reply {
            // Azure's source check (a floating IP backend answers from the frontend IP): sending with a foreign source address needs IP forwarding.
            return Err((
                DropReason::ForwardingDisabled,
                DropCause::NicSourceCheck { nic },
            ));
        }
        if let Some(endpoint) = PlatformEndpoint::of(key.dst) {
            return self.to_platform(nic, endpoint, key, trace);
        }
        self.nsgs_pass(nic, Direction::Outbound, key, flows, now, trace, rec)?;
        if forwarder == Forwarder::Origin {
            // The sender's host opens the connection's flows [vm-bandwidth].
            flows.vm_admit(nic, key, Role::Endpoint, now, rec)?;
        }
        self.route(n.vnet, n.subnet, key, forwarder, trace, rec)
    }

    /// The packet leaves `nic` for a platform address. The platform's traffic is "not subject
    /// to the configured network security groups" unless an outbound rule names it with a
    /// platform service tag [nsg-overview] 03/2023 (NIC NSG, then subnet NSG, as outbound
    /// rules go); 168.63.129.16 "isn't subject to user defined routes" [ip-168] 03/2023, and
    /// vnetsim treats 169.254.169.254 the same (derived). No flow record: the decision does not
    /// depend on NSG state.
    fn to_platform<T: Trace>(
        &self,
        nic: NicId,
        endpoint: PlatformEndpoint,
        key: &FlowKey,
        trace: &mut T,
    ) -> Decision {
        let tag = platform_tag(endpoint, key);
        if let Some(tag) = tag {
            for (point, nsg) in self.nsg_order(nic, Direction::Outbound) {
                let Some(i) = nsg else { continue };
                let plane = &self.nsgs[i as usize];
                if let Some(verdict) = plane.compiled.evaluate_platform(tag, key) {
                    Self::apply_verdict(plane, point, Direction::Outbound, verdict, trace)?;
                }
            }
        }
        trace.step(Step::Platform { endpoint, tag });
        Ok(Pos::Platform(endpoint))
    }

    /// Looks the destination up in `subnet`'s effective routes and takes the next hop.
    fn route<T: Trace, R: Reliance>(
        &self,
        vnet: VnetId,
        subnet: SubnetId,
        key: &FlowKey,
        forwarder: Forwarder,
        trace: &mut T,
        rec: &mut R,
    ) -> Decision {
        let plane = &self.subnets[subnet.index()];
        let Some(hop_index) = plane.lpm.lookup(key.dst) else {
            return Err((DropReason::NoRoute, DropCause::NoMatch { subnet }));
        };
        let hop = plane.hops[hop_index as usize];
        trace.step(Step::Route {
            subnet,
            route: hop.route,
        });
        self.take_hop(
            vnet,
            RouteAt::Subnet(subnet),
            hop,
            key,
            forwarder,
            trace,
            rec,
        )
    }

    /// Takes the next hop of route `hop`, chosen in the routes `at`.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn take_hop<T: Trace, R: Reliance>(
        &self,
        vnet: VnetId,
        at: RouteAt,
        hop: Hop,
        key: &FlowKey,
        forwarder: Forwarder,
        trace: &mut T,
        rec: &mut R,
    ) -> Decision {
        match hop.kind {
            HopKind::Drop => Err((
                DropReason::NoRoute,
                at.cause(hop.route, |subnet, route| DropCause::NoneRoute {
                    subnet,
                    route,
                }),
            )),
            HopKind::Internet => Ok(Pos::Internet),
            HopKind::Local => self.arrive_in(vnet, key.dst, vnet),
            HopKind::Peer(edge) => {
                self.cross(vnet, &edge, key, forwarder, trace, rec)?;
                self.arrive_in(edge.peer, key.dst, vnet)
            }
            HopKind::LoadBalancer { fe, crossing } => {
                if let Some(edge) = crossing {
                    self.cross(vnet, &edge, key, forwarder, trace, rec)?;
                }
                Ok(Pos::Lb {
                    fe,
                    from: Some(vnet),
                })
            }
            HopKind::Appliance { nic: None, .. } => Err((
                DropReason::NextHopUnreachable,
                at.cause(hop.route, |subnet, route| DropCause::ApplianceUnreachable {
                    subnet,
                    route,
                }),
            )),
            HopKind::Appliance {
                nic: Some(nic),
                crossing,
            } => {
                if let Some(edge) = crossing {
                    self.cross(vnet, &edge, key, forwarder, trace, rec)?;
                }
                Ok(Pos::Arrive(nic))
            }
            HopKind::Firewall { fw, crossing } => {
                if let Some(edge) = crossing {
                    self.cross(vnet, &edge, key, forwarder, trace, rec)?;
                }
                Ok(Pos::Firewall(fw))
            }
            HopKind::Gateway { vnet: None, .. } => Err((
                DropReason::NoRoute,
                at.cause(hop.route, |subnet, route| DropCause::NoGateway {
                    subnet,
                    route,
                }),
            )),
            HopKind::Gateway {
                vnet: Some(gw),
                crossing,
            } => {
                if let Some(edge) = crossing {
                    self.cross(vnet, &edge, key, forwarder, trace, rec)?;
                }
                trace.step(Step::Gateway { vnet: gw });
                Ok(Pos::GatewayOut(gw))
            }
        }
    }

    fn arrive_in(&self, vnet: VnetId, dst: u32, from: VnetId) -> Decision {
        match self.nic_by_addr.get(&addr_key(vnet.0, dst)) {
            Some(nic) => Ok(Pos::Arrive(*nic)),
            None => match self.vnets[vnet.index()].firewall {
                // A packet to the firewall's private IP (a reply to a connection it translated)
                // reaches the firewall.
                Some((ip, fw)) if ip == dst => Ok(Pos::Firewall(fw)),
                _ => match self.endpoint_by_addr.get(&addr_key(vnet.0, dst)) {
                    // A private endpoint's address: its service receives the packet.
                    Some(pe) => Ok(Pos::Endpoint(*pe)),
                    None => match self.lb.internal_at(vnet, dst) {
                        // A packet to an internal load balancer frontend reaches the load
                        // balancer.
                        Some(fe) => Ok(Pos::Lb {
                            fe,
                            from: Some(from),
                        }),
                        None => Err((DropReason::NoDestination, DropCause::NoNic { vnet })),
                    },
                },
            },
        }
    }

    /// The packet reaches private endpoint `pe`. Its subnet's NSG filters it only when the
    /// subnet's network policies include NSGs: "By default, network policies are disabled for
    /// a subnet" and NSGs do not apply to private endpoints then [PENP23], [PEFW25]. The NSG
    /// is stateful as at a NIC (flow records under the endpoint's own key); a decision through
    /// it is not remembered. Then the service behind the endpoint receives it.
    fn endpoint_arrive<T: Trace, R: Reliance>(
        &self,
        pe: PrivateEndpointId,
        key: &FlowKey,
        flows: &mut FlowTable,
        now: Nanos,
        trace: &mut T,
        rec: &mut R,
    ) -> Outcome {
        trace.step(Step::PrivateEndpoint { pe });
        let e = &self.endpoints[pe.index()];
        if let Some(i) = e.nsg {
            rec.stateful();
            let plane = &self.nsgs[i as usize];
            let point = NsgPoint::Subnet(e.subnet);
            let record = endpoint_record(pe);
            if flows.hit(record, false, key, now) {
                trace.step(Step::Nsg {
                    point,
                    nsg: plane.nsg,
                    direction: Direction::Inbound,
                    decision: NsgDecision::FlowRecord,
                });
            } else {
                let verdict = plane.compiled.evaluate(Direction::Inbound, key);
                if let Err((r, c)) =
                    Self::apply_verdict(plane, point, Direction::Inbound, verdict, trace)
                {
                    return Outcome::Dropped(r, c);
                }
                flows.record(record, false, key, now);
            }
        }
        Outcome::Delivered(Destination::PrivateEndpoint(pe))
    }

    /// The answer of the service behind private endpoint `pe` leaves it: routed by its
    /// subnet's effective routes when the subnet's network policies include route tables (or
    /// it has none), else by the same routes without the route table: "User-defined routes
    /// (UDR) traffic is bypassed from private endpoints" [PEFW25], [PENP23]. No NSG applies
    /// to it (network policies filter traffic to the endpoint; the answer belongs to a
    /// connection made to it).
    fn endpoint_egress<T: Trace, R: Reliance>(
        &self,
        pe: PrivateEndpointId,
        key: &FlowKey,
        trace: &mut T,
        rec: &mut R,
    ) -> Decision {
        let e = &self.endpoints[pe.index()];
        let Some(plane) = &e.routes else {
            return self.route(e.vnet, e.subnet, key, Forwarder::Origin, trace, rec);
        };
        let Some(hop_index) = plane.lpm.lookup(key.dst) else {
            return Err((DropReason::NoRoute, DropCause::NoMatch { subnet: e.subnet }));
        };
        let hop = plane.hops[hop_index as usize];
        trace.step(Step::EndpointRoute {
            pe,
            route: hop.route,
        });
        self.take_hop(
            e.vnet,
            RouteAt::Endpoint(pe),
            hop,
            key,
            Forwarder::Origin,
            trace,
            rec,
        )
    }

    /// Checks a peering crossing from `from` over `edge`.
    fn cross<T: Trace, R: Reliance>(
        &self,
        from: VnetId,
        edge: &Edge,
        key: &FlowKey,
        forwarder: Forwarder,
        trace: &mut T,
        rec: &mut R,
    ) -> Result<(), (DropReason, DropCause)> {
        trace.step(Step::Peering { from, edge: *edge });
        rec.crossing(from, *edge);
        if self.access_mode == VirtualNetworkAccessMode::Block {
            for link in [edge.local, edge.remote].into_iter().flatten() {
                if !self.links[link.index()].access {
                    return Err((DropReason::VnetAccessBlocked, DropCause::AccessOff { link }));
                }
            }
        }
        // Forwarded traffic: the source is outside the sending VNet. The receiving VNet's link
        // must allow it (manage-peering: "allow forwarded traffic"); traffic forwarded by a VPN
        // gateway does not need it.
        if self.enforce_forwarded
            && forwarder != Forwarder::Gateway
            && !self.vnets[from.index()].space.contains(key.src)
        {
            let receiving = edge.remote.or(edge.local).expect("an edge has a link");
            if !self.links[receiving.index()].forwarded {
                return Err((
                    DropReason::ForwardedTrafficBlocked,
                    DropCause::ForwardedOff { link: receiving },
                ));
            }
        }
        Ok(())
    }

    /// Applies the NSGs of `nic` in `direction`, in Azure's order (inbound: subnet then NIC;
    /// outbound: NIC then subnet), honouring and creating flow records.
    #[allow(clippy::too_many_arguments)]
    fn nsgs_pass<T: Trace, R: Reliance>(
        &self,
        nic: NicId,
        direction: Direction,
        key: &FlowKey,
        flows: &mut FlowTable,
        now: Nanos,
        trace: &mut T,
        rec: &mut R,
    ) -> Result<(), (DropReason, DropCause)> {
        let order = self.nsg_order(nic, direction);
        if order.iter().all(|(_, nsg)| nsg.is_none()) {
            return Ok(());
        }
        let outbound = direction == Direction::Outbound;
        // Past here the NSGs pass (leaving or refreshing this record) or deny (and a denial
        // is never remembered): the decision relies on the record of this NIC and direction.
        rec.flow_record(nic, outbound);
        if let Some(named) = flows.hit_slot(nic, outbound, key, now) {
            rec.flow_slot(nic, outbound, named);
            for (point, nsg) in order {
                if let Some(i) = nsg {
                    let nsg = self.nsgs[i as usize].nsg;
                    trace.step(Step::Nsg {
                        point,
                        nsg,
                        direction,
                        decision: NsgDecision::FlowRecord,
                    });
                }
            }
            return Ok(());
        }
        for (point, nsg) in order {
            let Some(i) = nsg else { continue };
            let plane = &self.nsgs[i as usize];
            let verdict = plane.compiled.evaluate(direction, key);
            Self::apply_verdict(plane, point, direction, verdict, trace)?;
        }
        let slot = flows.record(nic, outbound, key, now);
        rec.flow_slot(nic, outbound, slot << 1);
        Ok(())
    }

    /// The NSGs a packet meets at `nic` in `direction`, in Azure's order: inbound the subnet's
    /// then the NIC's, outbound the NIC's then the subnet's ([nsg-how]).
    #[inline]
    fn nsg_order(&self, nic: NicId, direction: Direction) -> [(NsgPoint, Option<u32>); 2] {
        let n = &self.nics[nic.index()];
        let subnet_point = (
            NsgPoint::Subnet(n.subnet),
            self.subnets[n.subnet.index()].nsg,
        );
        let nic_point = (NsgPoint::Nic(nic), n.nsg);
        match direction {
            Direction::Inbound => [subnet_point, nic_point],
            Direction::Outbound => [nic_point, subnet_point],
        }
    }

    /// A matched rule of `plane` at `point`: a deny drops the packet, an allow is traced.
    #[inline]
    fn apply_verdict<T: Trace>(
        plane: &NsgPlane,
        point: NsgPoint,
        direction: Direction,
        verdict: Verdict,
        trace: &mut T,
    ) -> Result<(), (DropReason, DropCause)> {
        if verdict.access == Access::Deny {
            return Err((
                DropReason::NsgDenied,
                DropCause::Nsg {
                    point,
                    nsg: plane.nsg,
                    direction,
                    rule: verdict.rule,
                },
            ));
        }
        trace.step(Step::Nsg {
            point,
            nsg: plane.nsg,
            direction,
            decision: NsgDecision::Rule(verdict.rule),
        });
        Ok(())
    }

    /// The VNet peered with the gateway's VNet whose address range holds `dst`, if any.
    #[inline]
    fn peer_for(&self, gateway_vnet: VnetId, dst: u32) -> Option<VnetId> {
        self.vnets[gateway_vnet.index()]
            .peered
            .as_ref()?
            .lookup(dst)
            .map(VnetId)
    }

    fn gateway_subnet(&self, vnet: VnetId) -> SubnetId {
        self.gateway_subnets[vnet.index()].expect("a gateway VNet has a GatewaySubnet")
    }
}
