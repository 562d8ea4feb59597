//! The ARM template functions that depend only on their arguments (string, array, object,
//! comparison, logical, numeric, conversion, hashing).
//!
//! What it is for: [`call`] evaluates one such function on already-evaluated arguments, with
//! the semantics of the function reference pages under
//! <https://learn.microsoft.com/azure/azure-resource-manager/templates/template-functions>
//! (each test names the page its expected value comes from). What it is not: the functions
//! that read the deployment (`parameters`, `variables`, `copyIndex`, `resourceId`,
//! `reference`, `resourceGroup`, ...), which live in `eval`, nor the lazy `if`.

use serde_json::{Map, Value};

use crate::hash;

/// The longest string a function may produce: ARM's limit on a template literal (131,072
/// characters) times eight, so hostile input cannot exhaust memory by doubling strings.
pub const MAX_STRING: usize = 1 << 20;

/// The most elements an array a function produces may have.
pub const MAX_ARRAY: usize = 100_000;

/// The largest value a function may produce, as JSON text: the 4 MB Azure allows a whole
/// template once expanded, variables and parameters resolved
/// (https://learn.microsoft.com/azure/azure-resource-manager/templates/error-job-size-exceeded),
/// so nesting cannot double a value past it.
pub const MAX_VALUE: usize = 4 << 20;

/// The size of `v` as compact JSON text (strings counted unescaped), counted no further than
/// just past `limit`: a result above `limit` is above it, whatever its exact size.
pub fn value_size(v: &Value, limit: usize) -> usize {
    fn walk(v: &Value, acc: &mut usize, limit: usize) {
        if *acc > limit {
            return;
        }
        match v {
            Value::Null | Value::Bool(_) => *acc += 5,
            Value::Number(_) => *acc += 8,
            Value::String(s) => *acc += s.len() + 2,
            Value::Array(a) => {
                *acc += 2;
                for x in a {
                    *acc += 1;
                    walk(x, acc, limit);
                    if *acc > limit {
                        return;
                    }
                }
            }
            Value::Object(o) => {
                *acc += 2;
                for (k, x) in o {
                    *acc += k.len() + 4;
                    walk(x, acc, limit);
                    if *acc > limit {
                        return;
                    }
                }
            }
        }
    }
    let mut acc = 0;
    walk(v, &mut acc, limit);
    acc
}

/// Checks a function's result against [`MAX_STRING`], [`MAX_ARRAY`] and [`MAX_VALUE`]; gives
/// its size (see [`value_size`]).
pub fn check_size(name: &str, v: &Value) -> Result<usize, String> {
    match v {
        Value::String(s) if s.len() > MAX_STRING => Err(format!(
            "{name}() produced a string of {} bytes, above the limit of {MAX_STRING}",
            s.len()
        )),
        Value::Array(a) if a.len() > MAX_ARRAY => Err(format!(
            "{name}() produced an array of {} elements, above the limit of {MAX_ARRAY}",
            a.len()
        )),
        _ => match value_size(v, MAX_VALUE) {
            n if n > MAX_VALUE => Err(format!(
                "{name}() produced a value of more than {MAX_VALUE} bytes as JSON, above the 4 MB Azure allows an expanded template"
            )),
            n => Ok(n),
        },
    }
}

/// Evaluates the pure function `name` (lower-case) on `args`. `Ok(None)`: no such function.
pub fn call(name: &str, args: Vec<Value>) -> Result<Option<Value>, String> {
    let v = match name {
        "concat" => concat(args)?,
        "format" => format_fn(&args)?,
        "equals" => {
            arity(name, &args, 2, 2)?;
            Value::Bool(args[0] == args[1])
        }
        "not" => {
            arity(name, &args, 1, 1)?;
            Value::Bool(!as_bool(name, &args[0])?)
        }
        "and" | "or" => {
            arity(name, &args, 2, usize::MAX)?;
            let mut acc = name == "and";
            for a in &args {
                let b = as_bool(name, a)?;
                acc = if name == "and" { acc && b } else { acc || b };
            }
            Value::Bool(acc)
        }
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "null" => Value::Null,
        "json" => {
            arity(name, &args, 1, 1)?;
            let s = as_str(name, &args[0])?;
            // Json.NET's reader: single-quoted strings accepted [ARMSTR].
            crate::json::parse_lenient(s)
                .map_err(|e| format!("json(): the argument is not valid JSON: {e}"))?
        }
        "string" => {
            arity(name, &args, 1, 1)?;
            Value::String(to_display(&args[0]))
        }
        "int" => {
            arity(name, &args, 1, 1)?;
            match &args[0] {
                Value::Number(n) if n.is_i64() => args[0].clone(),
                Value::String(s) => Value::from(
                    s.trim()
                        .parse::<i64>()
                        .map_err(|_| format!("int(): cannot convert '{s}' to an integer"))?,
                ),
                other => {
                    return Err(format!(
                        "int() expects an integer or a string, got {}",
                        kind(other)
                    ));
                }
            }
        }
        // https://learn.microsoft.com/azure/azure-resource-manager/templates/template-functions-numeric#float:
        // a string or an integer converted to a floating point number.
        "float" => {
            arity(name, &args, 1, 1)?;
            let f = match &args[0] {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            }
            .filter(|f| f.is_finite())
            .ok_or_else(|| {
                format!(
                    "float(): cannot convert {} to a floating point number",
                    to_display(&args[0])
                )
            })?;
            serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
        }
        "bool" => {
            arity(name, &args, 1, 1)?;
            match &args[0] {
                Value::Bool(b) => Value::Bool(*b),
                Value::Number(n) => Value::Bool(n.as_i64() != Some(0)),
                Value::String(s) if s.eq_ignore_ascii_case("true") => Value::Bool(true),
                Value::String(s) if s.eq_ignore_ascii_case("false") => Value::Bool(false),
                other => {
                    return Err(format!(
                        "bool(): cannot convert {} to a boolean",
                        to_display(other)
                    ));
                }
            }
        }
        "array" => {
            arity(name, &args, 1, 1)?;
            match &args[0] {
                Value::Array(_) => args[0].clone(),
                other => Value::Array(vec![other.clone()]),
            }
        }
        "length" => {
            arity(name, &args, 1, 1)?;
            Value::from(match &args[0] {
                Value::String(s) => utf16(s).len(),
                Value::Array(a) => a.len(),
                Value::Object(o) => o.len(),
                other => {
                    return Err(format!(
                        "length() expects a string, array or object, got {}",
                        kind(other)
                    ));
                }
            } as i64)
        }
        "empty" => {
            arity(name, &args, 1, 1)?;
            Value::Bool(match &args[0] {
                Value::Null => true,
                Value::String(s) => s.is_empty(),
                Value::Array(a) => a.is_empty(),
                Value::Object(o) => o.is_empty(),
                other => {
                    return Err(format!(
                        "empty() expects a string, array or object, got {}",
                        kind(other)
                    ));
                }
            })
        }
        "range" => {
            arity(name, &args, 2, 2)?;
            let (start, count) = (as_int(name, &args[0])?, as_int(name, &args[1])?);
            if !(0..=10_000).contains(&count)
                || start
                    .checked_add(count)
                    .is_none_or(|e| e > i64::from(i32::MAX))
            {
                return Err(format!(
                    "range({start}, {count}): the count must be 0 to 10000 and start + count at most 2147483647"
                ));
            }
            Value::Array((start..start + count).map(Value::from).collect())
        }
        "padleft" => {
            arity(name, &args, 2, 3)?;
            let s = match &args[0] {
                Value::String(s) => s.clone(),
                Value::Number(n) if n.is_i64() => n.to_string(),
                other => {
                    return Err(format!(
                        "padLeft() expects a string or integer, got {}",
                        kind(other)
                    ));
                }
            };
            let total = as_int(name, &args[1])?;
            if total > MAX_STRING as i64 {
                return Err(format!(
                    "padLeft(): a total length of {total} exceeds {MAX_STRING}"
                ));
            }
            let pad = match args.get(2) {
                None => ' ',
                Some(v) => {
                    let p = as_str(name, v)?;
                    let mut cs = p.chars();
                    match (cs.next(), cs.next()) {
                        (Some(c), None) => c,
                        _ => return Err("padLeft(): the padding must be a single character".into()),
                    }
                }
            };
            let len = utf16(&s).len() as i64;
            let width = usize::try_from(total.saturating_sub(len)).unwrap_or(0);
            let mut out: String = std::iter::repeat_n(pad, width).collect();
            out.push_str(&s);
            Value::String(out)
        }
        "split" => {
            arity(name, &args, 2, 2)?;
            let s = as_str(name, &args[0])?;
            let delims: Vec<String> = match &args[1] {
                Value::String(d) => vec![d.clone()],
                Value::Array(a) => a
                    .iter()
                    .map(|d| as_str(name, d).map(str::to_string))
                    .collect::<Result<_, _>>()?,
                other => {
                    return Err(format!(
                        "split() expects a string or array delimiter, got {}",
                        kind(other)
                    ));
                }
            };
            Value::Array(
                split_multi(s, &delims)
                    .into_iter()
                    .map(Value::String)
                    .collect(),
            )
        }
        "replace" => {
            arity(name, &args, 3, 3)?;
            let (s, old, new) = (
                as_str(name, &args[0])?,
                as_str(name, &args[1])?,
                as_str(name, &args[2])?,
            );
            // ARM's expression engine is .NET, whose `String.Replace` (ordinal, case-sensitive)
            // rejects an empty old value ("String cannot be of zero length"); the replace page
            // (template-functions-string#replace) is silent on it, so this follows .NET.
            if old.is_empty() {
                return Err("replace(): the old string cannot be empty".into());
            }
            Value::String(s.replace(old, new))
        }
        "tolower" => Value::String(as_str(name, one(name, &args)?)?.to_lowercase()),
        "toupper" => Value::String(as_str(name, one(name, &args)?)?.to_uppercase()),
        "trim" => Value::String(as_str(name, one(name, &args)?)?.trim().to_string()),
        "union" => union(args)?,
        "intersection" => intersection(args)?,
        "contains" => {
            arity(name, &args, 2, 2)?;
            Value::Bool(match (&args[0], &args[1]) {
                (Value::Array(a), x) => a.contains(x),
                (Value::Object(o), Value::String(k)) => o.keys().any(|x| x.eq_ignore_ascii_case(k)),
                // Case-sensitive for strings, case-insensitive for object keys [ARMSTR].
                (Value::String(s), x) => s.contains(&to_display(x)),
                (c, _) => {
                    return Err(format!(
                        "contains() expects an array, object or string, got {}",
                        kind(c)
                    ));
                }
            })
        }
        "first" | "last" => {
            let v = one(name, &args)?;
            match v {
                Value::Array(a) => (if name == "first" { a.first() } else { a.last() })
                    .cloned()
                    .unwrap_or(Value::Null),
                Value::String(s) => {
                    let c = if name == "first" {
                        s.chars().next()
                    } else {
                        s.chars().last()
                    };
                    Value::String(c.map(String::from).unwrap_or_default())
                }
                other => {
                    return Err(format!(
                        "{name}() expects an array or string, got {}",
                        kind(other)
                    ));
                }
            }
        }
        "createarray" => Value::Array(args),
        "createobject" => {
            if !args.len().is_multiple_of(2) {
                return Err("createObject() expects pairs of key and value".into());
            }
            let mut m = Map::new();
            for pair in args.chunks(2) {
                m.insert(as_str(name, &pair[0])?.to_string(), pair[1].clone());
            }
            Value::Object(m)
        }
        "add" | "sub" | "mul" | "div" | "mod" => {
            arity(name, &args, 2, 2)?;
            let (a, b) = (as_int(name, &args[0])?, as_int(name, &args[1])?);
            let r = match name {
                "add" => a.checked_add(b),
                "sub" => a.checked_sub(b),
                "mul" => a.checked_mul(b),
                _ if b == 0 => return Err(format!("{name}(): division by zero")),
                "div" => a.checked_div(b),
                _ => a.checked_rem(b),
            };
            Value::from(r.ok_or_else(|| format!("{name}({a}, {b}) overflows a 64-bit integer"))?)
        }
        "min" | "max" => {
            let items = if args.len() == 1 && args[0].is_array() {
                args[0].as_array().cloned().unwrap_or_default()
            } else {
                args
            };
            let ints = items
                .iter()
                .map(|v| as_int(name, v))
                .collect::<Result<Vec<_>, _>>()?;
            let r = if name == "min" {
                ints.iter().min()
            } else {
                ints.iter().max()
            };
            Value::from(*r.ok_or_else(|| format!("{name}() needs at least one value"))?)
        }
        "less" | "lessorequals" | "greater" | "greaterorequals" => {
            arity(name, &args, 2, 2)?;
            let ord = match (&args[0], &args[1]) {
                (Value::String(a), Value::String(b)) => a.as_str().cmp(b.as_str()),
                (a, b) => as_int(name, a)?.cmp(&as_int(name, b)?),
            };
            Value::Bool(match name {
                "less" => ord.is_lt(),
                "lessorequals" => ord.is_le(),
                "greater" => ord.is_gt(),
                _ => ord.is_ge(),
            })
        }
        // Date functions page, "dateTimeAdd": the default format is the one its examples
        // print (`4/7/2023 2:53:14 PM`).
        "datetimeadd" => {
            arity(name, &args, 2, 3)?;
            let base = as_str(name, &args[0])?;
            let t = DateTime::parse(base).ok_or_else(|| {
                format!("dateTimeAdd(): '{base}' is not an ISO 8601 date and time")
            })?;
            let duration = as_str(name, &args[1])?;
            let t = t
                .add_duration(duration)
                .map_err(|e| format!("dateTimeAdd(): '{duration}' {e}"))?;
            let format = match args.get(2) {
                Some(f) => as_str(name, f)?,
                None => "M/d/yyyy h:mm:ss tt",
            };
            Value::String(t.format(format))
        }
        "datetimefromepoch" => {
            let n = as_int(name, one(name, &args)?)?;
            let t = DateTime::from_seconds(n).ok_or_else(|| {
                format!(
                    "dateTimeFromEpoch(): {n} is outside {} to {}, years 1 to 9999",
                    DateTime::MIN.seconds,
                    DateTime::MAX.seconds
                )
            })?;
            Value::String(t.format("yyyy-MM-dd'T'HH:mm:ss'Z'"))
        }
        "datetimetoepoch" => {
            let text = as_str(name, one(name, &args)?)?;
            let t = DateTime::parse(text).ok_or_else(|| {
                format!("dateTimeToEpoch(): '{text}' is not an ISO 8601 date and time")
            })?;
            Value::from(t.seconds)
        }
        // Resource functions page, "pickZones": the zones of a zonal region, `numberOfZones`
        // of them from `offset`. Which regions have zones is Azure's catalogue, not the
        // template's: every region is taken to have three, as the regions a network is
        // deployed to commonly do.
        "pickzones" => {
            arity(name, &args, 3, 5)?;
            let count = args
                .get(3)
                .map(|v| as_int(name, v))
                .transpose()?
                .unwrap_or(1);
            let offset = args
                .get(4)
                .map(|v| as_int(name, v))
                .transpose()?
                .unwrap_or(0);
            Value::Array(
                (1..=3)
                    .skip(usize::try_from(offset).unwrap_or(0))
                    .take(usize::try_from(count).unwrap_or(0))
                    .map(|z: i64| Value::String(z.to_string()))
                    .collect(),
            )
        }
        // Object functions page, "tryGet": null when a key or index is missing.
        "tryget" => {
            arity(name, &args, 2, usize::MAX)?;
            let mut cur = args[0].clone();
            for k in &args[1..] {
                cur = match (&cur, k) {
                    (Value::Object(o), Value::String(key)) => o
                        .iter()
                        .find(|(x, _)| x.eq_ignore_ascii_case(key))
                        .map(|(_, v)| v.clone())
                        .unwrap_or(Value::Null),
                    (Value::Array(a), Value::Number(n)) => n
                        .as_i64()
                        .and_then(|i| usize::try_from(i).ok())
                        .and_then(|i| a.get(i).cloned())
                        .unwrap_or(Value::Null),
                    (Value::Null, _) => Value::Null,
                    (c, k) => {
                        return Err(format!(
                            "tryGet() cannot look up {} in {}",
                            kind(k),
                            kind(c)
                        ));
                    }
                };
            }
            cur
        }
        // CIDR functions page: parseCidr, cidrSubnet, cidrHost (IPv4).
        "parsecidr" => {
            let (net, len) = cidr(name, as_str(name, one(name, &args)?)?)?;
            let size = 1u64 << (32 - len);
            let first = net;
            let last = first + size - 1;
            let ip = |v: u64| std::net::Ipv4Addr::from(v as u32).to_string();
            let (usable_first, usable_last) = if len >= 31 {
                (first, last)
            } else {
                (first + 1, last - 1)
            };
            serde_json::json!({
                "network": ip(first), "netmask": ip((u64::from(u32::MAX) << (32 - len)) & u64::from(u32::MAX)),
                "broadcast": ip(last), "firstUsable": ip(usable_first), "lastUsable": ip(usable_last),
                "cidr": len,
            })
        }
        "cidrsubnet" => {
            arity(name, &args, 3, 3)?;
            let (net, len) = cidr(name, as_str(name, &args[0])?)?;
            let new_len = as_int(name, &args[1])?;
            let index = as_int(name, &args[2])?;
            if !(len..=32).contains(&new_len) {
                return Err(format!(
                    "cidrSubnet(): the new prefix length {new_len} is outside {len} to 32"
                ));
            }
            let count = 1i64 << (new_len - len);
            if !(0..count).contains(&index) {
                return Err(format!(
                    "cidrSubnet(): subnet index {index} is outside 0 to {}",
                    count - 1
                ));
            }
            let start = net + ((index as u64) << (32 - new_len));
            Value::String(format!(
                "{}/{new_len}",
                std::net::Ipv4Addr::from(start as u32)
            ))
        }
        "cidrhost" => {
            arity(name, &args, 2, 2)?;
            let (net, len) = cidr(name, as_str(name, &args[0])?)?;
            let index = as_int(name, &args[1])?;
            // The host index counts usable addresses: 0 is the network's first one after
            // the network address (none is skipped in a /31 or /32).
            let size = 1i64 << (32 - len);
            let (skip, usable) = if len >= 31 { (0, size) } else { (1, size - 2) };
            if !(0..usable).contains(&index) {
                return Err(format!(
                    "cidrHost(): host index {index} is outside 0 to {}",
                    usable - 1
                ));
            }
            Value::String(
                std::net::Ipv4Addr::from((net + (skip + index) as u64) as u32).to_string(),
            )
        }
        "coalesce" => args
            .into_iter()
            .find(|v| !v.is_null())
            .unwrap_or(Value::Null),
        "substring" => {
            arity(name, &args, 2, 3)?;
            let s = utf16(as_str(name, &args[0])?);
            let start = as_int(name, &args[1])?;
            let len = match args.get(2) {
                Some(l) => as_int(name, l)?,
                None => s.len() as i64 - start,
            };
            if start < 0 || len < 0 || start.checked_add(len).is_none_or(|e| e > s.len() as i64) {
                return Err(format!(
                    "substring(): start {start} and length {len} are outside a string of length {}",
                    s.len()
                ));
            }
            Value::String(String::from_utf16_lossy(
                &s[start as usize..(start + len) as usize],
            ))
        }
        "indexof" | "lastindexof" => {
            arity(name, &args, 2, 2)?;
            // Case-insensitive [ARMSTR] (indexOf, lastIndexOf).
            let s = utf16(&as_str(name, &args[0])?.to_lowercase());
            let f = utf16(&as_str(name, &args[1])?.to_lowercase());
            let pos = if f.is_empty() {
                Some(if name == "indexof" {
                    0
                } else {
                    s.len().saturating_sub(1)
                })
            } else if f.len() > s.len() {
                None
            } else {
                let mut hits = (0..=s.len() - f.len()).filter(|&i| s[i..i + f.len()] == f[..]);
                if name == "indexof" {
                    hits.next()
                } else {
                    hits.next_back()
                }
            };
            Value::from(pos.map_or(-1, |p| p as i64))
        }
        "startswith" | "endswith" => {
            arity(name, &args, 2, 2)?;
            // Case-insensitive [ARMSTR].
            let s = as_str(name, &args[0])?.to_lowercase();
            let f = as_str(name, &args[1])?.to_lowercase();
            Value::Bool(if name == "startswith" {
                s.starts_with(&f)
            } else {
                s.ends_with(&f)
            })
        }
        "take" | "skip" => {
            arity(name, &args, 2, 2)?;
            let n = as_int(name, &args[1])?.max(0) as usize;
            match &args[0] {
                Value::Array(a) => {
                    let n = n.min(a.len());
                    Value::Array(if name == "take" {
                        a[..n].to_vec()
                    } else {
                        a[n..].to_vec()
                    })
                }
                Value::String(s) => {
                    let u = utf16(s);
                    let n = n.min(u.len());
                    Value::String(String::from_utf16_lossy(if name == "take" {
                        &u[..n]
                    } else {
                        &u[n..]
                    }))
                }
                Value::Null => Value::Null,
                other => {
                    return Err(format!(
                        "{name}() expects an array or string, got {}",
                        kind(other)
                    ));
                }
            }
        }
        "join" => {
            arity(name, &args, 2, 2)?;
            let Value::Array(a) = &args[0] else {
                return Err(format!("join() expects an array, got {}", kind(&args[0])));
            };
            let sep = as_str(name, &args[1])?;
            Value::String(a.iter().map(to_display).collect::<Vec<_>>().join(sep))
        }
        "uniquestring" | "guid" => {
            arity(name, &args, 1, usize::MAX)?;
            let parts = args
                .iter()
                .map(|a| as_str(name, a))
                .collect::<Result<Vec<_>, _>>()?;
            Value::String(if name == "guid" {
                hash::guid(&parts)
            } else {
                hash::unique_string(&parts)
            })
        }
        "base64" => Value::String(base64_encode(as_str(name, one(name, &args)?)?.as_bytes())),
        "base64tostring" | "base64tojson" => {
            let bytes = base64_decode(as_str(name, one(name, &args)?)?)
                .ok_or_else(|| format!("{name}(): the argument is not base64"))?;
            let text = String::from_utf8(bytes)
                .map_err(|_| format!("{name}(): the decoded bytes are not UTF-8"))?;
            if name == "base64tostring" {
                Value::String(text)
            } else {
                crate::json::parse_lenient(&text)
                    .map_err(|e| format!("base64ToJson(): not JSON: {e}"))?
            }
        }
        "items" => {
            // An object as [{key, value}] in key order (object functions page, "items").
            let Value::Object(o) = one(name, &args)? else {
                return Err(format!("items() expects an object, got {}", kind(&args[0])));
            };
            Value::Array(
                o.iter()
                    .map(|(k, v)| serde_json::json!({"key": k, "value": v}))
                    .collect(),
            )
        }
        // String functions page, "uriComponent" / "uriComponentToString" / "dataUri" /
        // "dataUriToString".
        "uricomponent" => Value::String(uri_escape(as_str(name, one(name, &args)?)?)),
        "uricomponenttostring" => Value::String(
            uri_unescape(as_str(name, one(name, &args)?)?).ok_or_else(|| {
                format!("{name}(): the argument is not a percent-encoded UTF-8 string")
            })?,
        ),
        "datauri" => {
            let v = one(name, &args)?;
            let text = match v {
                Value::String(s) => s.clone(),
                other => to_display(other),
            };
            Value::String(format!(
                "data:text/plain;charset=utf8;base64,{}",
                base64_encode(text.as_bytes())
            ))
        }
        "datauritostring" => {
            let text = as_str(name, one(name, &args)?)?;
            let (head, data) = text
                .strip_prefix("data:")
                .and_then(|t| t.split_once(','))
                .ok_or_else(|| format!("{name}(): '{text}' is not a data URI"))?;
            let bytes = if head.ends_with(";base64") {
                base64_decode(data).ok_or_else(|| format!("{name}(): the data is not base64"))?
            } else {
                uri_unescape(data)
                    .ok_or_else(|| format!("{name}(): the data is not percent-encoded"))?
                    .into_bytes()
            };
            Value::String(
                String::from_utf8(bytes)
                    .map_err(|_| format!("{name}(): the decoded bytes are not UTF-8"))?,
            )
        }
        "uri" => {
            arity(name, &args, 2, 2)?;
            let (base, rel) = (as_str(name, &args[0])?, as_str(name, &args[1])?);
            Value::String(resolve_uri(base, rel))
        }
        _ => return Ok(None),
    };
    Ok(Some(v))
}

/// `uri(base, relative)`: the relative reference replaces everything after the base's last `/`.
pub fn resolve_uri(base: &str, rel: &str) -> String {
    if rel.contains("://") {
        return rel.to_string();
    }
    let base = base.split(['?', '#']).next().unwrap_or(base);
    match base.rfind('/') {
        Some(i) => format!("{}{}", &base[..=i], rel.trim_start_matches('/')),
        None => rel.to_string(),
    }
}

/// A UTC instant to the second, as the date functions read and write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    /// Seconds since 1970-01-01 00:00:00 UTC.
    pub seconds: i64,
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01, as (year, month, day).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

fn days_in_month(y: i64, m: i64) -> i64 {
    days_from_civil(
        if m == 12 { y + 1 } else { y },
        if m == 12 { 1 } else { m + 1 },
        1,
    ) - days_from_civil(y, m, 1)
}

impl DateTime {
    /// 2000-01-01 00:00:00 UTC, the stand-in for the deployment's time.
    pub const STAND_IN: DateTime = DateTime {
        seconds: 946_684_800,
    };

    /// 0001-01-01 00:00:00 UTC, the earliest instant: ARM's date functions are .NET's, whose
    /// dates run from year 1 to 9999
    /// (https://learn.microsoft.com/dotnet/api/system.datetime.minvalue).
    pub const MIN: DateTime = DateTime {
        seconds: -62_135_596_800,
    };

    /// 9999-12-31 23:59:59 UTC, the latest instant
    /// (https://learn.microsoft.com/dotnet/api/system.datetime.maxvalue).
    pub const MAX: DateTime = DateTime {
        seconds: 253_402_300_799,
    };

    /// The instant `seconds` after 1970-01-01 00:00:00 UTC, if within [`Self::MIN`] to
    /// [`Self::MAX`].
    pub fn from_seconds(seconds: i64) -> Option<DateTime> {
        (Self::MIN.seconds..=Self::MAX.seconds)
            .contains(&seconds)
            .then_some(DateTime { seconds })
    }

    /// (year, month, day, hour, minute, second).
    pub fn parts(self) -> (i64, i64, i64, i64, i64, i64) {
        let days = self.seconds.div_euclid(86_400);
        let rest = self.seconds.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        (y, m, d, rest / 3600, rest % 3600 / 60, rest % 60)
    }

    fn from_parts(y: i64, m: i64, d: i64, h: i64, mi: i64, s: i64) -> DateTime {
        DateTime {
            seconds: days_from_civil(y, m, d) * 86_400 + h * 3600 + mi * 60 + s,
        }
    }

    /// Reads an ISO 8601 date and time as the date functions take it: `2020-04-07T14:53:14Z`,
    /// `2020-04-07 14:53:14Z`, `2020-04-07` (fractions of a second and an offset of `Z` or
    /// `+hh:mm` accepted).
    pub fn parse(text: &str) -> Option<DateTime> {
        let t = text.trim();
        let num = |s: &str| -> Option<i64> {
            (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse().ok())
                .flatten()
        };
        let (date, time) = match t.find(['T', 't', ' ']) {
            Some(i) => (&t[..i], &t[i + 1..]),
            None => (t, ""),
        };
        let mut dp = date.split('-');
        let (y, m, d) = (num(dp.next()?)?, num(dp.next()?)?, num(dp.next()?)?);
        if dp.next().is_some()
            || !(1..=9999).contains(&y)
            || !(1..=12).contains(&m)
            || d < 1
            || d > days_in_month(y, m)
        {
            return None;
        }
        let (mut h, mut mi, mut s, mut offset) = (0, 0, 0, 0);
        if !time.is_empty() {
            let (clock, zone) = match time.find(['Z', 'z', '+', '-']) {
                Some(i) => (&time[..i], &time[i..]),
                None => (time, ""),
            };
            let clock = clock.split('.').next()?;
            let mut cp = clock.split(':');
            h = num(cp.next()?)?;
            mi = num(cp.next()?)?;
            s = cp.next().map_or(Some(0), num)?;
            if h > 23 || mi > 59 || s > 59 {
                return None;
            }
            if let Some(z) = zone.strip_prefix(['+', '-']) {
                let (zh, zm) = z.split_once(':').unwrap_or((z, "0"));
                let sign = if zone.starts_with('-') { -1 } else { 1 };
                let (zh, zm) = (num(zh)?, num(zm)?);
                if zh > 14 || zm > 59 {
                    return None;
                }
                offset = sign * (zh * 3600 + zm * 60);
            } else if !zone.is_empty() && !zone.eq_ignore_ascii_case("z") {
                return None;
            }
        }
        DateTime::from_seconds(DateTime::from_parts(y, m, d, h, mi, s).seconds - offset)
    }

    /// Adds an ISO 8601 duration (`P3Y`, `-P9D`, `PT1H30M`, `P1W`): years and months move the
    /// calendar date (the day kept, or the month's last day), the rest adds time. The error
    /// says why (not a duration, or a result outside years 1 to 9999, as .NET refuses one).
    pub fn add_duration(self, duration: &str) -> Result<DateTime, String> {
        const NOT: &str = "is not an ISO 8601 duration";
        let (sign, d) = match duration.trim().strip_prefix('-') {
            Some(rest) => (-1, rest),
            None => (1, duration.trim()),
        };
        let d = d.strip_prefix(['P', 'p']).ok_or(NOT)?;
        let (date, time) = match d.find(['T', 't']) {
            Some(i) => (&d[..i], Some(&d[i + 1..])),
            None => (d, None),
        };
        let fields = |s: &str, units: &str| -> Option<Vec<(char, i64)>> {
            let mut out = Vec::new();
            let mut n = String::new();
            for c in s.chars() {
                if c.is_ascii_digit() {
                    n.push(c);
                } else {
                    let u = c.to_ascii_uppercase();
                    if n.is_empty() || !units.contains(u) {
                        return None;
                    }
                    out.push((u, n.parse().ok()?));
                    n.clear();
                }
            }
            n.is_empty().then_some(out)
        };
        let date = fields(date, "YMWD").ok_or(NOT)?;
        let time = match time {
            Some("") => return Err(NOT.into()),
            Some(t) => fields(t, "HMS").ok_or(NOT)?,
            None => Vec::new(),
        };
        if date.is_empty() && time.is_empty() {
            return Err(NOT.into());
        }
        const OUT: &str = "takes the date outside years 1 to 9999";
        // Every step checked: a duration of 10^18 years overflows 64 bits, not only the
        // calendar.
        let step = |acc: i64, n: i64, unit: i64| {
            n.checked_mul(unit)
                .and_then(|x| x.checked_mul(sign))
                .and_then(|x| acc.checked_add(x))
                .ok_or(OUT)
        };
        let (y, m, dd, h, mi, s) = self.parts();
        let mut months = y * 12 + (m - 1);
        let mut secs = 0i64;
        for (u, n) in date {
            match u {
                'Y' => months = step(months, n, 12)?,
                'M' => months = step(months, n, 1)?,
                'W' => secs = step(secs, n, 7 * 86_400)?,
                _ => secs = step(secs, n, 86_400)?,
            }
        }
        for (u, n) in time {
            let unit = match u {
                'H' => 3600,
                'M' => 60,
                _ => 1,
            };
            secs = step(secs, n, unit)?;
        }
        let (ny, nm) = (months.div_euclid(12), months.rem_euclid(12) + 1);
        if !(1..=9999).contains(&ny) {
            return Err(OUT.into());
        }
        let t = DateTime::from_parts(ny, nm, dd.min(days_in_month(ny, nm)), h, mi, s);
        t.seconds
            .checked_add(secs)
            .and_then(DateTime::from_seconds)
            .ok_or_else(|| OUT.into())
    }

    /// The instant in a .NET date format, invariant culture: the standard formats `d`, `D`,
    /// `g`, `G`, `o`, `O`, `r`, `R`, `s`, `t`, `T`, `u`, or a custom one of `yyyy`, `yy`,
    /// `MMMM`, `MMM`, `MM`, `M`, `dddd`, `ddd`, `dd`, `d`, `HH`, `H`, `hh`, `h`, `mm`, `m`, `ss`,
    /// `s`, `f...`, `tt`, `t`, quoted literals and other characters as they are
    /// (https://learn.microsoft.com/dotnet/standard/base-types/standard-date-and-time-format-strings,
    /// custom-date-and-time-format-strings).
    pub fn format(self, format: &str) -> String {
        let pattern = match format {
            "d" => "MM/dd/yyyy",
            "D" => "dddd, dd MMMM yyyy",
            "g" => "MM/dd/yyyy HH:mm",
            "G" => "MM/dd/yyyy HH:mm:ss",
            "o" | "O" => "yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'",
            "r" | "R" => "ddd, dd MMM yyyy HH:mm:ss 'GMT'",
            "s" => "yyyy-MM-dd'T'HH:mm:ss",
            "t" => "HH:mm",
            "T" => "HH:mm:ss",
            "u" => "yyyy-MM-dd HH:mm:ss'Z'",
            other => other,
        };
        const MONTHS: [&str; 12] = [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ];
        const DAYS: [&str; 7] = [
            "Thursday",
            "Friday",
            "Saturday",
            "Sunday",
            "Monday",
            "Tuesday",
            "Wednesday",
        ];
        let (y, m, d, h, mi, s) = self.parts();
        let weekday = DAYS[self.seconds.div_euclid(86_400).rem_euclid(7) as usize];
        let month = MONTHS[(m - 1) as usize];
        let h12 = if h % 12 == 0 { 12 } else { h % 12 };
        let chars: Vec<char> = pattern.chars().collect();
        let mut out = String::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let mut run = 1;
            while i + run < chars.len() && chars[i + run] == c {
                run += 1;
            }
            let two = |v: i64| {
                if run == 1 {
                    v.to_string()
                } else {
                    format!("{v:02}")
                }
            };
            match c {
                'y' => out.push_str(&if run <= 2 {
                    two(y % 100)
                } else {
                    format!("{y:0run$}")
                }),
                'M' => out.push_str(&match run {
                    1 | 2 => two(m),
                    3 => month[..3].to_string(),
                    _ => month.to_string(),
                }),
                'd' => out.push_str(&match run {
                    1 | 2 => two(d),
                    3 => weekday[..3].to_string(),
                    _ => weekday.to_string(),
                }),
                'H' => out.push_str(&two(h)),
                'h' => out.push_str(&two(h12)),
                'm' => out.push_str(&two(mi)),
                's' => out.push_str(&two(s)),
                'f' => out.push_str(&"0".repeat(run)),
                'F' => {}
                't' => {
                    let ampm = if h < 12 { "AM" } else { "PM" };
                    out.push_str(if run == 1 { &ampm[..1] } else { ampm });
                }
                '\'' | '"' => {
                    let end = chars[i + 1..]
                        .iter()
                        .position(|&x| x == c)
                        .map_or(chars.len(), |p| i + 1 + p);
                    out.extend(&chars[i + 1..end]);
                    i = end + 1;
                    continue;
                }
                '\\' => {
                    if let Some(&n) = chars.get(i + 1) {
                        out.push(n);
                    }
                    i += 2;
                    continue;
                }
                other => {
                    for _ in 0..run {
                        out.push(other);
                    }
                }
            }
            i += run;
        }
        out
    }
}

/// An IPv4 prefix as (network address, length); the address is masked to its network.
fn cidr(name: &str, text: &str) -> Result<(u64, i64), String> {
    let err = || format!("{name}(): '{text}' is not an IPv4 prefix in CIDR notation");
    let (a, l) = text.split_once('/').ok_or_else(err)?;
    let a: std::net::Ipv4Addr = a.trim().parse().map_err(|_| err())?;
    let l: i64 = l.trim().parse().map_err(|_| err())?;
    if !(0..=32).contains(&l) {
        return Err(err());
    }
    let mask = if l == 0 { 0 } else { u32::MAX << (32 - l) };
    Ok((u64::from(u32::from(a) & mask), l))
}

/// Percent-encodes every byte of the UTF-8 text but the unreserved characters of RFC 3986
/// (`A-Z a-z 0-9 - _ . ~`), with upper-case hex digits, as .NET's `Uri.EscapeDataString`.
fn uri_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes; `None` when an escape is malformed or the bytes are not UTF-8.
fn uri_unescape(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 (RFC 4648) with padding.
fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(B64[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64 with optional padding; `None` if a character is outside the alphabet.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.trim_end_matches('=').bytes() {
        let v = B64.iter().position(|&x| x == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

fn utf16(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

fn split_multi(s: &str, delims: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut rest = s;
    'outer: while !rest.is_empty() {
        for d in delims.iter().filter(|d| !d.is_empty()) {
            if let Some(r) = rest.strip_prefix(d.as_str()) {
                out.push(std::mem::take(&mut cur));
                rest = r;
                continue 'outer;
            }
        }
        let c = rest.chars().next().unwrap_or_default();
        cur.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out.push(cur);
    out
}

fn concat(args: Vec<Value>) -> Result<Value, String> {
    if args.first().is_some_and(Value::is_array) {
        let mut out = Vec::new();
        for a in args {
            match a {
                Value::Array(x) => out.extend(x),
                Value::Null => {}
                other => return Err(format!("concat() of arrays got {}", kind(&other))),
            }
        }
        return Ok(Value::Array(out));
    }
    let mut s = String::new();
    for a in &args {
        if a.is_array() || a.is_object() {
            return Err(format!("concat() of strings got {}", kind(a)));
        }
        s.push_str(&to_display(a));
    }
    Ok(Value::String(s))
}

fn union(args: Vec<Value>) -> Result<Value, String> {
    arity("union", &args, 1, usize::MAX)?;
    match &args[0] {
        Value::Object(_) => {
            let mut acc = Map::new();
            for a in args {
                let Value::Object(o) = a else {
                    return Err("union() mixes objects with other values".into());
                };
                merge_deep(&mut acc, o);
            }
            Ok(Value::Object(acc))
        }
        Value::Array(_) => {
            let mut acc: Vec<Value> = Vec::new();
            for a in args {
                let Value::Array(x) = a else {
                    return Err("union() mixes arrays with other values".into());
                };
                for v in x {
                    if !acc.contains(&v) {
                        acc.push(v);
                    }
                }
            }
            Ok(Value::Array(acc))
        }
        other => Err(format!(
            "union() expects objects or arrays, got {}",
            kind(other)
        )),
    }
}

/// Later objects win; nested objects are merged recursively, arrays replaced \[ARMOBJ\].
fn merge_deep(acc: &mut Map<String, Value>, o: Map<String, Value>) {
    for (k, v) in o {
        match (acc.get_mut(&k), v) {
            (Some(Value::Object(a)), Value::Object(b)) => merge_deep(a, b),
            (_, v) => {
                acc.insert(k, v);
            }
        }
    }
}

fn intersection(args: Vec<Value>) -> Result<Value, String> {
    arity("intersection", &args, 2, usize::MAX)?;
    match &args[0] {
        Value::Object(first) => {
            let mut out = first.clone();
            for a in &args[1..] {
                let o = a
                    .as_object()
                    .ok_or("intersection() mixes objects with other values")?;
                out.retain(|k, v| o.get(k) == Some(v));
            }
            Ok(Value::Object(out))
        }
        Value::Array(first) => {
            let mut out: Vec<Value> = Vec::new();
            for v in first {
                if !out.contains(v)
                    && args[1..]
                        .iter()
                        .all(|a| a.as_array().is_some_and(|x| x.contains(v)))
                {
                    out.push(v.clone());
                }
            }
            Ok(Value::Array(out))
        }
        other => Err(format!(
            "intersection() expects objects or arrays, got {}",
            kind(other)
        )),
    }
}

/// .NET composite formatting: `{index[,alignment][:format]}`, `{{` and `}}` escapes.
fn format_fn(args: &[Value]) -> Result<Value, String> {
    arity("format", args, 1, usize::MAX)?;
    let f = as_str("format", &args[0])?;
    let mut out = String::new();
    let mut chars = f.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let mut spec = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(x) => spec.push(x),
                        None => return Err(format!("format(): unterminated '{{' in '{f}'")),
                    }
                }
                let (head, fmt) = spec
                    .split_once(':')
                    .map_or((spec.as_str(), None), |(h, f)| (h, Some(f)));
                let (idx, align) = head
                    .split_once(',')
                    .map_or((head, None), |(i, a)| (i, Some(a)));
                let i: usize = idx
                    .trim()
                    .parse()
                    .map_err(|_| format!("format(): invalid placeholder '{{{spec}}}'"))?;
                let v = args
                    .get(i + 1)
                    .ok_or_else(|| format!("format(): placeholder {{{i}}} has no argument"))?;
                let mut s = format_one(v, fmt)?;
                if let Some(a) = align {
                    let w: i64 = a
                        .trim()
                        .parse()
                        .map_err(|_| format!("format(): invalid alignment in '{{{spec}}}'"))?;
                    if w.unsigned_abs() > MAX_STRING as u64 {
                        return Err(format!("format(): alignment {w} exceeds {MAX_STRING}"));
                    }
                    let pad = (w.unsigned_abs() as usize).saturating_sub(s.chars().count());
                    let fill = " ".repeat(pad);
                    s = if w < 0 { s + &fill } else { fill + &s };
                }
                out.push_str(&s);
            }
            '}' => return Err(format!("format(): unmatched '}}' in '{f}'")),
            c => out.push(c),
        }
    }
    Ok(Value::String(out))
}

fn format_one(v: &Value, fmt: Option<&str>) -> Result<String, String> {
    let Some(fmt) = fmt else {
        return Ok(match v {
            Value::Object(_) | Value::Array(_) => {
                let mut out = String::new();
                single_quoted_json(v, &mut out);
                out
            }
            v => to_display(v),
        });
    };
    let n = v
        .as_i64()
        .ok_or_else(|| format!("format(): ':{fmt}' needs an integer, got {}", to_display(v)))?;
    let (kind, digits) = fmt.split_at(fmt.chars().next().map_or(0, char::len_utf8));
    let digits: usize = if digits.is_empty() {
        0
    } else {
        digits
            .parse()
            .map_err(|_| format!("format(): unsupported format '{fmt}'"))?
    };
    if digits > 999 {
        return Err(format!(
            "format(): precision {digits} in '{fmt}' is above 999"
        ));
    }
    Ok(match kind {
        "D" | "d" => {
            let s = format!("{:0digits$}", n.unsigned_abs());
            if n < 0 { format!("-{s}") } else { s }
        }
        "X" => format!("{n:0digits$X}"),
        "x" => format!("{n:0digits$x}"),
        "N" | "n" => {
            let raw = n.unsigned_abs().to_string();
            let mut grouped = String::new();
            for (i, c) in raw.chars().enumerate() {
                if i > 0 && (raw.len() - i) % 3 == 0 {
                    grouped.push(',');
                }
                grouped.push(c);
            }
            let frac = if digits > 0 {
                format!(".{}", "0".repeat(digits))
            } else {
                String::new()
            };
            format!("{}{grouped}{frac}", if n < 0 { "-" } else { "" })
        }
        _ => {
            return Err(format!(
                "format(): unsupported format '{fmt}' (supported: D, X, x, N)"
            ));
        }
    })
}

/// `format` writes an object or array as compact JSON with single-quoted strings
/// (`{'a':'b','!c':2}`), as ARM's evaluator does for Bicep string interpolation (Azure/bicep,
/// `src/Bicep.Core.IntegrationTests/EvaluationTests.cs`,
/// `String_expressions_are_evaluated_successfully`) \[ARMSTR\].
fn single_quoted_json(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => {
            out.push('\'');
            for c in s.chars() {
                match c {
                    '\'' => out.push_str("\\'"),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    c => out.push(c),
                }
            }
            out.push('\'');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                single_quoted_json(x, out);
            }
            out.push(']');
        }
        Value::Object(o) => {
            out.push('{');
            for (i, (k, x)) in o.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                single_quoted_json(&Value::String(k.clone()), out);
                out.push(':');
                single_quoted_json(x, out);
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The string form ARM gives a value (`string()`, `concat`, `format`): strings as they are,
/// booleans `True`/`False` as .NET writes them (the logical functions page shows `True` and
/// `False` outputs) \[ARMLOGIC\], null empty, objects and arrays as compact JSON \[ARMSTR\].
pub fn to_display(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => String::new(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

/// A value's ARM type name, for messages.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn arity(name: &str, args: &[Value], min: usize, max: usize) -> Result<(), String> {
    if args.len() < min || args.len() > max {
        let want = match (min, max) {
            (a, b) if a == b => format!("{a}"),
            (a, usize::MAX) => format!("at least {a}"),
            (a, b) => format!("{a} to {b}"),
        };
        return Err(format!(
            "{name}() expects {want} argument(s), got {}",
            args.len()
        ));
    }
    Ok(())
}

fn one<'a>(name: &str, args: &'a [Value]) -> Result<&'a Value, String> {
    arity(name, args, 1, 1)?;
    Ok(&args[0])
}

/// The argument as a string, or an error naming the function.
pub fn as_str<'a>(name: &str, v: &'a Value) -> Result<&'a str, String> {
    v.as_str()
        .ok_or_else(|| format!("{name}() expects a string, got {}", kind(v)))
}

/// The argument as an integer, or an error naming the function.
pub fn as_int(name: &str, v: &Value) -> Result<i64, String> {
    v.as_i64()
        .ok_or_else(|| format!("{name}() expects an integer, got {}", kind(v)))
}

/// The argument as a boolean, or an error naming the function.
pub fn as_bool(name: &str, v: &Value) -> Result<bool, String> {
    v.as_bool()
        .ok_or_else(|| format!("{name}() expects a boolean, got {}", kind(v)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(name: &str, args: Value) -> Result<Value, String> {
        let Value::Array(args) = args else {
            panic!("arguments are an array")
        };
        call(name, args).map(|v| v.expect("a known function"))
    }

    /// A total length below the string's (the most negative integer too) pads nothing; it
    /// once wrapped on subtraction.
    #[test]
    fn pad_left_with_a_negative_total_pads_nothing() {
        assert_eq!(run("padleft", json!(["a", i64::MIN])).unwrap(), json!("a"));
        assert_eq!(
            run("padleft", json!(["abc", -1, "0"])).unwrap(),
            json!("abc")
        );
        assert_eq!(run("padleft", json!(["7", 3, "0"])).unwrap(), json!("007"));
    }

    /// Durations that leave years 1 to 9999 (or 64 bits) are errors that say so; the limits
    /// themselves are reached.
    #[test]
    fn date_time_add_stays_within_years_1_to_9999() {
        for d in [
            "P999999999999Y",
            "-P9223372036854775807D",
            "PT9223372036854775807H",
            "P8000Y",
        ] {
            let e = run("datetimeadd", json!(["2020-01-01T00:00:00Z", d])).unwrap_err();
            assert!(e.contains("outside years 1 to 9999"), "{d}: {e}");
        }
        let e = run("datetimeadd", json!(["2020-01-01T00:00:00Z", "P1X"])).unwrap_err();
        assert!(e.contains("not an ISO 8601 duration"), "{e}");
        assert_eq!(
            run("datetimeadd", json!(["9999-12-31T23:59:58Z", "PT1S", "u"])).unwrap(),
            json!("9999-12-31 23:59:59Z")
        );
        assert!(run("datetimeadd", json!(["9999-12-31T23:59:59Z", "PT1S"])).is_err());
        assert_eq!(
            run("datetimeadd", json!(["0001-01-01T00:00:01Z", "-PT1S", "u"])).unwrap(),
            json!("0001-01-01 00:00:00Z")
        );
    }

    #[test]
    fn epochs_and_dates_outside_years_1_to_9999_are_errors() {
        assert!(run("datetimefromepoch", json!([i64::MAX])).is_err());
        assert!(run("datetimefromepoch", json!([i64::MIN])).is_err());
        assert_eq!(
            run("datetimefromepoch", json!([DateTime::MAX.seconds])).unwrap(),
            json!("9999-12-31T23:59:59Z")
        );
        assert!(run("datetimetoepoch", json!(["99999-01-01T00:00:00Z"])).is_err());
        assert!(run("datetimetoepoch", json!(["0000-12-31T00:00:00Z"])).is_err());
        assert!(run("datetimetoepoch", json!(["2020-01-01T00:00:00+99:00"])).is_err());
        assert_eq!(
            run("datetimetoepoch", json!(["0001-01-01T00:00:00Z"])).unwrap(),
            json!(DateTime::MIN.seconds)
        );
    }
}
