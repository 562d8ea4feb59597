//! How far live mode's latency is from the scenario's model: packets through UDP mode, one at a
//! time, each one's extra latency (measured one-way latency minus the model's) recorded.
//!
//! What it is for: the figure in the live-mode docs. For each path it sends `COUNT` TCP SYNs
//! (default 2000) from the sender NIC's port to the fabric, spaced by 0.5 to 1.5 ms so the
//! shapers stay idle, and times each one from the send to its arrival at the receiver's
//! socket. The model's latency of the same packet comes from a [`Fabric`] on a virtual clock
//! (shaper serialization plus the latency model, hop by hop). It also times a plain loopback
//! relay (a thread that receives and sends back out, nothing else): the floor any userspace hop
//! over loopback costs on this machine. What it is not: a throughput test (one packet in
//! flight), nor a test: it prints figures and asserts only that every packet arrived.
//!
//! `cargo run --release -p vnetsim-live --example live_latency [COUNT]`

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use vnetsim_dataplane::wire::{PacketSpec, build_probe};
use vnetsim_live::{Fabric, PortMap, RunOptions, UdpFabric};
use vnetsim_scenario::{NicId, Protocol, Scenario};

/// How long a packet may take before the run is called broken.
const WAIT: Duration = Duration::from_secs(2);

/// One measured path: scenario, sender, receiver, packet, hops on the way.
struct Path {
    file: &'static str,
    from: &'static str,
    to: &'static str,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    dst_port: u16,
    hops: u32,
}

const PATHS: [Path; 2] = [
    Path {
        file: "basic-peering.yaml",
        from: "vm-a",
        to: "vm-b",
        src: Ipv4Addr::new(10, 10, 0, 4),
        dst: Ipv4Addr::new(10, 20, 0, 4),
        dst_port: 443,
        hops: 1,
    },
    Path {
        file: "hub-and-spoke.yaml",
        from: "web1",
        to: "db1",
        src: Ipv4Addr::new(10, 1, 1, 4),
        dst: Ipv4Addr::new(10, 2, 1, 4),
        dst_port: 1433,
        hops: 2,
    },
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let count: usize = match std::env::args().nth(1) {
        Some(n) => n.parse().map_err(|e| format!("COUNT {n}: {e}"))?,
        None => 2000,
    };
    if count == 0 {
        return Err("COUNT must be at least 1".into());
    }
    println!("{count} packets per path, one at a time; extra = measured one-way latency - model");
    println!(
        "{:<40} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "path", "model us", "median", "p90", "p99", "max"
    );
    let floor = relay_floor(count)?;
    print_row("loopback relay (no fabric, the floor)", 0, &floor, 1);
    for path in &PATHS {
        let scenario = load(path.file)?;
        let packet = syn(path);
        let model = model_latency(&scenario, path.from, &packet)?;
        let extra = through_udp_mode(&scenario, path, &packet, model, count)?;
        let name = format!("{}: {} -> {}", path.file, path.from, path.to);
        print_row(&name, model, &extra, 1);
        if path.hops > 1 {
            print_row(
                &format!("  per hop ({} hops)", path.hops),
                0,
                &extra,
                path.hops,
            );
        }
    }
    Ok(())
}

fn print_row(name: &str, model_ns: u64, extra_ns: &[i64], hops: u32) {
    let mut sorted: Vec<i64> = extra_ns.to_vec();
    sorted.sort_unstable();
    let at = |q: usize| sorted[(sorted.len() * q / 100).min(sorted.len() - 1)];
    let us = |ns: i64| ns as f64 / 1000.0 / f64::from(hops);
    let model = if model_ns == 0 {
        "-".to_string()
    } else {
        format!("{:.1}", model_ns as f64 / 1000.0)
    };
    println!(
        "{:<40} {:>9} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
        name,
        model,
        us(at(50)),
        us(at(90)),
        us(at(99)),
        us(sorted[sorted.len() - 1])
    );
}

fn load(file: &str) -> Result<Scenario, Box<dyn std::error::Error>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios")
        .join(file);
    vnetsim_scenario::load_file(&path).map_err(|e| format!("{file}: {e:?}").into())
}

fn syn(path: &Path) -> Vec<u8> {
    let spec = PacketSpec {
        src: path.src,
        dst: path.dst,
        protocol: Protocol::Tcp,
        src_port: 40000,
        dst_port: path.dst_port,
        ttl: 64,
        total_len: 60,
        identification: 1,
    };
    let mut buf = vec![0u8; 60];
    let n = build_probe(&mut buf, &spec).expect("a 60-byte SYN fits");
    buf.truncate(n);
    buf
}

/// The model's latency of `packet` sent by `from` on an idle fabric: a virtual clock jumps from
/// deadline to deadline until the packet is delivered.
fn model_latency(
    scenario: &Scenario,
    from: &str,
    packet: &[u8],
) -> Result<u64, Box<dyn std::error::Error>> {
    let nic = scenario
        .nics
        .iter()
        .position(|n| &*scenario.vms[n.vm.index()].name == from)
        .ok_or_else(|| format!("no VM {from}"))?;
    let mut fabric = Fabric::new(scenario);
    fabric.ingest(NicId(nic as u32), packet, 0);
    while let Some(at) = fabric.next_deadline() {
        if !fabric.advance(at).is_empty() {
            return Ok(at);
        }
    }
    Err(format!("the model does not deliver the packet from {from}").into())
}

/// Sends `count` copies of `packet` through UDP mode one at a time; returns each one's
/// measured latency minus `model`, in ns.
fn through_udp_mode(
    scenario: &Scenario,
    path: &Path,
    packet: &[u8],
    model: u64,
    count: usize,
) -> Result<Vec<i64>, Box<dyn std::error::Error>> {
    // The same runtime as `vnetsim live`: one thread.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let fabric = UdpFabric::bind(scenario, 0).await?;
        let map: PortMap = fabric.port_map().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(fabric.run(RunOptions::default(), async {
            let _ = stopped.await;
        }));
        let from = map.addr_of(path.from).ok_or("no sender port")?;
        let to = map.addr_of(path.to).ok_or("no receiver port")?;
        let packet = packet.to_vec();
        let measured =
            tokio::task::spawn_blocking(move || time_packets(from, to, &packet, count)).await?;
        let _ = stop.send(());
        let report = running.await?;
        let times = measured?;
        if report.conservation.delivered != count as u64 {
            return Err(format!(
                "{} of {count} packets delivered",
                report.conservation.delivered
            )
            .into());
        }
        Ok(times.iter().map(|&t| t as i64 - model as i64).collect())
    })
}

/// A gap of 0.5 to 1.5 ms before packet `i` (a fixed pseudo-random sequence), so the sends
/// do not keep step with any timer tick.
fn gap(i: usize) -> Duration {
    let x = (i as u64)
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    Duration::from_micros(500 + (x >> 33) % 1000)
}

/// Registers a receiver on `to`, then sends `packet` to `from` `count` times, each after the
/// previous one arrived; returns the one-way times in ns.
fn time_packets(
    from: SocketAddr,
    to: SocketAddr,
    packet: &[u8],
    count: usize,
) -> Result<Vec<u64>, String> {
    let e = |e: std::io::Error| e.to_string();
    let sender = UdpSocket::bind("127.0.0.1:0").map_err(e)?;
    let receiver = UdpSocket::bind("127.0.0.1:0").map_err(e)?;
    receiver.set_read_timeout(Some(WAIT)).map_err(e)?;
    receiver.send_to(&[], to).map_err(e)?;
    std::thread::sleep(Duration::from_millis(50));
    let mut buf = [0u8; 2048];
    let mut times = Vec::with_capacity(count);
    for i in 0..count {
        std::thread::sleep(gap(i));
        let sent = Instant::now();
        sender.send_to(packet, from).map_err(e)?;
        let (n, _) = receiver
            .recv_from(&mut buf)
            .map_err(|err| format!("packet {i}: {err}"))?;
        times.push(sent.elapsed().as_nanos() as u64);
        if n != packet.len() {
            return Err(format!(
                "packet {i}: {n} bytes arrived, {} sent",
                packet.len()
            ));
        }
    }
    Ok(times)
}

/// The same exchange through a thread that only receives and sends on: what one userspace hop
/// over loopback costs here, with no fabric and no timer.
fn relay_floor(count: usize) -> Result<Vec<i64>, Box<dyn std::error::Error>> {
    let relay = UdpSocket::bind("127.0.0.1:0")?;
    let out = UdpSocket::bind("127.0.0.1:0")?;
    relay.set_read_timeout(Some(Duration::from_millis(200)))?;
    let relay_addr = relay.local_addr()?;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop = std::sync::Arc::clone(&done);
    let thread = std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        // The receiver registers first, as with the fabric.
        let Ok((_, receiver)) = relay.recv_from(&mut buf) else {
            return;
        };
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            if let Ok((n, _)) = relay.recv_from(&mut buf) {
                let _ = out.send_to(&buf[..n], receiver);
            }
        }
    });
    let packet = [0u8; 60];
    let times = time_packets(relay_addr, relay_addr, &packet, count);
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = thread.join();
    Ok(times?.into_iter().map(|t| t as i64).collect())
}
