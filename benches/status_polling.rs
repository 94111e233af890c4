//! Status page polling cost: Sparky's status job (`poll_all` and the notices stage) over a few thousand Statuspage v2 pages served
//! on loopback, in pages per CPU-second of the Sparky process, with its peak RSS.
//!
//! ```text
//! cargo bench --bench status_polling -- [--pages N] [--rounds R] [--close]
//! ```
//!
//! The pages are served by a second process (this binary re-run with `--serve`), so serving
//! costs nothing in Sparky's CPU figures. Page `i` is `/p/{i}/summary.json`: one in 20 is
//! `githubstatus_summary_major_investigating_2026-08-17.json` (74 KB, an open incident), the rest
//! `githubstatus_summary_none_2026-08-22.json` (5.7 KB), both read in place from
//! `$CARGO_MANIFEST_DIR/../shared/fixtures/statuspages` (skipped, exit 0, when absent). Every
//! answer has an `ETag`; a matching `If-None-Match` gets 304. Each round (the bench tells the
//! server over its stdin) one page in 10 changes its `page.updated_at`, so its body and ETag
//! change but the normalised model does not: it is fetched, parsed and compared, and produces
//! no event and no notice. The others answer 304.
//!
//! Sparky runs for real: a temp config directory (SQLite database in it, `[http] retries = 0`),
//! N partner files with a `statuspage` `[status_page]`, `Config::load_with_env` without the
//! process environment, `App::start`, then the status job once (the first poll: every page 200,
//! parsed and stored) and R more rounds. CPU is utime + stime of this process (`getrusage`)
//! around the steady-state rounds only; peak RSS is VmHWM at the end. `--close` makes the server
//! close every connection (a new TCP connection per poll, as with partners on distinct hosts
//! polled minutes apart; still no TLS). Target (the vendor status aggregators poll every 5
//! minutes): 6,000 partners every 5 minutes (20 pages/s) in under 10 % of one core, i.e. at least
//! 200 pages per CPU-second.

#![allow(unreachable_pub, clippy::unwrap_used)] // test and bench code: a failed unwrap is a failed run

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use chrono::{DateTime, Utc};

use sparky::config::Config;
use sparky::model::Indicator;
use sparky::service::App;
use sparky::service::jobs::{self, Handover, StatusRun};
use sparky::sources::status_pages::PollReport;
use support::{Helper, cpu_seconds, mib, peak_rss_mib, status_mib};

mod support;

/// Partners of the target.
const TARGET_PARTNERS: f64 = 6000.0;
/// Their poll interval, in seconds.
const TARGET_INTERVAL_SECS: f64 = 300.0;
/// Share of one core they may use.
const TARGET_CORE_SHARE: f64 = 0.10;
/// One page in this many changes its body each round.
const CHANGE_EVERY: u64 = 10;
/// One page in this many is the large page with an open incident.
const LARGE_EVERY: usize = 20;
/// The bulk of the pages: all green.
const SMALL_FIXTURE: &str = "githubstatus_summary_none_2026-08-22.json";
/// Some pages: a major incident under investigation, 74 KB.
const LARGE_FIXTURE: &str = "githubstatus_summary_major_investigating_2026-08-17.json";
/// The component every partner depends on (present in both fixtures).
const COMPONENT: &str = "API Requests";

fn fixtures_dir() -> PathBuf {
    support::shared_path("fixtures/statuspages")
}

/// Command line.
struct Args {
    serve: bool,
    pages: usize,
    rounds: usize,
    close: bool,
}

/// Parses the command line; flags it does not know (cargo passes `--bench`) are ignored.
fn parse_args() -> Result<Args, String> {
    let mut args = Args { serve: false, pages: 3000, rounds: 5, close: false };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
            None => (arg.clone(), None),
        };
        match name.as_str() {
            "--serve" => args.serve = true,
            "--close" => args.close = true,
            "--pages" | "--rounds" => {
                let value = match inline {
                    Some(v) => v,
                    None => it.next().ok_or_else(|| format!("{name} needs a value"))?,
                };
                let n: usize = value.parse().ok().filter(|n| *n > 0).ok_or_else(|| format!("{name}: not a positive integer: {value:?}"))?;
                if name == "--pages" {
                    args.pages = n;
                } else {
                    args.rounds = n;
                }
            }
            _ => {}
        }
    }
    Ok(args)
}

// ---------------------------------------------------------------------------------------------
// The page server (child process).
// ---------------------------------------------------------------------------------------------

/// A fixture split around the value of its `page.updated_at`.
struct Template {
    prefix: String,
    suffix: String,
    updated_at: DateTime<Utc>,
}

impl Template {
    fn load(dir: &Path, name: &str) -> Result<Self, String> {
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", path.display()))?;
        let expected = json["page"]["updated_at"].as_str().ok_or_else(|| format!("{}: no page.updated_at", path.display()))?;
        let updated_at = DateTime::parse_from_rfc3339(expected).map_err(|e| format!("{}: page.updated_at: {e}", path.display()))?.to_utc();
        // The first `"updated_at"` after `"page"` is the page's (the fixtures are pretty-printed).
        let page = text.find("\"page\"").ok_or_else(|| format!("{}: no \"page\" key", path.display()))?;
        let key = page + text[page..].find("\"updated_at\"").ok_or_else(|| format!("{}: no page updated_at key", path.display()))?;
        let after_key = key + "\"updated_at\"".len();
        let start = after_key + text[after_key..].find('"').ok_or_else(|| format!("{}: bad updated_at", path.display()))? + 1;
        let end = start + text[start..].find('"').ok_or_else(|| format!("{}: bad updated_at", path.display()))?;
        if &text[start..end] != expected {
            return Err(format!("{}: page.updated_at not where expected", path.display()));
        }
        Ok(Self { prefix: text[..start].to_owned(), suffix: text[end..].to_owned(), updated_at })
    }

    /// The body of version `v`: the fixture with `page.updated_at` moved `v` minutes on.
    fn render(&self, version: u64) -> Bytes {
        let minutes = i64::try_from(version).unwrap_or(i64::MAX / 120);
        let at = self.updated_at + chrono::Duration::minutes(minutes);
        Bytes::from(format!("{}{}{}", self.prefix, at.format("%Y-%m-%dT%H:%M:%S%.3fZ"), self.suffix))
    }
}

struct Pages {
    count: usize,
    close: bool,
    round: AtomicU64,
    templates: [Template; 2],
    bodies: Mutex<HashMap<(usize, u64), Bytes>>,
}

impl Pages {
    /// The last round (>= 1) in which page `i` changed as of `round`, or 0.
    fn version(i: usize, round: u64) -> u64 {
        let back = (i as u64 + round) % CHANGE_EVERY;
        round.saturating_sub(back)
    }

    fn body(&self, kind: usize, version: u64) -> Bytes {
        let mut bodies = self.bodies.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        bodies.entry((kind, version)).or_insert_with(|| self.templates[kind].render(version)).clone()
    }
}

async fn page(State(pages): State<Arc<Pages>>, UrlPath(i): UrlPath<usize>, headers: HeaderMap) -> Response {
    let mut response = Response::builder();
    if pages.close {
        response = response.header(header::CONNECTION, "close");
    }
    if i >= pages.count {
        return response.status(StatusCode::NOT_FOUND).body(Body::empty()).expect("valid response");
    }
    let version = Pages::version(i, pages.round.load(Ordering::SeqCst));
    let etag = format!("\"p{i}-v{version}\"");
    let matches = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == etag || t.trim() == "*");
    let response = response.header(header::ETAG, &etag).header(header::CACHE_CONTROL, "max-age=0, private, must-revalidate");
    if matches {
        return response.status(StatusCode::NOT_MODIFIED).body(Body::empty()).expect("valid response");
    }
    let kind = usize::from(i % LARGE_EVERY == 0);
    response
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .body(Body::from(pages.body(kind, version)))
        .expect("valid response")
}

/// `--serve`: prints `port N`, then answers `next` lines on stdin with `round R`; exits at EOF.
fn serve(args: &Args) -> ExitCode {
    let dir = fixtures_dir();
    let templates = match (Template::load(&dir, SMALL_FIXTURE), Template::load(&dir, LARGE_FIXTURE)) {
        (Ok(small), Ok(large)) => [small, large],
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("status_polling server: {e}");
            return ExitCode::FAILURE;
        }
    };
    let pages =
        Arc::new(Pages { count: args.pages, close: args.close, round: AtomicU64::new(0), templates, bodies: Mutex::new(HashMap::new()) });
    let control = pages.clone();
    let app = axum::Router::new().route("/p/{i}/summary.json", axum::routing::get(page)).with_state(pages);
    support::serve_loopback("status_polling server", app, move |line| {
        (line.trim() == "next").then(|| format!("round {}", control.round.fetch_add(1, Ordering::SeqCst) + 1))
    })
}

// ---------------------------------------------------------------------------------------------
// The bench (parent process).
// ---------------------------------------------------------------------------------------------

/// The page server process (`--serve`); killed on drop.
struct PageServer {
    helper: Helper,
    port: u16,
}

impl PageServer {
    fn start(args: &Args) -> Result<Self, String> {
        let pages = args.pages.to_string();
        let mut argv = vec!["--serve", "--pages", &pages];
        if args.close {
            argv.push("--close");
        }
        let helper = Helper::spawn("page server", &argv, &[])?;
        let port = helper.port()?;
        Ok(Self { helper, port })
    }

    /// Starts the next round: one page in [`CHANGE_EVERY`] changes.
    fn next_round(&mut self) -> Result<u64, String> {
        self.helper.send_line("next")?;
        let line = self.helper.read_line()?;
        line.strip_prefix("round ").and_then(|r| r.parse().ok()).ok_or_else(|| format!("page server said {line:?}, not `round N`"))
    }
}

/// What a set of reports says.
#[derive(Default)]
struct Tally {
    pages: usize,
    ok: usize,
    not_modified: usize,
    other: HashMap<String, usize>,
    unknown: usize,
    events: usize,
    notices: usize,
}

impl Tally {
    fn add(&mut self, run: &StatusRun) {
        self.notices += run.notices;
        self.count(&run.partners);
    }

    fn count(&mut self, reports: &[PollReport]) {
        for r in reports {
            self.pages += 1;
            match r.result.as_str() {
                "ok" => self.ok += 1,
                "not_modified" => self.not_modified += 1,
                other => *self.other.entry(other.to_owned()).or_default() += 1,
            }
            self.unknown += usize::from(r.status.indicator == Indicator::Unknown);
            self.events += r.events;
        }
    }

    fn describe(&self) -> String {
        let mut other: Vec<_> = self.other.iter().map(|(k, n)| format!("{k}={n}")).collect();
        other.sort();
        format!(
            "ok={} not_modified={} other={} unknown={} events={} notices={}",
            self.ok,
            self.not_modified,
            if other.is_empty() { "0".to_owned() } else { other.join(",") },
            self.unknown,
            self.events,
            self.notices
        )
    }
}

/// Writes the config directory: `sparky.toml` and one partner file per page.
fn write_config(dir: &Path, pages: usize, port: u16) -> std::io::Result<()> {
    std::fs::write(dir.join("sparky.toml"), "[database]\nurl = \"sqlite://sparky.db\"\n\n[http]\nretries = 0\n")?;
    let partners = dir.join("partners");
    std::fs::create_dir(&partners)?;
    for i in 0..pages {
        std::fs::write(
            partners.join(format!("p{i}.toml")),
            format!(
                "id = \"p{i}\"\nname = \"Partner {i}\"\n\n[status_page]\nkind = \"statuspage\"\nurl = \"http://127.0.0.1:{port}/p/{i}/summary.json\"\ncomponents = [\"{COMPONENT}\"]\n"
            ),
        )?;
    }
    Ok(())
}

async fn run(args: &Args, server: &mut PageServer) -> Result<(), String> {
    let tmp = tempfile::tempdir().map_err(|e| format!("cannot make a temp dir: {e}"))?;
    write_config(tmp.path(), args.pages, server.port).map_err(|e| format!("cannot write the config: {e}"))?;
    let t = Instant::now();
    // Nothing from the process environment (SPARKY_DATABASE_URL, SLACK_BOT_TOKEN ...).
    let config = Config::load_with_env(tmp.path(), &|_| None).map_err(|e| e.to_string())?;
    if config.partners.len() != args.pages {
        return Err(format!("loaded {} partners, wrote {}", config.partners.len(), args.pages));
    }
    let app = App::start(config).await.map_err(|e| format!("cannot start: {e}"))?;
    println!("status_polling: config of {} partners loaded and app started in {:.2} s", args.pages, t.elapsed().as_secs_f64());

    let (c0, w0) = (cpu_seconds(), Instant::now());
    let reports = jobs::status(&app, Handover::Wake).await.map_err(|e| format!("first poll: {e}"))?;
    let (first_cpu, first_wall) = (cpu_seconds() - c0, w0.elapsed().as_secs_f64());
    let rss_after_first = status_mib("VmRSS:");
    let mut first = Tally::default();
    first.add(&reports);
    println!(
        "first poll: {} pages in {first_wall:.2} s wall ({:.0} pages/s), {first_cpu:.2} CPU-s ({:.0} pages/CPU-s); {}",
        first.pages,
        first.pages as f64 / first_wall,
        first.pages as f64 / first_cpu,
        first.describe()
    );

    let mut steady = Tally::default();
    let (mut cpu, mut wall) = (0.0, 0.0);
    for _ in 0..args.rounds {
        let round = server.next_round()?;
        let (c0, w0) = (cpu_seconds(), Instant::now());
        let reports = jobs::status(&app, Handover::Wake).await.map_err(|e| format!("round {round}: {e}"))?;
        let (c, w) = (cpu_seconds() - c0, w0.elapsed().as_secs_f64());
        let mut tally = Tally::default();
        tally.add(&reports);
        println!(
            "round {round}: {} pages in {w:.2} s wall, {c:.2} CPU-s ({:.0} pages/CPU-s); {}",
            tally.pages,
            tally.pages as f64 / c,
            tally.describe()
        );
        steady.add(&reports);
        (cpu, wall) = (cpu + c, wall + w);
    }
    app.store.close().await;

    let pages_per_cpu = steady.pages as f64 / cpu;
    let needed = TARGET_PARTNERS / TARGET_INTERVAL_SECS;
    let share = needed / pages_per_cpu;
    let peak = peak_rss_mib();
    println!(
        "steady state: {} rounds, {} pages in {wall:.2} s wall ({:.0} pages/s), {cpu:.2} CPU-s: {pages_per_cpu:.0} pages per CPU-second",
        args.rounds,
        steady.pages,
        steady.pages as f64 / wall
    );
    println!(
        "answers: 200 {:.1} %, 304 {:.1} %, other {}; unknown indicators: {} (first poll {}, steady {}); steady events {} notices {}",
        100.0 * steady.ok as f64 / steady.pages as f64,
        100.0 * steady.not_modified as f64 / steady.pages as f64,
        steady.pages - steady.ok - steady.not_modified,
        first.unknown + steady.unknown,
        first.unknown,
        steady.unknown,
        steady.events,
        steady.notices
    );
    println!("peak RSS: {} (RSS after the first poll {}, at the end {})", mib(peak), mib(rss_after_first), mib(status_mib("VmRSS:")));
    println!(
        "projection: {TARGET_PARTNERS:.0} partners every {:.0} min = {needed:.0} pages/s -> {:.1} % of one core (target < {:.0} %, i.e. >= {:.0} pages/CPU-s)",
        TARGET_INTERVAL_SECS / 60.0,
        100.0 * share,
        100.0 * TARGET_CORE_SHARE,
        needed / TARGET_CORE_SHARE
    );
    let sane = first.unknown + steady.unknown == 0 && steady.other.is_empty() && first.other.is_empty();
    if !sane {
        println!("WARNING: some polls failed or read `unknown`: the setup is wrong and the figures do not count");
    }
    println!("target holds: {}", if sane && share < TARGET_CORE_SHARE { "yes" } else { "no" });
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("status_polling: {e}\nusage: status_polling [--pages N] [--rounds R] [--close]");
            return ExitCode::from(2);
        }
    };
    if args.serve {
        return serve(&args);
    }
    let dir = fixtures_dir();
    if ![SMALL_FIXTURE, LARGE_FIXTURE].iter().all(|f| dir.join(f).is_file()) {
        println!("status_polling: fixtures {SMALL_FIXTURE} and {LARGE_FIXTURE} not found in {}; benchmark skipped", dir.display());
        return ExitCode::SUCCESS;
    }
    // SAFETY: no other thread runs yet (the runtime and the server start below).
    unsafe { support::clear_proxy_env() };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut server = match PageServer::start(&args) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("status_polling: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "status_polling: {} pages on 127.0.0.1:{} (pid {}), {} steady rounds, one page in {CHANGE_EVERY} changing per round, one in {LARGE_EVERY} of 74 KB{}",
        args.pages,
        server.port,
        server.helper.pid(),
        args.rounds,
        if args.close { ", a new connection per request" } else { "" }
    );
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let result = runtime.block_on(run(&args, &mut server));
    drop(runtime);
    println!("{}", server.helper.stop());
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("status_polling: {e}");
            ExitCode::FAILURE
        }
    }
}
