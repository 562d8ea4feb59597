//! `vnetsim run` and `vnetsim bench`: the timed replay of a scenario through the engine.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use vnetsim_engine::pcap::{CaptureFilter, CaptureLimit, PcapCapture, PcapFormat};
use vnetsim_engine::plot::{cdf_points, latency_cdf_svg, throughput_svg};
use vnetsim_engine::report::render_text_without_failures;
use vnetsim_engine::{Capture, Engine, Estimate, Options, Report};
use vnetsim_scenario::diag::Diagnostic;
use vnetsim_scenario::{Expectation, Nanos, Protocol, Scenario};

use crate::Format;
use crate::commands::{DEFAULT_SCENARIO, DEFAULT_SCENARIO_NAME, FAILED, INVALID, OK, load};
use crate::out::{OutputFile, check_distinct, out, outln, write_stdout_with};
use crate::pretty;

/// Where `run` writes its side outputs.
pub struct Outputs<'a> {
    /// The JSON report.
    pub report: Option<&'a Path>,
    /// The pcap capture.
    pub pcap: Option<&'a Path>,
    /// Its format.
    pub pcap_format: PcapFormat,
    /// Flow, VM and NIC names it is limited to (none: everything).
    pub pcap_filter: &'a [String],
    /// Where the capture stops.
    pub pcap_limit: CaptureLimit,
    /// The directory for SVG plots.
    pub plot: Option<&'a Path>,
    /// Every row of every table, even for a large run.
    pub all_rows: bool,
}

fn scenario_of(file: Option<&Path>) -> Result<(Scenario, String), u8> {
    match file {
        Some(f) => load(f).map(|s| (s, f.display().to_string())),
        None => vnetsim_scenario::load_str(DEFAULT_SCENARIO, DEFAULT_SCENARIO_NAME)
            .map(|s| (s, DEFAULT_SCENARIO_NAME.to_string()))
            .map_err(|e| {
                eprint!("{}", e.render(false));
                INVALID
            }),
    }
}

/// A progress bar on stderr for long runs on a terminal; nothing otherwise.
fn progress_bar(end: Option<Nanos>) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(end.unwrap_or(0) / 1_000_000);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} ms simulated ({elapsed})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(bar)
}

/// Replays `scenario`, shared with the engine (not copied: a million flows' scenario is
/// hundreds of megabytes).
fn replay(scenario: &Arc<Scenario>, options: Options, capture: Option<&mut dyn Capture>) -> Report {
    let started = Instant::now();
    let mut engine = Engine::shared(Arc::clone(scenario), options);
    tracing::debug!(ms = started.elapsed().as_millis(), "engine built");
    if let Some(c) = capture {
        engine = engine.with_capture(c);
    }
    let bar = progress_bar(scenario.duration);
    let report = engine.run_with_progress(&mut |now, _| {
        if let Some(bar) = &bar {
            bar.set_position(now / 1_000_000);
        }
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    tracing::debug!(ms = started.elapsed().as_millis(), "replayed, report built");
    report
}

/// Runs at or above this many packets announce their estimate on stderr.
const ANNOUNCE_PACKETS: u64 = 10_000_000;

/// Checks a run's estimate against the limits: announces a large run on stderr, refuses one
/// over the limit unless `force`.
pub fn check_estimate(shown: &str, estimate: Estimate, force: bool) -> Result<(), u8> {
    if !estimate.within_limits() && !force {
        eprintln!(
            "error: {shown}: this run would send {estimate}; the limit is {} packets (shorten \
             durations, lower rates, or pass --force)",
            vnetsim_engine::estimate::MAX_PACKETS
        );
        return Err(INVALID);
    }
    if estimate.packets >= ANNOUNCE_PACKETS {
        eprintln!("estimate: {shown}: {estimate}");
    }
    Ok(())
}

/// `vnetsim run [FILE]`.
pub fn run(
    file: Option<&Path>,
    outputs: Outputs<'_>,
    seed: Option<u64>,
    format: Format,
    force: bool,
) -> u8 {
    let started = Instant::now();
    let (scenario, shown) = match scenario_of(file) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let scenario = Arc::new(scenario);
    tracing::debug!(ms = started.elapsed().as_millis(), "scenario loaded");
    if let Err(code) = check_estimate(&shown, Estimate::of(&scenario), force) {
        return code;
    }
    let mut inputs: Vec<(&str, &Path)> = Vec::new();
    if let Some(f) = file {
        inputs.push(("scenario", f));
    }
    let outs: Vec<(&str, &Path)> = [
        ("--report", outputs.report),
        ("--pcap", outputs.pcap),
        ("--plot", outputs.plot),
    ]
    .into_iter()
    .filter_map(|(flag, p)| p.map(|p| (flag, p)))
    .collect();
    if let Err(e) = check_distinct(&inputs, &outs) {
        eprintln!("error: {e}");
        return INVALID;
    }
    let filter = match CaptureFilter::parse(&scenario, outputs.pcap_filter) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: --pcap-filter: {e}");
            return INVALID;
        }
    };
    if !filter.is_all() && outputs.pcap.is_none() {
        eprintln!("error: --pcap-filter needs --pcap");
        return INVALID;
    }
    let mut capture = match outputs.pcap {
        Some(path) => match OutputFile::create(path)
            .map_err(|e| e.to_string())
            .and_then(|f| {
                PcapCapture::with_format(f, outputs.pcap_format, &scenario)
                    .map_err(|e| e.to_string())
            })
            .map(|c| c.with_limit(outputs.pcap_limit).with_filter(filter))
        {
            Ok(capture) => Some(capture),
            Err(e) => {
                eprintln!("error: cannot write pcap {}: {e}", path.display());
                return INVALID;
            }
        },
        None => None,
    };
    let options = Options {
        seed,
        latency_cdf: outputs.plot.is_some(),
    };
    let mut report = replay(
        &scenario,
        options,
        capture.as_mut().map(|c| c as &mut dyn Capture),
    );
    if let (Some(path), Some(c)) = (outputs.pcap, &capture)
        && c.cut() > 0
    {
        eprintln!(
            "note: the capture {} stopped at its limit of {}: {} later records are not in it \
             (--pcap-limit; the report counts every packet)",
            path.display(),
            outputs.pcap_limit,
            c.cut()
        );
    }
    if let (Some(path), Some(c)) = (outputs.pcap, capture)
        && let Err(e) = c
            .finish_into()
            .map_err(|e| e.to_string())
            .and_then(|(_, file)| file.commit().map_err(|e| e.to_string()))
    {
        eprintln!("error: cannot write pcap {}: {e}", path.display());
        return INVALID;
    }
    // The JSON is streamed where it goes, never built in memory (a 1,000,000-flow report is
    // over 500 MB of text).
    if let Some(path) = outputs.report
        && let Err(e) = OutputFile::write_with(path, |w| write_report_json(w, &mut report))
    {
        eprintln!("error: cannot write report {}: {e}", path.display());
        return INVALID;
    }
    if let Some(dir) = outputs.plot
        && let Err(e) = write_plot(dir, &report, scenario.duration)
    {
        eprintln!("error: cannot write plot in {}: {e}", dir.display());
        return INVALID;
    }
    tracing::debug!(ms = started.elapsed().as_millis(), "outputs written");
    match format {
        Format::Json => write_stdout_with(|w| write_report_json(w, &mut report)),
        Format::Text => {
            out!(
                "{}",
                render_text_without_failures(&report, outputs.all_rows)
            );
            if report.expectations.failed > 0 {
                let color = std::io::stdout().is_terminal();
                for d in failed_expectations(&report, &scenario, file) {
                    out!("{}", d.render(color));
                }
            }
        }
    }
    tracing::debug!(ms = started.elapsed().as_millis(), "stdout written");
    debug_assert!(report.conservation.holds());
    let code = if report.expectations.failed > 0 {
        FAILED
    } else {
        OK
    };
    // The process ends with this command: freeing a million flows' rows and the scenario one
    // allocation at a time would only delay the exit (about a tenth of a second per million).
    std::mem::forget(report);
    std::mem::forget(scenario);
    code
}

/// The report as pretty JSON and a final newline, streamed into `w`: `serde_json`'s pretty
/// output, with the per-flow and per-NIC arrays serialized on all cores (see [`crate::pretty`]).
fn write_report_json(w: &mut dyn Write, report: &mut Report) -> std::io::Result<()> {
    // serde_json writes many small pieces: a buffer of a concrete type takes them without a
    // dynamic call each.
    let mut buffered = std::io::BufWriter::with_capacity(1 << 16, w);
    let flows = std::mem::take(&mut report.flows);
    let nics = std::mem::take(&mut report.nics);
    let skeleton = serde_json::to_string_pretty(&*report);
    let written = skeleton.map_err(std::io::Error::from).and_then(|skeleton| {
        pretty::write_spliced(
            &mut buffered,
            &skeleton,
            vec![
                pretty::Splice::rows("flows", &flows, vnetsim_engine::json::rows::write_flow),
                pretty::Splice::rows("nics", &nics, vnetsim_engine::json::rows::write_nic),
            ],
        )
    });
    report.flows = flows;
    report.nics = nics;
    written?;
    buffered.flush()
}

fn write_plot(dir: &Path, report: &Report, duration: Option<Nanos>) -> Result<(), String> {
    if dir.exists() && !dir.is_dir() {
        return Err("it exists and is not a directory".into());
    }
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    // Each flow, then its replies, one line each.
    let directions = || {
        report.flows.iter().flat_map(|f| {
            let forward = (f.name.to_string(), &f.latency_cdf, &f.delivered_timeline);
            let replies = f.replies.as_ref().map(|_| {
                (
                    format!("{} (replies)", f.name),
                    &f.reply_latency_cdf,
                    &f.reply_timeline,
                )
            });
            std::iter::once(forward).chain(replies)
        })
    };
    let latency: Vec<(String, Vec<(f64, f64)>)> = directions()
        .filter(|(_, cdf, _)| !cdf.is_empty())
        .map(|(name, cdf, _)| (name, cdf_points(cdf.iter().copied())))
        .collect();
    let interval = vnetsim_engine::report::plot_interval(duration);
    let seconds = interval as f64 / 1e9;
    let throughput: Vec<(String, Vec<(f64, f64)>)> = directions()
        .filter(|(_, _, line)| line.iter().any(|&b| b > 0))
        .map(|(name, _, line)| {
            let points = line
                .iter()
                .enumerate()
                .map(|(i, &bytes)| ((i + 1) as f64 * seconds, bytes as f64 * 8.0 / seconds))
                .collect();
            (name, points)
        })
        .collect();
    if latency.is_empty() {
        eprintln!(
            "note: no packet of any flow was delivered: the plots in {} say so instead of \
             drawing",
            dir.display()
        );
    }
    let svg = latency_cdf_svg(
        &format!("{}: one-way latency CDF", report.scenario),
        &latency,
    )
    .map_err(|e| e.to_string())?;
    OutputFile::write_whole(&dir.join("latency-cdf.svg"), svg.as_bytes())
        .map_err(|e| e.to_string())?;
    let svg = throughput_svg(
        &format!(
            "{}: delivered throughput per {} interval",
            report.scenario,
            vnetsim_engine::report::format_ns(interval as f64)
        ),
        &throughput,
    )
    .map_err(|e| e.to_string())?;
    OutputFile::write_whole(&dir.join("throughput.svg"), svg.as_bytes()).map_err(|e| e.to_string())
}

/// The JSON output of `vnetsim bench --format json` (`format: "vnetsim-bench/1"`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BenchOut {
    /// Always `vnetsim-bench/1`.
    #[schemars(extend("const" = "vnetsim-bench/1"))]
    pub format: String,
    /// The scenario's name.
    pub scenario: String,
    /// The scenario file as given.
    pub file: String,
    /// Wall-clock seconds of the replay: engine set-up, event loop and report (not loading).
    pub wall_seconds: f64,
    /// Of which compiling the network, building the flow sources and scheduling them.
    pub set_up_seconds: f64,
    /// Of which the event loop.
    pub event_loop_seconds: f64,
    /// Of which building the report (its rows, per flow and per NIC).
    pub report_seconds: f64,
    /// Simulated nanoseconds covered.
    pub simulated_ns: u64,
    /// Packets sent in the simulation.
    pub simulated_packets: u64,
    /// Events the engine processed.
    pub events_processed: u64,
    /// Simulated packets per wall-clock second of the whole replay (`wall_seconds`).
    pub packets_per_wall_second: f64,
    /// Simulated packets per wall-clock second of the event loop alone.
    pub event_loop_packets_per_second: f64,
    /// Cores the event loop ran on: 2 when the replay qualified for two (senders and
    /// waypoints), else 1.
    pub event_loop_cores: u8,
    /// Why the event loop ran on one core when the scenario does not qualify for two
    /// (`null`: it qualifies; the replay may still be too small, or the machine have one).
    pub one_core_because: Option<String>,
}

/// `vnetsim bench FILE`: replays the scenario and reports wall-clock speed.
pub fn bench(file: &Path, seed: Option<u64>, format: Format, force: bool) -> u8 {
    let (scenario, shown) = match scenario_of(Some(file)) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if let Err(code) = check_estimate(&shown, Estimate::of(&scenario), force) {
        return code;
    }
    let started = Instant::now();
    let mut engine = Engine::shared(
        Arc::new(scenario),
        Options {
            seed,
            ..Options::default()
        },
    );
    let set_up = started.elapsed().as_secs_f64();
    let one_core_because = engine.parallel_refusal();
    engine.replay(&mut |_, _| {});
    let replayed = started.elapsed().as_secs_f64();
    let cores: u8 = if engine.replayed_in_parallel() { 2 } else { 1 };
    let report = engine.finish();
    let wall = started.elapsed().as_secs_f64();
    let packets = report.conservation.sent;
    let rate = packets as f64 / wall.max(1e-9);
    let event_loop = replayed - set_up;
    let loop_rate = packets as f64 / event_loop.max(1e-9);
    match format {
        Format::Json => outln!(
            "{}",
            serde_json::to_string_pretty(&BenchOut {
                format: "vnetsim-bench/1".to_string(),
                scenario: report.scenario.clone(),
                file: shown.clone(),
                wall_seconds: wall,
                set_up_seconds: set_up,
                event_loop_seconds: event_loop,
                report_seconds: wall - replayed,
                simulated_ns: report.simulated_ns,
                simulated_packets: packets,
                events_processed: report.events_processed,
                packets_per_wall_second: rate,
                event_loop_packets_per_second: loop_rate,
                event_loop_cores: cores,
                one_core_because: one_core_because.map(str::to_owned),
            })
            .expect("serializes")
        ),
        Format::Text => {
            outln!("scenario '{}' ({shown})", report.scenario);
            outln!(
                "wall time:          {wall:.3} s (set-up {set_up:.3}, event loop {event_loop:.3}, report {:.3})",
                wall - replayed
            );
            outln!(
                "simulated time:     {:.3} s",
                report.simulated_ns as f64 / 1e9
            );
            outln!("simulated packets:  {packets}");
            outln!("events processed:   {}", report.events_processed);
            match (cores, one_core_because) {
                (2, _) => outln!("event loop cores:   2 (senders, then waypoints)"),
                (_, Some(why)) => outln!("event loop cores:   1 ({why})"),
                _ => outln!("event loop cores:   1"),
            }
            outln!("event loop pkts/s:  {loop_rate:.0}");
            outln!("packets per wall s: {rate:.0}");
        }
    }
    // As after `run`: the process ends here, and freeing a million flows' rows one
    // allocation at a time would only delay the exit.
    std::mem::forget(report);
    OK
}

/// The expectations a run did not meet, as diagnostics on their lines of the scenario file:
/// what was expected, what happened, and the `explain` command that shows why.
fn failed_expectations(
    report: &Report,
    scenario: &Scenario,
    file: Option<&Path>,
) -> Vec<Diagnostic> {
    let (name, source) = match file {
        Some(f) => (
            f.display().to_string(),
            std::fs::read_to_string(f).unwrap_or_default(),
        ),
        None => (
            DEFAULT_SCENARIO_NAME.to_string(),
            DEFAULT_SCENARIO.to_string(),
        ),
    };
    // The command a user can paste: the bundled scenario is in the repository.
    let explain_file = match file {
        Some(f) => f.display().to_string(),
        None => "scenarios/hub-and-spoke.yaml".to_string(),
    };
    report
        .expectations
        .results
        .iter()
        .filter(|r| !r.passed)
        .map(|r| {
            let explain = scenario
                .expectations
                .get(r.index)
                .and_then(|e| explain_command(scenario, e, &explain_file));
            let help = explain.map(|cmd| {
                format!("`{cmd}` shows each hop of this packet and the rule that decided it")
            });
            Diagnostic::on_line(
                &name,
                &source,
                r.line,
                format!("expect[{}]", r.index),
                "expectation-failed",
                format!(
                    "expectation #{} ({}) failed: {}",
                    r.index + 1,
                    r.subject,
                    r.failures.join("; ")
                ),
                help,
            )
        })
        .collect()
}

/// The `vnetsim explain` command of an expectation's packet: the probe, or a flow's first
/// packet.
fn explain_command(scenario: &Scenario, expectation: &Expectation, file: &str) -> Option<String> {
    let (from, to, protocol, src_port, dst_port, at) = match expectation {
        Expectation::Probe { probe, .. } => (
            probe.from,
            probe.to,
            probe.protocol,
            Some(probe.src_port),
            Some(probe.dst_port),
            probe.at,
        ),
        Expectation::Flow { flow, .. } => {
            let f = scenario.traffic.get(flow.index())?;
            (f.from, f.to, f.protocol, f.src_port, f.dst_port, f.start)
        }
    };
    let mut cmd = format!(
        "vnetsim explain {file} --from {} --to {}",
        scenario.endpoint_name(from),
        scenario.endpoint_name(to)
    );
    match protocol {
        Protocol::Icmp => cmd.push_str(" --protocol icmp"),
        Protocol::Tcp | Protocol::Udp => {
            let name = if protocol == Protocol::Tcp {
                "tcp"
            } else {
                "udp"
            };
            cmd.push_str(&format!(" --protocol {name}"));
            if let Some(p) = dst_port {
                cmd.push_str(&format!(" --dst-port {p}"));
            }
            // 49152 is explain's own default source port.
            if let Some(p) = src_port.filter(|&p| p != 49152) {
                cmd.push_str(&format!(" --src-port {p}"));
            }
        }
    }
    if at > 0 {
        cmd.push_str(&format!(" --at {at}ns"));
    }
    Some(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The report as written (rows by the direct writer, spliced in on several threads) is
    /// serde_json's pretty output of the whole report, for every example scenario: flows with
    /// replies, drops of several reasons, probes, events, firewalls, gateways.
    #[test]
    fn the_written_report_is_serde_jsons_pretty_report_for_every_example() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .expect("the examples")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .collect();
        files.sort();
        assert!(files.len() >= 20, "{} examples", files.len());
        for file in files {
            let scenario = vnetsim_scenario::load_file(&file)
                .unwrap_or_else(|e| panic!("{}", e.render(false)));
            let mut report = Engine::new(&scenario, Options::default()).run();
            let mut written = Vec::new();
            write_report_json(&mut written, &mut report).expect("written");
            let whole = serde_json::to_string_pretty(&report).expect("serialized") + "\n";
            assert!(
                String::from_utf8(written).expect("UTF-8") == whole,
                "{}: the written report differs from serde_json's",
                file.display()
            );
        }
    }
}
