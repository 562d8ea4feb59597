//! Flow assertions on a replay, mirroring a scenario file's flow expectations: each holds where
//! the file's expectation holds, and a failing one says what was expected, what happened and
//! the `vnetsim explain` command that shows the flow's way. Also: the report's Rust types read
//! as its JSON does, and drop reasons are typed.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use vnetsim::{
    Comparison, DropReason, Error, FlowCheck, FlowMetric, Replay, Report, ReportExt, Sim,
};

fn scenario(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios")
        .join(name)
}

fn replay(name: &str) -> Replay {
    Sim::load(scenario(name)).expect("the example loads").run()
}

/// The panic message of `f`, which must panic.
fn panic_text(f: impl FnOnce()) -> String {
    let err = catch_unwind(AssertUnwindSafe(f)).expect_err("it panics");
    err.downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn the_files_flow_expectations_hold_as_assertions() {
    // vm-size-shaping.yaml's own expectations, asserted from Rust.
    let r = replay("vm-size-shaping.yaml");
    r.assert_expectations();
    r.assert_throughput("bulk", ">= 900Mbps")
        .assert_throughput("bulk", "<= 1.05Gbps")
        .assert_delivered_ratio("bulk", "<= 0.55")
        .assert_drops("bulk", DropReason::QueueOverflow, ">= 10000")
        .assert_drops("bulk", "nsg-denied", "== 0");
    // peered-latency.yaml's.
    let r = replay("peered-latency.yaml");
    r.assert_delivered_ratio("ping-local", "== 1")
        .assert_latency_p50("ping-local", ">= 30us")
        .assert_latency_p99("ping-local", "<= 31us")
        .assert_latency_p90("ping-peer", "<= 31us")
        .assert_latency_max("ping-peer", "<= 1ms")
        .assert_reply_delivered_ratio("ping-peer", "== 1")
        .assert_reply_drops("ping-peer", DropReason::NoRoute, "== 0");
    // nsg-rule-added.yaml's, with a typed check.
    let r = replay("nsg-rule-added.yaml");
    r.assert_flow(
        "new-session",
        FlowCheck {
            metric: FlowMetric::Drops(DropReason::NsgDenied),
            comparison: Comparison::Equal,
            value: 600.0,
        },
    )
    .assert_delivered_ratio("new-session", "== 0")
    .assert_delivered_ratio("open-session", "== 1");
}

#[test]
fn a_failed_throughput_assertion_says_expected_happened_and_the_explain_command() {
    let r = replay("vm-size-shaping.yaml");
    let text = panic_text(|| {
        r.assert_throughput("bulk", ">= 1.5Gbps");
    });
    let file = scenario("vm-size-shaping.yaml").display().to_string();
    assert!(
        text.starts_with(
            "flow `bulk` of scenario 'vm-size-shaping': expected throughput >= 1.50 Gbps, but \
             it is 1."
        ),
        "{text}"
    );
    assert!(text.contains("what happened: packets sent "), "{text}");
    assert!(text.contains("queue-overflow "), "{text}");
    assert!(text.contains("of 2.00 Gbps offered"), "{text}");
    assert!(
        text.contains(&format!(
            "to see the flow's way: vnetsim explain {file} --from sender --to receiver \
             --protocol udp --dst-port 5001 --src-port 40000"
        )),
        "{text}"
    );
    assert!(
        text.ends_with(
            r#"or from Rust: sim.probe("sender", "receiver").udp(5001).src_port(40000).send()"#
        ),
        "{text}"
    );
}

#[test]
fn a_failed_latency_or_drop_assertion_reads_the_same_way() {
    let r = replay("peered-latency.yaml");
    let text = panic_text(|| {
        r.assert_latency_p99("ping-peer", "<= 10us");
    });
    assert!(
        text.starts_with(
            "flow `ping-peer` of scenario 'peered-latency': expected latency_p99 <= 10.0 us, \
             but it is 30."
        ),
        "{text}"
    );
    assert!(text.contains("latency p50 "), "{text}");
    // ICMP: no ports; a flow starting later is explained at its start.
    assert!(
        text.contains("--from client --to peer-server --protocol icmp --at 500000ns"),
        "{text}"
    );

    let r = replay("nsg-rule-added.yaml");
    let text = panic_text(|| {
        r.assert_drops("new-session", DropReason::NsgDenied, "== 0");
    });
    assert!(
        text.contains("expected drops nsg-denied == 0, but it is 600 (off by 600)"),
        "{text}"
    );
    assert!(text.contains("dropped 600 (nsg-denied 600)"), "{text}");
    assert!(
        text.contains("--protocol tcp --dst-port 5432 --src-port 50002 --at 400000000ns"),
        "{text}"
    );
    // A flow without replies.
    let text = panic_text(|| {
        r.assert_reply_delivered_ratio("new-session", ">= 0.5");
    });
    assert!(text.contains("the flow has no replies"), "{text}");
}

#[test]
fn checks_return_errors_for_unknown_flows_bad_bounds_and_failures() {
    let r = replay("nsg-rule-added.yaml");
    assert!(
        r.check_text("open-session", FlowMetric::DeliveredRatio, "== 1")
            .is_ok()
    );
    let err = r
        .check_text("new-sesion", FlowMetric::DeliveredRatio, "== 0")
        .unwrap_err();
    assert!(matches!(err, Error::UnknownFlow { .. }));
    assert_eq!(
        err.to_string(),
        "no flow `new-sesion` in scenario 'nsg-rule-added'; did you mean `new-session`? (flows: \
         open-session, new-session)"
    );
    let err = r
        .check_text("new-session", FlowMetric::Throughput, ">= 10pps")
        .unwrap_err();
    assert!(matches!(err, Error::InvalidCheck { .. }));
    assert_eq!(
        err.to_string(),
        "throughput: throughput is in bits per second (e.g. 150Mbps)"
    );
    let err = r
        .check_text("new-session", FlowMetric::DeliveredRatio, "1")
        .unwrap_err();
    assert!(err.to_string().contains("does not start with >=, <= or =="));
    let Error::FlowCheck(failure) = r
        .check_text("new-session", FlowMetric::DeliveredRatio, ">= 0.5")
        .unwrap_err()
    else {
        panic!("a failed check")
    };
    assert_eq!(failure.expected, "delivered_ratio >= 0.5000");
    assert_eq!(failure.actual, "0.0000");
    assert!(failure.explain.starts_with("vnetsim explain "));
    // A panic for a name that is no drop reason, naming the nearest.
    let text = panic_text(|| {
        r.assert_drops("new-session", "nsg-deny", "== 600");
    });
    assert!(
        text.starts_with(
            "assert_drops: `nsg-deny` is not a drop reason; did you mean `nsg-denied`?"
        ),
        "{text}"
    );
    let text = panic_text(|| {
        r.assert_throughput("nope", ">= 1Mbps");
    });
    assert!(text.starts_with("no flow `nope`"), "{text}");
}

#[test]
fn the_report_types_read_as_the_json_does() {
    let r = replay("nsg-rule-added.yaml");
    let json: serde_json::Value = serde_json::to_value(r.report()).expect("the report serializes");
    let flow = r.flow("new-session").expect("the flow");
    let flow_json = &json["flows"][1];
    // The flow's own counters are fields of the flow, in the JSON and in Rust.
    assert_eq!(flow_json["name"], "new-session");
    assert_eq!(flow_json["sent"], flow.sent);
    assert_eq!(flow_json["delivered"], flow.delivered);
    assert_eq!(flow_json["delivered_ratio"], flow.delivered_ratio);
    assert_eq!(
        flow_json["dropped"]["nsg-denied"],
        flow.dropped.count(DropReason::NsgDenied)
    );
    assert_eq!(flow.dropped["nsg-denied"], 600);
    assert_eq!(flow.forward().sent, flow.sent);
    // Replies: a DirectionReport, the same fields.
    let open = r.flow("open-session").expect("the flow");
    let replies: &vnetsim::DirectionReport = open.replies.as_deref().expect("replies");
    assert_eq!(json["flows"][0]["replies"]["delivered"], replies.delivered);
    assert!(json["flows"][1]["replies"].is_null());
    // Typed drop reasons, written as their stable names.
    let reasons: Vec<(DropReason, u64)> = r.drops_by_reason.iter().collect();
    assert!(
        reasons.contains(&(DropReason::NsgDenied, 601)),
        "{reasons:?}"
    );
    assert_eq!(json["drops_by_reason"]["nsg-denied"], 601);
    assert_eq!(r.probes[0].reason, Some(DropReason::NsgDenied));
    assert_eq!(json["probes"][0]["reason"], "nsg-denied");
    // The keys of the JSON flow, in order, are exactly the Rust fields that serialize.
    let text = serde_json::to_string(flow).expect("the flow serializes");
    let keys = [
        "name",
        "from",
        "to",
        "protocol",
        "packet_size",
        "offered_bps",
        "start_ns",
        "end_ns",
        "sent",
        "delivered",
        "dropped",
        "in_flight",
        "bytes_sent",
        "bytes_delivered",
        "delivered_ratio",
        "throughput_bps",
        "latency_ns",
        "replies",
    ];
    assert_eq!(flow_json.as_object().expect("an object").len(), keys.len());
    let at: Vec<usize> = keys
        .iter()
        .map(|k| text.find(&format!("\"{k}\":")).expect(k))
        .collect();
    assert!(at.is_sorted(), "{text}");
    // A replay is its report.
    let report: Report = r.clone().into();
    assert_eq!(&report, r.report());
    assert_eq!(report.flow("open-session"), r.flow("open-session"));
}
