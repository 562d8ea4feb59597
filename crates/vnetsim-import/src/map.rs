//! Azure resources mapped to a vnetsim scenario.
//!
//! What it is for: [`to_scenario`] turns the resources vnetsim models (virtual networks with
//! their subnets and peerings, NSGs with their rules, route tables with their routes,
//! application security groups, network interfaces, virtual machines, virtual machine scale
//! sets (as `scale_sets`), public IPs, Azure
//! Firewalls with firewall policies and IP groups, virtual and local network gateways and their
//! connections, load balancers, private endpoints) into
//! a scenario document with `azure: { era: current }`, every name taken from the resources.
//! Child resources declared on their own (`virtualNetworks/subnets`, `.../virtualNetworkPeerings`,
//! `networkSecurityGroups/securityRules`, `routeTables/routes`) join their parent, replacing an
//! inline definition of the same name as ARM does. A NIC without a static address gets the
//! lowest free address of its subnet from `.4` up, in the order the NICs come ("dynamic"
//! allocation as Azure does it; Azure reserves the first four and the last address). Every
//! resource type it does not map is listed with its count in [`Import::unmodelled`], and what
//! it had to leave out of a mapped resource in [`Import::warnings`]. A VM with a NIC that has IP
//! forwarding enabled is taken to forward in its guest too (`forwarding: true`: the guest's
//! setting is not part of Azure's resources). What it is not: a checker
//! of Azure's rules (the loader does that on the result).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde_json::Value;

use crate::ImportError;
use crate::resource::{Resource, get, prop, prop_array, prop_bool, prop_int, prop_str, reference};
use crate::yaml::Node;

/// The result of an import.
#[derive(Clone, Debug)]
pub struct Import {
    /// The scenario document.
    pub scenario: Node,
    /// Resources mapped, by type, with their counts.
    pub imported: BTreeMap<String, usize>,
    /// Resource types not mapped, with their counts.
    pub unmodelled: BTreeMap<String, usize>,
    /// What was left out of mapped resources, one line each.
    pub warnings: Vec<String>,
    /// The private and public addresses the import gave resources that Azure would allocate
    /// at deployment (NICs, firewalls, load balancer frontends, public IPs), by
    /// `type/name` in lower case (`microsoft.network/networkinterfaces/web-nic`): what a
    /// template's `reference()` of them returns.
    pub addresses: BTreeMap<String, String>,
}

/// The key of [`Import::addresses`].
pub fn address_key(kind: &str, name: &str) -> String {
    format!("{kind}/{name}").to_ascii_lowercase()
}

impl Import {
    /// The header comment of the written scenario: what was imported, what was not.
    pub fn header(&self, source: &str) -> Vec<String> {
        let mut h = vec![
            format!("Imported by `vnetsim import` from {source}."),
            "Names are the resources' names; era current follows Microsoft's pages as they read now.".into(),
            String::new(),
            "Imported:".into(),
        ];
        h.extend(self.imported.iter().map(|(k, n)| format!("  {n} {k}")));
        if !self.unmodelled.is_empty() {
            h.push("Not modelled (left out):".into());
            h.extend(self.unmodelled.iter().map(|(k, n)| format!("  {n} {k}")));
        }
        if !self.warnings.is_empty() {
            h.push("Warnings:".into());
            h.extend(self.warnings.iter().map(|w| format!("  {w}")));
        }
        h
    }
}

const VNET: &str = "Microsoft.Network/virtualNetworks";
const SUBNET: &str = "Microsoft.Network/virtualNetworks/subnets";
const PEERING: &str = "Microsoft.Network/virtualNetworks/virtualNetworkPeerings";
const NSG: &str = "Microsoft.Network/networkSecurityGroups";
const NSG_RULE: &str = "Microsoft.Network/networkSecurityGroups/securityRules";
const ROUTE_TABLE: &str = "Microsoft.Network/routeTables";
const ROUTE: &str = "Microsoft.Network/routeTables/routes";
const NIC: &str = "Microsoft.Network/networkInterfaces";
const VM: &str = "Microsoft.Compute/virtualMachines";
const SCALE_SET: &str = "Microsoft.Compute/virtualMachineScaleSets";
const PUBLIC_IP: &str = "Microsoft.Network/publicIPAddresses";
const ASG: &str = "Microsoft.Network/applicationSecurityGroups";

const FIREWALL: &str = "Microsoft.Network/azureFirewalls";
const FIREWALL_POLICY: &str = "Microsoft.Network/firewallPolicies";
const RULE_GROUP: &str = "Microsoft.Network/firewallPolicies/ruleCollectionGroups";
const IP_GROUP: &str = "Microsoft.Network/ipGroups";

const GATEWAY: &str = "Microsoft.Network/virtualNetworkGateways";
const LOCAL_GATEWAY: &str = "Microsoft.Network/localNetworkGateways";
const CONNECTION: &str = "Microsoft.Network/connections";
const LOAD_BALANCER: &str = "Microsoft.Network/loadBalancers";
const PRIVATE_ENDPOINT: &str = "Microsoft.Network/privateEndpoints";

const MAPPED: [&str; 21] = [
    SCALE_SET,
    VNET,
    SUBNET,
    PEERING,
    NSG,
    NSG_RULE,
    ROUTE_TABLE,
    ROUTE,
    NIC,
    VM,
    PUBLIC_IP,
    ASG,
    FIREWALL,
    FIREWALL_POLICY,
    RULE_GROUP,
    IP_GROUP,
    GATEWAY,
    LOCAL_GATEWAY,
    CONNECTION,
    LOAD_BALANCER,
    PRIVATE_ENDPOINT,
];

/// Children of a parent by name, in order: inline ones first, replaced by (or followed by)
/// those declared on their own.
fn children(inline: &[Value], own: &[&Resource], parent: &str) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = inline
        .iter()
        .filter_map(|c| Some((get(c, "name")?.as_str()?.to_string(), c.clone())))
        .collect();
    for r in own {
        let Some((p, name)) = r.name.rsplit_once('/') else {
            continue;
        };
        if !p.eq_ignore_ascii_case(parent) {
            continue;
        }
        match out.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            Some(slot) => slot.1 = r.body.clone(),
            None => out.push((name.to_string(), r.body.clone())),
        }
    }
    out
}

/// The last segment of a reference's full name (`vnet/subnet` keeps both for subnets).
fn ref_name(obj: &Value, key: &str) -> Option<String> {
    reference(obj, key).map(|(_, n)| n)
}

/// The configuration marked `primary`, else the first (ARM's NIC and IP configurations).
fn primary(configs: &[Value]) -> Option<&Value> {
    configs
        .iter()
        .find(|c| prop_bool(c, "primary") == Some(true))
        .or_else(|| configs.first())
}

/// The application security groups an IP configuration joins, by name.
fn security_groups(ip_config: &Value) -> Vec<Node> {
    prop_array(ip_config, "applicationSecurityGroups")
        .iter()
        .filter_map(|a| get(a, "id")?.as_str())
        .filter_map(crate::resource::parse_id)
        .map(|(_, n)| Node::from(last(&n)))
        .collect()
}

/// A warning when `subnet` (`vnet/subnet`) is in a VNet the import does not hold: a template
/// that deploys into an existing network (or an export that leaves its VNet out) attaches
/// `what` to a network it does not describe, so `what` is left out.
fn outside(what: &str, subnet: &str, vnet_names: &HashSet<String>) -> Option<String> {
    let vnet = subnet.split('/').next().unwrap_or(subnet);
    (!vnet_names.contains(&vnet.to_ascii_lowercase())).then(|| {
        format!(
            "{what}: subnet {subnet} is in VNet {vnet}, which the import does not hold (an existing network), left out"
        )
    })
}

/// The name as `nodes` declare it: Azure's resource names are case-insensitive, so a
/// reference may spell a load balancer's `LoadBalancerFrontend` as `loadBalancerFrontend`
/// (https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules).
/// A name no node declares is kept as written, for the loader to report.
fn declared(nodes: &[Node], name: &str) -> String {
    nodes
        .iter()
        .filter_map(node_name)
        .find(|n| n.eq_ignore_ascii_case(name))
        .unwrap_or(name)
        .to_string()
}

fn last(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// Virtual machine scale sets (Uniform): capacity and size from `sku`, the subnet, NSG, IP
/// forwarding and application security groups of the primary NIC configuration's primary IP
/// configuration; the loader names the instances `<name>_<i>` and gives them the subnet's next
/// free addresses, as Azure does.
fn scale_sets(
    list: &[&Resource],
    vnet_names: &HashSet<String>,
    warnings: &mut Vec<String>,
) -> Vec<Node> {
    let mut out = Vec::new();
    for s in list {
        let sku = get(&s.body, "sku");
        let capacity = sku
            .and_then(|k| get(k, "capacity"))
            .and_then(|c| c.as_u64().or_else(|| c.as_str()?.trim().parse().ok()))
            .unwrap_or(0);
        let declared = sku
            .and_then(|k| get(k, "name"))
            .and_then(Value::as_str)
            .unwrap_or("Standard_D2s_v3");
        if prop_str(&s.body, "orchestrationMode")
            .is_some_and(|m| m.eq_ignore_ascii_case("flexible"))
        {
            warnings.push(format!(
                "scale set {}: Flexible orchestration; its instances are imported with Uniform's names (`{}_<i>`)",
                s.name, s.name
            ));
        }
        let configs = prop(&s.body, "virtualMachineProfile")
            .and_then(|p| get(p, "networkProfile"))
            .map(|p| prop_array(p, "networkInterfaceConfigurations"))
            .unwrap_or(&[]);
        let Some(nic) = primary(configs) else {
            warnings.push(format!(
                "scale set {}: no network interface configuration, left out",
                s.name
            ));
            continue;
        };
        if configs.len() > 1 {
            warnings.push(format!(
                "scale set {}: {} network interface configurations, only the primary one is imported",
                s.name,
                configs.len()
            ));
        }
        let ips = prop_array(nic, "ipConfigurations");
        let Some(ipc) = primary(ips) else {
            warnings.push(format!(
                "scale set {}: no IP configuration, left out",
                s.name
            ));
            continue;
        };
        let Some(subnet) = ref_name(ipc, "subnet") else {
            warnings.push(format!(
                "scale set {}: its IP configuration names no subnet, left out",
                s.name
            ));
            continue;
        };
        if let Some(w) = outside(&format!("scale set {}", s.name), &subnet, vnet_names) {
            warnings.push(w);
            continue;
        }
        let size = catalog_size(declared);
        if !size.eq_ignore_ascii_case(declared) {
            warnings.push(format!(
                "scale set {}: size {declared} is not in vnetsim's size catalog; {size} stands for it",
                s.name
            ));
        }
        if !prop_array(ipc, "loadBalancerBackendAddressPools").is_empty() {
            warnings.push(format!(
                "scale set {}: its load balancer backend pools are not imported (name the instances `{}_<i>` in the pool)",
                s.name, s.name
            ));
        }
        let mut node = Node::map();
        node.set("name", s.name.as_str())
            .set("size", size)
            .set("instances", i64::try_from(capacity).unwrap_or(i64::MAX));
        // ARM's default for a Uniform scale set is a single placement group.
        if prop_bool(&s.body, "singlePlacementGroup") == Some(false) {
            node.set("single_placement_group", false);
        }
        node.set("subnet", subnet.as_str());
        if let Some(g) = ref_name(nic, "networkSecurityGroup") {
            node.set("nsg", last(&g));
        }
        if prop_bool(nic, "enableIPForwarding") == Some(true) {
            node.set("ip_forwarding", true).set("forwarding", true);
        }
        let groups = security_groups(ipc);
        if !groups.is_empty() {
            node.set("application_security_groups", groups);
        }
        out.push(node);
    }
    out
}

/// The first source or destination of an NSG rule that is a service tag the scenario does
/// not model (`GatewayManager`, `AzureCloud`, `Storage.WestEurope`): those stand for Azure's
/// published ranges, which the scenario does not hold
/// (https://learn.microsoft.com/azure/virtual-network/service-tags-overview).
fn unmodelled_tag(rule: &Value) -> Option<String> {
    let modelled = |t: &str| {
        t == "*"
            || t.parse::<Ipv4Net>().is_ok()
            || t.parse::<std::net::Ipv4Addr>().is_ok()
            || vnetsim_scenario::ServiceTag::ALL
                .iter()
                .any(|tag| tag.name().eq_ignore_ascii_case(t))
    };
    [
        ("sourceAddressPrefix", "sourceAddressPrefixes"),
        ("destinationAddressPrefix", "destinationAddressPrefixes"),
    ]
    .iter()
    .flat_map(|(one, many)| {
        prop_array(rule, many)
            .iter()
            .filter_map(Value::as_str)
            .chain(prop_str(rule, one))
            .map(str::trim)
            .collect::<Vec<_>>()
    })
    .find(|t| {
        // Names only: an unevaluated expression or a malformed address is the loader's to
        // report.
        !modelled(t)
            && t.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
    })
    .map(str::to_string)
}

/// The public DNS zone of a private endpoint's target sub-resource (`groupIds`), the name a
/// client resolves (`<name>.database.windows.net`, whose CNAME is the `privatelink` zone's
/// record): the table of https://learn.microsoft.com/azure/private-link/private-endpoint-dns
/// for the commonest services.
fn service_zone(group: &str) -> Option<&'static str> {
    Some(match group.to_ascii_lowercase().as_str() {
        "sqlserver" => "database.windows.net",
        "blob" => "blob.core.windows.net",
        "file" => "file.core.windows.net",
        "queue" => "queue.core.windows.net",
        "table" => "table.core.windows.net",
        "dfs" => "dfs.core.windows.net",
        "web" => "web.core.windows.net",
        "vault" => "vault.azure.net",
        "registry" => "azurecr.io",
        "sites" => "azurewebsites.net",
        "sql" => "documents.azure.com",
        "namespace" => "servicebus.windows.net",
        _ => return None,
    })
}

/// A string or list field of an NSG rule (`sourceAddressPrefix` / `sourceAddressPrefixes`).
fn one_or_many(rule: &Value, one: &str, many: &str) -> Option<Node> {
    let list: Vec<Node> = prop_array(rule, many)
        .iter()
        .filter_map(Value::as_str)
        .filter(|p| !is_ipv6(p))
        .map(Node::from)
        .collect();
    if !list.is_empty() {
        return Some(if list.len() == 1 {
            list.into_iter().next().expect("one")
        } else {
            Node::List(list)
        });
    }
    prop_str(rule, one).filter(|p| !is_ipv6(p)).map(Node::from)
}

/// Whether an address or prefix is IPv6 (`ace:cab:deca::/48`), which vnetsim does not model: a
/// dual-stack network is imported as its IPv4 half.
fn is_ipv6(p: &str) -> bool {
    p.split('/')
        .next()
        .is_some_and(|a| a.parse::<std::net::Ipv6Addr>().is_ok())
}

/// Whether one side of an NSG rule names IPv6 prefixes only: the rule concerns IPv6 traffic
/// alone.
fn ipv6_only(rule: &Value, one: &str, many: &str) -> bool {
    let list: Vec<&str> = prop_array(rule, many)
        .iter()
        .filter_map(Value::as_str)
        .chain(prop_str(rule, one))
        .collect();
    !list.is_empty() && list.iter().all(|p| is_ipv6(p))
}

/// Maps `resources` (in deployment order) to a scenario named `name`.
pub fn to_scenario(resources: &[Resource], name: &str) -> Result<Import, ImportError> {
    let addresses: std::cell::RefCell<BTreeMap<String, String>> = Default::default();
    let mut imported: BTreeMap<String, usize> = BTreeMap::new();
    let mut unmodelled: BTreeMap<String, usize> = BTreeMap::new();
    let mut warnings = Vec::new();
    let mut of: HashMap<&str, Vec<&Resource>> = HashMap::new();
    for r in resources {
        match MAPPED.iter().find(|k| r.is(k)) {
            Some(k) => {
                of.entry(k).or_default().push(r);
                *imported.entry((*k).to_string()).or_default() += 1;
            }
            None => *unmodelled.entry(r.kind.clone()).or_default() += 1,
        }
    }
    let list = |k: &str| of.get(k).cloned().unwrap_or_default();

    // Public IPs by name, for NICs.
    let public_ips: HashMap<String, (&Resource, Option<String>)> = list(PUBLIC_IP)
        .into_iter()
        .map(|p| {
            (
                p.name.to_ascii_lowercase(),
                (p, prop_str(&p.body, "ipAddress").map(str::to_string)),
            )
        })
        .collect();

    // Virtual networks and their subnets.
    let mut vnets = Vec::new();
    let mut subnet_nets: HashMap<String, Ipv4Net> = HashMap::new();
    let mut vnet_names: HashSet<String> = HashSet::new();
    for v in list(VNET) {
        vnet_names.insert(v.name.to_ascii_lowercase());
    }
    let mut peerings = Vec::new();
    let mut stubs: Vec<Node> = Vec::new();
    let mut peering_names: HashSet<String> = HashSet::new();
    let own_peerings = list(PEERING);
    for v in list(VNET) {
        let mut node = Node::map();
        node.set("name", v.name.as_str());
        if let Some(loc) = &v.location {
            node.set("region", loc.as_str());
        }
        let (v6, v4): (Vec<&str>, Vec<&str>) = prop(&v.body, "addressSpace")
            .map(|a| prop_array(a, "addressPrefixes"))
            .unwrap_or(&[])
            .iter()
            .filter_map(Value::as_str)
            .partition(|p| is_ipv6(p));
        if !v6.is_empty() {
            warnings.push(format!(
                "VNet {}: IPv6 address space {} not modelled (IPv4), left out",
                v.name,
                v6.join(", ")
            ));
        }
        let space: Vec<Node> = v4.into_iter().map(Node::from).collect();
        node.set("address_space", space);
        let mut subnets = Vec::new();
        for (sname, s) in children(prop_array(&v.body, "subnets"), &list(SUBNET), &v.name) {
            // A dual-stack subnet lists its IPv4 prefix beside an IPv6 one.
            let prefix = prop_str(&s, "addressPrefix")
                .filter(|p| !is_ipv6(p))
                .map(str::to_string)
                .or_else(|| {
                    prop_array(&s, "addressPrefixes")
                        .iter()
                        .filter_map(Value::as_str)
                        .find(|p| !is_ipv6(p))
                        .map(str::to_string)
                });
            let Some(prefix) = prefix else {
                warnings.push(format!(
                    "subnet {}/{sname}: no addressPrefix, left out",
                    v.name
                ));
                continue;
            };
            if let Ok(net) = prefix.parse::<Ipv4Net>() {
                subnet_nets.insert(format!("{}/{sname}", v.name).to_ascii_lowercase(), net);
            }
            let mut sn = Node::map();
            sn.set("name", sname.as_str()).set("prefix", prefix);
            if let Some(n) = ref_name(&s, "networkSecurityGroup") {
                sn.set("nsg", last(&n));
            }
            if let Some(n) = ref_name(&s, "routeTable") {
                sn.set("route_table", last(&n));
            }
            if let Some(b) = prop_bool(&s, "defaultOutboundAccess") {
                sn.set("default_outbound_access", b);
            }
            if let Some(p) = prop_str(&s, "privateEndpointNetworkPolicies") {
                let p = match p.to_ascii_lowercase().as_str() {
                    "enabled" => "enabled",
                    "networksecuritygroupenabled" => "network_security_group_enabled",
                    "routetableenabled" => "route_table_enabled",
                    _ => "disabled",
                };
                sn.set("private_endpoint_network_policies", p);
            }
            subnets.push(sn);
        }
        if !subnets.is_empty() {
            node.set("subnets", subnets);
        }
        vnets.push(node);

        for (pname, p) in children(
            prop_array(&v.body, "virtualNetworkPeerings"),
            &own_peerings,
            &v.name,
        ) {
            let Some(remote) = ref_name(&p, "remoteVirtualNetwork") else {
                warnings.push(format!(
                    "peering {}/{pname}: no remoteVirtualNetwork id, left out",
                    v.name
                ));
                continue;
            };
            let remote = last(&remote).to_string();
            if !vnet_names.contains(&remote.to_ascii_lowercase()) {
                let space: Vec<Node> = prop(&p, "remoteAddressSpace")
                    .map(|a| prop_array(a, "addressPrefixes"))
                    .unwrap_or(&[])
                    .iter()
                    .filter_map(Value::as_str)
                    .map(Node::from)
                    .collect();
                if space.is_empty() {
                    warnings.push(format!(
                        "peering {}/{pname}: the remote VNet {remote} is not in the import and \
                         the peering gives no remoteAddressSpace, left out",
                        v.name
                    ));
                    continue;
                }
                warnings.push(format!(
                    "peering {}/{pname}: the remote VNet {remote} is not in the import; declared \
                     as a stub (its address space from the peering, no subnets, no link back)",
                    v.name
                ));
                vnet_names.insert(remote.to_ascii_lowercase());
                let mut stub = Node::map();
                stub.set("name", remote.as_str())
                    .set("address_space", space);
                stubs.push(stub);
            }
            let mut unique = pname.clone();
            if !peering_names.insert(unique.to_ascii_lowercase()) {
                unique = format!("{}-{pname}", v.name);
                peering_names.insert(unique.to_ascii_lowercase());
            }
            let mut pn = Node::map();
            pn.set("name", unique)
                .set("from", v.name.as_str())
                .set("to", remote);
            for (arm, key) in [
                ("allowVirtualNetworkAccess", "allow_virtual_network_access"),
                ("allowForwardedTraffic", "allow_forwarded_traffic"),
                ("allowGatewayTransit", "allow_gateway_transit"),
                ("useRemoteGateways", "use_remote_gateways"),
            ] {
                if let Some(b) = prop_bool(&p, arm) {
                    pn.set(key, b);
                }
            }
            peerings.push(pn);
        }
    }
    vnets.extend(stubs);

    // NSGs.
    let mut nsgs = Vec::new();
    for g in list(NSG) {
        let mut rules = Vec::new();
        for (rname, r) in children(
            prop_array(&g.body, "securityRules"),
            &list(NSG_RULE),
            &g.name,
        ) {
            let protocol = match prop_str(&r, "protocol")
                .unwrap_or("*")
                .to_ascii_lowercase()
                .as_str()
            {
                "tcp" => "tcp",
                "udp" => "udp",
                "icmp" => "icmp",
                "esp" => "esp",
                "ah" => "ah",
                "*" => "*",
                other => {
                    warnings.push(format!(
                        "NSG {} rule {rname}: protocol {other} is not modelled (TCP, UDP, ICMP, ESP, AH, *), rule left out",
                        g.name
                    ));
                    continue;
                }
            };
            if ipv6_only(&r, "sourceAddressPrefix", "sourceAddressPrefixes")
                || ipv6_only(&r, "destinationAddressPrefix", "destinationAddressPrefixes")
            {
                warnings.push(format!(
                    "NSG {} rule {rname}: IPv6 prefixes only, not modelled (IPv4), rule left out",
                    g.name
                ));
                continue;
            }
            if let Some(tag) = unmodelled_tag(&r) {
                warnings.push(format!(
                    "NSG {} rule {rname}: service tag {tag} is not modelled (VirtualNetwork, \
                     Internet, AzureLoadBalancer, AzurePlatformDNS, AzurePlatformIMDS, \
                     AzurePlatformLKM), rule left out (an allow left out denies more, a deny \
                     left out allows more)",
                    g.name
                ));
                continue;
            }
            let mut rn = Node::map();
            rn.set("name", rname.as_str());
            if let Some(p) = prop_int(&r, "priority") {
                rn.set("priority", p);
            }
            rn.set(
                "direction",
                prop_str(&r, "direction")
                    .unwrap_or("Inbound")
                    .to_ascii_lowercase(),
            )
            .set(
                "access",
                prop_str(&r, "access")
                    .unwrap_or("Allow")
                    .to_ascii_lowercase(),
            )
            .set("protocol", protocol);
            for (side, one, many, asgs, key_asg) in [
                (
                    "source",
                    "sourceAddressPrefix",
                    "sourceAddressPrefixes",
                    "sourceApplicationSecurityGroups",
                    "source_application_security_groups",
                ),
                (
                    "destination",
                    "destinationAddressPrefix",
                    "destinationAddressPrefixes",
                    "destinationApplicationSecurityGroups",
                    "destination_application_security_groups",
                ),
            ] {
                let groups: Vec<Node> = prop_array(&r, asgs)
                    .iter()
                    .filter_map(|a| get(a, "id")?.as_str())
                    .filter_map(crate::resource::parse_id)
                    .map(|(_, n)| Node::from(last(&n)))
                    .collect();
                if !groups.is_empty() {
                    rn.set(key_asg, groups);
                } else if let Some(v) = one_or_many(&r, one, many) {
                    rn.set(side, v);
                }
            }
            for (key, one, many) in [
                ("source_ports", "sourcePortRange", "sourcePortRanges"),
                (
                    "destination_ports",
                    "destinationPortRange",
                    "destinationPortRanges",
                ),
            ] {
                if let Some(v) = one_or_many(&r, one, many) {
                    rn.set(key, v);
                }
            }
            rules.push(rn);
        }
        let mut gn = Node::map();
        gn.set("name", g.name.as_str());
        if !rules.is_empty() {
            gn.set("rules", rules);
        }
        nsgs.push(gn);
    }

    // Route tables.
    let mut tables = Vec::new();
    for t in list(ROUTE_TABLE) {
        let mut tn = Node::map();
        tn.set("name", t.name.as_str());
        if prop_bool(&t.body, "disableBgpRoutePropagation") == Some(true) {
            tn.set("disable_gateway_route_propagation", true);
        }
        let mut routes = Vec::new();
        for (rname, r) in children(prop_array(&t.body, "routes"), &list(ROUTE), &t.name) {
            let (Some(prefix), Some(hop)) =
                (prop_str(&r, "addressPrefix"), prop_str(&r, "nextHopType"))
            else {
                warnings.push(format!(
                    "route table {} route {rname}: no addressPrefix or nextHopType, left out",
                    t.name
                ));
                continue;
            };
            if prefix.parse::<Ipv4Net>().is_err() {
                warnings.push(format!(
                    "route table {} route {rname}: prefix {prefix} is not an IPv4 prefix (service tag routes are not modelled), left out",
                    t.name
                ));
                continue;
            }
            let mut rn = Node::map();
            rn.set("name", rname.as_str())
                .set("prefix", prefix)
                .set("next_hop", hop);
            if let Some(ip) = prop_str(&r, "nextHopIpAddress") {
                rn.set("next_hop_ip", ip);
            }
            routes.push(rn);
        }
        if !routes.is_empty() {
            tn.set("routes", routes);
        }
        tables.push(tn);
    }

    // NICs: their subnet and address; dynamic addresses allocated after every static one.
    struct NicInfo {
        name: String,
        subnet: String,
        ip: Option<Ipv4Addr>,
        forwarding: bool,
        node: Node,
    }
    let mut nics: Vec<NicInfo> = Vec::new();
    let mut nic_of_vm: HashMap<String, String> = HashMap::new();
    let mut pool_candidates: Vec<(String, String)> = Vec::new();
    for n in list(NIC) {
        if prop(&n.body, "privateEndpoint").is_some() {
            // A private endpoint's own interface: the endpoint stands for it.
            continue;
        }
        let configs = prop_array(&n.body, "ipConfigurations");
        let config = primary(configs);
        let Some(config) = config else {
            warnings.push(format!("NIC {}: no IP configuration, left out", n.name));
            continue;
        };
        if configs.len() > 1 {
            warnings.push(format!(
                "NIC {}: {} IP configurations, only the primary one is imported",
                n.name,
                configs.len()
            ));
        }
        let Some(subnet) = ref_name(config, "subnet") else {
            warnings.push(format!(
                "NIC {}: its IP configuration names no subnet, left out",
                n.name
            ));
            continue;
        };
        if let Some(w) = outside(&format!("NIC {}", n.name), &subnet, &vnet_names) {
            warnings.push(w);
            continue;
        }
        let stat = prop_str(config, "privateIPAllocationMethod")
            .is_none_or(|m| m.eq_ignore_ascii_case("static"));
        let ip = prop_str(config, "privateIPAddress")
            .filter(|_| stat)
            .and_then(|s| s.parse::<Ipv4Addr>().ok());
        let mut node = Node::map();
        node.set("name", n.name.as_str())
            .set("subnet", subnet.as_str());
        let forwarding = prop_bool(&n.body, "enableIPForwarding") == Some(true);
        if forwarding {
            node.set("ip_forwarding", true);
        }
        if let Some(g) = ref_name(&n.body, "networkSecurityGroup") {
            node.set("nsg", last(&g));
        }
        if let Some(p) = ref_name(config, "publicIPAddress") {
            match public_ips.get(&p.to_ascii_lowercase()) {
                Some((pip, Some(addr))) => {
                    node.set("public_ip", addr.as_str());
                    if let Some(sku) = get(&pip.body, "sku").and_then(|s| prop_str(s, "name")) {
                        node.set("public_ip_sku", sku);
                    }
                }
                _ => warnings.push(format!(
                    "NIC {}: public IP {p} has no address in the import (not exported, or dynamic and not allocated), left out",
                    n.name
                )),
            }
        }
        let groups = security_groups(config);
        if !groups.is_empty() {
            node.set("application_security_groups", groups);
        }
        for pool in prop_array(config, "loadBalancerBackendAddressPools") {
            if let Some((_, p)) = get(pool, "id")
                .and_then(Value::as_str)
                .and_then(crate::resource::parse_id)
            {
                pool_candidates.push((p.to_ascii_lowercase(), n.name.clone()));
            }
        }
        if let Some(vm) = ref_name(&n.body, "virtualMachine") {
            nic_of_vm.insert(n.name.to_ascii_lowercase(), last(&vm).to_ascii_lowercase());
        }
        nics.push(NicInfo {
            name: n.name.clone(),
            subnet,
            ip,
            forwarding,
            node,
        });
    }
    let mut taken: HashSet<Ipv4Addr> = nics.iter().filter_map(|n| n.ip).collect();
    // Azure allocates a dynamic address from those no static one holds, a load balancer's
    // static frontend included
    // (https://learn.microsoft.com/azure/virtual-network/ip-services/private-ip-addresses#allocation-method).
    taken.extend(list(LOAD_BALANCER).iter().flat_map(|lb| {
        prop_array(&lb.body, "frontendIPConfigurations")
            .iter()
            .filter(|f| {
                prop_str(f, "privateIPAllocationMethod")
                    .is_none_or(|m| m.eq_ignore_ascii_case("static"))
            })
            .filter_map(|f| prop_str(f, "privateIPAddress")?.parse::<Ipv4Addr>().ok())
    }));
    for n in &mut nics {
        let ip = match n.ip {
            Some(ip) => ip,
            None => {
                let Some(net) = subnet_nets.get(&n.subnet.to_ascii_lowercase()) else {
                    return Err(ImportError::Resource {
                        resource: format!("{NIC} {}", n.name),
                        message: format!(
                            "a dynamic address in subnet {}, which the import does not hold",
                            n.subnet
                        ),
                    });
                };
                let first = u32::from(net.network()) + 4;
                let end = u32::from(net.broadcast());
                let Some(ip) = (first..end)
                    .map(Ipv4Addr::from)
                    .find(|a| !taken.contains(a))
                else {
                    return Err(ImportError::Resource {
                        resource: format!("{NIC} {}", n.name),
                        message: format!("no free address left in subnet {}", n.subnet),
                    });
                };
                taken.insert(ip);
                ip
            }
        };
        n.ip = Some(ip);
        n.node.set("ip", ip.to_string());
        addresses
            .borrow_mut()
            .insert(address_key(NIC, &n.name), ip.to_string());
    }

    // Virtual machines with their NICs (the primary first).
    let mut vms = Vec::new();
    let mut attached: HashSet<String> = HashSet::new();
    for vm in list(VM) {
        let mut refs: Vec<(bool, String)> = prop(&vm.body, "networkProfile")
            .map(|p| prop_array(p, "networkInterfaces"))
            .unwrap_or(&[])
            .iter()
            .filter_map(|r| {
                let id = get(r, "id")?.as_str()?;
                let (_, name) = crate::resource::parse_id(id)?;
                Some((
                    prop_bool(r, "primary") == Some(true),
                    name.to_ascii_lowercase(),
                ))
            })
            .collect();
        for (nic, owner) in &nic_of_vm {
            if owner.eq_ignore_ascii_case(&vm.name) && !refs.iter().any(|(_, n)| n == nic) {
                refs.push((false, nic.clone()));
            }
        }
        refs.sort_by_key(|(primary, _)| !primary);
        let mut forwards = false;
        let vm_nics: Vec<Node> = refs
            .iter()
            .filter_map(|(_, name)| nics.iter().find(|n| n.name.eq_ignore_ascii_case(name)))
            .map(|n| {
                attached.insert(n.name.to_ascii_lowercase());
                forwards |= n.forwarding;
                n.node.clone()
            })
            .collect();
        if vm_nics.is_empty() {
            warnings.push(format!(
                "VM {}: none of its NICs is in the import, left out",
                vm.name
            ));
            continue;
        }
        let declared = prop(&vm.body, "hardwareProfile")
            .and_then(|h| prop_str(h, "vmSize"))
            .unwrap_or("Standard_D2s_v3");
        let size = catalog_size(declared);
        if !size.eq_ignore_ascii_case(declared) {
            warnings.push(format!(
                "VM {}: size {declared} is not in vnetsim's size catalog; {size} (same series \
                 letter and vCPUs where the catalog has one) stands for it",
                vm.name
            ));
        }
        let mut vn = Node::map();
        vn.set("name", vm.name.as_str()).set("size", size);
        // A NIC with IP forwarding is an appliance's: its guest is taken to forward (the guest's
        // own setting is not in Azure's resources).
        if forwards {
            vn.set("forwarding", true);
        }
        if vm_nics.len() < refs.len() {
            warnings.push(format!(
                "VM {}: {} of its {} NICs are not in the import",
                vm.name,
                refs.len() - vm_nics.len(),
                refs.len()
            ));
        }
        vn.set("nics", vm_nics);
        vms.push(vn);
    }
    let scale_sets = scale_sets(&list(SCALE_SET), &vnet_names, &mut warnings);
    let mut pool_members: HashMap<String, Vec<String>> = HashMap::new();
    for (pool, nic) in pool_candidates {
        if attached.contains(&nic.to_ascii_lowercase()) {
            pool_members.entry(pool).or_default().push(nic);
        }
    }
    for n in &nics {
        if !attached.contains(&n.name.to_ascii_lowercase()) {
            warnings.push(format!(
                "NIC {}: attached to no VM in the import, left out",
                n.name
            ));
        }
    }

    // Azure Firewalls, their policies (or classic rules) and IP groups.
    let mut placeholders = 0u8;
    let mut public_address = |pip: &str, owner: &str, warnings: &mut Vec<String>| -> String {
        let addr = match public_ips.get(&pip.to_ascii_lowercase()) {
            Some((_, Some(addr))) => addr.clone(),
            _ => {
                placeholders = placeholders.wrapping_add(1);
                let addr = format!("203.0.113.{}", 100u16 + u16::from(placeholders));
                warnings.push(format!(
                    "{owner}: public IP {pip} has no address in the import; {addr} stands for it"
                ));
                addr
            }
        };
        addresses
            .borrow_mut()
            .insert(address_key(PUBLIC_IP, pip), addr.clone());
        addr
    };
    let ip_groups: Vec<Node> = list(IP_GROUP)
        .iter()
        .map(|g| {
            let mut n = Node::map();
            n.set("name", last(&g.name))
                .set("addresses", strings(prop_array(&g.body, "ipAddresses")));
            n
        })
        .collect();
    let mut policies: Vec<Node> = Vec::new();
    for p in list(FIREWALL_POLICY) {
        let mut groups: Vec<Node> = Vec::new();
        for (gname, g) in children(&[], &list(RULE_GROUP), &p.name) {
            let mut collections = Vec::new();
            for c in prop_array(&g, "ruleCollections") {
                collections.extend(policy_collection(c, &p.name, &gname, &mut warnings));
            }
            let priority = prop_int(&g, "priority").unwrap_or(65000);
            let mut gn = Node::map();
            gn.set("name", gname.as_str())
                .set("priority", priority)
                .set("rule_collections", collections);
            groups.push(gn);
        }
        let mut pn = Node::map();
        pn.set("name", last(&p.name));
        if let Some(snat) = prop(&p.body, "snat") {
            let ranges = prop_array(snat, "privateRanges");
            if !ranges.is_empty() {
                pn.set("private_ranges", strings(ranges));
            }
        }
        pn.set("rule_collection_groups", groups);
        policies.push(pn);
    }
    for f in list(FIREWALL) {
        let configs = prop_array(&f.body, "ipConfigurations");
        let Some((_, vnode)) = vnet_of(configs, &mut vnets, "firewall", &f.name, &mut warnings)
        else {
            continue;
        };
        // Its private IP: the first usable address of its subnet (validate/firewall).
        if let Some(net) = configs
            .iter()
            .find_map(|c| ref_name(c, "subnet"))
            .and_then(|s| subnet_nets.get(&s.to_ascii_lowercase()))
        {
            let ip = Ipv4Addr::from(u32::from(net.network()) + 4);
            addresses
                .borrow_mut()
                .insert(address_key(FIREWALL, &f.name), ip.to_string());
        }
        let owner = format!("firewall {}", f.name);
        let publics: Vec<Node> = configs
            .iter()
            .filter_map(|c| ref_name(c, "publicIPAddress"))
            .map(|pip| Node::from(public_address(&pip, &owner, &mut warnings)))
            .collect();
        let tier = prop(&f.body, "sku")
            .and_then(|s| prop_str(s, "tier"))
            .unwrap_or("Standard")
            .to_string();
        let mut fw = Node::map();
        fw.set("name", f.name.as_str()).set("sku", tier);
        let policy = match ref_name(&f.body, "firewallPolicy") {
            Some(p) => Some(last(&p).to_string()),
            None => {
                // Classic rules on the firewall itself: a policy of their own.
                let collections = classic_collections(&f.body, &f.name, &mut warnings);
                (!collections.is_empty()).then(|| {
                    let name = format!("{}-classic-rules", f.name);
                    let mut g = Node::map();
                    g.set("name", "classic")
                        .set("priority", 100i64)
                        .set("rule_collections", collections);
                    let mut pn = Node::map();
                    pn.set("name", name.as_str())
                        .set("rule_collection_groups", vec![g]);
                    policies.push(pn);
                    name
                })
            }
        };
        if let Some(p) = policy {
            fw.set("policy", p);
        }
        fw.set("public_ips", publics);
        vnode.set("firewall", fw);
    }

    // Virtual network gateways, local network gateways and connections.
    let mut gateway_vnet: HashMap<String, String> = HashMap::new();
    // Lower-case names of the gateways and local network gateways with BGP settings.
    let mut bgp_ends: HashSet<String> = HashSet::new();
    // Lower-case names of the VNets whose VPN gateway is of the Basic SKU.
    let mut basic_vnets: HashSet<String> = HashSet::new();
    for g in list(GATEWAY) {
        let Some((vnet, vnode)) = vnet_of(
            prop_array(&g.body, "ipConfigurations"),
            &mut vnets,
            "gateway",
            &g.name,
            &mut warnings,
        ) else {
            continue;
        };
        gateway_vnet.insert(g.name.to_ascii_lowercase(), vnet.clone());
        let er = prop_str(&g.body, "gatewayType")
            .is_some_and(|t| t.eq_ignore_ascii_case("ExpressRoute"));
        let declared = prop(&g.body, "sku").and_then(|s| prop_str(s, "name"));
        let sku = gateway_sku(declared, er, &g.name, &mut warnings);
        if !er && sku.eq_ignore_ascii_case("Basic") {
            basic_vnets.insert(vnet.to_ascii_lowercase());
        }
        let mut gn = Node::map();
        gn.set("name", g.name.as_str()).set("sku", sku);
        gn.set("type", if er { "expressroute" } else { "vpn" });
        if !er
            && prop_str(&g.body, "vpnType").is_some_and(|t| t.eq_ignore_ascii_case("PolicyBased"))
        {
            gn.set("vpn_type", "policy-based");
        }
        if prop_bool(&g.body, "enableBgp") == Some(true)
            && let Some(b) = bgp(&g.body)
        {
            gn.set("bgp", b);
            bgp_ends.insert(g.name.to_ascii_lowercase());
        }
        add_gateway(vnode, gn);
    }
    basic_gateway_without_transit(&mut peerings, &basic_vnets, &mut warnings);
    let mut sites = Vec::new();
    for l in list(LOCAL_GATEWAY) {
        let mut sn = Node::map();
        sn.set("name", l.name.as_str()).set(
            "address_space",
            strings(
                prop(&l.body, "localNetworkAddressSpace")
                    .map(|a| prop_array(a, "addressPrefixes"))
                    .unwrap_or(&[]),
            ),
        );
        if let Some(b) = bgp(&l.body) {
            sn.set("bgp", b);
            bgp_ends.insert(l.name.to_ascii_lowercase());
        }
        sites.push(sn);
    }
    let mut connections = Vec::new();
    for c in list(CONNECTION) {
        let kind = match prop_str(&c.body, "connectionType")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("ipsec") => "ipsec",
            Some("vnet2vnet") => "vnet2vnet",
            Some("expressroute") => "expressroute",
            other => {
                warnings.push(format!(
                    "connection {}: type {} is not modelled, left out",
                    c.name,
                    other.unwrap_or("(none)")
                ));
                continue;
            }
        };
        let from = ref_name(&c.body, "virtualNetworkGateway1").map(|n| last(&n).to_string());
        let to = ref_name(&c.body, "virtualNetworkGateway2")
            .or_else(|| ref_name(&c.body, "localNetworkGateway2"))
            .map(|n| last(&n).to_string());
        let (Some(from), Some(to)) = (from, to) else {
            warnings.push(format!(
                "connection {}: its gateways are not named (an ExpressRoute circuit peer is not modelled), left out",
                c.name
            ));
            continue;
        };
        let mut cn = Node::map();
        cn.set("name", c.name.as_str())
            .set("type", kind)
            .set("from", from.as_str())
            .set("to", to.as_str());
        if prop_bool(&c.body, "enableBgp") == Some(true) {
            // A BGP session needs BGP settings (an ASN and a peer address) at both ends, which
            // Microsoft's how-to gives the gateway and the local network gateway
            // (https://learn.microsoft.com/azure/vpn-gateway/bgp-howto); its pages do not say
            // what a connection enabling BGP towards an end without them does. It is imported
            // without BGP, so the site is reached through its declared address space, and said.
            let missing: Vec<&str> = [from.as_str(), to.as_str()]
                .into_iter()
                .filter(|n| !bgp_ends.contains(&n.to_ascii_lowercase()))
                .collect();
            if kind == "expressroute" || missing.is_empty() {
                cn.set("bgp", true);
            } else {
                warnings.push(format!(
                    "connection {}: enables BGP, but {} has no BGP settings (an ASN and a BGP peer address); imported without BGP, the remote address space routed statically",
                    c.name,
                    missing.join(" and ")
                ));
            }
        }
        connections.push(cn);
    }

    // Load balancers (backend pools from the NICs' IP configurations).
    let mut load_balancers = Vec::new();
    for lb in list(LOAD_BALANCER) {
        // A Gateway load balancer chains network virtual appliances in front of another load
        // balancer's frontend; the scenario does not model it.
        if get(&lb.body, "sku")
            .and_then(|s| prop_str(s, "name"))
            .is_some_and(|s| s.eq_ignore_ascii_case("Gateway"))
        {
            warnings.push(format!(
                "load balancer {}: SKU Gateway (network virtual appliance chaining) is not modelled, left out",
                lb.name
            ));
            continue;
        }
        let mut ln = Node::map();
        ln.set("name", lb.name.as_str());
        if let Some(sku) = prop(&lb.body, "sku").and_then(|s| prop_str(s, "name")) {
            ln.set("sku", sku);
        }
        let owner = format!("load balancer {}", lb.name);
        let mut frontends = Vec::new();
        for (fname, f) in children(
            prop_array(&lb.body, "frontendIPConfigurations"),
            &[],
            &lb.name,
        ) {
            let mut fnode = Node::map();
            fnode.set("name", fname.as_str());
            if let Some(w) = ref_name(&f, "subnet")
                .and_then(|s| outside(&format!("{owner}: frontend {fname}"), &s, &vnet_names))
            {
                warnings.push(w);
                continue;
            }
            if let Some(s) = ref_name(&f, "subnet") {
                fnode.set("subnet", s);
                if prop_str(&f, "privateIPAllocationMethod")
                    .is_none_or(|m| m.eq_ignore_ascii_case("static"))
                    && let Some(ip) = prop_str(&f, "privateIPAddress")
                {
                    fnode.set("ip", ip);
                    addresses.borrow_mut().insert(
                        address_key(LOAD_BALANCER, &format!("{}/{fname}", lb.name)),
                        ip.to_string(),
                    );
                }
            } else if let Some(p) = ref_name(&f, "publicIPAddress") {
                fnode.set("public_ip", public_address(&p, &owner, &mut warnings));
            } else {
                warnings.push(format!(
                    "{owner}: frontend {fname} has no subnet or public IP, left out"
                ));
                continue;
            }
            frontends.push(fnode);
        }
        let pools: Vec<Node> = children(prop_array(&lb.body, "backendAddressPools"), &[], &lb.name)
            .into_iter()
            .map(|(pname, _)| {
                let members = pool_members
                    .get(&format!("{}/{pname}", lb.name).to_ascii_lowercase())
                    .cloned()
                    .unwrap_or_default();
                let mut pn = Node::map();
                pn.set("name", pname.as_str()).set(
                    "nics",
                    members.into_iter().map(Node::from).collect::<Vec<_>>(),
                );
                pn
            })
            .collect();
        let probes: Vec<Node> = children(prop_array(&lb.body, "probes"), &[], &lb.name)
            .into_iter()
            .map(|(pname, p)| {
                let mut pn = Node::map();
                pn.set("name", pname.as_str())
                    .set(
                        "protocol",
                        prop_str(&p, "protocol")
                            .unwrap_or("Tcp")
                            .to_ascii_lowercase(),
                    )
                    .set("port", prop_int(&p, "port").unwrap_or(80));
                if let Some(i) = prop_int(&p, "intervalInSeconds") {
                    pn.set("interval", format!("{i}s"));
                }
                pn
            })
            .collect();
        let mut rules = Vec::new();
        for (rname, r) in children(prop_array(&lb.body, "loadBalancingRules"), &[], &lb.name) {
            let (Some(fe), Some(pool)) = (
                ref_name(&r, "frontendIPConfiguration"),
                ref_name(&r, "backendAddressPool"),
            ) else {
                warnings.push(format!(
                    "{owner}: rule {rname} names no frontend or backend pool, left out"
                ));
                continue;
            };
            // A frontend left out (in a VNet the import does not hold) takes its rules along.
            if !frontends
                .iter()
                .filter_map(node_name)
                .any(|n| n.eq_ignore_ascii_case(last(&fe)))
            {
                warnings.push(format!(
                    "{owner}: rule {rname} uses frontend {}, which is left out; rule left out",
                    last(&fe)
                ));
                continue;
            }
            let mut rn = Node::map();
            rn.set("name", rname.as_str())
                .set("frontend", declared(&frontends, last(&fe)))
                .set("backend_pool", declared(&pools, last(&pool)))
                .set(
                    "protocol",
                    prop_str(&r, "protocol")
                        .unwrap_or("Tcp")
                        .to_ascii_lowercase(),
                )
                .set("frontend_port", prop_int(&r, "frontendPort").unwrap_or(0))
                .set("backend_port", prop_int(&r, "backendPort").unwrap_or(0));
            if let Some(p) = ref_name(&r, "probe") {
                rn.set("probe", declared(&probes, last(&p)));
            }
            if prop_bool(&r, "enableFloatingIP") == Some(true) {
                rn.set("floating_ip", true);
            }
            match prop_str(&r, "loadDistribution")
                .map(str::to_ascii_lowercase)
                .as_deref()
            {
                Some("sourceip") => {
                    rn.set("load_distribution", "source_ip");
                }
                Some("sourceipprotocol") => {
                    rn.set("load_distribution", "source_ip_protocol");
                }
                _ => {}
            }
            rules.push(rn);
        }
        ln.set("frontends", frontends)
            .set("backend_pools", pools)
            .set("probes", probes)
            .set("rules", rules);
        load_balancers.push(ln);
    }

    // Private endpoints.
    let mut endpoints = Vec::new();
    for p in list(PRIVATE_ENDPOINT) {
        let Some(subnet) = ref_name(&p.body, "subnet") else {
            warnings.push(format!("private endpoint {}: no subnet, left out", p.name));
            continue;
        };
        if let Some(w) = outside(
            &format!("private endpoint {}", p.name),
            &subnet,
            &vnet_names,
        ) {
            warnings.push(w);
            continue;
        }
        let dns = prop_array(&p.body, "customDnsConfigs");
        let service = dns
            .iter()
            .find_map(|d| prop_str(d, "fqdn"))
            .map(str::to_string);
        let mut pn = Node::map();
        pn.set("name", p.name.as_str()).set("subnet", subnet);
        if let Some(ip) = dns
            .iter()
            .flat_map(|d| prop_array(d, "ipAddresses"))
            .find_map(Value::as_str)
            .or_else(|| {
                prop_array(&p.body, "ipConfigurations")
                    .iter()
                    .find_map(|c| prop_str(c, "privateIPAddress"))
            })
        {
            pn.set("ip", ip);
        }
        let service = service.unwrap_or_else(|| {
            let connections = prop_array(&p.body, "privateLinkServiceConnections");
            // `privateLinkServiceId` is a plain resource ID string.
            let target = connections
                .iter()
                .find_map(|c| {
                    prop_str(c, "privateLinkServiceId")
                        .map(str::to_string)
                        .or_else(|| {
                            get(prop(c, "privateLinkServiceId")?, "id")?
                                .as_str()
                                .map(str::to_string)
                        })
                })
                .and_then(|id| crate::resource::parse_id(&id))
                .map(|(_, n)| last(&n).to_ascii_lowercase());
            let group = connections
                .iter()
                .flat_map(|c| prop_array(c, "groupIds"))
                .find_map(Value::as_str);
            let name = match (&target, group.and_then(service_zone)) {
                (Some(t), Some(zone)) => format!("{t}.{zone}"),
                (Some(t), None) => format!("{t}.privatelink.azure.net"),
                _ => format!("{}.privatelink.azure.net", p.name.to_ascii_lowercase()),
            };
            warnings.push(format!(
                "private endpoint {}: no DNS name in customDnsConfigs; {name} stands for it",
                p.name
            ));
            name
        });
        pn.set("service", service);
        endpoints.push(pn);
    }

    let mut doc = Node::map();
    doc.set("name", name);
    let mut azure = Node::map();
    azure.set("era", "current");
    doc.set("azure", azure);
    let asgs: Vec<Node> = list(ASG)
        .iter()
        .map(|a| {
            let mut n = Node::map();
            n.set("name", a.name.as_str());
            n
        })
        .collect();
    for (key, items) in [
        ("vnets", vnets),
        ("ip_groups", ip_groups),
        ("firewall_policies", policies),
        ("application_security_groups", asgs),
        ("nsgs", nsgs),
        ("route_tables", tables),
        ("vms", vms),
        ("scale_sets", scale_sets),
        ("peerings", peerings),
        ("on_premises", sites),
        ("connections", connections),
        ("load_balancers", load_balancers),
        ("private_endpoints", endpoints),
    ] {
        if !items.is_empty() {
            doc.set(key, items);
        }
    }
    Ok(Import {
        scenario: doc,
        imported,
        unmodelled,
        warnings,
        addresses: addresses.into_inner(),
    })
}

/// The strings of a JSON array.
fn strings(values: &[Value]) -> Vec<Node> {
    values
        .iter()
        .filter_map(Value::as_str)
        .map(Node::from)
        .collect()
}

/// The `name` of a mapping node.
fn node_name(n: &Node) -> Option<&str> {
    match n {
        Node::Map(m) => m
            .iter()
            .find(|(k, _)| k == "name")
            .and_then(|(_, v)| match v {
                Node::Str(s) => Some(s.as_str()),
                _ => None,
            }),
        _ => None,
    }
}

/// The last segments of the IDs a rule names (IP groups).
fn id_names(values: &[Value]) -> Vec<Node> {
    values
        .iter()
        .filter_map(|v| v.as_str().or_else(|| get(v, "id")?.as_str()))
        .filter_map(crate::resource::parse_id)
        .map(|(_, n)| Node::from(last(&n)))
        .collect()
}

/// A size of vnetsim's catalog (`vnetsim-scenario/data/vm-sizes.csv`) for a template's
/// `vmSize`: the size itself when the catalog has it, else the catalog size of that vCPU count
/// of the same series letter (and generation suffix, `_v4`, when one has it) (Azure's names
/// carry all three: `Standard_B2ms` is a 2-vCPU B-series), else any with that vCPU count, else
/// `Standard_D2s_v3`. The catalog holds the sizes whose
/// bandwidth the project checked; a template may name any of Azure's hundreds.
pub fn catalog_size(declared: &str) -> String {
    use vnetsim_scenario::sizes;
    if let Some(s) = sizes::lookup(declared) {
        return s.name.to_string();
    }
    let body = declared
        .strip_prefix("Standard_")
        .or_else(|| declared.strip_prefix("standard_"))
        .unwrap_or(declared);
    let series = body.chars().next().map(|c| c.to_ascii_uppercase());
    let vcpus: Option<u32> = {
        let digits: String = body
            .chars()
            .skip_while(|c| !c.is_ascii_digit())
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    };
    let series_of = |name: &str| {
        name.strip_prefix("Standard_")
            .and_then(|b| b.chars().next())
            .map(|c| c.to_ascii_uppercase())
    };
    // The generation suffix (`_v4`), compared too: a D2ds_v4 is nearer a D2s_v4 than a D2.
    let version = |name: &str| {
        name.rsplit_once('_')
            .map(|(_, v)| v.to_ascii_lowercase())
            .filter(|v| v.starts_with('v'))
    };
    let all = sizes::all();
    let pick = vcpus.and_then(|n| {
        all.iter().filter(|s| s.vcpus == n).max_by_key(|s| {
            // Highest score wins; among equals, the first in catalog order.
            let score = 2 * u8::from(series_of(s.name) == series)
                + u8::from(version(s.name) == version(declared));
            (
                score,
                std::cmp::Reverse(all.iter().position(|o| o.name == s.name)),
            )
        })
    });
    pick.map_or_else(|| "Standard_D2s_v3".to_string(), |s| s.name.to_string())
}

/// Why a rule is left out of the scenario, if it is: an application rule that names no target
/// FQDN matches something no scenario field holds (the hosts Microsoft keeps behind FQDN tags,
/// learn.microsoft.com/azure/firewall/fqdn-tags; Premium's web categories and target URLs,
/// learn.microsoft.com/azure/firewall/premium-features), and a rule that names no source
/// (Azure's classic API lets `sourceAddresses` be left out; its pages do not say what such a
/// rule matches). Said in a warning: from an allow collection the firewall then denies more,
/// from a deny collection it allows more.
fn unmodelled_rule(r: &Value, kind: &str) -> Option<String> {
    let listed = |field: &str| -> String {
        prop_array(r, field)
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    };
    if kind == "application" && prop_array(r, "targetFqdns").is_empty() {
        for (field, what) in [
            ("fqdnTags", "FQDN tags"),
            ("webCategories", "web categories"),
            ("targetUrls", "target URLs"),
        ] {
            let v = listed(field);
            if !v.is_empty() {
                return Some(format!("matches {what} only ({v}), not modelled"));
            }
        }
        return Some("names no target FQDN".to_string());
    }
    if kind != "dnat"
        && prop_array(r, "sourceAddresses").is_empty()
        && prop_array(r, "sourceIpGroups").is_empty()
    {
        return Some(
            "names no source addresses or IP groups (Azure's pages do not say what such a rule \
             matches)"
                .to_string(),
        );
    }
    None
}

/// Whether a rule's address is one the scenario holds: `*`, an IPv4 address, CIDR or range.
/// Service tags (Azure Firewall takes published ones, such as `AzureMonitor`, as destinations:
/// learn.microsoft.com/azure/firewall/service-tags) and IPv6 addresses are not.
fn firewall_address(v: &str) -> bool {
    let v = v.trim();
    v == "*"
        || v.parse::<std::net::Ipv4Addr>().is_ok()
        || v.parse::<ipnet::Ipv4Net>().is_ok()
        || v.split_once('-').is_some_and(|(a, b)| {
            a.trim().parse::<std::net::Ipv4Addr>().is_ok()
                && b.trim().parse::<std::net::Ipv4Addr>().is_ok()
        })
}

/// A rule's FQDNs in the scenario's form. Azure also accepts a wildcard without its dot,
/// `*contoso.com`, for the name and every name under it (learn.microsoft.com/azure/firewall/
/// firewall-faq, "How do wildcards work in target URLs and target FQDNs"); the scenario
/// writes that as two names, `contoso.com` and `*.contoso.com`, said in a warning.
fn fqdns(values: &[Value], rule: &Value, warnings: &mut Vec<String>) -> Vec<Node> {
    let mut out = Vec::new();
    for v in values.iter().filter_map(Value::as_str) {
        match undotted_wildcard(v) {
            Some(apex) => {
                warnings.push(format!(
                    "firewall rule {}: `{v}` written as `{apex}` and `*.{apex}`",
                    get(rule, "name").and_then(Value::as_str).unwrap_or("rule")
                ));
                out.push(Node::from(apex));
                out.push(Node::from(format!("*.{apex}")));
            }
            None => out.push(Node::from(v)),
        }
    }
    out
}

/// The name after a leading `*` not followed by a dot (`*bing.com` -> `bing.com`).
fn undotted_wildcard(v: &str) -> Option<&str> {
    let rest = v.strip_prefix('*')?;
    (!rest.is_empty() && !rest.starts_with('.') && rest.contains('.')).then_some(rest)
}

/// One firewall rule (of a policy, or classic) in the scenario's shape; `None` (said in a
/// warning) when only addresses the scenario does not hold were on one of its sides.
fn firewall_rule(r: &Value, kind: &str, warnings: &mut Vec<String>) -> Option<Node> {
    let mut n = Node::map();
    let rule = get(r, "name").and_then(Value::as_str).unwrap_or("rule");
    let mut emptied = false;
    let mut set: Vec<&str> = Vec::new();
    n.set(
        "name",
        get(r, "name").and_then(Value::as_str).unwrap_or("rule"),
    );
    let protocols: Vec<Node> = if kind == "application" {
        prop_array(r, "protocols")
            .iter()
            .filter_map(|p| {
                let t = prop_str(p, "protocolType")?;
                Some(match prop_int(p, "port") {
                    Some(port) => Node::from(format!("{t}:{port}")),
                    None => Node::from(t),
                })
            })
            .collect()
    } else {
        let v = prop_array(r, "ipProtocols");
        strings(if v.is_empty() {
            prop_array(r, "protocols")
        } else {
            v
        })
    };
    n.set("protocols", protocols);
    for (arm, key) in [
        ("sourceAddresses", "source_addresses"),
        ("destinationAddresses", "destination_addresses"),
        ("destinationFqdns", "destination_fqdns"),
        ("destinationPorts", "destination_ports"),
        ("targetFqdns", "target_fqdns"),
    ] {
        let v = if arm.ends_with("Fqdns") {
            fqdns(prop_array(r, arm), r, warnings)
        } else if arm.ends_with("Addresses") {
            let (held, left): (Vec<&Value>, Vec<&Value>) = prop_array(r, arm)
                .iter()
                .partition(|v| v.as_str().is_none_or(firewall_address));
            let left: Vec<&str> = left.iter().filter_map(|v| v.as_str()).collect();
            if !left.is_empty() {
                warnings.push(format!(
                    "firewall rule {rule}: {arm} {} not modelled (service tags and IPv6 \
                     addresses), left out",
                    left.join(", ")
                ));
            }
            let held: Vec<Value> = held.into_iter().cloned().collect();
            if held.is_empty() && !left.is_empty() {
                emptied = true;
            }
            strings(&held)
        } else {
            strings(prop_array(r, arm))
        };
        if !v.is_empty() {
            n.set(key, v);
            set.push(key);
        }
    }
    for (arm, key) in [
        ("sourceIpGroups", "source_ip_groups"),
        ("destinationIpGroups", "destination_ip_groups"),
    ] {
        let v = id_names(prop_array(r, arm));
        if !v.is_empty() {
            n.set(key, v);
            set.push(key);
        }
    }
    // A side that named only addresses the scenario does not hold would match nothing or
    // everything once they are dropped: the rule is left out instead.
    let side_empty = |addresses: &str, groups: &str, fqdn: Option<&str>| {
        !set.contains(&addresses)
            && !set.contains(&groups)
            && fqdn.is_none_or(|f| !set.contains(&f))
    };
    if emptied
        && (side_empty("source_addresses", "source_ip_groups", None)
            || (kind != "application"
                && side_empty(
                    "destination_addresses",
                    "destination_ip_groups",
                    Some("destination_fqdns"),
                )))
    {
        warnings.push(format!(
            "firewall rule {rule}: nothing the scenario holds is left of its sources or \
             destinations, left out"
        ));
        return None;
    }
    if let Some(a) = prop_str(r, "translatedAddress") {
        n.set("translated_address", a);
    }
    if let Some(p) = prop(r, "translatedPort") {
        let p = p
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| p.to_string());
        n.set("translated_port", p);
    }
    Some(n)
}

/// Peerings that would give or use the transit of a Basic VPN gateway are written without it,
/// each said in a warning: "Gateway transit is supported for all VPN Gateway SKUs except the
/// Basic SKU" (https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-peering-gateway-transit),
/// and the import writes `era: current`, under which a scenario asking for it is refused
/// (`gateway-transit-basic`). Microsoft's hub-and-spoke-sandbox quickstart pairs its default
/// Basic gateway with transit.
fn basic_gateway_without_transit(
    peerings: &mut [Node],
    basic_vnets: &HashSet<String>,
    warnings: &mut Vec<String>,
) {
    for p in peerings {
        let Node::Map(fields) = p else { continue };
        let text = |key: &str| {
            fields.iter().find_map(|(k, v)| match v {
                Node::Str(s) if k == key => Some(s.clone()),
                _ => None,
            })
        };
        let (name, from, to) = (
            text("name").unwrap_or_default(),
            text("from").unwrap_or_default(),
            text("to").unwrap_or_default(),
        );
        for (key, vnet) in [
            ("allow_gateway_transit", &from),
            ("use_remote_gateways", &to),
        ] {
            if !basic_vnets.contains(&vnet.to_ascii_lowercase()) {
                continue;
            }
            for (k, v) in fields.iter_mut() {
                if k == key && matches!(v, Node::Bool(true)) {
                    *v = Node::Bool(false);
                    warnings.push(format!(
                        "peering {name}: {key} written as false: the VPN gateway of {vnet} is of \
                         the Basic SKU, which gateway transit does not support"
                    ));
                }
            }
        }
    }
}

/// The scenario's collections for one rule collection of a policy: a filter collection that
/// holds network and application rules becomes two collections of one priority.
fn policy_collection(
    c: &Value,
    policy: &str,
    group: &str,
    warnings: &mut Vec<String>,
) -> Vec<Node> {
    let name = get(c, "name")
        .and_then(Value::as_str)
        .unwrap_or("collection");
    let priority = prop_int(c, "priority").unwrap_or(65000);
    let action = prop(c, "action")
        .and_then(|a| prop_str(a, "type"))
        .unwrap_or("Allow")
        .to_ascii_lowercase();
    let nat =
        prop_str(c, "ruleCollectionType").is_some_and(|t| t.to_ascii_lowercase().contains("nat"));
    let mut by_kind: Vec<(&str, Vec<Node>)> = Vec::new();
    for r in prop_array(c, "rules") {
        let rule_type = prop_str(r, "ruleType").map(str::to_ascii_lowercase);
        let kind = match rule_type.as_deref() {
            _ if nat => "dnat",
            Some("applicationrule") => "application",
            Some("networkrule") | None => "network",
            Some(other) => {
                warnings.push(format!(
                    "firewall policy {policy} group {group} collection {name}: rule type {other} \
                     is not modelled, left out"
                ));
                continue;
            }
        };
        if let Some(why) = unmodelled_rule(r, kind) {
            warnings.push(format!(
                "firewall policy {policy} group {group} collection {name}: {kind} rule {} \
                 {why}, left out",
                get(r, "name").and_then(Value::as_str).unwrap_or("rule")
            ));
            continue;
        }
        let Some(rule) = firewall_rule(r, kind, warnings) else {
            continue;
        };
        match by_kind.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, v)) => v.push(rule),
            None => by_kind.push((kind, vec![rule])),
        }
    }
    let split = by_kind.len() > 1;
    by_kind
        .into_iter()
        .map(|(kind, rules)| {
            let cname = if split {
                format!("{name}-{kind}")
            } else {
                name.to_string()
            };
            let mut n = Node::map();
            n.set("name", cname)
                .set("priority", priority)
                .set("kind", kind)
                .set(
                    "action",
                    if nat {
                        "dnat".to_string()
                    } else {
                        action.clone()
                    },
                )
                .set("rules", rules);
            n
        })
        .collect()
}

/// The classic rule collections of a firewall (`natRuleCollections`, `networkRuleCollections`,
/// `applicationRuleCollections`).
fn classic_collections(fw: &Value, firewall: &str, warnings: &mut Vec<String>) -> Vec<Node> {
    let mut out = Vec::new();
    for (arm, kind) in [
        ("natRuleCollections", "dnat"),
        ("networkRuleCollections", "network"),
        ("applicationRuleCollections", "application"),
    ] {
        for c in prop_array(fw, arm) {
            let cname = get(c, "name")
                .and_then(Value::as_str)
                .unwrap_or("collection");
            let priority = prop_int(c, "priority").unwrap_or(65000);
            let action = prop(c, "action")
                .and_then(|a| prop_str(a, "type"))
                .unwrap_or("Allow")
                .to_ascii_lowercase();
            let mut rules: Vec<Node> = Vec::new();
            for r in prop_array(c, "rules") {
                if let Some(why) = unmodelled_rule(r, kind) {
                    warnings.push(format!(
                        "firewall {firewall} collection {cname}: {kind} rule {} {why}, left out",
                        get(r, "name").and_then(Value::as_str).unwrap_or("rule")
                    ));
                    continue;
                }
                rules.extend(firewall_rule(r, kind, warnings));
            }
            if rules.is_empty() {
                continue;
            }
            let mut n = Node::map();
            n.set("name", cname)
                .set("priority", priority)
                .set("kind", kind)
                .set(
                    "action",
                    if kind == "dnat" {
                        "dnat".to_string()
                    } else {
                        action
                    },
                )
                .set("rules", rules);
            out.push(n);
        }
    }
    out
}

/// The SKU a gateway has now. A template written before SKUs were required names none: an
/// ExpressRoute gateway is taken as `Standard`, a VPN gateway as `VpnGw1`. The legacy VPN SKUs
/// `Standard` and `HighPerformance` were retired and migrated to `VpnGw1AZ` and `VpnGw2AZ` on
/// 30 September 2025 (https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-about-skus-legacy,
/// "SKU deprecation"); in the SKU catalog those two names are the ExpressRoute gateways'.
fn gateway_sku(declared: Option<&str>, er: bool, name: &str, warnings: &mut Vec<String>) -> String {
    match declared {
        None => {
            let sku = if er { "Standard" } else { "VpnGw1" };
            warnings.push(format!("gateway {name}: no SKU named, {sku} assumed"));
            sku.to_string()
        }
        Some(s) if !er && s.eq_ignore_ascii_case("Standard") => {
            warnings.push(format!(
                "gateway {name}: the legacy VPN SKU Standard is now VpnGw1AZ (migrated 2025-09-30)"
            ));
            "VpnGw1AZ".to_string()
        }
        Some(s) if !er && s.eq_ignore_ascii_case("HighPerformance") => {
            warnings.push(format!(
                "gateway {name}: the legacy VPN SKU HighPerformance is now VpnGw2AZ (migrated 2025-09-30)"
            ));
            "VpnGw2AZ".to_string()
        }
        Some(s) => s.to_string(),
    }
}

/// The BGP settings of a gateway or local network gateway (`bgpSettings`: ASN, peering address).
fn bgp(body: &Value) -> Option<Node> {
    let b = prop(body, "bgpSettings")?;
    let asn = prop_int(b, "asn")?;
    let mut n = Node::map();
    n.set("asn", asn);
    if let Some(ip) = prop_str(b, "bgpPeeringAddress").filter(|s| !s.is_empty()) {
        // Active-active gateways list two, comma-separated: the first is the instance's own.
        n.set("peering_ip", ip.split(',').next().unwrap_or(ip).trim());
    }
    Some(n)
}

/// Adds a gateway to a VNet node: the second one (VPN beside ExpressRoute) makes a list.
fn add_gateway(vnet: &mut Node, gateway: Node) {
    let Node::Map(m) = vnet else {
        return;
    };
    match m.iter_mut().find(|(k, _)| k == "gateway") {
        Some((_, Node::List(l))) => l.push(gateway),
        Some((_, existing)) => {
            let first = std::mem::replace(existing, Node::List(Vec::new()));
            *existing = Node::List(vec![first, gateway]);
        }
        None => m.push(("gateway".to_string(), gateway)),
    }
}

/// The VNet (name and node) of the subnet the first IP configuration names, for a resource
/// that lives in a VNet (firewall, gateway); `None`, said in a warning, when there is none or
/// the import does not hold it.
fn vnet_of<'v>(
    configs: &[Value],
    vnets: &'v mut [Node],
    what: &str,
    name: &str,
    warnings: &mut Vec<String>,
) -> Option<(String, &'v mut Node)> {
    let Some(vnet) = configs
        .iter()
        .find_map(|c| ref_name(c, "subnet"))
        .and_then(|s| s.split_once('/').map(|(v, _)| v.to_string()))
    else {
        warnings.push(format!(
            "{what} {name}: no IP configuration with a subnet, left out"
        ));
        return None;
    };
    match vnets
        .iter_mut()
        .find(|v| node_name(v).is_some_and(|n| n.eq_ignore_ascii_case(&vnet)))
    {
        Some(node) => Some((vnet, node)),
        None => {
            warnings.push(format!(
                "{what} {name}: its VNet {vnet} is not in the import, left out"
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_catalog_size_is_kept_and_a_missing_one_gets_its_series_and_vcpus() {
        assert_eq!(catalog_size("Standard_D2s_v3"), "Standard_D2s_v3");
        assert_eq!(catalog_size("standard_d2s_v3"), "Standard_D2s_v3");
        // B2ms: a 2-vCPU B-series size the catalog lacks.
        assert_eq!(catalog_size("Standard_B2ms"), "Standard_B2s");
        // Same series, vCPUs and generation first.
        assert_eq!(catalog_size("Standard_D2ds_v4"), "Standard_D2_v4");
        assert_eq!(catalog_size("Standard_E4as_v5"), "Standard_E4_v3");
        let d = catalog_size("Standard_Q4x");
        let size = vnetsim_scenario::sizes::lookup(&d).expect("in the catalog");
        assert_eq!(size.vcpus, 4);
        assert_eq!(catalog_size("Custom"), "Standard_D2s_v3");
    }

    #[test]
    fn nsg_rules_naming_an_unmodelled_service_tag_are_found() {
        let r = |src: &str, dst: &str| json!({"properties": {"sourceAddressPrefix": src, "destinationAddressPrefix": dst}});
        assert_eq!(
            unmodelled_tag(&r("GatewayManager", "*")).as_deref(),
            Some("GatewayManager")
        );
        assert_eq!(
            unmodelled_tag(&r("*", "Storage.WestEurope")).as_deref(),
            Some("Storage.WestEurope")
        );
        assert_eq!(unmodelled_tag(&r("VirtualNetwork", "internet")), None);
        assert_eq!(unmodelled_tag(&r("10.0.0.0/16", "10.1.2.3")), None);
        let many = json!({"sourceAddressPrefixes": ["10.0.0.0/8", "AzureCloud"]});
        assert_eq!(unmodelled_tag(&many).as_deref(), Some("AzureCloud"));
    }

    #[test]
    fn ipv6_prefixes_are_recognised_and_an_ipv6_only_rule_side_found() {
        assert!(is_ipv6("ace:cab:deca::/48"));
        assert!(is_ipv6("::1"));
        assert!(!is_ipv6("10.0.0.0/16"));
        assert!(!is_ipv6("VirtualNetwork"));
        assert!(!is_ipv6("*"));
        let rule = serde_json::json!({"properties": {
            "sourceAddressPrefixes": ["ace:cab:deca:deed::/64"],
            "destinationAddressPrefixes": ["10.0.1.0/24", "cab:cab::/64"]}});
        assert!(ipv6_only(
            &rule,
            "sourceAddressPrefix",
            "sourceAddressPrefixes"
        ));
        assert!(!ipv6_only(
            &rule,
            "destinationAddressPrefix",
            "destinationAddressPrefixes"
        ));
        assert_eq!(
            one_or_many(
                &rule,
                "destinationAddressPrefix",
                "destinationAddressPrefixes"
            ),
            Some(Node::from("10.0.1.0/24"))
        );
    }

    #[test]
    fn a_gateway_load_balancer_and_rules_of_a_frontend_left_out_are_left_out() {
        let r = |kind: &str, name: &str, body: serde_json::Value| Resource {
            kind: kind.into(),
            name: name.into(),
            location: Some("westeurope".into()),
            body,
            origin: String::new(),
        };
        let sub = |vnet: &str| {
            format!(
                "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/{vnet}/subnets/a"
            )
        };
        let fe = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/loadBalancers/ilb/frontendIPConfigurations/fe";
        let pool = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/loadBalancers/ilb/backendAddressPools/p";
        let rs = vec![
            r(
                VNET,
                "v",
                serde_json::json!({"properties": {
                "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                "subnets": [{"name": "a", "properties": {"addressPrefix": "10.0.0.0/24"}}]}}),
            ),
            r(
                LOAD_BALANCER,
                "gwlb",
                serde_json::json!({"sku": {"name": "Gateway"}, "properties": {
                "frontendIPConfigurations": [{"name": "f", "properties": {"subnet": {"id": sub("v")}}}]}}),
            ),
            r(
                LOAD_BALANCER,
                "ilb",
                serde_json::json!({"sku": {"name": "Standard"}, "properties": {
                "frontendIPConfigurations": [{"name": "fe", "properties": {"subnet": {"id": sub("existing")}}}],
                "backendAddressPools": [{"name": "p"}],
                "loadBalancingRules": [{"name": "r", "properties": {
                    "frontendIPConfiguration": {"id": fe}, "backendAddressPool": {"id": pool},
                    "protocol": "Tcp", "frontendPort": 1433, "backendPort": 1433}}]}}),
            ),
        ];
        let import = to_scenario(&rs, "t").unwrap();
        let yaml = crate::yaml::write(&[], &import.scenario);
        assert!(!yaml.contains("gwlb"), "{yaml}");
        assert!(!yaml.contains("frontend: fe"), "{yaml}");
        for needle in [
            "load balancer gwlb: SKU Gateway",
            "load balancer ilb: frontend fe: subnet existing/a",
            "rule r uses frontend fe, which is left out",
        ] {
            assert!(
                import.warnings.iter().any(|w| w.contains(needle)),
                "{needle}: {:?}",
                import.warnings
            );
        }
    }

    #[test]
    fn gateway_skus_follow_the_legacy_migration_and_the_gateway_type() {
        let mut w = Vec::new();
        assert_eq!(
            gateway_sku(Some("Standard"), false, "g", &mut w),
            "VpnGw1AZ"
        );
        assert_eq!(
            gateway_sku(Some("HighPerformance"), false, "g", &mut w),
            "VpnGw2AZ"
        );
        assert_eq!(gateway_sku(Some("Standard"), true, "g", &mut w), "Standard");
        assert_eq!(gateway_sku(None, true, "g", &mut w), "Standard");
        assert_eq!(gateway_sku(None, false, "g", &mut w), "VpnGw1");
        assert_eq!(gateway_sku(Some("VpnGw2"), false, "g", &mut w), "VpnGw2");
        assert_eq!(w.len(), 4);
    }

    #[test]
    fn a_private_endpoint_target_gets_its_service_zone() {
        assert_eq!(service_zone("sqlServer"), Some("database.windows.net"));
        assert_eq!(service_zone("blob"), Some("blob.core.windows.net"));
        assert_eq!(service_zone("somethingElse"), None);
    }

    #[test]
    fn a_rule_matching_what_no_scenario_holds_is_named_with_why() {
        let src = json!(["10.0.0.0/24"]);
        let tags = json!({"name": "wu", "fqdnTags": ["WindowsUpdate", "AzureBackup"],
            "sourceAddresses": src});
        assert_eq!(
            unmodelled_rule(&tags, "application").as_deref(),
            Some("matches FQDN tags only (WindowsUpdate, AzureBackup), not modelled")
        );
        let both = json!({"fqdnTags": ["WindowsUpdate"], "targetFqdns": ["a.example"],
            "sourceAddresses": src});
        assert_eq!(unmodelled_rule(&both, "application"), None);
        let web = json!({"webCategories": ["business"], "sourceAddresses": ["*"]});
        assert_eq!(
            unmodelled_rule(&web, "application").as_deref(),
            Some("matches web categories only (business), not modelled")
        );
        let urls = json!({"targetUrls": ["a.example/x/*"], "sourceAddresses": ["*"]});
        assert_eq!(
            unmodelled_rule(&urls, "application").as_deref(),
            Some("matches target URLs only (a.example/x/*), not modelled")
        );
        // The classic API takes an application rule with no source (Microsoft's
        // azurefirewall-sandbox-linux quickstart has one).
        let sourceless = json!({"targetFqdns": ["*microsoft.com"]});
        assert!(
            unmodelled_rule(&sourceless, "application")
                .is_some_and(|w| w.starts_with("names no source"))
        );
        let by_group = json!({"targetFqdns": ["a.example"], "sourceIpGroups": ["g"]});
        assert_eq!(unmodelled_rule(&by_group, "application"), None);
        let network = json!({"destinationAddresses": ["*"], "sourceAddresses": src});
        assert_eq!(unmodelled_rule(&network, "network"), None);
        assert_eq!(unmodelled_rule(&json!({}), "dnat"), None);
    }

    #[test]
    fn peerings_of_a_basic_gateway_lose_their_transit_and_say_so() {
        let peering = |name: &str, from: &str, to: &str, allow: bool, use_remote: bool| {
            let mut n = Node::map();
            n.set("name", name)
                .set("from", from)
                .set("to", to)
                .set("allow_gateway_transit", allow)
                .set("use_remote_gateways", use_remote);
            n
        };
        let mut peerings = vec![
            peering("hub-to-spoke", "hub", "spoke", true, false),
            peering("spoke-to-hub", "spoke", "Hub", false, true),
            peering("other-to-vpn", "other", "vpn", false, true),
        ];
        let basic: HashSet<String> = ["hub".to_string()].into();
        let mut warnings = Vec::new();
        basic_gateway_without_transit(&mut peerings, &basic, &mut warnings);
        let mut doc = Node::map();
        doc.set("peerings", peerings);
        let text = crate::yaml::write(&[], &doc);
        assert_eq!(
            text.matches("allow_gateway_transit: true").count(),
            0,
            "{text}"
        );
        assert_eq!(
            text.matches("use_remote_gateways: true").count(),
            1,
            "{text}"
        );
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].starts_with("peering hub-to-spoke: allow_gateway_transit"));
        assert!(warnings[1].starts_with("peering spoke-to-hub: use_remote_gateways"));
    }

    #[test]
    fn service_tags_and_ipv6_leave_a_rule_and_a_rule_left_with_no_side_is_left_out() {
        let mut warnings = Vec::new();
        let mixed = json!({"name": "r", "protocols": ["TCP"], "sourceAddresses": ["10.0.0.0/24"],
            "destinationAddresses": ["AzureMonitor", "10.1.0.0/16", "2001:db8::/32"],
            "destinationPorts": ["443"]});
        let rule = firewall_rule(&mixed, "network", &mut warnings).expect("kept");
        let text = crate::yaml::write(&[], &rule);
        assert!(text.contains("10.1.0.0/16"), "{text}");
        assert!(
            !text.contains("AzureMonitor") && !text.contains("2001"),
            "{text}"
        );
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("AzureMonitor, 2001:db8::/32"),
            "{warnings:?}"
        );

        let only_tag = json!({"name": "m", "protocols": ["TCP"], "sourceAddresses": ["*"],
            "destinationAddresses": ["AzureMonitor"], "destinationPorts": ["443"]});
        warnings.clear();
        assert!(firewall_rule(&only_tag, "network", &mut warnings).is_none());
        assert!(
            warnings.last().is_some_and(|w| w.ends_with("left out")),
            "{warnings:?}"
        );

        let by_fqdn = json!({"name": "f", "protocols": ["TCP"], "sourceAddresses": ["*"],
            "destinationAddresses": ["Storage"], "destinationFqdns": ["a.example"],
            "destinationPorts": ["443"]});
        assert!(firewall_rule(&by_fqdn, "network", &mut warnings).is_some());
        for ok in [
            "*",
            "10.0.0.1",
            "10.0.0.0/8",
            "10.0.0.1-10.0.0.9",
            " 10.0.0.1 ",
        ] {
            assert!(firewall_address(ok), "{ok}");
        }
        for not in [
            "AzureMonitor",
            "Storage.WestEurope",
            "::1",
            "10.0.0.1-x",
            "",
        ] {
            assert!(!firewall_address(not), "{not}");
        }
    }

    #[test]
    fn an_undotted_wildcard_becomes_the_name_and_its_subdomains() {
        assert_eq!(undotted_wildcard("*bing.com"), Some("bing.com"));
        assert_eq!(undotted_wildcard("*.bing.com"), None);
        assert_eq!(undotted_wildcard("*"), None);
        assert_eq!(undotted_wildcard("www.bing.com"), None);
        let mut w = Vec::new();
        let rule = json!({"name": "r"});
        let out = fqdns(&[json!("*bing.com"), json!("a.example")], &rule, &mut w);
        assert_eq!(out.len(), 3);
        assert_eq!(w.len(), 1);
    }
}
