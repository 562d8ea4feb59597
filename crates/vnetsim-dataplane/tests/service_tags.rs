//! The VirtualNetwork service tag as Azure defines it now ([service-tags] 2021+: also the host
//! virtual IP 168.63.129.16 and the prefixes of the subnet's user-defined routes), beside the
//! 2016-2018 definition ([nsg-overview]); and the platform addresses 168.63.129.16 and
//! 169.254.169.254, which NSGs and user-defined routes do not touch unless a rule names a
//! platform service tag ([nsg-overview] 03/2023, [ip-168] 03/2023, [service-tags] 01/2023).

mod common;

use common::{Net, dropped};
use vnetsim_dataplane::nsg::{DefaultRule, RuleRef};
use vnetsim_dataplane::pipeline::{DropCause, NsgPoint};
use vnetsim_dataplane::platform::PlatformEndpoint;
use vnetsim_dataplane::views::effective_rules_of_vm;
use vnetsim_dataplane::{Destination, Outcome, Step};
use vnetsim_scenario::{Direction, DropReason, Protocol, ServiceTag};

/// Hub and spoke, spoke NSGs with the default rules only, spoke route tables sending the other
/// spoke's prefix to the hub's NVA. `azure` is the scenario's `azure:` block.
fn hub_spoke(azure: &str) -> Net {
    Net::new(&format!(
        r#"
name: hub-spoke
azure: {azure}
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    subnets: [ {{ name: appliances, prefix: 10.0.1.0/24 }} ]
  - name: spoke1
    address_space: [10.1.0.0/16]
    subnets:
      - {{ name: app, prefix: 10.1.1.0/24, nsg: spoke-nsg, route_table: spoke1-rt }}
      - {{ name: other, prefix: 10.1.2.0/24, nsg: spoke-nsg }}
  - name: spoke2
    address_space: [10.2.0.0/16, 10.20.0.0/16]
    subnets: [ {{ name: app, prefix: 10.2.1.0/24, nsg: spoke-nsg, route_table: spoke2-rt }} ]
vms:
  - name: nva1
    size: Standard_D2s_v3
    forwarding: true
    nics: [ {{ name: nva1-nic, subnet: hub/appliances, ip: 10.0.1.4, ip_forwarding: true }} ]
  - {{ name: web1, size: Standard_D2s_v3, nics: [ {{ name: web1-nic, subnet: spoke1/app, ip: 10.1.1.4 }} ] }}
  - {{ name: web2, size: Standard_D2s_v3, nics: [ {{ name: web2-nic, subnet: spoke1/other, ip: 10.1.2.4, nsg: spoke-nsg }} ] }}
  - {{ name: db1, size: Standard_D2s_v3, nics: [ {{ name: db1-nic, subnet: spoke2/app, ip: 10.2.1.4 }} ] }}
nsgs:
  - name: spoke-nsg
route_tables:
  - name: spoke1-rt
    routes:
      - {{ name: to-spoke2, prefix: 10.2.0.0/16, next_hop: VirtualAppliance, next_hop_ip: 10.0.1.4 }}
  - name: spoke2-rt
    routes:
      - {{ name: to-spoke1, prefix: 10.1.0.0/16, next_hop: VirtualAppliance, next_hop_ip: 10.0.1.4 }}
      - {{ name: default, prefix: 0.0.0.0/0, next_hop: VirtualAppliance, next_hop_ip: 10.0.1.4 }}
peerings:
  - {{ name: hub-to-spoke1, from: hub, to: spoke1 }}
  - {{ name: spoke1-to-hub, from: spoke1, to: hub, allow_forwarded_traffic: true }}
  - {{ name: hub-to-spoke2, from: hub, to: spoke2 }}
  - {{ name: spoke2-to-hub, from: spoke2, to: hub, allow_forwarded_traffic: true }}
"#
    ))
}

fn tag_of(net: &Net, subnet: &str) -> Vec<String> {
    net.dp
        .virtual_network_tag(&net.sc, net.subnet(subnet))
        .iter()
        .map(|p| p.to_string())
        .collect()
}

/// [service-tags] 2021+: "the address prefixes used on user-defined routes" and the host's
/// virtual IP are in the tag, listed as written (not merged into wider prefixes), per subnet.
#[test]
fn service_tags_2021_virtual_network_tag_includes_udr_prefixes() {
    let net = hub_spoke("{ virtual_network_tag: current }");
    assert_eq!(
        tag_of(&net, "spoke1/app"),
        [
            "10.1.0.0/16",
            "10.0.0.0/16",
            "168.63.129.16/32",
            "10.2.0.0/16"
        ]
    );
    // A subnet without a route table: no user-route prefix, still the host's virtual IP.
    assert_eq!(
        tag_of(&net, "spoke1/other"),
        ["10.1.0.0/16", "10.0.0.0/16", "168.63.129.16/32"]
    );
    // `vnetsim rules --vm` lists the same expansion.
    let vm = net.sc.vm_by_name("web1").expect("web1");
    let rules = effective_rules_of_vm(&net.sc, &net.dp, vm);
    assert_eq!(
        rules[0].virtual_network_tag,
        [
            "10.1.0.0/16",
            "10.0.0.0/16",
            "168.63.129.16/32",
            "10.2.0.0/16"
        ]
    );
}

/// [service-tags] 2021+: "This tag might also contain default routes": a 0.0.0.0/0 user route
/// puts 0.0.0.0/0 into the tag (derived: vnetsim takes the route's prefix as written), so
/// AllowVnetOutBound then matches every destination.
#[test]
fn service_tags_2021_default_route_udr_puts_0_0_0_0_in_the_tag() {
    let net = hub_spoke("{ virtual_network_tag: current }");
    assert_eq!(
        tag_of(&net, "spoke2/app"),
        [
            "10.2.0.0/16",
            "10.20.0.0/16",
            "10.0.0.0/16",
            "168.63.129.16/32",
            "10.1.0.0/16",
            "0.0.0.0/0"
        ]
    );
    let (_, nsg) = net.dp.subnet_nsg(net.subnet("spoke2/app")).expect("nsg");
    let allow_vnet = nsg
        .rules(Direction::Outbound)
        .find(|r| r.rule == RuleRef::Default(DefaultRule::AllowVnetOutBound))
        .expect("default rule");
    assert!(allow_vnet.destination.is_all());
}

/// [nsg-overview] 2016-2018: the tag is the VNet, its peers and on-premises ranges, the same
/// for every subnet of the VNet, with no user-route prefix and no host address.
#[test]
fn nsg_overview_2016_virtual_network_tag_is_per_vnet() {
    let net = hub_spoke("{}");
    assert_eq!(tag_of(&net, "spoke1/app"), ["10.1.0.0/16", "10.0.0.0/16"]);
    assert_eq!(tag_of(&net, "spoke1/other"), ["10.1.0.0/16", "10.0.0.0/16"]);
}

/// The motivating case, 2016: spoke-to-spoke through the hub's NVA matches no allow rule of a
/// default-rules-only NSG; DenyAllOutBound of the sender's subnet NSG drops it [nsg-overview].
#[test]
fn nsg_overview_2016_spoke_to_spoke_is_denied_by_deny_all_outbound() {
    let net = hub_spoke("{}");
    let r = net.send("web1", "db1", Protocol::Tcp, 1433);
    let (reason, cause) = dropped(&r);
    assert_eq!(reason, DropReason::NsgDenied);
    assert_eq!(
        cause,
        DropCause::Nsg {
            point: NsgPoint::Subnet(net.subnet("spoke1/app")),
            nsg: net.nsg("spoke-nsg"),
            direction: Direction::Outbound,
            rule: RuleRef::Default(DefaultRule::DenyAllOutBound),
        }
    );
}

/// The motivating case, current: the user-route prefixes are in each spoke's tag, so
/// AllowVnetOutBound and AllowVNetInBound pass spoke-to-spoke traffic [service-tags] 2021+.
#[test]
fn service_tags_2021_spoke_to_spoke_is_allowed_by_the_default_vnet_rules() {
    let net = hub_spoke("{ era: current }");
    let r = net.send("web1", "db1", Protocol::Tcp, 1433);
    assert_eq!(
        r.outcome,
        Outcome::Delivered(Destination::Nic(net.vm_nic("db1"))),
        "{:#?}",
        r.steps
    );
    let rules: Vec<RuleRef> = r
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Nsg {
                decision: vnetsim_dataplane::pipeline::NsgDecision::Rule(rule),
                ..
            } => Some(*rule),
            _ => None,
        })
        .collect();
    assert_eq!(
        rules,
        [
            RuleRef::Default(DefaultRule::AllowVnetOutBound),
            RuleRef::Default(DefaultRule::AllowVNetInBound)
        ]
    );
}

/// Dedupe: with the 2016 tag an NSG compiles once per VNet, whatever the route tables of its
/// subnets; with the current tag once per (VNet, route table), since the tag then differs
/// [service-tags] 2021+.
#[test]
fn service_tags_2021_nsgs_compile_per_route_table_and_2016_per_vnet() {
    let same = |net: &Net, a: &str, b: &str| {
        let (_, x) = net.dp.subnet_nsg(net.subnet(a)).expect("nsg");
        let (_, y) = net.dp.subnet_nsg(net.subnet(b)).expect("nsg");
        std::ptr::eq(x, y)
    };
    let old = hub_spoke("{}");
    assert!(same(&old, "spoke1/app", "spoke1/other"));
    let (_, nic) = old.dp.nic_nsg(old.vm_nic("web2")).expect("nic nsg");
    let (_, sub) = old.dp.subnet_nsg(old.subnet("spoke1/other")).expect("nsg");
    assert!(std::ptr::eq(nic, sub));
    let new = hub_spoke("{ era: current }");
    assert!(!same(&new, "spoke1/app", "spoke1/other"));
    // A NIC NSG uses its NIC's subnet: web2's NIC NSG equals its subnet's.
    let (_, nic) = new.dp.nic_nsg(new.vm_nic("web2")).expect("nic nsg");
    let (_, sub) = new.dp.subnet_nsg(new.subnet("spoke1/other")).expect("nsg");
    assert!(std::ptr::eq(nic, sub));
}

/// A VNet with a deny-all outbound custom rule, a rule naming AzurePlatformDNS in another
/// subnet, and a 0.0.0.0/0 user route to an NVA in every app subnet.
fn platform_net(azure: &str) -> Net {
    Net::new(&format!(
        r#"
name: platform
azure: {azure}
vnets:
  - name: v
    address_space: [10.0.0.0/16]
    subnets:
      - {{ name: appliances, prefix: 10.0.1.0/24 }}
      - {{ name: app, prefix: 10.0.2.0/24, nsg: deny-all-out, route_table: via-nva }}
      - {{ name: locked, prefix: 10.0.4.0/24, route_table: via-nva }}
vms:
  - name: nva1
    size: Standard_D2s_v3
    forwarding: true
    nics: [ {{ name: nva1-nic, subnet: v/appliances, ip: 10.0.1.4, ip_forwarding: true }} ]
  - {{ name: web1, size: Standard_D2s_v3, nics: [ {{ name: web1-nic, subnet: v/app, ip: 10.0.2.4 }} ] }}
  - {{ name: locked1, size: Standard_D2s_v3, nics: [ {{ name: locked1-nic, subnet: v/locked, ip: 10.0.4.4, nsg: no-dns }} ] }}
nsgs:
  - name: deny-all-out
    rules:
      - {{ name: deny-all, priority: 4000, direction: outbound, access: deny, protocol: "*" }}
  - name: no-dns
    rules:
      - {{ name: deny-dns, priority: 100, direction: outbound, access: deny, protocol: "*", destination: AzurePlatformDNS }}
      - {{ name: allow-imds, priority: 200, direction: outbound, access: allow, protocol: tcp, destination: AzurePlatformIMDS, destination_ports: "80" }}
      - {{ name: deny-all, priority: 4000, direction: outbound, access: deny, protocol: "*" }}
route_tables:
  - name: via-nva
    routes:
      - {{ name: default, prefix: 0.0.0.0/0, next_hop: VirtualAppliance, next_hop_ip: 10.0.1.4 }}
"#
    ))
}

fn delivered_to_platform(
    net: &Net,
    from: &str,
    to: &str,
    protocol: Protocol,
    port: u16,
) -> Vec<Step> {
    let r = net.send(from, to, protocol, port);
    let endpoint = PlatformEndpoint::of(u32::from(to.parse::<std::net::Ipv4Addr>().expect("ip")))
        .expect("a platform address");
    assert_eq!(
        r.outcome,
        Outcome::Delivered(Destination::Platform(endpoint)),
        "{from} -> {to}: {:#?}",
        r.steps
    );
    r.steps
}

/// [nsg-overview] 03/2023: DNS, DHCP and IMDS are "not subject to the configured network
/// security groups": a deny-all custom rule does not block them, in both eras.
#[test]
fn nsg_overview_platform_traffic_is_not_subject_to_nsgs() {
    for azure in ["{}", "{ era: current }"] {
        let net = platform_net(azure);
        for (protocol, port) in [
            (Protocol::Udp, 53),
            (Protocol::Tcp, 53),
            (Protocol::Tcp, 80),
        ] {
            let steps = delivered_to_platform(&net, "web1", "168.63.129.16", protocol, port);
            assert!(!steps.iter().any(|s| matches!(s, Step::Nsg { .. })));
        }
        delivered_to_platform(&net, "web1", "169.254.169.254", Protocol::Tcp, 80);
        delivered_to_platform(&net, "web1", "169.254.169.254", Protocol::Icmp, 0);
        // Any other destination meets the custom rule.
        let (reason, _) = dropped(&net.send("web1", "203.0.113.9", Protocol::Udp, 53));
        assert_eq!(reason, DropReason::NsgDenied);
    }
}

/// [ip-168] 03/2023: 168.63.129.16 "isn't subject to user defined routes"; vnetsim treats
/// 169.254.169.254 the same (derived). The 0.0.0.0/0 route to the NVA does not capture them,
/// and no route step is taken.
#[test]
fn ip_168_platform_addresses_are_not_subject_to_user_defined_routes() {
    let net = platform_net("{}");
    for to in ["168.63.129.16", "169.254.169.254"] {
        let steps = delivered_to_platform(&net, "web1", to, Protocol::Udp, 53);
        assert!(!steps.iter().any(|s| matches!(
            s,
            Step::Route { .. } | Step::Arrive { .. } | Step::Forward { .. }
        )));
        assert!(steps.iter().any(|s| matches!(s, Step::Platform { .. })));
    }
}

/// [ip-168] 03/2023: DNS to 168.63.129.16 passes "unless an outbound Deny rule names
/// AzurePlatformDNS"; that rule blocks UDP and TCP 53 only, not the VM agent or IMDS. A rule
/// naming AzurePlatformIMDS decides IMDS traffic [service-tags] 01/2023.
#[test]
fn ip_168_a_deny_rule_naming_azure_platform_dns_blocks_platform_dns() {
    let net = platform_net("{}");
    for protocol in [Protocol::Udp, Protocol::Tcp] {
        let (reason, cause) = dropped(&net.send("locked1", "168.63.129.16", protocol, 53));
        assert_eq!(reason, DropReason::NsgDenied);
        assert_eq!(
            cause,
            DropCause::Nsg {
                point: NsgPoint::Nic(net.vm_nic("locked1")),
                nsg: net.nsg("no-dns"),
                direction: Direction::Outbound,
                rule: RuleRef::User(0),
            }
        );
    }
    // The VM agent (TCP 80): no platform tag covers it, no rule applies.
    delivered_to_platform(&net, "locked1", "168.63.129.16", Protocol::Tcp, 80);
    // IMDS on TCP 80: allowed by allow-imds (recorded as an NSG step).
    let steps = delivered_to_platform(&net, "locked1", "169.254.169.254", Protocol::Tcp, 80);
    assert!(steps.iter().any(|s| matches!(
        s,
        Step::Nsg {
            decision: vnetsim_dataplane::pipeline::NsgDecision::Rule(RuleRef::User(1)),
            ..
        }
    )));
    // IMDS on another port: allow-imds does not match, deny-all does not name the tag.
    delivered_to_platform(&net, "locked1", "169.254.169.254", Protocol::Tcp, 443);
}

/// The platform tags resolve to their addresses when rules are listed and compiled
/// [service-tags] 01/2023; AzurePlatformLKM names no address of a simulation (no KMS host).
#[test]
fn service_tags_platform_tags_resolve_to_the_platform_addresses() {
    let net = platform_net("{}");
    let tags = net.dp.tags(net.vnet("v"));
    assert!(
        tags.get(ServiceTag::AzurePlatformDns)
            .contains_ip("168.63.129.16".parse().unwrap())
    );
    assert!(
        tags.get(ServiceTag::AzurePlatformImds)
            .contains_ip("169.254.169.254".parse().unwrap())
    );
    assert!(tags.get(ServiceTag::AzurePlatformLkm).is_empty());
}
