//! The process-level reliability of `vnetsim`: closed pipes, full disks, outputs that would
//! overwrite inputs, seed sets too large to hold. Each test is a reproducer that once panicked,
//! lost a file or allocated without bound.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command as StdCommand, Stdio};

use common::{scenario, vnetsim};

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Reads one line of the command's stdout, closes the pipe, and returns how the process ended.
fn first_line_then_close(args: &[&str]) -> (String, std::process::Output) {
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("vnetsim"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("reads a line");
    // The reader is dropped here: the pipe is closed with most of the output unread.
    let out = child.wait_with_output().expect("ends");
    (line, out)
}

#[test]
fn a_closed_pipe_ends_generate_quietly() {
    let args = [
        "generate",
        "hub-spoke",
        "--spokes",
        "250",
        "--vms-per-spoke",
        "1",
        "--flows",
        "5000",
    ];
    // More than a pipe holds (64 KiB; a spoke is about 450 bytes: its VNet, scale set,
    // peerings and pair groups), so the writer does meet the closed pipe.
    let whole = vnetsim().args(args).output().unwrap();
    assert!(whole.stdout.len() > 64 * 1024, "{}", whole.stdout.len());
    let (line, out) = first_line_then_close(&args);
    assert!(line.starts_with("# Generated"), "{line}");
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(!stderr_of(&out).contains("panicked"), "{}", stderr_of(&out));
}

#[test]
fn a_full_stdout_is_an_error_not_a_panic() {
    if !std::path::Path::new("/dev/full").exists() {
        panic!("/dev/full is needed by this test (Linux)");
    }
    for args in [
        vec!["run", "basic-peering.yaml"],
        vec![
            "explain",
            "hub-and-spoke.yaml",
            "--from",
            "web1",
            "--to",
            "db1",
        ],
    ] {
        let out = StdCommand::new(assert_cmd::cargo::cargo_bin("vnetsim"))
            .arg(args[0])
            .arg(scenario(args[1]))
            .args(&args[2..])
            .stdout(
                std::fs::OpenOptions::new()
                    .write(true)
                    .open("/dev/full")
                    .unwrap(),
            )
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr_of(&out);
        assert!(err.contains("cannot write to standard output"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn a_report_never_overwrites_the_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.yaml");
    std::fs::copy(scenario("basic-peering.yaml"), &file).unwrap();
    let before = std::fs::read(&file).unwrap();
    let out = vnetsim()
        .current_dir(dir.path())
        .args(["run", "x.yaml", "--report", "./x.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("refusing to overwrite an input"));
    assert_eq!(std::fs::read(&file).unwrap(), before);
}

#[test]
fn two_outputs_on_one_path_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out");
    let out = vnetsim()
        .arg("run")
        .arg(scenario("basic-peering.yaml"))
        .arg("--pcap")
        .arg(&path)
        .arg("--report")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains("name the same file"),
        "{}",
        stderr_of(&out)
    );
    assert!(!path.exists());
}

#[test]
fn outputs_appear_whole_and_leave_no_temporary_behind() {
    let dir = tempfile::tempdir().unwrap();
    let out = vnetsim()
        .arg("run")
        .arg(scenario("peered-latency.yaml"))
        .arg("--pcap")
        .arg(dir.path().join("c.pcap"))
        .arg("--report")
        .arg(dir.path().join("r.json"))
        .arg("--plot")
        .arg(dir.path().join("plots"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["c.pcap", "plots", "r.json"]);
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("r.json")).unwrap()).unwrap();
    assert_eq!(report["format"], "vnetsim-report/1");
}

#[test]
fn a_plot_directory_that_is_a_file_is_named_as_such() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let out = vnetsim()
        .arg("run")
        .arg(scenario("basic-peering.yaml"))
        .arg("--plot")
        .arg(file.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains("is not a directory"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn a_huge_seed_range_is_refused_at_once() {
    let started = std::time::Instant::now();
    for seeds in ["0..18446744073709551615", "0..1000000000"] {
        let out = vnetsim()
            .arg("sweep")
            .arg(scenario("basic-peering.yaml"))
            .args(["--seeds", seeds])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert!(
            stderr_of(&out).contains("exceed the limit"),
            "{}",
            stderr_of(&out)
        );
    }
    assert!(
        started.elapsed().as_secs() < 20,
        "refused without expanding the range"
    );
}

#[test]
fn zero_workers_is_refused() {
    let out = vnetsim()
        .arg("sweep")
        .arg(scenario("basic-peering.yaml"))
        .args(["--seeds", "0..2", "--jobs", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("--jobs"), "{}", stderr_of(&out));
}

#[test]
fn a_run_of_years_is_refused_with_its_estimate() {
    let file = tempfile::Builder::new().suffix(".yaml").tempfile().unwrap();
    std::fs::write(
        file.path(),
        "name: huge
vnets:
  - name: a
    address_space: [10.1.0.0/16]
    subnets: [ { name: s, prefix: 10.1.0.0/24 } ]
vms:
  - { name: x, size: Standard_D2s_v3, nics: [ { name: xn, vnet: a, subnet: s, ip: 10.1.0.4 } ] }
  - { name: y, size: Standard_D2s_v3, nics: [ { name: yn, vnet: a, subnet: s, ip: 10.1.0.5 } ] }
traffic:
  - { name: f, from: x, to: y, protocol: udp, dst_port: 9, rate: 1000000pps, packet_size: 64, duration: 31536000s }
",
    )
    .unwrap();
    for cmd in [vec!["run"], vec!["bench"], vec!["sweep", "--seeds", "0..2"]] {
        let out = vnetsim()
            .arg(cmd[0])
            .arg(file.path())
            .args(&cmd[1..])
            .timeout(std::time::Duration::from_secs(30))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{cmd:?}");
        let err = stderr_of(&out);
        assert!(
            err.contains("31536000000000 packets") || cmd[0] == "sweep",
            "{err}"
        );
        assert!(err.contains("000000000 packets ("), "{err}");
        assert!(err.contains("--force"), "{err}");
    }
}

#[test]
fn a_report_is_the_same_with_or_without_pcap_and_plot() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "hub-and-spoke.yaml",
        "nsg-rule-added.yaml",
        "gateway-transit.yaml",
    ] {
        let plain = dir.path().join("plain.json");
        let watched = dir.path().join("watched.json");
        let out = vnetsim()
            .arg("run")
            .arg(scenario(name))
            .arg("--report")
            .arg(&plain)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{name}: {}", stderr_of(&out));
        let out = vnetsim()
            .arg("run")
            .arg(scenario(name))
            .arg("--report")
            .arg(&watched)
            .arg("--pcap")
            .arg(dir.path().join("c.pcap"))
            .arg("--plot")
            .arg(dir.path().join("plots"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{name}: {}", stderr_of(&out));
        assert_eq!(
            std::fs::read(&plain).unwrap(),
            std::fs::read(&watched).unwrap(),
            "{name}: observing the run changed its report"
        );
    }
}

#[test]
fn explain_from_an_address_no_nic_holds_is_refused() {
    let out = vnetsim()
        .arg("explain")
        .arg(scenario("hub-and-spoke.yaml"))
        .args(["--from", "10.1.1.200", "--to", "db1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert!(
        err.contains("subnet spoke1/app but no NIC holds it"),
        "{err}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Internet"));
}

#[test]
fn a_capture_stops_at_its_limit_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("c.pcap");
    let out = vnetsim()
        .arg("run")
        .arg(scenario("peered-latency.yaml"))
        .arg("--pcap")
        .arg(&pcap)
        .args(["--pcap-limit", "20000B"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(err.contains("stopped at its limit of 20000 bytes"), "{err}");
    let len = std::fs::metadata(&pcap).unwrap().len();
    assert!(len <= 20_000 && len > 10_000, "{len}");
    let out = vnetsim()
        .arg("run")
        .arg(scenario("peered-latency.yaml"))
        .arg("--pcap")
        .arg(&pcap)
        .args(["--pcap-limit", "5 parsecs"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains("not a unit"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn a_capture_filter_keeps_what_it_names_and_suggests_names() {
    let dir = tempfile::tempdir().unwrap();
    let all = dir.path().join("all.pcapng");
    let one = dir.path().join("one.pcapng");
    for (path, filter) in [(&all, None), (&one, Some("ping-peer"))] {
        let mut cmd = vnetsim();
        cmd.arg("run")
            .arg(scenario("peered-latency.yaml"))
            .arg("--pcap")
            .arg(path);
        if let Some(f) = filter {
            cmd.args(["--pcap-filter", f]);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    }
    let (all, one) = (
        std::fs::metadata(&all).unwrap().len(),
        std::fs::metadata(&one).unwrap().len(),
    );
    assert!(one > 1_000 && one < all, "{one} of {all}");
    let out = vnetsim()
        .arg("run")
        .arg(scenario("peered-latency.yaml"))
        .arg("--pcap")
        .arg(dir.path().join("x.pcapng"))
        .args(["--pcap-filter", "ping-local,ping-peeer"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert!(
        err.contains("--pcap-filter") && err.contains("did you mean `ping-peer`"),
        "{err}"
    );
    assert!(!dir.path().join("x.pcapng").exists(), "nothing written");
    let out = vnetsim()
        .arg("run")
        .arg(scenario("peered-latency.yaml"))
        .args(["--pcap-filter", "ping-local"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains("needs --pcap"),
        "{}",
        stderr_of(&out)
    );
}
