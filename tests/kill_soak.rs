//! The kill soak of issue 11: `sparky run` processes against fake Slack, Jira, PagerDuty and
//! Statuspage that make a request's effect and then hold its answer open at random, killed with
//! SIGKILL at random moments 30+ times while changelog entries, partner status changes and check
//! failures and recoveries keep coming. At the end, counted at the fakes: every Slack post of the
//! outbox exactly once (every changelog entry in exactly one digest), one Jira issue per incident,
//! one PagerDuty incident per trigger (per dedup key and episode), one public incident per
//! published Sparky incident with each of its updates once, and no action left undone.
//!
//! `SPARKY_SOAK_SEED` picks another seed (the default one is fixed so a failure can be replayed);
//! `SPARKY_SOAK_KILLS` another number of kills. Each process's log goes to `soak.log` in the
//! test's config dir, whose tail is printed when an assertion fails.

#![allow(unreachable_pub, clippy::unwrap_used)] // test and bench code: a failed unwrap is a failed run

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::process::Child;

use common::fake_feeds::{Served, rss};
use common::world::World;
use sparky::model::ActionState;
use sparky::outbox::Action;
use sparky::outbox::jira::JiraAction;
use sparky::outbox::pagerduty::EventAction;
use sparky::outbox::statuspage::StatuspageAction;
use sparky::store::{Store, outbox};

const RSS: &str = "application/rss+xml";
const CHECKS: [&str; 2] = ["acme-api", "acme-login"];

/// Fast everything: changelogs every 2 s, checks every second, status polls every 10 s (the
/// least allowed), sink timeouts of 2 s under a 3 s lease, short backoffs and breaker.
const SPARKY_TOML: &str = r#"
[http]
retries = 0
timeout = "2s"
[schedules]
changelogs = "*/2 * * * * *"
[changelogs]
backfill = 100
max_new = 100
[slack]
timeout = "2s"
messages_per_second = 20
[jira]
timeout = "2s"
search_lag = "2s"
[pagerduty]
timeout = "2s"
[statuspage]
timeout = "2s"
[outbox]
lease = "3s"
backoff_base = "50ms"
backoff_max = "1s"
breaker_cooldown = "1s"
rate_limits = { pagerduty = 100, jira = 100, statuspage = 100 }
[synthetics]
heartbeat = "300ms"
[triage]
status_timeout = "2s"
"#;

/// The changelog as the partner serves it.
struct Feed {
    entries: Vec<(String, String, String)>,
}

impl Feed {
    fn push(&mut self) -> String {
        let n = self.entries.len() + 1;
        let title = format!("soak-entry-{n:03} released");
        self.entries.push((format!("soak-{n:03}"), title.clone(), format!("Mon, 01 Sep 2025 {:02}:{:02}:00 GMT", 8 + n / 60, n % 60)));
        title
    }

    fn body(&self) -> String {
        let items: Vec<(&str, &str, &str, &str)> =
            self.entries.iter().rev().map(|(g, t, d)| (g.as_str(), t.as_str(), d.as_str(), "<p>What changed.</p>")).collect();
        rss(&items)
    }
}

fn spawn(w: &World, log: &Path) -> Child {
    let file = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
    let mut cmd = w.sparky.command(&["run"]);
    cmd.env("SPARKY_LISTEN", "127.0.0.1:0").stdout(Stdio::null()).stderr(file);
    cmd.spawn().unwrap()
}

fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

async fn count(store: &Store, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned())).fetch_one(store.pool()).await.unwrap()
}

/// What is left to do: (undone actions, open incidents, entries awaiting a digest, all actions).
async fn left(store: &Store) -> (i64, i64, i64, i64) {
    (
        count(store, "SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'retrying', 'blocked', 'dead')").await,
        count(store, "SELECT COUNT(*) FROM incidents WHERE state = 'open'").await,
        count(store, "SELECT COUNT(*) FROM changelog_entries WHERE state = 'pending'").await,
        count(store, "SELECT COUNT(*) FROM outbox").await,
    )
}

fn random_hold(rng: &mut StdRng) -> Option<Duration> {
    rng.random_bool(0.5).then(|| Duration::from_millis(rng.random_range(300..5_000)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one scenario, read top to bottom
async fn killed_at_random_moments_sparky_delivers_every_effect_once_and_leaves_nothing_behind() {
    let started = Instant::now();
    let seed: u64 = std::env::var("SPARKY_SOAK_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(11);
    let kills: usize = std::env::var("SPARKY_SOAK_KILLS").ok().and_then(|s| s.parse().ok()).unwrap_or(34);
    let mut rng = StdRng::seed_from_u64(seed);

    let w = World::new(&[], "").await;
    let mut feed = Feed { entries: Vec::new() };
    let mut titles = vec![feed.push()];
    let feed_url = w.page.serve("/changelog.xml", Served::Body(feed.body(), RSS));
    let page_url = format!("{}/api/v2/summary.json", w.page.server.uri());
    w.sparky.write(
        "partners/acme.toml",
        &format!(
            "id = \"acme\"\nname = \"Acme Cloud\"\n[[feeds]]\nurl = \"{feed_url}\"\n[status_page]\nkind = \"statuspage\"\nurl = \"{page_url}\"\ncomponents = [\"API\"]\ninterval = \"10s\"\n[public_status]\ncomponent_id = \"cmp-acme\"\n"
        ),
    );
    for id in CHECKS {
        w.sparky.write(
            &format!("synthetics/{id}.toml"),
            &format!("id = \"{id}\"\npartner = \"acme\"\nurl = \"{}/api?check={id}\"\ninterval = \"1s\"\nconfirm_after = \"50ms\"\ntimeout = \"1s\"\n", w.api.uri()),
        );
    }
    w.sparky.write("sparky.toml", SPARKY_TOML);
    w.sparky.cli(&["check-config"]).await.expect_code(0);
    let log: PathBuf = w.sparky.path().join("soak.log");

    let (mut api_failing, mut page_down) = (false, false);
    let (mut flips_api, mut flips_page) = (0, 0);
    for _ in 0..kills {
        // The fakes make the next effect at once and hold its answer, at random.
        if let Some(d) = random_hold(&mut rng) {
            w.slack.hold_next_post(d);
        }
        if let Some(d) = random_hold(&mut rng) {
            w.jira.hold_next_create(d);
        }
        if let Some(d) = random_hold(&mut rng) {
            w.pagerduty.hold_next_event(d);
        }
        if let Some(d) = random_hold(&mut rng) {
            w.statuspage.hold_next_write(d);
        }
        let mut child = spawn(&w, &log);
        let life = rng.random_range(300..3_000);
        let change_at = rng.random_range(0..life);
        tokio::time::sleep(Duration::from_millis(change_at)).await;
        // The world goes on while Sparky runs: a new entry, the API failing or recovering, the
        // partner's page declaring or ending an outage.
        if rng.random_bool(0.8) {
            titles.push(feed.push());
            w.page.serve("/changelog.xml", Served::Body(feed.body(), RSS));
        }
        if rng.random_bool(0.3) {
            api_failing = !api_failing;
            flips_api += 1;
            w.partner_api(if api_failing { 500 } else { 200 });
        }
        if rng.random_bool(0.2) {
            page_down = !page_down;
            flips_page += 1;
            if page_down { w.partner_page("major", "major_outage", true) } else { w.partner_page("none", "operational", false) }
        }
        tokio::time::sleep(Duration::from_millis(life - change_at)).await;
        child.start_kill().unwrap();
        child.wait().await.unwrap();
    }
    let soak_time = started.elapsed();

    // Everything recovers; one last run, not killed, until nothing is left to do.
    w.slack.hold_next_post(Duration::ZERO);
    w.jira.hold_next_create(Duration::ZERO);
    w.pagerduty.hold_next_event(Duration::ZERO);
    w.statuspage.hold_next_write(Duration::ZERO);
    w.partner_api(200);
    w.partner_page("none", "operational", false);
    let url = format!("sqlite://{}", w.sparky.sqlite_path().display());
    let store = Store::open(&url).await.unwrap();
    let mut child = spawn(&w, &log);
    let deadline = Instant::now() + Duration::from_secs(120);
    let (mut last, mut stable_since) = ((-1, -1, -1, -1), Instant::now());
    loop {
        let now = left(&store).await;
        if now != last {
            (last, stable_since) = (now, Instant::now());
        }
        // Settled: nothing undone, no incident open, no entry waiting, and no new action for
        // longer than a status poll interval.
        if (now.0, now.1, now.2) == (0, 0, 0) && stable_since.elapsed() > Duration::from_secs(12) {
            break;
        }
        assert!(Instant::now() < deadline, "not settled within 120 s: {now:?}\n{}", tail(&log));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    child.start_kill().unwrap();
    child.wait().await.unwrap();

    // The ledger: every action Sparky meant to take.
    let rows = outbox::list(&store, ActionState::ALL, 100_000).await.unwrap();
    let left_behind: Vec<String> = rows
        .iter()
        .filter(|r| r.state != ActionState::Delivered)
        .map(|r| format!("{} {} {} {:?}", r.id, r.idempotency_key, r.state, r.last_error))
        .collect();
    let actions: Vec<(String, Action)> =
        rows.iter().map(|r| (r.idempotency_key.clone(), serde_json::from_str(&r.payload).unwrap())).collect();

    // Slack: each post of the outbox exactly once, nothing posted that is not in it.
    let posted = w.slack.posted();
    let mut per_key: BTreeMap<String, usize> = BTreeMap::new();
    for p in &posted {
        *per_key.entry(p.key.clone().unwrap_or_default()).or_default() += 1;
    }
    let slack_keys: BTreeSet<&str> = actions.iter().filter(|(_, a)| matches!(a, Action::SlackPost(_))).map(|(k, _)| k.as_str()).collect();
    let slack_twice: Vec<(&String, &usize)> = per_key.iter().filter(|(_, n)| **n > 1).collect();
    let slack_missing: Vec<&&str> = slack_keys.iter().filter(|k| !per_key.contains_key(**k)).collect();
    let slack_stray: Vec<&String> = per_key.keys().filter(|k| !slack_keys.contains(k.as_str())).collect();
    // Every changelog entry in exactly one posted digest.
    let texts: Vec<String> = posted.iter().map(common::fake_slack::Post::all_text).collect();
    let entry_counts: Vec<(&String, usize)> = titles.iter().map(|t| (t, texts.iter().filter(|x| x.contains(t.as_str())).count())).collect();
    let entries_not_once: Vec<&(&String, usize)> = entry_counts.iter().filter(|(_, n)| *n != 1).collect();

    // Jira: one issue per incident, found by its fingerprint label.
    let incidents = count(&store, "SELECT COUNT(*) FROM incidents").await;
    let created = w.jira.created();
    let fingerprints: Vec<&str> = actions
        .iter()
        .filter_map(|(_, a)| match a {
            Action::Jira(JiraAction::Create { fingerprint, .. }) => Some(fingerprint.as_str()),
            _ => None,
        })
        .collect();
    let jira_not_once: Vec<(&str, usize)> = fingerprints
        .iter()
        .map(|f| (*f, created.iter().filter(|i| i.labels().iter().any(|l| l == f)).count()))
        .filter(|(_, n)| *n != 1)
        .collect();

    // PagerDuty, as it would see the events: a trigger opens an incident unless its dedup key's
    // is open; a resolve closes it. One PagerDuty incident per trigger Sparky meant, none open.
    let triggers = actions.iter().filter(|(_, a)| matches!(a, Action::PagerDuty(e) if e.action == EventAction::Trigger)).count();
    let (mut pd_incidents, mut pd_open) = (0, BTreeSet::new());
    let mut pd_deduplicated = 0;
    for event in w.pagerduty.accepted() {
        let key = event["dedup_key"].as_str().unwrap_or_default().to_owned();
        match event["event_action"].as_str() {
            Some("trigger") if pd_open.insert(key.clone()) => pd_incidents += 1,
            Some("trigger") => pd_deduplicated += 1,
            Some("resolve") => {
                pd_open.remove(&key);
            }
            _ => {}
        }
    }

    // Statuspage: one public incident per published Sparky incident, each update once.
    let mut expected_updates: BTreeMap<String, usize> = BTreeMap::new();
    let mut opened: BTreeMap<String, usize> = BTreeMap::new();
    for (_, a) in &actions {
        if let Action::Statuspage(s) = a {
            let key = match s {
                StatuspageAction::OpenIncident { incident, .. } => {
                    *opened.entry(incident.clone()).or_default() += 1;
                    incident
                }
                StatuspageAction::UpdateIncident { incident, .. } | StatuspageAction::ResolveIncident { incident, .. } => incident,
                StatuspageAction::Component(_) => continue,
            };
            *expected_updates.entry(key.clone()).or_default() += 1;
        }
    }
    let public = w.statuspage.incidents();
    let mut public_per_key: BTreeMap<String, usize> = BTreeMap::new();
    let (mut duplicated_updates, mut missing_updates, mut repeated_in_a_row) = (0, 0, 0);
    for incident in &public {
        let key = incident["metadata"]["sparky"]["incident"].as_str().unwrap_or_default().to_owned();
        *public_per_key.entry(key.clone()).or_default() += 1;
        let updates = incident["incident_updates"].as_array().unwrap();
        let expected = expected_updates.get(&key).copied().unwrap_or(0);
        duplicated_updates += updates.len().saturating_sub(expected);
        missing_updates += expected.saturating_sub(updates.len());
        repeated_in_a_row +=
            updates.windows(2).filter(|pair| (&pair[0]["body"], &pair[0]["status"]) == (&pair[1]["body"], &pair[1]["status"])).count();
    }
    let public_not_once: Vec<(&String, usize)> =
        opened.keys().map(|k| (k, public_per_key.get(k).copied().unwrap_or(0))).filter(|(_, n)| *n != 1).collect();

    // That the kills did land mid-delivery: actions attempted again, earlier attempts looked up.
    let retaken = rows.iter().filter(|r| r.attempts > 1).count();
    let exercised = format!(
        "{retaken} actions attempted more than once; {} Slack post attempts, {} history look-ups; {} Jira create attempts; {} PagerDuty events; {} Statuspage requests",
        w.slack.attempts().len(),
        w.slack.history_calls(),
        w.jira.create_attempts(),
        w.pagerduty.events().len(),
        w.statuspage.requests(),
    );
    println!(
        "kill soak (seed {seed}): {kills} kills in {:.0} s ({flips_api} API flips, {flips_page} page flips), settled after {:.0} s in all; \
         {} digest entries, {} posted once each; {} Slack posts for {} Slack actions ({} twice, {} missing, {} stray); \
         {incidents} incidents, {} Jira issues ({} creates, {} not exactly once); \
         {triggers} PagerDuty triggers meant, {pd_incidents} PagerDuty incidents ({pd_deduplicated} re-sent triggers deduplicated, {} left open); \
         {} public incidents for {} published incidents ({} not exactly once), {duplicated_updates} duplicated updates, {missing_updates} missing, {repeated_in_a_row} repeated in a row; \
         {} actions in the outbox, {} left undone; {exercised}",
        soak_time.as_secs_f64(),
        started.elapsed().as_secs_f64(),
        titles.len(),
        entry_counts.iter().filter(|(_, n)| *n == 1).count(),
        posted.len(),
        slack_keys.len(),
        slack_twice.len(),
        slack_missing.len(),
        slack_stray.len(),
        created.len(),
        fingerprints.len(),
        jira_not_once.len(),
        pd_open.len(),
        public.len(),
        opened.len(),
        public_not_once.len(),
        rows.len(),
        left_behind.len(),
    );

    let log_tail = tail(&log);
    assert!(retaken > 0, "no kill landed during a delivery: {exercised}");
    assert!(left_behind.is_empty(), "actions not delivered: {left_behind:#?}\n{log_tail}");
    assert!(
        slack_twice.is_empty() && slack_missing.is_empty() && slack_stray.is_empty(),
        "Slack: twice {slack_twice:?}, missing {slack_missing:?}, stray {slack_stray:?}"
    );
    assert!(entries_not_once.is_empty(), "changelog entries not posted exactly once: {entries_not_once:?}");
    assert_eq!(fingerprints.len(), usize::try_from(incidents).unwrap(), "one Jira create per incident");
    assert!(
        jira_not_once.is_empty() && created.len() == fingerprints.len(),
        "Jira issues per incident: {jira_not_once:?}, {} created",
        created.len()
    );
    assert_eq!(pd_incidents, triggers, "one PagerDuty incident per trigger: {:#?}", w.pagerduty.accepted());
    assert!(pd_open.is_empty(), "PagerDuty incidents left open: {pd_open:?}");
    assert!(public_not_once.is_empty() && public.len() == opened.len(), "public incidents: {public_not_once:?} of {}", public.len());
    assert_eq!((duplicated_updates, missing_updates, repeated_in_a_row), (0, 0, 0), "public updates: {public:#?}");
    w.no_spec_violations();
    store.close().await;
}
