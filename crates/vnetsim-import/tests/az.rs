//! `az` exports of a hub and two spokes with a VM appliance, imported and checked against
//! what Azure's documentation says of that network: spoke-to-spoke traffic goes through the
//! appliance the spokes' user-defined routes name (udr-overview: a route with next hop
//! VirtualAppliance), NSG rules decide at the destination subnet (nsg-overview), dynamic
//! addresses are the lowest free ones from `.4` (vnet-faq: Azure reserves the first four and the
//! last address of a subnet).

use std::path::Path;

use vnetsim::Sim;
use vnetsim_import::{Import, az, to_scenario, yaml};
use vnetsim_scenario::DropReason;

fn import(dir: &str) -> (Import, String) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("the test data")
        .map(|e| e.expect("an entry").path())
        .collect();
    // Deployment order as a user would pass them: networks first.
    files.sort_by_key(|p| {
        let n = p.file_name().unwrap().to_string_lossy().to_string();
        (!n.starts_with("vnets") && !n.starts_with('1'), n)
    });
    let mut resources = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("readable");
        resources
            .extend(az::resources_from_json(&text, &f.display().to_string()).expect("az JSON"));
    }
    let import = to_scenario(&resources, "az-hub-spoke").expect("mapped");
    let text = yaml::write(&import.header("az exports"), &import.scenario);
    (import, text)
}

#[test]
fn an_az_export_becomes_a_scenario_that_loads_in_era_current() {
    let (import, text) = import("az-hub-spoke");
    let sim = Sim::from_yaml(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(
        sim.scenario().vnets.len(),
        4,
        "three VNets and a stub: {text}"
    );
    assert!(text.contains("era: current"));
    // Unmodelled types are listed with their counts, never dropped silently.
    assert_eq!(
        import.unmodelled.get("Microsoft.Network/natGateways"),
        Some(&1)
    );
    assert_eq!(
        import.unmodelled.get("Microsoft.Network/bastionHosts"),
        Some(&1)
    );
    assert!(text.contains("1 Microsoft.Network/natGateways"), "{text}");
    // An ESP rule is kept: NSG rules take "TCP, UDP, ICMP, ESP, AH, or Any" (NSG overview).
    assert!(text.contains("allow-esp"), "{text}");
    assert!(
        !import.warnings.iter().any(|x| x.contains("protocol esp")),
        "{:?}",
        import.warnings
    );
    // What was left out of mapped resources is said.
    for w in [
        "shared-vnet is not in the import",
        "spare-nic: attached to no VM",
    ] {
        assert!(
            import
                .warnings
                .iter()
                .any(|x| x.to_ascii_lowercase().contains(&w.to_ascii_lowercase())),
            "{w}: {:?}",
            import.warnings
        );
    }
}

#[test]
fn vnet_faq_dynamic_addresses_are_the_lowest_free_from_dot_4_in_order() {
    let (_, text) = import("az-hub-spoke");
    let sim = Sim::from_yaml(&text).expect("loads");
    let ip = |nic: &str| {
        let sc = sim.scenario();
        sc.nics[sc.nic_by_name(nic).expect(nic).index()]
            .ip
            .to_string()
    };
    assert_eq!(ip("nva-nic"), "10.0.1.4", "static");
    assert_eq!(ip("web-nic"), "10.1.1.4");
    assert_eq!(ip("web2-nic"), "10.1.1.5");
    assert_eq!(ip("db-nic"), "10.2.1.4");
}

#[test]
fn udr_overview_spoke_traffic_goes_through_the_appliance_and_nsgs_decide_at_the_destination() {
    let (_, text) = import("az-hub-spoke");
    let sim = Sim::from_yaml(&text).expect("loads");
    let sql = sim.probe("web-vm", "db-vm").tcp(1433).send();
    assert!(sql.is_delivered(), "{}", sql.detail());
    assert_eq!(sql.path(), ["web-vm", "nva-vm", "db-vm"]);
    let ssh = sim.probe("web-vm", "db-vm").tcp(22).send();
    assert_eq!(
        ssh.reason(),
        Some(DropReason::NsgDenied),
        "{}",
        ssh.detail()
    );
    // The other way, through the appliance too (spoke2's route table).
    let back = sim.probe("db-vm", "web-vm").tcp(1433).src_port(1433).send();
    assert!(back.is_delivered(), "{}", back.detail());
}

/// A hub with Azure Firewall and a policy, as `az network firewall list`, `az network firewall
/// policy list` and `az network firewall policy rule-collection-group list` print it: the
/// spokes' 0.0.0.0/0 route to the firewall's private IP sends spoke-to-spoke traffic through
/// it; its network rule allows SQL and its default deny refuses the rest [FWRULE23].
#[test]
fn fwrule23_an_az_export_of_a_firewall_hub_sends_spoke_traffic_through_the_firewall() {
    let (import, text) = import("az-hub-firewall");
    assert!(import.unmodelled.is_empty(), "{:?}", import.unmodelled);
    let sim = Sim::from_yaml(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let fw = &sim.scenario().firewalls[0];
    assert_eq!(
        fw.ip.to_string(),
        "10.0.1.4",
        "the first usable address of AzureFirewallSubnet"
    );
    assert_eq!(fw.public_ips[0].to_string(), "20.10.30.40");
    let sql = sim.probe("vm1", "vm2").tcp(1433).send();
    assert!(sql.is_delivered(), "{}", sql.detail());
    assert_eq!(sql.path(), ["vm1", "hub-fw", "vm2"]);
    let ssh = sim.probe("vm1", "vm2").tcp(22).send();
    assert_eq!(
        ssh.reason(),
        Some(DropReason::FirewallDenied),
        "{}",
        ssh.detail()
    );
}

/// A hub with a VPN gateway and a site-to-site connection, two NVAs behind an internal
/// Standard load balancer with HA ports (the spoke's route to on-premises names its frontend),
/// and a private endpoint, as the `az` list commands print them: the spoke's packet to
/// on-premises goes through the load balancer, one NVA and the hub's gateway over the
/// connection [LBSKU23], [VPNFAQ26]; the private endpoint's /32 route delivers to it [PENP23].
#[test]
fn lbsku23_penp23_an_az_export_with_gateway_load_balancer_and_private_endpoint_is_followed() {
    let (import, text) = import("az-hub-gateway-lb-pe");
    assert!(import.unmodelled.is_empty(), "{:?}", import.unmodelled);
    assert!(import.warnings.is_empty(), "{:?}", import.warnings);
    let sim = Sim::from_yaml(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let onprem = sim.probe("app", "192.168.1.10").tcp(443).send();
    // The site declares no host at that address: the packet leaves Azure and is dropped there.
    assert_eq!(
        onprem.reason(),
        Some(DropReason::NoDestination),
        "{}",
        onprem.detail()
    );
    assert_eq!(onprem.path()[..2], ["app", "nva-ilb"]);
    assert!(
        ["nva1", "nva2"].contains(&onprem.path()[2].as_str()),
        "{:?}",
        onprem.path()
    );
    assert_eq!(onprem.path()[3], "hub-gw");
    let sql = sim.probe("app", "sql-pe").tcp(1433).send();
    assert!(sql.is_delivered(), "{}", sql.detail());
    assert_eq!(sql.path(), ["app", "sql-pe"]);
}
