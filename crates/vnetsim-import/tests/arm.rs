//! ARM templates imported: a hub with Azure Firewall and spokes from copy loops, the spokes'
//! route naming the firewall through `reference()`.

use std::path::Path;

use vnetsim::Sim;
use vnetsim_import::{arm, yaml};
use vnetsim_scenario::DropReason;

fn template() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/arm-hub-firewall/azuredeploy.json")
}

fn load(set: &[&str]) -> Sim {
    let set: Vec<String> = set.iter().map(|s| s.to_string()).collect();
    let import = arm::import_template(&template(), None, &set, "arm-hub").expect("imports");
    let text = yaml::write(&import.header("test"), &import.scenario);
    Sim::from_yaml(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// The firewall's private IP is the first usable address of AzureFirewallSubnet; a route
/// written as `reference(firewall).ipConfigurations[0].properties.privateIPAddress` gets it,
/// so spoke traffic goes through the firewall, whose network rule allows the parameter's port
/// and whose default deny refuses the rest [FWRULE23].
#[test]
fn fwrule23_a_template_hub_sends_spoke_traffic_through_its_firewall_by_reference() {
    let sim = load(&[]);
    assert_eq!(sim.scenario().vnets.len(), 3);
    let sql = sim.probe("vm1", "vm2").tcp(1433).send();
    assert!(sql.is_delivered(), "{}", sql.detail());
    assert_eq!(sql.path()[1], sim.scenario().firewalls[0].name.as_str());
    let http = sim.probe("vm1", "vm2").tcp(80).send();
    assert_eq!(
        http.reason(),
        Some(DropReason::FirewallDenied),
        "{}",
        http.detail()
    );
}

/// `--set` overrides a parameter: three spokes, and the rule's port follows.
#[test]
fn set_overrides_change_the_imported_network() {
    let sim = load(&["spokeCount=3", "allowedPort=80"]);
    assert_eq!(sim.scenario().vnets.len(), 4);
    assert!(sim.probe("vm3", "vm1").tcp(80).send().is_delivered());
    let sql = sim.probe("vm1", "vm2").tcp(1433).send();
    assert_eq!(
        sql.reason(),
        Some(DropReason::FirewallDenied),
        "{}",
        sql.detail()
    );
}

/// A virtual machine scale set imports as a scale set: `sku.capacity` instances named
/// `<scale set>_<i>` at the subnet's next free addresses, with the NIC configuration's NSG
/// [VMSSPG].
#[test]
fn vmsspg_a_scale_set_imports_with_its_capacity_subnet_and_nsg() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/arm-vmss/azuredeploy.json");
    let import = arm::import_template(&path, None, &["instanceCount=4".into()], "arm-vmss")
        .expect("imports");
    assert!(import.unmodelled.is_empty(), "{:?}", import.unmodelled);
    let text = yaml::write(&import.header("test"), &import.scenario);
    let sim = Sim::from_yaml(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let sc = sim.scenario();
    let names: Vec<&str> = sc.vms.iter().map(|v| &*v.name).collect();
    assert_eq!(
        names,
        ["jump", "web_0", "web_1", "web_2", "web_3"],
        "{text}"
    );
    let web3 = &sc.vms[sc.vm_by_name("web_3").unwrap().index()];
    assert_eq!(
        sc.nics[web3.nics[0].index()].ip,
        std::net::Ipv4Addr::new(10, 0, 1, 7)
    );
    assert!(sim.probe("jump", "web_2").tcp(80).send().is_delivered());
    let ssh = sim.probe("jump", "web_2").tcp(22).send();
    assert_eq!(
        ssh.reason(),
        Some(DropReason::NsgDenied),
        "{}",
        ssh.detail()
    );
}

/// What real templates do that a first import got wrong, imported as a deployment leaves it:
/// a VNet declared again by a nested template is the later declaration (its second subnet
/// holds `db`); a load balancer rule naming its frontend, pool and probe in another case, with
/// its ports as strings, keeps them; a NIC naming its subnet `App-VNet/Data` is in `app-vnet/data`
/// at the first address the internal load balancer's static frontend (`.4`) leaves free;
/// a subnet declared again by a nested template, its prefix read by `reference()`, keeps the
/// prefix and gets the nested template's NSG; a NIC in a VNet the template does not deploy is
/// left out
/// with a warning; an output reading a public IP's runtime property is left as written, and
/// the header keeps each warning on one comment line.
#[test]
fn a_redeclared_vnet_case_insensitive_lb_names_and_an_existing_vnet_nic_import() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/arm-redeclared/azuredeploy.json");
    let import = arm::import_template(&path, None, &[], "arm-redeclared").expect("imports");
    let text = yaml::write(&import.header("test"), &import.scenario);
    assert!(
        text.lines()
            .take_while(|l| !l.starts_with("name:"))
            .all(|l| l.starts_with('#')),
        "{text}"
    );
    let warned = |needle: &str| {
        assert!(
            import.warnings.iter().any(|w| w.contains(needle)),
            "no warning with {needle}: {:?}",
            import.warnings
        );
    };
    warned("NIC legacy-nic: subnet corp-existing/default is in VNet corp-existing");
    warned("app-vnet is declared at resources[0] and again at resources[9]");
    warned("outputs.firstLine.value");
    let sim = Sim::from_yaml(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let sc = sim.scenario();
    assert_eq!(sc.vnets.len(), 1);
    assert!(sc.nic_by_name("legacy-nic").is_none());
    assert!(text.contains("subnet: app-vnet/data"), "{text}");
    assert!(
        text.contains("- name: web\n    prefix: 10.20.1.0/24\n    nsg: web-nsg\n"),
        "{text}"
    );
    let db = &sc.vms[sc.vm_by_name("db").expect("db imported").index()];
    assert_eq!(
        sc.nics[db.nics[0].index()].ip,
        std::net::Ipv4Addr::new(10, 20, 2, 5)
    );
    let rule = &sc.load_balancers[0].rules[0];
    assert_eq!((rule.frontend_port, rule.backend_port), (80, 8080));
    assert_eq!(rule.probe, Some(0));
    assert_eq!(sc.load_balancers[0].probes[0].port, 80);
    let sql = sim.probe("web", "db").tcp(1433).send();
    assert!(sql.is_delivered(), "{}", sql.detail());
}

/// A template given as text imports as the same file does (the scenario a fuzzer or a caller
/// without the file gets is the CLI's), and a parameters text is applied.
#[test]
fn a_template_given_as_text_imports_as_its_file() {
    let text = std::fs::read_to_string(template()).unwrap();
    let from_file = arm::import_template(&template(), None, &[], "arm-hub").expect("imports");
    let from_text = arm::import_template_text(&text, "azuredeploy.json", None, &[], "arm-hub")
        .expect("imports");
    assert_eq!(
        yaml::write(&[], &from_text.scenario),
        yaml::write(&[], &from_file.scenario)
    );
    let three = arm::import_template_text(
        &text,
        "azuredeploy.json",
        Some((r#"{"parameters": {"spokeCount": {"value": 3}}}"#, "p.json")),
        &[],
        "arm-hub",
    )
    .expect("imports");
    let vnets = |i: &vnetsim_import::Import| {
        let yaml = yaml::write(&[], &i.scenario);
        Sim::from_yaml(&yaml).unwrap().scenario().vnets.len()
    };
    assert_eq!((vnets(&from_file), vnets(&three)), (3, 4));
}
