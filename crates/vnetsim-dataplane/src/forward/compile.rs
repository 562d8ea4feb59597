//! Compiling a scenario into the network the forwarding decision reads.
//!
//! What it is for: turning a checked [`Scenario`] (and which peering links exist right now) into
//! per-subnet effective routes with their compiled LPM tables, per-(NSG, VNet) compiled rules
//! with resolved service tags (per (NSG, VNet, route table) with the current VirtualNetwork
//! tag, which holds the prefixes of the subnet's user-defined routes), an address-to-NIC map,
//! private endpoints (where they deliver, the NSG their subnet's network policies apply, the
//! routes of their answers) and peering states (the tables of
//! [`crate::tables`], joined up). What it is not: it holds no per-flow state (see
//! [`crate::forward::pipeline::FlowTable`]) and does not change in place: a timed event builds
//! a new [`Dataplane`].

use std::collections::HashMap;
use std::net::Ipv4Addr;

use foldhash::fast::FixedState;
use ipnet::Ipv4Net;
use vnetsim_scenario::{
    FirewallId, HostId, NextHopType, NicId, NsgId, PeeringId, PrivateEndpointId, RouteTableId,
    Scenario, SubnetId, VirtualNetworkAccessMode, VirtualNetworkTagMode, VnetId,
};

use super::{
    AZURE_HOST_IP, Dataplane, EndpointPlane, FirewallPlane, Hop, HopKind, LinkFlags, NicPlane,
    NsgPlane, PublicOwner, SitePlane, SubnetPlane, VnetPlane, addr_key,
};
use crate::forward::lb::LbPlanes;
use crate::tables::bgp::GatewayRibs;
use crate::tables::firewall::CompiledFirewall;
use crate::tables::peering::PeeringStates;

use crate::tables::addrset::AddrSet;
use crate::tables::asg::AsgSets;
use crate::tables::lpm::Lpm;
use crate::tables::nsg::{CompiledNsg, TagSets};
use crate::tables::routes::{EffectiveRoute, RESERVED_NONE_PREFIXES, RouteState, RouteTarget};

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
        // Gateway routes: static connections and the BGP fixed point [VPNFAQ26].
        let bgp = GatewayRibs::compute(scenario, &peerings);
        let sites: Vec<SitePlane> = (0..scenario.sites.len())
            .map(|s| SitePlane {
                gateway_vnet: bgp.site_gateway[s],
                reach: bgp.site_reach[s]
                    .as_ref()
                    .map(|p| AddrSet::from_prefixes(p.iter().copied())),
            })
            .collect();

        let gateway_of: Vec<Option<(VnetId, Option<PeeringId>)>> = (0..scenario.vnets.len())
            .map(|v| peerings.gateway_for(scenario, VnetId(v as u32)))
            .collect();

        // Application security groups: the same member addresses in every VNet [ASG20].
        let asgs = AsgSets::of(scenario);
        let vnets: Vec<VnetPlane> = scenario
            .vnets
            .iter()
            .enumerate()
            .map(|(v, vnet)| {
                let id = VnetId(v as u32);
                let space = AddrSet::from_prefixes(vnet.address_space.iter().copied());
                let mut tags = tag_sets(scenario, &peerings, &bgp, gateway_of[v], id);
                tags.application_security_groups = asgs.clone();
                // The gateways' table: the first route of each prefix (ExpressRoute first),
                // as in the subnets' effective routes (the Lpm keeps the last of a repeat).
                let routes = bgp.of(id);
                let own_routes: Vec<(Ipv4Net, u32)> = routes
                    .iter()
                    .enumerate()
                    .rev()
                    .map(|(i, r)| (r.prefix, i as u32))
                    .collect();
                let sites = (vnet.gateway.is_some()).then(|| Lpm::new(own_routes));
                let mut advertised = space.clone();
                for (w, g) in gateway_of.iter().enumerate() {
                    if matches!(g, Some((gw, Some(_))) if *gw == id) {
                        // The spoke's ranges as this VNet's link knows them (synced or not,
                        // update-address-space).
                        let spoke = VnetId(w as u32);
                        let ranges = match peerings.edge(id, spoke) {
                            Some(e) => peerings.peer_space(scenario, id, e.name_link(), spoke),
                            None => &scenario.vnets[w].address_space,
                        };
                        advertised =
                            advertised.union(&AddrSet::from_prefixes(ranges.iter().copied()));
                    }
                }
                let peered = vnet
                    .gateway
                    .is_some()
                    .then(|| peered_ranges(scenario, &peerings, id));
                VnetPlane {
                    space,
                    tags,
                    sites,
                    advertised,
                    peered,
                    firewall: vnet
                        .firewall
                        .map(|f| (u32::from(scenario.firewalls[f.index()].ip), f)),
                }
            })
            .collect();

        // NSGs compiled per (NSG, VNet) pair in use; with the current VirtualNetwork tag per
        // (NSG, VNet, route table of the subnet): the tag holds the prefixes of the subnet's
        // user-defined routes [service-tags] 2021+. The subnet is the NSG's own (subnet NSG) or
        // the NIC's (NIC NSG). With the 2016 tag the route table is left out of the key, so an
        // NSG compiles once per VNet as it always did.
        let current = scenario.azure.virtual_network_tag == VirtualNetworkTagMode::Current;
        let mut nsgs: Vec<NsgPlane> = Vec::new();
        type NsgKey = (NsgId, VnetId, Option<RouteTableId>);
        let mut nsg_index: HashMap<NsgKey, u32> = HashMap::new();
        let mut nsg_for = |nsg: Option<NsgId>, subnet: SubnetId| -> Option<u32> {
            let nsg = nsg?;
            let sub = &scenario.subnets[subnet.index()];
            let vnet = sub.vnet;
            let table = if current { sub.route_table } else { None };
            Some(*nsg_index.entry((nsg, vnet, table)).or_insert_with(|| {
                let vnet_tags = &vnets[vnet.index()].tags;
                let subnet_tags;
                let tags = if current {
                    let prefixes = virtual_network_prefixes(
                        scenario,
                        &peerings,
                        &bgp,
                        gateway_of[vnet.index()],
                        vnet,
                        Some(table),
                    );
                    subnet_tags = TagSets {
                        virtual_network: AddrSet::from_prefixes(prefixes),
                        ..vnet_tags.clone()
                    };
                    &subnet_tags
                } else {
                    vnet_tags
                };
                nsgs.push(NsgPlane {
                    nsg,
                    compiled: CompiledNsg::compile(&scenario.nsgs[nsg.index()], tags),
                });
                (nsgs.len() - 1) as u32
            }))
        };

        let plane =
            |routes: Vec<EffectiveRoute>, vnet: VnetId, nsg: Option<u32>, default_outbound| {
                let mut hops = Vec::new();
                let mut pairs = Vec::new();
                for (r, route) in routes.iter().enumerate() {
                    if route.state != RouteState::Active {
                        continue;
                    }
                    let kind = resolve_hop(&peerings, &nic_by_addr, &vnets, vnet, route);
                    pairs.push((route.prefix, hops.len() as u32));
                    hops.push(Hop {
                        kind,
                        route: r as u32,
                    });
                }
                SubnetPlane {
                    lpm: Lpm::new(pairs),
                    hops,
                    routes,
                    nsg,
                    default_outbound,
                }
            };
        let mut subnets = Vec::with_capacity(scenario.subnets.len());
        for (s, sub) in scenario.subnets.iter().enumerate() {
            let routes = crate::tables::routes::effective_routes_with(
                scenario,
                &peerings,
                &bgp,
                SubnetId(s as u32),
            );
            let nsg = nsg_for(sub.nsg, SubnetId(s as u32));
            subnets.push(plane(routes, sub.vnet, nsg, sub.default_outbound_access));
        }
        // Private endpoints: where they deliver, the subnet NSG that filters traffic to them
        // (network policies for NSGs), and the routes their answers follow (without the
        // subnet's route table unless network policies include route tables) [PENP23].
        let mut endpoint_by_addr = HashMap::with_hasher(FixedState::default());
        let mut endpoints = Vec::with_capacity(scenario.private_endpoints.len());
        for (i, pe) in scenario.private_endpoints.iter().enumerate() {
            endpoint_by_addr
                .entry(addr_key(pe.vnet.0, u32::from(pe.ip)))
                .or_insert(PrivateEndpointId(i as u32));
            let sub = &scenario.subnets[pe.subnet.index()];
            let policies = sub.private_endpoint_network_policies;
            let routes = (sub.route_table.is_some() && !policies.route_table()).then(|| {
                let routes = crate::tables::routes::private_endpoint_routes(
                    scenario, &peerings, &bgp, pe.subnet,
                );
                plane(routes, sub.vnet, None, sub.default_outbound_access)
            });
            endpoints.push(EndpointPlane {
                vnet: pe.vnet,
                subnet: pe.subnet,
                nsg: if policies.nsg() {
                    subnets[pe.subnet.index()].nsg
                } else {
                    None
                },
                routes,
            });
        }
        let nics: Vec<NicPlane> = scenario
            .nics
            .iter()
            .map(|nic| NicPlane {
                vnet: nic.vnet,
                subnet: nic.subnet,
                ip: u32::from(nic.ip),
                ip_forwarding: nic.ip_forwarding,
                vm_forwards: scenario.vms[nic.vm.index()].forwarding,
                nsg: nsg_for(nic.nsg, nic.subnet),
                public_ip: nic.public_ip.map(|p| u32::from(p.ip)),
                public_sku: nic.public_ip.map(|p| p.sku),
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
        let firewalls: Vec<FirewallPlane> = (0..scenario.firewalls.len())
            .map(|f| FirewallPlane {
                compiled: CompiledFirewall::compile(scenario, FirewallId(f as u32)),
            })
            .collect();
        let mut public = HashMap::with_hasher(FixedState::default());
        for (i, nic) in scenario.nics.iter().enumerate() {
            if let Some(p) = nic.public_ip {
                public.insert(u32::from(p.ip), PublicOwner::Nic(NicId(i as u32)));
            }
        }
        for (f, fw) in scenario.firewalls.iter().enumerate() {
            for ip in &fw.public_ips {
                public.insert(u32::from(*ip), PublicOwner::Firewall(FirewallId(f as u32)));
            }
        }
        let lb = LbPlanes::compile(scenario, &nics, |s| subnets[s].nsg, &nsgs);
        for &(ip, fe) in &lb.public {
            public.insert(ip, PublicOwner::LoadBalancer(fe));
        }
        // A VirtualAppliance route to an internal frontend's IP (no NIC holds it): the load
        // balancer is the next hop [udr-overview], [LBHA17].
        for (s, plane) in subnets.iter_mut().enumerate() {
            let vnet = scenario.subnets[s].vnet;
            for hop in plane.hops.iter_mut() {
                if let HopKind::Appliance { nic: None, .. } = hop.kind {
                    let ip = plane.routes[hop.route as usize]
                        .next_hop_ip
                        .map(u32::from)
                        .unwrap_or(0);
                    if let Some(fe) = lb.internal_at(vnet, ip) {
                        hop.kind = HopKind::LoadBalancer { fe, crossing: None };
                    } else if let Some((edge, fe)) = peerings
                        .edges(vnet)
                        .iter()
                        .find_map(|e| lb.internal_at(e.peer, ip).map(|fe| (*e, fe)))
                    {
                        hop.kind = HopKind::LoadBalancer {
                            fe,
                            crossing: Some(edge),
                        };
                    }
                }
            }
        }
        Dataplane {
            endpoints,
            endpoint_by_addr,
            lb,
            firewalls,
            public,
            access_mode: scenario.azure.virtual_network_access,
            enforce_forwarded: scenario.azure.forwarded_traffic
                == vnetsim_scenario::ForwardedTrafficMode::Enforce,
            peerings,
            bgp,
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
            subnet_broadcasts: {
                let mut b: Vec<u32> = scenario
                    .subnets
                    .iter()
                    .map(|s| u32::from(s.prefix.broadcast()))
                    .collect();
                b.sort_unstable();
                b.dedup();
                b
            },
        }
    }
}

/// The address ranges of the Connected peers of `vnet`, each to its peer: where the VPN gateway
/// of `vnet` forwards what user routes send it (manage-peering 2022: "a VPN gateway can forward
/// network traffic between virtual networks that are peered with the virtual network the
/// gateway is in").
fn peered_ranges(scenario: &Scenario, peerings: &PeeringStates, vnet: VnetId) -> Lpm<u32> {
    Lpm::new(peerings.connected_peers(vnet).flat_map(|(link, peer)| {
        peerings
            .peer_space(scenario, vnet, link, peer)
            .iter()
            .map(move |p| (*p, peer.0))
    }))
}

fn resolve_hop(
    peerings: &PeeringStates,
    nic_by_addr: &HashMap<u64, NicId, FixedState>,
    vnets: &[VnetPlane],
    vnet: VnetId,
    route: &EffectiveRoute,
) -> HopKind {
    match route.next_hop {
        NextHopType::None => HopKind::Drop,
        NextHopType::VnetLocal => HopKind::Local,
        NextHopType::Internet => HopKind::Internet,
        // A private endpoint's /32: in this VNet, or in a connected peer [PENP23].
        NextHopType::InterfaceEndpoint => match route.target {
            RouteTarget::Peer { vnet: peer, .. } => match peerings.edge(vnet, peer) {
                Some(edge) => HopKind::Peer(edge),
                None => HopKind::Drop,
            },
            _ => HopKind::Local,
        },
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
            // An Azure Firewall's private IP, in this VNet or a directly peered one: user
            // routes point at it with next hop type VirtualAppliance [FWFAQ23].
            let firewall_at = |v: VnetId| vnets[v.index()].firewall.filter(|(a, _)| *a == ip);
            if let Some((_, fw)) = firewall_at(vnet) {
                return HopKind::Firewall { fw, crossing: None };
            }
            for edge in peerings.edges(vnet) {
                if let Some((_, fw)) = firewall_at(edge.peer) {
                    return HopKind::Firewall {
                        fw,
                        crossing: Some(*edge),
                    };
                }
            }
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

/// The prefixes of the VirtualNetwork service tag, as Azure lists the tag's expansion: each
/// prefix as written, in this order, an exact repeat listed once, nothing merged.
///
/// - Both definitions: the VNet's address ranges, the ranges of its Connected peers (a link
///   with access off takes its peer out under `virtual_network_access: tag`, manage-peering
///   2022), and the on-premises ranges of the sites behind the gateway the VNet uses (its own,
///   or the remote one through `use_remote_gateways`) [nsg-overview] 2016-2018.
/// - `current_for: Some(route_table)` (the current definition, for a subnet with that route
///   table): also the host's virtual IP 168.63.129.16/32 and every prefix of the route table's
///   user-defined routes [service-tags] 2021+ ("address prefixes used on user-defined routes";
///   "This tag might also contain default routes": vnetsim puts a 0.0.0.0/0 route's prefix in
///   the tag as written, derived).
fn virtual_network_prefixes(
    scenario: &Scenario,
    peerings: &PeeringStates,
    bgp: &GatewayRibs,
    gateway: Option<(VnetId, Option<PeeringId>)>,
    vnet: VnetId,
    current_for: Option<Option<RouteTableId>>,
) -> Vec<Ipv4Net> {
    let mut out: Vec<Ipv4Net> = Vec::new();
    let mut push = |p: Ipv4Net| {
        if !out.contains(&p) {
            out.push(p);
        }
    };
    scenario.vnets[vnet.index()]
        .address_space
        .iter()
        .for_each(|p| push(*p));
    for edge in peerings.edges(vnet) {
        // Tag mode: a link with access off takes the peer out of the tag (manage-peering 2022).
        // The flag that counts is this VNet's own link (the RM link for a classic VNet).
        let access = scenario.peerings[edge.name_link().index()].allow_virtual_network_access;
        let counts =
            access || scenario.azure.virtual_network_access == VirtualNetworkAccessMode::Block;
        if counts {
            // The peer's ranges as this VNet's link knows them: until the link is synced after
            // an address-space change, the old ones (update-address-space 2022).
            peerings
                .peer_space(scenario, vnet, edge.name_link(), edge.peer)
                .iter()
                .for_each(|p| push(*p));
        }
    }
    // On-premises ranges (and VNets connected to it) reached through the gateway this VNet
    // uses: its gateway routes, static and BGP-learned ([security-overview] 2018: "all
    // connected on-premises address spaces ... and VNets connected to a virtual network
    // gateway"); a BGP default route is left out (derived: it would make every address
    // VirtualNetwork).
    if let Some((gw, _)) = gateway {
        for r in bgp.of(gw) {
            if r.prefix.prefix_len() > 0 {
                push(r.prefix);
            }
        }
    }
    if let Some(table) = current_for {
        push(Ipv4Net::from(AZURE_HOST_IP));
        if let Some(t) = table {
            for route in &scenario.route_tables[t.index()].routes {
                push(route.prefix);
            }
        }
    }
    out
}

impl Dataplane {
    /// The prefixes of the VirtualNetwork service tag for NSGs applied at `subnet` (its subnet
    /// NSG and its NICs' NSGs), as Azure lists the tag's expansion: VNet ranges, peer ranges,
    /// on-premises ranges, and with `azure.virtual_network_tag: current` 168.63.129.16/32 and
    /// each prefix of the subnet's user-defined routes, as written (not merged)
    /// [service-tags] 2021+. `scenario` is the one this data plane was compiled from.
    pub fn virtual_network_tag(&self, scenario: &Scenario, subnet: SubnetId) -> Vec<Ipv4Net> {
        let sub = &scenario.subnets[subnet.index()];
        let current = scenario.azure.virtual_network_tag == VirtualNetworkTagMode::Current;
        virtual_network_prefixes(
            scenario,
            &self.peerings,
            &self.bgp,
            self.peerings.gateway_for(scenario, sub.vnet),
            sub.vnet,
            current.then_some(sub.route_table),
        )
    }
}

/// The service tags as seen from `vnet` (the VirtualNetwork tag's 2016-2018 definition; the
/// current one is made per subnet from it, see [`Dataplane::compile_with`]).
fn tag_sets(
    scenario: &Scenario,
    peerings: &PeeringStates,
    bgp: &GatewayRibs,
    gateway: Option<(VnetId, Option<PeeringId>)>,
    vnet: VnetId,
) -> TagSets {
    let vn = AddrSet::from_prefixes(virtual_network_prefixes(
        scenario, peerings, bgp, gateway, vnet, None,
    ));
    let host = AddrSet::from_prefixes([Ipv4Net::from(AZURE_HOST_IP)]);
    // Internet (derived): everything outside the private ranges, the VirtualNetwork tag and
    // the host address. It keeps this per-VNet definition with the current VirtualNetwork
    // tag: a user-defined route's prefix does not leave the Internet tag.
    let internet = AddrSet::all()
        .difference(&private_space())
        .difference(&vn)
        .difference(&host);
    TagSets {
        virtual_network: vn,
        internet,
        azure_load_balancer: host,
        application_security_groups: AsgSets::default(),
    }
}
