//! Private endpoints and the subnet switch that governs them, checked and with names resolved
//! to ids.
//!
//! What it is for: what the data plane compiles into the `/32` routes a private endpoint
//! propagates, the address it delivers at, and whether its subnet's NSG and route table apply
//! to it (the subnet's `privateEndpointNetworkPolicies` [PENP23]). What it is not: routing or
//! delivery (the data plane's `tables::routes` and `forward::pipeline`), nor the private-link
//! service behind the endpoint, which vnetsim models as a sink that answers.

use std::net::Ipv4Addr;
use std::sync::Arc;

use super::{SubnetId, VnetId};

id_type!(
    /// Index into [`super::Scenario::private_endpoints`].
    PrivateEndpointId
);

/// A private endpoint: a network interface, managed by Azure, with a private IP of its subnet,
/// connecting privately to a private-link resource, reachable from its VNet, peered VNets and
/// on-premises [PEOV20]. It never initiates traffic; it answers the connections made to it.
#[derive(Clone, Debug, PartialEq)]
pub struct PrivateEndpoint {
    /// Name, unique among endpoints of probes and flows (VMs, hosts, Internet hosts).
    pub name: Arc<str>,
    /// Its VNet.
    pub vnet: VnetId,
    /// Its subnet.
    pub subnet: SubnetId,
    /// Its private IP (static, or the subnet's next free address).
    pub ip: Ipv4Addr,
    /// The DNS name of the private-link resource, lower case.
    pub service: Arc<str>,
}

/// A subnet's `privateEndpointNetworkPolicies` [PENP23]: whether network policies apply to the
/// private endpoints in the subnet. With `Disabled` (Azure's default) the subnet's NSG does not
/// filter traffic to them, its route table does not route their traffic, and a user route
/// elsewhere never invalidates their `/32` route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum PrivateEndpointNetworkPolicies {
    /// No network policy applies to private endpoints (the default).
    #[default]
    Disabled,
    /// NSGs and route tables both apply.
    Enabled,
    /// NSGs apply, route tables do not.
    NetworkSecurityGroupEnabled,
    /// Route tables apply, NSGs do not.
    RouteTableEnabled,
}

impl PrivateEndpointNetworkPolicies {
    /// Every value, in the order of the reference.
    pub const ALL: [PrivateEndpointNetworkPolicies; 4] = [
        PrivateEndpointNetworkPolicies::Disabled,
        PrivateEndpointNetworkPolicies::Enabled,
        PrivateEndpointNetworkPolicies::NetworkSecurityGroupEnabled,
        PrivateEndpointNetworkPolicies::RouteTableEnabled,
    ];

    /// Azure's name (ARM value).
    pub const fn as_str(self) -> &'static str {
        match self {
            PrivateEndpointNetworkPolicies::Disabled => "Disabled",
            PrivateEndpointNetworkPolicies::Enabled => "Enabled",
            PrivateEndpointNetworkPolicies::NetworkSecurityGroupEnabled => {
                "NetworkSecurityGroupEnabled"
            }
            PrivateEndpointNetworkPolicies::RouteTableEnabled => "RouteTableEnabled",
        }
    }

    /// The name a scenario file writes (`network_security_group_enabled`).
    pub const fn file_name(self) -> &'static str {
        match self {
            PrivateEndpointNetworkPolicies::Disabled => "disabled",
            PrivateEndpointNetworkPolicies::Enabled => "enabled",
            PrivateEndpointNetworkPolicies::NetworkSecurityGroupEnabled => {
                "network_security_group_enabled"
            }
            PrivateEndpointNetworkPolicies::RouteTableEnabled => "route_table_enabled",
        }
    }

    /// Parses a file's value: the snake-case name or Azure's PascalCase one, any case.
    pub fn parse(text: &str) -> Option<Self> {
        let norm: String = text
            .trim()
            .chars()
            .filter(|c| *c != '_' && *c != '-')
            .collect::<String>()
            .to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(&norm))
    }

    /// Whether the subnet's NSG filters traffic to its private endpoints.
    pub const fn nsg(self) -> bool {
        matches!(
            self,
            PrivateEndpointNetworkPolicies::Enabled
                | PrivateEndpointNetworkPolicies::NetworkSecurityGroupEnabled
        )
    }

    /// Whether the subnet's route table routes its private endpoints' traffic, and whether a
    /// user route summarizing the endpoint's VNet range may invalidate its `/32` route.
    pub const fn route_table(self) -> bool {
        matches!(
            self,
            PrivateEndpointNetworkPolicies::Enabled
                | PrivateEndpointNetworkPolicies::RouteTableEnabled
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn penp23_network_policy_values_parse_in_both_spellings() {
        for p in PrivateEndpointNetworkPolicies::ALL {
            assert_eq!(PrivateEndpointNetworkPolicies::parse(p.as_str()), Some(p));
            assert_eq!(
                PrivateEndpointNetworkPolicies::parse(p.file_name()),
                Some(p)
            );
        }
        assert_eq!(PrivateEndpointNetworkPolicies::parse("true"), None);
        assert_eq!(
            PrivateEndpointNetworkPolicies::default(),
            PrivateEndpointNetworkPolicies::Disabled
        );
    }

    #[test]
    fn penp23_each_value_says_which_policy_applies() {
        use PrivateEndpointNetworkPolicies::*;
        let table = [
            (Disabled, false, false),
            (Enabled, true, true),
            (NetworkSecurityGroupEnabled, true, false),
            (RouteTableEnabled, false, true),
        ];
        for (p, nsg, rt) in table {
            assert_eq!((p.nsg(), p.route_table()), (nsg, rt), "{p:?}");
        }
    }
}
