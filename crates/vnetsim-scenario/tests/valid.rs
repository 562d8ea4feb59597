//! Valid scenario files load and resolve to the expected model.

use std::net::Ipv4Addr;
use std::path::Path;

use vnetsim_scenario::*;

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/valid")
        .join(name)
}

fn contract() -> Scenario {
    match load_file(&fixture("contract.yaml")) {
        Ok(sc) => sc,
        Err(e) => panic!("{}", e.render(false)),
    }
}

#[test]
fn contract_example_resolves() {
    let sc = contract();
    assert_eq!(sc.name, "hub-spoke");
    assert_eq!(sc.seed, 7);
    assert_eq!(sc.duration, Some(2_000_000_000));
    assert_eq!(sc.azure, AzureSwitches::default());
    assert_eq!(
        sc.subscriptions.len(),
        2,
        "no implicit default subscription needed"
    );
    assert_eq!(sc.vnets.len(), 3);
    let hub = sc.vnet_by_name("hub").unwrap();
    let v = &sc.vnets[hub.index()];
    assert_eq!(v.region, "westeurope");
    assert_eq!(v.subscription, SubscriptionId(0));
    assert_eq!(v.deployment, Deployment::ResourceManager);
    let gw = v.gateway.as_ref().expect("hub gateway");
    assert_eq!(gw.name, "hub-gw");
    assert_eq!(gw.sku, "VpnGw1");
    assert_eq!(sc.subnet_path(gw.subnet), "hub/GatewaySubnet");
    assert_eq!(gw.ip, Ipv4Addr::new(10, 0, 255, 4));
    let appl = sc.subnet_by_path("hub/appliances").unwrap();
    assert_eq!(sc.subnets[appl.index()].nsg, sc.nsg_by_name("nva-nsg"));
    assert_eq!(
        sc.subnets[appl.index()].route_table,
        sc.route_table_by_name("hub-rt")
    );

    let nva = sc.vm_by_name("nva1").unwrap();
    assert!(sc.vms[nva.index()].forwarding);
    let nic = &sc.nics[sc.vms[nva.index()].nics[0].index()];
    assert_eq!(nic.ip, Ipv4Addr::new(10, 0, 1, 4));
    assert!(nic.ip_forwarding);
    assert_eq!(nic.subnet, appl);
    assert_eq!(nic.nsg, sc.nsg_by_name("nic-nsg"));
    let s1vm = sc.vm_by_name("spoke1-vm").unwrap();
    assert_eq!(sc.vms[s1vm.index()].bandwidth, Some(500_000_000));
    assert_eq!(sc.vms[s1vm.index()].size, "Standard_B2s");
    assert_eq!(
        sc.nics[sc.vms[s1vm.index()].nics[0].index()].subnet,
        sc.subnet_by_path("spoke1/app").unwrap()
    );

    let deny = &sc.nsgs[0].rules[0];
    assert_eq!(deny.priority, 100);
    assert_eq!(deny.direction, Direction::Inbound);
    assert_eq!(deny.access, Access::Deny);
    assert_eq!(deny.protocol, RuleProtocol::One(Protocol::Tcp));
    assert_eq!(deny.source, vec![AddressMatch::Any]);
    assert_eq!(
        deny.destination,
        vec![AddressMatch::Tag(ServiceTag::VirtualNetwork)]
    );
    assert_eq!(deny.destination_ports, vec![PortRange { lo: 22, hi: 22 }]);
    let allow = &sc.nsgs[1].rules[0];
    assert_eq!(allow.source.len(), 2);
    assert_eq!(
        allow.source[1],
        AddressMatch::Prefix("10.2.1.4/32".parse().unwrap())
    );
    assert_eq!(
        allow.destination_ports,
        vec![
            PortRange { lo: 80, hi: 80 },
            PortRange { lo: 443, hi: 443 },
            PortRange { lo: 8000, hi: 8080 }
        ]
    );

    let route = &sc.route_tables[0].routes[0];
    assert_eq!(route.next_hop, NextHopType::VirtualAppliance);
    assert_eq!(route.next_hop_ip, Some(Ipv4Addr::new(10, 0, 1, 4)));
    assert!(!sc.route_tables[0].disable_gateway_route_propagation);

    assert_eq!(sc.peerings.len(), 2);
    let p = &sc.peerings[0];
    assert_eq!((p.from, p.to), (sc.vnet_by_name("spoke1").unwrap(), hub));
    assert!(p.allow_virtual_network_access && !p.allow_forwarded_traffic);

    assert_eq!(sc.sites.len(), 1);
    assert_eq!(sc.sites[0].connection, Some(hub));
    assert_eq!(sc.sites[0].latency, 5_000_000);
    let pc = sc.host_by_name("branch-pc").unwrap();
    assert_eq!(sc.hosts[pc.index()].ip, Ipv4Addr::new(192, 168, 1, 10));

    assert_eq!(
        sc.latency,
        LatencyModel {
            host_to_host: 30_000,
            appliance: 10_000,
            gateway: 200_000,
            jitter: 0,
        }
    );
    assert_eq!(sc.shaping, Shaping::default());
    assert_eq!(sc.pricing, Pricing::default());
}

#[test]
fn contract_traffic_events_and_expectations_resolve() {
    let sc = contract();
    let hub = sc.vnet_by_name("hub").unwrap();
    let pc = sc.host_by_name("branch-pc").unwrap();
    let f = &sc.traffic[0];
    assert_eq!(f.from, Endpoint::Vm(sc.vm_by_name("web1").unwrap()));
    assert_eq!(f.to, Endpoint::Host(pc));
    assert_eq!(f.rate, Rate::BitsPerSecond(200_000_000));
    assert_eq!(
        (f.src_port, f.dst_port, f.packet_size),
        (Some(40000), Some(443), 1400)
    );
    assert_eq!((f.start, f.duration), (0, Some(1_000_000_000)));
    assert!(f.line > 0);

    assert_eq!(sc.events.len(), 3);
    assert_eq!(
        sc.events[0].action,
        EventAction::RemovePeering(sc.peering_by_name("hub-to-spoke1").unwrap())
    );
    assert_eq!(sc.events[0].at, 500_000_000);
    assert!(matches!(sc.events[1].action, EventAction::AddPeering(ref p) if p.from == hub));
    assert_eq!(
        sc.events[2].action,
        EventAction::SetRouteTable {
            subnet: sc.subnet_by_path("spoke1/app").unwrap(),
            route_table: None
        }
    );
    assert!(sc.events[0].line < sc.events[1].line);

    assert_eq!(sc.expectations.len(), 3);
    match &sc.expectations[0] {
        Expectation::Probe {
            probe,
            verdict,
            reason,
            path,
            stateless,
            line,
        } => {
            assert!(!stateless, "probes share the run's NSG state by default");
            assert_eq!(probe.protocol, Protocol::Tcp);
            assert_eq!((probe.src_port, probe.dst_port), (49152, 1433));
            assert_eq!(*verdict, Some(ExpectedVerdict::Delivered));
            assert_eq!(*reason, None);
            assert_eq!(
                path.as_deref(),
                Some(&["web1".to_owned(), "nva1".into(), "db1".into()][..])
            );
            assert!(*line > 0);
        }
        other => panic!("{other:?}"),
    }
    match &sc.expectations[1] {
        Expectation::Probe { probe, reason, .. } => {
            assert_eq!(probe.protocol, Protocol::Icmp);
            assert_eq!(*reason, Some(DropReason::NoRoute));
        }
        other => panic!("{other:?}"),
    }
    match &sc.expectations[2] {
        Expectation::Flow { flow, checks, .. } => {
            assert_eq!(*flow, FlowId(0));
            assert_eq!(
                checks,
                &vec![
                    FlowCheck {
                        metric: FlowMetric::DeliveredRatio,
                        comparison: Comparison::AtLeast,
                        value: 0.99
                    },
                    FlowCheck {
                        metric: FlowMetric::Throughput,
                        comparison: Comparison::AtLeast,
                        value: 150e6
                    },
                    FlowCheck {
                        metric: FlowMetric::LatencyP99,
                        comparison: Comparison::AtMost,
                        value: 2e6
                    },
                ]
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn minimal_file_gets_the_defaults() {
    let src = "name: tiny\nvnets:\n  - { name: a, address_space: [10.0.0.0/16], subnets: [ { name: s, prefix: 10.0.0.0/24 } ] }\n\
               vms:\n  - { name: vm, size: standard_a1_v2, nics: [ { name: n, vnet: a, subnet: s, ip: 10.0.0.4 } ] }\n\
               expect:\n  - probe: { from: vm, to: 8.8.8.8, protocol: UDP }\n";
    let sc = load_str(src, "tiny.yaml").unwrap_or_else(|e| panic!("{}", e.render(false)));
    assert_eq!(
        sc.subscriptions,
        vec![Subscription {
            name: "default".into(),
            tenant: "default".into()
        }]
    );
    assert_eq!(sc.vnets[0].region, "default");
    assert_eq!(sc.vms[0].size, "Standard_A1_v2");
    assert_eq!(sc.latency, LatencyModel::default());
    assert_eq!(sc.latency.jitter, 0);
    assert_eq!(
        sc.shaping,
        Shaping {
            queue_bytes: 1 << 20,
            burst_bytes: 64 * 1024
        }
    );
    assert_eq!(sc.pricing.peering_egress_per_gb, 0.01);
    assert_eq!(sc.pricing.peering_ingress_per_gb, 0.01);
    assert_eq!(sc.duration, None);
    match &sc.expectations[0] {
        Expectation::Probe { probe, .. } => {
            assert_eq!(probe.to, Endpoint::Ip(Ipv4Addr::new(8, 8, 8, 8)));
            assert_eq!(
                (probe.protocol, probe.src_port, probe.dst_port, probe.at),
                (Protocol::Udp, 49152, 80, 0)
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn jitter_shaping_pricing_and_gateway_skus_resolve() {
    let src = "\
name: additions
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    subnets: [ { name: GatewaySubnet, prefix: 10.0.255.0/27 } ]
    gateway: { name: er, sku: ergw2az }
  - name: spoke
    address_space: [10.1.0.0/16]
    subnets: [ { name: GatewaySubnet, prefix: 10.1.255.0/27 }, { name: app, prefix: 10.1.1.0/24, route_table: rt } ]
    gateway: { name: vpn, sku: VPNGW2AZ }
route_tables:
  - name: rt
    routes: [ { name: out, prefix: 0.0.0.0/0, next_hop: VirtualNetworkGateway } ]
latency: { jitter: 5us }
shaping: { queue_bytes: 65535, burst_bytes: 1500 }
pricing: { peering_egress_per_gb: 0.035, peering_ingress_per_gb: 0 }\n";
    let sc = load_str(src, "additions.yaml").unwrap_or_else(|e| panic!("{}", e.render(false)));
    assert_eq!(sc.latency.jitter, 5_000);
    assert_eq!(
        sc.latency.host_to_host,
        LatencyModel::default().host_to_host
    );
    assert_eq!(
        sc.shaping,
        Shaping {
            queue_bytes: 65535,
            burst_bytes: 1500
        }
    );
    assert_eq!(sc.pricing.peering_egress_per_gb, 0.035);
    assert_eq!(sc.pricing.peering_ingress_per_gb, 0.0);
    let gw = |v: &str| {
        let id = sc.vnet_by_name(v).unwrap();
        sc.vnets[id.index()].gateway.clone().unwrap().sku
    };
    assert_eq!(gw("hub"), "ErGw2AZ", "catalog spelling");
    assert_eq!(gw("spoke"), "VpnGw2AZ", "catalog spelling");
    let sku = sizes::gateway_sku(&gw("hub")).unwrap();
    assert_eq!(sku.kind, sizes::GatewayKind::ExpressRoute);
    assert_eq!(sku.bandwidth_bps, 2_000_000_000);
}

#[test]
fn a_user_route_to_a_remote_expressroute_gateway_is_refused() {
    let src = "\
name: remote-er
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    subnets: [ { name: GatewaySubnet, prefix: 10.0.255.0/27 } ]
    gateway: { name: er, sku: UltraPerformance }
  - name: spoke
    address_space: [10.1.0.0/16]
    subnets: [ { name: app, prefix: 10.1.1.0/24, route_table: rt }, { name: db, prefix: 10.1.2.0/24, route_table: rt } ]
route_tables:
  - name: rt
    routes:
      - { name: out, prefix: 0.0.0.0/0, next_hop: VirtualNetworkGateway }
      - { name: nva, prefix: 10.9.0.0/16, next_hop: None }
peerings:
  - { name: hub-to-spoke, from: hub, to: spoke, allow_gateway_transit: true }
  - { name: spoke-to-hub, from: spoke, to: hub, use_remote_gateways: true }\n";
    let err = load_str(src, "remote-er.yaml").expect_err("refused");
    let got: Vec<_> = err.diagnostics.iter().map(|d| (d.rule, d.line)).collect();
    assert_eq!(
        got,
        vec![("udr-gateway-expressroute", 13)],
        "once per route, on its line"
    );
    let text = err.render(false);
    assert!(
        text.contains("spoke/app") && text.contains("UltraPerformance"),
        "{text}"
    );

    // The same route table is fine in front of a VPN gateway.
    let vpn = src.replace("UltraPerformance", "VpnGw1");
    load_str(&vpn, "remote-vpn.yaml").unwrap_or_else(|e| panic!("{}", e.render(false)));
}
