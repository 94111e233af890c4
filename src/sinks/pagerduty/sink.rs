//! The PagerDuty Events API v2 client: `POST {events_url}/v2/enqueue`.
//!
//! Follows the official description (`createV2Event`): `routing_key` and `event_action` always;
//! `dedup_key` to correlate trigger, acknowledge and resolve; `payload` (`summary`, `source`,
//! `severity` required; `component`, `group`, `class`, `custom_details` optional) and `links` for
//! a trigger only. PagerDuty answers 202 `{"status": "success", "dedup_key": ...}` and
//! deduplicates on `dedup_key`, so sending an event again after an uncertain attempt is safe:
//! no look-up is needed before a retry. The routing key never appears in errors or logs.

use serde_json::{Map, Value, json};

use crate::config::{HttpConfig, PagerDutyConfig, Secret};
use crate::outbox::pagerduty::{EventAction, PagerDutyEvent};
use crate::outbox::{Action, Attempt, Delivered, DeliveryError, Sink};
use crate::sinks::http::SinkHttp;

/// PagerDuty's limit on `payload.summary`, in characters.
const MAX_SUMMARY: usize = 1024;
/// PagerDuty's limit on `dedup_key`, in characters.
const MAX_DEDUP_KEY: usize = 255;

/// Sends events to `/v2/enqueue`.
pub struct PagerDutySink {
    http: SinkHttp,
    url: String,
    routing_key: Secret,
}

impl PagerDutySink {
    /// A sink for the routing key of `cfg` (which has one), with the discipline of `http`.
    pub fn new(cfg: &PagerDutyConfig, http: &HttpConfig) -> Result<Self, DeliveryError> {
        let Some(routing_key) = cfg.routing_key.clone() else {
            return Err(DeliveryError::permanent("PagerDuty: no routing key configured"));
        };
        let http = SinkHttp::new("PagerDuty", http, cfg.timeout.get())?;
        let url = format!("{}/v2/enqueue", cfg.events_url.as_str().trim_end_matches('/'));
        Ok(Self { http, url, routing_key })
    }

    /// Delivers one event; the remote id is the alert's `dedup_key`.
    async fn send(&self, event: &PagerDutyEvent, attempt: &Attempt) -> Result<Delivered, DeliveryError> {
        if event.dedup_key.is_empty() || event.dedup_key.chars().count() > MAX_DEDUP_KEY {
            return Err(DeliveryError::permanent(format!(
                "PagerDuty: dedup_key must have 1 to {MAX_DEDUP_KEY} characters (action {})",
                attempt.action_id
            )));
        }
        let body = event_body(event, self.routing_key.expose());
        let request = self.http.client().post(&self.url).json(&body);
        let answer = self.http.send(request).await.map_err(|e| e.redact(self.routing_key.expose()))?;
        let dedup_key = answer.json.get("dedup_key").and_then(Value::as_str).unwrap_or(&event.dedup_key).to_owned();
        tracing::info!(action = attempt.action_id, event_action = %event.action, dedup_key = %dedup_key, "PagerDuty accepted the event");
        Ok(Delivered::with_id(dedup_key))
    }
}

/// PagerDuty deduplicates on `dedup_key` itself: sending an event again is safe, so there is
/// nothing to look for.
#[async_trait::async_trait]
impl Sink for PagerDutySink {
    async fn find_earlier(&self, _: &Action, _: &Attempt) -> Result<Option<Delivered>, DeliveryError> {
        Ok(None)
    }

    async fn deliver(&self, action: &Action, attempt: &Attempt) -> Result<Delivered, DeliveryError> {
        let Action::PagerDuty(event) = action else {
            return Err(DeliveryError::permanent(format!("the PagerDuty sink cannot deliver a {} action", action.sink())));
        };
        self.send(event, attempt).await
    }
}

/// The request body of `event`.
fn event_body(event: &PagerDutyEvent, routing_key: &str) -> Value {
    let mut body = json!({
        "routing_key": routing_key,
        "event_action": event.action,
        "dedup_key": event.dedup_key,
    });
    if event.action != EventAction::Trigger {
        return body;
    }
    let mut payload = Map::new();
    payload.insert("summary".to_owned(), Value::String(truncate(&event.summary, MAX_SUMMARY)));
    payload.insert("source".to_owned(), Value::String(event.source.clone()));
    payload.insert("severity".to_owned(), json!(event.severity));
    for (key, value) in [("component", &event.component), ("group", &event.group), ("class", &event.class)] {
        if let Some(v) = value.as_ref().filter(|v| !v.is_empty()) {
            payload.insert(key.to_owned(), Value::String(v.clone()));
        }
    }
    // `custom_details` is an object in the description; anything else is wrapped in one.
    match &event.custom_details {
        Value::Null => {}
        Value::Object(m) if m.is_empty() => {}
        details @ Value::Object(_) => {
            payload.insert("custom_details".to_owned(), details.clone());
        }
        other => {
            payload.insert("custom_details".to_owned(), json!({ "details": other }));
        }
    }
    body["payload"] = Value::Object(payload);
    if !event.links.is_empty() {
        body["links"] = json!(event.links);
    }
    body
}

/// At most `max` characters, an ellipsis marking a cut.
fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}
