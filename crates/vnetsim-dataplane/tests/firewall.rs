//! Azure Firewall and public IPs in the data plane, each test named after the page it follows:
//! [FWRULE23] rule processing logic, [FWLB20] asymmetric routing, [FWSNAT23] SNAT private
//! ranges, [FWKI23] known issues (inbound DNAT is SNATed), [FWIPG20] IP groups,
//! [public-ip-sku] public IP SKUs, [DOA] default outbound access.

mod common;

use common::{Net, spec};
use vnetsim_dataplane::firewall::FirewallDecision;
use vnetsim_dataplane::wire::{self, PacketSpec};
use vnetsim_dataplane::{Destination, DropCause, FlowTable, Ingress, Outcome, Step};
use vnetsim_scenario::{DropReason, Protocol, RuleKind};

/// A hub with a firewall, two spokes routed through it, Internet hosts and names; `policy` is
/// the YAML of `firewall_policies`, `extra` more top-level YAML.
fn net(policy: &str, extra: &str) -> Net {
    Net::new(&format!(
        r#"
name: fw
azure: {{ era: current }}
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    subnets: [ {{ name: AzureFirewallSubnet, prefix: 10.0.1.0/26 }} ]
    firewall: {{ name: fw, policy: p, public_ips: [203.0.113.10] }}
  - name: s1
    address_space: [10.1.0.0/16]
    subnets: [ {{ name: a, prefix: 10.1.1.0/24, route_table: rt }} ]
  - name: s2
    address_space: [10.2.0.0/16]
    subnets: [ {{ name: a, prefix: 10.2.1.0/24, route_table: rt }} ]
vms:
  - {{ name: web, size: Standard_D2s_v3, nics: [ {{ name: web-nic, vnet: s1, subnet: a, ip: 10.1.1.4 }} ] }}
  - {{ name: db, size: Standard_D2s_v3, nics: [ {{ name: db-nic, vnet: s2, subnet: a, ip: 10.2.1.4 }} ] }}
route_tables:
  - name: rt
    routes: [ {{ name: all, prefix: 0.0.0.0/0, next_hop: VirtualAppliance, next_hop_ip: 10.0.1.4 }} ]
peerings:
  - {{ name: h1, from: hub, to: s1 }}
  - {{ name: s1h, from: s1, to: hub, allow_forwarded_traffic: true }}
  - {{ name: h2, from: hub, to: s2 }}
  - {{ name: s2h, from: s2, to: hub, allow_forwarded_traffic: true }}
internet:
  - {{ name: site, ip: 198.51.100.20 }}
  - {{ name: other, ip: 198.51.100.30 }}
  - {{ name: cgnat, ip: 192.0.2.9 }}
names:
  www.contoso.com: 198.51.100.20
  db.internal: 10.2.1.4
firewall_policies:
{policy}
{extra}
"#
    ))
}

/// One group `g` (priority 100) holding the collections written in `collections`.
fn policy(collections: &str) -> String {
    format!(
        r#"  - name: p
    rule_collection_groups:
      - name: g
        priority: 100
        rule_collections:
{collections}"#
    )
}

/// Forwards a built packet through `flows`; returns the outcome, the steps and the bytes as
/// they arrived.
fn pass(
    n: &Net,
    ingress: Ingress,
    buf: &mut [u8],
    flows: &mut FlowTable,
) -> (Outcome, Vec<Step>, wire::PacketMeta) {
    let mut steps = Vec::new();
    let outcome = n.dp.forward(buf, ingress, flows, 0, &mut steps);
    let meta = wire::parse(buf).expect("parses");
    (outcome, steps, meta)
}

fn send(
    n: &Net,
    ingress: Ingress,
    s: &PacketSpec,
    flows: &mut FlowTable,
) -> (Outcome, Vec<Step>, wire::PacketMeta) {
    let mut buf = vec![0u8; 64];
    wire::build_probe(&mut buf, s).expect("builds");
    pass(n, ingress, &mut buf, flows)
}

/// The reply the destination of `request` (as delivered) sends back.
fn reply(
    n: &Net,
    ingress: Ingress,
    request: &wire::PacketMeta,
    flows: &mut FlowTable,
) -> (Outcome, Vec<Step>, wire::PacketMeta) {
    let mut buf = vec![0u8; 64];
    let len = wire::build_reply(&mut buf, request, 64).expect("builds");
    pass(n, ingress, &mut buf[..len], flows)
}

fn firewall_rule(steps: &[Step]) -> Option<FirewallDecision> {
    steps.iter().find_map(|s| match s {
        Step::Firewall { decision, .. } => Some(*decision),
        _ => None,
    })
}

const ALLOW_WEB_TO_DB: &str = r#"          - name: east-west
            priority: 200
            kind: network
            action: allow
            rules:
              - { name: sql, protocols: [TCP], source_addresses: [10.1.0.0/16], destination_addresses: [10.2.0.0/16], destination_ports: ["1433"] }
"#;

#[test]
fn fwrule23_network_rule_allows_and_everything_else_is_denied_by_default() {
    let n = net(&policy(ALLOW_WEB_TO_DB), "");
    let web = Ingress::Nic(n.vm_nic("web"));
    let mut flows = FlowTable::new();
    let (o, steps, _) = send(
        &n,
        web,
        &spec("10.1.1.4", "10.2.1.4", Protocol::Tcp, 50000, 1433),
        &mut flows,
    );
    assert_eq!(o, Outcome::Delivered(Destination::Nic(n.vm_nic("db"))));
    assert!(
        matches!(firewall_rule(&steps), Some(FirewallDecision::Rule(r)) if r.kind == RuleKind::Network)
    );
    let (o, _, _) = send(
        &n,
        web,
        &spec("10.1.1.4", "10.2.1.4", Protocol::Tcp, 50000, 3389),
        &mut flows,
    );
    assert!(matches!(
        o,
        Outcome::Dropped(
            DropReason::FirewallDenied,
            DropCause::Firewall { rule: None, .. }
        )
    ));
}

#[test]
fn fwrule23_rule_kinds_go_dnat_network_application_regardless_of_priority() {
    // The application rule sits in a collection of priority 100 and allows the name; the
    // network deny sits at priority 300. Network rules still come first: denied.
    let n = net(
        &policy(
            r#"          - name: apps
            priority: 100
            kind: application
            action: allow
            rules:
              - { name: contoso, protocols: [Https], source_addresses: ["*"], target_fqdns: [www.contoso.com] }
          - name: block
            priority: 300
            kind: network
            action: deny
            rules:
              - { name: no-site, protocols: [TCP], source_addresses: ["*"], destination_addresses: [198.51.100.20], destination_ports: ["443"] }
"#,
        ),
        "",
    );
    let r = n.send("web", "site", Protocol::Tcp, 443);
    match r.outcome {
        Outcome::Dropped(
            DropReason::FirewallDenied,
            DropCause::Firewall {
                rule: Some(rule), ..
            },
        ) => {
            assert_eq!(rule.kind, RuleKind::Network)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn fwrule23_collection_priority_orders_rules_of_one_kind() {
    // A deny collection at 100 beats an allow collection at 200, whatever their file order.
    let n = net(
        &policy(&format!(
            "{ALLOW_WEB_TO_DB}{}",
            r#"          - name: deny-sql
            priority: 100
            kind: network
            action: deny
            rules:
              - { name: no-sql, protocols: [TCP], source_addresses: ["*"], destination_addresses: ["*"], destination_ports: ["1433"] }
"#
        )),
        "",
    );
    let r = n.send("web", "db", Protocol::Tcp, 1433);
    assert_eq!(r.outcome.drop_reason(), Some(DropReason::FirewallDenied));
}

#[test]
fn fwrule23_application_rules_match_declared_names_over_their_ports() {
    let n = net(
        &policy(
            r#"          - name: apps
            priority: 100
            kind: application
            action: allow
            rules:
              - { name: contoso, protocols: [Https], source_addresses: ["*"], target_fqdns: ["*.contoso.com"] }
"#,
        ),
        "",
    );
    assert!(matches!(
        n.send("web", "site", Protocol::Tcp, 443).outcome,
        Outcome::Delivered(Destination::Internet)
    ));
    // Port 80 is not Https; another address has no matching name; UDP is no application rule.
    for (to, proto, port) in [
        ("site", Protocol::Tcp, 80),
        ("other", Protocol::Tcp, 443),
        ("site", Protocol::Udp, 443),
    ] {
        assert_eq!(
            n.send("web", to, proto, port).outcome.drop_reason(),
            Some(DropReason::FirewallDenied),
            "{to} {port}"
        );
    }
}

#[test]
fn fwrule23_stateful_replies_pass_on_the_session() {
    let n = net(&policy(ALLOW_WEB_TO_DB), "");
    let (web, db) = (Ingress::Nic(n.vm_nic("web")), Ingress::Nic(n.vm_nic("db")));
    let mut flows = FlowTable::new();
    let (o, _, delivered) = send(
        &n,
        web,
        &spec("10.1.1.4", "10.2.1.4", Protocol::Tcp, 50000, 1433),
        &mut flows,
    );
    assert!(matches!(o, Outcome::Delivered(_)));
    // No rule allows db -> web, yet the SYN-ACK passes on the session.
    let (o, steps, _) = reply(&n, db, &delivered, &mut flows);
    assert_eq!(o, Outcome::Delivered(Destination::Nic(n.vm_nic("web"))));
    assert_eq!(firewall_rule(&steps), Some(FirewallDecision::Session));
    // A new connection from db is evaluated by the rules: denied.
    let (o, _, _) = send(
        &n,
        db,
        &spec("10.2.1.4", "10.1.1.4", Protocol::Tcp, 50001, 1433),
        &mut flows,
    );
    assert_eq!(o.drop_reason(), Some(DropReason::FirewallDenied));
}

#[test]
fn fwlb20_a_tcp_reply_the_firewall_never_saw_open_is_dropped() {
    let n = net(&policy(ALLOW_WEB_TO_DB), "");
    let db = Ingress::Nic(n.vm_nic("db"));
    let mut flows = FlowTable::new();
    // A SYN-ACK from db for a connection that did not pass the firewall.
    let request = wire::PacketMeta {
        key: wire::FlowKey {
            src: 0x0a01_0104,
            dst: 0x0a02_0104,
            protocol: 6,
            src_port: 50000,
            dst_port: 1433,
        },
        ttl: 64,
        total_len: 40,
        header_len: 20,
        icmp_type: None,
        seq: 7,
        tcp_flags: wire::TCP_SYN,
    };
    let (o, _, _) = reply(&n, db, &request, &mut flows);
    assert!(matches!(
        o,
        Outcome::Dropped(
            DropReason::FirewallNoSession,
            DropCause::FirewallNoSession { .. }
        )
    ));
}

#[test]
fn fwsnat23_network_rules_snat_only_outside_the_private_ranges() {
    let allow_all = r#"          - name: all
            priority: 100
            kind: network
            action: allow
            rules:
              - { name: any, protocols: [Any], source_addresses: ["*"], destination_addresses: ["*"], destination_ports: ["*"] }
"#;
    let n = net(&policy(allow_all), "");
    let web = Ingress::Nic(n.vm_nic("web"));
    let src_at_delivery = |to: &str| {
        let (o, _, meta) = send(
            &n,
            web,
            &spec("10.1.1.4", to, Protocol::Udp, 40000, 53),
            &mut FlowTable::new(),
        );
        assert!(matches!(o, Outcome::Delivered(_)), "{o:?}");
        std::net::Ipv4Addr::from(meta.key.src).to_string()
    };
    // RFC 1918: no SNAT; the Internet: the firewall's public IP.
    assert_eq!(src_at_delivery("10.2.1.4"), "10.1.1.4");
    assert_eq!(src_at_delivery("198.51.100.20"), "203.0.113.10");
    // A custom list: IANA ranges plus 198.51.100.0/24, which now keeps its source too.
    let custom = policy(allow_all).replace(
        "    rule_collection_groups:",
        "    private_ranges: [IANAPrivateRanges, 198.51.100.0/24]\n    rule_collection_groups:",
    );
    let n = net(&custom, "");
    let (_, _, meta) = send(
        &n,
        web,
        &spec("10.1.1.4", "198.51.100.20", Protocol::Udp, 40000, 53),
        &mut FlowTable::new(),
    );
    assert_eq!(
        std::net::Ipv4Addr::from(meta.key.src).to_string(),
        "10.1.1.4"
    );
}

#[test]
fn fwsnat23_application_rules_always_snat() {
    let n = net(
        &policy(
            r#"          - name: apps
            priority: 100
            kind: application
            action: allow
            rules:
              - { name: sql, protocols: ["Mssql"], source_addresses: ["*"], target_fqdns: [db.internal] }
"#,
        ),
        "",
    );
    let (o, _, meta) = send(
        &n,
        Ingress::Nic(n.vm_nic("web")),
        &spec("10.1.1.4", "10.2.1.4", Protocol::Tcp, 50000, 1433),
        &mut FlowTable::new(),
    );
    assert!(matches!(o, Outcome::Delivered(_)), "{o:?}");
    // To a private destination: the firewall's private IP (a transparent proxy).
    assert_eq!(
        std::net::Ipv4Addr::from(meta.key.src).to_string(),
        "10.0.1.4"
    );
}

#[test]
fn fwki23_dnat_translates_destination_and_source_and_back() {
    let dnat = r#"          - name: publish
            priority: 100
            kind: dnat
            rules:
              - { name: web, protocols: [TCP], source_addresses: ["*"], destination_addresses: [203.0.113.10], destination_ports: ["443"], translated_address: 10.1.1.4, translated_port: 8443 }
"#;
    let n = net(&policy(dnat), "");
    let mut flows = FlowTable::new();
    let (o, steps, at_web) = send(
        &n,
        Ingress::Internet,
        &spec("198.51.100.20", "203.0.113.10", Protocol::Tcp, 40000, 443),
        &mut flows,
    );
    assert_eq!(o, Outcome::Delivered(Destination::Nic(n.vm_nic("web"))));
    assert!(
        matches!(firewall_rule(&steps), Some(FirewallDecision::Rule(r)) if r.kind == RuleKind::Dnat)
    );
    // Destination to the rule's address and port, source to the firewall's private IP.
    assert_eq!(at_web.key.dst, 0x0a01_0104);
    assert_eq!(at_web.key.dst_port, 8443);
    assert_eq!(at_web.key.src, 0x0a00_0104);
    // web answers the firewall; the client gets it from the public IP and port it used.
    let (o, _, at_client) = reply(&n, Ingress::Nic(n.vm_nic("web")), &at_web, &mut flows);
    assert_eq!(o, Outcome::Delivered(Destination::Internet));
    assert_eq!(
        at_client.key.src,
        u32::from(std::net::Ipv4Addr::new(203, 0, 113, 10))
    );
    assert_eq!(at_client.key.src_port, 443);
    assert_eq!(
        at_client.key.dst,
        u32::from(std::net::Ipv4Addr::new(198, 51, 100, 20))
    );
    // No DNAT rule for port 80: denied.
    let (o, _, _) = send(
        &n,
        Ingress::Internet,
        &spec("198.51.100.20", "203.0.113.10", Protocol::Tcp, 40000, 80),
        &mut flows,
    );
    assert_eq!(o.drop_reason(), Some(DropReason::FirewallDenied));
}

#[test]
fn fwipg20_a_rule_naming_only_an_empty_ip_group_never_matches() {
    let rules = r#"          - name: groups
            priority: 100
            kind: network
            action: allow
            rules:
              - { name: from-group, protocols: [TCP], source_ip_groups: [nobody], destination_addresses: ["*"], destination_ports: ["1433"] }
"#;
    let n = net(
        &policy(rules),
        "ip_groups:\n  - { name: nobody, addresses: [] }\n",
    );
    assert_eq!(
        n.send("web", "db", Protocol::Tcp, 1433)
            .outcome
            .drop_reason(),
        Some(DropReason::FirewallDenied)
    );
    let n = net(
        &policy(rules),
        "ip_groups:\n  - { name: nobody, addresses: [10.1.1.0-10.1.1.10] }\n",
    );
    assert!(matches!(
        n.send("web", "db", Protocol::Tcp, 1433).outcome,
        Outcome::Delivered(_)
    ));
}

/// A VNet with a VM holding a public IP (`sku`), an NSG on it or not, in a subnet with or
/// without default outbound access, under `era`.
fn edge(era: &str, sku: &str, nsg: bool, outbound: &str) -> Net {
    let nsg_line = if nsg { ", nsg: open-ssh" } else { "" };
    Net::new(&format!(
        r#"
name: edge
azure: {{ era: {era} }}
vnets:
  - name: v
    address_space: [10.5.0.0/16]
    subnets:
      - {{ name: pub, prefix: 10.5.1.0/24 }}
      - {{ name: priv, prefix: 10.5.2.0/24{outbound} }}
vms:
  - {{ name: bastion, size: Standard_D2s_v3, nics: [ {{ name: b-nic, vnet: v, subnet: pub, ip: 10.5.1.4, public_ip: 198.51.100.7, public_ip_sku: {sku}{nsg_line} }} ] }}
  - {{ name: worker, size: Standard_D2s_v3, nics: [ {{ name: w-nic, vnet: v, subnet: priv, ip: 10.5.2.4 }} ] }}
nsgs:
  - name: open-ssh
    rules:
      - {{ name: ssh, priority: 100, direction: inbound, access: allow, protocol: tcp, source: Internet, destination: "*", destination_ports: "22" }}
internet:
  - {{ name: admin, ip: 192.0.2.50 }}
"#
    ))
}

#[test]
fn public_ip_sku_standard_is_closed_inbound_unless_an_nsg_allows() {
    let closed = edge("current", "Standard", false, "");
    let r = closed.send("admin", "198.51.100.7", Protocol::Tcp, 22);
    assert!(matches!(
        r.outcome,
        Outcome::Dropped(DropReason::PublicIpClosed, DropCause::PublicIpClosed { .. })
    ));
    let open = edge("current", "Standard", true, "");
    let r = open.send("admin", "198.51.100.7", Protocol::Tcp, 22);
    assert_eq!(
        r.outcome,
        Outcome::Delivered(Destination::Nic(open.vm_nic("bastion")))
    );
    // The NSG sees the private destination (NSGs run after inbound translation [NSG23]).
    assert_eq!(
        open.send("admin", "198.51.100.7", Protocol::Tcp, 23)
            .outcome
            .drop_reason(),
        Some(DropReason::NsgDenied)
    );
    let basic = edge("current", "Basic", false, "");
    assert!(matches!(
        basic
            .send("admin", "198.51.100.7", Protocol::Tcp, 22)
            .outcome,
        Outcome::Delivered(_)
    ));
}

#[test]
fn public_ip_sku_outbound_leaves_from_the_public_ip_and_the_reply_comes_back() {
    let n = edge("current", "Standard", false, "");
    let mut flows = FlowTable::new();
    let b = Ingress::Nic(n.vm_nic("bastion"));
    let (o, steps, out) = send(
        &n,
        b,
        &spec("10.5.1.4", "192.0.2.50", Protocol::Tcp, 50000, 443),
        &mut flows,
    );
    assert_eq!(o, Outcome::Delivered(Destination::Internet));
    assert_eq!(
        std::net::Ipv4Addr::from(out.key.src).to_string(),
        "198.51.100.7"
    );
    assert!(steps.iter().any(|s| matches!(s, Step::Translate { .. })));
    // The answer to the public IP is translated back and admitted, no NSG needed.
    let (o, _, back) = reply(&n, Ingress::Internet, &out, &mut flows);
    assert_eq!(o, Outcome::Delivered(Destination::Nic(n.vm_nic("bastion"))));
    assert_eq!(
        std::net::Ipv4Addr::from(back.key.dst).to_string(),
        "10.5.1.4"
    );
}

#[test]
fn doa_default_outbound_access_follows_the_era_and_the_subnet() {
    // 2016: implicit outbound; current: private subnets by default [TCPRIV26].
    assert!(matches!(
        edge("2016", "Standard", false, "")
            .send("worker", "admin", Protocol::Tcp, 443)
            .outcome,
        Outcome::Delivered(Destination::Internet)
    ));
    let r = edge("current", "Standard", false, "").send("worker", "admin", Protocol::Tcp, 443);
    assert!(matches!(
        r.outcome,
        Outcome::Dropped(
            DropReason::NoOutboundAccess,
            DropCause::NoOutboundAccess { .. }
        )
    ));
    // The subnet may say otherwise either way.
    let r = edge(
        "current",
        "Standard",
        false,
        ", default_outbound_access: true",
    )
    .send("worker", "admin", Protocol::Tcp, 443);
    assert!(matches!(
        r.outcome,
        Outcome::Delivered(Destination::Internet)
    ));
    let r = edge(
        "2016",
        "Standard",
        false,
        ", default_outbound_access: false",
    )
    .send("worker", "admin", Protocol::Tcp, 443);
    assert_eq!(r.outcome.drop_reason(), Some(DropReason::NoOutboundAccess));
}
