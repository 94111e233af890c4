//! A burst: how long triage takes to decide when many checks of many partners turn failing at
//! once, some partner pages hanging (the moment that matters most).
//!
//! ```text
//! cargo bench --bench triage_burst -- [--checks N] [--partners P] [--hanging H]
//! ```
//!
//! Sparky runs for real: a temp config directory (SQLite database in it), P partner files with a
//! `statuspage` `[status_page]` served on loopback (axum in this process), H of them answering
//! only after 10 minutes (a page that hangs during an outage), the rest all operational; N checks
//! spread over the partners; `[triage] status_timeout` its default 10 s; no canaries. N
//! `healthy -> failing` events are stored at once, as the check engine stores them, and the
//! wall time of one `Triage::run_pending` is measured until every event is decided. The same
//! burst is decided twice, on fresh databases: one partner at a time (`[triage] concurrency = 1`,
//! how triage ran before) and with the default concurrency. Target: all decided within about
//! 15 s (one status timeout and the rest).

#![allow(unreachable_pub, clippy::unwrap_used)] // test and bench code: a failed unwrap is a failed run

mod support;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Path as UrlPath;
use axum::routing::get;

use sparky::config::Config;
use sparky::model::{CheckState, Timestamp};
use sparky::service::App;
use sparky::store::synthetics::{Batch, EventRow, write_batch};
use sparky::triage::Decision;
use support::yes_no;

/// The target: every decision of the burst within this.
const TARGET: Duration = Duration::from_secs(15);

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

const GREEN: &str = r#"{"page": {"id": "p"}, "status": {"indicator": "none", "description": "All Systems Operational"},
 "components": [{"id": "c1", "name": "API", "status": "operational"}], "incidents": [], "scheduled_maintenances": []}"#;

/// Serves `/p{i}/api/v2/summary.json`: green, or nothing for 10 minutes for `i < hanging`.
async fn pages(hanging: usize) -> String {
    let app = Router::new().route(
        "/{partner}/api/v2/summary.json",
        get(move |UrlPath(partner): UrlPath<String>| async move {
            let i: usize = partner.trim_start_matches('p').parse().unwrap_or(usize::MAX);
            if i < hanging {
                tokio::time::sleep(Duration::from_secs(600)).await;
            }
            ([("content-type", "application/json")], GREEN)
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// One burst on a fresh database with `[triage] concurrency`; (wall time, decisions, opened).
async fn burst(base: &str, checks: usize, partners: usize, concurrency: usize) -> (Duration, usize, usize) {
    let dir = tempfile::tempdir().unwrap();
    for p in 0..partners {
        write(
            dir.path(),
            &format!("partners/p{p}.toml"),
            &format!(
                "id = \"p{p}\"\nname = \"Partner {p}\"\n[status_page]\nkind = \"statuspage\"\nurl = \"{base}/p{p}/api/v2/summary.json\"\ncomponents = [\"API\"]\n"
            ),
        );
    }
    for c in 0..checks {
        write(
            dir.path(),
            &format!("synthetics/c{c}.toml"),
            &format!("id = \"c{c}\"\npartner = \"p{}\"\nurl = \"{base}/check\"\n", c % partners),
        );
    }
    write(dir.path(), "sparky.toml", &format!("[http]\nretries = 0\n[triage]\nconcurrency = {concurrency}\n"));
    let db = format!("sqlite://{}", dir.path().join("sparky.db").display());
    let env = |name: &str| match name {
        "SPARKY_CANARY_URLS" => Some(String::new()),
        "SPARKY_DATABASE_URL" => Some(db.clone()),
        _ => None,
    };
    let config = Config::load_with_env(dir.path(), &env).unwrap();
    let app = App::start(config).await.unwrap();
    let now = Timestamp::now();
    let events = (0..checks)
        .map(|c| EventRow {
            check_id: format!("c{c}"),
            partner_id: format!("p{}", c % partners),
            at: now,
            from: CheckState::Healthy,
            to: CheckState::Failing,
            warn: None,
        })
        .collect();
    write_batch(&app.store, &Batch { results: vec![], states: vec![], events }).await.unwrap();
    let triage = Arc::new(app.triage().unwrap());
    let started = Instant::now();
    let decided = triage.run_pending().await;
    let elapsed = started.elapsed();
    let opened = decided.iter().filter(|(_, d)| matches!(d, Decision::Opened { .. })).count();
    app.store.close().await;
    (elapsed, decided.len(), opened)
}

fn main() -> ExitCode {
    // SAFETY: first thing in `main`, before the runtime starts any thread.
    unsafe { support::clear_proxy_env() };
    let _ = rustls::crypto::ring::default_provider().install_default();
    tokio::runtime::Runtime::new().unwrap().block_on(run())
}

async fn run() -> ExitCode {
    let (checks, partners, hanging) = (arg("--checks", 50), arg("--partners", 20), arg("--hanging", 5));
    let base = pages(hanging).await;
    println!(
        "triage burst: {checks} checks of {partners} partners turn failing at once; {hanging} partner pages hang; status_timeout 10 s"
    );
    let default = sparky::config::TriageConfig::default().concurrency;
    let mut concurrent_ok = false;
    for concurrency in [1, default] {
        let (elapsed, decided, opened) = burst(&base, checks, partners, concurrency).await;
        let label = if concurrency == 1 { "one partner at a time (before)".to_owned() } else { format!("concurrency {concurrency} (now)") };
        println!("  {label:32} {:6.1} s to decide {decided} events ({opened} incidents opened)", elapsed.as_secs_f64());
        if concurrency == default {
            concurrent_ok = elapsed <= TARGET && decided == checks;
        }
    }
    println!("targets:");
    println!("  every event decided within {} s (default concurrency): {}", TARGET.as_secs(), yes_no(concurrent_ok));
    ExitCode::SUCCESS
}
