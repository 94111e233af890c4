//! Checks requests received by a fake against the vendor's official OpenAPI description in
//! `../shared/specs/` (Swagger 2.0 or OpenAPI 3): the operation exists for the method and path,
//! and every required parameter and required body property is present.

use std::sync::OnceLock;

use serde_json::Value;

/// A loaded description.
pub struct Spec {
    doc: Value,
    /// Path prefix of every operation (`basePath` of Swagger 2, the server path of OpenAPI 3).
    base: String,
}

/// The description `name` from `../shared/specs/`, loaded once; `None` (with a message) when the
/// folder is absent.
pub fn spec(name: &'static str) -> Option<&'static Spec> {
    static SPECS: OnceLock<std::sync::Mutex<std::collections::HashMap<&'static str, Option<&'static Spec>>>> = OnceLock::new();
    let mut specs = SPECS.get_or_init(Default::default).lock().unwrap();
    *specs.entry(name).or_insert_with(|| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/specs").join(name);
        let Ok(text) = std::fs::read_to_string(&path) else {
            eprintln!("openapi: {} not found; request checks against it skipped", path.display());
            return None;
        };
        let doc: Value = serde_json::from_str(&text).expect("spec is JSON");
        let base = doc["basePath"].as_str().map(str::to_owned).unwrap_or_else(|| {
            let server = doc["servers"][0]["url"].as_str().unwrap_or("");
            url::Url::parse(server).map(|u| u.path().trim_end_matches('/').to_owned()).unwrap_or_default()
        });
        Some(Box::leak(Box::new(Spec { doc, base: base.trim_end_matches('/').to_owned() })))
    })
}

/// A request as a fake saw it.
pub struct Seen<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: Vec<(String, String)>,
    pub headers: &'a http::HeaderMap,
    pub body: Option<&'a Value>,
}

impl<'a> Seen<'a> {
    /// From a wiremock request (body read as JSON when it is JSON).
    pub fn from_wiremock(req: &'a wiremock::Request, body: Option<&'a Value>) -> Self {
        Self {
            method: req.method.as_str(),
            path: req.url.path(),
            query: req.url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect(),
            headers: &req.headers,
            body,
        }
    }
}

impl Spec {
    /// Every way `seen` departs from the description (empty: it conforms).
    pub fn violations(&self, seen: &Seen<'_>) -> Vec<String> {
        let path = seen.path.strip_prefix(&self.base).unwrap_or(seen.path);
        let Some((template, item)) = self.find_path(path) else {
            return vec![format!("{} {}: no such path in the description", seen.method, seen.path)];
        };
        let method = seen.method.to_lowercase();
        let Some(op) = item.get(&method) else {
            return vec![format!("{} {}: method not described for {template}", seen.method, seen.path)];
        };
        let mut out = Vec::new();
        let params = item["parameters"].as_array().into_iter().flatten().chain(op["parameters"].as_array().into_iter().flatten());
        for p in params {
            let p = self.resolve(p);
            if !p["required"].as_bool().unwrap_or(false) {
                continue;
            }
            let name = p["name"].as_str().unwrap_or_default();
            let present = match p["in"].as_str().unwrap_or_default() {
                "query" => seen.query.iter().any(|(k, _)| k == name),
                "header" => seen.headers.contains_key(name) || (name == "token" && seen.headers.contains_key("authorization")),
                "formData" | "body" => seen.body.is_some_and(|b| p["in"] == "body" || b.get(name).is_some()),
                _ => true,
            };
            if !present {
                out.push(format!("{} {template}: required {} parameter `{name}` missing", seen.method, p["in"].as_str().unwrap_or("?")));
            }
        }
        if let Some(schema) = op["requestBody"]["content"]["application/json"]["schema"].as_object() {
            let schema = self.resolve(&Value::Object(schema.clone()));
            let body = seen.body.cloned().unwrap_or(Value::Null);
            if op["requestBody"]["required"].as_bool().unwrap_or(false) && body.is_null() {
                out.push(format!("{} {template}: required JSON body missing", seen.method));
            }
            for name in schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                if body.get(name).is_none() {
                    out.push(format!("{} {template}: required body property `{name}` missing", seen.method));
                }
            }
        }
        out
    }

    fn find_path<'s>(&'s self, path: &str) -> Option<(&'s str, &'s Value)> {
        let paths = self.doc["paths"].as_object()?;
        if let Some((template, item)) = paths.get_key_value(path) {
            return Some((template.as_str(), item));
        }
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        paths.iter().find_map(|(template, item)| {
            let parts: Vec<&str> = template.trim_matches('/').split('/').collect();
            let matches = parts.len() == segments.len()
                && parts.iter().zip(&segments).all(|(t, s)| t == s || (t.starts_with('{') && t.ends_with('}')));
            matches.then_some((template.as_str(), item))
        })
    }

    fn resolve(&self, v: &Value) -> Value {
        match v["$ref"].as_str() {
            Some(r) => {
                let pointer = r.trim_start_matches('#');
                self.resolve(self.doc.pointer(pointer).unwrap_or(&Value::Null))
            }
            None => v.clone(),
        }
    }
}
