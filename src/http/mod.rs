//! The HTTP server (axum): `GET /metrics` (Prometheus text format), `GET /healthz`, and the
//! built-in public status page (`GET /status`, `GET /api/v2/summary.json`, see [`status_page`]),
//! the dashboard and its JSON (see [`dashboard`]), and GitHub's
//! `workflow_run` webhooks (`POST /webhooks/github`, see [`webhooks`]).

pub mod dashboard;
pub mod headers;
pub mod limit;
pub mod status_page;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State as Extract;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::metrics::METRICS;
use crate::store::Store;
use crate::templates::Templates;

/// What the handlers read.
#[derive(Clone)]
pub struct State {
    /// The configuration.
    pub config: Arc<Config>,
    /// The database.
    pub store: Store,
    /// Page templates.
    pub templates: Arc<Templates>,
    /// Wakes the compatibility follow-up (a `workflow_run` webhook hurries a poll).
    pub compat_wake: Arc<tokio::sync::Notify>,
    /// Wakes the delivery worker (an action retried from `/ops`).
    pub wake: Arc<tokio::sync::Notify>,
}

/// The routes.
pub fn router(state: State) -> Router {
    let limit = limit::PublicLimit::new(state.config.global.server.public_requests_per_second);
    let public = Router::new()
        .route("/status", get(status_page::page))
        .route("/status/history.atom", get(status_page::history_atom))
        .route("/api/v2/summary.json", get(status_page::summary_json))
        .route("/webhooks/github", post(webhooks::github))
        .layer(axum::middleware::from_fn_with_state(limit, limit::public));
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .merge(public)
        .merge(dashboard::routes())
        .layer(axum::middleware::map_response(headers::secure))
        .with_state(state)
}

/// Serves on `listener` until `shutdown`.
pub async fn serve(state: State, listener: tokio::net::TcpListener, shutdown: CancellationToken) -> std::io::Result<()> {
    axum::serve(listener, router(state).into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

/// The metrics as they stand: counters and gauges kept as things happen (a scrape reads no table).
async fn metrics() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], METRICS.render())
}

/// 200 when the database answers within 2 s, else 503.
async fn healthz(Extract(state): Extract<State>) -> impl IntoResponse {
    match tokio::time::timeout(Duration::from_secs(2), state.store.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, axum::Json(serde_json::json!({"status": "ok", "database": "ok"}))),
        Ok(Err(e)) => (StatusCode::SERVICE_UNAVAILABLE, axum::Json(serde_json::json!({"status": "error", "database": e.to_string()}))),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, axum::Json(serde_json::json!({"status": "error", "database": "timeout"}))),
    }
}
