use super::*;
use crate::model::{CheckState, Outcome, StateRecord, Timestamp};
use crate::store::synthetics::{EventRow, ResultRow, StateRow};

fn result(check: &str) -> ResultRow {
    ResultRow {
        check_id: check.into(),
        partner_id: "acme".into(),
        at: Timestamp::now(),
        duration_ms: 5,
        http_status: Some(500),
        outcome: Outcome::Fail,
        error_kind: None,
        message: None,
        assertions: "[]".into(),
        confirmation: false,
        counted: true,
    }
}

fn turning_failing(check: &str) -> Batch {
    let now = Timestamp::now();
    let record = StateRecord { state: CheckState::Failing, consecutive_failures: 1, ..StateRecord::new(now) };
    Batch {
        results: vec![result(check)],
        states: vec![StateRow { check_id: check.into(), partner_id: "acme".into(), record }],
        events: vec![EventRow {
            check_id: check.into(),
            partner_id: "acme".into(),
            at: now,
            from: CheckState::Healthy,
            to: CheckState::Failing,
            warn: None,
        }],
    }
}

/// Rows of `table`. A read can meet the writer's attempt on another connection (a schema
/// change from the DROP TRIGGER, a busy file, every connection in use): it is read again, at
/// most fifty times. The pause between reads is real time, on purpose: under paused time a
/// tokio sleep (or the pool's acquire timeout) passes at once while the writer's statement
/// still runs on SQLite's own thread.
async fn count(store: &Store, table: &str) -> i64 {
    let mut last = None;
    for _ in 0..50 {
        match sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"))).fetch_one(store.pool()).await {
            Ok(n) => return n,
            Err(e) => last = Some(e),
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("cannot count {table}: {last:?}");
}

#[tokio::test]
async fn a_refused_state_change_is_retried_until_the_database_takes_it() {
    let dir = tempfile::tempdir().unwrap();
    // A day to acquire a connection: under paused time a shorter wait would expire at once.
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display());
    let store = Store::open_with(&url, Duration::from_secs(24 * 3600), true).await.unwrap();
    sqlx::query("CREATE TRIGGER refuse BEFORE INSERT ON check_results BEGIN SELECT RAISE(ABORT, 'refused'); END")
        .execute(store.pool())
        .await
        .unwrap();
    tokio::time::pause();
    let (tx, rx) = mpsc::channel(CHANNEL_BATCHES);
    let triage = Arc::new(tokio::sync::Notify::new());
    let writer = tokio::spawn(write_results(store.clone(), rx, triage.clone()));
    tx.send(turning_failing("acme-a")).await.unwrap();
    // Ten minutes of refusals (three attempts would have given up after a second).
    tokio::time::sleep(Duration::from_secs(600)).await;
    tx.send(turning_failing("acme-b")).await.unwrap();
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(count(&store, "check_events").await, 0, "nothing stored while refused");
    sqlx::query("DROP TRIGGER refuse").execute(store.pool()).await.unwrap();
    // The next attempt (at most MAX_WRITE_BACKOFF away) stores both batches. Each round lets
    // a virtual second and a few real milliseconds pass (the statement runs on SQLite's
    // thread, which paused time does not wait for).
    for _ in 0..200 {
        if count(&store, "check_events").await == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    // notify_one keeps a permit: this returns at once if the writer woke triage.
    tokio::time::timeout(Duration::from_millis(1), triage.notified()).await.expect("triage woken once stored");
    assert_eq!((count(&store, "check_events").await, count(&store, "check_state").await, count(&store, "check_results").await), (2, 2, 2));
    drop(tx);
    writer.await.unwrap();
}

#[test]
fn past_the_buffer_only_results_that_change_nothing_are_dropped() {
    let mut held = Batch { results: vec![result("acme-a"); MAX_HELD_RESULTS], ..Batch::default() };
    let dropped = METRICS.check_results_dropped.get();
    absorb(&mut held, Batch { results: vec![result("acme-b"); 3], ..Batch::default() });
    assert_eq!(held.results.len(), MAX_HELD_RESULTS, "plain results dropped");
    assert!(METRICS.check_results_dropped.get() >= dropped + 3, "and counted");
    absorb(&mut held, turning_failing("acme-c"));
    assert_eq!((held.results.len(), held.states.len(), held.events.len()), (MAX_HELD_RESULTS + 1, 1, 1), "a state change is kept whole");
}
