//! End-to-end tests of `vnetsim matrix`: its verdicts agree with the scenarios' `expect:` probes
//! and with `vnetsim explain` on the same pairs; exit codes, selection, `--at`, CSV, speed.

mod common;

use std::time::Instant;

use common::{json_of, scenario, vnetsim};
use serde_json::Value;
use vnetsim_scenario::{Endpoint, Expectation, ExpectedVerdict, Protocol, Scenario};

fn protocol_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Icmp => "icmp",
    }
}

/// `vnetsim matrix FILE ARGS --format json`, checked to exit 0.
fn matrix_json(file: &std::path::Path, args: &[&str]) -> Value {
    let out = vnetsim()
        .arg("matrix")
        .arg(file)
        .args(args)
        .args(["--format", "json"])
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_of(&out.stdout);
    assert_eq!(v["format"], "vnetsim-matrix/1");
    v
}

/// `vnetsim explain ... --format json` for one pair.
fn explain_json(
    file: &std::path::Path,
    from: &str,
    to: &str,
    protocol: &str,
    port: u16,
    at: &str,
) -> Value {
    let out = vnetsim()
        .arg("explain")
        .arg(file)
        .args(["--from", from, "--to", to, "--protocol", protocol])
        .args([
            "--dst-port",
            &port.to_string(),
            "--at",
            at,
            "--format",
            "json",
        ])
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_of(&out.stdout)
}

/// The row of `from` -> `to` in a matrix's JSON.
fn row<'v>(m: &'v Value, from: &str, to: &str) -> &'v Value {
    m["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["source"] == from && r["destination"] == to)
        .unwrap_or_else(|| panic!("no row {from} -> {to}"))
}

/// The matrix's verdict, reason and path of a row equal explain's.
fn assert_same_as_explain(row: &Value, explain: &Value, what: &str) {
    assert_eq!(row["verdict"], explain["verdict"], "{what}");
    assert_eq!(row["reason"], explain["reason"], "{what}");
    assert_eq!(row["path"], explain["path"], "{what}");
}

/// Whether the matrix lists `e` under its own name as a sender (a VM by its primary NIC, a
/// host, an Internet host) or a receiver (also private endpoints).
fn matrix_name(sc: &Scenario, e: Endpoint, sender: bool) -> Option<String> {
    match e {
        Endpoint::Vm(_) | Endpoint::Host(_) => Some(sc.endpoint_name(e).to_string()),
        Endpoint::Ip(ip) if sc.internet_hosts.iter().any(|h| h.ip == ip) => {
            Some(sc.endpoint_name(e).to_string())
        }
        Endpoint::Ip(ip) if !sender && sc.private_endpoint_at(ip).is_some() => {
            Some(sc.endpoint_name(e).to_string())
        }
        // A VM's primary NIC is the VM; any other NIC or bare address is not in the matrix.
        Endpoint::Nic(nic) => {
            let vm = sc.nics[nic.index()].vm;
            (sc.vms[vm.index()].nics.first() == Some(&nic))
                .then(|| sc.vms[vm.index()].name.to_string())
        }
        Endpoint::Ip(_) => None,
    }
}

/// For every `expect:` probe of `file` whose ends are in the matrix: the matrix, asked for that
/// protocol, port and time, gives the expected verdict, reason and path, and the same as
/// `vnetsim explain`. Returns how many probes were checked.
fn check_expect_probes(name: &str) -> usize {
    let file = scenario(name);
    let sc = vnetsim_scenario::load_file(&file).expect("loads");
    let mut checked = 0;
    for e in &sc.expectations {
        let Expectation::Probe {
            probe,
            verdict,
            reason,
            path,
            ..
        } = e
        else {
            continue;
        };
        let (Some(from), Some(to)) = (
            matrix_name(&sc, probe.from, true),
            matrix_name(&sc, probe.to, false),
        ) else {
            continue;
        };
        // The matrix, as explain, sends from port 49152 (ICMP has no ports).
        if probe.protocol != Protocol::Icmp && probe.src_port != 49152 {
            continue;
        }
        let protocol = protocol_name(probe.protocol);
        let port = probe.dst_port.to_string();
        let at = format!("{}ns", probe.at);
        let m = matrix_json(
            &file,
            &[
                "--protocol",
                protocol,
                "--ports",
                &port,
                "--at",
                &at,
                "--from",
                &from,
                "--to",
                &to,
            ],
        );
        let r = row(&m, &from, &to);
        let what = format!("{name}: {from} -> {to} {protocol} {port} at {at}");
        match verdict {
            Some(ExpectedVerdict::Delivered) => assert_eq!(r["verdict"], "delivered", "{what}"),
            Some(ExpectedVerdict::Dropped) => assert_eq!(r["verdict"], "dropped", "{what}"),
            None => {}
        }
        if let Some(reason) = reason {
            assert_eq!(r["reason"], reason.as_str(), "{what}");
        }
        if let Some(path) = path {
            assert_eq!(r["path"], serde_json::json!(path), "{what}");
        }
        let explain = explain_json(&file, &from, &to, protocol, probe.dst_port, &at);
        assert_same_as_explain(r, &explain, &what);
        checked += 1;
    }
    checked
}

#[test]
fn hub_firewall_matrix_agrees_with_its_expect_probes_and_explain() {
    assert_eq!(check_expect_probes("hub-firewall.yaml"), 7);
}

#[test]
fn asg_tiers_matrix_agrees_with_its_expect_probes_and_explain() {
    // Probes from or to app1's management NIC are not in the matrix (primary NICs only).
    assert!(check_expect_probes("asg-tiers.yaml") >= 6);
}

#[test]
fn private_endpoint_bypass_matrix_agrees_with_its_expect_probes_and_explain() {
    assert_eq!(check_expect_probes("private-endpoint-bypass.yaml"), 6);
}

/// The matrix example: every expectation is a cell of the matrix.
#[test]
fn matrix_segments_matrix_agrees_with_its_expect_probes_and_explain() {
    assert_eq!(check_expect_probes("matrix-segments.yaml"), 9);
}

#[test]
fn peering_removed_matrix_follows_timed_events_as_explain_at() {
    let file = scenario("peering-removed.yaml");
    assert!(check_expect_probes("peering-removed.yaml") >= 2);
    // Before the peering is removed, delivered; after, dropped; as explain --at says.
    let before = matrix_json(&file, &["--protocol", "icmp", "--at", "100ms"]);
    let after = matrix_json(&file, &["--protocol", "icmp", "--at", "600ms"]);
    assert_eq!(row(&before, "vm-a", "vm-b")["verdict"], "delivered");
    assert_eq!(row(&after, "vm-a", "vm-b")["verdict"], "dropped");
}

/// Every row of a whole matrix (every pair, two ports) is what `vnetsim explain` says of it.
#[test]
fn every_row_of_the_hub_firewall_matrix_is_what_explain_says() {
    let file = scenario("hub-firewall.yaml");
    let m = matrix_json(&file, &["--ports", "22,1433"]);
    let rows = m["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 5 * 4 * 2, "5 senders, 4 others each, 2 ports");
    for r in rows {
        let (from, to) = (
            r["source"].as_str().unwrap(),
            r["destination"].as_str().unwrap(),
        );
        let port = r["port"].as_u64().unwrap() as u16;
        let explain = explain_json(&file, from, to, "tcp", port, "0s");
        assert_same_as_explain(r, &explain, &format!("{from} -> {to} {port}"));
    }
}

#[test]
fn matrix_exits_zero_with_drops_and_two_on_bad_input() {
    let file = scenario("hub-firewall.yaml");
    let out = vnetsim().arg("matrix").arg(&file).output().expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("dropped"), "{text}");
    assert!(text.contains("source group"), "{text}");
    for (args, needle) in [
        (&["--from", "no-such-vm"][..], "--from no-such-vm"),
        (&["--to", "web"], "did you mean `web1`"),
        (&["--protocol", "sctp"], "--protocol sctp"),
        (&["--at", "soon"], "--at soon"),
        (&["--ports", "http"], "http"),
    ] {
        let out = vnetsim()
            .arg("matrix")
            .arg(&file)
            .args(args)
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

/// `--from`/`--to` by VNet, subnet and `Internet` keep exactly those endpoints.
#[test]
fn groups_select_senders_and_receivers() {
    let file = scenario("hub-firewall.yaml");
    let m = matrix_json(
        &file,
        &[
            "--from",
            "spoke1,spoke2/data",
            "--to",
            "Internet",
            "--ports",
            "443",
        ],
    );
    let sources: Vec<&str> = m["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["web1", "db2"]);
    assert!(
        m["destinations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["kind"] == "internet")
    );
    assert_eq!(
        row(&m, "web1", "updates")["rule"],
        "hub-fw/contoso-downloads"
    );
}

#[test]
fn csv_has_the_documented_header() {
    let out = vnetsim()
        .arg("matrix")
        .arg(scenario("asg-tiers.yaml"))
        .args(["--format", "csv", "--ports", "8080", "--from", "web1"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("source,destination,protocol,port,verdict,reason,rule,path")
    );
    assert!(
        lines.any(|l| l == "web1,app1,tcp,8080,delivered,,tiers/web-to-app,web1 > app1"),
        "{text}"
    );
}

/// A generated network of 100 VMs in 20 spokes, 4 ports: 39,600 decisions, every one counted,
/// well within a debug build's budget (the README gives the release figure for 1,000 VMs).
#[test]
fn a_generated_network_of_100_vms_is_decided_whole() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("hs.yaml");
    let gen_out = vnetsim()
        .args([
            "generate",
            "hub-spoke",
            "--spokes",
            "20",
            "--vms-per-spoke",
            "5",
        ])
        .args(["--flows", "10", "-o"])
        .arg(&file)
        .output()
        .expect("generates");
    assert_eq!(gen_out.status.code(), Some(0));
    let started = Instant::now();
    let m = matrix_json(&file, &["--ports", "22,80,443,1433"]);
    let elapsed = started.elapsed();
    // 100 VMs and the hub's appliance: 101 endpoints, each to the 100 others, 4 ports.
    let n = m["sources"].as_array().unwrap().len() as u64;
    assert_eq!(n, 101);
    assert_eq!(m["totals"]["decisions"], n * (n - 1) * 4);
    assert_eq!(m["rows"].as_array().unwrap().len() as u64, n * (n - 1) * 4);
    assert!(elapsed.as_secs() < 60, "{elapsed:?}");
}

/// A load balancer frontend is a destination only, named `lb/frontend`; each row to it is what
/// `vnetsim explain --to FRONTEND_IP` says (the backend the hash picks, through the balancer).
#[test]
fn load_balancer_frontend_rows_are_what_explain_says() {
    let file = scenario("nva-ha-ports.yaml");
    let m = matrix_json(&file, &["--ports", "1433", "--to", "hub-ilb"]);
    let dest = &m["destinations"][0];
    assert_eq!(dest["name"], "hub-ilb/fe");
    assert_eq!(dest["kind"], "lb-frontend");
    assert!(
        m["sources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["kind"] != "lb-frontend")
    );
    let ip = dest["ip"].as_str().unwrap();
    let rows = m["rows"].as_array().unwrap();
    assert!(!rows.is_empty());
    for r in rows {
        let from = r["source"].as_str().unwrap();
        let explain = explain_json(&file, from, ip, "tcp", 1433, "0s");
        assert_same_as_explain(r, &explain, &format!("{from} -> hub-ilb/fe"));
        if from.starts_with("nva") {
            // The NVAs are its backends: they cannot reach their own internal frontend.
            assert_eq!(r["reason"], "lb-own-frontend", "{r:#}");
        } else {
            assert!(r["path"].as_array().unwrap().iter().any(|h| h == "hub-ilb"));
        }
    }
}

/// `vnetsim matrix ... --format csv | head -1`: once the reader is gone the matrix stops
/// deciding, quietly, and exits 0 (a closed pipe is the reader's choice).
#[test]
fn csv_stops_when_the_reader_goes_away() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("gen.yaml");
    let generate = vnetsim()
        .args([
            "generate",
            "hub-spoke",
            "--spokes",
            "10",
            "--vms-per-spoke",
            "30",
        ])
        .args(["--flows", "1", "-o"])
        .arg(&file)
        .output()
        .expect("runs");
    assert!(generate.status.success());
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("vnetsim"))
        .arg("matrix")
        .arg(&file)
        .args(["--format", "csv"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("starts");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("piped"))
        .read_line(&mut first)
        .expect("a line");
    assert!(first.starts_with("source,destination"), "{first}");
    // The reader is dropped here: the next chunk meets a closed pipe.
    let started = std::time::Instant::now();
    let status = child.wait().expect("exits");
    assert!(status.success(), "{status:?}");
    assert!(started.elapsed().as_secs() < 30, "{:?}", started.elapsed());
}
