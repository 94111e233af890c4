//! A status page behind OAuth 2.0 client credentials: the shipped Microsoft Graph partner file
//! (its hosts pointed at loopback) against a fake Microsoft identity platform token endpoint and
//! a fake Graph `healthOverviews?$expand=issues` serving answers in Graph's shape
//! (https://learn.microsoft.com/en-us/graph/api/serviceannouncement-list-healthoverviews).

#![allow(unreachable_pub, clippy::unwrap_used)] // test and bench code: a failed unwrap is a failed run

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use sparky::model::{ComponentStatus, Indicator};
use sparky::service::jobs::{self, Handover};
use sparky::sources::status_pages::PollReport;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use common::{Db, Sparky};

const SECRET: &str = "graph-client-secret-never-shown";
const TENANT: &str = "tenant-1";
const HEALTH: &str = "/v1.0/admin/serviceAnnouncement/healthOverviews";
const TOKEN: &str = "/tenant-1/oauth2/v2.0/token";

/// How the fake answers.
#[derive(Default)]
struct State {
    /// Tokens issued: `at-1`, `at-2` ...
    issued: u32,
    /// Tokens Graph no longer accepts.
    revoked: HashSet<String>,
    /// Graph answers 403 to every token (the app lacks ServiceHealth.Read.All).
    forbidden: bool,
    /// Graph answers every token 401.
    refuse_all: bool,
    /// Graph answers with a redirect to this URL.
    redirect: Option<String>,
}

#[derive(Clone, Default)]
struct FakeMicrosoft(Arc<Mutex<State>>);

/// Graph's error body (https://learn.microsoft.com/en-us/graph/errors).
fn graph_error(code: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message, "innerError": {"date": "2026-11-25T10:00:00", "request-id": "r1"}}})
}

/// healthOverviews with `$expand=issues`: Teams degraded with an open incident (and an old
/// advisory resolved), SharePoint and Exchange operational (the casing varies, as in Microsoft's
/// examples).
fn overviews() -> Value {
    json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#admin/serviceAnnouncement/healthOverviews(issues())",
        "value": [
            {"service": "Microsoft Teams", "status": "ServiceDegradation", "id": "microsoftteams", "issues": [
                {"startDateTime": "2026-11-25T09:12:00Z", "endDateTime": null, "lastModifiedDateTime": "2026-11-25T09:40:00Z",
                 "title": "Users can't send messages in some channels", "id": "TM123456",
                 "impactDescription": "Users may be unable to send messages in channels.", "classification": "Incident",
                 "origin": "Microsoft", "status": "ServiceDegradation", "service": "Microsoft Teams",
                 "feature": "Teams Components", "featureGroup": "Microsoft Teams", "isResolved": false, "details": [], "posts": []},
                {"startDateTime": "2026-11-01T08:00:00Z", "endDateTime": "2026-11-02T08:00:00Z", "lastModifiedDateTime": "2026-11-02T09:00:00Z",
                 "title": "Some users saw delays loading the activity feed", "id": "TM100001", "impactDescription": "Delays.",
                 "classification": "Advisory", "origin": "Microsoft", "status": "ServiceRestored", "service": "Microsoft Teams",
                 "feature": "Teams Components", "featureGroup": "Microsoft Teams", "isResolved": true, "details": [], "posts": []}
            ]},
            {"service": "SharePoint Online", "status": "ServiceOperational", "id": "SharePoint", "issues": []},
            {"service": "Exchange Online", "status": "serviceOperational", "id": "Exchange", "issues": []}
        ]
    })
}

impl Respond for FakeMicrosoft {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.0.lock().unwrap();
        if request.url.path() == TOKEN {
            let form: HashMap<String, String> = url::form_urlencoded::parse(&request.body).into_owned().collect();
            let valid = form.get("grant_type").map(String::as_str) == Some("client_credentials")
                && form.get("client_id").map(String::as_str) == Some("sparky-status")
                && form.get("client_secret").map(String::as_str) == Some(SECRET)
                && form.get("scope").map(String::as_str) == Some("https://graph.microsoft.com/.default");
            if !valid {
                return ResponseTemplate::new(401).set_body_json(json!({"error": "invalid_client", "error_description": "AADSTS7000215"}));
            }
            state.issued += 1;
            return ResponseTemplate::new(200)
                .set_body_json(json!({"token_type": "Bearer", "expires_in": 3599, "access_token": format!("at-{}", state.issued)}));
        }
        if request.url.path() != HEALTH || request.url.query() != Some("$expand=issues") {
            return ResponseTemplate::new(404).set_body_json(graph_error("BadRequest", "Resource not found"));
        }
        if let Some(to) = &state.redirect {
            return ResponseTemplate::new(302).insert_header("Location", to.as_str());
        }
        let token = request.headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        match token {
            Some(t) if !state.refuse_all && t.starts_with("at-") && !state.revoked.contains(t) => {}
            _ => return ResponseTemplate::new(401).set_body_json(graph_error("InvalidAuthenticationToken", "Access token has expired.")),
        }
        if state.forbidden {
            return ResponseTemplate::new(403).set_body_json(graph_error("Forbidden", "Missing role permissions on the request."));
        }
        ResponseTemplate::new(200).set_body_json(overviews())
    }
}

struct Setup {
    sparky: Sparky,
    server: MockServer,
    fake: FakeMicrosoft,
}

/// The shipped `partners/microsoft-graph.toml`, Microsoft's hosts replaced by the fake's.
async fn setup() -> Setup {
    let server = MockServer::start().await;
    let fake = FakeMicrosoft::default();
    Mock::given(wiremock::matchers::any()).respond_with(fake.clone()).mount(&server).await;
    let shipped = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/partners/microsoft-graph.toml")).unwrap();
    let pointed = shipped
        .replace("https://graph.microsoft.com/v1.0", &format!("{}/v1.0", server.uri()))
        .replace("https://login.microsoftonline.com", &server.uri());
    assert_ne!(pointed, shipped);
    let sparky = Sparky::new(Db::Sqlite)
        .env("MS_GRAPH_TENANT_ID", TENANT)
        .env("MS_GRAPH_CLIENT_ID", "sparky-status")
        .env("MS_GRAPH_CLIENT_SECRET", SECRET);
    sparky.write("partners/microsoft-graph.toml", &pointed);
    sparky.write("sparky.toml", "[http]\nretries = 0\ntimeout = \"2s\"\n");
    Setup { sparky, server, fake }
}

impl Setup {
    async fn requests(&self, path: &str) -> Vec<Request> {
        self.server.received_requests().await.unwrap().into_iter().filter(|r| r.url.path() == path).collect()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.fake.0.lock().unwrap()
    }
}

async fn poll(app: &sparky::service::App) -> PollReport {
    let run = jobs::status(app, Handover::Drain).await.unwrap();
    run.partners.into_iter().find(|r| r.partner == "microsoft-graph").unwrap()
}

fn bearer(r: &Request) -> String {
    r.headers.get("authorization").unwrap().to_str().unwrap().to_owned()
}

/// Every byte the database holds (the SQLite file and its write-ahead log).
fn stored_bytes(sparky: &Sparky) -> String {
    let mut all = Vec::new();
    for suffix in ["", "-wal"] {
        let path = format!("{}{suffix}", sparky.sqlite_path().display());
        all.extend(std::fs::read(path).unwrap_or_default());
    }
    String::from_utf8_lossy(&all).into_owned()
}

#[tokio::test]
async fn service_health_is_read_with_one_token_reused_and_refreshed_once_on_a_401() {
    let setup = setup().await;
    let app = setup.sparky.app().await;
    let report = poll(&app).await;
    assert_eq!(report.result, "ok", "{report:?}");
    let status = &report.status;
    let components: Vec<(&str, ComponentStatus)> = status.components.iter().map(|c| (c.name.as_str(), c.status)).collect();
    assert_eq!(
        components,
        [
            ("Microsoft Teams", ComponentStatus::PartialOutage),
            ("SharePoint Online", ComponentStatus::Operational),
            ("Exchange Online", ComponentStatus::Operational)
        ]
    );
    assert_eq!(status.incidents.len(), 1, "the resolved advisory is not listed: {:?}", status.incidents);
    let incident = &status.incidents[0];
    assert_eq!(
        (incident.id.as_str(), incident.name.as_str(), incident.status.as_str(), incident.impact),
        ("TM123456", "Users can't send messages in some channels", "servicedegradation", Indicator::Major)
    );
    assert_eq!(incident.components, ["Microsoft Teams"]);
    assert_eq!(status.indicator, Indicator::Major);
    let depends = app.config.partner("microsoft-graph").unwrap().status_page.as_ref().unwrap().components.clone();
    assert_eq!(status.effective(&depends), Some(ComponentStatus::PartialOutage), "Teams is one we depend on");

    poll(&app).await;
    assert_eq!(setup.requests(TOKEN).await.len(), 1, "the token is requested once and reused");
    let reads = setup.requests(HEALTH).await;
    assert_eq!(reads.iter().map(bearer).collect::<Vec<_>>(), ["Bearer at-1", "Bearer at-1"]);

    setup.state().revoked.insert("at-1".to_owned());
    let report = poll(&app).await;
    assert_eq!(report.result, "ok", "a 401 fetches a new token and asks again: {report:?}");
    assert_eq!(setup.requests(TOKEN).await.len(), 2);
    let reads = setup.requests(HEALTH).await;
    assert_eq!(reads[2..].iter().map(bearer).collect::<Vec<_>>(), ["Bearer at-1", "Bearer at-2"]);
    app.store.close().await;

    let stored = stored_bytes(&setup.sparky);
    assert!(stored.contains("Users can't send messages in some channels"), "the snapshot is stored");
    for secret in [SECRET, "at-1", "at-2"] {
        assert!(!stored.contains(secret), "`{secret}` is in the database");
    }
}

#[tokio::test]
async fn refused_credentials_read_unknown_with_kind_auth_and_say_how_to_fix_them() {
    let setup = setup().await;
    let app = setup.sparky.app().await;
    setup.state().refuse_all = true;
    let report = poll(&app).await;
    assert_eq!((report.status.indicator, report.result.as_str()), (Indicator::Unknown, "auth"), "{report:?}");
    let error = report.status.error.clone().unwrap();
    assert!(error.starts_with("HTTP 401: the credentials were refused"), "{error}");
    assert!(error.contains("client id and secret") && error.contains("[status_page.auth]"), "{error}");
    assert_eq!(setup.requests(TOKEN).await.len(), 2, "refreshed once, not more");
    assert_eq!(setup.requests(HEALTH).await.len(), 2);

    {
        let mut state = setup.state();
        (state.refuse_all, state.forbidden) = (false, true);
    }
    let report = poll(&app).await;
    assert_eq!(report.result, "auth");
    let error = report.status.error.clone().unwrap();
    assert!(error.starts_with("HTTP 403: the credentials were accepted but are not allowed here: grant them the permission"), "{error}");
    app.store.close().await;

    let wrong = Sparky::new(Db::Sqlite)
        .env("MS_GRAPH_TENANT_ID", TENANT)
        .env("MS_GRAPH_CLIENT_ID", "someone-else")
        .env("MS_GRAPH_CLIENT_SECRET", SECRET);
    std::fs::copy(setup.sparky.path().join("partners/microsoft-graph.toml"), wrong.path().join("partners/microsoft-graph.toml")).unwrap();
    let report = wrong.status().await.partners.into_iter().next().unwrap();
    assert_eq!(report.result, "auth");
    let error = report.status.error.unwrap();
    assert!(error.contains(&format!("token endpoint {}{TOKEN} answered 401: invalid_client", setup.server.uri())), "{error}");
    assert!(!error.contains(SECRET));
}

#[tokio::test]
async fn credentials_are_never_sent_across_a_redirect() {
    let setup = setup().await;
    let elsewhere = MockServer::start().await;
    setup.state().redirect = Some(format!("{}{HEALTH}?$expand=issues", elsewhere.uri()));
    let report = setup.sparky.status().await.partners.into_iter().next().unwrap();
    assert_eq!((report.status.indicator, report.result.as_str()), (Indicator::Unknown, "redirect"), "{report:?}");
    let error = report.status.error.unwrap();
    assert!(error.contains("not followed: credentials are never sent to another host"), "{error}");
    assert!(elsewhere.received_requests().await.unwrap().is_empty(), "the other host saw nothing");
}

#[tokio::test]
async fn the_secret_and_the_token_appear_in_no_output_or_log() {
    let setup = setup().await;
    let run = setup.sparky.command(&["once", "status", "--json"]).env("RUST_LOG", "debug,sqlx=warn").output().await.unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    assert!(run.status.success(), "{stdout}{stderr}");
    let json: Value = serde_json::from_str(&stdout).unwrap();
    let report = json["partners"].as_array().unwrap().iter().find(|r| r["partner"] == "microsoft-graph").unwrap();
    assert_eq!((report["result"].as_str(), report["status"]["indicator"].as_str()), (Some("ok"), Some("major")), "{report}");
    for secret in [SECRET, "at-1"] {
        assert!(!stdout.contains(secret) && !stderr.contains(secret), "`{secret}` is in the output:\n{stdout}\n{stderr}");
    }
    assert_eq!(setup.requests(TOKEN).await.len(), 1);
}
