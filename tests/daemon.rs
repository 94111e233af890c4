//! `sparky run`: scheduler, delivery worker and HTTP server; clean shutdown on SIGTERM.

mod common;

use std::time::Duration;

use common::fake_feeds::{FakeFeeds, Served, rss};
use common::fake_slack::FakeSlack;
use common::{Db, Sparky, eventually};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test]
async fn the_daemon_serves_metrics_and_health_runs_the_missed_tick_and_stops_on_sigterm() {
    common::crypto();
    let feeds = FakeFeeds::start().await;
    let slack = FakeSlack::start().await;
    let url = feeds.serve(
        "/feed.xml",
        Served::Body(rss(&[("a1", "Hello world", "Mon, 01 Sep 2025 10:00:00 GMT", "<p>hi</p>")]), "application/rss+xml"),
    );
    let status = feeds.serve(
        "/api/v2/summary.json",
        Served::Body(r#"{"page": {"id": "a", "name": "Acme"}, "status": {"indicator": "minor", "description": "Minor Service Outage"}, "components": [], "incidents": []}"#.to_owned(), "application/json"),
    );
    let port = free_port();
    let sparky = Sparky::new(Db::Sqlite).slack(&slack.api_url()).env("SPARKY_LISTEN", &format!("127.0.0.1:{port}"));
    sparky.write(
        "partners/acme.toml",
        &format!("id = \"acme\"\nname = \"Acme\"\n[[feeds]]\nurl = \"{url}\"\n[status_page]\nkind = \"statuspage\"\nurl = \"{status}\"\n"),
    );
    let mut child = sparky.command(&["run"]).spawn().unwrap();

    // A fresh Sparky has never run the changelog job: it runs the missed tick at start-up, and it
    // reads every status page at once.
    assert!(eventually(30, || !slack.posted().is_empty()).await, "digest posted by the daemon");
    let base = format!("http://127.0.0.1:{port}");
    let mut metrics = String::new();
    for _ in 0..300 {
        metrics = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
        if metrics.contains("sparky_partner_status{indicator=\"minor\"") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let health = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    for name in [
        "sparky_feed_fetches_total{partner=\"acme\",result=\"ok\"} 1",
        "sparky_changelog_entries_new_total{partner=\"acme\"} 1",
        "sparky_digests_posted_total{sink=\"slack\"} 1",
        "sparky_feed_fetch_duration_seconds_bucket",
        "sparky_outbox_actions{state=\"delivered\"} 1",
        "sparky_partner_status{indicator=\"minor\",partner=\"acme\"} 1",
        "sparky_partner_status{indicator=\"none\",partner=\"acme\"} 0",
        "sparky_status_fetches_total{partner=\"acme\",result=\"ok\"} 1",
    ] {
        assert!(metrics.contains(name), "missing {name} in\n{metrics}");
    }

    let pid = child.id().unwrap() as i32;
    // SAFETY: sending SIGTERM to our own child process.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait()).await.expect("stopped within 15 s").unwrap();
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
    assert_eq!(slack.posted().len(), 1);
}
