//! The file format of application security groups (ASGs): the top-level
//! `application_security_groups` list. A NIC joins ASGs with `nics[].application_security_groups`
//! and an NSG rule names them with `source_application_security_groups` /
//! `destination_application_security_groups` (ARM's `applicationSecurityGroups`,
//! `sourceApplicationSecurityGroups`, `destinationApplicationSecurityGroups` in snake case);
//! those fields sit on [`super::RawNic`] and [`super::RawNsgRule`].
//!
//! What it is for: serde types mirroring the YAML. What it is not: checked (the `asg` room of the
//! validator: names, one VNet per ASG, limits) or evaluated (the data plane compiles an ASG to
//! the addresses of its member NICs).

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

/// An application security group (ARM `Microsoft.Network/applicationSecurityGroups`): a name
/// NICs join and NSG rules use as a source or destination [ASG20].
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawApplicationSecurityGroup {
    /// Name, unique among application security groups.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
}
