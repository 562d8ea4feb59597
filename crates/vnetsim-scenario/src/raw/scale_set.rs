//! The file format of virtual machine scale sets: `scale_sets[]`.
//!
//! What it is for: serde types mirroring the YAML one to one, with ARM's property names in snake
//! case where ARM has one (`Microsoft.Compute/virtualMachineScaleSets`: a SKU name and capacity,
//! `singlePlacementGroup`, one NIC configuration in a subnet). A scale set describes many
//! identical VMs in a few lines, so a network of 100,000 VMs is a small file. What it is not:
//! checked or expanded (the `scale_set` room of the validator turns each into its instances,
//! ordinary VMs, before anything else reads the file).

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

/// A virtual machine scale set in Uniform orchestration: `instances` identical VMs named
/// `<name>_0`, `<name>_1`, ... (Azure's instance names, `<scale set>_<instance id>`), each with
/// one NIC `<name>_<i>-nic` in `subnet` at the subnet's next free address [VMSSPG].
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawScaleSet {
    /// Name; its instances' names must not collide with other VMs'.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// The instances' VM size (ARM `sku.name`), from the size catalog.
    #[schemars(with = "String")]
    pub size: Spanned<String>,
    /// How many instances (ARM `sku.capacity`): at most 100 in a single placement group, at most
    /// 1,000 otherwise (rule `scale-set-capacity`).
    #[schemars(with = "u64")]
    pub instances: Spanned<u64>,
    /// ARM `singlePlacementGroup`; Azure's default for a Uniform scale set is `true`, which
    /// limits it to 100 instances.
    #[serde(default = "single_placement_group")]
    pub single_placement_group: bool,
    /// The instances' VNet, when `subnet` is not written `vnet/subnet`.
    #[schemars(with = "Option<String>")]
    pub vnet: Option<Spanned<String>>,
    /// The subnet every instance's NIC sits in (`vnet/subnet`, or a name with `vnet`).
    #[schemars(with = "String")]
    pub subnet: Spanned<String>,
    /// An NSG on every instance's NIC (ARM `networkSecurityGroup` of the NIC configuration).
    #[schemars(with = "Option<String>")]
    pub nsg: Option<Spanned<String>>,
    /// IP forwarding on every instance's NIC (ARM `enableIPForwarding`).
    #[serde(default)]
    pub ip_forwarding: bool,
    /// The instances forward packets not addressed to them (a network virtual appliance).
    #[serde(default)]
    pub forwarding: bool,
    /// Application security groups every instance's NIC joins.
    #[schemars(with = "Option<Vec<String>>")]
    pub application_security_groups: Option<Spanned<Vec<Spanned<String>>>>,
}

fn single_placement_group() -> bool {
    true
}
