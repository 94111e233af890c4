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
    let mut w = World::new(&["acme-api"], &toml).await;
    // Our public page is the built-in one (its history is ours to show).
    w.sparky.unset("STATUSPAGE_API_KEY");
    w.sparky.unset("STATUSPAGE_PAGE_ID");
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
    // T+17 min: acme's page admits it, under an incident name that is a `<script>` tag.
    let page = common::world::summary("major", "major_outage", true).replace("Elevated API errors", XSS);
    w.page.serve("/api/v2/summary.json", Served::Body(page, "application/json"));
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
    // Our public page: the recovered incident among the past ones, an uptime under 100 %, and
    // the partner's `<script>` incident name (quoted in our update) as text.
    let (status, _, page) = get(&base, "/status").await;
    assert_eq!(status, 200);
    for want in ["Uptime, last 90 days", "Past incidents, last 14 days", "Resolved", "&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"] {
        assert!(page.contains(want), "/status lacks {want:?}:\n{page}");
    }
    assert!(!page.contains(XSS), "/status renders the partner's <script> as markup");
    assert!(!page.contains("100% uptime") || page.matches("% uptime").count() > 1, "acme was down: {page}");
    let (status, headers, history) = get(&base, "/status/history.atom").await;
    assert_eq!(status, 200);
    assert!(headers["content-type"].to_str().unwrap().starts_with("application/atom+xml"));
    assert!(!history.contains(XSS), "the history feed carries the <script> as markup");
    let feed = feed_rs::parser::parse(history.as_bytes()).expect("valid Atom");
    assert_eq!(feed.entries.len(), 1, "the one public incident");
    let content = feed.entries[0].content.as_ref().and_then(|c| c.body.clone()).unwrap_or_default();
    assert!(content.contains(XSS) && content.contains("Resolved"), "the updates, the partner's words as text: {content}");
    let (_, _, summary) = get(&base, "/api/v2/summary.json").await;
    assert!(serde_json::from_str::<Value>(&summary).unwrap()["page"]["url"] == "/status");

    // Every /api/ route answers as /api/openapi.json describes it.
    let (_, _, doc) = get(&base, "/api/openapi.json").await;
    let doc: Value = serde_json::from_str(&doc).unwrap();
    let described: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    for route in ["/api/partners", "/api/partners/{id}", "/api/incidents", "/api/compat", "/api/changelog", "/api/ops"] {
        assert!(described.iter().any(|p| *p == route), "{route} is not described");
    }
    for (template, op) in doc["paths"].as_object().unwrap() {
        let path = template.replace("{id}", "acme");
        let (status, _, body) = get(&base, &path).await;
        assert_eq!(status, 200, "{path}");
        let schema = &op["get"]["responses"]["200"]["content"]["application/json"]["schema"];
        let v = common::schema::violations(&doc, schema, &serde_json::from_str(&body).unwrap());
        assert!(v.is_empty(), "{path} departs from its description: {v:?}");
    }
    // The check itself bites: a property the answers lack, or a wrong type, is found.
    let strict = serde_json::json!({"type": "object", "required": ["partners", "nope"], "properties": {"partners": {"type": "string"}}});
    let (_, _, partners) = get(&base, "/api/partners").await;
    assert_eq!(common::schema::violations(&doc, &strict, &serde_json::from_str(&partners).unwrap()).len(), 2);
    let (_, _, incidents) = get(&base, "/api/incidents?days=90").await;
    let incidents: Value = serde_json::from_str(&incidents).unwrap();
    assert_eq!(incidents["incidents"].as_array().unwrap().len(), 1, "the recovered incident");
    assert_eq!(incidents["incidents"][0]["state"], "resolved");

    let (status, _, compat) = get(&base, "/compat?team=identity").await;
    assert_eq!(status, 200);
    for want in ["Microsoft Graph</a> beta", "P2 ", "test (Python 3.7)", "step 5 Run tests", "owned by identity"] {
        assert!(compat.contains(want), "/compat lacks {want:?}:\n{compat}");
    }
    let (_, _, other_team) = get(&base, "/compat?team=payments").await;
    assert!(!other_team.contains("test (Python 3.7)"), "another team's page");
    let (status, _, ops) = get(&base, "/ops").await;
    assert_eq!(status, 200);
    let (_, _, ops_api) = get(&base, "/api/ops").await;
    let ops_api: Value = serde_json::from_str(&ops_api).unwrap();
    let replicas = ops_api["replicas"].as_array().unwrap();
    assert_eq!(replicas.len(), 1, "the daemon: {ops_api}");
    assert_eq!(replicas[0]["checks"], serde_json::json!(["acme-api"]), "alone, it runs every check");
    assert!(ops_api["feeds"].as_array().unwrap().iter().any(|f| f["partner"] == "graph" && f["consecutive_failures"] == 0));
    assert!(ops.contains("Admin actions are off: set SPARKY_ADMIN_TOKEN"), "{ops}");
    let off = reqwest::Client::new().post(format!("{base}/ops/outbox/1/retry")).bearer_auth("anything").send().await.unwrap();
    assert_eq!(off.status().as_u16(), 403);
    assert!(off.text().await.unwrap().contains("SPARKY_ADMIN_TOKEN"));
    assert_eq!(s.github.violations(), Vec::<String>::new());
    daemon.stop().await;
}

#[tokio::test]
async fn retrying_a_dead_action_needs_the_admin_token() {
    const ADMIN: &str = "admin-token-0123456789abcdef";
    let w = World::new(&["acme-api"], &format!("[server]\nadmin_token = \"{ADMIN}\"\n")).await;
    w.jira.fail_creates(1, 400);
    w.partner_api(500);
    w.once("synthetics").await;
    let daemon = w.sparky.boot().await;
    let base = daemon.base.clone();
    let (_, _, api) = get(&base, "/api/ops").await;
    let api: Value = serde_json::from_str(&api).unwrap();
    let dead =
        api["actions"].as_array().unwrap().iter().find(|a| a["state"] == "dead").unwrap_or_else(|| panic!("a dead action: {api}")).clone();
    assert_eq!(api["admin"], "signed_out");
    assert!(dead["last_error"].as_str().unwrap().contains("HTTP 400"), "{dead}");
    let id = dead["id"].as_i64().unwrap();
    let (_, _, page) = get(&base, "/ops").await;
    assert!(page.contains("name=\"token\"") && !page.contains(ADMIN), "a sign-in form, the token never shown");
    // Atlassian Statuspage is this world's public page: /status says so instead of local data.
    let (_, _, public) = get(&base, "/status").await;
    assert!(public.contains("hosted on Atlassian Statuspage") && !public.contains("Uptime"), "{public}");

    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let retry = |auth: Option<&'static str>| {
        let mut request = no_redirects.post(format!("{base}/ops/outbox/{id}/retry"));
        if let Some(token) = auth {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    assert_eq!(retry(None).await.unwrap().status().as_u16(), 401, "without a token");
    assert_eq!(retry(Some("wrong-token")).await.unwrap().status().as_u16(), 401, "with a wrong one");
    let done = retry(Some(ADMIN)).await.unwrap();
    assert_eq!(done.status().as_u16(), 303);
    assert_eq!(done.headers()["location"], "/ops");
    let app = w.sparky.app().await;
    let row = sparky::store::outbox::get(&app.store, id).await.unwrap().unwrap();
    assert_ne!(row.state, sparky::model::ActionState::Dead, "requeued");
    app.store.close().await;

    // The login form: a wrong token is refused, the right one gives a session cookie that is
    // not the token, and that cookie signs a later request in.
    let form = |token: &str| {
        let body = format!("token={}", url::form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>());
        no_redirects.post(format!("{base}/ops/login")).header("content-type", "application/x-www-form-urlencoded").body(body).send()
    };
    assert_eq!(form("nope").await.unwrap().status().as_u16(), 401);
    let signed = form(ADMIN).await.unwrap();
    assert_eq!(signed.status().as_u16(), 303);
    let cookie = signed.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && !cookie.contains(ADMIN), "{cookie}");
    let session = cookie.split(';').next().unwrap().to_owned();
    let page = no_redirects.get(format!("{base}/api/ops")).header("cookie", &session).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("\"admin\":\"signed_in\""), "{page}");
    let again = no_redirects.post(format!("{base}/ops/outbox/{id}/retry")).header("cookie", &session).send().await.unwrap();
    assert_eq!(again.status().as_u16(), 409, "no longer dead");
    daemon.stop().await;
}

/// Headless Chromium (Debian `chromium`, installed by `.ci/run`): `None` when absent (a failure
/// under `CI=true`).
fn chromium() -> Option<&'static str> {
    let found = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|c| std::process::Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()));
    assert!(found.is_some() || std::env::var("CI").is_err(), "chromium is needed under CI=true (apt-get install chromium)");
    found
}

/// `chromium --headless` on `url`: its DOM after rendering, and a screenshot at `png`.
async fn browse(chromium: &str, url: &str, png: &std::path::Path) -> String {
    let profile = tempfile::tempdir().unwrap();
    let args = |extra: &str| {
        vec![
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--hide-scrollbars".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
            "--window-size=1280,1600".to_owned(),
            extra.to_owned(),
            url.to_owned(),
        ]
    };
    let dom = tokio::process::Command::new(chromium).args(args("--dump-dom")).output().await.unwrap();
    assert!(dom.status.success(), "chromium --dump-dom {url}: {}", String::from_utf8_lossy(&dom.stderr));
    let shot = tokio::process::Command::new(chromium).args(args(&format!("--screenshot={}", png.display()))).output().await.unwrap();
    assert!(shot.status.success() && png.exists(), "chromium --screenshot {url}: {}", String::from_utf8_lossy(&shot.stderr));
    String::from_utf8_lossy(&dom.stdout).into_owned()
}

#[tokio::test]
async fn a_browser_shows_the_overview_a_partner_page_and_the_status_page() {
    let Some(chromium) = chromium() else { return };
    let s = story().await;
    let daemon = s.w.sparky.boot().await;
    // Kept as test artifacts, for a person to look at.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let pages: [(&str, &str, &[&str]); 7] = [
        ("/", "overview", &["Partners", "Acme Cloud", "Microsoft Graph", "acme-api", "<script>alert(1)</script>"]),
        ("/partners/acme", "partner-acme", &["Vendor lag (90 days)", "17 min", "Checks, last 7 days", "What their status page said"]),
        ("/partners/graph", "partner-graph", &["Compatibility runs", "test (Python 3.7)", "failure"]),
        ("/status", "status", &["All Systems Operational", "Acme Cloud"]),
        ("/compat", "compat", &["Compatibility runs", "step 5 Run tests"]),
        ("/changelog", "changelog", &["Partner changelogs", "Beta: new Teams meeting APIs"]),
        ("/ops", "ops", &["Operations", "Admin actions are off"]),
    ];
    for (path, name, wants) in pages {
        let dom = browse(chromium, &format!("{}{path}", daemon.base), &dir.join(format!("{name}.png"))).await;
        // The DOM's text: the `<script>` title is a text node (escaped again in the dump), never an element.
        assert!(!dom.contains("<script>alert(1)</script>"), "{path}: a script element in the rendered page");
        for want in wants {
            let shown = want.replace('<', "&lt;").replace('>', "&gt;");
            assert!(dom.contains(&shown), "{path}: the browser does not show {want:?}:\n{dom}");
        }
    }
    daemon.stop().await;
}

#[tokio::test]
async fn the_public_endpoints_are_rate_limited_per_client_and_the_dashboard_is_not() {
    let sparky = common::Sparky::new(common::Db::Sqlite);
    sparky.write("sparky.toml", "[server]\npublic_requests_per_second = 2\n");
    sparky.partner("acme", "Acme Cloud", &[]);
    let daemon = sparky.boot().await;
    let mut limited = Vec::new();
    for _ in 0..12 {
        let (status, headers, _) = get(&daemon.base, "/api/v2/summary.json").await;
        if status == 429 {
            limited.push(headers["retry-after"].to_str().unwrap().parse::<u64>().unwrap());
        } else {
            assert_eq!(status, 200);
        }
    }
    assert!(!limited.is_empty() && limited.len() <= 8, "a burst of 4 passes, the rest waits: {limited:?}");
    assert!(limited.iter().all(|s| *s >= 1), "Retry-After in whole seconds: {limited:?}");
    for _ in 0..12 {
        assert_eq!(get(&daemon.base, "/api/partners").await.0, 200, "the dashboard is not limited");
    }
    daemon.stop().await;
}
