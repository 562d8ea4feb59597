//! Application security groups and VMs with several NICs in the data plane, each test named
//! after the page it follows: [ASG20] "Application security groups" (02/27/2020,
//! learn.microsoft.com/azure/virtual-network/application-security-groups); for several NICs
//! [diag-routing] (the primary NIC), [vm-throughput] (bandwidth per VM over all NICs) and
//! [nsg-how] (NSGs of the NIC and of its subnet).

mod common;

use common::{Net, assert_delivered_to, dropped, nsg_passes};
use vnetsim_dataplane::explain::explain;
use vnetsim_dataplane::pipeline::{DropCause, NsgDecision};
use vnetsim_dataplane::probe::run_probe;
use vnetsim_dataplane::views::{
    effective_routes_of_nic, effective_routes_of_vm, effective_rules_of_nic, effective_rules_of_vm,
};
use vnetsim_dataplane::{FlowTable, Ingress, Step};
use vnetsim_scenario::{DropReason, Endpoint, Protocol};

/// One VNet with web, biz and mgmt subnets; ASGs web, app, db; NSG `tiers` on biz allows web
/// -> app on 8080 and app -> db on 1433 by group and denies the rest inbound. `app1` has two
/// NICs: `app1-nic` (primary, biz, in asg-app) and `app1-mgmt` (mgmt, whose NSG allows SSH and
/// whose route table drops the peered VNet). `other1` sits in a peered VNet.
const TIERS: &str = r#"
name: asg
application_security_groups:
  - name: asg-web
  - name: asg-app
  - name: asg-db
vnets:
  - name: app
    address_space: [10.0.0.0/16]
    subnets:
      - { name: web, prefix: 10.0.1.0/24 }
      - { name: biz, prefix: 10.0.2.0/24, nsg: tiers }
      - { name: mgmt, prefix: 10.0.9.0/24, nsg: mgmt-nsg, route_table: mgmt-rt }
  - name: other
    address_space: [10.1.0.0/16]
    subnets: [ { name: s, prefix: 10.1.1.0/24 } ]
vms:
  - name: web1
    size: Standard_D2s_v3
    nics: [ { name: web1-nic, subnet: app/web, ip: 10.0.1.4, application_security_groups: [asg-web] } ]
  - name: web2
    size: Standard_D2s_v3
    nics: [ { name: web2-nic, subnet: app/web, ip: 10.0.1.5, application_security_groups: [asg-web] } ]
  - name: app1
    size: Standard_D4s_v3
    nics:
      - { name: app1-nic, subnet: app/biz, ip: 10.0.2.4, application_security_groups: [asg-app] }
      - { name: app1-mgmt, subnet: app/mgmt, ip: 10.0.9.4 }
  - name: db1
    size: Standard_D2s_v3
    nics: [ { name: db1-nic, subnet: app/biz, ip: 10.0.2.10, application_security_groups: [asg-db] } ]
  - name: jump
    size: Standard_D2s_v3
    nics: [ { name: jump-nic, subnet: app/mgmt, ip: 10.0.9.5 } ]
  - name: other1
    size: Standard_D2s_v3
    nics: [ { name: other1-nic, subnet: other/s, ip: 10.1.1.4 } ]
nsgs:
  - name: tiers
    rules:
      - { name: web-to-app, priority: 100, direction: inbound, access: allow, protocol: tcp,
          source_application_security_groups: [asg-web],
          destination_application_security_groups: [asg-app], destination_ports: "8080" }
      - { name: app-to-db, priority: 110, direction: inbound, access: allow, protocol: tcp,
          source_application_security_groups: [asg-app],
          destination_application_security_groups: [asg-db], destination_ports: "1433" }
      - { name: deny-rest, priority: 4000, direction: inbound, access: deny, protocol: "*" }
  - name: mgmt-nsg
    rules:
      - { name: ssh-from-jump, priority: 100, direction: inbound, access: allow, protocol: tcp,
          source: 10.0.9.5, destination_ports: "22" }
      - { name: deny-rest, priority: 4000, direction: inbound, access: deny, protocol: "*" }
route_tables:
  - name: mgmt-rt
    routes: [ { name: no-other, prefix: 10.1.0.0/16, next_hop: None } ]
peerings:
  - { name: app-other, from: app, to: other }
  - { name: other-app, from: other, to: app }
"#;

fn net() -> Net {
    Net::new(TIERS)
}

/// The user rule that decided an NSG drop, by name.
fn denying_rule(n: &Net, cause: DropCause) -> String {
    match cause {
        DropCause::Nsg { nsg, rule, .. } => match rule {
            vnetsim_dataplane::nsg::RuleRef::User(i) => {
                n.sc.nsgs[nsg.index()].rules[i as usize].name.clone()
            }
            vnetsim_dataplane::nsg::RuleRef::Default(d) => d.name().to_string(),
        },
        other => panic!("not an NSG drop: {other:?}"),
    }
}

/// The user rules that let the packet pass, by name.
fn allowing_rules(n: &Net, steps: &[Step]) -> Vec<String> {
    nsg_passes(steps)
        .into_iter()
        .filter_map(|(_, nsg, d)| match d {
            NsgDecision::Rule(vnetsim_dataplane::nsg::RuleRef::User(i)) => {
                Some(n.sc.nsgs[nsg.index()].rules[i as usize].name.clone())
            }
            _ => None,
        })
        .collect()
}

#[test]
fn asg20_a_rule_naming_groups_allows_traffic_between_their_members() {
    let n = net();
    for web in ["web1", "web2"] {
        let r = n.send(web, "app1", Protocol::Tcp, 8080);
        assert_delivered_to(&r, n.nic("app1-nic"));
        assert_eq!(allowing_rules(&n, &r.steps), vec!["web-to-app"]);
    }
    let r = n.send("app1", "db1", Protocol::Tcp, 1433);
    assert_delivered_to(&r, n.nic("db1-nic"));
    assert_eq!(allowing_rules(&n, &r.steps), vec!["app-to-db"]);
}

#[test]
fn asg20_a_source_outside_the_group_is_not_matched() {
    let n = net();
    // jump is in no group: web-to-app does not match it, the deny does.
    let (reason, cause) = dropped(&n.send("jump", "app1", Protocol::Tcp, 8080));
    assert_eq!(reason, DropReason::NsgDenied);
    assert_eq!(denying_rule(&n, cause), "deny-rest");
    // web1 is in asg-web, not asg-app: app-to-db does not let it reach the database.
    let (reason, cause) = dropped(&n.send("web1", "db1", Protocol::Tcp, 1433));
    assert_eq!(reason, DropReason::NsgDenied);
    assert_eq!(denying_rule(&n, cause), "deny-rest");
}

#[test]
fn asg20_a_rule_applies_only_to_member_nics_even_in_a_subnet_nsg() {
    // "a rule naming an ASG applies only to member NICs, even when the NSG is on the subnet":
    // db1 shares app1's subnet and NSG, but is not in asg-app, so web-to-app does not open it.
    let n = net();
    let (reason, cause) = dropped(&n.send("web1", "db1", Protocol::Tcp, 8080));
    assert_eq!(reason, DropReason::NsgDenied);
    assert_eq!(denying_rule(&n, cause), "deny-rest");
    assert_delivered_to(
        &n.send("web1", "app1", Protocol::Tcp, 8080),
        n.nic("app1-nic"),
    );
}

#[test]
fn asg20_a_group_holds_the_nic_not_the_vm() {
    // Membership is per NIC IP configuration: app1's second NIC is not in asg-app, so the
    // group rule does not reach it (its own subnet's NSG decides).
    let n = net();
    let (reason, cause) = dropped(&n.send("web1", "app1/app1-mgmt", Protocol::Tcp, 8080));
    assert_eq!(reason, DropReason::NsgDenied);
    assert_eq!(denying_rule(&n, cause), "deny-rest");
    let g = &n.sc.application_security_groups[n.sc.asg_by_name("asg-app").unwrap().index()];
    assert_eq!(g.members, vec![n.nic("app1-nic")]);
}

#[test]
fn asg20_effective_rules_and_explain_name_the_groups() {
    let n = net();
    let rules = effective_rules_of_nic(&n.sc, &n.dp, n.nic("app1-nic"));
    let row = rules
        .groups
        .iter()
        .flat_map(|g| &g.rules)
        .find(|r| r.name == "web-to-app")
        .expect("the rule is listed");
    assert_eq!(row.source, "ASG asg-web");
    assert_eq!(row.destination, "ASG asg-app");

    let probe = n.probe_of("web1", "app1", Protocol::Tcp, 8080);
    let result = run_probe(&n.sc, &n.dp, &probe, 1, &mut FlowTable::new());
    let e = explain(&n.sc, &n.dp, &probe, &result);
    let hop = e.hops.iter().find(|h| h.kind == "nsg").expect("an NSG hop");
    assert!(
        hop.detail
            .contains("web-to-app [source ASG asg-web, destination ASG asg-app] (priority 100)"),
        "{}",
        hop.detail
    );
    let view = hop.rule.as_ref().expect("rule view");
    assert_eq!(view.source_asg.as_deref(), Some("asg-web"));
    assert_eq!(view.destination_asg.as_deref(), Some("asg-app"));
}

/// The same network with every group written as its member NICs' addresses.
fn with_ips() -> String {
    TIERS
        .replace(
            "source_application_security_groups: [asg-web]",
            "source: [10.0.1.4, 10.0.1.5]",
        )
        .replace(
            "destination_application_security_groups: [asg-app]",
            "destination: 10.0.2.4",
        )
        .replace(
            "source_application_security_groups: [asg-app]",
            "source: 10.0.2.4",
        )
        .replace(
            "destination_application_security_groups: [asg-db]",
            "destination: 10.0.2.10",
        )
}

#[test]
fn asg20_rules_by_group_decide_every_probe_as_rules_by_member_ips() {
    let a = net();
    let b = Net::new(&with_ips());
    assert!(!with_ips().contains("_application_security_groups: [asg"));
    let ends = [
        "web1",
        "web2",
        "app1",
        "app1/app1-mgmt",
        "db1",
        "jump",
        "other1",
    ];
    for from in ends {
        for to in ends {
            for (protocol, port) in [
                (Protocol::Tcp, 8080),
                (Protocol::Tcp, 1433),
                (Protocol::Tcp, 22),
                (Protocol::Udp, 8080),
                (Protocol::Icmp, 0),
            ] {
                let ra = a.send(from, to, protocol, port);
                let rb = b.send(from, to, protocol, port);
                assert_eq!(ra.outcome, rb.outcome, "{from} -> {to} {protocol:?} {port}");
                assert_eq!(ra.steps, rb.steps, "{from} -> {to} {protocol:?} {port}");
            }
        }
    }
}

#[test]
fn multinic_a_vm_sends_from_its_primary_nic() {
    // [diag-routing]: the primary NIC is the VM's default; a VM named as an endpoint is its
    // first NIC.
    let n = net();
    let r = n.ping("app1", "web1");
    assert_eq!(r.ingress, Ingress::Nic(n.nic("app1-nic")));
    assert_eq!(r.src.to_string(), "10.0.2.4");
    assert!(matches!(r.steps[0], Step::Send { nic } if nic == n.nic("app1-nic")));
}

#[test]
fn multinic_a_nic_endpoint_is_vm_slash_nic_or_the_nic_name() {
    let n = net();
    let nic = n.nic("app1-mgmt");
    assert_eq!(
        n.sc.endpoint_by_name("app1/app1-mgmt"),
        Some(Endpoint::Nic(nic))
    );
    assert_eq!(n.sc.endpoint_by_name("app1-mgmt"), Some(Endpoint::Nic(nic)));
    // A NIC of another VM is not `vm/nic`.
    assert_eq!(n.sc.endpoint_by_name("web1/app1-mgmt"), None);
    assert_eq!(
        n.sc.endpoint_ip(Endpoint::Nic(nic)).unwrap().to_string(),
        "10.0.9.4"
    );
    assert_eq!(&*n.sc.endpoint_name(Endpoint::Nic(nic)), "app1-mgmt");
}

#[test]
fn multinic_the_packet_leaves_from_the_nic_with_that_nics_subnet_routes() {
    let n = net();
    // From the primary NIC (biz subnet, system routes): the peered VNet is reached.
    assert_delivered_to(&n.ping("app1", "other1"), n.nic("other1-nic"));
    // From the mgmt NIC (mgmt subnet, route table mgmt-rt): 10.1.0.0/16 -> None.
    for from in ["app1/app1-mgmt", "app1-mgmt", "10.0.9.4"] {
        let r = n.ping(from, "other1");
        assert_eq!(r.ingress, Ingress::Nic(n.nic("app1-mgmt")), "{from}");
        assert_eq!(r.src.to_string(), "10.0.9.4");
        let (reason, cause) = dropped(&r);
        assert_eq!(reason, DropReason::NoRoute, "{from}");
        assert!(
            matches!(cause, DropCause::NoneRoute { subnet, .. } if subnet == n.subnet("app/mgmt")),
            "{cause:?}"
        );
    }
}

#[test]
fn multinic_nsgs_come_from_the_receiving_nics_subnet() {
    // [nsg-how]: a packet to a NIC meets that NIC's subnet NSG (and its NIC NSG).
    let n = net();
    let r = n.send("jump", "app1/app1-mgmt", Protocol::Tcp, 22);
    assert_delivered_to(&r, n.nic("app1-mgmt"));
    assert_eq!(allowing_rules(&n, &r.steps), vec!["ssh-from-jump"]);
    // The same VM's primary NIC sits behind `tiers`, which denies SSH.
    let (reason, cause) = dropped(&n.send("jump", "app1", Protocol::Tcp, 22));
    assert_eq!(reason, DropReason::NsgDenied);
    assert_eq!(denying_rule(&n, cause), "deny-rest");
    // The address of the second NIC reaches that NIC.
    assert_delivered_to(
        &n.send("jump", "10.0.9.4", Protocol::Tcp, 22),
        n.nic("app1-mgmt"),
    );
}

#[test]
fn multinic_routes_and_rules_are_listed_per_nic() {
    let n = net();
    let vm = n.sc.vm_by_name("app1").unwrap();
    let routes = effective_routes_of_vm(&n.sc, &n.dp, vm);
    assert_eq!(
        routes.iter().map(|r| r.nic.as_str()).collect::<Vec<_>>(),
        vec!["app1-nic", "app1-mgmt"]
    );
    let mgmt = effective_routes_of_nic(&n.sc, &n.dp, n.nic("app1-mgmt"));
    assert_eq!(mgmt.subnet, "app/mgmt");
    assert_eq!(mgmt.route_table.as_deref(), Some("mgmt-rt"));
    assert!(
        mgmt.routes
            .iter()
            .any(|r| r.prefix == "10.1.0.0/16" && r.next_hop_type == "None" && r.state == "Active")
    );
    assert_eq!(routes[1], mgmt);
    let rules = effective_rules_of_vm(&n.sc, &n.dp, vm);
    assert_eq!(rules[0].groups[0].nsg, "tiers");
    assert_eq!(rules[1].groups[0].nsg, "mgmt-nsg");
    assert_eq!(
        rules[1],
        effective_rules_of_nic(&n.sc, &n.dp, n.nic("app1-mgmt"))
    );
}

#[test]
fn multinic_all_nics_of_a_vm_are_in_one_vnet() {
    let yaml = TIERS.replace(
        "{ name: app1-mgmt, subnet: app/mgmt, ip: 10.0.9.4 }",
        "{ name: app1-mgmt, subnet: other/s, ip: 10.1.1.9 }",
    );
    let err = vnetsim_scenario::load_str(&yaml, "t.yaml").unwrap_err();
    assert_eq!(err.rules(), vec!["vm-nics-vnet"]);
}

#[test]
fn asg20_all_nics_of_a_group_are_in_the_first_nics_vnet() {
    let yaml = TIERS.replace(
        "{ name: other1-nic, subnet: other/s, ip: 10.1.1.4 }",
        "{ name: other1-nic, subnet: other/s, ip: 10.1.1.4, application_security_groups: [asg-web] }",
    );
    let err = vnetsim_scenario::load_str(&yaml, "t.yaml").unwrap_err();
    assert_eq!(err.rules(), vec!["asg-vnet"]);
}
