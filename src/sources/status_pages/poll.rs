//! Polling a partner's status page: conditional GET -> adapter -> history diff -> notices, all
//! recorded in one transaction. A page that cannot be fetched or parsed reads `unknown` with the
//! error kept, never `operational`, and never stops the other partners.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Serialize;

use super::adapters::{self, StatusParseError};
use super::history::{carry_over, diff};
use super::{PartnerStatus, StatusPageConfig};
use crate::app::App;
use crate::config::Partner;
use crate::fetch::{Body, Fetched, Fetcher, Validators};
use crate::metrics::METRICS;
use crate::notices;
use crate::store::status::{self as table, Fetch, PollRecord};
use crate::store::{StoreError, ms_to_time, now_ms};

/// Partners polled at once by [`poll_all`].
const CONCURRENCY: usize = 16;

/// The result of one poll.
#[derive(Debug, Clone, Serialize)]
pub struct PollReport {
    /// Partner id.
    pub partner: String,
    /// What the page says now (`unknown` with the error when unreadable).
    pub status: PartnerStatus,
    /// `ok`, `not_modified`, or the error kind (`timeout`, `http`, `malformed` ...).
    pub result: String,
    /// Status events this poll recorded.
    pub events: usize,
    /// Notices it queued.
    pub notices: usize,
    /// How old the information is: zero after a successful fetch, else the time since the last
    /// successful one (`None`: never read).
    #[serde(serialize_with = "serialize_secs")]
    pub age: Option<Duration>,
    /// When the poll ran.
    pub polled_at: DateTime<Utc>,
}

fn serialize_secs<S: serde::Serializer>(age: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match age {
        Some(d) => s.serialize_f64(d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

/// Polls every partner that has a status page, at most [`CONCURRENCY`] at once.
pub async fn poll_all(app: &App) -> Result<Vec<PollReport>, StoreError> {
    let indices: Vec<usize> = (0..app.config.partners.len()).filter(|&i| app.config.partners[i].status_page.is_some()).collect();
    let reports: Vec<Result<Option<PollReport>, StoreError>> =
        futures::stream::iter(indices).map(|i| poll_partner(app, &app.config.partners[i])).buffer_unordered(CONCURRENCY).collect().await;
    let mut reports: Vec<PollReport> = reports.into_iter().filter_map(Result::transpose).collect::<Result<_, _>>()?;
    reports.sort_by(|a, b| a.partner.cmp(&b.partner));
    Ok(reports)
}

/// Fetches one partner's status afresh with `fetcher`, bypassing the schedule (triage calls this
/// when a check fails, with a fetcher that does not retry: a page must not wait for a status
/// page that hangs). The poll is recorded like a scheduled one. `Ok(None)`: no status page.
pub async fn fetch_now(app: &App, fetcher: &Fetcher, partner: &Partner) -> Result<Option<PollReport>, StoreError> {
    poll_with(app, fetcher, partner).await
}

/// Polls one partner. `Ok(None)` when it has no `[status_page]`; `Err` only when the database
/// fails (a bad page is a report, not an error).
pub async fn poll_partner(app: &App, partner: &Partner) -> Result<Option<PollReport>, StoreError> {
    poll_with(app, &app.fetcher, partner).await
}

async fn poll_with(app: &App, fetcher: &Fetcher, partner: &Partner) -> Result<Option<PollReport>, StoreError> {
    let Some(page) = &partner.status_page else { return Ok(None) };
    let id = partner.id.as_str();
    let started = Instant::now();
    let state = table::page_state(&app.store, id).await?;
    let previous = state.latest.as_ref().map(|(_, s)| s);
    // Without a stored copy a 304 would leave nothing to read: ask unconditionally.
    let validators = if previous.is_some() {
        Validators { etag: state.etag.clone(), last_modified: state.last_modified.clone() }
    } else {
        Validators::default()
    };
    let fetched = fetcher.get(page.url.url(), &validators).await;
    let (fetch, status, result) = match fetched {
        Ok(Fetched::NotModified) => match previous {
            Some(prev) => (Fetch::NotModified, prev.clone(), "not_modified".to_owned()),
            None => (Fetch::Failed, PartnerStatus::unreadable("304 Not Modified without a stored copy"), "http".to_owned()),
        },
        Ok(Fetched::Body(body)) => match parse(page, &body).await {
            Ok(status) => (
                Fetch::Fresh { etag: body.validators.etag.clone(), last_modified: body.validators.last_modified.clone() },
                status,
                "ok".to_owned(),
            ),
            Err(e) => (Fetch::Failed, carry_over(previous, PartnerStatus::unreadable(e.message)), e.kind.to_owned()),
        },
        Err(e) => (Fetch::Failed, carry_over(previous, PartnerStatus::unreadable(e.to_string())), e.kind().to_owned()),
    };
    let now = now_ms();
    let events = diff(previous, &status);
    let channel = partner.channel(&app.config.global.slack.channel);
    let notices =
        notices::notices(&app.templates, partner, page, channel, &events, status.indicator, ms_to_time(now)).unwrap_or_else(|e| {
            METRICS.error("notices", "template");
            tracing::error!(partner = id, error = %e, "cannot render status notices");
            Vec::new()
        });
    let changed = (previous != Some(&status)).then_some(&status);
    let failed = matches!(fetch, Fetch::Failed);
    table::record_poll(&app.store, &PollRecord { partner: id, at: now, fetch, changed, events: &events, notices: &notices }).await?;
    observe(id, &status, &result, &events, started.elapsed());
    if failed {
        tracing::warn!(partner = id, url = %page.url, kind = %result, error = status.error.as_deref().unwrap_or_default(), "status page unreadable");
    }
    let age = if failed {
        state.last_success_at.map(|t| Duration::from_millis(u64::try_from(now - t).unwrap_or(0)))
    } else {
        Some(Duration::ZERO)
    };
    Ok(Some(PollReport {
        partner: id.to_owned(),
        result,
        events: events.len(),
        notices: notices.len(),
        age,
        polled_at: ms_to_time(now),
        status,
    }))
}

async fn parse(page: &StatusPageConfig, body: &Body) -> Result<PartnerStatus, StatusParseError> {
    let (page, bytes, content_type) = (page.clone(), body.bytes.clone(), body.content_type.clone());
    // Parsing a large page takes CPU time: off the async threads.
    tokio::task::spawn_blocking(move || adapters::parse(&page, &bytes, content_type.as_deref()))
        .await
        .unwrap_or_else(|e| Err(StatusParseError { kind: "malformed", message: format!("parser crashed: {e}") }))
}

fn observe(partner: &str, status: &PartnerStatus, result: &str, events: &[super::history::StatusEvent], elapsed: Duration) {
    METRICS.status_fetches.with_label_values(&[partner, result]).inc();
    METRICS.status_fetch_duration.with_label_values(&[partner]).observe(elapsed.as_secs_f64());
    for indicator in super::Indicator::ALL {
        METRICS.partner_status.with_label_values(&[partner, indicator.as_str()]).set(i64::from(indicator == status.indicator));
    }
    for event in events {
        METRICS.status_events.with_label_values(&[partner, event.kind.as_str()]).inc();
    }
    if result != "ok" && result != "not_modified" {
        METRICS.error("status", result);
    }
}
