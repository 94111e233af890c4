//! Detection of a partner's new beta / upcoming API version (issue 13, item 1).
//!
//! - The corpus table: real feeds of `../shared/fixtures/feeds` (read in place, never copied),
//!   parsed with the project's own parser, each named entry run through the detector with the
//!   default patterns (and a Microsoft Graph-like `version_pattern`): whether it triggers, by
//!   which pattern, and which version it gives; GA entries do not trigger.
//! - A `version_pattern` without a group `version` is a configuration problem.
//! - End to end: a partner with `[compat]` and a fake feed, polled by `Sparky::changelogs()`: one
//!   detection for the beta entry, none for the GA one; a later entry about the same version is
//!   added to that detection.

#![allow(unreachable_pub, clippy::unwrap_used)] // test and bench code: a failed unwrap is a failed run

mod common;

use common::fake_feeds::{FakeFeeds, Served, rss};
use common::{Db, Sparky};
use sparky::config::{CompatConfig, Config, Pattern};
use sparky::sources::changelogs::parse::{ParsedEntry, parse_feed};
use sparky::sources::compat::detect::DEFAULT_BETA_PATTERNS;
use sparky::sources::compat::{Detected, Detector, entry_text};
use sparky::store::{Store, compat};

const RSS: &str = "application/rss+xml";

fn config(beta_patterns: &[&str], version_pattern: Option<&str>) -> CompatConfig {
    CompatConfig {
        repository: "acme/compat-tests".to_owned(),
        workflow: "compat.yml".to_owned(),
        git_ref: "main".to_owned(),
        beta_patterns: beta_patterns.iter().map(|p| Pattern::try_from((*p).to_owned()).unwrap()).collect(),
        version_pattern: version_pattern.map(|p| Pattern::try_from(p.to_owned()).unwrap()),
    }
}

/// The entries of a corpus feed, or `None` when `../shared/fixtures/feeds` is absent.
fn corpus(name: &str) -> Option<Vec<ParsedEntry>> {
    let dir = common::shared_fixtures("feeds")?;
    let bytes = std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("cannot read {name}: {e}"));
    Some(parse_feed(&bytes, &format!("https://fixtures.invalid/feeds/{name}"), None).unwrap_or_else(|e| panic!("{name}: {e}")))
}

/// What `detector` says of the entry of `feed` titled `title`.
fn detect(detector: &Detector, entries: &[ParsedEntry], feed: &str, title: &str) -> Option<Detected> {
    let entry = entries.iter().find(|e| e.title == title).unwrap_or_else(|| panic!("{feed} has no entry titled {title:?}"));
    let (title, text) = entry_text(entry);
    detector.detect(&title, &text)
}

/// Expected: `None` (no trigger), or the pattern index in `DEFAULT_BETA_PATTERNS` and the version.
type Expected = Option<(usize, Option<&'static str>)>;

#[test]
fn real_feeds_trigger_on_beta_entries_only() {
    const BETA: usize = 0;
    const NEW_VERSION: usize = 5;
    let graph = "msgraph_changelog_rss_excerpt.xml";
    let github = "github_changelog_rss_2026-10-07_trimmed.xml";
    let google = "google_cloud_blog_rss2_2019.xml";
    let table: &[(&str, &str, Expected)] = &[
        // Graph marks a beta change by its `beta` category only; no version in the text.
        (graph, "Security", Some((BETA, None))),
        (graph, "Groups", None),
        // GitHub: two GA announcements and two plain releases.
        (github, "Local sandboxing for GitHub Copilot now generally available", None),
        (github, "Claude Haiku 5.5 in GitHub Copilot", None),
        (github, "Purpose-built model for leaked secret detection", None),
        (github, "Discover local models in GitHub Copilot CLI", None),
        // Google Cloud: a beta by its title, a beta by its text, a new version.
        (google, "Now in beta: Managed Service for Microsoft Active Directory (AD)", Some((BETA, None))),
        (google, "Ruby support comes to App Engine standard environment", Some((BETA, None))),
        (
            google,
            "New release of Cloud Storage Connector for Hadoop: Improving performance, throughput and more",
            Some((NEW_VERSION, None)),
        ),
        (google, "Expanding your patent set with ML and BigQuery", None),
    ];
    let defaults = Detector::new(&config(&[], None));
    let mut checked = 0;
    for (feed, title, expected) in table {
        let Some(entries) = corpus(feed) else { return };
        let got = detect(&defaults, &entries, feed, title);
        let expected = expected.map(|(i, v)| Detected { version: v.map(str::to_owned), pattern: DEFAULT_BETA_PATTERNS[i].to_owned() });
        assert_eq!(got, expected, "{feed}: {title:?}");
        checked += 1;
    }
    assert_eq!(checked, table.len());

    // A Graph-like version_pattern: the `beta` endpoint (or category) is the version.
    let graph_like = Detector::new(&config(&[], Some(r"(?i)(?:^|[\s/])(?P<version>beta|v\d+\.\d+)(?:$|[\s/])")));
    let Some(entries) = corpus(graph) else { return };
    assert_eq!(detect(&graph_like, &entries, graph, "Security").and_then(|d| d.version).as_deref(), Some("beta"));
    assert_eq!(detect(&graph_like, &entries, graph, "Groups"), None, "v1.0 is not a beta");
}

#[test]
fn a_ga_entry_does_not_trigger_even_when_a_partner_pattern_matches_it() {
    let Some(entries) = corpus("github_changelog_rss_2026-10-07_trimmed.xml") else { return };
    let feed = "github";
    let copilot = Detector::new(&config(&[r"(?i)\bcopilot\b", r"(?i)\bsandbox"], None));
    // The pattern matches the title, and so does the GA guard.
    assert_eq!(detect(&copilot, &entries, feed, "Local sandboxing for GitHub Copilot now generally available"), None);
    // The pattern matches the title, the text says "now generally available": the title wins.
    assert!(detect(&copilot, &entries, feed, "Claude Haiku 5.5 in GitHub Copilot").is_some());
    let hit = detect(&copilot, &entries, feed, "Discover local models in GitHub Copilot CLI").unwrap();
    assert_eq!(hit.pattern, r"(?i)\bcopilot\b");
}

#[test]
fn a_version_pattern_without_a_version_group_is_a_problem() {
    let sparky = Sparky::new(Db::Sqlite);
    sparky.write(
        "partners/acme.toml",
        "id = \"acme\"\nname = \"Acme\"\n[compat]\nrepository = \"acme/compat\"\nworkflow = \"c.yml\"\nversion_pattern = 'v\\d+'\n",
    );
    let Err(err) = Config::load_with_env(sparky.path(), &sparky.lookup()) else { panic!("a problem expected") };
    let err = err.to_string();
    assert!(err.contains("partners/acme.toml: compat.version_pattern: `v\\d+` has no named group `version`"), "{err}");
    sparky.write(
        "partners/acme.toml",
        "id = \"acme\"\nname = \"Acme\"\n[compat]\nrepository = \"acme/compat\"\nworkflow = \"c.yml\"\nversion_pattern = '(?P<version>v\\d+)'\n",
    );
    assert!(Config::load_with_env(sparky.path(), &sparky.lookup()).is_ok());
}

#[tokio::test]
async fn a_polled_beta_entry_is_detected_once_per_version() {
    let feeds = FakeFeeds::start().await;
    let beta = ("b1", "Public preview: Orders API v2.1", "Tue, 06 Oct 2026 10:00:00 GMT", "<p>Try the v2.1 endpoints.</p>");
    let ga = ("g1", "Webhooks v5 are generally available", "Mon, 05 Oct 2026 10:00:00 GMT", "<p>Out of beta.</p>");
    let url = feeds.serve("/acme/feed.xml", Served::Body(rss(&[beta, ga]), RSS));
    let sparky = Sparky::new(Db::Sqlite);
    sparky.write(
        "partners/acme.toml",
        &format!("id = \"acme\"\nname = \"Acme\"\n[[feeds]]\nurl = \"{url}\"\n[compat]\nrepository = \"acme/compat\"\nworkflow = \"compat.yml\"\n"),
    );
    // A partner without [compat] detects nothing.
    let other =
        feeds.serve("/other/feed.xml", Served::Body(rss(&[("o1", "Beta: Other API v9", "Tue, 06 Oct 2026 10:00:00 GMT", "")]), RSS));
    sparky.partner("other", "Other", &[&other]);

    sparky.changelogs().await;
    let store = Store::open(&format!("sqlite://{}", sparky.sqlite_path().display())).await.unwrap();
    let found = compat::list(&store, None).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    let d = &found[0];
    assert_eq!((d.partner_id.as_str(), d.version.as_str(), d.first_entry_key.as_str()), ("acme", "v2.1", "b1"));
    assert_eq!(d.first_entry_title, "Public preview: Orders API v2.1");
    assert_eq!(d.first_entry_link.as_deref(), Some("https://partner.test/changelog/b1"));
    assert_eq!(d.entries, ["b1"]);
    store.close().await;

    let again = ("b2", "Orders API v2.1 preview: pagination", "Wed, 07 Oct 2026 10:00:00 GMT", "<p>More of v2.1.</p>");
    feeds.serve("/acme/feed.xml", Served::Body(rss(&[again, beta, ga]), RSS));
    sparky.changelogs().await;
    let store = Store::open(&format!("sqlite://{}", sparky.sqlite_path().display())).await.unwrap();
    let found = compat::list(&store, Some("acme")).await.unwrap();
    assert_eq!(found.len(), 1, "still one detection: {found:?}");
    assert_eq!((found[0].id, found[0].first_entry_key.as_str()), (d.id, "b1"));
    assert_eq!(found[0].entries, ["b1", "b2"], "the second entry is added to the detection");
    store.close().await;
}

/// The `[compat]` of a shipped partner file.
fn shipped(partner: &str) -> CompatConfig {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = sparky::config::Config::load_for(dir, sparky::config::Secrets::WhereSet).unwrap();
    config.partner(partner).and_then(|p| p.compat.clone()).unwrap_or_else(|| panic!("partners/{partner}.toml has no [compat]"))
}

#[test]
fn the_shipped_partner_files_detect_their_vendors_upcoming_versions() {
    let graph = Detector::new(&shipped("microsoft-graph"));
    let Some(entries) = corpus("msgraph_changelog_rss_excerpt.xml") else { return };
    let beta = detect(&graph, &entries, "graph", "Security").expect("Graph's beta change dispatches");
    assert_eq!(beta.version.as_deref(), Some("beta"));
    assert_eq!(detect(&graph, &entries, "graph", "Groups"), None, "a v1.0 change is GA");

    let github = Detector::new(&shipped("github"));
    let Some(entries) = corpus("github_changelog_rss_2026-10-07_trimmed.xml") else { return };
    for title in ["Local sandboxing for GitHub Copilot now generally available", "Claude Haiku 5.5 in GitHub Copilot"] {
        assert_eq!(detect(&github, &entries, "github", title), None, "{title}");
    }

    let okta = Detector::new(&shipped("okta"));
    let preview = okta.detect("Okta Identity Engine 2026.41.0", "Preview: new Identity Threat Protection API endpoints");
    assert_eq!(preview.and_then(|d| d.version).as_deref(), Some("2026.41.0"));
    assert_eq!(okta.detect("Okta Identity Engine 2026.40.1", "Production release: bug fixes"), None);

    let slack = Detector::new(&shipped("slack"));
    assert!(slack.detect("New Web API methods for canvases", "Three new methods: canvases.create ...").is_some());
    assert_eq!(slack.detect("Deprecation of legacy bot tokens", "Legacy bot tokens will be retired"), None);
}
