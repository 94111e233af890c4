//! The changelog watcher and digest end to end, in-process against partner feeds and a fake
//! Slack on loopback (the real binary where its output is what is tested).

#![allow(unreachable_pub, clippy::unwrap_used)] // test and bench code: a failed unwrap is a failed run

mod common;

use std::time::Duration;

use common::fake_feeds::{FakeFeeds, Served, rss};
use common::fake_slack::{FakeSlack, Reply};
use common::{Db, Sparky, eventually, fresh_postgres, postgres_url, time_travel};
use sparky::model::{ActionState, ErrorKind};
use sparky::service::jobs::{self, Handover};
use sparky::sources::changelogs::FeedOutcome;
use sparky::store::outbox;

const RSS: &str = "application/rss+xml";

/// Five entries, newest first; "e5" is the newest.
fn five_entries() -> Vec<(&'static str, &'static str, &'static str, &'static str)> {
    vec![
        ("e5", "Webhooks v5 are generally available", "Fri, 05 Sep 2025 10:00:00 GMT", "<p>Version 5 &amp; more.</p>"),
        (
            "e4",
            "Breaking change: /users drops the &lt;em&gt;legacy&lt;/em&gt; field",
            "Thu, 04 Sep 2025 10:00:00 GMT",
            "<p>The <b>legacy</b> field is removed.</p>",
        ),
        ("e3", "Public preview of the Reports API", "Wed, 03 Sep 2025 10:00:00 GMT", "<p>Try it <a href='https://x.test'>here</a>.</p>"),
        ("e2", "Docs refresh", "Tue, 02 Sep 2025 10:00:00 GMT", "<p>New docs.</p>"),
        ("e1", "SDK 1.0", "Mon, 01 Sep 2025 10:00:00 GMT", "<p>First SDK.</p>"),
    ]
}

/// A Sparky with one partner whose feed has five entries, posting to the fake Slack.
async fn setup(db: Db) -> (Sparky, FakeFeeds, FakeSlack) {
    let feeds = FakeFeeds::start().await;
    let slack = FakeSlack::start().await;
    let url = feeds.serve("/acme/feed.xml", Served::Body(rss(&five_entries()), RSS));
    let sparky = Sparky::new(db).slack(&slack.api_url());
    sparky.partner("acme", "Acme Cloud", &[&url]);
    sparky.write("sparky.toml", "[slack]\ntimeout = \"2s\"\n[outbox]\nlease = \"3s\"\nbackoff_base = \"100ms\"\nmax_wait_per_run = \"5s\"\n[http]\nretries = 0\ntimeout = \"2s\"\n");
    (sparky, feeds, slack)
}

fn keys(slack: &FakeSlack) -> Vec<String> {
    slack.posted().iter().filter_map(|p| p.key.clone()).collect()
}

#[tokio::test]
async fn first_run_posts_the_backfill_then_nothing_then_the_new_entry() {
    let (sparky, feeds, slack) = setup(Db::Sqlite).await;

    let first = sparky.cli(&["once", "changelogs"]).await;
    first.expect_code(0);
    let posted = slack.posted();
    assert_eq!(posted.len(), 1, "one digest message: {}", first.stdout);
    let text = posted[0].all_text();
    for title in
        ["Webhooks v5 are generally available", "Breaking change: /users drops the legacy field", "Public preview of the Reports API"]
    {
        assert!(text.contains(title), "digest lacks {title:?}:\n{text}");
    }
    for old in ["Docs refresh", "SDK 1.0"] {
        assert!(!text.contains(old), "backfill posted the old entry {old:?}");
    }
    assert!(text.contains("Acme Cloud"), "grouped under the partner name");
    assert!(text.contains("`breaking`") && text.contains("`beta`"), "tags shown: {text}");
    assert!(text.contains("Version 5 &amp; more."), "feed text escaped for mrkdwn: {text}");
    assert_eq!(posted[0].body["channel"], "#ecosystem-updates");
    assert_eq!(posted[0].authorization.as_deref(), Some("Bearer xoxb-test-secret-token"));
    assert!(!first.stdout.contains("xoxb-test-secret-token") && !first.stderr.contains("xoxb-test-secret-token"), "the token never shows");
    assert_eq!(slack.spec_violations(), Vec::<String>::new(), "requests follow Slack's Web API description");

    sparky.changelogs().await;
    assert_eq!(slack.attempts().len(), 1, "a second run posts nothing");

    let mut items = five_entries();
    items.insert(0, ("e6", "Rate limits raised", "Sat, 06 Sep 2025 10:00:00 GMT", "<p>More calls.</p>"));
    feeds.serve("/acme/feed.xml", Served::Body(rss(&items), RSS));
    sparky.changelogs().await;
    let posted = slack.posted();
    assert_eq!(posted.len(), 2, "the third run posts the new entry");
    let text = posted[1].all_text();
    assert!(text.contains("Rate limits raised"));
    assert!(!text.contains("Webhooks v5"), "nothing posted twice");
}

#[tokio::test]
async fn an_unchanged_feed_costs_a_304() {
    let (sparky, feeds, slack) = setup(Db::Sqlite).await;
    sparky.changelogs().await;
    let second = sparky.changelogs().await;
    assert_eq!(second.feeds[0].outcome, FeedOutcome::NotModified);
    let requests = feeds.requests("/acme/feed.xml").await;
    assert_eq!(requests.len(), 2);
    assert!(requests[0].headers.get("if-none-match").is_none());
    assert!(requests[1].headers.get("if-none-match").is_some(), "second poll is conditional");
    let ua = requests[0].headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(ua.starts_with("Sparky/"), "clear User-Agent: {ua}");
    assert_eq!(slack.attempts().len(), 1);
}

#[tokio::test]
async fn slack_failures_lose_nothing_and_duplicate_nothing() {
    let (sparky, _feeds, slack) = setup(Db::Sqlite).await;
    slack.script([Reply::Status(500), Reply::RateLimited(1), Reply::NotOk("internal_error")]);

    let first = sparky.changelogs().await;
    assert!(slack.posted().is_empty(), "three failures in the first run");
    assert_eq!(slack.attempts().len(), 3, "three attempts per run");
    assert_eq!(first.delivery.map(|d| d.retrying), Some(1), "left for the next run");

    sparky.changelogs().await;
    let posted = slack.posted();
    assert_eq!(posted.len(), 1, "delivered once by the next run");
    assert!(posted[0].all_text().contains("Webhooks v5"));
    assert!(slack.history_calls() >= 1, "an earlier attempt is looked up in history before re-posting");
    assert_eq!(slack.spec_violations(), Vec::<String>::new());
    sparky.changelogs().await;
    assert_eq!(slack.posted().len(), 1, "and never again");
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let (sparky, _feeds, slack) = setup(Db::Sqlite).await;
    slack.script([Reply::RateLimited(2)]);
    let started = std::time::Instant::now();
    sparky.changelogs().await;
    assert_eq!(slack.posted().len(), 1);
    assert!(started.elapsed() >= Duration::from_secs(2), "waited for Retry-After: 2");
}

/// Two services on one database (two processes: each its own pool and instance id).
async fn two_processes_post_nothing_twice(db: Db) {
    let (sparky, _feeds, slack) = setup(db).await;
    tokio::join!(sparky.changelogs(), sparky.changelogs());
    let posted = slack.posted();
    assert_eq!(posted.len(), 1, "one digest between two processes");
    let text = posted[0].all_text();
    assert_eq!(text.matches("Webhooks v5").count(), 1);
    sparky.changelogs().await;
    assert_eq!(keys(&slack).len(), 1);
}

#[tokio::test]
async fn a_second_process_on_the_same_sqlite_database_posts_nothing_twice() {
    two_processes_post_nothing_twice(Db::Sqlite).await;
}

#[tokio::test]
async fn a_second_process_on_the_same_postgres_database_posts_nothing_twice() {
    let Some(admin) = postgres_url("two_processes_postgres") else { return };
    two_processes_post_nothing_twice(Db::Postgres(fresh_postgres(&admin).await)).await;
}

async fn killed_mid_request_posts_once(db: Db) {
    let (sparky, _feeds, slack) = setup(db).await;
    slack.script([Reply::Hold(Duration::from_secs(30))]);
    let app = sparky.app().await;
    let job = tokio::spawn({
        let app = app.clone();
        async move { jobs::changelogs(&app, Handover::Drain).await }
    });
    assert!(eventually(30, || !slack.attempts().is_empty()).await, "Sparky posted");
    // Killed: the job stops where it is, its lease stays in the database.
    job.abort();
    assert!(job.await.unwrap_err().is_cancelled());
    assert_eq!(slack.posted().len(), 1, "Slack posted the message but its answer never came");

    // The killed deliverer's lease (3 s) must pass before another process takes the action over.
    time_travel(Duration::from_secs(4)).await;
    let rerun = sparky.deliver().await;
    assert_eq!(slack.attempts().len(), 1, "found in history by its idempotency key, not posted again");
    assert_eq!(rerun.delivered, 1);
    let rows = outbox::list(&app.store, ActionState::ALL, 10).await.unwrap();
    assert_eq!(rows.iter().map(|r| (r.sink.as_str(), r.state)).collect::<Vec<_>>(), [("slack", ActionState::Delivered)]);
}

#[tokio::test]
async fn killed_while_slack_holds_the_request_posts_once_after_restart() {
    killed_mid_request_posts_once(Db::Sqlite).await;
}

#[tokio::test]
async fn killed_mid_request_posts_once_on_postgres() {
    let Some(admin) = postgres_url("killed_mid_request_postgres") else { return };
    killed_mid_request_posts_once(Db::Postgres(fresh_postgres(&admin).await)).await;
}

#[tokio::test]
async fn one_broken_feed_never_stops_the_others() {
    let feeds = FakeFeeds::start().await;
    let slack = FakeSlack::start().await;
    let good = feeds.serve("/good.xml", Served::Body(rss(&five_entries()[..1]), RSS));
    let malformed = feeds.serve("/malformed.xml", Served::Body("<rss><channel><item><title>cut".to_owned(), RSS));
    let html = feeds.serve("/html.xml", Served::Body("<!DOCTYPE html><html><body>Sign in</body></html>".to_owned(), "text/html"));
    let down = feeds.serve("/down.xml", Served::Status(503));
    let hangs = feeds.serve("/hangs.xml", Served::Hang);
    let endless = feeds.serve("/huge.xml", Served::Body(format!("<rss><channel>{}", "<item><title>x</title></item>".repeat(400_000)), RSS));
    let sparky = Sparky::new(Db::Sqlite).slack(&slack.api_url());
    sparky.write("sparky.toml", "[http]\nretries = 0\ntimeout = \"2s\"\nmax_body = \"1MiB\"\n");
    sparky.partner("good", "Good", &[&good]);
    sparky.partner("broken", "Broken", &[&malformed, &html, &down, &hangs, &endless]);

    let run = sparky.changelogs().await;
    let failed = |url: &str| {
        let feed = run.feeds.iter().find(|f| f.url == url).unwrap_or_else(|| panic!("no report of {url}"));
        match &feed.outcome {
            FeedOutcome::Failed { kind, error, .. } => (*kind, error.clone()),
            other => panic!("{url}: {other:?}"),
        }
    };
    assert_eq!(failed(&malformed).0, ErrorKind::Malformed);
    let (kind, error) = failed(&html);
    assert!(kind == ErrorKind::HtmlNotFeed && error.contains("got an HTML page"), "{error}");
    let (kind, error) = failed(&down);
    assert!(kind == ErrorKind::Http && error.contains("HTTP 503"), "{error}");
    assert_eq!(failed(&hangs).0, ErrorKind::Timeout);
    assert_eq!(failed(&endless).0, ErrorKind::TooLarge);
    assert!(matches!(run.feeds.iter().find(|f| f.url == good).map(|f| &f.outcome), Some(FeedOutcome::Ok { .. })));
    assert_eq!(slack.posted().len(), 1);
    assert!(slack.posted()[0].all_text().contains("Webhooks v5"));
}

#[tokio::test]
async fn without_a_slack_token_the_log_sink_prints_the_digest() {
    let feeds = FakeFeeds::start().await;
    let url = feeds.serve("/feed.xml", Served::Body(rss(&five_entries()), RSS));
    let sparky = Sparky::new(Db::Sqlite);
    sparky.partner("acme", "Acme Cloud", &[&url]);
    let run = sparky.cli(&["once", "changelogs"]).await;
    run.expect_code(0);
    assert!(run.stdout.contains("[slack #ecosystem-updates]"), "{}", run.stdout);
    assert!(run.stdout.contains("Webhooks v5 are generally available"));
    assert!(run.stdout.contains("0 delivered, 1 printed"), "printed is not delivered: {}", run.stdout);
    let listing = sparky.cli(&["outbox", "--all"]).await.stdout;
    assert!(listing.contains("slack  printed"), "{listing}");
}

#[tokio::test]
async fn a_partner_channel_gets_its_own_digest() {
    let feeds = FakeFeeds::start().await;
    let slack = FakeSlack::start().await;
    let a = feeds.serve("/a.xml", Served::Body(rss(&five_entries()[..1]), RSS));
    let b = feeds.serve("/b.xml", Served::Body(rss(&five_entries()[1..2]), RSS));
    let sparky = Sparky::new(Db::Sqlite).slack(&slack.api_url());
    sparky.partner("alpha", "Alpha", &[&a]);
    sparky.write(
        "partners/beta.toml",
        &format!("id = \"beta\"\nname = \"Beta\"\nslack_channel = \"#beta-integration\"\n[[feeds]]\nurl = \"{b}\"\n"),
    );
    sparky.changelogs().await;
    let mut channels: Vec<String> = slack.posted().iter().map(|p| p.body["channel"].as_str().unwrap().to_owned()).collect();
    channels.sort();
    assert_eq!(channels, vec!["#beta-integration", "#ecosystem-updates"]);
}

#[tokio::test]
async fn a_big_digest_is_split_within_slack_limits() {
    let feeds = FakeFeeds::start().await;
    let slack = FakeSlack::start().await;
    let owned: Vec<(String, String, String)> =
        (0..120).map(|i| (format!("g{i}"), format!("Entry number {i}"), format!("<p>{}</p>", "long text ".repeat(40)))).collect();
    let items: Vec<(&str, &str, &str, &str)> =
        owned.iter().map(|(g, t, h)| (g.as_str(), t.as_str(), "Mon, 01 Sep 2025 10:00:00 GMT", h.as_str())).collect();
    let url = feeds.serve("/feed.xml", Served::Body(rss(&items), RSS));
    let sparky = Sparky::new(Db::Sqlite).slack(&slack.api_url());
    sparky.write("sparky.toml", "[changelogs]\nbackfill = 200\n[slack]\nmessages_per_second = 100\n");
    sparky.partner("acme", "Acme", &[&url]);
    sparky.changelogs().await;
    let posted = slack.posted();
    assert!(posted.len() >= 3, "120 entries need several messages, got {}", posted.len());
    let mut seen = 0;
    for post in &posted {
        let blocks = post.body["blocks"].as_array().unwrap();
        assert!(blocks.len() <= 50, "at most 50 blocks");
        for block in blocks {
            if let Some(t) = block["text"]["text"].as_str() {
                assert!(t.chars().count() <= 3000);
            }
        }
        seen += post.all_text().matches("Entry number").count();
    }
    assert_eq!(seen, 120, "every entry exactly once across the parts");
    let distinct: std::collections::HashSet<_> = keys(&slack).into_iter().collect();
    assert_eq!(distinct.len(), posted.len(), "one idempotency key per part");
}

#[tokio::test]
async fn gzip_feeds_and_html_changelog_pages_are_read() {
    let feeds = FakeFeeds::start().await;
    let slack = FakeSlack::start().await;
    let gz = feeds.serve("/gz.xml", Served::Gzip(rss(&five_entries()[..1]), RSS));
    let page = "<html><body><main>\
        <article class=\"release\"><h2><a href=\"/notes/42\">Release 42: SCIM preview</a></h2><time datetime=\"2025-09-10\">Sep 10</time><div class=\"body\"><p>SCIM <b>preview</b>.</p></div></article>\
        <article class=\"release\"><h2><a href=\"/notes/41\">Release 41</a></h2><time datetime=\"2025-09-01\">Sep 1</time><div class=\"body\">Fixes.</div></article>\
        </main></body></html>";
    let html = feeds.serve("/changelog", Served::Body(page.to_owned(), "text/html"));
    let sparky = Sparky::new(Db::Sqlite).slack(&slack.api_url());
    sparky.partner("gz", "Gzip Co", &[&gz]);
    sparky.write(
        "partners/pages.toml",
        &format!("id = \"pages\"\nname = \"Pages Inc\"\n[[feeds]]\nurl = \"{html}\"\nkind = \"html\"\nentry = \"article.release\"\ntitle = \"h2\"\ndate = \"time\"\nbody = \".body\"\n"),
    );
    let run = sparky.changelogs().await;
    assert!(run.feeds.iter().all(|f| matches!(f.outcome, FeedOutcome::Ok { .. })), "{:?}", run.feeds);
    let text = slack.posted()[0].all_text();
    assert!(text.contains("Webhooks v5 are generally available"), "gzip body decoded: {text}");
    let base = feeds.server.uri();
    assert!(text.contains(&format!("<{base}/notes/42|Release 42: SCIM preview>")), "scraped entry with its resolved link: {text}");
    assert!(text.contains("SCIM preview."), "{text}");
}
