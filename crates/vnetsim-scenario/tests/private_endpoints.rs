//! Private endpoints in the loader: placement, address allocation, the service name, subnet
//! network policies, and the rules a private endpoint obeys. Tests are named after the page
//! behind them: `pe20_` [PEOV20] "What is Azure Private Endpoint?", `penp23_` [PENP23] "Manage
//! network policies for private endpoints".

use std::net::Ipv4Addr;

use vnetsim_scenario::{Endpoint, PrivateEndpointNetworkPolicies, load_str};

const BASE: &str = r#"
name: pe
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    subnets:
      - { name: app, prefix: 10.0.1.0/24 }
      - { name: pe, prefix: 10.0.3.0/24, private_endpoint_network_policies: route_table_enabled }
      - { name: pe2, prefix: 10.0.4.0/24, private_endpoint_network_policies: NetworkSecurityGroupEnabled }
vms:
  - { name: vm1, size: Standard_D2s_v3, nics: [ { name: vm1-nic, subnet: hub/app, ip: 10.0.1.4 } ] }
  - { name: vm2, size: Standard_D2s_v3, nics: [ { name: vm2-nic, subnet: hub/pe, ip: 10.0.3.4 } ] }
"#;

fn load(extra: &str) -> Result<vnetsim_scenario::Scenario, Vec<(String, u32, String)>> {
    load_str(&format!("{BASE}{extra}"), "pe.yaml").map_err(|e| {
        e.diagnostics
            .iter()
            .map(|d| (d.rule.to_string(), d.line, d.path.clone()))
            .collect()
    })
}

#[test]
fn pe20_an_endpoint_without_ip_takes_the_subnets_next_free_address() {
    // vm2 holds .4, the static endpoint .6: the dynamic ones take .5 then .7, in file order.
    let sc = load(
        r#"
private_endpoints:
  - { name: a, subnet: hub/pe, service: a.blob.core.windows.net }
  - { name: fixed, subnet: hub/pe, ip: 10.0.3.6, service: fixed.blob.core.windows.net }
  - { name: b, subnet: hub/pe, service: b.blob.core.windows.net }
"#,
    )
    .unwrap();
    let ips: Vec<Ipv4Addr> = sc.private_endpoints.iter().map(|p| p.ip).collect();
    assert_eq!(
        ips,
        [
            Ipv4Addr::new(10, 0, 3, 5),
            Ipv4Addr::new(10, 0, 3, 6),
            Ipv4Addr::new(10, 0, 3, 7)
        ]
    );
    let pe = &sc.private_endpoints[0];
    assert_eq!(sc.subnet_path(pe.subnet), "hub/pe");
    assert_eq!(sc.vnets[pe.vnet.index()].name, "hub");
}

#[test]
fn pe20_the_service_name_resolves_to_the_endpoint_and_the_name_is_an_endpoint() {
    let sc = load(
        r#"
private_endpoints:
  - { name: sql-pe, subnet: hub/pe, service: Contoso-SQL.database.windows.net }
"#,
    )
    .unwrap();
    let pe = &sc.private_endpoints[0];
    assert_eq!(&*pe.service, "contoso-sql.database.windows.net");
    assert!(
        sc.names
            .iter()
            .any(|n| &*n.name == "contoso-sql.database.windows.net" && n.ip == pe.ip)
    );
    assert_eq!(sc.endpoint_by_name("sql-pe"), Some(Endpoint::Ip(pe.ip)));
    assert_eq!(&*sc.endpoint_name(Endpoint::Ip(pe.ip)), "sql-pe");
}

#[test]
fn pe20_flows_and_probes_name_the_endpoint_as_their_destination() {
    let sc = load(
        r#"
private_endpoints:
  - { name: sql-pe, subnet: hub/pe, service: contoso-sql.database.windows.net }
traffic:
  - { name: to-pe, from: vm1, to: sql-pe, protocol: tcp, dst_port: 1433, rate: 10pps, packet_size: 100 }
expect:
  - probe: { from: vm1, to: sql-pe, protocol: tcp, dst_port: 1433 }
"#,
    )
    .unwrap();
    assert_eq!(sc.traffic[0].to, Endpoint::Ip(sc.private_endpoints[0].ip));
}

#[test]
fn pe20_a_private_endpoint_never_sends_by_name_or_address() {
    for from in ["sql-pe", "10.0.3.5"] {
        let err = load(&format!(
            r#"
private_endpoints:
  - {{ name: sql-pe, subnet: hub/pe, service: contoso-sql.database.windows.net }}
expect:
  - probe: {{ from: {from}, to: vm1 }}
"#
        ))
        .unwrap_err();
        assert_eq!(err.len(), 1, "{err:?}");
        assert_eq!(err[0].0, "private-endpoint-sender", "{err:?}");
        assert!(err[0].2.ends_with("probe.from"), "{err:?}");
    }
}

#[test]
fn pe20_a_static_address_obeys_the_nic_address_rules() {
    let cases = [
        ("10.0.9.4", "nic-ip-outside-subnet"),
        ("10.0.3.255", "nic-ip-reserved"),
        ("10.0.3.4", "duplicate-ip"),
        ("10.0.3", "invalid-ip"),
    ];
    for (ip, rule) in cases {
        let err = load(&format!(
            "private_endpoints:\n  - {{ name: p, subnet: hub/pe, ip: {ip}, service: p.blob.core.windows.net }}\n"
        ))
        .unwrap_err();
        assert_eq!(err.len(), 1, "{ip}: {err:?}");
        assert_eq!(err[0].0, rule, "{ip}: {err:?}");
        assert_eq!(err[0].2, "private_endpoints[0].ip", "{ip}: {err:?}");
    }
}

#[test]
fn pe20_an_unknown_subnet_gets_a_suggestion() {
    let err = load_str(
        &format!(
            "{BASE}private_endpoints:\n  - {{ name: p, subnet: hub/pee, service: p.blob.core.windows.net }}\n"
        ),
        "pe.yaml",
    )
    .unwrap_err();
    assert_eq!(err.rules(), vec!["unknown-subnet"]);
    let text = err.render(false);
    assert!(text.contains("did you mean `hub/pe`"), "{text}");
}

#[test]
fn penp23_network_policies_default_to_disabled_and_take_azure_values() {
    let sc = load("").unwrap();
    let policy = |path: &str| {
        sc.subnets[sc.subnet_by_path(path).unwrap().index()].private_endpoint_network_policies
    };
    assert_eq!(policy("hub/app"), PrivateEndpointNetworkPolicies::Disabled);
    assert_eq!(
        policy("hub/pe"),
        PrivateEndpointNetworkPolicies::RouteTableEnabled
    );
    assert_eq!(
        policy("hub/pe2"),
        PrivateEndpointNetworkPolicies::NetworkSecurityGroupEnabled
    );
    let err = load_str(&BASE.replace("route_table_enabled", "true"), "pe.yaml").unwrap_err();
    assert_eq!(err.rules(), vec!["unknown-variant"]);
}

#[test]
fn pe20_a_private_endpoint_needs_a_resource_manager_vnet() {
    let err = load_str(
        r#"
name: classic
vnets:
  - name: old
    deployment: classic
    address_space: [10.5.0.0/16]
    subnets: [ { name: pe, prefix: 10.5.3.0/24 } ]
private_endpoints:
  - { name: p, subnet: old/pe, service: p.blob.core.windows.net }
"#,
        "classic.yaml",
    )
    .unwrap_err();
    assert_eq!(err.rules(), vec!["private-endpoint-subnet"]);
    assert!(err.render(false).contains("classic VNet `old`"));
}
