//! The network as it is at a point of simulated time: the scenario with the timed events
//! applied so far, and the data plane compiled from it.
//!
//! What it is for: applying `events` (peerings removed or added, route tables and NSGs attached
//! or detached, NSG rules added or removed, IP forwarding toggled, address spaces updated,
//! peerings synced, gateway connections added or removed) and recompiling the data plane, with peering states moving as Azure's do (a
//! deleted link leaves its reverse Disconnected; a link whose remote VNet changed its address
//! space stays active across the old ranges until it is synced [update-address-space]). What it is not: flow state; the NSG flow records live in the engine's
//! `FlowTable` and survive a change, so open connections keep their verdict as in Azure.
//!
//! The scenario and the compiled data plane are shared (`Arc`): cloning a `Network` is cheap, so
//! replays of one scenario (a sweep's seeds) start from one compilation; a change copies the
//! scenario on write and compiles a data plane of its own.

use std::sync::Arc;

use ipnet::Ipv4Net;
use vnetsim_dataplane::{Dataplane, PeeringStates};
use vnetsim_scenario::{EventAction, PeeringId, Scenario};

/// The current network.
#[derive(Clone, Debug)]
pub struct Network {
    scenario: Arc<Scenario>,
    present: Vec<bool>,
    removed: Vec<bool>,
    /// Per link: the remote address space it was last synced with, while the remote VNet's
    /// differs (`None`: in sync).
    synced: Vec<Option<Vec<Ipv4Net>>>,
    dataplane: Arc<Dataplane>,
    generation: u64,
}

impl Network {
    /// The network at time zero: every peering link of the file present.
    pub fn new(scenario: &Scenario) -> Self {
        Self::shared(Arc::new(scenario.clone()))
    }

    /// [`Network::new`] without a copy of the scenario: the network shares `scenario` until a
    /// timed event changes it (then it changes a copy of its own).
    pub fn shared(scenario: Arc<Scenario>) -> Self {
        let n = scenario.peerings.len();
        Self {
            dataplane: Arc::new(Dataplane::compile(&scenario)),
            scenario,
            present: vec![true; n],
            removed: vec![false; n],
            synced: vec![None; n],
            generation: 0,
        }
    }

    /// The compiled data plane.
    pub fn dataplane(&self) -> &Dataplane {
        &self.dataplane
    }

    /// The scenario with the events applied so far.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// How many changes were applied.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Applies one change and recompiles the data plane.
    pub fn apply(&mut self, action: &EventAction) {
        let sc = Arc::make_mut(&mut self.scenario);
        match action {
            EventAction::RemovePeering(id) => {
                self.present[id.index()] = false;
                self.removed[id.index()] = true;
                self.synced[id.index()] = None;
            }
            EventAction::AddPeering(link) => {
                match sc.peerings.iter().position(|p| p.name == link.name) {
                    Some(i) => {
                        sc.peerings[i] = link.clone();
                        self.present[i] = true;
                        self.removed[i] = false;
                        self.synced[i] = None;
                    }
                    None => {
                        sc.peerings.push(link.clone());
                        self.present.push(true);
                        self.removed.push(false);
                        self.synced.push(None);
                    }
                }
                // A link created again re-establishes the pair: its reverse is no longer
                // waiting for a deleted peer.
                if let Some(rev) = sc
                    .peerings
                    .iter()
                    .position(|p| p.from == link.to && p.to == link.from)
                    && self.present[rev]
                {
                    self.removed[rev] = false;
                }
            }
            EventAction::SetRouteTable {
                subnet,
                route_table,
            } => {
                sc.subnets[subnet.index()].route_table = *route_table;
            }
            EventAction::SetSubnetNsg { subnet, nsg } => sc.subnets[subnet.index()].nsg = *nsg,
            EventAction::SetNicNsg { nic, nsg } => sc.nics[nic.index()].nsg = *nsg,
            EventAction::AddNsgRule { nsg, rule } => {
                let rules = &mut sc.nsgs[nsg.index()].rules;
                match rules.iter().position(|r| r.name == rule.name) {
                    Some(i) => rules[i] = rule.clone(),
                    None => rules.push(rule.clone()),
                }
            }
            EventAction::RemoveNsgRule { nsg, rule } => {
                sc.nsgs[nsg.index()].rules.retain(|r| &r.name != rule);
            }
            EventAction::SetIpForwarding { nic, enabled } => {
                sc.nics[nic.index()].ip_forwarding = *enabled;
            }
            EventAction::UpdateAddressSpace {
                vnet,
                address_space,
                sync,
            } => {
                let old = std::mem::replace(
                    &mut sc.vnets[vnet.index()].address_space,
                    address_space.clone(),
                );
                // Each peer's link to the VNet keeps the ranges it was last synced with until
                // it is synced [update-address-space].
                for (i, link) in sc.peerings.iter().enumerate() {
                    if link.to != *vnet || !self.present[i] {
                        continue;
                    }
                    if *sync {
                        self.synced[i] = None;
                    } else if self.synced[i].is_none() {
                        self.synced[i] = Some(old.clone());
                    }
                }
            }
            EventAction::SyncPeering(id) => self.synced[id.index()] = None,
            // A connection resource created or deleted: the gateway routes (static and BGP)
            // are computed again from the connections present [VPNFAQ26].
            EventAction::AddConnection(conn) => {
                match sc
                    .connections
                    .iter()
                    .position(|c| !c.shorthand && c.name == conn.name)
                {
                    Some(i) => sc.connections[i] = conn.clone(),
                    None => sc.connections.push(conn.clone()),
                }
            }
            EventAction::RemoveConnection(name) => {
                sc.connections.retain(|c| c.shorthand || &c.name != name);
            }
            EventAction::SetBackendHealth { lb, nic, healthy } => {
                let down = &mut sc.load_balancers[lb.index()].down;
                down.retain(|n| n != nic);
                if !*healthy {
                    down.push(*nic);
                }
            }
        }
        let states = PeeringStates::compute(&self.scenario, &self.present, &self.removed)
            .with_synced(&self.synced);
        self.dataplane = Arc::new(Dataplane::compile_with(&self.scenario, states));
        self.generation += 1;
    }

    /// Whether a peering link exists now.
    pub fn is_present(&self, link: PeeringId) -> bool {
        self.present.get(link.index()).copied().unwrap_or(false)
    }
}

/// A one-line description of an event for reports.
pub fn describe(scenario: &Scenario, action: &EventAction) -> String {
    let subnet = |s: vnetsim_scenario::SubnetId| scenario.subnet_path(s);
    let nsg = |n: Option<vnetsim_scenario::NsgId>| {
        n.map(|n| scenario.nsgs[n.index()].name.clone())
            .unwrap_or_else(|| "none".into())
    };
    match action {
        EventAction::RemovePeering(id) => {
            format!("remove peering {}", scenario.peerings[id.index()].name)
        }
        EventAction::AddPeering(p) => format!(
            "add peering {} ({} -> {})",
            p.name,
            scenario.vnets[p.from.index()].name,
            scenario.vnets[p.to.index()].name
        ),
        EventAction::SetRouteTable {
            subnet: s,
            route_table,
        } => format!(
            "set route table of {} to {}",
            subnet(*s),
            route_table
                .map(|t| scenario.route_tables[t.index()].name.clone())
                .unwrap_or_else(|| "none".into())
        ),
        EventAction::SetSubnetNsg { subnet: s, nsg: n } => {
            format!("set NSG of subnet {} to {}", subnet(*s), nsg(*n))
        }
        EventAction::SetNicNsg { nic, nsg: n } => {
            format!(
                "set NSG of NIC {} to {}",
                scenario.nics[nic.index()].name,
                nsg(*n)
            )
        }
        EventAction::AddNsgRule { nsg: n, rule } => format!(
            "add rule {} (priority {}) to NSG {}",
            rule.name,
            rule.priority,
            scenario.nsgs[n.index()].name
        ),
        EventAction::RemoveNsgRule { nsg: n, rule } => {
            format!(
                "remove rule {} from NSG {}",
                rule,
                scenario.nsgs[n.index()].name
            )
        }
        EventAction::UpdateAddressSpace {
            vnet,
            address_space,
            sync,
        } => format!(
            "update address space of {} to {} ({})",
            scenario.vnets[vnet.index()].name,
            address_space
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            if *sync {
                "remote peerings synced"
            } else {
                "remote peerings not synced"
            }
        ),
        EventAction::SyncPeering(id) => {
            let link = &scenario.peerings[id.index()];
            format!(
                "sync peering {} with the address space of {}",
                link.name,
                scenario.vnets[link.to.index()].name
            )
        }
        EventAction::AddConnection(c) => {
            let to = match c.to {
                vnetsim_scenario::ConnectionPeer::Site(s) => scenario.sites[s.index()].name.clone(),
                vnetsim_scenario::ConnectionPeer::Gateway(v) => {
                    scenario.vnets[v.index()].name.clone()
                }
            };
            format!(
                "add connection {} ({} {} -> {}{})",
                c.name,
                c.kind.as_str(),
                scenario.vnets[c.from.index()].name,
                to,
                if c.bgp { ", BGP" } else { "" }
            )
        }
        EventAction::RemoveConnection(name) => format!("remove connection {name}"),
        EventAction::SetBackendHealth { lb, nic, healthy } => format!(
            "mark backend {} of load balancer {} {}",
            scenario.nics[nic.index()].name,
            scenario.load_balancers[lb.index()].name,
            if *healthy { "up" } else { "down" }
        ),
        EventAction::SetIpForwarding { nic, enabled } => format!(
            "turn IP forwarding {} on NIC {}",
            if *enabled { "on" } else { "off" },
            scenario.nics[nic.index()].name
        ),
    }
}
