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
