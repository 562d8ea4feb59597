//! The compiled network: dense tables the forwarding pipeline reads, built from a scenario.
//!
//! What it is for: turning a checked [`Scenario`] (and which peering links exist right now) into
//! per-subnet effective routes with their compiled LPM tables, per-(NSG, VNet) compiled rules
//! with resolved service tags, an address-to-NIC map and peering states. What it is not: it
//! holds no per-flow state (see [`crate::pipeline::FlowTable`]) and does not change in place: a
//! timed event builds a new [`Dataplane`].

use std::collections::HashMap;
use std::net::Ipv4Addr;

use foldhash::fast::FixedState;
use ipnet::Ipv4Net;
use vnetsim_scenario::{
    Deployment, HostId, NextHopType, NicId, NsgId, PeeringId, Scenario, SiteId, SubnetId,
    VirtualNetworkAccessMode, VnetId,
};

use crate::addrset::AddrSet;
use crate::lpm::Lpm;
use crate::nsg::{CompiledNsg, TagSets};
use crate::routes::{EffectiveRoute, RESERVED_NONE_PREFIXES, RouteState, RouteTarget};

/// Azure's peering link states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PeeringState {
    /// Only this link exists: no traffic flows.
    Initiated,
    /// Both links exist (or the remote VNet is classic): traffic flows.
    Connected,
    /// The remote link was deleted.
    Disconnected,
}

impl PeeringState {
    /// Azure's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PeeringState::Initiated => "Initiated",
            PeeringState::Connected => "Connected",
            PeeringState::Disconnected => "Disconnected",
        }
    }
}

/// The pair of links between two connected VNets, seen from one of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Edge {
    /// The other VNet.
    pub peer: VnetId,
    /// This VNet's link to the peer (none for a classic VNet).
    pub local: Option<PeeringId>,
    /// The peer's link to this VNet (none for a classic peer).
    pub remote: Option<PeeringId>,
}

impl Edge {
    /// The link that names the pair of VNets the same from both sides (the lower link id of
    /// the two), for per-peering counters.
    pub fn pair_link(&self) -> PeeringId {
        match (self.local, self.remote) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => unreachable!("an edge has at least one link"),
        }
    }

    /// The link that names this edge in listings.
    pub fn name_link(&self) -> PeeringId {
        self.local
            .or(self.remote)
            .expect("an edge has at least one link")
    }
}

/// Which peering links exist and their states.
#[derive(Clone, Debug)]
pub struct PeeringStates {
    present: Vec<bool>,
    state: Vec<PeeringState>,
    /// Connected edges per VNet.
    edges: Vec<Vec<Edge>>,
    /// Every edge with the VNet it leaves, by number.
    numbered: Vec<(VnetId, Edge)>,
    /// The number of the edge from a VNet to a peer (a VNet has one edge per peer).
    number_of: HashMap<(u32, u32), u32, FixedState>,
}

impl PeeringStates {
    /// States when every link of the scenario exists.
    pub fn all_present(scenario: &Scenario) -> Self {
        let n = scenario.peerings.len();
        Self::compute(scenario, &vec![true; n], &vec![false; n])
    }

    /// States from which links exist now (`present`) and which were deleted at some point
    /// (`removed`): a link whose reverse was deleted is Disconnected, one whose reverse never
    /// existed is Initiated.
    pub fn compute(scenario: &Scenario, present: &[bool], removed: &[bool]) -> Self {
        let links = &scenario.peerings;
        let find = |from: VnetId, to: VnetId| {
            links
                .iter()
                .enumerate()
                .filter(|(i, l)| present[*i] && l.from == from && l.to == to)
                .map(|(i, _)| PeeringId(i as u32))
                .next()
        };
        let mut state = vec![PeeringState::Initiated; links.len()];
        let mut edges = vec![Vec::new(); scenario.vnets.len()];
        for (i, l) in links.iter().enumerate() {
            if !present[i] {
                continue;
            }
            let reverse = find(l.to, l.from);
            let to_classic = scenario.vnets[l.to.index()].deployment == Deployment::Classic;
            state[i] = if reverse.is_some() || to_classic {
                PeeringState::Connected
            } else if links
                .iter()
                .enumerate()
                .any(|(j, r)| removed[j] && r.from == l.to && r.to == l.from)
            {
                PeeringState::Disconnected
            } else {
                PeeringState::Initiated
            };
            if state[i] == PeeringState::Connected {
                let id = PeeringId(i as u32);
                edges[l.from.index()].push(Edge {
                    peer: l.to,
                    local: Some(id),
                    remote: reverse,
                });
                if to_classic {
                    // A classic VNet holds no link: the Resource Manager link serves both sides.
                    edges[l.to.index()].push(Edge {
                        peer: l.from,
                        local: None,
                        remote: Some(id),
                    });
                }
            }
        }
        let mut numbered = Vec::new();
        let mut number_of = HashMap::with_hasher(FixedState::default());
        for (v, list) in edges.iter().enumerate() {
            for &e in list {
                number_of
                    .entry((v as u32, e.peer.0))
                    .or_insert(numbered.len() as u32);
                numbered.push((VnetId(v as u32), e));
            }
        }
        Self {
            present: present.to_vec(),
            state,
            edges,
            numbered,
            number_of,
        }
    }

    /// A number for the edge `edge` leaving `from` (dense over all edges), so that a crossing
    /// can be stored in 4 bytes and replayed with [`PeeringStates::numbered_edge`].
    pub fn edge_number(&self, from: VnetId, edge: &Edge) -> Option<u32> {
        let &n = self.number_of.get(&(from.0, edge.peer.0))?;
        (self.numbered[n as usize] == (from, *edge)).then_some(n)
    }

    /// The edge of a number from [`PeeringStates::edge_number`], with the VNet it leaves.
    #[inline]
    pub fn numbered_edge(&self, number: u32) -> (VnetId, Edge) {
        self.numbered[number as usize]
    }

    /// Whether a link exists now.
    pub fn is_present(&self, link: PeeringId) -> bool {
        self.present[link.index()]
    }

    /// State of an existing link.
    pub fn state(&self, link: PeeringId) -> PeeringState {
        self.state[link.index()]
    }

    /// Connected peers of a VNet with the links joining them.
    pub fn edges(&self, vnet: VnetId) -> &[Edge] {
        &self.edges[vnet.index()]
    }

    /// The connected edge between two VNets.
    pub fn edge(&self, from: VnetId, to: VnetId) -> Option<Edge> {
        self.edges[from.index()]
            .iter()
            .copied()
            .find(|e| e.peer == to)
    }

    /// Connected peers of a VNet, each with the link that names the peering.
    pub fn connected_peers(&self, vnet: VnetId) -> impl Iterator<Item = (PeeringId, VnetId)> + '_ {
        self.edges[vnet.index()]
            .iter()
            .map(|e| (e.name_link(), e.peer))
    }

    /// The gateway a VNet sends on-premises traffic to: its own, or the remote gateway of the
    /// Connected peering that sets `use_remote_gateways` (the remote link must allow gateway
    /// transit and the remote VNet must hold a gateway).
    pub fn gateway_for(
        &self,
        scenario: &Scenario,
        vnet: VnetId,
    ) -> Option<(VnetId, Option<PeeringId>)> {
        if scenario.vnets[vnet.index()].gateway.is_some() {
            return Some((vnet, None));
        }
        self.edges[vnet.index()].iter().find_map(|e| {
            let local = &scenario.peerings[e.local?.index()];
            let remote = &scenario.peerings[e.remote?.index()];
            let ok = local.use_remote_gateways
                && remote.allow_gateway_transit
                && scenario.vnets[e.peer.index()].gateway.is_some();
            ok.then_some((e.peer, e.local))
        })
    }
}

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
}

/// An on-premises site, compiled.
#[derive(Debug)]
pub(crate) struct SitePlane {
    /// The VNet whose gateway the site connects to.
    pub gateway_vnet: VnetId,
    pub space: AddrSet,
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
}

/// 168.63.129.16, Azure's host address (AzureLoadBalancer tag).
pub const AZURE_HOST_IP: Ipv4Addr = Ipv4Addr::new(168, 63, 129, 16);

pub(crate) fn addr_key(scope: u32, ip: u32) -> u64 {
    ((scope as u64) << 32) | ip as u64
}

impl Dataplane {
    /// Compiles a scenario with every peering link present.
    pub fn compile(scenario: &Scenario) -> Self {
        Self::compile_with(scenario, PeeringStates::all_present(scenario))
    }

    /// Compiles a scenario with the given peering states (after timed events).
    pub fn compile_with(scenario: &Scenario, peerings: PeeringStates) -> Self {
        let mut nic_by_addr = HashMap::with_hasher(FixedState::default());
        for (i, nic) in scenario.nics.iter().enumerate() {
            nic_by_addr.insert(addr_key(nic.vnet.0, u32::from(nic.ip)), NicId(i as u32));
        }
        let mut host_by_addr = HashMap::with_hasher(FixedState::default());
        for (i, host) in scenario.hosts.iter().enumerate() {
            host_by_addr.insert(addr_key(host.site.0, u32::from(host.ip)), HostId(i as u32));
        }
        let sites: Vec<SitePlane> = scenario
            .sites
            .iter()
            .map(|s| SitePlane {
                gateway_vnet: s.connection,
                space: AddrSet::from_prefixes(s.address_space.iter().copied()),
            })
            .collect();

        let gateway_of: Vec<Option<(VnetId, Option<PeeringId>)>> = (0..scenario.vnets.len())
            .map(|v| peerings.gateway_for(scenario, VnetId(v as u32)))
            .collect();

        let vnets: Vec<VnetPlane> = scenario
            .vnets
            .iter()
            .enumerate()
            .map(|(v, vnet)| {
                let id = VnetId(v as u32);
                let space = AddrSet::from_prefixes(vnet.address_space.iter().copied());
                let tags = tag_sets(scenario, &peerings, &gateway_of, &sites, id, &space);
                let own_sites: Vec<(Ipv4Net, u32)> = scenario
                    .sites
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.connection == id)
                    .flat_map(|(i, s)| s.address_space.iter().map(move |p| (*p, i as u32)))
                    .collect();
                let sites = (vnet.gateway.is_some()).then(|| Lpm::new(own_sites));
                let mut advertised = space.clone();
                for (w, g) in gateway_of.iter().enumerate() {
                    if matches!(g, Some((gw, Some(_))) if *gw == id) {
                        let spoke = &scenario.vnets[w];
                        advertised = advertised
                            .union(&AddrSet::from_prefixes(spoke.address_space.iter().copied()));
                    }
                }
                VnetPlane {
                    space,
                    tags,
                    sites,
                    advertised,
                }
            })
            .collect();

        // NSGs compiled per (NSG, VNet) pair in use.
        let mut nsgs: Vec<NsgPlane> = Vec::new();
        let mut nsg_index: HashMap<(NsgId, VnetId), u32> = HashMap::new();
        let mut nsg_for = |nsg: Option<NsgId>, vnet: VnetId| -> Option<u32> {
            let nsg = nsg?;
            Some(*nsg_index.entry((nsg, vnet)).or_insert_with(|| {
                nsgs.push(NsgPlane {
                    nsg,
                    compiled: CompiledNsg::compile(
                        &scenario.nsgs[nsg.index()],
                        &vnets[vnet.index()].tags,
                    ),
                });
                (nsgs.len() - 1) as u32
            }))
        };

        let mut subnets = Vec::with_capacity(scenario.subnets.len());
        for (s, sub) in scenario.subnets.iter().enumerate() {
            let routes = crate::routes::effective_routes(scenario, &peerings, SubnetId(s as u32));
            let mut hops = Vec::new();
            let mut pairs = Vec::new();
            for (r, route) in routes.iter().enumerate() {
                if route.state != RouteState::Active {
                    continue;
                }
                let kind = resolve_hop(&peerings, &nic_by_addr, sub.vnet, route);
                pairs.push((route.prefix, hops.len() as u32));
                hops.push(Hop {
                    kind,
                    route: r as u32,
                });
            }
            subnets.push(SubnetPlane {
                lpm: Lpm::new(pairs),
                hops,
                routes,
                nsg: nsg_for(sub.nsg, sub.vnet),
            });
        }
        let nics = scenario
            .nics
            .iter()
            .map(|nic| NicPlane {
                vnet: nic.vnet,
                subnet: nic.subnet,
                ip: u32::from(nic.ip),
                ip_forwarding: nic.ip_forwarding,
                vm_forwards: scenario.vms[nic.vm.index()].forwarding,
                nsg: nsg_for(nic.nsg, nic.vnet),
            })
            .collect();
        let links = scenario
            .peerings
            .iter()
            .map(|p| LinkFlags {
                access: p.allow_virtual_network_access,
                forwarded: p.allow_forwarded_traffic,
            })
            .collect();
        Dataplane {
            access_mode: scenario.azure.virtual_network_access,
            enforce_forwarded: scenario.azure.forwarded_traffic
                == vnetsim_scenario::ForwardedTrafficMode::Enforce,
            peerings,
            links,
            vnets,
            subnets,
            nics,
            nsgs,
            sites,
            nic_by_addr,
            host_by_addr,
            gateway_subnets: scenario
                .vnets
                .iter()
                .map(|v| v.gateway.as_ref().map(|g| g.subnet))
                .collect(),
        }
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
    /// for NSGs applied there).
    pub fn tags(&self, vnet: VnetId) -> &TagSets {
        &self.vnets[vnet.index()].tags
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

fn resolve_hop(
    peerings: &PeeringStates,
    nic_by_addr: &HashMap<u64, NicId, FixedState>,
    vnet: VnetId,
    route: &EffectiveRoute,
) -> HopKind {
    match route.next_hop {
        NextHopType::None => HopKind::Drop,
        NextHopType::VnetLocal => HopKind::Local,
        NextHopType::Internet => HopKind::Internet,
        NextHopType::VNetPeering => match route.target {
            RouteTarget::Peer { vnet: peer, .. } => match peerings.edge(vnet, peer) {
                Some(edge) => HopKind::Peer(edge),
                None => HopKind::Drop,
            },
            _ => HopKind::Drop,
        },
        NextHopType::VirtualNetworkGateway => match route.target {
            RouteTarget::Gateway { vnet: gw, link } => HopKind::Gateway {
                vnet: Some(gw),
                crossing: link.and_then(|_| peerings.edge(vnet, gw)),
            },
            _ => HopKind::Gateway {
                vnet: None,
                crossing: None,
            },
        },
        NextHopType::VirtualAppliance => {
            let ip = route.next_hop_ip.map(u32::from).unwrap_or(0);
            if let Some(nic) = nic_by_addr.get(&addr_key(vnet.0, ip)) {
                return HopKind::Appliance {
                    nic: Some(*nic),
                    crossing: None,
                };
            }
            // Service chaining: the appliance may sit in a directly peered VNet (not transitive).
            for edge in peerings.edges(vnet) {
                if let Some(nic) = nic_by_addr.get(&addr_key(edge.peer.0, ip)) {
                    return HopKind::Appliance {
                        nic: Some(*nic),
                        crossing: Some(*edge),
                    };
                }
            }
            HopKind::Appliance {
                nic: None,
                crossing: None,
            }
        }
    }
}

fn private_space() -> AddrSet {
    AddrSet::from_prefixes(
        RESERVED_NONE_PREFIXES
            .iter()
            .map(|(a, l)| Ipv4Net::new(Ipv4Addr::from(*a), *l).expect("valid reserved prefix")),
    )
}

/// The service tags as seen from `vnet`.
fn tag_sets(
    scenario: &Scenario,
    peerings: &PeeringStates,
    gateway_of: &[Option<(VnetId, Option<PeeringId>)>],
    sites: &[SitePlane],
    vnet: VnetId,
    space: &AddrSet,
) -> TagSets {
    let mut vn = space.clone();
    for edge in peerings.edges(vnet) {
        // Tag mode: a link with access off takes the peer out of the tag (manage-peering 2022).
        // The flag that counts is this VNet's own link (the RM link for a classic VNet).
        let access = scenario.peerings[edge.name_link().index()].allow_virtual_network_access;
        let counts =
            access || scenario.azure.virtual_network_access == VirtualNetworkAccessMode::Block;
        if counts {
            let peer = &scenario.vnets[edge.peer.index()];
            vn = vn.union(&AddrSet::from_prefixes(peer.address_space.iter().copied()));
        }
    }
    // On-premises ranges reached through the gateway this VNet uses.
    if let Some((gw, _)) = gateway_of[vnet.index()] {
        for site in sites.iter().filter(|s| s.gateway_vnet == gw) {
            vn = vn.union(&site.space);
        }
    }
    let host = AddrSet::from_prefixes([Ipv4Net::from(AZURE_HOST_IP)]);
    let internet = AddrSet::all()
        .difference(&private_space())
        .difference(&vn)
        .difference(&host);
    TagSets {
        virtual_network: vn,
        internet,
        azure_load_balancer: host,
    }
}
