//! Polling a partner's status page: conditional GET (with the credentials of
//! `[status_page.auth]`, when given) -> adapter -> history diff, recorded in one transaction
//! (page health, snapshot, status events). A page that cannot be fetched or parsed reads
//! `unknown` with the error kept, never `operational`, and never stops the other partners; a
//! page that is not configured (`optional`, its variables unset) is reported as such and never
//! fetched. Notices of the events are the decisions' business (`notices`).

use std::time::Duration;

use futures::StreamExt;
use serde::Serialize;
use tokio::time::Instant;

use super::adapters::{self, StatusParseError};
use super::history::{carry_over, diff};
use crate::config::{Partner, StatusPageConfig};
use crate::fetch::{Body, FetchError, Fetched, Fetcher, Validators};
use crate::metrics::METRICS;
use crate::model::{ErrorKind, Indicator, PartnerStatus, StatusEvent, Timestamp};
use crate::store::status::{self as table, Fetch, PollRecord};
use crate::store::{Store, StoreError};

/// Partners polled at once by [`poll_all`].
const CONCURRENCY: usize = 16;

/// The result of one poll.
#[derive(Debug, Clone, Serialize)]
pub struct PollReport {
    /// Partner id.
    pub partner: String,
    /// What the page says now (`unknown` with the error when unreadable).
    pub status: PartnerStatus,
    /// `ok`, `not_modified`, `not_configured`, or the error kind (`timeout`, `http`, `auth`,
    /// `no_status` ...).
    pub result: String,
    /// Status events this poll recorded.
    pub events: usize,
    /// How old the information is: zero after a successful fetch, else the time since the last
    /// successful one (`None`: never read).
    #[serde(serialize_with = "serialize_secs")]
    pub age: Option<Duration>,
    /// When the poll ran.
    pub polled_at: Timestamp,
}

fn serialize_secs<S: serde::Serializer>(age: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match age {
        Some(d) => s.serialize_f64(d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

impl PollReport {
    /// The report of a partner whose status page is not configured (`[status_page] optional`,
    /// its variables unset): `unknown`, the error saying which variables to set, nothing read
    /// or recorded. `None` for any other partner.
    pub fn not_configured(partner: &Partner) -> Option<Self> {
        let why = partner.status_page_not_configured.as_ref()?;
        Some(Self {
            partner: partner.id.to_string(),
            status: PartnerStatus::unreadable(why.to_string()),
            result: ErrorKind::NotConfigured.as_str().to_owned(),
            events: 0,
            age: None,
            polled_at: Timestamp::now(),
        })
    }

    /// True for the report of a page that is not configured (nothing was read).
    pub fn is_not_configured(&self) -> bool {
        self.result == ErrorKind::NotConfigured.as_str()
    }
}

/// Polls every partner of `partners` that has a status page, at most [`CONCURRENCY`] at once;
/// a partner whose page is not configured gets its report too ([`PollReport::not_configured`]).
pub async fn poll_all(store: &Store, fetcher: &Fetcher, partners: &[Partner]) -> Result<Vec<PollReport>, StoreError> {
    let reports: Vec<Result<Option<PollReport>, StoreError>> =
        futures::stream::iter(partners).map(|p| poll_partner(store, fetcher, p)).buffer_unordered(CONCURRENCY).collect().await;
    let mut reports: Vec<PollReport> = reports.into_iter().filter_map(Result::transpose).collect::<Result<_, _>>()?;
    reports.extend(partners.iter().filter_map(PollReport::not_configured));
    reports.sort_by(|a, b| a.partner.cmp(&b.partner));
    Ok(reports)
}

/// What one read of a page gave.
#[derive(Debug, Clone)]
pub struct Reading {
    /// How the fetch went (for the page's health).
    pub fetch: Fetch,
    /// What the page says (`unknown` with the error, what was last known kept, when unreadable).
    pub status: PartnerStatus,
    /// `ok`, `not_modified`, or the error kind.
    pub result: String,
}

/// Reads `page` once with `fetcher`, `previous` being what it last said (sent as validators
/// from `validators`, and carried over when the page cannot be read). No I/O but the fetch
/// (and, with `[status_page.auth]`, the token request). A refusal of the credentials (401, 403)
/// or a token endpoint failure reads `unknown` with kind `auth`.
pub async fn read_page(fetcher: &Fetcher, page: &StatusPageConfig, previous: Option<&PartnerStatus>, validators: &Validators) -> Reading {
    // Without a stored copy a 304 would leave nothing to read: ask unconditionally.
    let validators = if previous.is_some() { validators.clone() } else { Validators::default() };
    match fetcher.get_with(page.url.url(), &validators, page.auth.as_ref()).await {
        Ok(Fetched::NotModified) => match previous {
            Some(prev) => Reading { fetch: Fetch::NotModified, status: prev.clone(), result: "not_modified".to_owned() },
            None => failed(None, "304 Not Modified without a stored copy", ErrorKind::Http),
        },
        Ok(Fetched::Body(body)) => match parse(page, &body).await {
            Ok(status) => Reading {
                fetch: Fetch::Fresh { etag: body.validators.etag.clone(), last_modified: body.validators.last_modified.clone() },
                status,
                result: "ok".to_owned(),
            },
            Err(e) => failed(previous, e.message, e.kind),
        },
        Err(e) => failed(previous, describe(&e), e.kind()),
    }
}

/// A fetch error in words; one about the credentials says where they are configured.
fn describe(e: &FetchError) -> String {
    match e.kind() {
        ErrorKind::Auth => format!("{e} (the credentials of [status_page.auth])"),
        _ => e.to_string(),
    }
}

fn failed(previous: Option<&PartnerStatus>, error: impl Into<String>, kind: ErrorKind) -> Reading {
    Reading { fetch: Fetch::Failed, status: carry_over(previous, PartnerStatus::unreadable(error)), result: kind.as_str().to_owned() }
}

/// Polls one partner with `fetcher` and records the poll. `Ok(None)` when it has no
/// `[status_page]`; `Err` only when the database fails (a bad page is a report, not an error).
/// Triage polls with a fetcher that does not retry ([`Fetcher::quick`]).
pub async fn poll_partner(store: &Store, fetcher: &Fetcher, partner: &Partner) -> Result<Option<PollReport>, StoreError> {
    let Some(page) = &partner.status_page else { return Ok(None) };
    let id = partner.id.as_str();
    let started = Instant::now();
    let state = table::page_state(store, id).await?;
    let previous = state.latest.as_ref().map(|(_, s)| s);
    let validators = Validators { etag: state.etag.clone(), last_modified: state.last_modified.clone() };
    let Reading { fetch, status, result } = read_page(fetcher, page, previous, &validators).await;
    let now = Timestamp::now();
    let events = diff(previous, &status);
    let changed = (previous != Some(&status)).then_some(&status);
    let failed = matches!(fetch, Fetch::Failed);
    table::record_poll(store, &PollRecord { partner: id, at: now, fetch, changed, events: &events }).await?;
    observe(id, &status, &result, &events, started.elapsed());
    if failed {
        tracing::warn!(target: crate::model::OUTCOME, partner = id, url = %page.url, kind = %result, error = status.error.as_deref().unwrap_or_default(), "status page unreadable");
    }
    let age = if failed { state.last_success_at.map(|t| now.since(t)) } else { Some(Duration::ZERO) };
    Ok(Some(PollReport { partner: id.to_owned(), result, events: events.len(), age, polled_at: now, status }))
}

async fn parse(page: &StatusPageConfig, body: &Body) -> Result<PartnerStatus, StatusParseError> {
    let (page, bytes, content_type) = (page.clone(), body.bytes.clone(), body.content_type.clone());
    // Parsing a large page takes CPU time: off the async threads.
    tokio::task::spawn_blocking(move || adapters::parse(&page, &bytes, content_type.as_deref()))
        .await
        .unwrap_or_else(|e| Err(StatusParseError { kind: ErrorKind::Malformed, message: format!("parser crashed: {e}") }))
}

fn observe(partner: &str, status: &PartnerStatus, result: &str, events: &[StatusEvent], elapsed: Duration) {
    METRICS.status_fetches.with_label_values(&[partner, result]).inc();
    METRICS.status_fetch_duration.with_label_values(&[partner]).observe(elapsed.as_secs_f64());
    for indicator in Indicator::ALL {
        METRICS.partner_status.with_label_values(&[partner, indicator.as_str()]).set(i64::from(*indicator == status.indicator));
    }
    for event in events {
        METRICS.status_events.with_label_values(&[partner, event.kind.as_str()]).inc();
    }
    if result != "ok" && result != "not_modified" {
        METRICS.error("status", result);
    }
}
