//! The events room: timed changes to the network, checked by the same rules as the file's own
//! declarations, against the network as it is when each change happens.
//!
//! What it is for: resolving each event's names, then replaying the events in time order (file
//! order at equal times, as the engine applies them) over a [`Timeline`]: the peering links,
//! NSG rules and subnet route tables present at that moment. An `add_peering` runs every rule
//! of [`Resolver::peering_rules`]; an `add_nsg_rule` the rule checks of an NSG's rules and its
//! priority rule (an event's rule named like a present one replaces it, as an event's link
//! named like a present one does); a `set_route_table`, and an `add_peering` that starts using
//! a remote gateway, the ExpressRoute route rule; an `update_address_space` the address space
//! rules of a VNet and, while it is peered, the era switch, the classic-peer rule and the
//! peers' overlap rule (later events see the new ranges). What it is not: applying the events
//! to packets (the engine's network).

use serde_saphyr::Spanned;

use super::peering::{Links, peering};
use super::resolver::{Kind, Resolver, loc, overlaps, reserved_overlap};
use super::security::RuleSlot;
use crate::diag::nearest;
use crate::model::*;
use crate::raw::*;
use crate::rules::Rule;

/// The network at one point of the events' time: what an event's rules are checked against.
pub(super) struct Timeline {
    /// The peering links present.
    pub(super) links: Links,
    /// The rules each NSG holds.
    pub(super) nsg_rules: Vec<Vec<RuleSlot>>,
    /// The route table of each subnet.
    pub(super) route_tables: Vec<Option<RouteTableId>>,
}

/// The actions an event may take, as the `event-action` help lists them.
const ACTIONS: &str = "actions: remove_peering, add_peering, set_route_table, set_subnet_nsg, set_nic_nsg, add_nsg_rule, remove_nsg_rule, set_ip_forwarding, update_address_space, sync_peering, add_connection, remove_connection, set_backend_health";

impl Resolver<'_> {
    /// Resolves every event, then checks each against the network at its time, starting from
    /// `timeline` (the network the file declares).
    pub(super) fn events(&mut self, mut timeline: Timeline) {
        let raw = self.raw;
        let mut resolved: Vec<(usize, Event)> = Vec::new();
        for (i, e) in raw.events.iter().enumerate() {
            if let Some(ev) = self.event(e, &format!("events[{i}]")) {
                resolved.push((i, ev));
            }
        }
        let mut order: Vec<&(usize, Event)> = resolved.iter().collect();
        order.sort_by_key(|(_, ev)| ev.at);
        // Address spaces change with `update_address_space`: the rules of later events see the
        // spaces of their time; the model keeps the file's.
        let file_spaces: Vec<Vec<ipnet::Ipv4Net>> = self
            .sc
            .vnets
            .iter()
            .map(|v| v.address_space.clone())
            .collect();
        for (i, ev) in order {
            self.event_rules(
                &raw.events[*i].value,
                &ev.action,
                &format!("events[{i}]"),
                &mut timeline,
            );
        }
        for (v, space) in self.sc.vnets.iter_mut().zip(file_spaces) {
            v.address_space = space;
        }
        self.sc.events = resolved.into_iter().map(|(_, ev)| ev).collect();
    }

    /// One event's time and action, with every name resolved.
    fn event(&mut self, e: &Spanned<RawEvent>, path: &str) -> Option<Event> {
        let ev = &e.value;
        let at = self.opt_duration(ev.at.as_ref(), format!("{path}.at"), 0);
        let count = [
            ev.remove_peering.is_some(),
            ev.add_peering.is_some(),
            ev.set_route_table.is_some(),
            ev.set_subnet_nsg.is_some(),
            ev.set_nic_nsg.is_some(),
            ev.add_nsg_rule.is_some(),
            ev.remove_nsg_rule.is_some(),
            ev.set_ip_forwarding.is_some(),
            ev.update_address_space.is_some(),
            ev.sync_peering.is_some(),
            ev.add_connection.is_some(),
            ev.remove_connection.is_some(),
            ev.set_backend_health.is_some(),
        ]
        .iter()
        .filter(|x| **x)
        .count();
        if count != 1 {
            self.err_help(
                loc(e),
                path,
                Rule::EventAction,
                format!("an event has exactly one action, this one has {count}"),
                ACTIONS,
            );
            return None;
        }
        let action = self.action(ev, path)?;
        Some(Event {
            at,
            action,
            line: loc(e).line() as u32,
        })
    }

    /// The action of an event that has exactly one.
    fn action(&mut self, ev: &RawEvent, path: &str) -> Option<EventAction> {
        if let Some(name) = &ev.remove_peering {
            let id = self.find(Kind::Peering, name, format!("{path}.remove_peering"))?;
            Some(EventAction::RemovePeering(PeeringId(id)))
        } else if let Some(p) = &ev.add_peering {
            let ppath = format!("{path}.add_peering");
            let a = self.find(Kind::Vnet, &p.from, format!("{ppath}.from"));
            let b = self.find(Kind::Vnet, &p.to, format!("{ppath}.to"));
            Some(EventAction::AddPeering(peering(p, a.zip(b)?)))
        } else if let Some(s) = &ev.set_route_table {
            let subnet = self.subnet_by_path(&s.subnet, &format!("{path}.set_route_table.subnet"));
            let rt = self.optional(
                Kind::RouteTable,
                s.route_table.as_ref(),
                &format!("{path}.set_route_table.route_table"),
            )?;
            Some(EventAction::SetRouteTable {
                subnet: subnet?,
                route_table: rt.map(RouteTableId),
            })
        } else if let Some(s) = &ev.set_subnet_nsg {
            let subnet = self.subnet_by_path(&s.subnet, &format!("{path}.set_subnet_nsg.subnet"));
            let nsg = self.optional(
                Kind::Nsg,
                s.nsg.as_ref(),
                &format!("{path}.set_subnet_nsg.nsg"),
            )?;
            Some(EventAction::SetSubnetNsg {
                subnet: subnet?,
                nsg: nsg.map(NsgId),
            })
        } else if let Some(s) = &ev.set_nic_nsg {
            let nic = self.find(Kind::Nic, &s.nic, format!("{path}.set_nic_nsg.nic"));
            let nsg = self.optional(
                Kind::Nsg,
                s.nsg.as_ref(),
                &format!("{path}.set_nic_nsg.nsg"),
            )?;
            Some(EventAction::SetNicNsg {
                nic: NicId(nic?),
                nsg: nsg.map(NsgId),
            })
        } else {
            self.nsg_or_nic_action(ev, path)
        }
    }

    /// The actions on NSG rules and on IP forwarding.
    fn nsg_or_nic_action(&mut self, ev: &RawEvent, path: &str) -> Option<EventAction> {
        if let Some(s) = &ev.add_nsg_rule {
            let nsg = self.find(Kind::Nsg, &s.nsg, format!("{path}.add_nsg_rule.nsg"));
            let rule = self.nsg_rule(&s.rule, &format!("{path}.add_nsg_rule.rule"))?;
            self.asg_rule_vnets(&s.rule, &format!("{path}.add_nsg_rule.rule"));
            Some(EventAction::AddNsgRule {
                nsg: NsgId(nsg?),
                rule,
            })
        } else if let Some(s) = &ev.remove_nsg_rule {
            let nsg = self.find(Kind::Nsg, &s.nsg, format!("{path}.remove_nsg_rule.nsg"))?;
            Some(EventAction::RemoveNsgRule {
                nsg: NsgId(nsg),
                rule: s.rule.value.clone(),
            })
        } else if let Some(s) = &ev.set_ip_forwarding {
            let nic = self.find(Kind::Nic, &s.nic, format!("{path}.set_ip_forwarding.nic"))?;
            Some(EventAction::SetIpForwarding {
                nic: NicId(nic),
                enabled: s.enabled,
            })
        } else if let Some(u) = &ev.update_address_space {
            let upath = format!("{path}.update_address_space");
            let vnet = self.find(Kind::Vnet, &u.vnet, format!("{upath}.vnet"));
            let space = self.new_address_space(u, &upath);
            Some(EventAction::UpdateAddressSpace {
                vnet: VnetId(vnet?),
                address_space: space?,
                sync: u.sync.as_ref().is_none_or(|s| s.value),
            })
        } else if let Some(name) = &ev.sync_peering {
            let id = self.find(Kind::Peering, name, format!("{path}.sync_peering"))?;
            Some(EventAction::SyncPeering(PeeringId(id)))
        } else if let Some(c) = &ev.add_connection {
            self.connection_entry(c, &format!("{path}.add_connection"))
                .map(EventAction::AddConnection)
        } else if let Some(name) = &ev.remove_connection {
            self.known_connection(name, &format!("{path}.remove_connection"))
                .then(|| EventAction::RemoveConnection(name.value.clone()))
        } else if let Some(h) = &ev.set_backend_health {
            let hpath = format!("{path}.set_backend_health");
            let lb = self.lb_by_name(&h.load_balancer, &format!("{hpath}.load_balancer"));
            let nic = self.find(Kind::Nic, &h.nic, format!("{hpath}.nic"));
            let (lb, nic) = (lb?, NicId(nic?));
            if !self.lb_backend_rules(lb, nic, &h.nic, &format!("{hpath}.nic")) {
                return None;
            }
            Some(EventAction::SetBackendHealth {
                lb,
                nic,
                healthy: h.healthy,
            })
        } else {
            None
        }
    }

    /// The ranges of an `update_address_space`: at least one, valid prefixes, none overlapping
    /// another (the rules of a VNet's `address_space` in the file).
    fn new_address_space(
        &mut self,
        u: &RawUpdateAddressSpace,
        path: &str,
    ) -> Option<Vec<ipnet::Ipv4Net>> {
        if u.address_space.is_empty() {
            self.err(
                loc(&u.vnet),
                format!("{path}.address_space"),
                Rule::VnetAddressSpaceEmpty,
                format!(
                    "the new address space of VNet `{}` has no range; a VNet needs at least one",
                    u.vnet.value
                ),
            );
            return None;
        }
        let mut space: Vec<ipnet::Ipv4Net> = Vec::new();
        let mut ok = true;
        for (k, a) in u.address_space.iter().enumerate() {
            let apath = format!("{path}.address_space[{k}]");
            let Some(net) = self.cidr(a, &apath) else {
                ok = false;
                continue;
            };
            if let Some((reserved, what)) = reserved_overlap(net) {
                let msg = format!(
                    "{net} overlaps {reserved} ({what}), which Azure reserves; VNet `{}` cannot hold it",
                    u.vnet.value
                );
                self.err(loc(a), apath.clone(), Rule::AddressSpaceReserved, msg);
                ok = false;
            }
            if let Some(other) = space.iter().find(|o| overlaps(**o, net)) {
                let msg = format!(
                    "{net} overlaps {other}, another new range of VNet `{}`; a VNet's address ranges must not overlap",
                    u.vnet.value
                );
                self.err(loc(a), apath, Rule::AddressSpaceOverlap, msg);
                ok = false;
            }
            space.push(net);
        }
        ok.then_some(space)
    }

    /// The rules of an address space change of `vnet` to `new` at its time
    /// ([update-address-space], [peering-2016], resize draft 2022): while peered only under
    /// `azure.address_space_update` and never with a classic peer; new ranges clear of the
    /// peers' ranges; a range dropped only when it holds no subnet.
    fn address_space_rules(
        &mut self,
        u: &RawUpdateAddressSpace,
        vnet: VnetId,
        new: &[ipnet::Ipv4Net],
        path: &str,
        t: &Timeline,
    ) {
        let path = format!("{path}.update_address_space");
        let name = self.sc.vnets[vnet.index()].name.clone();
        let peers = t.links.peers_of(vnet.0);
        if let Some(&first) = peers.first() {
            let peer = self.sc.vnets[first as usize].name.clone();
            let classic = |v: u32| self.sc.vnets[v as usize].deployment == Deployment::Classic;
            let classic_peer = std::iter::once(vnet.0)
                .chain(peers.iter().copied())
                .find(|v| classic(*v))
                .map(|v| self.sc.vnets[v as usize].name.clone());
            if !self.sc.azure.address_space_update {
                let msg = format!(
                    "[peering-2016] the address space of a peered VNet cannot change; delete the peering first (`{name}` is peered with `{peer}`)"
                );
                let help = "set `azure.address_space_update: true` (or `azure.era: current`): since 2021 the change is allowed, then each remote peering is synced";
                let field = format!("{path}.vnet");
                self.err_help(
                    loc(&u.vnet),
                    field,
                    Rule::AddressSpaceUpdatePeered,
                    msg,
                    help,
                );
            } else if let Some(c) = classic_peer {
                let msg = format!(
                    "`{name}` is peered with `{peer}` and `{c}` is a classic VNet; an address space cannot change while peered with a classic VNet"
                );
                let field = format!("{path}.vnet");
                self.err(loc(&u.vnet), field, Rule::AddressSpaceUpdateClassic, msg);
            }
            for (k, net) in new.iter().enumerate() {
                let clash = peers.iter().find_map(|p| {
                    let pv = &self.sc.vnets[*p as usize];
                    let other = pv.address_space.iter().find(|o| overlaps(**o, *net))?;
                    Some((pv.name.clone(), *other))
                });
                if let Some((pname, other)) = clash {
                    let msg = format!(
                        "{net} overlaps {other} of `{pname}`, peered with `{name}`; peered VNets' address spaces must not overlap"
                    );
                    let at = loc(&u.address_space[k]);
                    let field = format!("{path}.address_space[{k}]");
                    self.err(at, field, Rule::PeeringAddressOverlap, msg);
                }
            }
        }
        let old = self.sc.vnets[vnet.index()].address_space.clone();
        let inside =
            |space: &[ipnet::Ipv4Net], p: &ipnet::Ipv4Net| space.iter().any(|r| r.contains(p));
        let dropped = self.sc.vnets[vnet.index()].subnets.iter().find_map(|s| {
            let sub = &self.sc.subnets[s.index()];
            let range = old.iter().find(|r| r.contains(&sub.prefix))?;
            (!inside(new, &sub.prefix)).then(|| (sub.name.clone(), sub.prefix, *range))
        });
        if let Some((subnet, prefix, range)) = dropped {
            let msg = format!(
                "subnet `{subnet}` ({prefix}) lies in {range} of `{name}`, which the new address space does not hold; a range can only be removed when it holds no subnets"
            );
            let field = format!("{path}.address_space");
            self.err(loc(&u.vnet), field, Rule::AddressRangeHoldsSubnets, msg);
        }
        self.sc.vnets[vnet.index()].address_space = new.to_vec();
    }

    /// An optional reference (`null` detaches): `Some(None)` when absent, `None` when unknown.
    fn optional(
        &mut self,
        kind: Kind,
        name: Option<&Spanned<String>>,
        path: &str,
    ) -> Option<Option<u32>> {
        match name {
            Some(n) => self.find(kind, n, path).map(Some),
            None => Some(None),
        }
    }

    /// A subnet written `vnet/subnet`.
    fn subnet_by_path(&mut self, name: &Spanned<String>, path: &str) -> Option<SubnetId> {
        let found = self.sc.subnet_by_path(&name.value);
        if found.is_none() {
            let all: Vec<String> = (0..self.sc.subnets.len())
                .map(|i| self.sc.subnet_path(SubnetId(i as u32)))
                .collect();
            let best = nearest(&name.value, all.iter().map(String::as_str));
            let msg = format!(
                "there is no subnet `{}` (write subnets as `vnet/subnet`)",
                name.value
            );
            self.unknown(loc(name), path, Rule::UnknownSubnet, msg, best, None);
        }
        found
    }

    /// The rules an event's action must obey at its time; then the action changes the
    /// timeline.
    fn event_rules(&mut self, ev: &RawEvent, action: &EventAction, path: &str, t: &mut Timeline) {
        match action {
            EventAction::RemovePeering(id) => {
                t.links.remove(&self.sc.peerings[id.index()].name);
            }
            EventAction::AddPeering(link) => {
                let Some(p) = &ev.add_peering else { return };
                let path = format!("{path}.add_peering");
                t.links.remove(&link.name);
                let ends = (link.from.0, link.to.0);
                if let Some(new) = self.peering_rules(p, &path, ends, &mut t.links) {
                    if new.remote_user.is_some() {
                        self.remote_expressroute(p, &path, ends, t);
                    }
                    t.links.add(new);
                }
            }
            EventAction::SetRouteTable {
                subnet,
                route_table,
            } => {
                t.route_tables[subnet.index()] = *route_table;
                if let (Some(rt), Some(s)) = (route_table, &ev.set_route_table) {
                    self.route_table_expressroute(*subnet, *rt, s, path, t);
                }
            }
            EventAction::AddNsgRule { nsg, rule } => {
                let Some(s) = &ev.add_nsg_rule else { return };
                let held = &mut t.nsg_rules[nsg.index()];
                held.retain(|r| r.name != rule.name);
                let rpath = format!("{path}.add_nsg_rule.rule");
                self.priority_free(held, rule, &s.rule.priority, &rpath);
                held.push(RuleSlot::of(rule, &s.rule));
            }
            EventAction::RemoveNsgRule { nsg, rule } => {
                t.nsg_rules[nsg.index()].retain(|r| &r.name != rule);
            }
            EventAction::UpdateAddressSpace {
                vnet,
                address_space,
                ..
            } => {
                let Some(u) = &ev.update_address_space else {
                    return;
                };
                self.address_space_rules(u, *vnet, address_space, path, t);
            }
            EventAction::SetSubnetNsg { .. }
            | EventAction::SetNicNsg { .. }
            | EventAction::SetIpForwarding { .. }
            | EventAction::SyncPeering(_)
            | EventAction::SetBackendHealth { .. } => {}
            // Checked when resolved, by the rules of `connections` entries.
            EventAction::AddConnection(_) | EventAction::RemoveConnection(_) => {}
        }
    }

    /// udr-gateway-expressroute for a route table attached to `subnet` by an event.
    fn route_table_expressroute(
        &mut self,
        subnet: SubnetId,
        rt: RouteTableId,
        s: &RawSetRouteTable,
        path: &str,
        t: &Timeline,
    ) {
        let vnet = self.sc.subnets[subnet.index()].vnet;
        let Some(gw) = self.gateway_reached(vnet, t.links.remote_gateway_of(vnet.0)) else {
            return;
        };
        let Some((j, _)) = self.expressroute_route(gw, rt) else {
            return;
        };
        let table = &self.raw.route_tables[rt.index()];
        let msg = self.expressroute_message(&table.routes[j], table, subnet, gw);
        let at = s.route_table.as_ref().map_or(loc(&s.subnet), loc);
        let help = super::gateways::EXPRESSROUTE_HELP;
        let field = format!("{path}.set_route_table.route_table");
        self.err_help(at, field, Rule::UdrGatewayExpressroute, msg, help);
    }

    /// udr-gateway-expressroute for a link that makes VNet `a` use the gateway of `b`: a
    /// subnet of `a` whose route table sends to VirtualNetworkGateway.
    fn remote_expressroute(
        &mut self,
        p: &RawPeering,
        path: &str,
        (a, b): (u32, u32),
        t: &Timeline,
    ) {
        let Some(flag) = &p.use_remote_gateways else {
            return;
        };
        let Some(gw) = self.gateway_reached(VnetId(a), Some(b)) else {
            return;
        };
        let found = self.sc.vnets[a as usize].subnets.iter().find_map(|s| {
            let rt = t.route_tables[s.index()]?;
            let (j, _) = self.expressroute_route(gw, rt)?;
            Some((*s, rt, j))
        });
        let Some((subnet, rt, j)) = found else { return };
        let table = &self.raw.route_tables[rt.index()];
        let msg = self.expressroute_message(&table.routes[j], table, subnet, gw);
        let help = super::gateways::EXPRESSROUTE_HELP;
        let field = format!("{path}.use_remote_gateways");
        self.err_help(loc(flag), field, Rule::UdrGatewayExpressroute, msg, help);
    }
}
