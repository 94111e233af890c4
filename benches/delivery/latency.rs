//! Latency: from a confirmed check failure to the page reaching PagerDuty, with the daemon's
//! engine, triage and worker wired as `sparky run` wires them, in R rounds on SQLite.

use std::path::Path;
use std::time::{Duration, Instant};

use sqlx::Row;
use tokio_util::sync::CancellationToken;

use sparky::config::Config;
use sparky::metrics::METRICS;
use sparky::service::App;
use sparky::sources::synthetics::engine::Engine;
use sparky::store::Store;

use crate::support::{percentile, yes_no};
use crate::world::Server;
use crate::{Args, COMPONENT, ROUTING_KEY};

/// The page within this of the confirmed failure, plus one status fetch (ms).
const TARGET_PAGE_MS: f64 = 2000.0;
/// The check and partner of the latency rounds.
const CHECK: &str = "acme-api";
const PARTNER: &str = "acme";

/// One latency round's timestamps (ms) and figures.
struct Round {
    /// End of the confirmation re-run.
    confirmed: f64,
    /// The status page request reached the partner's page.
    status_request: Option<f64>,
    /// Sparky stored the status fetch (`partner_status.fetched_at`).
    status_stored: f64,
    /// Triage wrote the page to the outbox (`outbox.created_at`).
    queued: f64,
    /// The page reached PagerDuty.
    paged: f64,
    /// Sparky's own duration of the one status fetch (fetch, parse, store).
    status_fetch_ms: f64,
}

impl Round {
    fn delay(&self) -> f64 {
        self.paged - self.confirmed
    }
    fn beyond_fetch(&self) -> f64 {
        self.delay() - self.status_fetch_ms
    }
}

fn write_latency_config(dir: &Path, server: &Server, confirm_after: &str) -> std::io::Result<()> {
    let canaries = (1..=3).map(|i| format!("\"{}\"", server.url(&format!("/canary/{i}")))).collect::<Vec<_>>().join(", ");
    std::fs::write(
        dir.join("sparky.toml"),
        format!("[database]\nurl = \"sqlite://sparky.db\"\n\n[connectivity]\ncanaries = [{canaries}]\n"),
    )?;
    std::fs::create_dir_all(dir.join("partners"))?;
    std::fs::write(
        dir.join(format!("partners/{PARTNER}.toml")),
        format!(
            "id = \"{PARTNER}\"\nname = \"Acme Cloud\"\n\n[status_page]\nkind = \"statuspage\"\nurl = \"{}\"\ncomponents = [\"{COMPONENT}\"]\n",
            server.url("/status/api/v2/summary.json")
        ),
    )?;
    std::fs::create_dir_all(dir.join("synthetics"))?;
    std::fs::write(
        dir.join(format!("synthetics/{CHECK}.toml")),
        format!(
            "id = \"{CHECK}\"\npartner = \"{PARTNER}\"\nurl = \"{}\"\ninterval = \"1s\"\nconfirm_after = \"{confirm_after}\"\nfailure_threshold = 1\ntimeout = \"2s\"\n",
            server.url("/api")
        ),
    )
}

async fn one_i64(store: &Store, sql: &'static str) -> Result<i64, String> {
    let row = sqlx::query(sql).fetch_optional(store.pool()).await.map_err(|e| format!("{sql}: {e}"))?;
    let row = row.ok_or_else(|| format!("{sql}: no row"))?;
    row.try_get(0).map_err(|e| format!("{sql}: {e}"))
}

/// One latency round in a fresh config directory.
async fn latency_round(args: &Args, server: &Server) -> Result<Round, String> {
    let tmp = tempfile::tempdir().map_err(|e| format!("cannot make a temp dir: {e}"))?;
    write_latency_config(tmp.path(), server, &args.confirm_after).map_err(|e| format!("cannot write the config: {e}"))?;
    let events_url = server.url("");
    let env = move |name: &str| match name {
        "PAGERDUTY_ROUTING_KEY" => Some(ROUTING_KEY.to_owned()),
        "PAGERDUTY_EVENTS_URL" => Some(events_url.clone()),
        _ => None,
    };
    let config = Config::load_with_env(tmp.path(), &env).map_err(|e| e.to_string())?;
    if config.checks.len() != 1 || config.partners.len() != 1 {
        return Err(format!("loaded {} checks and {} partners, wrote 1 and 1", config.checks.len(), config.partners.len()));
    }
    let fetch_metric = METRICS.status_fetch_duration.with_label_values(&[PARTNER]);
    let (sum0, count0) = (fetch_metric.get_sample_sum(), fetch_metric.get_sample_count());
    server.reset().await?;
    let app = App::start(config).await.map_err(|e| format!("cannot start: {e}"))?;
    let shutdown = CancellationToken::new();

    // As `sparky run`: worker, triage, check engine.
    let worker = {
        let (deliverer, wake, shutdown) = (app.deliverer(), app.wake.clone(), shutdown.clone());
        tokio::spawn(async move { deliverer.run(wake, shutdown).await })
    };
    let triage = app.triage().map_err(|e| format!("triage: {e}"))?;
    let triage_task = {
        let (wake, shutdown) = (app.triage_wake.clone(), shutdown.clone());
        tokio::spawn(async move { triage.run(wake, shutdown).await })
    };
    let enabled: Vec<_> = app.config.checks.iter().filter(|c| c.enabled).cloned().collect();
    let (engine, writer) = Engine::start(&app.store, &app.config.global.http, &app.config.global.synthetics, app.triage_wake.clone())
        .map_err(|e| format!("engine: {e}"))?;
    let runtimes = Engine::load(&app.store, &enabled).await.map_err(|e| format!("engine: {e}"))?;
    let engine_task = {
        let (app, shutdown) = (app.clone(), shutdown.clone());
        tokio::spawn(async move { engine.run_daemon(&app.store, &app.instance, runtimes, shutdown).await })
    };

    let confirm = humantime::parse_duration(&args.confirm_after).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(30) + confirm;
    let waited = loop {
        let stats = server.stats().await?;
        if let Some((at, _)) = stats.triggers.iter().find(|(_, key)| key == CHECK) {
            break Ok((*at, stats));
        }
        if Instant::now() > deadline {
            break Err(format!("no page within 30 s + confirm_after; the server saw {stats:?}"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    shutdown.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(20), async {
        let _ = engine_task.await;
        let _ = writer.await;
        let _ = triage_task.await;
        let _ = worker.await;
    })
    .await;
    let result = async {
        let (paged, stats) = waited?;
        let store = &app.store;
        let row = sqlx::query("SELECT at, duration_ms FROM check_results WHERE check_id = $1 AND confirmation = 1 ORDER BY id LIMIT 1")
            .bind(CHECK)
            .fetch_one(store.pool())
            .await
            .map_err(|e| format!("confirmation result: {e}"))?;
        let (at, duration_ms): (i64, i64) = (row.try_get(0).map_err(|e| e.to_string())?, row.try_get(1).map_err(|e| e.to_string())?);
        let event_at = one_i64(store, "SELECT at FROM check_events ORDER BY id LIMIT 1").await?;
        if event_at != at {
            return Err(format!("the first check event ({event_at}) is not that of the first confirmation ({at})"));
        }
        let cause =
            sqlx::query("SELECT cause FROM incidents ORDER BY id LIMIT 1").fetch_one(store.pool()).await.map_err(|e| e.to_string())?;
        let cause: String = cause.try_get(0).map_err(|e| e.to_string())?;
        if cause != "internal" {
            return Err(format!("the incident's cause is {cause}, not internal"));
        }
        let status_stored = one_i64(store, "SELECT fetched_at FROM partner_status").await?;
        let queued = one_i64(store, "SELECT created_at FROM outbox WHERE sink = 'pagerduty' ORDER BY id LIMIT 1").await?;
        let status_fetches = fetch_metric.get_sample_count() - count0;
        if status_fetches != 1 {
            return Err(format!("{status_fetches} status fetches in the round, expected 1"));
        }
        Ok(Round {
            confirmed: (at + duration_ms) as f64,
            status_request: stats.status_requests.first().copied(),
            status_stored: status_stored as f64,
            queued: queued as f64,
            paged,
            status_fetch_ms: (fetch_metric.get_sample_sum() - sum0) * 1000.0,
        })
    }
    .await;
    app.store.close().await;
    result
}

/// The median (nearest rank) and the maximum of `values`.
fn p50_max(mut values: Vec<f64>) -> (f64, f64) {
    values.sort_by(f64::total_cmp);
    let max = values.iter().copied().fold(f64::NAN, f64::max);
    (percentile(&values, 50.0).unwrap_or(f64::NAN), max)
}

/// The latency rounds, printed; the verdict lines and whether a round failed outright.
pub async fn run(args: &Args, server: &Server) -> (Vec<String>, bool) {
    let (mut verdicts, mut failed) = (Vec::new(), false);
    println!(
        "== latency: confirmed failure -> page at PagerDuty; check every 1 s, confirm_after {}, failure_threshold 1, partner page all green, {} rounds (SQLite, fresh dir each)",
        args.confirm_after, args.rounds
    );
    let mut rounds = Vec::new();
    for r in 1..=args.rounds {
        match latency_round(args, server).await {
            Ok(round) => {
                let rel = |t: f64| t - round.confirmed;
                println!(
                    "round {r}: page {:.1} ms after the confirmed failure; status fetch {:.1} ms; beyond the fetch {:.1} ms \
                     [status request at +{}, fetch stored +{:.0}, page queued +{:.0}, page at PagerDuty +{:.1}]",
                    round.delay(),
                    round.status_fetch_ms,
                    round.beyond_fetch(),
                    round.status_request.map_or_else(|| "?".to_owned(), |t| format!("{:.1}", rel(t))),
                    rel(round.status_stored),
                    rel(round.queued),
                    rel(round.paged)
                );
                rounds.push(round);
            }
            Err(e) => {
                println!("round {r}: FAILED: {e}");
                failed = true;
            }
        }
    }
    if rounds.is_empty() {
        verdicts.push(format!("targets hold: page within 2 s + one status fetch: {} (no round succeeded)", yes_no(false)));
    } else {
        let (d50, dmax) = p50_max(rounds.iter().map(Round::delay).collect());
        let (f50, fmax) = p50_max(rounds.iter().map(|r| r.status_fetch_ms).collect());
        let (b50, bmax) = p50_max(rounds.iter().map(Round::beyond_fetch).collect());
        let (s50, smax) = p50_max(rounds.iter().filter_map(|r| r.status_request.map(|t| t - r.confirmed)).collect());
        let (q50, qmax) = p50_max(rounds.iter().map(|r| r.paged - r.queued).collect());
        println!("latency over {} rounds: confirmed failure -> page p50 {d50:.1} ms, max {dmax:.1} ms", rounds.len());
        println!("  of which the one status fetch: p50 {f50:.1} ms, max {fmax:.1} ms; the rest: p50 {b50:.1} ms, max {bmax:.1} ms");
        println!("  confirmed failure -> status request at the partner page: p50 {s50:.1} ms, max {smax:.1} ms");
        println!("  page queued in the outbox -> page at PagerDuty: p50 {q50:.1} ms, max {qmax:.1} ms");
        let ok = rounds.len() == args.rounds && rounds.iter().all(|r| r.beyond_fetch() < TARGET_PAGE_MS);
        verdicts.push(format!(
            "targets hold: page within 2 s + one status fetch of the confirmed failure: {} (max {dmax:.0} ms, of which fetch {:.0} ms; worst beyond the fetch {bmax:.0} ms)",
            yes_no(ok),
            rounds.iter().max_by(|a, b| a.delay().total_cmp(&b.delay())).map_or(0.0, |r| r.status_fetch_ms)
        ));
    }
    (verdicts, failed)
}
