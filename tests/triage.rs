//! Triage and the incident lifecycle end to end, in-process against a fake partner API, a fake
//! partner status page, and fake Slack, Jira, PagerDuty and Statuspage servers, every request
//! checked against the vendors' OpenAPI descriptions.

#![allow(unreachable_pub, clippy::unwrap_used)] // test and bench code: a failed unwrap is a failed run

mod common;

use std::time::Duration;

use common::fake_slack::Reply;
use common::world::World;
use common::{eventually, time_travel};
use sparky::model::ActionState;
use sparky::service::App;
use sparky::service::jobs::{self, Handover};
use sparky::store::outbox;

#[tokio::test]
async fn a_partner_outage_on_its_status_page_updates_our_status_page_and_pages_nobody() {
    let w = World::new(&["acme-api"], "").await;
    w.partner_api(503);
    w.partner_page("major", "major_outage", true);
    let out = w.once("synthetics").await;
    assert!(out.contains("\"decision\":\"opened\"") && out.contains("\"cause\":\"external\""), "{out}");
    assert!(w.pagerduty.events().is_empty(), "no page");
    assert_eq!(w.statuspage.component_updates(), vec![("cmp-acme".to_owned(), "major_outage".to_owned())]);
    let incidents = w.statuspage.incidents();
    assert_eq!(incidents.len(), 1);
    let body = incidents[0].to_string();
    assert!(body.contains("Acme Cloud") && body.contains("https://stspg.io/p1"), "names the partner and links its incident: {body}");
    let issues = w.jira.created();
    assert_eq!(issues.len(), 1);
    assert!(issues[0].labels().contains(&"external".to_owned()));
    assert_eq!(issues[0].fields["priority"]["name"], "P4");
    assert!(w.slack.posted().iter().any(|p| p.all_text().contains("Cause: external")));
    w.no_spec_violations();
}

#[tokio::test]
async fn a_failure_with_the_partner_all_green_pages_on_call_and_opens_a_p4_incident() {
    let w = World::new(&["acme-api"], "").await;
    w.partner_api(500);
    w.once("synthetics").await;
    let triggers = w.pages("trigger");
    assert_eq!(triggers.len(), 1);
    assert_eq!(triggers[0]["dedup_key"], "acme-api", "dedup_key = the check");
    assert_eq!(triggers[0]["payload"]["severity"], "warning");
    assert_eq!(w.jira.created().len(), 1);
    assert_eq!(w.jira.created()[0].fields["priority"]["name"], "P4");
    assert!(w.jira.created()[0].labels().contains(&"internal".to_owned()));
    assert!(w.statuspage.component_updates().is_empty() && w.statuspage.incidents().is_empty(), "our status page untouched");
    w.no_spec_violations();
}

#[tokio::test]
async fn a_late_partner_incident_flips_internal_to_external_and_recovery_resolves_everything() {
    let w = World::new(&["acme-api"], "").await;
    w.partner_api(500);
    w.once("synthetics").await;
    assert_eq!(w.pages("trigger").len(), 1);

    // The partner posts its incident 20 minutes late: the next status poll changes the cause.
    w.partner_page("major", "partial_outage", true);
    w.once("status").await;
    assert_eq!(w.pages("resolve").len(), 1, "the page is resolved");
    assert_eq!(w.statuspage.component_updates(), vec![("cmp-acme".to_owned(), "partial_outage".to_owned())]);
    assert_eq!(w.statuspage.incidents().len(), 1);
    let key = w.jira.created()[0].key.clone();
    assert!(w.jira.comments(&key).iter().any(|c| c.contains("Cause changed to external")), "{:?}", w.jira.comments(&key));

    w.partner_api(200);
    w.partner_page("none", "operational", false);
    w.once("synthetics").await;
    assert_eq!(w.jira.transitions_done(&key), vec!["31"], "Jira resolved");
    assert_eq!(w.jira.issue_status(&key).as_deref(), Some("Done"));
    assert_eq!(w.statuspage.component_updates().last().map(|(_, s)| s.as_str()), Some("operational"));
    assert_eq!(w.statuspage.incidents()[0]["status"], "resolved");
    assert!(w.slack.posted().iter().any(|p| p.all_text().contains("recovered after")));
    assert_eq!(w.pages("trigger").len(), 1, "never paged twice");
    let incidents = w.sparky.cli(&["incidents"]).await.stdout;
    assert!(incidents.contains("acme     resolved  external"), "{incidents}");
    w.no_spec_violations();
}

#[tokio::test]
async fn two_checks_of_one_partner_make_one_incident() {
    let w = World::new(&["acme-api", "acme-login"], "").await;
    w.partner_api(500);
    let out = w.once("synthetics").await;
    assert_eq!(out.matches("\"decision\":\"opened\"").count(), 1, "{out}");
    assert_eq!(out.matches("\"decision\":\"attached\"").count(), 1, "{out}");
    assert_eq!(w.jira.created().len(), 1);
    assert_eq!(w.pages("trigger").len(), 1);
    let key = w.jira.created()[0].key.clone();
    assert!(w.jira.comments(&key).iter().any(|c| c.contains("is failing too")));
    w.partner_api(200);
    w.once("synthetics").await;
    assert_eq!(w.pages("resolve").len(), 1);
    assert_eq!(w.jira.transitions_done(&key).len(), 1);
}

#[tokio::test]
async fn jira_failing_three_times_then_answering_makes_exactly_one_issue() {
    // Searched at once after each 500 (the search lag has its own test in delivery_edges.rs).
    let w = World::new(&["acme-api"], "attempts_per_run = 5\n[jira]\nsearch_lag = \"0s\"\n").await;
    w.jira.fail_creates(3, 500);
    w.partner_api(500);
    w.once("synthetics").await;
    assert_eq!(w.jira.create_attempts(), 4);
    assert_eq!(w.jira.created().len(), 1);
    w.once("deliver").await;
    assert_eq!(w.jira.created().len(), 1);
}

#[tokio::test]
async fn a_process_killed_between_jiras_201_and_the_database_update_still_makes_one_issue() {
    let w = World::new(&["acme-api"], "lease = \"3s\"\n[slack]\ntimeout = \"2s\"\n[jira]\ntimeout = \"1s\"\nsearch_lag = \"0s\"\n").await;
    w.jira.hold_next_create(Duration::from_secs(30));
    w.partner_api(500);
    let app = w.sparky.app().await;
    let job = tokio::spawn({
        let app = app.clone();
        async move { jobs::synthetics(&app, None, Handover::Drain).await }
    });
    assert!(eventually(30, || w.jira.create_attempts() == 1).await, "Jira got the create");
    // Killed: the job stops where it is, its leases stay in the database.
    job.abort();
    assert!(job.await.unwrap_err().is_cancelled());
    assert_eq!(w.jira.created().len(), 1, "Jira created the issue; Sparky never recorded it");
    time_travel(Duration::from_secs(4)).await;
    w.once("deliver").await;
    assert_eq!(w.jira.create_attempts(), 1, "found by its fingerprint, not created again");
    let rows = outbox::list(&app.store, ActionState::ALL, 100).await.unwrap();
    assert!(rows.iter().any(|r| r.sink.as_str() == "jira" && r.state == ActionState::Delivered), "{rows:?}");
    let incidents = w.sparky.cli(&["incidents"]).await.stdout;
    assert!(incidents.contains("jira=OPS-1"), "the key is kept: {incidents}");
}

#[tokio::test]
async fn slack_retry_after_is_honoured_for_incident_messages() {
    let w = World::new(&["acme-api"], "").await;
    w.slack.script([Reply::RateLimited(2)]);
    w.partner_api(500);
    let started = std::time::Instant::now();
    w.once("synthetics").await;
    let posted = w.slack.posted();
    assert_eq!(posted.len(), 1);
    assert!(started.elapsed() >= Duration::from_secs(2), "waited for Retry-After: 2");
    assert_eq!(w.slack.attempts().len(), 2);
}

#[tokio::test]
async fn a_sink_down_longer_than_the_retry_budget_goes_to_the_dead_letter_and_outbox_retry_delivers_it() {
    common::crypto();
    let w = World::new(&["acme-api"], "max_attempts = 2\nattempts_per_run = 1\nbackoff_max = \"100ms\"\n").await;
    // Down for both attempts the budget allows, then back.
    w.pagerduty.script([503, 503]);
    w.partner_api(500);
    // The first attempt fails in the run; the daemon's worker makes the last one.
    w.once("synthetics").await;
    let daemon = w.sparky.boot().await;
    let mut metrics = String::new();
    for _ in 0..150 {
        metrics = daemon.get("/metrics").await.1;
        if metrics.contains("sparky_outbox_dead_letters_total{sink=\"pagerduty\"} 1") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(metrics.contains("sparky_outbox_dead_letters_total{sink=\"pagerduty\"} 1"), "dead letter counted:\n{metrics}");
    daemon.stop().await;

    let listing = w.sparky.cli(&["outbox"]).await.stdout;
    let dead = listing.lines().find(|l| l.contains("pagerduty  dead")).unwrap_or_else(|| panic!("{listing}"));
    let id = dead.split_whitespace().next().unwrap();
    assert!(w.pagerduty.accepted().is_empty());
    w.sparky.cli(&["outbox", "retry", id]).await.expect_code(0);
    w.once("deliver").await;
    assert_eq!(w.pages("trigger").len(), 1, "delivered after the retry");
    let after = w.sparky.cli(&["outbox"]).await.stdout;
    assert!(!after.contains(" dead "), "{after}");
}

#[tokio::test]
async fn without_egress_no_partner_is_blamed_and_one_alert_is_raised() {
    let w = World::new(&["acme-api", "acme-login"], "").await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dead = format!("http://127.0.0.1:{closed}/");
    let mut config = w.sparky.config();
    config.global.connectivity.canaries =
        [dead.clone(), dead, format!("{}/canary", w.api.uri())].iter().map(|u| u.parse().unwrap()).collect();
    let offline = App::start(config).await.unwrap();
    w.partner_api(500);
    let run = jobs::synthetics(&offline, None, Handover::Drain).await.unwrap();
    let stdout = serde_json::to_string(&run).unwrap();
    assert_eq!(stdout.matches("\"decision\":\"suppressed\"").count(), 2, "{stdout}");
    let triggers = w.pages("trigger");
    assert_eq!(triggers.len(), 1, "one egress alert, not one per check");
    assert_eq!(triggers[0]["dedup_key"], "sparky-egress");
    assert!(w.jira.created().is_empty(), "no partner incident");

    // Egress is back: the alert is resolved and the failing checks are triaged for real.
    let daemon = w.sparky.boot().await;
    assert!(eventually(45, || w.pages("resolve").iter().any(|e| e["dedup_key"] == "sparky-egress")).await, "egress alert resolved");
    assert!(eventually(15, || w.jira.created().len() == 1).await, "the partner incident opens once egress is back");
    daemon.stop().await;
}
