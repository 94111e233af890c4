//! The fake Jira itself follows Atlassian's REST v3 description: driven directly with reqwest
//! (create, search by label, comments, transitions, status), no request departs from it.

#![allow(unreachable_pub, clippy::unwrap_used)] // test and bench code: a failed unwrap is a failed run

mod common;

use std::time::Duration;

use common::fake_jira::FakeJira;
use serde_json::{Value, json};

fn client() -> reqwest::Client {
    common::crypto();
    reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap()
}

fn adf(text: &str) -> Value {
    json!({"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}]})
}

/// `url` with `pairs` as its query (reqwest's `query` is not enabled here).
fn with_query(url: String, pairs: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&url).unwrap();
    url.query_pairs_mut().extend_pairs(pairs);
    url.to_string()
}

async fn json_of(response: reqwest::Response) -> Value {
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

fn issue_fields(summary: &str, label: &str) -> Value {
    json!({"fields": {
        "project": {"key": "OPS"},
        "issuetype": {"name": "Incident"},
        "summary": summary,
        "description": adf("details"),
        "priority": {"name": "P4"},
        "labels": ["sparky", label],
    }})
}

#[tokio::test]
async fn the_fake_follows_the_description() {
    let jira = FakeJira::start().await;
    let http = client();
    let api = format!("{}/rest/api/3", jira.base_url());

    // Create: 201 {id, key, self}; a scripted failure creates nothing.
    jira.fail_creates(1, 503);
    let failed = http
        .post(format!("{api}/issue"))
        .basic_auth("bot@example.com", Some("t"))
        .json(&issue_fields("first", "fp-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), 503);
    let created = http
        .post(format!("{api}/issue"))
        .basic_auth("bot@example.com", Some("t"))
        .json(&issue_fields("first", "fp-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created = json_of(created).await;
    assert_eq!(created["key"], "OPS-1");
    assert!(created["id"].is_string() && created["self"].is_string());
    let second = http.post(format!("{api}/issue")).json(&issue_fields("second", "fp-2")).send().await.unwrap();
    assert_eq!(json_of(second).await["key"], "OPS-2");
    assert_eq!(jira.create_attempts(), 3);
    let issues = jira.created();
    assert_eq!(issues.len(), 2);
    assert_eq!(issues[0].fields["summary"], "first");
    assert!(issues[0].labels().contains(&"fp-1".to_owned()));
    assert!(issues[0].authorization.as_deref().is_some_and(|a| a.starts_with("Basic ")));

    // A create without a summary is refused as Jira does.
    let bad = http
        .post(format!("{api}/issue"))
        .json(&json!({"fields": {"project": {"key": "OPS"}, "issuetype": {"name": "Incident"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(json_of(bad).await["errors"]["summary"].is_string());

    // Search by label: GET and POST.
    let jql = r#"project = "OPS" AND labels = "fp-2" ORDER BY created ASC"#;
    let found =
        http.get(with_query(format!("{api}/search/jql"), &[("jql", jql), ("fields", "labels"), ("maxResults", "5")])).send().await.unwrap();
    assert_eq!(found.status(), 200);
    let found = json_of(found).await;
    assert_eq!(found["issues"].as_array().unwrap().len(), 1);
    assert_eq!(found["issues"][0]["key"], "OPS-2");
    assert_eq!(found["issues"][0]["fields"]["labels"], json!(["sparky", "fp-2"]));
    let posted = http.post(format!("{api}/search/jql")).json(&json!({"jql": "labels = fp-1", "fields": ["summary"]})).send().await.unwrap();
    let posted = json_of(posted).await;
    assert_eq!(posted["issues"][0]["key"], "OPS-1");
    assert_eq!(posted["issues"][0]["fields"]["summary"], "first");
    let none = json_of(http.get(with_query(format!("{api}/search/jql"), &[("jql", r#"labels = "nothing""#)])).send().await.unwrap()).await;
    assert_eq!(none["issues"], json!([]));

    // Comments: 201 with an id; listed newest first with orderBy=-created.
    for text in ["one", "two"] {
        let c = http.post(format!("{api}/issue/OPS-1/comment")).json(&json!({"body": adf(text)})).send().await.unwrap();
        assert_eq!(c.status(), 201);
        assert!(json_of(c).await["id"].is_string());
    }
    let listed =
        http.get(with_query(format!("{api}/issue/OPS-1/comment"), &[("orderBy", "-created"), ("maxResults", "50")])).send().await.unwrap();
    let listed = json_of(listed).await;
    assert_eq!(listed["comments"][0]["body"], adf("two"));
    assert_eq!(listed["total"], 2);
    assert_eq!(jira.comments("OPS-1"), vec!["one".to_owned(), "two".to_owned()]);
    let missing = http.post(format!("{api}/issue/OPS-99/comment")).json(&json!({"body": adf("x")})).send().await.unwrap();
    assert_eq!(missing.status(), 404);

    // Transitions: two offered; applying "Resolve" (31) makes the issue done.
    let offered = json_of(http.get(format!("{api}/issue/OPS-1/transitions")).send().await.unwrap()).await;
    let ids: Vec<&str> = offered["transitions"].as_array().unwrap().iter().filter_map(|t| t["id"].as_str()).collect();
    assert_eq!(ids, ["11", "31"]);
    assert_eq!(offered["transitions"][1]["to"]["statusCategory"]["key"], "done");
    assert_eq!(jira.issue_status("OPS-1").as_deref(), Some("To Do"));
    let moved = http.post(format!("{api}/issue/OPS-1/transitions")).json(&json!({"transition": {"id": "31"}})).send().await.unwrap();
    assert_eq!(moved.status(), 204);
    assert_eq!(jira.transitions_done("OPS-1"), vec!["31".to_owned()]);
    assert_eq!(jira.issue_status("OPS-1").as_deref(), Some("Done"));
    let status = json_of(http.get(with_query(format!("{api}/issue/OPS-1"), &[("fields", "status")])).send().await.unwrap()).await;
    assert_eq!(status["fields"]["status"]["statusCategory"]["key"], "done");
    let invalid = http.post(format!("{api}/issue/OPS-1/transitions")).json(&json!({"transition": {"id": "99"}})).send().await.unwrap();
    assert_eq!(invalid.status(), 400);

    assert_eq!(jira.spec_violations(), Vec::<String>::new());
}

#[tokio::test]
async fn a_held_create_exists_before_its_answer() {
    let jira = FakeJira::start().await;
    let http = client();
    let api = format!("{}/rest/api/3", jira.base_url());
    jira.hold_next_create(Duration::from_secs(30));

    let short = reqwest::Client::builder().timeout(Duration::from_millis(300)).build().unwrap();
    let timed_out = short.post(format!("{api}/issue")).json(&issue_fields("held", "fp-held")).send().await;
    assert!(timed_out.is_err(), "the answer is held");

    assert_eq!(jira.created().len(), 1, "the issue exists although its answer never came");
    let found = json_of(http.get(with_query(format!("{api}/search/jql"), &[("jql", r#"labels = "fp-held""#)])).send().await.unwrap()).await;
    assert_eq!(found["issues"][0]["key"], "OPS-1");
    assert_eq!(jira.spec_violations(), Vec::<String>::new());
}

#[tokio::test]
async fn requests_outside_the_description_are_reported() {
    let jira = FakeJira::start().await;
    let answer = client().get(format!("{}/rest/api/3/no-such-thing", jira.base_url())).send().await.unwrap();
    assert_eq!(answer.status(), 404);
    let violations = jira.spec_violations();
    assert!(violations.iter().any(|v| v.contains("not served by the fake")), "{violations:?}");
    if common::openapi::spec("jira_cloud_platform_swagger-v3.v3.json").is_some() {
        assert!(violations.iter().any(|v| v.contains("no such path in the description")), "{violations:?}");
    }
}

/// Sparky's own Jira sink against the fake: every request it makes is in the description, and a
/// create whose answer never came back is found by fingerprint instead of created again.
#[tokio::test]
async fn the_sink_speaks_the_description_and_creates_once() {
    use sparky::config::{Duration as ConfigDuration, HttpConfig, JiraConfig, Secret};
    use sparky::model::Priority;
    use sparky::outbox::jira::{JiraAction, adf};
    use sparky::outbox::{Action, Attempt, attempt};
    use sparky::sinks::jira::JiraSink;
    use sparky::store::{Store, remote_ids};

    common::crypto();
    let jira = FakeJira::start().await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display())).await.unwrap();
    let cfg = JiraConfig {
        base_url: Some(jira.base_url().parse().unwrap()),
        user_email: Some("bot@example.com".to_owned()),
        api_token: Some(Secret::new("t0ken")),
        project_key: Some("OPS".to_owned()),
        timeout: ConfigDuration::from_millis(500),
        // Looks the issue up at once (the search lag has its own test in delivery_edges.rs).
        search_lag: ConfigDuration::from_secs(0),
        ..JiraConfig::default()
    };
    let sink = JiraSink::new(&cfg, &HttpConfig::default(), store.clone()).unwrap();
    let row = |key: &str, number: i64| Attempt::numbered(key, number);
    let deliver = |action: &JiraAction, at: Attempt| {
        let (sink, action) = (&sink, Action::from(action.clone()));
        async move { attempt(sink, &action, &at).await }
    };
    let create = JiraAction::Create {
        incident: "incident:1".to_owned(),
        fingerprint: "sparky-incident-1".to_owned(),
        summary: "Okta failing".to_owned(),
        description: adf("okta-users failed"),
        priority: Priority::P4,
        labels: vec!["okta".to_owned()],
        owner: Default::default(),
    };

    // The first answer is held past the sink's timeout: the issue exists, its key is unknown.
    jira.hold_next_create(Duration::from_secs(5));
    assert!(deliver(&create, row("jira:create:1", 1)).await.is_err());
    assert_eq!(remote_ids::get(&store, "jira", "incident:1").await.unwrap(), None);
    let done = deliver(&create, row("jira:create:1", 2)).await.unwrap();
    assert_eq!(done.remote_id.as_deref(), Some("OPS-1"));
    assert_eq!(jira.created().len(), 1, "exactly one issue");
    assert_eq!(jira.create_attempts(), 1);

    let comment = JiraAction::Comment { incident: "incident:1".to_owned(), body: adf("cause: external") };
    deliver(&comment, row("jira:comment:1", 1)).await.unwrap();
    deliver(&comment, row("jira:comment:1", 2)).await.unwrap();
    let resolve = JiraAction::Resolve { incident: "incident:1".to_owned(), comment: adf("recovered") };
    deliver(&resolve, row("jira:resolve:1", 1)).await.unwrap();
    deliver(&resolve, row("jira:resolve:1", 2)).await.unwrap();

    let comments = jira.comments("OPS-1");
    assert_eq!(comments.len(), 2, "{comments:?}");
    assert!(comments[0].starts_with("cause: external\nsparky ref "), "{comments:?}");
    assert_eq!(jira.transitions_done("OPS-1"), vec!["31".to_owned()]);
    assert_eq!(jira.issue_status("OPS-1").as_deref(), Some("Done"));
    assert_eq!(jira.spec_violations(), Vec::<String>::new());
}
