//! Azure Load Balancer, checked and with names resolved to ids: frontends, backend pools of
//! NICs, health probes and load-balancing rules.
//!
//! What it is for: what the data plane compiles into its load balancer tables
//! (`vnetsim_dataplane::forward::lb`) and what `explain` names. What it is not: the choice of
//! a backend, the health of backends or the state of connections, which belong to the data
//! plane; nor outbound rules, inbound NAT rules or SNAT port allocation (not modelled).
//!
//! Sources: Azure Load Balancer SKUs [LBSKU23] (learn.microsoft.com/azure/load-balancer/skus),
//! distribution modes [LBDIST23] (.../load-balancer/distribution-mode-concepts), floating IP
//! [LBFIP23] (.../load-balancer/load-balancer-floating-ip), health probes [LBPROBE18]
//! (.../load-balancer/load-balancer-custom-probe-overview), HA ports [LBHA17]
//! (.../load-balancer/load-balancer-ha-ports-overview), FAQ [LBFAQ26]
//! (.../load-balancer/load-balancer-faqs).

use std::net::Ipv4Addr;

use super::{Nanos, NicId, SubnetId, VnetId};

id_type!(
    /// Index into [`super::Scenario::load_balancers`].
    LoadBalancerId
);

/// A load balancer SKU [LBSKU23].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum LbSku {
    /// Basic: no HA ports, no HTTPS probes, frontends unreachable over global peering;
    /// retired 2025-09-30 [LBFAQ26].
    Basic,
    /// Standard.
    #[default]
    Standard,
}

impl LbSku {
    /// Azure's name.
    pub fn as_str(self) -> &'static str {
        match self {
            LbSku::Basic => "Basic",
            LbSku::Standard => "Standard",
        }
    }
}

/// Where a frontend lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LbFrontendKind {
    /// An internal frontend: a private IP of a subnet.
    Internal {
        /// Its VNet.
        vnet: VnetId,
        /// Its subnet.
        subnet: SubnetId,
    },
    /// A public frontend: a public IP address.
    Public,
}

/// A frontend IP configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct LbFrontend {
    /// Name, unique in its load balancer.
    pub name: String,
    /// Its address (private for an internal frontend, public otherwise).
    pub ip: Ipv4Addr,
    /// Internal or public.
    pub kind: LbFrontendKind,
}

/// A backend pool of NICs.
#[derive(Clone, Debug, PartialEq)]
pub struct LbPool {
    /// Name, unique in its load balancer.
    pub name: String,
    /// Its NICs, in file order.
    pub nics: Vec<NicId>,
}

/// A health probe's protocol [LBPROBE18].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LbProbeProtocol {
    /// A TCP handshake to the port.
    Tcp,
    /// An HTTP GET answered with 200.
    Http,
    /// An HTTPS GET answered with 200 (Standard only [LBSKU23]).
    Https,
}

impl LbProbeProtocol {
    /// The name used in files.
    pub fn as_str(self) -> &'static str {
        match self {
            LbProbeProtocol::Tcp => "tcp",
            LbProbeProtocol::Http => "http",
            LbProbeProtocol::Https => "https",
        }
    }
}

/// A health probe.
#[derive(Clone, Debug, PartialEq)]
pub struct LbProbe {
    /// Name, unique in its load balancer.
    pub name: String,
    /// Protocol (all three travel over TCP).
    pub protocol: LbProbeProtocol,
    /// Port probed on each backend.
    pub port: u16,
    /// Interval between probes (at least 5 s [LBPROBE18]).
    pub interval: Nanos,
}

/// The protocol of a load-balancing rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LbProtocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// Every protocol (HA ports rules only).
    All,
}

impl LbProtocol {
    /// The name used in files.
    pub fn as_str(self) -> &'static str {
        match self {
            LbProtocol::Tcp => "tcp",
            LbProtocol::Udp => "udp",
            LbProtocol::All => "all",
        }
    }
}

/// How a rule spreads new flows over its backends [LBDIST23].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum LbDistribution {
    /// A hash of the 5-tuple (source IP and port, destination IP and port, protocol).
    #[default]
    Default,
    /// Session persistence on the 2-tuple (source IP, destination IP).
    SourceIp,
    /// Session persistence on the 3-tuple (source IP, destination IP, protocol).
    SourceIpProtocol,
}

impl LbDistribution {
    /// The name used in files.
    pub fn as_str(self) -> &'static str {
        match self {
            LbDistribution::Default => "default",
            LbDistribution::SourceIp => "source_ip",
            LbDistribution::SourceIpProtocol => "source_ip_protocol",
        }
    }
}

/// A load-balancing rule.
#[derive(Clone, Debug, PartialEq)]
pub struct LbRule {
    /// Name, unique in its load balancer.
    pub name: String,
    /// Index into [`LoadBalancer::frontends`].
    pub frontend: u32,
    /// Index into [`LoadBalancer::pools`].
    pub pool: u32,
    /// Protocol.
    pub protocol: LbProtocol,
    /// Frontend port (0 with HA ports).
    pub frontend_port: u16,
    /// Backend port (0 with HA ports: the packet's port is kept).
    pub backend_port: u16,
    /// Index into [`LoadBalancer::probes`]; none: every backend counts as healthy.
    pub probe: Option<u32>,
    /// Floating IP: the backend receives the frontend IP and port as destination [LBFIP23].
    pub floating_ip: bool,
    /// Distribution mode.
    pub distribution: LbDistribution,
}

impl LbRule {
    /// Whether it is an HA ports rule: protocol All, frontend and backend port 0 [LBHA17].
    pub fn is_ha_ports(&self) -> bool {
        self.protocol == LbProtocol::All && self.frontend_port == 0 && self.backend_port == 0
    }
}

/// An Azure Load Balancer.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadBalancer {
    /// Name, unique among load balancers.
    pub name: String,
    /// SKU.
    pub sku: LbSku,
    /// Frontend IP configurations.
    pub frontends: Vec<LbFrontend>,
    /// Backend pools.
    pub pools: Vec<LbPool>,
    /// Health probes.
    pub probes: Vec<LbProbe>,
    /// Load-balancing rules.
    pub rules: Vec<LbRule>,
    /// Backends marked down by `set_backend_health` events (none in the file): they take no
    /// new flows whatever their probe says.
    pub down: Vec<NicId>,
}

impl LoadBalancer {
    /// Whether `nic` is in one of its backend pools.
    pub fn has_backend(&self, nic: NicId) -> bool {
        self.pools.iter().any(|p| p.nics.contains(&nic))
    }
}
