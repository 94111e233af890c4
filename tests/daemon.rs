//! `sparky run`: scheduler, delivery worker and HTTP server, in-process through
//! `sparky::service::run`; and the real binary's clean stop on SIGTERM.

#![allow(unreachable_pub, clippy::unwrap_used)] // test and bench code: a failed unwrap is a failed run

mod common;

use common::fake_feeds::{FakeFeeds, Served, rss};
use common::fake_slack::FakeSlack;
use common::{Db, Sparky, eventually};

fn partner(sparky: &Sparky, feeds: &FakeFeeds) {
    let url = feeds.serve(
        "/feed.xml",
        Served::Body(rss(&[("a1", "Hello world", "Mon, 01 Sep 2025 10:00:00 GMT", "<p>hi</p>")]), "application/rss+xml"),
    );
    let status = feeds.serve(
        "/api/v2/summary.json",
        Served::Body(r#"{"page": {"id": "a", "name": "Acme"}, "status": {"indicator": "minor", "description": "Minor Service Outage"}, "components": [], "incidents": []}"#.to_owned(), "application/json"),
    );
    sparky.write(
        "partners/acme.toml",
        &format!("id = \"acme\"\nname = \"Acme\"\n[[feeds]]\nurl = \"{url}\"\n[status_page]\nkind = \"statuspage\"\nurl = \"{status}\"\n"),
    );
}

#[tokio::test]
async fn the_daemon_serves_metrics_and_health_runs_the_missed_tick_and_stops_cleanly() {
    common::crypto();
    let feeds = FakeFeeds::start().await;
    let slack = FakeSlack::start().await;
    let sparky = Sparky::new(Db::Sqlite).slack(&slack.api_url());
    partner(&sparky, &feeds);
    let daemon = sparky.boot().await;

    // A fresh Sparky has never run the changelog job: it runs the missed tick at start-up, and it
    // reads every status page at once.
    assert!(eventually(30, || !slack.posted().is_empty()).await, "digest posted by the daemon");
    // The digest counter moves when Slack answers, the outbox gauge once the row is marked
    // delivered just after: wait for the whole set rather than for one of them.
    let expected = [
        "sparky_feed_fetches_total{partner=\"acme\",result=\"ok\"} 1",
        "sparky_changelog_entries_new_total{partner=\"acme\"} 1",
        "sparky_digests_posted_total{sink=\"slack\"} 1",
        "sparky_feed_fetch_duration_seconds_bucket",
        "sparky_outbox_deliveries_total{result=\"delivered\",sink=\"slack\"} 1",
        "sparky_outbox_actions{state=\"pending\"} 0",
        "sparky_partner_status{indicator=\"minor\",partner=\"acme\"} 1",
        "sparky_partner_status{indicator=\"none\",partner=\"acme\"} 0",
        "sparky_status_fetches_total{partner=\"acme\",result=\"ok\"} 1",
    ];
    let mut metrics = String::new();
    for _ in 0..300 {
        metrics = daemon.get("/metrics").await.1;
        if expected.iter().all(|name| metrics.contains(name)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(daemon.get("/healthz").await.0, 200);
    for name in expected {
        assert!(metrics.contains(name), "missing {name} in\n{metrics}");
    }
    daemon.stop().await;
    assert_eq!(slack.posted().len(), 1);
}

/// The binary stops cleanly on SIGTERM (exit 0).
#[tokio::test]
async fn the_binary_stops_cleanly_on_sigterm() {
    let feeds = FakeFeeds::start().await;
    let slack = FakeSlack::start().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let sparky = Sparky::new(Db::Sqlite).slack(&slack.api_url()).env("SPARKY_LISTEN", &format!("127.0.0.1:{port}"));
    partner(&sparky, &feeds);
    let mut child = sparky.command(&["run"]).spawn().unwrap();
    assert!(eventually(30, || !slack.posted().is_empty()).await, "the daemon is up");
    let pid = child.id().unwrap().to_string();
    let term = tokio::process::Command::new("kill").args(["-TERM", &pid]).status().await.unwrap();
    assert!(term.success());
    let status = tokio::time::timeout(std::time::Duration::from_secs(15), child.wait()).await.expect("stopped within 15 s").unwrap();
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
}
