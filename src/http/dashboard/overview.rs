//! `GET /` and `GET /api/partners`: one row per partner, worst first: our checks (state, last
//! result, p95 latency and success ratio over 24 h, a sparkline of the last 24 h), the partner's
//! own status page (indicator, its open incidents, when last read), our open incident (cause,
//! the evidence, where it went: Jira issue, PagerDuty, public page), its latest changelog entries
//! and its last compatibility result.

use std::collections::HashMap;
use std::time::Duration;

use axum::Json;
use axum::extract::State as Extract;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::view::{Timeline, When, quantile, safe_link, success_ratio, when};
use super::{html, unavailable};
use crate::compatibility::story::{Story, stories};
use crate::config::{Config, Partner};
use crate::http::State;
use crate::model::{Cause, CheckState, Indicator, Outcome, StateRecord, Timestamp};
use crate::store::incidents::{self, IncidentSummary};
use crate::store::{Store, StoreError, changelogs, status, synthetics};

/// The template of `GET /`.
pub const TEMPLATE: &str = "dashboard/overview.html.j2";
/// Latest entries shown per partner.
const ENTRIES: i64 = 3;
/// The window of the checks' figures.
const DAY: Duration = Duration::from_secs(24 * 3600);

/// The overview.
#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    /// When it was read.
    pub generated_at: When,
    /// One per partner, worst first.
    pub partners: Vec<PartnerRow>,
}

/// One partner's row.
#[derive(Debug, Clone, Serialize)]
pub struct PartnerRow {
    /// Partner id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// How bad it stands: 4 our incident (internal cause), 3 our incident (external) or a failing
    /// check, 2 its page reports a major or critical outage, 1 minor, a warning or an open
    /// compatibility P2, 0 fine.
    pub severity: u8,
    /// Our checks of it.
    pub checks: Vec<CheckRow>,
    /// What its own page said last (`None`: no page, or never read).
    pub status: Option<PageRow>,
    /// Our open incident.
    pub incident: Option<IncidentRow>,
    /// Its latest changelog entries, newest first.
    pub entries: Vec<EntryRow>,
    /// Its latest compatibility run.
    pub compat: Option<CompatRow>,
}

/// One check.
#[derive(Debug, Clone, Serialize)]
pub struct CheckRow {
    /// Check id.
    pub id: String,
    /// `healthy`, `failing` ...
    pub state: CheckState,
    /// The last counted result.
    pub last: Option<Outcome>,
    /// When.
    pub last_at: Option<When>,
    /// p95 latency over 24 h, ms.
    pub p95_ms: Option<i64>,
    /// Passed or warned over 24 h, percent.
    pub success_ratio: Option<f64>,
    /// The last 24 h in 48 half-hour buckets.
    pub sparkline: Timeline,
}

/// The partner's own page.
#[derive(Debug, Clone, Serialize)]
pub struct PageRow {
    /// Its indicator.
    pub indicator: Indicator,
    /// Its description.
    pub description: Option<String>,
    /// Its open incidents: name, impact, link.
    pub incidents: Vec<PartnerIncidentRow>,
    /// When Sparky read it.
    pub read_at: When,
    /// Failed polls in a row since.
    pub consecutive_failures: i64,
}

/// An incident on the partner's page.
#[derive(Debug, Clone, Serialize)]
pub struct PartnerIncidentRow {
    /// Its title (the partner's words).
    pub name: String,
    /// Its impact.
    pub impact: Indicator,
    /// Its page, when a web link.
    pub link: Option<String>,
}

/// Our open incident.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentRow {
    /// Its id.
    pub id: i64,
    /// `internal` / `external` / `undetermined` ...
    pub cause: Cause,
    /// Why.
    pub cause_reason: String,
    /// What the partner's page said when the cause was decided.
    pub evidence: Option<String>,
    /// Opened.
    pub opened_at: When,
    /// Where it went: (sink, id, link).
    pub links: Vec<RemoteLink>,
}

/// One effect of an incident elsewhere.
#[derive(Debug, Clone, Serialize)]
pub struct RemoteLink {
    /// `jira`, `pagerduty`, `statuspage`, `slack`.
    pub sink: String,
    /// Its id there.
    pub id: String,
    /// A link, where one is known.
    pub url: Option<String>,
}

/// A changelog entry.
#[derive(Debug, Clone, Serialize)]
pub struct EntryRow {
    /// Title (the partner's words).
    pub title: String,
    /// Link, when a web link.
    pub link: Option<String>,
    /// Published.
    pub published: Option<When>,
    /// Tags.
    pub tags: Vec<String>,
}

/// The last compatibility run.
#[derive(Debug, Clone, Serialize)]
pub struct CompatRow {
    /// The version.
    pub version: String,
    /// Run state word.
    pub state: String,
    /// GitHub's conclusion.
    pub conclusion: Option<String>,
    /// The run's page.
    pub url: Option<String>,
    /// P2 Jira key, while open.
    pub p2: Option<String>,
}

/// `GET /`.
pub async fn page(Extract(state): Extract<State>) -> Response {
    match read(&state.store, &state.config, Timestamp::now()).await {
        Ok(view) => html(&state.templates, TEMPLATE, &view),
        Err(e) => unavailable(&e),
    }
}

/// `GET /api/partners`: `{"generated_at", "partners": [PartnerRow ...]}`.
pub async fn api(Extract(state): Extract<State>) -> Response {
    match read(&state.store, &state.config, Timestamp::now()).await {
        Ok(view) => Json(view).into_response(),
        Err(e) => unavailable(&e),
    }
}

/// The overview at `now`.
///
/// # Errors
/// A query failed.
pub async fn read(store: &Store, config: &Config, now: Timestamp) -> Result<Overview, StoreError> {
    let states = synthetics::states(store).await?;
    let open = incidents::list(store, now).await?;
    let all_stories = stories(store, None).await?;
    let mut partners = Vec::new();
    for partner in &config.partners {
        partners.push(row(store, config, partner, &states, &open, &all_stories, now).await?);
    }
    partners.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.name.cmp(&b.name)));
    Ok(Overview { generated_at: when(now, now), partners })
}

/// `partner`'s row alone, at `now`.
///
/// # Errors
/// A query failed.
pub async fn partner_row(store: &Store, config: &Config, partner: &Partner, now: Timestamp) -> Result<PartnerRow, StoreError> {
    let states = synthetics::states(store).await?;
    let open = incidents::list(store, now).await?;
    let own = stories(store, Some(partner.id.as_str())).await?;
    row(store, config, partner, &states, &open, &own, now).await
}

async fn row(
    store: &Store,
    config: &Config,
    partner: &Partner,
    states: &HashMap<String, StateRecord>,
    open: &[IncidentSummary],
    all_stories: &[Story],
    now: Timestamp,
) -> Result<PartnerRow, StoreError> {
    let id = partner.id.as_str();
    let mut checks = Vec::new();
    for check in config.checks.iter().filter(|c| c.partner.as_str() == id && c.enabled) {
        checks.push(check_row(store, check.id.as_str(), states.get(check.id.as_str()), now).await?);
    }
    let status = page_row(store, id, now).await?;
    let incident = open.iter().find(|i| i.incident.partner.as_str() == id && i.resolved_at.is_none()).map(|i| incident_row(config, i, now));
    let entries: Vec<EntryRow> = changelogs::recent(store, Some(id), ENTRIES).await?.iter().map(|(_, e)| entry_row(e, now)).collect();
    let compat = all_stories
        .iter()
        .filter(|s| s.partner == id)
        .flat_map(|s| s.runs.iter().map(move |r| (s, r)))
        .max_by_key(|(_, r)| r.requested_at)
        .map(|(s, r)| CompatRow {
            version: s.version.clone(),
            state: r.state.as_str().to_owned(),
            conclusion: r.conclusion.clone(),
            url: safe_link(r.url.as_deref()),
            p2: s.p2.as_ref().filter(|p| p.state == crate::model::P2State::Open).and_then(|p| p.jira_key.clone()),
        });
    let severity = severity(&checks, status.as_ref(), incident.as_ref()).max(u8::from(compat.as_ref().is_some_and(|c| c.p2.is_some())));
    Ok(PartnerRow { id: id.to_owned(), name: partner.name.clone(), severity, checks, status, incident, entries, compat })
}

fn severity(checks: &[CheckRow], page: Option<&PageRow>, incident: Option<&IncidentRow>) -> u8 {
    if let Some(i) = incident {
        return if i.cause == Cause::Internal { 4 } else { 3 };
    }
    if checks.iter().any(|c| c.state == CheckState::Failing) {
        return 3;
    }
    match page.map(|p| p.indicator) {
        Some(Indicator::Major | Indicator::Critical) => 2,
        Some(Indicator::Minor) => 1,
        _ => u8::from(checks.iter().any(|c| c.last == Some(Outcome::Warn))),
    }
}

async fn check_row(store: &Store, id: &str, state: Option<&StateRecord>, now: Timestamp) -> Result<CheckRow, StoreError> {
    let since = now - DAY;
    let samples = synthetics::samples(store, id, since).await?;
    let mut durations: Vec<i64> = samples.iter().map(|s| s.duration_ms).collect();
    Ok(CheckRow {
        id: id.to_owned(),
        state: state.map_or(CheckState::Healthy, |s| s.state),
        last: samples.last().map(|s| s.outcome),
        last_at: samples.last().map(|s| when(s.at, now)),
        p95_ms: quantile(&mut durations, 0.95),
        success_ratio: success_ratio(&samples),
        sparkline: Timeline::new(&samples, since, Duration::from_secs(1800), 48, (96, 20)),
    })
}

async fn page_row(store: &Store, partner: &str, now: Timestamp) -> Result<Option<PageRow>, StoreError> {
    let page = status::page_state(store, partner).await?;
    let Some((at, latest)) = page.latest else { return Ok(None) };
    Ok(Some(PageRow {
        indicator: latest.indicator,
        description: latest.description.clone(),
        incidents: latest
            .incidents
            .iter()
            .map(|i| PartnerIncidentRow { name: i.name.clone(), impact: i.impact, link: safe_link(i.shortlink.as_deref()) })
            .collect(),
        read_at: when(page.last_success_at.unwrap_or(at), now),
        consecutive_failures: page.consecutive_failures,
    }))
}

fn incident_row(config: &Config, i: &IncidentSummary, now: Timestamp) -> IncidentRow {
    let evidence = i.history.iter().rev().find_map(|h| h.evidence.as_ref()).map(crate::model::Evidence::describe);
    IncidentRow {
        id: i.incident.id,
        cause: i.incident.cause,
        cause_reason: i.incident.cause_reason.clone(),
        evidence,
        opened_at: when(i.incident.opened_at, now),
        links: i
            .remote
            .iter()
            .map(|r| RemoteLink { sink: r.sink.clone(), id: r.id.clone(), url: remote_url(config, &r.sink, &r.id) })
            .collect(),
    }
}

/// Where a person sees an incident's effect: the Jira issue, our public page.
fn remote_url(config: &Config, sink: &str, id: &str) -> Option<String> {
    match sink {
        "jira" => config.global.jira.base_url.as_ref().map(|b| format!("{}/browse/{id}", b.as_str().trim_end_matches('/'))),
        "statuspage" => Some("/status".to_owned()),
        _ => None,
    }
}

pub(super) fn entry_row(e: &changelogs::EntryRecord, now: Timestamp) -> EntryRow {
    EntryRow {
        title: e.title.clone(),
        link: safe_link(e.link.as_deref()),
        published: e.published_at.map(|t| when(t, now)),
        tags: e.tags.clone(),
    }
}
