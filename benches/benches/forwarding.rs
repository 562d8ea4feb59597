//! Criterion benches of the forwarding path: a first packet through the full pipeline, the LPM
//! table, and NSG evaluation. Run: `cargo bench -p vnetsim-benches --bench forwarding`.

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

criterion_group!(benches, first_packet, parse_packet, lpm);
criterion_main!(benches);
