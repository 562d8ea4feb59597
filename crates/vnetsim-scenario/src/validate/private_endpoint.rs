//! The private endpoint room: each subnet's `private_endpoint_network_policies`, and the
//! private endpoints with their addresses and service names.
//!
//! What it is for: a private endpoint sits in a subnet written `vnet/subnet`, never in a subnet
//! that holds only a gateway or a firewall, at a static address inside its subnet that no NIC
//! or other endpoint holds, or at the subnet's next free address (Azure allocates a dynamic
//! private IP from the subnet, as for a NIC [PEOV20]); it takes no NSG of its own (ARM's
//! `privateEndpoints` resource has no NSG property); its service is a DNS name, which resolves to the endpoint's
//! address for firewall FQDN rules (the record its private DNS zone would hold). Names join the
//! endpoints of probes and flows. What it is not: routing (the `/32` routes are the data
//! plane's) or the rule that a private endpoint never sends (the traffic room's `sender`).

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::sync::Arc;

use serde_saphyr::Spanned;

use super::firewall::FIREWALL_SUBNET;
use super::resolver::{Resolver, loc};
use crate::diag::nearest;
use crate::model::*;
use crate::raw::*;
use crate::rules::Rule;

/// Subnets that hold only their gateway or firewall.
const SPECIAL_SUBNETS: [&str; 3] = [
    "GatewaySubnet",
    FIREWALL_SUBNET,
    "AzureFirewallManagementSubnet",
];

/// A private endpoint being checked: its place, and its static IP if it has one.
struct Placed {
    vnet: VnetId,
    subnet: SubnetId,
    ip: Option<Ipv4Addr>,
}

impl<'r> Resolver<'r> {
    /// Subnet network policies, then private endpoints. Runs after VMs (endpoint addresses
    /// must not be NICs') and sites (the endpoint names follow the hosts), before the firewall
    /// room (whose FQDN rules read the endpoints' service names) and the traffic room.
    pub(super) fn private_endpoints(&mut self) {
        self.pe_network_policies();
        let raw = self.raw;
        let start = raw.vms.len()
            + raw.on_premises.iter().map(|s| s.hosts.len()).sum::<usize>()
            + raw.internet.len();
        let mut endpoints = std::mem::take(&mut self.names.endpoints);
        self.index_into(
            "private endpoint",
            raw.private_endpoints
                .iter()
                .enumerate()
                .map(|(i, p)| (&p.name, format!("private_endpoints[{i}].name"))),
            &mut endpoints,
            start as u32,
        );
        self.names.endpoints = endpoints;
        // Every address a NIC or a static endpoint holds, per VNet, before any allocation.
        let mut held: HashSet<(VnetId, Ipv4Addr)> =
            self.sc.nics.iter().map(|n| (n.vnet, n.ip)).collect();
        let mut placed = Vec::with_capacity(raw.private_endpoints.len());
        for (i, p) in raw.private_endpoints.iter().enumerate() {
            let path = format!("private_endpoints[{i}]");
            let place = self.pe_place(p, &path, &mut held);
            placed.push(place);
        }
        for (i, (p, place)) in raw.private_endpoints.iter().zip(placed).enumerate() {
            let path = format!("private_endpoints[{i}]");
            let service = self.pe_service(p, &path);
            let ip = match place.as_ref() {
                Some(Placed { ip: Some(ip), .. }) => *ip,
                Some(pl) => self.pe_allocate(p, pl, &path, &mut held),
                None => Ipv4Addr::UNSPECIFIED,
            };
            if let Some(nsg) = &p.nsg {
                self.err_help(
                    loc(nsg),
                    format!("{path}.nsg"),
                    Rule::PrivateEndpointNsg,
                    format!(
                        "private endpoint `{}` takes no NSG of its own: ARM's privateEndpoints \
                         resource has no NSG property, Azure manages its network interface",
                        p.name.value
                    ),
                    "attach the NSG to the endpoint's subnet and set the subnet's \
                     `private_endpoint_network_policies` to `enabled` or \
                     `network_security_group_enabled` [PENP23]",
                );
            }
            if ip != Ipv4Addr::UNSPECIFIED {
                self.sc.names.push(NameRecord {
                    name: service.clone(),
                    ip,
                });
            }
            let (vnet, subnet) = place.map_or((VnetId(0), SubnetId(0)), |pl| (pl.vnet, pl.subnet));
            self.sc.private_endpoints.push(PrivateEndpoint {
                name: p.name.value.as_str().into(),
                vnet,
                subnet,
                ip,
                service,
            });
        }
    }

    /// Each subnet's `private_endpoint_network_policies`.
    fn pe_network_policies(&mut self) {
        let raw = self.raw;
        for (i, v) in raw.vnets.iter().enumerate() {
            for (k, s) in v.subnets.iter().enumerate() {
                let Some(text) = &s.private_endpoint_network_policies else {
                    continue;
                };
                let value = match PrivateEndpointNetworkPolicies::parse(&text.value) {
                    Some(p) => p,
                    None => {
                        self.err_help(
                            loc(text),
                            format!("vnets[{i}].subnets[{k}].private_endpoint_network_policies"),
                            Rule::UnknownVariant,
                            format!(
                                "`{}` is not a value of privateEndpointNetworkPolicies",
                                text.value
                            ),
                            "use `disabled`, `enabled`, `network_security_group_enabled` or \
                             `route_table_enabled` (Azure's values [PENP23]; the CLI's true and \
                             false are not ARM values)",
                        );
                        continue;
                    }
                };
                if let Some(sid) = self.sc.vnets.get(i).and_then(|v| v.subnets.get(k))
                    && let Some(sub) = self.sc.subnets.get_mut(sid.index())
                {
                    sub.private_endpoint_network_policies = value;
                }
            }
        }
    }

    /// The endpoint's subnet and static IP, with their rules; a static IP joins `held`.
    fn pe_place(
        &mut self,
        p: &RawPrivateEndpoint,
        path: &str,
        held: &mut HashSet<(VnetId, Ipv4Addr)>,
    ) -> Option<Placed> {
        let (vnet, subnet) = self.pe_subnet(&p.subnet, &format!("{path}.subnet"))?;
        if self.sc.vnets[vnet.index()].deployment == Deployment::Classic {
            let msg = format!(
                "private endpoint `{}` is in classic VNet `{}`; private endpoints are Resource \
                 Manager resources (Microsoft.Network/privateEndpoints) in Resource Manager VNets",
                p.name.value,
                self.sc.vnets[vnet.index()].name
            );
            self.err(
                loc(&p.subnet),
                format!("{path}.subnet"),
                Rule::PrivateEndpointSubnet,
                msg,
            );
            return None;
        }
        let sub = &self.sc.subnets[subnet.index()];
        if SPECIAL_SUBNETS.contains(&sub.name.as_str()) {
            let name = sub.name.clone();
            self.err_help(
                loc(&p.subnet),
                format!("{path}.subnet"),
                Rule::PrivateEndpointSubnet,
                format!(
                    "private endpoint `{}` is in {name}, which holds only its {}",
                    p.name.value,
                    if name == "GatewaySubnet" {
                        "virtual network gateway"
                    } else {
                        "Azure Firewall"
                    }
                ),
                "put the private endpoint in another subnet of the VNet",
            );
            return None;
        }
        let prefix = sub.prefix;
        let ip = match &p.ip {
            None => None,
            Some(text) => {
                let ipath = format!("{path}.ip");
                let ip = self.ip(text, &ipath)?;
                if !prefix.contains(&ip) {
                    let msg = format!(
                        "IP {ip} of private endpoint `{}` is not inside subnet `{}` ({prefix})",
                        p.name.value,
                        self.sc.subnet_path(subnet)
                    );
                    self.err(loc(text), ipath, Rule::NicIpOutsideSubnet, msg);
                    return None;
                }
                if reserved(prefix, ip) {
                    self.err_help(
                        loc(text),
                        ipath,
                        Rule::NicIpReserved,
                        format!("IP {ip} is reserved by Azure in subnet {prefix} (the network address, .1, .2, .3 and the broadcast address are reserved)"),
                        "leave `ip` out to take the subnet's next free address",
                    );
                    return None;
                }
                if !held.insert((vnet, ip)) {
                    let msg = format!(
                        "IP {ip} of private endpoint `{}` is already held by a NIC or another \
                         private endpoint in VNet `{}`",
                        p.name.value,
                        self.sc.vnets[vnet.index()].name
                    );
                    self.err(loc(text), ipath, Rule::DuplicateIp, msg);
                    return None;
                }
                Some(ip)
            }
        };
        Some(Placed { vnet, subnet, ip })
    }

    /// The subnet's next free address (from network + 4 up), as Azure allocates a dynamic IP.
    fn pe_allocate(
        &mut self,
        p: &RawPrivateEndpoint,
        pl: &Placed,
        path: &str,
        held: &mut HashSet<(VnetId, Ipv4Addr)>,
    ) -> Ipv4Addr {
        let prefix = self.sc.subnets[pl.subnet.index()].prefix;
        let first = u32::from(prefix.network()).saturating_add(4);
        let last = u32::from(prefix.broadcast()).saturating_sub(1);
        for a in first..=last {
            let ip = Ipv4Addr::from(a);
            if held.insert((pl.vnet, ip)) {
                return ip;
            }
        }
        self.err_help(
            loc(&p.subnet),
            format!("{path}.subnet"),
            Rule::PrivateEndpointSubnetFull,
            format!(
                "subnet `{}` ({prefix}) has no free address left for private endpoint `{}`",
                self.sc.subnet_path(pl.subnet),
                p.name.value
            ),
            "use a larger subnet, or give the endpoint a static `ip`",
        );
        Ipv4Addr::UNSPECIFIED
    }

    /// The service name: a DNS name, lower case.
    fn pe_service(&mut self, p: &RawPrivateEndpoint, path: &str) -> Arc<str> {
        let lower = p.service.value.trim().to_ascii_lowercase();
        if !dns_name(&lower) {
            self.err_help(
                loc(&p.service),
                format!("{path}.service"),
                Rule::PrivateEndpointService,
                format!(
                    "`{}` is not the DNS name of a private-link resource",
                    p.service.value
                ),
                "write the resource's name, e.g. `contoso-sql.database.windows.net`",
            );
        }
        lower.into()
    }

    /// A subnet written `vnet/subnet`, with its VNet.
    fn pe_subnet(&mut self, text: &Spanned<String>, path: &str) -> Option<(VnetId, SubnetId)> {
        if let Some(sid) = self.sc.subnet_by_path(&text.value) {
            return Some((self.sc.subnets[sid.index()].vnet, sid));
        }
        let all: Vec<String> = (0..self.sc.subnets.len())
            .map(|i| self.sc.subnet_path(SubnetId(i as u32)))
            .collect();
        let best = nearest(&text.value, all.iter().map(String::as_str));
        let msg = format!(
            "there is no subnet `{}` (write a private endpoint's subnet as `vnet/subnet`)",
            text.value
        );
        self.unknown(loc(text), path, Rule::UnknownSubnet, msg, best, None);
        None
    }

    /// A sender that is a private endpoint (by name or address): refused, as a private
    /// endpoint never initiates traffic [PEOV20].
    pub(super) fn private_endpoint_sender(
        &mut self,
        name: &Spanned<String>,
        ip: Ipv4Addr,
        path: crate::diag::FieldPath<'_>,
    ) -> bool {
        let Some(pe) = self.sc.private_endpoints.iter().find(|p| p.ip == ip) else {
            return false;
        };
        let msg = format!(
            "`{}` is private endpoint `{}`, which never initiates traffic: it only answers \
             connections made to it [PEOV20]",
            name.value, pe.name
        );
        self.err_help(
            loc(name),
            path,
            Rule::PrivateEndpointSender,
            msg,
            "make the private endpoint the destination (`to`) and a VM or host the sender",
        );
        true
    }
}

/// Whether `ip` is one of the five addresses Azure reserves in `prefix`.
fn reserved(prefix: ipnet::Ipv4Net, ip: Ipv4Addr) -> bool {
    let off = u32::from(ip) - u32::from(prefix.network());
    off <= 3 || ip == prefix.broadcast()
}

/// A DNS name: dot-separated labels of letters, digits, hyphens and underscores, at least two.
fn dns_name(s: &str) -> bool {
    s.len() <= 253
        && s.contains('.')
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pe20_reserved_addresses_are_the_five_of_azure() {
        let p: ipnet::Ipv4Net = "10.0.3.0/24".parse().unwrap();
        for a in [0u8, 1, 2, 3, 255] {
            assert!(reserved(p, Ipv4Addr::new(10, 0, 3, a)), "{a}");
        }
        assert!(!reserved(p, Ipv4Addr::new(10, 0, 3, 4)));
    }

    #[test]
    fn pe20_service_names_are_dns_names() {
        assert!(dns_name("contoso-sql.database.windows.net"));
        assert!(dns_name("mystorage.privatelink.blob.core.windows.net"));
        assert!(!dns_name("sql"));
        assert!(!dns_name("a..b"));
        assert!(!dns_name("has space.net"));
    }
}
