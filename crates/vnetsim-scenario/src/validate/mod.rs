//! Azure validation and name resolution: from the raw file to the dense-id model.
//!
//! What it is for: checking every rule of the scenario contract (each a [`crate::rules::Rule`])
//! and building the [`Scenario`] with every name resolved to an id. Every problem is recorded;
//! resolution goes on past errors so one run reports them all. What it is not: YAML parsing
//! (the `load` module) or packet decisions (the data plane).
//!
//! Before the rooms, `scale_set` turns each scale set into its instances, written-out VMs as
//! far as every room after it can tell.
//!
//! How the rooms fit: a [`resolver::Resolver`] holds the raw file, the diagnostics, the
//! scenario being built and the name indexes; each room adds its part in the order below, and
//! reads only what earlier rooms built. `security` (NSGs, route tables) and `network`
//! (subscriptions, VNets, subnets, VMs, NICs) come first; `gateways` adds each VNet's gateway;
//! `peering` checks the file's links and hands the links present at time zero on; `gateways`
//! then checks user routes against the gateway each subnet reaches, and builds the on-premises
//! sites; `private_endpoint` adds subnets' private endpoint network policies and the private
//! endpoints; `firewall` adds Azure Firewalls, their policies, IP groups, names, Internet hosts and
//! public IPs; `lb` Azure Load Balancers; `traffic` the settings and flows. `events` starts from the network the file declares
//! (links, NSG rules, route tables) and checks each event with the rule functions of the rooms
//! above, at its time. `expectations` comes last. Rooms import the resolver and, for events,
//! the rooms whose rules they reuse: never the other way.

mod asg;
mod connections;
mod events;
mod expectations;
mod firewall;
mod gateways;
mod lb;
mod network;
mod peering;
mod private_endpoint;
mod resolver;
mod scale_set;
mod security;
mod traffic;

use crate::diag::Sink;
use crate::model::Scenario;
use crate::raw::RawScenario;

use events::Timeline;
use resolver::Resolver;
pub(crate) use scale_set::expand as expand_scale_sets;

/// Resolves a whole raw scenario. Problems go to `sink`; the returned scenario is only
/// meaningful when none were recorded.
pub(crate) fn resolve(raw: &RawScenario, sink: &mut Sink<'_>) -> Scenario {
    let mut r = Resolver::new(raw, sink);
    r.settings();
    r.subscriptions();
    r.asgs();
    let nsg_rules = r.nsgs();
    r.route_tables();
    r.vnets();
    r.gateways();
    r.vms();
    r.asg_members();
    let links = r.peerings();
    r.udr_gateway_kind();
    r.sites();
    r.private_endpoints();
    r.connections();
    r.firewalls();
    r.load_balancers();
    r.carriage();
    r.flows();
    let route_tables = r.sc.subnets.iter().map(|s| s.route_table).collect();
    r.events(Timeline {
        links,
        nsg_rules,
        route_tables,
    });
    r.expectations();
    r.finish()
}
