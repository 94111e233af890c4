//! A fake PagerDuty Events API v2 on loopback: `POST /v2/enqueue`, answering as PagerDuty does
//! (202 `{"status": "success", "message": "Event processed", "dedup_key": ...}`, 400 for an
//! invalid event), with a script of failures. Every request is checked against the official
//! description (`pagerduty_events_v2_openapiv3.json`) and the rules it states in words
//! (`payload` with `summary`, `source`, `severity` for a trigger; `dedup_key` for the others).

#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The description's `event_action` values.
const ACTIONS: &[&str] = &["trigger", "acknowledge", "resolve"];
/// The description's `payload.severity` values.
const SEVERITIES: &[&str] = &["critical", "warning", "error", "info"];

/// One event the fake received.
#[derive(Debug, Clone)]
pub struct Received {
    /// The request body.
    pub body: Value,
    /// The status the fake answered.
    pub status: u16,
}

#[derive(Default)]
struct State {
    script: VecDeque<u16>,
    received: Vec<Received>,
    violations: Vec<String>,
    next_key: usize,
    /// The next accepted event is processed at once but answered only after this long.
    hold_next: Option<std::time::Duration>,
}

/// The fake PagerDuty.
pub struct FakePagerDuty {
    pub server: MockServer,
    state: Arc<Mutex<State>>,
}

struct Enqueue(Arc<Mutex<State>>);

impl Respond for Enqueue {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.0.lock().unwrap();
        let body: Option<Value> = serde_json::from_slice(&request.body).ok();
        let mut problems = Vec::new();
        if let Some(spec) = super::openapi::spec("pagerduty_events_v2_openapiv3.json") {
            problems.extend(spec.violations(&super::openapi::Seen::from_wiremock(request, body.as_ref())));
        }
        problems.extend(event_problems(body.as_ref()));
        state.violations.extend(problems.iter().cloned());
        let scripted = state.script.pop_front();
        let (status, answer) = if !problems.is_empty() {
            (400, json!({"status": "invalid event", "message": "Event object is invalid", "errors": problems}))
        } else {
            match scripted.unwrap_or(202) {
                code @ 200..=299 => {
                    let body = body.as_ref().unwrap_or(&Value::Null);
                    let dedup_key = body["dedup_key"].as_str().map(str::to_owned).unwrap_or_else(|| {
                        state.next_key += 1;
                        format!("fake-{:032x}", state.next_key)
                    });
                    (code, json!({"status": "success", "message": "Event processed", "dedup_key": dedup_key}))
                }
                429 => (
                    429,
                    json!({"status": "throttle event", "message": "Requests for this service are arriving too quickly. Please retry later."}),
                ),
                400 => (400, json!({"status": "invalid event", "message": "Event object is invalid", "errors": ["scripted failure"]})),
                code => (code, json!({"status": "error", "message": "Internal server error"})),
            }
        };
        state.received.push(Received { body: body.unwrap_or(Value::Null), status });
        let template = ResponseTemplate::new(status).set_body_json(answer);
        match status {
            429 => template.insert_header("Retry-After", "1"),
            200..=299 => match state.hold_next.take() {
                Some(delay) => template.set_delay(delay),
                None => template,
            },
            _ => template,
        }
    }
}

/// What the description requires of an event beyond the top-level required properties.
fn event_problems(body: Option<&Value>) -> Vec<String> {
    let Some(body) = body.filter(|b| b.is_object()) else {
        return vec!["POST /enqueue: body is not a JSON object".to_owned()];
    };
    let mut out = Vec::new();
    if body["routing_key"].as_str().is_none_or(str::is_empty) {
        out.push("POST /enqueue: `routing_key` must be a non-empty string".to_owned());
    }
    let action = body["event_action"].as_str().unwrap_or_default();
    if !ACTIONS.contains(&action) {
        out.push(format!("POST /enqueue: `event_action` `{action}` is not one of {ACTIONS:?}"));
    }
    if action != "trigger" && body["dedup_key"].as_str().is_none_or(str::is_empty) {
        out.push(format!("POST /enqueue: `dedup_key` is required for `{action}`"));
    }
    if let Some(key) = body["dedup_key"].as_str().filter(|k| k.chars().count() > 255) {
        out.push(format!("POST /enqueue: `dedup_key` longer than 255 characters ({})", key.len()));
    }
    if action == "trigger" {
        let payload = &body["payload"];
        if !payload.is_object() {
            out.push("POST /enqueue: a trigger needs `payload`".to_owned());
        } else {
            for field in ["summary", "source"] {
                if payload[field].as_str().is_none_or(str::is_empty) {
                    out.push(format!("POST /enqueue: required `payload.{field}` missing"));
                }
            }
            if payload["summary"].as_str().is_some_and(|s| s.chars().count() > 1024) {
                out.push("POST /enqueue: `payload.summary` longer than 1024 characters".to_owned());
            }
            let severity = payload["severity"].as_str().unwrap_or_default();
            if !SEVERITIES.contains(&severity) {
                out.push(format!("POST /enqueue: `payload.severity` `{severity}` is not one of {SEVERITIES:?}"));
            }
            if !payload["custom_details"].is_null() && !payload["custom_details"].is_object() {
                out.push("POST /enqueue: `payload.custom_details` must be an object".to_owned());
            }
        }
    }
    for link in body["links"].as_array().into_iter().flatten() {
        if link["href"].as_str().is_none() {
            out.push("POST /enqueue: a link without `href`".to_owned());
        }
    }
    out
}

impl FakePagerDuty {
    /// Starts the fake, accepting every valid event until scripted otherwise.
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State::default()));
        Mock::given(method("POST")).and(path("/v2/enqueue")).respond_with(Enqueue(state.clone())).mount(&server).await;
        Self { server, state }
    }

    /// `PAGERDUTY_EVENTS_URL` for Sparky (events go to `/v2/enqueue` under it).
    pub fn events_url(&self) -> String {
        self.server.uri()
    }

    /// Answers the next valid events with these HTTP statuses, in order (2xx: accepted; 429 with
    /// `Retry-After: 1`; 400; anything else an error body).
    pub fn script(&self, statuses: impl IntoIterator<Item = u16>) {
        self.state.lock().unwrap().script.extend(statuses);
    }

    /// The next event accepted is processed at once (counted as accepted) but answered only
    /// after `delay`: a sender killed meanwhile never learns it was accepted.
    pub fn hold_next_event(&self, delay: std::time::Duration) {
        self.state.lock().unwrap().hold_next = Some(delay);
    }

    /// Every event body received, accepted or not, in order.
    pub fn events(&self) -> Vec<Value> {
        self.state.lock().unwrap().received.iter().map(|r| r.body.clone()).collect()
    }

    /// Every event with the status it was answered.
    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// The events PagerDuty accepted (answered 2xx).
    pub fn accepted(&self) -> Vec<Value> {
        self.received().into_iter().filter(|r| (200..300).contains(&r.status)).map(|r| r.body).collect()
    }

    /// Requests that departed from PagerDuty's official Events API v2 description.
    pub fn spec_violations(&self) -> Vec<String> {
        self.state.lock().unwrap().violations.clone()
    }
}
