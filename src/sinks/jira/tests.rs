//! The Jira sink against wiremock, on a real SQLite store.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use tempfile::TempDir;
use wiremock::matchers::{body_partial_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::JiraSink;
use super::sink::marker;
use crate::config::{Duration, HttpConfig, JiraConfig, Secret};
use crate::model::Priority;
use crate::outbox::jira::{JiraAction, adf};
use crate::outbox::{Action, Attempt, Delivered, DeliveryError, Sink, attempt};
use crate::store::{Store, remote_ids};

const TOKEN: &str = "jira-token-s3cr3t-value";

struct Env {
    server: MockServer,
    store: Store,
    _dir: TempDir,
}

async fn env() -> Env {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display())).await.unwrap();
    Env { server: MockServer::start().await, store, _dir: dir }
}

fn config(base: &str) -> JiraConfig {
    JiraConfig {
        base_url: Some(base.parse().unwrap()),
        user_email: Some("bot@example.com".to_owned()),
        api_token: Some(Secret::new(TOKEN)),
        project_key: Some("OPS".to_owned()),
        priorities: BTreeMap::from([(Priority::P4, "Low".to_owned())]),
        timeout: Duration::from_secs(5),
        // No wait for the search to catch up (its own test sets one).
        search_lag: Duration::from_secs(0),
        ..JiraConfig::default()
    }
}

impl Env {
    fn sink(&self) -> JiraSink {
        self.sink_with(config(&self.server.uri()))
    }

    fn sink_with(&self, cfg: JiraConfig) -> JiraSink {
        JiraSink::new(&cfg, &HttpConfig::default(), self.store.clone()).unwrap()
    }

    async fn key(&self, incident: &str) -> Option<String> {
        remote_ids::get(&self.store, "jira", incident).await.unwrap()
    }

    async fn requests(&self, verb: &str, p: &str) -> Vec<wiremock::Request> {
        let all = self.server.received_requests().await.unwrap_or_default();
        all.into_iter().filter(|r| r.method.as_str() == verb && r.url.path() == p).collect()
    }
}

/// Attempt `number` of action `key`, as the worker makes it.
fn row(key: &str, number: i64) -> Attempt {
    Attempt::numbered(key, number)
}

/// One attempt of `action`, as the worker makes it.
async fn deliver(sink: &dyn Sink, action: &JiraAction, at: &Attempt) -> Result<Delivered, DeliveryError> {
    attempt(sink, &Action::from(action.clone()), at).await
}

fn create_action() -> JiraAction {
    JiraAction::Create {
        incident: "incident:1".to_owned(),
        fingerprint: "sparky-okta-1a2b3c".to_owned(),
        summary: "Okta: okta-users failing (internal cause)".to_owned(),
        description: adf("okta-users failed\nstatus 500"),
        priority: Priority::P4,
        labels: vec!["okta".to_owned(), "sparky".to_owned()],
        owner: Default::default(),
    }
}

fn created(key: &str) -> ResponseTemplate {
    ResponseTemplate::new(201).set_body_json(json!({"id": "10001", "key": key, "self": format!("http://jira/rest/api/3/issue/{key}")}))
}

fn no_issues() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"issues": [], "isLast": true}))
}

fn body(r: &wiremock::Request) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

#[tokio::test]
async fn create_posts_the_fields_with_basic_auth_and_keeps_the_key() {
    let env = env().await;
    let basic = format!("Basic {}", base64_of(&format!("bot@example.com:{TOKEN}")));
    Mock::given(method("POST"))
        .and(path("/rest/api/3/issue"))
        .and(header("authorization", basic.as_str()))
        .respond_with(created("OPS-1"))
        .expect(1)
        .mount(&env.server)
        .await;

    let done = deliver(&env.sink(), &create_action(), &row("jira:create:1", 1)).await.unwrap();

    assert_eq!(done.remote_id.as_deref(), Some("OPS-1"));
    assert_eq!(env.key("incident:1").await.as_deref(), Some("OPS-1"));
    let posts = env.requests("POST", "/rest/api/3/issue").await;
    let fields = &body(&posts[0])["fields"];
    assert_eq!(fields["project"], json!({"key": "OPS"}));
    assert_eq!(fields["issuetype"], json!({"name": "Incident"}));
    assert_eq!(fields["summary"], "Okta: okta-users failing (internal cause)");
    assert_eq!(fields["description"], adf("okta-users failed\nstatus 500"));
    assert_eq!(fields["description"]["type"], "doc");
    assert_eq!(fields["priority"], json!({"name": "Low"}), "P4 mapped through [jira] priorities");
    assert_eq!(fields["labels"], json!(["sparky", "okta", "sparky-okta-1a2b3c"]), "config + action labels + fingerprint, once each");
}

#[tokio::test]
async fn a_known_issue_is_not_created_again() {
    let env = env().await;
    remote_ids::put(&env.store, "jira", "incident:1", "OPS-9").await.unwrap();

    let done = deliver(&env.sink(), &create_action(), &row("jira:create:1", 3)).await.unwrap();

    assert_eq!(done.remote_id.as_deref(), Some("OPS-9"));
    assert!(env.server.received_requests().await.unwrap_or_default().is_empty(), "no request at all");
}

#[tokio::test]
async fn server_errors_are_retried_until_one_issue_is_created() {
    let env = env().await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/issue"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(3)
        .mount(&env.server)
        .await;
    Mock::given(method("POST")).and(path("/rest/api/3/issue")).respond_with(created("OPS-1")).mount(&env.server).await;
    Mock::given(method("GET")).and(path("/rest/api/3/search/jql")).respond_with(no_issues()).mount(&env.server).await;
    let sink = env.sink();

    for attempt in 1..=3 {
        let err = deliver(&sink, &create_action(), &row("jira:create:1", attempt)).await.unwrap_err();
        assert!(matches!(err, DeliveryError::Retry { .. }), "attempt {attempt}: {err:?}");
        assert!(err.to_string().contains("500"), "{err}");
    }
    let done = deliver(&sink, &create_action(), &row("jira:create:1", 4)).await.unwrap();

    assert_eq!(done.remote_id.as_deref(), Some("OPS-1"));
    assert_eq!(env.key("incident:1").await.as_deref(), Some("OPS-1"));
    assert_eq!(env.requests("POST", "/rest/api/3/issue").await.len(), 4, "three failed posts and one that created the issue");
    assert_eq!(env.requests("GET", "/rest/api/3/search/jql").await.len(), 6, "each retry looked for an earlier issue first, twice");
}

#[tokio::test]
async fn after_an_uncertain_attempt_the_issue_is_found_by_fingerprint() {
    let env = env().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/search/jql"))
        .and(query_param("jql", r#"project = "OPS" AND labels = "sparky-okta-1a2b3c" ORDER BY created ASC"#))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"issues": [{"id": "10007", "key": "OPS-7"}], "isLast": true})))
        .expect(1)
        .mount(&env.server)
        .await;
    Mock::given(method("POST")).and(path("/rest/api/3/issue")).respond_with(created("OPS-8")).expect(0).mount(&env.server).await;

    let done = deliver(&env.sink(), &create_action(), &row("jira:create:1", 2)).await.unwrap();

    assert_eq!(done.remote_id.as_deref(), Some("OPS-7"), "without a recorded attempt time too (an action older than the mark)");
    assert_eq!(env.key("incident:1").await.as_deref(), Some("OPS-7"));
}

#[tokio::test]
async fn a_first_attempt_does_not_search() {
    let env = env().await;
    Mock::given(method("POST")).and(path("/rest/api/3/issue")).respond_with(created("OPS-1")).expect(1).mount(&env.server).await;

    deliver(&env.sink(), &create_action(), &row("jira:create:1", 1)).await.unwrap();

    assert!(env.requests("GET", "/rest/api/3/search/jql").await.is_empty());
}

fn comment_action(text: &str) -> JiraAction {
    JiraAction::Comment { incident: "incident:1".to_owned(), body: adf(text) }
}

#[tokio::test]
async fn a_comment_ends_with_the_marker_of_its_action() {
    let env = env().await;
    remote_ids::put(&env.store, "jira", "incident:1", "OPS-1").await.unwrap();
    Mock::given(method("POST"))
        .and(path("/rest/api/3/issue/OPS-1/comment"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": "10000"})))
        .expect(1)
        .mount(&env.server)
        .await;

    let done = deliver(&env.sink(), &comment_action("cause changed: external"), &row("jira:comment:1:2", 1)).await.unwrap();

    assert_eq!(done.remote_id.as_deref(), Some("OPS-1"));
    let posted = body(&env.requests("POST", "/rest/api/3/issue/OPS-1/comment").await[0]);
    let content = posted["body"]["content"].as_array().unwrap();
    assert_eq!(content[0]["content"][0]["text"], "cause changed: external");
    let mark = marker("jira:comment:1:2");
    assert!(mark.starts_with("sparky ref ") && mark.len() == "sparky ref ".len() + 12, "{mark}");
    assert_eq!(content.last().unwrap()["content"][0]["text"], mark.as_str());
    assert!(env.requests("GET", "/rest/api/3/issue/OPS-1/comment").await.is_empty(), "a first attempt does not look");
}

#[tokio::test]
async fn a_retried_comment_is_not_posted_twice() {
    let env = env().await;
    remote_ids::put(&env.store, "jira", "incident:1", "OPS-1").await.unwrap();
    let earlier = with_marker_text("cause changed: external", &marker("jira:comment:1:2"));
    Mock::given(method("GET"))
        .and(path("/rest/api/3/issue/OPS-1/comment"))
        .and(query_param("orderBy", "-created"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"startAt": 0, "maxResults": 50, "total": 2, "comments": [
            {"id": "10001", "body": with_marker_text("other", &marker("jira:comment:1:1"))},
            {"id": "10002", "body": earlier},
        ]})))
        .expect(1)
        .mount(&env.server)
        .await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/issue/OPS-1/comment"))
        .respond_with(ResponseTemplate::new(201))
        .expect(0)
        .mount(&env.server)
        .await;

    let done = deliver(&env.sink(), &comment_action("cause changed: external"), &row("jira:comment:1:2", 2)).await.unwrap();

    assert_eq!(done.remote_id.as_deref(), Some("OPS-1"));
}

#[tokio::test]
async fn a_retried_comment_that_never_arrived_is_posted() {
    let env = env().await;
    remote_ids::put(&env.store, "jira", "incident:1", "OPS-1").await.unwrap();
    Mock::given(method("GET"))
        .and(path("/rest/api/3/issue/OPS-1/comment"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"comments": [{"id": "1", "body": with_marker_text("x", &marker("other"))}]})),
        )
        .mount(&env.server)
        .await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/issue/OPS-1/comment"))
        .respond_with(ResponseTemplate::new(201))
        .expect(1)
        .mount(&env.server)
        .await;

    deliver(&env.sink(), &comment_action("hello"), &row("jira:comment:1:3", 2)).await.unwrap();
}

#[tokio::test]
async fn a_comment_before_its_issue_waits() {
    let env = env().await;
    let err = deliver(&env.sink(), &comment_action("hello"), &row("jira:comment:1:2", 1)).await.unwrap_err();
    assert!(matches!(err, DeliveryError::Retry { .. }), "{err:?}");
    assert!(err.to_string().contains("the issue of incident:1 is not created yet"), "{err}");
}

#[tokio::test]
async fn an_unknown_issue_is_permanent() {
    let env = env().await;
    remote_ids::put(&env.store, "jira", "incident:1", "OPS-404").await.unwrap();
    Mock::given(method("POST"))
        .and(path("/rest/api/3/issue/OPS-404/comment"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(json!({"errorMessages": ["Issue does not exist or you do not have permission to see it."], "errors": {}})),
        )
        .mount(&env.server)
        .await;

    let err = deliver(&env.sink(), &comment_action("hello"), &row("jira:comment:1:2", 1)).await.unwrap_err();

    assert!(matches!(err, DeliveryError::Permanent { .. }), "{err:?}");
    assert!(err.to_string().contains("OPS-404") && err.to_string().contains("404"), "{err}");
}

fn resolve_action() -> JiraAction {
    JiraAction::Resolve { incident: "incident:1".to_owned(), comment: adf("recovered after 23m") }
}

fn transitions(list: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({ "transitions": list }))
}

fn transition(id: &str, name: &str, category: &str) -> Value {
    json!({"id": id, "name": name, "to": {"name": name, "statusCategory": {"key": category}}})
}

async fn mount_resolve(env: &Env, list: Value) {
    remote_ids::put(&env.store, "jira", "incident:1", "OPS-1").await.unwrap();
    Mock::given(method("POST"))
        .and(path("/rest/api/3/issue/OPS-1/comment"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&env.server)
        .await;
    Mock::given(method("GET")).and(path("/rest/api/3/issue/OPS-1/transitions")).respond_with(transitions(list)).mount(&env.server).await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/issue/OPS-1/transitions"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&env.server)
        .await;
}

async fn transition_ids(env: &Env) -> Vec<Value> {
    env.requests("POST", "/rest/api/3/issue/OPS-1/transitions").await.iter().map(|r| body(r)["transition"]["id"].clone()).collect()
}

#[tokio::test]
async fn resolve_comments_then_takes_the_transition_by_name() {
    let env = env().await;
    mount_resolve(
        &env,
        json!([transition("11", "In Progress", "indeterminate"), transition("21", "Close", "done"), transition("31", "RESOLVE", "done")]),
    )
    .await;

    let done = deliver(&env.sink(), &resolve_action(), &row("jira:resolve:1", 1)).await.unwrap();

    assert_eq!(done.remote_id.as_deref(), Some("OPS-1"));
    assert_eq!(transition_ids(&env).await, vec![json!("31")], "the name matches case-insensitively");
    let comment = body(&env.requests("POST", "/rest/api/3/issue/OPS-1/comment").await[0]);
    assert_eq!(comment["body"]["content"][0]["content"][0]["text"], "recovered after 23m");
    assert_eq!(comment["body"]["content"][1]["content"][0]["text"], marker("jira:resolve:1").as_str());
}

#[tokio::test]
async fn resolve_falls_back_to_the_first_transition_into_done() {
    let env = env().await;
    mount_resolve(
        &env,
        json!([transition("11", "In Progress", "indeterminate"), transition("41", "Done", "done"), transition("51", "Closed", "done")]),
    )
    .await;

    deliver(&env.sink(), &resolve_action(), &row("jira:resolve:1", 1)).await.unwrap();

    assert_eq!(transition_ids(&env).await, vec![json!("41")]);
}

fn status(category: &str) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(json!({"id": "10001", "key": "OPS-1", "fields": {"status": {"name": "Done", "statusCategory": {"key": category}}}}))
}

#[tokio::test]
async fn resolve_of_an_issue_already_done_is_delivered() {
    let env = env().await;
    mount_resolve(&env, json!([transition("61", "Reopen", "new")])).await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/issue/OPS-1"))
        .and(query_param("fields", "status"))
        .respond_with(status("done"))
        .mount(&env.server)
        .await;

    deliver(&env.sink(), &resolve_action(), &row("jira:resolve:1", 1)).await.unwrap();

    assert!(transition_ids(&env).await.is_empty());
}

#[tokio::test]
async fn resolve_without_a_way_to_done_is_permanent_and_names_the_transitions() {
    let env = env().await;
    mount_resolve(&env, json!([transition("11", "In Progress", "indeterminate"), transition("61", "Escalate", "indeterminate")])).await;
    Mock::given(method("GET")).and(path("/rest/api/3/issue/OPS-1")).respond_with(status("indeterminate")).mount(&env.server).await;

    let err = deliver(&env.sink(), &resolve_action(), &row("jira:resolve:1", 1)).await.unwrap_err();

    assert!(matches!(err, DeliveryError::Permanent { .. }), "{err:?}");
    assert!(err.to_string().contains("In Progress, Escalate"), "{err}");
}

#[tokio::test]
async fn a_retried_resolve_neither_comments_nor_transitions_twice() {
    let env = env().await;
    mount_resolve(&env, json!([transition("31", "Resolve", "done")])).await;
    let earlier = with_marker_text("recovered after 23m", &marker("jira:resolve:1"));
    Mock::given(method("GET"))
        .and(path("/rest/api/3/issue/OPS-1/comment"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"comments": [{"id": "1", "body": earlier}]})))
        .mount(&env.server)
        .await;
    Mock::given(method("GET")).and(path("/rest/api/3/issue/OPS-1")).respond_with(status("done")).mount(&env.server).await;

    deliver(&env.sink(), &resolve_action(), &row("jira:resolve:1", 2)).await.unwrap();

    assert!(env.requests("POST", "/rest/api/3/issue/OPS-1/comment").await.is_empty());
    assert!(transition_ids(&env).await.is_empty());
}

#[tokio::test]
async fn the_api_token_never_shows_in_errors() {
    let env = env().await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/issue"))
        .and(body_partial_json(json!({"fields": {"project": {"key": "OPS"}}})))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"errorMessages": ["You are not authenticated."]})))
        .mount(&env.server)
        .await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/issue/OPS-1/comment"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&env.server)
        .await;
    let mut errors = Vec::new();
    errors.push(deliver(&env.sink(), &create_action(), &row("k1", 1)).await.unwrap_err());
    remote_ids::put(&env.store, "jira", "incident:1", "OPS-1").await.unwrap();
    errors.push(deliver(&env.sink(), &comment_action("x"), &row("k2", 1)).await.unwrap_err());
    // Nothing listens there: a transport error.
    let closed = env.sink_with(config("http://127.0.0.1:9"));
    errors.push(deliver(&closed, &comment_action("x"), &row("k3", 1)).await.unwrap_err());
    let missing = JiraConfig { user_email: None, ..config(&env.server.uri()) };
    let setup = JiraSink::new(&missing, &HttpConfig::default(), env.store.clone()).err().unwrap();
    errors.push(setup);

    assert_eq!(errors.len(), 4);
    for e in errors {
        for shown in [e.to_string(), format!("{e:?}")] {
            assert!(!shown.contains(TOKEN), "token leaked: {shown}");
            assert!(!shown.contains(&base64_of(&format!("bot@example.com:{TOKEN}"))), "auth header leaked: {shown}");
        }
    }
}

fn with_marker_text(text: &str, mark: &str) -> Value {
    let mut doc = adf(text);
    doc["content"].as_array_mut().unwrap().push(json!({"type": "paragraph", "content": [{"type": "text", "text": mark}]}));
    doc
}

/// Standard base64 (for the expected basic auth header).
fn base64_of(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
