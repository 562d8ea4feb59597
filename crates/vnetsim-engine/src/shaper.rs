//! Bandwidth shaping: a token bucket in front of a FIFO queue of bounded depth.
//!
//! What it is for: Azure's per-VM egress cap (all NICs of a VM together, every destination)
//! and a gateway SKU's aggregate throughput. A packet arriving at `now` leaves when the bucket
//! holds enough tokens for it and every packet queued before it has left; a packet that would
//! make the queue deeper than its limit is dropped (`queue-overflow`). What it is not: a link
//! with propagation delay (the latency model adds that) or a scheduler between flows (one FIFO).

use vnetsim_scenario::{FirewallId, Nanos, Scenario, VmId, VnetId, sizes};

use crate::report::ShaperReport;

const NS_PER_S: u128 = 1_000_000_000;

/// A token bucket (rate, burst) feeding a FIFO queue of at most `queue_bytes`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shaper {
    rate_bps: u64,
    burst_bits: u64,
    queue_bits: u64,
    /// When the last packet accepted leaves.
    last_departure: Nanos,
    /// Tokens (bits) left in the bucket at `last_departure`.
    tokens: u64,
    /// The last packet size offered (bits) and its serialization time: packets of a flow have
    /// one size, and this saves a division per packet.
    last_bits: u64,
    last_serialization: Nanos,
}

/// What the shaper does with a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// It leaves at `departure`, and its last bit is out `serialization` ns later.
    Leaves {
        /// When the packet starts leaving.
        departure: Nanos,
        /// Time to clock the packet out at the shaper's rate.
        serialization: Nanos,
    },
    /// The queue is full.
    Overflow,
}

impl Shaper {
    /// A shaper of `rate_bps` with a bucket of `burst_bytes` (starting full) and a queue of
    /// `queue_bytes`. A rate of 0 is treated as 1 bit/s.
    pub fn new(rate_bps: u64, burst_bytes: u64, queue_bytes: u64) -> Self {
        let burst_bits = burst_bytes.saturating_mul(8);
        Self {
            rate_bps: rate_bps.max(1),
            burst_bits,
            queue_bits: queue_bytes.saturating_mul(8),
            last_departure: 0,
            tokens: burst_bits,
            last_bits: 0,
            last_serialization: 0,
        }
    }

    /// The rate in bits per second.
    pub fn rate_bps(&self) -> u64 {
        self.rate_bps
    }

    /// Nanoseconds to send `bits` at the shaper's rate (rounded up).
    #[inline]
    pub fn duration_of(&self, bits: u64) -> Nanos {
        // 64-bit arithmetic while it cannot overflow (every packet: bits < 2^20); u128 beyond.
        match bits.checked_mul(NS_PER_S as u64) {
            Some(x) => x.div_ceil(self.rate_bps),
            None => {
                let ns = (u128::from(bits) * NS_PER_S).div_ceil(u128::from(self.rate_bps));
                ns.min(u128::from(u64::MAX)) as Nanos
            }
        }
    }

    #[inline]
    fn bits_in(&self, ns: Nanos) -> u64 {
        match ns.checked_mul(self.rate_bps) {
            Some(x) => x / NS_PER_S as u64,
            None => {
                let bits = u128::from(ns) * u128::from(self.rate_bps) / NS_PER_S;
                bits.min(u128::from(u64::MAX)) as u64
            }
        }
    }

    /// Offers a packet of `bytes` at `now` (calls must come in non-decreasing `now`).
    pub fn offer(&mut self, now: Nanos, bytes: u32) -> Admission {
        let bits = u64::from(bytes) * 8;
        // Bits still waiting ahead of this packet: what the bucket has yet to release.
        let backlog = if self.last_departure > now {
            self.bits_in(self.last_departure - now)
        } else {
            0
        };
        if backlog + bits > self.queue_bits {
            return Admission::Overflow;
        }
        let start = now.max(self.last_departure);
        let refill = if start > self.last_departure && self.tokens < self.burst_bits {
            self.bits_in(start - self.last_departure)
        } else {
            0
        };
        let tokens = self.tokens.saturating_add(refill).min(self.burst_bits);
        let departure = if tokens >= bits {
            self.tokens = tokens - bits;
            start
        } else {
            self.tokens = 0;
            vnetsim_scenario::units::after(start, self.duration_of(bits - tokens))
        };
        self.last_departure = departure;
        if bits != self.last_bits {
            self.last_bits = bits;
            self.last_serialization = self.duration_of(bits);
        }
        Admission::Leaves {
            departure,
            serialization: self.last_serialization,
        }
    }
}

/// Where a packet waits for bandwidth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// The egress of this VM (index into the scenario's VMs), all its NICs together.
    Vm(VmId),
    /// The gateway of this VNet.
    Gateway(VnetId),
    /// This Azure Firewall (its SKU's throughput).
    Firewall(FirewallId),
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counts {
    packets: u64,
    bytes: u64,
    overflow: u64,
}

/// Every bandwidth limit of a scenario, with counters: each VM's egress at its size's expected
/// bandwidth (or its `bandwidth`), each gateway at its SKU's aggregate throughput. A VM without
/// a known bandwidth and a gateway of an unknown SKU pass packets at once. Used alike by the
/// replay engine and the live driver.
#[derive(Clone, Debug)]
pub struct Shapers {
    /// Each VM's shaper beside its counters (one place in memory per packet).
    vms: Vec<(Option<Shaper>, Counts)>,
    gateways: Vec<(Option<Shaper>, Counts)>,
    firewalls: Vec<(Option<Shaper>, Counts)>,
}

impl Shapers {
    /// The limits of `scenario`, with its `shaping` burst and queue depths.
    pub fn new(scenario: &Scenario) -> Self {
        let (burst, queue) = (scenario.shaping.burst_bytes, scenario.shaping.queue_bytes);
        let vms = scenario
            .vms
            .iter()
            .map(|vm| {
                let rate = vm
                    .bandwidth
                    .or_else(|| sizes::lookup(&vm.size).and_then(|s| s.bandwidth_bps))?;
                Some(Shaper::new(rate, burst, queue))
            })
            .map(|s| (s, Counts::default()))
            .collect();
        let gateways = scenario
            .vnets
            .iter()
            .map(|v| {
                let sku = sizes::gateway_sku(&v.gateway.as_ref()?.sku)?;
                Some(Shaper::new(sku.bandwidth_bps, burst, queue))
            })
            .map(|s| (s, Counts::default()))
            .collect();
        // Each firewall at its SKU's documented throughput (or its `throughput`): Basic 250
        // Mbps [FWSKU23], Standard 30 Gbps, Premium 100 Gbps [FWPERF22].
        let firewalls = scenario
            .firewalls
            .iter()
            .map(|f| {
                (
                    Some(Shaper::new(f.throughput_bps, burst, queue)),
                    Counts::default(),
                )
            })
            .collect();
        Self {
            vms,
            gateways,
            firewalls,
        }
    }

    /// Offers a packet of `bytes` at `now` to `limit`; a place without a limit lets it leave at
    /// once with no serialization delay.
    #[inline]
    pub fn offer(&mut self, limit: Limit, now: Nanos, bytes: u32) -> Admission {
        let (shaper, counts) = match limit {
            Limit::Vm(vm) => &mut self.vms[vm.index()],
            Limit::Gateway(v) => &mut self.gateways[v.index()],
            Limit::Firewall(f) => &mut self.firewalls[f.index()],
        };
        let admission = match shaper {
            Some(s) => s.offer(now, bytes),
            None => Admission::Leaves {
                departure: now,
                serialization: 0,
            },
        };
        match admission {
            Admission::Overflow => counts.overflow += 1,
            Admission::Leaves { .. } => {
                counts.packets += 1;
                counts.bytes += u64::from(bytes);
            }
        }
        admission
    }

    /// Asks the processor to start loading `limit`'s shaper (a hint: no effect on results).
    /// Takes the state of every shaper `other` used, for a replay run in two parts (see
    /// `sim/pipeline.rs`); `false` when a shaper was used by both (then this one is left
    /// part-way and must be discarded).
    pub fn absorb(&mut self, other: Shapers) -> bool {
        let used = |c: &Counts| c.packets > 0 || c.overflow > 0;
        let pairs = self
            .vms
            .iter_mut()
            .zip(other.vms)
            .chain(self.gateways.iter_mut().zip(other.gateways))
            .chain(self.firewalls.iter_mut().zip(other.firewalls));
        for (mine, theirs) in pairs {
            if used(&theirs.1) {
                if used(&mine.1) {
                    return false;
                }
                *mine = theirs;
            }
        }
        true
    }

    #[inline]
    pub fn prefetch(&self, limit: Limit) {
        let slot = match limit {
            Limit::Vm(vm) => self.vms.get(vm.index()),
            Limit::Gateway(v) => self.gateways.get(v.index()),
            Limit::Firewall(f) => self.firewalls.get(f.index()),
        };
        if let Some(slot) = slot {
            crate::prefetch(slot);
        }
    }

    /// Counters of every limit that saw traffic: VMs first, then gateways, then firewalls, in
    /// scenario order.
    pub fn report(&self, scenario: &Scenario) -> Vec<ShaperReport> {
        let busy = |c: &Counts| c.packets > 0 || c.overflow > 0;
        let row = |name: &str, kind: &str, s: &Shaper, c: &Counts| ShaperReport {
            name: name.to_string(),
            kind: kind.to_string(),
            rate_bps: s.rate_bps(),
            packets: c.packets,
            bytes: c.bytes,
            queue_overflow: c.overflow,
        };
        let mut rows = Vec::new();
        for (vm, (shaper, counts)) in scenario.vms.iter().zip(&self.vms) {
            if let Some(s) = shaper
                && busy(counts)
            {
                rows.push(row(&vm.name, &vm.size, s, counts));
            }
        }
        for (v, (shaper, counts)) in scenario.vnets.iter().zip(&self.gateways) {
            if let (Some(gw), Some(s)) = (&v.gateway, shaper)
                && busy(counts)
            {
                rows.push(row(&gw.name, &gw.sku, s, counts));
            }
        }
        for (f, (shaper, counts)) in scenario.firewalls.iter().zip(&self.firewalls) {
            if let Some(s) = shaper
                && busy(counts)
            {
                rows.push(row(&f.name, f.sku.as_str(), s, counts));
            }
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn departure(a: Admission) -> Nanos {
        match a {
            Admission::Leaves { departure, .. } => departure,
            Admission::Overflow => panic!("unexpected overflow"),
        }
    }

    #[test]
    fn a_packet_within_the_burst_leaves_at_once() {
        let mut s = Shaper::new(1_000_000_000, 64 * 1024, 1 << 20);
        assert_eq!(departure(s.offer(100, 1500)), 100);
    }

    #[test]
    fn a_saturating_source_is_held_to_the_rate() {
        // 1 Gbit/s, no burst beyond one packet: 1500-byte packets leave every 12 us.
        let mut s = Shaper::new(1_000_000_000, 1500, 1 << 20);
        let mut last = 0;
        for i in 0..100u64 {
            last = departure(s.offer(i * 1_000, 1500));
        }
        // 100 packets = 1.2 Mbit at 1 Gbit/s: the last leaves 99 * 12 us after the first.
        assert_eq!(last, 99 * 12_000);
    }

    #[test]
    fn the_queue_overflows_when_offered_twice_the_rate() {
        // 1 Gbit/s with a 15,000-byte queue, offered 2 Gbit/s (a 1500-byte packet every 6 us).
        let mut s = Shaper::new(1_000_000_000, 1500, 15_000);
        let mut accepted = 0;
        let mut dropped = 0;
        for i in 0..1_000u64 {
            match s.offer(i * 6_000, 1500) {
                Admission::Leaves { .. } => accepted += 1,
                Admission::Overflow => dropped += 1,
            }
        }
        // Half of the offered load fits through the bucket (plus what the queue absorbed).
        assert!((500..=515).contains(&accepted), "accepted {accepted}");
        assert_eq!(accepted + dropped, 1_000);
    }

    #[test]
    fn serialization_is_size_over_rate() {
        let mut s = Shaper::new(1_000_000_000, 64 * 1024, 1 << 20);
        assert_eq!(
            s.offer(0, 1250),
            Admission::Leaves {
                departure: 0,
                serialization: 10_000
            }
        );
    }

    #[test]
    fn an_idle_bucket_refills_up_to_its_burst() {
        let mut s = Shaper::new(8_000, 2, 1 << 20); // 1 byte per ms, burst 2 bytes
        assert_eq!(departure(s.offer(0, 2)), 0);
        // Empty bucket: 2 bytes need 2 ms.
        assert_eq!(departure(s.offer(0, 2)), 2_000_000);
        // After a long idle time the bucket holds at most 2 bytes again.
        assert_eq!(departure(s.offer(1_000_000_000, 2)), 1_000_000_000);
        assert_eq!(departure(s.offer(1_000_000_000, 2)), 1_002_000_000);
    }
}
