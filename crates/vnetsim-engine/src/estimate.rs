//! What a replay will cost, known before it starts: packets, bytes, engine memory, capture size
//! and wall time, from the scenario alone.
//!
//! What it is for: refusing a run that would effectively never end (a flow of 10^12 packets, one
//! lasting years) with a figure instead of a hang, and telling the user what a large run will
//! take. The packet count follows the engine's own rules for a flow's sending window. What it is
//! not: a measurement (the replay's report counts what happened) nor exact for Poisson flows
//! (their count is the expected one) or for captures (a record per hop, which depends on paths).

use vnetsim_scenario::{Flow, Nanos, Rate, Scenario};

use crate::sim::DEFAULT_FLOW_DURATION;

/// The most packets a replay may send unless the user insists (`--force`): at the engine's
/// few million packets per wall second, about an hour.
pub const MAX_PACKETS: u64 = 10_000_000_000;

/// Packets per wall second the estimate of wall time assumes (the engine's order of magnitude
/// on one core; the README has measured figures).
pub const ASSUMED_PACKETS_PER_SECOND: u64 = 3_000_000;

/// Engine state per flow (a unit test in `sim` holds it to this bound).
const FLOW_STATE_BYTES: u64 = 256;
/// Counters and shaper per NIC and VM, roughly.
const NIC_STATE_BYTES: u64 = 256;
/// What a pcapng enhanced packet block adds to its packet (block type and lengths, interface,
/// timestamp, captured and original lengths); the packet, in its Ethernet frame
/// ([`crate::pcap::ETHERNET_HEADER_BYTES`] more), is padded to 4 bytes.
const PCAPNG_RECORD_OVERHEAD: u64 = 32;

/// The estimate of one replay.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Estimate {
    /// Packets the flows send, replies included, plus probes.
    pub packets: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Engine state for flows and NICs.
    pub memory_bytes: u64,
    /// A pcapng capture (the default format) of every packet at its sender and receiver (more
    /// records through appliances and gateways).
    pub pcap_bytes: u64,
}

impl Estimate {
    /// The estimate of replaying `scenario` once.
    pub fn of(scenario: &Scenario) -> Estimate {
        let mut e = Estimate::default();
        for f in &scenario.traffic {
            let n = flow_packets(scenario, f).saturating_mul(if f.reply { 2 } else { 1 });
            e.packets = e.packets.saturating_add(n);
            let size = u64::from(f.packet_size);
            e.bytes = e.bytes.saturating_add(n.saturating_mul(size));
            e.pcap_bytes = e
                .pcap_bytes
                .saturating_add(n.saturating_mul(2 * pcapng_record_bytes(size)));
        }
        let probes = scenario.expectations.len() as u64;
        e.packets = e.packets.saturating_add(probes);
        e.memory_bytes = (scenario.traffic.len() as u64)
            .saturating_mul(FLOW_STATE_BYTES)
            .saturating_add((scenario.nics.len() as u64).saturating_mul(NIC_STATE_BYTES));
        e
    }

    /// The same run repeated `runs` times (a sweep).
    pub fn times(self, runs: u64) -> Estimate {
        Estimate {
            packets: self.packets.saturating_mul(runs),
            bytes: self.bytes.saturating_mul(runs),
            memory_bytes: self.memory_bytes,
            pcap_bytes: self.pcap_bytes.saturating_mul(runs),
        }
    }

    /// Wall seconds at [`ASSUMED_PACKETS_PER_SECOND`].
    pub fn wall_seconds(&self) -> f64 {
        self.packets as f64 / ASSUMED_PACKETS_PER_SECOND as f64
    }

    /// Whether the run stays under [`MAX_PACKETS`].
    pub fn within_limits(&self) -> bool {
        self.packets <= MAX_PACKETS
    }
}

impl std::fmt::Display for Estimate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "about {} packets ({}), engine state {}, a capture of {} or more, {} of wall time at {} M packets/s",
            self.packets,
            human_bytes(self.bytes),
            human_bytes(self.memory_bytes),
            human_bytes(self.pcap_bytes),
            human_seconds(self.wall_seconds()),
            ASSUMED_PACKETS_PER_SECOND / 1_000_000
        )
    }
}

/// The bytes of one pcapng record of a `size`-byte IPv4 packet (its Ethernet frame is 14
/// bytes longer).
fn pcapng_record_bytes(size: u64) -> u64 {
    let frame = size.saturating_add(crate::pcap::ETHERNET_HEADER_BYTES as u64);
    PCAPNG_RECORD_OVERHEAD.saturating_add(frame.div_ceil(4) * 4)
}

/// The window `[start, end)` in which flow `f` sends, by the engine's rules: its own duration,
/// else the scenario's, else [`DEFAULT_FLOW_DURATION`]; never past the scenario's end.
pub fn flow_window(scenario: &Scenario, f: &Flow) -> (Nanos, Nanos) {
    let start = f.start;
    let end = match (f.duration, scenario.duration) {
        (Some(d), _) => start.saturating_add(d),
        (None, Some(total)) => total,
        (None, None) => start.saturating_add(DEFAULT_FLOW_DURATION),
    };
    let end = match scenario.duration {
        Some(total) => end.min(total),
        None => end,
    };
    (start, end)
}

/// Packets flow `f` sends in its window (the expected number for a Poisson flow).
fn flow_packets(scenario: &Scenario, f: &Flow) -> u64 {
    let (start, end) = flow_window(scenario, f);
    let window = u128::from(end.saturating_sub(start));
    let per_second: u128 = match f.rate {
        Rate::PacketsPerSecond(pps) => u128::from(pps),
        Rate::BitsPerSecond(bps) => u128::from(bps) / (8 * u128::from(f.packet_size.max(1))),
    };
    let n = (window * per_second).div_ceil(1_000_000_000);
    u64::try_from(n).unwrap_or(u64::MAX)
}

fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

fn human_seconds(s: f64) -> String {
    if s < 120.0 {
        format!("{s:.1} s")
    } else if s < 7200.0 {
        format!("{:.0} min", s / 60.0)
    } else if s < 172_800.0 {
        format!("{:.0} h", s / 3600.0)
    } else {
        format!("{:.0} days", s / 86_400.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(traffic: &str) -> Scenario {
        let text = format!(
            "name: e
vnets:
  - name: a
    address_space: [10.1.0.0/16]
    subnets: [ {{ name: s, prefix: 10.1.0.0/24 }} ]
vms:
  - {{ name: x, size: Standard_D2s_v3, nics: [ {{ name: xn, vnet: a, subnet: s, ip: 10.1.0.4 }} ] }}
  - {{ name: y, size: Standard_D2s_v3, nics: [ {{ name: yn, vnet: a, subnet: s, ip: 10.1.0.5 }} ] }}
traffic:
{traffic}"
        );
        vnetsim_scenario::load_str(&text, "e.yaml").expect("valid")
    }

    #[test]
    fn packets_follow_rate_and_window() {
        let sc = scenario(
            "  - { name: f, from: x, to: y, protocol: udp, dst_port: 9, rate: 1000pps, packet_size: 100, duration: 2s }\n",
        );
        let e = Estimate::of(&sc);
        assert_eq!(e.packets, 2000);
        assert_eq!(e.bytes, 200_000);
        assert!(e.within_limits());
    }

    /// The estimate is the size of the records a capture of a two-NIC flow writes (one at the
    /// sender, one at the receiver), measured on a real capture.
    #[test]
    fn the_capture_estimate_counts_pcapng_records() {
        let sc = scenario(
            "  - { name: f, from: x, to: y, protocol: udp, dst_port: 9, rate: 1000pps, packet_size: 99, duration: 10ms }\n",
        );
        let e = Estimate::of(&sc);
        let mut capture = crate::pcap::PcapCapture::pcapng(Vec::new(), &sc).unwrap();
        crate::Engine::new(&sc, crate::Options::default())
            .with_capture(&mut capture)
            .run();
        let (written, file) = capture.finish_into().unwrap();
        assert_eq!(written, 20);
        let empty = crate::pcap::PcapCapture::pcapng(Vec::new(), &sc).unwrap();
        let (_, header) = empty.finish_into().unwrap();
        // The two interface descriptions are the rest (the header is the section's).
        let records = (file.len() - header.len()) as u64;
        let interfaces = crate::pcap::interface_block_bytes("xn out")
            + crate::pcap::interface_block_bytes("yn in");
        assert_eq!(
            records - interfaces,
            e.pcap_bytes,
            "estimate against the records of the capture (each frame 14 + 99 bytes, padded)"
        );
        assert_eq!(pcapng_record_bytes(99), 32 + 116);
        assert_eq!(e.pcap_bytes, 20 * pcapng_record_bytes(99));
    }

    #[test]
    fn replies_double_and_bits_divide_by_size() {
        let sc = scenario(
            "  - { name: f, from: x, to: y, protocol: udp, dst_port: 9, rate: 8Mbps, packet_size: 1000, duration: 1s, reply: true }\n",
        );
        assert_eq!(Estimate::of(&sc).packets, 2000);
    }

    #[test]
    fn a_year_long_fast_flow_is_over_the_limit_and_never_wraps() {
        let sc = scenario(
            "  - { name: f, from: x, to: y, protocol: udp, dst_port: 9, rate: 10000Mpps, packet_size: 64, duration: 31536000s }\n",
        );
        let e = Estimate::of(&sc);
        assert_eq!(e.packets, 315_360_000_000_000_000);
        assert!(!e.within_limits());
        assert_eq!(e.times(1000).packets, u64::MAX, "saturates, never wraps");
        assert!(e.to_string().contains("days"), "{e}");
    }
}
