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
    FirewallId, HostId, NicId, NsgId, PublicIpSku, SiteId, SubnetId, VirtualNetworkAccessMode,
    VnetId,
};

use crate::tables::addrset::AddrSet;
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
    /// Sites behind this VNet's own gateway, by prefix.
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
    /// The VNet whose gateway the site connects to.
    pub gateway_vnet: VnetId,
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

    /// The compiled rules of an Azure Firewall.
    pub fn firewall(&self, fw: FirewallId) -> &CompiledFirewall {
        &self.firewalls[fw.index()].compiled
    }

    /// Whether `ip` is a public IP of a NIC or a firewall (where the Internet can answer a
    /// packet from it).
    pub fn is_public_ip(&self, ip: Ipv4Addr) -> bool {
        self.public.contains_key(&u32::from(ip))
    }

    /// The site whose address space holds `ip`, among the sites of the gateway in `vnet`.
    pub(crate) fn site_for(&self, gateway_vnet: VnetId, ip: u32) -> Option<SiteId> {
        self.vnets[gateway_vnet.index()]
            .sites
            .as_ref()?
            .lookup(ip)
            .map(SiteId)
    }
}
