//! The delivery worker: claims due actions with a lease (renewed while they are in flight), hands
//! each to its sink, and records each outcome as soon as its delivery returns: delivered, printed
//! (the log sink), retrying (exponential backoff with jitter, `Retry-After` honoured) or dead
//! after `[outbox] max_attempts` (the rest of its chain then waits, `blocked`). A sink whose
//! circuit breaker is open is not claimed from at all; a half-open one gets one trial.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use serde::Serialize;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

use super::breaker::{Breakers, Gate};
use super::limits::Limits;
use super::sink::Mode;
use super::slack::Purpose;
use super::{Action, Attempt, Delivered, DeliveryError, Sinks, retry};
use crate::config::OutboxConfig;
use crate::metrics::METRICS;
use crate::model::{SinkKind, Timestamp};
use crate::store::outbox::{self as rows, ActionRow, Attempted, ClaimFilter};
use crate::store::{Store, StoreError};

/// Actions claimed per round.
const BATCH: i64 = 32;
/// Actions delivered at once (each is the head of its own ordering key).
const CONCURRENCY: usize = 16;
/// Longest idle sleep of the daemon worker between looks at the outbox.
const IDLE_POLL: Duration = Duration::from_secs(1);
/// How often the daemon worker refreshes the `sparky_outbox_actions` gauges.
const GAUGES_EVERY: Duration = Duration::from_secs(15);

/// What a drain achieved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryReport {
    /// Actions delivered in this run.
    pub delivered: usize,
    /// Actions the log sink printed in this run (no credentials for their sink).
    pub printed: usize,
    /// Actions left for a later run after failing in this one.
    pub retrying: usize,
    /// Actions moved to the dead letter state in this run.
    pub dead: usize,
    /// Undelivered actions leased by another deliverer (another process, or one that died and
    /// whose lease has not run out yet).
    pub leased_elsewhere: i64,
}

impl DeliveryReport {
    /// This report followed by `later` (a second drain of the same run).
    pub fn and(self, later: Self) -> Self {
        Self {
            delivered: self.delivered + later.delivered,
            printed: self.printed + later.printed,
            retrying: later.retrying,
            dead: self.dead + later.dead,
            leased_elsewhere: later.leased_elsewhere,
        }
    }
}

/// The outcome of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Delivered,
    Printed,
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

    /// Delivers everything it can now, for `sparky once ...`: each due action gets up to
    /// `attempts_per_run` attempts, with waits between them (backoff, or `Retry-After`, also one
    /// a previous run was told) of up to `max_wait_per_run`. What is left goes out with the next
    /// run.
    pub async fn drain(&self) -> Result<DeliveryReport, StoreError> {
        let mut tries: HashMap<i64, (u32, Outcome)> = HashMap::new();
        loop {
            let exclude: Vec<i64> = tries.iter().filter(|(_, (n, _))| *n >= self.cfg.attempts_per_run).map(|(id, _)| *id).collect();
            let claimed = self.claim(&exclude).await?;
            if claimed.is_empty() {
                let Some(wait) = self.next_wait(&exclude).await? else { break };
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
                Outcome::Printed => report.printed += 1,
                Outcome::Retrying => report.retrying += 1,
                Outcome::Dead => report.dead += 1,
                Outcome::LostLease => {}
            }
        }
        refresh_gauges(&self.store).await;
        Ok(report)
    }

    /// The daemon loop: delivers due actions until `shutdown`, waking early on `wake`.
    pub async fn run(&self, wake: Arc<Notify>, shutdown: CancellationToken) {
        let mut gauges_at: Option<tokio::time::Instant> = None;
        while !shutdown.is_cancelled() {
            if gauges_at.is_none_or(|t| t.elapsed() >= GAUGES_EVERY) {
                gauges_at = Some(tokio::time::Instant::now());
                refresh_gauges(&self.store).await;
            }
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
        match self.next_wait(&[]).await {
            Ok(Some(wait)) => wait.clamp(Duration::from_millis(10), IDLE_POLL),
            _ => IDLE_POLL,
        }
    }

    /// How long until something can be claimed (`None`: nothing waits): the next due action of
    /// a sink whose breaker lets it through, or the reopening of a held sink's breaker. A held
    /// sink's due actions do not count, so an open breaker is waited out, not polled.
    async fn next_wait(&self, exclude: &[i64]) -> Result<Option<Duration>, StoreError> {
        let breakers = &self.delivery.breakers;
        let held: Vec<SinkKind> = SinkKind::ALL.iter().copied().filter(|k| breakers.gate(*k) == Gate::Hold).collect();
        let reopening = held.iter().filter_map(|k| breakers.reopens_in(*k)).min();
        let filter = ClaimFilter { exclude, skip_sinks: &held, only_sink: None };
        let due = rows::next_due_at(&self.store, &filter).await?.map(|at| at.since(Timestamp::now()));
        Ok(match (due, reopening) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }

    /// Claims due actions: none of a sink whose breaker is open or whose trial is under way, one
    /// (the trial) of a sink whose cool-down is over.
    async fn claim(&self, exclude: &[i64]) -> Result<Vec<ActionRow>, StoreError> {
        let lease_until = Timestamp::now() + self.cfg.lease.get();
        let breakers = &self.delivery.breakers;
        let gates: Vec<(SinkKind, Gate)> = SinkKind::ALL.iter().map(|k| (*k, breakers.gate(*k))).collect();
        let held: Vec<SinkKind> = gates.iter().filter(|(_, g)| *g != Gate::Claim).map(|(k, _)| *k).collect();
        let filter = ClaimFilter { exclude, skip_sinks: &held, only_sink: None };
        let mut claimed = rows::claim_due(&self.store, &self.owner, lease_until, BATCH, &filter).await?;
        for (kind, _) in gates.iter().filter(|(_, g)| *g == Gate::Trial) {
            let trial = ClaimFilter { exclude, skip_sinks: &[], only_sink: Some(*kind) };
            let one = rows::claim_due(&self.store, &self.owner, lease_until, 1, &trial).await?;
            if !one.is_empty() {
                tracing::info!(sink = %kind, "circuit breaker half-open: one trial delivery");
                breakers.start_trial(*kind);
                claimed.extend(one);
            }
        }
        Ok(claimed)
    }

    /// Delivers a claimed batch (up to [`CONCURRENCY`] at once), recording each outcome as soon
    /// as it is known, while the leases of those still in flight are renewed.
    async fn deliver_all(&self, claimed: Vec<ActionRow>) -> Vec<(i64, Outcome)> {
        let in_flight: Arc<Mutex<BTreeSet<i64>>> = Arc::new(Mutex::new(claimed.iter().map(|r| r.id).collect()));
        // Stops with this future, however it ends (a killed job must not renew its leases).
        let _renewer = AbortOnDropHandle::new(tokio::spawn(renew_while(
            self.store.clone(),
            self.owner.clone(),
            in_flight.clone(),
            self.cfg.lease.get(),
        )));
        futures::stream::iter(claimed)
            .map(|row| {
                let in_flight = in_flight.clone();
                async move {
                    let id = row.id;
                    let outcome = self.attempt_and_record(row).await;
                    in_flight.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&id);
                    (id, outcome)
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await
    }

    async fn attempt_and_record(&self, row: ActionRow) -> Outcome {
        let id = row.id;
        let (attempted, outcome) = self.attempt(row).await;
        match rows::record(&self.store, &self.owner, id, &attempted).await {
            Ok(true) => outcome,
            Ok(false) => {
                tracing::warn!(
                    action = id,
                    "attempt made, but the lease had passed to another deliverer: its outcome is not recorded over theirs"
                );
                Outcome::LostLease
            }
            Err(e) => {
                // The lease runs out and the action goes again; the sink finds what was sent.
                METRICS.error("outbox", "store");
                tracing::error!(action = id, error = %e, "outbox: cannot record a delivery outcome");
                Outcome::LostLease
            }
        }
    }

    /// One attempt: the sink's answer, as the outcome to record.
    async fn attempt(&self, row: ActionRow) -> (Attempted, Outcome) {
        let sink = row.sink;
        let result = match serde_json::from_str::<Action>(&row.payload) {
            Ok(action) => self.deliver(&action, &row).await.map(|d| (action, d)),
            Err(e) => Err(DeliveryError::permanent(format!("unreadable action payload: {e}"))),
        };
        let (attempted, outcome) = match result {
            Ok((action, delivered)) => {
                let printed = self.delivery.sinks.mode(sink) == Some(Mode::Log);
                METRICS.outbox_deliveries.with_label_values(&[sink.as_str(), if printed { "printed" } else { "delivered" }]).inc();
                if let Action::SlackPost(post) = &action
                    && post.purpose == Purpose::Digest
                {
                    METRICS.digests_posted.with_label_values(&[if printed { "log" } else { "slack" }]).inc();
                }
                if printed {
                    (Attempted::Printed, Outcome::Printed)
                } else {
                    let remote = delivered.remote_id.as_deref().unwrap_or("-");
                    tracing::info!(action = row.id, sink = %sink, key = %row.idempotency_key, remote_id = remote, attempt = row.attempts, "delivered");
                    (Attempted::Delivered { remote_id: delivered.remote_id }, Outcome::Delivered)
                }
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
        (attempted, outcome)
    }

    /// Hands `action` to its sink, within its rate limit, and after an uncertain attempt only
    /// when the sink finds no trace of it; the outcome feeds the sink's breaker.
    async fn deliver(&self, action: &Action, row: &ActionRow) -> Result<Delivered, DeliveryError> {
        let kind = action.sink();
        let Some(sink) = self.delivery.sinks.get(kind) else {
            return Err(DeliveryError::permanent(format!("no {kind} sink in this process")));
        };
        self.delivery.limits.until_ready(action).await;
        let attempt = Attempt {
            action_id: row.id,
            key: row.idempotency_key.clone(),
            number: row.attempts,
            created_at: row.created_at,
            uncertain: row.maybe_delivered_before(),
        };
        let result = super::attempt(sink.as_ref(), action, &attempt).await;
        if let Some(cooldown) = self.delivery.breakers.record(kind, !matches!(result, Err(DeliveryError::Retry { .. }))) {
            let reopens = Timestamp::now() + cooldown;
            if let Err(e) = rows::defer_sink(&self.store, kind, reopens).await {
                tracing::warn!(sink = %kind, error = %e, "cannot move the waiting actions to the breaker's reopening");
            }
        }
        result
    }
}

/// Renews `owner`'s leases of the ids in `in_flight` every third of `lease`, until aborted.
async fn renew_while(store: Store, owner: String, in_flight: Arc<Mutex<BTreeSet<i64>>>, lease: Duration) {
    loop {
        tokio::time::sleep(lease / 3).await;
        let ids: Vec<i64> = in_flight.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter().copied().collect();
        if let Err(e) = rows::renew(&store, &owner, &ids, Timestamp::now() + lease).await {
            tracing::warn!(error = %e, "cannot renew the leases of actions in flight");
        }
    }
}

/// Sets `sparky_outbox_actions{state}` for the states of actions not done (delivered and printed
/// actions are counted by `sparky_outbox_deliveries_total` as they happen).
async fn refresh_gauges(store: &Store) {
    let Ok(counts) = rows::count_undone(store).await else { return };
    for state in crate::model::ActionState::ALL.iter().filter(|s| !crate::model::ActionState::DONE.contains(s)) {
        let n = counts.iter().find(|(s, _)| s == state).map_or(0, |(_, n)| *n);
        METRICS.outbox_actions.with_label_values(&[state.as_str()]).set(n);
    }
}

#[cfg(test)]
mod tests;
