//! The check engine: every check on its own schedule (spread over its interval by its id), a
//! bounded number of requests at once, a failure confirmed by one re-run after `confirm_after`,
//! the state machine applied to the confirmed outcome, and results written in batches: a
//! result, the state it moved to and its state-change event in one transaction, retried without
//! bound while the database refuses them (results beyond a buffer are dropped and counted; states
//! and events never are).
//!
//! With several replicas, each tick runs on the replica that owns the check at that instant
//! ([`share`](super::share): rendezvous hashing over the live `replicas` rows); a replica that
//! takes a check over loads its state and latency window from the database first.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus::{Histogram, IntCounter, IntGauge};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::run::{LatencyHistory, RunOutput, Runner};
use super::share::Membership;
use super::state::{Thresholds, apply, warn};
use super::writer::{CHANNEL_BATCHES, write_results};
use crate::config::{Assertion, CheckConfig, HttpConfig, SyntheticsSettings};
use crate::metrics::METRICS;
use crate::model::{CheckState, Outcome, StateRecord, Timestamp, Transition, WarnChange};
use crate::schedule::{Every, Start, run_every};
use crate::store::synthetics::{self as table, Batch, EventRow, ResultRow, StateRow};
use crate::store::{Store, StoreError};

/// One check and what the engine keeps about it between runs.
pub struct CheckRuntime {
    /// Its configuration.
    pub config: CheckConfig,
    state: Mutex<StateRecord>,
    /// The state and latencies are those of the database: loaded, then moved only by this
    /// replica's runs. Cleared at a tick another replica owns.
    current: AtomicBool,
    /// Counted (time, latency) pairs within the longest `latency_p95` window.
    latencies: Mutex<VecDeque<(Timestamp, Duration)>>,
    window: Option<Duration>,
    duration_metric: Histogram,
    /// `sparky_check_results_total` of this check, one counter per outcome in [`Outcome::ALL`]
    /// order.
    results_metric: Vec<IntCounter>,
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
            results_metric: Outcome::ALL
                .iter()
                .map(|o| METRICS.check_results.with_label_values(&[labels[0], labels[1], o.as_str()]))
                .collect(),
            up_metric: METRICS.check_up.with_label_values(&labels),
            config,
            state: Mutex::new(state),
            current: AtomicBool::new(true),
            latencies: Mutex::new(VecDeque::new()),
            window,
        }
    }

    /// Its current state.
    pub fn state(&self) -> StateRecord {
        *self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The latency window as the database has it at `now`.
    async fn load_latencies(&self, store: &Store, now: Timestamp) -> Result<(), StoreError> {
        let Some(window) = self.window else { return Ok(()) };
        let samples = table::samples(store, self.config.id.as_str(), now - window).await?;
        let mut l = self.latencies.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        l.clear();
        l.extend(samples.iter().map(|s| (s.at, Duration::from_millis(u64::try_from(s.duration_ms).unwrap_or(0)))));
        Ok(())
    }

    /// Takes the check over: its state, consecutive counts and latency window as stored by
    /// the replica that ran it last.
    async fn take_over(&self, store: &Store) -> Result<(), StoreError> {
        let now = Timestamp::now();
        let stored = table::state(store, self.config.id.as_str()).await?.unwrap_or_else(|| StateRecord::new(now));
        self.load_latencies(store, now).await?;
        *self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = stored;
        self.up_metric.set(i64::from(stored.state == CheckState::Healthy));
        self.current.store(true, Ordering::Release);
        tracing::info!(check = %self.config.id, state = stored.state.as_str(), "took the check over");
        Ok(())
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
    /// The warn notice it caused.
    #[serde(skip)]
    pub warn: Option<WarnChange>,
}

impl Executed {
    /// The run that counts: the confirmation when there was one.
    pub fn counted(&self) -> &RunOutput {
        self.confirmation.as_ref().unwrap_or(&self.first)
    }
}

/// What one counted run changed, for the writer.
struct Changed {
    /// The record after the run.
    record: StateRecord,
    /// It differs from the one before (so it is stored).
    stored: bool,
    /// The state change.
    transition: Option<Transition>,
    /// The warn notice.
    warn: Option<WarnChange>,
}

/// Runs checks and records what they find.
#[derive(Clone)]
pub struct Engine {
    runner: Arc<Runner>,
    permits: Arc<Semaphore>,
    writer: mpsc::Sender<Batch>,
    heartbeat: Duration,
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
        let (tx, rx) = mpsc::channel(CHANNEL_BATCHES);
        let writer = tokio::spawn(write_results(store.clone(), rx, triage));
        let engine = Self {
            runner: Arc::new(runner),
            permits: Arc::new(Semaphore::new(settings.concurrency.max(1))),
            writer: tx,
            heartbeat: settings.heartbeat.get(),
        };
        Ok((engine, writer))
    }

    /// Runtimes of `checks` with their stored states and latency history.
    pub async fn load(store: &Store, checks: &[CheckConfig]) -> Result<Vec<Arc<CheckRuntime>>, StoreError> {
        let states = table::states(store).await?;
        let now = Timestamp::now();
        let mut runtimes = Vec::with_capacity(checks.len());
        for check in checks {
            let state = states.get(check.id.as_str()).copied().unwrap_or_else(|| StateRecord::new(now));
            let runtime = CheckRuntime::new(check.clone(), state);
            runtime.load_latencies(store, now).await?;
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
            warn: None,
        }
    }

    async fn run_confirmed(&self, rt: &CheckRuntime) -> (RunOutput, Option<RunOutput>) {
        let first = self.run(rt).await;
        // A check already failing needs no confirmation: a failure changes nothing, and a
        // partner that is down is not called twice as often.
        if first.outcome != Outcome::Fail || rt.state().state == CheckState::Failing {
            return (first, None);
        }
        let confirm = rt.config.confirm_after.get();
        tracing::info!(target: crate::model::OUTCOME, check = %rt.config.id, error = first.message.as_deref().unwrap_or_default(), retry_in = ?confirm, "check failed; confirming");
        tokio::time::sleep(confirm).await;
        let confirmation = self.run(rt).await;
        (first, Some(confirmation))
    }

    /// Runs a check once now (and its confirmation when it fails while healthy), applies the state machine
    /// and queues the results. `scheduled_at` measures scheduling lateness.
    pub async fn execute(&self, rt: &CheckRuntime, scheduled_at: Option<Timestamp>) -> Executed {
        if let Some(at) = scheduled_at {
            METRICS.check_lateness.observe(Timestamp::now().since(at).as_secs_f64());
        }
        let (first, confirmation) = self.run_confirmed(rt).await;
        let counted = confirmation.as_ref().unwrap_or(&first);
        let thresholds = Thresholds { failure: rt.config.failure_threshold, success: rt.config.success_threshold };
        let (before, state, transition, warned) = {
            let mut guard = rt.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let before = *guard;
            let (next, transition) = apply(before, counted.outcome, thresholds, counted.started_at);
            let (next, warned) = warn(next, counted.outcome, rt.config.warn_after.get(), counted.started_at);
            *guard = next;
            (before, next, transition, warned)
        };
        rt.remember(counted.started_at, counted.duration);
        self.observe(rt, counted, transition);
        let changed = Changed { record: state, stored: state != before, transition, warn: warned };
        self.queue(rt, &first, confirmation.as_ref(), changed).await;
        Executed {
            check: rt.config.id.to_string(),
            partner: rt.config.partner.to_string(),
            first,
            confirmation,
            state,
            transition,
            warn: warned,
        }
    }

    async fn run(&self, rt: &CheckRuntime) -> RunOutput {
        // A permit bounds requests in flight; a hanging partner holds its permits only until its
        // own timeout, and never the schedule of another check.
        let _permit = self.permits.acquire().await.ok();
        self.runner.run(&rt.config, rt).await
    }

    fn observe(&self, rt: &CheckRuntime, out: &RunOutput, transition: Option<Transition>) {
        rt.duration_metric.observe(out.duration.as_secs_f64());
        if let Some(counter) = Outcome::ALL.iter().position(|o| *o == out.outcome).and_then(|i| rt.results_metric.get(i)) {
            counter.inc();
        }
        if let Some(kind) = out.error_kind {
            METRICS.check_errors.with_label_values(&[rt.config.partner.as_str(), kind.as_str()]).inc();
        }
        if let Some(t) = transition {
            rt.up_metric.set(i64::from(t.to == CheckState::Healthy));
            let (check, partner, from, to) = (&rt.config.id, &rt.config.partner, t.from.as_str(), t.to.as_str());
            match out.message.as_deref() {
                Some(error) if t.to == CheckState::Failing => {
                    tracing::warn!(target: crate::model::OUTCOME, %check, %partner, from, to, error, "check state changed")
                }
                _ => tracing::info!(target: crate::model::OUTCOME, %check, %partner, from, to, "check state changed"),
            }
        }
    }

    async fn queue(&self, rt: &CheckRuntime, first: &RunOutput, confirmation: Option<&RunOutput>, changed: Changed) {
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
        let event = |from, to, warn| EventRow { check_id: check.clone(), partner_id: partner.clone(), at, from, to, warn };
        let now_in = changed.record.state;
        // A warn notice is dated from the spell's start (`started`) or its end (`cleared`).
        let warn_event = |w: WarnChange| EventRow { at: changed.record.warn_since.unwrap_or(at), ..event(now_in, now_in, Some(w)) };
        let events = changed.transition.map(|t| event(t.from, t.to, None)).into_iter().chain(changed.warn.map(warn_event));
        let stored = changed.stored.then(|| StateRow { check_id: check.clone(), partner_id: partner.clone(), record: changed.record });
        let batch = Batch { states: stored.into_iter().collect(), events: events.collect(), results };
        if self.writer.send(batch).await.is_err() {
            tracing::error!(check = %check, "result writer stopped; result not stored");
        }
    }

    /// Runs each of `runtimes` once, at most `concurrency` at once.
    pub async fn run_all_once(&self, runtimes: &[Arc<CheckRuntime>]) -> Vec<Executed> {
        let runs = runtimes.iter().map(|rt| self.execute(rt, None));
        futures::future::join_all(runs).await
    }

    /// The daemon: as replica `instance` (beating every `[synthetics] heartbeat` in `replicas`), runs each
    /// check at each of its ticks that this replica owns, until `shutdown`.
    pub async fn run_daemon(&self, store: &Store, instance: &str, runtimes: Vec<Arc<CheckRuntime>>, shutdown: CancellationToken) {
        let membership = Membership::new(instance, self.heartbeat);
        // The first view before the first tick: a replica joining a cluster does not run what
        // the others own.
        let beats = {
            let (membership, store, shutdown) = (membership.clone(), store.clone(), shutdown.clone());
            tokio::spawn(async move { membership.run(&store, shutdown).await })
        };
        let tasks: Vec<JoinHandle<()>> = runtimes
            .into_iter()
            .map(|rt| {
                let (engine, store, membership, shutdown) = (self.clone(), store.clone(), membership.clone(), shutdown.clone());
                tokio::spawn(async move { engine.schedule(&rt, &store, &membership, &shutdown).await })
            })
            .collect();
        for task in tasks {
            let _ = task.await;
        }
        let _ = beats.await;
    }

    /// One tick of `rt`, scheduled at `tick`: run here if this replica owns it then, after
    /// loading its state if another replica may have run it meanwhile.
    async fn tick(&self, rt: &CheckRuntime, store: &Store, membership: &Membership, tick: Timestamp) {
        if !membership.view().owns(rt.config.id.as_str(), tick) {
            rt.current.store(false, Ordering::Release);
            return;
        }
        if !rt.current.load(Ordering::Acquire)
            && let Err(e) = rt.take_over(store).await
        {
            // Running from the state this replica last had beats not running.
            METRICS.error("synthetics", "store");
            tracing::error!(check = %rt.config.id, error = %e, "cannot load the check's state to take it over; running from this replica's");
        }
        Box::pin(self.execute(rt, Some(tick))).await;
    }

    async fn schedule(&self, rt: &CheckRuntime, store: &Store, membership: &Membership, shutdown: &CancellationToken) {
        match &rt.config.cron {
            Some(cron) => loop {
                let now = Timestamp::now();
                let Some(next) = cron.next(now) else { return };
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(next.since(now)) => { Box::pin(self.tick(rt, store, membership, next)).await; }
                }
            },
            None => {
                let interval = rt.config.interval();
                // Boxed: an idle check's task then holds a pointer, not a whole run's state (10,000
                // checks would otherwise keep a few KB each while they sleep).
                run_every(Every::spread(rt.config.id.as_str(), interval), Start::NextTick, shutdown, |tick| {
                    Box::pin(async move {
                        self.tick(rt, store, membership, tick).await;
                    })
                })
                .await;
            }
        }
    }
}
