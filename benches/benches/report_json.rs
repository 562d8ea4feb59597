//! Benchmark of the run report's JSON: the 100,000 flow rows of `vnetsim generate hub-spoke`'s
//! report (the default scenario, replayed once), serialized two levels deep as the report
//! holds them, by serde_json's generic path (`serde`) and by the direct row writer the CLI uses
//! (`direct`, `vnetsim_engine::json::rows`), which writes the same bytes. Each iteration
//! refills one buffer, so page faults are not counted; the README gives the whole process.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde::Serialize;
use vnetsim_engine::json::PrettyAt;
use vnetsim_engine::json::rows::write_flow;
use vnetsim_engine::{Engine, Options};
use vnetsim_scenario::generate::HubSpoke;

fn flow_rows(c: &mut Criterion) {
    let yaml = HubSpoke::default().to_yaml().expect("valid parameters");
    let scenario = vnetsim_scenario::load_str(&yaml, "gen.yaml")
        .unwrap_or_else(|e| panic!("{}", e.render(false)));
    let report = Engine::new(&scenario, Options::default()).run();
    let rows = &report.flows;
    let mut serde_bytes = Vec::new();
    for row in rows {
        let mut ser = serde_json::Serializer::with_formatter(&mut serde_bytes, PrettyAt::depth(2));
        row.serialize(&mut ser).expect("a row serializes");
    }
    let mut direct_bytes = Vec::new();
    for row in rows {
        write_flow(&mut direct_bytes, row);
    }
    assert_eq!(
        serde_bytes, direct_bytes,
        "the direct writer writes serde_json's bytes"
    );
    let mut group = c.benchmark_group("report_json");
    group.sample_size(20);
    group.throughput(Throughput::Elements(rows.len() as u64));
    let mut buf: Vec<u8> = Vec::with_capacity(serde_bytes.len());
    group.bench_function("flow_rows_serde", |b| {
        b.iter(|| {
            buf.clear();
            for row in rows {
                let mut ser = serde_json::Serializer::with_formatter(&mut buf, PrettyAt::depth(2));
                row.serialize(&mut ser).expect("a row serializes");
            }
            black_box(buf.len())
        })
    });
    group.bench_function("flow_rows_direct", |b| {
        b.iter(|| {
            buf.clear();
            for row in rows {
                write_flow(&mut buf, row);
            }
            black_box(buf.len())
        })
    });
    group.finish();
}

criterion_group!(benches, flow_rows);
criterion_main!(benches);
