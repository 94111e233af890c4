//! The built-in public status page: `GET /api/v2/summary.json` (Statuspage v2 compatible, one
//! component per partner, named by the partner's `name`) and `GET /status`, the same data as an
//! HTML page rendered from `templates/status_page.html.j2` (auto-escaped, inline CSS, no
//! JavaScript, no external resources) with the page's [`history`] (90-day uptime bars, the
//! incidents of the last 14 days), and that history as Atom at `GET /status/history.atom`. When
//! Atlassian Statuspage is our public page, `/status` says so and links to it (`[public_status]
//! url`) instead of showing the local data.

pub mod history;

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
    /// Per component, 90 daily bars and the uptime.
    pub uptime: Vec<history::Uptime>,
    /// Incidents resolved in the last 14 days, newest first.
    pub past_incidents: Vec<IncidentView>,
    /// With Atlassian Statuspage as our page: where it is (`[public_status] url`, empty when
    /// not set); the page then shows only that.
    pub hosted: Option<String>,
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
#[derive(Debug, Clone, Serialize)]
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
    /// When it was resolved (past incidents).
    pub resolved_at: Option<String>,
    /// Updates, newest first.
    pub updates: Vec<UpdateView>,
}

/// One update of an incident.
#[derive(Debug, Clone, Serialize)]
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
    let mut summary = summary(&state.store, &state.config.global.statuspage.title, &partners).await;
    // The page's address as customers reach it, when configured.
    if let (Ok(s), Some(url)) = (&mut summary, &state.config.global.public_status.url)
        && let Some(page) = s.page.as_mut()
    {
        page.url = Some(url.as_str().to_owned());
    }
    summary.map_err(|e| {
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
    let global = &state.config.global;
    let view = if global.statuspage.is_configured() {
        PageView::hosted(&global.statuspage.title, global.public_status.url.as_ref().map(|u| u.as_str().to_owned()).unwrap_or_default())
    } else {
        let summary = match load(&state).await {
            Ok(summary) => summary,
            Err(response) => return response,
        };
        let mut view = view(&summary);
        if let Err(e) = with_history(&mut view, &state, Timestamp::now()).await {
            tracing::warn!(error = %e, "cannot read the built-in status page's history");
            return (StatusCode::SERVICE_UNAVAILABLE, "status page temporarily unavailable\n").into_response();
        }
        view
    };
    match state.templates.render(TEMPLATE, &view) {
        Ok(html) => ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], html).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot render the status page");
            (StatusCode::INTERNAL_SERVER_ERROR, "status page cannot be rendered\n").into_response()
        }
    }
}

/// Adds the 90 days of history to `view`.
async fn with_history(view: &mut PageView, state: &State, now: Timestamp) -> Result<(), StoreError> {
    let since = now - std::time::Duration::from_secs(history::DAYS as u64 * 24 * 3600);
    let incidents = table::incidents_since(&state.store, since).await?;
    view.uptime = state.config.partners.iter().map(|p| history::uptime(p.id.as_str(), &p.name, &incidents, now)).collect();
    view.past_incidents = history::past(&incidents, now).into_iter().map(|row| past_view(row, &state.config)).collect();
    Ok(())
}

fn past_view(row: &table::IncidentRow, config: &crate::config::Config) -> IncidentView {
    let name_of = |partner: &str, name: &str| config.partner(partner).map_or_else(|| name.to_owned(), |p| p.name.clone());
    IncidentView {
        name: row.name.clone(),
        status: row.status.as_str().to_owned(),
        status_label: label(row.status.as_str()),
        impact: row.impact.as_str().to_owned(),
        started_at: when(Some(&row.created_at.to_rfc3339())),
        components: row.components.iter().map(|c| name_of(&c.partner, &c.name)).collect(),
        resolved_at: history::resolved_at(row).map(|t| when(Some(&t.to_rfc3339()))),
        updates: row
            .updates
            .iter()
            .rev()
            .map(|u| UpdateView {
                status: u.status.as_str().to_owned(),
                status_label: label(u.status.as_str()),
                body: u.body.clone(),
                at: when(Some(&u.at.to_rfc3339())),
            })
            .collect(),
    }
}

impl PageView {
    /// The page when Atlassian Statuspage is ours: only where it is.
    pub fn hosted(title: &str, url: String) -> Self {
        Self {
            title: title.to_owned(),
            indicator: String::new(),
            description: String::new(),
            updated_at: String::new(),
            components: Vec::new(),
            incidents: Vec::new(),
            uptime: Vec::new(),
            past_incidents: Vec::new(),
            hosted: Some(url),
        }
    }
}

/// The template of `GET /status/history.atom`.
pub const ATOM: &str = "status_history.atom.xml.j2";

/// One incident of the history feed.
#[derive(Debug, Serialize)]
pub struct FeedEntry {
    /// `urn:sparky:status:KEY`.
    pub id: String,
    /// Title.
    pub title: String,
    /// Opened, RFC 3339.
    pub published: String,
    /// Last change, RFC 3339.
    pub updated: String,
    /// Status word.
    pub status: String,
    /// Impact word.
    pub impact: String,
    /// Affected components.
    pub components: Vec<String>,
    /// Its updates, newest first: (when, status label, message).
    pub updates: Vec<(String, String, String)>,
}

/// `GET /status/history.atom`: our incidents of the last 90 days, newest first, one Atom 1.0
/// entry each (RFC 4287), its updates as the content; 200 also with Atlassian as our page
/// (the incidents Sparky published there).
pub async fn history_atom(Extract(state): Extract<State>) -> Response {
    let now = Timestamp::now();
    let since = now - std::time::Duration::from_secs(history::DAYS as u64 * 24 * 3600);
    let incidents = match table::incidents_since(&state.store, since).await {
        Ok(all) => all,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the status page's history");
            return (StatusCode::SERVICE_UNAVAILABLE, "status history temporarily unavailable\n").into_response();
        }
    };
    let entries: Vec<FeedEntry> = incidents
        .iter()
        .map(|row| {
            let view = past_view(row, &state.config);
            FeedEntry {
                id: format!("urn:sparky:status:{}", row.key),
                title: row.name.clone(),
                published: row.created_at.to_rfc3339_seconds(),
                updated: row.updated_at.to_rfc3339_seconds(),
                status: view.status_label,
                impact: view.impact,
                components: view.components,
                updates: view.updates.into_iter().map(|u| (u.at, u.status_label, u.body)).collect(),
            }
        })
        .collect();
    let global = &state.config.global;
    let link = global.public_status.url.as_ref().map_or_else(|| "/status".to_owned(), |u| u.as_str().to_owned());
    let updated = incidents.iter().map(|i| i.updated_at).max().unwrap_or(now).to_rfc3339_seconds();
    let ctx = serde_json::json!({ "title": global.statuspage.title, "link": link, "updated": updated, "entries": entries });
    match state.templates.render(ATOM, &ctx) {
        Ok(xml) => ([(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")], xml).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot render the status history feed");
            (StatusCode::INTERNAL_SERVER_ERROR, "status history cannot be rendered\n").into_response()
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

/// Renders a summary with the page template, with a sample history (for `check-config`): one
/// uptime row and the summary's incidents as past ones; also the page as it is with Atlassian
/// Statuspage, and the history feed.
pub fn render_samples(templates: &Templates, summary: &Summary) -> Result<String, TemplateError> {
    let mut page = view(summary);
    page.uptime = vec![history::uptime("acme", "Acme Cloud", &[], Timestamp::from_millis(1_764_000_000_000))];
    page.past_incidents = page.incidents.iter().cloned().map(|i| IncidentView { resolved_at: Some(i.started_at.clone()), ..i }).collect();
    templates.render(TEMPLATE, &PageView::hosted("Acme status", "https://status.acme.test/".to_owned()))?;
    let entry = FeedEntry {
        id: "urn:sparky:status:incident:7".to_owned(),
        title: "Acme Cloud integration degraded".to_owned(),
        published: "2026-11-25T09:00:00Z".to_owned(),
        updated: "2026-11-25T10:00:00Z".to_owned(),
        status: "Resolved".to_owned(),
        impact: "major".to_owned(),
        components: vec!["Acme Cloud".to_owned()],
        updates: vec![("2026-11-25 10:00 UTC".to_owned(), "Resolved".to_owned(), "Acme Cloud works again.".to_owned())],
    };
    let ctx = serde_json::json!({"title": "Acme status", "link": "/status", "updated": "2026-11-25T10:00:00Z", "entries": [entry]});
    templates.render(ATOM, &ctx)?;
    templates.render(TEMPLATE, &page)
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
                resolved_at: None,
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
        uptime: Vec::new(),
        past_incidents: Vec::new(),
        hosted: None,
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
