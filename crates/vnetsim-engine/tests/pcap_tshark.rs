//! A capture written by `PcapSink` opens in tshark, which finds every IPv4 header checksum good
//! and reads the simulated times as the packets' timestamps. Needs `tshark` on PATH; without it
//! the test says so and passes without checking anything.

use std::net::Ipv4Addr;
use std::process::Command;

use vnetsim_dataplane::wire::{PacketSpec, build_probe};
use vnetsim_engine::pcap::PcapSink;
use vnetsim_scenario::Protocol;

fn probe(protocol: Protocol, total_len: u16, identification: u16) -> Vec<u8> {
    let spec = PacketSpec {
        src: Ipv4Addr::new(10, 1, 1, 4),
        dst: Ipv4Addr::new(10, 2, 1, 4),
        protocol,
        src_port: 49152,
        dst_port: 1433,
        ttl: 64,
        total_len,
        identification,
    };
    let mut buf = vec![0u8; usize::from(total_len)];
    let n = build_probe(&mut buf, &spec).expect("probe builds");
    buf.truncate(n);
    buf
}

/// `frame.time_epoch` as tshark prints it (`2.000000123`) in nanoseconds.
fn epoch_ns(text: &str) -> Option<u64> {
    let (secs, frac) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_ns: u64 = format!("{frac:0<9}").parse().ok()?;
    secs.parse::<u64>()
        .ok()?
        .checked_mul(1_000_000_000)?
        .checked_add(frac_ns)
}

fn tshark_available() -> bool {
    Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
#[ignore = "needs tshark: run with --ignored (CI installs it and does)"]
fn tshark_finds_good_checksums_and_the_simulated_times() {
    assert!(
        tshark_available(),
        "`tshark` is not on PATH (install Wireshark's tshark to run this check)"
    );
    let good = [
        (1_000, probe(Protocol::Tcp, 60, 1)),
        (1_500_000, probe(Protocol::Udp, 1400, 2)),
        (2_000_000_123, probe(Protocol::Icmp, 84, 3)),
    ];
    // A control: a packet with its header checksum broken must be reported bad, or tshark is
    // not checking at all.
    let mut broken = probe(Protocol::Udp, 100, 4);
    broken[10] ^= 0xff;
    let broken_at = 3_000_000_000;

    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("capture.pcap");
    let file = std::fs::File::create(&path).expect("create capture");
    let mut sink = PcapSink::new(std::io::BufWriter::new(file)).expect("header");
    for (at, bytes) in &good {
        sink.write(*at, bytes).expect("packet");
    }
    sink.write(broken_at, &broken).expect("packet");
    sink.finish().expect("finish");

    let out = Command::new("tshark")
        .arg("-r")
        .arg(&path)
        .args(["-o", "ip.check_checksum:TRUE"])
        .args([
            "-T",
            "fields",
            "-e",
            "ip.checksum.status",
            "-e",
            "frame.time_epoch",
        ])
        .output()
        .expect("tshark runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "tshark failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<(String, Option<u64>)> = stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (status, time) = l.split_once('\t').unwrap_or((l, ""));
            (status.trim().to_owned(), epoch_ns(time))
        })
        .collect();
    assert_eq!(rows.len(), good.len() + 1, "one row per packet:\n{stdout}");
    // Wireshark's checksum status values: 0 Bad, 1 Good, 2 Unverified.
    for (row, (at, _)) in rows.iter().zip(&good) {
        assert!(
            row.0 == "1" || row.0 == "Good",
            "header checksum of the packet at {at} ns not good:\n{stdout}"
        );
        assert_eq!(row.1, Some(*at), "timestamp:\n{stdout}");
    }
    let last = &rows[good.len()];
    assert!(
        last.0 == "0" || last.0 == "Bad",
        "the broken checksum was not reported bad, so tshark did not check:\n{stdout}"
    );
    assert_eq!(last.1, Some(broken_at));
}

#[test]
fn epoch_text_parses_to_nanoseconds() {
    assert_eq!(epoch_ns("0.000001000"), Some(1_000));
    assert_eq!(epoch_ns("2.000000123\n"), Some(2_000_000_123));
    assert_eq!(epoch_ns("3.5"), Some(3_500_000_000));
    assert_eq!(epoch_ns("7"), Some(7_000_000_000));
    assert_eq!(epoch_ns("1.0000000001"), None);
    assert_eq!(epoch_ns("x.1"), None);
}
