//! `vnetsim live FILE`: real programs' packets through the simulated fabric, in real time.
//!
//! What it is for: parsing the live options, loading the scenario through the harness API,
//! attaching the NICs (UDP mode: binding the loopback UDP ports of `vnetsim-live`; namespace
//! mode: making one network namespace per VM with a TUN interface per NIC), printing (and
//! writing) the map, running until Ctrl-C, SIGTERM or `--duration`, and writing the report and
//! pcap. What it is not: the forwarding itself, which is `vnetsim-live` over the same data plane
//! as every other command.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use vnetsim_engine::pcap::{CaptureFilter, CaptureLimit, PcapFormat};
use vnetsim_live::report::render_text;
use vnetsim_live::{Fabric, LiveReport, PcapFile, RunOptions, UdpFabric};

use crate::commands::{INVALID, OK};
use crate::out::{out, outln};

/// First UDP port when `--base-port` is not given.
pub const DEFAULT_BASE_PORT: u16 = 47000;

/// How programs attach to the NICs.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// One UDP port per NIC on 127.0.0.1, one raw IPv4 packet per datagram (no privileges).
    #[default]
    Udp,
    /// One network namespace per VM with a TUN interface per NIC (Linux, root).
    Netns,
}

/// Options of `vnetsim live`.
#[derive(clap::Args, Debug)]
pub struct LiveArgs {
    /// Scenario file.
    file: PathBuf,
    /// How programs attach: `udp` (loopback ports) or `netns` (network namespaces, root).
    #[arg(long, value_enum, default_value = "udp")]
    mode: Mode,
    /// UDP mode: NIC i (scenario order) listens on 127.0.0.1:(BASE + i); 0 picks ephemeral
    /// ports [default: 47000].
    #[arg(long, value_name = "BASE")]
    base_port: Option<u16>,
    /// Namespace mode: namespaces are named PREFIX-VM [default: vn and four hex digits of a
    /// hash of the scenario name].
    #[arg(long, value_name = "PREFIX")]
    netns_prefix: Option<String>,
    /// Write the port map (UDP mode) or the namespace map (namespace mode) here as JSON.
    #[arg(long, value_name = "FILE")]
    port_map: Option<PathBuf>,
    /// Stop after this long (e.g. 30s, 500ms); otherwise run until Ctrl-C.
    #[arg(long)]
    duration: Option<String>,
    /// Print the counters on stderr every second even when stderr is not a terminal.
    #[arg(long)]
    stats: bool,
    /// Write the live report (conservation, drops, per-NIC counters) here as JSON.
    #[arg(long, value_name = "OUT.json")]
    report: Option<PathBuf>,
    /// Write every packet at every hop to this capture (time since start; pcapng: one
    /// interface per hop, drops on their own interface with the reason).
    #[arg(long, value_name = "OUT.pcapng")]
    pcap: Option<PathBuf>,
    /// The capture's format: pcapng, or pcap (classic: one stream, no drops).
    #[arg(long, value_name = "FORMAT", default_value = "pcapng")]
    pcap_format: PcapFormat,
    /// Capture only these flows (every hop) and what passes these VMs or NICs; repeat the
    /// flag or give a comma-separated list.
    #[arg(long, value_name = "NAMES")]
    pcap_filter: Vec<String>,
    /// Stop the capture at this size (500MB, 1GiB), this many records (100000packets) or
    /// never (none).
    #[arg(long, value_name = "LIMIT", default_value = "1GiB")]
    pcap_limit: CaptureLimit,
    /// UDP mode: let any local program that sends to a NIC's port take it over (the last
    /// sender gets the NIC's deliveries); by default the first sender keeps it.
    #[arg(long)]
    allow_rebind: bool,
}

/// The attached fabric of either mode.
enum Driver {
    Udp(UdpFabric),
    #[cfg(target_os = "linux")]
    Netns(vnetsim_live::NetnsFabric),
}

impl Driver {
    fn fabric_mut(&mut self) -> &mut Fabric {
        match self {
            Driver::Udp(f) => f.fabric_mut(),
            #[cfg(target_os = "linux")]
            Driver::Netns(f) => f.fabric_mut(),
        }
    }

    /// Runs until `stop`; the report, and what could not be cleaned up.
    async fn run(
        self,
        options: RunOptions,
        stop: impl Future<Output = ()>,
    ) -> (LiveReport, Vec<String>) {
        match self {
            Driver::Udp(f) => (f.run(options, stop).await, Vec::new()),
            #[cfg(target_os = "linux")]
            Driver::Netns(f) => {
                let run = f.run(options, stop).await;
                (run.report, run.leftovers)
            }
        }
    }
}

/// Binds the ports or makes the namespaces, prints the map and writes it when asked.
async fn attach(args: &LiveArgs, sim: &vnetsim::Sim) -> Result<Driver, u8> {
    match args.mode {
        Mode::Udp => {
            if args.netns_prefix.is_some() {
                eprintln!("error: --netns-prefix applies to --mode netns");
                return Err(INVALID);
            }
            let base = args.base_port.unwrap_or(DEFAULT_BASE_PORT);
            let fabric = UdpFabric::bind(sim.scenario(), base).await.map_err(|e| {
                eprintln!(
                    "error: cannot bind the NIC ports: {e} (try another --base-port, or 0 for \
                     ephemeral ports)"
                );
                INVALID
            })?;
            out!("{}", fabric.port_map().render_text());
            if let Some(path) = &args.port_map {
                write_json(path, fabric.port_map(), "port map")?;
            }
            Ok(Driver::Udp(fabric))
        }
        Mode::Netns => attach_netns(args, sim),
    }
}

#[cfg(target_os = "linux")]
fn attach_netns(args: &LiveArgs, sim: &vnetsim::Sim) -> Result<Driver, u8> {
    use vnetsim_live::netns;

    if args.base_port.is_some() {
        eprintln!("error: --base-port applies to --mode udp");
        return Err(INVALID);
    }
    let prefix = args
        .netns_prefix
        .clone()
        .unwrap_or_else(|| netns::default_prefix(sim.scenario()));
    let fabric = netns::NetnsFabric::create(sim.scenario(), &prefix).map_err(|e| {
        eprintln!("error: {e}");
        if e.is_unavailable() {
            eprintln!(
                "hint: UDP mode (--mode udp, the default) needs no privileges: each NIC is a \
                 loopback UDP port"
            );
        }
        INVALID
    })?;
    out!("{}", fabric.netns_map().render_text());
    if let Some(path) = &args.port_map {
        write_json(path, fabric.netns_map(), "namespace map")?;
    }
    Ok(Driver::Netns(fabric))
}

#[cfg(not(target_os = "linux"))]
fn attach_netns(_args: &LiveArgs, _sim: &vnetsim::Sim) -> Result<Driver, u8> {
    eprintln!("error: namespace mode needs Linux network namespaces");
    eprintln!("hint: UDP mode (--mode udp, the default) works here");
    Err(INVALID)
}

/// Completes on Ctrl-C, SIGTERM or SIGHUP, or after `duration`. The signal handlers are
/// installed at once, so a Ctrl-C while the namespaces are being made still stops the run
/// cleanly (and deletes them).
fn stop_signal(duration: Option<Duration>) -> std::io::Result<impl Future<Output = ()>> {
    #[cfg(unix)]
    let mut signals = {
        use tokio::signal::unix::{SignalKind, signal};
        [
            signal(SignalKind::interrupt())?,
            signal(SignalKind::terminate())?,
            signal(SignalKind::hangup())?,
        ]
    };
    Ok(async move {
        let until = async {
            match duration {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        #[cfg(unix)]
        let signalled = async {
            let [a, b, c] = &mut signals;
            tokio::select! {
                _ = a.recv() => {}
                _ = b.recv() => {}
                _ = c.recv() => {}
            }
        };
        #[cfg(not(unix))]
        let signalled = async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            () = signalled => {}
            () = until => {}
        }
    })
}

fn write_json(path: &Path, value: &impl serde::Serialize, what: &str) -> Result<(), u8> {
    let json = serde_json::to_string_pretty(value).map_err(|e| {
        eprintln!("error: cannot encode the {what}: {e}");
        INVALID
    })? + "\n";
    crate::out::OutputFile::write_whole(path, json.as_bytes()).map_err(|e| {
        eprintln!("error: cannot write the {what} {}: {e}", path.display());
        INVALID
    })
}

/// `vnetsim live FILE [--mode udp|netns] [--base-port N] [--netns-prefix P] [--port-map FILE]
/// [--duration D] [--stats] [--report OUT.json] [--pcap OUT.pcapng [--pcap-format F]
/// [--pcap-filter NAME...]]`.
pub fn run(args: LiveArgs) -> u8 {
    let sim = match vnetsim::Sim::load(&args.file) {
        Ok(sim) => sim,
        Err(vnetsim::Error::Load(e)) => {
            eprint!("{}", e.render(std::io::stderr().is_terminal()));
            return INVALID;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return INVALID;
        }
    };
    let duration = match args.duration.as_deref() {
        None => None,
        Some(text) => match vnetsim_scenario::units::parse_duration(text) {
            Ok(ns) => Some(Duration::from_nanos(ns)),
            Err(e) => {
                eprintln!("error: --duration {text}: {e}");
                return INVALID;
            }
        },
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return INVALID;
        }
    };
    runtime.block_on(async move {
        let stop = match stop_signal(duration) {
            Ok(stop) => stop,
            Err(e) => {
                eprintln!("error: cannot install the signal handlers: {e}");
                return INVALID;
            }
        };
        let mut driver = match attach(&args, &sim).await {
            Ok(d) => d,
            Err(code) => return code,
        };
        let filter = match CaptureFilter::parse(sim.scenario(), &args.pcap_filter) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("error: --pcap-filter: {e}");
                return INVALID;
            }
        };
        if !filter.is_all() && args.pcap.is_none() {
            eprintln!("error: --pcap-filter needs --pcap");
            return INVALID;
        }
        let pcap = match &args.pcap {
            Some(path) => match PcapFile::create_with(
                path,
                args.pcap_format,
                sim.scenario(),
                filter,
                args.pcap_limit,
            ) {
                Ok(p) => {
                    driver.fabric_mut().set_capture(Box::new(p.clone()));
                    Some(p)
                }
                Err(e) => {
                    eprintln!("error: cannot write pcap {}: {e}", path.display());
                    return INVALID;
                }
            },
            None => None,
        };
        match duration {
            Some(d) => outln!(
                "running for {:.3} s (Ctrl-C stops earlier)",
                d.as_secs_f64()
            ),
            None => outln!("running; Ctrl-C stops"),
        }
        let options = RunOptions {
            stats_every: (args.stats || std::io::stderr().is_terminal())
                .then_some(Duration::from_secs(1)),
            allow_rebind: args.allow_rebind,
        };
        let (report, leftovers) = driver.run(options, stop).await;
        out!("{}", render_text(&report));
        for left in &leftovers {
            eprintln!("warning: not cleaned up: {left}");
        }
        if let (Some(path), Some(p)) = (&args.pcap, pcap) {
            match p.finish_counted() {
                Ok((n, cut)) => {
                    outln!("pcap: {n} packets in {}", path.display());
                    if cut > 0 {
                        eprintln!(
                            "warning: the capture stopped at {} and left out {cut} records \
                             (--pcap-limit; the report counts every packet)",
                            args.pcap_limit
                        );
                    }
                }
                Err(e) => {
                    eprintln!("error: cannot write pcap {}: {e}", path.display());
                    return INVALID;
                }
            }
        }
        if let Some(path) = &args.report
            && let Err(code) = write_json(path, &report, "report")
        {
            return code;
        }
        OK
    })
}
