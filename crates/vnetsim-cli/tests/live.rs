//! `vnetsim live` end to end: the binary binds its loopback ports, writes the port map,
//! forwards a real packet, stops after `--duration` and writes its report. Bounded in time.

use std::net::{Ipv4Addr, UdpSocket};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
use pcap_file::pcapng::{Block, PcapNgReader};
use serde_json::Value;
use vnetsim_dataplane::wire::{PacketSpec, build_probe};
use vnetsim_scenario::Protocol;

fn scenario(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios")
        .join(name)
}

fn read_json(path: &std::path::Path, within: Duration) -> Option<Value> {
    let until = Instant::now() + within;
    while Instant::now() < until {
        if let Ok(text) = std::fs::read_to_string(path)
            && let Ok(v) = serde_json::from_str(&text)
        {
            return Some(v);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn live_forwards_a_packet_and_reports_on_exit() {
    let dir = tempfile::tempdir().unwrap();
    let (ports, report, pcap) = (
        dir.path().join("ports.json"),
        dir.path().join("report.json"),
        dir.path().join("live.pcapng"),
    );
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("vnetsim"))
        .arg("live")
        .arg(scenario("basic-peering.yaml"))
        .args(["--base-port", "0", "--duration", "1500ms", "--stats"])
        .arg("--port-map")
        .arg(&ports)
        .arg("--report")
        .arg(&report)
        .arg("--pcap")
        .arg(&pcap)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let map = read_json(&ports, Duration::from_secs(10));
    let port = |vm: &str| -> Option<u16> {
        map.as_ref()?["nics"]
            .as_array()?
            .iter()
            .find(|e| e["vm"] == vm)?["port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
    };
    let (Some(a), Some(b)) = (port("vm-a"), port("vm-b")) else {
        let _ = child.kill();
        panic!("no port map within 10 s");
    };
    let vm_b = UdpSocket::bind("127.0.0.1:0").unwrap();
    vm_b.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    vm_b.send_to(&[], ("127.0.0.1", b)).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let spec = PacketSpec {
        src: Ipv4Addr::new(10, 10, 0, 4),
        dst: Ipv4Addr::new(10, 20, 0, 4),
        protocol: Protocol::Icmp,
        src_port: 1,
        dst_port: 0,
        ttl: 64,
        total_len: 84,
        identification: 1,
    };
    let mut packet = [0u8; 84];
    build_probe(&mut packet, &spec).unwrap();
    let vm_a = UdpSocket::bind("127.0.0.1:0").unwrap();
    vm_a.send_to(&packet, ("127.0.0.1", a)).unwrap();
    let mut buf = [0u8; 200];
    let got = vm_b.recv_from(&mut buf);

    let until = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > until {
            let _ = child.kill();
            panic!("vnetsim live did not stop after --duration");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(status.success(), "{stdout}");
    let (n, _) = got.expect("the ping is delivered to vm-b's program");
    assert_eq!(&buf[..n], &packet[..]);
    assert!(stdout.contains("vm-a-nic"), "{stdout}");
    assert!(
        stdout.contains("sent 1  delivered 1  dropped 0"),
        "{stdout}"
    );
    let report = read_json(&report, Duration::from_secs(1)).expect("the report");
    assert_eq!(report["format"], "vnetsim-live-report/1");
    assert_eq!(report["conservation"]["delivered"], 1);
    // pcapng, as `run` writes it: the packet as it left vm-a and as it reached vm-b, each on
    // its own named interface, in an Ethernet frame.
    let capture = std::fs::read(&pcap).unwrap();
    let mut reader = PcapNgReader::new(&capture[..]).expect("a pcapng file");
    let (mut names, mut seen) = (Vec::new(), Vec::new());
    while let Some(block) = reader.next_block() {
        match block.expect("a valid block") {
            Block::InterfaceDescription(idb) => names.push(
                idb.options
                    .iter()
                    .find_map(|o| match o {
                        InterfaceDescriptionOption::IfName(n) => Some(n.to_string()),
                        _ => None,
                    })
                    .expect("named"),
            ),
            Block::EnhancedPacket(p) => {
                // An Ethernet frame of IPv4, the packet unchanged after its header.
                assert_eq!(&p.data[12..14], &[0x08, 0x00]);
                assert_eq!(&p.data[14..], &packet[..]);
                seen.push(names[p.interface_id as usize].clone());
            }
            _ => {}
        }
    }
    assert_eq!(seen, ["vm-a-nic out", "vm-b-nic in"], "{names:?}");
}

#[test]
fn live_refuses_a_bad_duration_and_a_bad_scenario() {
    let out = Command::new(assert_cmd::cargo::cargo_bin("vnetsim"))
        .arg("live")
        .arg(scenario("basic-peering.yaml"))
        .args(["--duration", "soon"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--duration soon"));
    let out = Command::new(assert_cmd::cargo::cargo_bin("vnetsim"))
        .arg("live")
        .arg(scenario("no-such-file.yaml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
