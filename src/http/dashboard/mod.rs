//! The dashboard, served by `sparky run`: server-rendered HTML from `templates/dashboard/`
//! (minijinja, auto-escaped, overridable per file), inline SVG for charts, no script; each page
//! has the JSON it renders behind it.
//!
//! - [`overview`]: `GET /` and `GET /api/partners`, one row per partner, worst first;
//! - [`partner`]: `GET /partners/{id}` and `GET /api/partners/{id}`, one integration's page with
//!   its [`vendor_lag`];
//! - [`changelog`]: `GET /changelog`, `GET /changelog.atom` and `GET /api/changelog`;
//! - [`compat`]: `GET /compat` and `GET /api/compat`;
//! - [`incidents`]: `GET /api/incidents`;
//! - `GET /api/openapi.json`: the OpenAPI 3.1 description of every `/api/` route
//!   (`src/http/dashboard/openapi.json`; a test checks the real answers against it);
//! - [`ops`]: `GET /ops` and `GET /api/ops` (outbox, fetch health, replicas), and the admin
//!   actions behind `SPARKY_ADMIN_TOKEN` (`POST /ops/login`, `POST /ops/outbox/{id}/retry`).
//!
//! Every partner-provided string (feed titles, status page texts, incident names) reaches the
//! page through the templates' HTML escaping; links are kept only when they are `http(s)` URLs
//! ([`safe_link`]), so a `javascript:` link in a feed is never clickable.

pub mod changelog;
pub mod compat;
pub mod incidents;
pub mod ops;
pub mod overview;
pub mod partner;
pub mod samples;
pub mod vendor_lag;
pub mod view;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;

use super::State;
use crate::templates::{TemplateError, Templates};

/// The dashboard's routes.
pub fn routes() -> Router<State> {
    Router::new()
        .route("/", get(overview::page))
        .route("/api/partners", get(overview::api))
        .route("/partners/{id}", get(partner::page))
        .route("/api/partners/{id}", get(partner::api))
        .route("/changelog", get(changelog::page))
        .route("/changelog.atom", get(changelog::atom))
        .route("/api/changelog", get(changelog::api))
        .route("/compat", get(compat::page))
        .route("/api/compat", get(compat::api))
        .route("/api/incidents", get(incidents::api))
        .route("/api/openapi.json", get(openapi))
        .route("/ops", get(ops::page))
        .route("/api/ops", get(ops::api))
        .route("/ops/login", post(ops::login))
        .route("/ops/outbox/{id}/retry", post(ops::retry))
}

/// The OpenAPI description of the JSON API.
pub const OPENAPI: &str = include_str!("openapi.json");

/// `GET /api/openapi.json`.
async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// Renders `template` with `view` as an HTML answer.
fn html<V: Serialize>(templates: &Templates, template: &str, view: &V) -> Response {
    match templates.render(template, view) {
        Ok(body) => ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response(),
        Err(e) => rendering_failed(&e),
    }
}

fn rendering_failed(e: &TemplateError) -> Response {
    tracing::warn!(error = %e, "cannot render a dashboard page");
    (StatusCode::INTERNAL_SERVER_ERROR, "page cannot be rendered\n").into_response()
}

/// The answer when the database fails.
fn unavailable(e: &crate::store::StoreError) -> Response {
    tracing::warn!(error = %e, "cannot read the dashboard's data");
    (StatusCode::SERVICE_UNAVAILABLE, axum::Json(serde_json::json!({"error": "database unavailable"}))).into_response()
}

/// The answer for an unknown partner.
fn no_partner(id: &str) -> Response {
    (StatusCode::NOT_FOUND, axum::Json(serde_json::json!({"error": format!("no partner `{id}`")}))).into_response()
}
