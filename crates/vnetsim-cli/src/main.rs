//! `vnetsim`: the command line over the scenario loader and the data plane.
//!
//! What it is for: `validate`, `run`, `explain`, `routes` and `rules` on scenario files, with
//! tables in Azure's vocabulary and `--format json`. What it is not: it decides nothing itself;
//! every verdict comes from `vnetsim-dataplane`.

mod out;
mod pretty;

mod commands;
mod diff;
mod import;
mod live;
mod matrix;
mod replay;
mod sweep;
mod table;
mod watcher;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Packet-level simulator of Azure peered virtual networks.
#[derive(Parser, Debug)]
#[command(
    name = "vnetsim",
    version,
    about = "Packet-level data-plane simulator of Azure virtual networks: validate, run, \
             explain, routes, rules, flow-verify, next-hop, bench, sweep, merge, generate, live, \
             matrix, import, diff.",
    long_about = None,
    after_help = "Exit codes: 0 success, 1 an expectation failed, 2 invalid input or output.\n\
                  Diagnostics: set VNETSIM_LOG (e.g. VNETSIM_LOG=debug or \
                  VNETSIM_LOG=vnetsim_engine=trace) to log to stderr."
)]
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

/// Output format of the commands that mirror an Azure CLI command (`routes`, `rules`,
/// `flow-verify`, `next-hop`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ViewFormat {
    /// Tables and sentences for a person.
    Text,
    /// vnetsim's JSON, with its `format` tag, on stdout.
    Json,
    /// The JSON the Azure CLI prints for the same question (its keys, spellings and order).
    Az,
}

/// Where `vnetsim import` reads a network from.
#[derive(Subcommand, Debug)]
enum ImportSource {
    /// JSON printed by `az network vnet list`, `az network nic list`, `az network nsg list`,
    /// `az network route-table list`, `az vm list`, `az network public-ip list` (or one
    /// `az graph query` over those types), one or more files.
    Az {
        /// The exported JSON files, networks first (dynamic addresses are allocated in this
        /// order).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Write the scenario here instead of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// The scenario's name.
        #[arg(long, default_value = "imported")]
        name: String,
    },
    /// An ARM template (JSON; Bicep compiles to it with `az bicep build`), with its parameters
    /// file and overrides; nested and linked deployments are followed.
    Arm {
        /// The template.
        template: PathBuf,
        /// A parameters file (`{"parameters": {"x": {"value": ...}}}`).
        #[arg(long)]
        parameters: Option<PathBuf>,
        /// A parameter value, `name=value` (repeatable); wins over the parameters file.
        #[arg(long = "set")]
        set: Vec<String>,
        /// Write the scenario here instead of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// The scenario's name.
        #[arg(long, default_value = "imported")]
        name: String,
    },
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Parse a scenario and check every Azure rule (exit 0 valid, 2 invalid).
    Validate {
        /// Scenario file (YAML or JSON).
        file: PathBuf,
        /// Output format (json: `vnetsim-validate/1`, the diagnostics as data on stdout).
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Replay a scenario and check its expectations (exit 0 all hold, 1 some failed, 2 invalid).
    Run {
        /// Scenario file; the bundled hub-and-spoke example when absent.
        file: Option<PathBuf>,
        /// Write the JSON report here.
        #[arg(long, value_name = "OUT.json")]
        report: Option<PathBuf>,
        /// Write every packet at every hop to this capture (pcapng: one interface per hop,
        /// drops with their reason; simulated timestamps).
        #[arg(long, value_name = "OUT.pcapng")]
        pcap: Option<PathBuf>,
        /// The capture's format: pcapng, or pcap (classic: one stream, no drops).
        #[arg(long, value_name = "FORMAT", default_value = "pcapng")]
        pcap_format: vnetsim_engine::pcap::PcapFormat,
        /// Capture only these flows (every hop) and what passes these VMs or NICs; repeat the
        /// flag or give a comma-separated list.
        #[arg(long, value_name = "NAMES")]
        pcap_filter: Vec<String>,
        /// Stop the capture at this size (500MB, 1GiB), this many records (100000packets) or
        /// never (none); what is left out is counted and said.
        #[arg(long, value_name = "LIMIT", default_value = "1GiB")]
        pcap_limit: vnetsim_engine::pcap::CaptureLimit,
        /// Write a latency CDF plot (SVG) of every flow into this directory.
        #[arg(long, value_name = "DIR")]
        plot: Option<PathBuf>,
        /// Seed of the random number generator (overrides the file's).
        #[arg(long)]
        seed: Option<u64>,
        /// Output format of the summary.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Run even when the estimate exceeds the limit of 10,000,000,000 packets.
        #[arg(long)]
        force: bool,
        /// Print every row of every table (a run of more than 50 flows, shapers or peerings
        /// otherwise shows its totals and the 20 rows that most need a look).
        #[arg(long)]
        all_rows: bool,
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
        /// Run even when the estimate exceeds the limit of 10,000,000,000 packets.
        #[arg(long)]
        force: bool,
    },
    /// Replay a scenario once per seed, in parallel, and merge the results into one report.
    Sweep {
        /// Scenario file.
        file: PathBuf,
        /// Seeds: a range A..B (B excluded) or a list 1,2,3.
        #[arg(long, default_value = "0..8")]
        seeds: String,
        /// Worker threads, at least 1 (default: the machine's cores).
        #[arg(long)]
        jobs: Option<std::num::NonZeroUsize>,
        /// Replay only shard I of N (from 0): a contiguous block of the seeds; the report is
        /// then a part for `vnetsim merge`.
        #[arg(long, value_name = "I/N")]
        shard: Option<String>,
        /// Also sweep over the named variants of the scenario in this file (YAML or JSON; see
        /// docs/sweep.md): every variant replays every seed.
        #[arg(long, value_name = "V.yaml")]
        variants: Option<PathBuf>,
        /// Write the merged JSON report (with --shard: the part) here.
        #[arg(long, value_name = "OUT.json")]
        report: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Run even when the estimate of all replays exceeds 10,000,000,000 packets.
        #[arg(long)]
        force: bool,
        /// Print every flow's line (a sweep of more than 50 flows otherwise shows its count and
        /// the 20 flows with the lowest mean delivered ratio).
        #[arg(long)]
        all_rows: bool,
    },
    /// Merge the parts of a sharded sweep (`sweep --shard I/N`) into the sweep's report.
    Merge {
        /// Part files, one per shard, in any order.
        #[arg(required = true)]
        parts: Vec<PathBuf>,
        /// Write the report here (default: standard output).
        #[arg(long, short, value_name = "OUT.json")]
        output: Option<PathBuf>,
    },
    /// Write a generated scenario (a hub with an appliance, spokes, VMs and flows).
    Generate {
        /// Kind of scenario (only `hub-spoke`).
        #[arg(value_parser = ["hub-spoke"])]
        kind: String,
        /// Spoke VNets.
        #[arg(long, default_value_t = 100)]
        spokes: u32,
        /// VMs per spoke.
        #[arg(long, default_value_t = 100)]
        vms_per_spoke: u32,
        /// Flows between VMs of different spokes.
        #[arg(long, default_value_t = 100_000)]
        flows: u32,
        /// Packets per second of each flow.
        #[arg(long, default_value_t = 10)]
        pps: u32,
        /// Packet size in bytes.
        #[arg(long, default_value_t = 64)]
        packet_size: u16,
        /// Simulated duration in milliseconds.
        #[arg(long, default_value_t = 1000)]
        duration_ms: u32,
        /// Seed of the pairing of senders and receivers.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Put an NSG on every spoke subnet (the flows' port allowed, the rest denied).
        #[arg(long)]
        nsgs: bool,
        /// Inspect spoke-to-spoke traffic with an Azure Firewall in the hub (a network rule
        /// allows the flows' port) instead of a VM appliance.
        #[arg(long)]
        firewall: bool,
        /// Write here instead of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Which flows change verdict, path or deciding rule between two versions of a network
    /// (scenario files or ARM templates); exit 1 when any did.
    Diff(diff::DiffArgs),
    /// Bring a real network in: Azure CLI exports or an ARM template to a scenario file (era
    /// current).
    #[command(subcommand)]
    Import(ImportSource),
    /// Forward real programs' packets in real time: a loopback UDP port per NIC (--mode udp) or a
    /// network namespace with a TUN interface per VM (--mode netns, as root).
    Live(live::LiveArgs),
    /// One packet, hop by hop, with the route and NSG rule that decided each hop.
    Explain {
        /// Scenario file.
        file: PathBuf,
        /// Sender: VM name, NIC (`vm/nic` or its name), on-premises host name or IPv4 address.
        #[arg(long)]
        from: String,
        /// Receiver: VM name, NIC (`vm/nic` or its name), on-premises host name or IPv4 address.
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
    /// The verdict of every pair of endpoints on each port (summary, every row, JSON or CSV).
    Matrix(matrix::MatrixArgs),
    /// Effective routes of a VM's NIC(s), as Azure shows them.
    Routes {
        /// Scenario file.
        file: PathBuf,
        /// VM name (every NIC), or one NIC: `vm/nic` or the NIC's name.
        #[arg(long)]
        vm: String,
        /// text, json (`vnetsim-routes/1`) or az (what `az network nic
        /// show-effective-route-table` prints, for one NIC).
        #[arg(long, value_enum, default_value = "text")]
        format: ViewFormat,
    },
    /// Effective security rules of a VM's NIC(s), both levels, in evaluation order.
    Rules {
        /// Scenario file.
        file: PathBuf,
        /// VM name (every NIC), or one NIC: `vm/nic` or the NIC's name.
        #[arg(long)]
        vm: String,
        /// text, json (`vnetsim-rules/1`) or az (what `az network nic list-effective-nsg`
        /// prints, for one NIC).
        #[arg(long, value_enum, default_value = "text")]
        format: ViewFormat,
    },
    /// Which security rule allows or denies one packet at a VM's NIC, as Network Watcher's IP
    /// flow verify (`az network watcher test-ip-flow`) answers.
    FlowVerify(watcher::FlowVerifyArgs),
    /// The next hop type, address and route table from a VM's NIC to an address, as Network
    /// Watcher's next hop (`az network watcher show-next-hop`) answers.
    NextHop(watcher::NextHopArgs),
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
        Command::Validate { file, format } => commands::validate(&file, format),
        Command::Run {
            file,
            report,
            pcap,
            pcap_format,
            pcap_filter,
            pcap_limit,
            plot,
            seed,
            format,
            force,
            all_rows,
        } => {
            let outputs = replay::Outputs {
                report: report.as_deref(),
                pcap: pcap.as_deref(),
                pcap_format,
                pcap_filter: &pcap_filter,
                pcap_limit,
                plot: plot.as_deref(),
                all_rows,
            };
            replay::run(file.as_deref(), outputs, seed, format, force)
        }
        Command::Bench {
            file,
            seed,
            format,
            force,
        } => replay::bench(&file, seed, format, force),
        Command::Live(args) => live::run(args),
        Command::Sweep {
            file,
            seeds,
            jobs,
            shard,
            variants,
            report,
            format,
            force,
            all_rows,
        } => sweep::sweep(
            &file,
            &seeds,
            jobs,
            shard.as_deref(),
            variants.as_deref(),
            report.as_deref(),
            format,
            force,
            all_rows,
        ),
        Command::Merge { parts, output } => sweep::merge(&parts, output.as_deref()),
        Command::Generate {
            kind: _,
            spokes,
            vms_per_spoke,
            flows,
            pps,
            packet_size,
            duration_ms,
            seed,
            nsgs,
            firewall,
            output,
        } => sweep::generate(
            vnetsim_scenario::generate::HubSpoke {
                spokes,
                vms_per_spoke,
                flows,
                pps,
                packet_size,
                duration_ms,
                seed,
                nsgs,
                firewall,
            },
            output.as_deref(),
        ),
        Command::Diff(args) => diff::diff(&args),
        Command::Import(ImportSource::Az {
            files,
            output,
            name,
        }) => import::import_az(&files, output.as_deref(), &name),
        Command::Import(ImportSource::Arm {
            template,
            parameters,
            set,
            output,
            name,
        }) => import::import_arm(
            &template,
            parameters.as_deref(),
            &set,
            output.as_deref(),
            &name,
        ),
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
        Command::Matrix(args) => matrix::matrix(&args),
        Command::Routes { file, vm, format } => commands::routes(&file, &vm, format),
        Command::Rules { file, vm, format } => commands::rules(&file, &vm, format),
        Command::FlowVerify(args) => watcher::flow_verify(&args),
        Command::NextHop(args) => watcher::next_hop(&args),
    };
    // A closed pipe is not an error (the reader chose to stop); any other failure to write
    // stdout is, even when the command itself succeeded.
    if out::finish_stdout() {
        ExitCode::from(code)
    } else {
        ExitCode::from(commands::INVALID)
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// `--help`, the README's command table and the architecture map name every command.
    #[test]
    fn every_command_is_listed_in_help_readme_and_architecture() {
        let cli = Cli::command();
        let about = cli.get_about().map(|a| a.to_string()).unwrap_or_default();
        let readme = include_str!("../../../README.md");
        let architecture = include_str!("../../../ARCHITECTURE.md");
        let names: Vec<&str> = cli.get_subcommands().map(|c| c.get_name()).collect();
        assert!(names.len() >= 9, "{names:?}");
        for name in names {
            assert!(
                about.contains(name),
                "--help's summary misses `{name}`: {about}"
            );
            assert!(
                readme.contains(&format!("| `vnetsim {name}")),
                "README's command table misses `vnetsim {name}`"
            );
            assert!(
                architecture.contains(&format!("`{name}`")),
                "ARCHITECTURE.md misses `{name}`"
            );
        }
    }

    /// The environment variables the Rust sources (`src/` of each crate, not their tests) read
    /// by name (`var`, `var_os`,
    /// `try_from_env` with a string literal).
    fn variables_read(dir: &std::path::Path, found: &mut std::collections::BTreeSet<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                variables_read(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                for call in ["var_os(\"", "var(\"", "try_from_env(\""] {
                    for (i, _) in text.match_indices(call) {
                        let rest = &text[i + call.len()..];
                        if let Some(end) = rest.find('"') {
                            found.insert(rest[..end].to_string());
                        }
                    }
                }
            }
        }
    }

    /// Every environment variable the code reads, and the Python tests', is in the README's
    /// table.
    #[test]
    fn every_environment_variable_is_documented() {
        let readme = include_str!("../../../README.md");
        let mut vars = std::collections::BTreeSet::new();
        let crates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for krate in std::fs::read_dir(&crates).expect("crates").flatten() {
            variables_read(&krate.path().join("src"), &mut vars);
        }
        assert!(vars.contains("VNETSIM_LOG"), "{vars:?}");
        assert!(vars.contains("VNETSIM_THREADS"), "{vars:?}");
        vars.extend(["VNETSIM_BIN"].map(String::from));
        for var in vars {
            assert!(
                readme.contains(&format!("| `{var}` |")),
                "README's environment table misses {var}"
            );
        }
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("VNETSIM_LOG"), "{help}");
    }
}
