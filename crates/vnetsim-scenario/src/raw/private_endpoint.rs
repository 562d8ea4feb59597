//! The file format of private endpoints: `private_endpoints[]` and what they read.
//!
//! What it is for: serde types mirroring the YAML one to one, with ARM's property names in
//! snake case where ARM has one (`Microsoft.Network/privateEndpoints`: a subnet, an optional
//! static private IP, the private-link resource it connects to). The subnet switch
//! `private_endpoint_network_policies` lives on [`super::RawSubnet`]. What it is not: checked
//! (the `private_endpoint` room of the validator) or forwarded (the data plane).

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

/// A private endpoint: the network interface of a private-link resource in a subnet
/// [PEOV20].
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPrivateEndpoint {
    /// Name, unique among VMs, hosts, Internet hosts and private endpoints (an endpoint of
    /// probes and flows).
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// Its subnet, written `vnet/subnet`.
    #[schemars(with = "String")]
    pub subnet: Spanned<String>,
    /// A static private IPv4 address (ARM `ipConfigurations[].privateIPAddress`); default: the
    /// subnet's next free address, allocated as Azure allocates a NIC's dynamic address.
    #[schemars(with = "Option<String>")]
    pub ip: Option<Spanned<String>>,
    /// The DNS name of the private-link resource (e.g. `contoso-sql.database.windows.net`):
    /// it resolves to the endpoint's IP, as its private DNS zone record would, for firewall
    /// FQDN rules; `explain` names it.
    #[schemars(with = "String")]
    pub service: Spanned<String>,
    /// Refused: a private endpoint takes no NSG of its own (ARM `privateEndpoints` has no NSG
    /// property; rule `private-endpoint-nsg`); NSGs reach it through its subnet, with network
    /// policies.
    #[schemars(with = "Option<String>")]
    pub nsg: Option<Spanned<String>>,
}
