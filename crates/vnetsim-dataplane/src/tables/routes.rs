//! Effective routes of a subnet, computed as Azure computes them.
//!
//! What it is for: the list Azure shows as a NIC's "effective routes" (source, state, prefix,
//! next hop type, next hop IP), including the routes that lost (`Invalid`) and why, and the
//! compiled longest-prefix-match table built from the `Active` ones. What it is not: it does not
//! forward packets (see [`crate::forward::pipeline`]) and it does not check the scenario (the
//! loader did).
//!
//! Rules applied, from Azure's "Virtual network traffic routing" article (udr-overview):
//! - system routes: each address range of the VNet -> VnetLocal; 0.0.0.0/0 -> Internet;
//!   10/8, 172.16/12, 192.168/16, 100.64/10 -> None, except that a reserved prefix equal to an
//!   address range is replaced by the range's VnetLocal route, and one inside a larger address
//!   range is removed;
//! - peering routes (VNetPeering) for every address range of each Connected peer (as the
//!   local link was last synced with, update-address-space);
//! - gateway routes (VirtualNetworkGateway) of the local gateway or of the remote gateway used
//!   through `use_remote_gateways` (static local network gateway prefixes and BGP-learned
//!   routes, see [`crate::tables::bgp`]), unless the subnet's route table disables gateway
//!   route propagation (neither static nor BGP routes then, [UDR-live]);
//! - user routes of the subnet's route table;
//! - selection: longest prefix, then User > VirtualNetworkGateway (BGP) > Default on equal
//!   prefixes; a 0.0.0.0/0 user route removes the reserved None routes of the subnet; system
//!   routes of type VnetLocal and VNetPeering beat gateway routes even when those are more
//!   specific;
//! - private endpoint routes [PENP23]: each private endpoint adds a `/32` system route to every
//!   subnet of its VNet and of the VNets peered with it (next hop type `InterfaceEndpoint`, a
//!   name only community sources show); longest prefix lets it beat a user route 0.0.0.0/0 or
//!   one for the VNet's range. With network policies for route tables on the endpoint's subnet,
//!   a user route whose prefix lies inside the endpoint's VNet range and holds its address
//!   invalidates it ("route summarization"; 0.0.0.0/0 never does). A private endpoint's own
//!   traffic ignores its subnet's route table unless those policies include route tables
//!   ([`private_endpoint_routes`]).

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use vnetsim_scenario::{
    NextHopType, PeeringId, PrivateEndpointId, RouteTable, Scenario, SubnetId, VnetId,
};

use crate::tables::bgp::GatewayRibs;
use crate::tables::peering::PeeringStates;

/// Who created a route, as Azure's effective routes name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RouteSource {
    /// Created by Azure (system, peering routes).
    Default,
    /// Propagated by a virtual network gateway (BGP or local network gateway prefixes).
    VirtualNetworkGateway,
    /// A user-defined route.
    User,
}

impl RouteSource {
    /// Azure's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RouteSource::Default => "Default",
            RouteSource::VirtualNetworkGateway => "VirtualNetworkGateway",
            RouteSource::User => "User",
        }
    }

    /// Rank on equal prefixes: User > BGP > System.
    fn rank(self) -> u8 {
        match self {
            RouteSource::User => 2,
            RouteSource::VirtualNetworkGateway => 1,
            RouteSource::Default => 0,
        }
    }
}

/// Whether a route takes part in forwarding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RouteState {
    /// Used for forwarding.
    Active,
    /// Present but overridden; the `note` of the route says by what.
    Invalid,
}

impl RouteState {
    /// Azure's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RouteState::Active => "Active",
            RouteState::Invalid => "Invalid",
        }
    }
}

/// Where a route leads, resolved to ids (what the forwarding needs beyond the type).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RouteTarget {
    /// Nothing beyond the type (VnetLocal, Internet, None).
    Plain,
    /// A peered VNet, through the local link `link`.
    Peer {
        /// The peer VNet.
        vnet: VnetId,
        /// The local VNet's link to it.
        link: PeeringId,
    },
    /// The gateway of `vnet` (this VNet's, or a remote one through `link`).
    Gateway {
        /// The VNet that holds the gateway.
        vnet: VnetId,
        /// The local link used for gateway transit, when the gateway is remote.
        link: Option<PeeringId>,
    },
}

/// One row of a subnet's effective routes.
#[derive(Clone, Debug, PartialEq)]
pub struct EffectiveRoute {
    /// Who created it.
    pub source: RouteSource,
    /// Active or Invalid.
    pub state: RouteState,
    /// Destination prefix.
    pub prefix: Ipv4Net,
    /// Next hop type.
    pub next_hop: NextHopType,
    /// Next hop IP (appliance IP or gateway IP).
    pub next_hop_ip: Option<Ipv4Addr>,
    /// Name of the user route, or of the peering / on-premises site the route comes from.
    pub name: Option<String>,
    /// What the route leads to.
    pub target: RouteTarget,
    /// Why the route is Invalid, or which precedence exception applied.
    pub note: Option<&'static str>,
}

/// The reserved prefixes Azure routes to None by default.
pub const RESERVED_NONE_PREFIXES: [(u32, u8); 4] = [
    (0x0A00_0000, 8),  // 10.0.0.0/8
    (0xAC10_0000, 12), // 172.16.0.0/12
    (0xC0A8_0000, 16), // 192.168.0.0/16
    (0x6440_0000, 10), // 100.64.0.0/10
];

fn net(addr: u32, len: u8) -> Ipv4Net {
    Ipv4Net::new(Ipv4Addr::from(addr), len).expect("prefix length <= 32")
}

/// Whether `outer` contains `inner` (equal counts).
pub fn prefix_contains(outer: Ipv4Net, inner: Ipv4Net) -> bool {
    outer.prefix_len() <= inner.prefix_len() && outer.contains(&inner.network())
}

/// Computes the effective routes of `subnet`, in Azure's display order: system routes, gateway
/// routes, then user routes; each group in the order its source lists them.
pub fn effective_routes(
    scenario: &Scenario,
    peerings: &PeeringStates,
    subnet: SubnetId,
) -> Vec<EffectiveRoute> {
    let ribs = GatewayRibs::compute(scenario, peerings);
    effective_routes_with(scenario, peerings, &ribs, subnet)
}

/// [`effective_routes`] with the gateway routes already computed (`ribs`, from the same
/// scenario and peering states).
pub fn effective_routes_with(
    scenario: &Scenario,
    peerings: &PeeringStates,
    ribs: &GatewayRibs,
    subnet: SubnetId,
) -> Vec<EffectiveRoute> {
    let sub = &scenario.subnets[subnet.index()];
    let table = sub.route_table.map(|t| &scenario.route_tables[t.index()]);
    routes_with(scenario, peerings, ribs, subnet, table)
}

/// The routes the traffic of a private endpoint in `subnet` follows when the subnet's network
/// policies leave out route tables: the subnet's effective routes as if it had no route table
/// ("User-defined routes (UDR) traffic is bypassed from private endpoints" [PEFW25]; network
/// policies for route tables make them apply [PENP23]).
pub fn private_endpoint_routes(
    scenario: &Scenario,
    peerings: &PeeringStates,
    ribs: &GatewayRibs,
    subnet: SubnetId,
) -> Vec<EffectiveRoute> {
    routes_with(scenario, peerings, ribs, subnet, None)
}

/// The effective routes of `subnet` with `table` as its route table.
fn routes_with(
    scenario: &Scenario,
    peerings: &PeeringStates,
    ribs: &GatewayRibs,
    subnet: SubnetId,
    table: Option<&RouteTable>,
) -> Vec<EffectiveRoute> {
    let sub = &scenario.subnets[subnet.index()];
    let vnet_id = sub.vnet;
    let vnet = &scenario.vnets[vnet_id.index()];
    let mut routes = Vec::new();

    let system = |prefix, next_hop, name: Option<String>, target| EffectiveRoute {
        source: RouteSource::Default,
        state: RouteState::Active,
        prefix,
        next_hop,
        next_hop_ip: None,
        name,
        target,
        note: None,
    };

    // System routes: the VNet's own ranges.
    for range in &vnet.address_space {
        routes.push(system(
            *range,
            NextHopType::VnetLocal,
            None,
            RouteTarget::Plain,
        ));
    }
    // Peering routes, Connected peerings only.
    // A link not synced since its peer changed its address space routes the old ranges only
    // [update-address-space].
    for (link, peer) in peerings.connected_peers(vnet_id) {
        for range in peerings.peer_space(scenario, vnet_id, link, peer) {
            routes.push(system(
                *range,
                NextHopType::VNetPeering,
                Some(scenario.peerings[link.index()].name.clone()),
                RouteTarget::Peer { vnet: peer, link },
            ));
        }
    }
    // Private endpoint routes: a /32 per endpoint of this VNet and of each Connected peer
    // [PENP23] (no scenario without private endpoints pays more than an empty loop).
    let mut endpoint_routes: Vec<(usize, PrivateEndpointId)> = Vec::new();
    if !scenario.private_endpoints.is_empty() {
        let mut add = |routes: &mut Vec<EffectiveRoute>, vnet: VnetId, target: RouteTarget| {
            for (i, pe) in scenario.private_endpoints.iter().enumerate() {
                if pe.vnet == vnet {
                    endpoint_routes.push((routes.len(), PrivateEndpointId(i as u32)));
                    routes.push(system(
                        Ipv4Net::from(pe.ip),
                        NextHopType::InterfaceEndpoint,
                        Some(pe.name.to_string()),
                        target,
                    ));
                }
            }
        };
        add(&mut routes, vnet_id, RouteTarget::Plain);
        for (link, peer) in peerings.connected_peers(vnet_id) {
            add(&mut routes, peer, RouteTarget::Peer { vnet: peer, link });
        }
    }
    // Gateway routes.
    let propagate = !table.is_some_and(|t| t.disable_gateway_route_propagation);
    // Static (local network gateway) and BGP-learned routes of the gateways the VNet uses,
    // one row per prefix and gateway, the ExpressRoute gateway's first [ERCOEX18], [VPNFAQ26].
    if propagate && let Some((gw_vnet, link)) = peerings.gateway_for(scenario, vnet_id) {
        let holder = &scenario.vnets[gw_vnet.index()];
        for r in ribs.of(gw_vnet) {
            let gw = [holder.gateway.as_ref(), holder.expressroute.as_ref()]
                .into_iter()
                .flatten()
                .find(|g| g.kind == r.gateway)
                .or(holder.gateway.as_ref());
            routes.push(EffectiveRoute {
                source: RouteSource::VirtualNetworkGateway,
                state: RouteState::Active,
                prefix: r.prefix,
                next_hop: NextHopType::VirtualNetworkGateway,
                next_hop_ip: gw.map(|g| g.ip),
                name: Some(scenario.connections[r.connection as usize].name.clone()),
                target: RouteTarget::Gateway {
                    vnet: gw_vnet,
                    link,
                },
                note: None,
            });
        }
    }
    // Default route and reserved None routes.
    routes.push(system(
        net(0, 0),
        NextHopType::Internet,
        None,
        RouteTarget::Plain,
    ));
    let user_default = table.is_some_and(|t| t.routes.iter().any(|r| r.prefix.prefix_len() == 0));
    if !user_default {
        for (addr, len) in RESERVED_NONE_PREFIXES {
            let reserved = net(addr, len);
            // Equal to an address range: the range's VnetLocal route stands in its place.
            // Inside a larger range: removed. (udr-overview, "Default" section.)
            if vnet
                .address_space
                .iter()
                .any(|r| prefix_contains(*r, reserved))
            {
                continue;
            }
            routes.push(system(
                reserved,
                NextHopType::None,
                None,
                RouteTarget::Plain,
            ));
        }
    }
    // User routes.
    if let Some(table) = table {
        for r in &table.routes {
            let target = match r.next_hop {
                NextHopType::VirtualNetworkGateway => match peerings.gateway_for(scenario, vnet_id)
                {
                    Some((vnet, link)) => RouteTarget::Gateway { vnet, link },
                    None => RouteTarget::Plain,
                },
                _ => RouteTarget::Plain,
            };
            let next_hop_ip = match (r.next_hop, target) {
                (NextHopType::VirtualNetworkGateway, RouteTarget::Gateway { vnet, .. }) => {
                    scenario.vnets[vnet.index()].gateway.as_ref().map(|g| g.ip)
                }
                _ => r.next_hop_ip,
            };
            routes.push(EffectiveRoute {
                source: RouteSource::User,
                state: RouteState::Active,
                prefix: r.prefix,
                next_hop: r.next_hop,
                next_hop_ip,
                name: Some(r.name.clone()),
                target,
                note: None,
            });
        }
    }

    select(&mut routes);
    summarize(scenario, &mut routes, &endpoint_routes);
    routes
}

/// Route summarization [PENP23]: with network policies for route tables on a private
/// endpoint's subnet, an active user route whose prefix lies inside the endpoint's VNet
/// address range and holds the endpoint's address invalidates the endpoint's `/32` route. The
/// page's wording of the prefix changed between versions ("equal to or larger than the virtual
/// network address space", then "equal to or smaller"); every version says 0.0.0.0/0 never
/// does, and vnetsim reads a prefix inside the VNet's range (derived, azure-current 8.4).
fn summarize(
    scenario: &Scenario,
    routes: &mut [EffectiveRoute],
    endpoint_routes: &[(usize, PrivateEndpointId)],
) {
    for &(i, pe) in endpoint_routes {
        let pe = &scenario.private_endpoints[pe.index()];
        let policies = scenario.subnets[pe.subnet.index()].private_endpoint_network_policies;
        if routes[i].state != RouteState::Active || !policies.route_table() {
            continue;
        }
        let ranges = &scenario.vnets[pe.vnet.index()].address_space;
        let summarizes = routes.iter().any(|u| {
            u.source == RouteSource::User
                && u.state == RouteState::Active
                && u.prefix.prefix_len() > 0
                && u.prefix.contains(&pe.ip)
                && ranges.iter().any(|r| prefix_contains(*r, u.prefix))
        });
        if summarizes {
            routes[i].state = RouteState::Invalid;
            routes[i].note = Some(
                "invalidated by a user route summarizing the private endpoint's VNet range: \
                 network policies include route tables on the endpoint's subnet (PENP23)",
            );
        }
    }
}

/// Whether route `b` (at index `bi`) beats route `a` (at `ai`) on an equal prefix.
fn beats(b: &EffectiveRoute, bi: usize, a: &EffectiveRoute, ai: usize) -> bool {
    let vnet_system = |r: &EffectiveRoute| {
        r.source == RouteSource::Default
            && matches!(
                r.next_hop,
                NextHopType::VnetLocal | NextHopType::VNetPeering
            )
    };
    // Exception: VNet and peering system routes beat BGP routes (udr-overview).
    if vnet_system(b) && a.source == RouteSource::VirtualNetworkGateway {
        return true;
    }
    if vnet_system(a) && b.source == RouteSource::VirtualNetworkGateway {
        return false;
    }
    b.source.rank() > a.source.rank() || (b.source.rank() == a.source.rank() && bi < ai)
}

/// Marks the losers of Azure's selection rules `Invalid`.
fn select(routes: &mut [EffectiveRoute]) {
    // Equal prefixes: User > VirtualNetworkGateway > Default; among equals the first listed wins.
    for i in 0..routes.len() {
        // The note names the route that wins the prefix, not merely the first one that beats
        // this route: with Default, gateway and user routes on one prefix, the Default route is
        // Invalid because of the user route (udr-overview, worked example: ID 8 "invalidated by
        // ID 9").
        let mut winner: Option<usize> = None;
        for j in 0..routes.len() {
            if i == j || routes[i].prefix != routes[j].prefix {
                continue;
            }
            if beats(&routes[j], j, &routes[i], i)
                && winner.is_none_or(|w| beats(&routes[j], j, &routes[w], w))
            {
                winner = Some(j);
            }
        }
        if let Some(j) = winner {
            routes[i].state = RouteState::Invalid;
            routes[i].note = Some(match (routes[j].source, routes[i].source) {
                (RouteSource::User, _) => "overridden by a user route with the same prefix",
                (RouteSource::VirtualNetworkGateway, RouteSource::VirtualNetworkGateway) => {
                    "another gateway route with the same prefix wins: one route per prefix, \
                     ExpressRoute over site-to-site VPN (ERCOEX18)"
                }
                (RouteSource::VirtualNetworkGateway, _) => {
                    "overridden by a gateway route with the same prefix (BGP > System)"
                }
                (RouteSource::Default, RouteSource::VirtualNetworkGateway) => {
                    "a VnetLocal/VNetPeering system route with the same prefix: Azure \
                     prefers those over BGP routes"
                }
                _ => "duplicate prefix: an earlier route of the same source wins",
            });
        }
    }
    // Exception: system routes for the VNet and its peerings are preferred over gateway (BGP)
    // routes even when those are more specific (udr-overview, "How Azure selects a route").
    for i in 0..routes.len() {
        if routes[i].source != RouteSource::VirtualNetworkGateway
            || routes[i].state != RouteState::Active
        {
            continue;
        }
        let shadowed = routes.iter().any(|s| {
            s.source == RouteSource::Default
                && s.state == RouteState::Active
                && matches!(
                    s.next_hop,
                    NextHopType::VnetLocal | NextHopType::VNetPeering
                )
                && prefix_contains(s.prefix, routes[i].prefix)
        });
        if shadowed {
            routes[i].state = RouteState::Invalid;
            routes[i].note = Some(
                "a VnetLocal/VNetPeering system route covers it: Azure prefers those over \
                 more specific BGP routes",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NET: &str = r#"
name: pe-routes
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    subnets:
      - { name: app, prefix: 10.0.1.0/24, route_table: rt }
      - { name: pe, prefix: 10.0.3.0/24, route_table: rt, private_endpoint_network_policies: POLICIES }
  - name: spoke
    address_space: [10.1.0.0/16]
    subnets: [ { name: app, prefix: 10.1.1.0/24 } ]
private_endpoints:
  - { name: sql-pe, subnet: hub/pe, service: sql.database.windows.net }
route_tables:
  - name: rt
    routes:
      - { name: all, prefix: 0.0.0.0/0, next_hop: None }
      - { name: hub, prefix: 10.0.0.0/16, next_hop: None }
peerings:
  - { name: a, from: hub, to: spoke }
  - { name: b, from: spoke, to: hub }
"#;

    fn load(policies: &str) -> Scenario {
        vnetsim_scenario::load_str(&NET.replace("POLICIES", policies), "t.yaml")
            .unwrap_or_else(|e| panic!("{}", e.render(false)))
    }

    fn endpoint_route(routes: &[EffectiveRoute]) -> &EffectiveRoute {
        routes
            .iter()
            .find(|r| r.next_hop == NextHopType::InterfaceEndpoint)
            .expect("a /32 route")
    }

    #[test]
    fn penp23_summarization_marks_the_32_invalid_only_with_route_table_policies() {
        for (policies, state) in [
            ("disabled", RouteState::Active),
            ("route_table_enabled", RouteState::Invalid),
        ] {
            let sc = load(policies);
            let peerings = PeeringStates::all_present(&sc);
            let app = sc.subnet_by_path("hub/app").unwrap();
            let routes = effective_routes(&sc, &peerings, app);
            let r = endpoint_route(&routes);
            assert_eq!(r.state, state, "{policies}");
            assert_eq!(r.prefix.to_string(), "10.0.3.4/32");
            assert_eq!(r.source, RouteSource::Default);
            assert_eq!(r.name.as_deref(), Some("sql-pe"));
            // The peer's routes hold it too, through the peering, with no user route there.
            let spoke = sc.subnet_by_path("spoke/app").unwrap();
            let routes = effective_routes(&sc, &peerings, spoke);
            let r = endpoint_route(&routes);
            assert_eq!(r.state, RouteState::Active);
            assert!(matches!(r.target, RouteTarget::Peer { .. }));
        }
    }

    #[test]
    fn pefw25_the_endpoints_own_routes_leave_out_its_subnets_route_table() {
        let sc = load("disabled");
        let peerings = PeeringStates::all_present(&sc);
        let pe = sc.subnet_by_path("hub/pe").unwrap();
        let with = effective_routes(&sc, &peerings, pe);
        let ribs = GatewayRibs::compute(&sc, &peerings);
        let without = private_endpoint_routes(&sc, &peerings, &ribs, pe);
        assert!(with.iter().any(|r| r.source == RouteSource::User));
        assert!(without.iter().all(|r| r.source != RouteSource::User));
        // Without the table's 0.0.0.0/0 the reserved None routes come back.
        assert!(
            without
                .iter()
                .any(|r| r.next_hop == NextHopType::None && r.prefix.prefix_len() == 12)
        );
        assert!(
            without
                .iter()
                .any(|r| r.prefix.to_string() == "0.0.0.0/0" && r.state == RouteState::Active)
        );
    }
}
