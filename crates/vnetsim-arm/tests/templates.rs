//! Whole templates: copy loops (resource, property, variable, output), child resources,
//! conditions, parameters files and overrides, nested and linked deployments, subscription
//! scope, deferred references, and the errors a bad template gets.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use vnetsim_arm::{
    ArmError, EvalOptions, ReferenceRequest, ReferenceResolver, evaluate, evaluate_file,
    evaluate_text,
};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/templates")
}

fn prefixes(r: &vnetsim_arm::Resource) -> Vec<String> {
    r.properties["subnets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            s["properties"]["addressPrefix"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// [ARMCOPY] [ARMCHILD] The hub-spoke sample with its parameters file (4 spokes, northeurope) and an override.
#[test]
fn armcopy_hub_spoke_firewall_with_parameters_file_and_override() {
    let mut overrides = BTreeMap::new();
    overrides.insert("deployJumpbox".to_string(), "true".to_string());
    let t = evaluate_file(
        &dir().join("hub-spoke-firewall/azuredeploy.json"),
        Some(&dir().join("hub-spoke-firewall/azuredeploy.parameters.json")),
        EvalOptions {
            overrides,
            ..Default::default()
        },
    )
    .unwrap();
    let vnets: Vec<&str> = t
        .of_type("Microsoft.Network/virtualNetworks")
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(
        vnets,
        ["hub-vnet", "spoke-01", "spoke-02", "spoke-03", "spoke-04"]
    );
    let spoke3 = t
        .find("Microsoft.Network/virtualNetworks", "spoke-03")
        .unwrap();
    assert_eq!(
        prefixes(spoke3),
        ["10.3.0.0/24", "10.3.1.0/24"],
        "property copy loop"
    );
    assert_eq!(spoke3.properties["subnets"][1]["name"], json!("data"));
    assert_eq!(
        spoke3.properties["addressSpace"]["addressPrefixes"],
        json!(["10.3.0.0/16"])
    );
    assert_eq!(
        spoke3.location.as_deref(),
        Some("northeurope"),
        "parameters file value"
    );
    assert_eq!(spoke3.json_path, "resources[2]<copy 2>");
    // Child declared inside its parent, deployed because of the override.
    let jump = t
        .find(
            "Microsoft.Network/virtualNetworks/subnets",
            "hub-vnet/jumpbox",
        )
        .unwrap();
    assert_eq!(jump.properties["addressPrefix"], json!("10.0.3.0/24"));
    assert!(
        jump.id
            .ends_with("/providers/Microsoft.Network/virtualNetworks/hub-vnet/subnets/jumpbox")
    );
    // Nested children of a copied resource: one per copy, full names composed.
    let peerings: Vec<&str> = t
        .of_type("Microsoft.Network/virtualNetworks/virtualNetworkPeerings")
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(peerings.len(), 8);
    assert!(peerings.contains(&"spoke-04/to-hub"));
    assert!(peerings.contains(&"hub-vnet/to-spoke-04"));
    // Variable copy loop, json(format('{{...}}')) and if(..., json('null')).
    let fw = t
        .of_type("Microsoft.Network/azureFirewalls")
        .next()
        .unwrap();
    assert!(
        fw.name.starts_with("fw-") && fw.name.len() == 16,
        "{}",
        fw.name
    );
    assert_eq!(fw.zones, ["1", "2", "3"]);
    let ipc = fw.properties["ipConfigurations"].as_array().unwrap();
    assert_eq!(ipc.len(), 2);
    assert!(
        ipc[0]["properties"]["subnet"]["id"]
            .as_str()
            .unwrap()
            .ends_with("/virtualNetworks/hub-vnet/subnets/AzureFirewallSubnet")
    );
    assert_eq!(ipc[1]["properties"]["subnet"], Value::Null);
    assert!(
        ipc[1]["properties"]["publicIPAddress"]["id"]
            .as_str()
            .unwrap()
            .ends_with("/publicIPAddresses/fw-pip2")
    );
    assert_eq!(t.of_type("Microsoft.Network/publicIPAddresses").count(), 2);
    assert_eq!(t.of_type("Microsoft.Network/networkInterfaces").count(), 4);
    let rt = t
        .find("Microsoft.Network/routeTables", "spokes-to-firewall")
        .unwrap();
    assert_eq!(
        rt.properties["routes"][0]["properties"]["nextHopIpAddress"],
        json!("10.0.1.4")
    );
    // Output copy, and the firewall's private IP deferred (runtime state).
    assert_eq!(
        t.outputs["spokeNames"],
        json!(["spoke-01", "spoke-02", "spoke-03", "spoke-04"])
    );
    assert_eq!(t.deferred.len(), 1);
    assert_eq!(t.deferred[0].json_path, "outputs.firewallPrivateIp.value");
}

#[test]
fn armsyn_condition_false_skips_the_resource_and_defaults_apply() {
    let t = evaluate_file(
        &dir().join("hub-spoke-firewall/azuredeploy.json"),
        None,
        EvalOptions::default(),
    )
    .unwrap();
    assert!(
        t.find(
            "Microsoft.Network/virtualNetworks/subnets",
            "hub-vnet/jumpbox"
        )
        .is_none()
    );
    assert_eq!(t.of_type("Microsoft.Network/virtualNetworks").count(), 4);
    assert_eq!(
        t.resources[0].location.as_deref(),
        Some("westeurope"),
        "[resourceGroup().location] default"
    );
}

struct FirewallIp;
impl ReferenceResolver for FirewallIp {
    fn resolve(&self, r: &ReferenceRequest<'_>) -> Option<Value> {
        let id = r.resource_id?;
        id.contains("/azureFirewalls/").then(
            || json!({"ipConfigurations": [{"properties": {"privateIPAddress": "10.0.1.4"}}]}),
        )
    }
}

#[test]
fn armres_reference_to_a_template_resource_is_asked_of_the_resolver() {
    let t = evaluate_file(
        &dir().join("hub-spoke-firewall/azuredeploy.json"),
        None,
        EvalOptions {
            resolver: Some(&FirewallIp),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(t.outputs["firewallPrivateIp"], json!("10.0.1.4"));
    assert!(t.deferred.is_empty());
}

/// [ARMNEST] Nested deployments: inner scope with passed parameters, outer scope reading the parent's
/// parameters (case-insensitively), another resource group, and a linked template by
/// relative path whose inputs come from another deployment's outputs.
#[test]
fn armnest_inner_outer_and_linked_deployments() {
    let t = evaluate_file(
        &dir().join("nested/azuredeploy.json"),
        None,
        EvalOptions::default(),
    )
    .unwrap();
    let vnet = t
        .find("Microsoft.Network/virtualNetworks", "corp-vnet")
        .unwrap();
    assert_eq!(
        prefixes(vnet),
        ["10.50.0.0/24", "10.50.1.0/24", "10.50.2.0/24"]
    );
    assert_eq!(vnet.properties["subnets"][2]["name"], json!("snet-3"));
    assert_eq!(vnet.deployment, ["inner-vnet"]);
    assert_eq!(
        vnet.json_path,
        "resources[1].properties.template.resources[0]"
    );
    assert!(
        t.find("Microsoft.Network/networkSecurityGroups", "corp-nsg")
            .is_some(),
        "outer scope"
    );
    let other = t
        .find("Microsoft.Network/virtualNetworks", "other-rg-vnet")
        .unwrap();
    assert_eq!(other.resource_group.as_deref(), Some("other-rg"));
    assert!(other.id.contains("/resourceGroups/other-rg/"));
    let peering = t
        .of_type("Microsoft.Network/virtualNetworks/virtualNetworkPeerings")
        .next()
        .unwrap();
    assert_eq!(peering.name, "corp-vnet/to-corp-vnet");
    assert_eq!(
        peering.properties["remoteVirtualNetwork"]["id"],
        json!(vnet.id)
    );
    assert!(
        peering.json_path.starts_with("resources[0]<"),
        "{}",
        peering.json_path
    );
    assert_eq!(t.outputs["peeringName"], json!("corp-vnet/to-corp-vnet"));
    assert_eq!(t.outputs["subnets"], json!(3));
    assert_eq!(t.outputs["otherRg"], json!("other-rg"));
}

#[test]
fn armnest_subscription_scope_template_deploys_into_its_resource_group() {
    let t = evaluate_file(
        &dir().join("nested/subscription.json"),
        None,
        EvalOptions::default(),
    )
    .unwrap();
    let rg = t
        .find("Microsoft.Resources/resourceGroups", "net-rg")
        .unwrap();
    assert_eq!(
        rg.id,
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/net-rg"
    );
    assert_eq!(rg.location.as_deref(), Some("swedencentral"));
    let vnet = t
        .find("Microsoft.Network/virtualNetworks", "landing-vnet")
        .unwrap();
    assert_eq!(vnet.resource_group.as_deref(), Some("net-rg"));
    assert_eq!(t.outputs["vnetId"], json!(vnet.id));
    assert_eq!(
        t.outputs["rgId"],
        json!(
            "/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.Resources/resourceGroups/net-rg"
        )
    );
}

fn eval_json(text: &str) -> Result<vnetsim_arm::EvaluatedTemplate, ArmError> {
    evaluate(
        &vnetsim_arm::json::parse(text).unwrap(),
        &EvalOptions::default(),
    )
}

#[test]
fn armsyn_symbolic_name_resources_and_existing_ones() {
    let t = eval_json(
        r#"{"languageVersion": "2.0", "resources": {
            "vnet": {"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2023-04-01", "name": "v1",
                     "properties": {"addressSpace": {"addressPrefixes": ["10.9.0.0/16"]}}},
            "old": {"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2023-04-01", "name": "v0", "existing": true}
        }}"#,
    )
    .unwrap();
    assert_eq!(t.resources.len(), 1);
    assert_eq!(t.resources[0].json_path, "resources.vnet");
    assert_eq!(t.resources[0].api_version.as_deref(), Some("2023-04-01"));
    assert_eq!(t.warnings.len(), 1);
}

#[test]
fn armsyn_keys_are_case_insensitive_and_double_brackets_escape() {
    let t = eval_json(
        r#"{"parameters": {"VnetName": {"type": "string", "defaultValue": "Hub"}},
            "variables": {"Config": {"AddressPrefix": "10.1.0.0/16"}},
            "resources": [{"type": "Microsoft.Network/virtualNetworks", "name": "[parameters('vnetname')]",
              "properties": {"addressSpace": {"addressPrefixes": ["[variables('CONFIG').addressprefix]"]},
                             "note": "[[not an expression]"}}]}"#,
    )
    .unwrap();
    let r = &t.resources[0];
    assert_eq!(r.name, "Hub");
    assert_eq!(
        r.properties["addressSpace"]["addressPrefixes"],
        json!(["10.1.0.0/16"])
    );
    assert_eq!(r.properties["note"], json!("[not an expression]"));
}

#[test]
fn override_types_follow_the_declaration() {
    let t = vnetsim_arm::json::parse(
        r#"{"parameters": {"n": {"type": "int"}, "list": {"type": "array"}, "on": {"type": "bool"}},
            "outputs": {"o": {"type": "object", "value": "[createObject('n', parameters('n'), 'list', parameters('LIST'), 'on', parameters('on'))]"}}}"#,
    )
    .unwrap();
    let mut overrides = BTreeMap::new();
    overrides.insert("N".to_string(), "3".to_string());
    overrides.insert("list".to_string(), "[\"a\", \"b\",]".to_string());
    overrides.insert("on".to_string(), "False".to_string());
    let out = evaluate(
        &t,
        &EvalOptions {
            overrides,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        out.outputs["o"],
        json!({"n": 3, "list": ["a", "b"], "on": false})
    );
    let mut bad = BTreeMap::new();
    bad.insert("n".to_string(), "three".to_string());
    let e = evaluate(
        &t,
        &EvalOptions {
            overrides: bad,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("'three' is not an integer"), "{e}");
    let mut unknown = BTreeMap::new();
    unknown.insert("nope".to_string(), "1".to_string());
    let e = evaluate(
        &t,
        &EvalOptions {
            overrides: unknown,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("declares no such parameter"), "{e}");
}

#[test]
fn errors_name_the_json_path_and_the_expression() {
    let e = eval_json(
        r#"{"resources": [{"type": "Microsoft.Network/virtualNetworks", "name": "v", "properties": {"subnets": [{"name": "[listKeysX('a')]"}, {"name": "[frobnicate(1)]"}]}}]}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("resources[0].properties.subnets[1].name"), "{e}");
    assert!(
        e.contains("[frobnicate(1)]") && e.contains("not supported"),
        "{e}"
    );

    let e = eval_json(r#"{"parameters": {"p": {"type": "string"}}, "resources": []}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("parameter 'p' has no value"), "{e}");

    let e = eval_json(r#"{"parameters": {"sku": {"type": "string", "defaultValue": "Gold", "allowedValues": ["Basic", "Standard"]}}}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("allowedValues"), "{e}");
    // An array parameter: any subset of the allowed values, or one of them whole.
    let arrays = r#"{"parameters": {"sku": {"type": "array", "defaultValue": DEFAULT,
        "allowedValues": [["pernode", "OMS"], ["free", "free"], "Basic", "Standard"]}},
        "outputs": {"x": {"type": "array", "value": "[parameters('sku')]"}}}"#;
    for ok in [r#"["free", "free"]"#, r#"["Standard", "Basic"]"#, "[]"] {
        let t = eval_json(&arrays.replace("DEFAULT", ok)).unwrap_or_else(|e| panic!("{ok}: {e}"));
        assert_eq!(
            t.outputs["x"],
            serde_json::from_str::<serde_json::Value>(ok).unwrap()
        );
    }
    for bad in [
        r#"["free"]"#,
        r#"["Basic", "Gold"]"#,
        r#"[["free", "free"], "Gold"]"#,
    ] {
        let e = eval_json(&arrays.replace("DEFAULT", bad))
            .unwrap_err()
            .to_string();
        assert!(e.contains("allowedValues"), "{bad}: {e}");
    }

    let e = eval_json(r#"{"variables": {"a": "[variables('b')]", "b": "[variables('a')]"}, "outputs": {"x": {"type": "string", "value": "[variables('a')]"}}}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("depends on itself"), "{e}");

    let e = eval_json(r#"{"resources": [{"type": "Microsoft.Network/virtualNetworks/subnets", "name": "only-one"}]}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("one segment per type segment"), "{e}");
}

#[test]
fn json_errors_carry_file_line_and_column() {
    let tmp = std::env::temp_dir().join(format!("vnetsim-arm-bad-{}.json", std::process::id()));
    std::fs::write(&tmp, "{\n  \"resources\": [\n    {\"type\": 'x'}\n  ]\n}").unwrap();
    let e = evaluate_file(&tmp, None, EvalOptions::default()).unwrap_err();
    let _ = std::fs::remove_file(&tmp);
    let ArmError::Json { source, .. } = &e else {
        panic!("{e}")
    };
    assert_eq!((source.line, source.column), (3, 14), "{e}");
    assert!(e.to_string().contains(":3:14:"), "{e}");
}

/// A template given as text reads no file: its linked templates are an error, even one that
/// exists beside the test templates.
#[test]
fn armnest_a_template_given_as_text_reads_no_linked_template() {
    let text = r#"{"resources": [{"type": "Microsoft.Resources/deployments", "name": "d",
        "properties": {"templateLink": {"relativePath": "nested/modules/peering.json"}}}]}"#;
    let e = evaluate_text(text, "given.json", None, EvalOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("given.json") && e.contains("given without a directory"),
        "{e}"
    );
    // The same link under the directory is read (and fails on its own missing parameters).
    let e = evaluate_text(
        text,
        "given.json",
        None,
        EvalOptions {
            template_dir: Some(dir()),
            ..Default::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(!e.contains("given without a directory"), "{e}");
}

/// Azure refuses a template or parameters file over 4 MB; so does the reader, without reading
/// more than that of a file (or of a device that never ends).
#[test]
fn templates_and_parameters_over_4_mb_are_refused() {
    let max = vnetsim_arm::MAX_FILE_BYTES as usize;
    let big = format!("{{\"variables\": {{\"x\": \"{}\"}}}}", "a".repeat(max));
    let e = evaluate_text(&big, "big.json", None, EvalOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("big.json") && e.contains("4 MB"), "{e}");
    let params = format!(
        "{{\"parameters\": {{\"p\": {{\"value\": \"{}\"}}}}}}",
        "a".repeat(max)
    );
    let e = evaluate_text(
        "{}",
        "t.json",
        Some((&params, "p.json")),
        EvalOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("p.json") && e.contains("4 MB"), "{e}");
    let tmp = std::env::temp_dir().join(format!("vnetsim-arm-big-{}.json", std::process::id()));
    std::fs::write(&tmp, &big).unwrap();
    let e = evaluate_file(&tmp, None, EvalOptions::default()).unwrap_err();
    let _ = std::fs::remove_file(&tmp);
    assert!(
        matches!(e, ArmError::Io { .. }) && e.to_string().contains("4 MB"),
        "{e}"
    );
    // Just under the limit is read.
    let ok = format!(
        "{{\"variables\": {{\"x\": \"{}\"}}}}",
        "a".repeat(max - 100)
    );
    assert!(evaluate_text(&ok, "ok.json", None, EvalOptions::default()).is_ok());
}

#[test]
fn armnest_linked_template_not_found_says_where_it_looked() {
    let t = vnetsim_arm::json::parse(
        r#"{"resources": [{"type": "Microsoft.Resources/deployments", "name": "d",
            "properties": {"templateLink": {"uri": "https://example.invalid/samples/nested/missing.json"}}}]}"#,
    )
    .unwrap();
    let e = evaluate(
        &t,
        &EvalOptions {
            template_dir: Some(dir()),
            ..Default::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("linked template not found") && e.contains("missing.json"),
        "{e}"
    );
    // A template spec (templateLink.id, as 101-templatespec-create links one) is stored in
    // Azure: the error says so.
    let e = eval_json(
        r#"{"resources": [{"type": "Microsoft.Resources/deployments", "name": "d",
            "properties": {"templateLink": {"id": "[resourceId('Microsoft.Resources/templateSpecs/versions', 'spec', '1.0')]"}}}]}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("resources[0].properties.templateLink"), "{e}");
    assert!(e.contains("template spec"), "{e}");
    assert!(e.contains("templateSpecs/spec/versions/1.0"), "{e}");
}

#[test]
fn armnest_linked_template_by_uri_is_found_by_its_last_segments() {
    let t = vnetsim_arm::json::parse(
        r#"{"resources": [{"type": "Microsoft.Resources/deployments", "name": "d",
            "properties": {"templateLink": {"uri": "[uri('https://raw.githubusercontent.com/org/repo/main/nested/azuredeploy.json', 'modules/peering.json')]"},
                           "parameters": {"localVnetName": {"value": "a"}, "remoteVnetId": {"value": "/x/y/b"}}}}],
            "outputs": {"p": {"type": "string", "value": "[reference('d').outputs.peeringName.value]"}}}"#,
    )
    .unwrap();
    let out = evaluate(
        &t,
        &EvalOptions {
            template_dir: Some(dir().join("nested")),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(out.outputs["p"], json!("a/to-b"));
}

#[test]
fn parameters_file_key_vault_references_and_set_arguments() {
    let p = vnetsim_arm::parse_parameters_file(
        r#"{"parameters": {"a": {"value": 1}, "pw": {"reference": {"keyVault": {"id": "/x"}, "secretName": "admin"}}}}"#,
        "p.json",
    )
    .unwrap();
    assert_eq!(p["a"], json!(1));
    assert_eq!(p["pw"], json!("<Key Vault secret admin>"));
    let e = vnetsim_arm::parse_parameters_file(r#"{"parameters": {"a": 1}}"#, "p.json")
        .unwrap_err()
        .to_string();
    assert!(e.contains("parameters.a"), "{e}");
    let set = vnetsim_arm::parse_set(&["count=3", "expr=a=b"]).unwrap();
    assert_eq!(set["count"], "3");
    assert_eq!(set["expr"], "a=b");
    assert!(vnetsim_arm::parse_set(&["novalue"]).is_err());
}

#[test]
fn armres_resource_id_accepts_a_trailing_slash_on_the_type() {
    let t = vnetsim_arm::json::parse(
        r#"{"outputs": {"id": {"type": "string", "value": "[resourceId('Microsoft.Network/publicIPAddresses/', 'pip')]"}}}"#,
    )
    .unwrap();
    let out = evaluate(&t, &EvalOptions::default()).unwrap();
    assert!(
        out.outputs["id"]
            .as_str()
            .unwrap()
            .ends_with("/providers/Microsoft.Network/publicIPAddresses/pip")
    );
}

/// Hostile or damaged input ends in an error, never a panic or a runaway allocation: every
/// truncation of the sample templates, byte flips, and a doubling bomb.
#[test]
fn damaged_templates_end_in_errors_not_panics() {
    let mut texts = Vec::new();
    for f in [
        "hub-spoke-firewall/azuredeploy.json",
        "nested/azuredeploy.json",
        "nested/subscription.json",
    ] {
        texts.push(std::fs::read_to_string(dir().join(f)).unwrap());
    }
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for text in &texts {
        let bytes = text.as_bytes();
        for cut in (0..bytes.len()).step_by(7) {
            if let Ok(s) = std::str::from_utf8(&bytes[..cut])
                && let Ok(v) = vnetsim_arm::json::parse(s)
            {
                let _ = evaluate(&v, &EvalOptions::default());
            }
        }
        for _ in 0..300 {
            let mut b = bytes.to_vec();
            for _ in 0..3 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let i = (seed % b.len() as u64) as usize;
                const BYTES: &[u8] = b"[]{}(),.'\"/0a-_:\\ ";
                b[i] = BYTES[(seed >> 32) as usize % BYTES.len()];
            }
            if let Ok(s) = String::from_utf8(b)
                && let Ok(v) = vnetsim_arm::json::parse(&s)
            {
                let opts = EvalOptions {
                    template_dir: Some(dir().join("nested")),
                    ..Default::default()
                };
                let _ = evaluate(&v, &opts);
            }
        }
    }
    let mut vars = serde_json::Map::new();
    vars.insert("v0".into(), json!("abcdefgh"));
    for i in 1..40 {
        vars.insert(
            format!("v{i}"),
            json!(format!(
                "[concat(variables('v{0}'), variables('v{0}'))]",
                i - 1
            )),
        );
    }
    let t = json!({"variables": vars, "outputs": {"o": {"type": "string", "value": "[variables('v39')]"}}});
    let e = evaluate(&t, &EvalOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("above the limit"), "{e}");
    for bad in [
        "[padLeft('a', 2000000000)]",
        "[format('{0,2000000000}', 'a')]",
        "[substring('abc', 9223372036854775807, 1)]",
        "[range(0, 100000000)]",
    ] {
        let t = json!({"outputs": {"o": {"type": "string", "value": bad}}});
        assert!(evaluate(&t, &EvalOptions::default()).is_err(), "{bad}");
    }
}

/// [ARMNEST] A management group template reaching a subscription, then a resource group,
/// through nested deployments.
#[test]
fn armnest_management_group_to_subscription_to_resource_group() {
    let t = evaluate_file(
        &dir().join("nested/management-group.json"),
        None,
        EvalOptions::default(),
    )
    .unwrap();
    let policy = t
        .find(
            "Microsoft.Authorization/policyAssignments",
            "deny-public-ip",
        )
        .unwrap();
    assert_eq!(
        policy.properties["scope"],
        json!("/providers/Microsoft.Management/managementGroups/vnetsim-mg")
    );
    assert_eq!(
        policy.id,
        "/providers/Microsoft.Management/managementGroups/vnetsim-mg/providers/Microsoft.Authorization/policyAssignments/deny-public-ip"
    );
    let rg = t
        .find("Microsoft.Resources/resourceGroups", "lz-network")
        .unwrap();
    assert_eq!(
        rg.id,
        "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/lz-network"
    );
    let vnet = t
        .find("Microsoft.Network/virtualNetworks", "lz-vnet")
        .unwrap();
    let id = "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/lz-network/providers/Microsoft.Network/virtualNetworks/lz-vnet";
    assert_eq!(vnet.id, id);
    assert_eq!(vnet.deployment, ["landing-zone", "lz-vnet"]);
    assert_eq!(t.outputs["vnetId"], json!(id));
}

/// [ARMNEST] A linked template with its parameters from a linked parameters file.
#[test]
fn armnest_parameters_link_supplies_the_linked_templates_parameters() {
    let t = vnetsim_arm::json::parse(
        r#"{"resources": [{"type": "Microsoft.Resources/deployments", "name": "d",
            "properties": {"templateLink": {"relativePath": "modules/peering.json"},
                           "parametersLink": {"relativePath": "modules/peering.parameters.json"}}}],
            "outputs": {"p": {"type": "string", "value": "[reference('d').outputs.peeringName.value]"}}}"#,
    )
    .unwrap();
    let out = evaluate(
        &t,
        &EvalOptions {
            template_dir: Some(dir().join("nested")),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(out.outputs["p"], json!("from-file/to-remote"));
    assert_eq!(out.resources[0].name, "from-file/to-remote");
}

struct ByTarget;
impl ReferenceResolver for ByTarget {
    fn resolve(&self, r: &ReferenceRequest<'_>) -> Option<Value> {
        Some(json!({"target": r.target, "id": r.resource_id, "full": r.full, "api": r.api_version}))
    }
}

/// [ARMRES] The resolver is told the resource id behind a name or a symbolic name.
#[test]
fn armres_reference_by_symbolic_name_gives_the_resolver_the_resource_id() {
    let t = vnetsim_arm::json::parse(
        r#"{"languageVersion": "2.0", "resources": {
            "nic": {"type": "Microsoft.Network/networkInterfaces", "apiVersion": "2023-04-01", "name": "nic-1", "properties": {}}},
            "outputs": {
              "bySymbol": {"type": "object", "value": "[reference('nic', '2023-04-01', 'Full')]"},
              "byName": {"type": "object", "value": "[reference('nic-1')]"}}}"#,
    )
    .unwrap();
    let out = evaluate(
        &t,
        &EvalOptions {
            resolver: Some(&ByTarget),
            ..Default::default()
        },
    )
    .unwrap();
    let id = out.resources[0].id.clone();
    assert_eq!(
        out.outputs["bySymbol"],
        json!({"target": "nic", "id": id, "full": true, "api": "2023-04-01"})
    );
    assert_eq!(
        out.outputs["byName"],
        json!({"target": "nic-1", "id": id, "full": false, "api": null})
    );
}

/// [ARMNEST] `resourceGroup()` in a nested template resolves to the parent's resource group in
/// outer scope (the default) and to the deployment's in inner scope; a linked template always
/// resolves to its own. The resources go to the deployment's resource group either way.
/// (https://learn.microsoft.com/azure/azure-resource-manager/templates/scope-functions,
/// "Function resolution in scopes": parentGroup / parentGroup / inlineGroup / linkedGroup.)
#[test]
fn armnest_scope_functions_resolve_to_parent_in_outer_scope_and_own_in_inner_or_linked() {
    let nested = |name: &str, rg: &str, scope: &str| {
        json!({"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": name, "resourceGroup": rg,
          "properties": {"mode": "Incremental", "expressionEvaluationOptions": {"scope": scope},
            "template": {"resources": [{"type": "Microsoft.Network/networkSecurityGroups", "name": format!("{name}-nsg"), "properties": {}}],
                         "outputs": {"rg": {"type": "string", "value": "[resourceGroup().name]"}}}}})
    };
    let t = json!({
        "resources": [
            nested("default", "inlineGroup", "outer"),
            nested("inner", "inlineGroup", "inner"),
            {"type": "Microsoft.Resources/deployments", "name": "linked", "resourceGroup": "linkedGroup",
             "properties": {"templateLink": {"relativePath": "modules/rg-name.json"}}}
        ],
        "outputs": {
            "parentRG": {"type": "string", "value": "[concat('Parent resource group is ', resourceGroup().name)]"},
            "defaultScopeRG": {"type": "string", "value": "[concat('Default scope resource group is ', reference('default').outputs.rg.value)]"},
            "innerScopeRG": {"type": "string", "value": "[concat('Inner scope resource group is ', reference('inner').outputs.rg.value)]"},
            "linkedRG": {"type": "string", "value": "[concat('Linked resource group is ', reference('linked').outputs.rg.value)]"}
        }
    });
    let identity = vnetsim_arm::Identity {
        resource_group: "parentGroup".into(),
        ..Default::default()
    };
    let out = evaluate(
        &t,
        &EvalOptions {
            identity,
            template_dir: Some(dir().join("nested")),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        out.outputs["parentRG"],
        json!("Parent resource group is parentGroup")
    );
    assert_eq!(
        out.outputs["defaultScopeRG"],
        json!("Default scope resource group is parentGroup")
    );
    assert_eq!(
        out.outputs["innerScopeRG"],
        json!("Inner scope resource group is inlineGroup")
    );
    assert_eq!(
        out.outputs["linkedRG"],
        json!("Linked resource group is linkedGroup")
    );
    let rg_of = |n: &str| {
        out.find("Microsoft.Network/networkSecurityGroups", n)
            .unwrap()
            .resource_group
            .clone()
    };
    assert_eq!(rg_of("default-nsg").as_deref(), Some("inlineGroup"));
    assert_eq!(rg_of("inner-nsg").as_deref(), Some("inlineGroup"));
    assert_eq!(rg_of("linked-nsg").as_deref(), Some("linkedGroup"));
}

/// Errors from a file name the line and column of the value that failed, in the main
/// template or in a linked one.
#[test]
fn template_errors_from_files_carry_line_and_column() {
    let base = std::env::temp_dir().join(format!("vnetsim-arm-pos-{}", std::process::id()));
    std::fs::create_dir_all(base.join("modules")).unwrap();
    std::fs::write(
        base.join("main.json"),
        "{\n  \"resources\": [\n    {\n      \"type\": \"Microsoft.Network/virtualNetworks\",\n      \"name\": \"[concat('a', copyIndex())]\",\n      \"copy\": {\"name\": \"c\", \"count\": 2}\n    },\n    {\"type\": \"Microsoft.Resources/deployments\", \"name\": \"l\",\n     \"properties\": {\"templateLink\": {\"relativePath\": \"modules/bad.json\"}}}\n  ]\n}",
    )
    .unwrap();
    std::fs::write(
        base.join("modules/bad.json"),
        "{\n  \"resources\": [\n    {\"type\": \"Microsoft.Network/networkSecurityGroups\",\n     \"name\": \"[nope()]\"}\n  ]\n}",
    )
    .unwrap();
    let e = evaluate_file(&base.join("main.json"), None, EvalOptions::default()).unwrap_err();
    let _ = std::fs::remove_dir_all(&base);
    let ArmError::Template {
        file,
        position,
        path,
        ..
    } = &e
    else {
        panic!("{e}")
    };
    assert!(file.ends_with("bad.json"), "{e}");
    assert_eq!(*position, Some((4, 14)), "{e}");
    assert!(path.ends_with(".resources[0].name"), "{e}");
    assert!(e.to_string().contains("bad.json:4:14: "), "{e}");
}

#[test]
fn armnest_a_parameter_the_nested_template_does_not_declare_is_named_with_its_path() {
    let t = json!({"resources": [{"type": "Microsoft.Resources/deployments", "name": "d",
        "properties": {"expressionEvaluationOptions": {"scope": "inner"},
            "parameters": {"unknown": {"value": 1}},
            "template": {"parameters": {"known": {"type": "int", "defaultValue": 0}}}}}]});
    let e = evaluate(&t, &EvalOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("resources[0].properties.parameters.unknown") && e.contains("does not declare"),
        "{e}"
    );
}

/// [ARMCOPY] copy-resources, "Iteration for a child resource": no copy loop on a child
/// declared inside its parent (a copied parent's nested children are fine).
#[test]
fn armcopy_a_nested_child_cannot_have_a_copy_loop() {
    let e = eval_json(
        r#"{"resources": [{"type": "Microsoft.Network/virtualNetworks", "name": "v",
            "resources": [{"type": "subnets", "name": "[concat('s', copyIndex())]", "copy": {"name": "c", "count": 2}}]}]}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("resources[0].resources[0].copy") && e.contains("cannot have a copy loop"),
        "{e}"
    );
}

/// [ARMCHILD] "Child resources can only be defined five levels deep."
#[test]
fn armchild_children_nest_at_most_five_levels() {
    let mut r = json!({"type": "f", "name": "f"});
    for t in ["e", "d", "c", "b"] {
        r = json!({"type": t, "name": t, "resources": [r]});
    }
    let five = json!({"resources": [{"type": "My.Rp/a", "name": "a", "resources": [r.clone()]}]});
    assert_eq!(
        evaluate(&five, &EvalOptions::default())
            .unwrap()
            .resources
            .len(),
        6
    );
    assert_eq!(
        evaluate(&five, &EvalOptions::default()).unwrap().resources[5].name,
        "a/b/c/d/e/f"
    );
    let six = json!({"resources": [{"type": "My.Rp/z", "name": "z", "resources": [{"type": "a", "name": "a", "resources": [r]}]}]});
    let e = evaluate(&six, &EvalOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("five levels"), "{e}");
}

/// Answers `reference()` of a public IP with its declaration only, as the import does.
struct DeclaredOnly;

impl ReferenceResolver for DeclaredOnly {
    fn resolve(&self, r: &ReferenceRequest<'_>) -> Option<Value> {
        r.resource_id?
            .contains("/publicIPAddresses/")
            .then(|| json!({"dnsSettings": {"domainNameLabel": "web"}}))
    }
}

/// [ARMRES] A property a deployed resource has but its declaration does not (a public IP's
/// `dnsSettings.fqdn`) is runtime state: deferred in an output, not an error; a missing output
/// of a nested deployment stays an error.
#[test]
fn armres_runtime_only_property_of_a_reference_is_deferred() {
    let text = r#"{"resources": [
        {"type": "Microsoft.Network/publicIPAddresses", "name": "pip",
         "properties": {"dnsSettings": {"domainNameLabel": "web"}}},
        {"type": "Microsoft.Resources/deployments", "name": "inner",
         "properties": {"expressionEvaluationOptions": {"scope": "inner"}, "mode": "Incremental",
           "template": {"resources": [], "outputs": {"a": {"type": "string", "value": "x"}}}}}],
      "outputs": {
        "fqdn": {"type": "string", "value": "[reference('pip').dnsSettings.fqdn]"},
        "label": {"type": "string", "value": "[reference('pip').dnsSettings['domainNameLabel']]"}}}"#;
    let t = evaluate(
        &vnetsim_arm::json::parse(text).unwrap(),
        &EvalOptions {
            resolver: Some(&DeclaredOnly),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(t.outputs["label"], json!("web"));
    assert_eq!(
        t.outputs["fqdn"],
        json!("[reference('pip').dnsSettings.fqdn]")
    );
    assert_eq!(t.deferred.len(), 1);
    assert_eq!(t.deferred[0].json_path, "outputs.fqdn.value");
    assert!(t.deferred[0].reason.contains("'fqdn'"), "{:?}", t.deferred);

    let bad = text.replace(
        "reference('pip').dnsSettings['domainNameLabel']",
        "reference('inner').outputs.b.value",
    );
    let e = evaluate(
        &vnetsim_arm::json::parse(&bad).unwrap(),
        &EvalOptions {
            resolver: Some(&DeclaredOnly),
            ..Default::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("has no property 'b'"), "{e}");
}

/// [ARMNEST] A nested deployment's parameter known only at deployment time (a storage
/// account's endpoint) is passed on as written and listed as deferred.
#[test]
fn armnest_parameter_known_only_at_deployment_is_passed_as_written() {
    let t = eval_json(
        r#"{"resources": [{"type": "Microsoft.Resources/deployments", "name": "vm",
             "properties": {"expressionEvaluationOptions": {"scope": "inner"}, "mode": "Incremental",
               "parameters": {"blob": {"value": "[reference('st').primaryEndpoints.blob]"},
                              "vnetName": {"value": "v1"}},
               "template": {"parameters": {"blob": {"type": "string"}, "vnetName": {"type": "string"}},
                 "resources": [{"type": "Microsoft.Network/virtualNetworks", "name": "[parameters('vnetName')]",
                   "tags": {"diag": "[parameters('blob')]"},
                   "properties": {"addressSpace": {"addressPrefixes": ["10.1.0.0/16"]}}}]}}}]}"#,
    )
    .unwrap();
    let vnet = t.find("Microsoft.Network/virtualNetworks", "v1").unwrap();
    assert_eq!(
        vnet.tags["diag"],
        json!("[reference('st').primaryEndpoints.blob]")
    );
    assert_eq!(t.deferred.len(), 1);
    assert_eq!(
        t.deferred[0].json_path,
        "resources[0].properties.parameters.blob.value"
    );
}

/// [ARMCHILD] A child declared inside its parent with a type two levels below it
/// (`blobServices/containers` named `default/logs`) gets the parent's type and name before
/// its own.
#[test]
fn armchild_relative_type_of_two_segments_inside_its_parent() {
    let t = eval_json(
        r#"{"resources": [{"type": "Microsoft.Storage/storageAccounts", "name": "st1",
             "resources": [{"type": "blobServices/containers", "name": "default/logs"},
                           {"type": "Microsoft.Storage/storageAccounts/blobServices", "name": "default"}]}]}"#,
    )
    .unwrap();
    let names: Vec<(&str, &str)> = t
        .resources
        .iter()
        .map(|r| (r.type_.as_str(), r.name.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("Microsoft.Storage/storageAccounts", "st1"),
            (
                "Microsoft.Storage/storageAccounts/blobServices/containers",
                "st1/default/logs"
            ),
            (
                "Microsoft.Storage/storageAccounts/blobServices",
                "st1/default"
            ),
        ]
    );
    let e = eval_json(
        r#"{"resources": [{"type": "Microsoft.Storage/storageAccounts", "name": "st1",
             "resources": [{"type": "blobServices/containers", "name": "logs"}]}]}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("needs one segment per type segment"), "{e}");
}

/// [ARMSTR] `newGuid()` and `utcNow()` in parameter defaults: a new value at each deployment in
/// Azure, fixed stand-ins here (distinct GUIDs, 2000-01-01 00:00:00 UTC), each with a warning.
#[test]
fn armstr_new_guid_and_utc_now_defaults_get_fixed_stand_ins() {
    let t = eval_json(
        r#"{"parameters": {"g1": {"type": "string", "defaultValue": "[newGuid()]"},
                           "g2": {"type": "string", "defaultValue": "[newGuid()]"},
                           "now": {"type": "string", "defaultValue": "[utcNow()]"},
                           "day": {"type": "string", "defaultValue": "[utcNow('yyyy-MM-dd')]"},
                           "u": {"type": "string", "defaultValue": "[utcNow('u')]"}},
            "outputs": {"all": {"type": "array",
              "value": "[createArray(parameters('g1'), parameters('g2'), parameters('now'), parameters('day'), parameters('u'))]"}}}"#,
    )
    .unwrap();
    assert_eq!(
        t.outputs["all"],
        json!([
            "00000000-0000-4000-8000-000000000001",
            "00000000-0000-4000-8000-000000000002",
            "20000101T000000Z",
            "2000-01-01",
            "2000-01-01 00:00:00Z"
        ])
    );
    assert_eq!(t.warnings.len(), 5, "{:?}", t.warnings);
}

/// [ARMRES] A resource named after a value known only at deployment time (directly, or through
/// a nested deployment's parameter) is left out with a warning; indexing such a value is
/// deferred, not an error.
#[test]
fn armres_a_name_known_only_at_deployment_leaves_the_resource_out() {
    let t = eval_json(
        r#"{"resources": [
            {"type": "Microsoft.Network/privateDnsZones", "name": "[reference('ase').dnsSuffix]"},
            {"type": "Microsoft.Resources/deployments", "name": "dns",
             "properties": {"expressionEvaluationOptions": {"scope": "inner"}, "mode": "Incremental",
               "parameters": {"zone": {"value": "[reference('ase').dnsSuffix]"}},
               "template": {"parameters": {"zone": {"type": "string"}},
                 "resources": [{"type": "Microsoft.Network/privateDnsZones", "name": "[parameters('zone')]"},
                               {"type": "Microsoft.Network/privateDnsZones", "name": "fixed.example"}],
                 "outputs": {"pools": {"type": "array", "value": "[reference('lb').backendAddressPools]"}}}}}],
          "outputs": {"first": {"type": "object", "value": "[reference('dns').outputs.pools.value[0]]"}}}"#,
    )
    .unwrap();
    let names: Vec<&str> = t.resources.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["fixed.example"]);
    assert_eq!(
        t.warnings
            .iter()
            .filter(|w| w.contains("known only at deployment time"))
            .count(),
        2,
        "{:?}",
        t.warnings
    );
    assert!(
        t.deferred
            .iter()
            .any(|d| d.json_path == "outputs.first.value")
    );
}

/// [ARMUDF] https://learn.microsoft.com/azure/azure-resource-manager/templates/user-defined-functions:
/// functions of two namespaces name spokes in a copy loop; an inner-scope nested template
/// declares its own function, and the parent's are not visible there.
#[test]
fn armudf_functions_name_spokes_and_an_inner_template_has_its_own() {
    let t = evaluate_file(
        &dir().join("functions/azuredeploy.json"),
        None,
        EvalOptions::default(),
    )
    .unwrap();
    let vnets: Vec<(&str, &Value)> = t
        .of_type("Microsoft.Network/virtualNetworks")
        .map(|r| {
            (
                r.name.as_str(),
                &r.properties["addressSpace"]["addressPrefixes"][0],
            )
        })
        .collect();
    assert_eq!(
        vnets,
        [
            ("contoso-spoke-00", &json!("10.1.0.0/16")),
            ("contoso-spoke-01", &json!("10.2.0.0/16")),
            ("contoso-hub-00", &json!("10.0.0.0/16")),
        ]
    );

    // The parent's `naming.vnetName` is not the inner template's: an error with its place.
    let text = std::fs::read_to_string(dir().join("functions/azuredeploy.json")).unwrap();
    let bad = text.replace(
        "[naming.hubName(parameters('name'))]",
        "[naming.vnetName(parameters('name'), 1)]",
    );
    let base = std::env::temp_dir().join(format!("vnetsim-arm-udf-{}", std::process::id()));
    std::fs::create_dir_all(&base).unwrap();
    std::fs::write(base.join("azuredeploy.json"), bad).unwrap();
    let e = evaluate_file(&base.join("azuredeploy.json"), None, EvalOptions::default())
        .unwrap_err()
        .to_string();
    let _ = std::fs::remove_dir_all(&base);
    assert!(
        e.contains("no user-defined function 'naming.vnetName'"),
        "{e}"
    );
    assert!(e.contains("[\"naming.hubName\"]"), "{e}");
    assert!(e.contains("azuredeploy.json:72:23: "), "{e}");
}

/// [ARMNEST] A nested deployment's parameter passed a value known only at deployment time (an
/// array of a resource's runtime state) is passed on as written; what the nested template
/// computes from it (`concat`, `length`) is deferred too, not a type error, so the template
/// still evaluates without runtime state (as 301-subnet-driven-deployment passes a VNet's
/// `reference(...).subnets` on).
#[test]
fn armnest_a_deferred_array_parameter_defers_what_is_computed_from_it() {
    let t = eval_json(
        r#"{"resources": [{"type": "Microsoft.Resources/deployments", "name": "next",
             "properties": {"expressionEvaluationOptions": {"scope": "inner"}, "mode": "Incremental",
               "parameters": {"subnets": {"value": "[reference('v0').subnets]"}},
               "template": {"parameters": {"subnets": {"type": "array"}},
                 "resources": [{"type": "Microsoft.Network/virtualNetworks", "name": "v1",
                   "tags": {"n": "[string(length(parameters('subnets')))]", "all": "[parameters('subnets')]"},
                   "properties": {"subnets": "[concat(parameters('subnets'), createArray('x'))]"}}]}}}]}"#,
    )
    .unwrap();
    let vnet = t.find("Microsoft.Network/virtualNetworks", "v1").unwrap();
    assert_eq!(vnet.tags["all"], json!("[reference('v0').subnets]"));
    assert_eq!(
        vnet.tags["n"],
        json!("[string(length(parameters('subnets')))]")
    );
    assert_eq!(
        vnet.properties["subnets"],
        json!("[concat(parameters('subnets'), createArray('x'))]")
    );
    assert_eq!(t.deferred.len(), 3, "{:?}", t.deferred);
}

/// [ARMNEST] An output of a nested deployment known only at deployment time stays so for the
/// deployment reading it (`reference('sbn0').outputs.subnets.value` passed on to the next, as
/// 301-subnet-driven-deployment chains its subnet deployments).
#[test]
fn armnest_a_deferred_output_read_by_another_deployment_stays_deferred() {
    let inner = |name: &str, subnets: &str| {
        format!(
            r#"{{"type": "Microsoft.Resources/deployments", "name": "{name}",
             "properties": {{"expressionEvaluationOptions": {{"scope": "inner"}}, "mode": "Incremental",
               "parameters": {{"subnets": {{"value": "{subnets}"}}}},
               "template": {{"parameters": {{"subnets": {{"type": "array"}}}},
                 "resources": [{{"type": "Microsoft.Network/virtualNetworks", "name": "{name}",
                   "properties": {{"subnets": "[concat(parameters('subnets'), createArray('x'))]"}}}}],
                 "outputs": {{"subnets": {{"type": "array", "value": "[reference('{name}').subnets]"}}}}}}}}}}"#
        )
    };
    let text = format!(
        r#"{{"resources": [{}, {}]}}"#,
        inner("sbn0", "[createArray()]"),
        inner("sbn1", "[reference('sbn0').outputs.subnets.value]")
    );
    let t = eval_json(&text).unwrap();
    let v0 = t.find("Microsoft.Network/virtualNetworks", "sbn0").unwrap();
    assert_eq!(v0.properties["subnets"], json!(["x"]));
    let v1 = t.find("Microsoft.Network/virtualNetworks", "sbn1").unwrap();
    assert_eq!(
        v1.properties["subnets"],
        json!("[concat(parameters('subnets'), createArray('x'))]")
    );
    assert!(
        t.deferred.iter().any(|d| d
            .reason
            .contains("output 'subnets' of nested deployment 'sbn0'")),
        "{:?}",
        t.deferred
    );
}

/// [ARMNEST] A nested deployment's parameter may be a Key Vault secret whose vault id is built
/// at deployment ("Reference secrets with dynamic ID",
/// https://learn.microsoft.com/azure/azure-resource-manager/templates/key-vault-parameter#reference-secrets-with-dynamic-id):
/// it gets the placeholder a parameters file's reference gets.
#[test]
fn armnest_a_key_vault_reference_with_a_dynamic_id_is_a_placeholder() {
    let t = eval_json(
        r#"{"parameters": {"secretName": {"type": "string", "defaultValue": "sqlAdmin"}},
            "resources": [{"type": "Microsoft.Resources/deployments", "name": "sql",
             "properties": {"expressionEvaluationOptions": {"scope": "inner"}, "mode": "Incremental",
               "parameters": {"adminPassword": {"reference": {
                   "keyVault": {"id": "[resourceId('Microsoft.KeyVault/vaults', 'kv')]"},
                   "secretName": "[parameters('secretName')]"}}},
               "template": {"parameters": {"adminPassword": {"type": "securestring"}},
                 "outputs": {"p": {"type": "string", "value": "[parameters('adminPassword')]"}},
                 "resources": [{"type": "Microsoft.Network/virtualNetworks", "name": "v",
                   "tags": {"p": "[parameters('adminPassword')]"}}]}}}]}"#,
    )
    .unwrap();
    let v = t.find("Microsoft.Network/virtualNetworks", "v").unwrap();
    assert_eq!(v.tags["p"], json!("<Key Vault secret sqlAdmin>"));
    let e = eval_json(
        r#"{"resources": [{"type": "Microsoft.Resources/deployments", "name": "sql",
             "properties": {"expressionEvaluationOptions": {"scope": "inner"}, "mode": "Incremental",
               "parameters": {"x": {"nothing": 1}}, "template": {"parameters": {"x": {"type": "string"}}}}}]}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("resources[0].properties.parameters.x"), "{e}");
}
