//! No write and no secret crosses a redirect (issue 11): one test per kind of request, each
//! answered `307` towards another host. Two loopback hosts: the configured one on `127.0.0.1`,
//! "elsewhere" on `127.0.0.2` (Linux routes all of 127/8 to `lo`), which counts every request it
//! gets and the headers they carried.

#![allow(unreachable_pub, clippy::unwrap_used)] // test and bench code: a failed unwrap is a failed run

mod common;

use serde_json::{Value, json};
use sparky::config::CheckConfig;
use sparky::model::{ErrorKind, Indicator, Outcome, SinkKind};
use sparky::outbox::jira::{JiraAction, adf};
use sparky::outbox::pagerduty::{EventAction, PagerDutyEvent, Severity};
use sparky::outbox::slack::{Purpose, SlackPost};
use sparky::outbox::statuspage::{PublicComponent, StatuspageAction};
use sparky::outbox::{Action, Attempt, DeliveryError, attempt};
use sparky::sources::changelogs::FeedOutcome;
use sparky::sources::synthetics::run::{RunOutput, Runner};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use common::fake_feeds::rss;
use common::{Db, Sparky, crypto};

const TOKEN: &str = "bearer-token-never-elsewhere";
const HEADER_SECRET: &str = "header-secret-never-elsewhere";
const CLIENT_SECRET: &str = "client-secret-never-elsewhere";

/// The configured host: `/moved/PATH` answers 307 to `ELSEWHERE/PATH`, `/same/PATH` answers 307
/// to `/landing/PATH` on this host, `/landing/...` answers 200 (the status page summary for a
/// `.json` path), `/loop` redirects to itself.
struct Configured(String);

impl Respond for Configured {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let path = request.url.path();
        if let Some(rest) = path.strip_prefix("/moved/") {
            return ResponseTemplate::new(307).insert_header("Location", format!("{}/{rest}", self.0).as_str());
        }
        if let Some(rest) = path.strip_prefix("/same/") {
            return ResponseTemplate::new(307).insert_header("Location", format!("/landing/{rest}").as_str());
        }
        if path == "/loop" {
            return ResponseTemplate::new(302).insert_header("Location", "/loop");
        }
        answer(path)
    }
}

/// What the final address serves.
fn answer(path: &str) -> ResponseTemplate {
    if path.ends_with("feed.xml") {
        let feed = rss(&[("e1", "SDK 1.0", "Mon, 01 Sep 2025 10:00:00 GMT", "<p>First SDK.</p>")]);
        return ResponseTemplate::new(200).set_body_raw(feed.into_bytes(), "application/rss+xml");
    }
    if path.ends_with(".json") {
        let summary = json!({"page": {"id": "p"}, "status": {"indicator": "none", "description": "ok"}, "components": [{"id": "c", "name": "API", "status": "operational"}], "incidents": [], "scheduled_maintenances": []});
        return ResponseTemplate::new(200).set_body_json(summary);
    }
    if path.ends_with("token") {
        return ResponseTemplate::new(200).set_body_json(json!({"access_token": "at-elsewhere", "expires_in": 3600}));
    }
    ResponseTemplate::new(200)
        .set_body_json(json!({"ok": true, "ts": "1.000001", "channel": "C1", "id": "1", "key": "OPS-1", "status": "success"}))
}

/// The elsewhere host: answers 200 to everything and keeps what it got.
struct Elsewhere;

impl Respond for Elsewhere {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        answer(request.url.path())
    }
}

/// The configured host and elsewhere.
struct Hosts {
    configured: MockServer,
    elsewhere: MockServer,
}

impl Hosts {
    async fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.2:0").expect("127.0.0.2 is a loopback address on Linux");
        let elsewhere = MockServer::builder().listener(listener).start().await;
        Mock::given(wiremock::matchers::any()).respond_with(Elsewhere).mount(&elsewhere).await;
        let configured = MockServer::start().await;
        Mock::given(wiremock::matchers::any()).respond_with(Configured(elsewhere.uri())).mount(&configured).await;
        assert!(configured.uri().starts_with("http://127.0.0.1:") && elsewhere.uri().starts_with("http://127.0.0.2:"));
        Self { configured, elsewhere }
    }

    /// `http://127.0.0.1:PORT` + `path`.
    fn at(&self, path: &str) -> String {
        format!("{}{path}", self.configured.uri())
    }

    /// Requests the configured host got, as `METHOD /path`.
    async fn configured_got(&self) -> Vec<String> {
        self.configured.received_requests().await.unwrap().iter().map(|r| format!("{} {}", r.method, r.url.path())).collect()
    }

    /// Requests elsewhere got.
    async fn elsewhere_got(&self) -> Vec<Request> {
        self.elsewhere.received_requests().await.unwrap()
    }

    /// Elsewhere got nothing at all.
    async fn nothing_elsewhere(&self) {
        let got = self.elsewhere_got().await;
        assert!(
            got.is_empty(),
            "{} request(s) reached the other host: {:?}",
            got.len(),
            got.iter().map(|r| r.url.path()).collect::<Vec<_>>()
        );
    }
}

/// A Sparky with partner `acme` (sandbox host 127.0.0.1) and the secrets in its environment.
fn sparky() -> Sparky {
    let sparky = Sparky::new(Db::Sqlite)
        .env("TOKEN", TOKEN)
        .env("HEADER_SECRET", HEADER_SECRET)
        .env("CLIENT_SECRET", CLIENT_SECRET)
        .env("SPARKY_CANARY_URLS", "");
    sparky.write("partners/acme.toml", "id = \"acme\"\nname = \"Acme\"\nsandbox_hosts = [\"127.0.0.1\"]\n");
    sparky.write("sparky.toml", "[http]\nretries = 0\ntimeout = \"5s\"\n");
    sparky
}

fn check(sparky: &Sparky, id: &str, body: &str) {
    sparky.write(
        &format!("synthetics/{id}.toml"),
        &format!("id = \"{id}\"\npartner = \"acme\"\ntimeout = \"5s\"\nconfirm_after = \"50ms\"\n{body}"),
    );
}

/// Runs every check of `sparky` once with the real runner (no confirmation re-run).
async fn run_checks(sparky: &Sparky) -> std::collections::HashMap<String, RunOutput> {
    crypto();
    let config = sparky.config();
    let runner = Runner::new(&config.global.http, 1024 * 1024).unwrap();
    let mut out = std::collections::HashMap::new();
    for c in &config.checks {
        out.insert(c.id.as_str().to_owned(), runner.run(c, &()).await);
    }
    out
}

fn failed_with(out: &RunOutput, kind: ErrorKind) -> String {
    assert_eq!((out.outcome, out.error_kind), (Outcome::Fail, Some(kind)), "{out:?}");
    out.message.clone().unwrap()
}

fn header(r: &Request, name: &str) -> Option<String> {
    r.headers.get(name).map(|v| v.to_str().unwrap().to_owned())
}

const BEARER: &str = "[auth]\nkind = \"bearer\"\ntoken = \"${TOKEN}\"\n";

#[tokio::test]
async fn a_get_check_with_credentials_stays_on_its_host() {
    let hosts = Hosts::start().await;
    let sparky = sparky();
    let headers = "headers = { X-Secret = \"${HEADER_SECRET}\", Accept = \"application/json\" }\n";
    check(&sparky, "away", &format!("url = \"{}\"\n{headers}{BEARER}", hosts.at("/moved/api")));
    check(&sparky, "same", &format!("url = \"{}\"\n{headers}{BEARER}", hosts.at("/same/api")));
    let out = run_checks(&sparky).await;

    let message = failed_with(&out["away"], ErrorKind::Redirect);
    let (from, to) = (hosts.configured.uri(), format!("{}/api", hosts.elsewhere.uri()));
    assert!(message.contains(&format!("HTTP 307: redirect from {from} to {to} not followed")), "names both hosts: {message}");
    assert!(message.contains("set follow_redirects = \"any\""), "and the fix: {message}");
    hosts.nothing_elsewhere().await;

    assert_eq!(out["same"].outcome, Outcome::Pass, "a redirect on its own host is followed: {:?}", out["same"]);
    let landed = hosts.configured.received_requests().await.unwrap().into_iter().find(|r| r.url.path() == "/landing/api").unwrap();
    assert_eq!(header(&landed, "authorization"), Some(format!("Bearer {TOKEN}")), "with its credentials, on the same host");
    assert_eq!(header(&landed, "x-secret").as_deref(), Some(HEADER_SECRET));
}

#[tokio::test]
async fn a_get_check_follows_its_own_host_by_default_and_any_host_only_when_told_without_credentials() {
    let hosts = Hosts::start().await;
    let sparky = sparky();
    check(&sparky, "same", &format!("url = \"{}\"", hosts.at("/same/plain")));
    check(&sparky, "away", &format!("url = \"{}\"", hosts.at("/moved/plain")));
    check(&sparky, "none", &format!("url = \"{}\"\nfollow_redirects = false\n[[assert]]\nstatus = 307", hosts.at("/moved/none")));
    check(&sparky, "looping", &format!("url = \"{}\"", hosts.at("/loop")));
    let out = run_checks(&sparky).await;
    assert_eq!(out["same"].outcome, Outcome::Pass, "{:?}", out["same"]);
    assert!(failed_with(&out["away"], ErrorKind::Redirect).contains("follows redirects on its own host only"));
    assert_eq!(out["none"].outcome, Outcome::Pass, "with follow_redirects = false the 307 is the answer: {:?}", out["none"]);
    assert!(failed_with(&out["looping"], ErrorKind::Redirect).contains("too many redirects"));
    hosts.nothing_elsewhere().await;

    // `any`: followed, and what proves who we are stays home.
    let sparky = self::sparky();
    let headers = "headers = { X-Secret = \"${HEADER_SECRET}\", Accept = \"application/json\", Cookie = \"session=1\" }\n";
    check(&sparky, "anywhere", &format!("url = \"{}\"\nfollow_redirects = \"any\"\n{headers}{BEARER}", hosts.at("/moved/any")));
    check(
        &sparky,
        "api-key",
        &format!(
            "url = \"{}\"\nfollow_redirects = \"any\"\n[auth]\nkind = \"api_key\"\nheader = \"X-Api-Key\"\nvalue = \"${{TOKEN}}\"",
            hosts.at("/moved/key")
        ),
    );
    let out = run_checks(&sparky).await;
    assert_eq!(out["anywhere"].outcome, Outcome::Pass, "{:?}", out["anywhere"]);
    assert_eq!(out["api-key"].outcome, Outcome::Pass, "{:?}", out["api-key"]);
    let got = hosts.elsewhere_got().await;
    assert_eq!(got.len(), 2, "followed to the other host");
    for r in &got {
        for name in ["authorization", "x-secret", "x-api-key", "cookie"] {
            assert_eq!(header(r, name), None, "{name} reached the other host ({})", r.url.path());
        }
    }
    let any = got.iter().find(|r| r.url.path() == "/any").unwrap();
    assert_eq!(header(any, "accept").as_deref(), Some("application/json"), "plain headers go along");
}

#[tokio::test]
async fn a_sandbox_write_follows_no_redirect_even_on_its_own_host() {
    let hosts = Hosts::start().await;
    let sparky = sparky();
    let step =
        |name: &str, url: String| format!("[[step]]\nname = \"{name}\"\nmethod = \"POST\"\nurl = \"{url}\"\nbody = '{{\"a\": 1}}'\n");
    check(
        &sparky,
        "write-away",
        &format!("sandbox = true\nfollow_redirects = \"any\"\n{BEARER}{}", step("create", hosts.at("/moved/incident"))),
    );
    check(&sparky, "write-same", &format!("sandbox = true\n{}", step("create", hosts.at("/same/incident"))));
    let out = run_checks(&sparky).await;
    for id in ["write-away", "write-same"] {
        let message = failed_with(&out[id], ErrorKind::Redirect);
        assert!(message.contains("a POST request follows no redirect") && message.contains("configure the final URL"), "{message}");
        assert!(message.contains(&hosts.configured.uri()), "{message}");
    }
    hosts.nothing_elsewhere().await;
    assert!(!hosts.configured_got().await.iter().any(|r| r.contains("/landing/")), "not replayed on the same host either");
}

#[tokio::test]
async fn an_oauth_token_request_follows_no_redirect() {
    let hosts = Hosts::start().await;
    let sparky = sparky();
    let auth = format!(
        "[auth]\nkind = \"oauth2_client_credentials\"\ntoken_url = \"{}\"\nclient_id = \"app\"\nclient_secret = \"${{CLIENT_SECRET}}\"",
        hosts.at("/moved/token")
    );
    check(&sparky, "oauth", &format!("url = \"{}\"\nfollow_redirects = \"any\"\n{auth}", hosts.at("/landing/api")));
    let out = run_checks(&sparky).await;
    let message = failed_with(&out["oauth"], ErrorKind::Auth);
    assert!(message.contains("redirect from") && message.contains(&hosts.elsewhere.uri()), "names where it leads: {message}");
    assert!(message.contains("the client secret is never sent across a redirect; set token_url to the final URL"), "{message}");
    assert!(!message.contains(CLIENT_SECRET));
    hosts.nothing_elsewhere().await;
}

#[tokio::test]
async fn a_status_page_with_credentials_stays_on_its_host() {
    let hosts = Hosts::start().await;
    let sparky = sparky();
    let page = |id: &str, url: String| {
        format!(
            "id = \"{id}\"\nname = \"{id}\"\n[status_page]\nkind = \"statuspage\"\nurl = \"{url}\"\n[status_page.auth]\nkind = \"bearer\"\ntoken = \"${{TOKEN}}\"\n"
        )
    };
    sparky.write("partners/away.toml", &page("away", hosts.at("/moved/summary.json")));
    sparky.write("partners/same.toml", &page("same", hosts.at("/same/summary.json")));
    let run = sparky.status().await;
    let report = |id: &str| run.partners.iter().find(|r| r.partner == id).unwrap();
    let away = report("away");
    assert_eq!((away.status.indicator, away.result.as_str()), (Indicator::Unknown, "redirect"), "{away:?}");
    let error = away.status.error.clone().unwrap();
    assert!(error.contains(&format!("redirect from {} to {}/summary.json", hosts.configured.uri(), hosts.elsewhere.uri())), "{error}");
    assert!(error.contains("credentials are never sent to another host"), "{error}");
    assert_eq!((report("same").status.indicator, report("same").result.as_str()), (Indicator::None, "ok"), "{:?}", report("same"));
    hosts.nothing_elsewhere().await;
}

#[tokio::test]
async fn a_changelog_feed_carries_no_credential_and_follows_where_it_moved() {
    let hosts = Hosts::start().await;
    let sparky = sparky();
    sparky.partner("moved", "Moved", &[&hosts.at("/moved/feed.xml")]);
    sparky.partner("looping", "Looping", &[&hosts.at("/loop")]);
    let run = sparky.changelogs().await;
    let outcome = |url: &str| run.feeds.iter().find(|f| f.url == url).map(|f| f.outcome.clone()).unwrap();
    assert!(matches!(outcome(&hosts.at("/moved/feed.xml")), FeedOutcome::Ok { entries: 1, .. }), "a public feed that moved is read");
    let got = hosts.elsewhere_got().await;
    assert_eq!(got.len(), 1);
    assert_eq!(header(&got[0], "authorization"), None, "a feed request has nothing to leak");
    match outcome(&hosts.at("/loop")) {
        FeedOutcome::Failed { kind, error, .. } => assert!(kind == ErrorKind::Redirect && error.contains("max_redirects"), "{error}"),
        other => panic!("{other:?}"),
    }
}

/// One action per sink, as the worker hands it over.
fn actions() -> Vec<(SinkKind, Action)> {
    let post = SlackPost { channel: "#ops".into(), text: "hello".into(), blocks: vec![], purpose: Purpose::Notice, remember_as: None };
    let jira = JiraAction::Create {
        incident: "incident:1".into(),
        fingerprint: "sparky-incident-1".into(),
        summary: "Acme failing".into(),
        description: adf("Acme failing"),
        priority: sparky::model::Priority::P4,
        labels: vec![],
        owner: Default::default(),
    };
    let page = PagerDutyEvent {
        action: EventAction::Trigger,
        dedup_key: "check:acme".into(),
        summary: "acme failing".into(),
        source: "acme".into(),
        severity: Severity::Warning,
        component: None,
        group: None,
        class: None,
        custom_details: Value::Null,
        links: vec![],
    };
    let component = StatuspageAction::Component(PublicComponent {
        partner: "acme".parse().unwrap(),
        name: "Acme".into(),
        component_id: Some("cmp1".into()),
        status: sparky::model::ComponentStatus::MajorOutage,
    });
    vec![
        (SinkKind::Slack, post.into()),
        (SinkKind::Jira, jira.into()),
        (SinkKind::PagerDuty, page.into()),
        (SinkKind::Statuspage, component.into()),
    ]
}

#[tokio::test]
async fn no_sink_call_follows_a_redirect() {
    let hosts = Hosts::start().await;
    let sparky = sparky()
        .env("SLACK_BOT_TOKEN", "xoxb-never-elsewhere")
        .env("SLACK_API_URL", &hosts.at("/moved/slack/api"))
        .env("JIRA_BASE_URL", &hosts.at("/moved/jira"))
        .env("JIRA_USER_EMAIL", "sparky@acme.test")
        .env("JIRA_API_TOKEN", "jira-token-never-elsewhere")
        .env("JIRA_PROJECT_KEY", "OPS")
        .env("PAGERDUTY_ROUTING_KEY", "R0UTINGKEY0123456789012345678901")
        .env("PAGERDUTY_EVENTS_URL", &hosts.at("/moved/pagerduty"))
        .env("STATUSPAGE_API_KEY", "statuspage-key-never-elsewhere")
        .env("STATUSPAGE_PAGE_ID", "pg1")
        .env("STATUSPAGE_API_URL", &hosts.at("/moved/statuspage"));
    let app = sparky.app().await;
    let settings = [
        (SinkKind::Slack, "SLACK_API_URL"),
        (SinkKind::Jira, "JIRA_BASE_URL"),
        (SinkKind::PagerDuty, "PAGERDUTY_EVENTS_URL"),
        (SinkKind::Statuspage, "STATUSPAGE_API_URL"),
    ];
    for (kind, action) in actions() {
        let sink = app.delivery.sinks.get(kind).unwrap();
        let err = attempt(sink.as_ref(), &action, &Attempt::first(format!("{kind}:redirect"))).await.unwrap_err();
        let DeliveryError::Permanent { reason } = &err else { panic!("{kind}: a redirect is permanent, not retried: {err:?}") };
        let setting = settings.iter().find(|(k, _)| *k == kind).unwrap().1;
        assert!(reason.contains("not followed") && reason.contains("the sink URL redirects: configure the final URL"), "{kind}: {reason}");
        assert!(
            reason.contains(setting) && reason.contains(&hosts.elsewhere.uri()),
            "{kind}: names the setting and where it leads: {reason}"
        );
        assert!(!reason.contains("never-elsewhere"), "{kind}: no secret in the error: {reason}");
    }
    let calls = hosts.configured_got().await;
    for prefix in ["/moved/slack/", "/moved/jira/", "/moved/pagerduty/", "/moved/statuspage/"] {
        assert!(calls.iter().any(|c| c.contains(prefix)), "the {prefix} sink was called: {calls:?}");
    }
    hosts.nothing_elsewhere().await;
    app.store.close().await;
}

#[tokio::test]
async fn a_header_secret_never_shows_in_check_output_stored_results_or_errors() {
    let hosts = Hosts::start().await;
    // An API that echoes the header it got, in its body and in a header.
    let echo = MockServer::start().await;
    struct Echo;
    impl Respond for Echo {
        fn respond(&self, request: &Request) -> ResponseTemplate {
            let got = header(request, "x-api-token").unwrap_or_default();
            ResponseTemplate::new(401).insert_header("X-Echo", got.as_str()).set_body_json(json!({"error": format!("token {got} refused")}))
        }
    }
    Mock::given(wiremock::matchers::any()).respond_with(Echo).mount(&echo).await;
    let sparky = sparky().env("RUST_LOG", "debug,sqlx=warn");
    let headers = "headers = { X-Api-Token = \"Token ${HEADER_SECRET}\" }\n";
    let asserts = "[[assert]]\nstatus = 200\n[[assert]]\njson_path = \"$.error\"\nequals = \"none\"\n[[assert]]\nheader = \"x-echo\"\nequals = \"none\"\n";
    check(&sparky, "echo", &format!("url = \"{}/me\"\n{headers}{asserts}", echo.uri()));
    check(&sparky, "moved", &format!("url = \"{}\"\n{headers}", hosts.at("/moved/me")));

    let config: CheckConfig = sparky.config().checks.into_iter().find(|c| c.id.as_str() == "echo").unwrap();
    assert!(!format!("{config:?}").contains(HEADER_SECRET), "the check's Debug form hides it");

    let mut outputs = Vec::new();
    for id in ["echo", "moved"] {
        let run = sparky.cli(&["check", id, "--record"]).await;
        run.expect_code(0);
        outputs.push(run.stdout + &run.stderr);
    }
    let check_config = sparky.cli(&["check-config"]).await;
    outputs.push(check_config.stdout + &check_config.stderr);
    let once = sparky.cli(&["once", "synthetics", "--json"]).await;
    outputs.push(once.stdout + &once.stderr);
    assert!(outputs[0].contains("$.error equals \"none\"") && outputs[0].contains("***"), "the echo is shown redacted: {}", outputs[0]);
    assert!(outputs[1].contains("not followed"), "the redirect error is clear: {}", outputs[1]);
    for out in &outputs {
        assert!(!out.contains(HEADER_SECRET), "the header secret is in the output:\n{out}");
    }
    let db = std::fs::read(sparky.sqlite_path()).unwrap();
    let wal = std::fs::read(sparky.sqlite_path().with_extension("db-wal")).unwrap_or_default();
    for bytes in [db, wal] {
        assert!(!bytes.windows(HEADER_SECRET.len()).any(|w| w == HEADER_SECRET.as_bytes()), "the header secret is stored");
    }
    hosts.nothing_elsewhere().await;

    // A secret that is not a valid header value: check-config says so without showing it.
    let broken = self::sparky().env("HEADER_SECRET", "line\nbreak-secret");
    check(&broken, "echo", &format!("url = \"{}/me\"\n{headers}", echo.uri()));
    let run = broken.cli(&["check-config"]).await;
    run.expect_code(2);
    assert!(run.stdout.contains("headers.X-Api-Token: not a valid HTTP header name and value"), "{}", run.stdout);
    assert!(!run.stdout.contains("break-secret") && !run.stderr.contains("break-secret"));
}
