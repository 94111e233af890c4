//! Delivery at its edges (issue 11), in-process against fakes on loopback: Slack errors no retry
//! fixes, a success in an unexpected shape, a post found after an uncertain attempt that a later
//! edit needs, chains held by a dead action.

#![allow(unreachable_pub, clippy::unwrap_used)] // test and bench code: a failed unwrap is a failed run

mod common;

use std::time::Duration;

use common::fake_feeds::{FakeFeeds, Served, rss};
use common::fake_slack::{FakeSlack, Reply};
use common::world::World;
use common::{Db, Sparky, eventually, time_travel};
use sparky::model::ActionState;
use sparky::service::jobs::{self, Handover};
use sparky::store::outbox;

const RSS: &str = "application/rss+xml";

async fn digest_setup() -> (Sparky, FakeFeeds, FakeSlack) {
    let feeds = FakeFeeds::start().await;
    let slack = FakeSlack::start().await;
    let url = feeds.serve("/feed.xml", Served::Body(rss(&[("e1", "SDK 1.0", "Mon, 01 Sep 2025 10:00:00 GMT", "<p>x</p>")]), RSS));
    let sparky = Sparky::new(Db::Sqlite).slack(&slack.api_url());
    sparky.partner("acme", "Acme Cloud", &[&url]);
    sparky.write(
        "sparky.toml",
        "[slack]\ntimeout = \"2s\"\n[outbox]\nlease = \"3s\"\nbackoff_base = \"50ms\"\nmax_wait_per_run = \"5s\"\n[http]\nretries = 0\n",
    );
    (sparky, feeds, slack)
}

#[tokio::test]
async fn a_slack_error_no_retry_fixes_goes_dead_at_once_and_says_what_to_do() {
    let (sparky, _feeds, slack) = digest_setup().await;
    slack.script([Reply::NotOk("not_in_channel")]);
    let run = sparky.changelogs().await;
    let delivery = run.delivery.unwrap();
    assert_eq!((delivery.dead, delivery.retrying), (1, 0), "dead at once, not retried for half an hour");
    assert_eq!(slack.attempts().len(), 1);
    let app = sparky.app().await;
    let dead = outbox::list(&app.store, &[ActionState::Dead], 10).await.unwrap();
    let error = dead[0].last_error.clone().unwrap();
    assert!(error.contains("not_in_channel") && error.contains("invite it there"), "{error}");
    // Invited at last: a retry delivers it.
    assert!(outbox::requeue(&app.store, dead[0].id).await.unwrap());
    assert_eq!(sparky.deliver().await.delivered, 1);
    assert_eq!(slack.posted().len(), 1);
}

#[tokio::test]
async fn a_success_without_the_message_field_is_a_delivery_posted_once() {
    let (sparky, _feeds, slack) = digest_setup().await;
    slack.script([Reply::OkWithoutMessage]);
    let run = sparky.changelogs().await;
    assert_eq!(run.delivery.unwrap().delivered, 1);
    sparky.deliver().await;
    assert_eq!(slack.attempts().len(), 1, "read as the success it is: not posted again");
}

#[tokio::test]
async fn a_post_found_after_an_uncertain_attempt_can_still_be_edited() {
    let w = World::new(&["acme-api"], "").await;
    w.partner_api(500);
    // The incident's Slack message is posted but its answer never comes: the job is killed.
    w.slack.script([Reply::Hold(Duration::from_secs(30))]);
    let app = w.sparky.app().await;
    let job = tokio::spawn({
        let app = app.clone();
        async move { jobs::synthetics(&app, None, Handover::Drain).await }
    });
    assert!(eventually(30, || !w.slack.attempts().is_empty()).await, "Sparky posted");
    job.abort();
    let _ = job.await;
    time_travel(Duration::from_secs(120)).await;
    w.once("deliver").await;
    assert_eq!(w.slack.attempts().len(), 1, "found in history, not posted again");

    // Recovery edits the opening message: its ts was recorded when it was found.
    w.partner_api(200);
    w.once("synthetics").await;
    let updates = w.slack.updates();
    assert_eq!(updates.len(), 1, "the opening message is marked resolved");
    assert!(updates[0]["text"].as_str().unwrap().contains("recovered"), "{}", updates[0]);
    let rows = outbox::list(&app.store, &[ActionState::Dead, ActionState::Blocked, ActionState::Retrying], 100).await.unwrap();
    assert!(rows.is_empty(), "nothing left behind: {rows:?}");
}

#[tokio::test]
async fn a_public_update_whose_answer_was_lost_is_not_shown_twice() {
    let w = World::new(&["acme-api"], "").await;
    w.partner_api(503);
    w.partner_page("major", "major_outage", true);
    w.once("synthetics").await;
    assert_eq!(w.statuspage.incidents().len(), 1, "our public incident");
    // The recovery's PATCH is made, then its answer is lost: the retry asks Statuspage first.
    w.statuspage.lose_patch_answers(1);
    w.partner_api(200);
    w.partner_page("none", "operational", false);
    w.once("synthetics").await;
    time_travel(Duration::from_secs(60)).await;
    w.once("deliver").await;
    let incident = &w.statuspage.incidents()[0];
    let updates: Vec<&str> = incident["incident_updates"].as_array().unwrap().iter().map(|u| u["status"].as_str().unwrap()).collect();
    assert_eq!(updates, ["resolved", "identified"], "the resolution once, not twice: {incident}");
    let app = w.sparky.app().await;
    assert!(outbox::list(&app.store, &[ActionState::Pending, ActionState::Retrying, ActionState::Dead], 10).await.unwrap().is_empty());
    w.no_spec_violations();
}

#[tokio::test]
async fn a_jira_create_whose_answer_was_lost_waits_for_search_to_catch_up_and_creates_one_issue() {
    let w = World::new(&["acme-api"], "").await;
    w.jira.lose_create_answers(1, 502);
    // Its index lags: the first search after the create finds nothing.
    w.jira.blind_searches(1);
    w.partner_api(500);
    w.once("synthetics").await;
    assert_eq!(w.jira.created().len(), 1, "created, but Sparky never heard");
    // Right after: searching would find nothing yet, so Sparky does not look (nor create) yet.
    w.once("deliver").await;
    assert_eq!(w.jira.create_attempts(), 1, "no second create while search may lag");
    time_travel(Duration::from_secs(61)).await;
    w.once("deliver").await;
    assert_eq!(w.jira.created().len(), 1, "found by its label at the second look, not created twice");
    let app = w.sparky.app().await;
    assert!(outbox::list(&app.store, &[ActionState::Pending, ActionState::Retrying, ActionState::Dead], 10).await.unwrap().is_empty());
    let key = w.jira.created()[0].key.clone();
    assert!(!w.jira.comments(&key).is_empty() || w.pages("trigger").len() == 1, "the incident goes on on that issue");
    w.no_spec_violations();
}

#[tokio::test]
async fn a_page_pagerduty_refuses_is_reported_loudly_and_the_incident_stays_not_paged() {
    let w = World::new(&["acme-api"], "").await;
    w.pagerduty.script([400]);
    w.partner_api(500);
    let out = w.once("synthetics").await;
    assert!(out.contains("\"decision\":\"opened\""), "{out}");
    assert!(w.pages("trigger").is_empty(), "PagerDuty refused the page");
    let alerts: Vec<String> = w.slack.posted().iter().map(|p| p.all_text()).filter(|t| t.contains("PAGE FAILED")).collect();
    assert_eq!(alerts.len(), 1, "one loud alert: {alerts:?}");
    assert!(alerts[0].contains("on-call was not paged") && alerts[0].contains("acme-api"), "{}", alerts[0]);
    let key = w.jira.created()[0].key.clone();
    assert!(w.jira.comments(&key).iter().any(|c| c.contains("PAGE FAILED")), "{:?}", w.jira.comments(&key));
    // Later runs say it once, not on every run.
    w.once("synthetics").await;
    w.once("deliver").await;
    assert_eq!(w.slack.posted().iter().filter(|p| p.all_text().contains("PAGE FAILED")).count(), 1);
    let listing = w.sparky.cli(&["incidents", "--json"]).await.stdout;
    let incidents: serde_json::Value = serde_json::from_str(&listing).unwrap();
    let incident = &incidents.as_array().unwrap()[0];
    assert_eq!(incident["paged"], false, "not paged: {incident}");
    assert!(incident.to_string().contains("page_failed"), "its history says so: {incident}");
}
