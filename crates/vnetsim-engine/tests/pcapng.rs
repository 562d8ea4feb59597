//! A pcapng capture read back with the `pcap-file` crate: one named interface per hop, each
//! packet in an Ethernet frame with its hop's MACs, drops with comments naming their reason and
//! rule, the filter's effect, TCP connections whose
//! sequence and acknowledgment numbers advance as a real connection's, ICMP echoes that count,
//! and a report that a capture does not change.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketOption;
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
use pcap_file::pcapng::{Block, PcapNgReader};
use vnetsim_dataplane::wire::{self, TCP_ACK, TCP_FIN, TCP_SYN};
use vnetsim_engine::pcap::{AZURE_GATEWAY_MAC, CaptureFilter, Mac, nic_mac};
use vnetsim_engine::{Engine, Options};

use common::{capture, hub_and_spoke};

/// A TCP segment as captured: sequence number, acknowledgment number, flags, and the sequence
/// space it takes.
type Segment = (u32, u32, u8, u32);

/// One packet of a capture.
#[derive(Debug)]
struct Record {
    interface: String,
    at_ns: u64,
    /// The frame's source and destination MACs.
    macs: (Mac, Mac),
    /// The IPv4 packet (the frame without its Ethernet header).
    bytes: Vec<u8>,
    comment: Option<String>,
}

/// The interface names in declaration order, and every packet (each an Ethernet II frame of
/// IPv4).
fn read(file: &[u8]) -> (Vec<String>, Vec<Record>) {
    let mut reader = PcapNgReader::new(file).expect("a pcapng file");
    let mut names = Vec::new();
    let mut records = Vec::new();
    while let Some(block) = reader.next_block() {
        match block.expect("a valid block") {
            Block::InterfaceDescription(idb) => {
                assert_eq!(idb.linktype, pcap_file::DataLink::ETHERNET);
                assert!(
                    idb.options
                        .contains(&InterfaceDescriptionOption::IfTsResol(9)),
                    "nanosecond timestamps"
                );
                let name = idb.options.iter().find_map(|o| match o {
                    InterfaceDescriptionOption::IfName(n) => Some(n.to_string()),
                    _ => None,
                });
                names.push(name.expect("every interface is named"));
            }
            Block::EnhancedPacket(p) => records.push(Record {
                interface: names[p.interface_id as usize].clone(),
                at_ns: p.timestamp.as_nanos() as u64,
                macs: {
                    assert_eq!(&p.data[12..14], &[0x08, 0x00], "ethertype IPv4");
                    (
                        p.data[6..12].try_into().unwrap(),
                        p.data[..6].try_into().unwrap(),
                    )
                },
                bytes: p.data[14..].to_vec(),
                comment: p.options.iter().find_map(|o| match o {
                    EnhancedPacketOption::Comment(c) => Some(c.to_string()),
                    _ => None,
                }),
            }),
            other => panic!("unexpected block {other:?}"),
        }
    }
    (names, records)
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// Every hop of hub-and-spoke's probes and traffic has its interface, named after the NIC
/// and the side, declared once; the appliance shows both sides.
#[test]
fn one_named_interface_per_hop() {
    let (_, file) = capture(&hub_and_spoke(false), CaptureFilter::all());
    let (names, records) = read(&file);
    let unique: BTreeSet<String> = names.iter().cloned().collect();
    assert_eq!(unique.len(), names.len(), "declared once each: {names:?}");
    assert_eq!(
        unique,
        set(&[
            "web1-nic out",
            "db1-nic in",
            "db1-nic out",
            "web1-nic in",
            "dns1-nic in",
            "batch1-nic out",
            "dropped",
        ])
    );
    // Two delivered probes (sent and received), one UDP probe, three dropped ones (sent and
    // dropped).
    assert_eq!(records.len(), 12, "{records:#?}");
    macs_say_where(&hub_and_spoke(false), &records);

    let sc = hub_and_spoke(true);
    let (_, file) = capture(&sc, CaptureFilter::all());
    let (names, records) = read(&file);
    macs_say_where(&sc, &records);
    let names: BTreeSet<String> = names.into_iter().collect();
    for hop in ["nva1-nic in", "nva1-nic out", "db1-nic in", "web1-nic in"] {
        assert!(names.contains(hop), "{hop} in {names:?}");
    }
}

/// The MAC of the NIC named `name` in `sc`.
fn mac_of(sc: &vnetsim_scenario::Scenario, name: &str) -> Mac {
    nic_mac(
        sc.nic_by_name(name)
            .unwrap_or_else(|| panic!("no NIC `{name}`")),
    )
}

/// Each frame's MACs are those of its hop: leaving a NIC, from the NIC's MAC (Azure's OUI) to
/// Azure's gateway MAC; reaching one, the other way; dropped, from the MAC of the NIC where the
/// packet was last seen to the gateway's. No two NICs share a MAC.
fn macs_say_where(sc: &vnetsim_scenario::Scenario, records: &[Record]) {
    let gw = AZURE_GATEWAY_MAC;
    for r in records {
        let expected = if r.interface == "dropped" {
            let last = r
                .comment
                .as_deref()
                .unwrap()
                .rsplit("; last seen at ")
                .next();
            let nic = last
                .unwrap()
                .strip_suffix(" out")
                .or(last.unwrap().strip_suffix(" in"));
            (mac_of(sc, nic.unwrap()), gw)
        } else if let Some(nic) = r.interface.strip_suffix(" out") {
            (mac_of(sc, nic), gw)
        } else {
            let nic = r.interface.strip_suffix(" in").unwrap();
            (gw, mac_of(sc, nic))
        };
        assert_eq!(r.macs, expected, "{}: {r:?}", r.interface);
        assert!(r.macs.0 != r.macs.1);
    }
    let macs: BTreeSet<Mac> = sc
        .nics
        .iter()
        .enumerate()
        .map(|(i, _)| nic_mac(vnetsim_scenario::NicId(i as u32)))
        .collect();
    assert_eq!(macs.len(), sc.nics.len());
    assert!(macs.iter().all(|m| m[..3] == [0x00, 0x0d, 0x3a]));
}

/// Every dropped packet is on the `dropped` interface with a comment naming its reason, the
/// rule that dropped it and where it was last seen; nothing else has a comment.
#[test]
fn drops_carry_their_reason_and_rule() {
    let sc = hub_and_spoke(true);
    let (report, file) = capture(&sc, CaptureFilter::all());
    let (_, records) = read(&file);
    let dropped: Vec<&Record> = records
        .iter()
        .filter(|r| r.interface == "dropped")
        .collect();
    let total: u64 = report.conservation.dropped;
    assert_eq!(dropped.len() as u64, total, "every drop of the run");
    assert!(
        records
            .iter()
            .all(|r| r.comment.is_some() == (r.interface == "dropped"))
    );
    let ssh: Vec<&&Record> = dropped
        .iter()
        .filter(|r| wire::parse(&r.bytes).unwrap().key.dst_port == 22)
        .collect();
    // The SSH flow (100 ms at 50 pps) and the SSH probe.
    assert_eq!(ssh.len(), 5 + 1);
    let mut last_seen = BTreeMap::new();
    for r in ssh {
        let c = r.comment.as_deref().unwrap();
        assert!(c.contains("nsg-denied"), "{c}");
        assert!(c.contains("deny-ssh-from-spokes"), "{c}");
        let at = c.rsplit("; last seen at ").next().unwrap().to_string();
        *last_seen.entry(at).or_insert(0) += 1;
    }
    // The flow's packets leave the appliance and meet db1's subnet NSG; the probe is decided
    // whole at its sender.
    assert_eq!(
        last_seen,
        BTreeMap::from([
            ("nva1-nic out".to_string(), 5),
            ("web1-nic out".to_string(), 1)
        ])
    );
    let no_route = dropped
        .iter()
        .find(|r| r.comment.as_deref().unwrap().contains("no-route"))
        .expect("batch1's probe to db1");
    assert!(
        no_route
            .comment
            .as_deref()
            .unwrap()
            .contains("batch1-nic out"),
        "{no_route:?}"
    );
}

/// A TCP flow is one connection on every interface it passes: SYN, SYN-ACK, then segments
/// whose sequence numbers follow each other by their length and whose acknowledgments never
/// go back and never pass what the other side sent; the last segments carry FIN. ICMP echo
/// requests count 1, 2, 3, ... and the answers echo them.
#[test]
fn connections_read_as_real_ones() {
    let sc = hub_and_spoke(true);
    let (_, file) = capture(&sc, CaptureFilter::all());
    let (_, records) = read(&file);
    // (interface, 5-tuple) -> the segments, in file order.
    let mut tcp: BTreeMap<(String, wire::FlowKey), Vec<Segment>> = BTreeMap::new();
    let mut echo: BTreeMap<(String, wire::FlowKey), Vec<(u8, u32)>> = BTreeMap::new();
    for r in records.iter().filter(|r| r.interface != "dropped") {
        let m = wire::parse(&r.bytes).expect("a valid packet");
        let key = (r.interface.clone(), m.key);
        if m.key.protocol == wire::PROTO_TCP {
            let ack = u32::from_be_bytes(r.bytes[28..32].try_into().unwrap());
            let len = wire::tcp_segment_len(&r.bytes).unwrap();
            tcp.entry(key)
                .or_default()
                .push((m.seq, ack, m.tcp_flags, len));
        } else if m.key.protocol == wire::PROTO_ICMP {
            echo.entry(key)
                .or_default()
                .push((m.icmp_type.unwrap(), m.seq));
        }
    }
    let flow_segments = |iface: &str, dst_port: u16| {
        tcp.iter()
            .find(|((i, k), _)| i == iface && k.dst_port == dst_port)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{iface} port {dst_port}: {:?}", tcp.keys()))
    };
    let answer_segments = |iface: &str, src_port: u16| {
        tcp.iter()
            .find(|((i, k), v)| i == iface && k.src_port == src_port && v.len() > 1)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{iface} answers from {src_port}: {:?}", tcp.keys()))
    };
    // web-db: 40 packets, each answered.
    for iface in ["web1-nic out", "nva1-nic in", "nva1-nic out", "db1-nic in"] {
        let segs = flow_segments(iface, 1433);
        assert_eq!(segs.len(), 40, "{iface}");
        assert_eq!(segs[0].2, TCP_SYN, "{iface}: the first is the SYN");
        assert_eq!(
            segs[39].2,
            TCP_ACK | TCP_FIN,
            "{iface}: the last carries FIN"
        );
        for w in segs.windows(2) {
            assert_eq!(w[1].0, w[0].0.wrapping_add(w[0].3), "{iface}: {w:?}");
            assert_eq!(w[1].2 & TCP_ACK, TCP_ACK, "{iface}: after the SYN, ACKs");
            assert!(
                w[1].1.wrapping_sub(w[0].1) < 1 << 31,
                "{iface}: acks never go back"
            );
        }
    }
    for iface in ["db1-nic out", "nva1-nic in", "nva1-nic out", "web1-nic in"] {
        let segs = answer_segments(iface, 1433);
        assert_eq!(segs.len(), 40, "{iface}");
        assert_eq!(segs[0].2, TCP_SYN | TCP_ACK, "{iface}: the SYN-ACK first");
        assert_eq!(segs[39].2, TCP_ACK | TCP_FIN, "{iface}: the answer to FIN");
        let client = flow_segments("web1-nic out", 1433);
        for (k, w) in segs.windows(2).enumerate() {
            assert_eq!(w[1].0, w[0].0.wrapping_add(w[0].3), "{iface}: {w:?}");
            // Each answer acknowledges the segment it answers, whole.
            let asked = client[k + 1];
            assert_eq!(w[1].1, asked.0.wrapping_add(asked.3), "{iface}");
        }
        assert_eq!(segs[0].1, client[0].0.wrapping_add(client[0].3));
    }
    // The SSH flow is never answered (db1's NSG denies it): its source sends its SYN again
    // and again, as a client does, and never data.
    let ssh: Vec<Segment> = tcp
        .iter()
        .filter(|((i, k), _)| i == "web1-nic out" && k.dst_port == 22)
        .flat_map(|(_, v)| v.clone())
        .collect();
    assert_eq!(ssh.len(), 5 + 1, "the flow's five packets and the probe");
    assert!(ssh.iter().all(|s| s.2 == TCP_SYN), "{ssh:?}");
    // What the client acknowledges is what it has received of the answers, never more.
    let sent = flow_segments("web1-nic out", 1433);
    let answers = answer_segments("db1-nic out", 1433);
    let answers_end: BTreeSet<u32> = answers.iter().map(|a| a.0.wrapping_add(a.3)).collect();
    for s in &sent[1..] {
        let isn_s = answers[0].0;
        assert!(
            s.1 == isn_s || answers_end.contains(&s.1),
            "ack {} is the end of an answer received: {answers_end:?}",
            s.1
        );
    }
    // db-ping: 20 requests numbered 1..=20, answers echo them, on every hop.
    for (iface, kind) in [
        ("db1-nic out", 8),
        ("web1-nic in", 8),
        ("web1-nic out", 0),
        ("db1-nic in", 0),
    ] {
        let seqs: Vec<u32> = echo
            .iter()
            // The flow's echoes, not the lone probe's.
            .filter(|((i, _), v)| i == iface && v.len() > 1 && v[0].0 == kind)
            .flat_map(|(_, v)| v.iter().map(|e| e.1))
            .collect();
        assert_eq!(seqs, (1..=20).collect::<Vec<u32>>(), "{iface} type {kind}");
    }
}

/// A filter keeps a flow's packets at every hop (its answers too), or everything on a VM's or
/// NIC's interfaces; an unknown name is refused with the nearest name.
#[test]
fn the_filter_keeps_what_it_names() {
    let sc = hub_and_spoke(true);
    let flow = CaptureFilter::parse(&sc, &["web-db"]).unwrap();
    let (_, file) = capture(&sc, flow);
    let (names, records) = read(&file);
    assert_eq!(
        records.len(),
        40 * 4 * 2,
        "40 packets and 40 answers, 4 hops each"
    );
    assert!(records.iter().all(|r| {
        let k = wire::parse(&r.bytes).unwrap().key;
        k.dst_port == 1433 || k.src_port == 1433
    }));
    assert!(names.contains(&"nva1-nic out".to_string()));

    let vm = CaptureFilter::parse(&sc, &["nva1"]).unwrap();
    let (_, file) = capture(&sc, vm);
    let (names, records) = read(&file);
    assert_eq!(
        set(&names.iter().map(String::as_str).collect::<Vec<_>>()),
        set(&["nva1-nic in", "nva1-nic out", "dropped"])
    );
    // What passes the appliance, and what is dropped after leaving it.
    assert!(records.iter().any(|r| r.interface == "nva1-nic in"));
    assert!(
        records
            .iter()
            .filter(|r| r.interface == "dropped")
            .all(|r| r
                .comment
                .as_deref()
                .unwrap()
                .ends_with("last seen at nva1-nic out"))
    );

    let both = CaptureFilter::parse(&sc, &["dns1-nic,db-ping"]).unwrap();
    assert_eq!(
        both,
        CaptureFilter::parse(&sc, &["dns1-nic", "db-ping"]).unwrap()
    );
    let (_, file) = capture(&sc, both);
    let (_, records) = read(&file);
    assert!(records.iter().any(|r| r.interface == "dns1-nic in"));
    assert!(records.iter().all(|r| r.interface == "dns1-nic in"
        || wire::parse(&r.bytes).unwrap().key.protocol == wire::PROTO_ICMP));

    let err = CaptureFilter::parse(&sc, &["web-dbb"]).unwrap_err();
    assert!(
        err.contains("`web-dbb`") && err.contains("did you mean `web-db`"),
        "{err}"
    );
    assert!(
        CaptureFilter::parse(&sc, &["web1,"]).is_err(),
        "an empty name"
    );
    assert!(
        CaptureFilter::parse(&sc, &["zzzz"])
            .unwrap_err()
            .ends_with("`zzzz`")
    );
}

/// A capture changes nothing in the report, and the same run writes the same bytes.
#[test]
fn a_capture_changes_nothing_and_repeats() {
    let sc = hub_and_spoke(true);
    let plain = Engine::new(&sc, Options::default()).run();
    let (captured, file) = capture(&sc, CaptureFilter::all());
    assert_eq!(
        serde_json::to_string(&plain).unwrap(),
        serde_json::to_string(&captured).unwrap()
    );
    assert_eq!(file, capture(&sc, CaptureFilter::all()).1);
    let (_, records) = read(&file);
    assert!(records.iter().all(|r| r.at_ns <= 1_000_000_000));
}

/// A flow faster than its round trip: its source sends the SYN again until the SYN-ACK comes
/// back (the server answers each SYN with the same SYN-ACK), then data that starts right
/// after the SYN's payload, with no gap; the server's data starts after its SYN-ACK's.
#[test]
fn syns_repeat_until_the_connection_is_established() {
    let sc = common::hub_and_spoke_with(
        "traffic:\n  - { name: fast, from: web1, to: db1, protocol: tcp, dst_port: 1433, \
         rate: 100000pps, packet_size: 100, start: 0s, duration: 1ms, reply: true }\n",
    );
    let (report, file) = capture(&sc, CaptureFilter::all());
    assert_eq!(
        report.conservation.dropped, 3,
        "the three dropped probes only"
    );
    let (_, records) = read(&file);
    let segments = |iface: &str, src_port: Option<u16>| -> Vec<Segment> {
        records
            .iter()
            .filter(|r| r.interface == iface)
            .filter_map(|r| {
                let m = wire::parse(&r.bytes).ok()?;
                let ours = match src_port {
                    Some(p) => m.key.src_port == p,
                    None => m.key.dst_port == 1433 && m.key.src_port != 49152,
                };
                (m.key.protocol == wire::PROTO_TCP && ours).then(|| {
                    let ack = u32::from_be_bytes(r.bytes[28..32].try_into().unwrap());
                    (
                        m.seq,
                        ack,
                        m.tcp_flags,
                        wire::tcp_segment_len(&r.bytes).unwrap(),
                    )
                })
            })
            .collect()
    };
    let sent = segments("web1-nic out", None);
    assert_eq!(sent.len(), 100);
    let syns = sent.iter().take_while(|s| s.2 == TCP_SYN).count();
    assert!(
        syns > 1 && syns < 20,
        "{syns} SYNs before the SYN-ACK came back"
    );
    assert!(
        sent[..syns].iter().all(|s| s.0 == sent[0].0),
        "the same SYN again"
    );
    assert_eq!(
        sent[syns].0,
        sent[0].0.wrapping_add(sent[0].3),
        "data after the SYN"
    );
    for w in sent[syns..].windows(2) {
        assert_eq!(w[1].0, w[0].0.wrapping_add(w[0].3), "{w:?}");
        assert!(w[1].2 & TCP_SYN == 0);
    }
    assert_eq!(sent[99].2, TCP_ACK | TCP_FIN);
    let answers = segments("db1-nic out", Some(1433));
    assert_eq!(answers.len(), 100);
    let syn_acks = answers
        .iter()
        .take_while(|s| s.2 == TCP_SYN | TCP_ACK)
        .count();
    assert_eq!(syn_acks, syns, "one SYN-ACK per SYN");
    assert!(answers[..syns].iter().all(|s| s.0 == answers[0].0));
    assert_eq!(answers[syns].0, answers[0].0.wrapping_add(answers[0].3));
    for w in answers[syns..].windows(2) {
        assert_eq!(w[1].0, w[0].0.wrapping_add(w[0].3), "{w:?}");
    }
    // The first data segment acknowledges the SYN-ACK, no more.
    assert_eq!(sent[syns].1, answers[0].0.wrapping_add(answers[0].3));
}
