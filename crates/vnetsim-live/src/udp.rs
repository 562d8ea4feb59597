//! UDP mode: every VM NIC is a UDP port on the loopback address; one datagram carries one raw
//! IPv4 packet.
//!
//! What it is for: real programs' packets through the simulated fabric without privileges
//! (tests, CI). Framing and port map:
//!
//! - NIC `i` of the scenario (file order) listens on `127.0.0.1:(base_port + i)`, or on an
//!   ephemeral port when the base port is 0. [`PortMap`] lists them (`vnetsim live
//!   --port-map FILE` writes it as JSON, schema `vnetsim-ports/1`).
//! - A datagram sent to a NIC's port is one IPv4 packet (header included, no other framing)
//!   sent by that NIC's VM; its source address must be the NIC's IP, as on Azure (unless the
//!   NIC has IP forwarding). It goes through the data plane, the VM-size shaper and the latency
//!   model in real time.
//! - A packet delivered to a NIC is sent, as one datagram holding the IPv4 packet, from that
//!   NIC's port to the address that last sent a datagram to that port. An empty datagram
//!   registers its sender that way without sending a packet; a packet delivered before any
//!   program registered is counted as `no_listener`. The first address to send to a NIC's port
//!   is its program for the whole run: datagrams from any other address are refused and counted
//!   as `foreign_senders` (so another local process cannot take a NIC's deliveries over), unless
//!   [`RunOptions::allow_rebind`] lets the last sender win.
//! - Each socket asks for a 4 MiB receive buffer; datagrams the kernel still drops because a
//!   buffer was full are read from `/proc/net/udp` and reported as `dropped_by_kernel`.
//! - Bytes that are not a valid IPv4 packet are dropped and counted as `malformed`.
//!
//! What it is not: a tunnel to anywhere. It binds only 127.0.0.1 and only answers addresses
//! that sent to it.

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::AsFd;
use std::time::Duration;

use serde::Serialize;
use vnetsim_scenario::{NicId, Scenario};

use crate::drive::{ClockThread, Endpoints, drive, write_or_wait};
use crate::fabric::{Delivery, Fabric};
use crate::report::LiveReport;

/// Port map schema name and version.
pub const PORT_MAP_FORMAT: &str = "vnetsim-ports/1";

/// The largest datagram read: the largest IPv4 packet.
const MAX_DATAGRAM: usize = 65535;

/// One NIC's port.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PortEntry {
    /// NIC name.
    pub nic: String,
    /// Its VM.
    pub vm: String,
    /// The NIC's IPv4 address (the source its packets must carry).
    pub ip: Ipv4Addr,
    /// The UDP port on 127.0.0.1.
    pub port: u16,
}

/// Which UDP port on 127.0.0.1 stands for which NIC.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PortMap {
    /// [`PORT_MAP_FORMAT`].
    pub format: &'static str,
    /// Scenario name.
    pub scenario: String,
    /// Always `127.0.0.1`.
    pub address: Ipv4Addr,
    /// Every NIC, in scenario order.
    pub nics: Vec<PortEntry>,
}

impl PortMap {
    /// The port of the NIC named `nic`, or of the primary NIC of the VM named so.
    pub fn port_of(&self, name: &str) -> Option<u16> {
        self.nics
            .iter()
            .find(|e| e.nic == name)
            .or_else(|| self.nics.iter().find(|e| e.vm == name))
            .map(|e| e.port)
    }

    /// `127.0.0.1:port` of the NIC (or VM) named `name`.
    pub fn addr_of(&self, name: &str) -> Option<SocketAddr> {
        self.port_of(name)
            .map(|p| SocketAddr::from((self.address, p)))
    }

    /// The map as a table for a person.
    pub fn render_text(&self) -> String {
        let mut out = format!(
            "scenario '{}': one UDP port per NIC on {}, one raw IPv4 packet per datagram\n",
            self.scenario, self.address
        );
        let w_nic = self
            .nics
            .iter()
            .map(|e| e.nic.len())
            .max()
            .unwrap_or(3)
            .max(3);
        let w_vm = self
            .nics
            .iter()
            .map(|e| e.vm.len())
            .max()
            .unwrap_or(2)
            .max(2);
        out.push_str(&format!(
            "{:<w_nic$}  {:<w_vm$}  {:<15}  port\n",
            "nic", "vm", "ip"
        ));
        for e in &self.nics {
            out.push_str(&format!(
                "{:<w_nic$}  {:<w_vm$}  {:<15}  {}\n",
                e.nic,
                e.vm,
                e.ip.to_string(),
                e.port
            ));
        }
        out
    }
}

/// How a live run reports while it runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// Print the counters on stderr at this interval (`None`: never).
    pub stats_every: Option<Duration>,
    /// Let any address that sends to a NIC's port become its program (the last one wins)
    /// instead of keeping the first.
    pub allow_rebind: bool,
}

/// The receive buffer each NIC's socket asks for: a burst of about 2,800 full-size datagrams.
pub const RECEIVE_BUFFER_BYTES: usize = 4 << 20;

/// Asks for a larger receive buffer; as root the kernel's `rmem_max` cap is passed over
/// (`SO_RCVBUFFORCE`). A refusal keeps the default buffer: losses then show as
/// `dropped_by_kernel`.
fn enlarge_receive_buffer(socket: &std::net::UdpSocket) {
    use std::os::fd::AsRawFd;
    let size = RECEIVE_BUFFER_BYTES as libc::c_int;
    let fd = socket.as_raw_fd();
    for option in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
        // SAFETY: `fd` is an open socket owned by `socket` for the duration of the call, and
        // the option value is a c_int of the size given.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                option,
                (&size as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc == 0 {
            return;
        }
    }
    tracing::debug!("receive buffer left at the kernel's default");
}

/// Datagrams the kernel dropped at each of `ports` on 127.0.0.1 (the `drops` column of
/// `/proc/net/udp`); zeros where the table cannot be read.
pub fn kernel_drops(ports: &[u16]) -> Vec<u64> {
    let table = std::fs::read_to_string("/proc/net/udp").unwrap_or_default();
    kernel_drops_in(&table, ports)
}

fn kernel_drops_in(table: &str, ports: &[u16]) -> Vec<u64> {
    ports
        .iter()
        .map(|port| {
            // 127.0.0.1 in the kernel's byte order, then the port in hex.
            let local = format!("0100007F:{port:04X}");
            table
                .lines()
                .filter(|l| l.split_whitespace().nth(1) == Some(local.as_str()))
                .filter_map(|l| l.split_whitespace().last()?.parse::<u64>().ok())
                .sum()
        })
        .collect()
}

/// The fabric with one bound loopback UDP socket per NIC.
#[derive(Debug)]
pub struct UdpFabric {
    fabric: Fabric,
    /// Non-blocking, read and written by the clock thread.
    sockets: Vec<std::net::UdpSocket>,
    clock: ClockThread,
    map: PortMap,
}

impl UdpFabric {
    /// Builds the fabric and binds NIC `i` to `127.0.0.1:(base_port + i)` (ephemeral ports when
    /// `base_port` is 0). Fails when a port is taken, the range passes 65535 or the fabric's
    /// clock thread cannot start.
    pub async fn bind(scenario: &Scenario, base_port: u16) -> io::Result<UdpFabric> {
        let count = scenario.nics.len();
        if base_port != 0 && usize::from(base_port) + count > usize::from(u16::MAX) + 1 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("base port {base_port} + {count} NICs passes 65535"),
            ));
        }
        let mut sockets = Vec::with_capacity(count);
        let mut nics = Vec::with_capacity(count);
        for (i, nic) in scenario.nics.iter().enumerate() {
            let port = if base_port == 0 {
                0
            } else {
                base_port + i as u16
            };
            let context = |e: io::Error| io::Error::new(e.kind(), format!("127.0.0.1:{port}: {e}"));
            let socket = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).map_err(context)?;
            enlarge_receive_buffer(&socket);
            socket.set_nonblocking(true).map_err(context)?;
            let port = socket.local_addr()?.port();
            nics.push(PortEntry {
                nic: nic.name.clone(),
                vm: scenario.vms[nic.vm.index()].name.to_string(),
                ip: nic.ip,
                port,
            });
            sockets.push(socket);
        }
        let mut clock = ClockThread::spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot start the clock thread: {e}")))?;
        let fds: Vec<_> = sockets.iter().map(|s| s.as_fd()).collect();
        clock
            .watch(&fds)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot watch the NICs' ports: {e}")))?;
        drop(fds);
        Ok(UdpFabric {
            fabric: Fabric::new(scenario),
            sockets,
            clock,
            map: PortMap {
                format: PORT_MAP_FORMAT,
                scenario: scenario.name.clone(),
                address: Ipv4Addr::LOCALHOST,
                nics,
            },
        })
    }

    /// Which port stands for which NIC.
    pub fn port_map(&self) -> &PortMap {
        &self.map
    }

    /// The fabric (to attach a capture before running).
    pub fn fabric_mut(&mut self) -> &mut Fabric {
        &mut self.fabric
    }

    /// Forwards packets in real time until `shutdown` completes (Ctrl-C, a duration, a test's
    /// signal), then returns what happened.
    pub async fn run(self, options: RunOptions, shutdown: impl Future<Output = ()>) -> LiveReport {
        let UdpFabric {
            fabric,
            sockets,
            clock,
            map,
        } = self;
        // The clock thread reads the sockets itself: no reader task sends to this inbox.
        let (inbox, intake) = clock.inbox::<(u32, Vec<u8>, SocketAddr)>();
        drop(inbox);
        let count = sockets.len();
        let endpoints = UdpEndpoints {
            peers: vec![None; count],
            foreign: vec![0; count],
            allow_rebind: options.allow_rebind,
            sockets,
            buf: vec![0u8; MAX_DATAGRAM],
        };
        let (fabric, endpoints, now) = drive(
            clock,
            fabric,
            endpoints,
            intake,
            options.stats_every,
            shutdown,
        )
        .await;
        let mut report = fabric.report(now, "udp");
        let ports: Vec<u16> = map.nics.iter().map(|e| e.port).collect();
        let drops = kernel_drops(&ports);
        for ((nic, foreign), dropped) in report.nics.iter_mut().zip(&endpoints.foreign).zip(drops) {
            nic.foreign_senders = *foreign;
            nic.dropped_by_kernel = dropped;
        }
        report
    }
}

/// UDP mode's endpoints: a delivery goes to the program registered for the NIC's port (the
/// first address that sent to it, or the last with `allow_rebind`). The sockets are the NICs'
/// own, open for the whole run (so `/proc/net/udp` still lists them for the report).
struct UdpEndpoints {
    sockets: Vec<std::net::UdpSocket>,
    /// Room for one datagram being read.
    buf: Vec<u8>,
    peers: Vec<Option<SocketAddr>>,
    /// Datagrams refused per NIC because another program holds it.
    foreign: Vec<u64>,
    allow_rebind: bool,
}

impl Endpoints for UdpEndpoints {
    type Msg = (u32, Vec<u8>, SocketAddr);

    fn received(&mut self, (nic, bytes, from): Self::Msg) -> Option<(NicId, Vec<u8>)> {
        let peer = &mut self.peers[nic as usize];
        match *peer {
            Some(holder) if holder != from && !self.allow_rebind => {
                self.foreign[nic as usize] += 1;
                tracing::debug!(nic, %from, %holder, "datagram from another program refused");
                return None;
            }
            _ => *peer = Some(from),
        }
        // An empty datagram only registers the sender as the NIC's program.
        (!bytes.is_empty()).then_some((NicId(nic), bytes))
    }

    fn read_input(&mut self, i: usize) -> Option<Self::Msg> {
        let socket = self.sockets.get(i)?;
        loop {
            match socket.recv_from(&mut self.buf) {
                Ok((n, from)) => return Some((i as u32, self.buf[..n].to_vec(), from)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // An ICMP port unreachable from an earlier send shows up here on Linux; the
                // socket is still fine, and what it holds is read next round.
                Err(e) => {
                    tracing::debug!(nic = i, error = %e, "receive error");
                    return None;
                }
            }
        }
    }

    fn deliver(&mut self, d: &Delivery) -> bool {
        let i = d.nic.index();
        let (Some(Some(peer)), Some(socket)) = (self.peers.get(i), self.sockets.get(i)) else {
            return false;
        };
        let peer = *peer;
        if let Err(e) = write_or_wait(socket.as_fd(), || {
            socket.send_to(&d.bytes, peer).map(|_| ())
        }) {
            tracing::warn!(nic = i, %peer, error = %e, "send failed");
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_drops_are_read_per_loopback_port() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  123: 0100007F:9C40 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1 2 0000000000000000 17
  124: 00000000:9C40 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1 2 0000000000000000 99
  125: 0100007F:9C41 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1 2 0000000000000000 0
";
        assert_eq!(
            kernel_drops_in(table, &[40000, 40001, 40002]),
            vec![17, 0, 0]
        );
    }
}
