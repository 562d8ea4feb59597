//! Captures read by Wireshark's tshark: a classic capture written by `PcapSink`, whose IPv4
//! header checksums tshark finds good and whose times it reads as the simulated ones; and the
//! pcapng capture of `scenarios/hub-and-spoke.yaml` (alone, and with TCP and ICMP traffic
//! through its appliance), which tshark reads as one named interface per hop with no TCP
//! sequence analysis warning on any interface, nor on any NIC's two interfaces together.
//!
//! With a tshark of Wireshark 4.2 or later, the same capture is read whole, once, with the
//! preference that keys conversations by interface and MAC addresses
//! (`protocols.conversation_deinterlacing_key`): the capture's Ethernet frames carry each hop's
//! MACs, so tshark flags only what reading per interface flags (docs/capture.md).
//!
//! The build script sets `cfg(has_tshark)` when `tshark` runs, and
//! `cfg(has_deinterlacing_tshark)` when the program named by `VNETSIM_TSHARK` (or `tshark`)
//! is 4.2 or later (`.ci/newer-tshark` makes one, from Debian 13's packages, on a Debian 12
//! machine, whose own is 4.0); without them these tests show as ignored with the reason in
//! the test summary.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;

use vnetsim_dataplane::wire::{PacketSpec, build_probe};
use vnetsim_engine::pcap::{CaptureFilter, PcapSink};
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
#[cfg_attr(not(has_tshark), ignore = "tshark is not installed")]
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

/// Runs tshark with `args` and gives its standard output (the test fails if tshark does).
fn tshark(args: &[&str]) -> String {
    run_tshark("tshark", args)
}

/// Runs the tshark `program` with `args` and gives its standard output (the test fails if
/// tshark does).
fn run_tshark(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The frames of `file` that tshark's TCP sequence analysis flags (retransmission, out of
/// order, ACKed unseen segment, ...), when it reads only the frames `filter` keeps (written to
/// a file of their own first: the analysis of one file follows a connection across
/// interfaces).
fn flagged(file: &Path, filter: &str, dir: &Path) -> String {
    let part = dir.join("part.pcapng");
    let part_s = part.to_str().unwrap();
    tshark(&["-r", file.to_str().unwrap(), "-Y", filter, "-w", part_s]);
    tshark(&[
        "-r",
        part_s,
        "-Y",
        "tcp.analysis.flags",
        "-T",
        "fields",
        "-e",
        "frame.number",
        "-e",
        "_ws.expert.message",
    ])
}

/// Interface id to name, as tshark reads the file, and the frames per interface name.
fn interfaces(file: &Path) -> (BTreeMap<u32, String>, BTreeMap<String, usize>) {
    interfaces_with("tshark", file)
}

/// [`interfaces`], as the tshark `program` reads the file.
fn interfaces_with(program: &str, file: &Path) -> (BTreeMap<u32, String>, BTreeMap<String, usize>) {
    let out = run_tshark(
        program,
        &[
            "-r",
            file.to_str().unwrap(),
            "-T",
            "fields",
            "-e",
            "frame.interface_id",
            "-e",
            "frame.interface_name",
        ],
    );
    let mut ids = BTreeMap::new();
    let mut frames = BTreeMap::new();
    for line in out.lines().filter(|l| !l.trim().is_empty()) {
        let (id, name) = line.split_once('\t').expect("two fields");
        let id: u32 = id.trim().parse().expect("an interface id");
        let previous = ids.insert(id, name.trim().to_string());
        assert!(
            previous.is_none_or(|p| p == name.trim()),
            "interface {id} has two names"
        );
        *frames.entry(name.trim().to_string()).or_insert(0) += 1;
    }
    (ids, frames)
}

/// The "Done when" check of the capture of hub-and-spoke: tshark reads one interface per hop,
/// each named and declared once, and its TCP sequence analysis flags nothing on any interface
/// or VM's NIC (both its interfaces together), but for the connection an NSG denies (its SYNs
/// are retransmitted, and flagged so). With traffic through the appliance the same holds for every hop of the TCP
/// connection and the ICMP echoes; the whole file read at once (every packet once per hop)
/// is flagged, which shows the analysis ran.
#[test]
#[cfg_attr(not(has_tshark), ignore = "tshark is not installed")]
fn tshark_reads_hub_and_spoke_as_one_interface_per_hop_without_tcp_warnings() {
    let dir = tempfile::tempdir().expect("temp dir");
    for traffic in [false, true] {
        let sc = common::hub_and_spoke(traffic);
        let (_, bytes) = common::capture(&sc, CaptureFilter::all());
        let file = dir.path().join(format!("hub-and-spoke-{traffic}.pcapng"));
        std::fs::write(&file, &bytes).expect("write capture");
        let (ids, frames) = interfaces(&file);
        let names: BTreeSet<&String> = ids.values().collect();
        assert_eq!(names.len(), ids.len(), "one interface per name: {ids:?}");
        let mut expected: BTreeSet<&str> = [
            "web1-nic out",
            "web1-nic in",
            "db1-nic out",
            "db1-nic in",
            "dns1-nic in",
            "batch1-nic out",
            "dropped",
        ]
        .into();
        if traffic {
            expected.extend(["nva1-nic in", "nva1-nic out"]);
        }
        let got: BTreeSet<&str> = names.iter().map(|n| n.as_str()).collect();
        assert_eq!(got, expected, "traffic: {traffic}");
        // The SSH flow never gets an answer (db1's NSG denies it): its source sends SYN after
        // SYN, which tshark rightly reads as retransmissions. Every other connection is clean.
        let others = "not tcp.port == 22";
        for name in ids.values() {
            let one = format!("frame.interface_name == \"{name}\" and {others}");
            let f = flagged(&file, &one, dir.path());
            assert!(f.trim().is_empty(), "{name} (traffic: {traffic}):\n{f}");
        }
        if traffic {
            let ssh = flagged(
                &file,
                "frame.interface_name == \"web1-nic out\" and tcp.port == 22",
                dir.path(),
            );
            let lines: Vec<&str> = ssh.lines().collect();
            // The flow's five SYNs: the first and four retransmissions (the probe's SYN is a
            // connection of its own).
            assert_eq!(lines.len(), 4, "{ssh}");
            assert!(lines.iter().all(|l| l.contains("retransmission")), "{ssh}");
        }
        // A VM's NIC as a capture on it sees it, both ways (not the appliance's: what it
        // forwards passes it twice, in and out, as on a real router).
        for nic in ["web1-nic", "db1-nic"] {
            let both = format!(
                "(frame.interface_name == \"{nic} out\" or frame.interface_name == \"{nic} in\") \
                 and {others}"
            );
            let f = flagged(&file, &both, dir.path());
            assert!(f.trim().is_empty(), "{nic} (traffic: {traffic}):\n{f}");
        }
        if traffic {
            assert_eq!(frames["nva1-nic in"], frames["nva1-nic out"], "{frames:?}");
            let f = flagged(&file, "frame", dir.path());
            assert!(
                f.contains("retransmission"),
                "a packet at two hops reads as a retransmission in one stream:\n{f}"
            );
            let comments = tshark(&[
                "-r",
                file.to_str().unwrap(),
                "-Y",
                "frame.comment contains \"deny-ssh-from-spokes\"",
                "-T",
                "fields",
                "-e",
                "frame.interface_name",
            ]);
            let lines: Vec<&str> = comments.lines().collect();
            assert_eq!(lines.len(), 6, "{comments}");
            assert!(lines.iter().all(|l| *l == "dropped"), "{comments}");
        }
    }
}

/// The tshark of Wireshark 4.2 or later that the build script found: `VNETSIM_TSHARK`, or
/// `tshark` when that one is recent enough.
#[cfg(has_deinterlacing_tshark)]
fn newer_tshark() -> &'static str {
    env!("VNETSIM_DEINTERLACING_TSHARK")
}

/// Without `cfg(has_deinterlacing_tshark)` the test that calls this is ignored; run anyway
/// (`--ignored`), it fails here, saying why.
#[cfg(not(has_deinterlacing_tshark))]
fn newer_tshark() -> &'static str {
    panic!(
        "no tshark 4.2 or later: set VNETSIM_TSHARK to one (`.ci/newer-tshark` makes one) \
         and build again"
    )
}

/// Wireshark 4.2's preference that keys conversations by interface and MAC addresses besides
/// addresses and ports ("Interface + MAC").
const BY_INTERFACE: &str = "protocols.conversation_deinterlacing_key:.MI";

/// Frames flagged by tshark's TCP sequence analysis, counted by interface name and by whether
/// they are of TCP port 22 (the connection an NSG denies, whose SYNs are retransmitted).
type Flags = BTreeMap<(String, bool), usize>;

/// The frames of `file` that `program`'s TCP sequence analysis flags, with `options` (`-o`
/// preferences), counted as [`Flags`], and tshark's rows for the failure messages.
fn flags(program: &str, file: &Path, options: &[&str]) -> (Flags, String) {
    let mut args = vec!["-r", file.to_str().unwrap()];
    args.extend(options);
    args.extend([
        "-Y",
        "tcp.analysis.flags",
        "-T",
        "fields",
        "-e",
        "frame.interface_name",
        "-e",
        "tcp.srcport",
        "-e",
        "tcp.dstport",
        "-e",
        "_ws.expert.message",
    ]);
    let out = run_tshark(program, &args);
    let mut counts = Flags::new();
    for line in out.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split('\t').collect();
        assert!(fields.len() >= 3, "interface and ports: {line}");
        let ssh = fields[1] == "22" || fields[2] == "22";
        *counts.entry((fields[0].to_string(), ssh)).or_insert(0) += 1;
    }
    (counts, out)
}

/// The frames of `file` with an expert message of severity warning or error, as `program`
/// reads it with `options` (`-o` preferences): interface name, ports and messages, a line each.
fn warned(program: &str, file: &Path, options: &[&str]) -> String {
    let mut args = vec!["-r", file.to_str().unwrap()];
    args.extend(options);
    args.extend([
        "-Y",
        "_ws.expert.severity >= \"Warning\"",
        "-T",
        "fields",
        "-e",
        "frame.interface_name",
        "-e",
        "udp.srcport",
        "-e",
        "udp.dstport",
        "-e",
        "_ws.expert.message",
    ]);
    run_tshark(program, &args)
}

/// The "Done when" check of reading a whole capture at once: tshark 4.2 or later, with the
/// preference that keys conversations by interface and MAC addresses besides addresses and
/// ports ([`BY_INTERFACE`]), reads the whole capture of hub-and-spoke (every packet once per
/// hop, each hop an interface, each frame with its hop's MACs) as its interfaces read one at a
/// time: its TCP sequence analysis flags only the retransmitted SYNs of the connection an NSG
/// denies, at each hop they pass, and nothing else; and it warns of nothing but what is
/// asserted below. Without the preference the same tshark reads a packet's second hop as a
/// retransmission of its first, on other ports than SSH's: the preference is what matters.
#[test]
#[cfg_attr(
    not(has_deinterlacing_tshark),
    ignore = "needs tshark 4.2 or later (set VNETSIM_TSHARK); see docs/capture.md"
)]
fn tshark_reads_the_whole_capture_clean_when_keyed_by_interface_and_mac() {
    let program = newer_tshark();
    let version = run_tshark(program, &["--version"]);
    let version = version.lines().next().unwrap_or_default();
    let dir = tempfile::tempdir().expect("temp dir");
    let keyed_by_interface = ["-o", BY_INTERFACE];
    for traffic in [false, true] {
        let sc = common::hub_and_spoke(traffic);
        let (_, bytes) = common::capture(&sc, CaptureFilter::all());
        let file = dir.path().join(format!("hub-and-spoke-{traffic}.pcapng"));
        std::fs::write(&file, &bytes).expect("write capture");

        let (keyed, out) = flags(program, &file, &keyed_by_interface);
        // With traffic, the SSH flow's five SYNs (the first and four retransmissions, the
        // probe's SYN being a connection of its own) pass web1's NIC and the appliance's two
        // interfaces, and are dropped at db1's subnet NSG: four flagged at each. The scenario
        // alone has one SYN per connection, none flagged.
        let expected: Flags = if traffic {
            ["web1-nic out", "nva1-nic in", "nva1-nic out", "dropped"]
                .iter()
                .map(|h| ((h.to_string(), true), 4))
                .collect()
        } else {
            Flags::new()
        };
        assert_eq!(keyed, expected, "{version}, traffic {traffic}:\n{out}");
        assert_eq!(
            out.lines().filter(|l| l.contains("retransmission")).count(),
            expected.values().sum::<usize>(),
            "{version}: every flag a retransmission:\n{out}"
        );

        // Warnings and errors (the SYNs' retransmissions are notes): one, and not of the
        // capture's doing: web1's DNS query probe, seen leaving web1's NIC and reaching dns1's,
        // reads at dns1 as a retransmitted query. Wireshark's DNS dissector pairs queries within
        // the conversation of addresses and ports alone (as of 4.4 it does not look
        // conversations up with the deinterlacing key, as TCP's analysis does), so the
        // preference does not reach it.
        let warnings = warned(program, &file, &keyed_by_interface);
        let rows: Vec<Vec<&str>> = warnings
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.split('\t').collect())
            .collect();
        assert_eq!(
            rows.iter().map(|r| &r[..3]).collect::<Vec<_>>(),
            [["dns1-nic in", "49152", "53"]],
            "{version}, traffic {traffic}: one warning, DNS's, at dns1:\n{warnings}"
        );
        assert!(
            rows[0][3].starts_with("DNS query retransmission"),
            "{version}, traffic {traffic}:\n{warnings}"
        );

        // The same tshark without the preference: a packet seen at two hops reads as a
        // retransmission of itself, on other ports than 22 (with traffic, the web-db
        // connection), and web1's DNS query as a retransmitted query.
        let (plain, out) = flags(program, &file, &[]);
        let elsewhere: usize = plain
            .iter()
            .filter(|((_, ssh), _)| !ssh)
            .map(|(_, n)| n)
            .sum();
        if traffic {
            assert!(elsewhere > 0, "{version}, without the preference:\n{out}");
        }
        let whole = warned(program, &file, &[]);
        assert!(
            whole.contains("DNS query retransmission"),
            "{version}, without the preference:\n{whole}"
        );
    }
}
