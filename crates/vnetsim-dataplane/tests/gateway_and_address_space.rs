//! A VPN gateway forwarding between VNets peered with its VNet (manage-peering 2022), and a
//! peered VNet's address space as its peers see it before and after a sync
//! (update-address-space 2022).

mod common;

use common::{Net, dropped, load};
use vnetsim_dataplane::pipeline::DropCause;
use vnetsim_dataplane::routes::RouteState;
use vnetsim_dataplane::{Dataplane, Destination, Outcome, PeeringStates, Step};
use vnetsim_scenario::{DropReason, NextHopType};

/// A hub with a VPN gateway and three spokes using it; spoke1 and spoke2 route each other's
/// range to VirtualNetworkGateway, spoke3 has no such routes. `ERA` is replaced by the era;
/// no link allows forwarded traffic.
const HUB: &str = r#"
name: gw
azure: { era: ERA }
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    subnets:
      - { name: shared, prefix: 10.0.1.0/24 }
      - { name: GatewaySubnet, prefix: 10.0.255.0/27 }
    gateway: { name: hub-gw, sku: VpnGw1 }
  - name: spoke1
    address_space: [10.1.0.0/16]
    subnets: [ { name: app, prefix: 10.1.1.0/24, route_table: rt1 } ]
  - name: spoke2
    address_space: [10.2.0.0/16]
    subnets: [ { name: app, prefix: 10.2.1.0/24, route_table: rt2 } ]
  - name: spoke3
    address_space: [10.3.0.0/16]
    subnets: [ { name: app, prefix: 10.3.1.0/24, route_table: rt3 } ]
  - name: lone
    address_space: [10.9.0.0/16]
    subnets: [ { name: app, prefix: 10.9.1.0/24 } ]
vms:
  - { name: vm1, size: Standard_D2s_v3, nics: [ { name: nic1, subnet: spoke1/app, ip: 10.1.1.4 } ] }
  - { name: vm2, size: Standard_D2s_v3, nics: [ { name: nic2, subnet: spoke2/app, ip: 10.2.1.4 } ] }
  - { name: vm3, size: Standard_D2s_v3, nics: [ { name: nic3, subnet: spoke3/app, ip: 10.3.1.4 } ] }
  - { name: vm9, size: Standard_D2s_v3, nics: [ { name: nic9, subnet: lone/app, ip: 10.9.1.4 } ] }
route_tables:
  - name: rt1
    routes:
      - { name: to-spoke2, prefix: 10.2.0.0/16, next_hop: VirtualNetworkGateway }
      - { name: to-lone, prefix: 10.9.0.0/16, next_hop: VirtualNetworkGateway }
  - name: rt2
    routes: [ { name: to-spoke1, prefix: 10.1.0.0/16, next_hop: VirtualNetworkGateway } ]
  - name: rt3
    routes: [ { name: to-spoke1, prefix: 10.1.0.0/16, next_hop: VirtualNetworkGateway } ]
peerings:
  - { name: hub-to-spoke1, from: hub, to: spoke1, allow_gateway_transit: true }
  - { name: spoke1-to-hub, from: spoke1, to: hub, use_remote_gateways: true }
  - { name: hub-to-spoke2, from: hub, to: spoke2, allow_gateway_transit: true }
  - { name: spoke2-to-hub, from: spoke2, to: hub, use_remote_gateways: true }
  - { name: hub-to-spoke3, from: hub, to: spoke3 }
  - { name: spoke3-to-hub, from: spoke3, to: hub }
"#;

fn hub(era: &str) -> Net {
    Net::new(&HUB.replace("ERA", era))
}

/// [manage-peering 2022] "A VPN gateway can forward network traffic between virtual networks
/// that are peered with the virtual network the gateway is in": with user routes to
/// VirtualNetworkGateway both ways, spoke1 and spoke2 reach each other through hub-gw, which
/// decrements the TTL, in both eras.
#[test]
fn manage_peering_2022_vpn_gateway_forwards_between_spokes_with_udrs() {
    for era in ["2016", "current"] {
        let net = hub(era);
        for (from, to, nic, peer) in [
            ("vm1", "vm2", "nic2", "spoke2"),
            ("vm2", "vm1", "nic1", "spoke1"),
        ] {
            let r = net.ping(from, to);
            assert_eq!(
                r.outcome,
                Outcome::Delivered(Destination::Nic(net.nic(nic))),
                "{era}: {from} -> {to}: {:?}",
                r.steps
            );
            let forward = Step::GatewayForward {
                vnet: net.vnet("hub"),
                to: net.vnet(peer),
            };
            assert!(r.steps.contains(&forward), "{era}: {:?}", r.steps);
            let crossings = r
                .steps
                .iter()
                .filter(|s| matches!(s, Step::Peering { .. }))
                .count();
            assert_eq!(crossings, 2, "into the hub, then out to the spoke");
        }
    }
}

/// [manage-peering 2022] "You don't need to select this setting if traffic is forwarded
/// between virtual networks through an Azure VPN Gateway": no link of HUB allows forwarded
/// traffic, and enforcing it changes nothing for what the gateway forwards.
#[test]
fn manage_peering_2022_gateway_forwarded_traffic_needs_no_allow_forwarded_traffic() {
    let sc = load(&HUB.replace("ERA", "current"));
    assert!(sc.peerings.iter().all(|p| !p.allow_forwarded_traffic));
    assert_eq!(
        sc.azure.forwarded_traffic,
        vnetsim_scenario::ForwardedTrafficMode::Enforce
    );
    let net = hub("current");
    assert!(matches!(
        net.ping("vm1", "vm2").outcome,
        Outcome::Delivered(_)
    ));
}

/// [peering-2016], [manage-peering] Not transitive: without user routes to the gateway a spoke
/// reaches no other spoke (10.0.0.0/8 -> None); a spoke that does not use the remote gateway
/// has no gateway for its user route.
#[test]
fn manage_peering_2022_spokes_without_udrs_or_gateway_stay_apart() {
    let net = hub("current");
    let r = net.ping("vm1", "vm3");
    // spoke1 has no route for spoke3: reserved 10.0.0.0/8 -> None.
    assert_eq!(dropped(&r).0, DropReason::NoRoute);
    assert!(matches!(dropped(&r).1, DropCause::NoneRoute { .. }));
    // spoke3 routes spoke1 to VirtualNetworkGateway but uses no gateway.
    let r = net.ping("vm3", "vm1");
    assert!(matches!(
        dropped(&r),
        (DropReason::NoRoute, DropCause::NoGateway { .. })
    ));
}

/// [manage-peering 2022] The gateway forwards only into VNets peered with its VNet: `lone` is
/// not, so the gateway has nowhere to send it.
#[test]
fn manage_peering_2022_gateway_forwards_only_to_vnets_peered_with_its_vnet() {
    let net = hub("current");
    let r = net.ping("vm1", "vm9");
    assert!(matches!(
        dropped(&r),
        (DropReason::NoRoute, DropCause::NoSite { .. })
    ));
}

/// The spoke of `TWO` changes its address space: `b` gains 10.9.0.0/16 (its `new` subnet).
const TWO: &str = r#"
name: two
azure: { era: current }
vnets:
  - name: a
    address_space: [10.0.0.0/16]
    subnets: [ { name: app, prefix: 10.0.1.0/24 } ]
  - name: b
    address_space: [10.1.0.0/16]
    subnets: [ { name: app, prefix: 10.1.1.0/24 }, { name: new, prefix: 10.9.1.0/24 } ]
vms:
  - { name: a-vm, size: Standard_D2s_v3, nics: [ { name: a-nic, subnet: a/app, ip: 10.0.1.4 } ] }
  - { name: b-new, size: Standard_D2s_v3, nics: [ { name: b-new-nic, subnet: b/new, ip: 10.9.1.4 } ] }
peerings: [ { name: a-to-b, from: a, to: b }, { name: b-to-a, from: b, to: a } ]
events:
  - { at: 1s, update_address_space: { vnet: b, address_space: [10.1.0.0/16, 10.9.0.0/16], sync: false } }
"#;

/// [update-address-space 2022] Until the remote peering is synced it "is active across the old
/// address space" only: `a`'s VNetPeering routes lack b's new range; once synced they hold it.
/// `b` itself routes its new range at once (VnetLocal).
#[test]
fn update_address_space_2022_peer_routes_keep_the_old_ranges_until_synced() {
    let mut sc = load(TWO);
    let old = sc.vnets[1].address_space.clone();
    sc.vnets[1].address_space = vec![
        "10.1.0.0/16".parse().unwrap(),
        "10.9.0.0/16".parse().unwrap(),
    ];
    let link = sc.peering_by_name("a-to-b").unwrap();
    let mut synced = vec![None; sc.peerings.len()];
    synced[link.index()] = Some(old);
    let peer_rows = |dp: &Dataplane, subnet: &str, hop: NextHopType| -> Vec<String> {
        dp.routes(sc.subnet_by_path(subnet).unwrap())
            .iter()
            .filter(|r| r.next_hop == hop && r.state == RouteState::Active)
            .map(|r| r.prefix.to_string())
            .collect()
    };
    let lagging = PeeringStates::all_present(&sc).with_synced(&synced);
    assert!(lagging.out_of_sync(link));
    let dp = Dataplane::compile_with(&sc, lagging);
    assert_eq!(
        peer_rows(&dp, "a/app", NextHopType::VNetPeering),
        ["10.1.0.0/16"]
    );
    assert_eq!(
        peer_rows(&dp, "b/app", NextHopType::VnetLocal),
        ["10.1.0.0/16", "10.9.0.0/16"]
    );
    // The VirtualNetwork tag of `a` follows its link too: the old ranges until the sync.
    let tag = |dp: &Dataplane| -> Vec<String> {
        dp.virtual_network_tag(&sc, sc.subnet_by_path("a/app").unwrap())
            .iter()
            .map(|p| p.to_string())
            .collect()
    };
    assert!(
        !tag(&dp).contains(&"10.9.0.0/16".to_string()),
        "{:?}",
        tag(&dp)
    );
    let dp = Dataplane::compile(&sc);
    assert_eq!(
        peer_rows(&dp, "a/app", NextHopType::VNetPeering),
        ["10.1.0.0/16", "10.9.0.0/16"]
    );
    assert!(
        tag(&dp).contains(&"10.9.0.0/16".to_string()),
        "{:?}",
        tag(&dp)
    );
}
