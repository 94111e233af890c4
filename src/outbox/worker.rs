//! The delivery worker: claims due actions with a lease, hands each to its sink, and records the
//! outcome: delivered, retrying (exponential backoff with jitter, `Retry-After` honoured) or
//! dead after `[outbox] max_attempts`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde::Serialize;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::breaker::{Admission, Breakers};
use super::limits::Limits;
use super::sink::Mode;
use super::slack::Purpose;
use super::{Action, Attempt, Delivered, DeliveryError, Sinks, retry};
use crate::config::OutboxConfig;
use crate::metrics::METRICS;
use crate::model::{SinkKind, Timestamp};
use crate::store::outbox::{self as rows, ActionRow, Attempted};
use crate::store::{Store, StoreError};

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

/// What a deliverer shares with the other deliverers of its process: the sinks, their rate
/// limits and their circuit breakers.
pub struct Delivery {
    /// The sinks.
    pub sinks: Sinks,
    /// Rate limits.
    pub limits: Limits,
    /// Circuit breakers.
    pub breakers: Breakers,
}

impl Delivery {
    /// The sinks, with the limits and breakers of `cfg` (`[outbox]`) and `slack_per_channel`
    /// messages a second per Slack channel.
    pub fn new(sinks: Sinks, cfg: &OutboxConfig, slack_per_channel: u32) -> Self {
        Self {
            sinks,
            limits: Limits::new(cfg.rate_limits.iter().map(|(k, v)| (*k, *v)), slack_per_channel),
            breakers: Breakers::new(cfg.breaker_failures, cfg.breaker_cooldown.get()),
        }
    }
}

/// Delivers actions from the outbox to the sinks.
#[derive(Clone)]
pub struct Deliverer {
    store: Store,
    delivery: Arc<Delivery>,
    cfg: OutboxConfig,
    owner: String,
}

impl Deliverer {
    /// A deliverer identified as `owner` in leases (unique per process).
    pub fn new(store: Store, delivery: Arc<Delivery>, cfg: OutboxConfig, owner: impl Into<String>) -> Self {
        Self { store, delivery, cfg, owner: owner.into() }
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
                let wait = at.since(Timestamp::now());
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
            Ok(Some(at)) => at.since(Timestamp::now()).clamp(Duration::from_millis(10), IDLE_POLL),
            _ => IDLE_POLL,
        }
    }

    async fn claim(&self, exclude: &[i64]) -> Result<Vec<ActionRow>, StoreError> {
        let lease_until = Timestamp::now() + self.cfg.lease.get();
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
        let sink = row.sink;
        let result = match serde_json::from_str::<Action>(&row.payload) {
            Ok(action) => self.deliver(&action, &row).await.map(|d| (action, d)),
            Err(e) => Err(DeliveryError::permanent(format!("unreadable action payload: {e}"))),
        };
        let (attempted, outcome) = match result {
            Ok((action, delivered)) => {
                METRICS.outbox_deliveries.with_label_values(&[sink.as_str(), "delivered"]).inc();
                if let Action::SlackPost(post) = &action
                    && post.purpose == Purpose::Digest
                {
                    let to = if self.delivery.sinks.mode(SinkKind::Slack) == Some(Mode::Api) { "slack" } else { "log" };
                    METRICS.digests_posted.with_label_values(&[to]).inc();
                }
                (Attempted::Delivered { remote_id: delivered.remote_id }, Outcome::Delivered)
            }
            Err(DeliveryError::Retry { reason, retry_after }) if row.attempts < i64::from(self.cfg.max_attempts) => {
                let delay = retry::delay(&self.cfg, row.attempts, retry_after);
                let next = Timestamp::now() + delay;
                tracing::warn!(action = row.id, sink = %sink, attempt = row.attempts, retry_in = ?delay, error = %reason, "delivery failed, will retry");
                METRICS.outbox_deliveries.with_label_values(&[sink.as_str(), "retry"]).inc();
                (Attempted::Failed { error: reason, next_attempt_at: Some(next) }, Outcome::Retrying)
            }
            Err(DeliveryError::Retry { reason, .. } | DeliveryError::Permanent { reason }) => {
                tracing::error!(action = row.id, sink = %sink, attempts = row.attempts, error = %reason, "delivery failed for good: dead letter (sparky outbox retry {})", row.id);
                METRICS.outbox_deliveries.with_label_values(&[sink.as_str(), "dead"]).inc();
                METRICS.outbox_dead_letters.with_label_values(&[sink.as_str()]).inc();
                (Attempted::Failed { error: reason, next_attempt_at: None }, Outcome::Dead)
            }
        };
        (row.id, attempted, outcome)
    }

    /// Hands `action` to its sink: not while its breaker is open, within its rate limit, and
    /// after an uncertain attempt only when the sink finds no trace of it.
    async fn deliver(&self, action: &Action, row: &ActionRow) -> Result<Delivered, DeliveryError> {
        let kind = action.sink();
        let Some(sink) = self.delivery.sinks.get(kind) else {
            return Err(DeliveryError::permanent(format!("no {kind} sink in this process")));
        };
        if let Admission::Wait(wait) = self.delivery.breakers.admit(kind) {
            return Err(DeliveryError::Retry {
                reason: format!("{kind} circuit breaker open after repeated failures"),
                retry_after: Some(wait),
            });
        }
        self.delivery.limits.until_ready(action).await;
        let attempt = Attempt {
            action_id: row.id,
            key: row.idempotency_key.clone(),
            number: row.attempts,
            created_at: row.created_at,
            uncertain: row.maybe_delivered_before(),
        };
        let result = super::attempt(sink.as_ref(), action, &attempt).await;
        self.delivery.breakers.record(kind, !matches!(result, Err(DeliveryError::Retry { .. })));
        result
    }
}

#[cfg(test)]
mod tests;
