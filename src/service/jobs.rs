//! The jobs: each runs one source through the decisions to the outbox, and hands the actions to
//! delivery.

use serde::Serialize;

use super::App;
use crate::compatibility::{self, CompatError, Round};
use crate::config::{CheckConfig, Partner};
use crate::digest::{self, Queued};
use crate::fetch::FetchError;
use crate::metrics::METRICS;
use crate::notices;
use crate::outbox::DeliveryReport;
use crate::sources::changelogs::{self, FeedReport};
use crate::sources::status_pages::{self, PollReport};
use crate::sources::synthetics::engine::{Engine, Executed};
use crate::store::StoreError;
use crate::triage::{Decision, Triage, TriageError};

/// How a job hands its actions over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handover {
    /// Deliver before returning (`sparky once ...`).
    Drain,
    /// Wake the daemon's delivery worker.
    Wake,
}

/// A job could not run.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Fetch(#[from] FetchError),
    /// Triage failed.
    #[error(transparent)]
    Triage(#[from] TriageError),
    /// A compatibility decision failed.
    #[error(transparent)]
    Compat(#[from] CompatError),
}

/// The result of one changelog run.
#[derive(Debug, Clone, Serialize)]
pub struct ChangelogRun {
    /// One report per feed.
    pub feeds: Vec<FeedReport>,
    /// The digest written to the outbox.
    pub digest: DigestSummary,
    /// Delivery, when drained.
    pub delivery: Option<DeliveryReport>,
}

/// The digest part of a run.
#[derive(Debug, Clone, Serialize)]
pub struct DigestSummary {
    /// Entries queued in this run (new ones and earlier ones left pending).
    pub entries: usize,
    /// Messages written.
    pub messages: usize,
    /// Why no digest could be written (entries stay pending).
    pub error: Option<String>,
}

/// Polls every feed, queues the digest of the pending entries, and hands it over.
///
/// Errors only when the database fails outside a single feed; a failing partner is data.
pub async fn changelogs(app: &App, handover: Handover) -> Result<ChangelogRun, StoreError> {
    let config = &app.config;
    let feeds = changelogs::poll_all(&app.store, &app.fetcher, &config.partners, &config.global.changelogs).await;
    let digest = match digest::queue_digests(&app.store, config, &app.templates).await {
        Ok(Queued { entries, messages }) => DigestSummary { entries, messages, error: None },
        Err(digest::DigestError::Store(e)) => return Err(e),
        Err(e) => {
            METRICS.error("digest", "template");
            tracing::error!(error = %e, "cannot build the digest; entries stay pending");
            DigestSummary { entries: 0, messages: 0, error: Some(e.to_string()) }
        }
    };
    // A new detection dispatches in the run that found it.
    if let Err(e) = compatibility::dispatch_new(&app.store, config).await {
        METRICS.error("compat", "store");
        tracing::error!(error = %e, "cannot dispatch the new compatibility detections; the next compat round does");
    }
    Ok(ChangelogRun { feeds, digest, delivery: hand_over(app, handover).await? })
}

/// The result of one compatibility round.
#[derive(Debug, Clone, Serialize)]
pub struct CompatRound {
    /// Runs dispatched for new detections.
    pub dispatched: usize,
    /// Runs polled.
    pub polled: usize,
    /// Polls that decided an outcome, a re-run or gave up.
    pub decided: usize,
    /// Polls that failed (retried at the next poll).
    pub failed: usize,
    /// Whether runs are followed here (GitHub credentials set).
    pub following: bool,
    /// Delivery, when drained.
    pub delivery: Option<DeliveryReport>,
}

/// Dispatches the new detections, polls the compatibility runs that are due, and hands the
/// actions over (`sparky once compat`, and the daemon's round).
pub async fn compat(app: &App, handover: Handover) -> Result<CompatRound, JobError> {
    let reader = app.runs.as_deref();
    let Round { dispatched, polled, decided, failed } = compatibility::round(&app.store, &app.config, &app.templates, reader).await?;
    let delivery = hand_over(app, handover).await?;
    Ok(CompatRound { dispatched, polled, decided, failed, following: reader.is_some(), delivery })
}

/// The result of one status run.
#[derive(Debug, Clone, Serialize)]
pub struct StatusRun {
    /// One report per partner with a status page (or one not configured).
    pub partners: Vec<PollReport>,
    /// Notices queued.
    pub notices: usize,
    /// Delivery of the notices, when drained.
    pub delivery: Option<DeliveryReport>,
}

/// Polls every partner's status page once, queues the notices of what changed, re-decides the
/// cause of open incidents from what the pages say now, and hands the actions over.
pub async fn status(app: &App, handover: Handover) -> Result<StatusRun, JobError> {
    let partners = status_pages::poll_all(&app.store, &app.fetcher, &app.config.partners).await?;
    let notices = notices::queue(&app.store, &app.config, &app.templates).await?;
    // A page not configured said nothing: no cause to re-decide from it.
    let read: Vec<PollReport> = partners.iter().filter(|r| !r.is_not_configured()).cloned().collect();
    let triage = app.triage()?;
    if let Err(e) = triage.recheck_all(&read).await {
        tracing::error!(error = %e, "cannot re-decide incident causes");
    }
    release_held(&triage).await;
    Ok(StatusRun { partners, notices, delivery: hand_over(app, handover).await? })
}

/// One scheduled poll of `partner`'s page: the poll, its notices, and the re-decided cause of
/// the partner's incident.
pub async fn status_of(app: &App, partner: &Partner, triage: &Triage) -> Result<Option<PollReport>, JobError> {
    let report = status_pages::poll_partner(&app.store, &app.fetcher, partner).await?;
    notices::queue(&app.store, &app.config, &app.templates).await?;
    if let Some(report) = &report {
        triage.recheck(partner, &report.status).await?;
    }
    Ok(report)
}

/// Like the daemon's round: what silences that are over held goes out (a failure is logged; the
/// next run tries again).
async fn release_held(triage: &Triage) {
    if let Err(e) = triage.release_held().await {
        tracing::error!(error = %e, "cannot release what ended silences held");
    }
}

async fn hand_over(app: &App, handover: Handover) -> Result<Option<DeliveryReport>, StoreError> {
    match handover {
        Handover::Drain => {
            let report = app.deliverer().drain().await?;
            if report.dead == 0 {
                return Ok(Some(report));
            }
            // A page that just went dead is alerted about in this run, not the next one.
            Ok(Some(report.and(alert_failed_pages(app).await?)))
        }
        Handover::Wake => {
            app.wake.notify_one();
            Ok(None)
        }
    }
}

/// Alerts about pages PagerDuty never accepted, and delivers the alerts.
async fn alert_failed_pages(app: &App) -> Result<DeliveryReport, StoreError> {
    let triage = match app.triage() {
        Ok(triage) => triage,
        Err(e) => {
            tracing::error!(error = %e, "cannot start triage to alert about failed pages");
            return Ok(DeliveryReport::default());
        }
    };
    match triage.page_failures().await {
        Ok(0) => Ok(DeliveryReport::default()),
        Ok(_) => app.deliverer().drain().await,
        Err(e) => {
            tracing::error!(error = %e, "cannot look for pages PagerDuty never accepted");
            Ok(DeliveryReport::default())
        }
    }
}

/// The result of one synthetics run.
#[derive(Debug, Clone, Serialize)]
pub struct SyntheticsRun {
    /// One entry per check run, in id order.
    pub checks: Vec<Executed>,
    /// What triage did with the state changes.
    pub triage: Vec<Triaged>,
    /// Delivery of the actions, when drained.
    pub delivery: Option<DeliveryReport>,
}

/// What triage decided for a check's state change.
#[derive(Debug, Clone, Serialize)]
pub struct Triaged {
    /// The check.
    pub check: String,
    /// The decision.
    pub decision: Decision,
}

/// Runs `checks` (every enabled check with `None`) once each, with confirmation re-runs, stores
/// the results and state changes, triages the changes and hands over what triage decided.
pub async fn synthetics(app: &App, only: Option<&[CheckConfig]>, handover: Handover) -> Result<SyntheticsRun, JobError> {
    let selected: Vec<CheckConfig> = match only {
        Some(checks) => checks.to_vec(),
        None => app.config.checks.iter().filter(|c| c.enabled).cloned().collect(),
    };
    let (engine, writer) = Engine::start(&app.store, &app.config.global.http, &app.config.global.synthetics, app.triage_wake.clone())?;
    let runtimes = Engine::load(&app.store, &selected).await?;
    let checks = engine.run_all_once(&runtimes).await;
    // The writer finishes once every result is stored.
    drop(engine);
    let _ = writer.await;
    let triage = app.triage()?;
    // Like the daemon: a lost egress is probed again (and, once back, the checks that failed
    // meanwhile are triaged), and state changes that never reached triage are queued again.
    triage.egress_tick().await?;
    triage.reconcile().await?;
    let decided = triage.run_pending().await.into_iter().map(|(event, decision)| Triaged { check: event.check_id, decision }).collect();
    release_held(&triage).await;
    let triage = decided;
    Ok(SyntheticsRun { checks, triage, delivery: hand_over(app, handover).await? })
}
