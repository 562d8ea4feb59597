//! End-to-end tests of the `vnetsim` binary: exit codes, text and JSON outputs.

mod common;

use std::path::PathBuf;

use common::{generate_hub_spoke, json_of, scenario, vnetsim};
use serde_json::Value;

fn write_temp(text: &str) -> tempfile::NamedTempFile {
    let file = tempfile::Builder::new()
        .suffix(".yaml")
        .tempfile()
        .expect("temp file");
    std::fs::write(file.path(), text).expect("write");
    file
}

#[test]
fn every_example_scenario_runs_and_its_expectations_hold() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    let mut count = 0;
    for entry in std::fs::read_dir(dir).expect("scenarios dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let out = vnetsim().arg("run").arg(&path).output().expect("runs");
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert_eq!(
                out.status.code(),
                Some(0),
                "{}:\n{stdout}{}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
            count += 1;
        }
    }
    assert!(count >= 13, "only {count} example scenarios");
}

#[test]
fn run_without_a_file_runs_the_bundled_default() {
    let out = vnetsim().arg("run").output().expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("hub-and-spoke"), "{stdout}");
    assert!(stdout.contains("web1 > nva1 > db1"), "{stdout}");
}

#[test]
fn validate_accepts_a_valid_file() {
    let out = vnetsim()
        .arg("validate")
        .arg(scenario("gateway-transit.yaml"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("valid scenario 'gateway-transit'"));
}

#[test]
fn validate_refuses_overlapping_peered_vnets_with_file_line_and_rule() {
    let file = write_temp(
        "name: overlap\n\
         vnets:\n\
         \x20 - { name: a, address_space: [10.0.0.0/16], subnets: [] }\n\
         \x20 - { name: b, address_space: [10.0.0.0/16], subnets: [] }\n\
         peerings:\n\
         \x20 - { name: a-to-b, from: a, to: b }\n",
    );
    let out = vnetsim()
        .arg("validate")
        .arg(file.path())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let name = file
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string();
    assert!(stderr.contains(&name), "{stderr}");
    assert!(stderr.contains("overlap"), "{stderr}");
}

#[test]
fn validate_json_of_a_valid_file_is_tagged_and_has_no_diagnostics() {
    let file = scenario("gateway-transit.yaml");
    let out = vnetsim()
        .args(["validate", "--format", "json"])
        .arg(&file)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let json = json_of(&out.stdout);
    assert_eq!(json["format"], "vnetsim-validate/1");
    assert_eq!(json["file"], file.display().to_string());
    assert_eq!(json["valid"], true);
    assert_eq!(json["diagnostics"], Value::Array(Vec::new()));
}

#[test]
fn validate_json_lists_every_problem_as_data_and_exits_2() {
    let file = write_temp(
        "name: two-problems\n\
         vnets:\n\
         \x20 - { name: a, address_space: [10.0.0.0/16], subnets: [] }\n\
         \x20 - { name: b, address_space: [10.0.0.0/16], subnets: [] }\n\
         peerings:\n\
         \x20 - { name: a-to-b, from: a, to: b }\n\
         \x20 - { name: b-to-x, from: b, to: x }\n",
    );
    let out = vnetsim()
        .args(["validate", "--format", "json"])
        .arg(file.path())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let json = json_of(&out.stdout);
    assert_eq!(json["format"], "vnetsim-validate/1");
    assert_eq!(json["valid"], false);
    let diagnostics = json["diagnostics"].as_array().expect("an array");
    assert_eq!(diagnostics.len(), 2, "{json:#}");
    let shown = file.path().display().to_string();
    let rules: Vec<&str> = diagnostics
        .iter()
        .map(|d| d["rule"].as_str().expect("a rule code"))
        .collect();
    assert_eq!(rules, ["peering-address-overlap", "unknown-vnet"]);
    for (d, (line, path)) in diagnostics
        .iter()
        .zip([(6, "peerings[0].to"), (7, "peerings[1].to")])
    {
        assert_eq!(d["file"], shown.as_str());
        assert_eq!(d["line"], line, "{d:#}");
        assert!(d["column"].as_u64().is_some_and(|c| c > 0), "{d:#}");
        assert_eq!(d["path"], path);
        assert!(!d["message"].as_str().unwrap_or("").is_empty(), "{d:#}");
        assert!(d.get("help").is_some(), "{d:#}");
    }
    assert!(
        diagnostics[1]["message"]
            .as_str()
            .is_some_and(|m| m.contains("`x`"))
    );
}

#[test]
fn a_failed_expectation_exits_1_and_says_why() {
    let text = std::fs::read_to_string(scenario("one-sided-peering.yaml")).unwrap();
    let broken = text.replacen(
        "verdict: dropped\n    reason: no-route",
        "verdict: delivered",
        1,
    );
    assert_ne!(text, broken);
    let file = write_temp(&broken);
    let out = vnetsim()
        .arg("run")
        .arg(file.path())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let flat = flat(&stdout);
    assert!(
        flat.contains("expected delivered, got dropped (no-route)"),
        "{stdout}"
    );
    assert!(stdout.contains("1 passed, 1 failed"), "{stdout}");
    // Rendered like a loader diagnostic: file:line:column, the excerpt, the explain command.
    let line = broken
        .lines()
        .position(|l| l.contains("verdict: delivered"))
        .expect("the edited line");
    let probe_line = line; // 0-based index of the verdict line = 1-based line of the probe
    let at = format!("{}:{probe_line}:", file.path().display());
    assert!(stdout.contains(&at), "no {at} in {stdout}");
    assert!(stdout.contains("expectation-failed"), "{stdout}");
    let explain = flat
        .split('`')
        .find(|s| s.starts_with("vnetsim explain "))
        .unwrap_or_else(|| panic!("no explain command in {stdout}"))
        .to_string();
    // The command can be pasted as it is, and shows the drop.
    let args: Vec<&str> = explain.split(' ').skip(1).collect();
    let out = vnetsim().args(&args).output().expect("runs");
    assert_eq!(out.status.code(), Some(0), "{explain}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("no-route"),
        "{explain}: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Text with miette's wrapping undone: words joined by single spaces, gutters dropped.
fn flat(text: &str) -> String {
    text.split_whitespace()
        .filter(|w| *w != "│")
        .collect::<Vec<_>>()
        .join(" ")
        .replace("--src- port", "--src-port")
}

#[test]
fn a_timed_scenario_replays_and_two_runs_give_identical_reports() {
    let dir = tempfile::tempdir().unwrap();
    let mut reports = Vec::new();
    for i in 0..2 {
        let path = dir.path().join(format!("report{i}.json"));
        let out = vnetsim()
            .arg("run")
            .arg(scenario("peering-removed.yaml"))
            .arg("--report")
            .arg(&path)
            .output()
            .expect("runs");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        reports.push(std::fs::read(&path).unwrap());
    }
    assert_eq!(reports[0], reports[1]);
    let doc: Value = serde_json::from_slice(&reports[0]).unwrap();
    assert_eq!(doc["format"], "vnetsim-report/1");
    assert_eq!(doc["flows"][0]["dropped"]["no-route"], 3000);
    assert_eq!(doc["events"][0]["action"], "remove peering b-to-a");
}

#[test]
fn a_failed_flow_expectation_says_by_how_much() {
    let text = std::fs::read_to_string(scenario("vm-size-shaping.yaml")).unwrap();
    let broken = text.replacen(
        "throughput: \">= 900Mbps\"",
        "throughput: \">= 1.5Gbps\"",
        1,
    );
    assert_ne!(text, broken);
    let file = write_temp(&broken);
    let out = vnetsim()
        .arg("run")
        .arg(file.path())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let stdout = flat(&String::from_utf8_lossy(&out.stdout));
    assert!(stdout.contains("bulk: throughput is "), "{stdout}");
    assert!(
        stdout.contains("expected >= 1.50 Gbps (off by "),
        "{stdout}"
    );
    assert!(
        stdout.contains("vnetsim explain ") && stdout.contains("--from sender --to receiver"),
        "{stdout}"
    );
}

#[test]
fn pcap_and_plot_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("out.pcap");
    let plot = dir.path().join("plots");
    let out = vnetsim()
        .arg("run")
        .arg(scenario("peered-latency.yaml"))
        .arg("--pcap")
        .arg(&pcap)
        .arg("--plot")
        .arg(&plot)
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&pcap).unwrap();
    // pcapng by default: a section header block, little-endian, then the first interface's
    // description, link type 1 (Ethernet).
    assert_eq!(&bytes[..4], &0x0a0d_0d0a_u32.to_le_bytes());
    assert_eq!(&bytes[8..12], &0x1a2b_3c4d_u32.to_le_bytes());
    let section = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
    assert_eq!(&bytes[section..section + 4], &1_u32.to_le_bytes());
    assert_eq!(&bytes[section + 8..section + 10], &1_u16.to_le_bytes());
    // Classic pcap on request: nanosecond magic, link type 228 (raw IPv4).
    let classic = dir.path().join("classic.pcap");
    let out = vnetsim()
        .arg("run")
        .arg(scenario("peered-latency.yaml"))
        .arg("--pcap")
        .arg(&classic)
        .args(["--pcap-format", "pcap"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let bytes = std::fs::read(&classic).unwrap();
    assert_eq!(&bytes[..4], &0xa1b2_3c4d_u32.to_le_bytes());
    assert_eq!(u32::from_le_bytes(bytes[20..24].try_into().unwrap()), 228);
    let svg = std::fs::read_to_string(plot.join("latency-cdf.svg")).unwrap();
    assert!(svg.contains("<svg"));
    // One curve per flow that delivered, named in the legend.
    assert!(
        svg.contains("ping-local") && svg.contains("ping-peer"),
        "{svg}"
    );
}

#[test]
fn bench_reports_packets_per_wall_second() {
    let out = vnetsim()
        .args(["bench"])
        .arg(scenario("vm-size-shaping.yaml"))
        .args(["--format", "json"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let b = json_of(&out.stdout);
    assert_eq!(b["format"], "vnetsim-bench/1");
    assert!(b["simulated_packets"].as_u64().unwrap() > 30_000);
    assert!(b["wall_seconds"].as_f64().unwrap() > 0.0);
    assert!(b["packets_per_wall_second"].as_f64().unwrap() > 0.0);
    // The phases add up to the whole, and the event loop alone is at least as fast.
    let phases: f64 = ["set_up_seconds", "event_loop_seconds", "report_seconds"]
        .iter()
        .map(|k| b[*k].as_f64().unwrap())
        .sum();
    let wall = b["wall_seconds"].as_f64().unwrap();
    assert!((phases - wall).abs() < 1e-6, "{phases} vs {wall}");
    assert!(
        b["event_loop_packets_per_second"].as_f64().unwrap()
            >= b["packets_per_wall_second"].as_f64().unwrap()
    );
}

#[test]
fn explain_at_a_time_sees_the_network_after_the_events_before_it() {
    let run = |at: &str| {
        let out = vnetsim()
            .args(["explain"])
            .arg(scenario("peering-removed.yaml"))
            .args([
                "--from", "vm-a", "--to", "vm-b", "--at", at, "--format", "json",
            ])
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(0));
        json_of(&out.stdout)
    };
    assert_eq!(run("100ms")["verdict"], "delivered");
    assert_eq!(run("600ms")["reason"], "no-route");
    assert_eq!(run("900ms")["verdict"], "delivered");
}

/// `explain` refuses a sender that cannot send with the rule it breaks, through the harness's
/// own check (so the library and Python refuse it the same way).
#[test]
fn explain_refuses_a_private_endpoint_as_sender() {
    let out = vnetsim()
        .args(["explain"])
        .arg(scenario("private-endpoint-bypass.yaml"))
        .args(["--from", "10.0.3.4", "--to", "web1", "--dst-port", "1433"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--from 10.0.3.4: private endpoint sql-pe never initiates traffic")
            && err.contains("[private-endpoint-sender]"),
        "{err}"
    );
}

#[test]
fn the_report_proves_conservation() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let out = vnetsim()
        .arg("run")
        .arg(scenario("hub-and-spoke.yaml"))
        .arg("--report")
        .arg(&report)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    let c = &doc["conservation"];
    let n = |k: &str| c[k].as_u64().unwrap();
    assert_eq!(n("sent"), n("delivered") + n("dropped") + n("in_flight"));
    assert_eq!(n("sent"), 6);
    assert_eq!(doc["drops_by_reason"]["forwarded-traffic-blocked"], 1);
}

#[test]
fn explain_shows_each_hop_with_route_and_nsg_rule() {
    let out = vnetsim()
        .args(["explain"])
        .arg(scenario("hub-and-spoke.yaml"))
        .args([
            "--from",
            "web1",
            "--to",
            "db1",
            "--protocol",
            "tcp",
            "--dst-port",
            "1433",
            "--format",
            "json",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let e = json_of(&out.stdout);
    assert_eq!(e["verdict"], "delivered");
    assert_eq!(e["path"], serde_json::json!(["web1", "nva1", "db1"]));
    let hops = e["hops"].as_array().unwrap();
    let routes: Vec<&Value> = hops.iter().filter(|h| h["kind"] == "route").collect();
    assert_eq!(routes.len(), 2);
    assert_eq!(routes[0]["route"]["prefix"], "10.2.0.0/16");
    assert_eq!(routes[0]["route"]["next_hop_type"], "VirtualAppliance");
    assert_eq!(routes[0]["route"]["next_hop_ip"], "10.0.1.4");
    assert_eq!(routes[0]["route"]["source"], "User");
    assert_eq!(routes[1]["route"]["next_hop_type"], "VNetPeering");
    let rules: Vec<&Value> = hops.iter().filter(|h| h["kind"] == "nsg").collect();
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0]["rule"]["rule"], "allow-spokes-out");
    assert_eq!(rules[0]["rule"]["direction"], "outbound");
    assert_eq!(rules[1]["rule"]["rule"], "allow-spokes-in");
    assert_eq!(rules[1]["rule"]["nsg"], "spoke-nsg");
}

/// [ip-168], [nsg-overview]: a packet to 168.63.129.16 is delivered to the platform past a
/// deny-all NSG rule and a 0.0.0.0/0 user route; the explanation says why neither applied.
#[test]
fn ip_168_explain_to_the_platform_address_shows_why_no_nsg_or_route_applied() {
    let out = vnetsim()
        .args(["explain"])
        .arg(scenario("platform-addresses.yaml"))
        .args([
            "--from",
            "web1",
            "--to",
            "168.63.129.16",
            "--protocol",
            "udp",
            "--dst-port",
            "53",
            "--format",
            "json",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let e = json_of(&out.stdout);
    assert_eq!(e["verdict"], "delivered");
    assert_eq!(e["delivered_to"], "168.63.129.16 (Azure platform)");
    let hops = e["hops"].as_array().unwrap();
    let kinds: Vec<&str> = hops.iter().map(|h| h["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["send", "platform", "deliver"]);
    let why = hops[1]["detail"].as_str().unwrap();
    assert!(why.contains("AzurePlatformDNS"), "{why}");
    assert!(why.contains("user-defined routes do not apply"), "{why}");
}

/// [service-tags] 2021+: `rules --vm` lists the current VirtualNetwork tag's prefixes as
/// written, the host's virtual IP and the subnet's user-route prefixes included.
#[test]
fn service_tags_2021_rules_list_the_virtual_network_tag_as_azure_does() {
    let out = vnetsim()
        .args(["rules"])
        .arg(scenario("hub-spoke-default-nsg-current.yaml"))
        .args(["--vm", "web1", "--format", "json"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let doc = json_of(&out.stdout);
    assert_eq!(doc["format"], "vnetsim-rules/1");
    let nics = &doc["nics"];
    assert_eq!(
        nics[0]["virtual_network_tag"],
        serde_json::json!([
            "10.1.0.0/16",
            "10.0.0.0/16",
            "168.63.129.16/32",
            "10.2.0.0/16"
        ])
    );
    let out = vnetsim()
        .args(["rules"])
        .arg(scenario("hub-spoke-default-nsg-2016.yaml"))
        .args(["--vm", "web1", "--format", "json"])
        .output()
        .expect("runs");
    let doc = json_of(&out.stdout);
    assert_eq!(doc["format"], "vnetsim-rules/1");
    let nics = &doc["nics"];
    assert_eq!(
        nics[0]["virtual_network_tag"],
        serde_json::json!(["10.1.0.0/16", "10.0.0.0/16"])
    );
}

#[test]
fn explain_text_names_the_peering_switch_behind_a_drop() {
    let out = vnetsim()
        .args(["explain"])
        .arg(scenario("hub-and-spoke.yaml"))
        .args([
            "--from",
            "web1",
            "--to",
            "batch1",
            "--protocol",
            "tcp",
            "--dst-port",
            "443",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("spoke3-to-hub does not set allow_forwarded_traffic"),
        "{stdout}"
    );
    assert!(
        stdout.contains("verdict: dropped (forwarded-traffic-blocked)"),
        "{stdout}"
    );
}

#[test]
fn explain_refuses_an_unknown_endpoint() {
    let out = vnetsim()
        .args(["explain"])
        .arg(scenario("basic-peering.yaml"))
        .args(["--from", "nobody", "--to", "vm-b"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--from nobody"));
}

#[test]
fn a_mistyped_vm_name_gets_a_suggestion() {
    let run = |args: &[&str]| {
        let out = vnetsim()
            .arg(args[0])
            .arg(scenario("hub-and-spoke.yaml"))
            .args(&args[1..])
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = run(&["explain", "--from", "wbe1", "--to", "db1"]);
    assert!(err.contains("did you mean `web1`?"), "{err}");
    let err = run(&["rules", "--vm", "db2"]);
    assert!(err.contains("did you mean `db1`?"), "{err}");
    // Nothing close: no guess.
    let err = run(&["routes", "--vm", "zzzz"]);
    assert!(!err.contains("did you mean"), "{err}");
}

#[test]
fn routes_always_show_prefix_and_next_hop_ip() {
    let out = vnetsim()
        .args(["routes"])
        .arg(scenario("gateway-transit.yaml"))
        .args(["--vm", "app-vm", "--format", "json"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let doc = json_of(&out.stdout);
    assert_eq!(doc["format"], "vnetsim-routes/1");
    let nics = &doc["nics"];
    let routes = nics[0]["routes"].as_array().unwrap();
    let gw = routes
        .iter()
        .find(|r| r["next_hop_type"] == "VirtualNetworkGateway")
        .unwrap();
    assert_eq!(gw["prefix"], "192.168.0.0/16");
    assert_eq!(gw["next_hop_ip"], "10.0.255.4");
    assert_eq!(gw["source"], "VirtualNetworkGateway");
    assert_eq!(gw["state"], "Active");
    let overridden = routes
        .iter()
        .find(|r| r["prefix"] == "192.168.0.0/16" && r["next_hop_type"] == "None")
        .unwrap();
    assert_eq!(overridden["state"], "Invalid");
    let text = vnetsim()
        .args(["routes"])
        .arg(scenario("gateway-transit.yaml"))
        .args(["--vm", "app-vm"])
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("Address Prefix") && text.contains("Next Hop IP"),
        "{text}"
    );
}

#[test]
fn rules_list_both_levels_in_evaluation_order() {
    let out = vnetsim()
        .args(["rules"])
        .arg(scenario("nsg-blocks-peer.yaml"))
        .args(["--vm", "sql1", "--format", "json"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let doc = json_of(&out.stdout);
    assert_eq!(doc["format"], "vnetsim-rules/1");
    let nics = &doc["nics"];
    let groups = nics[0]["groups"].as_array().unwrap();
    let order: Vec<(String, String)> = groups
        .iter()
        .map(|g| {
            (
                g["direction"].as_str().unwrap().to_string(),
                g["nsg"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    // Inbound: subnet NSG then NIC NSG; outbound: NIC NSG then subnet NSG (nsg-how).
    assert_eq!(
        order,
        vec![
            ("Inbound".to_string(), "data-nsg".to_string()),
            ("Inbound".to_string(), "sql-nic-nsg".to_string()),
            ("Outbound".to_string(), "sql-nic-nsg".to_string()),
            ("Outbound".to_string(), "data-nsg".to_string()),
        ]
    );
    let first = &groups[0]["rules"].as_array().unwrap();
    assert_eq!(first[0]["name"], "allow-sql-from-app");
    assert_eq!(first.last().unwrap()["name"], "DenyAllInbound");
}

#[test]
fn sweep_runs_every_seed_and_merges_one_report() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("sweep.json");
    let text = std::fs::read_to_string(scenario("peered-latency.yaml"))
        .unwrap()
        .replace(
            "start: 0s, duration: 1s",
            "pattern: poisson, start: 0s, duration: 1s",
        );
    let file = write_temp(&text);
    let out = vnetsim()
        .arg("sweep")
        .arg(file.path())
        .args(["--seeds", "1..4", "--jobs", "2", "--report"])
        .arg(&report)
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    let runs = doc["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    assert_eq!(
        runs.iter()
            .map(|r| r["seed"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    // Poisson traffic: each seed sends a different number of packets.
    let sent: Vec<u64> = runs
        .iter()
        .map(|r| r["conservation"]["sent"].as_u64().unwrap())
        .collect();
    assert!(sent.windows(2).any(|w| w[0] != w[1]), "{sent:?}");
    assert!(doc["flows"][0]["delivered_ratio"]["mean"].as_f64().unwrap() > 0.99);
}

#[test]
fn shards_merged_give_the_single_host_sweeps_report_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(scenario("peered-latency.yaml"))
        .unwrap()
        .replace(
            "start: 0s, duration: 1s",
            "pattern: poisson, start: 0s, duration: 1s",
        );
    let file = write_temp(&text);
    let sweep = |extra: &[&str], report: &PathBuf| {
        let out = vnetsim()
            .arg("sweep")
            .arg(file.path())
            .args(["--seeds", "0..6"])
            .args(extra)
            .arg("--report")
            .arg(report)
            .output()
            .expect("runs");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let single = dir.path().join("single.json");
    sweep(&["--jobs", "1"], &single);
    let two = dir.path().join("two.json");
    sweep(&["--jobs", "2"], &two);
    assert_eq!(
        std::fs::read(&single).unwrap(),
        std::fs::read(&two).unwrap()
    );
    let parts: Vec<PathBuf> = (0..3)
        .map(|i| {
            let part = dir.path().join(format!("part-{i}.json"));
            sweep(&["--shard", &format!("{i}/3")], &part);
            part
        })
        .collect();
    let merged = dir.path().join("merged.json");
    let out = vnetsim()
        .arg("merge")
        .args(parts.iter().rev())
        .arg("-o")
        .arg(&merged)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(&single).unwrap(),
        std::fs::read(&merged).unwrap()
    );
    // To standard output, the same bytes.
    let out = vnetsim().arg("merge").args(&parts).output().unwrap();
    assert_eq!(out.stdout, std::fs::read(&single).unwrap());

    // A missing shard is named with its seeds; a shard twice is refused.
    let out = vnetsim().arg("merge").args(&parts[..2]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("shard 2/3 (seeds 4..6)"), "{err}");
    let out = vnetsim()
        .arg("merge")
        .args([&parts[0], &parts[1], &parts[1], &parts[2]])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("given twice"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A bad shard is refused before anything runs.
    for shard in ["3/3", "x", "1/0"] {
        let out = vnetsim()
            .arg("sweep")
            .arg(file.path())
            .args(["--shard", shard])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{shard}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--shard"),
            "{shard}"
        );
    }
}

#[test]
fn generate_writes_a_scenario_that_validates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gen.yaml");
    // Generates with `extra` arguments, validates, and returns what `validate` printed.
    let generate_and_validate = |extra: &[&str]| {
        let out = vnetsim()
            .args(["generate", "hub-spoke", "--spokes", "4", "--flows", "20"])
            .args(extra)
            .arg("-o")
            .arg(&path)
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(0));
        let out = vnetsim().arg("validate").arg(&path).output().expect("runs");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let plain = generate_and_validate(&["--vms-per-spoke", "3"]);
    assert!(plain.contains("5 VNets") && plain.contains("13 VMs") && plain.contains("0 NSGs"));
    // With --nsgs: the same network with an NSG on the spokes' subnets.
    let with_nsgs = generate_and_validate(&["--vms-per-spoke", "3", "--nsgs"]);
    assert!(with_nsgs.contains("5 VNets") && with_nsgs.contains("1 NSGs"));
}

/// `routes`, `rules` and `explain` take one NIC of a VM with several (`vm/nic` or its name).
#[test]
fn multinic_routes_rules_and_explain_take_a_nic() {
    let json = |args: &[&str]| {
        let out = vnetsim()
            .arg(args[0])
            .arg(scenario("asg-tiers.yaml"))
            .args(&args[1..])
            .args(["--format", "json"])
            .output()
            .expect("runs");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        json_of(&out.stdout)
    };
    let all = json(&["routes", "--vm", "app1"])["nics"].clone();
    assert_eq!(all.as_array().unwrap().len(), 2);
    for name in ["app1/app1-mgmt", "app1-mgmt"] {
        let one = json(&["routes", "--vm", name])["nics"].clone();
        assert_eq!(one.as_array().unwrap().len(), 1);
        assert_eq!(one[0]["nic"], "app1-mgmt");
        assert_eq!(one[0]["route_table"], "mgmt-rt");
        assert_eq!(one[0], all[1]);
    }
    let rules = json(&["rules", "--vm", "app1/app1-mgmt"])["nics"].clone();
    assert_eq!(rules[0]["groups"][0]["nsg"], "mgmt");
    let e = json(&[
        "explain",
        "--from",
        "app1/app1-mgmt",
        "--to",
        "db1",
        "--protocol",
        "tcp",
        "--dst-port",
        "1433",
    ]);
    assert_eq!(e["src_ip"], "10.0.9.4");
    assert_eq!(e["reason"], "no-route");
    assert_eq!(e["hops"][0]["kind"], "send");
    assert!(
        e["hops"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("NIC app1-mgmt"),
        "{e}"
    );
}

/// `rules` shows a group side as `ASG <name>`, `explain` names the groups of the deciding rule.
#[test]
fn asg20_rules_and_explain_name_the_groups() {
    let out = vnetsim()
        .args(["rules"])
        .arg(scenario("asg-tiers.yaml"))
        .args(["--vm", "app1-nic", "--format", "json"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let doc = json_of(&out.stdout);
    assert_eq!(doc["format"], "vnetsim-rules/1");
    let nics = &doc["nics"];
    let rule = nics[0]["groups"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "web-to-app")
        .unwrap()
        .clone();
    assert_eq!(rule["source"], "ASG asg-web");
    assert_eq!(rule["destination"], "ASG asg-app");
    let out = vnetsim()
        .args(["explain"])
        .arg(scenario("asg-tiers.yaml"))
        .args(["--from", "web1", "--to", "app1", "--protocol", "tcp"])
        .args(["--dst-port", "8080", "--format", "json"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let e = json_of(&out.stdout);
    let hop = e["hops"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["kind"] == "nsg" && h["rule"]["rule"] == "web-to-app")
        .unwrap()
        .clone();
    assert_eq!(hop["rule"]["source_asg"], "asg-web");
    assert_eq!(hop["rule"]["destination_asg"], "asg-app");
}

#[test]
fn a_large_run_summarises_its_tables_and_all_rows_prints_every_flow() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("gen.yaml");
    generate_hub_spoke(
        &file,
        &[
            "--spokes",
            "3",
            "--vms-per-spoke",
            "10",
            "--flows",
            "60",
            "--duration-ms",
            "10",
        ],
    );
    let flow_rows = |text: &str| text.lines().filter(|l| l.starts_with("f-")).count();
    let summary = vnetsim().arg("run").arg(&file).output().expect("runs");
    let text = String::from_utf8_lossy(&summary.stdout);
    assert!(
        text.contains("60 flows; the 20 with the lowest delivered ratio"),
        "{text}"
    );
    assert_eq!(flow_rows(&text), 20, "{text}");
    assert!(
        text.contains("conservation: sent"),
        "totals cover every flow: {text}"
    );
    let all = vnetsim()
        .arg("run")
        .arg(&file)
        .arg("--all-rows")
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&all.stdout);
    assert_eq!(flow_rows(&text), 60, "{text}");
    assert!(!text.contains("60 flows;"), "{text}");
}

/// Every command that takes a name suggests the nearest one when it does not know it: a VNet or
/// subnet in a matrix selector, an endpoint in a diff's watched flow.
#[test]
fn names_are_suggested_in_matrix_selectors_and_diff_watches() {
    let hub = scenario("hub-and-spoke.yaml");
    let out = vnetsim()
        .args(["matrix", &hub.display().to_string(), "--to", "spoke1/ap"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("did you mean `spoke1/app`?"), "{stderr}");
    let out = vnetsim()
        .args([
            "diff",
            &hub.display().to_string(),
            &hub.display().to_string(),
            "--expect-unchanged",
            "web,db1,1433",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("did you mean `web1`?"), "{stderr}");
}

/// A sweep of many flows prints their count and the 20 that most need a look, not one line per
/// flow; `--all-rows` prints every one.
#[test]
fn a_sweep_of_many_flows_summarises_its_text() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("g.yaml");
    let out = vnetsim()
        .args([
            "generate",
            "hub-spoke",
            "--spokes",
            "5",
            "--vms-per-spoke",
            "4",
        ])
        .args(["--flows", "80", "-o"])
        .arg(&file)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let sweep = |extra: &[&str]| {
        let out = vnetsim()
            .arg("sweep")
            .arg(&file)
            .args(["--seeds", "0..2"])
            .args(extra)
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(0));
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let short = sweep(&[]);
    assert!(
        short.contains("80 flows; the 20 with the lowest"),
        "{short}"
    );
    assert_eq!(short.matches("\nflow ").count(), 20, "{short}");
    let all = sweep(&["--all-rows"]);
    assert_eq!(all.matches("\nflow ").count(), 80, "{all}");
}

/// `--plot` draws replies beside their flows, a throughput-over-time chart, and for a run where
/// nothing was delivered says so (chart and stderr); the report is the same with or without it.
#[test]
fn plots_show_replies_and_throughput_and_an_empty_run_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let plot = dir.path().join("plots");
    let (with, without) = (dir.path().join("a.json"), dir.path().join("b.json"));
    let file = scenario("nsg-rule-added.yaml");
    let out = vnetsim()
        .arg("run")
        .arg(&file)
        .arg("--plot")
        .arg(&plot)
        .arg("--report")
        .arg(&with)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let out = vnetsim()
        .arg("run")
        .arg(&file)
        .arg("--report")
        .arg(&without)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        std::fs::read(&with).unwrap(),
        std::fs::read(&without).unwrap()
    );
    let cdf = std::fs::read_to_string(plot.join("latency-cdf.svg")).unwrap();
    assert!(cdf.contains("open-session (replies)"), "{cdf}");
    let throughput = std::fs::read_to_string(plot.join("throughput.svg")).unwrap();
    assert!(
        throughput.contains("delivered throughput (Mbps)"),
        "{throughput}"
    );
    assert!(
        throughput.contains("open-session (replies)"),
        "{throughput}"
    );
    // new-session is denied from its start: nothing delivered, no line.
    assert!(!throughput.contains(">new-session<"), "{throughput}");
    // Probes only: no flow delivered anything.
    let empty = dir.path().join("empty");
    let out = vnetsim()
        .arg("run")
        .arg(scenario("hub-and-spoke.yaml"))
        .arg("--plot")
        .arg(&empty)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no packet of any flow was delivered"));
    let svg = std::fs::read_to_string(empty.join("latency-cdf.svg")).unwrap();
    assert!(svg.contains("no packet of any flow was delivered"), "{svg}");
}

/// `VNETSIM_THREADS` sets the threads of one run's parallel phases (flow sources are built on
/// several threads from 65,536 flows on, the JSON report's flows serialized in chunks): the
/// report is the same byte for byte on one thread and on three.
#[test]
fn the_report_does_not_depend_on_vnetsim_threads() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("g.yaml");
    generate_hub_spoke(
        &file,
        &[
            "--spokes",
            "4",
            "--vms-per-spoke",
            "5",
            "--flows",
            "70000",
            "--pps",
            "1",
        ],
    );
    let mut reports = Vec::new();
    for threads in ["1", "3"] {
        let path = dir.path().join(format!("report{threads}.json"));
        let out = vnetsim()
            .env("VNETSIM_THREADS", threads)
            .arg("run")
            .arg(&file)
            .arg("--report")
            .arg(&path)
            .output()
            .expect("runs");
        assert!(out.status.code().is_some(), "{out:?}");
        reports.push(std::fs::read(&path).unwrap());
    }
    assert!(reports[0].len() > 10_000_000, "{} bytes", reports[0].len());
    assert!(reports[0] == reports[1], "the reports differ");
}
