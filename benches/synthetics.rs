//! Synthetic check engine cost: Sparky's check engine driven as the daemon drives it, against a
//! loopback HTTP target, in checks per CPU-second of the Sparky process, with scheduling
//! lateness and peak RSS, next to Prometheus blackbox_exporter probing the same target.
//!
//! ```text
//! cargo bench --bench synthetics -- [--checks N] [--big N] [--seconds S] [--close] [--no-anchor]
//! ```
//!
//! The target is served by a second process (this binary re-run with `--serve`), so serving
//! costs nothing in Sparky's CPU figures: `GET /status.json` answers 200 with the same 121-byte
//! JSON body `anchor-blackbox`'s own nginx serves, with keep-alive (`--close`: `Connection:
//! close`, a new TCP connection per check, as blackbox_exporter makes anyway).
//!
//! Sparky runs for real, each phase in a fresh process (this binary re-run with `--phase NAME`,
//! which prints its figures as one `phase-result {json}` line), so the peak RSS of one phase is
//! not that of another: a temp config directory (SQLite database in it), one partner file and N
//! `synthetics/*.toml` files (`timeout = "5s"`, `[[assert]] status = 200` and `[[assert]]
//! json_path = "$.status" equals = "ok"`), `Config::load_with_env` without the process
//! environment, `App::start`, then as `sparky daemon` does: `Engine::start`, `Engine::load`,
//! `Engine::run_daemon` in a task. The bench waits until the engine has beaten once (its row in
//! `replicas`: alone, it owns every check), lets it run a 3 s warm-up, then measures S seconds: CPU is utime + stime
//! of the phase process (`getrusage`), results are the rows of `check_results` whose `at` falls in
//! the window (read after the shutdown token is cancelled and the writer has finished). Each
//! check's ticks fall at `k * interval + spread(id, interval)`; a result's scheduling lateness is
//! its `at` minus the latest such tick (so a lateness beyond one interval would show as a missed
//! tick: the bench also counts the ticks that fell in the window).
//!
//! - `throughput`: `--checks` (default 2,000) checks every 1 s, i.e. N checks/s.
//! - `big`: `--big` (default 10,000) checks every 10 s (1,000 checks/s): CPU per check, projected
//!   to 10,000 checks every 5 minutes (33.3 checks/s); peak RSS (VmHWM) of that process.
//! - `direct`: the same 10,000 checks every 5 minutes, measured as they are (fixed costs such as
//!   the heartbeat every 5 s and the ownership test of each tick included), for the same S seconds.
//!
//! Then, unless `--no-anchor`, `../shared/tools/anchor-blackbox --target URL --seconds S --json`
//! probes the same URL (never while a Sparky phase runs). Targets: at least 5x blackbox_exporter's
//! probes per CPU-second; 10,000 checks every 5 minutes in under 5 % of one core and 100 MiB
//! resident; p99 scheduling lateness under 50 ms.

#![allow(unreachable_pub, clippy::unwrap_used)] // test and bench code: a failed unwrap is a failed run

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};
use sqlx::Row;
use tokio_util::sync::CancellationToken;

use sparky::config::Config;
use sparky::model::Timestamp;
use sparky::schedule::spread;
use sparky::service::App;
use sparky::sources::synthetics::engine::Engine;
use support::{Helper, cpu_seconds, mib, percentile, status_mib, yes_no};

mod support;

/// The body `anchor-blackbox`'s nginx serves (121 bytes).
const TARGET_JSON: &[u8] =
    b"{\"status\":\"ok\",\"service\":\"partner-api\",\"version\":\"1.2.3\",\"checks\":[{\"name\":\"db\",\"ok\":true},{\"name\":\"cache\",\"ok\":true}]}\n";
/// The target's path.
const TARGET_PATH: &str = "/status.json";
/// Warm-up after the engine owns every check.
const WARMUP: Duration = Duration::from_secs(3);
/// The projection: this many checks ...
const TARGET_CHECKS: f64 = 10_000.0;
/// ... every this many seconds ...
const TARGET_INTERVAL_SECS: u64 = 300;
/// ... in at most this share of one core ...
const TARGET_CORE_SHARE: f64 = 0.05;
/// ... and this resident memory.
const TARGET_RSS_MIB: f64 = 100.0;
/// At least this many times blackbox_exporter's probes per CPU-second.
const TARGET_RATIO: f64 = 5.0;
/// p99 scheduling lateness under this (ms).
const TARGET_P99_MS: f64 = 50.0;

/// Command line.
struct Args {
    serve: bool,
    close: bool,
    /// `--phase NAME` (a phase process).
    phase: Option<String>,
    /// `--target URL` (a phase process).
    target: Option<String>,
    /// `--count N` (a phase process).
    count: usize,
    /// `--interval-secs N` (a phase process).
    interval_secs: u64,
    checks: usize,
    big: usize,
    seconds: u64,
    no_anchor: bool,
}

/// Parses the command line; flags it does not know (cargo passes `--bench`) are ignored.
fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        serve: false,
        close: false,
        phase: None,
        target: None,
        count: 0,
        interval_secs: 1,
        checks: 2000,
        big: 10_000,
        seconds: 20,
        no_anchor: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
            None => (arg.clone(), None),
        };
        let mut value = |inline: Option<String>| inline.or_else(|| it.next()).ok_or_else(|| format!("{name} needs a value"));
        let positive = |name: &str, v: String| -> Result<u64, String> {
            v.parse().ok().filter(|n| *n > 0).ok_or_else(|| format!("{name}: not a positive integer: {v:?}"))
        };
        match name.as_str() {
            "--serve" => args.serve = true,
            "--close" => args.close = true,
            "--no-anchor" => args.no_anchor = true,
            "--phase" => args.phase = Some(value(inline)?),
            "--target" => args.target = Some(value(inline)?),
            "--count" => args.count = positive(&name, value(inline)?)? as usize,
            "--interval-secs" => args.interval_secs = positive(&name, value(inline)?)?,
            "--checks" => args.checks = positive(&name, value(inline)?)? as usize,
            "--big" => args.big = positive(&name, value(inline)?)? as usize,
            "--seconds" => args.seconds = positive(&name, value(inline)?)?,
            _ => {}
        }
    }
    Ok(args)
}

// ---------------------------------------------------------------------------------------------
// The target (server process).
// ---------------------------------------------------------------------------------------------

/// `--serve`: prints `port N`, serves until its stdin closes.
fn serve(close: bool) -> ExitCode {
    let handler = move || async move {
        let mut response = Response::builder().status(StatusCode::OK).header(header::CONTENT_TYPE, "application/json");
        if close {
            response = response.header(header::CONNECTION, "close");
        }
        response.body(Body::from(TARGET_JSON)).expect("valid response")
    };
    let app = axum::Router::new().route(TARGET_PATH, axum::routing::get(handler));
    support::serve_loopback("synthetics server", app, |_| None)
}

/// The target process (`--serve`); killed on drop.
struct Target {
    helper: Helper,
    port: u16,
}

impl Target {
    fn start(close: bool) -> Result<Self, String> {
        let args: &[&str] = if close { &["--serve", "--close"] } else { &["--serve"] };
        let helper = Helper::spawn("target server", args, &[])?;
        let port = helper.port()?;
        Ok(Self { helper, port })
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}{TARGET_PATH}", self.port)
    }
}

// ---------------------------------------------------------------------------------------------
// One Sparky phase (phase process).
// ---------------------------------------------------------------------------------------------

/// Writes the config directory: `sparky.toml`, one partner, `count` checks of `target`.
fn write_config(dir: &Path, count: usize, interval_secs: u64, target: &str) -> std::io::Result<()> {
    std::fs::write(dir.join("sparky.toml"), "[database]\nurl = \"sqlite://sparky.db\"\n")?;
    std::fs::create_dir(dir.join("partners"))?;
    std::fs::write(dir.join("partners/partner-api.toml"), "id = \"partner-api\"\nname = \"Partner API\"\n")?;
    let checks = dir.join("synthetics");
    std::fs::create_dir(&checks)?;
    for i in 0..count {
        std::fs::write(
            checks.join(format!("c-{i}.toml")),
            format!(
                "id = \"c-{i}\"\npartner = \"partner-api\"\nurl = \"{target}\"\ninterval = \"{interval_secs}s\"\ntimeout = \"5s\"\n\n\
                 [[assert]]\nstatus = 200\n\n[[assert]]\njson_path = \"$.status\"\nequals = \"ok\"\n"
            ),
        )?;
    }
    Ok(())
}

/// Ticks `k * period + offset` in `[t0, t1)`.
fn ticks_in(t0: i64, t1: i64, period: i64, offset: i64) -> i64 {
    let first = (t0 - offset).div_euclid(period) + i64::from((t0 - offset).rem_euclid(period) != 0);
    let last = (t1 - 1 - offset).div_euclid(period);
    (last - first + 1).max(0)
}

async fn phase(name: &str, args: &Args, target: &str) -> Result<Value, String> {
    let (count, interval_secs) = (args.count, args.interval_secs);
    let tmp = tempfile::tempdir().map_err(|e| format!("cannot make a temp dir: {e}"))?;
    let t = Instant::now();
    write_config(tmp.path(), count, interval_secs, target).map_err(|e| format!("cannot write the config: {e}"))?;
    // Nothing from the process environment (SPARKY_DATABASE_URL, SLACK_BOT_TOKEN ...).
    let config = Config::load_with_env(tmp.path(), &|_| None).map_err(|e| e.to_string())?;
    let enabled: Vec<_> = config.checks.iter().filter(|c| c.enabled).cloned().collect();
    if enabled.len() != count {
        return Err(format!("loaded {} enabled checks, wrote {count}", enabled.len()));
    }
    let app = App::start(config).await.map_err(|e| format!("cannot start: {e}"))?;
    let (engine, writer) = Engine::start(&app.store, &app.config.global.http, &app.config.global.synthetics, app.triage_wake.clone())
        .map_err(|e| format!("cannot start the engine: {e}"))?;
    let runtimes = Engine::load(&app.store, &enabled).await.map_err(|e| format!("cannot load the checks: {e}"))?;
    // As `sparky run` does once started: only the ids of the parsed files are still needed.
    let ids: Vec<String> = enabled.iter().map(|c| c.id.to_string()).collect();
    drop(enabled);
    let startup = t.elapsed().as_secs_f64();
    let shutdown = CancellationToken::new();
    let daemon = {
        let (app, shutdown) = (app.clone(), shutdown.clone());
        tokio::spawn(async move { engine.run_daemon(&app.store, &app.instance, runtimes, shutdown).await })
    };

    // The engine runs its checks once it has read the replicas (alone here: all of them).
    let t = Instant::now();
    loop {
        let beaten: i64 = sqlx::query("SELECT COUNT(*) FROM replicas WHERE instance = $1")
            .bind(&app.instance)
            .fetch_one(app.store.pool())
            .await
            .and_then(|r| r.try_get(0))
            .map_err(|e| format!("cannot read the replicas: {e}"))?;
        if beaten == 1 {
            break;
        }
        if t.elapsed() > Duration::from_secs(120) {
            return Err("the engine has not beaten after 120 s".to_owned());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let owned_after = t.elapsed().as_secs_f64();
    println!(
        "{name}: {count} checks every {interval_secs} s: config written and loaded, app and engine started in {startup:.2} s; first heartbeat {owned_after:.2} s later; RSS {}",
        mib(status_mib("VmRSS:"))
    );

    tokio::time::sleep(WARMUP).await;
    let (c0, w0, t0) = (cpu_seconds(), Instant::now(), Timestamp::now().as_millis());
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    let (cpu, wall, t1) = (cpu_seconds() - c0, w0.elapsed().as_secs_f64(), Timestamp::now().as_millis());
    let (peak, rss) = (status_mib("VmHWM:"), status_mib("VmRSS:"));

    shutdown.cancel();
    let stopping = Instant::now();
    daemon.await.map_err(|e| format!("the engine task failed: {e}"))?;
    match tokio::time::timeout(Duration::from_secs(30), writer).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(format!("the result writer failed: {e}")),
        Err(_) => return Err("the result writer did not finish within 30 s of the shutdown".to_owned()),
    }
    let stop_secs = stopping.elapsed().as_secs_f64();

    let rows = sqlx::query("SELECT check_id, at, outcome, error_kind, confirmation FROM check_results WHERE at >= $1 AND at < $2")
        .bind(t0)
        .bind(t1)
        .fetch_all(app.store.pool())
        .await
        .map_err(|e| format!("cannot read check_results: {e}"))?;
    let total_rows: i64 = sqlx::query("SELECT COUNT(*) FROM check_results")
        .fetch_one(app.store.pool())
        .await
        .and_then(|r| r.try_get(0))
        .map_err(|e| format!("cannot count check_results: {e}"))?;
    app.store.close().await;

    let period = i64::try_from(interval_secs * 1000).unwrap_or(i64::MAX);
    let interval = Duration::from_secs(interval_secs);
    let offset = |id: &str| i64::try_from(spread(id, interval).as_millis()).unwrap_or(0) % period;
    let expected: i64 = ids.iter().map(|id| ticks_in(t0, t1, period, offset(id))).sum();
    let (mut results, mut confirmations) = (0u64, 0u64);
    let mut lateness = Vec::with_capacity(rows.len());
    let mut not_passed: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    for row in &rows {
        let read = |e: sqlx::Error| format!("cannot read a check_results row: {e}");
        let id: String = row.try_get(0).map_err(read)?;
        let at: i64 = row.try_get(1).map_err(read)?;
        let outcome: String = row.try_get(2).map_err(read)?;
        let kind: Option<String> = row.try_get(3).map_err(read)?;
        let confirmation: i64 = row.try_get(4).map_err(read)?;
        if confirmation != 0 {
            confirmations += 1;
            continue;
        }
        results += 1;
        if outcome != "pass" {
            *not_passed.entry(format!("{outcome}/{}", kind.as_deref().unwrap_or("-"))).or_default() += 1;
        }
        let o = offset(&id);
        let tick = (at - o).div_euclid(period) * period + o;
        lateness.push(at - tick);
    }
    lateness.sort_unstable();
    let not_pass: u64 = not_passed.values().sum();
    let breakdown = not_passed.iter().map(|(k, n)| format!("{k}={n}")).collect::<Vec<_>>().join(",");
    let checks_per_s = results as f64 / wall;
    let per_cpu = results as f64 / cpu;
    let (p50, p99, max) =
        (percentile(&lateness, 50.0).unwrap_or(0), percentile(&lateness, 99.0).unwrap_or(0), lateness.last().copied().unwrap_or(0));
    println!(
        "{name}: {results} checks in {wall:.2} s wall ({checks_per_s:.0} checks/s; {expected} ticks fell in the window), {cpu:.2} CPU-s: {per_cpu:.0} checks/CPU-s, {:.1} µs CPU per check",
        1e6 * cpu / results.max(1) as f64
    );
    println!(
        "{name}: not passed {not_pass}{}, confirmation re-runs {confirmations}; lateness p50 {p50} ms, p99 {p99} ms, max {max} ms; peak RSS {}, RSS at the end of the window {}; stopped in {stop_secs:.2} s; {total_rows} result rows in all",
        if breakdown.is_empty() { String::new() } else { format!(" ({breakdown})") },
        mib(peak),
        mib(rss)
    );
    Ok(json!({
        "phase": name,
        "checks": count,
        "interval_secs": interval_secs,
        "results": results,
        "expected": expected,
        "wall": wall,
        "cpu": cpu,
        "not_pass": not_pass,
        "not_pass_breakdown": breakdown,
        "confirmations": confirmations,
        "p50_ms": p50,
        "p99_ms": p99,
        "max_ms": max,
        "peak_rss_mib": peak,
        "rss_mib": rss,
    }))
}

fn run_phase(args: &Args) -> ExitCode {
    let name = args.phase.clone().unwrap_or_default();
    let Some(target) = args.target.clone() else {
        eprintln!("synthetics: --phase needs --target URL");
        return ExitCode::from(2);
    };
    if args.count == 0 {
        eprintln!("synthetics: --phase needs --count N");
        return ExitCode::from(2);
    }
    // As `sparky daemon` logs (stderr): a warning per check would show, and cost, here too.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=warn,tokio_cron_scheduler=warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let result = runtime.block_on(phase(&name, args, &target));
    drop(runtime);
    match result {
        Ok(value) => {
            println!("phase-result {value}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("synthetics {name}: {e}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The bench (parent process).
// ---------------------------------------------------------------------------------------------

/// Runs one phase in a fresh process, echoing what it prints; its `phase-result`.
fn run_child(name: &str, count: usize, interval_secs: u64, args: &Args, target: &str) -> Result<Value, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?;
    let mut child = Command::new(exe)
        .args(["--phase", name, "--target", target, "--count", &count.to_string()])
        .args(["--interval-secs", &interval_secs.to_string(), "--seconds", &args.seconds.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start phase {name}: {e}"))?;
    let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut result = None;
    for line in stdout.lines() {
        let Ok(line) = line else { break };
        match line.strip_prefix("phase-result ") {
            Some(json) => {
                result = Some(serde_json::from_str::<Value>(json).map_err(|e| format!("phase {name}: bad result {json:?}: {e}"))?)
            }
            None => println!("  {line}"),
        }
    }
    let status = child.wait().map_err(|e| format!("phase {name}: {e}"))?;
    match result {
        Some(value) if status.success() => Ok(value),
        _ => Err(format!("phase {name} failed ({status})")),
    }
}

/// A figure of a phase result.
fn num(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or(f64::NAN)
}

/// The anchor's JSON, or why there is none (its stderr included).
fn run_anchor(url: &str, seconds: u64) -> Result<Value, String> {
    let value = support::run_anchor("anchor-blackbox", ["--target", url, "--seconds", &seconds.to_string(), "--json"])?;
    if value["probes_per_cpu_second"].as_f64().is_none() {
        return Err(format!("anchor-blackbox printed no probes_per_cpu_second: {value}"));
    }
    Ok(value)
}

fn bench(args: &Args, target: &Target) -> Result<(), String> {
    let url = target.url();
    println!("phase throughput (own process): {} checks every 1 s", args.checks);
    let a = run_child("throughput", args.checks, 1, args, &url)?;
    println!("phase big (own process): {} checks every 10 s", args.big);
    let b = run_child("big", args.big, 10, args, &url)?;
    println!("phase direct (own process): {} checks every {} min", args.big, TARGET_INTERVAL_SECS / 60);
    let c = run_child("direct", args.big, TARGET_INTERVAL_SECS, args, &url)?;

    let anchor = if args.no_anchor {
        println!("blackbox_exporter: skipped (--no-anchor)");
        None
    } else {
        println!("blackbox_exporter: anchor-blackbox --target {url} --seconds {} --json (after Sparky's phases)", args.seconds);
        match run_anchor(&url, args.seconds) {
            Ok(v) => {
                println!("  {v}");
                Some(v)
            }
            Err(e) => {
                println!("blackbox_exporter: the anchor FAILED, no comparison this run: {e}");
                None
            }
        }
    };

    // Summary.
    let sparky_per_cpu = num(&a, "results") / num(&a, "cpu");
    let sane = [&a, &b, &c].iter().all(|p| num(p, "not_pass") == 0.0 && num(p, "results") > 0.0);
    println!();
    println!(
        "throughput: {} checks every 1 s: {:.0} checks/s ({} results, {} ticks in the window), {:.0} checks per CPU-second ({:.1} µs CPU per check)",
        args.checks,
        num(&a, "results") / num(&a, "wall"),
        a["results"],
        a["expected"],
        sparky_per_cpu,
        1e6 * num(&a, "cpu") / num(&a, "results")
    );
    for p in [&a, &b, &c] {
        println!(
            "lateness ({} checks every {} s): p50 {} ms, p99 {} ms, max {} ms; peak RSS {}",
            p["checks"],
            p["interval_secs"],
            p["p50_ms"],
            p["p99_ms"],
            p["max_ms"],
            mib(p["peak_rss_mib"].as_f64())
        );
    }
    let per_check = num(&b, "cpu") / num(&b, "results");
    let needed = TARGET_CHECKS / TARGET_INTERVAL_SECS as f64;
    let projected = per_check * needed;
    println!(
        "projection: {} checks every 10 s: {:.0} checks/s, {:.1} µs CPU per check -> {TARGET_CHECKS:.0} checks every {} min = {needed:.1} checks/s -> {:.2} % of one core (target < {:.0} %)",
        b["checks"],
        num(&b, "results") / num(&b, "wall"),
        1e6 * per_check,
        TARGET_INTERVAL_SECS / 60,
        100.0 * projected,
        100.0 * TARGET_CORE_SHARE
    );
    let direct = num(&c, "cpu") / num(&c, "wall");
    println!(
        "direct: {} checks every {} min, measured: {} checks in {:.1} s ({:.1} checks/s), {:.3} CPU-s -> {:.2} % of one core; peak RSS {}",
        c["checks"],
        TARGET_INTERVAL_SECS / 60,
        c["results"],
        num(&c, "wall"),
        num(&c, "results") / num(&c, "wall"),
        num(&c, "cpu"),
        100.0 * direct,
        mib(c["peak_rss_mib"].as_f64())
    );
    let mut line = format!("checks: sparky {sparky_per_cpu:.0} checks/CPU-s");
    let ratio = anchor.as_ref().map(|v| {
        let theirs = v["probes_per_cpu_second"].as_f64().unwrap_or(f64::NAN);
        let ratio = sparky_per_cpu / theirs;
        let _ = write!(
            line,
            ", blackbox_exporter {theirs:.0} probes/CPU-s, ratio {ratio:.1}x (blackbox_exporter {}: {} probes in {} s at {} probes/s, peak RSS {} MiB)",
            v["version"].as_str().unwrap_or("?"),
            v["probes"],
            v["wall_seconds"],
            v["probes_per_second"],
            v["peak_rss_mib"]
        );
        ratio
    });
    if ratio.is_none() {
        line.push_str(", blackbox_exporter: no figure this run");
    }
    println!("{line}");

    let rss = [&b, &c].iter().filter_map(|p| p["peak_rss_mib"].as_f64()).fold(f64::NAN, f64::max);
    let share = projected.max(direct);
    let p99 = [&a, &b, &c].iter().map(|p| num(p, "p99_ms")).fold(f64::NAN, f64::max);
    if !sane {
        println!("WARNING: some checks did not pass: the setup is wrong and the figures do not count");
    }
    let ratio_text = match ratio {
        Some(r) => format!("{} ({r:.1}x)", yes_no(sane && r >= TARGET_RATIO)),
        None => "unknown (no blackbox_exporter figure)".to_owned(),
    };
    println!(
        "targets hold: >= {TARGET_RATIO:.0}x blackbox_exporter probes/CPU-s: {ratio_text}; {TARGET_CHECKS:.0} checks / {} min < {:.0} % of a core: {} ({:.2} %, the larger of projection and direct) and < {TARGET_RSS_MIB:.0} MiB: {} ({rss:.1} MiB); p99 lateness < {TARGET_P99_MS:.0} ms: {} ({p99:.0} ms, the worst phase)",
        TARGET_INTERVAL_SECS / 60,
        100.0 * TARGET_CORE_SHARE,
        yes_no(sane && share < TARGET_CORE_SHARE),
        100.0 * share,
        yes_no(rss < TARGET_RSS_MIB),
        yes_no(sane && p99 < TARGET_P99_MS)
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("synthetics: {e}\nusage: synthetics [--checks N] [--big N] [--seconds S] [--close] [--no-anchor]");
            return ExitCode::from(2);
        }
    };
    if args.serve {
        return serve(args.close);
    }
    // SAFETY: no other thread runs yet (the runtimes and the server start below).
    unsafe { support::clear_proxy_env() };
    let _ = rustls::crypto::ring::default_provider().install_default();
    if args.phase.is_some() {
        return run_phase(&args);
    }
    let mut target = match Target::start(args.close) {
        Ok(target) => target,
        Err(e) => {
            eprintln!("synthetics: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "synthetics: target {} (pid {}, {}-byte JSON, {}), {} s warm-up then {} s measured per phase",
        target.url(),
        target.helper.pid(),
        TARGET_JSON.len(),
        if args.close { "a new connection per request" } else { "keep-alive" },
        WARMUP.as_secs(),
        args.seconds
    );
    let result = bench(&args, &target);
    println!("{}", target.helper.stop());
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("synthetics: {e}");
            ExitCode::FAILURE
        }
    }
}
