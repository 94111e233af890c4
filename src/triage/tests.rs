//! The triage worker under paused time: a state change the check engine stored, with nobody
//! woken, is found by the worker's own poll of the one clock and decided, its actions written
//! with it.

use std::path::Path;

use super::*;
use crate::model::{CheckState, HeldClock, Priority, Timestamp, until};
use crate::store::outbox::list;
use crate::store::synthetics::{Batch, EventRow, write_batch};

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[tokio::test]
async fn a_stored_failure_is_decided_within_a_poll_interval() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "partners/acme.toml", "id = \"acme\"\nname = \"Acme\"\n");
    write(
        dir.path(),
        "synthetics/acme-api.toml",
        "id = \"acme-api\"\npartner = \"acme\"\nurl = \"https://api.acme.test/\"\npriority = \"P3\"\n",
    );
    // No canaries: the egress check is off, so triage makes no network call at all.
    let env = |name: &str| (name == "SPARKY_CANARY_URLS").then(String::new);
    let config = Config::load_with_env(dir.path(), &env).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display());
    let store = Store::open_with(&url, Duration::from_secs(24 * 3600), true).await.unwrap();
    let templates = Arc::new(Templates::load(dir.path()).unwrap());
    let fetcher = Fetcher::new(&config.global.http).unwrap();
    let delivery = Arc::new(Notify::new());
    let triage = Triage::new(store.clone(), Arc::new(config), templates, &fetcher, delivery.clone()).unwrap();
    // Everything that opens files or connections is ready: from here the clock is the test's.
    tokio::time::pause();
    let _held = HeldClock::hold();
    let step = Duration::from_millis(10);
    let (wake, shutdown) = (Arc::new(Notify::new()), CancellationToken::new());
    let worker = tokio::spawn({
        let (triage, wake, shutdown) = (triage.clone(), wake.clone(), shutdown.clone());
        async move { triage.run(wake, shutdown).await }
    });
    // The worker finds nothing and goes to sleep for its poll interval.
    until("the first look", step, || async { true }).await;
    tokio::task::yield_now().await;

    // The engine stores a state change and, this time, wakes nobody.
    let stored_at = Timestamp::now();
    let event = EventRow {
        check_id: "acme-api".into(),
        partner_id: "acme".into(),
        at: stored_at,
        from: CheckState::Healthy,
        to: CheckState::Failing,
        warn: None,
    };
    write_batch(&store, &Batch { results: vec![], states: vec![], events: vec![event] }).await.unwrap();
    let open = |store: Store| async move {
        let mut conn = store.pool().acquire().await.unwrap();
        table::open_incident(&mut conn, "acme").await.unwrap()
    };
    until("the incident", step, || async { open(store.clone()).await.is_some() }).await;
    let incident = open(store.clone()).await.unwrap();
    let decided = incident.opened_at.since(stored_at);
    assert!(decided <= POLL + step * 20, "decided {decided:?} after the change, by polls every {POLL:?}");
    assert_eq!((incident.cause, incident.priority, incident.paged), (Cause::Internal, Priority::P3, true));
    assert!(incident.cause_reason.contains("no status page"), "{}", incident.cause_reason);
    let sinks: Vec<&str> = list(&store, crate::model::ActionState::ALL, 10).await.unwrap().iter().map(|a| a.sink.as_str()).collect();
    assert_eq!(sinks, ["pagerduty", "jira", "slack"], "the page, the P3 issue and the message, written with the decision");
    shutdown.cancel();
    worker.await.unwrap();
}
