//! A small JSON Schema check (the subset the dashboard's OpenAPI description uses: `$ref`,
//! `type`, `required`, `properties`, `items`, `anyOf`, `allOf`, `enum`, `minimum`, `maximum`),
//! to hold a real answer against its description.

#![allow(dead_code)]

use serde_json::Value;

/// Every way `value` departs from `schema` (refs resolved in `doc`), each naming where.
pub fn violations(doc: &Value, schema: &Value, value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    check(doc, schema, value, "$", &mut out);
    out
}

fn check(doc: &Value, schema: &Value, value: &Value, at: &str, out: &mut Vec<String>) {
    if let Some(r) = schema["$ref"].as_str() {
        let target = doc.pointer(r.trim_start_matches('#')).unwrap_or_else(|| panic!("unresolved {r}"));
        return check(doc, target, value, at, out);
    }
    if let Some(any) = schema["anyOf"].as_array() {
        let fits = any.iter().any(|s| violations(doc, s, value).is_empty());
        if !fits {
            out.push(format!("{at}: fits none of anyOf ({value})"));
        }
        return;
    }
    for s in schema["allOf"].as_array().into_iter().flatten() {
        check(doc, s, value, at, out);
    }
    if let Some(t) = schema["type"].as_str() {
        let ok = match t {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            _ => true,
        };
        if !ok {
            out.push(format!("{at}: not {t}: {value}"));
            return;
        }
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        out.push(format!("{at}: {value} not in {allowed:?}"));
    }
    if let (Some(min), Some(v)) = (schema["minimum"].as_f64(), value.as_f64())
        && v < min
    {
        out.push(format!("{at}: {v} below {min}"));
    }
    if let (Some(max), Some(v)) = (schema["maximum"].as_f64(), value.as_f64())
        && v > max
    {
        out.push(format!("{at}: {v} above {max}"));
    }
    for name in schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        if value.get(name).is_none() {
            out.push(format!("{at}: required `{name}` missing"));
        }
    }
    if let Some(props) = schema["properties"].as_object() {
        for (name, s) in props {
            if let Some(v) = value.get(name) {
                check(doc, s, v, &format!("{at}.{name}"), out);
            }
        }
    }
    if let (Some(items), Some(values)) = (schema.get("items"), value.as_array()) {
        for (i, v) in values.iter().enumerate() {
            check(doc, items, v, &format!("{at}[{i}]"), out);
        }
    }
}
