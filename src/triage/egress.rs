//! The "Sparky cannot reach the internet" alert: one page and one Slack message per outage of
//! our own egress, resolved when it returns. Pure.

use serde::Serialize;

use crate::model::{Timestamp, human_duration};
use crate::outbox::Action;
use crate::outbox::pagerduty::{EventAction, PagerDutyEvent, Severity};
use crate::outbox::slack::{INCIDENT, Purpose};
use crate::store::outbox::NewAction;
use crate::templates::Templates;

use super::plan::PlanError;

/// The page's dedup key: one alert, however many checks fail.
pub const DEDUP_KEY: &str = "sparky-egress";

#[derive(Serialize)]
struct View<'a> {
    kind: &'a str,
    partner: Name,
    reason: &'a str,
    duration: Option<String>,
}

#[derive(Serialize)]
struct Name {
    name: &'static str,
}

fn action(key: String, action: Action) -> NewAction {
    let ordering = format!("egress:{}", action.sink());
    action.queued(key, ordering)
}

fn slack(templates: &Templates, channel: &str, view: &View<'_>, key: String) -> Result<NewAction, PlanError> {
    Ok(action(key, Action::SlackPost(INCIDENT.post(templates, view, channel, Purpose::Egress)?)))
}

fn page(kind: EventAction, summary: String, key: String) -> NewAction {
    let event = PagerDutyEvent {
        action: kind,
        dedup_key: DEDUP_KEY.to_owned(),
        summary,
        source: "sparky".to_owned(),
        severity: Severity::Critical,
        component: Some("egress".to_owned()),
        group: Some("sparky".to_owned()),
        class: Some("egress".to_owned()),
        custom_details: serde_json::Value::Null,
        links: Vec::new(),
    };
    action(key, Action::PagerDuty(event))
}

/// Egress went down at `since`; `failures` says which canaries failed and how.
pub fn down(templates: &Templates, channel: &str, since: Timestamp, failures: &[String]) -> Result<Vec<NewAction>, PlanError> {
    let since = since.as_millis();
    let reason = failures.join("; ");
    let view = View { kind: "egress_down", partner: Name { name: "Sparky" }, reason: &reason, duration: None };
    let summary = format!("Sparky cannot reach the internet: {} canaries failed ({reason})", failures.len()).chars().take(1000).collect();
    Ok(vec![
        page(EventAction::Trigger, summary, format!("egress:{since}:pagerduty:trigger")),
        slack(templates, channel, &view, format!("egress:{since}:slack:down"))?,
    ])
}

/// Egress, down since `since`, is back at `now`.
pub fn up(templates: &Templates, channel: &str, since: Timestamp, now: Timestamp) -> Result<Vec<NewAction>, PlanError> {
    let duration = human_duration(now.since(since));
    let since = since.as_millis();
    let view = View { kind: "egress_up", partner: Name { name: "Sparky" }, reason: "", duration: Some(duration) };
    Ok(vec![
        page(EventAction::Resolve, "Sparky reaches the internet again".to_owned(), format!("egress:{since}:pagerduty:resolve")),
        slack(templates, channel, &view, format!("egress:{since}:slack:up"))?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_egress_alert_renders_and_pages_once_per_outage() {
        let templates = Templates::load(std::path::Path::new("/nonexistent")).unwrap();
        let down = down(&templates, "#ops", Timestamp::from_millis(1000), &["https://a.test/: timed out".to_owned()]).unwrap();
        assert_eq!(
            down.iter().map(|a| a.idempotency_key.as_str()).collect::<Vec<_>>(),
            vec!["egress:1000:pagerduty:trigger", "egress:1000:slack:down"]
        );
        assert!(down[1].payload.contains("Sparky cannot reach the internet"));
        let up = up(&templates, "#ops", Timestamp::from_millis(1000), Timestamp::from_millis(1000 + 5 * 60 * 1000)).unwrap();
        assert!(up[1].payload.contains("again after 5m"), "{}", up[1].payload);
    }
}
