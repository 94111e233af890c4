//! The dashboard (issue 14) on a running `sparky run`, over a database filled through the real
//! sources against fakes on loopback: a partner outage our check saw 17 minutes before the
//! partner's page admitted it (vendor lag 17 min), a recovered incident, a failed compatibility
//! run, and a changelog whose entry titles are `<script>` tags (rendered as text everywhere,
//! Atom included). Every page and its JSON, the security headers, unknown partners.

#![allow(unreachable_pub, clippy::unwrap_used)] // test and bench code: a failed unwrap is a failed run

mod common;

use std::time::Duration;

use common::fake_feeds::{Served, rss};
use common::fake_github::{Answer, FakeGitHub};
use common::time_travel;
use common::world::World;
use serde_json::Value;
use sparky::service::jobs::{self, Handover};

const XSS: &str = "<script>alert(1)</script>";
const TOKEN: &str = "github_pat_11AAdashboardTest0123456789";

struct Story {
    w: World,
    github: FakeGitHub,
}

/// The story: acme's API fails at T (our internal incident), acme's page admits an outage at
/// T+17 min (the cause turns external), the API recovers; graph's changelog announces a beta
/// whose compatibility run fails; both feeds carry a `<script>` title.
async fn story() -> Story {
    let github = FakeGitHub::start(TOKEN, Answer::Details).await;
    github.next_run_concludes(&["failure"]);
    let toml = format!(
        "[github]\napi_url = \"{}\"\ntoken = \"{TOKEN}\"\n[teams.identity]\njira_assignee = \"5b10ac8d82e05b22cc7d4ef5\"\n",
        github.url()
    );
    let w = World::new(&["acme-api"], &toml).await;
    let beta = ("g1", "Beta: new Teams meeting APIs", "Wed, 07 Oct 2026 10:00:00 GMT", "<p>Try them on the beta endpoint.</p>");
    // In CDATA, so the title the parser reads is the `<script>` tag itself.
    let evil = ("g2", "<![CDATA[<script>alert(1)</script>]]>", "Tue, 06 Oct 2026 10:00:00 GMT", "<p>bad</p>");
    let feed = w.page.serve("/graph.xml", Served::Body(rss(&[beta, evil]), "application/rss+xml"));
    w.sparky.write(
        "partners/graph.toml",
        &format!(
            "id = \"graph\"\nname = \"Microsoft Graph\"\nowner_team = \"identity\"\n[[feeds]]\nurl = \"{feed}\"\n\
             [compat]\nrepository = \"acme/compat-tests\"\nworkflow = \"graph-compat.yml\"\nversion_pattern = '(?P<version>\\bbeta\\b)'\n"
        ),
    );
    w.sparky.changelogs().await;
    for _ in 0..4 {
        time_travel(Duration::from_secs(301)).await;
        github.advance(Duration::from_secs(301));
        let app = w.sparky.app().await;
        jobs::compat(&app, Handover::Drain).await.unwrap();
        app.store.close().await;
    }
    // T: our check fails, acme's page says nothing yet.
    w.partner_api(500);
    w.once("synthetics").await;
    time_travel(Duration::from_secs(17 * 60)).await;
    // T+17 min: acme's page admits it.
    w.partner_page("major", "major_outage", true);
    w.once("status").await;
    time_travel(Duration::from_secs(600)).await;
    w.partner_api(200);
    w.partner_page("none", "operational", false);
    w.once("status").await;
    for _ in 0..3 {
        time_travel(Duration::from_secs(60)).await;
        w.once("synthetics").await;
    }
    Story { w, github }
}

async fn get(base: &str, path: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let response = reqwest::get(format!("{base}{path}")).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

#[tokio::test]
async fn every_page_tells_the_story_and_escapes_what_partners_wrote() {
    let s = story().await;
    let daemon = s.w.sparky.boot().await;
    let base = daemon.base.clone();

    let (status, headers, html) = get(&base, "/").await;
    assert_eq!(status, 200);
    for (name, want) in
        [("content-security-policy", "default-src 'none'"), ("x-content-type-options", "nosniff"), ("x-frame-options", "DENY")]
    {
        assert!(headers.get(name).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains(want)), "{name}: {:?}", headers.get(name));
    }
    assert!(headers.get("cache-control").and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("max-age=5")));
    for want in
        ["Acme Cloud", "Microsoft Graph", "acme-api", "Beta: new Teams meeting APIs", "beta: <span class=\"failure\">failure</span>"]
    {
        assert!(html.contains(want), "the overview lacks {want:?}:\n{html}");
    }

    let (_, _, api) = get(&base, "/api/partners").await;
    let api: Value = serde_json::from_str(&api).unwrap();
    let partners = api["partners"].as_array().unwrap();
    assert_eq!(partners.len(), 2);
    let acme = partners.iter().find(|p| p["id"] == "acme").unwrap();
    assert!(acme["checks"][0]["success_ratio"].as_f64().unwrap() < 100.0, "{}", acme["checks"][0]);
    assert_eq!(acme["status"]["indicator"], "none", "recovered");
    let graph = partners.iter().find(|p| p["id"] == "graph").unwrap();
    assert_eq!(graph["compat"]["conclusion"], "failure");

    let (status, _, page) = get(&base, "/partners/acme").await;
    assert_eq!(status, 200);
    assert!(page.contains("median <strong>17 min</strong>"), "vendor lag on the partner page:\n{page}");
    let (_, _, api) = get(&base, "/api/partners/acme").await;
    let api: Value = serde_json::from_str(&api).unwrap();
    assert_eq!(api["vendor_lag"]["median_minutes"], 17, "{}", api["vendor_lag"]);
    assert_eq!(api["incidents"][0]["vendor_lag_minutes"], 17);
    assert!(api["incidents"][0]["history"].as_array().unwrap().len() >= 2, "opened, cause changed ...");
    assert!(!api["status_history"].as_array().unwrap().is_empty());
    assert_eq!(api["checks"][0]["timeline"]["cells"].as_array().unwrap().len(), 168);
    assert_eq!(get(&base, "/partners/nope").await.0, 404);
    assert_eq!(get(&base, "/api/partners/nope").await.0, 404);

    let (status, _, graph) = get(&base, "/partners/graph").await;
    assert_eq!(status, 200);
    assert!(graph.contains("test (Python 3.7)") && graph.contains("failure"), "the failed compatibility run");

    let (status, _, changelog) = get(&base, "/changelog?partner=graph").await;
    assert_eq!(status, 200);
    assert!(changelog.contains("Beta: new Teams meeting APIs"));
    let (_, _, tagged) = get(&base, "/api/changelog?tag=beta").await;
    let tagged: Value = serde_json::from_str(&tagged).unwrap();
    assert!(tagged["entries"].as_array().unwrap().iter().all(|e| e["tags"].as_array().unwrap().iter().any(|t| t == "beta")));
    assert!(!tagged["entries"].as_array().unwrap().is_empty());
    assert_eq!(get(&base, "/changelog?partner=nope").await.0, 404);

    let (status, headers, atom) = get(&base, "/changelog.atom").await;
    assert_eq!(status, 200);
    assert!(headers["content-type"].to_str().unwrap().starts_with("application/atom+xml"));
    let parsed = feed_rs::parser::parse(atom.as_bytes()).expect("valid Atom");
    assert_eq!(parsed.entries.len(), 2);
    let evil = parsed.entries.iter().find(|e| e.title.as_ref().is_some_and(|t| t.content == XSS)).unwrap_or_else(|| {
        panic!("the <script> title, as text: {:?}\n{atom}", parsed.entries.iter().map(|e| e.title.clone()).collect::<Vec<_>>())
    });
    assert_eq!(evil.categories[0].term, "graph", "the partner is the first category");

    for (path, body) in
        [("/", html), ("/partners/graph", graph), ("/changelog", get(&base, "/changelog").await.2), ("/changelog.atom", atom)]
    {
        assert!(!body.contains(XSS), "{path} renders the feed's <script> as markup");
    }
    let (_, _, overview) = get(&base, "/").await;
    assert!(overview.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"), "as text on the overview");
    assert_eq!(s.github.violations(), Vec::<String>::new());
    daemon.stop().await;
}
