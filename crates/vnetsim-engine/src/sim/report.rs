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
    AzureReport, Conservation, DirectionReport, Drops, ExpectationResult, ExpectationSummary,
    FlowReport, Latency, NicReport, PeeringReport, REPORT_FORMAT, Report, check_flow,
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
        let in_flight = self.in_flight();
        // What only the replay needed goes before the report's rows are built: the report's
        // peak memory is the scenario, the flows' counters and the rows.
        drop(std::mem::take(&mut self.packets));
        drop(std::mem::take(&mut self.free));
        drop(std::mem::take(&mut self.fifos));
        drop(std::mem::take(&mut self.queue));
        drop(std::mem::take(&mut self.cache));
        drop(std::mem::take(&mut self.flows_nsg));
        let sc = self.network.scenario();
        let mut flows = flow_rows(
            sc,
            &self.sources,
            &self.slot_of_flow,
            self.latency_cdf,
            &in_flight,
            if self.slot_of_flow.len() < PARALLEL_ROWS {
                1
            } else {
                crate::worker_threads()
            },
        );
        // The timelines (kept only when plotting) move into their rows.
        for (row, &slot) in flows.iter_mut().zip(&self.slot_of_flow) {
            if let Some([timeline, reply]) = self.timelines.get_mut(slot as usize) {
                row.delivered_timeline = std::mem::take(timeline);
                row.reply_timeline = std::mem::take(reply);
            }
        }
        let mut results = Vec::new();
        for (index, e) in sc.expectations.iter().enumerate() {
            match e {
                Expectation::Probe { line, .. } => {
                    let failures = self.probe_failures_at(index);
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

impl Engine<'_> {
    /// What failed of the probe expectation `index` (nothing: it held).
    fn probe_failures_at(&self, index: usize) -> Vec<String> {
        self.probe_failures.get(&index).cloned().unwrap_or_else(|| {
            vec!["the probe was not sent before the end of the simulation".into()]
        })
    }

    /// Packets still in flight at the end, per flow (slot) and direction (`true`: replies).
    fn in_flight(&self) -> BTreeMap<(u32, bool), u64> {
        let mut in_flight: BTreeMap<(u32, bool), u64> = BTreeMap::new();
        let free: std::collections::BTreeSet<u32> = self.free.iter().copied().collect();
        for (i, pkt) in self.packets.iter().enumerate() {
            if !free.contains(&(i as u32)) {
                *in_flight.entry((pkt.flow, pkt.reply)).or_insert(0) += 1;
            }
        }
        in_flight
    }

    /// What a sweep keeps of what was replayed (see [`Engine::replay`]), without the
    /// report's rows (see [`Summary`]): each figure equal to the one [`Engine::finish`] would
    /// report.
    pub fn finish_summary(mut self) -> Summary {
        self.conservation.in_flight = self.live;
        let sc = self.network.scenario();
        let flows = self
            .slot_of_flow
            .iter()
            .map(|&slot| {
                let s = &self.sources[slot as usize];
                let d = &s.forward;
                FlowSummary {
                    delivered_ratio: delivered_ratio(d),
                    throughput_bps: throughput_bps(d, u64::from(s.size), active_seconds(s)),
                    latency_p99_ns: (d.delivered > 0).then(|| d.latency.value_at_quantile(0.99)),
                }
            })
            .collect();
        let in_flight = self.in_flight();
        let mut failed = 0;
        let mut rows: BTreeMap<usize, FlowReport> = BTreeMap::new();
        for (index, e) in sc.expectations.iter().enumerate() {
            let passed = match e {
                Expectation::Probe { .. } => self.probe_failures_at(index).is_empty(),
                Expectation::Flow { flow, checks, .. } => {
                    let i = flow.index();
                    let slot = self.slot_of_flow[i];
                    let row = rows.entry(i).or_insert_with(|| {
                        flow_row(sc, i, slot, &self.sources[slot as usize], false, &in_flight)
                    });
                    check_flow(row, checks).is_empty()
                }
            };
            if !passed {
                failed += 1;
            }
        }
        let drops_by_reason = Drops::from_pairs(DropReason::ALL.into_iter().zip(self.drops));
        Summary {
            conservation: self.conservation,
            drops_by_reason,
            expectations_failed: failed,
            flows,
        }
    }
}

/// What [`Engine::finish_summary`] keeps of a replay: its totals, the expectations that failed
/// and three figures per flow, in the file's order of flows.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Packet counts proving that nothing was lost.
    pub conservation: Conservation,
    /// Drops of the whole run by reason.
    pub drops_by_reason: Drops,
    /// Expectations (probes and flow checks) that failed.
    pub expectations_failed: u64,
    /// Per flow of the file, in its order.
    pub flows: Vec<FlowSummary>,
}

/// One flow's figures in a [`Summary`], each as the report's [`FlowReport`] gives it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FlowSummary {
    /// Delivered over sent packets of its forward direction (1 when none was sent).
    pub delivered_ratio: f64,
    /// Delivered bits per second of its forward direction over its sending window.
    pub throughput_bps: f64,
    /// 99th percentile one-way latency, when a packet was delivered.
    pub latency_p99_ns: Option<u64>,
}

/// Flows at or above which the report's rows are built on several threads.
const PARALLEL_ROWS: usize = 1 << 14;

/// The report's rows, in the file's order of flows: independent of one another, so a large
/// run's are built on `workers` threads, each writing its run of rows in place. Rows follow
/// the file's order and sources the order of first packets, so each row prefetches the source
/// and names of the row eight ahead (with 1,000,000 flows nearly every one was a cache miss).
fn flow_rows(
    sc: &Scenario,
    sources: &[Source],
    slot_of_flow: &[u32],
    latency_cdf: bool,
    in_flight: &BTreeMap<(u32, bool), u64>,
    workers: usize,
) -> Vec<FlowReport> {
    let mut rows: Vec<FlowReport> = Vec::new();
    vnetsim_scenario::par::extend_in_parallel(
        &mut rows,
        slot_of_flow.len(),
        workers,
        |_: &mut (), i| {
            prefetch_names(sc, i);
            if let Some(&ahead) = slot_of_flow.get(i + 8)
                && let Some(s) = sources.get(ahead as usize)
            {
                let s: *const Source = s;
                for line in 0..std::mem::size_of::<Source>().div_ceil(64) {
                    prefetch(s.cast::<u8>().wrapping_add(line * 64));
                }
            }
            let slot = slot_of_flow[i];
            flow_row(sc, i, slot, &sources[slot as usize], latency_cdf, in_flight)
        },
    );
    rows
}

/// The report's row of flow `i` of the file, whose source is in `slot` (its timelines are
/// left empty: the caller moves them in).
fn flow_row(
    sc: &Scenario,
    i: usize,
    slot: u32,
    s: &Source,
    latency_cdf: bool,
    in_flight: &BTreeMap<(u32, bool), u64>,
) -> FlowReport {
    let f = &sc.traffic[i];
    let active = active_seconds(s);
    let size = u64::from(s.size);
    // Drops of one reason are inline: copying them allocates nothing.
    let dir = |d: &DirStats, flight: u64| DirectionReport {
        sent: d.sent,
        delivered: d.delivered,
        dropped: d.dropped.clone(),
        in_flight: flight,
        bytes_sent: d.sent * size,
        bytes_delivered: d.delivered * size,
        delivered_ratio: delivered_ratio(d),
        throughput_bps: throughput_bps(d, size, active),
        latency_ns: (d.delivered > 0).then(|| {
            let [p50, p90, p99, p999] = d.latency.quantiles([0.5, 0.9, 0.99, 0.999]);
            Latency {
                min: d.latency.min(),
                p50,
                p90,
                p99,
                p999,
                max: d.latency.max(),
                mean: (d.latency.mean() * 1000.0).round() / 1000.0,
            }
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
        &s.forward,
        in_flight.get(&(slot, false)).copied().unwrap_or(0),
    );
    let replies = s.replies.as_ref().map(|r| {
        Box::new(dir(
            &r.stats,
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
        delivered_timeline: Vec::new(),
        reply_timeline: Vec::new(),
    }
}

/// A flow's sending window in seconds (at least 1 ns).
fn active_seconds(s: &Source) -> f64 {
    s.end.saturating_sub(s.start).max(1) as f64 / 1e9
}

/// Delivered over sent (1 when nothing was sent).
fn delivered_ratio(d: &DirStats) -> f64 {
    if d.sent == 0 {
        1.0
    } else {
        d.delivered as f64 / d.sent as f64
    }
}

/// Delivered bits per second over `active` seconds, packets of `size` bytes.
fn throughput_bps(d: &DirStats, size: u64, active: f64) -> f64 {
    (d.delivered * size) as f64 * 8.0 / active
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Prepared;

    /// Rows built on several threads equal the rows built on one, in the same order.
    #[test]
    fn rows_built_on_several_threads_equal_one_threads() {
        let sc = crate::sim::tests::generated();
        let mut engine = Engine::from_prepared(&Prepared::new(&sc), Default::default());
        engine.replay(&mut |_, _| {});
        let in_flight = engine.in_flight();
        let rows = |workers| {
            flow_rows(
                &sc,
                &engine.sources,
                &engine.slot_of_flow,
                true,
                &in_flight,
                workers,
            )
        };
        let one = rows(1);
        assert_eq!(one.len(), 1_001);
        assert!(one.iter().any(|r| r.delivered > 0));
        for workers in [2, 3, 7] {
            assert!(one == rows(workers), "{workers} workers");
        }
    }
}
