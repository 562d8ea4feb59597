//! Gateway connections changed by timed events: the network recompiles its gateway routes (the
//! BGP fixed point) from the connections present [VPNFAQ26]
//! (https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-vpn-faq).

use std::path::PathBuf;

use vnetsim_engine::network::Network;
use vnetsim_engine::replay;
use vnetsim_scenario::{EventAction, RouteTableId, Scenario};

fn example() -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/vnet2vnet-bgp.yaml");
    vnetsim_scenario::load_file(&path).unwrap_or_else(|e| panic!("{}", e.render(false)))
}

/// The prefixes of the spoke's gateway routes.
fn spoke_gateway_prefixes(net: &Network) -> Vec<String> {
    let sc = net.scenario();
    let subnet = sc.subnet_by_path("spoke/app").expect("spoke/app");
    net.dataplane()
        .routes(subnet)
        .iter()
        .filter(|r| r.next_hop.as_str() == "VirtualNetworkGateway")
        .map(|r| r.prefix.to_string())
        .collect()
}

/// [VPNFAQ26] a VNet-to-VNet link needs both connection resources: deleting one by an event
/// takes the BGP session and every route learned over it away; adding it back restores them.
#[test]
fn bgp_a_connection_removed_and_added_by_events_recompiles_the_gateway_routes() {
    let sc = example();
    let mut net = Network::new(&sc);
    let learned = vec!["10.2.0.0/16", "192.168.0.0/16", "192.168.1.0/24"];
    assert_eq!(spoke_gateway_prefixes(&net), learned);
    let b_to_a = sc
        .connections
        .iter()
        .find(|c| c.name == "b-to-a")
        .expect("b-to-a")
        .clone();
    net.apply(&EventAction::RemoveConnection("b-to-a".into()));
    assert!(spoke_gateway_prefixes(&net).is_empty());
    assert_eq!(net.generation(), 1);
    net.apply(&EventAction::AddConnection(b_to_a));
    assert_eq!(spoke_gateway_prefixes(&net), learned);
    // An unrelated change keeps them.
    net.apply(&EventAction::SetRouteTable {
        subnet: sc.subnet_by_path("spoke/app").unwrap(),
        route_table: None::<RouteTableId>,
    });
    assert_eq!(spoke_gateway_prefixes(&net), learned);
}

/// The example's flow: delivered through both gateways until the connection goes at 1s,
/// dropped as `no-route` after; each gateway shaped the packets it carried.
#[test]
fn bgp_replay_of_the_example_follows_the_connection_removal() {
    let report = replay(&example());
    let f = report
        .flows
        .iter()
        .find(|f| &*f.name == "spoke-to-b")
        .expect("flow");
    assert_eq!(f.sent, 200);
    assert_eq!(f.delivered, 100);
    assert_eq!(f.dropped.get("no-route"), Some(&100));
}
