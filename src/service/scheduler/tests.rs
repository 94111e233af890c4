//! Scheduled ticks under paused time: claimed once across replicas, kept by their heartbeat
//! however long they run, and a missed tick run once at start-up.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::config::Config;
use crate::model::{HeldClock, until};
use crate::store::Store;

async fn app(dir: &std::path::Path, store: &Store) -> App {
    std::fs::create_dir_all(dir.join("partners")).unwrap();
    let config = Config::load_with_env(dir, &|name| (name == "SPARKY_CANARY_URLS").then(String::new)).unwrap();
    App::with_store(config, store.clone()).unwrap()
}

async fn setup() -> (tempfile::TempDir, Store, App, App) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display());
    let store = Store::open_with(&url, Duration::from_secs(24 * 3600), true).await.unwrap();
    let (a, b) = (app(dir.path(), &store).await, app(dir.path(), &store).await);
    assert_ne!(a.instance, b.instance, "two replicas");
    (dir, store, a, b)
}

#[tokio::test]
async fn a_long_tick_keeps_its_claim_by_heartbeat_and_no_other_replica_takes_it() {
    let (_dir, store, a, b) = setup().await;
    // Everything that opens files or connections is ready: from here the clock is the test's.
    tokio::time::pause();
    let _held = HeldClock::hold();
    let step = Duration::from_millis(100);
    let tick = Timestamp::now().whole_seconds();
    let release = Arc::new(tokio::sync::Notify::new());
    let running = tokio::spawn({
        let (a, release) = (a.clone(), release.clone());
        async move {
            run_claimed(&a, "test", "long-job", tick, async move {
                release.notified().await;
                Ok(())
            })
            .await;
        }
    });
    until("the claim", step, || async { ticks::latest_tick(&store, "long-job").await.unwrap() == Some(tick) }).await;
    // Twice the lease, a heartbeat at a time: each renews the claim for a whole lease.
    let lease_until = |store: Store| async move {
        let row = sqlx::query("SELECT lease_until FROM job_runs WHERE job = 'long-job'").fetch_one(store.pool()).await.unwrap();
        Timestamp::from_millis(sqlx::Row::try_get(&row, 0).unwrap())
    };
    for _ in 0..(TICK_LEASE * 2).as_secs() / HEARTBEAT.as_secs() {
        tokio::time::advance(HEARTBEAT).await;
        let renewed_at = Timestamp::now();
        until("the heartbeat", step, || async { lease_until(store.clone()).await >= renewed_at + TICK_LEASE }).await;
    }
    let taken = ticks::claim_tick(&store, "long-job", tick, &b.instance, Timestamp::now() + TICK_LEASE).await.unwrap();
    assert!(!taken, "the running replica renewed its lease; the other one cannot take the tick over");
    release.notify_one();
    running.await.unwrap();
    let again = ticks::claim_tick(&store, "long-job", tick, &b.instance, Timestamp::now() + TICK_LEASE).await.unwrap();
    assert!(!again, "a finished tick never runs again");
}

#[tokio::test]
async fn a_missed_tick_runs_once_at_start_up_across_replicas_and_restarts() {
    let (_dir, _store, a, b) = setup().await;
    tokio::time::pause();
    let _held = HeldClock::hold();
    let runs = Arc::new(AtomicUsize::new(0));
    let job = |runs: Arc<AtomicUsize>| Scheduled {
        name: "missed",
        cron: "0 * * * * *".parse().unwrap(),
        run: Arc::new(move |_| {
            let runs = runs.clone();
            Box::pin(async move {
                runs.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
        }),
        running: Arc::default(),
    };
    // Two replicas start together, then one restarts: the minute's tick runs once.
    let (ja, jb) = (job(runs.clone()), job(runs.clone()));
    tokio::join!(catch_up(&a, &ja), catch_up(&b, &jb));
    catch_up(&a, &ja).await;
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    // A minute later the next tick is missed in turn, and runs once.
    tokio::time::advance(Duration::from_secs(60)).await;
    tokio::join!(catch_up(&a, &ja), catch_up(&b, &jb));
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}
