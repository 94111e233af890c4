//! `POST /webhooks/github`: GitHub's `workflow_run` webhooks hurry the next poll of the run they
//! name; the API stays the source of truth (a webhook's payload is never stored or believed).
//!
//! Follows GitHub's "Validating webhook deliveries": `X-Hub-Signature-256: sha256=HEX`, the
//! HMAC-SHA256 of the raw body under the webhook secret (`GITHUB_WEBHOOK_SECRET`), compared in
//! constant time (`hmac`'s `verify_slice`); `X-GitHub-Event` names the event (`ping` on
//! creation), `X-GitHub-Delivery` is unique per delivery (a redelivery by hand gets a new one, a
//! replay of a captured request the same one, which is ignored). Answers: 202 hurried, 200
//! verified but nothing to do (ping, other events, replays), 400 malformed, 401 without a
//! secret configured, unsigned or badly signed, 413 over [`MAX_BODY`] (refused on its
//! `Content-Length`, or as soon as a streamed body passes the limit, never read whole), 503
//! when the database fails. Every request is counted in `sparky_webhook_requests_total`.

use axum::Json;
use axum::body::Body;
use axum::extract::State as Extract;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::State;
use crate::metrics::METRICS;
use crate::model::WebhookOutcome;
use crate::store::compat_runs;

/// Largest body read, in bytes (a `workflow_run` payload is about 20 KiB; GitHub caps payloads
/// at 25 MB).
pub const MAX_BODY: usize = 1024 * 1024;

/// `POST /webhooks/github`.
pub async fn github(Extract(state): Extract<State>, headers: HeaderMap, body: Body) -> Response {
    let (outcome, status, detail) = handle(&state, &headers, body).await;
    METRICS.webhook_requests.with_label_values(&[outcome.as_str()]).inc();
    let level_warn = status.is_client_error() || status.is_server_error();
    if level_warn {
        tracing::warn!(outcome = outcome.as_str(), status = status.as_u16(), detail = %detail, "GitHub webhook refused");
    } else {
        tracing::debug!(outcome = outcome.as_str(), detail = %detail, "GitHub webhook");
    }
    (status, Json(json!({ "outcome": outcome.as_str(), "detail": detail }))).into_response()
}

type Handled = (WebhookOutcome, StatusCode, String);

async fn handle(state: &State, headers: &HeaderMap, body: Body) -> Handled {
    let Some(secret) = &state.config.global.github.webhook_secret else {
        let fix = "no webhook secret is configured: set GITHUB_WEBHOOK_SECRET to the secret of the GitHub webhook";
        return (WebhookOutcome::NoSecret, StatusCode::UNAUTHORIZED, fix.to_owned());
    };
    if content_length(headers).is_some_and(|n| n > MAX_BODY as u64) {
        return too_large();
    }
    let Some(signature) = header_text(headers, "x-hub-signature-256") else {
        return (WebhookOutcome::Unsigned, StatusCode::UNAUTHORIZED, "no X-Hub-Signature-256 header".to_owned());
    };
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else { return too_large() };
    if !signed(secret.expose().as_bytes(), &body, signature) {
        return (WebhookOutcome::BadSignature, StatusCode::UNAUTHORIZED, "X-Hub-Signature-256 does not match the body".to_owned());
    }
    let event = header_text(headers, "x-github-event").unwrap_or_default();
    if event != "workflow_run" {
        return (WebhookOutcome::Ignored, StatusCode::OK, format!("event `{event}` is not followed"));
    }
    let Some(delivery) = header_text(headers, "x-github-delivery").filter(|d| !d.is_empty()) else {
        return (WebhookOutcome::Malformed, StatusCode::BAD_REQUEST, "no X-GitHub-Delivery header".to_owned());
    };
    let Some((run_id, attempt)) = run_of(&body) else {
        return (WebhookOutcome::Malformed, StatusCode::BAD_REQUEST, "not a workflow_run payload (workflow_run.id)".to_owned());
    };
    hurry(state, delivery, run_id, attempt).await
}

/// Takes the delivery (a replay is ignored) and hurries the polls of run `run_id`.
async fn hurry(state: &State, delivery: &str, run_id: i64, attempt: i64) -> Handled {
    let unavailable = |e: crate::store::StoreError| {
        tracing::error!(error = %e, "cannot record a GitHub webhook delivery");
        (WebhookOutcome::Unavailable, StatusCode::SERVICE_UNAVAILABLE, "database unavailable".to_owned())
    };
    match compat_runs::take_delivery(&state.store, delivery).await {
        Ok(true) => {}
        Ok(false) => return (WebhookOutcome::Replayed, StatusCode::OK, format!("delivery {delivery} was taken before")),
        Err(e) => return unavailable(e),
    }
    match compat_runs::hurry(&state.store, run_id, attempt).await {
        Ok(0) => (WebhookOutcome::Ignored, StatusCode::OK, format!("run {run_id} is not followed")),
        Ok(n) => {
            state.compat_wake.notify_one();
            (WebhookOutcome::Accepted, StatusCode::ACCEPTED, format!("run {run_id}: {n} poll(s) hurried"))
        }
        Err(e) => unavailable(e),
    }
}

fn too_large() -> Handled {
    (WebhookOutcome::TooLarge, StatusCode::PAYLOAD_TOO_LARGE, format!("body over {MAX_BODY} bytes"))
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    header_text(headers, header::CONTENT_LENGTH.as_str())?.trim().parse().ok()
}

fn header_text<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Whether `signature` (`sha256=` and 64 hex digits) is the HMAC-SHA256 of `body` under
/// `secret`, compared in constant time.
pub fn signed(secret: &[u8], body: &[u8], signature: &str) -> bool {
    let Some(digest) = signature.trim().strip_prefix("sha256=").and_then(|h| hex::decode(h).ok()) else { return false };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else { return false };
    mac.update(body);
    mac.verify_slice(&digest).is_ok()
}

/// `workflow_run.id` and `workflow_run.run_attempt` of a `workflow_run` event.
fn run_of(body: &[u8]) -> Option<(i64, i64)> {
    let event: Value = serde_json::from_slice(body).ok()?;
    let run = event.get("workflow_run")?;
    Some((run.get("id")?.as_i64()?, run.get("run_attempt").and_then(Value::as_i64).unwrap_or(1)))
}
