//! The file format of gateway connections and BGP: a gateway's `type`, `vpn_type` and `bgp`
//! settings, a site's BGP settings and advertised prefixes (a local network gateway), and the
//! top-level `connections` between a gateway and a site or another gateway.
//!
//! What it is for: serde types mirroring the YAML one to one, with ARM's property names in
//! snake case (`vpn_type`, `peering_ip` for `bgpPeeringAddress`), so that an ARM template maps
//! onto them field by field. What it is not: checked (the `connections` room of the validator)
//! or routed (the data plane's `tables::bgp`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

/// A virtual network gateway's type (ARM `gatewayType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawGatewayType {
    /// A VPN gateway: site-to-site and VNet-to-VNet IPsec connections.
    Vpn,
    /// An ExpressRoute gateway: private circuits, routes by BGP.
    Expressroute,
}

/// A VPN gateway's routing type (ARM `vpnType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RawVpnType {
    /// Route-based (the default): BGP, VNet-to-VNet and coexistence need it.
    RouteBased,
    /// Policy-based: static site-to-site only.
    PolicyBased,
}

/// BGP settings of a gateway or of a site's local network gateway (ARM `bgpSettings`).
///
/// Plain values (no positions): a gateway entry may sit in a one-or-many list, whose items keep
/// no positions; diagnostics point at the gateway or the site.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBgp {
    /// The autonomous system number (a gateway's default is 65515).
    pub asn: u64,
    /// The BGP peer address (`bgpPeeringAddress`); a gateway's defaults to its IP. Required
    /// for a site.
    pub peering_ip: Option<String>,
}

/// The type of a gateway connection (ARM `connectionType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawConnectionType {
    /// Site-to-site IPsec: a VPN gateway to a site (local network gateway).
    Ipsec,
    /// VNet-to-VNet: a VPN gateway to another VPN gateway, one direction.
    Vnet2vnet,
    /// ExpressRoute: an ExpressRoute gateway to a site reached over a circuit.
    Expressroute,
}

/// A connection resource of a virtual network gateway (ARM `connections`).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawConnection {
    /// Name, unique among connections.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// `ipsec`, `vnet2vnet` or `expressroute`.
    #[serde(rename = "type")]
    #[schemars(with = "RawConnectionType")]
    pub kind: Spanned<RawConnectionType>,
    /// The gateway that owns the connection, by gateway name or by the name of its VNet.
    #[schemars(with = "String")]
    pub from: Spanned<String>,
    /// A site (`ipsec`, `expressroute`) or the other gateway, by gateway or VNet name
    /// (`vnet2vnet`).
    #[schemars(with = "String")]
    pub to: Spanned<String>,
    /// BGP on this connection (default false: static routes).
    #[schemars(with = "Option<bool>")]
    pub bgp: Option<Spanned<bool>>,
}
