//! Azure CLI exports read into [`Resource`]s.
//!
//! What it is for: the JSON that `az network vnet list`, `az network nic list`, `az network nsg
//! list`, `az network route-table list`, `az vm list`, `az network public-ip list` (and the other
//! `list` commands of resources vnetsim maps) print: an array of resources whose properties are
//! flattened to the top level; a single resource (`show`); or the result of `az graph query`
//! (`{"data": [...]}`, rows keeping `properties`). What it is not: a reader of ARM templates
//! (expressions, parameters and loops need the template evaluator).

use serde_json::Value;

use crate::ImportError;
use crate::resource::{Resource, get, parse_id};

/// The resources in one file's JSON text (`file` names it in messages).
pub fn resources_from_json(text: &str, file: &str) -> Result<Vec<Resource>, ImportError> {
    let value: Value = serde_json::from_str(text).map_err(|e| ImportError::Input {
        file: file.to_string(),
        message: format!("not JSON (line {}, column {}): {e}", e.line(), e.column()),
    })?;
    let (rows, base) = match &value {
        Value::Array(rows) => (rows.as_slice(), String::new()),
        Value::Object(_) => match get(&value, "data").and_then(Value::as_array) {
            Some(rows) => (rows.as_slice(), "data".to_string()),
            None => (std::slice::from_ref(&value), String::new()),
        },
        _ => {
            return Err(ImportError::Input {
                file: file.to_string(),
                message: "expected an array of resources (what `az ... list` prints), one \
                          resource, or `az graph query` output"
                    .into(),
            });
        }
    };
    rows.iter()
        .enumerate()
        .map(|(i, row)| {
            let origin = if base.is_empty() {
                format!("{file}: [{i}]")
            } else {
                format!("{file}: {base}[{i}]")
            };
            resource(row, origin)
        })
        .collect()
}

/// One row: its type from `type` (or its `id`), its full name from its `id` (or `name`).
fn resource(row: &Value, origin: String) -> Result<Resource, ImportError> {
    let from_id = get(row, "id").and_then(Value::as_str).and_then(parse_id);
    let kind = get(row, "type")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| from_id.as_ref().map(|(k, _)| k.clone()));
    let name = from_id
        .as_ref()
        .map(|(_, n)| n.clone())
        .or_else(|| get(row, "name").and_then(Value::as_str).map(str::to_string));
    let (Some(kind), Some(name)) = (kind, name) else {
        return Err(ImportError::Input {
            file: origin,
            message: "a resource needs a `type` and a `name` (or an `id`)".into(),
        });
    };
    Ok(Resource {
        kind,
        name,
        location: get(row, "location")
            .and_then(Value::as_str)
            .map(str::to_string),
        body: row.clone(),
        origin,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_output_show_output_and_graph_rows_are_read() {
        let list = r#"[{"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/hub",
                        "name": "hub", "type": "Microsoft.Network/virtualNetworks", "location": "westeurope"}]"#;
        let r = resources_from_json(list, "vnets.json").unwrap();
        assert_eq!(
            (r[0].kind.as_str(), r[0].name.as_str()),
            ("Microsoft.Network/virtualNetworks", "hub")
        );
        assert_eq!(r[0].location.as_deref(), Some("westeurope"));
        let graph = r#"{"count": 1, "data": [{"name": "rt", "type": "microsoft.network/routetables", "properties": {}}]}"#;
        let r = resources_from_json(graph, "graph.json").unwrap();
        assert!(r[0].is("Microsoft.Network/routeTables"));
        assert_eq!(r[0].origin, "graph.json: data[0]");
        let show = r#"{"name": "x", "type": "Microsoft.Network/networkSecurityGroups"}"#;
        assert_eq!(resources_from_json(show, "f").unwrap().len(), 1);
    }

    #[test]
    fn bad_input_names_the_file_and_where() {
        let e = resources_from_json("[{\"name\": ", "nics.json")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("nics.json: not JSON (line 1"), "{e}");
        let e = resources_from_json("[{\"name\": \"x\"}]", "nics.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("nics.json: [0]") && e.contains("`type`"), "{e}");
    }
}
