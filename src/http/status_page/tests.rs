//! The built-in page as `summary.json` and HTML, over rows written as the built-in sink writes
//! them.

use serde_json::{Value, json};
use tempfile::TempDir;

use super::*;
use crate::config::StatusPageConfig;
use crate::model::statuspage::IncidentStatus;
use crate::sources::status_pages::adapters;
use crate::store::public_status::{Affected, NewIncident};

async fn store() -> (TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display())).await.unwrap();
    (dir, store)
}

fn partners() -> Vec<(String, String)> {
    vec![("okta".to_owned(), "Okta".to_owned()), ("slack".to_owned(), "Slack".to_owned()), ("jira".to_owned(), "Jira".to_owned())]
}

async fn json_summary(store: &Store) -> Value {
    serde_json::to_value(summary(store, "Service status", &partners()).await.unwrap()).unwrap()
}

async fn open(store: &Store, partner: &str, name: &str, status: ComponentStatus) {
    let affected = [Affected { partner: partner.to_owned(), name: name.to_owned(), status }];
    let new = NewIncident {
        key: "incident:42",
        name: "Okta sign-in degraded",
        body: "Okta reports an outage.",
        status: IncidentStatus::Identified,
        components: &affected,
        impact: None,
        at: Timestamp::now(),
    };
    table::open_incident(store, &new).await.unwrap();
}

#[tokio::test]
async fn a_quiet_page_is_all_operational() {
    let (_dir, store) = store().await;
    let s = json_summary(&store).await;
    assert_eq!(s["status"], json!({"indicator": "none", "description": "All Systems Operational"}));
    assert_eq!(s["page"]["name"], "Service status");
    assert_eq!(s["page"]["time_zone"], "Etc/UTC");
    let names: Vec<&str> = s["components"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Okta", "Slack", "Jira"]);
    assert!(s["components"].as_array().unwrap().iter().all(|c| c["status"] == "operational"));
    assert_eq!((s["incidents"].clone(), s["scheduled_maintenances"].clone()), (json!([]), json!([])));
}

#[tokio::test]
async fn the_summary_shows_components_and_incidents_newest_update_first() {
    let (_dir, store) = store().await;
    table::set_component(&store, "slack", "Slack", ComponentStatus::DegradedPerformance, Timestamp::now()).await.unwrap();
    open(&store, "okta", "Okta", ComponentStatus::PartialOutage).await;
    table::append_update(&store, "incident:42", "Okta posted a fix.", IncidentStatus::Monitoring, Timestamp::now()).await.unwrap();
    let s = json_summary(&store).await;
    assert_eq!(s["status"], json!({"indicator": "major", "description": "Partial System Outage"}));
    assert_eq!(s["components"][1]["status"], "degraded_performance");
    let incident = &s["incidents"][0];
    assert_eq!(
        (incident["id"].as_str(), incident["status"].as_str(), incident["impact"].as_str()),
        (Some("incident:42"), Some("monitoring"), Some("major"))
    );
    assert_eq!(incident["shortlink"], Value::Null);
    assert_eq!(incident["components"][0]["name"], "Okta");
    let updates = incident["incident_updates"].as_array().unwrap();
    assert_eq!((updates.len(), updates[0]["status"].as_str()), (2, Some("monitoring")), "newest first");
    assert!(incident["monitoring_at"].is_string());
}

#[tokio::test]
async fn sparkys_own_statuspage_adapter_reads_the_summary() {
    let (_dir, store) = store().await;
    open(&store, "okta", "Okta", ComponentStatus::MajorOutage).await;
    let body = serde_json::to_vec(&json_summary(&store).await).unwrap();
    let cfg: StatusPageConfig = toml::from_str("kind = \"statuspage\"\nurl = \"http://127.0.0.1/api/v2/summary.json\"").unwrap();
    let read = adapters::parse(&cfg, &body, Some("application/json")).unwrap();
    assert_eq!(read.indicator, Indicator::Critical);
    assert_eq!(read.description.as_deref(), Some("Major System Outage"));
    let statuses: Vec<(&str, ComponentStatus)> = read.components.iter().map(|c| (c.name.as_str(), c.status)).collect();
    assert_eq!(
        statuses,
        [("Okta", ComponentStatus::MajorOutage), ("Slack", ComponentStatus::Operational), ("Jira", ComponentStatus::Operational)]
    );
    let incident = &read.incidents[0];
    assert_eq!(
        (incident.id.as_str(), incident.name.as_str(), incident.status.as_str()),
        ("incident:42", "Okta sign-in degraded", "identified")
    );
    assert_eq!(incident.impact, Indicator::Critical);
    assert_eq!(incident.components, ["Okta"]);
    assert!(incident.started_at.is_some());
    assert!(read.maintenances.is_empty());
}

#[tokio::test]
async fn the_html_page_escapes_partner_names_and_texts() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("partners")).unwrap();
    std::fs::write(dir.path().join("partners/evil.toml"), "id = \"evil\"\nname = \"<script>alert('x')</script>\"\n").unwrap();
    std::fs::write(dir.path().join("partners/okta.toml"), "id = \"okta\"\nname = \"Okta & Co\"\n").unwrap();
    let config = crate::config::Config::load_with_env(dir.path(), &|_| None).unwrap();
    let store = Store::open(&config.database_url()).await.unwrap();
    let templates = Templates::load(dir.path()).unwrap();
    let affected =
        [Affected { partner: "evil".to_owned(), name: "<script>alert('x')</script>".to_owned(), status: ComponentStatus::PartialOutage }];
    let new = NewIncident {
        key: "incident:1",
        name: "<img src=x onerror=alert(1)>",
        body: "line one\n<b>not bold</b>",
        status: IncidentStatus::Investigating,
        components: &affected,
        impact: None,
        at: Timestamp::now(),
    };
    table::open_incident(&store, &new).await.unwrap();
    let state = State {
        config: std::sync::Arc::new(config),
        store,
        templates: std::sync::Arc::new(templates),
        compat_wake: Default::default(),
        wake: Default::default(),
    };

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = tokio_util::sync::CancellationToken::new();
    let server = tokio::spawn(super::super::serve(state, listener, shutdown.clone()));
    let client = reqwest::Client::new();

    let response = client.get(format!("{base}/status")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("text/html; charset=utf-8"));
    let html = response.text().await.unwrap();
    assert!(!html.contains("<script"), "no script element at all:\n{html}");
    assert!(!html.contains("<img"), "{html}");
    assert!(!html.contains("<b>"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(&#x27;x&#x27;)&lt;&#x2f;script&gt;"), "{html}");
    assert!(html.contains("Okta &amp; Co"), "{html}");
    assert!(html.contains("Partial System Outage") && html.contains("Partial outage") && html.contains("Investigating"), "{html}");
    assert!(!html.contains("http://") && !html.contains("https://"), "no external resources:\n{html}");

    let response = client.get(format!("{base}/api/v2/summary.json")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let summary: Value = response.json().await.unwrap();
    assert_eq!(summary["components"][0]["name"], "<script>alert('x')</script>", "JSON keeps the name as it is");
    assert_eq!(summary["components"][1]["name"], "Okta & Co");
    assert_eq!(summary["status"]["indicator"], "major");

    shutdown.cancel();
    let _ = server.await;
}
