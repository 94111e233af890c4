//! The triage worker under paused time: a state change the check engine stored, with nobody
//! woken, is found by the worker's own poll of the one clock and decided, its actions written
//! with it.

use std::path::Path;

use super::*;
use crate::model::{CheckState, HeldClock, Priority, StateRecord, Timestamp, until};
use crate::store::outbox::list;
use crate::store::synthetics::{Batch, EventRow, StateRow, write_batch};

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Triage over the config in `dir` and a SQLite store there. No canaries: the egress check is off, so triage makes no network call at all.
async fn triage_in(dir: &Path) -> (Store, Triage) {
    let env = |name: &str| (name == "SPARKY_CANARY_URLS").then(String::new);
    let config = Config::load_with_env(dir, &env).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("s.db").display());
    // A day to acquire a connection: under paused time a shorter wait would expire at once.
    let store = Store::open_with(&url, Duration::from_secs(24 * 3600), true).await.unwrap();
    let templates = Arc::new(Templates::load(dir).unwrap());
    let fetcher = Fetcher::new(&config.global.http).unwrap();
    let triage = Triage::new(store.clone(), Arc::new(config), templates, &fetcher, Arc::new(Notify::new())).unwrap();
    (store, triage)
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
    let (store, triage) = triage_in(dir.path()).await;
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

/// A `[[maintenance]]` window over a failing check, under paused time: the incident opens with
/// its page held (no PagerDuty action at all), and the worker's round after the window's end
/// plans the held trigger once.
#[tokio::test]
async fn a_page_held_by_a_maintenance_window_goes_out_once_at_the_first_round_after_it() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "partners/acme.toml", "id = \"acme\"\nname = \"Acme\"\n");
    write(dir.path(), "synthetics/acme-api.toml", "id = \"acme-api\"\npartner = \"acme\"\nurl = \"https://api.acme.test/\"\n");
    let start = Timestamp::now() - Duration::from_secs(60);
    let end = Timestamp::now() + Duration::from_secs(300);
    write(
        dir.path(),
        "sparky.toml",
        &format!(
            "[[maintenance]]\nname = \"db-upgrade\"\npartner = \"acme\"\nreason = \"database upgrade\"\nstart = \"{}\"\nend = \"{}\"\n",
            start.to_rfc3339(),
            end.to_rfc3339()
        ),
    );
    let (store, triage) = triage_in(dir.path()).await;
    tokio::time::pause();
    let _held = HeldClock::hold();
    let (wake, shutdown) = (Arc::new(Notify::new()), CancellationToken::new());
    let worker = tokio::spawn({
        let (triage, wake, shutdown) = (triage.clone(), wake.clone(), shutdown.clone());
        async move { triage.run(wake, shutdown).await }
    });
    let now = Timestamp::now();
    let event = EventRow {
        check_id: "acme-api".into(),
        partner_id: "acme".into(),
        at: now,
        from: CheckState::Healthy,
        to: CheckState::Failing,
        warn: None,
    };
    // The check stays failing (its stored state says so, or the minute's reconcile resolves it).
    let record = StateRecord { state: CheckState::Failing, consecutive_failures: 1, ..StateRecord::new(now) };
    let state = StateRow { check_id: "acme-api".into(), partner_id: "acme".into(), record };
    write_batch(&store, &Batch { results: vec![], states: vec![state], events: vec![event] }).await.unwrap();
    wake.notify_one();
    let open = |store: Store| async move {
        let mut conn = store.pool().acquire().await.unwrap();
        table::open_incident(&mut conn, "acme").await.unwrap()
    };
    let step = Duration::from_millis(10);
    until("the incident", step, || async { open(store.clone()).await.is_some() }).await;
    let incident = open(store.clone()).await.unwrap();
    assert_eq!((incident.paged, incident.held.page), (false, true), "the page is held");
    let pages = |store: Store| async move {
        let all = list(&store, crate::model::ActionState::ALL, 50).await.unwrap();
        all.into_iter().filter(|a| a.sink == crate::model::SinkKind::PagerDuty).collect::<Vec<_>>()
    };
    assert!(pages(store.clone()).await.is_empty(), "no page while the window lasts");

    until("the released page", Duration::from_secs(1), || async { !pages(store.clone()).await.is_empty() }).await;
    let released = Timestamp::now();
    assert!(released >= end, "not before the window's end");
    assert!(released.since(end) <= RECONCILE + Duration::from_secs(2), "at the first round after it ({:?} late)", released.since(end));
    let page = &pages(store.clone()).await[0];
    assert!(page.idempotency_key.starts_with(&format!("incident:{}:release:", incident.id)), "{}", page.idempotency_key);
    let after = open(store.clone()).await.unwrap();
    assert_eq!((after.paged, after.held.any()), (true, false));

    // Rounds go on; the page went out once.
    let later = Timestamp::now() + RECONCILE * 3;
    until("three more rounds", Duration::from_secs(1), || async { Timestamp::now() >= later }).await;
    assert_eq!(pages(store.clone()).await.len(), 1, "exactly one trigger");
    shutdown.cancel();
    worker.await.unwrap();
}
