//! The fake Slack, PagerDuty and Statuspage follow the vendors' official descriptions: driven with
//! plain reqwest (and with Sparky's own sinks), they answer like the real services and record no
//! spec violation for conforming requests, while a non-conforming request is caught.

#![allow(unreachable_pub, clippy::unwrap_used)] // test and bench code: a failed unwrap is a failed run

mod common;

use std::time::Duration;

use serde_json::{Value, json};

use common::fake_pagerduty::FakePagerDuty;
use common::fake_slack::FakeSlack;
use common::fake_statuspage::FakeStatuspage;

const KEY: &str = "R0UTINGKEY0123456789abcdefabcdef";
const OAUTH: &str = "OAuth 89a229ce1a8dbcf9ff30430fbe35eb4c";

fn client() -> reqwest::Client {
    common::crypto();
    reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap()
}

async fn post(client: &reqwest::Client, url: &str, body: Value) -> (u16, Option<String>, Value) {
    let response = client.post(url).json(&body).send().await.unwrap();
    let status = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
    (status, retry_after, response.json().await.unwrap_or(Value::Null))
}

// ---------------------------------------------------------------------------------------------
// Slack

#[tokio::test]
async fn fake_slack_history_honours_channel_oldest_limit_and_metadata() {
    let slack = FakeSlack::start().await;
    let client = client();
    let api = slack.api_url();
    let meta = |k: &str| json!({"event_type": "sparky_action", "event_payload": {"idempotency_key": k}});
    let mut ts = Vec::new();
    for (channel, key) in [("#ecosystem-updates", "a"), ("#ecosystem-updates", "b"), ("#other", "c"), ("#ecosystem-updates", "d")] {
        let body = json!({"channel": channel, "text": key, "metadata": meta(key)});
        let answer: Value =
            client.post(format!("{api}/chat.postMessage")).bearer_auth("xoxb-t").json(&body).send().await.unwrap().json().await.unwrap();
        assert_eq!(answer["ok"], true);
        ts.push(answer["ts"].as_str().unwrap().to_owned());
    }
    let history = |query: &'static str| {
        let (client, api) = (client.clone(), api.clone());
        async move {
            client
                .get(format!("{api}/conversations.history?{query}"))
                .bearer_auth("xoxb-t")
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let texts = |v: &Value| v["messages"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    let all = history("channel=C0ECOSYSTEM").await;
    assert_eq!(texts(&all), ["d", "b", "a"], "one channel, newest first");
    assert!(all["messages"][0]["metadata"].is_null(), "metadata only with include_all_metadata");
    let with = history("channel=C0ECOSYSTEM&include_all_metadata=true&limit=2").await;
    assert_eq!(texts(&with), ["d", "b"]);
    assert_eq!(with["messages"][0]["metadata"]["event_payload"]["idempotency_key"], "d");
    assert_eq!(with["has_more"], true);
    let cursor = with["response_metadata"]["next_cursor"].as_str().unwrap().to_owned();
    let next = client
        .get(format!("{api}/conversations.history?channel=C0ECOSYSTEM&limit=2&cursor={cursor}"))
        .bearer_auth("xoxb-t")
        .send()
        .await
        .unwrap();
    assert_eq!(texts(&next.json::<Value>().await.unwrap()), ["a"]);
    let newer =
        client.get(format!("{api}/conversations.history?channel=C0ECOSYSTEM&oldest={}", ts[1])).bearer_auth("xoxb-t").send().await.unwrap();
    assert_eq!(texts(&newer.json::<Value>().await.unwrap()), ["d"], "oldest is exclusive");
    let by_name = history("channel=%23ecosystem-updates").await;
    assert_eq!((by_name["ok"].as_bool(), by_name["error"].as_str()), (Some(false), Some("channel_not_found")), "history takes ids");
    assert_eq!(slack.spec_violations(), Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------------
// PagerDuty

fn trigger() -> Value {
    json!({
        "routing_key": KEY,
        "event_action": "trigger",
        "dedup_key": "check:okta-users",
        "payload": {"summary": "okta-users failing", "source": "okta", "severity": "warning", "custom_details": {"a": 1}},
        "links": [{"href": "https://status.okta.com", "text": "Okta status"}],
    })
}

#[tokio::test]
async fn fake_pagerduty_accepts_conforming_events() {
    let pd = FakePagerDuty::start().await;
    let client = client();
    let url = format!("{}/v2/enqueue", pd.events_url());
    let (status, _, answer) = post(&client, &url, trigger()).await;
    assert_eq!(status, 202);
    assert_eq!(answer, json!({"status": "success", "message": "Event processed", "dedup_key": "check:okta-users"}));
    for action in ["acknowledge", "resolve"] {
        let (status, _, _) =
            post(&client, &url, json!({"routing_key": KEY, "event_action": action, "dedup_key": "check:okta-users"})).await;
        assert_eq!(status, 202, "{action}");
    }
    // A trigger without dedup_key gets one from PagerDuty.
    let mut no_key = trigger();
    no_key.as_object_mut().unwrap().remove("dedup_key");
    let (status, _, answer) = post(&client, &url, no_key).await;
    assert_eq!(status, 202);
    assert!(answer["dedup_key"].as_str().is_some_and(|k| !k.is_empty()));
    assert_eq!(pd.spec_violations(), Vec::<String>::new());
    assert_eq!(pd.events().len(), 4);
    assert_eq!(pd.events()[1]["event_action"], "acknowledge");
}

#[tokio::test]
async fn fake_pagerduty_plays_its_script() {
    let pd = FakePagerDuty::start().await;
    let client = client();
    let url = format!("{}/v2/enqueue", pd.events_url());
    pd.script([429, 500, 400]);
    let (status, retry_after, answer) = post(&client, &url, trigger()).await;
    assert_eq!((status, retry_after.as_deref()), (429, Some("1")));
    assert_eq!(answer["status"], "throttle event");
    assert_eq!(post(&client, &url, trigger()).await.0, 500);
    assert_eq!(post(&client, &url, trigger()).await.0, 400);
    assert_eq!(post(&client, &url, trigger()).await.0, 202, "script over");
    assert_eq!(pd.events().len(), 4);
    assert_eq!(pd.accepted().len(), 1);
    assert!(pd.spec_violations().is_empty(), "{:?}", pd.spec_violations());
}

#[tokio::test]
async fn fake_pagerduty_catches_events_off_the_spec() {
    let pd = FakePagerDuty::start().await;
    let client = client();
    let url = format!("{}/v2/enqueue", pd.events_url());
    let bad = [
        json!({"event_action": "trigger", "payload": {"summary": "s", "source": "x", "severity": "warning"}}),
        json!({"routing_key": KEY, "event_action": "trigger", "dedup_key": "k"}),
        json!({"routing_key": KEY, "event_action": "trigger", "payload": {"summary": "s", "source": "x", "severity": "loud"}}),
        json!({"routing_key": KEY, "event_action": "resolve"}),
        json!({"routing_key": KEY, "event_action": "explode", "dedup_key": "k"}),
    ];
    for body in bad {
        let (status, _, answer) = post(&client, &url, body.clone()).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(answer["status"], "invalid event");
    }
    let violations = pd.spec_violations();
    assert!(violations.iter().any(|v| v.contains("routing_key")), "{violations:?}");
    assert!(violations.iter().any(|v| v.contains("needs `payload`")), "{violations:?}");
    assert!(violations.iter().any(|v| v.contains("severity")), "{violations:?}");
    assert!(violations.iter().any(|v| v.contains("dedup_key")), "{violations:?}");
    assert!(violations.iter().any(|v| v.contains("explode")), "{violations:?}");
    assert!(pd.accepted().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Statuspage

#[tokio::test]
async fn fake_statuspage_keeps_incidents_and_components() {
    let sp = FakeStatuspage::start().await;
    let client = client();
    let base = format!("{}/pages/pg1", sp.api_url());

    let response = client
        .patch(format!("{base}/components/cmp1"))
        .header("Authorization", OAUTH)
        .json(&json!({"component": {"status": "major_outage"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let component: Value = response.json().await.unwrap();
    assert_eq!((component["id"].as_str(), component["status"].as_str()), (Some("cmp1"), Some("major_outage")));
    assert_eq!(sp.component_updates(), [("cmp1".to_owned(), "major_outage".to_owned())]);

    let create = json!({"incident": {
        "name": "Okta sign-in degraded", "status": "identified", "body": "Okta reports an outage.",
        "component_ids": ["cmp1"], "components": {"cmp1": "partial_outage"},
        "metadata": {"sparky": {"incident": "incident:42"}},
    }});
    let response = client.post(format!("{base}/incidents")).header("Authorization", OAUTH).json(&create).send().await.unwrap();
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["status"], "identified");
    assert_eq!(created["impact"], "major");
    assert_eq!(created["metadata"]["sparky"]["incident"], "incident:42");
    assert_eq!(created["components"][0]["status"], "partial_outage");
    assert_eq!(created["incident_updates"][0]["body"], "Okta reports an outage.");
    assert!(created["shortlink"].as_str().is_some_and(|s| s.starts_with("https://")));

    let unresolved: Value = client
        .get(format!("{base}/incidents/unresolved?page=1&per_page=100"))
        .header("Authorization", OAUTH)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(unresolved.as_array().map(Vec::len), Some(1));
    assert_eq!(unresolved[0]["metadata"]["sparky"]["incident"], "incident:42");

    for (status, body) in [("monitoring", "A fix is out."), ("resolved", "Recovered after 23m.")] {
        let response = client
            .patch(format!("{base}/incidents/{id}"))
            .header("Authorization", OAUTH)
            .json(&json!({"incident": {"status": status, "body": body}}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let updated: Value = response.json().await.unwrap();
        assert_eq!(updated["status"], status);
        assert_eq!(updated["incident_updates"][0]["body"], body, "newest update first");
    }
    let incidents = sp.incidents();
    assert_eq!(incidents.len(), 1);
    assert_eq!((incidents[0]["status"].as_str(), incidents[0]["body"].as_str()), (Some("resolved"), Some("Recovered after 23m.")));
    assert!(incidents[0]["resolved_at"].is_string());
    assert_eq!(incidents[0]["incident_updates"].as_array().map(Vec::len), Some(3));

    let unresolved: Value =
        client.get(format!("{base}/incidents/unresolved")).header("Authorization", OAUTH).send().await.unwrap().json().await.unwrap();
    assert_eq!(unresolved, json!([]));

    let missing = client
        .patch(format!("{base}/incidents/nope"))
        .header("Authorization", OAUTH)
        .json(&json!({"incident": {"status": "resolved"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(sp.spec_violations(), Vec::<String>::new());
}

#[tokio::test]
async fn fake_statuspage_plays_its_script() {
    let sp = FakeStatuspage::start().await;
    let client = client();
    sp.script([429, 503]);
    let url = format!("{}/pages/pg1/components/cmp1", sp.api_url());
    let body = json!({"component": {"status": "operational"}});
    let response = client.patch(&url).header("Authorization", OAUTH).json(&body).send().await.unwrap();
    assert_eq!((response.status().as_u16(), response.headers().get("retry-after").and_then(|v| v.to_str().ok())), (429, Some("1")));
    assert_eq!(client.patch(&url).header("Authorization", OAUTH).json(&body).send().await.unwrap().status(), 503);
    assert_eq!(client.patch(&url).header("Authorization", OAUTH).json(&body).send().await.unwrap().status(), 200);
    assert_eq!(sp.component_updates().len(), 1, "failed requests change nothing");
    assert!(sp.spec_violations().is_empty(), "{:?}", sp.spec_violations());
}

#[tokio::test]
async fn fake_statuspage_catches_requests_off_the_spec() {
    let sp = FakeStatuspage::start().await;
    let client = client();
    let base = format!("{}/pages/pg1", sp.api_url());
    let no_auth = client.patch(format!("{base}/components/c")).json(&json!({"component": {"status": "operational"}})).send().await.unwrap();
    assert_eq!(no_auth.status(), 401);
    let no_name = client
        .post(format!("{base}/incidents"))
        .header("Authorization", OAUTH)
        .json(&json!({"incident": {"status": "investigating", "body": "b"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(no_name.status(), 422);
    let bad_status = client
        .patch(format!("{base}/components/c"))
        .header("Authorization", OAUTH)
        .json(&json!({"component": {"status": "on_fire"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_status.status(), 422);
    let bad_metadata = client
        .post(format!("{base}/incidents"))
        .header("Authorization", OAUTH)
        .json(&json!({"incident": {"name": "n", "metadata": {"sparky": "incident:1"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_metadata.status(), 422);
    let violations = sp.spec_violations();
    assert_eq!(violations.len(), 4, "{violations:?}");
    assert!(violations.iter().any(|v| v.contains("Authorization")), "{violations:?}");
    assert!(violations.iter().any(|v| v.contains("incident.name")), "{violations:?}");
    assert!(violations.iter().any(|v| v.contains("on_fire")), "{violations:?}");
    assert!(violations.iter().any(|v| v.contains("metadata")), "{violations:?}");
    assert!(sp.incidents().is_empty() && sp.component_updates().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Sparky's sinks against the fakes

mod with_sinks {
    use super::*;
    use sparky::config::{Duration as ConfigDuration, HttpConfig, PagerDutyConfig, Secret, StatuspageConfig};
    use sparky::model::{ComponentStatus, Indicator};
    use sparky::outbox::pagerduty::{EventAction, PagerDutyEvent, Severity};
    use sparky::outbox::statuspage::{IncidentStatus, PublicComponent, StatuspageAction};
    use sparky::outbox::{Action, Attempt, Delivered, DeliveryError, Sink, attempt};
    use sparky::sinks::pagerduty::PagerDutySink;
    use sparky::sinks::statuspage::StatuspageSink;
    use sparky::store::Store;

    fn row(number: i64) -> Attempt {
        Attempt::numbered("k", number)
    }

    /// One attempt of `action`, as the worker makes it.
    async fn deliver(sink: &dyn Sink, action: impl Into<Action>, at: &Attempt) -> Result<Delivered, DeliveryError> {
        attempt(sink, &action.into(), at).await
    }

    #[tokio::test]
    async fn the_pagerduty_sink_conforms() {
        common::crypto();
        let pd = FakePagerDuty::start().await;
        let cfg = PagerDutyConfig {
            routing_key: Some(Secret::new(KEY)),
            events_url: pd.events_url().parse().unwrap(),
            timeout: ConfigDuration::from_secs(5),
        };
        let sink = PagerDutySink::new(&cfg, &HttpConfig::default()).unwrap();
        let event = PagerDutyEvent {
            action: EventAction::Trigger,
            dedup_key: "check:okta-users".to_owned(),
            summary: "okta-users failing".to_owned(),
            source: "okta".to_owned(),
            severity: Severity::Warning,
            component: Some("okta-users".to_owned()),
            group: Some("okta".to_owned()),
            class: Some("synthetic-check".to_owned()),
            custom_details: json!({"assertions": ["status"]}),
            links: vec![],
        };
        pd.script([429]);
        assert!(
            matches!(deliver(&sink, event.clone(), &row(1)).await, Err(DeliveryError::Retry { retry_after: Some(d), .. }) if d == Duration::from_secs(1))
        );
        assert_eq!(deliver(&sink, event.clone(), &row(2)).await.unwrap().remote_id.as_deref(), Some("check:okta-users"));
        let resolve = PagerDutyEvent { action: EventAction::Resolve, ..event };
        deliver(&sink, resolve.clone(), &row(1)).await.unwrap();
        assert_eq!(pd.accepted().len(), 2);
        assert_eq!(pd.spec_violations(), Vec::<String>::new());
    }

    #[tokio::test]
    async fn the_statuspage_sink_conforms() {
        common::crypto();
        let sp = FakeStatuspage::start().await;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display())).await.unwrap();
        let cfg = StatuspageConfig {
            api_key: Some(Secret::new("89a229ce1a8dbcf9ff30430fbe35eb4c")),
            page_id: Some("pg1".to_owned()),
            api_url: sp.api_url().parse().unwrap(),
            ..StatuspageConfig::default()
        };
        let sink = StatuspageSink::new(&cfg, &HttpConfig::default(), store).unwrap();
        let okta = PublicComponent {
            partner: "okta".parse().unwrap(),
            name: "Okta".to_owned(),
            component_id: Some("cmp1".to_owned()),
            status: ComponentStatus::PartialOutage,
        };
        deliver(&sink, StatuspageAction::Component(okta.clone()).clone(), &row(1)).await.unwrap();
        let open = StatuspageAction::OpenIncident {
            incident: "incident:42".to_owned(),
            name: "Okta sign-in degraded".to_owned(),
            body: "Okta reports an outage.".to_owned(),
            status: IncidentStatus::Identified,
            components: vec![okta],
            impact: Some(Indicator::Major),
        };
        let id = deliver(&sink, open.clone(), &row(2)).await.unwrap().remote_id.unwrap();
        deliver(&sink, open.clone(), &row(3)).await.unwrap();
        let update = StatuspageAction::UpdateIncident {
            incident: "incident:42".to_owned(),
            body: "A fix is out.".to_owned(),
            status: IncidentStatus::Monitoring,
        };
        deliver(&sink, update.clone(), &row(1)).await.unwrap();
        let resolve = StatuspageAction::ResolveIncident { incident: "incident:42".to_owned(), body: "Recovered.".to_owned() };
        deliver(&sink, resolve.clone(), &row(1)).await.unwrap();
        let incidents = sp.incidents();
        assert_eq!(incidents.len(), 1);
        assert_eq!(incidents[0]["id"], id.as_str());
        assert_eq!(incidents[0]["impact_override"], "major", "the partner's impact is sent as Statuspage's impact_override");
        assert_eq!((incidents[0]["status"].as_str(), incidents[0]["body"].as_str()), (Some("resolved"), Some("Recovered.")));
        assert_eq!(sp.component_updates(), [("cmp1".to_owned(), "partial_outage".to_owned())]);
        assert_eq!(sp.spec_violations(), Vec::<String>::new());
    }
}
