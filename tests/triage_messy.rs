//! Triage on a partner's bad day, end to end on loopback (issue 10): a status page that cannot
//! be read while an incident is open, partner news about components we do not use, a template
//! mistake, a lost egress under `once`, two triagers racing for one partner, and cron ticks
//! across two daemons and a restart.

#![allow(unreachable_pub, clippy::unwrap_used)] // test and bench code: a failed unwrap is a failed run

mod common;

use serde_json::json;

use common::fake_feeds::{FakeFeeds, Served, rss};
use common::fake_slack::FakeSlack;
use common::world::World;
use common::{Db, Sparky, eventually_async, fresh_postgres, postgres_url};
use sparky::model::{CheckState, Timestamp};
use sparky::service::App;
use sparky::service::jobs::{self, Handover};
use sparky::store::Store;
use sparky::store::synthetics::{Batch, EventRow, write_batch};

const PAGE: &str = "/api/v2/summary.json";

fn jira_comments(w: &World) -> Vec<String> {
    w.jira.created().first().map(|i| w.jira.comments(&i.key)).unwrap_or_default()
}

#[tokio::test]
async fn an_unreadable_page_never_flips_an_external_incident_and_paging_needs_two_readable_polls() {
    let w = World::new(&["acme-api"], "").await;
    w.partner_api(503);
    w.partner_page("major", "major_outage", true);
    let out = w.once("synthetics").await;
    assert!(out.contains("\"cause\":\"external\""), "{out}");
    assert_eq!(w.statuspage.incidents()[0]["impact_override"], "major", "the partner says major: so do we");

    // The partner's page answers 500 for three polls while our check still fails.
    w.page.serve(PAGE, Served::Status(500));
    for _ in 0..3 {
        w.once("status").await;
    }
    assert!(w.pagerduty.events().is_empty(), "unknown is not evidence: nobody paged");
    let public = w.statuspage.incidents();
    assert_eq!(public.len(), 1);
    assert_eq!(public[0]["status"], "identified", "customers are not told the partner recovered: {public:?}");
    let unknown: Vec<String> = jira_comments(&w).into_iter().filter(|c| c.contains("partner status unknown")).collect();
    assert_eq!(unknown.len(), 1, "Jira hears it once: {:?}", jira_comments(&w));
    let slack_unknown = w.slack.posted().iter().filter(|p| p.all_text().contains("partner status unknown")).count();
    assert_eq!(slack_unknown, 1, "Slack hears it once");

    // The page comes back with the incident resolved while we still fail: internal after the
    // second readable poll, one page, carrying the failure.
    w.partner_page("none", "operational", false);
    w.once("status").await;
    assert!(w.pagerduty.events().is_empty(), "one readable poll is not enough to page");
    w.once("status").await;
    let triggers = w.pages("trigger");
    assert_eq!(triggers.len(), 1, "paged once after the second readable poll");
    assert!(triggers[0]["payload"]["summary"].as_str().unwrap().contains("503"), "the page says what fails: {}", triggers[0]);
    w.once("status").await;
    assert_eq!(w.pages("trigger").len(), 1, "and only once");
    let issue = &w.jira.created()[0];
    assert!(issue.labels().contains(&"internal".to_owned()) && !issue.labels().contains(&"external".to_owned()), "{:?}", issue.labels());
    assert!(issue.fields["summary"].as_str().unwrap().contains("(internal cause)"), "{}", issue.fields["summary"]);
    assert_eq!(w.statuspage.incidents()[0]["status"], "investigating", "customers hear our side is still affected");

    let listing = w.sparky.cli(&["incidents"]).await.stdout;
    for expected in ["status_unknown", "status_readable", "cause_held", "cause_changed", "[indicator none; API operational"] {
        assert!(listing.contains(expected), "`sparky incidents` shows {expected}:\n{listing}");
    }
    w.no_spec_violations();
}

#[tokio::test]
async fn partner_news_about_components_we_do_not_use_leaves_the_cause_ours() {
    let w = World::new(&["acme-api"], "").await;
    let page = json!({
        "page": {"id": "acme"},
        "status": {"indicator": "maintenance", "description": "Service Under Maintenance"},
        "components": [{"id": "c1", "name": "API", "status": "operational"}, {"id": "c2", "name": "Codespaces", "status": "under_maintenance"}],
        "incidents": [{"id": "n1", "name": "Heads-up: new login page", "status": "monitoring", "impact": "none", "components": []}],
        "scheduled_maintenances": [{"id": "m1", "name": "Codespaces upgrade", "status": "in_progress", "impact": "maintenance",
            "components": [{"name": "Codespaces"}]}]
    });
    w.page.serve(PAGE, Served::Body(page.to_string(), "application/json"));
    w.partner_api(500);
    let out = w.once("synthetics").await;
    assert!(out.contains("\"cause\":\"internal\""), "{out}");
    assert_eq!(w.pages("trigger").len(), 1, "on-call is paged");
    let listing = w.sparky.cli(&["incidents"]).await.stdout;
    assert!(listing.contains("ignored n1, m1"), "the evidence names what was not counted:\n{listing}");
}

#[tokio::test]
async fn a_template_mistake_is_a_config_problem_and_never_blocks_a_page() {
    let w = World::new(&["acme-api"], "").await;
    w.sparky.write("templates/slack/incident.txt.j2", "{{ partner.nmae }} is failing");
    let check = w.sparky.cli(&["check-config"]).await;
    check.expect_code(2);
    assert!(check.stdout.contains("templates/slack/incident.txt.j2: line 1: undefined value"), "{}", check.stdout);

    w.partner_api(500);
    w.once("synthetics").await;
    assert_eq!(w.pages("trigger").len(), 1, "the page goes out");
    assert_eq!(w.jira.created().len(), 1, "the incident opens");
    let texts: Vec<String> = w.slack.posted().iter().map(|p| p.body["text"].as_str().unwrap_or_default().to_owned()).collect();
    assert!(texts.contains(&"Acme Cloud: acme-api failing, internal cause".to_owned()), "the default text: {texts:?}");
    let metrics = sparky::metrics::METRICS.render();
    assert!(metrics.contains("sparky_template_failures_total{template=\"slack/incident.txt.j2\"}"), "counted:\n{metrics}");
}

#[tokio::test]
async fn once_runs_reprobe_a_lost_egress_and_triage_the_checks_that_failed_meanwhile() {
    let w = World::new(&["acme-api"], "").await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dead = format!("http://127.0.0.1:{closed}/");
    let mut config = w.sparky.config();
    config.global.connectivity.canaries = [dead.as_str(); 3].iter().map(|u| u.parse().unwrap()).collect();
    let offline = App::start(config).await.unwrap();
    w.partner_api(500);
    jobs::synthetics(&offline, None, Handover::Drain).await.unwrap();
    offline.store.close().await;
    assert_eq!(w.pages("trigger").iter().map(|e| e["dedup_key"].clone()).collect::<Vec<_>>(), [json!("sparky-egress")]);

    // The network is back; the check still fails and changes no state: the next `once` run
    // resolves the egress alert and triages it.
    let out = w.once("synthetics").await;
    assert!(w.pages("resolve").iter().any(|e| e["dedup_key"] == "sparky-egress"), "egress alert resolved");
    assert!(out.contains("\"decision\":\"opened\""), "{out}");
    assert_eq!(w.pages("trigger").iter().filter(|e| e["dedup_key"] == "acme-api").count(), 1);
}

#[tokio::test]
async fn two_triagers_racing_for_one_partner_open_one_incident() {
    let Some(admin) = postgres_url("two_triagers_racing_for_one_partner_open_one_incident") else { return };
    let db = fresh_postgres(&admin).await;
    let w = World::on(Db::Postgres(db), &["acme-api", "acme-login"], "").await;
    // Both checks turn failing at once, their events stored; nobody triaged yet.
    let (a, b) = (w.sparky.app().await, w.sparky.app().await);
    let event = |check: &str| EventRow {
        check_id: check.into(),
        partner_id: "acme".into(),
        at: Timestamp::now(),
        from: CheckState::Healthy,
        to: CheckState::Failing,
        warn: None,
    };
    write_batch(&a.store, &Batch { results: vec![], states: vec![], events: vec![event("acme-api"), event("acme-login")] }).await.unwrap();
    let (ta, tb) = (a.triage().unwrap(), b.triage().unwrap());
    let (da, db) = tokio::join!(ta.run_pending(), tb.run_pending());
    let opened = da.iter().chain(&db).filter(|(_, d)| matches!(d, sparky::triage::Decision::Opened { .. })).count();
    assert_eq!(opened, 1, "one incident: {da:?} {db:?}");
    let listing = w.sparky.cli(&["incidents"]).await.stdout;
    let rows: Vec<&str> = listing.lines().skip(1).take_while(|l| !l.is_empty()).collect();
    assert_eq!(rows.len(), 1, "one incident row: {listing}");
    assert!(rows[0].contains("acme-api,acme-login") || rows[0].contains("acme-login,acme-api"), "{listing}");
}

#[tokio::test]
async fn two_daemons_and_a_restart_run_each_cron_tick_once() {
    let feeds = FakeFeeds::start().await;
    let slack = FakeSlack::start().await;
    let url =
        feeds.serve("/feed.xml", Served::Body(rss(&[("a", "First", "Mon, 23 Nov 2026 10:00:00 GMT", "<p>x</p>")]), "application/rss+xml"));
    let sparky = Sparky::new(Db::Sqlite).slack(&slack.api_url()).env("SPARKY_CANARY_URLS", "");
    sparky.partner("acme", "Acme", &[&url]);
    sparky.write("sparky.toml", "[schedules]\nchangelogs = \"*/2 * * * * *\"\n[http]\nretries = 0\n");
    let ticks = |sparky: &Sparky| {
        let url = format!("sqlite://{}", sparky.sqlite_path().display());
        async move {
            let store = Store::open(&url).await.unwrap();
            let n: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM job_runs WHERE job = 'changelogs'").fetch_one(store.pool()).await.unwrap();
            store.close().await;
            n
        }
    };
    let (first, second) = (sparky.boot().await, sparky.boot().await);
    assert!(eventually_async(20, || async { ticks(&sparky).await >= 3 }).await, "ticks ran");
    first.stop().await;
    let restarted = sparky.boot().await;
    let before = ticks(&sparky).await;
    assert!(eventually_async(20, || async { ticks(&sparky).await >= before + 3 }).await, "ticks ran after the restart");
    restarted.stop().await;
    second.stop().await;
    let fetches = feeds.requests("/feed.xml").await.len();
    let claimed = usize::try_from(ticks(&sparky).await).unwrap();
    assert!(fetches <= claimed, "a tick ran twice: {fetches} fetches for {claimed} ticks");
    assert!(fetches + 2 >= claimed, "every claimed tick ran (at most the two stops cut one short): {fetches} of {claimed}");
}
