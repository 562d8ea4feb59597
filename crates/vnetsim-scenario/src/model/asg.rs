//! Application security groups (ASGs), checked: each with the NICs that joined it.
//!
//! What it is for: what NSG rules name through [`super::AddressMatch::Asg`], and what the data
//! plane compiles into an address set (the private IPs of the member NICs), so matching an ASG
//! costs what matching a prefix list costs. Membership is per NIC IP configuration; a vnetsim NIC
//! has one, so an ASG lists NICs [ASG20]. What it is not: the rules about which NICs may join
//! (the validator's `asg` room) or packet matching (the data plane's `tables::nsg`).
//!
//! Source: "Application security groups" (learn.microsoft.com/azure/virtual-network/
//! application-security-groups, 02/27/2020) [ASG20]; limits from "Azure subscription and service
//! limits", networking [LIM].

use super::NicId;

id_type!(
    /// Index into [`super::Scenario::application_security_groups`].
    AsgId
);

/// An application security group and the NICs that joined it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplicationSecurityGroup {
    /// Name, unique among ASGs.
    pub name: String,
    /// The member NICs (each NIC's one IP configuration), in file order; all in one VNet
    /// [ASG20].
    pub members: Vec<NicId>,
}

/// Application security groups per subscription and region [LIM].
pub const MAX_ASGS: usize = 3_000;
/// Application security groups one NIC IP configuration joins [LIM].
pub const MAX_ASGS_PER_NIC: usize = 20;
/// IP configurations (NICs here) in one application security group [LIM].
pub const MAX_NICS_PER_ASG: usize = 4_000;
/// Application security groups the rules of one NSG name [LIM].
pub const MAX_ASGS_PER_NSG: usize = 100;
