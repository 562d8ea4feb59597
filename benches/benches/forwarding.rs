//! Criterion benches of the forwarding path: (a) a cached-flow packet, (b) a first packet
//! through the full pipeline, (c) a 1,000-rule NSG worst case, (d) the LPM table, (e) the engine
//! end to end on a generated hub-and-spoke scenario.
//! Run: `cargo bench -p vnetsim-benches --bench forwarding`.

use std::hint::black_box;
use std::net::Ipv4Addr;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ipnet::Ipv4Net;
use vnetsim_benches::peered_scenario_yaml;
use vnetsim_dataplane::lpm::Lpm;
use vnetsim_dataplane::wire::{PacketSpec, build_probe, parse};
use vnetsim_dataplane::{Dataplane, FlowTable, Ingress, Outcome};
use vnetsim_scenario::{NicId, Protocol};

const PACKETS: usize = 4096;

/// (b) of the performance targets: a first packet (new 5-tuple: no flow record) through source
/// NIC NSG, subnet NSG, 1,000-route LPM, peering, destination subnet NSG and NIC NSG, each NSG
/// with 100 rules checked before the default rule decides.
fn first_packet(c: &mut Criterion) {
    let scenario = vnetsim_scenario::load_str(&peered_scenario_yaml(1000, 100), "bench.yaml")
        .unwrap_or_else(|e| panic!("{}", e.render(false)));
    let dataplane = Dataplane::compile(&scenario);
    // Distinct source ports: every packet is the first of its flow.
    let mut packets = vec![[0u8; 64]; PACKETS];
    for (i, buf) in packets.iter_mut().enumerate() {
        let spec = PacketSpec {
            src: Ipv4Addr::new(10, 1, 1, 4),
            dst: Ipv4Addr::new(10, 2, 1, 4),
            protocol: Protocol::Udp,
            src_port: 20000 + i as u16,
            dst_port: 5001,
            ttl: 64,
            total_len: 64,
            identification: i as u16,
        };
        build_probe(buf, &spec).expect("packet builds");
    }
    let mut flows = FlowTable::new();
    let mut i = 0usize;
    let mut group = c.benchmark_group("first_packet");
    group.throughput(Throughput::Elements(1));
    group.bench_function("1000_routes_100_rule_nsgs_both_levels", |b| {
        b.iter(|| {
            if i == PACKETS {
                i = 0;
                flows.clear();
            }
            let outcome = dataplane.forward(
                &mut packets[i],
                Ingress::Nic(NicId(0)),
                &mut flows,
                0,
                &mut (),
            );
            i += 1;
            debug_assert!(matches!(outcome, Outcome::Delivered(_)));
            black_box(outcome)
        })
    });
    group.finish();
}

fn parse_packet(c: &mut Criterion) {
    let mut buf = [0u8; 64];
    let spec = PacketSpec {
        src: Ipv4Addr::new(192, 0, 2, 1),
        dst: Ipv4Addr::new(198, 51, 100, 1),
        protocol: Protocol::Udp,
        src_port: 40000,
        dst_port: 443,
        ttl: 64,
        total_len: 64,
        identification: 1,
    };
    build_probe(&mut buf, &spec).expect("packet builds");
    let mut group = c.benchmark_group("wire");
    group.throughput(Throughput::Elements(1));
    group.bench_function("parse_64B_udp", |b| {
        b.iter(|| black_box(parse(black_box(&buf))))
    });
    group.finish();
}

/// Random-looking but reproducible prefixes (xorshift), BGP-like length mix.
fn prefixes(n: usize) -> Vec<(Ipv4Net, u32)> {
    let mut x: u32 = 0x2545_F491;
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let len = [16u8, 20, 22, 24, 24, 24, 28, 32][(x % 8) as usize];
            (
                Ipv4Net::new(Ipv4Addr::from(x), len)
                    .expect("len <= 32")
                    .trunc(),
                i as u32,
            )
        })
        .collect()
}

/// (d): LPM at 16 / 1,000 / 100,000 prefixes, compiled table against ip_network_table.
fn lpm(c: &mut Criterion) {
    let mut group = c.benchmark_group("lpm");
    group.throughput(Throughput::Elements(1));
    for n in [16usize, 1_000, 100_000] {
        let pairs = prefixes(n);
        let compiled = Lpm::new(pairs.iter().copied());
        let mut table = ip_network_table::IpNetworkTable::new();
        for (p, v) in &pairs {
            let net = ip_network::Ipv4Network::new(p.network(), p.prefix_len()).expect("truncated");
            table.insert(net, *v);
        }
        let probes: Vec<u32> = pairs
            .iter()
            .map(|(p, _)| u32::from(p.network()) | 1)
            .collect();
        let mut k = 0usize;
        group.bench_with_input(BenchmarkId::new("compiled", n), &n, |b, _| {
            b.iter(|| {
                k = (k + 1) % probes.len();
                black_box(compiled.lookup(probes[k]))
            })
        });
        group.bench_with_input(BenchmarkId::new("ip_network_table", n), &n, |b, _| {
            b.iter(|| {
                k = (k + 1) % probes.len();
                black_box(table.longest_match_ipv4(Ipv4Addr::from(probes[k])))
            })
        });
    }
    group.finish();
}

/// The sending side of bench (a): one flow's packets, each a copy of the flow's template with
/// its own identification, through a 100 Gbit/s token bucket (the bench measures the work, not
/// the waiting).
struct Sender {
    template: [u8; 64],
    buf: [u8; 64],
    id: u16,
    now: u64,
    shaper: vnetsim_engine::shaper::Shaper,
}

impl Sender {
    fn new(spec: &PacketSpec) -> Self {
        let mut template = [0u8; 64];
        build_probe(&mut template, spec).expect("packet builds");
        Self {
            template,
            buf: [0; 64],
            id: 0,
            now: 0,
            shaper: vnetsim_engine::shaper::Shaper::new(100_000_000_000, 1 << 20, 1 << 30),
        }
    }

    /// The next packet, in the reused buffer.
    fn packet(&mut self) -> &mut [u8] {
        self.buf.copy_from_slice(&self.template);
        self.id = self.id.wrapping_add(1);
        vnetsim_dataplane::wire::set_identification(&mut self.buf, self.id);
        &mut self.buf
    }

    /// The packet passes the token bucket: when it reaches its next hop (256 us on), if it is
    /// not dropped; the clock moves on 10 ns.
    fn leave(&mut self) -> Option<u64> {
        let at = match self.shaper.offer(self.now, 64) {
            vnetsim_engine::shaper::Admission::Leaves {
                departure,
                serialization,
            } => Some(departure + serialization + 256_000),
            vnetsim_engine::shaper::Admission::Overflow => None,
        };
        self.now += 10;
        at
    }
}

/// (a): a packet of an established flow: copy the flow's template into the reused buffer, parse
/// it, hit the flow cache (refreshing the NSG flow records it relies on), pass the VM's token
/// bucket and hand it to the event queue.
fn cached_flow(c: &mut Criterion) {
    use std::cmp::Reverse;
    use vnetsim_dataplane::{Cached, FlowCache, SegmentStart};
    use vnetsim_engine::queue::{EventQueue, Lane};
    let scenario = vnetsim_scenario::load_str(&peered_scenario_yaml(1000, 100), "bench.yaml")
        .unwrap_or_else(|e| panic!("{}", e.render(false)));
    let dataplane = Dataplane::compile(&scenario);
    let mut sender = Sender::new(&PacketSpec {
        src: Ipv4Addr::new(10, 1, 1, 4),
        dst: Ipv4Addr::new(10, 2, 1, 4),
        protocol: Protocol::Udp,
        src_port: 20000,
        dst_port: 5001,
        ttl: 64,
        total_len: 64,
        identification: 0,
    });
    let mut flows = FlowTable::new();
    let mut cache = FlowCache::new();
    // An event queue as a binary heap of (time, sequence) holding the packets in flight.
    let mut heap: std::collections::BinaryHeap<Reverse<(u64, u64)>> = Default::default();
    for i in 0..256 {
        heap.push(Reverse((i * 1_000, i)));
    }
    let mut group = c.benchmark_group("cached_flow");
    group.throughput(Throughput::Elements(1));
    group.bench_function("64B_udp_parse_cache_bucket_handoff", |b| {
        b.iter(|| {
            let (now, id) = (sender.now, u64::from(sender.id));
            let packet = sender.packet();
            let start = SegmentStart::Ingress(Ingress::Nic(NicId(0)));
            let cached = Cached {
                cache: &mut cache,
                generation: 0,
            };
            let seg = dataplane.decide(start, packet, &mut flows, now, cached, &mut ());
            if let Some(at) = sender.leave() {
                heap.push(Reverse((at, id)));
            }
            black_box((seg, heap.pop()))
        })
    });
    // The engine's own path for a flow's packets: the flow's segment memo instead of the
    // hash-keyed cache (it still parses to refresh the NSG flow records), and the event
    // queue's FIFO lane instead of the heap.
    let mut memo = vnetsim_dataplane::SegmentMemo::default();
    let mut queue = EventQueue::default();
    for i in 0..256 {
        queue.push(i * 1_000, i, Some(Lane::Arrive));
    }
    let mut ran = false;
    group.bench_function("64B_udp_memo_bucket_lane", |b| {
        ran = true;
        b.iter(|| {
            let (now, id) = (sender.now, u64::from(sender.id));
            let packet = sender.packet();
            let start = SegmentStart::Ingress(Ingress::Nic(NicId(0)));
            let seg = dataplane.decide(start, packet, &mut flows, now, &mut memo, &mut ());
            if let Some(at) = sender.leave() {
                queue.push(at, id, Some(Lane::Arrive));
            }
            black_box((seg, queue.pop()))
        })
    });
    group.finish();
    // (Not run when a filter on the command line skips these benches.)
    assert!(
        !ran || !memo.is_empty(),
        "the memo holds the flow's decision"
    );
    let (hits, misses) = cache.stats();
    assert!(
        hits + misses == 0 || hits > misses,
        "the flow cache was not hit"
    );
}

/// (c): a 1,000-rule NSG where no user rule matches: the default rule decides.
fn nsg_worst_case(c: &mut Criterion) {
    use vnetsim_dataplane::nsg::CompiledNsg;
    use vnetsim_dataplane::wire::FlowKey;
    let scenario = vnetsim_scenario::load_str(&peered_scenario_yaml(0, 2000), "bench.yaml")
        .unwrap_or_else(|e| panic!("{}", e.render(false)));
    let dataplane = Dataplane::compile(&scenario);
    let nsg = &scenario.nsgs[0];
    let compiled = CompiledNsg::compile(nsg, dataplane.tags(vnetsim_scenario::VnetId(1)));
    let key = FlowKey {
        src: u32::from(Ipv4Addr::new(10, 1, 1, 4)),
        dst: u32::from(Ipv4Addr::new(10, 2, 1, 4)),
        protocol: 17,
        src_port: 20000,
        dst_port: 5001,
    };
    let mut group = c.benchmark_group("nsg");
    group.throughput(Throughput::Elements(1));
    group.bench_function("1000_inbound_rules_none_matching", |b| {
        b.iter(|| {
            black_box(compiled.evaluate(vnetsim_scenario::Direction::Inbound, black_box(&key)))
        })
    });
    // The same rules all on the packet's port: every rule is a candidate (no index shortcut).
    let same_port = peered_scenario_yaml(0, 2000).replace(
        "destination_ports: \"1",
        "destination_ports: \"5001\", source_ports: \"1",
    );
    let scenario = vnetsim_scenario::load_str(&same_port, "bench.yaml")
        .unwrap_or_else(|e| panic!("{}", e.render(false)));
    let compiled = CompiledNsg::compile(
        &scenario.nsgs[0],
        dataplane.tags(vnetsim_scenario::VnetId(1)),
    );
    group.bench_function("1000_inbound_rules_all_on_the_port", |b| {
        b.iter(|| {
            black_box(compiled.evaluate(vnetsim_scenario::Direction::Inbound, black_box(&key)))
        })
    });
    group.finish();
}

/// (e): the engine end to end on the generated scenario of the performance targets: 100 spokes
/// around a hub with an appliance, 10,000 VMs, 100,000 flows of 10 packets per second for one
/// second (1,000,000 packets, each through the hub's appliance: 2 segments, 2 peering
/// crossings). Setting up the engine is not timed; the replay and its report are. The event
/// loop runs on two cores when the machine has them, and on one in the second bench.
fn engine_end_to_end(c: &mut Criterion) {
    use vnetsim_scenario::generate::HubSpoke;
    let params = HubSpoke::default();
    let scenario =
        vnetsim_scenario::load_str(&params.to_yaml().expect("valid parameters"), "gen.yaml")
            .unwrap_or_else(|e| panic!("{}", e.render(false)));
    let packets = vnetsim_engine::replay(&scenario).conservation.sent;
    let mut group = c.benchmark_group("engine");
    group.sample_size(10);
    group.throughput(Throughput::Elements(packets));
    group.bench_function("hub_spoke_100_spokes_10k_vms_100k_flows", |b| {
        b.iter_batched(
            || vnetsim_engine::Engine::new(&scenario, vnetsim_engine::Options::default()),
            |engine| black_box(engine.run().conservation),
            criterion::BatchSize::LargeInput,
        )
    });
    // The same on one core: the two-core replay's stages (see `Parallel`) left out.
    group.bench_function("hub_spoke_100_spokes_10k_vms_100k_flows_one_core", |b| {
        b.iter_batched(
            || {
                vnetsim_engine::Engine::new(&scenario, vnetsim_engine::Options::default())
                    .parallel(vnetsim_engine::Parallel::Never)
            },
            |engine| black_box(engine.run().conservation),
            criterion::BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(
    benches,
    cached_flow,
    first_packet,
    nsg_worst_case,
    parse_packet,
    lpm,
    engine_end_to_end
);
criterion_main!(benches);
