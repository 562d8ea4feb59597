//! Gateway connections and BGP settings, checked and with names resolved to ids.
//!
//! What it is for: what the data plane's `tables::bgp` turns into gateway routes (static
//! prefixes of local network gateways and VNet-to-VNet links, BGP-learned routes with their AS
//! paths) and what `explain` and `vnetsim routes` name. What it is not: the route exchange
//! itself (the BGP fixed point is computed by the data plane at compile time) or the checks
//! (the validator's `connections` room).

use std::net::Ipv4Addr;

use super::{SiteId, VnetId};

/// Azure's default ASN of a virtual network gateway, "whether BGP is enabled or not"
/// [VPNFAQ26]; reserved for on-premises devices.
pub const AZURE_DEFAULT_ASN: u32 = 65515;

/// BGP settings of a gateway or of a site's local network gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BgpSettings {
    /// Autonomous system number.
    pub asn: u32,
    /// BGP peer address.
    pub peering_ip: Ipv4Addr,
}

/// A connection's type (ARM `connectionType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnectionKind {
    /// Site-to-site IPsec between a VPN gateway and a site.
    Ipsec,
    /// VNet-to-VNet: one direction of a link between two VPN gateways; traffic needs both.
    Vnet2Vnet,
    /// ExpressRoute: an ExpressRoute gateway and a site behind a circuit.
    ExpressRoute,
}

impl ConnectionKind {
    /// The file's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionKind::Ipsec => "ipsec",
            ConnectionKind::Vnet2Vnet => "vnet2vnet",
            ConnectionKind::ExpressRoute => "expressroute",
        }
    }
}

/// What a connection leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnectionPeer {
    /// A site's local network gateway.
    Site(SiteId),
    /// The VPN gateway of another VNet.
    Gateway(VnetId),
}

/// A connection resource of a virtual network gateway.
#[derive(Clone, Debug, PartialEq)]
pub struct GatewayConnection {
    /// Name, unique among connections (a site's `connection` shorthand takes the site's name).
    pub name: String,
    /// IPsec, VNet-to-VNet or ExpressRoute.
    pub kind: ConnectionKind,
    /// The VNet whose gateway owns the connection (its VPN gateway, or for ExpressRoute its
    /// ExpressRoute gateway).
    pub from: VnetId,
    /// The site or gateway at the other end.
    pub to: ConnectionPeer,
    /// BGP on this connection; false: static routes (the local network gateway's prefixes,
    /// or the remote VNet's address space).
    pub bgp: bool,
    /// Written as a site's `connection` shorthand (static, named after the site).
    pub shorthand: bool,
}
