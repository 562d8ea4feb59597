//! The gateways room: virtual network gateways, on-premises sites and their hosts, and the
//! rule binding user routes to the kind of gateway they reach.
//!
//! What it is for: one gateway per VNet (or a VPN and an ExpressRoute one), in a GatewaySubnet, with a known SKU and a unique
//! name; sites connected to a gateway, their hosts inside the site's address space; no user
//! route to VirtualNetworkGateway where the gateway reached is ExpressRoute. The last rule is
//! shared with events ([`Resolver::expressroute_route`]), which can attach a route table or
//! start using a remote gateway. What it is not: the peerings that give a VNet a remote gateway
//! (the peering room) or the route tables themselves (the security room).

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde_saphyr::{Location, Spanned};

use super::resolver::{Kind, Resolver, first_usable, loc};
use crate::diag::nearest;
use crate::model::*;
use crate::raw::*;
use crate::rules::Rule;
use crate::sizes;

impl Resolver<'_> {
    /// Each VNet's gateways (at most one VPN and one ExpressRoute gateway, in GatewaySubnet,
    /// of a known SKU), then the gateway name index (every gateway's name -> its VNet).
    pub(super) fn gateways(&mut self) {
        let raw = self.raw;
        let mut declared: Vec<(Spanned<String>, String)> = Vec::new();
        for (i, v) in raw.vnets.iter().enumerate() {
            let Some(g) = &v.gateway else { continue };
            let (primary, expressroute) = self.gateway(v, g, i);
            self.sc.vnets[i].gateway = primary;
            self.sc.vnets[i].expressroute = expressroute;
            for gw in g.value.as_slice() {
                declared.push((
                    Spanned::new(gw.name.clone(), loc(g), g.defined),
                    format!("vnets[{i}].gateway"),
                ));
            }
        }
        let mut seen: HashMap<&str, Location> = HashMap::new();
        for (name, path) in &declared {
            if let Some(first) = seen.get(name.value.as_str()) {
                self.err(
                    loc(name),
                    path.clone(),
                    Rule::DuplicateName,
                    format!(
                        "gateway name `{}` is already used on line {}; names are unique per kind",
                        name.value,
                        first.line()
                    ),
                );
            } else {
                seen.insert(&name.value, loc(name));
            }
        }
        for (i, v) in raw.vnets.iter().enumerate() {
            if self.sc.vnets[i].gateway.is_none() {
                continue;
            }
            let Some(g) = v.gateway.as_ref() else {
                continue;
            };
            // The first gateway written names the VNet's gateway, as before coexistence; a
            // second one (the other type) is indexed too.
            for gw in g.value.as_slice().iter().take(2) {
                self.names
                    .gateways
                    .entry(gw.name.as_str())
                    .or_insert((i as u32, Location::UNKNOWN));
            }
        }
    }

    /// The gateways of VNet `v` (index `i`), declared as `g`: the VPN gateway (or the only
    /// one) and, beside it, an ExpressRoute gateway ([ERCOEX18] coexistence).
    fn gateway(
        &mut self,
        v: &RawVnet,
        g: &Spanned<OneOrMany<RawGateway>>,
        i: usize,
    ) -> (Option<Gateway>, Option<Gateway>) {
        let list = g.value.as_slice();
        let path_of = |k: usize, field: &str| {
            if list.len() > 1 {
                format!("vnets[{i}].gateway[{k}]{field}")
            } else {
                format!("vnets[{i}].gateway{field}")
            }
        };
        let skus: Vec<Option<sizes::GatewaySku>> = list
            .iter()
            .enumerate()
            .map(|(k, gw)| self.gateway_sku(&gw.sku, loc(g), path_of(k, ".sku")))
            .collect();
        // Each gateway's type: the SKU's; a `type` written must agree with it.
        let kinds: Vec<Option<sizes::GatewayKind>> = list
            .iter()
            .zip(&skus)
            .enumerate()
            .map(|(k, (gw, sku))| {
                let written = gw.kind.map(|t| match t {
                    RawGatewayType::Vpn => sizes::GatewayKind::Vpn,
                    RawGatewayType::Expressroute => sizes::GatewayKind::ExpressRoute,
                });
                match (written, sku) {
                    (Some(w), Some(s)) if w != s.kind => {
                        self.err_help(
                            loc(g),
                            path_of(k, ".type"),
                            Rule::GatewayTypeSku,
                            format!(
                                "gateway `{}` is written `type: {}` but SKU {} is an {} gateway SKU",
                                gw.name,
                                w.as_str(),
                                s.name,
                                s.kind.as_str()
                            ),
                            "leave `type` out, or pick a SKU of that type",
                        );
                        Some(s.kind)
                    }
                    (_, Some(s)) => Some(s.kind),
                    (w, None) => w,
                }
            })
            .collect();
        let two_kinds =
            list.len() == 2 && kinds[0].is_some() && kinds[1].is_some() && kinds[0] != kinds[1];
        if list.len() > 2 || (list.len() == 2 && !two_kinds) {
            self.err(
                loc(g),
                format!("vnets[{i}].gateway"),
                Rule::GatewayMultiple,
                format!(
                    "VNet `{}` lists {} gateways; a VNet has at most one VPN gateway and one ExpressRoute gateway [ERCOEX18]",
                    v.name.value,
                    list.len()
                ),
            );
        }
        if list.is_empty() {
            return (None, None);
        }
        let vnet = &self.sc.vnets[i];
        // The last subnet of that name, as written (a second one is a duplicate name).
        let subnet = vnet
            .subnets
            .iter()
            .copied()
            .zip(&v.subnets)
            .rev()
            .find(|(_, s)| s.name.value == "GatewaySubnet");
        let Some((subnet, raw_subnet)) = subnet else {
            self.err_help(
                loc(g),
                format!("vnets[{i}].gateway"),
                Rule::GatewaySubnetMissing,
                format!("VNet `{}` has a gateway but no subnet named GatewaySubnet; Azure places gateways only in GatewaySubnet", v.name.value),
                "add a subnet `{ name: GatewaySubnet, prefix: ... }` (a /27 is usual)",
            );
            return (None, None);
        };
        let prefix = raw_subnet.prefix.value.trim().parse::<Ipv4Net>().ok();
        let base = prefix
            .map(|p| first_usable(p.trunc()))
            .unwrap_or(Ipv4Addr::UNSPECIFIED);
        let mut built: Vec<Gateway> = Vec::new();
        for (k, gw) in list.iter().enumerate().take(2) {
            let kind = kinds[k].unwrap_or(sizes::GatewayKind::Vpn);
            // Coexisting, the ExpressRoute gateway takes the address after the VPN one's.
            let ip = if two_kinds && kind == sizes::GatewayKind::ExpressRoute {
                Ipv4Addr::from(u32::from(base).saturating_add(1))
            } else {
                base
            };
            let sku_name = skus[k].map_or_else(|| gw.sku.clone(), |s| s.name.to_owned());
            let bgp = gw.bgp.as_ref().and_then(|b| {
                self.gateway_bgp(
                    b,
                    &gw.name,
                    &sku_name,
                    prefix,
                    ip,
                    loc(g),
                    path_of(k, ".bgp"),
                )
            });
            let policy_based = gw.vpn_type == Some(RawVpnType::PolicyBased);
            if two_kinds
                && kind == sizes::GatewayKind::Vpn
                && (policy_based || sku_name.eq_ignore_ascii_case("Basic"))
            {
                self.err(
                    loc(g),
                    path_of(k, ""),
                    Rule::GatewayCoexistence,
                    format!(
                        "VPN gateway `{}` sits beside an ExpressRoute gateway, so it must be route-based and not of the Basic SKU [ERCOEX18]",
                        gw.name
                    ),
                );
            }
            built.push(Gateway {
                name: gw.name.clone(),
                sku: sku_name,
                subnet,
                ip,
                kind,
                policy_based,
                bgp,
            });
        }
        if two_kinds {
            let (vpn, er) = if built[0].kind == sizes::GatewayKind::Vpn {
                (built[0].clone(), built[1].clone())
            } else {
                (built[1].clone(), built[0].clone())
            };
            return (Some(vpn), Some(er));
        }
        (built.into_iter().next(), None)
    }

    /// Looks a gateway SKU up in the catalog, reporting an unknown one (at `at`, the gateway
    /// entry: positions inside a one-or-many value are not kept) with the nearest known name.
    fn gateway_sku(&mut self, sku: &str, at: Location, path: String) -> Option<sizes::GatewaySku> {
        let found = sizes::gateway_sku(sku);
        if found.is_none() {
            let names: Vec<&str> = sizes::gateway_skus().iter().map(|s| s.name).collect();
            self.unknown(
                at,
                path,
                Rule::UnknownGatewaySku,
                format!("gateway SKU `{sku}` is not in the gateway SKU catalog"),
                nearest(sku, names.iter().copied()),
                Some(format!("known SKUs: {}", names.join(", "))),
            );
        }
        found
    }

    /// The gateway VNet `vnet` reaches: its own, or the one of the VNet its `use_remote`
    /// link points to.
    pub(super) fn gateway_reached(
        &self,
        vnet: VnetId,
        use_remote: Option<u32>,
    ) -> Option<&Gateway> {
        self.sc.vnets[vnet.index()]
            .gateway
            .as_ref()
            .or_else(|| self.sc.vnets[use_remote? as usize].gateway.as_ref())
    }

    /// udr-gateway-expressroute, as a question: the first route of table `rt` to
    /// VirtualNetworkGateway, and the SKU of `gw`, when `gw` is an ExpressRoute gateway or a VPN
    /// gateway coexisting with one ("You can't specify Virtual Network Gateways if you have VPN
    /// and ExpressRoute coexisting connections either", udr-overview).
    pub(super) fn expressroute_route(
        &self,
        gw: &Gateway,
        rt: RouteTableId,
    ) -> Option<(usize, sizes::GatewaySku)> {
        let sku = sizes::gateway_sku(&gw.sku)?;
        if sku.kind != sizes::GatewayKind::ExpressRoute && !self.coexisting(gw) {
            return None;
        }
        let table = self.raw.route_tables.get(rt.index())?;
        let j = table
            .routes
            .iter()
            .position(|r| r.next_hop.value == RawNextHop::VirtualNetworkGateway)?;
        Some((j, sku))
    }

    /// Refuses user routes to VirtualNetworkGateway in subnets whose gateway (the VNet's own,
    /// or the remote one reached through `use_remote_gateways`) is an ExpressRoute gateway.
    /// Azure (udr-overview): the gateway of such a route must be of type VPN; ExpressRoute
    /// learns custom routes through BGP only. Each route is reported once, naming the first
    /// such subnet.
    pub(super) fn udr_gateway_kind(&mut self) {
        let raw = self.raw;
        let mut reported = HashSet::new();
        for sid in 0..self.sc.subnets.len() {
            let subnet = &self.sc.subnets[sid];
            let Some(rt) = subnet.route_table else {
                continue;
            };
            let remote = raw
                .peerings
                .iter()
                .zip(&self.peering_ends)
                .filter(|(p, _)| p.use_remote_gateways.as_ref().is_some_and(|s| s.value))
                .filter_map(|(_, r)| *r)
                .filter(|(a, b)| {
                    *a == subnet.vnet.0 && self.sc.vnets[*b as usize].gateway.is_some()
                })
                .map(|(_, b)| b)
                .next();
            let Some(gw) = self.gateway_reached(subnet.vnet, remote) else {
                continue;
            };
            if self.expressroute_route(gw, rt).is_none() {
                continue;
            }
            let gw = gw.clone();
            let table = &raw.route_tables[rt.index()];
            for (j, r) in table.routes.iter().enumerate() {
                if r.next_hop.value != RawNextHop::VirtualNetworkGateway
                    || !reported.insert((rt.index(), j))
                {
                    continue;
                }
                let msg = self.expressroute_message(r, table, SubnetId(sid as u32), &gw);
                self.err_help(
                    loc(&r.next_hop),
                    format!("route_tables[{}].routes[{j}].next_hop", rt.index()),
                    Rule::UdrGatewayExpressroute,
                    msg,
                    EXPRESSROUTE_HELP,
                );
            }
        }
    }

    /// Whether `gw` is a VPN gateway beside an ExpressRoute gateway in its VNet.
    fn coexisting(&self, gw: &Gateway) -> bool {
        let vnet = self.sc.subnets[gw.subnet.index()].vnet;
        self.sc.vnets[vnet.index()].expressroute.is_some()
    }

    /// The message of udr-gateway-expressroute for route `r` of `table` in subnet `sid`.
    pub(super) fn expressroute_message(
        &self,
        r: &RawRoute,
        table: &RawRouteTable,
        sid: SubnetId,
        gw: &Gateway,
    ) -> String {
        if self.coexisting(gw) {
            return format!(
                "route `{}` of route table `{}` points to VirtualNetworkGateway, but subnet `{}` reaches VPN gateway `{}`, which coexists with an ExpressRoute gateway; with coexisting VPN and ExpressRoute gateways no user-defined route may point to a gateway",
                r.name.value,
                table.name.value,
                self.sc.subnet_path(sid),
                gw.name,
            );
        }
        format!(
            "route `{}` of route table `{}` points to VirtualNetworkGateway, but subnet `{}` reaches ExpressRoute gateway `{}` ({}); a user-defined route may point only to a VPN gateway",
            r.name.value,
            table.name.value,
            self.sc.subnet_path(sid),
            gw.name,
            sizes::gateway_sku(&gw.sku).map_or(gw.sku.as_str(), |s| s.name)
        )
    }

    /// Indexes sites and hosts and builds them.
    pub(super) fn sites(&mut self) {
        let raw = self.raw;
        self.index(
            "site",
            raw.on_premises
                .iter()
                .enumerate()
                .map(|(i, s)| (&s.name, format!("on_premises[{i}].name"))),
        );
        let mut endpoints = std::mem::take(&mut self.names.endpoints);
        self.index_into(
            "VM or host",
            raw.on_premises.iter().enumerate().flat_map(|(i, s)| {
                s.hosts
                    .iter()
                    .enumerate()
                    .map(move |(k, h)| (&h.name, format!("on_premises[{i}].hosts[{k}].name")))
            }),
            &mut endpoints,
            raw.vms.len() as u32,
        );
        self.names.endpoints = endpoints;
        for (i, s) in raw.on_premises.iter().enumerate() {
            self.site(s, i);
        }
    }

    /// One site: its address space, connection, latency and hosts.
    fn site(&mut self, s: &RawSite, i: usize) {
        let path = format!("on_premises[{i}]");
        let space: Vec<Ipv4Net> = s
            .address_space
            .iter()
            .enumerate()
            .filter_map(|(k, a)| self.cidr(a, format!("{path}.address_space[{k}]")))
            .collect();
        let connection = match &s.connection {
            Some(c) => self.connection(c, &path),
            None => None,
        };
        let bgp = s
            .bgp
            .as_ref()
            .and_then(|b| self.site_bgp(b, &s.name, &format!("{path}.bgp")));
        let advertises: Vec<Ipv4Net> = s
            .advertises
            .iter()
            .enumerate()
            .filter_map(|(k, a)| self.cidr(a, format!("{path}.advertises[{k}]")))
            .collect();
        let latency = self.opt_duration(s.latency.as_ref(), format!("{path}.latency"), 5_000_000);
        let site_id = SiteId(i as u32);
        let mut host_ids = Vec::new();
        for (k, h) in s.hosts.iter().enumerate() {
            let hpath = format!("{path}.hosts[{k}].ip");
            let ip = self.ip(&h.ip, &hpath);
            if let Some(ip) = ip
                && !space.is_empty()
                && !space.iter().any(|n| n.contains(&ip))
            {
                self.err(
                    loc(&h.ip),
                    hpath,
                    Rule::HostOutsideSite,
                    format!(
                        "host IP {ip} is not inside the address space of site `{}`",
                        s.name.value
                    ),
                );
            }
            host_ids.push(HostId(self.sc.hosts.len() as u32));
            self.sc.hosts.push(Host {
                name: h.name.value.as_str().into(),
                site: site_id,
                ip: ip.unwrap_or(Ipv4Addr::UNSPECIFIED),
            });
        }
        self.sc.sites.push(Site {
            name: s.name.value.clone(),
            address_space: space,
            connection,
            latency,
            hosts: host_ids,
            bgp,
            advertises,
        });
    }

    /// A site's connection: a gateway name, or a VNet that has a gateway.
    fn connection(&mut self, connection: &Spanned<String>, path: &str) -> Option<VnetId> {
        if let Some((v, _)) = self.names.gateways.get(connection.value.as_str()) {
            return Some(VnetId(*v));
        }
        if let Some(&(v, _)) = self.names.vnets.get(connection.value.as_str()) {
            if self.sc.vnets[v as usize].gateway.is_none() {
                self.err_help(
                    loc(connection),
                    format!("{path}.connection"),
                    Rule::SiteConnectionNoGateway,
                    format!("VNet `{}` has no virtual network gateway; a site-to-site connection ends on a VNet gateway", connection.value),
                    "add a `gateway` (and a GatewaySubnet) to the VNet",
                );
            }
            return Some(VnetId(v));
        }
        self.find(Kind::Connection, connection, format!("{path}.connection"));
        None
    }
}

/// The help of udr-gateway-expressroute.
pub(super) const EXPRESSROUTE_HELP: &str =
    "ExpressRoute gateways take their routes from BGP; use a VPN gateway SKU or remove the route";
