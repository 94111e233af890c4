//! `GET /partners/{id}` and `GET /api/partners/{id}`: one integration's dashboard: per check a
//! 7-day pass / warn / fail timeline (hourly), p50 / p95 latency and the success ratio; what the
//! partner's page said and when; our incidents of the last 90 days with their cause history and
//! vendor lag (see [`super::vendor_lag`]), with the median; changelog entries; compatibility runs.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State as Extract};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::overview::{EntryRow, PartnerRow, entry_row};
use super::vendor_lag::{self, admits};
use super::view::{Timeline, When, success_ratio, when};
use super::{html, no_partner, unavailable};
use crate::compatibility::story::{Story, stories};
use crate::config::{Config, Partner};
use crate::http::State;
use crate::model::{Cause, Timestamp};
use crate::store::incidents::{self, IncidentSummary};
use crate::store::{Store, StoreError, changelogs, status, synthetics};

/// The template of `GET /partners/{id}`.
pub const TEMPLATE: &str = "dashboard/partner.html.j2";
const WEEK: Duration = Duration::from_secs(7 * 24 * 3600);
const QUARTER: Duration = Duration::from_secs(90 * 24 * 3600);
/// Status events shown at most.
const EVENTS: i64 = 200;
/// Changelog entries shown at most.
const ENTRIES: i64 = 20;

/// One partner's page.
#[derive(Debug, Clone, Serialize)]
pub struct PartnerPage {
    /// When it was read.
    pub generated_at: When,
    /// The overview's row of it.
    pub summary: PartnerRow,
    /// Its checks over 7 days.
    pub checks: Vec<CheckWeek>,
    /// What its page said, newest first.
    pub status_history: Vec<StatusLine>,
    /// Our incidents of the last 90 days, newest first.
    pub incidents: Vec<IncidentLine>,
    /// The vendor lag over them.
    pub vendor_lag: vendor_lag::Summary,
    /// Its changelog entries, newest first.
    pub entries: Vec<EntryRow>,
    /// Its compatibility detections and runs.
    pub compat: Vec<Story>,
}

/// A check's week.
#[derive(Debug, Clone, Serialize)]
pub struct CheckWeek {
    /// Check id.
    pub id: String,
    /// Passed or warned, percent.
    pub success_ratio: Option<f64>,
    /// 168 hourly cells and the p50 / p95 lines.
    pub timeline: Timeline,
}

/// One status event.
#[derive(Debug, Clone, Serialize)]
pub struct StatusLine {
    /// When Sparky saw it.
    pub at: When,
    /// Event kind word.
    pub kind: String,
    /// What changed (component name, incident title).
    pub subject: String,
    /// From.
    pub old: Option<String>,
    /// To.
    pub new: Option<String>,
    /// The page indicator after it.
    pub indicator: String,
}

/// One of our incidents.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentLine {
    /// Id.
    pub id: i64,
    /// Its cause now.
    pub cause: Cause,
    /// Opened (our first confirmed failure).
    pub opened_at: When,
    /// Resolved.
    pub resolved_at: Option<When>,
    /// Minutes until the partner's page admitted it (`None`: it never did).
    pub vendor_lag_minutes: Option<u64>,
    /// Its history: (when, kind, words).
    pub history: Vec<(When, String, String)>,
}

/// `GET /partners/{id}`.
pub async fn page(Extract(state): Extract<State>, Path(id): Path<String>) -> Response {
    let Some(partner) = state.config.partner(&id) else { return no_partner(&id) };
    match read(&state.store, &state.config, partner, Timestamp::now()).await {
        Ok(view) => html(&state.templates, TEMPLATE, &view),
        Err(e) => unavailable(&e),
    }
}

/// `GET /api/partners/{id}`.
pub async fn api(Extract(state): Extract<State>, Path(id): Path<String>) -> Response {
    let Some(partner) = state.config.partner(&id) else { return no_partner(&id) };
    match read(&state.store, &state.config, partner, Timestamp::now()).await {
        Ok(view) => Json(view).into_response(),
        Err(e) => unavailable(&e),
    }
}

/// `partner`'s page at `now`.
///
/// # Errors
/// A query failed.
pub async fn read(store: &Store, config: &Config, partner: &Partner, now: Timestamp) -> Result<PartnerPage, StoreError> {
    let id = partner.id.as_str();
    let summary = super::overview::partner_row(store, config, partner, now).await?;
    let mut checks = Vec::new();
    for check in config.checks.iter().filter(|c| c.partner.as_str() == id) {
        let since = now - WEEK;
        let samples = synthetics::samples(store, check.id.as_str(), since).await?;
        let timeline = Timeline::new(&samples, since, Duration::from_secs(3600), 168, (672, 60));
        checks.push(CheckWeek { id: check.id.to_string(), success_ratio: success_ratio(&samples), timeline });
    }
    let events = status::events(store, id, now - QUARTER, EVENTS * 10).await?;
    let admissions: Vec<Timestamp> = events.iter().filter(|e| admits(e.indicator)).map(|e| e.at).collect();
    let mut lags = Vec::new();
    let mut lines = Vec::new();
    for i in incidents::list(store, now - QUARTER).await?.iter().filter(|i| i.incident.partner.as_str() == id) {
        let lag = incident_lag(store, id, i, &admissions, now).await?;
        lags.push(lag);
        lines.push(incident_line(i, lag, now));
    }
    let status_history = events
        .iter()
        .rev()
        .filter(|e| e.at >= now - WEEK)
        .take(usize::try_from(EVENTS).unwrap_or(200))
        .map(|e| StatusLine {
            at: when(e.at, now),
            kind: e.event.kind.as_str().to_owned(),
            subject: e.event.detail.name.clone().unwrap_or_else(|| e.event.subject.clone()),
            old: e.event.old.clone(),
            new: e.event.new.clone(),
            indicator: e.indicator.as_str().to_owned(),
        })
        .collect();
    let entries = changelogs::recent(store, Some(id), ENTRIES).await?.iter().map(|(_, e)| entry_row(e, now)).collect();
    Ok(PartnerPage {
        generated_at: when(now, now),
        summary,
        checks,
        status_history,
        incidents: lines,
        vendor_lag: vendor_lag::summary(&lags),
        entries,
        compat: stories(store, Some(id)).await?,
    })
}

async fn incident_lag(
    store: &Store,
    partner: &str,
    i: &IncidentSummary,
    admissions: &[Timestamp],
    now: Timestamp,
) -> Result<Option<Duration>, StoreError> {
    let opened = i.incident.opened_at;
    let already = status::snapshot_at(store, partner, opened).await?.is_some_and(|(_, s)| admits(s.indicator));
    Ok(vendor_lag::lag(opened, i.resolved_at.unwrap_or(now), already, admissions))
}

fn incident_line(i: &IncidentSummary, lag: Option<Duration>, now: Timestamp) -> IncidentLine {
    IncidentLine {
        id: i.incident.id,
        cause: i.incident.cause,
        opened_at: when(i.incident.opened_at, now),
        resolved_at: i.resolved_at.map(|t| when(t, now)),
        vendor_lag_minutes: lag.map(|d| d.as_secs() / 60),
        history: i.history.iter().map(|h| (when(h.at, now), h.kind.as_str().to_owned(), h.detail.clone())).collect(),
    }
}
