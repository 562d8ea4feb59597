//! Virtual machine scale sets in the loader: instance names and addresses, the capacity rule,
//! and instances meeting every VM rule with one diagnostic per scale set. Tests are named after
//! the page behind them: `vmsspg_` [VMSSPG] "Virtual Machine Scale Sets and placement groups".

use std::net::Ipv4Addr;

use vnetsim_scenario::{Scenario, load_str};

const BASE: &str = r#"
name: vmss
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    subnets:
      - { name: app, prefix: 10.0.1.0/24 }
      - { name: GatewaySubnet, prefix: 10.0.255.0/27 }
nsgs:
  - name: web-nsg
vms:
  - { name: jump, size: Standard_D2s_v3, nics: [ { name: jump-nic, subnet: hub/app, ip: 10.0.1.5 } ] }
"#;

fn load(extra: &str) -> Result<Scenario, Vec<(String, u32, String)>> {
    load_str(&format!("{BASE}{extra}"), "vmss.yaml").map_err(|e| {
        e.diagnostics
            .iter()
            .map(|d| (d.rule.to_string(), d.line, d.path.clone()))
            .collect()
    })
}

fn ip_of(sc: &Scenario, vm: &str) -> Ipv4Addr {
    let id = sc.vm_by_name(vm).unwrap_or_else(|| panic!("no VM {vm}"));
    sc.nics[sc.vms[id.index()].nics[0].index()].ip
}

#[test]
fn vmsspg_instances_are_vms_named_after_the_scale_set_at_the_next_free_addresses() {
    // jump holds .5: web takes .4, .6, .7; api, declared next, .8 and .9.
    let sc = load(
        r#"
scale_sets:
  - { name: web, size: Standard_D2s_v3, instances: 3, subnet: hub/app, nsg: web-nsg, ip_forwarding: true }
  - { name: api, size: Standard_D4s_v3, instances: 2, vnet: hub, subnet: app, forwarding: true }
"#,
    )
    .unwrap();
    assert_eq!(sc.vms.len(), 6);
    let names: Vec<&str> = sc.vms.iter().map(|v| &*v.name).collect();
    assert_eq!(names, ["jump", "web_0", "web_1", "web_2", "api_0", "api_1"]);
    let ips: Vec<Ipv4Addr> = ["web_0", "web_1", "web_2", "api_0", "api_1"]
        .iter()
        .map(|n| ip_of(&sc, n))
        .collect();
    assert_eq!(
        ips,
        [4, 6, 7, 8, 9].map(|d| Ipv4Addr::new(10, 0, 1, d)).to_vec()
    );
    let web1 = &sc.vms[sc.vm_by_name("web_1").unwrap().index()];
    let nic = &sc.nics[web1.nics[0].index()];
    assert_eq!(&*nic.name, "web_1-nic");
    assert!(nic.ip_forwarding && nic.nsg.is_some() && !web1.forwarding);
    assert_eq!(web1.size, "Standard_D2s_v3");
    let api0 = &sc.vms[sc.vm_by_name("api_0").unwrap().index()];
    assert!(api0.forwarding && api0.size == "Standard_D4s_v3");
    assert!(sc.nics[api0.nics[0].index()].nsg.is_none());
}

#[test]
fn vmsspg_a_single_placement_group_holds_100_instances_and_a_scale_set_1000() {
    let sized = |n: u32, single: bool| {
        format!(
            "scale_sets:\n  - {{ name: web, size: Standard_D2s_v3, instances: {n}, \
             single_placement_group: {single}, subnet: hub/big }}\n"
        )
    };
    let base = BASE.replace(
        "      - { name: app, prefix: 10.0.1.0/24 }\n",
        "      - { name: app, prefix: 10.0.1.0/24 }\n      - { name: big, prefix: 10.0.16.0/20 }\n",
    );
    let try_load = |extra: String| {
        load_str(&format!("{base}{extra}"), "vmss.yaml")
            .map(|s| s.vms.len())
            .map_err(|e| e.diagnostics.iter().map(|d| d.rule).collect::<Vec<_>>())
    };
    assert_eq!(try_load(sized(100, true)), Ok(101));
    assert_eq!(try_load(sized(101, true)), Err(vec!["scale-set-capacity"]));
    assert_eq!(try_load(sized(1000, false)), Ok(1001));
    assert_eq!(
        try_load(sized(1001, false)),
        Err(vec!["scale-set-capacity"])
    );
    // Azure's default is a single placement group.
    let default =
        "scale_sets:\n  - { name: web, size: Standard_D2s_v3, instances: 101, subnet: hub/big }\n";
    assert_eq!(try_load(default.into()), Err(vec!["scale-set-capacity"]));
    // No instance at all is a valid capacity.
    assert_eq!(try_load(sized(0, true)), Ok(1));
}

#[test]
fn a_rule_every_instance_breaks_is_reported_once_at_the_scale_set() {
    let errs = load(
        r#"
scale_sets:
  - { name: gw, size: Standard_D2s_v3, instances: 5, subnet: hub/GatewaySubnet }
  - { name: odd, size: Standard_D2s_v3, instances: 5, subnet: hub/app, nsg: no-such-nsg }
"#,
    )
    .unwrap_err();
    assert_eq!(
        errs,
        [
            (
                "nic-in-gateway-subnet".to_owned(),
                15,
                "scale_sets[0].subnet".to_owned()
            ),
            ("unknown-nsg".to_owned(), 16, "scale_sets[1].nsg".to_owned()),
        ]
    );
}

#[test]
fn an_instance_name_taken_by_a_written_out_vm_is_a_duplicate_once() {
    let errs = load(
        r#"
  - { name: web_1, size: Standard_D2s_v3, nics: [ { name: other-nic, subnet: hub/app, ip: 10.0.1.200 } ] }
scale_sets:
  - { name: web, size: Standard_D2s_v3, instances: 4, subnet: hub/app }
"#,
    )
    .unwrap_err();
    assert_eq!(
        errs,
        [(
            "duplicate-name".to_owned(),
            16,
            "scale_sets[0].name".to_owned()
        )]
    );
}

#[test]
fn an_unknown_subnet_or_vnet_is_named_with_a_suggestion() {
    let err = load_str(
        &format!(
            "{BASE}scale_sets:\n  - {{ name: web, size: Standard_D2s_v3, instances: 2, subnet: hub/ap }}\n  - {{ name: api, size: Standard_D2s_v3, instances: 2, subnet: hubb/app }}\n"
        ),
        "vmss.yaml",
    )
    .unwrap_err();
    let got: Vec<_> = err
        .diagnostics
        .iter()
        .map(|d| (d.rule, d.path.as_str(), d.help.clone().unwrap_or_default()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "unknown-subnet",
                "scale_sets[0].subnet",
                "did you mean `app`?".to_owned()
            ),
            (
                "unknown-vnet",
                "scale_sets[1].vnet",
                "did you mean `hub`?".to_owned()
            ),
        ]
    );
}

#[test]
fn a_field_a_scale_set_does_not_have_is_refused() {
    let errs = load(
        "scale_sets:\n  - { name: web, size: Standard_D2s_v3, instances: 2, subnet: hub/app, scale_set: 1 }\n",
    )
    .unwrap_err();
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].0, "unknown-field");
}
