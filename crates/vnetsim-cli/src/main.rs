//! `vnetsim`: the command line over the scenario loader and the data plane.
//!
//! What it is for: `validate`, `run`, `explain`, `routes` and `rules` on scenario files, with
//! tables in Azure's vocabulary and `--format json`. What it is not: it decides nothing itself;
//! every verdict comes from `vnetsim-dataplane`.

mod commands;
mod live;
mod replay;
mod table;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Packet-level simulator of Azure peered virtual networks.
#[derive(Parser, Debug)]
#[command(name = "vnetsim", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Output format of the listing commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Tables and sentences for a person.
    Text,
    /// Machine-readable JSON on stdout.
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Parse a scenario and check every Azure rule (exit 0 valid, 2 invalid).
    Validate {
        /// Scenario file (YAML or JSON).
        file: PathBuf,
    },
    /// Replay a scenario and check its expectations (exit 0 all hold, 1 some failed, 2 invalid).
    Run {
        /// Scenario file; the bundled hub-and-spoke example when absent.
        file: Option<PathBuf>,
        /// Write the JSON report here.
        #[arg(long, value_name = "OUT.json")]
        report: Option<PathBuf>,
        /// Write every packet at every hop to this pcap file (simulated timestamps).
        #[arg(long, value_name = "OUT.pcap")]
        pcap: Option<PathBuf>,
        /// Write a latency CDF plot (SVG) of every flow into this directory.
        #[arg(long, value_name = "DIR")]
        plot: Option<PathBuf>,
        /// Seed of the random number generator (overrides the file's).
        #[arg(long)]
        seed: Option<u64>,
        /// Output format of the summary.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Replay a scenario and print wall seconds and simulated packets per wall second.
    Bench {
        /// Scenario file.
        file: PathBuf,
        /// Seed of the random number generator (overrides the file's).
        #[arg(long)]
        seed: Option<u64>,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Forward real programs' packets in real time: one loopback UDP port per NIC.
    Live(live::LiveArgs),
    /// One packet, hop by hop, with the route and NSG rule that decided each hop.
    Explain {
        /// Scenario file.
        file: PathBuf,
        /// Sender: VM name, on-premises host name or IPv4 address.
        #[arg(long)]
        from: String,
        /// Receiver: VM name, on-premises host name or IPv4 address.
        #[arg(long)]
        to: String,
        /// tcp, udp or icmp.
        #[arg(long, default_value = "icmp")]
        protocol: String,
        /// Destination port (tcp/udp).
        #[arg(long, default_value_t = 80)]
        dst_port: u16,
        /// Source port (tcp/udp).
        #[arg(long, default_value_t = 49152)]
        src_port: u16,
        /// Simulated time of the packet (e.g. 0s, 1.5s).
        #[arg(long, default_value = "0s")]
        at: String,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Effective routes of a VM's NIC(s), as Azure shows them.
    Routes {
        /// Scenario file.
        file: PathBuf,
        /// VM name.
        #[arg(long)]
        vm: String,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Effective security rules of a VM's NIC(s), both levels, in evaluation order.
    Rules {
        /// Scenario file.
        file: PathBuf,
        /// VM name.
        #[arg(long)]
        vm: String,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("VNETSIM_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Validate { file } => commands::validate(&file),
        Command::Run {
            file,
            report,
            pcap,
            plot,
            seed,
            format,
        } => {
            let outputs = replay::Outputs {
                report: report.as_deref(),
                pcap: pcap.as_deref(),
                plot: plot.as_deref(),
            };
            replay::run(file.as_deref(), outputs, seed, format)
        }
        Command::Bench { file, seed, format } => replay::bench(&file, seed, format),
        Command::Live(args) => live::run(args),
        Command::Explain {
            file,
            from,
            to,
            protocol,
            dst_port,
            src_port,
            at,
            format,
        } => commands::explain(
            &file, &from, &to, &protocol, src_port, dst_port, &at, format,
        ),
        Command::Routes { file, vm, format } => commands::routes(&file, &vm, format),
        Command::Rules { file, vm, format } => commands::rules(&file, &vm, format),
    };
    ExitCode::from(code)
}
