//! The HTTP server (axum): `GET /metrics` (Prometheus text format), `GET /healthz`, and the
//! built-in public status page (`GET /status`, `GET /api/v2/summary.json`, see [`status_page`]).

pub mod status_page;

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::metrics::METRICS;
use crate::store::outbox::{ActionState, count_by_state};

/// The routes.
pub fn router(app: App) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/status", get(status_page::page))
        .route("/api/v2/summary.json", get(status_page::summary_json))
        .with_state(app)
}

/// Serves until `shutdown`.
pub async fn serve(app: App, listener: tokio::net::TcpListener, shutdown: CancellationToken) -> std::io::Result<()> {
    axum::serve(listener, router(app)).with_graceful_shutdown(shutdown.cancelled_owned()).await
}

async fn metrics(State(app): State<App>) -> impl IntoResponse {
    if let Ok(counts) = count_by_state(&app.store).await {
        for state in [ActionState::Pending, ActionState::Retrying, ActionState::Delivered, ActionState::Dead] {
            let n = counts.iter().find(|(s, _)| *s == state).map_or(0, |(_, n)| *n);
            METRICS.outbox_actions.with_label_values(&[state.as_str()]).set(n);
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], METRICS.render())
}

/// 200 when the database answers within 2 s, else 503.
async fn healthz(State(app): State<App>) -> impl IntoResponse {
    match tokio::time::timeout(Duration::from_secs(2), app.store.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, axum::Json(serde_json::json!({"status": "ok", "database": "ok"}))),
        Ok(Err(e)) => (StatusCode::SERVICE_UNAVAILABLE, axum::Json(serde_json::json!({"status": "error", "database": e.to_string()}))),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, axum::Json(serde_json::json!({"status": "error", "database": "timeout"}))),
    }
}
