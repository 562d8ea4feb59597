//! Benchmark of `vnetsim matrix`'s decisions: every ordered pair of the 1,001 endpoints of
//! `vnetsim generate hub-spoke --vms-per-spoke 10` (100 spokes of 10 VMs and the hub's
//! appliance) on 4 ports: 4,004,000 cells, each a stateless probe on the fast path (no trace),
//! counted as the summary table counts them. The README gives the command's wall time.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vnetsim_dataplane::Dataplane;
use vnetsim_dataplane::names::matrix::{Decider, MatrixEndpoints};
use vnetsim_dataplane::pipeline::Outcome;
use vnetsim_scenario::Protocol;
use vnetsim_scenario::generate::HubSpoke;

fn matrix_1000_vms_4_ports(c: &mut Criterion) {
    let params = HubSpoke {
        vms_per_spoke: 10,
        ..HubSpoke::default()
    };
    let scenario =
        vnetsim_scenario::load_str(&params.to_yaml().expect("valid parameters"), "gen.yaml")
            .unwrap_or_else(|e| panic!("{}", e.render(false)));
    let dataplane = Dataplane::compile(&scenario);
    let eps = MatrixEndpoints::of(&scenario);
    let ports = [22u16, 80, 443, 1433];
    let cells = (eps.sources.len() * (eps.destinations.len() - 1) * ports.len()) as u64;
    let mut group = c.benchmark_group("matrix");
    group.sample_size(10);
    group.throughput(Throughput::Elements(cells));
    group.bench_function("hub_spoke_1000_vms_4_ports", |b| {
        let mut d = Decider::new(&scenario, &dataplane);
        b.iter(|| {
            let mut delivered = 0u64;
            for src in &eps.sources {
                for dst in &eps.destinations {
                    if src.endpoint == dst.endpoint {
                        continue;
                    }
                    for &port in &ports {
                        if let Outcome::Delivered(_) = d.verdict(src, dst, Protocol::Tcp, port, 0) {
                            delivered += 1;
                        }
                    }
                }
            }
            black_box(delivered)
        })
    });
    group.finish();
}

criterion_group!(benches, matrix_1000_vms_4_ports);
criterion_main!(benches);
