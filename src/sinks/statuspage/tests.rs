use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::{BuiltinStatusPage, StatuspageSink};
use crate::config::{HttpConfig, Secret, StatuspageConfig};
use crate::model::{ComponentStatus, Indicator};
use crate::outbox::statuspage::{IncidentStatus, PublicComponent, StatuspageAction};
use crate::outbox::{Action, Attempt, Delivered, DeliveryError, Sink, attempt};
use crate::store::public_status;
use crate::store::{Store, remote_ids};

const API_KEY: &str = "89a229ce1a8dbcf9ff30430fbe35eb4c";
const PAGE: &str = "gytm4qzbx9t6";

async fn store() -> (TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display())).await.unwrap();
    (dir, store)
}

fn config(server: &MockServer, timeout: Duration) -> StatuspageConfig {
    StatuspageConfig {
        api_key: Some(Secret::new(API_KEY)),
        page_id: Some(PAGE.to_owned()),
        api_url: format!("{}/v1", server.uri()).parse().unwrap(),
        timeout: crate::config::Duration(timeout),
        ..StatuspageConfig::default()
    }
}

fn sink(server: &MockServer, store: &Store) -> StatuspageSink {
    let _ = rustls::crypto::ring::default_provider().install_default();
    StatuspageSink::new(&config(server, Duration::from_secs(5)), &HttpConfig::default(), store.clone()).unwrap()
}

fn row(number: i64) -> Attempt {
    Attempt::numbered("statuspage:incident:42:open", number)
}

/// One attempt of `action`, as the worker makes it.
async fn deliver(sink: &dyn Sink, action: &StatuspageAction, at: &Attempt) -> Result<Delivered, DeliveryError> {
    attempt(sink, &Action::from(action.clone()), at).await
}

fn component(partner: &str, name: &str, id: Option<&str>, status: ComponentStatus) -> PublicComponent {
    PublicComponent { partner: partner.parse().unwrap(), name: name.to_owned(), component_id: id.map(str::to_owned), status }
}

fn open(components: Vec<PublicComponent>) -> StatuspageAction {
    StatuspageAction::OpenIncident {
        incident: "incident:42".to_owned(),
        name: "Okta sign-in degraded".to_owned(),
        body: "Okta reports an outage; sign-in to our app through Okta may fail.".to_owned(),
        status: IncidentStatus::Identified,
        components,
        impact: None,
    }
}

fn body(request: &Request) -> Value {
    serde_json::from_slice(&request.body).unwrap()
}

fn incident_json(id: &str, key: &str, status: &str) -> Value {
    json!({"id": id, "name": "x", "status": status, "impact": "minor", "page_id": PAGE, "metadata": {"sparky": {"incident": key}},
           "incident_updates": [], "components": [], "created_at": "2026-01-05T10:00:00.000Z"})
}

// ---------------------------------------------------------------------------------------------
// Atlassian Statuspage API

#[tokio::test]
async fn a_component_status_is_patched_with_the_api_key() {
    let (_dir, store) = store().await;
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path(format!("/v1/pages/{PAGE}/components/cmp123")))
        .and(header("authorization", format!("OAuth {API_KEY}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "cmp123", "status": "partial_outage"})))
        .expect(1)
        .mount(&server)
        .await;
    let action = StatuspageAction::Component(component("okta", "Okta", Some("cmp123"), ComponentStatus::PartialOutage));
    let delivered = deliver(&sink(&server, &store), &action, &row(1)).await.unwrap();
    assert_eq!(delivered, Delivered { remote_id: Some("cmp123".to_owned()) });
    let requests = server.received_requests().await.unwrap();
    assert_eq!(body(&requests[0]), json!({"component": {"status": "partial_outage"}}));
}

#[tokio::test]
async fn a_component_without_an_id_is_skipped() {
    let (_dir, store) = store().await;
    let server = MockServer::start().await;
    let action = StatuspageAction::Component(component("okta", "Okta", None, ComponentStatus::MajorOutage));
    assert_eq!(deliver(&sink(&server, &store), &action, &row(1)).await.unwrap(), Delivered { remote_id: None });
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_incident_is_created_once_with_components_and_metadata() {
    let (_dir, store) = store().await;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/pages/{PAGE}/incidents")))
        .and(header("authorization", format!("OAuth {API_KEY}").as_str()))
        .respond_with(ResponseTemplate::new(201).set_body_json(incident_json("p31zjtct2jer", "incident:42", "identified")))
        .expect(1)
        .mount(&server)
        .await;
    let sink = sink(&server, &store);
    let action = open(vec![
        component("okta", "Okta", Some("cmp123"), ComponentStatus::PartialOutage),
        component("slack", "Slack", None, ComponentStatus::DegradedPerformance),
    ]);
    assert_eq!(deliver(&sink, &action, &row(1)).await.unwrap().remote_id.as_deref(), Some("p31zjtct2jer"));
    assert_eq!(remote_ids::get(&store, "statuspage", "incident:42").await.unwrap().as_deref(), Some("p31zjtct2jer"));
    // Delivered again (at least once): the stored id answers, nothing is sent.
    assert_eq!(deliver(&sink, &action, &row(2)).await.unwrap().remote_id.as_deref(), Some("p31zjtct2jer"));
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        body(&requests[0]),
        json!({"incident": {
            "name": "Okta sign-in degraded",
            "status": "identified",
            "body": "Okta reports an outage; sign-in to our app through Okta may fail.",
            "component_ids": ["cmp123"],
            "components": {"cmp123": "partial_outage"},
            "metadata": {"sparky": {"incident": "incident:42"}},
        }})
    );
}

/// A fake that creates incidents (answering after `delay`) and lists the unresolved ones.
struct Incidents {
    created: Arc<Mutex<Vec<Value>>>,
    delay: Duration,
}

impl Respond for Incidents {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut created = self.created.lock().unwrap();
        if request.method.as_str() == "GET" {
            return ResponseTemplate::new(200).set_body_json(Value::Array(created.clone()));
        }
        let incident = body(request)["incident"].clone();
        let id = format!("inc{}", created.len() + 1);
        let stored = json!({"id": id, "name": incident["name"], "status": incident["status"], "metadata": incident["metadata"]});
        created.push(stored.clone());
        ResponseTemplate::new(201).set_body_json(stored).set_delay(self.delay)
    }
}

#[tokio::test]
async fn an_uncertain_attempt_is_found_by_metadata_not_created_twice() {
    let (_dir, store) = store().await;
    let server = MockServer::start().await;
    let created = Arc::new(Mutex::new(Vec::new()));
    // The answer to the create comes after the client gave up: Statuspage has the incident.
    Mock::given(path(format!("/v1/pages/{PAGE}/incidents")))
        .respond_with(Incidents { created: created.clone(), delay: Duration::from_secs(3) })
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/pages/{PAGE}/incidents/unresolved")))
        .respond_with(Incidents { created: created.clone(), delay: Duration::ZERO })
        .mount(&server)
        .await;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sink = StatuspageSink::new(&config(&server, Duration::from_millis(500)), &HttpConfig::default(), store.clone()).unwrap();
    let action = open(vec![component("okta", "Okta", Some("cmp123"), ComponentStatus::MajorOutage)]);
    assert!(matches!(deliver(&sink, &action, &row(1)).await, Err(DeliveryError::Retry { .. })), "timed out");
    assert_eq!(created.lock().unwrap().len(), 1);
    // The retry looks first, finds it, and remembers its id.
    assert_eq!(deliver(&sink, &action, &row(2)).await.unwrap().remote_id.as_deref(), Some("inc1"));
    assert_eq!(created.lock().unwrap().len(), 1, "no second incident");
    assert_eq!(remote_ids::get(&store, "statuspage", "incident:42").await.unwrap().as_deref(), Some("inc1"));
    let requests = server.received_requests().await.unwrap();
    let listed = requests.iter().find(|r| r.method.as_str() == "GET").unwrap();
    assert!(listed.url.query().unwrap_or_default().contains("per_page=100"));
}

#[tokio::test]
async fn an_uncertain_attempt_that_never_arrived_creates_the_incident() {
    let (_dir, store) = store().await;
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/pages/{PAGE}/incidents/unresolved")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([incident_json("other", "incident:7", "investigating")])))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/pages/{PAGE}/incidents")))
        .respond_with(ResponseTemplate::new(201).set_body_json(incident_json("new1", "incident:42", "identified")))
        .expect(1)
        .mount(&server)
        .await;
    let delivered = deliver(&sink(&server, &store), &open(vec![]), &row(2)).await.unwrap();
    assert_eq!(delivered.remote_id.as_deref(), Some("new1"));
}

#[tokio::test]
async fn updates_and_resolution_patch_the_remembered_incident() {
    let (_dir, store) = store().await;
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path(format!("/v1/pages/{PAGE}/incidents/p31zjtct2jer")))
        .and(header("authorization", format!("OAuth {API_KEY}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(incident_json("p31zjtct2jer", "incident:42", "monitoring")))
        .expect(2)
        .mount(&server)
        .await;
    let sink = sink(&server, &store);
    let update = StatuspageAction::UpdateIncident {
        incident: "incident:42".to_owned(),
        body: "Okta posted a fix.".to_owned(),
        status: IncidentStatus::Monitoring,
    };
    assert!(matches!(deliver(&sink, &update, &row(1)).await, Err(DeliveryError::Retry { .. })), "not opened yet");
    assert!(server.received_requests().await.unwrap().is_empty());
    remote_ids::put(&store, "statuspage", "incident:42", "p31zjtct2jer").await.unwrap();
    assert_eq!(deliver(&sink, &update, &row(1)).await.unwrap().remote_id.as_deref(), Some("p31zjtct2jer"));
    let resolve = StatuspageAction::ResolveIncident { incident: "incident:42".to_owned(), body: "Recovered after 23m.".to_owned() };
    deliver(&sink, &resolve, &row(1)).await.unwrap();
    let requests = server.received_requests().await.unwrap();
    // Each update carries its marker, for the look-up after an uncertain attempt.
    let marked = |status: &str, text: &str| json!({"incident": {"status": status, "body": text, "metadata": {"sparky": {"incident": "incident:42", "update": "statuspage:incident:42:open"}}}});
    assert_eq!(body(&requests[0]), marked("monitoring", "Okta posted a fix."));
    assert_eq!(body(&requests[1]), marked("resolved", "Recovered after 23m."));
}

#[tokio::test]
async fn rate_limited_is_retried_after_the_given_time_and_a_bad_request_is_permanent() {
    let (_dir, store) = store().await;
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path(format!("/v1/pages/{PAGE}/components/limited")))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "12").set_body_json(json!({"error": "Rate limit exceeded"})))
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(format!("/v1/pages/{PAGE}/components/bad")))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": format!("bad key {API_KEY}")})))
        .mount(&server)
        .await;
    let sink = sink(&server, &store);
    let limited = StatuspageAction::Component(component("okta", "Okta", Some("limited"), ComponentStatus::MajorOutage));
    match deliver(&sink, &limited, &row(1)).await {
        Err(DeliveryError::Retry { retry_after, .. }) => assert_eq!(retry_after, Some(Duration::from_secs(12))),
        other => panic!("expected a retry, got {other:?}"),
    }
    let bad = StatuspageAction::Component(component("okta", "Okta", Some("bad"), ComponentStatus::MajorOutage));
    match deliver(&sink, &bad, &row(1)).await {
        Err(DeliveryError::Permanent { reason }) => assert!(reason.contains("400") && !reason.contains(API_KEY), "{reason}"),
        other => panic!("expected a permanent failure, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Built-in page

async fn apply(page: &BuiltinStatusPage, action: &StatuspageAction) -> Result<Delivered, DeliveryError> {
    deliver(page, action, &Attempt::first("builtin")).await
}

#[tokio::test]
async fn the_builtin_page_follows_components_and_incidents() {
    let (_dir, store) = store().await;
    builtin_scenario(&store).await;
}

/// The same on PostgreSQL, when `SPARKY_TEST_POSTGRES_URL` names a server where the user may
/// create databases.
#[tokio::test]
async fn the_builtin_page_follows_components_and_incidents_on_postgres() {
    use sqlx::Connection;
    let Some(admin) = std::env::var("SPARKY_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty()) else {
        assert!(std::env::var("CI").is_err(), "CI=true: SPARKY_TEST_POSTGRES_URL must be set");
        eprintln!("SPARKY_TEST_POSTGRES_URL is not set; PostgreSQL half of the built-in page test skipped");
        return;
    };
    let name = format!("sparky_test_builtin_{}_{:08x}", std::process::id(), rand::random::<u32>());
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await.unwrap();
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_path(&format!("/{name}"));
    let store = Store::open(url.as_str()).await.unwrap();
    builtin_scenario(&store).await;
    store.close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(&mut conn).await.unwrap();
}

async fn builtin_scenario(store: &Store) {
    let page = BuiltinStatusPage::new(store.clone());
    apply(&page, &StatuspageAction::Component(component("slack", "Slack", None, ComponentStatus::DegradedPerformance))).await.unwrap();
    let components = public_status::components(store).await.unwrap();
    assert_eq!(
        components.iter().map(|c| (c.partner.as_str(), c.status)).collect::<Vec<_>>(),
        [("slack", ComponentStatus::DegradedPerformance)]
    );

    let action = open(vec![component("okta", "Okta", None, ComponentStatus::PartialOutage)]);
    assert_eq!(apply(&page, &action).await.unwrap().remote_id.as_deref(), Some("incident:42"));
    apply(&page, &action).await.unwrap();
    let incidents = public_status::open_incidents(store).await.unwrap();
    assert_eq!(incidents.len(), 1, "opened once");
    let incident = &incidents[0];
    assert_eq!((incident.key.as_str(), incident.status, incident.impact), ("incident:42", IncidentStatus::Identified, Indicator::Major));
    assert_eq!(incident.components[0].name, "Okta");
    assert_eq!(incident.updates.len(), 1);
    let okta = public_status::components(store).await.unwrap().into_iter().find(|c| c.partner == "okta").map(|c| c.status);
    assert_eq!(okta, Some(ComponentStatus::PartialOutage), "opening sets its components");

    let update = StatuspageAction::UpdateIncident {
        incident: "incident:42".to_owned(),
        body: "Okta posted a fix.".to_owned(),
        status: IncidentStatus::Monitoring,
    };
    apply(&page, &update).await.unwrap();
    apply(&page, &update).await.unwrap();
    let incident = &public_status::open_incidents(store).await.unwrap()[0];
    assert_eq!(incident.updates.len(), 2, "a repeated update is not appended twice");
    assert_eq!((incident.updates[1].status, incident.updates[1].body.as_str()), (IncidentStatus::Monitoring, "Okta posted a fix."));
    assert_eq!(incident.status, IncidentStatus::Monitoring);

    let resolve = StatuspageAction::ResolveIncident { incident: "incident:42".to_owned(), body: "Recovered after 23m.".to_owned() };
    apply(&page, &resolve).await.unwrap();
    apply(&page, &StatuspageAction::Component(component("okta", "Okta", None, ComponentStatus::Operational))).await.unwrap();
    assert!(public_status::open_incidents(store).await.unwrap().is_empty(), "a resolved incident leaves the page");
    let row = sqlx::query_as::<_, (String, Option<i64>, String)>(
        "SELECT status, resolved_at, updates FROM public_incidents WHERE local_key = 'incident:42'",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(row.0, "resolved");
    assert!(row.1.is_some());
    assert_eq!(serde_json::from_str::<Vec<Value>>(&row.2).unwrap().len(), 3);
}

#[tokio::test]
async fn an_update_before_its_incident_waits() {
    let (_dir, store) = store().await;
    let page = BuiltinStatusPage::new(store);
    let update = StatuspageAction::ResolveIncident { incident: "incident:9".to_owned(), body: "over".to_owned() };
    assert!(matches!(apply(&page, &update).await, Err(DeliveryError::Retry { .. })));
}

#[tokio::test]
async fn impact_is_the_stated_one_else_the_worst_component() {
    let (_dir, store) = store().await;
    let page = BuiltinStatusPage::new(store.clone());
    let c = |s| component("p", "P", None, s);
    for (n, (components, impact, expected)) in [
        (vec![c(ComponentStatus::DegradedPerformance)], None, Indicator::Minor),
        (vec![c(ComponentStatus::DegradedPerformance), c(ComponentStatus::PartialOutage)], None, Indicator::Major),
        (vec![c(ComponentStatus::MajorOutage), c(ComponentStatus::UnderMaintenance)], None, Indicator::Critical),
        (vec![c(ComponentStatus::UnderMaintenance)], None, Indicator::Maintenance),
        (vec![c(ComponentStatus::MajorOutage)], Some(Indicator::Major), Indicator::Major),
    ]
    .into_iter()
    .enumerate()
    {
        let open = StatuspageAction::OpenIncident {
            incident: format!("incident:{n}"),
            name: "x".to_owned(),
            body: "y".to_owned(),
            status: IncidentStatus::Identified,
            components,
            impact,
        };
        apply(&page, &open).await.unwrap();
        let found = public_status::open_incidents(&store).await.unwrap().into_iter().find(|i| i.key == format!("incident:{n}"));
        assert_eq!(found.map(|i| i.impact), Some(expected));
    }
}
