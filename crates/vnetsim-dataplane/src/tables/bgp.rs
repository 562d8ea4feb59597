//! Gateway routes: what each VNet's gateways know, from static connections and from BGP.
//!
//! What it is for: the routes a VNet's virtual network gateways put into its subnets (and into
//! the spokes that use them through gateway transit) and forward by, computed once per compiled
//! network, deterministically, as a BGP fixed point [VPNFAQ26]:
//! - a site-to-site connection gives the gateway one static route per prefix of the site's
//!   local network gateway; with BGP these stay static routes beside the BGP ones;
//! - a VNet-to-VNet link (both connection resources present) without BGP on both gives each
//!   gateway the other VNet's address space as static routes: no transit;
//! - an ExpressRoute connection gives the ExpressRoute gateway the site's prefixes (and, with
//!   BGP settings on the site, what it advertises); no transit between ExpressRoute and
//!   site-to-site [ERCOEX18];
//! - BGP sessions (a BGP site-to-site connection; a VNet-to-VNet link with BGP on both
//!   connections) exchange paths: a VPN gateway advertises its VNet's ranges, the ranges of
//!   the spokes that use it (gateway transit), its local network gateways' prefixes, and what
//!   it learned by BGP except the default route and routes that overlap its VNet; a site
//!   advertises its `advertises` prefixes and passes on what it learned. A receiver prepends
//!   the sender's ASN and refuses a path holding its own (loop prevention); the shortest AS
//!   path wins, then the first session in file order (derived: the FAQ honours AS-path
//!   prepending, which needs shortest-path selection; it names no further tie-breaker). One
//!   route per prefix per gateway; a static route of the same prefix wins (derived). So
//!   transit through VNet-to-VNet links happens only where every hop runs BGP.
//!
//! What it is not: the selection among a subnet's routes (User > BGP > System, VNet and
//! peering system routes first: [`crate::tables::routes`]) or the forwarding itself; nothing
//! here runs per packet.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use vnetsim_scenario::sizes::GatewayKind;
use vnetsim_scenario::{
    AZURE_DEFAULT_ASN, ConnectionKind, ConnectionPeer, Scenario, SiteId, VnetId,
};

use crate::tables::peering::PeeringStates;
use crate::tables::routes::prefix_contains;

/// Where a gateway sends what a route matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GatewayNext {
    /// Over the connection to this site.
    Site(SiteId),
    /// Over a VNet-to-VNet connection to the VPN gateway of this VNet.
    Gateway(VnetId),
}

/// How a gateway knows a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RouteOrigin {
    /// A prefix of a local network gateway, or of the remote VNet of a VNet-to-VNet link
    /// without BGP.
    Static,
    /// Learned over BGP (its AS path in [`GatewayRoute::as_path`]).
    Bgp,
}

/// One route of a VNet's gateways.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayRoute {
    /// Destination prefix.
    pub prefix: Ipv4Net,
    /// Which of the VNet's gateways holds it.
    pub gateway: GatewayKind,
    /// The connection it goes out on (index into [`Scenario::connections`]).
    pub connection: u32,
    /// Where it leads.
    pub next: GatewayNext,
    /// Static or BGP.
    pub origin: RouteOrigin,
    /// The AS path as received (nearest AS first); empty for static routes.
    pub as_path: Vec<u32>,
    /// From a site's `connection` shorthand (no connection resource of its own to name).
    pub shorthand: bool,
}

impl GatewayRoute {
    /// The AS path written as Azure's learned routes show it (`65020 65050`), or `None` for a
    /// static route.
    pub fn as_path_text(&self) -> Option<String> {
        (self.origin == RouteOrigin::Bgp).then(|| {
            self.as_path
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        })
    }
}

/// The gateway routes of every VNet, and what BGP sites may send, for one compiled network.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GatewayRibs {
    /// Per VNet: its gateways' routes, the ExpressRoute gateway's first (it wins an equal
    /// prefix [ERCOEX18]); each gateway's static routes in connection order, then its BGP
    /// routes by prefix.
    pub routes: Vec<Vec<GatewayRoute>>,
    /// Per VNet: the prefixes its VPN gateway advertises over BGP (empty without a session).
    pub advertised: Vec<Vec<Ipv4Net>>,
    /// Per site: the VNet whose gateway its packets enter (its first connection present).
    pub site_gateway: Vec<Option<VnetId>>,
    /// Per site with BGP sessions: the prefixes it learned, where it may send (`None`: a
    /// static site, which reaches what its gateway's VNet and spokes hold).
    pub site_reach: Vec<Option<Vec<Ipv4Net>>>,
}

/// A BGP speaker: a VNet's VPN gateway or a site.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Speaker {
    Gateway(VnetId),
    Site(SiteId),
}

/// A BGP session, with the connection each end owns towards the other (a site owns none).
#[derive(Clone, Copy, Debug)]
struct Session {
    a: Speaker,
    b: Speaker,
    conn_a: Option<u32>,
    conn_b: Option<u32>,
}

impl Session {
    fn other(&self, me: Speaker) -> Speaker {
        if self.a == me { self.b } else { self.a }
    }
    fn conn_of(&self, me: Speaker) -> Option<u32> {
        if self.a == me {
            self.conn_a
        } else {
            self.conn_b
        }
    }
}

/// A speaker's best path to a prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Best {
    path: Vec<u32>,
    /// The session it was learned over (`None`: originated here).
    via: Option<usize>,
}

impl Best {
    fn better_than(&self, other: &Best) -> bool {
        match (self.via, other.via) {
            (None, _) => true,
            (_, None) => false,
            (Some(a), Some(b)) => {
                (self.path.len(), a, &self.path) < (other.path.len(), b, &other.path)
            }
        }
    }
}

/// 0.0.0.0/0.
fn default_route() -> Ipv4Net {
    Ipv4Net::new(Ipv4Addr::UNSPECIFIED, 0).expect("/0 is a prefix length")
}

impl GatewayRibs {
    /// Computes every gateway's routes for `scenario` (its connections as they are now) with
    /// the peering states `peerings` (which spokes use which gateway).
    pub fn compute(scenario: &Scenario, peerings: &PeeringStates) -> Self {
        let nv = scenario.vnets.len();
        let ns = scenario.sites.len();
        let mut statics: Vec<Vec<GatewayRoute>> = vec![Vec::new(); nv];
        let mut er: Vec<Vec<GatewayRoute>> = vec![Vec::new(); nv];
        let mut sessions: Vec<Session> = Vec::new();
        let mut site_gateway = vec![None; ns];
        let conns = &scenario.connections;
        let vpn_bgp = |v: VnetId| {
            let vnet = &scenario.vnets[v.index()];
            vnet.gateway
                .as_ref()
                .filter(|g| g.kind == GatewayKind::Vpn)
                .and_then(|g| g.bgp)
        };
        for (c, conn) in conns.iter().enumerate() {
            let c = c as u32;
            match (conn.kind, conn.to) {
                (ConnectionKind::Ipsec | ConnectionKind::ExpressRoute, ConnectionPeer::Site(s)) => {
                    site_gateway[s.index()].get_or_insert(conn.from);
                    let site = &scenario.sites[s.index()];
                    let gateway = if conn.kind == ConnectionKind::ExpressRoute {
                        GatewayKind::ExpressRoute
                    } else {
                        GatewayKind::Vpn
                    };
                    let into = if gateway == GatewayKind::ExpressRoute {
                        &mut er[conn.from.index()]
                    } else {
                        &mut statics[conn.from.index()]
                    };
                    for p in &site.address_space {
                        into.push(GatewayRoute {
                            prefix: *p,
                            gateway,
                            connection: c,
                            next: GatewayNext::Site(s),
                            origin: RouteOrigin::Static,
                            as_path: Vec::new(),
                            shorthand: conn.shorthand,
                        });
                    }
                    if gateway == GatewayKind::ExpressRoute {
                        // ExpressRoute learns the circuit's routes by BGP; no transit to
                        // site-to-site [ERCOEX18], so they take no part in the fixed point.
                        if let Some(b) = site.bgp {
                            for p in &site.advertises {
                                into.push(GatewayRoute {
                                    prefix: *p,
                                    gateway,
                                    connection: c,
                                    next: GatewayNext::Site(s),
                                    origin: RouteOrigin::Bgp,
                                    as_path: vec![b.asn],
                                    shorthand: conn.shorthand,
                                });
                            }
                        }
                    } else if conn.bgp && site.bgp.is_some() && vpn_bgp(conn.from).is_some() {
                        sessions.push(Session {
                            a: Speaker::Gateway(conn.from),
                            b: Speaker::Site(s),
                            conn_a: Some(c),
                            conn_b: None,
                        });
                    }
                }
                (ConnectionKind::Vnet2Vnet, ConnectionPeer::Gateway(w)) => {
                    // Both connection resources are needed [VPNFAQ26].
                    let reverse = conns.iter().position(|r| {
                        r.kind == ConnectionKind::Vnet2Vnet
                            && r.from == w
                            && r.to == ConnectionPeer::Gateway(conn.from)
                    });
                    let Some(rev) = reverse else { continue };
                    let both_bgp = conn.bgp
                        && conns[rev].bgp
                        && vpn_bgp(conn.from).is_some()
                        && vpn_bgp(w).is_some();
                    if both_bgp {
                        if (rev as u32) > c {
                            sessions.push(Session {
                                a: Speaker::Gateway(conn.from),
                                b: Speaker::Gateway(w),
                                conn_a: Some(c),
                                conn_b: Some(rev as u32),
                            });
                        }
                    } else {
                        for p in &scenario.vnets[w.index()].address_space {
                            statics[conn.from.index()].push(GatewayRoute {
                                prefix: *p,
                                gateway: GatewayKind::Vpn,
                                connection: c,
                                next: GatewayNext::Gateway(w),
                                origin: RouteOrigin::Static,
                                as_path: Vec::new(),
                                shorthand: false,
                            });
                        }
                    }
                }
                _ => {}
            }
        }

        let asn = |s: Speaker| match s {
            Speaker::Gateway(v) => vpn_bgp(v).map_or(AZURE_DEFAULT_ASN, |b| b.asn),
            Speaker::Site(s) => scenario.sites[s.index()]
                .bgp
                .map_or(AZURE_DEFAULT_ASN, |b| b.asn),
        };
        // Speakers in a fixed order: gateways by VNet, then sites.
        let mut speakers: Vec<Speaker> = sessions.iter().flat_map(|s| [s.a, s.b]).collect();
        speakers.sort();
        speakers.dedup();
        let index = |s: Speaker| speakers.binary_search(&s).expect("a speaker of a session");

        // What each speaker originates.
        let origin: Vec<Vec<Ipv4Net>> = speakers
            .iter()
            .map(|&s| match s {
                Speaker::Gateway(v) => {
                    let mut own: Vec<Ipv4Net> = scenario.vnets[v.index()].address_space.clone();
                    // Spokes that use this gateway (gateway transit), their ranges as this
                    // VNet's link knows them.
                    for w in 0..nv {
                        let spoke = VnetId(w as u32);
                        if matches!(peerings.gateway_for(scenario, spoke), Some((g, Some(_))) if g == v)
                        {
                            match peerings.edge(v, spoke) {
                                Some(e) => own.extend(
                                    peerings.peer_space(scenario, v, e.name_link(), spoke),
                                ),
                                None => own.extend(&scenario.vnets[w].address_space),
                            }
                        }
                    }
                    // Its local network gateways' prefixes.
                    own.extend(
                        statics[v.index()]
                            .iter()
                            .filter(|r| matches!(r.next, GatewayNext::Site(_)))
                            .map(|r| r.prefix),
                    );
                    own
                }
                Speaker::Site(s) => scenario.sites[s.index()].advertises.clone(),
            })
            .collect();
        let originated = |i: usize| {
            let mut rib: BTreeMap<Ipv4Net, Best> = BTreeMap::new();
            for p in &origin[i] {
                rib.insert(
                    *p,
                    Best {
                        path: Vec::new(),
                        via: None,
                    },
                );
            }
            rib
        };
        let mut ribs: Vec<BTreeMap<Ipv4Net, Best>> = (0..speakers.len()).map(originated).collect();
        // Synchronous rounds until nothing changes; shortest paths settle within one round per
        // speaker, the bound is a safety net.
        for _ in 0..(2 * speakers.len() + 2) {
            let mut next: Vec<BTreeMap<Ipv4Net, Best>> =
                (0..speakers.len()).map(originated).collect();
            for (k, sess) in sessions.iter().enumerate() {
                for (from, to) in [(sess.a, sess.b), (sess.b, sess.a)] {
                    let (fi, ti) = (index(from), index(to));
                    let (from_asn, to_asn) = (asn(from), asn(to));
                    for (prefix, best) in &ribs[fi] {
                        if best.via == Some(k) {
                            continue;
                        }
                        if let (Speaker::Gateway(v), Some(_)) = (from, best.via) {
                            // Not passed on by a gateway: the default route, and routes that
                            // overlap its VNet's ranges [VPNFAQ26].
                            let space = &scenario.vnets[v.index()].address_space;
                            if *prefix == default_route()
                                || space.iter().any(|r| {
                                    prefix_contains(*r, *prefix) || prefix_contains(*prefix, *r)
                                })
                            {
                                continue;
                            }
                        }
                        let mut path = Vec::with_capacity(best.path.len() + 1);
                        path.push(from_asn);
                        path.extend(&best.path);
                        if path.contains(&to_asn) {
                            continue;
                        }
                        let cand = Best { path, via: Some(k) };
                        match next[ti].get(prefix) {
                            Some(have) if !cand.better_than(have) => {}
                            _ => {
                                next[ti].insert(*prefix, cand);
                            }
                        }
                    }
                }
            }
            if next == ribs {
                break;
            }
            ribs = next;
        }

        // Each VNet's routes: ExpressRoute first, then the VPN gateway's statics, then its BGP
        // routes (a prefix it holds statically stays static).
        let mut routes: Vec<Vec<GatewayRoute>> = er;
        let mut advertised = vec![Vec::new(); nv];
        for v in 0..nv {
            let vnet = VnetId(v as u32);
            let mut own = std::mem::take(&mut statics[v]);
            if let Ok(i) = speakers.binary_search(&Speaker::Gateway(vnet)) {
                advertised[v] = origin[i].clone();
                for (prefix, best) in &ribs[i] {
                    let Some(k) = best.via else { continue };
                    if own.iter().any(|r| r.prefix == *prefix) {
                        continue;
                    }
                    let sess = &sessions[k];
                    let me = Speaker::Gateway(vnet);
                    let next = match sess.other(me) {
                        Speaker::Gateway(w) => GatewayNext::Gateway(w),
                        Speaker::Site(s) => GatewayNext::Site(s),
                    };
                    own.push(GatewayRoute {
                        prefix: *prefix,
                        gateway: GatewayKind::Vpn,
                        connection: sess.conn_of(me).expect("a gateway owns its connection"),
                        next,
                        origin: RouteOrigin::Bgp,
                        as_path: best.path.clone(),
                        shorthand: false,
                    });
                }
                // Advertised: its own prefixes and what it passes on.
                for (prefix, best) in &ribs[i] {
                    if best.via.is_some()
                        && *prefix != default_route()
                        && !vnet_overlaps(scenario, vnet, *prefix)
                    {
                        advertised[v].push(*prefix);
                    }
                }
            }
            routes[v].extend(own);
        }
        let mut site_reach = vec![None; ns];
        for (i, s) in speakers.iter().enumerate() {
            if let Speaker::Site(s) = s {
                site_reach[s.index()] = Some(
                    ribs[i]
                        .iter()
                        .filter(|(_, b)| b.via.is_some())
                        .map(|(p, _)| *p)
                        .collect(),
                );
            }
        }
        GatewayRibs {
            routes,
            advertised,
            site_gateway,
            site_reach,
        }
    }

    /// The gateway routes of `vnet`.
    pub fn of(&self, vnet: VnetId) -> &[GatewayRoute] {
        self.routes.get(vnet.index()).map_or(&[], Vec::as_slice)
    }
}

fn vnet_overlaps(scenario: &Scenario, vnet: VnetId, prefix: Ipv4Net) -> bool {
    scenario.vnets[vnet.index()]
        .address_space
        .iter()
        .any(|r| prefix_contains(*r, prefix) || prefix_contains(prefix, *r))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn best(len: usize, via: Option<usize>) -> Best {
        Best {
            path: vec![65000; len],
            via,
        }
    }

    #[test]
    fn vpnfaq26_shorter_as_path_wins_then_the_first_session() {
        assert!(best(1, Some(3)).better_than(&best(2, Some(0))));
        assert!(best(2, Some(0)).better_than(&best(2, Some(1))));
        assert!(!best(3, Some(0)).better_than(&best(2, Some(5))));
        // An originated prefix is never replaced by a learned one.
        assert!(best(0, None).better_than(&best(0, Some(0))));
        assert!(!best(1, Some(0)).better_than(&best(0, None)));
    }
}
