//! Behaviours that `azure.era` switches, on the data plane: what a network does under `2016`
//! and under `current`. (The loader's side of each switch is tested in the scenario crate.)

mod common;

use common::{Net, dropped};
use vnetsim_dataplane::{Destination, Outcome};
use vnetsim_scenario::{DropReason, NextHopType};

/// A Resource Manager hub with a VPN gateway, and a classic VNet it peers with, the hub's link
/// allowing gateway transit (`AZURE` is the azure block).
const CLASSIC_TRANSIT: &str = "
name: classic-transit
azure: AZURE
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    subnets: [ { name: shared, prefix: 10.0.1.0/24 }, { name: GatewaySubnet, prefix: 10.0.255.0/27 } ]
    gateway: { name: hub-gw, sku: VpnGw1 }
  - { name: legacy, deployment: classic, address_space: [10.40.0.0/16], subnets: [ { name: app, prefix: 10.40.1.0/24 } ] }
vms:
  - { name: legacy-vm, size: Standard_A2_v2, nics: [ { name: legacy-nic, subnet: legacy/app, ip: 10.40.1.4 } ] }
peerings:
  - { name: hub-to-legacy, from: hub, to: legacy, allow_gateway_transit: TRANSIT }
on_premises:
  - { name: branch, address_space: [192.168.0.0/16], connection: hub, hosts: [ { name: branch-pc, ip: 192.168.1.10 } ] }
";

fn classic(azure: &str, transit: bool) -> Net {
    Net::new(
        &CLASSIC_TRANSIT
            .replace("AZURE", azure)
            .replace("TRANSIT", &transit.to_string()),
    )
}

fn gateway_prefixes(net: &Net, subnet: &str) -> Vec<String> {
    net.dp
        .routes(net.subnet(subnet))
        .iter()
        .filter(|r| r.next_hop == NextHopType::VirtualNetworkGateway)
        .map(|r| r.prefix.to_string())
        .collect()
}

/// [gw-transit] 2018: "the gateway is in the Resource Manager virtual network" and nothing is
/// set on the classic side: the classic VNet gets the site's prefixes as gateway routes and
/// reaches the branch through the hub's gateway, which advertises it back.
#[test]
fn gw_transit_2018_classic_vnet_reaches_on_premises_through_the_hub_gateway() {
    let net = classic("{ era: current }", true);
    assert_eq!(gateway_prefixes(&net, "legacy/app"), ["192.168.0.0/16"]);
    let out = net.ping("legacy-vm", "branch-pc");
    assert!(
        matches!(out.outcome, Outcome::Delivered(Destination::Host(_))),
        "{:?}",
        out.outcome
    );
    let back = net.ping("branch-pc", "legacy-vm");
    assert!(
        matches!(back.outcome, Outcome::Delivered(Destination::Nic(_))),
        "{:?}",
        back.outcome
    );
}

/// Without transit on the hub's link the classic VNet has no gateway routes, in either era.
#[test]
fn gw_transit_2018_needs_transit_on_the_resource_manager_link() {
    let net = classic("{ era: current }", false);
    assert!(gateway_prefixes(&net, "legacy/app").is_empty());
    let out = net.ping("legacy-vm", "branch-pc");
    assert_eq!(dropped(&out).0, DropReason::NoRoute);
}
