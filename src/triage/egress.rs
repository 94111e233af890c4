//! The "Sparky cannot reach the internet" alert: one page and one Slack message per outage of
//! our own egress, resolved when it returns. Pure.

use serde::Serialize;

use crate::outbox::Action;
use crate::sinks::pagerduty::{EventAction, PagerDutyEvent, Severity};
use crate::sinks::slack::message::{SlackPost, clamp_texts, human_duration, parse_blocks};
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
    NewAction {
        ordering_key: format!("egress:{}", action.sink()),
        idempotency_key: key,
        sink: action.sink().to_owned(),
        payload: action.to_json(),
    }
}

fn slack(templates: &Templates, channel: &str, view: &View<'_>, key: String) -> Result<NewAction, PlanError> {
    let mut blocks = parse_blocks(&templates.render("slack/incident.jsonl.j2", view)?)?;
    clamp_texts(&mut blocks);
    let text = templates.render("slack/incident.txt.j2", view)?.trim().to_owned();
    Ok(action(
        key,
        Action::SlackPost(SlackPost { channel: channel.to_owned(), text, blocks, purpose: "egress".to_owned(), remember_as: None }),
    ))
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

/// Egress went down at `since` (ms); `failures` says which canaries failed and how.
pub fn down(templates: &Templates, channel: &str, since: i64, failures: &[String]) -> Result<Vec<NewAction>, PlanError> {
    let reason = failures.join("; ");
    let view = View { kind: "egress_down", partner: Name { name: "Sparky" }, reason: &reason, duration: None };
    let summary = format!("Sparky cannot reach the internet: {} canaries failed ({reason})", failures.len()).chars().take(1000).collect();
    Ok(vec![
        page(EventAction::Trigger, summary, format!("egress:{since}:pagerduty:trigger")),
        slack(templates, channel, &view, format!("egress:{since}:slack:down"))?,
    ])
}

/// Egress, down since `since` (ms), is back at `now` (ms).
pub fn up(templates: &Templates, channel: &str, since: i64, now: i64) -> Result<Vec<NewAction>, PlanError> {
    let duration = human_duration(std::time::Duration::from_millis(u64::try_from(now - since).unwrap_or(0)));
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
        let down = down(&templates, "#ops", 1000, &["https://a.test/: timed out".to_owned()]).unwrap();
        assert_eq!(
            down.iter().map(|a| a.idempotency_key.as_str()).collect::<Vec<_>>(),
            vec!["egress:1000:pagerduty:trigger", "egress:1000:slack:down"]
        );
        assert!(down[1].payload.contains("Sparky cannot reach the internet"));
        let up = up(&templates, "#ops", 1000, 1000 + 5 * 60 * 1000).unwrap();
        assert!(up[1].payload.contains("again after 5m"), "{}", up[1].payload);
    }
}
