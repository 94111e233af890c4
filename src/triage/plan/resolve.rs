//! The end of an incident: every check passes again. The recovery names every check the incident
//! had, says whether (and how long) on-call was paged, and the opening Slack message keeps its
//! content under a resolved banner.

use std::time::Duration;

use super::{Action, CheckChange, Ctx, PlanError, View, action, page};
use crate::model::{ActionState, CheckId, ComponentStatus, Incident, Timestamp, human_duration};
use crate::outbox::jira::{JiraAction, adf};
use crate::outbox::pagerduty::EventAction;
use crate::outbox::slack::{SlackPost, SlackUpdate};
use crate::outbox::statuspage::StatuspageAction;
use crate::store::outbox::{ActionRow, NewAction};
use crate::templates::escape_mrkdwn;

/// What an incident did over its life, read from the store when it resolves.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recap {
    /// Every check that failed during it, in the order they failed.
    pub checks: Vec<CheckId>,
    /// The PagerDuty events sent or on their way (not dead), oldest first: what and when.
    pub pages: Vec<(EventAction, Timestamp)>,
    /// The opening Slack message as it was queued (none when retention pruned it).
    pub original: Option<SlackPost>,
}

impl Recap {
    /// Reads the recap from the incident's PagerDuty chain (`incident:ID:pagerduty`) and Slack
    /// chain (`incident:ID:slack`): a dead or blocked page never reached on-call.
    pub fn from_chains(incident: &Incident, checks: Vec<CheckId>, pagerduty: &[ActionRow], slack: &[ActionRow]) -> Self {
        let pages = pagerduty
            .iter()
            .filter(|r| !matches!(r.state, ActionState::Dead | ActionState::Blocked))
            .filter_map(|r| match serde_json::from_str::<Action>(&r.payload) {
                Ok(Action::PagerDuty(event)) => Some((event.action, r.created_at)),
                _ => None,
            })
            .collect();
        let opening = format!("incident:{}:open:slack", incident.id);
        let original = slack.iter().find(|r| r.idempotency_key == opening).and_then(|r| match serde_json::from_str(&r.payload) {
            Ok(Action::SlackPost(post)) => Some(post),
            _ => None,
        });
        Self { checks, pages, original }
    }

    /// `paged on-call once, for 1h 3m`, `paged on-call 2 times, for 25m in all`, or `not paged`.
    pub fn paging(&self, now: Timestamp) -> String {
        let (mut triggers, mut total, mut since) = (0, Duration::ZERO, None::<Timestamp>);
        for (what, at) in &self.pages {
            match what {
                EventAction::Trigger => {
                    // A second trigger while paged adds to the same alert (same dedup key).
                    if since.is_none() {
                        triggers += 1;
                        since = Some(*at);
                    }
                }
                EventAction::Resolve => {
                    if let Some(start) = since.take() {
                        total += at.since(start);
                    }
                }
                EventAction::Acknowledge => {}
            }
        }
        if let Some(start) = since {
            total += now.since(start);
        }
        match triggers {
            0 => "not paged".to_owned(),
            1 => format!("paged on-call once, for {}", human_duration(total)),
            n => format!("paged on-call {n} times, for {} in all", human_duration(total)),
        }
    }
}

/// Every check passes again: resolve the page, the Jira issue, our status page; Slack hears
/// "recovered after 23m" with every check and the paging, and the opening message gets a
/// resolved banner above its original content.
pub fn resolve(ctx: &Ctx<'_>, incident: &Incident, change: &CheckChange, recap: &Recap) -> Result<Vec<NewAction>, PlanError> {
    let key = |what: &str| format!("incident:{}:resolve:{what}", incident.id);
    let all =
        Incident { checks: if recap.checks.is_empty() { vec![change.check.clone()] } else { recap.checks.clone() }, ..incident.clone() };
    let paging = recap.paging(ctx.now);
    let view = View { paged: Some(paging.clone()), ..ctx.view("recovered", &all, change.check.as_str(), None, None) };
    let duration = view.duration.clone().unwrap_or_default();
    let checks = all.checks.iter().map(CheckId::as_str).collect::<Vec<_>>().join(", ");
    let mut actions = Vec::new();
    if incident.paged {
        actions.push(page(ctx, incident, EventAction::Resolve, change.check.as_str(), None, key("pagerduty")));
    }
    if incident.published {
        let body = ctx.customer_message(&View { kind: "resolved", ..ctx.view("recovered", &all, change.check.as_str(), None, None) })?;
        let component = ctx.public_component(ComponentStatus::Operational);
        actions.push(action(key("statuspage:component"), incident, Action::Statuspage(StatuspageAction::Component(component))));
        let resolve = StatuspageAction::ResolveIncident { incident: incident.key(), body };
        actions.push(action(key("statuspage:incident"), incident, Action::Statuspage(resolve)));
    }
    let comment = adf(&format!("Recovered after {duration}: every check of {} passes again ({checks}); {paging}.", ctx.partner.name));
    actions.push(action(key("jira"), incident, Action::Jira(JiraAction::Resolve { incident: incident.key(), comment })));
    actions.push(ctx.slack(&view, key("slack"), incident, false)?);
    actions.push(action(key("slack:update"), incident, Action::SlackUpdate(banner(ctx, incident, recap, &duration, &paging))));
    Ok(actions)
}

/// The opening message, edited: a resolved banner, then what it said when it opened.
fn banner(ctx: &Ctx<'_>, incident: &Incident, recap: &Recap, duration: &str, paging: &str) -> SlackUpdate {
    let text = format!("Resolved: {} recovered after {duration}; {paging}", ctx.partner.name);
    let mut blocks = vec![
        serde_json::json!({"type": "section", "text": {"type": "mrkdwn", "text": format!(":white_check_mark: *{}*", escape_mrkdwn(&text))}}),
    ];
    let original_text = match &recap.original {
        Some(post) => {
            blocks.push(serde_json::json!({"type": "divider"}));
            blocks.extend(post.blocks.iter().cloned());
            format!("{text} (was: {})", post.text)
        }
        None => text,
    };
    SlackUpdate { message: incident.key(), text: original_text, blocks }
}
