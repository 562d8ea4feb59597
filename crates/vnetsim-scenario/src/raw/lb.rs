//! The file format of Azure Load Balancer: `load_balancers` with their frontends, backend pools,
//! health probes and load-balancing rules, and the `set_backend_health` event.
//!
//! What it is for: serde types mirroring the YAML one to one, with ARM's property names in
//! snake case (`frontend_port`, `backend_port`, `load_distribution`, `floating_ip` for
//! `enableFloatingIP`), so that an ARM template maps onto them field by field. What it is not:
//! checked (the `lb` room of the validator) or evaluated (the data plane's `forward::lb`).

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::Text;

/// An Azure Load Balancer (ARM `Microsoft.Network/loadBalancers`).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLoadBalancer {
    /// Name, unique among load balancers.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// `Standard` (default) or `Basic` (retired 2025-09-30 [LBFAQ26]).
    #[schemars(with = "Option<String>")]
    pub sku: Option<Spanned<String>>,
    /// Frontend IP configurations: internal (`subnet`, optional `ip`) or public (`public_ip`).
    #[serde(default)]
    pub frontends: Vec<RawLbFrontend>,
    /// Backend pools of NICs.
    #[serde(default)]
    pub backend_pools: Vec<RawLbPool>,
    /// Health probes.
    #[serde(default)]
    pub probes: Vec<RawLbProbe>,
    /// Load-balancing rules.
    #[serde(default)]
    pub rules: Vec<RawLbRule>,
}

/// A frontend IP configuration.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLbFrontend {
    /// Name, unique in its load balancer.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// Internal frontend: its subnet as `vnet/subnet`.
    #[schemars(with = "Option<String>")]
    pub subnet: Option<Spanned<String>>,
    /// Internal frontend: its private IP (static); left out, the subnet's first free usable
    /// address is allocated (dynamic).
    #[schemars(with = "Option<String>")]
    pub ip: Option<Spanned<String>>,
    /// Public frontend: its public IPv4 address.
    #[schemars(with = "Option<String>")]
    pub public_ip: Option<Spanned<String>>,
}

/// A backend pool (NIC-based).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLbPool {
    /// Name, unique in its load balancer.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// NIC names (each NIC's primary IP configuration joins the pool).
    #[schemars(with = "Vec<String>")]
    #[serde(default)]
    pub nics: Vec<Spanned<String>>,
}

/// A health probe.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLbProbe {
    /// Name, unique in its load balancer.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// `tcp`, `http` or `https` (any case; https on Standard only).
    #[schemars(with = "String")]
    pub protocol: Spanned<String>,
    /// Port probed on each backend (1 to 65535).
    #[schemars(with = "u32")]
    pub port: Spanned<u32>,
    /// Interval between probes (default `5s`, at least `5s`).
    #[schemars(with = "Option<Text>")]
    pub interval: Option<Spanned<Text>>,
}

/// A load-balancing rule.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLbRule {
    /// Name, unique in its load balancer.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// Frontend name.
    #[schemars(with = "String")]
    pub frontend: Spanned<String>,
    /// Backend pool name.
    #[schemars(with = "String")]
    pub backend_pool: Spanned<String>,
    /// `tcp`, `udp` or `all` (any case); `all` with both ports 0 is an HA ports rule.
    #[schemars(with = "String")]
    pub protocol: Spanned<String>,
    /// Frontend port (1 to 65535; 0 for HA ports).
    #[schemars(with = "u32")]
    pub frontend_port: Spanned<u32>,
    /// Backend port (1 to 65535; 0 for HA ports).
    #[schemars(with = "u32")]
    pub backend_port: Spanned<u32>,
    /// Health probe name; none: every backend counts as healthy.
    #[schemars(with = "Option<String>")]
    pub probe: Option<Spanned<String>>,
    /// Floating IP (`enableFloatingIP`, default false): the backend receives the frontend IP
    /// and port as destination.
    #[serde(default)]
    pub floating_ip: bool,
    /// `default` (5-tuple hash), `source_ip` (2-tuple) or `source_ip_protocol` (3-tuple).
    #[schemars(with = "Option<String>")]
    pub load_distribution: Option<Spanned<String>>,
}

/// `set_backend_health` event: a backend is marked down (or up again) in a load balancer,
/// whatever its probe says.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSetBackendHealth {
    /// Load balancer name.
    #[schemars(with = "String")]
    pub load_balancer: Spanned<String>,
    /// NIC name, in one of its backend pools.
    #[schemars(with = "String")]
    pub nic: Spanned<String>,
    /// False: the backend takes no new flows (existing flows keep it); true: back to what its
    /// probe says.
    pub healthy: bool,
}
