//! Replays of the example scenarios: determinism, conservation, and the seed document's
//! statements about time (VM-size bandwidth, peered latency).

use std::path::PathBuf;

use vnetsim_engine::{Engine, Options, Prepared, Report, replay};
use vnetsim_scenario::{DropReason, Scenario};

fn scenario(name: &str) -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios")
        .join(name);
    vnetsim_scenario::load_file(&path).unwrap_or_else(|e| panic!("{}", e.render(false)))
}

fn all_scenarios() -> Vec<(String, Scenario)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| (n.clone(), scenario(&n)))
        .collect()
}

fn flow<'a>(report: &'a Report, name: &str) -> &'a vnetsim_engine::report::FlowReport {
    report.flows.iter().find(|f| *f.name == *name).unwrap()
}

#[test]
fn every_example_conserves_packets_and_meets_its_expectations() {
    for (name, s) in all_scenarios() {
        let report = replay(&s);
        let c = report.conservation;
        assert!(c.holds(), "{name}: {c:?}");
        let failures: Vec<&String> = report
            .expectations
            .results
            .iter()
            .flat_map(|r| r.failures.iter())
            .collect();
        assert!(failures.is_empty(), "{name}: {failures:#?}");
        assert!(report.expectations.passed > 0, "{name} checks nothing");
    }
}

#[test]
fn the_same_file_and_seed_give_byte_identical_reports() {
    for name in [
        "vm-size-shaping.yaml",
        "peering-removed.yaml",
        "nsg-rule-added.yaml",
    ] {
        let s = scenario(name);
        let a = serde_json::to_string(&replay(&s)).unwrap();
        let b = serde_json::to_string(&replay(&s)).unwrap();
        assert_eq!(a, b, "{name}");
    }
}

#[test]
fn replays_from_one_prepared_scenario_equal_replays_compiled_alone() {
    // Every example (timed changes included: a change must not reach the shared network),
    // prepared once, replayed on two threads at once with several seeds.
    for (name, s) in all_scenarios() {
        let prepared = Prepared::new(&s);
        let options = |seed| Options {
            seed: Some(seed),
            ..Options::default()
        };
        let alone: Vec<String> = (0..3)
            .map(|seed| serde_json::to_string(&Engine::new(&s, options(seed)).run()).unwrap())
            .collect();
        let shared: Vec<String> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..3)
                .map(|seed| {
                    let prepared = &prepared;
                    scope.spawn(move || {
                        serde_json::to_string(&Engine::from_prepared(prepared, options(seed)).run())
                            .unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(alone, shared, "{name}");
        assert_eq!(
            prepared.scenario(),
            &s,
            "{name}: the prepared scenario is unchanged"
        );
    }
}

#[test]
fn poisson_traffic_depends_on_the_seed_and_only_on_it() {
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/peered-latency.yaml"),
    )
    .unwrap()
    .replace(
        "rate: 1000pps, packet_size: 84, start: 0s",
        "rate: 1000pps, packet_size: 84, pattern: poisson, start: 0s",
    );
    let s = vnetsim_scenario::load_str(&text, "poisson.yaml")
        .unwrap_or_else(|e| panic!("{}", e.render(false)));
    let run = |seed| {
        serde_json::to_string(
            &Engine::new(
                &s,
                Options {
                    seed: Some(seed),
                    ..Options::default()
                },
            )
            .run(),
        )
        .unwrap()
    };
    assert_eq!(run(1), run(1));
    assert_ne!(run(1), run(2));
    let report = Engine::new(
        &s,
        Options {
            seed: Some(1),
            ..Options::default()
        },
    )
    .run();
    let sent = flow(&report, "ping-local").sent;
    // About 1000 packets in one second, with Poisson spacing.
    assert!((900..=1100).contains(&sent), "{sent}");
}

#[test]
fn a_peered_round_trip_equals_one_inside_a_vnet() {
    // peering-2016: "The network latency for a round trip between two VMs in peered VNets is the
    // same as for a round trip within a single VNet."
    let report = replay(&scenario("peered-latency.yaml"));
    let local = flow(&report, "ping-local");
    let peer = flow(&report, "ping-peer");
    let rtt = |f: &vnetsim_engine::report::FlowReport| {
        f.latency_ns.unwrap().p50 + f.replies.as_ref().unwrap().latency_ns.unwrap().p50
    };
    assert_eq!(rtt(local), rtt(peer));
    assert!(
        rtt(local) >= 60_000,
        "two one-way host-to-host delays: {}",
        rtt(local)
    );
    assert_eq!(local.replies.as_ref().unwrap().delivered, local.delivered);
}

#[test]
fn a_vm_is_held_to_its_sizes_egress_bandwidth() {
    let report = replay(&scenario("vm-size-shaping.yaml"));
    let bulk = flow(&report, "bulk");
    // Standard_D2s_v3: 1,000 Mbps expected egress bandwidth.
    assert!(bulk.throughput_bps <= 1.05e9, "{}", bulk.throughput_bps);
    assert!(bulk.throughput_bps >= 0.9e9, "{}", bulk.throughput_bps);
    assert!(bulk.dropped["queue-overflow"] > 0);
    let shaper = report.shapers.iter().find(|s| s.name == "sender").unwrap();
    assert_eq!(shaper.rate_bps, 1_000_000_000);
}

#[test]
fn peering_traffic_is_counted_and_priced_both_ways() {
    let report = replay(&scenario("peered-latency.yaml"));
    let p = &report.peerings[0];
    assert_eq!(p.vnets, ["vnet-a".to_string(), "vnet-b".to_string()]);
    let peer = flow(&report, "ping-peer");
    assert_eq!(p.bytes_forward, peer.bytes_delivered);
    assert_eq!(
        p.bytes_backward,
        peer.replies.as_ref().unwrap().bytes_delivered
    );
    let expected = (p.bytes_forward + p.bytes_backward) as f64 / 1e9 * 0.02;
    assert!((p.cost_usd - expected).abs() < 1e-12);
}

#[test]
fn an_open_connection_survives_a_new_deny_rule_and_a_new_one_does_not() {
    let report = replay(&scenario("nsg-rule-added.yaml"));
    let open = flow(&report, "open-session");
    assert_eq!(open.delivered, open.sent);
    let new = flow(&report, "new-session");
    assert_eq!(new.delivered, 0);
    assert_eq!(new.dropped["nsg-denied"], new.sent);
}

#[test]
fn the_duration_ends_the_run_and_leaves_packets_in_flight() {
    let report = replay(&scenario("gateway-sku-throughput.yaml"));
    assert_eq!(report.simulated_ns, 200_000_000);
    // 5 ms of site latency: the packets of the last 5 ms are still on their way.
    assert!(report.conservation.in_flight > 0);
    assert!(report.conservation.holds());
}

/// Counting a delivery ahead of its event (when nothing waits for it) gives the same report,
/// byte for byte and the event count included, as processing every delivery as an event (which
/// a capture forces): observing a run never changes it.
#[test]
fn deliveries_counted_ahead_match_deliveries_as_events() {
    struct Discard;
    impl vnetsim_engine::Capture for Discard {
        fn packet(&mut self, _seen: vnetsim_engine::Seen<'_>) {}
    }
    for (name, s) in all_scenarios() {
        let plain = replay(&s);
        let mut discard = Discard;
        let captured = Engine::new(&s, Options::default())
            .with_capture(&mut discard)
            .run();
        assert_eq!(
            serde_json::to_string(&plain).unwrap(),
            serde_json::to_string(&captured).unwrap(),
            "{name}"
        );
    }
}

/// Two VNets with no peering until events create both links at 500 ms: the flow's packets drop
/// as `no-route` before, cross the new peering after, and the report counts its bytes.
#[test]
fn a_peering_created_by_events_carries_traffic_and_is_counted() {
    let s = vnetsim_scenario::load_str(
        r#"
name: peering-created
vnets:
  - { name: vnet-a, address_space: [10.1.0.0/16], subnets: [ { name: default, prefix: 10.1.0.0/24 } ] }
  - { name: vnet-b, address_space: [10.2.0.0/16], subnets: [ { name: default, prefix: 10.2.0.0/24 } ] }
vms:
  - { name: vm-a, size: Standard_D2s_v3, nics: [ { name: vm-a-nic, vnet: vnet-a, subnet: default, ip: 10.1.0.4 } ] }
  - { name: vm-b, size: Standard_D2s_v3, nics: [ { name: vm-b-nic, vnet: vnet-b, subnet: default, ip: 10.2.0.4 } ] }
traffic:
  - { name: stream, from: vm-a, to: vm-b, protocol: udp, dst_port: 9000, rate: 1000pps, packet_size: 100, start: 0s, duration: 1s }
events:
  - { at: 500ms, add_peering: { name: a-to-b, from: vnet-a, to: vnet-b } }
  - { at: 500ms, add_peering: { name: b-to-a, from: vnet-b, to: vnet-a } }
"#,
        "peering-created.yaml",
    )
    .unwrap_or_else(|e| panic!("{}", e.render(false)));
    let report = replay(&s);
    let f = flow(&report, "stream");
    assert_eq!(f.sent, 1000);
    assert_eq!(f.dropped.get("no-route"), Some(&500));
    assert_eq!(f.delivered, 500);
    assert_eq!(report.peerings.len(), 1);
    assert_eq!(report.peerings[0].bytes_forward, 500 * 100);
    assert_eq!(report.peerings[0].bytes_backward, 0);
}

/// A flow chained through an appliance whose IP forwarding is switched off mid-run: the flow's
/// remembered decisions (its segment memos) must not outlive the change. Packets emitted every
/// millisecond; the change lands 1 ns after packet 500 left its VM, while it is on its way to
/// the appliance: packets 0 to 499 are delivered, packet 500 meets the appliance as it is after
/// the change, and so do packets 501 to 999.
#[test]
fn remembered_decisions_do_not_outlive_a_change() {
    let s = vnetsim_scenario::load_str(
        r#"
name: forwarding-switched-off
vnets:
  - { name: hub, address_space: [10.0.0.0/16], subnets: [ { name: nva, prefix: 10.0.1.0/24 } ] }
  - { name: spoke1, address_space: [10.1.0.0/16], subnets: [ { name: app, prefix: 10.1.0.0/24, route_table: via-nva } ] }
  - { name: spoke2, address_space: [10.2.0.0/16], subnets: [ { name: app, prefix: 10.2.0.0/24, route_table: via-nva } ] }
route_tables:
  - name: via-nva
    routes: [ { name: spokes, prefix: 10.0.0.0/8, next_hop: VirtualAppliance, next_hop_ip: 10.0.1.4 } ]
vms:
  - { name: nva, size: Standard_D4s_v3, forwarding: true, nics: [ { name: nva-nic, vnet: hub, subnet: nva, ip: 10.0.1.4, ip_forwarding: true } ] }
  - { name: vm1, size: Standard_D2s_v3, nics: [ { name: vm1-nic, vnet: spoke1, subnet: app, ip: 10.1.0.4 } ] }
  - { name: vm2, size: Standard_D2s_v3, nics: [ { name: vm2-nic, vnet: spoke2, subnet: app, ip: 10.2.0.4 } ] }
peerings:
  - { name: hub-to-spoke1, from: hub, to: spoke1, allow_forwarded_traffic: true }
  - { name: spoke1-to-hub, from: spoke1, to: hub, allow_forwarded_traffic: true }
  - { name: hub-to-spoke2, from: hub, to: spoke2, allow_forwarded_traffic: true }
  - { name: spoke2-to-hub, from: spoke2, to: hub, allow_forwarded_traffic: true }
traffic:
  - { name: chained, from: vm1, to: vm2, protocol: udp, dst_port: 9000, rate: 1000pps, packet_size: 100, start: 0s, duration: 1s }
events:
  - { at: 500000001ns, set_ip_forwarding: { nic: nva-nic, enabled: false } }
"#,
        "forwarding-switched-off.yaml",
    )
    .unwrap_or_else(|e| panic!("{}", e.render(false)));
    let report = replay(&s);
    let f = flow(&report, "chained");
    assert_eq!(f.sent, 1000);
    assert_eq!(f.delivered, 500, "{:?}", f.forward());
    assert_eq!(f.dropped.values().sum::<u64>(), 500, "{:?}", f.forward());
    assert_eq!(
        f.dropped.keys().collect::<Vec<_>>(),
        ["forwarding-disabled"]
    );
    assert_eq!(report.events.len(), 1);
}

/// A flow switched from one appliance to another mid-run, with jitter so that packets sent
/// before the switch still reach the first appliance after packets sent after it reached the
/// second: each packet must continue from the appliance it reached (a remembered decision from
/// the other appliance's way would cross the other hub's peering). Checked by consistency: the
/// bytes across each hub's peering with the destination spoke are the packets that hub's
/// appliance forwarded.
#[test]
fn packets_in_flight_continue_from_the_appliance_they_reached() {
    let s = vnetsim_scenario::load_str(
        r#"
name: appliance-switched
seed: 7
latency: { jitter: 300us }
vnets:
  - { name: hub1, address_space: [10.10.0.0/16], subnets: [ { name: nva, prefix: 10.10.1.0/24 } ] }
  - { name: hub2, address_space: [10.20.0.0/16], subnets: [ { name: nva, prefix: 10.20.1.0/24 } ] }
  - { name: spoke1, address_space: [10.1.0.0/16], subnets: [ { name: app, prefix: 10.1.0.0/24, route_table: via-nva1 } ] }
  - { name: spoke2, address_space: [10.2.0.0/16], subnets: [ { name: app, prefix: 10.2.0.0/24 } ] }
route_tables:
  - { name: via-nva1, routes: [ { name: spoke2, prefix: 10.2.0.0/16, next_hop: VirtualAppliance, next_hop_ip: 10.10.1.4 } ] }
  - { name: via-nva2, routes: [ { name: spoke2, prefix: 10.2.0.0/16, next_hop: VirtualAppliance, next_hop_ip: 10.20.1.4 } ] }
vms:
  - { name: nva1, size: Standard_D4s_v3, forwarding: true, nics: [ { name: nva1-nic, vnet: hub1, subnet: nva, ip: 10.10.1.4, ip_forwarding: true } ] }
  - { name: nva2, size: Standard_D4s_v3, forwarding: true, nics: [ { name: nva2-nic, vnet: hub2, subnet: nva, ip: 10.20.1.4, ip_forwarding: true } ] }
  - { name: vm1, size: Standard_D2s_v3, nics: [ { name: vm1-nic, vnet: spoke1, subnet: app, ip: 10.1.0.4 } ] }
  - { name: vm2, size: Standard_D2s_v3, nics: [ { name: vm2-nic, vnet: spoke2, subnet: app, ip: 10.2.0.4 } ] }
peerings:
  - { name: h1-s1, from: hub1, to: spoke1, allow_forwarded_traffic: true }
  - { name: s1-h1, from: spoke1, to: hub1, allow_forwarded_traffic: true }
  - { name: h1-s2, from: hub1, to: spoke2, allow_forwarded_traffic: true }
  - { name: s2-h1, from: spoke2, to: hub1, allow_forwarded_traffic: true }
  - { name: h2-s1, from: hub2, to: spoke1, allow_forwarded_traffic: true }
  - { name: s1-h2, from: spoke1, to: hub2, allow_forwarded_traffic: true }
  - { name: h2-s2, from: hub2, to: spoke2, allow_forwarded_traffic: true }
  - { name: s2-h2, from: spoke2, to: hub2, allow_forwarded_traffic: true }
traffic:
  - { name: chained, from: vm1, to: vm2, protocol: udp, dst_port: 9000, rate: 100000pps, packet_size: 100, start: 0s, duration: 10ms }
events:
  - { at: 5ms, set_route_table: { subnet: spoke1/app, route_table: via-nva2 } }
"#,
        "appliance-switched.yaml",
    )
    .unwrap_or_else(|e| panic!("{}", e.render(false)));
    let report = replay(&s);
    let f = flow(&report, "chained");
    assert_eq!((f.sent, f.delivered), (1000, 1000));
    let forwarded = |nic: &str| {
        report
            .nics
            .iter()
            .find(|n| n.nic == nic)
            .map_or(0, |n| n.forwarded_packets)
    };
    let (via1, via2) = (forwarded("nva1-nic"), forwarded("nva2-nic"));
    assert!(
        via1 > 0 && via2 > 0 && via1 + via2 == 1000,
        "{via1} + {via2}"
    );
    let bytes = |a: &str, b: &str| {
        report
            .peerings
            .iter()
            .find(|p| p.vnets == [a.to_string(), b.to_string()])
            .map_or(0, |p| p.bytes_forward + p.bytes_backward)
    };
    // hub1 -> spoke2 and hub2 -> spoke2: the second leg of each way.
    assert_eq!(bytes("hub1", "spoke2"), via1 * 100);
    assert_eq!(bytes("hub2", "spoke2"), via2 * 100);
}

/// The generated hub and spoke with an NSG on every spoke subnet: the rules admit the flows,
/// so every packet is delivered, each relying on NSG flow records at both ends of both of its
/// segments (the way the engine remembers decisions with flow records).
#[test]
fn a_generated_hub_and_spoke_with_nsgs_delivers_every_packet() {
    let p = vnetsim_scenario::generate::HubSpoke {
        spokes: 5,
        vms_per_spoke: 4,
        flows: 50,
        duration_ms: 500,
        nsgs: true,
        ..Default::default()
    };
    let s = vnetsim_scenario::load_str(&p.to_yaml().unwrap(), "generated.yaml")
        .unwrap_or_else(|e| panic!("{}", e.render(false)));
    let report = replay(&s);
    let c = report.conservation;
    assert_eq!(c.sent, 50 * 5);
    assert_eq!((c.delivered, c.dropped), (c.sent - c.in_flight, 0), "{c:?}");
}

/// [nsg-overview] Flow records admit the reverse packets of an open connection. A probe is a
/// packet like any other: in the reverse direction of a traffic flow's connection it passes on
/// the flow's record, where the rules alone deny it (`stateless: true`).
#[test]
fn nsg_overview_probe_shares_the_flow_records_of_open_connections() {
    let s = scenario("probe-sees-open-connections.yaml");
    let report = replay(&s);
    let verdicts: Vec<(&str, Option<DropReason>)> = report
        .probes
        .iter()
        .map(|p| (p.verdict, p.reason))
        .collect();
    assert_eq!(
        verdicts,
        [
            ("delivered", None),
            ("dropped", Some(DropReason::NsgDenied)),
            ("dropped", Some(DropReason::NsgDenied)),
        ]
    );
    // Without the traffic flow there is no connection: the same probe is denied.
    let mut alone = s.clone();
    alone.traffic.clear();
    alone
        .expectations
        .retain(|e| matches!(e, vnetsim_scenario::Expectation::Probe { .. }));
    let report = replay(&alone);
    assert_eq!(report.probes[0].verdict, "dropped");
    assert_eq!(report.probes[0].reason, Some(DropReason::NsgDenied));
}

/// [vm-bandwidth] "Once this limit is hit, other connections are dropped": a replay drops the
/// packets of connections that open at a full VM, keeps those of open ones, and counts an
/// appliance's forwarded connections twice.
#[test]
fn vm_bandwidth_2023_flow_limit_drops_new_connections_in_a_replay() {
    let s = scenario("flow-limit.yaml");
    let report = replay(&s);
    let ratio = |name: &str| flow(&report, name).delivered_ratio;
    for open in ["c1", "c2", "c3", "f1", "f2"] {
        assert_eq!(ratio(open), 1.0, "{open}");
    }
    for refused in ["c4", "c5", "f3"] {
        assert_eq!(ratio(refused), 0.0, "{refused}");
        let f = flow(&report, refused);
        assert_eq!(f.dropped.get("flow-limit"), Some(&f.sent));
    }
    // With Azure's own figure (500,000 each way) nothing is refused.
    let mut azure = s.clone();
    for vm in &mut azure.vms {
        vm.flow_limit = vnetsim_scenario::DEFAULT_FLOW_LIMIT;
    }
    let report = replay(&azure);
    assert!(!report.drops_by_reason.contains_key("flow-limit"));
}

/// A constant flow keeps its own rhythm when another flow of the same rate starts later: the
/// later flow's first emission must not hold back the earlier flow's next ones (every packet of
/// both sees the path's one-way latency, no queueing).
#[test]
fn a_flow_starting_later_does_not_hold_back_one_of_the_same_rate() {
    let yaml = r#"
name: staggered
duration: 1s
vnets:
  - { name: a, address_space: [10.1.0.0/16], subnets: [ { name: s, prefix: 10.1.0.0/24 } ] }
vms:
  - { name: x, size: Standard_D2s_v3, nics: [ { name: x-nic, vnet: a, subnet: s, ip: 10.1.0.4 } ] }
  - { name: y, size: Standard_D2s_v3, nics: [ { name: y-nic, vnet: a, subnet: s, ip: 10.1.0.5 } ] }
traffic:
  - { name: early, from: x, to: y, protocol: udp, dst_port: 9, rate: 1000pps, packet_size: 1400, start: 0s, duration: 1s }
  - { name: late, from: y, to: x, protocol: udp, dst_port: 9, rate: 1000pps, packet_size: 1400, start: 400ms, duration: 600ms }
"#;
    let s = vnetsim_scenario::load_str(yaml, "staggered.yaml").expect("valid");
    let report = serde_json::to_value(replay(&s)).expect("json");
    for (i, sent) in [(0, 1000), (1, 600)] {
        let f = &report["flows"][i];
        assert_eq!(f["sent"], sent, "{f:#}");
        assert_eq!(f["delivered"], sent, "{f:#}");
        let lat = &f["latency_ns"];
        assert_eq!(
            lat["min"], lat["max"],
            "queued behind the other flow: {lat:#}"
        );
    }
}

/// The summary a sweep keeps of a replay (`Engine::finish_summary`, no report rows) gives each
/// figure as the full report does: every example scenario, two seeds, and the examples with
/// a flow expectation broken (so that failed checks are counted from rows built for them
/// alone).
#[test]
fn the_summary_of_a_replay_equals_its_report() {
    use vnetsim_engine::FlowSummary;
    let mut checked = 0;
    for (name, s) in all_scenarios() {
        let prepared = Prepared::new(&s);
        for seed in [1, 7] {
            let options = || Options {
                seed: Some(seed),
                ..Options::default()
            };
            let report = Engine::from_prepared(&prepared, options()).run();
            let summary = Engine::from_prepared(&prepared, options()).run_summary();
            assert_eq!(summary.conservation, report.conservation, "{name}");
            assert_eq!(summary.drops_by_reason, report.drops_by_reason, "{name}");
            assert_eq!(
                summary.expectations_failed, report.expectations.failed,
                "{name}"
            );
            let flows: Vec<FlowSummary> = report
                .flows
                .iter()
                .map(|f| FlowSummary {
                    delivered_ratio: f.delivered_ratio,
                    throughput_bps: f.throughput_bps,
                    latency_p99_ns: f.latency_ns.map(|l| l.p99),
                })
                .collect();
            assert_eq!(summary.flows, flows, "{name}");
            checked += 1;
        }
    }
    assert!(checked >= 40, "{checked} replays");
    // A flow expectation that fails: counted as the report counts it.
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/vm-size-shaping.yaml"),
    )
    .unwrap();
    let broken = text.replacen("throughput: \">= 900Mbps\"", "throughput: \">= 90Gbps\"", 1);
    assert_ne!(broken, text, "the example's expectation moved");
    let s = vnetsim_scenario::load_str(&broken, "broken.yaml").unwrap();
    let report = Engine::new(&s, Options::default()).run();
    let summary = Engine::new(&s, Options::default()).run_summary();
    assert!(report.expectations.failed > 0);
    assert_eq!(summary.expectations_failed, report.expectations.failed);
}

/// The report of `s` replayed with `parallel`, as JSON text, and whether it ran on two cores.
fn replayed(s: &Scenario, parallel: vnetsim_engine::Parallel) -> (String, bool) {
    let mut engine = Engine::new(s, Options::default()).parallel(parallel);
    engine.replay(&mut |_, _| {});
    let two = engine.replayed_in_parallel();
    (serde_json::to_string_pretty(&engine.finish()).unwrap(), two)
}

fn generated(g: vnetsim_scenario::generate::HubSpoke) -> Scenario {
    vnetsim_scenario::load_str(&g.to_yaml().unwrap(), "generated.yaml")
        .unwrap_or_else(|e| panic!("{}", e.render(false)))
}

/// A replay on two cores (senders, then the appliance and deliveries) gives the sequential
/// report byte for byte, with and without NSGs, with the appliance's queue overflowing and
/// with packets still in flight at the end.
#[test]
fn two_cores_give_the_sequential_report_of_hub_and_spokes() {
    use vnetsim_engine::Parallel;
    use vnetsim_scenario::generate::HubSpoke;
    let small = HubSpoke {
        spokes: 8,
        vms_per_spoke: 30,
        flows: 3_000,
        pps: 50,
        duration_ms: 200,
        ..HubSpoke::default()
    };
    let overflowing = HubSpoke {
        flows: 2_000,
        pps: 4_000,
        packet_size: 1400,
        duration_ms: 20,
        ..small
    };
    let cases = [
        ("plain", small),
        (
            "nsgs",
            HubSpoke {
                nsgs: true,
                ..small
            },
        ),
        (
            "firewall",
            HubSpoke {
                firewall: true,
                ..small
            },
        ),
        // 90 Gb/s through one 30 Gb/s appliance: its queue overflows.
        ("overflowing", overflowing),
    ];
    for (name, g) in cases {
        let s = generated(g);
        let (one, used_one) = replayed(&s, Parallel::Never);
        let (two, used_two) = replayed(&s, Parallel::Always);
        assert!(!used_one, "{name}: asked for one core");
        assert!(used_two, "{name}: did not run on two cores");
        assert!(one == two, "{name}: the reports differ");
    }
    // The overflowing case did overflow, so the comparison covered drops at the waypoint.
    let report = replay(&generated(overflowing));
    assert!(report.drops_by_reason.count(DropReason::QueueOverflow) > 0);
    assert!(report.conservation.in_flight > 0);
}

/// Every example replays on two cores exactly as on one, or is refused with its reason; a
/// scenario with a firewall is refused.
#[test]
fn every_example_gives_the_same_report_on_two_cores_or_stays_on_one() {
    use vnetsim_engine::Parallel;
    let mut split = Vec::new();
    for (name, s) in all_scenarios() {
        let (one, _) = replayed(&s, Parallel::Never);
        let (two, used) = replayed(&s, Parallel::Always);
        assert!(one == two, "{name}: the reports differ");
        if used {
            split.push(name);
        }
    }
    eprintln!("examples replayed on two cores: {split:?}");
    // A flow addressed to a firewall's own address is refused.
    let mut fw = generated(vnetsim_scenario::generate::HubSpoke {
        spokes: 4,
        vms_per_spoke: 5,
        flows: 50,
        firewall: true,
        ..Default::default()
    });
    assert_eq!(
        Engine::new(&fw, Options::default()).parallel_refusal(),
        None
    );
    fw.traffic[0].to = vnetsim_scenario::Endpoint::Ip(fw.firewalls[0].ip);
    assert_eq!(
        Engine::new(&fw, Options::default()).parallel_refusal(),
        Some("a flow is addressed to a firewall")
    );
}

/// The gateway example with an appliance in front of the gateway: `traffic` goes through it
/// and then through the gateway (two waypoints).
const THROUGH_NVA_AND_GATEWAY: &str = r#"
name: nva-then-gateway
seed: 11
duration: 50ms
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    subnets:
      - { name: GatewaySubnet, prefix: 10.0.255.0/27 }
      - { name: appliances, prefix: 10.0.1.0/24 }
    gateway: { name: hub-gw, sku: VpnGw1 }
  - name: spoke
    address_space: [10.1.0.0/16]
    subnets: [ { name: app, prefix: 10.1.1.0/24, route_table: via-nva } ]
route_tables:
  - name: via-nva
    routes: [ { name: branch, prefix: 192.168.0.0/16, next_hop: VirtualAppliance, next_hop_ip: 10.0.1.4 } ]
vms:
  - { name: app-vm, size: Standard_D8s_v3, nics: [ { name: app-vm-nic, vnet: spoke, subnet: app, ip: 10.1.1.4 } ] }
  - { name: nva, size: Standard_D8s_v3, forwarding: true, nics: [ { name: nva-nic, vnet: hub, subnet: appliances, ip: 10.0.1.4, ip_forwarding: true } ] }
peerings:
  - { name: hub-to-spoke, from: hub, to: spoke, allow_gateway_transit: true, allow_forwarded_traffic: true }
  - { name: spoke-to-hub, from: spoke, to: hub, use_remote_gateways: true, allow_forwarded_traffic: true }
on_premises:
  - name: branch
    address_space: [192.168.0.0/16]
    connection: hub-gw
    latency: 5ms
    hosts: [ { name: backup-server, ip: 192.168.10.20 } ]
traffic:
  - { name: backup, from: app-vm, to: backup-server, protocol: udp, dst_port: 873, rate: 2Gbps, packet_size: 1400, start: 0s, duration: 50ms }
"#;

/// A replay that turns out not to split (a packet meets a second waypoint, or a VM both sends
/// and forwards) is replayed on one core, with the sequential report.
#[test]
fn a_replay_that_does_not_split_falls_back_to_one_core() {
    use vnetsim_engine::Parallel;
    let two_waypoints = vnetsim_scenario::load_str(THROUGH_NVA_AND_GATEWAY, "t.yaml")
        .unwrap_or_else(|e| panic!("{}", e.render(false)));
    let mut sending_nva = two_waypoints.clone();
    // The appliance also sends to the branch: its shaper serves both stages.
    let mut extra = sending_nva.traffic[0].clone();
    extra.name = "from-nva".into();
    extra.from = vnetsim_scenario::Endpoint::Vm(vnetsim_scenario::VmId(1));
    sending_nva.traffic.push(extra);
    for (name, s) in [
        ("two waypoints", two_waypoints),
        ("sending appliance", sending_nva),
    ] {
        assert_eq!(
            Engine::new(&s, Options::default()).parallel_refusal(),
            None,
            "{name}"
        );
        let (one, _) = replayed(&s, Parallel::Never);
        let (two, used) = replayed(&s, Parallel::Always);
        assert!(!used, "{name}: ran on two cores");
        assert!(one == two, "{name}: the reports differ");
        let report = replay(&s);
        assert!(
            report.flows.iter().all(|f| f.delivered > 0),
            "{name}: {report:?}"
        );
    }
}

/// Two cores give the sequential report for Poisson senders (whose gaps draw from the seeded
/// stream), TCP flows without replies, and a scenario without a duration (replayed until
/// nothing is pending).
#[test]
fn two_cores_give_the_sequential_report_of_poisson_tcp_and_open_ended_runs() {
    use vnetsim_engine::Parallel;
    use vnetsim_scenario::{Pattern, Protocol, generate::HubSpoke};
    let base = generated(HubSpoke {
        spokes: 6,
        vms_per_spoke: 20,
        flows: 1_500,
        pps: 40,
        duration_ms: 100,
        ..HubSpoke::default()
    });
    let mut poisson = base.clone();
    for f in &mut poisson.traffic {
        f.pattern = Pattern::Poisson;
    }
    let mut tcp = base.clone();
    for f in &mut tcp.traffic {
        f.protocol = Protocol::Tcp;
        f.dst_port = Some(443);
        f.packet_size = 200;
    }
    let mut open_ended = base.clone();
    open_ended.duration = None;
    for f in &mut open_ended.traffic {
        f.duration = Some(50_000_000);
    }
    for (name, s) in [
        ("poisson", poisson),
        ("tcp", tcp),
        ("open-ended", open_ended),
    ] {
        let (one, _) = replayed(&s, Parallel::Never);
        let (two, used) = replayed(&s, Parallel::Always);
        assert!(used, "{name}: did not run on two cores");
        assert!(one == two, "{name}: the reports differ");
        assert!(one.contains("\"delivered\""), "{name}");
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(12))]
    /// Any small hub and spokes (with or without NSGs or a firewall, any packet size, rate,
    /// duration and seed) replays on two cores exactly as on one.
    #[test]
    fn two_cores_give_the_sequential_report_of_any_small_hub(
        spokes in 2u32..6,
        vms_per_spoke in 1u32..12,
        flows in 1u32..400,
        pps in 1u32..3_000,
        packet_size in 64u16..1500,
        duration_ms in 1u32..60,
        seed in 0u64..1_000,
        kind in 0u8..3,
    ) {
        use vnetsim_engine::Parallel;
        let s = generated(vnetsim_scenario::generate::HubSpoke {
            spokes,
            vms_per_spoke,
            flows,
            pps,
            packet_size,
            duration_ms,
            seed,
            nsgs: kind == 1,
            firewall: kind == 2,
        });
        let (one, _) = replayed(&s, Parallel::Never);
        let (two, used) = replayed(&s, Parallel::Always);
        proptest::prop_assert!(one == two, "the reports differ");
        // A generated hub has one waypoint on every way and no VM that both sends and
        // forwards: whenever it qualifies, it runs on two cores.
        let refusal = Engine::new(&s, Options::default()).parallel_refusal();
        proptest::prop_assert_eq!(used, refusal.is_none(), "{:?}", refusal);
    }
}
