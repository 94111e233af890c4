//! Triage: when a check turns failing or healthy, decide the cause and act; when a partner's page
//! changes while we fail, re-decide. The decisions are pure ([`cause`], [`plan`], [`egress`]);
//! this module reads state, makes the two look-ups a decision needs (our own egress, the
//! partner's status afresh), and writes the incident change, its history, its actions and the
//! event's "handled" mark in one transaction.

pub mod cause;
pub mod egress;
pub mod plan;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, Notify};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use self::cause::Verdict;
use self::plan::{CheckChange, Ctx, Plan, PlanError};
use crate::config::{Config, Partner};
use crate::fetch::{FetchError, Fetcher};
use crate::metrics::METRICS;
use crate::model::{Cause, CheckId, CheckState, HistoryKind, Incident, PartnerStatus, Priority, Timestamp};
use crate::outbox::enqueue;
use crate::sources::connectivity::{Connectivity, Egress};
use crate::sources::status_pages::{PollReport, poll_partner};
use crate::store::incidents::{self as table, CheckEvent, NewIncident};
use crate::store::{Store, StoreError};
use crate::templates::Templates;

/// How often the daemon looks for events it was not woken for, and re-checks a lost egress.
const POLL: Duration = Duration::from_secs(1);
const EGRESS_RECHECK: Duration = Duration::from_secs(30);

/// Triage failed; the event stays untriaged and is tried again.
#[derive(Debug, thiserror::Error)]
pub enum TriageError {
    /// The database.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A template.
    #[error(transparent)]
    Plan(#[from] PlanError),
}

/// What triage did with one event.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// A new incident.
    Opened {
        /// Its id.
        incident: i64,
        /// Its cause.
        cause: Cause,
        /// Why.
        reason: String,
    },
    /// Added to the partner's open incident.
    Attached {
        /// The incident.
        incident: i64,
    },
    /// A check recovered; the incident goes on.
    Recovered {
        /// The incident.
        incident: i64,
    },
    /// The last check recovered: the incident is resolved.
    Resolved {
        /// The incident.
        incident: i64,
    },
    /// Sparky has no egress: nobody blamed.
    Suppressed,
    /// Nothing to do (already handled elsewhere, unknown partner, or no incident).
    Nothing,
}

/// How long a connectivity verdict serves further events (a burst of failing checks costs one
/// probe of the canaries, not one each).
const EGRESS_VERDICT_TTL: Duration = Duration::from_secs(10);

/// Longest wait for a partner's page while a decision waits on it.
const STATUS_TIMEOUT: Duration = Duration::from_secs(10);

/// Triage of this process.
#[derive(Clone)]
pub struct Triage {
    store: Store,
    config: Arc<Config>,
    templates: Arc<Templates>,
    connectivity: Connectivity,
    /// The partner status fetch of a decision: no retries, at most 10 s.
    fetcher: Fetcher,
    /// Woken when a decision wrote actions.
    delivery: Arc<Notify>,
    egress: Arc<Mutex<Option<(Instant, Egress)>>>,
}

impl Triage {
    /// Triage over `store` for `config`, reading partner pages with (a quick version of)
    /// `fetcher` and waking `delivery` when a decision wrote actions.
    pub fn new(
        store: Store,
        config: Arc<Config>,
        templates: Arc<Templates>,
        fetcher: &Fetcher,
        delivery: Arc<Notify>,
    ) -> Result<Self, FetchError> {
        let connectivity = Connectivity::new(&config.global.connectivity, &config.global.http)?;
        Ok(Self { store, config, templates, connectivity, fetcher: fetcher.quick(STATUS_TIMEOUT), delivery, egress: Arc::default() })
    }

    /// What the canaries say, probed at most every [`EGRESS_VERDICT_TTL`].
    async fn egress(&self) -> Egress {
        if let Some((at, verdict)) = self.egress.lock().await.as_ref()
            && at.elapsed() < EGRESS_VERDICT_TTL
        {
            return verdict.clone();
        }
        let verdict = self.connectivity.check().await;
        *self.egress.lock().await = Some((Instant::now(), verdict.clone()));
        verdict
    }

    /// Triages every pending check event, oldest first; an event that fails stays pending.
    pub async fn run_pending(&self) -> Vec<(CheckEvent, Decision)> {
        let events = match table::unhandled_events(&self.store, 500).await {
            Ok(events) => events,
            Err(e) => {
                tracing::error!(error = %e, "triage: cannot read check events");
                return Vec::new();
            }
        };
        let mut done = Vec::new();
        for event in events {
            match self.handle(&event).await {
                Ok(decision) => {
                    tracing::info!(check = %event.check_id, partner = %event.partner_id, to = event.to.as_str(), ?decision, "triaged");
                    // Each decision's actions go out at once, not after the whole backlog.
                    self.delivery.notify_one();
                    done.push((event, decision));
                }
                Err(e) => {
                    METRICS.error("triage", "failed");
                    tracing::error!(check = %event.check_id, error = %e, "triage failed; will retry");
                }
            }
        }
        done
    }

    async fn handle(&self, event: &CheckEvent) -> Result<Decision, TriageError> {
        let Some(partner) = self.config.partner(&event.partner_id) else {
            tracing::warn!(partner = %event.partner_id, "check event of a partner no longer configured");
            return self.mark(event).await;
        };
        match event.to {
            CheckState::Failing => self.failing(event, partner).await,
            CheckState::Healthy => self.healthy(event, partner).await,
        }
    }

    async fn mark(&self, event: &CheckEvent) -> Result<Decision, TriageError> {
        let mut tx = self.store.pool().begin().await.map_err(StoreError::from)?;
        table::claim_event(&mut tx, event.id, Timestamp::now()).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(Decision::Nothing)
    }

    fn ctx<'a>(&'a self, partner: &'a Partner) -> Ctx<'a> {
        Ctx { templates: &self.templates, partner, channel: partner.channel(&self.config.global.slack.channel), now: Timestamp::now() }
    }

    fn priority(&self, check: &CheckId) -> Priority {
        self.config.checks.iter().find(|c| &c.id == check).map_or(Priority::P4, |c| c.priority)
    }

    /// Our own egress first: while most canaries fail, nobody is blamed.
    async fn failing(&self, event: &CheckEvent, partner: &Partner) -> Result<Decision, TriageError> {
        let (egress, status) = tokio::join!(self.egress(), poll_partner(&self.store, &self.fetcher, partner));
        if let Egress::Down(failures) = egress {
            return self.suppress(event, &failures).await;
        }
        let status = status?.map(|report| report.status);
        let components = partner.status_page.as_ref().map(|s| s.components.as_slice()).unwrap_or_default();
        let cause = cause::decide(&partner.name, status.as_ref(), components);
        let Ok(check) = event.check_id.parse::<CheckId>() else {
            tracing::warn!(check = %event.check_id, "check event of a check id no longer valid");
            return self.mark(event).await;
        };
        let change = CheckChange {
            priority: self.priority(&check),
            check,
            reason: table::result_message(&self.store, &event.check_id, event.at).await?,
            at: event.at,
        };
        let ctx = self.ctx(partner);
        let mut tx = self.store.pool().begin().await.map_err(StoreError::from)?;
        if !table::claim_event(&mut tx, event.id, ctx.now).await? {
            return Ok(Decision::Nothing);
        }
        let decision = match table::open_incident(&mut tx, partner.id.as_str()).await? {
            None => {
                let new = NewIncident {
                    partner: &partner.id,
                    cause: cause.cause,
                    reason: &cause.reason,
                    priority: change.priority,
                    check: &change.check,
                    at: ctx.now,
                };
                let mut incident = table::insert(&mut tx, &new).await?;
                let plan = plan::open(&ctx, &incident, &change, &cause)?;
                (incident.paged, incident.published) = (plan.paged, plan.published);
                table::update(&mut tx, &incident).await?;
                enqueue(&mut tx, &plan.actions).await?;
                METRICS.incidents.with_label_values(&[partner.id.as_str(), cause.cause.as_str()]).inc();
                Decision::Opened { incident: incident.id, cause: cause.cause, reason: cause.reason.clone() }
            }
            Some(incident) if incident.checks.contains(&change.check) => Decision::Attached { incident: incident.id },
            Some(mut incident) => {
                table::set_check(&mut tx, incident.id, &change.check, true, ctx.now).await?;
                table::history(&mut tx, incident.id, ctx.now, HistoryKind::CheckAdded, &format!("{} failing", change.check)).await?;
                incident.checks.push(change.check.clone());
                enqueue(&mut tx, &plan::attach(&ctx, &incident, &change)?).await?;
                if cause.cause != incident.cause {
                    apply_cause(&mut tx, &ctx, &mut incident, &cause, change.check.as_str()).await?;
                }
                Decision::Attached { incident: incident.id }
            }
        };
        tx.commit().await.map_err(StoreError::from)?;
        Ok(decision)
    }

    async fn healthy(&self, event: &CheckEvent, partner: &Partner) -> Result<Decision, TriageError> {
        let ctx = self.ctx(partner);
        let mut tx = self.store.pool().begin().await.map_err(StoreError::from)?;
        if !table::claim_event(&mut tx, event.id, ctx.now).await? {
            return Ok(Decision::Nothing);
        }
        let Some(mut incident) = table::open_incident(&mut tx, partner.id.as_str()).await? else {
            tx.commit().await.map_err(StoreError::from)?;
            return Ok(Decision::Nothing);
        };
        let Some(check) = incident.checks.iter().find(|c| c.as_str() == event.check_id).cloned() else {
            tx.commit().await.map_err(StoreError::from)?;
            return Ok(Decision::Nothing);
        };
        let change = CheckChange { check, priority: incident.priority, reason: None, at: event.at };
        table::set_check(&mut tx, incident.id, &change.check, false, ctx.now).await?;
        incident.checks.retain(|c| c != &change.check);
        let decision = if incident.checks.is_empty() {
            enqueue(&mut tx, &plan::resolve(&ctx, &incident, &change)?).await?;
            table::resolve(&mut tx, incident.id, ctx.now).await?;
            Decision::Resolved { incident: incident.id }
        } else {
            table::history(&mut tx, incident.id, ctx.now, HistoryKind::CheckRecovered, &format!("{} passes again", change.check)).await?;
            enqueue(&mut tx, &plan::check_recovered(&incident, &change)).await?;
            Decision::Recovered { incident: incident.id }
        };
        tx.commit().await.map_err(StoreError::from)?;
        Ok(decision)
    }

    async fn suppress(&self, event: &CheckEvent, failures: &[String]) -> Result<Decision, TriageError> {
        let now = Timestamp::now();
        let mut tx = self.store.pool().begin().await.map_err(StoreError::from)?;
        if !table::claim_event(&mut tx, event.id, now).await? {
            return Ok(Decision::Nothing);
        }
        if table::set_egress(&mut tx, true, now).await? {
            tracing::error!(failures = ?failures, "Sparky cannot reach the internet: partner checks are not blamed");
            enqueue(&mut tx, &egress::down(&self.templates, &self.config.global.slack.channel, now, failures)?).await?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        Ok(Decision::Suppressed)
    }

    /// While egress is down: when the canaries answer again, resolves the alert and triages the
    /// checks that failed meanwhile.
    pub async fn egress_tick(&self) -> Result<(), TriageError> {
        let Some(since) = table::egress_down_since(&self.store).await? else { return Ok(()) };
        let verdict = self.connectivity.check().await;
        *self.egress.lock().await = Some((Instant::now(), verdict.clone()));
        if matches!(verdict, Egress::Down(_)) {
            return Ok(());
        }
        let now = Timestamp::now();
        let mut tx = self.store.pool().begin().await.map_err(StoreError::from)?;
        if table::set_egress(&mut tx, false, now).await? {
            enqueue(&mut tx, &egress::up(&self.templates, &self.config.global.slack.channel, since, now)?).await?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        tracing::info!("Sparky reaches the internet again; triaging the checks that failed meanwhile");
        for orphan in table::failing_without_incident(&self.store).await? {
            let mut tx = self.store.pool().begin().await.map_err(StoreError::from)?;
            crate::store::synthetics::requeue_failing_event(&mut tx, &orphan.check, &orphan.partner, orphan.since).await?;
            tx.commit().await.map_err(StoreError::from)?;
        }
        self.run_pending().await;
        Ok(())
    }

    /// Re-decides the cause of `partner`'s open incident from a fresh reading of its page.
    pub async fn recheck(&self, partner: &Partner, status: &PartnerStatus) -> Result<(), TriageError> {
        let mut conn = self.store.pool().acquire().await.map_err(StoreError::from)?;
        let Some(mut incident) = table::open_incident(&mut conn, partner.id.as_str()).await? else { return Ok(()) };
        drop(conn);
        let components = partner.status_page.as_ref().map(|s| s.components.as_slice()).unwrap_or_default();
        let cause = cause::decide(&partner.name, Some(status), components);
        if cause.cause == incident.cause {
            return Ok(());
        }
        let ctx = self.ctx(partner);
        let check = incident.checks.first().map_or_else(|| incident.dedup_key.clone(), ToString::to_string);
        let mut tx = self.store.pool().begin().await.map_err(StoreError::from)?;
        apply_cause(&mut tx, &ctx, &mut incident, &cause, &check).await?;
        tx.commit().await.map_err(StoreError::from)?;
        tracing::info!(partner = %partner.id, incident = incident.id, cause = %cause.cause, reason = %cause.reason, "incident cause changed");
        self.delivery.notify_one();
        Ok(())
    }

    /// Rechecks every partner with an open incident against its latest reading (`once status`).
    pub async fn recheck_all(&self, reports: &[PollReport]) -> Result<(), TriageError> {
        for partner_id in table::partners_with_open_incidents(&self.store).await? {
            let (Some(partner), Some(report)) = (self.config.partner(&partner_id), reports.iter().find(|r| r.partner == partner_id)) else {
                continue;
            };
            self.recheck(partner, &report.status).await?;
        }
        Ok(())
    }

    /// The daemon loop: triages on `wake` (the check engine's events) or every second; rechecks
    /// a lost egress every 30 s.
    pub async fn run(&self, wake: Arc<Notify>, shutdown: CancellationToken) {
        let mut last_egress: Option<Instant> = None;
        while !shutdown.is_cancelled() {
            self.run_pending().await;
            if last_egress.is_none_or(|t| t.elapsed() >= EGRESS_RECHECK) {
                last_egress = Some(Instant::now());
                if let Err(e) = self.egress_tick().await {
                    tracing::error!(error = %e, "egress check failed");
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = wake.notified() => {}
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }
}

/// Records a new cause: incident row (generation + 1, flags), history, and the actions.
async fn apply_cause(
    tx: &mut sqlx::AnyConnection,
    ctx: &Ctx<'_>,
    incident: &mut Incident,
    cause: &Verdict,
    check: &str,
) -> Result<(), TriageError> {
    incident.cause = cause.cause;
    incident.cause_reason.clone_from(&cause.reason);
    incident.generation += 1;
    let Plan { actions, paged, published } = plan::recause(ctx, incident, cause, check)?;
    (incident.paged, incident.published) = (paged, published);
    table::update(tx, incident).await?;
    table::history(tx, incident.id, ctx.now, HistoryKind::CauseChanged, &format!("{}: {}", cause.cause, cause.reason)).await?;
    enqueue(tx, &actions).await?;
    Ok(())
}

#[cfg(test)]
mod tests;
