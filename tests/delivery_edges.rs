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
    sparky.write("sparky.toml", "[slack]\ntimeout = \"2s\"\n[outbox]\nlease = \"3s\"\nbackoff_base = \"50ms\"\nmax_wait_per_run = \"5s\"\n[http]\nretries = 0\n");
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
