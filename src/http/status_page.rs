//! The built-in public status page: `GET /api/v2/summary.json` (Statuspage v2 compatible, one
//! component per partner, named by the partner's `name`) and `GET /status`, the same data as an
//! HTML page rendered from `templates/status_page.html.j2` (auto-escaped, inline CSS, no
//! JavaScript, no external resources).

use std::collections::HashMap;

use axum::extract::State as Extract;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::State;
use crate::model::statuspage::{self as v2, Summary};
use crate::model::{ComponentStatus, Indicator, Timestamp};
use crate::store::public_status::{self as table, ComponentRow};
use crate::store::{Store, StoreError};
use crate::templates::{TemplateError, Templates};

/// `page.id` of the built-in page.
pub const PAGE_ID: &str = "sparky";

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
async fn load(state: &State) -> Result<Summary, Response> {
    let partners: Vec<(String, String)> = state.config.partners.iter().map(|p| (p.id.to_string(), p.name.clone())).collect();
    summary(&state.store, &state.config.global.statuspage.title, &partners).await.map_err(|e| {
        tracing::warn!(error = %e, "cannot read the built-in status page");
        (StatusCode::SERVICE_UNAVAILABLE, "status page temporarily unavailable\n").into_response()
    })
}

/// `GET /api/v2/summary.json`.
pub async fn summary_json(Extract(state): Extract<State>) -> Response {
    match load(&state).await {
        Ok(summary) => ([(header::CACHE_CONTROL, "no-cache")], axum::Json(summary)).into_response(),
        Err(response) => response,
    }
}

/// `GET /status`.
pub async fn page(Extract(state): Extract<State>) -> Response {
    let summary = match load(&state).await {
        Ok(summary) => summary,
        Err(response) => return response,
    };
    match render(&state.templates, &summary) {
        Ok(html) => ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], html).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot render the status page");
            (StatusCode::INTERNAL_SERVER_ERROR, "status page cannot be rendered\n").into_response()
        }
    }
}

/// Statuspage's words for a page indicator.
pub fn describe(indicator: Indicator) -> &'static str {
    match indicator {
        Indicator::None => "All Systems Operational",
        Indicator::Minor => "Minor Service Outage",
        Indicator::Major => "Partial System Outage",
        Indicator::Critical => "Major System Outage",
        Indicator::Maintenance => "Service Under Maintenance",
        Indicator::Unknown => "Status Unknown",
    }
}

fn text(s: impl Into<String>) -> Option<String> {
    Some(s.into())
}

/// A component of the page (also as listed inside an incident).
fn component(id: &str, name: &str, status: ComponentStatus, at: Option<Timestamp>, position: usize) -> v2::Component {
    let at = at.map(Timestamp::to_rfc3339);
    v2::Component {
        id: text(id),
        name: text(name),
        status: text(status.as_str()),
        created_at: at.clone(),
        updated_at: at,
        position: i64::try_from(position).ok(),
        description: None,
        showcase: Some(false),
        start_date: None,
        group_id: None,
        page_id: text(PAGE_ID),
        group: Some(false),
        only_show_if_degraded: Some(false),
    }
}

/// The built-in page as a Statuspage v2 `summary.json`: `page`, `components` (one per partner of
/// `partners` (id, name), in that order, named by the partner's name, `operational` until told
/// otherwise), `incidents` (unresolved, newest first, each with `incident_updates` newest first),
/// `scheduled_maintenances` (always empty) and `status` (the worst open incident's impact, else
/// the worst component's indicator).
pub async fn summary(store: &Store, title: &str, partners: &[(String, String)]) -> Result<Summary, StoreError> {
    let stored: HashMap<String, ComponentRow> = table::components(store).await?.into_iter().map(|c| (c.partner.clone(), c)).collect();
    let position: HashMap<&str, (&str, usize)> =
        partners.iter().enumerate().map(|(i, (id, name))| (id.as_str(), (name.as_str(), i + 1))).collect();
    let state_of = |id: &str, default: ComponentStatus| stored.get(id).map_or((default, None), |c| (c.status, Some(c.updated_at)));
    let mut latest: Option<Timestamp> = None;
    let mut worst = ComponentStatus::Operational;
    let mut components = Vec::with_capacity(partners.len());
    for (i, (id, name)) in partners.iter().enumerate() {
        let (status, at) = state_of(id, ComponentStatus::Operational);
        worst = worst.max(status);
        latest = latest.max(at);
        components.push(component(id, name, status, at, i + 1));
    }
    let mut incidents = Vec::new();
    let mut worst_impact: Option<Indicator> = None;
    for row in table::open_incidents(store).await? {
        latest = latest.max(Some(row.updated_at));
        worst_impact = worst_impact.into_iter().chain([row.impact]).max_by_key(|i| i.as_component_status());
        let affected = row
            .components
            .iter()
            .map(|c| {
                let (name, pos) = position.get(c.partner.as_str()).copied().unwrap_or((c.name.as_str(), 0));
                let (status, at) = state_of(&c.partner, c.status);
                component(&c.partner, name, status, at, pos)
            })
            .collect();
        let updates = row
            .updates
            .iter()
            .enumerate()
            .rev()
            .map(|(i, u)| v2::IncidentUpdate {
                id: text(format!("{}-{}", row.key, i + 1)),
                status: text(u.status.as_str()),
                body: text(u.body.clone()),
                incident_id: text(row.key.clone()),
                created_at: text(u.at.to_rfc3339()),
                updated_at: text(u.at.to_rfc3339()),
                display_at: text(u.at.to_rfc3339()),
                deliver_notifications: Some(true),
                custom_tweet: None,
                tweet_id: None,
            })
            .collect();
        let monitoring_at = row.updates.iter().find(|u| u.status == v2::IncidentStatus::Monitoring).map(|u| u.at.to_rfc3339());
        incidents.push(v2::Incident {
            id: text(row.key.clone()),
            name: text(row.name.clone()),
            status: text(row.status.as_str()),
            created_at: text(row.created_at.to_rfc3339()),
            updated_at: text(row.updated_at.to_rfc3339()),
            monitoring_at,
            resolved_at: None,
            impact: text(row.impact.as_str()),
            shortlink: None,
            started_at: text(row.created_at.to_rfc3339()),
            page_id: text(PAGE_ID),
            scheduled_for: None,
            scheduled_until: None,
            incident_updates: updates,
            components: affected,
        });
    }
    // Like Statuspage, open incidents set the page's words (their impact mirrors the partner's:
    // a `major` partner incident reads "Partial System Outage" here too); else the components.
    let indicator = worst_impact.unwrap_or_else(|| worst.as_indicator());
    Ok(Summary {
        page: Some(v2::Page {
            id: text(PAGE_ID),
            name: text(title),
            url: text("/status"),
            time_zone: text("Etc/UTC"),
            updated_at: text(latest.unwrap_or_else(Timestamp::now).to_rfc3339()),
        }),
        components: Some(components),
        incidents: Some(incidents),
        scheduled_maintenances: Some(Vec::new()),
        status: Some(v2::Status { indicator: text(indicator.as_str()), description: text(describe(indicator)) }),
    })
}

/// Renders a summary with the page template.
pub fn render(templates: &Templates, summary: &Summary) -> Result<String, TemplateError> {
    templates.render(TEMPLATE, &view(summary))
}

/// The template's view of a summary.
pub fn view(summary: &Summary) -> PageView {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let page = summary.page.clone().unwrap_or_default();
    let status = summary.status.clone().unwrap_or_default();
    PageView {
        title: text(&page.name),
        indicator: text(&status.indicator),
        description: text(&status.description),
        updated_at: when(page.updated_at.as_deref()),
        components: summary
            .components
            .iter()
            .flatten()
            .map(|c| ComponentView { name: text(&c.name), status: text(&c.status), label: label(c.status.as_deref().unwrap_or_default()) })
            .collect(),
        incidents: summary
            .incidents
            .iter()
            .flatten()
            .map(|i| IncidentView {
                name: text(&i.name),
                status: text(&i.status),
                status_label: label(i.status.as_deref().unwrap_or_default()),
                impact: text(&i.impact),
                started_at: when(i.started_at.as_deref()),
                components: i.components.iter().map(|c| text(&c.name)).collect(),
                updates: i
                    .incident_updates
                    .iter()
                    .map(|u| UpdateView {
                        status: text(&u.status),
                        status_label: label(u.status.as_deref().unwrap_or_default()),
                        body: text(&u.body),
                        at: when(u.display_at.as_deref()),
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// An RFC 3339 time as `2026-01-05 10:00 UTC` (as it is when it does not parse).
fn when(v: Option<&str>) -> String {
    let s = v.unwrap_or_default();
    DateTime::parse_from_rfc3339(s).map_or_else(|_| s.to_owned(), |t| t.with_timezone(&Utc).format("%Y-%m-%d %H:%M UTC").to_string())
}

/// A status word for people: `partial_outage` -> "Partial outage".
fn label(word: &str) -> String {
    let spaced = word.replace('_', " ");
    let mut chars = spaced.chars();
    chars.next().map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
}

#[cfg(test)]
mod tests;
