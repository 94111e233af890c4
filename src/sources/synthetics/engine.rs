//! The check engine: every check on its own schedule (spread over its interval by its id), a
//! bounded number of requests at once, a failure confirmed by one re-run after `confirm_after`,
//! the state machine applied to the confirmed outcome, and results written in batches.
//!
//! With several replicas, each check is owned by one replica at a time (`check_owners`, a lease
//! renewed every few seconds); a replica that dies loses its checks to another within the lease.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus::{Histogram, IntGauge};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::run::{LatencyHistory, RunOutput, Runner};
use super::state::{Thresholds, apply};
use crate::config::{Assertion, CheckConfig, HttpConfig, SyntheticsSettings};
use crate::metrics::METRICS;
use crate::model::{CheckState, Outcome, StateRecord, Timestamp, Transition};
use crate::schedule::{Every, Start, run_every};
use crate::store::synthetics::{self as table, Batch, EventRow, ResultRow, StateRow};
use crate::store::{Store, StoreError};

/// Results buffered before a write.
const BATCH_ROWS: usize = 500;
/// Longest a result waits in the buffer.
const BATCH_WAIT: Duration = Duration::from_millis(50);
/// How long a replica owns its checks without renewing.
const OWNERSHIP_LEASE: Duration = Duration::from_secs(30);
/// How often ownership is renewed (and free checks picked up).
const OWNERSHIP_SYNC: Duration = Duration::from_secs(10);

/// One check and what the engine keeps about it between runs.
pub struct CheckRuntime {
    /// Its configuration.
    pub config: CheckConfig,
    state: Mutex<StateRecord>,
    /// Counted (time, latency) pairs within the longest `latency_p95` window.
    latencies: Mutex<VecDeque<(Timestamp, Duration)>>,
    window: Option<Duration>,
    duration_metric: Histogram,
    up_metric: IntGauge,
}

impl CheckRuntime {
    fn new(config: CheckConfig, state: StateRecord) -> Self {
        let labels = [config.id.as_str(), config.partner.as_str()];
        let window = config
            .assertions
            .iter()
            .chain(config.steps.iter().flat_map(|s| s.assertions.iter()))
            .filter_map(|a| if let Assertion::LatencyP95 { window, .. } = a { Some(window.get()) } else { None })
            .max();
        Self {
            duration_metric: METRICS.check_duration.with_label_values(&labels),
            up_metric: METRICS.check_up.with_label_values(&labels),
            config,
            state: Mutex::new(state),
            latencies: Mutex::new(VecDeque::new()),
            window,
        }
    }

    /// Its current state.
    pub fn state(&self) -> StateRecord {
        *self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn remember(&self, at: Timestamp, latency: Duration) {
        let Some(window) = self.window else { return };
        let mut l = self.latencies.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        l.push_back((at, latency));
        let oldest = at - window;
        while l.front().is_some_and(|(t, _)| *t < oldest) {
            l.pop_front();
        }
    }
}

impl LatencyHistory for CheckRuntime {
    fn p95(&self, window: Duration, this_one: Duration) -> Option<Duration> {
        let oldest = Timestamp::now() - window;
        let mut all: Vec<Duration> = self
            .latencies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .filter(|(t, _)| *t >= oldest)
            .map(|(_, d)| *d)
            .collect();
        all.push(this_one);
        Some(percentile(&mut all, 95))
    }
}

/// The `p`th percentile (nearest rank) of `values`; zero for none.
pub fn percentile(values: &mut [Duration], p: usize) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    values.sort_unstable();
    let rank = (p * values.len()).div_ceil(100).clamp(1, values.len());
    values[rank - 1]
}

/// What one scheduled run did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Executed {
    /// Check id.
    pub check: String,
    /// Partner id.
    pub partner: String,
    /// The run.
    pub first: RunOutput,
    /// The confirmation re-run of a failed run.
    pub confirmation: Option<RunOutput>,
    /// The state after it.
    pub state: StateRecord,
    /// The state change it caused.
    #[serde(skip)]
    pub transition: Option<Transition>,
}

impl Executed {
    /// The run that counts: the confirmation when there was one.
    pub fn counted(&self) -> &RunOutput {
        self.confirmation.as_ref().unwrap_or(&self.first)
    }
}

/// Runs checks and records what they find.
#[derive(Clone)]
pub struct Engine {
    runner: Arc<Runner>,
    permits: Arc<Semaphore>,
    writer: mpsc::Sender<Batch>,
}

impl Engine {
    /// An engine and its result writer (finished when every clone of the engine is dropped),
    /// which wakes `triage` when it stored a state change.
    pub fn start(
        store: &Store,
        http: &HttpConfig,
        settings: &SyntheticsSettings,
        triage: Arc<tokio::sync::Notify>,
    ) -> Result<(Self, JoinHandle<()>), crate::fetch::FetchError> {
        let runner = Runner::new(http, settings.max_body.0)?;
        let (tx, rx) = mpsc::channel(BATCH_ROWS * 4);
        let writer = tokio::spawn(write_results(store.clone(), rx, triage));
        Ok((Self { runner: Arc::new(runner), permits: Arc::new(Semaphore::new(settings.concurrency.max(1))), writer: tx }, writer))
    }

    /// Runtimes of `checks` with their stored states and latency history.
    pub async fn load(store: &Store, checks: &[CheckConfig]) -> Result<Vec<Arc<CheckRuntime>>, StoreError> {
        let states = table::states(store).await?;
        let now = Timestamp::now();
        let mut runtimes = Vec::with_capacity(checks.len());
        for check in checks {
            let state = states.get(check.id.as_str()).copied().unwrap_or_else(|| StateRecord::new(now));
            let runtime = CheckRuntime::new(check.clone(), state);
            if let Some(window) = runtime.window {
                for s in table::samples(store, check.id.as_str(), now - window).await? {
                    runtime.remember(s.at, Duration::from_millis(u64::try_from(s.duration_ms).unwrap_or(0)));
                }
            }
            runtime.up_metric.set(i64::from(state.state == CheckState::Healthy));
            runtimes.push(Arc::new(runtime));
        }
        Ok(runtimes)
    }

    /// Runs a check once now, and its confirmation when it fails: what it finds, nothing applied
    /// or stored (`sparky check` without `--record`).
    pub async fn probe(&self, rt: &CheckRuntime) -> Executed {
        let (first, confirmation) = self.run_confirmed(rt).await;
        Executed {
            check: rt.config.id.to_string(),
            partner: rt.config.partner.to_string(),
            first,
            confirmation,
            state: rt.state(),
            transition: None,
        }
    }

    async fn run_confirmed(&self, rt: &CheckRuntime) -> (RunOutput, Option<RunOutput>) {
        let first = self.run(rt).await;
        if first.outcome != Outcome::Fail {
            return (first, None);
        }
        let confirm = rt.config.confirm_after.get();
        tracing::info!(check = %rt.config.id, error = first.message.as_deref().unwrap_or_default(), retry_in = ?confirm, "check failed; confirming");
        tokio::time::sleep(confirm).await;
        let confirmation = self.run(rt).await;
        (first, Some(confirmation))
    }

    /// Runs a check once now (and its confirmation when it fails), applies the state machine
    /// and queues the results. `scheduled_at` measures scheduling lateness.
    pub async fn execute(&self, rt: &CheckRuntime, scheduled_at: Option<Timestamp>) -> Executed {
        if let Some(at) = scheduled_at {
            METRICS.check_lateness.observe(Timestamp::now().since(at).as_secs_f64());
        }
        let (first, confirmation) = self.run_confirmed(rt).await;
        let counted = confirmation.as_ref().unwrap_or(&first);
        let thresholds = Thresholds { failure: rt.config.failure_threshold, success: rt.config.success_threshold };
        let (before, state, transition) = {
            let mut guard = rt.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let before = *guard;
            let (next, transition) = apply(before, counted.outcome, thresholds, counted.started_at);
            *guard = next;
            (before, next, transition)
        };
        rt.remember(counted.started_at, counted.duration);
        self.observe(rt, counted, transition);
        self.queue(rt, &first, confirmation.as_ref(), (state != before).then_some(state), transition).await;
        Executed { check: rt.config.id.to_string(), partner: rt.config.partner.to_string(), first, confirmation, state, transition }
    }

    async fn run(&self, rt: &CheckRuntime) -> RunOutput {
        // A permit bounds requests in flight; a hanging partner holds its permits only until its
        // own timeout, and never the schedule of another check.
        let _permit = self.permits.acquire().await.ok();
        self.runner.run(&rt.config, rt).await
    }

    fn observe(&self, rt: &CheckRuntime, out: &RunOutput, transition: Option<Transition>) {
        rt.duration_metric.observe(out.duration.as_secs_f64());
        METRICS.check_results.with_label_values(&[out.outcome.as_str(), out.error_kind.map_or("none", |k| k.as_str())]).inc();
        if let Some(t) = transition {
            rt.up_metric.set(i64::from(t.to == CheckState::Healthy));
            tracing::warn!(check = %rt.config.id, partner = %rt.config.partner, from = t.from.as_str(), to = t.to.as_str(), error = out.message.as_deref().unwrap_or_default(), "check state changed");
        }
    }

    async fn queue(
        &self,
        rt: &CheckRuntime,
        first: &RunOutput,
        confirmation: Option<&RunOutput>,
        state: Option<StateRecord>,
        transition: Option<Transition>,
    ) {
        let (check, partner) = (rt.config.id.to_string(), rt.config.partner.to_string());
        let row = |out: &RunOutput, confirmation: bool, counted: bool| ResultRow {
            check_id: check.clone(),
            partner_id: partner.clone(),
            at: out.started_at,
            duration_ms: i64::try_from(out.duration.as_millis()).unwrap_or(i64::MAX),
            http_status: out.http_status.map(i64::from),
            outcome: out.outcome,
            error_kind: out.error_kind,
            message: out.message.clone(),
            assertions: serde_json::to_string(&out.assertions).unwrap_or_else(|_| "[]".to_owned()),
            confirmation,
            counted,
        };
        let mut results = vec![row(first, false, confirmation.is_none())];
        if let Some(c) = confirmation {
            results.push(row(c, true, true));
        }
        let at = confirmation.unwrap_or(first).started_at;
        let batch = Batch {
            results,
            states: state.map(|record| StateRow { check_id: check.clone(), partner_id: partner.clone(), record }).into_iter().collect(),
            events: transition
                .map(|t| EventRow { check_id: check.clone(), partner_id: partner.clone(), at, from: t.from, to: t.to })
                .into_iter()
                .collect(),
        };
        if self.writer.send(batch).await.is_err() {
            tracing::error!(check = %check, "result writer stopped; result not stored");
        }
    }

    /// Runs each of `runtimes` once, at most `concurrency` at once.
    pub async fn run_all_once(&self, runtimes: &[Arc<CheckRuntime>]) -> Vec<Executed> {
        let runs = runtimes.iter().map(|rt| self.execute(rt, None));
        futures::future::join_all(runs).await
    }

    /// The daemon: as replica `instance`, owns what checks it can, runs each on its schedule
    /// until `shutdown`.
    pub async fn run_daemon(&self, store: &Store, instance: &str, runtimes: Vec<Arc<CheckRuntime>>, shutdown: CancellationToken) {
        let ids: Vec<String> = runtimes.iter().map(|r| r.config.id.to_string()).collect();
        let by_id: HashMap<String, Arc<CheckRuntime>> = runtimes.into_iter().map(|r| (r.config.id.to_string(), r)).collect();
        let mut running: HashMap<String, JoinHandle<()>> = HashMap::new();
        loop {
            let lease_until = Timestamp::now() + OWNERSHIP_LEASE;
            match table::sync_ownership(store, instance, &ids, lease_until).await {
                Ok(held) => self.reconcile(&by_id, &held, &mut running, &shutdown),
                Err(e) => {
                    METRICS.error("synthetics", "store");
                    tracing::error!(error = %e, "cannot renew check ownership");
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(OWNERSHIP_SYNC) => {}
            }
        }
        for (_, task) in running {
            let _ = task.await;
        }
        if let Err(e) = table::release_checks(store, instance).await {
            tracing::warn!(error = %e, "cannot release checks");
        }
    }

    fn reconcile(
        &self,
        by_id: &HashMap<String, Arc<CheckRuntime>>,
        held: &[String],
        running: &mut HashMap<String, JoinHandle<()>>,
        shutdown: &CancellationToken,
    ) {
        running.retain(|id, task| {
            let keep = held.contains(id);
            if !keep {
                tracing::info!(check = %id, "check taken over by another replica");
                task.abort();
            }
            keep
        });
        for id in held {
            if running.contains_key(id.as_str()) {
                continue;
            }
            let (Some(rt), engine, shutdown) = (by_id.get(id).cloned(), self.clone(), shutdown.clone()) else { continue };
            running.insert(id.clone(), tokio::spawn(async move { engine.schedule(&rt, &shutdown).await }));
        }
    }

    async fn schedule(&self, rt: &CheckRuntime, shutdown: &CancellationToken) {
        match &rt.config.cron {
            Some(cron) => loop {
                let now = Timestamp::now();
                let Some(next) = cron.next(now) else { return };
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(next.since(now)) => { Box::pin(self.execute(rt, Some(next))).await; }
                }
            },
            None => {
                let interval = rt.config.interval();
                // Boxed: an idle check's task then holds a pointer, not a whole run's state (10,000
                // checks would otherwise keep a few KB each while they sleep).
                run_every(Every::spread(rt.config.id.as_str(), interval), Start::NextTick, shutdown, |tick| {
                    Box::pin(async move {
                        self.execute(rt, Some(tick)).await;
                    })
                })
                .await;
            }
        }
    }
}

/// Writes queued results in batches: up to [`BATCH_ROWS`] or [`BATCH_WAIT`], whichever first.
async fn write_results(store: Store, mut rx: mpsc::Receiver<Batch>, triage: Arc<tokio::sync::Notify>) {
    while let Some(first) = rx.recv().await {
        let mut batch = first;
        let deadline = tokio::time::Instant::now() + BATCH_WAIT;
        while batch.results.len() < BATCH_ROWS {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(more)) => {
                    batch.results.extend(more.results);
                    batch.states.extend(more.states);
                    batch.events.extend(more.events);
                }
                Ok(None) | Err(_) => break,
            }
        }
        write_with_retry(&store, &batch).await;
        if !batch.events.is_empty() {
            triage.notify_one();
        }
    }
}

async fn write_with_retry(store: &Store, batch: &Batch) {
    for attempt in 1..=3u32 {
        match table::write_batch(store, batch).await {
            Ok(()) => return,
            Err(e) if attempt < 3 => {
                tracing::warn!(error = %e, attempt, "cannot store check results; retrying");
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
            }
            Err(e) => {
                METRICS.error("synthetics", "store");
                tracing::error!(error = %e, results = batch.results.len(), "check results lost: the database refused them three times");
            }
        }
    }
}
