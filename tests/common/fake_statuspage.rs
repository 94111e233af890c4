//! A fake Atlassian Statuspage manage API (v1) on loopback, under `/v1/pages/{page_id}/`:
//! `POST incidents`, `GET incidents/unresolved`, `GET incidents/{id}`, `PATCH incidents/{id}`
//! (its `metadata` replaces the incident's), `PATCH components/{id}`, answering the shapes of the official description
//! (`statuspage_manage_api_v1_openapi.json`: `Incident`, `IncidentUpdate`, `Component`), with a
//! script of failures. Every request is checked against that description: the operation and its
//! required parameters (through `openapi.rs`), the `Authorization: OAuth KEY` header of its
//! security scheme, `incident.name` on create, and the enumerated status words.

#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use chrono::{SecondsFormat, Utc};
use serde_json::{Value, json};
use wiremock::matchers::path_regex;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// `incident.status` values of the description.
const INCIDENT_STATUSES: &[&str] =
    &["investigating", "identified", "monitoring", "resolved", "scheduled", "in_progress", "verifying", "completed"];
/// `component.status` values of the description.
const COMPONENT_STATUSES: &[&str] = &["operational", "under_maintenance", "degraded_performance", "partial_outage", "major_outage", ""];

#[derive(Default)]
struct State {
    script: VecDeque<u16>,
    /// Incident PATCHes whose change is made and whose answer is then lost (a 502).
    lose_patch_answers: usize,
    /// Incidents in creation order, as Statuspage stores them.
    incidents: Vec<Value>,
    /// Components by id: (name, status).
    components: BTreeMap<String, (String, String)>,
    component_updates: Vec<(String, String)>,
    violations: Vec<String>,
    requests: usize,
    ids: usize,
    /// The next write (POST or PATCH) is made at once but answered only after this long.
    hold_next: Option<std::time::Duration>,
}

impl State {
    fn id(&mut self) -> String {
        self.ids += 1;
        format!("fk{:010}", self.ids)
    }
}

/// The fake Statuspage.
pub struct FakeStatuspage {
    pub server: MockServer,
    state: Arc<Mutex<State>>,
}

struct Api(Arc<Mutex<State>>);

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn error(status: u16, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({"error": message}))
}

impl Respond for Api {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.0.lock().unwrap();
        state.requests += 1;
        let body: Option<Value> = serde_json::from_slice(&request.body).ok();
        let mut problems = Vec::new();
        if let Some(spec) = super::openapi::spec("statuspage_manage_api_v1_openapi.json") {
            problems.extend(spec.violations(&super::openapi::Seen::from_wiremock(request, body.as_ref())));
        }
        let authorised = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("OAuth "))
            .is_some_and(|key| !key.trim().is_empty());
        if !authorised {
            problems.push(format!("{} {}: no `Authorization: OAuth KEY` header", request.method, request.url.path()));
        }
        let segments: Vec<String> = request.url.path().trim_matches('/').split('/').map(str::to_owned).collect();
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let method = request.method.as_str().to_owned();
        problems.extend(body_problems(&method, &segments, body.as_ref()));
        state.violations.extend(problems.iter().cloned());
        if !authorised {
            return error(401, "Could not authenticate");
        }
        let known = matches!(
            (method.as_str(), segments.as_slice()),
            ("POST", ["v1", "pages", _, "incidents"])
                | ("GET", ["v1", "pages", _, "incidents", _])
                | ("PATCH" | "PUT", ["v1", "pages", _, "incidents" | "components", _])
        );
        if !known {
            return error(404, "The requested resource could not be found.");
        }
        if let Some(code) = state.script.pop_front() {
            return match code {
                429 => error(429, "Rate limit exceeded").insert_header("Retry-After", "1"),
                code => error(code, "scripted failure"),
            };
        }
        if !problems.is_empty() {
            return error(422, &problems.join("; "));
        }
        let body = body.unwrap_or(Value::Null);
        let answer = answer(&mut state, request, &method, &segments, &body);
        match state.hold_next.take_if(|_| method != "GET") {
            Some(delay) => answer.set_delay(delay),
            None => answer,
        }
    }
}

/// The answer to a request that passed every check (its change made).
fn answer(state: &mut State, request: &Request, method: &str, segments: &[&str], body: &Value) -> ResponseTemplate {
    match (method, segments) {
        ("POST", ["v1", "pages", page, "incidents"]) => create(state, page, &body["incident"]),
        ("GET", ["v1", "pages", _, "incidents", "unresolved"]) => unresolved(state, request),
        ("GET", ["v1", "pages", _, "incidents", id]) => match state.incidents.iter().find(|i| i["id"] == *id) {
            Some(incident) => ResponseTemplate::new(200).set_body_json(incident.clone()),
            None => error(404, "The requested resource could not be found."),
        },
        ("PATCH" | "PUT", ["v1", "pages", _, "incidents", id]) => {
            let answer = update(state, id, &body["incident"]);
            if state.lose_patch_answers == 0 {
                return answer;
            }
            state.lose_patch_answers -= 1;
            error(502, "the update was made; this answer is lost on the way back")
        }
        (_, ["v1", "pages", page, "components", id]) => component(state, page, id, &body["component"]),
        _ => error(404, "The requested resource could not be found."),
    }
}

/// What the description says of the bodies beyond their top-level required properties.
fn body_problems(method: &str, segments: &[&str], body: Option<&Value>) -> Vec<String> {
    let mut out = Vec::new();
    let what = format!("{method} /{}", segments.join("/"));
    let incident = body.map(|b| &b["incident"]);
    match (method, segments) {
        ("POST", [.., "incidents"]) => {
            let Some(incident) = incident.filter(|i| i.is_object()) else {
                return vec![format!("{what}: body needs an `incident` object")];
            };
            if incident["name"].as_str().is_none_or(str::is_empty) {
                out.push(format!("{what}: required `incident.name` missing"));
            }
            if incident["name"].as_str().is_some_and(|n| n.chars().count() > 255) {
                out.push(format!("{what}: `incident.name` longer than 255 characters"));
            }
            out.extend(incident_problems(&what, incident));
        }
        ("PATCH" | "PUT", [.., "incidents", _]) => match incident.filter(|i| i.is_object()) {
            Some(incident) => out.extend(incident_problems(&what, incident)),
            None => out.push(format!("{what}: body needs an `incident` object")),
        },
        ("PATCH" | "PUT", [.., "components", _]) => match body.map(|b| &b["component"]).filter(|c| c.is_object()) {
            Some(component) => {
                if let Some(status) = component.get("status") {
                    let word = status.as_str().unwrap_or("(not a string)");
                    if !COMPONENT_STATUSES.contains(&word) {
                        out.push(format!("{what}: `component.status` `{word}` is not one of {COMPONENT_STATUSES:?}"));
                    }
                }
            }
            None => out.push(format!("{what}: body needs a `component` object")),
        },
        _ => {}
    }
    out
}

fn incident_problems(what: &str, incident: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(status) = incident.get("status") {
        let word = status.as_str().unwrap_or("(not a string)");
        if !INCIDENT_STATUSES.contains(&word) {
            out.push(format!("{what}: `incident.status` `{word}` is not one of {INCIDENT_STATUSES:?}"));
        }
    }
    if incident["body"].as_str().is_some_and(|b| b.chars().count() > 25_000) {
        out.push(format!("{what}: `incident.body` longer than 25000 characters"));
    }
    if let Some(metadata) = incident.get("metadata") {
        match metadata.as_object() {
            Some(m) if m.values().all(Value::is_object) => {}
            _ => out.push(format!("{what}: `incident.metadata` must be an object whose top-level values are objects")),
        }
    }
    if let Some(ids) = incident.get("component_ids")
        && !ids.as_array().is_some_and(|a| a.iter().all(Value::is_string))
    {
        out.push(format!("{what}: `incident.component_ids` must be an array of strings"));
    }
    if let Some(map) = incident.get("components") {
        match map.as_object() {
            Some(m) => {
                for (id, status) in m {
                    let word = status.as_str().unwrap_or("(not a string)");
                    if !COMPONENT_STATUSES.contains(&word) {
                        out.push(format!("{what}: `incident.components.{id}` `{word}` is not one of {COMPONENT_STATUSES:?}"));
                    }
                }
            }
            None => out.push(format!("{what}: `incident.components` must be an object (component id -> status)")),
        }
    }
    out
}

/// The worst component status as an impact word.
fn impact(statuses: &[&str]) -> &'static str {
    let rank = |s: &&str| match *s {
        "major_outage" => 4,
        "partial_outage" => 3,
        "degraded_performance" => 2,
        "under_maintenance" => 1,
        _ => 0,
    };
    match statuses.iter().map(rank).max().unwrap_or(0) {
        4 => "critical",
        3 => "major",
        2 => "minor",
        1 => "maintenance",
        _ => "none",
    }
}

fn component_json(page: &str, id: &str, name: &str, status: &str, at: &str) -> Value {
    json!({"id": id, "page_id": page, "group_id": null, "created_at": at, "updated_at": at, "group": false, "name": name,
           "description": null, "position": 1, "status": status, "showcase": false, "only_show_if_degraded": false,
           "automation_email": format!("component+{id}@notifications.statuspage.io"), "start_date": null})
}

/// Applies `components` (id -> status) of an incident body to the page.
fn apply_components(state: &mut State, page: &str, incident: &Value, at: &str) -> (Vec<Value>, Vec<Value>) {
    let mut ids: Vec<String> =
        incident["component_ids"].as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect();
    let mut affected = Vec::new();
    for (id, status) in incident["components"].as_object().into_iter().flatten() {
        let new = status.as_str().unwrap_or_default().to_owned();
        let entry = state.components.entry(id.clone()).or_insert_with(|| (format!("Component {id}"), "operational".to_owned()));
        affected.push(json!({"code": id, "name": entry.0, "old_status": entry.1, "new_status": new}));
        entry.1 = new;
        if !ids.contains(id) {
            ids.push(id.clone());
        }
    }
    let components = ids
        .iter()
        .map(|id| {
            let (name, status) = state.components.get(id).cloned().unwrap_or_else(|| (format!("Component {id}"), "operational".to_owned()));
            component_json(page, id, &name, &status, at)
        })
        .collect();
    (components, affected)
}

fn incident_update(state: &mut State, incident_id: &str, status: &str, body: &str, affected: Vec<Value>, at: &str) -> Value {
    json!({"id": state.id(), "incident_id": incident_id, "status": status, "body": body, "created_at": at, "updated_at": at,
           "display_at": at, "affected_components": affected, "deliver_notifications": true, "custom_tweet": null,
           "tweet_id": null, "twitter_updated_at": null, "wants_twitter_update": false})
}

fn create(state: &mut State, page: &str, incident: &Value) -> ResponseTemplate {
    let at = now();
    let id = state.id();
    let status = incident["status"].as_str().unwrap_or("investigating").to_owned();
    let (components, affected) = apply_components(state, page, incident, &at);
    let statuses: Vec<String> = components.iter().filter_map(|c| c["status"].as_str().map(str::to_owned)).collect();
    let statuses: Vec<&str> = statuses.iter().map(String::as_str).collect();
    let body = incident["body"].as_str().unwrap_or_default();
    let update = incident_update(state, &id, &status, body, affected, &at);
    let resolved_at = if status == "resolved" { Value::String(at.clone()) } else { Value::Null };
    let created = json!({
        "id": id,
        "components": components,
        "created_at": at,
        "impact": incident["impact_override"].as_str().unwrap_or(impact(&statuses)),
        "impact_override": incident["impact_override"],
        "incident_updates": [update],
        "metadata": incident.get("metadata").cloned().unwrap_or_else(|| json!({})),
        "monitoring_at": if status == "monitoring" { Value::String(at.clone()) } else { Value::Null },
        "name": incident["name"],
        "page_id": page,
        "postmortem_body": null,
        "postmortem_body_last_updated_at": null,
        "postmortem_ignored": false,
        "postmortem_notified_subscribers": false,
        "postmortem_notified_twitter": false,
        "postmortem_published_at": null,
        "resolved_at": resolved_at,
        "scheduled_for": null,
        "scheduled_until": null,
        "shortlink": format!("https://stspg.io/{}", &id[2..]),
        "started_at": at,
        "status": status,
        "updated_at": at,
        "reminder_intervals": null,
    });
    state.incidents.push(created.clone());
    ResponseTemplate::new(201).set_body_json(created)
}

fn unresolved(state: &State, request: &Request) -> ResponseTemplate {
    let query: BTreeMap<String, String> = request.url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let page: usize = query.get("page").and_then(|p| p.parse().ok()).unwrap_or(1).max(1);
    let per_page: usize = query.get("per_page").and_then(|p| p.parse().ok()).unwrap_or(100).clamp(1, 100);
    let open: Vec<Value> =
        state.incidents.iter().rev().filter(|i| !matches!(i["status"].as_str(), Some("resolved" | "completed"))).cloned().collect();
    let slice: Vec<Value> = open.into_iter().skip((page - 1) * per_page).take(per_page).collect();
    ResponseTemplate::new(200).set_body_json(Value::Array(slice))
}

fn update(state: &mut State, id: &str, change: &Value) -> ResponseTemplate {
    let Some(index) = state.incidents.iter().position(|i| i["id"] == id) else {
        return error(404, "The requested resource could not be found.");
    };
    let at = now();
    let page = state.incidents[index]["page_id"].as_str().unwrap_or_default().to_owned();
    let (components, affected) = apply_components(state, &page, change, &at);
    let current = state.incidents[index]["status"].as_str().unwrap_or_default().to_owned();
    let status = change["status"].as_str().map_or(current, str::to_owned);
    let new_update = (change.get("status").is_some() || change.get("body").is_some())
        .then(|| incident_update(state, id, &status, change["body"].as_str().unwrap_or_default(), affected, &at));
    let incident = &mut state.incidents[index];
    if let Some(name) = change["name"].as_str() {
        incident["name"] = Value::String(name.to_owned());
    }
    if let Some(metadata) = change.get("metadata") {
        // As Statuspage: the metadata given replaces the incident's.
        incident["metadata"] = metadata.clone();
    }
    if !components.is_empty() {
        incident["components"] = Value::Array(components);
    }
    if status == "monitoring" && incident["monitoring_at"].is_null() {
        incident["monitoring_at"] = Value::String(at.clone());
    }
    incident["resolved_at"] = if status == "resolved" { Value::String(at.clone()) } else { Value::Null };
    incident["status"] = Value::String(status);
    incident["updated_at"] = Value::String(at);
    if let Some(update) = new_update
        && let Some(updates) = incident["incident_updates"].as_array_mut()
    {
        updates.insert(0, update);
    }
    ResponseTemplate::new(200).set_body_json(incident.clone())
}

fn component(state: &mut State, page: &str, id: &str, change: &Value) -> ResponseTemplate {
    let at = now();
    let entry = state.components.entry(id.to_owned()).or_insert_with(|| (format!("Component {id}"), "operational".to_owned()));
    if let Some(name) = change["name"].as_str() {
        entry.0 = name.to_owned();
    }
    if let Some(status) = change["status"].as_str() {
        entry.1 = status.to_owned();
    }
    let (name, status) = entry.clone();
    state.component_updates.push((id.to_owned(), status.clone()));
    ResponseTemplate::new(200).set_body_json(component_json(page, id, &name, &status, &at))
}

impl FakeStatuspage {
    /// Starts the fake (any page id, any API key), answering realistically until scripted
    /// otherwise.
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State::default()));
        Mock::given(path_regex("^/v1/")).respond_with(Api(state.clone())).mount(&server).await;
        Self { server, state }
    }

    /// `STATUSPAGE_API_URL` for Sparky.
    pub fn api_url(&self) -> String {
        format!("{}/v1", self.server.uri())
    }

    /// Answers the next authorised requests with these HTTP error statuses, in order (429 with
    /// `Retry-After: 1`); nothing changes on the page for them.
    pub fn script(&self, statuses: impl IntoIterator<Item = u16>) {
        self.state.lock().unwrap().script.extend(statuses);
    }

    /// The next `n` incident PATCHes are made, and answered 502 (their answer lost).
    pub fn lose_patch_answers(&self, n: usize) {
        self.state.lock().unwrap().lose_patch_answers += n;
    }

    /// The next write (POST or PATCH) is made at once but answered only after `delay`: a
    /// deliverer killed meanwhile never learns it was made.
    pub fn hold_next_write(&self, delay: std::time::Duration) {
        self.state.lock().unwrap().hold_next = Some(delay);
    }

    /// Every component status set with `PATCH components/{id}`: (component id, status), in order.
    pub fn component_updates(&self) -> Vec<(String, String)> {
        self.state.lock().unwrap().component_updates.clone()
    }

    /// The incidents created, in creation order, with their later updates applied (`status`,
    /// `incident_updates` newest first, `resolved_at` ...). For convenience each also carries
    /// `body`: the text of its latest update (not a field of Statuspage's `Incident`).
    pub fn incidents(&self) -> Vec<Value> {
        let mut incidents = self.state.lock().unwrap().incidents.clone();
        for incident in &mut incidents {
            incident["body"] = incident["incident_updates"][0]["body"].clone();
        }
        incidents
    }

    /// How many requests reached the fake.
    pub fn requests(&self) -> usize {
        self.state.lock().unwrap().requests
    }

    /// Requests that departed from Statuspage's official manage API description.
    pub fn spec_violations(&self) -> Vec<String> {
        self.state.lock().unwrap().violations.clone()
    }
}
