//! The `azure.era` switch: one setting for every era-dependent behaviour, each switch still
//! settable on its own, and every difference from the era named.
//!
//! Pages: the Eras table of `docs/azure-rules.md` ([peering-2016], [manage-peering] 2025,
//! [vnet-faq], [service-tags], [gw-transit] 2018, [update-address-space]).

use vnetsim_scenario::*;

const TWO_REGIONS: &str = "
name: x
azure: AZURE
vnets:
  - { name: a, region: westeurope, address_space: [10.0.0.0/16], subnets: [{ name: app, prefix: 10.0.1.0/24 }] }
  - { name: b, region: eastus, address_space: [10.1.0.0/16], subnets: [{ name: app, prefix: 10.1.1.0/24 }] }
peerings:
  - { name: a-to-b, from: a, to: b }
  - { name: b-to-a, from: b, to: a }
";

fn load(azure: &str) -> Result<Scenario, LoadError> {
    load_str(&TWO_REGIONS.replace("AZURE", azure), "era.yaml")
}

#[test]
fn era_2016_is_the_default_and_the_seed_document() {
    let sc = load("{}").expect_err("cross-region peering refused in 2016");
    assert!(sc.render(false).contains("peering-cross-region"));
    assert_eq!(AzureSwitches::default().era, Era::Y2016);
    assert_eq!(AzureSwitches::default(), AzureSwitches::for_era(Era::Y2016));
    assert!(AzureSwitches::default().differences().is_empty());
    assert_eq!(AzureSwitches::default().describe(), "era 2016");
}

#[test]
fn manage_peering_2025_era_current_allows_global_and_cross_tenant_peering() {
    let sc = load("{ era: current }").unwrap_or_else(|e| panic!("{}", e.render(false)));
    let az = &sc.azure;
    assert_eq!(az.era, Era::Current);
    assert!(az.global_peering && az.cross_tenant_peering);
    assert!(az.classic_gateway_transit && az.address_space_update);
    assert_eq!(az.virtual_network_tag, VirtualNetworkTagMode::Current);
    assert_eq!(az.peering_limit, 500);
    assert_eq!(az.describe(), "era current");
}

#[test]
fn a_switch_set_against_its_era_is_named() {
    let e = load("{ era: current, global_peering: false }")
        .expect_err("the override refuses the peering");
    assert!(e.render(false).contains("peering-cross-region"));
    let sc = load("{ era: 2016, global_peering: true, virtual_network_tag: current }")
        .unwrap_or_else(|e| panic!("{}", e.render(false)));
    let names: Vec<&str> = sc.azure.differences().iter().map(|d| d.name).collect();
    assert_eq!(names, ["global_peering", "virtual_network_tag"]);
    assert_eq!(
        sc.azure.describe(),
        "era 2016; differs from the era: global_peering: true, virtual_network_tag: current"
    );
    // `era: "2016"` as a string reads the same as the number.
    let sc = load("{ era: \"2016\", global_peering: true }").expect("loads");
    assert_eq!(sc.azure.era, Era::Y2016);
}

#[test]
fn an_unknown_era_names_its_line_and_the_values() {
    let e = load("{ era: 2015 }").expect_err("refused");
    let text = e.render(false);
    assert!(text.contains("unknown-variant"), "{text}");
    assert!(text.contains("azure.era"), "{text}");
    assert!(text.contains("`2015` is not an era"), "{text}");
    assert!(text.contains("era.yaml:3"), "{text}");
    let e = load("{ virtual_network_tag: newest }").expect_err("refused");
    assert!(e.render(false).contains("azure.virtual_network_tag"));
}

const CLASSIC: &str = "
name: x
azure: AZURE
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    subnets: [{ name: a, prefix: 10.0.1.0/24 }, { name: GatewaySubnet, prefix: 10.0.255.0/27 }]
    gateway: { name: hub-gw, sku: VpnGw1 }
  - { name: legacy, deployment: classic, address_space: [10.4.0.0/16], subnets: [{ name: a, prefix: 10.4.1.0/24 }] }
peerings:
  - { name: hub-to-legacy, from: hub, to: legacy, allow_gateway_transit: true }
";

#[test]
fn gw_transit_2018_classic_vnet_may_use_the_resource_manager_gateway_under_era_current() {
    let current = CLASSIC.replace("AZURE", "{ era: current }");
    load_str(&current, "c.yaml").unwrap_or_else(|e| panic!("{}", e.render(false)));
    // [peering-2016]: "not supported" between the deployment models.
    let old = CLASSIC.replace("AZURE", "{ era: 2016 }");
    let e = load_str(&old, "c.yaml").expect_err("refused in 2016");
    let text = e.render(false);
    assert!(text.contains("gateway-transit-cross-model"), "{text}");
    assert!(text.contains("azure.era: current"), "{text}");
}

#[test]
fn gw_transit_2018_the_gateway_must_be_in_the_resource_manager_vnet() {
    // The Resource Manager spoke may not use a classic VNet's gateway, in either era.
    let file = "
name: x
azure: { era: current }
vnets:
  - name: legacy
    deployment: classic
    address_space: [10.4.0.0/16]
    subnets: [{ name: a, prefix: 10.4.1.0/24 }, { name: GatewaySubnet, prefix: 10.4.255.0/27 }]
    gateway: { name: gw, sku: VpnGw1 }
  - { name: spoke, address_space: [10.1.0.0/16], subnets: [{ name: a, prefix: 10.1.1.0/24 }] }
peerings:
  - { name: spoke-to-legacy, from: spoke, to: legacy, use_remote_gateways: true }
";
    let e = load_str(file, "c.yaml").expect_err("refused");
    let text = e.render(false);
    assert!(text.contains("gateway-transit-cross-model"), "{text}");
    assert!(
        text.contains("must be in the Resource Manager VNet"),
        "{text}"
    );
}
