use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::PagerDutySink;
use crate::config::{HttpConfig, PagerDutyConfig, Secret};
use crate::outbox::pagerduty::{EventAction, Link, PagerDutyEvent, Severity};
use crate::outbox::{Action, Attempt, Delivered, DeliveryError, Sink, attempt};

const KEY: &str = "R0UTINGKEY0123456789abcdefabcdef";

fn sink(server: &MockServer) -> PagerDutySink {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cfg = PagerDutyConfig {
        routing_key: Some(Secret::new(KEY)),
        events_url: server.uri().parse().unwrap(),
        timeout: crate::config::Duration::from_secs(5),
    };
    PagerDutySink::new(&cfg, &HttpConfig::default()).unwrap()
}

fn row() -> Attempt {
    Attempt::first("pagerduty:incident:1:trigger")
}

/// One attempt of `event`, as the worker makes it.
async fn deliver(sink: &dyn Sink, event: &PagerDutyEvent, at: &Attempt) -> Result<Delivered, DeliveryError> {
    attempt(sink, &Action::from(event.clone()), at).await
}

fn trigger() -> PagerDutyEvent {
    PagerDutyEvent {
        action: EventAction::Trigger,
        dedup_key: "check:okta-users".to_owned(),
        summary: "okta-users failing: HTTP 500 (internal cause)".to_owned(),
        source: "okta".to_owned(),
        severity: Severity::Warning,
        component: Some("okta-users".to_owned()),
        group: Some("okta".to_owned()),
        class: Some("synthetic-check".to_owned()),
        custom_details: json!({"assertions": ["status 500 is not 2xx"]}),
        links: vec![Link { href: "https://status.okta.com".to_owned(), text: "Okta status".to_owned() }],
    }
}

fn accepted(dedup_key: &str) -> ResponseTemplate {
    ResponseTemplate::new(202).set_body_json(json!({"status": "success", "message": "Event processed", "dedup_key": dedup_key}))
}

async fn bodies(server: &MockServer) -> Vec<Value> {
    server.received_requests().await.unwrap_or_default().iter().map(|r| serde_json::from_slice(&r.body).unwrap()).collect()
}

#[tokio::test]
async fn a_trigger_carries_the_payload_and_answers_its_dedup_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path("/v2/enqueue")).respond_with(accepted("check:okta-users")).expect(1).mount(&server).await;
    let delivered = deliver(&sink(&server), &trigger(), &row()).await.unwrap();
    assert_eq!(delivered, Delivered { remote_id: Some("check:okta-users".to_owned()) });
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests[0].headers.get("content-type").and_then(|v| v.to_str().ok()), Some("application/json"));
    assert_eq!(
        bodies(&server).await[0],
        json!({
            "routing_key": KEY,
            "event_action": "trigger",
            "dedup_key": "check:okta-users",
            "payload": {
                "summary": "okta-users failing: HTTP 500 (internal cause)",
                "source": "okta",
                "severity": "warning",
                "component": "okta-users",
                "group": "okta",
                "class": "synthetic-check",
                "custom_details": {"assertions": ["status 500 is not 2xx"]},
            },
            "links": [{"href": "https://status.okta.com", "text": "Okta status"}],
        })
    );
}

#[tokio::test]
async fn resolve_and_acknowledge_send_only_the_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path("/v2/enqueue")).respond_with(accepted("check:okta-users")).mount(&server).await;
    let sink = sink(&server);
    for action in [EventAction::Resolve, EventAction::Acknowledge] {
        let event = PagerDutyEvent { action, ..trigger() };
        assert_eq!(deliver(&sink, &event, &row()).await.unwrap().remote_id.as_deref(), Some("check:okta-users"));
    }
    let bodies = bodies(&server).await;
    assert_eq!(bodies[0], json!({"routing_key": KEY, "event_action": "resolve", "dedup_key": "check:okta-users"}));
    assert_eq!(bodies[1], json!({"routing_key": KEY, "event_action": "acknowledge", "dedup_key": "check:okta-users"}));
}

#[tokio::test]
async fn a_long_summary_is_cut_and_odd_details_are_wrapped() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path("/v2/enqueue")).respond_with(accepted("k")).mount(&server).await;
    let event =
        PagerDutyEvent { summary: "x".repeat(3000), custom_details: json!("plain text"), component: None, links: vec![], ..trigger() };
    deliver(&sink(&server), &event, &row()).await.unwrap();
    let body = &bodies(&server).await[0];
    assert_eq!(body["payload"]["summary"].as_str().unwrap().chars().count(), 1024);
    assert_eq!(body["payload"]["custom_details"], json!({"details": "plain text"}));
    assert!(body["payload"].get("component").is_none() && body.get("links").is_none());
}

#[tokio::test]
async fn rate_limited_is_retried_after_the_given_time() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/enqueue"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "7")
                .set_body_json(json!({"status": "throttle event", "message": "Requests for this service are arriving too quickly."})),
        )
        .mount(&server)
        .await;
    match deliver(&sink(&server), &trigger(), &row()).await {
        Err(DeliveryError::Retry { retry_after, reason }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(7)));
            assert!(reason.contains("429"), "{reason}");
        }
        other => panic!("expected a retry, got {other:?}"),
    }
}

#[tokio::test]
async fn a_server_error_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path("/v2/enqueue")).respond_with(ResponseTemplate::new(503)).mount(&server).await;
    assert!(matches!(deliver(&sink(&server), &trigger(), &row()).await, Err(DeliveryError::Retry { .. })));
}

#[tokio::test]
async fn a_bad_request_is_permanent_and_never_shows_the_routing_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/enqueue"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "status": "invalid event",
            "message": "Event object is invalid",
            "errors": [format!("'routing_key' {KEY} is not a valid integration key")],
        })))
        .mount(&server)
        .await;
    match deliver(&sink(&server), &trigger(), &row()).await {
        Err(DeliveryError::Permanent { reason }) => {
            assert!(reason.contains("400") && reason.contains("not a valid integration key"), "{reason}");
            assert!(!reason.contains(KEY), "routing key leaked: {reason}");
        }
        other => panic!("expected a permanent failure, got {other:?}"),
    }
}

#[tokio::test]
async fn a_missing_routing_key_or_dedup_key_is_refused() {
    let cfg = PagerDutyConfig::default();
    assert!(matches!(PagerDutySink::new(&cfg, &HttpConfig::default()), Err(DeliveryError::Permanent { .. })));
    let server = MockServer::start().await;
    let event = PagerDutyEvent { dedup_key: String::new(), ..trigger() };
    assert!(matches!(deliver(&sink(&server), &event, &row()).await, Err(DeliveryError::Permanent { .. })));
    assert!(server.received_requests().await.unwrap_or_default().is_empty());
}

#[test]
fn the_sink_debug_form_hides_the_key() {
    let cfg = PagerDutyConfig { routing_key: Some(Secret::new(KEY)), ..PagerDutyConfig::default() };
    assert!(!format!("{cfg:?}").contains(KEY));
}
