//! ARM templates imported: evaluated by `vnetsim-arm`, mapped by [`crate::map`].
//!
//! What it is for: [`import_template`] (a file) and [`import_template_text`] (text) evaluate
//! a template (with a parameters file and `--set` overrides) three times. The first pass gives
//! the declarations, which answer the second pass's `reference()` of the template's own
//! resources; mapping the second pass's resources allocates what Azure allocates at deployment
//! (dynamic NIC addresses, the firewall's private IP as the first usable address of its subnet,
//! public IP stand-ins). The last pass answers the template's `reference()` of its own
//! resources with those addresses (a route's next hop written as
//! `reference(firewall).ipConfigurations[0].properties.privateIPAddress`, say), and its
//! resources are mapped to the scenario. What it is not: the template language
//! (`vnetsim-arm`) or the mapping (`map`).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde_json::{Value, json};
use vnetsim_arm::{EvalOptions, EvaluatedTemplate, ReferenceRequest, ReferenceResolver};

use crate::ImportError;
use crate::map::{Import, address_key, to_scenario};
use crate::resource::Resource;

/// Imports `template` (with `parameters` and `set` overrides `name=value`) as a scenario
/// named `name`. Linked templates are read beside it.
pub fn import_template(
    template: &Path,
    parameters: Option<&Path>,
    set: &[String],
    name: &str,
) -> Result<Import, ImportError> {
    let file = template.display().to_string();
    let arm = |e: vnetsim_arm::ArmError| ImportError::Input {
        file: file.clone(),
        message: e.to_string(),
    };
    let text = vnetsim_arm::read_file(template).map_err(arm)?;
    let params = match parameters {
        Some(p) => Some((
            vnetsim_arm::read_file(p).map_err(arm)?,
            p.display().to_string(),
        )),
        None => None,
    };
    let source = Source {
        text: &text,
        file: &file,
        parameters: params.as_ref().map(|(t, f)| (t.as_str(), f.as_str())),
        dir: template.parent(),
    };
    import(&source, set, name)
}

/// Imports a template given as text (`file` names it in messages), with an optional
/// parameters file as (text, name), as [`import_template`] does a file; it reads no file, so a
/// `templateLink` is an error.
pub fn import_template_text(
    template: &str,
    file: &str,
    parameters: Option<(&str, &str)>,
    set: &[String],
    name: &str,
) -> Result<Import, ImportError> {
    let source = Source {
        text: template,
        file,
        parameters,
        dir: None,
    };
    import(&source, set, name)
}

/// A template to import: its text, its name, its parameters file (text, name) and the
/// directory its linked templates are read from (none: links are an error).
struct Source<'a> {
    text: &'a str,
    file: &'a str,
    parameters: Option<(&'a str, &'a str)>,
    dir: Option<&'a Path>,
}

fn import(source: &Source<'_>, set: &[String], name: &str) -> Result<Import, ImportError> {
    let arm = |e: vnetsim_arm::ArmError| ImportError::Input {
        file: source.file.to_string(),
        message: e.to_string(),
    };
    let overrides = vnetsim_arm::parse_set(set).map_err(arm)?;
    let evaluate = |resolver: Option<&dyn ReferenceResolver>| {
        let opts = EvalOptions {
            overrides: overrides.clone(),
            resolver,
            template_dir: source.dir.map(Path::to_path_buf),
            ..EvalOptions::default()
        };
        vnetsim_arm::evaluate_text(source.text, source.file, source.parameters, opts).map_err(arm)
    };
    // A pass without runtime state gives the declarations; a second answers `reference()` of
    // them (a subnet declared again by a nested template with
    // `reference(subnet).addressPrefix`), so that the allocation pass reads whole resources.
    let declared = evaluate(None)?;
    let declared = Runtime::new(&declared, &BTreeMap::new());
    let first = evaluate(Some(&declared))?;
    let (mut first_resources, _) = resources(&first);
    allocate_public_ips(&mut first_resources);
    let allocated = to_scenario(&first_resources, name)?;
    let mut addresses = allocated.addresses;
    // A public IP's stand-in answers `reference(pip).ipAddress` (an NSG rule naming a VM's
    // public address, say) whatever the IP is attached to.
    for (key, ip) in public_ip_addresses(&first_resources) {
        addresses.entry(key).or_insert(ip);
    }
    let runtime = Runtime::new(&first, &addresses);
    let second = evaluate(Some(&runtime))?;
    let (mut second_resources, redeclared) = resources(&second);
    let public = allocate_public_ips(&mut second_resources);
    let mut import = to_scenario(&second_resources, name)?;
    import.warnings.extend(redeclared);
    import.warnings.extend(public);
    import.warnings.extend(second.warnings.iter().cloned());
    for d in &second.deferred {
        import.warnings.push(format!(
            "{}: `{}` left as written ({})",
            d.json_path, d.expression, d.reason
        ));
    }
    Ok(import)
}

/// Gives every public IP of the template without an `ipAddress` the address a deployment
/// would allocate, a stand-in from the documentation ranges (203.0.113.0/24, then
/// 198.51.100.0/24 and 192.0.2.0/24) in template order, and returns one warning for each. A
/// template never holds the address: Azure allocates a Static one when the resource is
/// created and a Dynamic one when it is attached to a running resource
/// (https://learn.microsoft.com/azure/virtual-network/ip-services/public-ip-addresses#ip-address-assignment),
/// so a deployed template's NICs, firewalls and gateways all have one.
fn allocate_public_ips(resources: &mut [Resource]) -> Vec<String> {
    let mut warnings = Vec::new();
    let mut next = 0usize;
    for r in resources.iter_mut() {
        if !r
            .kind
            .eq_ignore_ascii_case("microsoft.network/publicipaddresses")
        {
            continue;
        }
        let props = &mut r.body["properties"];
        if props.get("ipAddress").and_then(Value::as_str).is_some() {
            continue;
        }
        let Some(addr) = stand_in(next) else {
            warnings.push(format!(
                "public IP {}: no stand-in address left, left without one",
                r.name
            ));
            continue;
        };
        next += 1;
        if !props.is_object() {
            *props = json!({});
        }
        props["ipAddress"] = json!(addr);
        warnings.push(format!(
            "public IP {}: a deployment allocates its address; {addr} stands for it",
            r.name
        ));
    }
    warnings
}

/// The address of every public IP that has one (declared or a stand-in), by
/// [`address_key`].
fn public_ip_addresses(resources: &[Resource]) -> Vec<(String, String)> {
    resources
        .iter()
        .filter(|r| {
            r.kind
                .eq_ignore_ascii_case("microsoft.network/publicipaddresses")
        })
        .filter_map(|r| {
            let ip = r.body["properties"].get("ipAddress")?.as_str()?;
            Some((address_key(&r.kind, &r.name), ip.to_string()))
        })
        .collect()
}

/// The `i`-th stand-in public address: 203.0.113.1-254, then 198.51.100.1-254, then
/// 192.0.2.1-254 (RFC 5737), none after.
fn stand_in(i: usize) -> Option<String> {
    let (net, host) = (i / 254, i % 254 + 1);
    let base = ["203.0.113", "198.51.100", "192.0.2"].get(net)?;
    Some(format!("{base}.{host}"))
}

/// The evaluated resources as the mapper reads them, one per resource id, with a warning for
/// each declared again. A deployment that declares a resource twice (a VNet deployed, then
/// deployed again by a nested template with the domain controllers' DNS servers) sends both
/// requests; the later one is a PUT of the whole resource that replaces it, so the later
/// declaration is the resource the deployment leaves
/// (https://learn.microsoft.com/azure/azure-resource-manager/templates/deployment-modes#incremental-mode).
/// It keeps the first one's place in the order.
fn resources(t: &EvaluatedTemplate) -> (Vec<Resource>, Vec<String>) {
    let mut out: Vec<Resource> = Vec::new();
    let mut at: HashMap<String, usize> = HashMap::new();
    let mut warnings = Vec::new();
    for r in t.resources.iter().map(resource) {
        let id = r.body["id"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match at.get(&id) {
            Some(&i) => {
                warnings.push(format!(
                    "{} {} is declared at {} and again at {}: the later declaration is what the deployment leaves",
                    r.kind, r.name, out[i].origin, r.origin
                ));
                out[i] = r;
            }
            None => {
                at.insert(id, out.len());
                out.push(r);
            }
        }
    }
    canonical_ids(&mut out);
    (out, warnings)
}

/// Rewrites every reference (`{"id": ...}`) to a resource of the template, or to a child
/// declared inside one (a subnet, a load balancer's frontend, pool or probe), with the id as
/// declared. Azure resource names are case-insensitive
/// (https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules),
/// so a template may declare `VNet01` and attach its NICs to `Vnet01/Subnet-1`; the scenario
/// names things as they are declared.
fn canonical_ids(resources: &mut [Resource]) {
    let mut ids: HashMap<String, String> = HashMap::new();
    for r in resources.iter() {
        let Some(id) = r.body["id"].as_str() else {
            continue;
        };
        ids.insert(id.to_ascii_lowercase(), id.to_string());
        for (key, v) in r.body["properties"].as_object().into_iter().flatten() {
            for c in v.as_array().into_iter().flatten() {
                if let Some(name) = c.get("name").and_then(Value::as_str) {
                    let child = format!("{id}/{key}/{name}");
                    ids.insert(child.to_ascii_lowercase(), child);
                }
            }
        }
    }
    fn walk(v: &mut Value, ids: &HashMap<String, String>, top: bool) {
        match v {
            Value::Object(o) => {
                for (k, x) in o.iter_mut() {
                    match x {
                        Value::String(s) if !top && k.eq_ignore_ascii_case("id") => {
                            if let Some(c) = ids.get(&s.to_ascii_lowercase()) {
                                s.clone_from(c);
                            }
                        }
                        _ => walk(x, ids, false),
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| walk(x, ids, false)),
            _ => {}
        }
    }
    for r in resources.iter_mut() {
        walk(&mut r.body, &ids, true);
    }
}

/// One evaluated resource as the mapper reads it.
fn resource(r: &vnetsim_arm::Resource) -> Resource {
    Resource {
        kind: r.type_.clone(),
        name: r.name.clone(),
        location: r.location.clone(),
        body: json!({
            "id": r.id,
            "name": r.name,
            "type": r.type_,
            "sku": r.sku.clone().unwrap_or(Value::Null),
            "properties": r.properties,
        }),
        origin: r.json_path.clone(),
    }
}

/// What `reference()` of a template's own resource returns: its declared properties with the
/// addresses a deployment would give it.
struct Runtime {
    by_id: HashMap<String, Value>,
    by_name: HashMap<String, String>,
}

impl Runtime {
    fn new(t: &EvaluatedTemplate, addresses: &BTreeMap<String, String>) -> Self {
        let mut by_id = HashMap::new();
        let mut by_name = HashMap::new();
        for r in &t.resources {
            let mut props = r.properties.clone();
            let kind = r.type_.to_ascii_lowercase();
            let own = addresses.get(&address_key(&r.type_, &r.name));
            match kind.as_str() {
                "microsoft.network/networkinterfaces" | "microsoft.network/azurefirewalls" => {
                    if let Some(ip) = own {
                        if let Some(first) = props
                            .get_mut("ipConfigurations")
                            .and_then(Value::as_array_mut)
                            .and_then(|c| c.first_mut())
                        {
                            set_private_ip(first, ip);
                        }
                        if kind.ends_with("azurefirewalls") && props.is_object() {
                            props["hubIPAddresses"] = json!({ "privateIPAddress": ip });
                        }
                    }
                }
                "microsoft.network/publicipaddresses" => {
                    if let (Some(ip), Some(obj)) = (own, props.as_object_mut()) {
                        obj.insert("ipAddress".into(), json!(ip));
                    }
                    add_fqdn(&mut props, r.location.as_deref());
                }
                "microsoft.network/loadbalancers" => {
                    if let Some(fes) = props
                        .get_mut("frontendIPConfigurations")
                        .and_then(Value::as_array_mut)
                    {
                        for fe in fes {
                            let fname = fe.get("name").and_then(Value::as_str).unwrap_or("");
                            let key = address_key(&r.type_, &format!("{}/{fname}", r.name));
                            if let Some(ip) = addresses.get(&key) {
                                let ip = ip.clone();
                                set_private_ip(fe, &ip);
                            }
                        }
                    }
                }
                _ => {}
            }
            // What Azure returns of a resource gives every child declared inside it (a VNet's
            // subnets, a load balancer's frontends and pools) its id, `<parent id>/<collection>/
            // <name>`: `reference(vnet).subnets[0].id` reads it.
            add_child_ids(&mut props, &r.id);
            // Children declared inside their parent (a VNet's `subnets`, an NSG's
            // `securityRules`, a route table's `routes`) are resources of their own to
            // `reference()`: `reference(resourceId('.../subnets', vnet, 'AzureBastionSubnet'))
            // .addressPrefix` reads the subnet's declared properties.
            for (collection, child_type) in inline_children(&kind) {
                for c in props
                    .get(*collection)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let Some(cname) = c.get("name").and_then(Value::as_str) else {
                        continue;
                    };
                    let cid = format!("{}/{child_type}/{cname}", r.id).to_ascii_lowercase();
                    by_id.insert(
                        cid,
                        json!({
                            "id": format!("{}/{child_type}/{cname}", r.id),
                            "name": cname,
                            "type": format!("{}/{child_type}", r.type_),
                            "properties": c.get("properties").cloned().unwrap_or(json!({})),
                        }),
                    );
                }
            }
            let id = r.id.to_ascii_lowercase();
            by_name.insert(r.name.to_ascii_lowercase(), id.clone());
            // Declared again (a subnet a nested template updates with
            // `reference(subnet).addressPrefix`): what the later declaration leaves as written is
            // still what the earlier one says.
            if let Some(earlier) = by_id.get(&id).and_then(|e| e.get("properties"))
                && let (Some(now), Some(before)) = (props.as_object_mut(), earlier.as_object())
            {
                for (k, v) in before {
                    let kept = now.get(k).is_none_or(is_kept_expression);
                    if kept {
                        now.insert(k.clone(), v.clone());
                    }
                }
            }
            by_id.insert(
                id,
                json!({
                    "id": r.id,
                    "name": r.name,
                    "type": r.type_,
                    "location": r.location,
                    "sku": r.sku,
                    "properties": props,
                }),
            );
        }
        Runtime { by_id, by_name }
    }
}

/// Whether `v` is an expression the evaluation left as written (`"[reference(...).x]"`).
fn is_kept_expression(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.starts_with('[') && !s.starts_with("[[") && s.ends_with(']'))
}

/// The child collections a network resource of type `kind` (lower case) declares inline, as
/// (property, child type segment).
fn inline_children(kind: &str) -> &'static [(&'static str, &'static str)] {
    match kind {
        "microsoft.network/virtualnetworks" => &[
            ("subnets", "subnets"),
            ("virtualNetworkPeerings", "virtualNetworkPeerings"),
        ],
        "microsoft.network/networksecuritygroups" => &[("securityRules", "securityRules")],
        "microsoft.network/routetables" => &[("routes", "routes")],
        _ => &[],
    }
}

/// Whether `kind` (`Microsoft.Network/networkInterfaces`) is a resource type of the network
/// provider, whose runtime properties the import knows.
fn is_network_type(kind: &str) -> bool {
    kind.get(..18)
        .is_some_and(|p| p.eq_ignore_ascii_case("microsoft.network/"))
}

/// Gives a public IP with a DNS name label the name Azure creates for it,
/// `<label>.<location>.cloudapp.azure.com`
/// (https://learn.microsoft.com/azure/virtual-network/ip-services/public-ip-addresses#dns-name-label),
/// as `dnsSettings.fqdn`; the location as a region name (`East US` is `eastus`).
fn add_fqdn(props: &mut Value, location: Option<&str>) {
    let Some(dns) = props.get_mut("dnsSettings").and_then(Value::as_object_mut) else {
        return;
    };
    if dns.contains_key("fqdn") {
        return;
    }
    let (Some(label), Some(location)) = (
        dns.get("domainNameLabel").and_then(Value::as_str),
        location.filter(|l| !l.is_empty()),
    ) else {
        return;
    };
    let region: String = location
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    let fqdn = format!("{}.{region}.cloudapp.azure.com", label.to_ascii_lowercase());
    dns.insert("fqdn".into(), json!(fqdn));
}

/// Gives each named object of an array property of `props` (a child declared inside its
/// parent) its resource id, `<parent>/<property>/<name>`, unless it has one.
fn add_child_ids(props: &mut Value, parent: &str) {
    let Some(obj) = props.as_object_mut() else {
        return;
    };
    for (key, v) in obj.iter_mut() {
        for c in v.as_array_mut().into_iter().flatten() {
            let Some(c) = c.as_object_mut() else {
                continue;
            };
            if c.contains_key("id") {
                continue;
            }
            if let Some(name) = c.get("name").and_then(Value::as_str) {
                let id = format!("{parent}/{key}/{name}");
                c.insert("id".into(), json!(id));
            }
        }
    }
}

/// Sets `properties.privateIPAddress` of an IP configuration.
fn set_private_ip(config: &mut Value, ip: &str) {
    if let Some(obj) = config.as_object_mut() {
        let props = obj.entry("properties").or_insert_with(|| json!({}));
        if let Some(p) = props.as_object_mut() {
            p.insert("privateIPAddress".into(), json!(ip));
        }
    }
}

impl ReferenceResolver for Runtime {
    fn resolve(&self, request: &ReferenceRequest<'_>) -> Option<Value> {
        let id = request
            .resource_id
            .map(str::to_ascii_lowercase)
            .or_else(|| {
                let t = request.target.to_ascii_lowercase();
                if self.by_id.contains_key(&t) {
                    Some(t)
                } else {
                    self.by_name.get(&t).cloned()
                }
            })?;
        let full = self.by_id.get(&id)?;
        // Only network resources are answered: what a deployment adds to another provider's
        // resource (a storage account's `primaryEndpoints`, a SQL server's
        // `fullyQualifiedDomainName`) is not in its declaration, so reading it would fail where
        // Azure succeeds; left unanswered, the expression is kept as written with a warning.
        if !is_network_type(full.get("type").and_then(Value::as_str).unwrap_or("")) {
            return None;
        }
        Some(if request.full {
            full.clone()
        } else {
            full.get("properties").cloned().unwrap_or(Value::Null)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_ips_without_an_address_get_documentation_stand_ins_in_order() {
        assert_eq!(stand_in(0).as_deref(), Some("203.0.113.1"));
        assert_eq!(stand_in(253).as_deref(), Some("203.0.113.254"));
        assert_eq!(stand_in(254).as_deref(), Some("198.51.100.1"));
        assert_eq!(stand_in(3 * 254), None);
        let pip = |name: &str, props: Value| Resource {
            kind: "Microsoft.Network/publicIPAddresses".into(),
            name: name.into(),
            location: None,
            body: json!({ "name": name, "properties": props }),
            origin: String::new(),
        };
        let mut rs = vec![
            pip("a", json!({ "publicIPAllocationMethod": "Dynamic" })),
            pip("b", json!({ "ipAddress": "20.1.2.3" })),
            pip("c", Value::Null),
        ];
        let w = allocate_public_ips(&mut rs);
        assert_eq!(w.len(), 2);
        assert_eq!(rs[0].body["properties"]["ipAddress"], "203.0.113.1");
        assert_eq!(rs[1].body["properties"]["ipAddress"], "20.1.2.3");
        assert_eq!(rs[2].body["properties"]["ipAddress"], "203.0.113.2");
        assert_eq!(
            public_ip_addresses(&rs),
            [
                (
                    "microsoft.network/publicipaddresses/a".into(),
                    "203.0.113.1".into()
                ),
                (
                    "microsoft.network/publicipaddresses/b".into(),
                    "20.1.2.3".into()
                ),
                (
                    "microsoft.network/publicipaddresses/c".into(),
                    "203.0.113.2".into()
                ),
            ]
        );
    }

    #[test]
    fn a_public_ip_with_a_dns_label_gets_its_cloudapp_fqdn() {
        let mut p = json!({ "dnsSettings": { "domainNameLabel": "MyVm" } });
        add_fqdn(&mut p, Some("East US"));
        assert_eq!(p["dnsSettings"]["fqdn"], "myvm.eastus.cloudapp.azure.com");
        let mut given = json!({ "dnsSettings": { "domainNameLabel": "a", "fqdn": "x.example" } });
        add_fqdn(&mut given, Some("westeurope"));
        assert_eq!(given["dnsSettings"]["fqdn"], "x.example");
        let mut none = json!({ "publicIPAllocationMethod": "Static" });
        add_fqdn(&mut none, Some("westeurope"));
        assert!(none.get("dnsSettings").is_none());
    }

    #[test]
    fn children_declared_inside_their_parent_get_their_ids() {
        let mut p = json!({
            "subnets": [{"name": "web"}, {"name": "data", "id": "/given"}],
            "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
        });
        add_child_ids(
            &mut p,
            "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v",
        );
        assert_eq!(
            p["subnets"][0]["id"],
            "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v/subnets/web"
        );
        assert_eq!(p["subnets"][1]["id"], "/given");
        assert_eq!(p["addressSpace"]["addressPrefixes"][0], "10.0.0.0/16");
    }

    #[test]
    fn only_network_provider_types_are_answered() {
        assert!(is_network_type("Microsoft.Network/networkInterfaces"));
        assert!(is_network_type("microsoft.network/azureFirewalls"));
        assert!(!is_network_type("Microsoft.Storage/storageAccounts"));
        assert!(!is_network_type("Microsoft.Sql/servers"));
        assert!(!is_network_type("Microsoft.Net"));
    }
}
