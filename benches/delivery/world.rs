//! The loopback world of the delivery bench, served by a helper process (this binary re-run with
//! `--serve`): PagerDuty's Events API, the partner API, its status page and the canaries, with
//! what the server saw behind `GET /stats`; and [`Server`], the bench's handle on that process.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::support::{Helper, cpu_seconds, shared_path};
use crate::{COMPONENT, GREEN_FIXTURE};

/// Triggers whose arrival the server keeps.
const KEPT_TRIGGERS: usize = 1000;

/// The all-green status page fixture (served when it is there).
pub fn fixture_path() -> PathBuf {
    shared_path("fixtures/statuspages").join(GREEN_FIXTURE)
}

/// Now as Unix epoch milliseconds with a fractional part (the clock of Sparky's `now_ms`).
fn epoch_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

// ---------------------------------------------------------------------------------------------
// The server (helper process).
// ---------------------------------------------------------------------------------------------

/// What the server saw since the last reset.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Stats {
    /// `POST /v2/enqueue` requests.
    pub enqueued: u64,
    /// Distinct dedup keys among them.
    pub distinct: u64,
    /// Events without a 32-character routing key, a dedup key or a known event action.
    pub malformed: u64,
    /// The first triggers: (arrival ms, dedup key).
    pub triggers: Vec<(f64, String)>,
    /// Status page requests: arrival ms.
    pub status_requests: Vec<f64>,
    /// Partner API requests.
    pub api_requests: u64,
    /// Canary requests.
    pub canary_requests: u64,
    /// This server's CPU-seconds so far (not reset).
    pub cpu_seconds: f64,
}

#[derive(Default)]
struct Seen {
    stats: Stats,
    keys: HashSet<String>,
}

struct World {
    seen: Mutex<Seen>,
    summary: Bytes,
}

impl World {
    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn json_response(status: StatusCode, body: impl Into<Body>) -> Response {
    Response::builder().status(status).header(header::CONTENT_TYPE, "application/json").body(body.into()).expect("valid response")
}

async fn enqueue(State(world): State<Arc<World>>, body: Bytes) -> Response {
    let at = epoch_ms();
    let event: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let key = event["dedup_key"].as_str().unwrap_or_default().to_owned();
    let action = event["event_action"].as_str().unwrap_or_default();
    let well_formed = event["routing_key"].as_str().is_some_and(|k| k.len() == 32)
        && !key.is_empty()
        && ["trigger", "acknowledge", "resolve"].contains(&action)
        && (action != "trigger" || event["payload"]["summary"].is_string());
    {
        let mut seen = world.seen();
        seen.stats.enqueued += 1;
        seen.stats.malformed += u64::from(!well_formed);
        if action == "trigger" && seen.stats.triggers.len() < KEPT_TRIGGERS {
            seen.stats.triggers.push((at, key.clone()));
        }
        seen.keys.insert(key.clone());
    }
    if !well_formed {
        return json_response(
            StatusCode::BAD_REQUEST,
            json!({"status": "invalid event", "message": "Event object is invalid"}).to_string(),
        );
    }
    json_response(StatusCode::ACCEPTED, json!({"status": "success", "message": "Event processed", "dedup_key": key}).to_string())
}

async fn status_page(State(world): State<Arc<World>>) -> Response {
    world.seen().stats.status_requests.push(epoch_ms());
    json_response(StatusCode::OK, world.summary.clone())
}

async fn partner_api(State(world): State<Arc<World>>) -> Response {
    world.seen().stats.api_requests += 1;
    json_response(StatusCode::INTERNAL_SERVER_ERROR, r#"{"error":"internal server error"}"#)
}

async fn canary(State(world): State<Arc<World>>) -> Response {
    world.seen().stats.canary_requests += 1;
    Response::builder().status(StatusCode::NO_CONTENT).body(Body::empty()).expect("valid response")
}

async fn stats(State(world): State<Arc<World>>) -> Response {
    let body = {
        let seen = world.seen();
        let mut stats = serde_json::to_value(&seen.stats).unwrap_or(Value::Null);
        stats["distinct"] = json!(seen.keys.len());
        stats["cpu_seconds"] = json!(cpu_seconds());
        stats.to_string()
    };
    json_response(StatusCode::OK, body)
}

async fn reset(State(world): State<Arc<World>>) -> Response {
    *world.seen() = Seen::default();
    json_response(StatusCode::OK, "{}")
}

/// An all-green Statuspage v2 summary: the fixture, or a small page of the same shape.
fn green_summary() -> Bytes {
    if let Ok(bytes) = std::fs::read(fixture_path()) {
        return Bytes::from(bytes);
    }
    Bytes::from(
        json!({
            "page": {"id": "acme", "name": "Acme Cloud", "url": "https://status.acme.test", "time_zone": "Etc/UTC", "updated_at": "2026-11-25T09:00:00.000Z"},
            "status": {"indicator": "none", "description": "All Systems Operational"},
            "components": [
                {"id": "c1", "name": COMPONENT, "status": "operational", "group": false},
                {"id": "c2", "name": "Webhooks", "status": "operational", "group": false}
            ],
            "incidents": [],
            "scheduled_maintenances": []
        })
        .to_string(),
    )
}

/// `--serve`: prints `port N`, serves until its stdin closes.
pub fn serve() -> ExitCode {
    let world = Arc::new(World { seen: Mutex::new(Seen::default()), summary: green_summary() });
    let app = axum::Router::new()
        .route("/v2/enqueue", axum::routing::post(enqueue))
        .route("/api", axum::routing::get(partner_api))
        .route("/status/api/v2/summary.json", axum::routing::get(status_page))
        .route("/canary/{n}", axum::routing::get(canary))
        .route("/stats", axum::routing::get(stats))
        .route("/reset", axum::routing::post(reset))
        .with_state(world);
    crate::support::serve_loopback("delivery server", app, |_| None)
}

// ---------------------------------------------------------------------------------------------
// The bench's handle on it.
// ---------------------------------------------------------------------------------------------

/// The server process; killed on drop.
pub struct Server {
    pub helper: Helper,
    pub port: u16,
    http: reqwest::Client,
}

impl Server {
    pub fn start() -> Result<Self, String> {
        let helper = Helper::spawn("server", &["--serve"], &[])?;
        let port = helper.port()?;
        let http = reqwest::Client::builder().no_proxy().build().map_err(|e| format!("cannot build the bench's client: {e}"))?;
        Ok(Self { helper, port, http })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub async fn stats(&self) -> Result<Stats, String> {
        let response = self.http.get(self.url("/stats")).send().await.map_err(|e| format!("server /stats: {e}"))?;
        response.json().await.map_err(|e| format!("server /stats: {e}"))
    }

    pub async fn reset(&self) -> Result<(), String> {
        self.http
            .post(self.url("/reset"))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| format!("server /reset: {e}"))?;
        Ok(())
    }
}
