//! The built-in public status page: `GET /api/v2/summary.json` (Statuspage v2 compatible, one
//! component per partner, named by the partner's `name`) and `GET /status`, the same data as an
//! HTML page rendered from `templates/status_page.html.j2` (auto-escaped, inline CSS, no
//! JavaScript, no external resources).

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::app::App;
use crate::sinks::statuspage::builtin;
use crate::templates::{TemplateError, Templates};

/// The template of `GET /status`.
pub const TEMPLATE: &str = "status_page.html.j2";

/// What the template sees.
#[derive(Debug, Serialize)]
pub struct PageView {
    /// Page title (`[statuspage] title`).
    pub title: String,
    /// Page indicator word (`none`, `minor`, `major`, `critical`, `maintenance`).
    pub indicator: String,
    /// Its words ("All Systems Operational").
    pub description: String,
    /// Last change, `2026-01-05 10:00 UTC`.
    pub updated_at: String,
    /// One per partner.
    pub components: Vec<ComponentView>,
    /// Unresolved incidents, newest first.
    pub incidents: Vec<IncidentView>,
}

/// A component on the page.
#[derive(Debug, Serialize)]
pub struct ComponentView {
    /// The partner's name.
    pub name: String,
    /// Status word (`operational` ...).
    pub status: String,
    /// Status for people ("Partial outage").
    pub label: String,
}

/// An open incident on the page.
#[derive(Debug, Serialize)]
pub struct IncidentView {
    /// Title.
    pub name: String,
    /// Status word (`investigating` ...).
    pub status: String,
    /// Status for people.
    pub status_label: String,
    /// Impact word (`minor` ...).
    pub impact: String,
    /// Start, `2026-01-05 10:00 UTC`.
    pub started_at: String,
    /// Names of the affected components.
    pub components: Vec<String>,
    /// Updates, newest first.
    pub updates: Vec<UpdateView>,
}

/// One update of an incident.
#[derive(Debug, Serialize)]
pub struct UpdateView {
    /// Status word.
    pub status: String,
    /// Status for people.
    pub status_label: String,
    /// The message.
    pub body: String,
    /// When, `2026-01-05 10:00 UTC`.
    pub at: String,
}

/// The summary of the built-in page for this configuration.
async fn load(app: &App) -> Result<Value, Response> {
    let partners: Vec<(String, String)> = app.config.partners.iter().map(|p| (p.id.as_str().to_owned(), p.name.clone())).collect();
    builtin::summary(&app.store, &app.config.global.statuspage, &partners).await.map_err(|e| {
        tracing::warn!(error = %e, "cannot read the built-in status page");
        (StatusCode::SERVICE_UNAVAILABLE, "status page temporarily unavailable\n").into_response()
    })
}

/// `GET /api/v2/summary.json`.
pub async fn summary_json(State(app): State<App>) -> Response {
    match load(&app).await {
        Ok(summary) => ([(header::CACHE_CONTROL, "no-cache")], axum::Json(summary)).into_response(),
        Err(response) => response,
    }
}

/// `GET /status`.
pub async fn page(State(app): State<App>) -> Response {
    let summary = match load(&app).await {
        Ok(summary) => summary,
        Err(response) => return response,
    };
    match render(&app.templates, &summary) {
        Ok(html) => ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], html).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot render the status page");
            (StatusCode::INTERNAL_SERVER_ERROR, "status page cannot be rendered\n").into_response()
        }
    }
}

/// Renders a `summary.json` value with the page template.
pub fn render(templates: &Templates, summary: &Value) -> Result<String, TemplateError> {
    templates.render(TEMPLATE, &view(summary))
}

/// The template's view of a `summary.json` value.
pub fn view(summary: &Value) -> PageView {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
    PageView {
        title: text(&summary["page"]["name"]),
        indicator: text(&summary["status"]["indicator"]),
        description: text(&summary["status"]["description"]),
        updated_at: when(&summary["page"]["updated_at"]),
        components: list(&summary["components"])
            .iter()
            .map(|c| ComponentView {
                name: text(&c["name"]),
                status: text(&c["status"]),
                label: label(c["status"].as_str().unwrap_or_default()),
            })
            .collect(),
        incidents: list(&summary["incidents"])
            .iter()
            .map(|i| IncidentView {
                name: text(&i["name"]),
                status: text(&i["status"]),
                status_label: label(i["status"].as_str().unwrap_or_default()),
                impact: text(&i["impact"]),
                started_at: when(&i["started_at"]),
                components: list(&i["components"]).iter().map(|c| text(&c["name"])).collect(),
                updates: list(&i["incident_updates"])
                    .iter()
                    .map(|u| UpdateView {
                        status: text(&u["status"]),
                        status_label: label(u["status"].as_str().unwrap_or_default()),
                        body: text(&u["body"]),
                        at: when(&u["display_at"]),
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// An RFC 3339 time as `2026-01-05 10:00 UTC` (as it is when it does not parse).
fn when(v: &Value) -> String {
    let s = v.as_str().unwrap_or_default();
    DateTime::parse_from_rfc3339(s).map_or_else(|_| s.to_owned(), |t| t.with_timezone(&Utc).format("%Y-%m-%d %H:%M UTC").to_string())
}

/// A status word for people: `partial_outage` -> "Partial outage".
fn label(word: &str) -> String {
    let spaced = word.replace('_', " ");
    let mut chars = spaced.chars();
    chars.next().map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
}
