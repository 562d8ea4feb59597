//! The connections room: gateway connections (site-to-site IPsec, VNet-to-VNet, ExpressRoute)
//! and BGP settings of gateways and sites.
//!
//! What it is for: turning each site's `connection` shorthand (a static IPsec connection, or an
//! ExpressRoute one to an ExpressRoute gateway) and each `connections` entry into a
//! [`GatewayConnection`], checked against Azure's rules [VPNFAQ26]: BGP only on route-based,
//! non-Basic VPN gateways, with BGP settings on both ends and different ASNs; VNet-to-VNet only
//! between route-based VPN gateways of VNets whose ranges do not overlap; ASNs outside Azure's
//! reserved ones. An `add_connection` event runs the same checks
//! ([`Resolver::connection_entry`]). What it is not: the route exchange (the data plane's
//! `tables::bgp`) or the gateways themselves (the gateways room).

use std::collections::HashMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde_saphyr::{Location, Spanned};

use super::resolver::{Kind, Resolver, loc, overlaps};
use crate::diag::nearest;
use crate::model::*;
use crate::raw::*;
use crate::rules::Rule;
use crate::sizes::GatewayKind;

/// ASNs Azure reserves [VPNFAQ26]: public 8074, 8075, 12076; private 65517-65520 (and 65515,
/// the gateways' default, which on-premises devices may not use).
fn reserved_asn(asn: u64, site: bool) -> bool {
    matches!(asn, 8074 | 8075 | 12076 | 65517..=65520) || (site && asn == 65515)
}

/// Whether `ip` lies in 169.254.21.0-169.254.22.255, the APIPA range Azure VPN gateways accept
/// as BGP addresses [VPNFAQ26].
fn apipa(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    o[0] == 169 && o[1] == 254 && (o[2] == 21 || o[2] == 22)
}

impl Resolver<'_> {
    /// The ASN of a BGP settings block, checked (`site`: an on-premises device, for which
    /// 65515 is reserved too).
    fn asn(&mut self, asn: u64, site: bool, owner: &str, at: Location, path: &str) -> Option<u32> {
        if asn == 0 || asn > u64::from(u32::MAX) || reserved_asn(asn, site) {
            self.err_help(
                at,
                format!("{path}.asn"),
                Rule::BgpAsnReserved,
                format!(
                    "ASN {asn} of {owner} is not usable: ASNs run from 1 to 4294967295 and Azure reserves 8074, 8075, 12076, 65517-65520{} [VPNFAQ26]",
                    if site {
                        " and, for on-premises devices, 65515"
                    } else {
                        ""
                    }
                ),
                "pick a private ASN from 64512-65514 or 65521-65534",
            );
            return None;
        }
        Some(asn as u32)
    }

    /// A gateway's BGP settings: a usable ASN, a non-Basic SKU, and a peering address in its
    /// GatewaySubnet or in the APIPA range (default: the gateway's IP).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn gateway_bgp(
        &mut self,
        b: &RawBgp,
        name: &str,
        sku: &str,
        subnet: Option<Ipv4Net>,
        ip: Ipv4Addr,
        at: Location,
        path: String,
    ) -> Option<BgpSettings> {
        let owner = format!("gateway `{name}`");
        let asn = self.asn(b.asn, false, &owner, at, &path);
        if sku.eq_ignore_ascii_case("Basic") {
            self.err_help(
                at,
                path.clone(),
                Rule::GatewayBgpBasic,
                format!("gateway `{name}` is of the Basic SKU, which has no BGP [VPNFAQ26]"),
                "use VpnGw1 or above, or remove `bgp`",
            );
            return None;
        }
        let peering_ip = match &b.peering_ip {
            None => Some(ip),
            Some(text) => match text.trim().parse::<Ipv4Addr>() {
                Ok(p) if apipa(p) || subnet.is_some_and(|s| s.contains(&p)) => Some(p),
                _ => {
                    self.err(
                        at,
                        format!("{path}.peering_ip"),
                        Rule::BgpPeeringIp,
                        format!(
                            "BGP peering address `{text}` of gateway `{name}` is neither in its GatewaySubnet nor in the APIPA range 169.254.21.0-169.254.22.255 [VPNFAQ26]"
                        ),
                    );
                    None
                }
            },
        };
        Some(BgpSettings {
            asn: asn?,
            peering_ip: peering_ip?,
        })
    }

    /// A site's BGP settings: a usable ASN (65515 is Azure's) and a peering address.
    pub(super) fn site_bgp(
        &mut self,
        b: &RawBgp,
        name: &Spanned<String>,
        path: &str,
    ) -> Option<BgpSettings> {
        let owner = format!("site `{}`", name.value);
        let asn = self.asn(b.asn, true, &owner, loc(name), path);
        let ip = match &b.peering_ip {
            Some(text) => text.trim().parse::<Ipv4Addr>().ok(),
            None => None,
        };
        if ip.is_none() {
            self.err_help(
                loc(name),
                format!("{path}.peering_ip"),
                Rule::BgpPeeringIp,
                format!(
                    "site `{}` has BGP settings without a valid peering_ip; a local network gateway with BGP names its device's BGP address",
                    name.value
                ),
                "write `peering_ip: <the device's BGP address>`, e.g. 192.168.255.1",
            );
        }
        Some(BgpSettings {
            asn: asn?,
            peering_ip: ip?,
        })
    }

    /// Every connection: the sites' `connection` shorthands (static IPsec, or ExpressRoute to
    /// an ExpressRoute gateway), then the file's `connections`.
    pub(super) fn connections(&mut self) {
        let raw = self.raw;
        for (i, s) in raw.on_premises.iter().enumerate() {
            let (Some(c), Some(vnet)) = (&s.connection, self.sc.sites[i].connection) else {
                continue;
            };
            let v = &self.sc.vnets[vnet.index()];
            let named_er = v.expressroute.as_ref().is_some_and(|g| g.name == c.value);
            let only_er = v
                .gateway
                .as_ref()
                .is_some_and(|g| g.kind == GatewayKind::ExpressRoute);
            let kind = if named_er || only_er {
                ConnectionKind::ExpressRoute
            } else {
                ConnectionKind::Ipsec
            };
            self.sc.connections.push(GatewayConnection {
                name: s.name.value.clone(),
                kind,
                from: vnet,
                to: ConnectionPeer::Site(SiteId(i as u32)),
                bgp: false,
                shorthand: true,
            });
        }
        let mut names: HashMap<&str, Location> = HashMap::new();
        for (i, c) in raw.connections.iter().enumerate() {
            let path = format!("connections[{i}]");
            if let Some(first) = names.get(c.name.value.as_str()) {
                self.err(
                    loc(&c.name),
                    format!("{path}.name"),
                    Rule::DuplicateName,
                    format!(
                        "connection name `{}` is already used on line {}; names are unique per kind",
                        c.name.value,
                        first.line()
                    ),
                );
            } else {
                names.insert(c.name.value.as_str(), loc(&c.name));
            }
            if let Some(conn) = self.connection_entry(c, &path) {
                self.sc.connections.push(conn);
            }
        }
    }

    /// Whether `name` names a connection of the file or of an `add_connection` event (what a
    /// `remove_connection` may delete); reports an unknown one.
    pub(super) fn known_connection(&mut self, name: &Spanned<String>, path: &str) -> bool {
        let raw = self.raw;
        let known: Vec<&str> = raw
            .connections
            .iter()
            .map(|c| c.name.value.as_str())
            .chain(
                raw.events
                    .iter()
                    .filter_map(|e| e.value.add_connection.as_ref())
                    .map(|c| c.name.value.as_str()),
            )
            .collect();
        if known.contains(&name.value.as_str()) {
            return true;
        }
        let best = nearest(&name.value, known.iter().copied()).map(str::to_owned);
        self.unknown(
            loc(name),
            path,
            Rule::UnknownGatewayConnection,
            format!("there is no gateway connection named `{}`", name.value),
            best.as_deref(),
            None,
        );
        false
    }

    /// The site named `name`, if declared.
    fn site_named(&self, name: &str) -> Option<SiteId> {
        self.sc
            .sites
            .iter()
            .position(|s| s.name == name)
            .map(|i| SiteId(i as u32))
    }

    /// One connection entry (of `connections`, or of an `add_connection` event at `path`),
    /// resolved and checked.
    pub(super) fn connection_entry(
        &mut self,
        c: &RawConnection,
        path: &str,
    ) -> Option<GatewayConnection> {
        let kind = match c.kind.value {
            RawConnectionType::Ipsec => ConnectionKind::Ipsec,
            RawConnectionType::Vnet2vnet => ConnectionKind::Vnet2Vnet,
            RawConnectionType::Expressroute => ConnectionKind::ExpressRoute,
        };
        let wanted = match kind {
            ConnectionKind::ExpressRoute => GatewayKind::ExpressRoute,
            _ => GatewayKind::Vpn,
        };
        let from_name = c.from.value.as_str();
        let from = match self
            .names
            .gateways
            .get(from_name)
            .or(self.names.vnets.get(from_name))
        {
            Some((v, _)) => Some(VnetId(*v)),
            None => self
                .find(Kind::Connection, &c.from, format!("{path}.from"))
                .map(VnetId),
        };
        let to = match kind {
            ConnectionKind::Vnet2Vnet => self.gateway_end(c, path),
            _ => self.site_end(c, path),
        };
        let (from, to) = (from?, to?);
        // Named by a gateway's name, that gateway; by its VNet's name, the VNet's gateway of
        // the type the connection needs.
        let v = &self.sc.vnets[from.index()];
        let named = [v.gateway.as_ref(), v.expressroute.as_ref()]
            .into_iter()
            .flatten()
            .find(|g| g.name == from_name);
        let gw = match named {
            Some(g) => (g.kind == wanted).then(|| g.clone()),
            None => self.gateway_of_kind(from, wanted).cloned(),
        };
        let Some(gw) = gw else {
            self.err_help(
                loc(&c.from),
                format!("{path}.from"),
                Rule::ConnectionEndpoints,
                format!(
                    "connection `{}` is of type {} but `{}` is no {} gateway (nor a VNet that holds one)",
                    c.name.value,
                    kind.as_str(),
                    c.from.value,
                    wanted.as_str()
                ),
                "ipsec and vnet2vnet start at a VPN gateway, expressroute at an ExpressRoute gateway",
            );
            return None;
        };
        let bgp = c.bgp.as_ref().is_some_and(|b| b.value);
        let bgp_at = c.bgp.as_ref().map_or(loc(&c.name), loc);
        let mut remote_gw = None;
        if let ConnectionPeer::Gateway(w) = to {
            if w == from {
                self.err(
                    loc(&c.to),
                    format!("{path}.to"),
                    Rule::ConnectionEndpoints,
                    format!(
                        "VNet-to-VNet connection `{}` leads from VNet `{}` to itself",
                        c.name.value,
                        self.sc.vnets[from.index()].name
                    ),
                );
                return None;
            }
            let Some(r) = self.gateway_of_kind(w, GatewayKind::Vpn).cloned() else {
                self.err(
                    loc(&c.to),
                    format!("{path}.to"),
                    Rule::ConnectionEndpoints,
                    format!(
                        "VNet-to-VNet connection `{}` leads to VNet `{}`, which has no VPN gateway",
                        c.name.value,
                        self.sc.vnets[w.index()].name
                    ),
                );
                return None;
            };
            // [VPNFAQ26]: VNet-to-VNet connects route-based gateways only; overlapping ranges
            // are not allowed.
            if let Some(p) = [&gw, &r].into_iter().find(|g| g.policy_based) {
                self.err(
                    loc(&c.kind),
                    format!("{path}.type"),
                    Rule::ConnectionRouteBased,
                    format!(
                        "VNet-to-VNet connection `{}` needs route-based gateways; `{}` is policy-based [VPNFAQ26]",
                        c.name.value, p.name
                    ),
                );
            }
            let a = &self.sc.vnets[from.index()];
            let b = &self.sc.vnets[w.index()];
            let clash = a.address_space.iter().find_map(|x| {
                b.address_space
                    .iter()
                    .find(|y| overlaps(*x, **y))
                    .map(|y| (*x, *y))
            });
            if let Some((x, y)) = clash {
                let msg = format!(
                    "VNet-to-VNet connection `{}` joins `{}` ({x}) and `{}` ({y}), whose address ranges overlap [VPNFAQ26]",
                    c.name.value, a.name, b.name
                );
                self.err(
                    loc(&c.to),
                    format!("{path}.to"),
                    Rule::ConnectionAddressOverlap,
                    msg,
                );
            }
            remote_gw = Some(r);
        }
        if bgp && kind != ConnectionKind::ExpressRoute {
            self.bgp_rules(c, path, bgp_at, &gw, remote_gw.as_ref(), to);
        }
        Some(GatewayConnection {
            name: c.name.value.clone(),
            kind,
            from,
            to,
            bgp,
            shorthand: false,
        })
    }

    /// The BGP rules of connection `c` from gateway `gw` to `to` (`remote`: the other
    /// gateway of a VNet-to-VNet connection) [VPNFAQ26]: route-based, not Basic, BGP settings
    /// on both ends, different ASNs.
    fn bgp_rules(
        &mut self,
        c: &RawConnection,
        path: &str,
        at: Location,
        gw: &Gateway,
        remote: Option<&Gateway>,
        to: ConnectionPeer,
    ) {
        let bpath = format!("{path}.bgp");
        let gateways: Vec<&Gateway> = std::iter::once(gw).chain(remote).collect();
        if let Some(g) = gateways
            .iter()
            .find(|g| g.sku.eq_ignore_ascii_case("Basic"))
        {
            self.err(
                at,
                bpath,
                Rule::GatewayBgpBasic,
                format!(
                    "connection `{}` enables BGP but gateway `{}` is of the Basic SKU, which has no BGP [VPNFAQ26]",
                    c.name.value, g.name
                ),
            );
            return;
        }
        if let Some(g) = gateways.iter().find(|g| g.policy_based) {
            self.err(
                at,
                bpath,
                Rule::ConnectionRouteBased,
                format!(
                    "connection `{}` enables BGP but gateway `{}` is policy-based; BGP needs route-based gateways [VPNFAQ26]",
                    c.name.value, g.name
                ),
            );
            return;
        }
        let remote_asn = match to {
            ConnectionPeer::Site(s) => {
                let site = &self.sc.sites[s.index()];
                site.bgp.map(|b| (b.asn, site.name.clone()))
            }
            ConnectionPeer::Gateway(_) => {
                remote.and_then(|r| r.bgp.map(|b| (b.asn, r.name.clone())))
            }
        };
        let missing = match (gw.bgp, remote_asn.as_ref()) {
            (None, _) => Some(format!("gateway `{}`", gw.name)),
            (_, None) => Some(match to {
                ConnectionPeer::Site(s) => format!("site `{}`", self.sc.sites[s.index()].name),
                ConnectionPeer::Gateway(_) => {
                    format!("gateway `{}`", remote.map_or("?", |r| r.name.as_str()))
                }
            }),
            _ => None,
        };
        if let Some(who) = missing {
            self.err_help(
                at,
                bpath,
                Rule::ConnectionBgpSettings,
                format!(
                    "connection `{}` enables BGP but {who} has no BGP settings",
                    c.name.value
                ),
                "add `bgp: { asn: ..., peering_ip: ... }` to it, or set `bgp: false`",
            );
            return;
        }
        if let (Some(mine), Some((theirs, other))) = (gw.bgp, remote_asn)
            && mine.asn == theirs
        {
            self.err(
                at,
                bpath,
                Rule::ConnectionBgpAsn,
                format!(
                    "connection `{}` joins gateway `{}` and `{other}`, both with ASN {theirs}; a BGP session joins two different ASNs",
                    c.name.value, gw.name
                ),
            );
        }
    }

    /// The gateway of `kind` in VNet `v`.
    fn gateway_of_kind(&self, v: VnetId, kind: GatewayKind) -> Option<&Gateway> {
        let vnet = &self.sc.vnets[v.index()];
        [vnet.gateway.as_ref(), vnet.expressroute.as_ref()]
            .into_iter()
            .flatten()
            .find(|g| g.kind == kind)
    }

    /// The site end of an ipsec or expressroute connection.
    fn site_end(&mut self, c: &RawConnection, path: &str) -> Option<ConnectionPeer> {
        if let Some(s) = self.site_named(&c.to.value) {
            return Some(ConnectionPeer::Site(s));
        }
        let gateway_named = self.names.gateways.contains_key(c.to.value.as_str())
            || self.names.vnets.contains_key(c.to.value.as_str());
        if gateway_named {
            self.err_help(
                loc(&c.to),
                format!("{path}.to"),
                Rule::ConnectionEndpoints,
                format!(
                    "connection `{}` of type {} leads to `{}`, a gateway or VNet; it connects to a site",
                    c.name.value,
                    c.kind.value.as_str(),
                    c.to.value
                ),
                "a connection between two gateways is of type vnet2vnet",
            );
            return None;
        }
        self.unknown_peer(
            c,
            path,
            self.sc.sites.iter().map(|s| s.name.clone()).collect(),
        )
    }

    /// The gateway end of a vnet2vnet connection.
    fn gateway_end(&mut self, c: &RawConnection, path: &str) -> Option<ConnectionPeer> {
        let name = c.to.value.as_str();
        if let Some((v, _)) = self.names.gateways.get(name).or(self.names.vnets.get(name)) {
            return Some(ConnectionPeer::Gateway(VnetId(*v)));
        }
        if self.site_named(name).is_some() {
            self.err_help(
                loc(&c.to),
                format!("{path}.to"),
                Rule::ConnectionEndpoints,
                format!(
                    "VNet-to-VNet connection `{}` leads to site `{name}`; it connects two VPN gateways",
                    c.name.value
                ),
                "a connection to a site is of type ipsec",
            );
            return None;
        }
        let known = self
            .names
            .gateways
            .keys()
            .chain(self.names.vnets.keys())
            .map(|k| (*k).to_owned())
            .collect();
        self.unknown_peer(c, path, known)
    }

    /// Reports an unknown `to` with the nearest of `known`.
    fn unknown_peer(
        &mut self,
        c: &RawConnection,
        path: &str,
        known: Vec<String>,
    ) -> Option<ConnectionPeer> {
        let best = nearest(&c.to.value, known.iter().map(String::as_str)).map(str::to_owned);
        self.unknown(
            loc(&c.to),
            format!("{path}.to"),
            Rule::UnknownConnectionPeer,
            format!("there is no site or gateway named `{}`", c.to.value),
            best.as_deref(),
            None,
        );
        None
    }
}

impl RawConnectionType {
    /// The file's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RawConnectionType::Ipsec => "ipsec",
            RawConnectionType::Vnet2vnet => "vnet2vnet",
            RawConnectionType::Expressroute => "expressroute",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vpnfaq26_reserved_asns() {
        for asn in [8074, 8075, 12076, 65517, 65518, 65519, 65520] {
            assert!(reserved_asn(asn, false), "{asn}");
            assert!(reserved_asn(asn, true), "{asn}");
        }
        // 65515 is the gateways' default: reserved for on-premises devices only.
        assert!(!reserved_asn(65515, false));
        assert!(reserved_asn(65515, true));
        for asn in [64512, 65514, 65521, 65534, 4_200_000_000] {
            assert!(!reserved_asn(asn, true), "{asn}");
        }
    }

    #[test]
    fn vpnfaq26_apipa_range_is_169_254_21_to_22() {
        assert!(apipa(Ipv4Addr::new(169, 254, 21, 1)));
        assert!(apipa(Ipv4Addr::new(169, 254, 22, 255)));
        assert!(!apipa(Ipv4Addr::new(169, 254, 23, 1)));
        assert!(!apipa(Ipv4Addr::new(169, 254, 20, 255)));
    }
}
