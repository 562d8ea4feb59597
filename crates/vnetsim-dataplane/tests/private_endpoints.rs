//! Private endpoints in the data plane, each test named after the page it follows: [PEOV20]
//! "What is Azure Private Endpoint?" (`pe20_`), [PENP23] "Manage network policies for private
//! endpoints" (`penp23_`), [PEFW25] "Azure Firewall scenarios to inspect traffic destined to a
//! private endpoint" (`pefw25_`).

mod common;

use common::{Net, row};
use vnetsim_dataplane::explain::explain;
use vnetsim_dataplane::probe::run_probe;
use vnetsim_dataplane::wire::{self, PacketSpec};
use vnetsim_dataplane::{Destination, DropCause, FlowTable, Ingress, Outcome, Step};
use vnetsim_scenario::{DropReason, PrivateEndpointId, Protocol};

/// A hub with Azure Firewall (10.0.1.4) and the private endpoint sql-pe (10.0.3.4) in hub/pe;
/// spoke1 (web, 10.1.1.4) peered with the hub, routes of `s1_routes` in its route table;
/// spoke2 (10.2.0.0/16, subnet pe2) peered with the hub only, holding the private endpoint
/// far-pe (10.2.3.4); spoke3 peered with spoke1 only. `pe_subnet` is the rest of hub/pe's
/// flow mapping (route table, NSG, policies); `policy` the firewall's rule collections.
fn net(pe_subnet: &str, s1_routes: &str, policy: &str, extra: &str) -> Net {
    Net::new(&format!(
        r#"
name: pe
azure: {{ era: current }}
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    subnets:
      - {{ name: AzureFirewallSubnet, prefix: 10.0.1.0/26 }}
      - {{ name: pe, prefix: 10.0.3.0/24{pe_subnet} }}
      - {{ name: ops, prefix: 10.0.4.0/24 }}
    firewall: {{ name: fw, policy: p, public_ips: [203.0.113.10] }}
  - name: spoke1
    address_space: [10.1.0.0/16]
    subnets: [ {{ name: app, prefix: 10.1.1.0/24, route_table: s1-rt }} ]
  - name: spoke2
    address_space: [10.2.0.0/16]
    subnets: [ {{ name: pe2, prefix: 10.2.3.0/24 }} ]
  - name: spoke3
    address_space: [10.3.0.0/16]
    subnets: [ {{ name: app, prefix: 10.3.1.0/24 }} ]
private_endpoints:
  - {{ name: sql-pe, subnet: hub/pe, service: contoso-sql.database.windows.net }}
  - {{ name: far-pe, subnet: spoke2/pe2, service: far.blob.core.windows.net }}
vms:
  - {{ name: web, size: Standard_D2s_v3, nics: [ {{ name: web-nic, subnet: spoke1/app, ip: 10.1.1.4 }} ] }}
  - {{ name: ops, size: Standard_D2s_v3, nics: [ {{ name: ops-nic, subnet: hub/ops, ip: 10.0.4.4 }} ] }}
  - {{ name: far, size: Standard_D2s_v3, nics: [ {{ name: far-nic, subnet: spoke3/app, ip: 10.3.1.4 }} ] }}
nsgs:
  - name: pe-nsg
    rules:
      - {{ name: no-sql, priority: 100, direction: inbound, access: deny, protocol: tcp, destination_ports: 1433 }}
route_tables:
  - name: s1-rt
    routes:
      - {{ name: default-via-fw, prefix: 0.0.0.0/0, next_hop: VirtualAppliance, next_hop_ip: 10.0.1.4 }}
{s1_routes}
  - name: pe-rt
    routes:
      - {{ name: spoke1-via-fw, prefix: 10.1.0.0/16, next_hop: VirtualAppliance, next_hop_ip: 10.0.1.4 }}
peerings:
  - {{ name: h1, from: hub, to: spoke1 }}
  - {{ name: s1h, from: spoke1, to: hub, allow_forwarded_traffic: true }}
  - {{ name: h2, from: hub, to: spoke2 }}
  - {{ name: s2h, from: spoke2, to: hub, allow_forwarded_traffic: true }}
  - {{ name: s1s3, from: spoke1, to: spoke3 }}
  - {{ name: s3s1, from: spoke3, to: spoke1 }}
firewall_policies:
  - name: p
    rule_collection_groups:
      - name: g
        priority: 100
        rule_collections:
{policy}
{extra}
"#
    ))
}

/// No rule collection: the firewall denies everything.
const NO_RULES: &str = "          []";

const NETWORK_RULE: &str = r#"          - name: net
            priority: 100
            kind: network
            action: allow
            rules:
              - { name: sql, protocols: [TCP], source_addresses: [10.1.0.0/16], destination_addresses: [10.0.3.4, 10.2.3.4], destination_ports: ["1433"] }
"#;

const APPLICATION_RULE: &str = r#"          - name: app
            priority: 200
            kind: application
            action: allow
            rules:
              - { name: sql, protocols: [Mssql], source_addresses: [10.1.0.0/16], target_fqdns: [contoso-sql.database.windows.net, far.blob.core.windows.net] }
"#;

/// A /32 user route for sql-pe to the firewall in spoke1.
const PE_HOST_ROUTE: &str = "      - { name: sql-pe-via-fw, prefix: 10.0.3.4/32, next_hop: VirtualAppliance, next_hop_ip: 10.0.1.4 }";

const SQL_PE: PrivateEndpointId = PrivateEndpointId(0);
const FAR_PE: PrivateEndpointId = PrivateEndpointId(1);

fn tcp(src: &str, dst: &str) -> PacketSpec {
    common::tcp_spec(src, dst, 49152, 1433)
}

/// Forwards `spec` from `ingress`; the outcome, steps and the packet as it ended.
fn send(
    n: &Net,
    ingress: Ingress,
    spec: &PacketSpec,
    flows: &mut FlowTable,
) -> (Outcome, Vec<Step>, wire::PacketMeta) {
    let mut buf = vec![0u8; 64];
    let len = wire::build_probe(&mut buf, spec).expect("builds");
    let mut steps = Vec::new();
    let o = n.dp.forward(&mut buf[..len], ingress, flows, 0, &mut steps);
    (o, steps, wire::parse(&buf[..len]).expect("parses"))
}

/// The answer the service behind `pe` sends to the request `meta` as delivered.
fn answer(
    n: &Net,
    pe: PrivateEndpointId,
    meta: &wire::PacketMeta,
    flows: &mut FlowTable,
) -> (Outcome, Vec<Step>) {
    let mut buf = vec![0u8; 64];
    let len = wire::build_reply(&mut buf, meta, 64).expect("builds");
    let mut steps = Vec::new();
    let o = n.dp.forward(
        &mut buf[..len],
        Ingress::PrivateEndpoint(pe),
        flows,
        0,
        &mut steps,
    );
    (o, steps)
}

fn through_firewall(steps: &[Step]) -> bool {
    steps.iter().any(|s| matches!(s, Step::Firewall { .. }))
}

fn web(n: &Net) -> Ingress {
    Ingress::Nic(n.vm_nic("web"))
}

fn endpoint_route_state(n: &Net, subnet: &str, ip: &str) -> Option<String> {
    n.dp.routes(n.subnet(subnet))
        .iter()
        .find(|r| r.next_hop.as_str() == "InterfaceEndpoint" && r.prefix.to_string() == ip)
        .map(|r| r.state.as_str().to_string())
}

#[test]
fn pe20_the_endpoint_adds_a_32_route_to_its_vnet_and_peered_vnets_only() {
    let n = net("", "", NETWORK_RULE, "");
    for subnet in ["hub/AzureFirewallSubnet", "hub/pe", "hub/ops", "spoke1/app"] {
        assert_eq!(
            endpoint_route_state(&n, subnet, "10.0.3.4/32").as_deref(),
            Some("Active"),
            "{subnet}"
        );
    }
    let rows = n.rows("hub/ops");
    assert!(rows.contains(&row(
        "Default",
        "Active",
        "10.0.3.4/32",
        "InterfaceEndpoint",
        ""
    )));
    assert!(rows.contains(&row(
        "Default",
        "Active",
        "10.2.3.4/32",
        "InterfaceEndpoint",
        ""
    )));
    // Peering is not transitive: spoke3 (peered with spoke1) gets no route for sql-pe, and
    // spoke1 none for far-pe (spoke2 peers with the hub only).
    assert_eq!(endpoint_route_state(&n, "spoke3/app", "10.0.3.4/32"), None);
    assert_eq!(endpoint_route_state(&n, "spoke1/app", "10.2.3.4/32"), None);
    assert_eq!(n.sc.private_endpoints[0].ip.to_string(), "10.0.3.4");
}

#[test]
fn pe20_the_endpoint_receives_from_its_vnet_and_peers_and_delivery_names_it() {
    let n = net("", "", NETWORK_RULE, "");
    let r = n.send("ops", "sql-pe", Protocol::Tcp, 1433);
    assert_eq!(
        r.outcome,
        Outcome::Delivered(Destination::PrivateEndpoint(SQL_PE))
    );
    assert!(r.steps.contains(&Step::PrivateEndpoint { pe: SQL_PE }));
    // From spoke3, not peered with the hub, nothing leads there.
    let r = n.send("far", "sql-pe", Protocol::Tcp, 1433);
    assert_eq!(r.outcome.drop_reason(), Some(DropReason::NoRoute));
    // An address of the subnet no endpoint or NIC holds is no destination.
    let (o, _, _) = send(
        &n,
        Ingress::Nic(n.vm_nic("ops")),
        &tcp("10.0.4.4", "10.0.3.9"),
        &mut FlowTable::new(),
    );
    assert_eq!(o.drop_reason(), Some(DropReason::NoDestination));
}

#[test]
fn penp23_the_32_route_beats_a_default_route_to_the_firewall() {
    let n = net("", "", NO_RULES, "");
    let r = n.send("web", "sql-pe", Protocol::Tcp, 1433);
    // The firewall's policy allows nothing, yet the packet is delivered: it never met it.
    assert_eq!(
        r.outcome,
        Outcome::Delivered(Destination::PrivateEndpoint(SQL_PE)),
        "{:#?}",
        r.steps
    );
    assert!(!through_firewall(&r.steps));
    let route = common::routes_taken(&r.steps)[0];
    let taken = &n.dp.routes(route.0)[route.1 as usize];
    assert_eq!(taken.next_hop.as_str(), "InterfaceEndpoint");
    assert_eq!(taken.prefix.to_string(), "10.0.3.4/32");
}

#[test]
fn penp23_a_32_user_route_sends_it_through_the_firewall_whatever_the_policies() {
    let n = net("", PE_HOST_ROUTE, NETWORK_RULE, "");
    assert_eq!(
        endpoint_route_state(&n, "spoke1/app", "10.0.3.4/32").as_deref(),
        Some("Invalid")
    );
    let r = n.send("web", "sql-pe", Protocol::Tcp, 1433);
    assert_eq!(
        r.outcome,
        Outcome::Delivered(Destination::PrivateEndpoint(SQL_PE))
    );
    assert!(through_firewall(&r.steps));
    let r = n.send("web", "sql-pe", Protocol::Tcp, 22);
    assert_eq!(r.outcome.drop_reason(), Some(DropReason::FirewallDenied));
}

#[test]
fn penp23_route_summarization_needs_route_table_policies_and_never_uses_0_0_0_0() {
    let summary = "      - { name: hub-via-fw, prefix: 10.0.0.0/16, next_hop: VirtualAppliance, next_hop_ip: 10.0.1.4 }";
    for (policies, invalid) in [
        ("disabled", false),
        ("network_security_group_enabled", false),
        ("route_table_enabled", true),
        ("enabled", true),
    ] {
        let pe = format!(", private_endpoint_network_policies: {policies}");
        let n = net(&pe, summary, NETWORK_RULE, "");
        let state = endpoint_route_state(&n, "spoke1/app", "10.0.3.4/32");
        assert_eq!(
            state.as_deref(),
            Some(if invalid { "Invalid" } else { "Active" }),
            "{policies}"
        );
        let r = n.send("web", "sql-pe", Protocol::Tcp, 1433);
        assert_eq!(through_firewall(&r.steps), invalid, "{policies}");
        assert_eq!(
            r.outcome,
            Outcome::Delivered(Destination::PrivateEndpoint(SQL_PE))
        );
        // 0.0.0.0/0 alone never invalidates the /32, whatever the policies.
        let n = net(&pe, "", NETWORK_RULE, "");
        assert_eq!(
            endpoint_route_state(&n, "spoke1/app", "10.0.3.4/32").as_deref(),
            Some("Active"),
            "{policies}"
        );
    }
    // The note names why.
    let n = net(
        ", private_endpoint_network_policies: route_table_enabled",
        summary,
        NETWORK_RULE,
        "",
    );
    let r =
        n.dp.routes(n.subnet("spoke1/app"))
            .iter()
            .find(|r| r.next_hop.as_str() == "InterfaceEndpoint")
            .unwrap();
    assert!(r.note.unwrap().contains("PENP23"), "{:?}", r.note);
}

#[test]
fn penp23_the_subnet_nsg_filters_traffic_to_the_endpoint_only_with_nsg_policies() {
    for (policies, denied) in [
        ("disabled", false),
        ("route_table_enabled", false),
        ("network_security_group_enabled", true),
        ("enabled", true),
    ] {
        let n = net(
            &format!(", nsg: pe-nsg, private_endpoint_network_policies: {policies}"),
            "",
            NETWORK_RULE,
            "",
        );
        let r = n.send("ops", "sql-pe", Protocol::Tcp, 1433);
        if denied {
            assert_eq!(
                r.outcome.drop_reason(),
                Some(DropReason::NsgDenied),
                "{policies}"
            );
            assert!(
                matches!(r.outcome, Outcome::Dropped(_, DropCause::Nsg { .. })),
                "{policies}"
            );
        } else {
            assert_eq!(
                r.outcome,
                Outcome::Delivered(Destination::PrivateEndpoint(SQL_PE)),
                "{policies}"
            );
        }
        // Another port passes the NSG's default rules (AllowVNetInBound) when it applies.
        let r = n.send("ops", "sql-pe", Protocol::Tcp, 443);
        assert_eq!(
            r.outcome,
            Outcome::Delivered(Destination::PrivateEndpoint(SQL_PE)),
            "{policies}"
        );
        assert_eq!(
            !common::nsg_passes(&r.steps).is_empty(),
            denied,
            "{policies}"
        );
    }
}

#[test]
fn penp23_the_subnet_nsg_at_the_endpoint_is_stateful() {
    let n = net(
        ", nsg: pe-nsg, private_endpoint_network_policies: enabled",
        "",
        NETWORK_RULE,
        "",
    );
    let ops = Ingress::Nic(n.vm_nic("ops"));
    let mut flows = FlowTable::new();
    let spec = common::tcp_spec("10.0.4.4", "10.0.3.4", 40000, 443);
    let (first, steps, _) = send(&n, ops, &spec, &mut flows);
    assert_eq!(
        first,
        Outcome::Delivered(Destination::PrivateEndpoint(SQL_PE))
    );
    assert!(matches!(
        common::nsg_passes(&steps)[0].2,
        vnetsim_dataplane::pipeline::NsgDecision::Rule(_)
    ));
    let (_, steps, _) = send(&n, ops, &spec, &mut flows);
    assert_eq!(
        common::nsg_passes(&steps)[0].2,
        vnetsim_dataplane::pipeline::NsgDecision::FlowRecord
    );
}

#[test]
fn penp23_answers_follow_the_subnet_route_table_only_with_route_table_policies() {
    // The request bypasses the firewall (the /32 beats 0.0.0.0/0); the answer follows pe-rt
    // into the firewall only when network policies include route tables.
    for (policies, uses_table) in [
        ("disabled", false),
        ("network_security_group_enabled", false),
        ("route_table_enabled", true),
        ("enabled", true),
    ] {
        let n = net(
            &format!(", route_table: pe-rt, private_endpoint_network_policies: {policies}"),
            "",
            NETWORK_RULE,
            "",
        );
        let mut flows = FlowTable::new();
        let (o, steps, meta) = send(&n, web(&n), &tcp("10.1.1.4", "10.0.3.4"), &mut flows);
        assert_eq!(o, Outcome::Delivered(Destination::PrivateEndpoint(SQL_PE)));
        assert!(!through_firewall(&steps));
        let (o, steps) = answer(&n, SQL_PE, &meta, &mut flows);
        assert_eq!(steps[0], Step::EndpointReply { pe: SQL_PE }, "{policies}");
        if uses_table {
            // The classic asymmetry: the firewall never saw the connection open.
            assert_eq!(
                o.drop_reason(),
                Some(DropReason::FirewallNoSession),
                "{policies}: {steps:#?}"
            );
            assert!(steps.iter().any(|s| matches!(s, Step::Route { .. })));
        } else {
            assert_eq!(
                o,
                Outcome::Delivered(Destination::Nic(n.vm_nic("web"))),
                "{policies}: {steps:#?}"
            );
            assert!(
                steps
                    .iter()
                    .any(|s| matches!(s, Step::EndpointRoute { pe, .. } if *pe == SQL_PE))
            );
        }
    }
}

#[test]
fn pefw25_a_32_user_route_and_route_table_policies_keep_network_rule_flows_symmetric() {
    for (policies, symmetric) in [("disabled", false), ("route_table_enabled", true)] {
        let n = net(
            &format!(", route_table: pe-rt, private_endpoint_network_policies: {policies}"),
            PE_HOST_ROUTE,
            NETWORK_RULE,
            "",
        );
        let mut flows = FlowTable::new();
        let (o, steps, meta) = send(&n, web(&n), &tcp("10.1.1.4", "10.0.3.4"), &mut flows);
        assert_eq!(o, Outcome::Delivered(Destination::PrivateEndpoint(SQL_PE)));
        assert!(through_firewall(&steps));
        // Network rules do not SNAT to private ranges: the endpoint sees the client.
        assert_eq!(
            meta.key.src,
            u32::from(std::net::Ipv4Addr::new(10, 1, 1, 4))
        );
        let (o, steps) = answer(&n, SQL_PE, &meta, &mut flows);
        assert_eq!(o, Outcome::Delivered(Destination::Nic(n.vm_nic("web"))));
        // Without route table policies the answer goes around the firewall.
        assert_eq!(
            through_firewall(&steps),
            symmetric,
            "{policies}: {steps:#?}"
        );
    }
}

#[test]
fn pefw25_application_rules_snat_so_answers_return_through_the_firewall() {
    // Network policies disabled: the endpoint's subnet routes cannot bring the answer back;
    // the application rule's SNAT to the firewall's private IP does.
    let n = net(", route_table: pe-rt", PE_HOST_ROUTE, APPLICATION_RULE, "");
    let mut flows = FlowTable::new();
    let (o, steps, meta) = send(&n, web(&n), &tcp("10.1.1.4", "10.0.3.4"), &mut flows);
    assert_eq!(o, Outcome::Delivered(Destination::PrivateEndpoint(SQL_PE)));
    assert!(through_firewall(&steps));
    assert_eq!(
        meta.key.src,
        u32::from(std::net::Ipv4Addr::new(10, 0, 1, 4))
    );
    let (o, steps) = answer(&n, SQL_PE, &meta, &mut flows);
    assert_eq!(o, Outcome::Delivered(Destination::Nic(n.vm_nic("web"))));
    assert!(through_firewall(&steps));
}

#[test]
fn pefw25_an_endpoint_in_another_spoke_answers_a_network_rule_flow_only_with_snat() {
    // web -> 0.0.0.0/0 -> firewall -> the hub's /32 for far-pe -> spoke2. far-pe's subnet has
    // no route to spoke1 (not peered): with a network rule (no SNAT) its answer meets the
    // reserved 10.0.0.0/8 None route; with an application rule (SNAT) it returns to the
    // firewall in the hub, which hands it to spoke1 with far-pe's address as its source:
    // forwarded traffic, which spoke1's link allows.
    let n = net("", "", NETWORK_RULE, "");
    let mut flows = FlowTable::new();
    let (o, steps, meta) = send(&n, web(&n), &tcp("10.1.1.4", "10.2.3.4"), &mut flows);
    assert_eq!(o, Outcome::Delivered(Destination::PrivateEndpoint(FAR_PE)));
    assert!(through_firewall(&steps));
    let (o, _) = answer(&n, FAR_PE, &meta, &mut flows);
    assert_eq!(o.drop_reason(), Some(DropReason::NoRoute));

    let n = net("", "", APPLICATION_RULE, "");
    let mut flows = FlowTable::new();
    let (o, _, meta) = send(&n, web(&n), &tcp("10.1.1.4", "10.2.3.4"), &mut flows);
    assert_eq!(o, Outcome::Delivered(Destination::PrivateEndpoint(FAR_PE)));
    let (o, steps) = answer(&n, FAR_PE, &meta, &mut flows);
    assert_eq!(
        o,
        Outcome::Delivered(Destination::Nic(n.vm_nic("web"))),
        "{steps:#?}"
    );
}

#[test]
fn penp23_an_answer_dropped_by_the_routes_without_the_table_names_that_route() {
    // far-pe's subnet gets a route table that its (disabled) policies keep from applying: the
    // answer is dropped by the reserved None route of the routes without the table.
    let n = Net::new(&net_yaml_with_far_table());
    let mut flows = FlowTable::new();
    let (o, _, meta) = send(&n, web(&n), &tcp("10.1.1.4", "10.2.3.4"), &mut flows);
    assert_eq!(o, Outcome::Delivered(Destination::PrivateEndpoint(FAR_PE)));
    let (o, steps) = answer(&n, FAR_PE, &meta, &mut flows);
    let Outcome::Dropped(DropReason::NoRoute, DropCause::EndpointRoute { pe, route }) = o else {
        panic!("{o:?} {steps:#?}");
    };
    assert_eq!(pe, FAR_PE);
    let r = &n.dp.private_endpoint_routes(FAR_PE)[route as usize];
    assert_eq!(r.prefix.to_string(), "10.0.0.0/8");
    assert_eq!(r.next_hop.as_str(), "None");
    let text = vnetsim_dataplane::explain::cause_text(
        &n.sc,
        &n.dp,
        &DropCause::EndpointRoute { pe, route },
    );
    assert!(text.contains("PEFW25"), "{text}");
}

/// The network of [`net`] with a route table on spoke2/pe2 sending spoke1 to the firewall
/// (policies disabled, so it does not apply to far-pe).
fn net_yaml_with_far_table() -> String {
    let base = format!(
        r#"
name: pe
azure: {{ era: current }}
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    subnets:
      - {{ name: AzureFirewallSubnet, prefix: 10.0.1.0/26 }}
    firewall: {{ name: fw, policy: p, public_ips: [203.0.113.10] }}
  - name: spoke1
    address_space: [10.1.0.0/16]
    subnets: [ {{ name: app, prefix: 10.1.1.0/24, route_table: s1-rt }} ]
  - name: spoke2
    address_space: [10.2.0.0/16]
    subnets: [ {{ name: pe2, prefix: 10.2.3.0/24, route_table: far-rt }} ]
private_endpoints:
  - {{ name: sql-pe, subnet: spoke2/pe2, ip: 10.2.3.10, service: contoso-sql.database.windows.net }}
  - {{ name: far-pe, subnet: spoke2/pe2, ip: 10.2.3.4, service: far.blob.core.windows.net }}
vms:
  - {{ name: web, size: Standard_D2s_v3, nics: [ {{ name: web-nic, subnet: spoke1/app, ip: 10.1.1.4 }} ] }}
route_tables:
  - name: s1-rt
    routes:
      - {{ name: default-via-fw, prefix: 0.0.0.0/0, next_hop: VirtualAppliance, next_hop_ip: 10.0.1.4 }}
  - name: far-rt
    routes:
      - {{ name: spoke1-via-fw, prefix: 10.1.0.0/16, next_hop: VirtualAppliance, next_hop_ip: 10.0.1.4 }}
peerings:
  - {{ name: h1, from: hub, to: spoke1 }}
  - {{ name: s1h, from: spoke1, to: hub }}
  - {{ name: h2, from: hub, to: spoke2 }}
  - {{ name: s2h, from: spoke2, to: hub, allow_forwarded_traffic: true }}
firewall_policies:
  - name: p
    rule_collection_groups:
      - name: g
        priority: 100
        rule_collections:
{NETWORK_RULE}
"#
    );
    base
}

#[test]
fn pe20_explain_shows_the_endpoint_route_and_the_endpoint_hop() {
    let n = net(
        ", nsg: pe-nsg, private_endpoint_network_policies: disabled",
        "",
        NO_RULES,
        "",
    );
    let probe = n.probe_of("web", "sql-pe", Protocol::Tcp, 1433);
    let result = run_probe(&n.sc, &n.dp, &probe, 1, &mut FlowTable::new());
    let e = explain(&n.sc, &n.dp, &probe, &result);
    assert_eq!(e.verdict, "delivered");
    assert_eq!(e.path, ["web", "sql-pe"]);
    assert_eq!(e.to, "sql-pe");
    let route = e
        .hops
        .iter()
        .find(|h| h.kind == "route")
        .and_then(|h| h.route.clone())
        .unwrap();
    assert_eq!(route.next_hop_type, "InterfaceEndpoint");
    assert_eq!(route.prefix, "10.0.3.4/32");
    assert_eq!(route.name.as_deref(), Some("sql-pe"));
    let hop = e.hops.iter().find(|h| h.kind == "endpoint").unwrap();
    assert!(
        hop.detail.contains("contoso-sql.database.windows.net"),
        "{}",
        hop.detail
    );
    assert!(
        hop.detail.contains("NSG pe-nsg does not apply"),
        "{}",
        hop.detail
    );
}

#[test]
fn pe20_on_premises_reaches_an_endpoint_in_a_spoke_through_the_hub_gateway_and_gets_answers() {
    // The GatewaySubnet of the hub holds the /32 of the spoke's endpoint (a peered VNet); the
    // gateway advertises the spoke's range to the site (no separate /32, derived), and the
    // endpoint's answers follow the spoke's gateway route back.
    let n = Net::new(
        r#"
name: pe-onprem
azure: { era: current }
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    subnets: [ { name: GatewaySubnet, prefix: 10.0.255.0/27 } ]
    gateway: { name: hub-gw, sku: VpnGw1 }
  - name: spoke
    address_space: [10.1.0.0/16]
    subnets: [ { name: pe, prefix: 10.1.3.0/24 } ]
private_endpoints:
  - { name: vault-pe, subnet: spoke/pe, service: contoso.vault.azure.net }
peerings:
  - { name: hub-to-spoke, from: hub, to: spoke, allow_gateway_transit: true }
  - { name: spoke-to-hub, from: spoke, to: hub, use_remote_gateways: true }
on_premises:
  - name: branch
    address_space: [192.168.10.0/24]
    connection: hub-gw
    hosts: [ { name: laptop, ip: 192.168.10.5 } ]
"#,
    );
    let gateway_routes = n.rows("hub/GatewaySubnet");
    assert!(gateway_routes.contains(&row(
        "Default",
        "Active",
        "10.1.3.4/32",
        "InterfaceEndpoint",
        ""
    )));
    let r = n.send("laptop", "vault-pe", Protocol::Tcp, 443);
    let vault = PrivateEndpointId(0);
    assert_eq!(
        r.outcome,
        Outcome::Delivered(Destination::PrivateEndpoint(vault)),
        "{:#?}",
        r.steps
    );
    let mut flows = FlowTable::new();
    let site = r.ingress;
    let spec = common::tcp_spec("192.168.10.5", "10.1.3.4", 50000, 443);
    let (o, _, meta) = send(&n, site, &spec, &mut flows);
    assert_eq!(o, Outcome::Delivered(Destination::PrivateEndpoint(vault)));
    let (o, steps) = answer(&n, vault, &meta, &mut flows);
    let host = n.sc.host_by_name("laptop").unwrap();
    assert_eq!(o, Outcome::Delivered(Destination::Host(host)), "{steps:#?}");
}
