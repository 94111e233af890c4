//! The flood guard for changelogs (issue 11), through the real poll and digest path to the fake
//! Slack: a feed that rewrites its entry ids posts nothing again, and a poll that finds more than
//! `max_new` unseen entries posts one section listing the newest 5.

#![allow(unreachable_pub, clippy::unwrap_used)] // test and bench code: a failed unwrap is a failed run

mod common;

use common::fake_feeds::{FakeFeeds, Served, rss};
use common::fake_slack::FakeSlack;
use common::{Db, Sparky};
use sparky::sources::changelogs::FeedOutcome;
use sparky::store::changelogs::entry_counts;

const RSS: &str = "application/rss+xml";

/// `n` entries, newest first, numbered from `from`, each with its own guid (`PREFIX-i`), link
/// and date (day `i` of 2025).
fn entries(prefix: &str, from: usize, n: usize) -> Vec<(String, String, String, String)> {
    (from..from + n)
        .rev()
        .map(|i| {
            let date = chrono::NaiveDate::from_yo_opt(2025, u32::try_from(i).unwrap() + 1).unwrap();
            let date = format!("{} 10:00:00 GMT", date.format("%a, %d %b %Y"));
            (format!("{prefix}-{i}"), format!("Entry number {i}"), date, format!("<p>Body {i}.</p>"))
        })
        .collect()
}

/// An RSS feed of `items`: (guid, title, date, body). The link of an entry is its title's number
/// (so a rewritten guid keeps its link).
fn feed(items: &[(String, String, String, String)]) -> String {
    let borrowed: Vec<(&str, &str, &str, &str)> =
        items.iter().map(|(g, t, d, b)| (g.as_str(), t.as_str(), d.as_str(), b.as_str())).collect();
    let mut text = rss(&borrowed);
    for (guid, title, _, _) in items {
        let number = title.trim_start_matches("Entry number ");
        text = text.replace(
            &format!("<link>https://partner.test/changelog/{guid}</link>"),
            &format!("<link>https://partner.test/notes/{number}</link>"),
        );
    }
    text
}

/// The same feed without any `<link>`: entries are told apart by guid, and matched by title and
/// date.
fn linkless(items: &[(String, String, String, String)]) -> String {
    let text = feed(items);
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("<link>https://partner.test/notes/") {
        out.push_str(&rest[..start]);
        rest = &rest[start + rest[start..].find("</link>").unwrap() + "</link>".len()..];
    }
    out.push_str(rest);
    out
}

async fn setup(body: String, partner_extra: &str) -> (Sparky, FakeFeeds, FakeSlack, String) {
    let feeds = FakeFeeds::start().await;
    let slack = FakeSlack::start().await;
    let url = feeds.serve("/feed.xml", Served::Body(body, RSS));
    let sparky = Sparky::new(Db::Sqlite).slack(&slack.api_url());
    sparky.write("partners/acme.toml", &format!("id = \"acme\"\nname = \"Acme Cloud\"\n[[feeds]]\nurl = \"{url}\"\n{partner_extra}"));
    sparky.write("sparky.toml", "[http]\nretries = 0\n[slack]\ntimeout = \"2s\"\n");
    (sparky, feeds, slack, url)
}

fn outcome(run: &sparky::service::jobs::ChangelogRun) -> (usize, usize, Option<usize>) {
    match &run.feeds[0].outcome {
        FeedOutcome::Ok { to_post, duplicates, flood, .. } => (*to_post, *duplicates, *flood),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_feed_that_rewrites_its_ids_posts_only_what_is_new() {
    let first = entries("guid", 0, 5);
    let (sparky, feeds, slack, _) = setup(feed(&first), "").await;
    sparky.changelogs().await;
    assert_eq!(slack.posted().len(), 1, "the backfill");

    // Every guid rewritten (the links kept), and one entry really new.
    let mut rewritten = entries("rewritten", 0, 5);
    rewritten.insert(0, ("rewritten-new".into(), "Entry number 99".into(), "Sat, 01 Nov 2025 10:00:00 GMT".into(), "<p>New.</p>".into()));
    feeds.serve("/feed.xml", Served::Body(feed(&rewritten), RSS));
    let run = sparky.changelogs().await;
    assert_eq!(outcome(&run), (1, 5, None), "five seen under another id, one to post");
    let posted = slack.posted();
    assert_eq!(posted.len(), 2);
    let text = posted[1].all_text();
    assert!(text.contains("Entry number 99"), "{text}");
    assert!(!text.contains("Entry number 4"), "an entry already posted is not posted again: {text}");

    let run = sparky.changelogs().await;
    assert_eq!(run.feeds[0].outcome, FeedOutcome::NotModified);
    assert_eq!(slack.posted().len(), 2);
}

#[tokio::test]
async fn without_links_title_and_date_tell_a_rewritten_entry() {
    let (sparky, feeds, slack, _) = setup(linkless(&entries("guid", 0, 3)), "").await;
    sparky.changelogs().await;
    assert_eq!(slack.posted().len(), 1);

    // New guids; the same titles and dates; one of them dated anew (a new entry by its date).
    let mut rewritten = entries("rewritten", 0, 3);
    rewritten[0].2 = "Sat, 01 Nov 2025 10:00:00 GMT".into();
    feeds.serve("/feed.xml", Served::Body(linkless(&rewritten), RSS));
    let run = sparky.changelogs().await;
    assert_eq!(outcome(&run), (1, 2, None), "two matched by title and date, the redated one is new");
    assert_eq!(slack.posted().len(), 2);
    assert!(slack.posted()[1].all_text().contains("2025-11-01"));
}

#[tokio::test]
async fn fifty_new_entries_at_once_are_one_section_listing_the_newest_five() {
    let (sparky, feeds, slack, url) = setup(feed(&entries("first", 0, 1)), "").await;
    sparky.changelogs().await;
    assert_eq!(slack.posted().len(), 1);

    // Another feed's 50 entries served at this URL (a CDN mix-up): all unseen.
    let mut flood = entries("other", 100, 50);
    flood.extend(entries("first", 0, 1));
    feeds.serve("/feed.xml", Served::Body(feed(&flood), RSS));
    let run = sparky.changelogs().await;
    assert_eq!(outcome(&run), (50, 0, Some(20)));
    let posted = slack.posted();
    assert_eq!(posted.len(), 2, "one message");
    let text = posted[1].all_text();
    assert!(text.contains(&format!("50 new entries on <{url}|{url}>")), "{text}");
    assert!(text.contains(&format!("more than 20 new entries at once: listing the newest 5; see {url}")), "says why: {text}");
    let listed: Vec<usize> = (100..150).filter(|i| text.contains(&format!("|Entry number {i}>"))).collect();
    assert_eq!(listed, vec![145, 146, 147, 148, 149], "the newest five: {text}");
    assert!(posted[1].body["text"].as_str().unwrap().starts_with("50 new partner changelog entries"), "{}", posted[1].body["text"]);
    assert_eq!(slack.spec_violations(), Vec::<String>::new());

    // Every entry recorded and carried by the delivered message: nothing is posted again.
    let app = sparky.app().await;
    let counts = entry_counts(&app.store, Some("acme")).await.unwrap();
    assert_eq!((counts.delivered, counts.undelivered), (51, 0), "{counts:?}");
    app.store.close().await;
    let mut more = flood.clone();
    more.insert(0, ("other-new".into(), "Entry number 200".into(), "Sun, 02 Nov 2025 10:00:00 GMT".into(), "<p>x</p>".into()));
    feeds.serve("/feed.xml", Served::Body(feed(&more), RSS));
    let run = sparky.changelogs().await;
    assert_eq!(outcome(&run), (1, 0, None));
    let text = slack.posted()[2].all_text();
    assert!(text.contains("Entry number 200") && !text.contains("new entries on"), "{text}");
}

#[tokio::test]
async fn max_new_is_set_per_feed() {
    let (sparky, feeds, slack, _) = setup(feed(&entries("first", 0, 1)), "max_new = 60\n").await;
    sparky.write("sparky.toml", "[http]\nretries = 0\n[changelogs]\nmax_new = 2\n[slack]\nmessages_per_second = 100\n");
    sparky.changelogs().await;
    feeds.serve("/feed.xml", Served::Body(feed(&entries("other", 100, 50)), RSS));
    let run = sparky.changelogs().await;
    assert_eq!(outcome(&run), (50, 0, None), "the feed's own max_new wins over [changelogs] max_new");
    let text: String = slack.posted().iter().skip(1).map(common::fake_slack::Post::all_text).collect();
    assert_eq!((100..150).filter(|i| text.contains(&format!("|Entry number {i}>"))).count(), 50, "every entry listed");
}
