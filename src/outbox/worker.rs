//! The delivery worker: claims due actions with a lease, hands each to its sink, and records the
//! outcome: delivered, retrying (exponential backoff with jitter, `Retry-After` honoured) or
//! dead after `[outbox] max_attempts`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use backon::BackoffBuilder;
use futures::StreamExt;
use serde::Serialize;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{Action, DeliveryError};
use crate::config::OutboxConfig;
use crate::metrics::METRICS;
use crate::sinks::Sinks;
use crate::store::outbox::{self as rows, ActionRow, Attempted};
use crate::store::{Store, StoreError, now_ms};

/// Actions claimed per round.
const BATCH: i64 = 32;
/// Actions delivered at once (each is the head of its own ordering key).
const CONCURRENCY: usize = 16;
/// Longest idle sleep of the daemon worker between looks at the outbox.
const IDLE_POLL: Duration = Duration::from_secs(1);

/// What a drain achieved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryReport {
    /// Actions delivered in this run.
    pub delivered: usize,
    /// Actions left for a later run after failing in this one.
    pub retrying: usize,
    /// Actions moved to the dead letter state in this run.
    pub dead: usize,
    /// Undelivered actions leased by another deliverer (another process, or one that died and
    /// whose lease has not run out yet).
    pub leased_elsewhere: i64,
}

/// The outcome of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Delivered,
    Retrying,
    Dead,
    /// The lease was lost to another deliverer mid-attempt; nothing recorded.
    LostLease,
}

/// Delivers actions from the outbox to the sinks.
#[derive(Clone)]
pub struct Deliverer {
    store: Store,
    sinks: Arc<Sinks>,
    cfg: OutboxConfig,
    owner: String,
}

impl Deliverer {
    /// A deliverer identified as `owner` in leases (unique per process).
    pub fn new(store: Store, sinks: Arc<Sinks>, cfg: OutboxConfig, owner: impl Into<String>) -> Self {
        Self { store, sinks, cfg, owner: owner.into() }
    }

    /// Delivers everything it can now, for `sparky once ...`: every undelivered action is made
    /// due, each gets up to `attempts_per_run` attempts, and waits between them (backoff or
    /// `Retry-After`) up to `max_wait_per_run`. What is left goes out with the next run.
    pub async fn drain(&self) -> Result<DeliveryReport, StoreError> {
        rows::make_all_due(&self.store).await?;
        let mut tries: HashMap<i64, (u32, Outcome)> = HashMap::new();
        loop {
            let exclude: Vec<i64> = tries.iter().filter(|(_, (n, _))| *n >= self.cfg.attempts_per_run).map(|(id, _)| *id).collect();
            let claimed = self.claim(&exclude).await?;
            if claimed.is_empty() {
                let Some(at) = rows::next_due_at(&self.store, &exclude).await? else { break };
                let wait = Duration::from_millis(u64::try_from(at - now_ms()).unwrap_or(0));
                if wait > self.cfg.max_wait_per_run.get() {
                    break;
                }
                tokio::time::sleep(wait).await;
                continue;
            }
            for (id, outcome) in self.deliver_all(claimed).await {
                let entry = tries.entry(id).or_insert((0, outcome));
                *entry = (entry.0 + 1, outcome);
            }
        }
        let mut report = DeliveryReport { leased_elsewhere: rows::count_leased(&self.store).await?, ..DeliveryReport::default() };
        for (_, outcome) in tries.values() {
            match outcome {
                Outcome::Delivered => report.delivered += 1,
                Outcome::Retrying => report.retrying += 1,
                Outcome::Dead => report.dead += 1,
                Outcome::LostLease => {}
            }
        }
        Ok(report)
    }

    /// The daemon loop: delivers due actions until `shutdown`, waking early on `wake`.
    pub async fn run(&self, wake: Arc<Notify>, shutdown: CancellationToken) {
        while !shutdown.is_cancelled() {
            let claimed = match self.claim(&[]).await {
                Ok(claimed) => claimed,
                Err(e) => {
                    METRICS.error("outbox", "store");
                    tracing::error!(error = %e, "outbox: cannot claim actions");
                    Vec::new()
                }
            };
            if !claimed.is_empty() {
                self.deliver_all(claimed).await;
                continue;
            }
            let idle = self.idle_wait().await;
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = wake.notified() => {}
                () = tokio::time::sleep(idle) => {}
            }
        }
    }

    async fn idle_wait(&self) -> Duration {
        match rows::next_due_at(&self.store, &[]).await {
            Ok(Some(at)) => Duration::from_millis(u64::try_from(at - now_ms()).unwrap_or(0)).clamp(Duration::from_millis(10), IDLE_POLL),
            _ => IDLE_POLL,
        }
    }

    async fn claim(&self, exclude: &[i64]) -> Result<Vec<ActionRow>, StoreError> {
        let lease_until = now_ms() + i64::try_from(self.cfg.lease.get().as_millis()).unwrap_or(i64::MAX / 2);
        rows::claim_due(&self.store, &self.owner, lease_until, BATCH, exclude).await
    }

    /// Delivers a claimed batch (up to [`CONCURRENCY`] at once), then records every outcome in
    /// one transaction.
    async fn deliver_all(&self, claimed: Vec<ActionRow>) -> Vec<(i64, Outcome)> {
        let attempts: Vec<(i64, Attempted, Outcome)> =
            futures::stream::iter(claimed).map(|row| self.attempt(row)).buffer_unordered(CONCURRENCY).collect().await;
        let records: Vec<(i64, Attempted)> = attempts.iter().map(|(id, a, _)| (*id, a.clone())).collect();
        match rows::record(&self.store, &self.owner, &records).await {
            Ok(kept) => attempts
                .into_iter()
                .zip(kept)
                .map(|((id, _, outcome), kept)| {
                    if !kept {
                        tracing::warn!(action = id, "attempt made, but the lease had passed to another deliverer");
                    }
                    (id, if kept { outcome } else { Outcome::LostLease })
                })
                .collect(),
            Err(e) => {
                // The leases run out and the actions go again; the sinks find what was sent.
                METRICS.error("outbox", "store");
                tracing::error!(error = %e, "outbox: cannot record delivery outcomes");
                attempts.into_iter().map(|(id, _, _)| (id, Outcome::LostLease)).collect()
            }
        }
    }

    /// One attempt: the sink's answer, as the outcome to record.
    async fn attempt(&self, row: ActionRow) -> (i64, Attempted, Outcome) {
        let result = match serde_json::from_str::<Action>(&row.payload) {
            Ok(action) => self.sinks.deliver(&action, &row).await.map(|d| (action, d)),
            Err(e) => Err(DeliveryError::Permanent { reason: format!("unreadable action payload: {e}") }),
        };
        let (attempted, outcome) = match result {
            Ok((action, delivered)) => {
                METRICS.outbox_deliveries.with_label_values(&[&row.sink, "delivered"]).inc();
                if let Action::SlackPost(post) = &action
                    && post.purpose == "digest"
                {
                    METRICS.digests_posted.with_label_values(&[self.sinks.slack_kind()]).inc();
                }
                (Attempted::Delivered { remote_id: delivered.remote_id }, Outcome::Delivered)
            }
            Err(DeliveryError::Retry { reason, retry_after }) if row.attempts < i64::from(self.cfg.max_attempts) => {
                let delay = self.backoff(row.attempts).max(retry_after.unwrap_or_default());
                let next = now_ms() + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2);
                tracing::warn!(action = row.id, sink = %row.sink, attempt = row.attempts, retry_in = ?delay, error = %reason, "delivery failed, will retry");
                METRICS.outbox_deliveries.with_label_values(&[&row.sink, "retry"]).inc();
                (Attempted::Failed { error: reason, next_attempt_at: Some(next) }, Outcome::Retrying)
            }
            Err(DeliveryError::Retry { reason, .. } | DeliveryError::Permanent { reason }) => {
                tracing::error!(action = row.id, sink = %row.sink, attempts = row.attempts, error = %reason, "delivery failed for good: dead letter (sparky outbox retry {})", row.id);
                METRICS.outbox_deliveries.with_label_values(&[&row.sink, "dead"]).inc();
                METRICS.outbox_dead_letters.with_label_values(&[&row.sink]).inc();
                (Attempted::Failed { error: reason, next_attempt_at: None }, Outcome::Dead)
            }
        };
        (row.id, attempted, outcome)
    }

    /// Delay before attempt `attempts + 1`: exponential from `backoff_base`, capped at
    /// `backoff_max`, with jitter.
    fn backoff(&self, attempts: i64) -> Duration {
        let n = usize::try_from(attempts.max(1) - 1).unwrap_or(0);
        backon::ExponentialBuilder::default()
            .with_min_delay(self.cfg.backoff_base.get())
            .with_max_delay(self.cfg.backoff_max.get())
            .with_jitter()
            .without_max_times()
            .build()
            .nth(n)
            .unwrap_or(self.cfg.backoff_max.get())
    }
}
