//! `routes --format az`, `rules --format az`, `flow-verify` and `next-hop`: the Azure CLI's
//! questions answered in its shapes, checked against what Microsoft's pages say those commands
//! print [IPFV] [NEXTHOP] [nsg-overview].

mod common;

use common::{json_of, scenario, vnetsim};
use serde_json::Value;

fn run(args: &[&str], file: &str) -> (i32, Value, String) {
    let mut all = vec![args[0].to_string(), scenario(file).display().to_string()];
    all.extend(args[1..].iter().map(|s| s.to_string()));
    let out = vnetsim().args(&all).output().expect("runs");
    let code = out.status.code().expect("exit code");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let value = if code == 0 && out.stdout.first() == Some(&b'{') {
        json_of(&out.stdout)
    } else {
        Value::Null
    };
    (code, value, stderr)
}

fn flow_verify(direction: &str, local: &str, remote: &str) -> Value {
    let (code, value, stderr) = run(
        &[
            "flow-verify",
            "--vm",
            "web1",
            "--direction",
            direction,
            "--protocol",
            "TCP",
            "--local",
            local,
            "--remote",
            remote,
            "--format",
            "az",
        ],
        "hub-and-spoke.yaml",
    );
    assert_eq!(code, 0, "{stderr}");
    value
}

/// test-ip-flow prints `access` and `ruleName`, user rules as `securityRules/NAME` and default
/// rules as `defaultSecurityRules/NAME`, in its alphabetical key order.
#[test]
fn flow_verify_az_is_access_and_rule_name() {
    let ssh = flow_verify("Inbound", "10.1.1.4:22", "10.2.1.4:50000");
    assert_eq!(
        serde_json::to_string(&ssh).expect("json"),
        r#"{"access":"Deny","ruleName":"securityRules/deny-ssh-from-spokes"}"#
    );
    let sql = flow_verify("Outbound", "10.1.1.4:*", "10.2.1.4:1433");
    assert_eq!(sql["access"], "Allow");
    assert_eq!(sql["ruleName"], "securityRules/allow-spokes-out");
    // Nothing the user wrote matches an Internet address: the default rules decide.
    let web = flow_verify("Outbound", "10.1.1.4:50000", "93.184.216.34:443");
    assert_eq!(web["access"], "Allow");
    assert_eq!(
        web["ruleName"],
        "defaultSecurityRules/AllowInternetOutBound"
    );
    let inbound = flow_verify("Inbound", "10.1.1.4:443", "93.184.216.34:50000");
    assert_eq!(inbound["access"], "Deny");
    assert_eq!(inbound["ruleName"], "defaultSecurityRules/DenyAllInbound");
}

/// Flow verify agrees with `explain` on the NSG decision of a probe the NSG decides.
#[test]
fn flow_verify_agrees_with_explain() {
    let (code, explained, stderr) = run(
        &[
            "explain",
            "--from",
            "db1",
            "--to",
            "web1",
            "--protocol",
            "tcp",
            "--dst-port",
            "22",
            "--format",
            "json",
        ],
        "hub-and-spoke.yaml",
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(explained["verdict"], "dropped", "{explained:#}");
    assert_eq!(explained["reason"], "nsg-denied", "{explained:#}");
    let text = serde_json::to_string(&explained).expect("json");
    assert!(text.contains("deny-ssh-from-spokes"), "{text}");
    let verified = flow_verify("Inbound", "10.1.1.4:22", "10.0.1.4:49152");
    // From the hub (the NVA) the deny rule does not apply (it names the spokes only).
    assert_eq!(verified["access"], "Allow");
    let verified = flow_verify("Inbound", "10.1.1.4:22", "10.2.1.4:49152");
    assert_eq!(verified["ruleName"], "securityRules/deny-ssh-from-spokes");
}

/// `*` stands only for the source port; a wrong address names the NIC's; a mistyped VM gets a
/// suggestion. Each is exit 2 with a message, never a panic.
#[test]
fn flow_verify_refuses_bad_questions_clearly() {
    let base = ["flow-verify", "--vm", "web1", "--protocol", "tcp"];
    let cases: [(&[&str], &str); 4] = [
        (
            &[
                "--direction",
                "outbound",
                "--local",
                "10.1.1.4:1",
                "--remote",
                "10.2.1.4:*",
            ],
            "stands only for the source port",
        ),
        (
            &[
                "--direction",
                "outbound",
                "--local",
                "10.1.1.9:1",
                "--remote",
                "10.2.1.4:80",
            ],
            "web1-nic 10.1.1.4",
        ),
        (
            &[
                "--direction",
                "outbound",
                "--local",
                "10.1.1.4",
                "--remote",
                "10.2.1.4:80",
            ],
            "ADDRESS:PORT",
        ),
        (
            &[
                "--direction",
                "outbound",
                "--local",
                "10.1.1.4:1",
                "--remote",
                "10.2.1.4:99999",
            ],
            "0-65535",
        ),
    ];
    for (extra, want) in cases {
        let args: Vec<&str> = base.iter().chain(extra.iter()).copied().collect();
        let (code, _, stderr) = run(&args, "hub-and-spoke.yaml");
        assert_eq!(code, 2, "{args:?}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
    }
    let (code, _, stderr) = run(
        &[
            "flow-verify",
            "--vm",
            "web",
            "--direction",
            "inbound",
            "--protocol",
            "tcp",
            "--local",
            "10.1.1.4:1",
            "--remote",
            "10.2.1.4:2",
        ],
        "hub-and-spoke.yaml",
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("did you mean `web1`?"), "{stderr}");
}

/// show-next-hop prints the next hop's address, type and route table: the table's ID for a
/// user-defined route, `System Route` otherwise, null address where the type has none
/// [NEXTHOP].
#[test]
fn next_hop_az_names_the_route_table_or_system_route() {
    let hop = |vm: &str, dest: &str| {
        let (code, value, stderr) = run(
            &["next-hop", "--vm", vm, "--dest-ip", dest, "--format", "az"],
            "hub-and-spoke.yaml",
        );
        assert_eq!(code, 0, "{stderr}");
        value
    };
    let nva = hop("web1", "10.2.1.4");
    assert_eq!(nva["nextHopType"], "VirtualAppliance");
    assert_eq!(nva["nextHopIpAddress"], "10.0.1.4");
    assert!(
        nva["routeTableId"]
            .as_str()
            .expect("id")
            .ends_with("/providers/Microsoft.Network/routeTables/spoke1-rt"),
        "{nva:#}"
    );
    let internet = hop("web1", "8.8.8.8");
    assert_eq!(
        serde_json::to_string(&internet).expect("json"),
        r#"{"nextHopIpAddress":null,"nextHopType":"Internet","routeTableId":"System Route"}"#
    );
    assert_eq!(hop("web1", "10.0.2.4")["nextHopType"], "VNetPeering");
    // No route to another spoke from spoke3 toward spoke2: Azure's reserved 10.0.0.0/8 None.
    assert_eq!(hop("batch1", "10.2.1.4")["nextHopType"], "None");
}

/// The az shape of effective routes: one prefix per route in a list, the next hop address in a
/// list (empty without one), a user route's name, and `null` names for system routes.
#[test]
fn routes_az_has_the_cli_keys_and_lists() {
    let (code, value, stderr) = run(
        &["routes", "--vm", "web1", "--format", "az"],
        "hub-and-spoke.yaml",
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(value["nextLink"], Value::Null);
    let routes = value["value"].as_array().expect("value");
    let keys: Vec<&str> = routes[0]
        .as_object()
        .expect("route")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "addressPrefix",
            "disableBgpRoutePropagation",
            "name",
            "nextHopIpAddress",
            "nextHopType",
            "source",
            "state"
        ]
    );
    let user = routes
        .iter()
        .find(|r| r["source"] == "User")
        .expect("a user route");
    assert_eq!(user["name"], "to-spoke2");
    assert_eq!(user["nextHopIpAddress"][0], "10.0.1.4");
    assert!(
        routes
            .iter()
            .filter(|r| r["source"] == "Default")
            .all(|r| r["name"].is_null())
    );
}

/// The az shape of effective NSGs: ports as ranges (`22-22`, `0-65535`), `*` as `0.0.0.0/0`,
/// Any as `All`, tags expanded, the subnet's association; a VM with two NICs must name one.
#[test]
fn rules_az_has_the_cli_spellings() {
    let (code, value, stderr) = run(
        &["rules", "--vm", "web1", "--format", "az"],
        "hub-and-spoke.yaml",
    );
    assert_eq!(code, 0, "{stderr}");
    let nsg = &value["value"][0];
    assert!(
        nsg["association"]["subnet"]["id"]
            .as_str()
            .expect("subnet id")
            .ends_with("virtualNetworks/spoke1/subnets/app")
    );
    let rules = nsg["effectiveSecurityRules"].as_array().expect("rules");
    let deny = rules
        .iter()
        .find(|r| r["name"] == "securityRules/deny-ssh-from-spokes")
        .expect("deny rule");
    assert_eq!(deny["destinationPortRange"], "22-22");
    assert_eq!(deny["destinationAddressPrefix"], "0.0.0.0/0");
    assert_eq!(
        deny["sourceAddressPrefixes"]
            .as_array()
            .expect("list")
            .len(),
        3
    );
    let vnet_in = rules
        .iter()
        .find(|r| r["name"] == "defaultSecurityRules/AllowVNetInBound")
        .expect("default rule");
    assert_eq!(vnet_in["protocol"], "All");
    assert_eq!(vnet_in["sourceAddressPrefix"], "VirtualNetwork");
    assert_eq!(vnet_in["priority"], 65000);
    let expanded = vnet_in["expandedSourceAddressPrefix"]
        .as_array()
        .expect("expanded");
    assert!(expanded.iter().any(|p| p == "10.1.0.0/16"), "{expanded:?}");
    assert_eq!(
        nsg["tagMap"]["VirtualNetwork"],
        Value::Array(expanded.clone())
    );
    // Six default rules plus the three user rules, each in its direction.
    assert_eq!(rules.len(), 9);
    let (code, _, stderr) = run(
        &["rules", "--vm", "app1", "--format", "az"],
        "asg-tiers.yaml",
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("`app1/app1-nic`"), "{stderr}");
}
