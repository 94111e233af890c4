//! Triage: when a check turns failing or healthy, decide the cause and act; when a partner's page
//! changes while we fail, re-decide. The decisions are pure ([`cause`], [`recheck`], [`plan`],
//! [`egress`], [`reconcile::plan`]); the worker around them ([`handle`], [`reconcile`]) reads
//! state, makes the two look-ups a decision needs (our own egress, the partner's status afresh),
//! and writes the incident change, its history, its actions and the event's "handled" mark in one
//! transaction.
//!
//! A burst (many checks of many partners failing together) is decided concurrently: up to
//! `[triage] concurrency` partners at once, each partner's events in order, one status fetch per
//! partner for all its events, one egress probe for all.

pub mod cause;
pub mod egress;
mod handle;
mod page_failed;
pub mod plan;
pub mod recheck;
pub mod reconcile;
pub mod silence;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{Mutex, Notify, OnceCell};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use self::plan::PlanError;
use crate::config::{Config, Partner};
use crate::fetch::{FetchError, Fetcher};
use crate::metrics::METRICS;
use crate::model::{Cause, PartnerStatus};
use crate::sources::connectivity::{Connectivity, Egress};
use crate::sources::status_pages::poll_partner;
use crate::store::incidents::{self as table, CheckEvent};
use crate::store::{Store, StoreError};
use crate::templates::Templates;

/// How often the daemon looks for events it was not woken for, and re-checks a lost egress.
const POLL: Duration = Duration::from_secs(1);
const EGRESS_RECHECK: Duration = Duration::from_secs(30);
/// How often the daemon compares open incidents with the checks' stored states.
const RECONCILE: Duration = Duration::from_secs(60);
/// Events read per round.
const BATCH: i64 = 500;

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
    /// A warn notice (degraded for `warn_after`, or cleared) went to the partner's channel.
    Warned,
    /// Nothing to do (already handled elsewhere, unknown partner, or no incident).
    Nothing,
}

impl std::fmt::Display for Decision {
    /// For logs and people: `opened incident 3 (internal: Acme reports API operational)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Opened { incident, cause, reason } => write!(f, "opened incident {incident} ({cause}: {reason})"),
            Self::Attached { incident } => write!(f, "added to incident {incident}"),
            Self::Recovered { incident } => write!(f, "recovered; incident {incident} goes on"),
            Self::Resolved { incident } => write!(f, "resolved incident {incident}"),
            Self::Suppressed => f.write_str("not blamed: Sparky has no egress"),
            Self::Warned => f.write_str("warn notice posted"),
            Self::Nothing => f.write_str("nothing to do"),
        }
    }
}

/// How long a connectivity verdict serves further events (a burst of failing checks costs one
/// probe of the canaries, not one each).
const EGRESS_VERDICT_TTL: Duration = Duration::from_secs(10);

/// Triage of this process.
#[derive(Clone)]
pub struct Triage {
    store: Store,
    config: Arc<Config>,
    templates: Arc<Templates>,
    connectivity: Connectivity,
    /// The partner status fetch of a decision: no retries, at most `[triage] status_timeout`.
    fetcher: Fetcher,
    /// Woken when a decision wrote actions.
    delivery: Arc<Notify>,
    /// The last egress verdict; held while a probe runs, so concurrent decisions share it.
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
        let fetcher = fetcher.quick(config.global.triage.status_timeout.get());
        Ok(Self { store, config, templates, connectivity, fetcher, delivery, egress: Arc::default() })
    }

    /// What the canaries say, probed at most every [`EGRESS_VERDICT_TTL`].
    async fn egress(&self) -> Egress {
        let mut cached = self.egress.lock().await;
        if let Some((at, verdict)) = cached.as_ref()
            && at.elapsed() < EGRESS_VERDICT_TTL
        {
            return verdict.clone();
        }
        let verdict = self.connectivity.check().await;
        *cached = Some((Instant::now(), verdict.clone()));
        verdict
    }

    /// Triages every pending check event: partners concurrently, each partner's events oldest
    /// first; an event that fails stays pending, and so do the later events of its partner.
    /// The decisions come back in event order.
    pub async fn run_pending(&self) -> Vec<(CheckEvent, Decision)> {
        let events = match table::unhandled_events(&self.store, BATCH).await {
            Ok(events) => events,
            Err(e) => {
                tracing::error!(error = %e, "triage: cannot read check events");
                return Vec::new();
            }
        };
        let groups = by_partner(events);
        let concurrency = self.config.global.triage.concurrency.max(1);
        let done: Vec<Vec<(CheckEvent, Decision)>> =
            futures::stream::iter(groups).map(|events| self.partner_events(events)).buffer_unordered(concurrency).collect().await;
        let mut done: Vec<(CheckEvent, Decision)> = done.into_iter().flatten().collect();
        done.sort_by_key(|(event, _)| event.id);
        done
    }

    /// One partner's events, in order, sharing one fresh reading of its page.
    async fn partner_events(&self, events: Vec<CheckEvent>) -> Vec<(CheckEvent, Decision)> {
        let reading = OnceCell::new();
        let mut done = Vec::new();
        for event in events {
            match self.handle_with_retry(&event, &reading).await {
                Ok(decision) => {
                    tracing::info!(check = %event.check_id, partner = %event.partner_id, to = event.to.as_str(), %decision, "triaged");
                    // Each decision's actions go out at once, not after the whole backlog.
                    self.delivery.notify_one();
                    done.push((event, decision));
                }
                Err(e) => {
                    METRICS.error("triage", "failed");
                    tracing::error!(check = %event.check_id, error = %e, "triage failed; will retry");
                    break;
                }
            }
        }
        done
    }

    /// Handles `event`; a conflict (another triager opened the partner's incident meanwhile)
    /// is decided again at once, against the winner's incident.
    async fn handle_with_retry(&self, event: &CheckEvent, reading: &Reading) -> Result<Decision, TriageError> {
        match self.handle(event, reading).await {
            Err(TriageError::Store(e)) if e.is_conflict() => {
                tracing::info!(check = %event.check_id, partner = %event.partner_id, "another replica opened the incident; attaching");
                self.handle(event, reading).await
            }
            other => other,
        }
    }

    /// The partner's page, read afresh once per round (`None`: it has none).
    async fn read(&self, partner: &Partner, reading: &Reading) -> Result<Option<PartnerStatus>, StoreError> {
        let status = reading.get_or_try_init(|| async { poll_partner(&self.store, &self.fetcher, partner).await }).await?;
        Ok(status.as_ref().map(|report| report.status.clone()))
    }

    /// The daemon loop: reconciles at start and every minute, triages on `wake` (the check
    /// engine's events) or every second, then (every minute) releases what ended silences held
    /// ([`Triage::release_held`]), rechecks a lost egress every 30 s.
    pub async fn run(&self, wake: Arc<Notify>, shutdown: CancellationToken) {
        let (mut last_egress, mut last_reconcile): (Option<Instant>, Option<Instant>) = (None, None);
        while !shutdown.is_cancelled() {
            let round = last_reconcile.is_none_or(|t| t.elapsed() >= RECONCILE);
            if round {
                last_reconcile = Some(Instant::now());
                if let Err(e) = self.reconcile().await {
                    tracing::error!(error = %e, "cannot reconcile incidents with check states");
                }
            }
            self.run_pending().await;
            // After the events, so an incident whose recovery was pending is not paged for.
            if round && let Err(e) = self.release_held().await {
                tracing::error!(error = %e, "cannot release what ended silences held");
            }
            if let Err(e) = self.page_failures().await {
                tracing::error!(error = %e, "cannot look for pages PagerDuty never accepted");
            }
            if let Err(e) = self.refresh_gauges().await {
                tracing::warn!(error = %e, "cannot refresh the open incident and egress gauges");
            }
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

impl Triage {
    /// `sparky_incidents_open` and `sparky_egress_up` as the database has them (every replica
    /// reports the cluster's figures).
    async fn refresh_gauges(&self) -> Result<(), StoreError> {
        METRICS.set_open_incidents(&table::open_counts(&self.store).await?);
        METRICS.egress_up.set(i64::from(table::egress_down_since(&self.store).await?.is_none()));
        Ok(())
    }
}

/// One reading of a partner's page, shared by the events of one round.
type Reading = OnceCell<Option<crate::sources::status_pages::PollReport>>;

/// `events` grouped by partner, groups in order of their first event, events in order.
fn by_partner(events: Vec<CheckEvent>) -> Vec<Vec<CheckEvent>> {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut groups: Vec<Vec<CheckEvent>> = Vec::new();
    for event in events {
        let i = *index.entry(event.partner_id.clone()).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[i].push(event);
    }
    groups
}

#[cfg(test)]
mod tests;
