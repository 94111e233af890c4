//! Delivery: the outbox worker against a loopback PagerDuty that answers at once, in actions
//! delivered per second (wall) and per CPU-second of the Sparky process, on SQLite and on
//! PostgreSQL; then the time from a confirmed check failure to the page request reaching
//! PagerDuty, with the daemon's engine, triage and worker wired as `sparky run` wires them.
//!
//! ```text
//! cargo bench --bench delivery -- [--actions N] [--rounds R] [--confirm-after DURATION] [--only throughput|latency]
//! ```
//!
//! Every remote party is served by a second process (this binary re-run with `--serve`, see
//! `world.rs`), so serving costs nothing in Sparky's CPU figures: PagerDuty's `POST /v2/enqueue` (202
//! `{"status":"success","message":"Event processed","dedup_key":...}`, keep-alive), a partner API
//! (`GET /api` -> 500), the partner's Statuspage `summary.json`, all green
//! (`githubstatus_summary_none_2026-08-22.json` from `$CARGO_MANIFEST_DIR/../shared/fixtures`,
//! or a small inline page when absent), and three canaries (`/canary/N` -> 204). The server
//! records the arrival time of every PagerDuty event and status page request (`SystemTime`, ms,
//! the same clock as Sparky's `now_ms`), and its own CPU time, behind `GET /stats`.
//!
//! Throughput (per database): a temp config directory, `PAGERDUTY_ROUTING_KEY` and
//! `PAGERDUTY_EVENTS_URL` (the server) given through the env closure of `Config::load_with_env`
//! (nothing else from the process environment), `[outbox] rate_limits = { pagerduty = 1000000 }`
//! (the default 2/s is PagerDuty's own limit per routing key, not the worker's), no Slack token.
//! N (`--actions`, default 20,000) PagerDuty trigger actions, each its own incident (distinct
//! idempotency, ordering and dedup keys), are written straight into the outbox in transactions
//! of 500 (timed apart, not counted). Then the daemon path is timed: `Deliverer::run(wake,
//! shutdown)` in a task, the bench polling the outbox every 10 ms until no `pending` or
//! `retrying` row remains. CPU is utime + stime of this process (`getrusage`) over that window:
//! Sparky's own work, SQLite included, PostgreSQL's server processes not. The server must have
//! received exactly N events, N distinct dedup keys, and every row must be `delivered` after one
//! attempt. PostgreSQL: `SPARKY_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`), a fresh database `sparky_bench_<pid>` dropped at
//! the end; when unreachable its half is skipped.
//!
//! Latency (R rounds, `--rounds`, default 5, each in a fresh temp dir on SQLite): a partner whose
//! API answers 500 while its status page is all green (so the cause is internal and Sparky
//! pages), three canaries on loopback, one check with `interval = "1s"`, `confirm_after =
//! "100ms"` (`--confirm-after`), `failure_threshold = 1`, the default `[outbox]` (PagerDuty at
//! 2/s). As `sparky run`: `Engine::start` + `Engine::load` + `run_daemon`, `Triage::run`,
//! `Deliverer::run`. The confirmed failure is the end of the confirmation re-run (`at +
//! duration_ms` of its `check_results` row); the page is the arrival of the trigger at the
//! server. The one status fetch inside (triage reads the partner's page afresh) is Sparky's own
//! `sparky_status_fetch_duration_seconds` for the round (fetch, parse, store). Targets: at least
//! 1,000 actions/s on SQLite and 3,000/s on PostgreSQL; a page within 2 s plus one status fetch
//! of the confirmed failure.
//!
//! Layout: `world.rs` the loopback server and the bench's handle on it, `throughput.rs` and
//! `latency.rs` the two parts, `../support` the helpers shared with the other benches.

#![allow(unreachable_pub, clippy::unwrap_used)] // test and bench code: a failed unwrap is a failed run

use std::process::ExitCode;

use world::Server;

mod latency;
#[path = "../support/mod.rs"]
mod support;
mod throughput;
mod world;

/// Any 32 characters.
const ROUTING_KEY: &str = "R0UTINGKEYBENCH00000000000000001";
/// The all-green page, when the fixture is there.
const GREEN_FIXTURE: &str = "githubstatus_summary_none_2026-08-22.json";
/// The component the partner depends on (present in the fixture and the inline page).
const COMPONENT: &str = "API Requests";

/// Command line.
pub struct Args {
    /// `--serve`: this process is the sink server.
    pub serve: bool,
    /// `--actions N`: actions per throughput run.
    pub actions: usize,
    /// `--rounds N`: latency rounds.
    pub rounds: usize,
    /// `--confirm-after D`: the check's confirmation delay in the latency phase.
    pub confirm_after: String,
    /// Run the throughput phase.
    pub throughput: bool,
    /// Run the latency phase.
    pub latency: bool,
}

/// Parses the command line; flags it does not know (cargo passes `--bench`) are ignored.
fn parse_args() -> Result<Args, String> {
    let mut args = Args { serve: false, actions: 20_000, rounds: 5, confirm_after: "100ms".to_owned(), throughput: true, latency: true };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
            None => (arg.clone(), None),
        };
        let mut value = || match inline.clone() {
            Some(v) => Ok(v),
            None => it.next().ok_or_else(|| format!("{name} needs a value")),
        };
        match name.as_str() {
            "--serve" => args.serve = true,
            "--actions" | "--rounds" => {
                let v = value()?;
                let n: usize = v.parse().ok().filter(|n| *n > 0).ok_or_else(|| format!("{name}: not a positive integer: {v:?}"))?;
                if name == "--actions" {
                    args.actions = n;
                } else {
                    args.rounds = n;
                }
            }
            "--confirm-after" => {
                let v = value()?;
                humantime::parse_duration(&v).map_err(|e| format!("--confirm-after: {e}"))?;
                args.confirm_after = v;
            }
            "--only" => match value()?.as_str() {
                "throughput" => args.latency = false,
                "latency" => args.throughput = false,
                other => return Err(format!("--only: throughput or latency, not {other:?}")),
            },
            _ => {}
        }
    }
    Ok(args)
}

/// Runs the parts asked for; the verdict lines and whether something failed outright.
async fn bench(args: &Args, server: &Server) -> (Vec<String>, bool) {
    let (mut verdicts, mut failed) = (Vec::new(), false);
    if args.throughput {
        let (v, f) = throughput::run(args, server).await;
        verdicts.extend(v);
        failed |= f;
    }
    if args.latency {
        let (v, f) = latency::run(args, server).await;
        verdicts.extend(v);
        failed |= f;
    }
    (verdicts, failed)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("delivery: {e}\nusage: delivery [--actions N] [--rounds R] [--confirm-after DURATION] [--only throughput|latency]");
            return ExitCode::from(2);
        }
    };
    if args.serve {
        return world::serve();
    }
    // SAFETY: no other thread runs yet (the runtime and the server start below).
    unsafe { support::clear_proxy_env() };
    let _ = rustls::crypto::ring::default_provider().install_default();
    // Slack and Jira have no credentials here: the log sink prints their incident messages; keep
    // them off the figures on standard output.
    sparky::service::print_log_sink_to_stderr();
    let mut server = match Server::start() {
        Ok(server) => server,
        Err(e) => {
            eprintln!("delivery: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "delivery: loopback PagerDuty, partner API, status page and canaries on 127.0.0.1:{} (pid {}); status page {}",
        server.port,
        server.helper.pid(),
        if world::fixture_path().is_file() { GREEN_FIXTURE } else { "inline (fixture absent)" }
    );
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let (verdicts, failed) = runtime.block_on(bench(&args, &server));
    drop(runtime);
    println!("{}", server.helper.stop());
    println!("== summary");
    for v in &verdicts {
        println!("{v}");
    }
    if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
