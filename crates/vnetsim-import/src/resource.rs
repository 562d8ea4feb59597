//! One Azure resource as the importer sees it, whatever it came from.
//!
//! What it is for: [`Resource`] (type, full name, location, properties, SKU) and the helpers
//! that read Azure's JSON as Azure does: keys case-insensitively, a property either under
//! `properties` (ARM templates, `az graph query`) or flattened to the top level (`az ... list`),
//! and resource IDs (`/subscriptions/.../providers/Microsoft.Network/virtualNetworks/v/subnets/s`)
//! parsed into a type and a full name. What it is not: the mapping to a scenario (`map`).

use serde_json::Value;

/// One resource.
#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    /// Resource type, e.g. `Microsoft.Network/virtualNetworks/subnets`.
    pub kind: String,
    /// Full name, child names after a `/` (e.g. `hub/GatewaySubnet`).
    pub name: String,
    /// Azure region, when given.
    pub location: Option<String>,
    /// The resource's JSON: its `properties` (or the flattened object) and everything else.
    pub body: Value,
    /// Where it came from (file and JSON path), for messages.
    pub origin: String,
}

impl Resource {
    /// Whether the type is `kind` (case-insensitive, as Azure compares types).
    pub fn is(&self, kind: &str) -> bool {
        self.kind.eq_ignore_ascii_case(kind)
    }

    /// A property: `properties.<key>` or, flattened, `<key>` (keys case-insensitive).
    pub fn prop(&self, key: &str) -> Option<&Value> {
        prop(&self.body, key)
    }

    /// The last segment of the name (a child resource's own name).
    pub fn short_name(&self) -> &str {
        self.name.rsplit('/').next().unwrap_or(&self.name)
    }
}

/// `obj[key]` with the key compared case-insensitively.
pub fn get<'a>(obj: &'a Value, key: &str) -> Option<&'a Value> {
    let map = obj.as_object()?;
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// A property of `obj`: `obj.properties.<key>`, or `obj.<key>` when flattened.
pub fn prop<'a>(obj: &'a Value, key: &str) -> Option<&'a Value> {
    get(obj, "properties")
        .and_then(|p| get(p, key))
        .or_else(|| get(obj, key))
        .filter(|v| !v.is_null())
}

/// A string property.
pub fn prop_str<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    prop(obj, key).and_then(Value::as_str)
}

/// A boolean property (`true`/`false`, or the strings ARM also accepts).
pub fn prop_bool(obj: &Value, key: &str) -> Option<bool> {
    match prop(obj, key)? {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// An integer property: a number, or a string of one, which ARM converts to the integer the
/// resource provider takes (`"frontendPort": "2222"` deploys as 2222).
pub fn prop_int(obj: &Value, key: &str) -> Option<i64> {
    match prop(obj, key)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// An array property (empty when absent).
pub fn prop_array<'a>(obj: &'a Value, key: &str) -> &'a [Value] {
    prop(obj, key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// The `id` a reference holds (`{"id": "..."}`), as type and full name.
pub fn reference(obj: &Value, key: &str) -> Option<(String, String)> {
    let r = prop(obj, key)?;
    let id = get(r, "id").and_then(Value::as_str)?;
    parse_id(id)
}

/// A resource ID parsed into its type and full name:
/// `/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v/subnets/x`
/// is (`Microsoft.Network/virtualNetworks/subnets`, `v/x`). `None` for anything else.
pub fn parse_id(id: &str) -> Option<(String, String)> {
    let lower = id.to_ascii_lowercase();
    let at = lower.rfind("/providers/")?;
    let rest: Vec<&str> = id[at + "/providers/".len()..]
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    // namespace, type, name, (child type, child name)*
    if rest.len() < 3 || rest.len().is_multiple_of(2) {
        return None;
    }
    let mut kind = format!("{}/{}", rest[0], rest[1]);
    let mut name = rest[2].to_string();
    for pair in rest[3..].chunks(2) {
        kind.push('/');
        kind.push_str(pair[0]);
        name.push('/');
        name.push_str(pair[1]);
    }
    Some((kind, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_integer_property_may_be_written_as_a_string() {
        let v = serde_json::json!({"properties": {"a": 80, "b": "2222", "c": "x", "d": 1.5}});
        assert_eq!(prop_int(&v, "a"), Some(80));
        assert_eq!(prop_int(&v, "b"), Some(2222));
        assert_eq!(prop_int(&v, "c"), None);
        assert_eq!(prop_int(&v, "d"), None);
        assert_eq!(prop_int(&v, "e"), None);
    }
    use serde_json::json;

    #[test]
    fn resource_ids_give_type_and_full_name() {
        let id = "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/hub/subnets/GatewaySubnet";
        assert_eq!(
            parse_id(id),
            Some((
                "Microsoft.Network/virtualNetworks/subnets".into(),
                "hub/GatewaySubnet".into()
            ))
        );
        assert_eq!(
            parse_id(
                "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/routeTables/rt"
            ),
            Some(("Microsoft.Network/routeTables".into(), "rt".into()))
        );
        assert_eq!(parse_id("not an id"), None);
        assert_eq!(
            parse_id("/providers/Microsoft.Network/virtualNetworks"),
            None
        );
    }

    #[test]
    fn properties_are_read_nested_or_flattened_with_keys_in_any_case() {
        let nested = json!({"name": "a", "properties": {"addressPrefix": "10.0.0.0/24"}});
        let flat = json!({"name": "a", "AddressPrefix": "10.0.0.0/24"});
        assert_eq!(prop_str(&nested, "addressPrefix"), Some("10.0.0.0/24"));
        assert_eq!(prop_str(&flat, "addressprefix"), Some("10.0.0.0/24"));
        assert_eq!(prop_bool(&json!({"x": "True"}), "x"), Some(true));
        assert!(prop_array(&flat, "subnets").is_empty());
    }
}
