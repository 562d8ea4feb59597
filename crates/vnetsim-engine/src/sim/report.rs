//! The report of a replay, built once at the end.
//!
//! What it is for: turning the engine's counters into a [`Report`]: per-flow directions with
//! latency percentiles, in-flight packets, probes, expectation results, shapers, peering bytes
//! and cost, and per-NIC counters. Counting a flow's own packets on its sending NIC is
//! deferred to here (from the flow's counters, one memory access less per packet); replies,
//! receptions and forwarded packets are counted as they happen. What it is not: the report's
//! format (see [`crate::report`]) or anything that runs per packet.

use std::collections::BTreeMap;

use vnetsim_dataplane::Ingress;
use vnetsim_scenario::{DropReason, Endpoint, Expectation, Scenario};

use super::Engine;
use super::source::{DirStats, Source};
use crate::prefetch;
use crate::report::{
    AzureReport, DirectionReport, Drops, ExpectationResult, ExpectationSummary, FlowReport,
    Latency, NicReport, PeeringReport, REPORT_FORMAT, Report, check_flow,
};

impl Engine<'_> {
    pub(super) fn report(mut self) -> Report {
        let now = self.now;
        // Every packet a flow emitted from a NIC was sent by it (see `send`).
        for s in &self.sources {
            if let Ingress::Nic(nic) = s.ingress
                && s.template_ok
            {
                let c = &mut self.nic_counts[nic.index()];
                c.tx_packets += s.forward.sent;
                c.tx_bytes += s.forward.sent * u64::from(s.size);
            }
        }
        self.conservation.in_flight = self.live;
        // Packets still in flight, per flow and direction.
        let mut in_flight: BTreeMap<(u32, bool), u64> = BTreeMap::new();
        let free: std::collections::BTreeSet<u32> = self.free.iter().copied().collect();
        for (i, pkt) in self.packets.iter().enumerate() {
            if !free.contains(&(i as u32)) {
                *in_flight.entry((pkt.flow, pkt.reply)).or_insert(0) += 1;
            }
        }
        // What only the replay needed goes before the report's rows are built: the report's
        // peak memory is the scenario, the flows' counters and the rows.
        drop(std::mem::take(&mut self.packets));
        drop(std::mem::take(&mut self.free));
        drop(std::mem::take(&mut self.fifos));
        drop(std::mem::take(&mut self.queue));
        drop(std::mem::take(&mut self.cache));
        drop(std::mem::take(&mut self.flows_nsg));
        let sc = self.network.scenario();
        let sources = &mut self.sources;
        let latency_cdf = self.latency_cdf;
        let timelines = &mut self.timelines;
        let slot_of_flow = &self.slot_of_flow;
        let flows: Vec<FlowReport> = slot_of_flow
            .iter()
            .enumerate()
            .map(|(i, &slot)| {
                prefetch_names(sc, i);
                // Rows follow the file's order, sources the order of first packets: with
                // 1,000,000 flows nearly every row's source was a cache miss.
                if let Some(&ahead) = slot_of_flow.get(i + 8)
                    && let Some(s) = sources.get(ahead as usize)
                {
                    let s: *const Source = s;
                    for line in 0..std::mem::size_of::<Source>().div_ceil(64) {
                        prefetch(s.cast::<u8>().wrapping_add(line * 64));
                    }
                }
                let (f, s) = (&sc.traffic[i], &mut sources[slot as usize]);
                let active = s.end.saturating_sub(s.start).max(1) as f64 / 1e9;
                let size = u64::from(s.size);
                // The drop counters move into the report (no allocation per row).
                let dir = |d: &mut DirStats, flight: u64| DirectionReport {
                    sent: d.sent,
                    delivered: d.delivered,
                    dropped: std::mem::take(&mut d.dropped),
                    in_flight: flight,
                    bytes_sent: d.sent * size,
                    bytes_delivered: d.delivered * size,
                    delivered_ratio: if d.sent == 0 {
                        1.0
                    } else {
                        d.delivered as f64 / d.sent as f64
                    },
                    throughput_bps: (d.delivered * size) as f64 * 8.0 / active,
                    latency_ns: (d.delivered > 0).then(|| Latency {
                        min: d.latency.min(),
                        p50: d.latency.value_at_quantile(0.5),
                        p90: d.latency.value_at_quantile(0.9),
                        p99: d.latency.value_at_quantile(0.99),
                        p999: d.latency.value_at_quantile(0.999),
                        max: d.latency.max(),
                        mean: (d.latency.mean() * 1000.0).round() / 1000.0,
                    }),
                };
                let cdf = if latency_cdf {
                    s.forward.latency.buckets().collect()
                } else {
                    Vec::new()
                };
                let reply_cdf = match &s.replies {
                    Some(r) if latency_cdf => r.stats.latency.buckets().collect(),
                    _ => Vec::new(),
                };
                let [timeline, reply_timeline] = timelines
                    .get_mut(slot as usize)
                    .map(std::mem::take)
                    .unwrap_or_default();
                let DirectionReport {
                    sent,
                    delivered,
                    dropped,
                    in_flight: flight,
                    bytes_sent,
                    bytes_delivered,
                    delivered_ratio,
                    throughput_bps,
                    latency_ns,
                } = dir(
                    &mut s.forward,
                    in_flight.get(&(slot, false)).copied().unwrap_or(0),
                );
                let replies = s.replies.as_mut().map(|r| {
                    Box::new(dir(
                        &mut r.stats,
                        in_flight.get(&(slot, true)).copied().unwrap_or(0),
                    ))
                });
                FlowReport {
                    name: f.name.clone(),
                    from: sc.endpoint_name(f.from),
                    to: sc.endpoint_name(f.to),
                    protocol: vnetsim_dataplane::explain::protocol_name(f.protocol),
                    packet_size: s.size,
                    offered_bps: f64::from(s.size) * 8.0 * 1e9 / s.interval,
                    start_ns: s.start,
                    end_ns: s.end,
                    sent,
                    delivered,
                    dropped,
                    in_flight: flight,
                    bytes_sent,
                    bytes_delivered,
                    delivered_ratio,
                    throughput_bps,
                    latency_ns,
                    replies,
                    latency_cdf: cdf,
                    reply_latency_cdf: reply_cdf,
                    delivered_timeline: timeline,
                    reply_timeline,
                }
            })
            .collect();
        let mut results = Vec::new();
        for (index, e) in sc.expectations.iter().enumerate() {
            match e {
                Expectation::Probe { line, .. } => {
                    let failures = self.probe_failures.get(&index).cloned().unwrap_or_else(|| {
                        vec!["the probe was not sent before the end of the simulation".into()]
                    });
                    results.push(ExpectationResult {
                        index,
                        line: *line,
                        subject: "probe".into(),
                        passed: failures.is_empty(),
                        failures,
                    });
                }
                Expectation::Flow { flow, checks, line } => {
                    let failures = check_flow(&flows[flow.index()], checks);
                    results.push(ExpectationResult {
                        index,
                        line: *line,
                        subject: format!("flow {}", sc.traffic[flow.index()].name),
                        passed: failures.is_empty(),
                        failures,
                    });
                }
            }
        }
        let passed = results.iter().filter(|r| r.passed).count() as u64;
        let shapers = self.shapers.report(sc);
        let price = sc.pricing.peering_egress_per_gb + sc.pricing.peering_ingress_per_gb;
        // Per pair of VNets, lower id first (a pair's counters are keyed by one of its links).
        let mut pairs: BTreeMap<(u32, u32), [u64; 2]> = BTreeMap::new();
        for (link, bytes) in self.peerings.iter().enumerate() {
            if *bytes == [0, 0] {
                continue;
            }
            let l = &sc.peerings[link];
            let (a, b) = (l.from.0.min(l.to.0), l.from.0.max(l.to.0));
            let sum = pairs.entry((a, b)).or_insert([0, 0]);
            sum[0] += bytes[0];
            sum[1] += bytes[1];
        }
        let peerings = pairs
            .iter()
            .map(|(&(a, b), bytes)| PeeringReport {
                vnets: [
                    sc.vnets[a as usize].name.clone(),
                    sc.vnets[b as usize].name.clone(),
                ],
                bytes_forward: bytes[0],
                bytes_backward: bytes[1],
                cost_usd: (bytes[0] + bytes[1]) as f64 / 1e9 * price,
            })
            .collect();
        let mut probes = std::mem::take(&mut self.probes);
        probes.sort_by_key(|p| p.index);
        Report {
            format: REPORT_FORMAT,
            scenario: sc.name.clone(),
            seed: self.seed,
            azure: AzureReport::of(&sc.azure),
            simulated_ns: now,
            events_processed: self.events_processed,
            conservation: self.conservation,
            drops_by_reason: Drops::from_pairs(DropReason::ALL.into_iter().zip(self.drops)),
            flows,
            probes,
            nics: self
                .nic_counts
                .iter()
                .zip(&sc.nics)
                .filter(|(c, _)| c.tx_packets + c.rx_packets + c.forwarded_packets > 0)
                .map(|(c, n)| NicReport {
                    nic: n.name.clone(),
                    vm: sc.vms[n.vm.index()].name.to_string(),
                    tx_packets: c.tx_packets,
                    tx_bytes: c.tx_bytes,
                    rx_packets: c.rx_packets,
                    rx_bytes: c.rx_bytes,
                    forwarded_packets: c.forwarded_packets,
                })
                .collect(),
            shapers,
            peerings,
            events: std::mem::take(&mut self.events_applied),
            expectations: ExpectationSummary {
                passed,
                failed: results.len() as u64 - passed,
                results,
            },
        }
    }
}

/// Starts loading what the report's row of a flow a few places after `i` will touch: the
/// records of its endpoint VMs (16 ahead), then their shared names, whose reference counts
/// the row's `Arc` clones update (8 ahead, once the records are in). With 1,000,000 flows
/// between 100,000 VMs in random order, these were cache misses on every row.
fn prefetch_names(sc: &Scenario, i: usize) {
    let vm = |e: Endpoint| match e {
        Endpoint::Vm(vm) => sc.vms.get(vm.index()),
        _ => None,
    };
    if let Some(f) = sc.traffic.get(i + 16) {
        for v in [vm(f.from), vm(f.to)].into_iter().flatten() {
            prefetch(v);
        }
    }
    if let Some(f) = sc.traffic.get(i + 8) {
        for v in [vm(f.from), vm(f.to)].into_iter().flatten() {
            prefetch(std::sync::Arc::as_ptr(&v.name).cast::<u8>());
        }
    }
}
