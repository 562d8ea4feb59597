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
//!   program registered is counted as `no_listener`.
//! - Bytes that are not a valid IPv4 packet are dropped and counted as `malformed`.
//!
//! What it is not: a tunnel to anywhere. It binds only 127.0.0.1 and only answers addresses
//! that sent to it.

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use vnetsim_scenario::{NicId, Scenario};

use crate::drive::{Endpoints, drive};
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
}

/// The fabric with one bound loopback UDP socket per NIC.
#[derive(Debug)]
pub struct UdpFabric {
    fabric: Fabric,
    sockets: Vec<Arc<UdpSocket>>,
    map: PortMap,
}

impl UdpFabric {
    /// Builds the fabric and binds NIC `i` to `127.0.0.1:(base_port + i)` (ephemeral ports when
    /// `base_port` is 0). Fails when a port is taken or the range passes 65535.
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
            let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, port))
                .await
                .map_err(|e| io::Error::new(e.kind(), format!("127.0.0.1:{port}: {e}")))?;
            let port = socket.local_addr()?.port();
            nics.push(PortEntry {
                nic: nic.name.clone(),
                vm: scenario.vms[nic.vm.index()].name.to_string(),
                ip: nic.ip,
                port,
            });
            sockets.push(Arc::new(socket));
        }
        Ok(UdpFabric {
            fabric: Fabric::new(scenario),
            sockets,
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
            mut fabric,
            sockets,
            map: _,
        } = self;
        let (tx, rx) = mpsc::channel::<(u32, Vec<u8>, SocketAddr)>(1024);
        let mut receivers = Vec::with_capacity(sockets.len());
        for (i, socket) in sockets.iter().enumerate() {
            let socket = Arc::clone(socket);
            let tx = tx.clone();
            receivers.push(tokio::spawn(async move {
                let mut buf = vec![0u8; MAX_DATAGRAM];
                loop {
                    match socket.recv_from(&mut buf).await {
                        Ok((n, from)) => {
                            if tx.send((i as u32, buf[..n].to_vec(), from)).await.is_err() {
                                break;
                            }
                        }
                        // An ICMP port unreachable from an earlier send shows up here on
                        // Linux; the socket is still fine.
                        Err(e) => tracing::debug!(nic = i, error = %e, "receive error"),
                    }
                }
            }));
        }
        drop(tx);
        let mut endpoints = UdpEndpoints {
            peers: vec![None; sockets.len()],
            sockets: &sockets,
        };
        let now = drive(
            &mut fabric,
            &mut endpoints,
            rx,
            options.stats_every,
            shutdown,
        )
        .await;
        for r in receivers {
            r.abort();
        }
        fabric.report(now, "udp")
    }
}

/// UDP mode's endpoints: a delivery goes to the last address that sent from the NIC's port.
struct UdpEndpoints<'a> {
    sockets: &'a [Arc<UdpSocket>],
    peers: Vec<Option<SocketAddr>>,
}

impl Endpoints for UdpEndpoints<'_> {
    type Msg = (u32, Vec<u8>, SocketAddr);

    fn received(&mut self, (nic, bytes, from): Self::Msg) -> Option<(NicId, Vec<u8>)> {
        self.peers[nic as usize] = Some(from);
        // An empty datagram only registers the sender as the NIC's program.
        (!bytes.is_empty()).then_some((NicId(nic), bytes))
    }

    async fn deliver(&mut self, d: &Delivery) -> bool {
        let i = d.nic.index();
        let Some(peer) = self.peers[i] else {
            return false;
        };
        if let Err(e) = self.sockets[i].send_to(&d.bytes, peer).await {
            tracing::warn!(nic = i, %peer, error = %e, "send failed");
        }
        true
    }
}
