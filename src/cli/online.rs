//! `sparky check-config --online`: every feed and status page of a valid configuration fetched
//! once (no retries, the `[http]` timeout) and parsed, one line per source saying whether it
//! answered and what it parsed. Read only: nothing is stored, no notice is posted (the changelog
//! parser and [`read_page`] without the store).
//!
//! Exit code: 0 when every source answered and parsed (a status page that is not configured is
//! reported, not a failure), 1 when one did not.

use std::process::ExitCode;

use futures::StreamExt;
use serde::Serialize;

use crate::config::{Config, FeedConfig, Partner, StatusPageConfig};
use crate::fetch::{Fetcher, Validators};
use crate::model::{ErrorKind, Indicator};
use crate::sources::changelogs::{FeedRead, read_feed};
use crate::sources::status_pages::{Reading, read_page};

/// Sources read at once.
const CONCURRENCY: usize = 8;

/// What one source did.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Checked {
    /// Partner id.
    partner: String,
    /// `feed` or `status_page`.
    source: &'static str,
    /// The URL read (none for a page not configured).
    url: Option<String>,
    /// `ok`, `not_configured`, or the error kind (`dns`, `http`, `auth`, `no_status` ...).
    result: String,
    /// What was parsed, or the error, in words.
    detail: String,
}

impl Checked {
    fn failed(&self) -> bool {
        self.result != "ok" && self.result != ErrorKind::NotConfigured.as_str()
    }
}

/// One source to read.
enum Source<'a> {
    Feed(&'a Partner, &'a FeedConfig),
    Page(&'a Partner, &'a StatusPageConfig),
    NotConfigured(&'a Partner),
}

/// Reads every source of `config` once; prints what each did unless `json` (then the caller
/// puts the results in its JSON). Exit 1 when one failed.
pub(super) async fn run(config: &Config, json: bool) -> (ExitCode, Vec<Checked>) {
    let fetcher = match Fetcher::new(&config.global.http) {
        Ok(f) => f.quick(config.global.http.timeout.get()),
        Err(e) => {
            eprintln!("sparky: cannot build the HTTP client: {e}");
            return (ExitCode::FAILURE, Vec::new());
        }
    };
    let checked: Vec<Checked> = futures::stream::iter(sources(config)).map(|s| check(&fetcher, s)).buffered(CONCURRENCY).collect().await;
    if !json {
        print(&checked);
    }
    let code = if checked.iter().any(Checked::failed) { ExitCode::from(1) } else { ExitCode::SUCCESS };
    (code, checked)
}

/// Every feed, then every status page (configured or not), partner by partner.
fn sources(config: &Config) -> Vec<Source<'_>> {
    let feeds = config.partners.iter().flat_map(|p| p.feeds.iter().map(move |f| Source::Feed(p, f)));
    let pages = config.partners.iter().filter_map(|p| match (&p.status_page, &p.status_page_not_configured) {
        (Some(page), _) => Some(Source::Page(p, page)),
        (None, Some(_)) => Some(Source::NotConfigured(p)),
        (None, None) => None,
    });
    feeds.chain(pages).collect()
}

async fn check(fetcher: &Fetcher, source: Source<'_>) -> Checked {
    match source {
        Source::Feed(partner, feed) => {
            let (result, detail) = match read_feed(fetcher, feed, &Validators::default()).await {
                Ok(FeedRead::Parsed { entries, .. }) => ("ok".to_owned(), format!("{} entries", entries.len())),
                // Asked unconditionally, so a 304 is the server's oddity, not a failure.
                Ok(FeedRead::NotModified) => ("ok".to_owned(), "304 not modified".to_owned()),
                Err(e) => (e.kind.as_str().to_owned(), e.message),
            };
            Checked { partner: partner.id.to_string(), source: "feed", url: Some(feed.url.to_string()), result, detail }
        }
        Source::Page(partner, page) => {
            let Reading { status, result, .. } = read_page(fetcher, page, None, &Validators::default()).await;
            let detail = if status.indicator == Indicator::Unknown {
                status.error.unwrap_or_default()
            } else {
                format!(
                    "indicator {}, {} components, {} incidents, {} maintenances",
                    status.indicator.as_str(),
                    status.components.len(),
                    status.incidents.len(),
                    status.maintenances.len()
                )
            };
            Checked { partner: partner.id.to_string(), source: "status_page", url: Some(page.url.to_string()), result, detail }
        }
        Source::NotConfigured(partner) => Checked {
            partner: partner.id.to_string(),
            source: "status_page",
            url: None,
            result: ErrorKind::NotConfigured.as_str().to_owned(),
            detail: partner.status_page_not_configured.as_ref().map(ToString::to_string).unwrap_or_default(),
        },
    }
}

/// One line per source, then the count.
fn print(checked: &[Checked]) {
    let width = checked.iter().map(|c| c.partner.len()).max().unwrap_or(0);
    for c in checked {
        let url = c.url.as_deref().map(|u| format!("  {u}")).unwrap_or_default();
        let what = match c.result.as_str() {
            "ok" => format!("ok: {}", c.detail),
            _ if !c.failed() => c.detail.clone(),
            kind => format!("FAILED ({kind}): {}", c.detail),
        };
        println!("{:11}  {:width$}{url}  {what}", c.source, c.partner);
    }
    let count = |source: &str, f: fn(&Checked) -> bool| checked.iter().filter(|c| c.source == source && f(c)).count();
    let (feeds, feeds_ok) = (count("feed", |_| true), count("feed", |c| c.result == "ok"));
    let (pages, pages_ok) = (count("status_page", |_| true), count("status_page", |c| c.result == "ok"));
    let unconfigured = count("status_page", |c| c.result == ErrorKind::NotConfigured.as_str());
    let failed = checked.iter().filter(|c| c.failed()).count();
    println!(
        "online: {feeds} feeds ({feeds_ok} ok), {pages} status pages ({pages_ok} ok, {unconfigured} not configured): {}",
        if failed == 0 { "every source answered".to_owned() } else { format!("{failed} failed") }
    );
}
