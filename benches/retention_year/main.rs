//! A simulated year of one partner set: how big the SQLite database grows with the default
//! `[retention]` applied daily, and without it.
//!
//! ```text
//! cargo bench --bench retention_year -- [--days 365] [--status-every-min 5] [--checks 10]
//! cargo test --bench retention_year -- [...]   # the same, unoptimised: same sizes, slower
//! ```
//!
//! The shipped partner set (7 partners, as in `partners/`), each with a status page, and N
//! synthetic checks every 5 minutes. The one clock (tokio's, paused and held) moves through the
//! year in 6-hour steps and everything is written through the store functions Sparky uses, with
//! synthetic times: every check result (one batch a day, a failure now and then, a confirmed
//! failure at each incident), one finished `job_runs` tick per status poll per partner (every
//! `--status-every-min`, default the shipped 5 min; written as rows, the shape `claim_tick` +
//! `finish` leave) and per changelog and retention tick, a status page change now and then per
//! partner (an incident opened, updated and resolved, a component flapping: a snapshot of ~20
//! components per change, its events, and its notices queued through `notices::queue`, the
//! real templates), new changelog entries at each partner's own rate (Microsoft Graph's
//! changelog is busy, Workday's quiet) digested every 6 hours through `digest::queue_digests`,
//! and about 3 incidents a week (history with evidence, check events, remote ids, ~8 actions
//! each, a public incident for the external ones). Every action is delivered at once (claimed
//! and recorded as the worker does). Two databases receive exactly the same writes; one runs
//! `store::retention::prune` once a simulated day, the other never prunes. Printed: the file
//! sizes (WAL checkpointed), the pages in use (along the way, and at the end), the size after
//! `VACUUM`, the rows per table, and the wall time of the daily prunes. Without retention the
//! file grows by ~1.2 MiB a day (check results and job ticks); with it, it levels off near
//! 16 MiB (what 8 days of results, 90 days of status history, 30 days of actions and 400 days of
//! entries and incidents hold, plus the compact keys).

#![allow(unreachable_pub, clippy::unwrap_used)] // test and bench code: a failed unwrap is a failed run

mod writes;

use writes::{component_name, deliver_all, detail, insert_ticks, open_incident, resolve, result, snapshot};

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::Row;

use sparky::config::{Config, RetentionConfig};
use sparky::model::{ActionState, EventDetail, EventKind, StatusEvent, Timestamp};
use sparky::store::changelogs::{self, EntryRecord};
use sparky::store::status::{self, Fetch, PollRecord};
use sparky::store::synthetics::{self, Batch};
use sparky::store::{Store, outbox, retention};
use sparky::templates::Templates;

const HOUR: Duration = Duration::from_secs(3600);
const STEP: Duration = Duration::from_secs(6 * 3600);
const STEPS_PER_DAY: u32 = 4;

/// The shipped partners and their changelog entries per day (a guess from their feeds).
const PARTNERS: [(&str, &str, f64); 7] = [
    ("github", "GitHub", 4.0),
    ("microsoft-365", "Microsoft 365", 2.0),
    ("microsoft-graph", "Microsoft Graph", 8.0),
    ("okta", "Okta", 0.3),
    ("servicenow", "ServiceNow", 0.3),
    ("slack", "Slack", 0.5),
    ("workday", "Workday", 0.2),
];
/// Components on each partner's page.
const COMPONENTS: usize = 20;
/// Page incidents per partner per day (one every ~10 days), each opened, updated, resolved.
const PAGE_INCIDENTS_PER_DAY: f64 = 0.1;
/// Component flaps per partner per day (about two a week), each down and back up.
const FLAPS_PER_DAY: f64 = 0.3;
/// Our incidents per day (about 3 a week).
const INCIDENTS_PER_DAY: f64 = 3.0 / 7.0;

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() -> ExitCode {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(run())
}

/// What happens to one partner's page, step by step.
#[derive(Default)]
struct Page {
    /// The open incident's id and the step it resolves at.
    incident: Option<(String, u64)>,
    /// The flapping component and the step it recovers at.
    flap: Option<(usize, u64)>,
    /// Page incidents so far (their ids).
    count: u64,
}

/// Our open incident: id, partner, check, external, the step it resolves at.
struct Open {
    id: i64,
    partner: usize,
    check: String,
    external: bool,
    until: u64,
}

struct World {
    stores: [Store; 2],
    config: Config,
    templates: Templates,
    rng: StdRng,
    checks: Vec<(String, usize)>,
    pages: Vec<Page>,
    open: Vec<Option<Open>>,
    entries: u64,
    prunes: Vec<Duration>,
    status_every: Duration,
}

async fn run() -> ExitCode {
    let days = arg("--days", 365);
    let status_every = Duration::from_secs(60 * arg("--status-every-min", 5).max(1));
    let checks = arg("--checks", 10) as usize;
    let dir = tempfile::tempdir().unwrap();
    for (id, name, _) in PARTNERS {
        let page = format!("[status_page]\nkind = \"statuspage\"\nurl = \"http://127.0.0.1:9/{id}/api/v2/summary.json\"\n");
        let text = format!("id = \"{id}\"\nname = \"{name}\"\n\n[[feeds]]\nurl = \"http://127.0.0.1:9/{id}.xml\"\n\n{page}");
        std::fs::create_dir_all(dir.path().join("partners")).unwrap();
        std::fs::write(dir.path().join(format!("partners/{id}.toml")), text).unwrap();
    }
    let config = Config::load_with_env(dir.path(), &|name| (name == "SPARKY_CANARY_URLS").then(String::new)).unwrap();
    let templates = Templates::load(dir.path()).unwrap();
    let open = |name: &str| {
        let url = format!("sqlite://{}?mode=rwc", dir.path().join(name).display());
        async move { Store::open_with(&url, Duration::from_secs(365 * 24 * 3600), true).await.unwrap() }
    };
    let stores = [open("with.db").await, open("without.db").await];
    let checks = (0..checks).map(|i| (format!("{}-check-{i}", PARTNERS[i % PARTNERS.len()].0), i % PARTNERS.len())).collect();
    let mut world = World {
        stores,
        config,
        templates,
        rng: StdRng::seed_from_u64(2026),
        checks,
        pages: PARTNERS.iter().map(|_| Page::default()).collect(),
        open: PARTNERS.iter().map(|_| None).collect(),
        entries: 0,
        prunes: Vec::new(),
        status_every,
    };
    // From here the clock is the simulation's: it moves only when a step says so.
    tokio::time::pause();
    let (_hold, held) = std::sync::mpsc::channel::<()>();
    drop(tokio::task::spawn_blocking(move || {
        let _ = held.recv();
    }));
    let started = Instant::now();
    let retention_cfg = RetentionConfig::default();
    for step in 0..days * u64::from(STEPS_PER_DAY) {
        if step.is_multiple_of(u64::from(STEPS_PER_DAY)) {
            world.day().await;
            let t = Instant::now();
            retention::prune(&world.stores[0], &retention_cfg, Timestamp::now()).await.unwrap();
            world.prunes.push(t.elapsed());
        }
        world.step(step).await;
        tokio::time::advance(STEP).await;
        let day = (step + 1) / u64::from(STEPS_PER_DAY);
        if (step + 1).is_multiple_of(u64::from(STEPS_PER_DAY)) && SAMPLE_DAYS.contains(&day) {
            let (with, without) = (in_use(&world.stores[0]).await, in_use(&world.stores[1]).await);
            println!("day {day:>4}: pages in use {:>10} with retention, {:>10} without", mib(with), mib(without));
        }
    }
    let wall = started.elapsed();
    report(&world, dir.path(), days, wall).await;
    ExitCode::SUCCESS
}

impl World {
    /// The day's check results and job ticks, written at the start of the day (their own times).
    async fn day(&mut self) {
        let start = Timestamp::now();
        let every = Duration::from_secs(300);
        let failing: Vec<String> = self.open.iter().flatten().map(|o| o.check.clone()).collect();
        let mut results = Vec::new();
        for (check, partner) in &self.checks {
            for i in 0..(24 * 3600 / every.as_secs()) as u32 {
                let fail = (failing.contains(check) && i < 12) || self.rng.random_bool(0.002);
                results.push(result(check, PARTNERS[*partner].0, start + every * i, fail, self.rng.random_range(80..900)));
            }
        }
        let batch = Batch { results, ..Batch::default() };
        for store in &self.stores {
            synthetics::write_batch(store, &batch).await.unwrap();
        }
        let mut ticks: Vec<(String, i64)> = Vec::new();
        for (id, _, _) in PARTNERS {
            let polls = (24 * 3600 / self.status_every.as_secs()) as u32;
            ticks.extend((0..polls).map(|i| (format!("status:{id}"), (start + self.status_every * i).as_millis())));
        }
        ticks.extend((0..STEPS_PER_DAY).map(|i| ("changelogs".to_owned(), (start + STEP * i).as_millis())));
        ticks.push(("retention".to_owned(), (start + HOUR * 3).as_millis()));
        for store in &self.stores {
            insert_ticks(store, &ticks).await;
        }
    }

    /// One 6-hour step: page changes and their notices, new changelog entries and their digest,
    /// our incidents opening and resolving, and the delivery of every action.
    async fn step(&mut self, step: u64) {
        let now = Timestamp::now();
        let per_step = |per_day: f64| per_day / f64::from(STEPS_PER_DAY);
        for p in 0..PARTNERS.len() {
            self.page_step(p, step, now, per_step(PAGE_INCIDENTS_PER_DAY), per_step(FLAPS_PER_DAY)).await;
        }
        for (p, (id, _, rate)) in PARTNERS.iter().enumerate() {
            let n = poisson(&mut self.rng, per_step(*rate));
            let entries: Vec<EntryRecord> = (0..n).map(|_| self.entry(p)).collect();
            if entries.is_empty() {
                continue;
            }
            let url = format!("http://127.0.0.1:9/{id}.xml");
            for store in &self.stores {
                changelogs::record_success(store, id, &url, (Some("\"etag\""), None), &entries, |_| true, None).await.unwrap();
            }
        }
        for store in &self.stores {
            sparky::notices::queue(store, &self.config, &self.templates).await.unwrap();
            sparky::digest::queue_digests(store, &self.config, &self.templates).await.unwrap();
        }
        for p in 0..PARTNERS.len() {
            self.incident_step(p, step, now, per_step(INCIDENTS_PER_DAY) / PARTNERS.len() as f64).await;
        }
        for store in &self.stores {
            deliver_all(store).await;
        }
    }

    async fn page_step(&mut self, p: usize, step: u64, now: Timestamp, incident_p: f64, flap_p: f64) {
        let page = &mut self.pages[p];
        let mut events = Vec::new();
        match page.incident.clone() {
            Some((id, until)) if until == step => {
                events.push(StatusEvent::new(EventKind::IncidentResolved, &id, Some("monitoring"), Some("resolved"), detail(&id)));
                events.push(StatusEvent::new(EventKind::Indicator, "", Some("major"), Some("none"), EventDetail::default()));
                page.incident = None;
            }
            Some((id, until)) if until == step + 1 => {
                events.push(StatusEvent::new(EventKind::IncidentUpdated, &id, Some("investigating"), Some("monitoring"), detail(&id)));
            }
            Some(_) => {}
            None if self.rng.random_bool(incident_p) => {
                page.count += 1;
                let id = format!("{}-inc-{}", PARTNERS[p].0, page.count);
                events.push(StatusEvent::new(EventKind::IncidentOpened, &id, None, Some("investigating"), detail(&id)));
                events.push(StatusEvent::new(EventKind::Indicator, "", Some("none"), Some("major"), EventDetail::default()));
                page.incident = Some((id, step + 2));
            }
            None => {}
        }
        match page.flap {
            Some((c, until)) if until == step => {
                events.push(StatusEvent::new(
                    EventKind::Component,
                    &component_name(c),
                    Some("partial_outage"),
                    Some("operational"),
                    EventDetail::default(),
                ));
                page.flap = None;
            }
            Some(_) => {}
            None if self.rng.random_bool(flap_p) => {
                let c = self.rng.random_range(0..COMPONENTS);
                events.push(StatusEvent::new(
                    EventKind::Component,
                    &component_name(c),
                    Some("operational"),
                    Some("partial_outage"),
                    EventDetail::default(),
                ));
                page.flap = Some((c, step + 1));
            }
            None => {}
        }
        if events.is_empty() {
            return;
        }
        let snapshot = snapshot(page);
        let record = PollRecord {
            partner: PARTNERS[p].0,
            at: now,
            fetch: Fetch::Fresh { etag: Some("\"e\"".to_owned()), last_modified: None },
            changed: Some(&snapshot),
            events: &events,
        };
        for store in &self.stores {
            status::record_poll(store, &record).await.unwrap();
        }
    }

    async fn incident_step(&mut self, p: usize, step: u64, now: Timestamp, open_p: f64) {
        match self.open[p].take() {
            Some(open) if open.until == step => {
                for store in &self.stores {
                    resolve(store, &open, now).await;
                }
            }
            Some(open) => self.open[p] = Some(open),
            None if self.rng.random_bool(open_p) => {
                let candidates: Vec<&String> = self.checks.iter().filter(|(_, cp)| *cp == p).map(|(c, _)| c).collect();
                let Some(check) = candidates.first().map(|c| (*c).clone()) else { return };
                let external = self.rng.random_bool(0.4);
                let until = step + self.rng.random_range(1..4);
                let mut id = 0;
                for store in &self.stores {
                    id = open_incident(store, PARTNERS[p].0, &check, external, now).await;
                }
                self.open[p] = Some(Open { id, partner: p, check, external, until });
            }
            None => {}
        }
    }

    fn entry(&mut self, p: usize) -> EntryRecord {
        self.entries += 1;
        let n = self.entries;
        let words = "The endpoint now returns additional fields for paging; the previous behaviour stays available until the \
                     next major version. Apps that parse the response strictly should allow unknown properties. ";
        EntryRecord {
            key: format!("https://example.com/{}/changelog/{n}", PARTNERS[p].0),
            title: format!("{} API change {n}: new fields on list endpoints", PARTNERS[p].1),
            link: Some(format!("https://example.com/{}/changelog/{n}", PARTNERS[p].0)),
            published_at: Some(Timestamp::now()),
            summary: words.chars().cycle().take(self.rng.random_range(150..300)).collect(),
            tags: if n.is_multiple_of(9) { vec!["beta".to_owned()] } else { Vec::new() },
        }
    }
}

fn poisson(rng: &mut StdRng, mean: f64) -> u32 {
    let (l, mut k, mut p) = ((-mean).exp(), 0, 1.0);
    loop {
        p *= rng.random::<f64>();
        if p <= l {
            return k;
        }
        k += 1;
    }
}

const TABLES: [&str; 15] = [
    "check_results",
    "job_runs",
    "status_snapshots",
    "status_events",
    "changelog_entries",
    "changelog_marks",
    "outbox",
    "outbox_keys",
    "incidents",
    "incident_history",
    "incident_checks",
    "check_events",
    "remote_ids",
    "public_incidents",
    "feeds",
];

async fn rows(store: &Store, table: &str) -> i64 {
    sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"))).fetch_one(store.pool()).await.unwrap().try_get(0).unwrap()
}

/// The days after which the pages in use are printed.
const SAMPLE_DAYS: [u64; 8] = [30, 90, 180, 270, 365, 420, 550, 730];

/// Bytes of the pages holding data (the file less its free pages).
async fn in_use(store: &Store) -> u64 {
    let pages = pragma(store, "page_count").await - pragma(store, "freelist_count").await;
    u64::try_from(pages * pragma(store, "page_size").await).unwrap_or(0)
}

async fn pragma(store: &Store, name: &str) -> i64 {
    sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA {name}"))).fetch_one(store.pool()).await.unwrap().try_get(0).unwrap()
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

async fn report(world: &World, dir: &Path, days: u64, wall: Duration) {
    println!(
        "retention_year: {days} simulated days, {} partners, {} checks every 5m, status polls every {}m, {} changelog entries",
        PARTNERS.len(),
        world.checks.len(),
        world.status_every.as_secs() / 60,
        world.entries
    );
    println!("{:<20} {:>14} {:>14}", "rows", "with retention", "without");
    for table in TABLES {
        println!("{table:<20} {:>14} {:>14}", rows(&world.stores[0], table).await, rows(&world.stores[1], table).await);
    }
    let mut sizes = Vec::new();
    for (store, name) in world.stores.iter().zip(["with.db", "without.db"]) {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(store.pool()).await.unwrap();
        let file = std::fs::metadata(dir.join(name)).map(|m| m.len()).unwrap_or(0);
        let wal = std::fs::metadata(dir.join(format!("{name}-wal"))).map(|m| m.len()).unwrap_or(0);
        let used = in_use(store).await;
        let vacuumed = dir.join(format!("vacuumed-{name}"));
        sqlx::query(sqlx::AssertSqlSafe(format!("VACUUM INTO '{}'", vacuumed.display()))).execute(store.pool()).await.unwrap();
        let compact = std::fs::metadata(&vacuumed).map(|m| m.len()).unwrap_or(0);
        sizes.push((file + wal, used, compact));
    }
    let [(with_file, with_used, with_vacuum), (without_file, without_used, without_vacuum)] = [sizes[0], sizes[1]];
    println!("{:<20} {:>14} {:>14}", "file (+WAL)", mib(with_file), mib(without_file));
    println!("{:<20} {:>14} {:>14}", "pages in use", mib(with_used), mib(without_used));
    println!("{:<20} {:>14} {:>14}", "after VACUUM", mib(with_vacuum), mib(without_vacuum));
    let mut prunes = world.prunes.clone();
    prunes.sort();
    let ms = |d: Option<&Duration>| d.map_or(0.0, |d| d.as_secs_f64() * 1000.0);
    println!(
        "daily prune: {} runs, p50 {:.1} ms, max {:.1} ms; simulation wall time {:.1} s",
        prunes.len(),
        ms(prunes.get(prunes.len() / 2)),
        ms(prunes.last()),
        wall.as_secs_f64()
    );
    let undone = outbox::count_undone(&world.stores[0]).await.unwrap();
    assert!(undone.iter().all(|(state, n)| *n == 0 || *state == ActionState::Pending), "every action was delivered: {undone:?}");
}
