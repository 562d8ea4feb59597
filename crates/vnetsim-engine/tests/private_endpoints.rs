//! Private endpoints in a replay: the service behind an endpoint answers each packet, and a
//! timed change of the endpoint's subnet reaches the answers in flight. Tests are named after
//! the page behind them: [PENP23] "Manage network policies for private endpoints", [PEFW25]
//! "Azure Firewall scenarios to inspect traffic destined to a private endpoint".

use vnetsim_engine::replay;

/// web1 in spoke1 (0.0.0.0/0 to the hub firewall) sends 1000 TCP packets over 1 s to sql-pe in
/// the hub, whose subnet has network policies `POLICIES`; at 500.5 ms `pe-rt` (spoke1 via the
/// firewall) is attached to the endpoint's subnet.
const NET: &str = r#"
name: pe-replay
azure: { era: current }
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    subnets:
      - { name: AzureFirewallSubnet, prefix: 10.0.1.0/26 }
      - { name: pe, prefix: 10.0.3.0/24, private_endpoint_network_policies: POLICIES }
    firewall: { name: fw, public_ips: [203.0.113.10] }
  - name: spoke1
    address_space: [10.1.0.0/16]
    subnets: [ { name: app, prefix: 10.1.1.0/24, route_table: s1-rt } ]
private_endpoints:
  - { name: sql-pe, subnet: hub/pe, service: contoso-sql.database.windows.net }
vms:
  - { name: web1, size: Standard_D2s_v3, nics: [ { name: web1-nic, subnet: spoke1/app, ip: 10.1.1.4 } ] }
route_tables:
  - name: s1-rt
    routes: [ { name: all-via-fw, prefix: 0.0.0.0/0, next_hop: VirtualAppliance, next_hop_ip: 10.0.1.4 } ]
  - name: pe-rt
    routes: [ { name: spoke1-via-fw, prefix: 10.1.0.0/16, next_hop: VirtualAppliance, next_hop_ip: 10.0.1.4 } ]
peerings:
  - { name: h1, from: hub, to: spoke1 }
  - { name: s1h, from: spoke1, to: hub }
traffic:
  - { name: sql, from: web1, to: sql-pe, protocol: tcp, dst_port: 1433, rate: 1000pps, packet_size: 100, duration: 1s, reply: true }
events:
  - { at: 500500us, set_route_table: { subnet: hub/pe, route_table: pe-rt } }
"#;

fn run(policies: &str) -> vnetsim_engine::Report {
    let s = vnetsim_scenario::load_str(&NET.replace("POLICIES", policies), "pe-replay.yaml")
        .unwrap_or_else(|e| panic!("{}", e.render(false)));
    replay(&s)
}

#[test]
fn penp23_a_route_table_attached_mid_run_turns_the_answers_only_with_route_table_policies() {
    // The requests bypass the firewall throughout (the /32 beats 0.0.0.0/0; the firewall has
    // no policy and would deny them).
    for (policies, turned) in [("route_table_enabled", true), ("disabled", false)] {
        let report = run(policies);
        assert!(report.conservation.holds(), "{policies}");
        let f = &report.flows[0];
        assert_eq!(f.sent, 1000, "{policies}");
        assert_eq!(f.delivered, 1000, "{policies}");
        let r = f.replies.as_ref().expect("replies");
        assert_eq!(r.sent, 1000, "{policies}");
        let no_session = r.dropped.get("firewall-no-session").copied().unwrap_or(0);
        if turned {
            // Before the change the answers go straight back; after it pe-rt sends them into
            // the firewall, which never saw the connections open [PEFW25].
            assert_eq!(r.delivered + no_session, 1000, "{policies}: {r:?}");
            assert!((490..=510).contains(&r.delivered), "{policies}: {r:?}");
        } else {
            // Network policies leave out route tables: pe-rt never applies to the endpoint.
            assert_eq!(r.delivered, 1000, "{policies}: {r:?}");
            assert_eq!(no_session, 0, "{policies}");
        }
    }
}
