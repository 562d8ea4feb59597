//! What the Azure CLI answers about one NIC, answered from a scenario in the Azure CLI's own
//! shapes: `routes --format az` (`az network nic show-effective-route-table`), `rules --format
//! az` (`az network nic list-effective-nsg`), `flow-verify` (`az network watcher
//! test-ip-flow`) and `next-hop` (`az network watcher show-next-hop`).
//!
//! What it is for: diffing vnetsim against a real subscription with `diff`/`jq`: the same keys,
//! the same value spellings, keys in the Azure CLI's (alphabetical) order. What it is not: a
//! decision maker (the answers come from `vnetsim_dataplane::watcher` and the views) nor a copy
//! of Azure's resource IDs: a scenario has no subscription GUIDs or resource groups, so IDs read
//! `/subscriptions/<subscription name>/resourceGroups/<scenario name>/providers/...`.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use schemars::JsonSchema;
use serde::Serialize;
use vnetsim_dataplane::Dataplane;
use vnetsim_dataplane::nsg::RuleRef;
use vnetsim_dataplane::pipeline::NsgPoint;
use vnetsim_dataplane::routes::RouteSource;
use vnetsim_dataplane::watcher::{self, FlowQuestion, NextHopError};
use vnetsim_scenario::{
    Access, AddressMatch, Direction, NicId, NsgId, PortRange, Scenario, ServiceTag,
};

use crate::ViewFormat;
use crate::commands::{INVALID, OK, load, nics_or_exit};
use crate::out::outln;

/// The `format` tag of `vnetsim flow-verify --format json`.
pub const FLOW_VERIFY_FORMAT: &str = "vnetsim-flow-verify/1";
/// The `format` tag of `vnetsim next-hop --format json`.
pub const NEXT_HOP_FORMAT: &str = "vnetsim-next-hop/1";

fn to_json(value: &impl Serialize) -> String {
    serde_json::to_string_pretty(value).expect("serializes")
}

/// A resource ID in Azure's form, with the scenario's names standing for the subscription and
/// the resource group.
fn resource_id(scenario: &Scenario, subscription: &str, kind: &str, name: &str) -> String {
    format!(
        "/subscriptions/{subscription}/resourceGroups/{}/providers/Microsoft.Network/{kind}/{name}",
        scenario.name
    )
}

fn nic_subscription(scenario: &Scenario, nic: NicId) -> &str {
    let vnet = &scenario.vnets[scenario.nics[nic.index()].vnet.index()];
    &scenario.subscriptions[vnet.subscription.index()].name
}

/// `{"id": ...}`, as Azure refers to another resource.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct AzRef {
    /// The resource ID.
    pub id: String,
}

// ---------------------------------------------------------------- effective routes

/// `az network nic show-effective-route-table`: one NIC's effective routes.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AzEffectiveRouteList {
    /// Always null: the whole list in one page.
    pub next_link: Option<String>,
    /// The routes, Active and Invalid, in the order the subnet lists them.
    pub value: Vec<AzEffectiveRoute>,
}

/// One effective route as the Azure CLI prints it (REST `EffectiveRoute`).
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AzEffectiveRoute {
    /// The destination prefix (one per route in vnetsim).
    pub address_prefix: Vec<String>,
    /// The subnet's route table has "Propagate gateway routes: No".
    pub disable_bgp_route_propagation: bool,
    /// The user-defined route's name; null for system and gateway routes.
    pub name: Option<String>,
    /// The next hop's address, when the type has one (else empty).
    pub next_hop_ip_address: Vec<String>,
    /// VnetLocal, VNetPeering, VirtualNetworkGateway, VirtualAppliance, Internet, None, ...
    pub next_hop_type: String,
    /// Default, User or VirtualNetworkGateway [REST-ENUM].
    pub source: String,
    /// Active or Invalid.
    pub state: String,
}

/// The effective routes of `nic` in the Azure CLI's shape.
pub fn az_routes(scenario: &Scenario, dataplane: &Dataplane, nic: NicId) -> AzEffectiveRouteList {
    let subnet = scenario.nics[nic.index()].subnet;
    let disable = scenario.subnets[subnet.index()]
        .route_table
        .is_some_and(|t| scenario.route_tables[t.index()].disable_gateway_route_propagation);
    AzEffectiveRouteList {
        next_link: None,
        value: dataplane
            .routes(subnet)
            .iter()
            .map(|r| AzEffectiveRoute {
                address_prefix: vec![r.prefix.to_string()],
                disable_bgp_route_propagation: disable,
                name: match r.source {
                    RouteSource::User => r.name.clone(),
                    _ => None,
                },
                next_hop_ip_address: r.next_hop_ip.iter().map(|ip| ip.to_string()).collect(),
                next_hop_type: r.next_hop.as_str().to_string(),
                source: r.source.as_str().to_string(),
                state: r.state.as_str().to_string(),
            })
            .collect(),
    }
}

// ---------------------------------------------------------------- effective NSGs

/// `az network nic list-effective-nsg`: the NSGs applied to one NIC, the NIC's then its
/// subnet's.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AzEffectiveNsgList {
    /// Always null: the whole list in one page.
    pub next_link: Option<String>,
    /// One entry per NSG applied (none when neither the NIC nor its subnet has one).
    pub value: Vec<AzEffectiveNsg>,
}

/// One applied NSG (REST `EffectiveNetworkSecurityGroup`).
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AzEffectiveNsg {
    /// Where it is attached.
    pub association: AzAssociation,
    /// Its rules, inbound then outbound, each in evaluation order (user rules, then defaults).
    pub effective_security_rules: Vec<AzEffectiveRule>,
    /// The NSG.
    pub network_security_group: AzRef,
    /// The addresses each service tag its rules name stands for here (tags vnetsim can
    /// expand: VirtualNetwork, AzureLoadBalancer and the platform tags; not Internet).
    pub tag_map: BTreeMap<String, Vec<String>>,
}

/// The attachment of an applied NSG: a NIC or a subnet.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AzAssociation {
    /// The NIC, for a NIC-level NSG.
    pub network_interface: Option<AzRef>,
    /// The subnet, for a subnet-level NSG.
    pub subnet: Option<AzRef>,
}

/// One rule as the Azure CLI prints it (REST `EffectiveNetworkSecurityRule`).
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AzEffectiveRule {
    /// Allow or Deny.
    pub access: String,
    /// The destination when the rule has one (`0.0.0.0/0` for `*`, a tag's name), else null.
    pub destination_address_prefix: Option<String>,
    /// Every destination.
    pub destination_address_prefixes: Vec<String>,
    /// The destination port range when the rule has one (`0-65535`, `22-22`), else null.
    pub destination_port_range: Option<String>,
    /// Every destination port range.
    pub destination_port_ranges: Vec<String>,
    /// Inbound or Outbound.
    pub direction: String,
    /// The addresses the destination's tags and groups stand for; null without any.
    pub expanded_destination_address_prefix: Option<Vec<String>>,
    /// The addresses the source's tags and groups stand for; null without any.
    pub expanded_source_address_prefix: Option<Vec<String>>,
    /// `securityRules/NAME` or `defaultSecurityRules/NAME`.
    pub name: String,
    /// Priority.
    pub priority: u16,
    /// All, Tcp, Udp or Icmp.
    pub protocol: String,
    /// The source when the rule has one, else null.
    pub source_address_prefix: Option<String>,
    /// Every source.
    pub source_address_prefixes: Vec<String>,
    /// The source port range when the rule has one, else null.
    pub source_port_range: Option<String>,
    /// Every source port range.
    pub source_port_ranges: Vec<String>,
}

/// What the service tags and application security groups of one NIC's NSGs stand for.
struct Expand<'a> {
    scenario: &'a Scenario,
    virtual_network: Vec<String>,
    used: BTreeMap<String, Vec<String>>,
}

impl Expand<'_> {
    fn tag(tag: ServiceTag, virtual_network: &[String]) -> Option<Vec<String>> {
        match tag {
            ServiceTag::VirtualNetwork => Some(virtual_network.to_vec()),
            ServiceTag::AzureLoadBalancer | ServiceTag::AzurePlatformDns => {
                Some(vec!["168.63.129.16/32".to_string()])
            }
            ServiceTag::AzurePlatformImds => Some(vec!["169.254.169.254/32".to_string()]),
            ServiceTag::Internet | ServiceTag::AzurePlatformLkm => None,
        }
    }

    /// The written form of each entry, and the expansion when any entry is a tag or a group.
    fn entries(&mut self, entries: &[AddressMatch]) -> (Vec<String>, Option<Vec<String>>) {
        let mut written = Vec::with_capacity(entries.len());
        let mut expanded: Option<Vec<String>> = None;
        for e in entries {
            match e {
                AddressMatch::Any => written.push("0.0.0.0/0".to_string()),
                AddressMatch::Prefix(p) => written.push(p.to_string()),
                AddressMatch::Tag(tag) => {
                    written.push(tag.name().to_string());
                    if let Some(list) = Self::tag(*tag, &self.virtual_network) {
                        self.used.insert(tag.name().to_string(), list.clone());
                        expanded.get_or_insert_with(Vec::new).extend(list);
                    }
                }
                AddressMatch::Asg(asg) => {
                    let Some(g) = self.scenario.application_security_groups.get(asg.index()) else {
                        continue;
                    };
                    let subscription = self
                        .scenario
                        .subscriptions
                        .first()
                        .map_or("", |s| s.name.as_str());
                    written.push(resource_id(
                        self.scenario,
                        subscription,
                        "applicationSecurityGroups",
                        &g.name,
                    ));
                    expanded.get_or_insert_with(Vec::new).extend(
                        g.members
                            .iter()
                            .map(|n| format!("{}/32", self.scenario.nics[n.index()].ip)),
                    );
                }
            }
        }
        (written, expanded)
    }
}

fn az_ports(ranges: &[PortRange]) -> Vec<String> {
    ranges
        .iter()
        .map(|r| format!("{}-{}", r.lo, r.hi))
        .collect()
}

fn single(list: &[String]) -> Option<String> {
    match list {
        [one] => Some(one.clone()),
        _ => None,
    }
}

fn direction_name(d: Direction) -> &'static str {
    match d {
        Direction::Inbound => "Inbound",
        Direction::Outbound => "Outbound",
    }
}

fn az_rules_of(
    expand: &mut Expand<'_>,
    nsg: NsgId,
    compiled: &vnetsim_dataplane::nsg::CompiledNsg,
) -> Vec<AzEffectiveRule> {
    let scenario = expand.scenario;
    let mut out = Vec::new();
    for direction in [Direction::Inbound, Direction::Outbound] {
        for c in compiled.rules(direction) {
            let (name, protocol, source, source_ports, destination, destination_ports, access) =
                match c.rule {
                    RuleRef::User(i) => {
                        let r = &scenario.nsgs[nsg.index()].rules[i as usize];
                        (
                            format!("securityRules/{}", r.name),
                            r.protocol.azure_name("All"),
                            r.source.clone(),
                            az_ports(&r.source_ports),
                            r.destination.clone(),
                            az_ports(&r.destination_ports),
                            r.access,
                        )
                    }
                    RuleRef::Default(d) => (
                        format!("defaultSecurityRules/{}", d.name()),
                        "All",
                        vec![d.source()],
                        vec!["0-65535".to_string()],
                        vec![d.destination()],
                        vec!["0-65535".to_string()],
                        d.access(),
                    ),
                };
            let (sources, expanded_sources) = expand.entries(&source);
            let (destinations, expanded_destinations) = expand.entries(&destination);
            out.push(AzEffectiveRule {
                access: match access {
                    Access::Allow => "Allow",
                    Access::Deny => "Deny",
                }
                .to_string(),
                destination_address_prefix: single(&destinations),
                destination_address_prefixes: destinations,
                destination_port_range: single(&destination_ports),
                destination_port_ranges: destination_ports,
                direction: direction_name(direction).to_string(),
                expanded_destination_address_prefix: expanded_destinations,
                expanded_source_address_prefix: expanded_sources,
                name,
                priority: c.priority,
                protocol: protocol.to_string(),
                source_address_prefix: single(&sources),
                source_address_prefixes: sources,
                source_port_range: single(&source_ports),
                source_port_ranges: source_ports,
            });
        }
    }
    out
}

/// The NSGs applied to `nic` in the Azure CLI's shape.
pub fn az_rules(scenario: &Scenario, dataplane: &Dataplane, nic: NicId) -> AzEffectiveNsgList {
    let n = &scenario.nics[nic.index()];
    let subscription = nic_subscription(scenario, nic);
    let virtual_network: Vec<String> = dataplane
        .virtual_network_tag(scenario, n.subnet)
        .iter()
        .map(|p| p.to_string())
        .collect();
    let mut value = Vec::new();
    let levels = [
        (dataplane.nic_nsg(nic), true),
        (dataplane.subnet_nsg(n.subnet), false),
    ];
    for (applied, at_nic) in levels {
        let Some((id, compiled)) = applied else {
            continue;
        };
        let mut expand = Expand {
            scenario,
            virtual_network: virtual_network.clone(),
            used: BTreeMap::new(),
        };
        let rules = az_rules_of(&mut expand, id, compiled);
        let subnet = &scenario.subnets[n.subnet.index()];
        let vnet = &scenario.vnets[n.vnet.index()];
        value.push(AzEffectiveNsg {
            association: if at_nic {
                AzAssociation {
                    network_interface: Some(AzRef {
                        id: resource_id(scenario, subscription, "networkInterfaces", &n.name),
                    }),
                    subnet: None,
                }
            } else {
                AzAssociation {
                    network_interface: None,
                    subnet: Some(AzRef {
                        id: resource_id(
                            scenario,
                            subscription,
                            "virtualNetworks",
                            &format!("{}/subnets/{}", vnet.name, subnet.name),
                        ),
                    }),
                }
            },
            effective_security_rules: rules,
            network_security_group: AzRef {
                id: resource_id(
                    scenario,
                    subscription,
                    "networkSecurityGroups",
                    &scenario.nsgs[id.index()].name,
                ),
            },
            tag_map: expand.used,
        });
    }
    AzEffectiveNsgList {
        next_link: None,
        value,
    }
}

// ---------------------------------------------------------------- one NIC of a VM

/// The one NIC a Network Watcher question is about: `vm` names a VM (then its NIC holding
/// `ip` when given, else its first NIC) or one NIC (`vm/nic` or the NIC's name).
fn question_nic(
    scenario: &Scenario,
    vm: &str,
    ip: Option<Ipv4Addr>,
    flag: &str,
) -> Result<NicId, u8> {
    let nics = nics_or_exit(scenario, vm)?;
    let Some(ip) = ip else {
        return Ok(nics[0]);
    };
    if let Some(&nic) = nics.iter().find(|&&n| scenario.nics[n.index()].ip == ip) {
        return Ok(nic);
    }
    let held: Vec<String> = nics
        .iter()
        .map(|n| {
            let nic = &scenario.nics[n.index()];
            format!("{} {}", nic.name, nic.ip)
        })
        .collect();
    eprintln!(
        "error: {flag} {ip}: no NIC of `{vm}` holds that address (it has {}); Azure asks for the \
         address of one of the VM's NICs",
        held.join(", ")
    );
    Err(INVALID)
}

fn parse_endpoint(text: &str, flag: &str) -> Result<(Ipv4Addr, Option<u16>), u8> {
    let fail = |why: &str| {
        eprintln!(
            "error: {flag} {text}: {why}; expected ADDRESS:PORT, e.g. 10.0.0.4:443 or 10.0.0.4:*"
        );
        INVALID
    };
    let Some((ip, port)) = text.rsplit_once(':') else {
        return Err(fail("no port"));
    };
    let ip: Ipv4Addr = ip.parse().map_err(|_| fail("not an IPv4 address"))?;
    let port = match port {
        "*" => None,
        p => Some(
            p.parse::<u16>()
                .map_err(|_| fail("the port is not 0-65535"))?,
        ),
    };
    Ok((ip, port))
}

// ---------------------------------------------------------------- flow-verify

/// `vnetsim flow-verify` arguments (the names `az network watcher test-ip-flow` takes).
#[derive(clap::Args, Debug)]
pub struct FlowVerifyArgs {
    /// Scenario file.
    pub file: std::path::PathBuf,
    /// The VM (its NIC holding --local's address), or one NIC: `vm/nic` or the NIC's name.
    #[arg(long)]
    pub vm: String,
    /// Inbound (remote to local) or Outbound (local to remote).
    #[arg(long, value_parser = ["Inbound", "Outbound", "inbound", "outbound"])]
    pub direction: String,
    /// TCP or UDP (what IP flow verify tests).
    #[arg(long, value_parser = ["TCP", "UDP", "tcp", "udp"])]
    pub protocol: String,
    /// The NIC's address and port, `10.0.0.4:443`; the port may be `*` when it is the source
    /// (outbound).
    #[arg(long)]
    pub local: String,
    /// The other end's address and port, `10.1.0.4:443`; the port may be `*` when it is the
    /// source (inbound).
    #[arg(long)]
    pub remote: String,
    /// text, json (`vnetsim-flow-verify/1`) or az (what `az network watcher test-ip-flow`
    /// prints).
    #[arg(long, value_enum, default_value = "text")]
    pub format: ViewFormat,
}

/// `az network watcher test-ip-flow`'s answer.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AzFlowVerify {
    /// Allow or Deny.
    pub access: String,
    /// `securityRules/NAME` or `defaultSecurityRules/NAME`; null when no NSG applies.
    pub rule_name: Option<String>,
}

/// The JSON output of `vnetsim flow-verify --format json`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowVerifyOut {
    /// Always `vnetsim-flow-verify/1`.
    #[schemars(extend("const" = "vnetsim-flow-verify/1"))]
    pub format: &'static str,
    /// The NIC asked about.
    pub nic: String,
    /// Inbound or Outbound.
    pub direction: String,
    /// TCP or UDP.
    pub protocol: String,
    /// `address:port` of the NIC (port `*` for any).
    pub local: String,
    /// `address:port` of the other end (port `*` for any).
    pub remote: String,
    /// Allow or Deny.
    pub access: String,
    /// The deciding rule as Azure names it; null when no NSG applies.
    pub rule_name: Option<String>,
    /// The NSG holding the deciding rule; null when no NSG applies.
    pub nsg: Option<String>,
    /// `subnet VNET/SUBNET` or `nic NAME`: where that NSG is attached.
    pub attached_to: Option<String>,
    /// The deciding rule's priority.
    pub priority: Option<u16>,
}

fn port_text(port: Option<u16>) -> String {
    port.map_or_else(|| "*".to_string(), |p| p.to_string())
}

/// `vnetsim flow-verify FILE --vm VM --direction D --protocol P --local IP:PORT --remote IP:PORT`.
pub fn flow_verify(args: &FlowVerifyArgs) -> u8 {
    let direction = if args.direction.eq_ignore_ascii_case("inbound") {
        Direction::Inbound
    } else {
        Direction::Outbound
    };
    let (protocol, protocol_name) = if args.protocol.eq_ignore_ascii_case("tcp") {
        (6u8, "TCP")
    } else {
        (17u8, "UDP")
    };
    let Ok((local_ip, local_port)) = parse_endpoint(&args.local, "--local") else {
        return INVALID;
    };
    let Ok((remote_ip, remote_port)) = parse_endpoint(&args.remote, "--remote") else {
        return INVALID;
    };
    // `*` stands only for the source port [IPFV].
    let (dst_flag, dst_port) = match direction {
        Direction::Outbound => ("--remote", remote_port),
        Direction::Inbound => ("--local", local_port),
    };
    if dst_port.is_none() {
        eprintln!(
            "error: {dst_flag}: the destination port of an {} packet must be a number; `*` \
             stands only for the source port",
            direction_name(direction)
        );
        return INVALID;
    }
    let scenario = match load(&args.file) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let nic = match question_nic(&scenario, &args.vm, Some(local_ip), "--local") {
        Ok(nic) => nic,
        Err(code) => return code,
    };
    let dataplane = Dataplane::compile(&scenario);
    let question = FlowQuestion {
        direction,
        protocol,
        local_ip,
        local_port,
        remote_ip,
        remote_port,
    };
    let verdict = watcher::ip_flow_verify(&scenario, &dataplane, nic, &question);
    let access = match verdict.access {
        Access::Allow => "Allow",
        Access::Deny => "Deny",
    };
    let attached_to = |point: NsgPoint| match point {
        NsgPoint::Subnet(s) => format!("subnet {}", scenario.subnet_path(s)),
        NsgPoint::Nic(n) => format!("nic {}", scenario.nics[n.index()].name),
    };
    let priority = |rule: &watcher::DecidingRule| -> u16 {
        match rule.rule {
            RuleRef::User(i) => scenario.nsgs[rule.nsg.index()].rules[i as usize].priority,
            RuleRef::Default(d) => d.priority(),
        }
    };
    match args.format {
        ViewFormat::Az => outln!(
            "{}",
            to_json(&AzFlowVerify {
                access: access.to_string(),
                rule_name: verdict.rule.as_ref().map(|r| r.azure_name()),
            })
        ),
        ViewFormat::Json => outln!(
            "{}",
            to_json(&FlowVerifyOut {
                format: FLOW_VERIFY_FORMAT,
                nic: scenario.nics[nic.index()].name.clone(),
                direction: direction_name(direction).to_string(),
                protocol: protocol_name.to_string(),
                local: format!("{local_ip}:{}", port_text(local_port)),
                remote: format!("{remote_ip}:{}", port_text(remote_port)),
                access: access.to_string(),
                rule_name: verdict.rule.as_ref().map(|r| r.azure_name()),
                nsg: verdict
                    .rule
                    .as_ref()
                    .map(|r| scenario.nsgs[r.nsg.index()].name.clone()),
                attached_to: verdict.rule.as_ref().map(|r| attached_to(r.point)),
                priority: verdict.rule.as_ref().map(priority),
            })
        ),
        ViewFormat::Text => {
            let packet = format!(
                "{} {protocol_name} {}:{} -> {}:{}",
                direction_name(direction),
                if direction == Direction::Outbound {
                    local_ip
                } else {
                    remote_ip
                },
                port_text(if direction == Direction::Outbound {
                    local_port
                } else {
                    remote_port
                }),
                if direction == Direction::Outbound {
                    remote_ip
                } else {
                    local_ip
                },
                port_text(if direction == Direction::Outbound {
                    remote_port
                } else {
                    local_port
                }),
            );
            match &verdict.rule {
                Some(rule) => outln!(
                    "{access}: {packet} at NIC {}: rule {} (priority {}) of NSG {} on {}",
                    scenario.nics[nic.index()].name,
                    rule.azure_name(),
                    priority(rule),
                    scenario.nsgs[rule.nsg.index()].name,
                    attached_to(rule.point)
                ),
                None => outln!(
                    "{access}: {packet} at NIC {}: no security rule applies (no NSG on the NIC \
                     or its subnet, or platform traffic no rule names)",
                    scenario.nics[nic.index()].name
                ),
            }
        }
    }
    OK
}

// ---------------------------------------------------------------- next-hop

/// `vnetsim next-hop` arguments (the names `az network watcher show-next-hop` takes).
#[derive(clap::Args, Debug)]
pub struct NextHopArgs {
    /// Scenario file.
    pub file: std::path::PathBuf,
    /// The VM (its NIC holding --source-ip, else its first), or one NIC: `vm/nic` or its name.
    #[arg(long)]
    pub vm: String,
    /// The destination address.
    #[arg(long)]
    pub dest_ip: Ipv4Addr,
    /// The source address: one of the VM's NICs (picks that NIC).
    #[arg(long)]
    pub source_ip: Option<Ipv4Addr>,
    /// text, json (`vnetsim-next-hop/1`) or az (what `az network watcher show-next-hop` prints).
    #[arg(long, value_enum, default_value = "text")]
    pub format: ViewFormat,
}

/// `az network watcher show-next-hop`'s answer.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AzNextHop {
    /// The next hop's address, null when the type has none.
    pub next_hop_ip_address: Option<String>,
    /// Internet, VirtualAppliance, VirtualNetworkGateway, VnetLocal, VNetPeering, None, ...
    pub next_hop_type: String,
    /// The route table's ID for a user-defined route, else `System Route` [NEXTHOP].
    pub route_table_id: String,
}

/// The JSON output of `vnetsim next-hop --format json`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NextHopOut {
    /// Always `vnetsim-next-hop/1`.
    #[schemars(extend("const" = "vnetsim-next-hop/1"))]
    pub format: &'static str,
    /// The NIC asked about.
    pub nic: String,
    /// Its address (the source).
    pub source_ip: String,
    /// The destination.
    pub dest_ip: String,
    /// The next hop type (`None` when no route matches).
    pub next_hop_type: String,
    /// The next hop's address, when the type has one.
    pub next_hop_ip: Option<String>,
    /// The matching route's prefix; null when none matches.
    pub prefix: Option<String>,
    /// Default, User or VirtualNetworkGateway; null when no route matches.
    pub source: Option<String>,
    /// The user route's name, or the peering or site a system route comes from.
    pub route_name: Option<String>,
    /// The route table of a user-defined route; null for a system route.
    pub route_table: Option<String>,
}

/// `vnetsim next-hop FILE --vm VM --dest-ip IP [--source-ip IP]`.
pub fn next_hop(args: &NextHopArgs) -> u8 {
    let scenario = match load(&args.file) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let nic = match question_nic(&scenario, &args.vm, args.source_ip, "--source-ip") {
        Ok(nic) => nic,
        Err(code) => return code,
    };
    let dataplane = Dataplane::compile(&scenario);
    let hop = match watcher::next_hop(&scenario, &dataplane, nic, args.dest_ip) {
        Ok(hop) => hop,
        Err(NextHopError::Platform(_)) => {
            eprintln!(
                "error: --dest-ip {}: a platform address, answered by the host without routes \
                 (user-defined routes do not apply to it [ip-168]); `vnetsim explain` shows how \
                 a packet to it is decided",
                args.dest_ip
            );
            return INVALID;
        }
    };
    let n = &scenario.nics[nic.index()];
    let next_hop_ip = hop
        .route
        .and_then(|r| r.next_hop_ip)
        .map(|ip| ip.to_string());
    match args.format {
        ViewFormat::Az => outln!(
            "{}",
            to_json(&AzNextHop {
                next_hop_ip_address: next_hop_ip,
                next_hop_type: hop.next_hop_type().to_string(),
                route_table_id: match &hop.route_table {
                    Some(t) => resource_id(
                        &scenario,
                        nic_subscription(&scenario, nic),
                        "routeTables",
                        t
                    ),
                    None => "System Route".to_string(),
                },
            })
        ),
        ViewFormat::Json => outln!(
            "{}",
            to_json(&NextHopOut {
                format: NEXT_HOP_FORMAT,
                nic: n.name.clone(),
                source_ip: n.ip.to_string(),
                dest_ip: args.dest_ip.to_string(),
                next_hop_type: hop.next_hop_type().to_string(),
                next_hop_ip,
                prefix: hop.route.map(|r| r.prefix.to_string()),
                source: hop.route.map(|r| r.source.as_str().to_string()),
                route_name: hop.route.and_then(|r| r.name.clone()),
                route_table: hop.route_table.clone(),
            })
        ),
        ViewFormat::Text => {
            let via = match hop.route {
                Some(r) => format!(
                    "route {} ({}{}{})",
                    r.prefix,
                    r.source.as_str(),
                    r.name.as_ref().map(|n| format!(" {n}")).unwrap_or_default(),
                    hop.route_table
                        .as_ref()
                        .map(|t| format!(", route table {t}"))
                        .unwrap_or_else(|| ", System Route".to_string())
                ),
                None => "no route matches: the packet is dropped".to_string(),
            };
            outln!(
                "{} -> {} from NIC {}: next hop {}{} by {via}",
                n.ip,
                args.dest_ip,
                n.name,
                hop.next_hop_type(),
                next_hop_ip
                    .as_ref()
                    .map(|ip| format!(" {ip}"))
                    .unwrap_or_default()
            );
        }
    }
    OK
}

/// The JSON Schemas of this module's outputs, by the file name they are checked in under in
/// `docs/`.
#[cfg_attr(not(test), allow(dead_code))]
pub fn json_schemas() -> Vec<(&'static str, serde_json::Value)> {
    let value = |s: schemars::Schema| serde_json::to_value(s).expect("schema serializes");
    vec![
        (
            "flow-verify.schema.json",
            value(schemars::schema_for!(FlowVerifyOut)),
        ),
        (
            "next-hop.schema.json",
            value(schemars::schema_for!(NextHopOut)),
        ),
        (
            "az/routes.schema.json",
            value(schemars::schema_for!(AzEffectiveRouteList)),
        ),
        (
            "az/rules.schema.json",
            value(schemars::schema_for!(AzEffectiveNsgList)),
        ),
        (
            "az/flow-verify.schema.json",
            value(schemars::schema_for!(AzFlowVerify)),
        ),
        (
            "az/next-hop.schema.json",
            value(schemars::schema_for!(AzNextHop)),
        ),
    ]
}
