//! The daemon's delivery worker under paused time, against an in-process sink: a failure waits
//! for its backoff or `Retry-After` by the one clock, then goes again.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::FutureExt;

use super::*;
use crate::model::{ActionState, HeldClock, until};
use crate::outbox::slack::SlackPost;
use crate::outbox::{Sink, enqueue};
use crate::store::outbox::get;

/// A sink answering from a script (then success), counting its calls.
#[derive(Default)]
struct Scripted {
    calls: AtomicUsize,
    script: Mutex<VecDeque<DeliveryError>>,
}

#[async_trait::async_trait]
impl Sink for Scripted {
    async fn find_earlier(&self, _: &Action, _: &Attempt) -> Result<Option<Delivered>, DeliveryError> {
        Ok(None)
    }

    async fn deliver(&self, _: &Action, _: &Attempt) -> Result<Delivered, DeliveryError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match self.script.lock().unwrap().pop_front() {
            Some(e) => Err(e),
            None => Ok(Delivered::with_id("ts-1")),
        }
    }
}

async fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display());
    (dir, Store::open_with(&url, Duration::from_secs(24 * 3600), true).await.unwrap())
}

#[tokio::test]
async fn a_retry_after_is_waited_by_the_clock_then_the_action_goes_again() {
    let (_dir, store) = store().await;
    tokio::time::pause();
    let _held = HeldClock::hold();
    let step = Duration::from_millis(100);
    let sink = Arc::new(Scripted::default());
    sink.script.lock().unwrap().push_back(DeliveryError::Retry { reason: "429".to_owned(), retry_after: Some(Duration::from_secs(30)) });
    let cfg = OutboxConfig::default();
    let delivery = Delivery::new(Sinks::new().with(SinkKind::Slack, sink.clone(), Mode::Api), &cfg, 100);
    let deliverer = Deliverer::new(store.clone(), Arc::new(delivery), cfg, "worker-1");
    let post = SlackPost { channel: "#c".to_owned(), text: "hi".to_owned(), blocks: vec![], purpose: Purpose::Notice, remember_as: None };
    let mut tx = store.pool().begin().await.unwrap();
    let id = enqueue(&mut tx, &[Action::SlackPost(post).queued("k1", "slack:#c")]).await.unwrap()[0].unwrap();
    tx.commit().await.unwrap();

    let (wake, shutdown) = (Arc::new(Notify::new()), CancellationToken::new());
    let worker = tokio::spawn({
        let (wake, shutdown) = (wake.clone(), shutdown.clone());
        async move { deliverer.run(wake, shutdown).await }
    });
    let row = |store: Store| async move { get(&store, id).await.unwrap().unwrap() };
    until("the first attempt", step, || row(store.clone()).map(|r| r.state == ActionState::Retrying)).await;
    assert_eq!(sink.calls.load(Ordering::SeqCst), 1);
    let retry_at = row(store.clone()).await.next_attempt_at;

    // Until Retry-After, the worker looks again every second (its idle poll), but nothing is due.
    until("Retry-After less a second", step, || async { Timestamp::now() + Duration::from_secs(1) >= retry_at }).await;
    assert_eq!(sink.calls.load(Ordering::SeqCst), 1, "not before Retry-After");
    until("the second attempt", step, || row(store.clone()).map(|r| r.state == ActionState::Delivered)).await;
    assert_eq!(sink.calls.load(Ordering::SeqCst), 2);
    assert!(Timestamp::now() >= retry_at);
    shutdown.cancel();
    worker.await.unwrap();
}
