//! Listings of a VM's NICs (or of one NIC): effective routes and effective security rules, in
//! Azure's columns; a rule naming an application security group shows `ASG <name>`.
//!
//! What it is for: `vnetsim routes` and `vnetsim rules` (text and JSON), and tests that compare
//! them with Azure's documented tables. Every route row always carries its prefix and next hop
//! IP. What it is not: a decision path; these are read-only views of the compiled tables.

use serde::Serialize;
use vnetsim_scenario::{Access, AddressMatch, Direction, NicId, PortRange, Scenario, VmId};

use crate::forward::Dataplane;
use crate::tables::nsg::{CompiledNsg, RuleRef};

/// One effective route row.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct RouteRow {
    /// Default, VirtualNetworkGateway or User.
    pub source: &'static str,
    /// Active or Invalid.
    pub state: &'static str,
    /// Address prefix.
    pub prefix: String,
    /// Next hop type.
    pub next_hop_type: &'static str,
    /// Next hop IP, when the type has one.
    pub next_hop_ip: Option<String>,
    /// User route name, or the peering / site the route comes from.
    pub name: Option<String>,
    /// Why Invalid, or which precedence exception applied.
    pub note: Option<&'static str>,
    /// The AS path of a BGP-learned gateway route (`65020 65050`, nearest AS first)
    /// [VPNFAQ26].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_path: Option<String>,
}

/// The effective routes of one NIC.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct NicRoutes {
    /// NIC name.
    pub nic: String,
    /// NIC address.
    pub ip: String,
    /// `vnet/subnet`.
    pub subnet: String,
    /// Route table attached to the subnet, if any.
    pub route_table: Option<String>,
    /// The rows.
    pub routes: Vec<RouteRow>,
}

/// Effective routes of every NIC of a VM.
pub fn effective_routes_of_vm(
    scenario: &Scenario,
    dataplane: &Dataplane,
    vm: VmId,
) -> Vec<NicRoutes> {
    scenario.vms[vm.index()]
        .nics
        .iter()
        .map(|&nic| effective_routes_of_nic(scenario, dataplane, nic))
        .collect()
}

/// Effective routes of one NIC: those of its own subnet (a VM's NICs may sit in different
/// subnets, each with its route table).
pub fn effective_routes_of_nic(
    scenario: &Scenario,
    dataplane: &Dataplane,
    nic: NicId,
) -> NicRoutes {
    let n = &scenario.nics[nic.index()];
    let subnet = &scenario.subnets[n.subnet.index()];
    NicRoutes {
        nic: n.name.clone(),
        ip: n.ip.to_string(),
        subnet: scenario.subnet_path(n.subnet),
        route_table: subnet
            .route_table
            .map(|t| scenario.route_tables[t.index()].name.clone()),
        routes: dataplane
            .routes(n.subnet)
            .iter()
            .map(|r| RouteRow {
                source: r.source.as_str(),
                state: r.state.as_str(),
                prefix: r.prefix.to_string(),
                next_hop_type: r.next_hop.as_str(),
                next_hop_ip: r.next_hop_ip.map(|ip| ip.to_string()),
                name: r.name.clone(),
                note: r.note,
                as_path: match (r.source, r.target) {
                    (
                        crate::tables::routes::RouteSource::VirtualNetworkGateway,
                        crate::tables::routes::RouteTarget::Gateway { vnet, .. },
                    ) => dataplane.as_path(scenario, vnet, r.prefix, r.name.as_deref()),
                    _ => None,
                },
            })
            .collect(),
    }
}

/// One security rule row.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct RuleRow {
    /// Priority.
    pub priority: u16,
    /// Name.
    pub name: String,
    /// `Allow` or `Deny`.
    pub access: &'static str,
    /// `Tcp`, `Udp`, `Icmp` or `Any`.
    pub protocol: &'static str,
    /// Sources as written (tags by name).
    pub source: String,
    /// Source ports.
    pub source_ports: String,
    /// Destinations as written (tags by name).
    pub destination: String,
    /// Destination ports.
    pub destination_ports: String,
    /// Whether it is one of Azure's default rules.
    pub default: bool,
}

/// One NSG applied at one stage of one direction.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct RuleGroup {
    /// `Inbound` or `Outbound`.
    pub direction: &'static str,
    /// `1st` or `2nd`: the order in which the two levels apply in this direction.
    pub stage: &'static str,
    /// NSG name.
    pub nsg: String,
    /// `subnet vnet/name` or `nic name`.
    pub attached_to: String,
    /// The rules, in evaluation order (user rules by priority, then the defaults).
    pub rules: Vec<RuleRow>,
}

/// The effective security rules of one NIC.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct NicRules {
    /// NIC name.
    pub nic: String,
    /// NIC address.
    pub ip: String,
    /// `vnet/subnet`.
    pub subnet: String,
    /// What the VirtualNetwork service tag holds for this NIC's NSGs, as Azure lists it: the
    /// prefixes as written (VNet, peer and on-premises ranges; with the current definition
    /// also 168.63.129.16/32 and each prefix of the subnet's user-defined routes), not merged.
    pub virtual_network_tag: Vec<String>,
    /// Inbound then outbound, each in Azure's evaluation order of the levels.
    pub groups: Vec<RuleGroup>,
}

fn address_text(scenario: &Scenario, entries: &[AddressMatch]) -> String {
    let parts: Vec<String> = entries
        .iter()
        .map(|e| match e {
            AddressMatch::Any => "*".to_string(),
            AddressMatch::Prefix(p) if p.prefix_len() == 32 => p.addr().to_string(),
            AddressMatch::Prefix(p) => p.to_string(),
            AddressMatch::Tag(tag) => tag.name().to_string(),
            // Azure's effective rules name the group, not its members.
            AddressMatch::Asg(asg) => match scenario.application_security_groups.get(asg.index()) {
                Some(g) => format!("ASG {}", g.name),
                None => format!("ASG #{}", asg.0),
            },
        })
        .collect();
    parts.join(", ")
}

fn ports_text(ranges: &[PortRange]) -> String {
    let parts: Vec<String> = ranges
        .iter()
        .map(|r| match (r.lo, r.hi) {
            (0, 65535) => "*".to_string(),
            (lo, hi) if lo == hi => lo.to_string(),
            (lo, hi) => format!("{lo}-{hi}"),
        })
        .collect();
    parts.join(", ")
}

fn rows(
    scenario: &Scenario,
    nsg: vnetsim_scenario::NsgId,
    compiled: &CompiledNsg,
    direction: Direction,
) -> Vec<RuleRow> {
    compiled
        .rules(direction)
        .map(|c| match c.rule {
            RuleRef::User(i) => {
                let r = &scenario.nsgs[nsg.index()].rules[i as usize];
                RuleRow {
                    priority: r.priority,
                    name: r.name.clone(),
                    access: match r.access {
                        Access::Allow => "Allow",
                        Access::Deny => "Deny",
                    },
                    protocol: r.protocol.azure_name("Any"),
                    source: address_text(scenario, &r.source),
                    source_ports: ports_text(&r.source_ports),
                    destination: address_text(scenario, &r.destination),
                    destination_ports: ports_text(&r.destination_ports),
                    default: false,
                }
            }
            RuleRef::Default(d) => {
                let t = d.describe();
                RuleRow {
                    priority: t.priority,
                    name: t.name.to_string(),
                    access: t.access,
                    protocol: t.protocol,
                    source: t.source.to_string(),
                    source_ports: t.source_ports.to_string(),
                    destination: t.destination.to_string(),
                    destination_ports: t.destination_ports.to_string(),
                    default: true,
                }
            }
        })
        .collect()
}

/// Effective security rules of every NIC of a VM: inbound (subnet NSG, then NIC NSG) and
/// outbound (NIC NSG, then subnet NSG), as Azure evaluates them (nsg-how).
pub fn effective_rules_of_vm(
    scenario: &Scenario,
    dataplane: &Dataplane,
    vm: VmId,
) -> Vec<NicRules> {
    scenario.vms[vm.index()]
        .nics
        .iter()
        .map(|&nic| effective_rules_of_nic(scenario, dataplane, nic))
        .collect()
}

/// Effective security rules of one NIC: its own NSG and its subnet's.
pub fn effective_rules_of_nic(scenario: &Scenario, dataplane: &Dataplane, nic: NicId) -> NicRules {
    let n = &scenario.nics[nic.index()];
    let subnet_nsg = dataplane.subnet_nsg(n.subnet);
    let nic_nsg = dataplane.nic_nsg(nic);
    let subnet_at = format!("subnet {}", scenario.subnet_path(n.subnet));
    let nic_at = format!("nic {}", n.name);
    let mut groups = Vec::new();
    for (direction, dir_name, levels) in [
        (
            Direction::Inbound,
            "Inbound",
            [(subnet_nsg, &subnet_at), (nic_nsg, &nic_at)],
        ),
        (
            Direction::Outbound,
            "Outbound",
            [(nic_nsg, &nic_at), (subnet_nsg, &subnet_at)],
        ),
    ] {
        let mut stage = 0;
        for (nsg, at) in levels {
            let Some((id, compiled)) = nsg else { continue };
            stage += 1;
            groups.push(RuleGroup {
                direction: dir_name,
                stage: if stage == 1 { "1st" } else { "2nd" },
                nsg: scenario.nsgs[id.index()].name.clone(),
                attached_to: at.clone(),
                rules: rows(scenario, id, compiled, direction),
            });
        }
    }
    NicRules {
        nic: n.name.clone(),
        ip: n.ip.to_string(),
        subnet: scenario.subnet_path(n.subnet),
        virtual_network_tag: dataplane
            .virtual_network_tag(scenario, n.subnet)
            .iter()
            .map(|p| p.to_string())
            .collect(),
        groups,
    }
}
