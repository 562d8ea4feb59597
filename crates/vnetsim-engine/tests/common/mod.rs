//! What the capture tests share: `scenarios/hub-and-spoke.yaml`, alone or with traffic through
//! its appliance, replayed into a pcapng capture.

#![allow(dead_code)]

use std::path::PathBuf;

use vnetsim_engine::pcap::{CaptureFilter, PcapCapture};
use vnetsim_engine::{Engine, Options, Report};
use vnetsim_scenario::Scenario;

/// Traffic added to hub-and-spoke: a TCP flow with answers through the appliance (web1 to
/// db1), an ICMP echo flow with answers (db1 to web1), and a TCP flow its NSG denies (SSH).
pub const TRAFFIC: &str = r#"
traffic:
  - { name: web-db, from: web1, to: db1, protocol: tcp, dst_port: 1433, rate: 200pps, packet_size: 500, start: 0s, duration: 200ms, reply: true }
  - { name: db-ping, from: db1, to: web1, protocol: icmp, rate: 100pps, packet_size: 84, start: 1ms, duration: 200ms, reply: true }
  - { name: web-ssh, from: web1, to: db1, protocol: tcp, dst_port: 22, rate: 50pps, packet_size: 100, start: 2ms, duration: 100ms }
"#;

/// The text of `scenarios/hub-and-spoke.yaml`.
pub fn hub_and_spoke_text() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/hub-and-spoke.yaml");
    std::fs::read_to_string(path).expect("hub-and-spoke.yaml")
}

/// hub-and-spoke, with [`TRAFFIC`] when `traffic` (and a bandwidth for dns1, which traffic
/// needs).
pub fn hub_and_spoke(traffic: bool) -> Scenario {
    if traffic {
        hub_and_spoke_with(TRAFFIC)
    } else {
        load(hub_and_spoke_text())
    }
}

/// hub-and-spoke with `traffic` (a `traffic:` section) and a bandwidth for dns1, which Azure
/// does not publish for its B-series size and a run with traffic needs.
pub fn hub_and_spoke_with(traffic: &str) -> Scenario {
    let mut text = hub_and_spoke_text().replacen(
        "size: Standard_B2s\n",
        "size: Standard_B2s\n    bandwidth: 1Gbps\n",
        1,
    );
    assert!(text.contains("bandwidth: 1Gbps"), "dns1's size moved");
    text.push_str(traffic);
    load(text)
}

fn load(text: String) -> Scenario {
    vnetsim_scenario::load_str(&text, "hub-and-spoke.yaml")
        .unwrap_or_else(|e| panic!("{}", e.render(false)))
}

/// The replay's report and its pcapng capture (filtered by `filter`).
pub fn capture(sc: &Scenario, filter: CaptureFilter) -> (Report, Vec<u8>) {
    let mut capture = PcapCapture::pcapng(Vec::new(), sc)
        .expect("a vector takes the header")
        .with_filter(filter);
    let report = Engine::new(sc, Options::default())
        .with_capture(&mut capture)
        .run();
    let (_, bytes) = capture.finish_into().expect("nothing failed");
    (report, bytes)
}
