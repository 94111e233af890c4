//! The daemon's delivery worker under paused time, against an in-process sink ([`Scripted`]) and
//! the real store (SQLite in a temporary directory). Each test opens its store before pausing
//! the clock, holds it ([`HeldClock`]) and moves it with [`until`]; none looks at wall time.
//!
//! - A failure waits for its backoff or `Retry-After` by the one clock, then goes again.
//! - Leases: a delivery that outlives the lease keeps it (renewed while in flight), so a second
//!   deliverer does not take the action and the sink is called once; a deliverer whose lease
//!   passed to another does not record its outcome over the new holder's claim.
//! - Circuit breaker: after `breaker_failures` failures in a row the sink's other due actions are
//!   not attempted (no attempt counted, `next_attempt_at` moved to the reopening); after the
//!   cool-down exactly one trial goes, a failed trial opens it again, a successful one lets the
//!   rest go; `sparky_sink_breaker_state{sink}` shows 1 open, 2 half-open, 0 closed.
//! - Chains: an action answered with a permanent error goes dead and the later actions of its
//!   ordering key wait `blocked`, never attempted, while other keys' actions go; requeueing the
//!   dead one releases the chain, delivered in order.
//!
//! The paused clock does not wait for the database (its writes take real time on other
//! threads), so what needs no time (a claim, a record) is waited for with [`settle`], without
//! moving the clock, and the lease test moves the clock only as far as the renewed lease allows.
//! The tests run one at a time ([`SERIAL`]): every deliverer sets the process-wide breaker
//! gauges when it claims.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::FutureExt;
use sqlx::Row;

use super::*;
use crate::model::{ActionState, HeldClock, until};
use crate::outbox::slack::SlackPost;
use crate::outbox::{Sink, enqueue};
use crate::store::outbox::{NewAction, get, requeue};

/// One test at a time (see the module documentation).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A sink answering from a script (first the errors scripted for the action's key, then those
/// for any action, then success), taking `delay` per call, counting its calls and recording the
/// keys it was handed in order.
#[derive(Default)]
struct Scripted {
    calls: AtomicUsize,
    script: Mutex<VecDeque<DeliveryError>>,
    by_key: Mutex<HashMap<String, VecDeque<DeliveryError>>>,
    delay: Duration,
    /// `key` when a call starts, `key done` when it returns.
    log: Mutex<Vec<String>>,
}

impl Scripted {
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// The keys of the calls, in order.
    fn seen(&self) -> Vec<String> {
        self.log.lock().unwrap().iter().filter(|e| !e.ends_with(" done")).cloned().collect()
    }
}

#[async_trait::async_trait]
impl Sink for Scripted {
    async fn find_earlier(&self, _: &Action, _: &Attempt) -> Result<Option<Delivered>, DeliveryError> {
        Ok(None)
    }

    async fn deliver(&self, _: &Action, attempt: &Attempt) -> Result<Delivered, DeliveryError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.log.lock().unwrap().push(attempt.key.clone());
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        self.log.lock().unwrap().push(format!("{} done", attempt.key));
        let keyed = self.by_key.lock().unwrap().get_mut(&attempt.key).and_then(VecDeque::pop_front);
        match keyed.or_else(|| self.script.lock().unwrap().pop_front()) {
            Some(e) => Err(e),
            None => Ok(Delivered::with_id(format!("ts-{}", attempt.key))),
        }
    }
}

async fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display());
    (dir, Store::open_with(&url, Duration::from_secs(24 * 3600), true).await.unwrap())
}

/// The default `[outbox]` without rate limits (governor waits by the real clock).
fn config() -> OutboxConfig {
    OutboxConfig { rate_limits: std::collections::BTreeMap::new(), ..OutboxConfig::default() }
}

/// A deliverer `owner` of a process whose Slack sink is `sink`.
fn deliverer(store: &Store, sink: &Arc<Scripted>, cfg: &OutboxConfig, owner: &str) -> Deliverer {
    let delivery = Delivery::new(Sinks::new().with(SinkKind::Slack, sink.clone(), Mode::Api), cfg, 100);
    Deliverer::new(store.clone(), Arc::new(delivery), cfg.clone(), owner)
}

/// Waits until `cond` holds without moving the clock (for what takes no time, only real I/O:
/// a claim, a record); panics after ten seconds of real time.
async fn settle<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !cond().await {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::task::yield_now().await;
    }
}

/// The end of the cool-down of `deliverer`'s open Slack breaker.
fn reopening(deliverer: &Deliverer) -> tokio::time::Instant {
    match deliverer.delivery.breakers.state(SinkKind::Slack) {
        crate::outbox::breaker::State::Open { until } => until,
        other => panic!("the Slack breaker is {other:?}, not open"),
    }
}

/// A Slack notice with idempotency key `key` in chain `ordering`.
fn notice(key: &str, ordering: &str) -> NewAction {
    let post = SlackPost { channel: "#c".to_owned(), text: key.to_owned(), blocks: vec![], purpose: Purpose::Notice, remember_as: None };
    Action::SlackPost(post).queued(key, ordering)
}

/// Writes `actions`; their ids.
async fn write(store: &Store, actions: &[NewAction]) -> Vec<i64> {
    let mut tx = store.pool().begin().await.unwrap();
    let ids = enqueue(&mut tx, actions).await.unwrap();
    tx.commit().await.unwrap();
    ids.into_iter().map(Option::unwrap).collect()
}

async fn row(store: &Store, id: i64) -> ActionRow {
    get(store, id).await.unwrap().unwrap()
}

async fn lease(store: &Store, id: i64) -> (Option<String>, Option<i64>) {
    let r = sqlx::query("SELECT lease_owner, lease_until FROM outbox WHERE id = $1").bind(id).fetch_one(store.pool()).await.unwrap();
    (r.try_get(0).unwrap(), r.try_get(1).unwrap())
}

/// Moves the clock on to `to`, checking after each step that `owner`'s lease of action `id`
/// stays more than a second ahead of it. The renewer's writes take real time while the paused
/// clock does not wait for them: after each step, up to ten seconds of real time are given for
/// the lease to catch up, and it is a failure when it does not.
async fn step_keeping_lease(store: &Store, id: i64, owner: &str, to: Timestamp) {
    while Timestamp::now() < to {
        tokio::time::advance(Duration::from_millis(100)).await;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let (holder, until) = lease(store, id).await;
            assert_eq!(holder.as_deref(), Some(owner), "the lease changed hands");
            if until.is_some_and(|u| u > (Timestamp::now() + Duration::from_secs(1)).as_millis()) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the lease of action {id} was not renewed ahead of the clock: {until:?} at {}",
                Timestamp::now().as_millis()
            );
            tokio::task::yield_now().await;
        }
    }
}

/// The daemon loop of `deliverer`, until the returned token is cancelled.
fn spawn_run(deliverer: Deliverer) -> (Arc<Notify>, CancellationToken, tokio::task::JoinHandle<()>) {
    let (wake, shutdown) = (Arc::new(Notify::new()), CancellationToken::new());
    let handle = tokio::spawn({
        let (wake, shutdown) = (wake.clone(), shutdown.clone());
        async move { deliverer.run(wake, shutdown).await }
    });
    (wake, shutdown, handle)
}

fn slack_breaker_gauge() -> i64 {
    METRICS.sink_breaker_state.with_label_values(&[SinkKind::Slack.as_str()]).get()
}

#[tokio::test]
async fn a_retry_after_is_waited_by_the_clock_then_the_action_goes_again() {
    let _serial = SERIAL.lock().await;
    let (_dir, store) = store().await;
    tokio::time::pause();
    let _held = HeldClock::hold();
    let step = Duration::from_millis(100);
    let sink = Arc::new(Scripted::default());
    sink.script.lock().unwrap().push_back(DeliveryError::Retry { reason: "429".to_owned(), retry_after: Some(Duration::from_secs(30)) });
    let id = write(&store, &[notice("k1", "slack:#c")]).await[0];

    let (_wake, shutdown, worker) = spawn_run(deliverer(&store, &sink, &config(), "worker-1"));
    let row = |store: Store| async move { row(&store, id).await };
    until("the first attempt", step, || row(store.clone()).map(|r| r.state == ActionState::Retrying)).await;
    assert_eq!(sink.calls(), 1);
    let retry_at = row(store.clone()).await.next_attempt_at;

    // Until Retry-After, the worker looks again every second (its idle poll), but nothing is due.
    until("Retry-After less a second", step, || async { Timestamp::now() + Duration::from_secs(1) >= retry_at }).await;
    assert_eq!(sink.calls(), 1, "not before Retry-After");
    until("the second attempt", step, || row(store.clone()).map(|r| r.state == ActionState::Delivered)).await;
    assert_eq!(sink.calls(), 2);
    assert!(Timestamp::now() >= retry_at);
    shutdown.cancel();
    worker.await.unwrap();
}

#[tokio::test]
async fn a_delivery_longer_than_the_lease_keeps_it_and_is_made_and_recorded_once() {
    let _serial = SERIAL.lock().await;
    let (_dir, store) = store().await;
    tokio::time::pause();
    let _held = HeldClock::hold();
    let step = Duration::from_millis(100);
    let cfg = OutboxConfig { lease: crate::config::Duration::from_secs(3), ..config() };
    // One sink behind both deliverers, as one Slack workspace behind two processes.
    let sink = Arc::new(Scripted { delay: Duration::from_secs(10), ..Scripted::default() });
    let id = write(&store, &[notice("k1", "slack:#c")]).await[0];

    let (_wake, shutdown, worker) = spawn_run(deliverer(&store, &sink, &cfg, "worker-1"));
    settle("the delivery starts", || async { sink.calls() == 1 }).await;
    let started = Timestamp::now();
    let other = deliverer(&store, &sink, &cfg, "worker-2");
    // Past the first lease (3 s) and several renewals, up to just before the delivery returns.
    for at in [4, 6, 9] {
        step_keeping_lease(&store, id, "worker-1", started + Duration::from_secs(at)).await;
        assert!(other.claim(&[]).await.unwrap().is_empty(), "{at} s into the delivery, worker-2 claims nothing");
        assert_eq!(sink.calls(), 1, "{at} s into the delivery");
    }
    until("the delivery is recorded", step, || async { row(&store, id).await.state == ActionState::Delivered }).await;
    let done = row(&store, id).await;
    assert_eq!((done.attempts, done.remote_id.as_deref()), (1, Some("ts-k1")));
    assert_eq!(other.drain().await.unwrap(), DeliveryReport::default(), "nothing left to deliver");
    assert_eq!(sink.calls(), 1);
    shutdown.cancel();
    worker.await.unwrap();
}

#[tokio::test]
async fn a_deliverer_that_lost_its_lease_does_not_record_over_the_new_holder() {
    let _serial = SERIAL.lock().await;
    let (_dir, store) = store().await;
    tokio::time::pause();
    let _held = HeldClock::hold();
    let step = Duration::from_millis(100);
    let cfg = OutboxConfig { lease: crate::config::Duration::from_secs(3), ..config() };
    let sink = Arc::new(Scripted { delay: Duration::from_secs(10), ..Scripted::default() });
    let id = write(&store, &[notice("k1", "slack:#c")]).await[0];

    let first = deliverer(&store, &sink, &cfg, "worker-1");
    let drain = tokio::spawn(async move { first.drain().await.unwrap() });
    settle("the delivery starts", || async { sink.calls() == 1 }).await;
    // Mid-flight, worker-2 holds the action (as after a lease that ran out while worker-1 hung).
    let theirs = (Timestamp::now() + Duration::from_secs(3600)).as_millis();
    sqlx::query("UPDATE outbox SET lease_owner = $2, lease_until = $3 WHERE id = $1")
        .bind(id)
        .bind("worker-2")
        .bind(theirs)
        .execute(store.pool())
        .await
        .unwrap();
    until("worker-1's delivery returns and its drain ends", step, || async { drain.is_finished() }).await;
    let report = drain.await.unwrap();
    assert_eq!(report, DeliveryReport { leased_elsewhere: 1, ..DeliveryReport::default() }, "its outcome is not counted");
    assert_eq!(sink.calls(), 1);
    let left = row(&store, id).await;
    assert_eq!((left.state, left.remote_id), (ActionState::Pending, None), "worker-1 recorded nothing");
    assert_eq!(lease(&store, id).await, (Some("worker-2".to_owned()), Some(theirs)), "worker-2's lease, untouched by worker-1's renewals");
}

#[tokio::test]
async fn an_open_breaker_holds_its_sink_without_spending_attempts_then_lets_one_trial_through() {
    let _serial = SERIAL.lock().await;
    let (_dir, store) = store().await;
    tokio::time::pause();
    let _held = HeldClock::hold();
    let step = Duration::from_millis(100);
    let cooldown = Duration::from_secs(30);
    let cfg = OutboxConfig { breaker_failures: 3, breaker_cooldown: crate::config::Duration(cooldown), ..config() };
    // The first three calls fail and open the breaker; so does the first trial; then Slack is back.
    let sink = Arc::new(Scripted { delay: Duration::from_secs(1), ..Scripted::default() });
    sink.script.lock().unwrap().extend((0..4).map(|i| DeliveryError::retry(format!("503 #{i}"))));
    let failing = write(&store, &[notice("a1", "a1"), notice("a2", "a2"), notice("a3", "a3")]).await;

    let deliverer = deliverer(&store, &sink, &cfg, "worker-1");
    let (wake, shutdown, worker) = spawn_run(deliverer.clone());
    settle("three deliveries under way", || async { sink.calls() == 3 }).await;
    // Written while those fail: due now, on other chains.
    let waiting = write(&store, &[notice("b1", "b1"), notice("b2", "b2"), notice("b3", "b3")]).await;
    wake.notify_one();
    until("the breaker opens and the three failures are recorded", step, || async {
        let recorded = futures::future::join_all(failing.iter().map(|id| row(&store, *id))).await;
        slack_breaker_gauge() == 1 && recorded.iter().all(|r| r.state == ActionState::Retrying)
    })
    .await;
    let reopens = reopening(&deliverer);
    let reopens_at = Timestamp::now() + reopens.duration_since(tokio::time::Instant::now());
    for id in &waiting {
        let r = row(&store, *id).await;
        assert_eq!((r.state, r.attempts), (ActionState::Pending, 0), "action {id}");
        assert!(
            r.next_attempt_at.since(reopens_at) <= Duration::from_millis(1)
                && reopens_at.since(r.next_attempt_at) <= Duration::from_millis(1),
            "action {id} waits for the reopening"
        );
    }

    // Written while the breaker is open: due now, held by the breaker alone.
    let waiting: Vec<i64> = waiting.into_iter().chain(write(&store, &[notice("b4", "b4")]).await).collect();
    wake.notify_one();

    // The whole cool-down: nothing of Slack is claimed, nothing attempted.
    let before_reopening = || async { tokio::time::Instant::now() + Duration::from_secs(1) >= reopens };
    until("the cool-down less a second", Duration::from_millis(500), before_reopening).await;
    assert_eq!(sink.calls(), 3, "no call while the breaker is open");
    assert_eq!(slack_breaker_gauge(), 1);
    for id in &waiting {
        assert_eq!(row(&store, *id).await.attempts, 0, "no attempt spent on action {id}");
    }

    // One trial, which fails: open again, for another cool-down.
    until("the first trial", step, || async { sink.calls() == 4 }).await;
    assert_eq!(slack_breaker_gauge(), 2, "half-open during the trial");
    until("the breaker opens again", step, || async { slack_breaker_gauge() == 1 }).await;
    let reopens = reopening(&deliverer);
    let before_reopening = || async { tokio::time::Instant::now() + Duration::from_secs(1) >= reopens };
    until("the second cool-down less a second", Duration::from_millis(500), before_reopening).await;
    assert_eq!(sink.calls(), 4, "one trial, then nothing again");

    // The second trial succeeds: closed, and the rest go.
    until("the second trial", step, || async { sink.calls() == 5 }).await;
    assert_eq!(slack_breaker_gauge(), 2);
    let all: Vec<i64> = failing.iter().chain(&waiting).copied().collect();
    until("everything delivered", step, || async {
        futures::future::join_all(all.iter().map(|id| row(&store, *id))).await.iter().all(|r| r.state == ActionState::Delivered)
    })
    .await;
    assert_eq!(slack_breaker_gauge(), 0);
    let log = sink.log.lock().unwrap().clone();
    assert_eq!(log.len(), 22, "three failures, two trials, six more: {log:?}");
    let calls: Vec<usize> = log.iter().enumerate().filter(|(_, e)| !e.ends_with(" done")).map(|(i, _)| i).collect();
    for (n, trial) in [("first", calls[3]), ("second", calls[4])] {
        assert_eq!(log[trial + 1], format!("{} done", log[trial]), "nothing else while the {n} trial is under way: {log:?}");
    }
    let mut after: Vec<String> = sink.seen()[5..].to_vec();
    after.sort();
    let trial = sink.seen()[4].clone();
    let rest: Vec<String> = ["a1", "a2", "a3", "b1", "b2", "b3", "b4"].iter().map(|k| (*k).to_owned()).filter(|k| *k != trial).collect();
    assert_eq!(after, rest, "each of the others once after the trial ({trial})");
    for id in &waiting {
        assert_eq!(row(&store, *id).await.attempts, 1, "action {id}: its one delivery");
    }
    shutdown.cancel();
    worker.await.unwrap();
}

#[tokio::test]
async fn a_dead_action_blocks_its_chain_not_others_and_its_retry_releases_the_chain_in_order() {
    let _serial = SERIAL.lock().await;
    let (_dir, store) = store().await;
    tokio::time::pause();
    let _held = HeldClock::hold();
    let sink = Arc::new(Scripted::default());
    sink.by_key.lock().unwrap().insert("c1".to_owned(), [DeliveryError::permanent("404 no such project")].into());
    let ids =
        write(&store, &[notice("c1", "incident:1"), notice("c2", "incident:1"), notice("c3", "incident:1"), notice("o1", "incident:2")])
            .await;
    let (c1, chain, other) = (ids[0], [ids[1], ids[2]], ids[3]);

    let (wake, shutdown, worker) = spawn_run(deliverer(&store, &sink, &config(), "worker-1"));
    settle("the head dead, the other chain delivered", || async {
        row(&store, c1).await.state == ActionState::Dead && row(&store, other).await.state == ActionState::Delivered
    })
    .await;
    // A minute later the rest of the chain still waits, never attempted.
    let later = Timestamp::now() + Duration::from_secs(60);
    until("a minute later", Duration::from_secs(1), || async { Timestamp::now() >= later }).await;
    for id in chain {
        let r = row(&store, id).await;
        assert_eq!((r.state, r.attempts), (ActionState::Blocked, 0), "action {id}");
    }
    let mut seen = sink.seen();
    seen.sort();
    assert_eq!(seen, ["c1", "o1"], "only the head of the chain and the other chain were attempted");

    assert!(requeue(&store, c1).await.unwrap());
    wake.notify_one();
    settle("the chain delivered", || async { row(&store, chain[1]).await.state == ActionState::Delivered }).await;
    assert_eq!(sink.seen()[2..], ["c1", "c2", "c3"], "the chain goes in order, from its retried head");
    for id in [c1, chain[0]] {
        assert_eq!(row(&store, id).await.state, ActionState::Delivered);
    }
    shutdown.cancel();
    worker.await.unwrap();
}
