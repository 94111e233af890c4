//! Compatibility runs, the decisions: a detection's workflow dispatched once (a new detection,
//! or by hand), each dispatched run followed to its conclusion, and the outcome sent: a Slack
//! notice, the owner team's P2 on a failure (resolved by a later success), one re-run of a
//! cancelled or timed out run. [`plan`] decides (pure); this module does the I/O around it:
//! it reads the detections and runs, asks GitHub through [`Runs`] (`sources::compat::follow`),
//! and writes each decision (the run's state, the P2 state and the actions) in one transaction.
//!
//! Two replicas polling the same run write once: a run's update is conditional on the poll count
//! it was read with, and every action has an idempotency key.

pub mod message;
pub mod plan;
pub mod story;

use crate::config::{Config, Partner};
use crate::metrics::METRICS;
use crate::model::{RunTrigger, Timestamp};
use crate::outbox::enqueue;
use crate::outbox::slack::RenderError;
use crate::sources::compat::follow::{Runs, Workflow, observe};
use crate::store::changelogs::EntryRecord;
use crate::store::compat::{self as detections, Detection};
use crate::store::compat_runs::{self as runs, CompatRun, NewRun};
use crate::store::{Store, StoreError};
use crate::templates::Templates;

use self::plan::Context;

/// A compatibility decision could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CompatError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A message template failed.
    #[error(transparent)]
    Template(#[from] RenderError),
    /// The database failed (a connection or transaction).
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// No partner file has this id.
    #[error("no partner `{0}` in partners/")]
    UnknownPartner(String),
    /// Another writer changed the detection while this one was written.
    #[error("another dispatch of {0} was written at the same moment: run the command again")]
    Conflict(String),
    /// The partner has no `[compat]`.
    #[error("partner `{0}` has no [compat] section: add repository and workflow to its partner file")]
    NoCompat(String),
}

/// What one [`round`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    /// Runs dispatched for new detections.
    pub dispatched: usize,
    /// Runs polled.
    pub polled: usize,
    /// Polls that decided an outcome (or a re-run, or gave up).
    pub decided: usize,
    /// Polls that failed (counted, retried at the next poll).
    pub failed: usize,
}

/// Dispatches the new detections, then polls every followed run that is due. Without `reader`
/// (no GitHub credentials: dispatches are printed, not sent) nothing is polled.
///
/// # Errors
/// The database failed.
pub async fn round(store: &Store, config: &Config, templates: &Templates, reader: Option<&dyn Runs>) -> Result<Round, CompatError> {
    let mut report = Round { dispatched: dispatch_new(store, config).await?, ..Round::default() };
    let Some(reader) = reader else { return Ok(report) };
    for run in runs::due(store, Timestamp::now()).await? {
        report.polled += 1;
        match follow(store, config, templates, reader, &run).await {
            Ok(true) => report.decided += 1,
            Ok(false) => {}
            Err(e) => {
                report.failed += 1;
                METRICS.error("compat", if matches!(e, CompatError::Template(_)) { "template" } else { "store" });
                tracing::error!(run = run.run_key.as_str(), error = %e, "cannot follow the compatibility run");
            }
        }
    }
    Ok(report)
}

/// Dispatches each detection that dispatches by itself and has no run yet; returns how many.
///
/// # Errors
/// The database failed.
pub async fn dispatch_new(store: &Store, config: &Config) -> Result<usize, CompatError> {
    let mut dispatched = 0;
    for id in detections::undispatched(store).await? {
        let mut conn = store.pool().acquire().await?;
        let Some(detection) = detections::get(&mut conn, id).await? else { continue };
        drop(conn);
        let Some(partner) = partner(config, &detection.partner_id) else {
            tracing::warn!(
                partner = detection.partner_id.as_str(),
                version = detection.version.as_str(),
                "a detection of a partner no longer configured: not dispatched"
            );
            continue;
        };
        if partner.compat.is_none() {
            continue;
        }
        if start(store, config, partner, &detection, RunTrigger::Detection).await?.is_some() {
            dispatched += 1;
        }
    }
    Ok(dispatched)
}

/// Dispatches `partner`'s workflow against `version` by hand (`sparky compat run`): a new run
/// of the version's detection, made (announced "by hand") when the version was never detected.
/// Returns the run.
///
/// # Errors
/// Unknown partner, a partner without `[compat]`, or the database failed.
pub async fn dispatch_by_hand(store: &Store, config: &Config, partner_id: &str, version: &str) -> Result<CompatRun, CompatError> {
    let partner = partner(config, partner_id).ok_or_else(|| CompatError::UnknownPartner(partner_id.to_owned()))?;
    if partner.compat.is_none() {
        return Err(CompatError::NoCompat(partner_id.to_owned()));
    }
    let entry = EntryRecord {
        key: format!("by-hand:{version}"),
        title: format!("{version}, dispatched by hand"),
        link: None,
        published_at: None,
        summary: String::new(),
        tags: Vec::new(),
    };
    let mut tx = store.pool().begin().await?;
    let id = detections::record(&mut tx, partner_id, version, &entry, false).await?.id();
    tx.commit().await?;
    let mut conn = store.pool().acquire().await?;
    let conflict = || CompatError::Conflict(format!("{partner_id} {version}"));
    let detection = detections::get(&mut conn, id).await?.ok_or_else(conflict)?;
    drop(conn);
    let key = start(store, config, partner, &detection, RunTrigger::Hand).await?.ok_or_else(conflict)?;
    runs::by_key(store, &key).await?.ok_or_else(conflict)
}

/// Writes the next run of `detection` and its dispatch, in one transaction; `None` when another
/// writer wrote the same run first.
async fn start(
    store: &Store,
    config: &Config,
    partner: &Partner,
    detection: &Detection,
    trigger: RunTrigger,
) -> Result<Option<String>, CompatError> {
    let now = Timestamp::now();
    let github = &config.global.github;
    let mut tx = store.pool().begin().await?;
    let n = runs::count(&mut tx, detection.id).await? + 1;
    let key = plan::run_key(detection, n);
    let ctx = context(config, partner, detection).ok_or_else(|| CompatError::NoCompat(partner.id.to_string()))?;
    let new = NewRun {
        detection_id: detection.id,
        run_key: &key,
        requested_by: trigger,
        requested_at: now,
        next_poll_at: now + github.poll_min.get(),
    };
    if runs::insert(&mut tx, &new).await?.is_none() {
        return Ok(None);
    }
    enqueue(&mut tx, &[plan::dispatch(&ctx, &key, now)]).await?;
    tx.commit().await?;
    tracing::info!(
        partner = partner.id.as_str(),
        version = detection.version.as_str(),
        run = key.as_str(),
        "compatibility workflow dispatch queued"
    );
    Ok(Some(key))
}

/// One poll of `run`: observe, decide, write. `Ok(true)` when it decided an outcome.
async fn follow(store: &Store, config: &Config, templates: &Templates, reader: &dyn Runs, run: &CompatRun) -> Result<bool, CompatError> {
    let Some(partner) = partner(config, &run.partner_id) else { return Ok(false) };
    let mut conn = store.pool().acquire().await?;
    let Some(detection) = detections::get(&mut conn, run.detection_id).await? else { return Ok(false) };
    drop(conn);
    let Some(ctx) = context(config, partner, &detection) else { return Ok(false) };
    let workflow = Workflow { repository: &ctx.compat.repository, workflow: &ctx.compat.workflow };
    let seen = observe(reader, workflow, run).await;
    if let crate::sources::compat::follow::Observation::Failed(e) = &seen {
        METRICS.error("compat", "github");
        tracing::warn!(run = run.run_key.as_str(), error = %e, "cannot read the compatibility run from GitHub; polling again later");
    }
    let step = plan::next(templates, &ctx, run, &seen, Timestamp::now())?;
    let decided = !step.actions.is_empty();
    let mut tx = store.pool().begin().await?;
    if !runs::update(&mut tx, run.id, run.polls, &step.update).await? {
        return Ok(false);
    }
    enqueue(&mut tx, &step.actions).await?;
    if let Some((state, incident)) = &step.p2 {
        detections::set_p2(&mut tx, detection.id, *state, incident).await?;
    }
    tx.commit().await?;
    if decided {
        tracing::info!(run = run.run_key.as_str(), state = %step.update.state, conclusion = step.update.conclusion.as_deref().unwrap_or(""), "compatibility run decided");
    }
    Ok(decided)
}

fn partner<'a>(config: &'a Config, id: &str) -> Option<&'a Partner> {
    config.partners.iter().find(|p| p.id.as_str() == id)
}

fn context<'a>(config: &'a Config, partner: &'a Partner, detection: &'a Detection) -> Option<Context<'a>> {
    let compat = partner.compat.as_ref()?;
    let team = partner.owner_team.as_ref().and_then(|t| config.global.teams.get(t));
    Some(Context {
        partner,
        compat,
        team,
        channel: partner.channel(&config.global.slack.channel),
        github: &config.global.github,
        detection,
    })
}
