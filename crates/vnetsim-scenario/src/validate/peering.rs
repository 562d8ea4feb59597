//! The peering room: the rules a peering link must obey, for the file's `peerings` and for
//! `add_peering` events alike.
//!
//! What it is for: [`Resolver::peering_rules`] checks one link (not to itself, one per
//! direction, the VNet's link limit, deployment models, regions, tenants, address spaces,
//! gateway transit) against a [`Links`]: the links present when it is created. The file's
//! peerings are checked in file order, each against the ones before it; an event's link
//! against the network at that event's time. What it is not: when events happen (the events
//! room) or what a peering does to packets (the data plane).

use std::collections::{HashMap, HashSet};

use super::resolver::{Kind, Resolver, loc, overlaps};
use crate::model::*;
use crate::raw::RawPeering;
use crate::rules::Rule;

/// A peering link present in the network, as the rules see it.
#[derive(Clone, Debug)]
pub(super) struct Link {
    /// The link's name (an event's link of the same name replaces it).
    pub(super) name: String,
    pub(super) from: u32,
    pub(super) to: u32,
    /// `allow_gateway_transit` is set.
    pub(super) transit: bool,
    /// The `from` VNet uses the remote gateway through this link: the line of its
    /// `use_remote_gateways`.
    pub(super) remote_user: Option<u64>,
    /// Line of the link's name.
    pub(super) line: u64,
}

/// The peering links present at one point, with what the rules ask of them.
#[derive(Default)]
pub(super) struct Links {
    present: Vec<Link>,
    /// The line of the first link of each (from, to) pair.
    pairs: HashMap<(u32, u32), u64>,
    /// Links owned by each VNet.
    owned: HashMap<u32, u32>,
    /// The first link through which each VNet uses a remote gateway (its line).
    remote_users: HashMap<u32, u64>,
    /// Pairs (from, to) whose link allows gateway transit.
    transit: HashSet<(u32, u32)>,
    /// VNets already reported over the link limit (reported once each).
    over_limit: HashSet<u32>,
}

impl Links {
    /// Records a link created now.
    pub(super) fn add(&mut self, link: Link) {
        self.pairs.entry((link.from, link.to)).or_insert(link.line);
        *self.owned.entry(link.from).or_insert(0) += 1;
        if let Some(line) = link.remote_user {
            self.remote_users.entry(link.from).or_insert(line);
        }
        if link.transit {
            self.transit.insert((link.from, link.to));
        }
        self.present.push(link);
    }

    /// Removes the link named `name`, if present.
    pub(super) fn remove(&mut self, name: &str) {
        if !self.present.iter().any(|l| l.name == name) {
            return;
        }
        let kept: Vec<Link> = self.present.drain(..).filter(|l| l.name != name).collect();
        let over_limit = std::mem::take(&mut self.over_limit);
        *self = Links {
            over_limit,
            ..Links::default()
        };
        for link in kept {
            self.add(link);
        }
    }

    /// The VNet whose gateway `vnet` uses through a present link, if any.
    pub(super) fn remote_gateway_of(&self, vnet: u32) -> Option<u32> {
        self.present
            .iter()
            .find(|l| l.from == vnet && l.remote_user.is_some())
            .map(|l| l.to)
    }

    /// The VNets joined to `vnet` by a present link, in either direction (each once).
    pub(super) fn peers_of(&self, vnet: u32) -> Vec<u32> {
        let mut peers: Vec<u32> = Vec::new();
        for l in &self.present {
            let other = match (l.from == vnet, l.to == vnet) {
                (true, _) => l.to,
                (_, true) => l.from,
                _ => continue,
            };
            if !peers.contains(&other) {
                peers.push(other);
            }
        }
        peers
    }

    /// Declares that a link `from -> to` with gateway transit will exist: the file's links
    /// answer the gateway transit rule whatever their order.
    pub(super) fn expect_transit(&mut self, from: u32, to: u32) {
        self.transit.insert((from, to));
    }
}

impl Resolver<'_> {
    /// Indexes the file's peerings and checks each against the ones before it; returns the
    /// links present at time zero.
    pub(super) fn peerings(&mut self) -> Links {
        let raw = self.raw;
        self.names.peerings = self.index(
            "peering",
            raw.peerings
                .iter()
                .enumerate()
                .map(|(i, p)| (&p.name, format!("peerings[{i}].name"))),
        );
        self.peering_ends = raw
            .peerings
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let a = self.find(Kind::Vnet, &p.from, format!("peerings[{i}].from"));
                let b = self.find(Kind::Vnet, &p.to, format!("peerings[{i}].to"));
                a.zip(b)
            })
            .collect();
        let mut links = Links::default();
        for (p, ends) in raw.peerings.iter().zip(&self.peering_ends) {
            if let Some((a, b)) = ends
                && p.allow_gateway_transit.as_ref().is_some_and(|s| s.value)
            {
                links.expect_transit(*a, *b);
            }
        }
        for (i, p) in raw.peerings.iter().enumerate() {
            let ends = self.peering_ends[i];
            if let Some((a, b)) = ends
                && let Some(link) =
                    self.peering_rules(p, &format!("peerings[{i}]"), (a, b), &mut links)
            {
                links.add(link);
            }
            self.sc.peerings.push(peering(p, ends.unwrap_or((0, 0))));
        }
        links
    }

    /// Every rule of one peering link `a -> b` written as `p` at `path`, against the links
    /// present when it is created. Returns the link to record (none for a link to itself).
    pub(super) fn peering_rules(
        &mut self,
        p: &RawPeering,
        path: &str,
        (a, b): (u32, u32),
        links: &mut Links,
    ) -> Option<Link> {
        if a == b {
            let msg = format!(
                "peering `{}` links VNet `{}` to itself; a VNet cannot peer with itself",
                p.name.value, self.sc.vnets[a as usize].name
            );
            self.err(loc(&p.to), format!("{path}.to"), Rule::PeeringSelf, msg);
            return None;
        }
        self.link_count(p, path, (a, b), links);
        let cross_model = self.deployment_models(p, path, (a, b));
        self.reach(p, path, (a, b));
        let mut link = Link {
            name: p.name.value.clone(),
            from: a,
            to: b,
            transit: p.allow_gateway_transit.as_ref().is_some_and(|s| s.value),
            remote_user: None,
            line: loc(&p.name).line(),
        };
        if cross_model {
            self.transit_cross_model(p, path, (a, b));
        } else if let Some(f) = p.use_remote_gateways.as_ref().filter(|s| s.value) {
            link.remote_user = Some(loc(f).line());
            self.remote_gateway(p, path, (a, b), links);
        }
        Some(link)
    }

    /// peering-duplicate-link and peering-limit.
    fn link_count(&mut self, p: &RawPeering, path: &str, (a, b): (u32, u32), links: &mut Links) {
        let na = self.sc.vnets[a as usize].name.clone();
        let nb = &self.sc.vnets[b as usize].name;
        if let Some(line) = links.pairs.get(&(a, b)) {
            let msg = format!(
                "a link from `{na}` to `{nb}` already exists (line {line}); Azure holds one peering per direction"
            );
            self.err(
                loc(&p.name),
                format!("{path}.name"),
                Rule::PeeringDuplicateLink,
                msg,
            );
        }
        let limit = self.sc.azure.peering_limit;
        let owned = links.owned.get(&a).copied().unwrap_or(0);
        if owned >= limit && links.over_limit.insert(a) {
            let msg =
                format!("VNet `{na}` holds more than {limit} peering links (azure.peering_limit)");
            self.err(
                loc(&p.name),
                format!("{path}.name"),
                Rule::PeeringLimit,
                msg,
            );
        }
    }

    /// The deployment model rules; returns whether the link crosses models.
    fn deployment_models(&mut self, p: &RawPeering, path: &str, (a, b): (u32, u32)) -> bool {
        let (va, vb) = (&self.sc.vnets[a as usize], &self.sc.vnets[b as usize]);
        let classic = |v: &Vnet| v.deployment == Deployment::Classic;
        let (ca, cb) = (classic(va), classic(vb));
        let (na, nb) = (va.name.clone(), vb.name.clone());
        let other_subscription = va.subscription != vb.subscription;
        if ca && cb {
            self.err(
                loc(&p.from),
                format!("{path}.from"),
                Rule::PeeringClassicClassic,
                format!("`{na}` and `{nb}` are both classic VNets; two classic VNets cannot peer"),
            );
        } else if ca {
            self.err_help(
                loc(&p.from),
                format!("{path}.from"),
                Rule::PeeringFromClassic,
                format!("VNet `{na}` is classic and owns no peering link; only the Resource Manager side creates one"),
                format!("keep only the link from `{nb}` to `{na}`"),
            );
        }
        let cross_model = ca != cb;
        if cross_model && other_subscription {
            self.err(loc(&p.to), format!("{path}.to"), Rule::PeeringClassicSubscription, format!("a classic and a Resource Manager VNet peer only inside one subscription; `{na}` and `{nb}` are in different subscriptions"));
        }
        cross_model
    }

    /// Region, tenant and address space rules.
    fn reach(&mut self, p: &RawPeering, path: &str, (a, b): (u32, u32)) {
        let sc = &self.sc;
        let (va, vb) = (&sc.vnets[a as usize], &sc.vnets[b as usize]);
        let tenant = |v: &Vnet| {
            sc.subscriptions
                .get(v.subscription.index())
                .map(|s| s.tenant.clone())
                .unwrap_or_default()
        };
        let (ta, tb) = (tenant(va), tenant(vb));
        let region = (va.region != vb.region && !sc.azure.global_peering).then(|| {
            format!(
                "`{}` is in region `{}` and `{}` in `{}`; peerings stay inside one region",
                va.name, va.region, vb.name, vb.region
            )
        });
        let tenants = (ta != tb && !sc.azure.cross_tenant_peering).then(|| {
            format!(
                "`{}` is in tenant `{ta}` and `{}` in `{tb}`; peered VNets share an AD tenant",
                va.name, vb.name
            )
        });
        let overlap = va.address_space.iter().find_map(|x| {
            let y = vb.address_space.iter().find(|y| overlaps(*x, **y))?;
            Some(format!(
                "{x} of `{}` overlaps {y} of `{}`; peered VNets' address spaces must not overlap",
                va.name, vb.name
            ))
        });
        let to = loc(&p.to);
        if let Some(msg) = region {
            let help = "set `azure.global_peering: true` for Global VNet Peering (2018+)";
            self.err_help(
                to,
                format!("{path}.to"),
                Rule::PeeringCrossRegion,
                msg,
                help,
            );
        }
        if let Some(msg) = tenants {
            let help = "set `azure.cross_tenant_peering: true` (2019+)";
            self.err_help(
                to,
                format!("{path}.to"),
                Rule::PeeringCrossTenant,
                msg,
                help,
            );
        }
        if let Some(msg) = overlap {
            self.err(to, format!("{path}.to"), Rule::PeeringAddressOverlap, msg);
        }
    }

    /// gateway-transit-cross-model: in 2016 neither transit flag across deployment models
    /// ([peering-2016]: "not supported"); with `azure.classic_gateway_transit` (2018+,
    /// [gw-transit]) the Resource Manager side may allow gateway transit to a classic VNet,
    /// but a Resource Manager VNet cannot use a classic VNet's gateway ("the gateway must be in
    /// the Resource Manager virtual network").
    fn transit_cross_model(&mut self, p: &RawPeering, path: &str, (a, b): (u32, u32)) {
        let transit = p.allow_gateway_transit.as_ref().filter(|s| s.value);
        let use_remote = p.use_remote_gateways.as_ref().filter(|s| s.value);
        let (na, nb) = (
            self.sc.vnets[a as usize].name.clone(),
            self.sc.vnets[b as usize].name.clone(),
        );
        if self.sc.azure.classic_gateway_transit {
            if let Some(f) = use_remote {
                self.err_help(
                    loc(f),
                    format!("{path}.use_remote_gateways"),
                    Rule::GatewayTransitCrossModel,
                    format!(
                        "`{na}` cannot use the gateway of the classic VNet `{nb}`; between deployment models the gateway must be in the Resource Manager VNet"
                    ),
                    format!(
                        "put the gateway in `{na}` and set `allow_gateway_transit: true` on this link: the classic VNet then uses it with nothing set on its side"
                    ),
                );
            }
            return;
        }
        let msg = format!(
            "gateway transit does not work between classic and Resource Manager VNets (`{na}` and `{nb}`) in the 2016 era"
        );
        for (flag, name) in [
            (transit, "allow_gateway_transit"),
            (use_remote, "use_remote_gateways"),
        ] {
            if let Some(f) = flag {
                self.err_help(
                    loc(f),
                    format!("{path}.{name}"),
                    Rule::GatewayTransitCrossModel,
                    msg.clone(),
                    "set `azure.era: current` (or `azure.classic_gateway_transit: true`): since 2018 a classic VNet may use the gateway of the Resource Manager VNet",
                );
            }
        }
    }

    /// The rules of `use_remote_gateways` on link `a -> b`.
    fn remote_gateway(&mut self, p: &RawPeering, path: &str, (a, b): (u32, u32), links: &Links) {
        let Some(f) = p.use_remote_gateways.as_ref().filter(|s| s.value) else {
            return;
        };
        let fpath = format!("{path}.use_remote_gateways");
        let (va, vb) = (&self.sc.vnets[a as usize], &self.sc.vnets[b as usize]);
        let (na, nb) = (va.name.clone(), vb.name.clone());
        let (local, remote) = (va.gateway.is_some(), vb.gateway.is_some());
        // "The transit option ... can be used with all VPN Gateway SKUs except the Basic SKU"
        // (Configure VPN gateway transit for virtual network peering, current version; the 2018
        // page and the 2016 peering document are silent, so era 2016 allows it).
        let basic = vb.gateway.as_ref().is_some_and(|g| {
            g.kind == crate::sizes::GatewayKind::Vpn && g.sku.eq_ignore_ascii_case("Basic")
        });
        if let Some(line) = links.remote_users.get(&a) {
            self.err(loc(f), fpath.clone(), Rule::UseRemoteGatewaysMultiple, format!("VNet `{na}` already uses a remote gateway through the peering on line {line}; only one peering of a VNet may set use_remote_gateways"));
        }
        if local {
            self.err(loc(f), fpath.clone(), Rule::UseRemoteGatewaysLocalGateway, format!("VNet `{na}` has its own gateway; a VNet uses either its own gateway or a remote one"));
        }
        if !remote {
            self.err(
                loc(f),
                fpath.clone(),
                Rule::UseRemoteGatewaysNoRemoteGateway,
                format!("use_remote_gateways needs a gateway in `{nb}`, which has none"),
            );
        }
        if basic && self.sc.azure.era == Era::Current {
            self.err_help(
                loc(f),
                fpath.clone(),
                Rule::GatewayTransitBasic,
                format!(
                    "the VPN gateway of `{nb}` is of the Basic SKU, which gateway transit does not support"
                ),
                "use a VpnGw SKU for the hub's gateway",
            );
        }
        if !links.transit.contains(&(b, a)) {
            self.err_help(loc(f), fpath, Rule::UseRemoteGatewaysNoTransit, format!("use_remote_gateways needs the link from `{nb}` to `{na}` with allow_gateway_transit"), format!("add or update the peering from `{nb}` to `{na}` with `allow_gateway_transit: true`"));
        }
    }
}

/// The model of peering `p` between the VNets `(a, b)`.
pub(super) fn peering(p: &RawPeering, (a, b): (u32, u32)) -> Peering {
    Peering {
        name: p.name.value.clone(),
        from: VnetId(a),
        to: VnetId(b),
        allow_virtual_network_access: p.allow_virtual_network_access.unwrap_or(true),
        allow_forwarded_traffic: p.allow_forwarded_traffic,
        allow_gateway_transit: p.allow_gateway_transit.as_ref().is_some_and(|s| s.value),
        use_remote_gateways: p.use_remote_gateways.as_ref().is_some_and(|s| s.value),
    }
}
