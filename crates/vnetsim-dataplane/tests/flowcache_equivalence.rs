//! The flow cache and the per-flow memos give exactly the pipeline's decisions: random packet
//! sequences (including replies, TTL edge cases and idle gaps past the flow-record timeout)
//! through the example networks, once segment by segment through the full pipeline and once
//! through the cache (or the memos).

use std::path::PathBuf;

use proptest::prelude::*;
use vnetsim_dataplane::flowcache::FlowCache;
use vnetsim_dataplane::pipeline::FLOW_IDLE_TIMEOUT;
use vnetsim_dataplane::probe::ingress_for;
use vnetsim_dataplane::wire::{PacketSpec, build_probe};
use vnetsim_dataplane::{
    Cached, Dataplane, FlowTable, Full, Ingress, Segment, SegmentMemo, SegmentStart, Step, Trace,
};
use vnetsim_scenario::{Endpoint, Protocol, Scenario};

fn load(name: &str) -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios")
        .join(name);
    vnetsim_scenario::load_file(&path).unwrap_or_else(|e| panic!("{}", e.render(false)))
}

/// Peering crossings only: what a cache hit reports.
#[derive(Default)]
struct Crossings(Vec<Step>);

impl Trace for Crossings {
    fn step(&mut self, step: Step) {
        if let Step::Peering { .. } = step {
            self.0.push(step);
        }
    }
}

/// How a walk decides each segment.
enum How<'a> {
    /// The full pipeline every time.
    Full,
    /// Through the hash-keyed flow cache.
    Cache(&'a mut FlowCache),
    /// Through the flow's memos, one per segment of its way (as the engine keeps them).
    Memos(&'a mut [SegmentMemo; 4]),
}

/// Runs one packet through every segment; returns each segment and the peering crossings.
fn walk(
    dp: &Dataplane,
    how: &mut How<'_>,
    packet: &mut [u8],
    ingress: Ingress,
    flows: &mut FlowTable,
    now: u64,
) -> (Vec<Segment>, Vec<Step>) {
    let mut trace = Crossings::default();
    let mut segments = Vec::new();
    let mut start = SegmentStart::Ingress(ingress);
    loop {
        let t = &mut trace;
        let seg = match &mut *how {
            How::Full => dp.decide(start, packet, flows, now, Full, t),
            How::Cache(cache) => {
                let via = Cached {
                    cache,
                    generation: 0,
                };
                dp.decide(start, packet, flows, now, via, t)
            }
            How::Memos(m) => {
                let i = segments.len().min(m.len() - 1);
                dp.decide(start, packet, flows, now, &mut m[i], t)
            }
        };
        segments.push(seg);
        match seg {
            Segment::Done(_) => return (segments, trace.0),
            Segment::Paused(w) => start = SegmentStart::At(w),
        }
    }
}

fn endpoints(s: &Scenario) -> Vec<Endpoint> {
    let mut e: Vec<Endpoint> = (0..s.vms.len())
        .map(|i| Endpoint::Vm(vnetsim_scenario::VmId(i as u32)))
        .collect();
    e.extend((0..s.hosts.len()).map(|i| Endpoint::Host(vnetsim_scenario::HostId(i as u32))));
    // The platform addresses: delivered past NSGs and routes unless a rule names a platform
    // tag [nsg-overview], [ip-168]; remembered like any delivery.
    e.extend(
        vnetsim_dataplane::platform::PlatformEndpoint::ALL
            .iter()
            .map(|p| Endpoint::Ip(p.address())),
    );
    // Internet hosts and public IPs: firewall sessions and address translation, which are
    // never remembered (the decision holds for one packet).
    e.extend(s.internet_hosts.iter().map(|h| Endpoint::Ip(h.ip)));
    e.extend(
        s.firewalls
            .iter()
            .flat_map(|f| f.public_ips.iter().map(|ip| Endpoint::Ip(*ip))),
    );
    e.extend(
        s.nics
            .iter()
            .filter_map(|n| n.public_ip)
            .map(|p| Endpoint::Ip(p.ip)),
    );
    // Private endpoints: deliveries, and their answers (packets from an endpoint's address
    // enter at the endpoint), routed with or without their subnet's route table [PENP23].
    e.extend(s.private_endpoints.iter().map(|p| Endpoint::Ip(p.ip)));
    // Load balancer frontends: a packet addressed to one is translated to its backend (never
    // remembered); a next-hop frontend's sessions are what a remembered decision relies on.
    e.extend(
        s.load_balancers
            .iter()
            .flat_map(|l| l.frontends.iter().map(|f| Endpoint::Ip(f.ip))),
    );
    e
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Every packet three times, each with its own flow table: through the full pipeline,
    /// through the flow cache, and through its flow's memos (one set per 5-tuple, as the engine
    /// keeps them beside its sources).
    #[test]
    fn cached_and_memoized_decisions_equal_the_pipeline(
        file in prop_oneof![
            Just("hub-and-spoke.yaml"),
            Just("nsg-blocks-peer.yaml"),
            Just("gateway-transit.yaml"),
            Just("basic-peering.yaml"),
            Just("platform-addresses.yaml"),
            Just("hub-spoke-default-nsg-current.yaml"),
            Just("hub-firewall.yaml"),
            Just("firewall-dnat.yaml"),
            Just("private-endpoint-bypass.yaml"),
            Just("nva-ha-ports.yaml"),
        ],
        // A few flows per case, so that later packets of a flow (and its replies) meet the
        // cache entries and memos the earlier ones left.
        flows in prop::collection::vec(
            (0usize..16, 0usize..16, 0u8..3, 0u16..4, prop_oneof![Just(22u16), Just(1433), Just(53), Just(443)]),
            1..5,
        ),
        packets in prop::collection::vec(
            (0usize..5, prop_oneof![Just(64u8), Just(64), Just(1), Just(2)], 0u64..3, any::<bool>()),
            1..60,
        ),
    ) {
        let s = load(file);
        let dp = Dataplane::compile(&s);
        let eps = endpoints(&s);
        let (mut flows_a, mut flows_b, mut flows_c) =
            (FlowTable::new(), FlowTable::new(), FlowTable::new());
        let mut cache = FlowCache::new();
        let mut memos: std::collections::HashMap<_, [SegmentMemo; 4]> = Default::default();
        let mut now = 0u64;
        for (flow, ttl, gap, reverse) in packets {
            let (a, b, proto, sport, dport) = flows[flow % flows.len()];
            let (mut from, mut to) = (eps[a % eps.len()], eps[b % eps.len()]);
            let (mut sp, mut dp_) = (40000 + sport, dport);
            if reverse {
                std::mem::swap(&mut from, &mut to);
                std::mem::swap(&mut sp, &mut dp_);
            }
            // Gaps: none, a millisecond, or past the idle timeout of flow records.
            now += [0, 1_000_000, FLOW_IDLE_TIMEOUT + 1][gap as usize];
            let spec = PacketSpec {
                src: s.endpoint_ip(from).unwrap(),
                dst: s.endpoint_ip(to).unwrap(),
                protocol: [Protocol::Tcp, Protocol::Udp, Protocol::Icmp][proto as usize],
                src_port: sp,
                dst_port: dp_,
                ttl,
                total_len: 64,
                identification: 7,
            };
            let mut pa = [0u8; 64];
            build_probe(&mut pa, &spec).unwrap();
            let (mut pb, mut pc) = (pa, pa);
            let ingress = ingress_for(&s, from);
            let full = walk(&dp, &mut How::Full, &mut pa, ingress, &mut flows_a, now);
            let cached = walk(&dp, &mut How::Cache(&mut cache), &mut pb, ingress, &mut flows_b, now);
            let flow_memos = memos.entry((from, to, proto, sp, dp_)).or_default();
            let memoized = walk(&dp, &mut How::Memos(flow_memos), &mut pc, ingress, &mut flows_c, now);
            prop_assert_eq!(&full, &cached);
            prop_assert_eq!(&full, &memoized);
            prop_assert_eq!(pa, pb);
            prop_assert_eq!(pa, pc);
        }
    }
}

/// The packets of one flow between two named VMs of an example: the scenario, where they
/// enter and their headers.
fn long_flow(
    file: &str,
    from: &str,
    to: &str,
    protocol: Protocol,
    dst_port: u16,
) -> (Scenario, Ingress, PacketSpec) {
    let s = load(file);
    let (from, to) = (
        s.endpoint_by_name(from).unwrap(),
        s.endpoint_by_name(to).unwrap(),
    );
    let spec = PacketSpec {
        src: s.endpoint_ip(from).unwrap(),
        dst: s.endpoint_ip(to).unwrap(),
        protocol,
        src_port: 40000,
        dst_port,
        ttl: 64,
        total_len: 64,
        identification: 1,
    };
    let ingress = ingress_for(&s, from);
    (s, ingress, spec)
}

/// A long flow through an appliance is decided in full once per segment, then from its memos.
#[test]
fn a_long_flow_through_an_appliance_is_remembered() {
    let (s, ingress, spec) = long_flow("hub-and-spoke.yaml", "web1", "db1", Protocol::Udp, 5001);
    let dp = Dataplane::compile(&s);
    let mut flows = FlowTable::new();
    let mut memos = [SegmentMemo::default(); 4];
    let mut first = None;
    for i in 0..10u64 {
        let mut p = [0u8; 64];
        build_probe(&mut p, &spec).unwrap();
        let walked = walk(
            &dp,
            &mut How::Memos(&mut memos),
            &mut p,
            ingress,
            &mut flows,
            i,
        );
        assert_eq!(walked.0.len(), 2, "through the appliance: two segments");
        assert!(
            !memos[0].is_empty() && !memos[1].is_empty(),
            "{memos:?} {walked:?}"
        );
        assert_eq!(*first.get_or_insert(walked.clone()), walked);
    }
}

/// A long flow through NVAs behind an internal load balancer's HA ports frontend: the first
/// packet places the connection (decided in full), the next ones rely on its session [LBHA17].
#[test]
fn lbha_a_long_flow_through_a_load_balanced_nva_is_remembered() {
    let (s, ingress, spec) = long_flow("nva-ha-ports.yaml", "web1", "db2", Protocol::Tcp, 1433);
    let dp = Dataplane::compile(&s);
    let mut flows = FlowTable::new();
    let mut memos = [SegmentMemo::default(); 4];
    let mut first = None;
    for i in 0..10u64 {
        let mut p = [0u8; 64];
        build_probe(&mut p, &spec).unwrap();
        let walked = walk(
            &dp,
            &mut How::Memos(&mut memos),
            &mut p,
            ingress,
            &mut flows,
            i,
        );
        assert_eq!(walked.0.len(), 2, "through the NVA: two segments");
        if i > 0 {
            assert!(
                !memos[0].is_empty() && !memos[1].is_empty(),
                "{memos:?} {walked:?}"
            );
        }
        assert_eq!(*first.get_or_insert(walked.clone()), walked);
    }
    assert_eq!(flows.lb_sessions(), 2);
}

#[test]
fn a_long_flow_through_nsgs_hits_the_cache() {
    let (s, ingress, spec) = long_flow("nsg-blocks-peer.yaml", "app1", "sql1", Protocol::Tcp, 1433);
    let dp = Dataplane::compile(&s);
    let mut flows = FlowTable::new();
    let mut cache = FlowCache::new();
    for i in 0..100 {
        let mut p = [0u8; 64];
        build_probe(&mut p, &spec).unwrap();
        let (segments, _) = walk(
            &dp,
            &mut How::Cache(&mut cache),
            &mut p,
            ingress,
            &mut flows,
            i * 1000,
        );
        assert!(matches!(
            segments.last(),
            Some(Segment::Done(vnetsim_dataplane::Outcome::Delivered(_)))
        ));
    }
    assert_eq!(cache.stats(), (99, 1));
}
