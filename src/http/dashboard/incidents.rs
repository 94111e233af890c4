//! `GET /api/incidents[?days=N]`: our incidents, open and resolved in the last `N` days
//! (default 7, at most 90), newest first, as `sparky incidents --json` has them:
//! `{"incidents": [{"id", "partner", "cause", "cause_reason", "priority", "opened_at", "checks",
//! "state", "resolved_at", "all_checks", "remote": [{"sink", "id"}], "history": [{"at", "kind",
//! "detail", "evidence"}]}]}`.

use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State as Extract};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::unavailable;
use crate::http::State;
use crate::model::Timestamp;
use crate::store::incidents;

/// `?days=N`.
#[derive(Debug, Default, Deserialize)]
pub struct Window {
    /// Resolved incidents of the last `days` days (1..=90, default 7).
    pub days: Option<u64>,
}

/// `GET /api/incidents`.
pub async fn api(Extract(state): Extract<State>, Query(window): Query<Window>) -> Response {
    let days = window.days.unwrap_or(7).clamp(1, 90);
    match incidents::list(&state.store, Timestamp::now() - Duration::from_secs(days * 24 * 3600)).await {
        Ok(all) => Json(serde_json::json!({ "incidents": all })).into_response(),
        Err(e) => unavailable(&e),
    }
}
