//! Replays of the example scenarios: determinism, conservation, and the seed document's
//! statements about time (VM-size bandwidth, peered latency).

use std::path::PathBuf;

use vnetsim_engine::{Engine, Options, Report, replay};
use vnetsim_scenario::Scenario;

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
    let sent = flow(&report, "ping-local").forward.sent;
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
        f.forward.latency_ns.unwrap().p50 + f.replies.as_ref().unwrap().latency_ns.unwrap().p50
    };
    assert_eq!(rtt(local), rtt(peer));
    assert!(
        rtt(local) >= 60_000,
        "two one-way host-to-host delays: {}",
        rtt(local)
    );
    assert_eq!(
        local.replies.as_ref().unwrap().delivered,
        local.forward.delivered
    );
}

#[test]
fn a_vm_is_held_to_its_sizes_egress_bandwidth() {
    let report = replay(&scenario("vm-size-shaping.yaml"));
    let bulk = flow(&report, "bulk");
    // Standard_D2s_v3: 1,000 Mbps expected egress bandwidth.
    assert!(
        bulk.forward.throughput_bps <= 1.05e9,
        "{}",
        bulk.forward.throughput_bps
    );
    assert!(
        bulk.forward.throughput_bps >= 0.9e9,
        "{}",
        bulk.forward.throughput_bps
    );
    assert!(bulk.forward.dropped["queue-overflow"] > 0);
    let shaper = report.shapers.iter().find(|s| s.name == "sender").unwrap();
    assert_eq!(shaper.rate_bps, 1_000_000_000);
}

#[test]
fn peering_traffic_is_counted_and_priced_both_ways() {
    let report = replay(&scenario("peered-latency.yaml"));
    let p = &report.peerings[0];
    assert_eq!(p.vnets, ["vnet-a".to_string(), "vnet-b".to_string()]);
    let peer = flow(&report, "ping-peer");
    assert_eq!(p.bytes_forward, peer.forward.bytes_delivered);
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
    assert_eq!(open.forward.delivered, open.forward.sent);
    let new = flow(&report, "new-session");
    assert_eq!(new.forward.delivered, 0);
    assert_eq!(new.forward.dropped["nsg-denied"], new.forward.sent);
}

#[test]
fn the_duration_ends_the_run_and_leaves_packets_in_flight() {
    let report = replay(&scenario("gateway-sku-throughput.yaml"));
    assert_eq!(report.simulated_ns, 200_000_000);
    // 5 ms of site latency: the packets of the last 5 ms are still on their way.
    assert!(report.conservation.in_flight > 0);
    assert!(report.conservation.holds());
}

/// Counting a delivery ahead of its event (when nothing waits for it) gives the same results
/// as processing every delivery as an event (which a capture forces).
#[test]
fn deliveries_counted_ahead_match_deliveries_as_events() {
    struct Discard;
    impl vnetsim_engine::Capture for Discard {
        fn packet(&mut self, _at: u64, _bytes: &[u8]) {}
    }
    for (name, s) in all_scenarios() {
        let plain = replay(&s);
        let mut discard = Discard;
        let captured = Engine::new(&s, Options::default())
            .with_capture(&mut discard)
            .run();
        let strip = |r: &Report| {
            let mut v = serde_json::to_value(r).unwrap();
            v.as_object_mut().unwrap().remove("events_processed");
            v
        };
        assert_eq!(strip(&plain), strip(&captured), "{name}");
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
    assert_eq!(f.forward.sent, 1000);
    assert_eq!(f.forward.dropped.get("no-route"), Some(&500));
    assert_eq!(f.forward.delivered, 500);
    assert_eq!(report.peerings.len(), 1);
    assert_eq!(report.peerings[0].bytes_forward, 500 * 100);
    assert_eq!(report.peerings[0].bytes_backward, 0);
}
