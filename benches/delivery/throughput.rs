//! Throughput: N PagerDuty triggers written into the outbox, then delivered by the daemon path
//! (`Deliverer::run`) against the loopback sink, on SQLite and on PostgreSQL.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::{Connection, Row};
use tokio_util::sync::CancellationToken;

use sparky::config::Config;
use sparky::model::{ActionState, SinkKind};
use sparky::outbox::Action;
use sparky::outbox::pagerduty::{EventAction, Link, PagerDutyEvent, Severity};
use sparky::outbox::sink::Mode;
use sparky::service::App;
use sparky::store::Store;
use sparky::store::outbox::{NewAction, insert};

use crate::support::{cpu_seconds, yes_no};
use crate::world::{Server, Stats};
use crate::{Args, ROUTING_KEY};

/// Actions per insert transaction.
const INSERT_CHUNK: usize = 500;
/// How often the bench looks at the outbox while the worker delivers.
const DONE_POLL: Duration = Duration::from_millis(10);
/// Throughput targets (actions/s, wall).
const TARGET_SQLITE: f64 = 1000.0;
const TARGET_POSTGRES: f64 = 3000.0;

/// The database of a throughput run.
enum Db {
    Sqlite,
    Postgres { url: String },
}

/// A fresh PostgreSQL database on the server of `admin`, or why not.
async fn create_postgres(admin: &str, name: &str) -> Result<String, String> {
    let connect = tokio::time::timeout(Duration::from_secs(5), sqlx::PgConnection::connect(admin));
    let mut conn = connect.await.map_err(|_| "timed out after 5 s".to_owned())?.map_err(|e| e.to_string())?;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
        .execute(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await.map_err(|e| e.to_string())?;
    let _ = conn.close().await;
    let mut url = url::Url::parse(admin).map_err(|e| format!("{admin}: {e}"))?;
    url.set_path(&format!("/{name}"));
    Ok(url.to_string())
}

async fn drop_postgres(admin: &str, name: &str) -> String {
    let dropped = async {
        let mut conn = sqlx::PgConnection::connect(admin).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(&mut conn).await?;
        conn.close().await
    };
    match dropped.await {
        Ok(()) => format!("database {name} dropped"),
        Err(e) => format!("database {name} NOT dropped: {e}"),
    }
}

/// A trigger like the ones triage writes, for incident `i`.
fn page_action(tag: &str, i: usize) -> NewAction {
    let check = format!("{tag}-check-{i}");
    let partner = format!("partner-{}", i % 50);
    let event = PagerDutyEvent {
        action: EventAction::Trigger,
        dedup_key: check.clone(),
        summary: format!("{check} failing (Partner {}): HTTP 500: expected status 2xx. Partner {} reports all operational", i % 50, i % 50),
        source: partner.clone(),
        severity: Severity::Warning,
        component: Some(check.clone()),
        group: Some(partner.clone()),
        class: Some("synthetic-check".to_owned()),
        custom_details: json!({"check": check, "partner": partner, "cause": "internal", "cause_reason": "all operational", "failure": "HTTP 500", "sparky_incident": i}),
        links: vec![Link { href: format!("https://status.{partner}.test"), text: format!("{partner} status page") }],
    };
    Action::PagerDuty(event).queued(format!("incident:{tag}-{i}:page:trigger"), format!("incident:{tag}-{i}:pagerduty"))
}

/// Writes `n` actions tagged `tag`, in transactions of [`INSERT_CHUNK`]; the time taken.
async fn insert_actions(store: &Store, tag: &str, n: usize) -> Result<Duration, String> {
    let t = Instant::now();
    let mut i = 0;
    while i < n {
        let mut tx = store.pool().begin().await.map_err(|e| format!("begin: {e}"))?;
        for j in i..(i + INSERT_CHUNK).min(n) {
            if insert(&mut tx, &page_action(tag, j)).await.map_err(|e| format!("insert: {e}"))?.is_none() {
                return Err(format!("action {tag}-{j} already in the outbox"));
            }
        }
        tx.commit().await.map_err(|e| format!("commit: {e}"))?;
        i += INSERT_CHUNK;
    }
    Ok(t.elapsed())
}

async fn undelivered_left(store: &Store) -> Result<bool, String> {
    let row = sqlx::query("SELECT id FROM outbox WHERE state IN ('pending', 'retrying') LIMIT 1")
        .fetch_optional(store.pool())
        .await
        .map_err(|e| format!("outbox poll: {e}"))?;
    Ok(row.is_some())
}

/// One timed delivery of N actions.
struct Delivery {
    wall: f64,
    cpu: f64,
    server_cpu: f64,
}

impl Delivery {
    fn per_second(&self, n: usize) -> f64 {
        n as f64 / self.wall
    }
    fn per_cpu_second(&self, n: usize) -> f64 {
        n as f64 / self.cpu
    }
}

/// Checks the server saw exactly `n` well-formed events with distinct keys, and the outbox holds
/// `n` rows, all `delivered`, each at its first attempt.
async fn verify(store: &Store, stats: &Stats, n: usize) -> Result<(), String> {
    if stats.enqueued != n as u64 || stats.distinct != n as u64 || stats.malformed != 0 {
        return Err(format!(
            "the sink received {} events ({} distinct keys, {} malformed), expected {n}",
            stats.enqueued, stats.distinct, stats.malformed
        ));
    }
    let rows = sqlx::query("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetch_all(store.pool()).await.map_err(|e| e.to_string())?;
    let states: Vec<(ActionState, i64)> = rows
        .iter()
        .map(|r| Ok((r.try_get::<String, _>(0)?.parse().map_err(|e| sqlx::Error::Decode(Box::new(e)))?, r.try_get(1)?)))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(|e| e.to_string())?;
    let delivered = states.iter().find(|(s, _)| *s == ActionState::Delivered).map_or(0, |(_, c)| *c);
    if delivered != n as i64 || states.iter().any(|(s, c)| *s != ActionState::Delivered && *c > 0) {
        return Err(format!("outbox states {states:?}, expected {n} delivered"));
    }
    let row = sqlx::query("SELECT MAX(attempts) FROM outbox").fetch_one(store.pool()).await.map_err(|e| e.to_string())?;
    let attempts: i64 = row.try_get(0).map_err(|e| e.to_string())?;
    if attempts != 1 {
        return Err(format!("some action took {attempts} attempts"));
    }
    Ok(())
}

/// Writes the config of a throughput run and starts the app.
async fn throughput_app(server: &Server, dir: &Path, db: &Db) -> Result<App, String> {
    std::fs::write(
        dir.join("sparky.toml"),
        "[database]\nurl = \"sqlite://sparky.db\"\n\n[outbox]\nrate_limits = { pagerduty = 1000000 }\n",
    )
    .map_err(|e| format!("cannot write the config: {e}"))?;
    let events_url = server.url("");
    let db_url = match db {
        Db::Sqlite => None,
        Db::Postgres { url } => Some(url.clone()),
    };
    let env = move |name: &str| match name {
        "PAGERDUTY_ROUTING_KEY" => Some(ROUTING_KEY.to_owned()),
        "PAGERDUTY_EVENTS_URL" => Some(events_url.clone()),
        "SPARKY_DATABASE_URL" => db_url.clone(),
        _ => None,
    };
    let config = Config::load_with_env(dir, &env).map_err(|e| e.to_string())?;
    let app = App::start(config).await.map_err(|e| format!("cannot start: {e}"))?;
    if app.delivery.sinks.mode(SinkKind::PagerDuty) != Some(Mode::Api) {
        return Err("PagerDuty is not the API sink".to_owned());
    }
    Ok(app)
}

/// Throughput on one database: (insert time, the daemon path).
async fn throughput(args: &Args, server: &Server, db: &Db) -> Result<(Duration, Delivery), String> {
    let tmp = tempfile::tempdir().map_err(|e| format!("cannot make a temp dir: {e}"))?;
    let app = throughput_app(server, tmp.path(), db).await?;
    let n = args.actions;
    let result = async {
        // The daemon path: Deliverer::run in a task, the outbox polled until nothing is left.
        let inserted = insert_actions(&app.store, "run", n).await?;
        server.reset().await?;
        let s0 = server.stats().await?;
        let (c0, w0) = (cpu_seconds(), Instant::now());
        let shutdown = CancellationToken::new();
        let worker = {
            let (deliverer, wake, shutdown) = (app.deliverer(), app.wake.clone(), shutdown.clone());
            tokio::spawn(async move { deliverer.run(wake, shutdown).await })
        };
        app.wake.notify_one();
        let deadline = Instant::now() + Duration::from_secs(600);
        while undelivered_left(&app.store).await? {
            if Instant::now() > deadline {
                shutdown.cancel();
                return Err("not delivered after 600 s".to_owned());
            }
            tokio::time::sleep(DONE_POLL).await;
        }
        let (cpu, wall) = (cpu_seconds() - c0, w0.elapsed().as_secs_f64());
        shutdown.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(10), worker).await;
        let s1 = server.stats().await?;
        verify(&app.store, &s1, n).await?;
        Ok((inserted, Delivery { wall, cpu, server_cpu: s1.cpu_seconds - s0.cpu_seconds }))
    }
    .await;
    app.store.close().await;
    result
}

/// One database's throughput, printed; its verdict line and whether it failed outright.
async fn throughput_on(args: &Args, server: &Server, name: &str, db: &Db, target: f64) -> (String, bool) {
    match throughput(args, server, db).await {
        Ok((inserted, run)) => {
            let n = args.actions;
            println!(
                "{name}: {n} actions inserted in {:.2} s ({:.0}/s, not counted)",
                inserted.as_secs_f64(),
                n as f64 / inserted.as_secs_f64()
            );
            println!(
                "{name}: Deliverer::run (daemon path): {n} delivered in {:.2} s wall = {:.0} actions/s; {:.2} CPU-s = {:.0} actions per CPU-second (sink process {:.2} CPU-s)",
                run.wall,
                run.per_second(n),
                run.cpu,
                run.per_cpu_second(n),
                run.server_cpu
            );
            println!("{name}: sink received exactly {n} events, {n} distinct dedup keys; every row delivered at its first attempt");
            let rate = run.per_second(n);
            (format!("targets hold: {name} delivery >= {target:.0} actions/s: {} ({rate:.0}/s)", yes_no(rate >= target)), false)
        }
        Err(e) => {
            println!("{name}: FAILED: {e}");
            (format!("targets hold: {name} delivery >= {target:.0} actions/s: {} (FAILED: {e})", yes_no(false)), true)
        }
    }
}

/// Throughput on SQLite, then on a fresh PostgreSQL database; the verdict lines and whether
/// something failed outright.
pub async fn run(args: &Args, server: &Server) -> (Vec<String>, bool) {
    println!("== throughput: {} PagerDuty triggers, each its own incident, sink answering at once (keep-alive)", args.actions);
    let (verdict, mut failed) = throughput_on(args, server, "SQLite", &Db::Sqlite, TARGET_SQLITE).await;
    let mut verdicts = vec![verdict];
    let admin = std::env::var("SPARKY_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let name = format!("sparky_bench_{}", std::process::id());
    match create_postgres(&admin, &name).await {
        Ok(url) => {
            println!("postgres: fresh database {name} on {}", sparky::store::redact(&admin));
            let (verdict, broke) = throughput_on(args, server, "PostgreSQL", &Db::Postgres { url }, TARGET_POSTGRES).await;
            println!("postgres: {}", drop_postgres(&admin, &name).await);
            verdicts.push(verdict);
            failed |= broke;
        }
        Err(e) => {
            println!("postgres: {} unreachable ({e}); PostgreSQL half skipped", sparky::store::redact(&admin));
            verdicts.push("targets hold: PostgreSQL delivery: skipped (no PostgreSQL)".to_owned());
        }
    }
    (verdicts, failed)
}
