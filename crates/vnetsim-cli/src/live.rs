//! `vnetsim live FILE`: real programs' packets through the simulated fabric, in real time.
//!
//! What it is for: parsing the live options, loading the scenario through the harness API,
//! binding the loopback UDP ports of `vnetsim-live`, printing (and writing) the port map,
//! running until Ctrl-C or `--duration`, and writing the report and pcap. What it is not: the
//! forwarding itself, which is `vnetsim-live` over the same data plane as every other command.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use vnetsim_live::report::render_text;
use vnetsim_live::{PcapFile, RunOptions, UdpFabric};

use crate::commands::{INVALID, OK};

/// First UDP port when `--base-port` is not given.
pub const DEFAULT_BASE_PORT: u16 = 47000;

/// Options of `vnetsim live`.
#[derive(clap::Args, Debug)]
pub struct LiveArgs {
    /// Scenario file.
    file: PathBuf,
    /// NIC i (scenario order) listens on 127.0.0.1:(BASE + i); 0 picks ephemeral ports.
    #[arg(long, value_name = "BASE", default_value_t = DEFAULT_BASE_PORT)]
    base_port: u16,
    /// Write the port map (NIC, VM, IP, port) here as JSON.
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
    /// Write every packet at every hop to this pcap file (time since start).
    #[arg(long, value_name = "OUT.pcap")]
    pcap: Option<PathBuf>,
}

fn write_json(path: &Path, value: &impl serde::Serialize, what: &str) -> Result<(), u8> {
    let json = serde_json::to_string_pretty(value).map_err(|e| {
        eprintln!("error: cannot encode the {what}: {e}");
        INVALID
    })? + "\n";
    std::fs::write(path, json).map_err(|e| {
        eprintln!("error: cannot write the {what} {}: {e}", path.display());
        INVALID
    })
}

/// `vnetsim live FILE [--base-port N] [--port-map FILE] [--duration D] [--stats] [--report
/// OUT.json] [--pcap OUT.pcap]`.
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
        let mut fabric = match UdpFabric::bind(sim.scenario(), args.base_port).await {
            Ok(f) => f,
            Err(e) => {
                eprintln!(
                    "error: cannot bind the NIC ports: {e} (try another --base-port, or 0 for \
                     ephemeral ports)"
                );
                return INVALID;
            }
        };
        print!("{}", fabric.port_map().render_text());
        if let Some(path) = &args.port_map
            && let Err(code) = write_json(path, fabric.port_map(), "port map")
        {
            return code;
        }
        let pcap = match &args.pcap {
            Some(path) => match PcapFile::create(path) {
                Ok(p) => {
                    fabric.fabric_mut().set_capture(Box::new(p.clone()));
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
            Some(d) => println!(
                "running for {:.3} s (Ctrl-C stops earlier)",
                d.as_secs_f64()
            ),
            None => println!("running; Ctrl-C stops"),
        }
        let options = RunOptions {
            stats_every: (args.stats || std::io::stderr().is_terminal())
                .then_some(Duration::from_secs(1)),
        };
        let stop = async move {
            let until = async {
                match duration {
                    Some(d) => tokio::time::sleep(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                Ok(()) = tokio::signal::ctrl_c() => {}
                () = until => {}
            }
        };
        let report = fabric.run(options, stop).await;
        print!("{}", render_text(&report));
        if let (Some(path), Some(p)) = (&args.pcap, pcap) {
            match p.finish() {
                Ok(n) => println!("pcap: {n} packets in {}", path.display()),
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
