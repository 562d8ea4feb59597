//! Application security groups and NICs through the harness API: a rule naming groups added by
//! a timed event takes effect at its time [ASG20], and a probe names one NIC of a VM with
//! several as `vm/nic`.

use std::time::Duration;

use vnetsim::Sim;

const FILE: &str = r#"
name: asg-event
application_security_groups: [ { name: web }, { name: app } ]
vnets:
  - name: v
    address_space: [10.0.0.0/16]
    subnets:
      - { name: web, prefix: 10.0.1.0/24 }
      - { name: app, prefix: 10.0.2.0/24, nsg: app-nsg }
      - { name: mgmt, prefix: 10.0.9.0/24 }
vms:
  - name: web1
    size: Standard_D2s_v3
    nics: [ { name: web1-nic, subnet: v/web, ip: 10.0.1.4, application_security_groups: [web] } ]
  - name: other
    size: Standard_D2s_v3
    nics: [ { name: other-nic, subnet: v/web, ip: 10.0.1.5 } ]
  - name: app1
    size: Standard_D4s_v3
    nics:
      - { name: app1-nic, subnet: v/app, ip: 10.0.2.4, application_security_groups: [app] }
      - { name: app1-mgmt, subnet: v/mgmt, ip: 10.0.9.4 }
nsgs:
  - name: app-nsg
    rules:
      - { name: deny-vnet, priority: 4000, direction: inbound, access: deny, protocol: "*" }
events:
  - at: 1s
    add_nsg_rule:
      nsg: app-nsg
      rule:
        name: web-to-app
        priority: 100
        direction: inbound
        access: allow
        protocol: tcp
        source_application_security_groups: [web]
        destination_application_security_groups: [app]
        destination_ports: "8080"
"#;

#[test]
fn asg20_a_group_rule_added_by_an_event_applies_from_its_time() {
    let sim = Sim::from_yaml(FILE).expect("loads");
    let before = sim.probe("web1", "app1").tcp(8080).send();
    before.assert_dropped("nsg-denied");
    let after = sim
        .probe("web1", "app1")
        .tcp(8080)
        .at(Duration::from_secs(2))
        .send();
    after.assert_delivered();
    assert_eq!(after.allowed_by(), ["app-nsg web-to-app (priority 100)"]);
    // A NIC outside the source group is still denied after the event.
    sim.probe("other", "app1")
        .tcp(8080)
        .at(Duration::from_secs(2))
        .send()
        .assert_dropped("nsg-denied");
}

#[test]
fn multinic_a_probe_names_one_nic_of_a_vm() {
    let sim = Sim::from_yaml(FILE).expect("loads");
    // app1's management NIC sits in a subnet without an NSG: reached; its app NIC is not.
    let v = sim.probe("web1", "app1/app1-mgmt").tcp(22).send();
    v.assert_delivered();
    assert_eq!(v.explanation().dst_ip, "10.0.9.4");
    sim.probe("web1", "app1")
        .tcp(22)
        .send()
        .assert_dropped("nsg-denied");
    let v = sim.probe("app1-mgmt", "web1").icmp().send();
    v.assert_delivered();
    assert_eq!(v.explanation().src_ip, "10.0.9.4");
    assert!(
        v.hops()[0].detail.contains("NIC app1-mgmt"),
        "{}",
        v.hops()[0].detail
    );
}
