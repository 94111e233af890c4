//! `GET /api/compat` (`?partner=ID` for one partner): the compatibility runs as
//! `{"detections": [Story ...]}`, the same JSON as `sparky compat --json`
//! (`compatibility::story`).

use axum::Json;
use axum::extract::{Query, State as Extract};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::State;
use crate::compatibility::story::stories;

/// The query of `/api/compat`.
#[derive(Debug, Deserialize)]
pub struct Filter {
    /// Only this partner.
    pub partner: Option<String>,
}

/// `GET /api/compat`: 200 with the stories; 404 for an unknown partner; 503 when the database
/// fails.
pub async fn api(Extract(state): Extract<State>, Query(filter): Query<Filter>) -> Response {
    if let Some(p) = &filter.partner
        && state.config.partner(p).is_none()
    {
        return (StatusCode::NOT_FOUND, Json(serde_json::json!({"error": format!("no partner `{p}`")}))).into_response();
    }
    match stories(&state.store, filter.partner.as_deref()).await {
        Ok(all) => Json(serde_json::json!({ "detections": all })).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot read the compatibility runs");
            (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({"error": "database unavailable"}))).into_response()
        }
    }
}
