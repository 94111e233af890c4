//! The changelog watcher: for each feed of each partner, fetch (conditional GET) -> parse
//! (feed-rs | scraper) -> identity -> summary -> store the new entries as `pending`.
//!
//! Every feed is isolated: a timeout, a 5xx, malformed XML, an HTML page or an endless body is
//! logged with partner and URL, counted, recorded as feed health, and the others go on.

pub mod parse;
pub mod scrape;
pub mod summary;

use futures::StreamExt;
use serde::Serialize;
use tokio::time::Instant;

use crate::config::{ChangelogSettings, FeedConfig, FeedKind, Partner};
use crate::fetch::{Fetched, Fetcher, Validators};
use crate::metrics::METRICS;
use crate::model::{ErrorKind, Timestamp};
use crate::store::Store;
use crate::store::changelogs::{self as table, EntryRecord};

use self::parse::{ParseError, ParsedEntry, parse_feed};
use self::summary::{TagRules, html_to_text, truncate_words};

/// What happened to one feed in a poll.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum FeedOutcome {
    /// Fetched and parsed.
    Ok {
        /// Entries in the feed.
        entries: usize,
        /// Entries stored for the first time.
        new: usize,
        /// Of those, how many await the digest (all, except beyond the backfill of a first poll
        /// and the duplicates).
        to_post: usize,
        /// Of the new ones, how many are recorded, not posted, because an entry already seen
        /// has the same link (or, without one, title and date): the feed rewrote their ids.
        duplicates: usize,
        /// Set when more than this many (`max_new`) were to post: the digest shows them as one
        /// section listing the newest few.
        flood: Option<usize>,
    },
    /// 304: unchanged since the last poll.
    NotModified,
    /// The fetch or the parse failed.
    Failed {
        /// Error class (`timeout`, `http`, `malformed` ...).
        kind: ErrorKind,
        /// The error, in words.
        error: String,
        /// Failed polls in a row.
        consecutive_failures: i64,
    },
}

/// One feed's line of the run summary.
#[derive(Debug, Clone, Serialize)]
pub struct FeedReport {
    /// Partner id.
    pub partner: String,
    /// Feed URL.
    pub url: String,
    /// What happened.
    #[serde(flatten)]
    pub outcome: FeedOutcome,
}

/// Polls every feed of `partners`, at most `settings.concurrency` at once.
pub async fn poll_all(store: &Store, fetcher: &Fetcher, partners: &[Partner], settings: &ChangelogSettings) -> Vec<FeedReport> {
    // Indices, not references, in the stream: borrowed items trip the compiler's Send
    // inference for futures held across awaits (rust-lang/rust#102211).
    let feeds: Vec<(usize, usize)> =
        partners.iter().enumerate().flat_map(|(p, partner)| (0..partner.feeds.len()).map(move |f| (p, f))).collect();
    let mut reports: Vec<FeedReport> = futures::stream::iter(feeds)
        .map(|(p, f)| poll_feed(store, fetcher, &partners[p], &partners[p].feeds[f], settings))
        .buffer_unordered(settings.concurrency.max(1))
        .collect()
        .await;
    reports.sort_by(|a, b| (&a.partner, &a.url).cmp(&(&b.partner, &b.url)));
    reports
}

/// Polls one feed and records the result; never fails (a failure is the report).
pub async fn poll_feed(store: &Store, fetcher: &Fetcher, partner: &Partner, feed: &FeedConfig, settings: &ChangelogSettings) -> FeedReport {
    let started = Instant::now();
    let outcome = match poll(store, fetcher, partner, feed, settings).await {
        Ok(outcome) => outcome,
        Err(failure) => record_failure(store, partner, feed, failure).await,
    };
    let id = partner.id.as_str();
    METRICS.feed_fetch_duration.with_label_values(&[id]).observe(started.elapsed().as_secs_f64());
    let result = match &outcome {
        FeedOutcome::Ok { .. } => "ok",
        FeedOutcome::NotModified => "not_modified",
        FeedOutcome::Failed { kind, .. } => kind.as_str(),
    };
    METRICS.feed_fetches.with_label_values(&[id, result]).inc();
    let failures = if let FeedOutcome::Failed { consecutive_failures, .. } = &outcome { *consecutive_failures } else { 0 };
    METRICS.feed_consecutive_failures.with_label_values(&[id, feed.url.as_str()]).set(failures);
    FeedReport { partner: id.to_owned(), url: feed.url.to_string(), outcome }
}

/// Why a feed could not be read (or its entries stored): the class and the error in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FeedError {
    /// The class (`timeout`, `http`, `malformed`, `store` ...).
    pub kind: ErrorKind,
    /// What went wrong.
    pub message: String,
}

impl FeedError {
    fn new(kind: ErrorKind, message: impl ToString) -> Self {
        Self { kind, message: message.to_string() }
    }

    fn store(e: &crate::store::StoreError) -> Self {
        Self::new(ErrorKind::Store, e)
    }
}

/// One read of a feed, nothing stored.
#[derive(Debug, Clone)]
pub enum FeedRead {
    /// 304: unchanged since the answer the validators are from.
    NotModified,
    /// Fetched and parsed.
    Parsed {
        /// Validators of the answer, for the next conditional request.
        validators: Validators,
        /// Its entries, in feed order.
        entries: Vec<ParsedEntry>,
    },
}

/// Fetches `feed` (conditionally, with `validators`) and parses it (feed-rs, or the CSS
/// selectors of an HTML page). Reads nothing from the store and writes nothing:
/// `sparky check-config --online` reads feeds this way.
///
/// # Errors
/// The fetch's error (`dns`, `timeout`, `http` ...) or the parser's (`malformed`,
/// `html_not_feed` ...), with its kind.
pub async fn read_feed(fetcher: &Fetcher, feed: &FeedConfig, validators: &Validators) -> Result<FeedRead, FeedError> {
    let body = match fetcher.get(feed.url.url(), validators).await.map_err(|e| FeedError::new(e.kind(), &e))? {
        Fetched::NotModified => return Ok(FeedRead::NotModified),
        Fetched::Body(body) => body,
    };
    let entries =
        parse_body(feed, &body.bytes, &body.final_url, body.content_type.as_deref()).await.map_err(|e| FeedError::new(e.kind(), &e))?;
    Ok(FeedRead::Parsed { validators: body.validators, entries })
}

async fn poll(
    store: &Store,
    fetcher: &Fetcher,
    partner: &Partner,
    feed: &FeedConfig,
    settings: &ChangelogSettings,
) -> Result<FeedOutcome, FeedError> {
    let id = partner.id.as_str();
    let url = feed.url.as_str();
    let state = table::feed_state(store, id, url).await.map_err(|e| FeedError::store(&e))?;
    let validators = Validators { etag: state.etag.clone(), last_modified: state.last_modified.clone() };
    let (validators, parsed) = match read_feed(fetcher, feed, &validators).await? {
        FeedRead::NotModified => {
            table::record_not_modified(store, id, url).await.map_err(|e| FeedError::store(&e))?;
            return Ok(FeedOutcome::NotModified);
        }
        FeedRead::Parsed { validators, entries } => (validators, entries),
    };
    let rules = TagRules::with_partner(&partner.tags);
    let records: Vec<EntryRecord> = parsed.iter().map(|e| summarise(e, &rules, settings.summary_chars)).collect();
    let first_poll = state.first_polled_at.is_none();
    let to_post = posting_set(&records, first_poll, feed.backfill.unwrap_or(settings.backfill));
    // A first poll is bounded by its backfill; a later one by max_new.
    let max_new = (!first_poll).then(|| feed.max_new.unwrap_or(settings.max_new));
    let validators = (validators.etag.as_deref(), validators.last_modified.as_deref());
    let recorded = table::record_success(store, id, url, validators, &records, |e| to_post.contains(&e.key), max_new)
        .await
        .map_err(|e| FeedError::store(&e))?;
    let (new, posted, duplicates) = (recorded.new.len(), recorded.pending.len(), recorded.duplicates.len());
    METRICS.changelog_entries_new.with_label_values(&[id]).inc_by(new as u64);
    if partner.compat.is_some() {
        // The entries that are news: neither beyond a first poll's backfill nor duplicates.
        let pending: std::collections::HashSet<&str> = recorded.pending.iter().map(String::as_str).collect();
        let news: Vec<(&ParsedEntry, &EntryRecord)> =
            parsed.iter().zip(&records).filter(|(_, r)| pending.contains(r.key.as_str())).collect();
        super::compat::record_new(store, partner, &news).await;
    }
    tracing::info!(target: crate::model::OUTCOME, partner = id, url, entries = records.len(), new, to_post = posted, duplicates, "feed polled");
    if let Some(max) = recorded.flood {
        tracing::warn!(target: crate::model::OUTCOME, partner = id, url, new = posted, max_new = max, "more new entries than max_new at once: one digest section");
    }
    Ok(FeedOutcome::Ok { entries: records.len(), new, to_post: posted, duplicates, flood: recorded.flood })
}

async fn record_failure(store: &Store, partner: &Partner, feed: &FeedConfig, FeedError { kind, message: error }: FeedError) -> FeedOutcome {
    let id = partner.id.as_str();
    let url = feed.url.as_str();
    METRICS.error("changelogs", kind.as_str());
    let consecutive_failures = match table::record_failure(store, id, url, &error).await {
        Ok(n) => n,
        Err(e) => {
            tracing::error!(partner = id, url, error = %e, "cannot record feed health");
            0
        }
    };
    tracing::warn!(target: crate::model::OUTCOME, partner = id, url, kind = %kind, consecutive_failures, error = %error, "feed poll failed");
    FeedOutcome::Failed { kind, error, consecutive_failures }
}

/// Parses off the async threads: a large feed takes milliseconds of CPU.
async fn parse_body(
    feed: &FeedConfig,
    bytes: &bytes::Bytes,
    base: &url::Url,
    content_type: Option<&str>,
) -> Result<Vec<ParsedEntry>, ParseError> {
    let (feed, bytes, base, content_type) = (feed.clone(), bytes.clone(), base.clone(), content_type.map(str::to_owned));
    tokio::task::spawn_blocking(move || match feed.kind {
        FeedKind::Feed => parse_feed(&bytes, base.as_str(), content_type.as_deref()),
        FeedKind::Html => scrape::scrape_page(&bytes, &base, &feed),
    })
    .await
    .unwrap_or_else(|e| Err(ParseError::Malformed(format!("parser crashed: {e}"))))
}

/// The stored form of a parsed entry: plain-text title and summary, tags, identity.
pub fn summarise(entry: &ParsedEntry, rules: &TagRules, max_chars: usize) -> EntryRecord {
    let text = html_to_text(&entry.body);
    let mut title = html_to_text(&entry.title);
    // A title that is nothing but markup (`<script>alert(1)</script>`) is what the partner wrote:
    // kept as text (every page and message escapes it), not silently replaced.
    if title.is_empty() {
        title = entry.title.split_whitespace().collect::<Vec<_>>().join(" ");
    }
    if title.is_empty() {
        title = if text.is_empty() { "(untitled)".to_owned() } else { truncate_words(&text, 80) };
    }
    EntryRecord {
        key: entry.identity(),
        tags: rules.tags(&title, &format!("{text} {}", entry.categories.join(" "))),
        summary: truncate_words(&text, max_chars),
        title: truncate_words(&title, 250),
        link: entry.link.clone(),
        published_at: entry.published.map(Timestamp::from_datetime),
    }
}

/// The keys to post: all entries, except on a first poll, where only the `backfill` newest.
fn posting_set(records: &[EntryRecord], first_poll: bool, backfill: usize) -> std::collections::HashSet<String> {
    if !first_poll {
        return records.iter().map(|r| r.key.clone()).collect();
    }
    // Newest first by date; undated entries keep feed order (feeds list newest first).
    let mut order: Vec<(usize, &EntryRecord)> = records.iter().enumerate().collect();
    order.sort_by(|(ia, a), (ib, b)| b.published_at.cmp(&a.published_at).then(ia.cmp(ib)));
    order.into_iter().take(backfill).map(|(_, r)| r.key.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: &str, published_at: Option<i64>) -> EntryRecord {
        let published_at = published_at.map(Timestamp::from_millis);
        EntryRecord { key: key.to_owned(), title: key.to_owned(), link: None, published_at, summary: String::new(), tags: vec![] }
    }

    #[test]
    fn first_poll_posts_only_the_newest() {
        let records = vec![record("old", Some(1)), record("newest", Some(3)), record("mid", Some(2))];
        let set = posting_set(&records, true, 2);
        assert!(set.contains("newest") && set.contains("mid") && !set.contains("old"));
        assert_eq!(posting_set(&records, false, 2).len(), 3);
        assert!(posting_set(&records, true, 0).is_empty());
    }

    #[test]
    fn summaries_are_plain_short_and_tagged() {
        let entry = ParsedEntry {
            id: String::new(),
            title: "Breaking: <em>v1</em> removed".to_owned(),
            link: Some("https://x.test/1".to_owned()),
            published: None,
            body: format!("<p>{}</p>", "word ".repeat(200)),
            categories: vec!["Security".to_owned()],
        };
        let r = summarise(&entry, &TagRules::default(), 300);
        assert_eq!(r.title, "Breaking: v1 removed");
        assert!(r.summary.chars().count() <= 300 && r.summary.ends_with('…'));
        assert_eq!(r.tags, vec!["breaking", "security"], "categories feed the tag rules");
        assert_eq!(r.key, "https://x.test/1");
        let markup = ParsedEntry { title: "<script>alert(1)</script>".to_owned(), body: "<p>Body</p>".to_owned(), ..entry };
        assert_eq!(
            summarise(&markup, &TagRules::default(), 300).title,
            "<script>alert(1)</script>",
            "kept as written, escaped where shown"
        );
    }
}
