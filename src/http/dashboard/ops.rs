//! `GET /ops` and `GET /api/ops`: the outbox (pending, retrying, blocked, dead, with the last
//! error, which says what to fix), every feed's and status page's fetch health (last success,
//! failures in a row, last error), the live replicas and what each holds (its share of the
//! checks, its running job ticks, its leased actions); and the admin action `POST
//! /ops/outbox/{id}/retry` (requeue a dead action, like `sparky outbox retry`).
//!
//! Admin actions need `SPARKY_ADMIN_TOKEN`: as `Authorization: Bearer TOKEN`, or through the
//! `POST /ops/login` form (`token=...`), which sets an `HttpOnly`, `SameSite=Strict` session
//! cookie holding an HMAC-SHA256 of a fixed label under the token (never the token itself); both
//! compared in constant time. Without a configured token, admin actions are off (403 saying so);
//! without or with a wrong credential, 401; a retry done answers 303 back to `/ops`.

use axum::Form;
use axum::Json;
use axum::extract::{Path, State as Extract};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::view::{When, when};
use super::{html, unavailable};
use crate::config::{Config, Secret};
use crate::http::State;
use crate::model::{ActionState, Timestamp};
use crate::sources::synthetics::share;
use crate::store::{Store, StoreError, changelogs, jobs, outbox, replicas, status};

/// The template of `GET /ops`.
pub const TEMPLATE: &str = "dashboard/ops.html.j2";
/// The session cookie's name.
pub const COOKIE: &str = "sparky_admin";
/// Actions listed at most.
const ACTIONS: i64 = 200;

/// The operations page.
#[derive(Debug, Clone, Serialize)]
pub struct Ops {
    /// When it was read.
    pub generated_at: When,
    /// Whether admin actions are open to this request.
    pub admin: Admin,
    /// Undelivered actions, oldest first.
    pub actions: Vec<ActionLine>,
    /// Every feed.
    pub feeds: Vec<SourceLine>,
    /// Every status page.
    pub status_pages: Vec<SourceLine>,
    /// Live replicas.
    pub replicas: Vec<ReplicaLine>,
}

/// Where a request stands with the admin actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Admin {
    /// No `SPARKY_ADMIN_TOKEN` configured.
    Off,
    /// Without a valid token or session.
    SignedOut,
    /// With one.
    SignedIn,
}

/// An undelivered action.
#[derive(Debug, Clone, Serialize)]
pub struct ActionLine {
    /// Row id.
    pub id: i64,
    /// Sink word.
    pub sink: String,
    /// State word.
    pub state: ActionState,
    /// Attempts made.
    pub attempts: i64,
    /// Next attempt.
    pub next_attempt_at: When,
    /// The last error (its fix in its words).
    pub last_error: Option<String>,
}

/// A feed's or status page's fetch health.
#[derive(Debug, Clone, Serialize)]
pub struct SourceLine {
    /// Partner id.
    pub partner: String,
    /// The URL, without its query (which may carry a key).
    pub url: String,
    /// Last successful fetch.
    pub last_success: Option<When>,
    /// Failed fetches in a row.
    pub consecutive_failures: i64,
    /// The last error.
    pub last_error: Option<String>,
}

/// A live replica.
#[derive(Debug, Clone, Serialize)]
pub struct ReplicaLine {
    /// Host, pid and a random part.
    pub instance: String,
    /// Started.
    pub started_at: When,
    /// Last heartbeat.
    pub heartbeat_at: When,
    /// The synthetic checks it runs now (its rendezvous share).
    pub checks: Vec<String>,
    /// The job ticks it is running.
    pub jobs: Vec<String>,
    /// Outbox actions it is delivering (leased).
    pub leased_actions: i64,
}

/// `POST /ops/login`'s form.
#[derive(Debug, Deserialize)]
pub struct Login {
    /// The admin token.
    pub token: String,
}

/// `GET /ops`.
pub async fn page(Extract(state): Extract<State>, headers: HeaderMap) -> Response {
    match read(&state.store, &state.config, admin_state(&state.config, &headers), Timestamp::now()).await {
        Ok(view) => html(&state.templates, TEMPLATE, &view),
        Err(e) => unavailable(&e),
    }
}

/// `GET /api/ops`.
pub async fn api(Extract(state): Extract<State>, headers: HeaderMap) -> Response {
    match read(&state.store, &state.config, admin_state(&state.config, &headers), Timestamp::now()).await {
        Ok(view) => Json(view).into_response(),
        Err(e) => unavailable(&e),
    }
}

/// `POST /ops/login`: 303 to `/ops` with the session cookie; 401 for a wrong token; 403 when
/// admin actions are off.
pub async fn login(Extract(state): Extract<State>, Form(form): Form<Login>) -> Response {
    let Some(token) = &state.config.global.server.admin_token else { return off() };
    if !same(form.token.as_bytes(), token.expose().as_bytes()) {
        return refused("wrong admin token");
    }
    let cookie = format!("{COOKIE}={}; Path=/ops; HttpOnly; SameSite=Strict", session(token));
    (StatusCode::SEE_OTHER, [(header::LOCATION, "/ops".to_owned()), (header::SET_COOKIE, cookie)]).into_response()
}

/// `POST /ops/outbox/{id}/retry`: requeues dead action `id` and wakes the delivery worker; 303
/// to `/ops`, 404 for no such action, 409 for an action that is not dead.
pub async fn retry(Extract(state): Extract<State>, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    match admin_state(&state.config, &headers) {
        Admin::Off => return off(),
        Admin::SignedOut => {
            return refused("admin token missing or wrong: send Authorization: Bearer SPARKY_ADMIN_TOKEN, or sign in at /ops");
        }
        Admin::SignedIn => {}
    }
    match outbox::requeue(&state.store, id).await {
        Ok(true) => {
            tracing::info!(action = id, "dead action requeued from the dashboard");
            state.wake.notify_one();
            (StatusCode::SEE_OTHER, [(header::LOCATION, "/ops")]).into_response()
        }
        Ok(false) => match outbox::get(&state.store, id).await {
            Ok(Some(row)) => (StatusCode::CONFLICT, format!("action {id} is {}, not dead: nothing to retry\n", row.state)).into_response(),
            Ok(None) => (StatusCode::NOT_FOUND, format!("no action {id}\n")).into_response(),
            Err(e) => unavailable(&e),
        },
        Err(e) => unavailable(&e),
    }
}

fn off() -> Response {
    (StatusCode::FORBIDDEN, "admin actions are off: set SPARKY_ADMIN_TOKEN to enable them\n").into_response()
}

fn refused(why: &str) -> Response {
    (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")], format!("{why}\n")).into_response()
}

/// Where a request with `headers` stands.
fn admin_state(config: &Config, headers: &HeaderMap) -> Admin {
    let Some(token) = &config.global.server.admin_token else { return Admin::Off };
    let bearer = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    if bearer.is_some_and(|b| same(b.trim().as_bytes(), token.expose().as_bytes())) {
        return Admin::SignedIn;
    }
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().strip_prefix(&format!("{COOKIE}=")).map(str::to_owned))
        .any(|c| same(c.as_bytes(), session(token).as_bytes()));
    if cookie { Admin::SignedIn } else { Admin::SignedOut }
}

/// Constant-time equality.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// The session cookie's value for `token`.
fn session(token: &Secret) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(token.expose().as_bytes()) else { return String::new() };
    mac.update(b"sparky admin session v1");
    hex::encode(mac.finalize().into_bytes())
}

/// The operations page at `now`.
///
/// # Errors
/// A query failed.
pub async fn read(store: &Store, config: &Config, admin: Admin, now: Timestamp) -> Result<Ops, StoreError> {
    let undelivered = [ActionState::Pending, ActionState::Retrying, ActionState::Blocked, ActionState::Dead];
    let actions = outbox::list(store, &undelivered, ACTIONS)
        .await?
        .into_iter()
        .map(|a| ActionLine {
            id: a.id,
            sink: a.sink.as_str().to_owned(),
            state: a.state,
            attempts: a.attempts,
            next_attempt_at: when(a.next_attempt_at, now),
            last_error: a.last_error,
        })
        .collect();
    let mut feeds = Vec::new();
    let mut status_pages = Vec::new();
    for partner in &config.partners {
        for feed in &partner.feeds {
            let s = changelogs::feed_state(store, partner.id.as_str(), feed.url.as_str()).await?;
            feeds.push(SourceLine {
                partner: partner.id.to_string(),
                url: shown(feed.url.url()),
                last_success: s.last_success_at.map(|t| when(t, now)),
                consecutive_failures: s.consecutive_failures,
                last_error: s.last_error,
            });
        }
        if let Some(page) = &partner.status_page {
            let s = status::page_state(store, partner.id.as_str()).await?;
            status_pages.push(SourceLine {
                partner: partner.id.to_string(),
                url: shown(page.url.url()),
                last_success: s.last_success_at.map(|t| when(t, now)),
                consecutive_failures: s.consecutive_failures,
                last_error: s.latest.and_then(|(_, p)| p.error),
            });
        }
    }
    let replicas = replica_lines(store, config, now).await?;
    Ok(Ops { generated_at: when(now, now), admin, actions, feeds, status_pages, replicas })
}

/// Each live replica with what it holds: its share of the checks (as the engine computes it
/// from the same heartbeats), its running job ticks, its leased actions.
async fn replica_lines(store: &Store, config: &Config, now: Timestamp) -> Result<Vec<ReplicaLine>, StoreError> {
    let ttl = share::ttl(config.global.synthetics.heartbeat.get());
    let members = replicas::live(store, now - ttl, Timestamp::EPOCH).await?;
    let jobs = jobs::held(store, now).await?;
    let leases = outbox::leases(store, now).await?;
    let view = share::View::new("", members.clone(), ttl);
    let enabled: Vec<&str> = config.checks.iter().filter(|c| c.enabled).map(|c| c.id.as_str()).collect();
    Ok(members
        .into_iter()
        .map(|m| ReplicaLine {
            checks: enabled.iter().filter(|c| view.owner(c, now) == Some(m.instance.as_str())).map(|c| (*c).to_owned()).collect(),
            jobs: jobs.iter().filter(|(h, _)| *h == m.instance).map(|(_, j)| j.clone()).collect(),
            leased_actions: leases.iter().find(|(o, _)| *o == m.instance).map_or(0, |(_, n)| *n),
            started_at: when(m.started_at, now),
            heartbeat_at: when(m.heartbeat_at, now),
            instance: m.instance,
        })
        .collect())
}

/// A URL without its query and credentials (either may hold a key).
fn shown(url: &url::Url) -> String {
    let mut bare = url.clone();
    let _ = bare.set_username("");
    let _ = bare.set_password(None);
    crate::fetch::redirect::without_query(&bare)
}
