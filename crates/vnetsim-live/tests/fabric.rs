//! The socket-free fabric: shaping in real time, timed events, appliances.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use vnetsim_dataplane::wire::{PacketSpec, build_probe};
use vnetsim_live::Fabric;
use vnetsim_scenario::{NicId, Protocol, Scenario};

fn scenario(name: &str) -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios")
        .join(name);
    vnetsim_scenario::load_file(&path).expect("the example loads")
}

fn udp(src: [u8; 4], dst: [u8; 4], len: u16) -> Vec<u8> {
    let spec = PacketSpec {
        src: Ipv4Addr::from(src),
        dst: Ipv4Addr::from(dst),
        protocol: Protocol::Udp,
        src_port: 5000,
        dst_port: 5001,
        ttl: 64,
        total_len: len,
        identification: 1,
    };
    let mut buf = vec![0u8; usize::from(len)];
    build_probe(&mut buf, &spec).expect("builds");
    buf
}

#[test]
fn the_sender_vm_size_paces_what_leaves() {
    // sender is a Standard_D2s_v3 (1 Gbit/s): 600 packets of 1,500 bytes offered at once
    // (7.2 Mbit) take about 7 ms to leave after the 64 KiB burst, and the 1 MiB queue holds
    // them all.
    let sc = scenario("vm-size-shaping.yaml");
    let mut fabric = Fabric::new(&sc);
    let packet = udp([10, 10, 0, 4], [10, 20, 0, 4], 1500);
    for _ in 0..600 {
        fabric.ingest(NicId(0), &packet, 0);
    }
    // Half a millisecond in: only the burst plus 0.5 ms at 1 Gbit/s has left and arrived.
    let early = fabric.advance(500_000).len();
    assert!((40..=90).contains(&early), "{early}");
    let mut delivered = early;
    delivered += fabric.advance(5_000_000).len();
    assert!(
        (420..=500).contains(&delivered),
        "delivered by 5 ms: {delivered}"
    );
    delivered += fabric.advance(20_000_000).len();
    assert_eq!(delivered, 600);
    let c = fabric.conservation();
    assert_eq!(
        (c.sent, c.delivered, c.dropped, c.in_flight),
        (600, 600, 0, 0)
    );
    assert_eq!(fabric.next_deadline(), None);
}

#[test]
fn an_overfull_queue_drops_as_queue_overflow() {
    let sc = scenario("vm-size-shaping.yaml");
    let mut fabric = Fabric::new(&sc);
    let packet = udp([10, 10, 0, 4], [10, 20, 0, 4], 1500);
    for _ in 0..2_000 {
        fabric.ingest(NicId(0), &packet, 0);
    }
    fabric.advance(u64::MAX / 2);
    let c = fabric.conservation();
    assert!(c.dropped > 0 && c.delivered + c.dropped == 2_000, "{c:?}");
    assert_eq!(
        fabric.drops_by_reason().get("queue-overflow"),
        Some(&c.dropped)
    );
    let report = fabric.report(1, "udp");
    assert_eq!(report.shapers[0].name, "sender");
    assert_eq!(report.shapers[0].queue_overflow, c.dropped);
}

#[test]
fn timed_events_happen_at_their_time_since_start() {
    // b-to-a is removed at 500 ms and added again at 800 ms.
    let sc = scenario("peering-removed.yaml");
    let mut fabric = Fabric::new(&sc);
    let packet = udp([10, 1, 0, 4], [10, 2, 0, 4], 64);
    let mut at = |ms: u64| {
        let now = ms * 1_000_000;
        fabric.advance(now);
        fabric.ingest(NicId(0), &packet, now);
        fabric.advance(now + 1_000_000).len()
    };
    assert_eq!(at(100), 1);
    assert_eq!(at(600), 0);
    assert_eq!(at(900), 1);
    assert_eq!(fabric.drops_by_reason().get("no-route"), Some(&1));
    let report = fabric.report(1_000_000_000, "udp");
    let lines: Vec<u32> = report.events.iter().map(|e| e.line).collect();
    assert_eq!(lines.len(), 2);
    assert!(report.events[0].action.contains("remove peering b-to-a"));
}

#[test]
fn an_appliance_forwards_with_the_ttl_decremented() {
    let sc = scenario("hub-and-spoke.yaml");
    let web1 = sc.nic_by_name("web1-nic").unwrap();
    let db1 = sc.nic_by_name("db1-nic").unwrap();
    let nva1 = sc.nic_by_name("nva1-nic").unwrap();
    let mut fabric = Fabric::new(&sc);
    let packet = udp([10, 1, 1, 4], [10, 2, 1, 4], 64);
    fabric.ingest(web1, &packet, 0);
    let out = fabric.advance(1_000_000_000);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].nic, db1);
    assert_eq!(out[0].bytes[8], 63);
    let report = fabric.report(1, "udp");
    assert_eq!(report.nics[nva1.index()].counters.forwarded_packets, 1);
    // A malformed packet is dropped at once and counted on its NIC.
    fabric.ingest(web1, &[1, 2, 3], 0);
    let report = fabric.report(1, "udp");
    assert_eq!(report.nics[web1.index()].malformed, 1);
    assert!(report.conservation.holds());
}

#[test]
fn bytes_after_the_ipv4_total_length_are_cut_off() {
    let sc = scenario("vm-size-shaping.yaml");
    let mut fabric = Fabric::new(&sc);
    let packet = udp([10, 10, 0, 4], [10, 20, 0, 4], 100);
    let mut datagram = packet.clone();
    datagram.extend_from_slice(&[0xee; 37]);
    fabric.ingest(NicId(0), &datagram, 0);
    let delivered = fabric.advance(1_000_000_000);
    assert_eq!(delivered.len(), 1);
    assert_eq!(
        delivered[0].bytes, packet,
        "the packet, without the 37 trailing bytes"
    );
    let report = fabric.report(1, "udp");
    assert_eq!(report.nics[0].counters.tx_bytes, 100);
}

/// A live capture records drops as a replay's does: on the `dropped` interface, with a comment
/// naming the reason and the rule.
#[test]
fn a_live_capture_records_a_drop_with_its_reason() {
    use vnetsim_engine::pcap::{CaptureFilter, CaptureLimit, PcapFormat};
    use vnetsim_live::PcapFile;

    let sc = scenario("nsg-blocks-peer.yaml");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.pcapng");
    let file = PcapFile::create_with(
        &path,
        PcapFormat::PcapNg,
        &sc,
        CaptureFilter::all(),
        CaptureLimit::Unlimited,
    )
    .unwrap();
    let mut fabric = Fabric::new(&sc);
    fabric.set_capture(Box::new(file.clone()));
    // web2 -> sql1 udp/1434: denied by sql-nic-nsg's deny-sql-browser.
    let spec = PacketSpec {
        src: Ipv4Addr::new(10, 60, 1, 4),
        dst: Ipv4Addr::new(10, 60, 2, 4),
        protocol: Protocol::Udp,
        src_port: 5000,
        dst_port: 1434,
        ttl: 64,
        total_len: 64,
        identification: 1,
    };
    let mut packet = [0u8; 64];
    build_probe(&mut packet, &spec).unwrap();
    fabric.ingest(NicId(1), &packet, 0);
    assert!(fabric.advance(10_000_000).is_empty());
    assert_eq!(fabric.conservation().dropped, 1);
    assert_eq!(file.finish_counted().unwrap(), (2, 0));
    let bytes = std::fs::read(&path).unwrap();
    let has = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(has("web2-nic out"));
    assert!(has("dropped"));
    assert!(has("dropped (nsg-denied)"));
}
