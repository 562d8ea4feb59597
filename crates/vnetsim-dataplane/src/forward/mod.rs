//! The forwarding decision: the compiled network ([`Dataplane`]) and what decides with it.
//!
//! What it is for: [`Dataplane`] is declared here, beside the code that reads it to decide a
//! packet's way: [`pipeline`] (the decision in Azure's order, [`Dataplane::forward`] for a whole
//! path and [`Dataplane::decide`] for one segment), and the two ways a segment's decision is
//! remembered, [`memo`] (beside the caller's flow) and [`flowcache`] (a hash table keyed by
//! 5-tuple and starting point). [`compile`] builds a [`Dataplane`] from a scenario out of the
//! compiled tables of [`crate::tables`]. What it is not: the slow path that names things for
//! people ([`crate::names`]), and it holds no per-flow state of its own (the caller keeps the
//! [`pipeline::FlowTable`], memos and caches).

use std::collections::HashMap;
use std::net::Ipv4Addr;

use foldhash::fast::FixedState;
use vnetsim_scenario::{
    FirewallId, HostId, NicId, NsgId, PrivateEndpointId, PublicIpSku, SiteId, SubnetId,
    VirtualNetworkAccessMode, VnetId,
};

use crate::tables::addrset::AddrSet;
use crate::tables::bgp::{GatewayRibs, GatewayRoute};
use crate::tables::firewall::CompiledFirewall;
use crate::tables::lpm::Lpm;
use crate::tables::nsg::{CompiledNsg, TagSets};
use crate::tables::peering::{Edge, PeeringStates};
use crate::tables::routes::EffectiveRoute;

pub mod compile;
pub mod firewall;
pub mod flowcache;
pub mod lb;
pub mod memo;
pub mod pipeline;
pub mod sessions;
pub mod vmflows;

/// A resolved next hop of an active route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HopKind {
    /// Drop (None route).
    Drop,
    /// Deliver inside this VNet.
    Local,
    /// Deliver inside a connected peer.
    Peer(Edge),
    /// Hand to an appliance NIC (none: not held by any reachable NIC); `crossing` when it sits
    /// in a peer.
    Appliance {
        nic: Option<NicId>,
        crossing: Option<Edge>,
    },
    /// Hand to a gateway (none: the VNet has no usable gateway); `crossing` when remote.
    Gateway {
        vnet: Option<VnetId>,
        crossing: Option<Edge>,
    },
    /// To the Internet sink.
    Internet,
    /// Hand to an Azure Firewall (a VirtualAppliance route to its private IP); `crossing`
    /// when it sits in a peer.
    Firewall {
        fw: FirewallId,
        crossing: Option<Edge>,
    },
    /// Hand to an internal load balancer frontend (a VirtualAppliance route to its IP, the
    /// index of the compiled frontend); `crossing` when it sits in a peer.
    LoadBalancer { fe: u32, crossing: Option<Edge> },
}

/// An active route compiled for forwarding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Hop {
    pub kind: HopKind,
    /// Index of the route in the subnet's effective routes.
    pub route: u32,
}

/// A subnet, compiled.
#[derive(Debug)]
pub(crate) struct SubnetPlane {
    pub routes: Vec<EffectiveRoute>,
    pub lpm: Lpm<u32>,
    pub hops: Vec<Hop>,
    /// Index into [`Dataplane::nsgs`].
    pub nsg: Option<u32>,
    /// VMs here reach the Internet without an explicit outbound method.
    pub default_outbound: bool,
}

/// A NIC, compiled.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NicPlane {
    pub vnet: VnetId,
    pub subnet: SubnetId,
    pub ip: u32,
    pub ip_forwarding: bool,
    pub vm_forwards: bool,
    /// Index into [`Dataplane::nsgs`].
    pub nsg: Option<u32>,
    /// Its public IP.
    pub public_ip: Option<u32>,
    /// Its public IP's SKU.
    pub public_sku: Option<PublicIpSku>,
}

/// A VNet, compiled.
#[derive(Debug)]
pub(crate) struct VnetPlane {
    pub space: AddrSet,
    pub tags: TagSets,
    /// The forwarding table of this VNet's own gateways: by prefix, the index of the route
    /// in [`Dataplane::gateway_routes`] (the first of a repeated prefix, ExpressRoute first).
    pub sites: Option<Lpm<u32>>,
    /// Address space the gateway of this VNet advertises to its sites (its own space and the
    /// spaces of spokes that use it through gateway transit).
    pub advertised: AddrSet,
    /// For a VNet with a gateway: the address ranges of its Connected peers, each to the peer
    /// VNet. A packet routed to the gateway for one of them is forwarded there (a VPN gateway
    /// forwards between VNets peered with its VNet [manage-peering 2022]).
    pub peered: Option<Lpm<u32>>,
    /// Its Azure Firewall's private IP, and which firewall.
    pub firewall: Option<(u32, FirewallId)>,
}

/// An Azure Firewall, compiled.
#[derive(Debug)]
pub(crate) struct FirewallPlane {
    pub compiled: CompiledFirewall,
}

/// A private endpoint, compiled: where it sits, the subnet NSG that filters traffic to it
/// (only with network policies for NSGs [PENP23]) and the routes its answers follow.
#[derive(Debug)]
pub(crate) struct EndpointPlane {
    pub vnet: VnetId,
    pub subnet: SubnetId,
    /// Index into [`Dataplane::nsgs`]: the subnet's NSG, when network policies include NSGs.
    pub nsg: Option<u32>,
    /// The routes of its traffic when they differ from its subnet's: the subnet has a route
    /// table and its network policies leave out route tables, so user routes do not apply
    /// [PEFW25]. `None`: the subnet's own effective routes.
    pub routes: Option<SubnetPlane>,
}

/// What holds a public IP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PublicOwner {
    /// A NIC's IP configuration.
    Nic(NicId),
    /// An Azure Firewall.
    Firewall(FirewallId),
    /// A public load balancer frontend (index of the compiled frontend).
    LoadBalancer(u32),
}

/// An on-premises site, compiled.
#[derive(Debug)]
pub(crate) struct SitePlane {
    /// The VNet whose gateway the site's packets enter (none: no connection now).
    pub gateway_vnet: Option<VnetId>,
    /// With BGP: the prefixes its gateway advertised to it (none: a static site, which
    /// reaches what its gateway's VNet advertises).
    pub reach: Option<AddrSet>,
}

/// An NSG compiled for use in one VNet (service tags depend on the VNet).
#[derive(Debug)]
pub(crate) struct NsgPlane {
    pub nsg: NsgId,
    pub compiled: CompiledNsg,
}

/// Flags of one peering link the pipeline checks.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LinkFlags {
    pub access: bool,
    pub forwarded: bool,
}

/// The compiled network the forwarding pipeline reads.
#[derive(Debug)]
pub struct Dataplane {
    pub(crate) access_mode: VirtualNetworkAccessMode,
    pub(crate) enforce_forwarded: bool,
    pub(crate) peerings: PeeringStates,
    pub(crate) links: Vec<LinkFlags>,
    pub(crate) vnets: Vec<VnetPlane>,
    pub(crate) subnets: Vec<SubnetPlane>,
    pub(crate) nics: Vec<NicPlane>,
    pub(crate) nsgs: Vec<NsgPlane>,
    pub(crate) sites: Vec<SitePlane>,
    /// `(vnet << 32) | ip` -> NIC.
    pub(crate) nic_by_addr: HashMap<u64, NicId, FixedState>,
    /// ip -> host, per site: `(site << 32) | ip`.
    pub(crate) host_by_addr: HashMap<u64, HostId, FixedState>,
    /// The GatewaySubnet of each VNet with a gateway.
    pub(crate) gateway_subnets: Vec<Option<SubnetId>>,
    /// The last address of every subnet (Azure's reserved broadcast address), sorted.
    pub(crate) subnet_broadcasts: Vec<u32>,
    /// Azure Firewalls, by [`FirewallId`].
    pub(crate) firewalls: Vec<FirewallPlane>,
    /// Public IP -> what holds it.
    pub(crate) public: HashMap<u32, PublicOwner, FixedState>,
    /// Private endpoints, by [`PrivateEndpointId`].
    pub(crate) endpoints: Vec<EndpointPlane>,
    /// `(vnet << 32) | ip` -> private endpoint (empty without private endpoints).
    pub(crate) endpoint_by_addr: HashMap<u64, PrivateEndpointId, FixedState>,
    /// Gateway routes (static and BGP-learned) of every VNet.
    pub(crate) bgp: GatewayRibs,
    /// Azure Load Balancers (empty without any).
    pub(crate) lb: lb::LbPlanes,
}

/// 168.63.129.16, Azure's host address (AzureLoadBalancer tag).
pub const AZURE_HOST_IP: Ipv4Addr = crate::tables::platform::HOST_VIP;

pub(crate) fn addr_key(scope: u32, ip: u32) -> u64 {
    ((scope as u64) << 32) | ip as u64
}

impl Dataplane {
    /// Whether `dst` is the last address of a subnet (Azure's reserved broadcast address).
    pub(crate) fn is_subnet_broadcast(&self, dst: u32) -> bool {
        self.subnet_broadcasts.binary_search(&dst).is_ok()
    }

    /// Whether any subnet or NIC has an NSG (the flow cache pays only then).
    pub fn has_nsgs(&self) -> bool {
        !self.nsgs.is_empty()
    }

    /// Peering states this data plane was compiled with.
    pub fn peerings(&self) -> &PeeringStates {
        &self.peerings
    }

    /// The effective routes of a subnet (Active and Invalid), in display order.
    pub fn routes(&self, subnet: SubnetId) -> &[EffectiveRoute] {
        &self.subnets[subnet.index()].routes
    }

    /// The effective route of `subnet` that forwards `dst`: the one the longest-prefix match of
    /// the Active routes picks, as the forwarding decision does. None when no route matches.
    pub fn route_for(&self, subnet: SubnetId, dst: Ipv4Addr) -> Option<&EffectiveRoute> {
        let plane = &self.subnets[subnet.index()];
        let hop = plane.hops[plane.lpm.lookup(u32::from(dst))? as usize];
        plane.routes.get(hop.route as usize)
    }

    /// The compiled NSG and which NSG it is, for a subnet.
    pub fn subnet_nsg(&self, subnet: SubnetId) -> Option<(NsgId, &CompiledNsg)> {
        let p = &self.nsgs[self.subnets[subnet.index()].nsg? as usize];
        Some((p.nsg, &p.compiled))
    }

    /// The compiled NSG and which NSG it is, for a NIC.
    pub fn nic_nsg(&self, nic: NicId) -> Option<(NsgId, &CompiledNsg)> {
        let p = &self.nsgs[self.nics[nic.index()].nsg? as usize];
        Some((p.nsg, &p.compiled))
    }

    /// The NIC holding `ip` in `vnet`.
    pub fn nic_at(&self, vnet: VnetId, ip: Ipv4Addr) -> Option<NicId> {
        self.nic_by_addr
            .get(&addr_key(vnet.0, u32::from(ip)))
            .copied()
    }

    /// The service tag sets of a VNet (what VirtualNetwork, Internet, AzureLoadBalancer mean
    /// for NSGs applied there), VirtualNetwork in its 2016-2018 definition. With
    /// `azure.virtual_network_tag: current` the NSGs of a subnet see that tag plus 168.63.129.16
    /// and the subnet's user-route prefixes: see [`Dataplane::virtual_network_tag`].
    pub fn tags(&self, vnet: VnetId) -> &TagSets {
        &self.vnets[vnet.index()].tags
    }

    /// The routes a private endpoint's answers follow: its subnet's effective routes without
    /// the route table when the subnet's network policies leave out route tables (user routes
    /// do not apply to private endpoint traffic [PEFW25]), else its subnet's.
    pub fn private_endpoint_routes(&self, pe: PrivateEndpointId) -> &[EffectiveRoute] {
        let e = &self.endpoints[pe.index()];
        match &e.routes {
            Some(plane) => &plane.routes,
            None => &self.subnets[e.subnet.index()].routes,
        }
    }

    /// Whether the subnet NSG of a private endpoint filters traffic to it (network policies
    /// for NSGs on its subnet, and an NSG there) [PENP23].
    pub fn private_endpoint_nsg(&self, pe: PrivateEndpointId) -> Option<NsgId> {
        let i = self.endpoints[pe.index()].nsg?;
        Some(self.nsgs[i as usize].nsg)
    }

    /// The compiled rules of an Azure Firewall.
    pub fn firewall(&self, fw: FirewallId) -> &CompiledFirewall {
        &self.firewalls[fw.index()].compiled
    }

    /// Whether `ip` is a public IP of a NIC or a firewall (where the Internet can answer a
    /// packet from it).
    pub fn is_public_ip(&self, ip: Ipv4Addr) -> bool {
        self.public.contains_key(&u32::from(ip))
    }

    /// The route the gateways of `gateway_vnet` forward `ip` by: an index into
    /// [`Dataplane::gateway_routes`] of that VNet.
    #[inline]
    pub(crate) fn gateway_route_for(&self, gateway_vnet: VnetId, ip: u32) -> Option<u32> {
        self.vnets[gateway_vnet.index()].sites.as_ref()?.lookup(ip)
    }

    /// The gateway routes (static and BGP-learned) of the gateways of `vnet`, as
    /// [`GatewayRibs`] lists them.
    pub fn gateway_routes(&self, vnet: VnetId) -> &[GatewayRoute] {
        self.bgp.of(vnet)
    }

    /// The prefixes the VPN gateway of `vnet` advertises over BGP (empty without a BGP
    /// session) [VPNFAQ26].
    pub fn bgp_advertised(&self, vnet: VnetId) -> &[ipnet::Ipv4Net] {
        self.bgp
            .advertised
            .get(vnet.index())
            .map_or(&[], Vec::as_slice)
    }

    /// The AS path of the BGP route `prefix` named `name` (its connection) in the gateway
    /// routes of `gateway_vnet`, written `65020 65050`; none for a static route.
    pub fn as_path(
        &self,
        scenario: &vnetsim_scenario::Scenario,
        gateway_vnet: VnetId,
        prefix: ipnet::Ipv4Net,
        name: Option<&str>,
    ) -> Option<String> {
        self.bgp
            .of(gateway_vnet)
            .iter()
            .find(|r| {
                r.prefix == prefix
                    && name.is_none_or(|n| scenario.connections[r.connection as usize].name == n)
            })
            .and_then(GatewayRoute::as_path_text)
    }

    /// The VNet whose gateway a packet crosses to under gateway route `route` of `vnet` (a
    /// VNet-to-VNet connection); `vnet` itself for a site route (never asked).
    #[inline]
    pub(crate) fn route_gateway(&self, vnet: VnetId, route: u32) -> VnetId {
        match self.bgp.of(vnet).get(route as usize).map(|r| r.next) {
            Some(crate::tables::bgp::GatewayNext::Gateway(w)) => w,
            _ => vnet,
        }
    }

    /// The site a packet from the gateway of `vnet` is handed to under gateway route `route`.
    #[inline]
    pub(crate) fn route_site(&self, vnet: VnetId, route: u32) -> Option<SiteId> {
        match self.bgp.of(vnet).get(route as usize)?.next {
            crate::tables::bgp::GatewayNext::Site(s) => Some(s),
            crate::tables::bgp::GatewayNext::Gateway(_) => None,
        }
    }
}
