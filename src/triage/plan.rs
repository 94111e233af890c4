//! The actions of each triage decision, rendered from the templates: pure (no I/O, no clock:
//! `now` comes in). Every action has an idempotency key naming the incident and the step, and an
//! ordering key per incident and sink (a Jira comment waits for its issue; a page never waits for
//! Jira).

use serde::Serialize;

use super::cause::{Cause, CauseKind};
use crate::config::Partner;
use crate::outbox::Action;
use crate::sinks::jira::{JiraAction, adf};
use crate::sinks::pagerduty::{EventAction, Link, PagerDutyEvent, Severity};
use crate::sinks::slack::message::{BlocksError, SlackPost, SlackUpdate, clamp_texts, human_duration, parse_blocks};
use crate::sinks::statuspage::{IncidentStatus, PublicComponent, StatuspageAction};
use crate::sources::status_pages::ComponentStatus;
use crate::sources::synthetics::Priority;
use crate::store::outbox::NewAction;
use crate::templates::{TemplateError, Templates};

/// A template failed while planning.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A template failed to render.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// The Slack template printed something that is not Block Kit.
    #[error("template slack/incident.jsonl.j2: {0}")]
    Blocks(#[from] BlocksError),
}

/// An incident as the decisions see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Incident {
    /// Row id.
    pub id: i64,
    /// Partner id.
    pub partner: String,
    /// Current cause.
    pub cause: CauseKind,
    /// Its reason.
    pub cause_reason: String,
    /// Jira priority.
    pub priority: Priority,
    /// PagerDuty dedup key: the check that opened it.
    pub dedup_key: String,
    /// A page is open.
    pub paged: bool,
    /// Our status page shows an incident.
    pub published: bool,
    /// Cause changes so far.
    pub generation: i64,
    /// Opened at (ms).
    pub opened_at: i64,
    /// Checks failing now.
    pub checks: Vec<String>,
}

/// A check that turned failing (or recovered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckChange {
    /// Check id.
    pub check: String,
    /// Its priority.
    pub priority: Priority,
    /// Why it fails (the result's message), if it does.
    pub reason: Option<String>,
    /// When (ms).
    pub at: i64,
}

/// What decisions need besides the incident.
pub struct Ctx<'a> {
    /// Templates.
    pub templates: &'a Templates,
    /// The partner.
    pub partner: &'a Partner,
    /// Its Slack channel.
    pub channel: &'a str,
    /// Now (ms).
    pub now: i64,
}

/// The actions of a decision, and the incident's flags after it.
#[derive(Debug, Default)]
pub struct Plan {
    /// Actions for the outbox.
    pub actions: Vec<NewAction>,
    /// A page is open afterwards.
    pub paged: bool,
    /// Our status page shows an incident afterwards.
    pub published: bool,
}

#[derive(Serialize)]
struct View<'a> {
    kind: &'a str,
    partner: PartnerView<'a>,
    incident: &'a Incident,
    check: &'a str,
    reason: Option<&'a str>,
    partner_incident: Option<LinkView<'a>>,
    duration: Option<String>,
    status_page: Option<String>,
}

#[derive(Serialize)]
struct PartnerView<'a> {
    id: &'a str,
    name: &'a str,
    owner_team: Option<&'a str>,
}

#[derive(Serialize)]
struct LinkView<'a> {
    name: &'a str,
    link: Option<&'a str>,
}

impl Ctx<'_> {
    fn view<'a>(
        &'a self,
        kind: &'a str,
        incident: &'a Incident,
        check: &'a str,
        reason: Option<&'a str>,
        cause: Option<&'a Cause>,
    ) -> View<'a> {
        let p = self.partner;
        View {
            kind,
            partner: PartnerView { id: p.id.as_str(), name: &p.name, owner_team: p.owner_team.as_deref() },
            incident,
            check,
            reason,
            partner_incident: cause.and_then(|c| c.partner_incident.as_ref()).map(|(name, link)| LinkView { name, link: link.as_deref() }),
            duration: Some(human_duration(std::time::Duration::from_millis(u64::try_from(self.now - incident.opened_at).unwrap_or(0)))),
            status_page: p.status_page.as_ref().map(|s| s.human_link()),
        }
    }

    fn slack(&self, view: &View<'_>, key: String, incident: &Incident, remember: bool) -> Result<NewAction, PlanError> {
        let mut blocks = parse_blocks(&self.templates.render("slack/incident.jsonl.j2", view)?)?;
        clamp_texts(&mut blocks);
        let text = self.templates.render("slack/incident.txt.j2", view)?.trim().to_owned();
        let remember_as = remember.then(|| format!("incident:{}", incident.id));
        let post = SlackPost { channel: self.channel.to_owned(), text, blocks, purpose: "incident".to_owned(), remember_as };
        Ok(action(key, incident, Action::SlackPost(post)))
    }

    fn public_component(&self, status: ComponentStatus) -> PublicComponent {
        let p = self.partner;
        PublicComponent {
            partner: p.id.to_string(),
            name: p.name.clone(),
            component_id: p.public_status.as_ref().and_then(|s| s.component_id.clone()),
            status,
        }
    }

    fn customer_message(&self, view: &View<'_>) -> Result<String, PlanError> {
        Ok(self.templates.render("statuspage/incident.txt.j2", view)?.trim().to_owned())
    }
}

fn action(key: String, incident: &Incident, action: Action) -> NewAction {
    NewAction {
        ordering_key: format!("incident:{}:{}", incident.id, action.sink()),
        idempotency_key: key,
        sink: action.sink().to_owned(),
        payload: action.to_json(),
    }
}

fn severity(priority: Priority) -> Severity {
    match priority {
        Priority::P1 => Severity::Critical,
        Priority::P2 => Severity::Error,
        Priority::P3 | Priority::P4 => Severity::Warning,
        Priority::P5 => Severity::Info,
    }
}

fn page(ctx: &Ctx<'_>, incident: &Incident, action_kind: EventAction, check: &str, reason: Option<&str>, key: String) -> NewAction {
    let summary: String =
        format!("{} failing ({}): {}. {}", check, ctx.partner.name, reason.unwrap_or("check failed"), incident.cause_reason)
            .chars()
            .take(1000)
            .collect();
    let links =
        ctx.partner.status_page.iter().map(|s| Link { href: s.human_link(), text: format!("{} status page", ctx.partner.name) }).collect();
    let event = PagerDutyEvent {
        action: action_kind,
        dedup_key: incident.dedup_key.clone(),
        summary,
        source: ctx.partner.id.to_string(),
        severity: severity(incident.priority),
        component: Some(check.to_owned()),
        group: Some(ctx.partner.id.to_string()),
        class: Some("synthetic-check".to_owned()),
        custom_details: serde_json::json!({"check": check, "partner": ctx.partner.name, "cause": incident.cause.as_str(), "cause_reason": incident.cause_reason, "failure": reason, "sparky_incident": incident.id}),
        links,
    };
    action(key, incident, Action::PagerDuty(event))
}

fn jira_comment(incident: &Incident, key: String, text: &str) -> NewAction {
    action(key, incident, Action::Jira(JiraAction::Comment { incident: format!("incident:{}", incident.id), body: adf(text) }))
}

/// A new incident for `change` with `cause`: external -> our status page (component + incident),
/// Slack, Jira labelled external, no page; internal -> page, Jira, Slack.
pub fn open(ctx: &Ctx<'_>, incident: &Incident, change: &CheckChange, cause: &Cause) -> Result<Plan, PlanError> {
    let key = |what: &str| format!("incident:{}:open:{what}", incident.id);
    let view = ctx.view("opened", incident, &change.check, change.reason.as_deref(), Some(cause));
    let mut plan = Plan::default();
    if cause.kind == CauseKind::Internal {
        plan.actions.push(page(ctx, incident, EventAction::Trigger, &change.check, change.reason.as_deref(), key("pagerduty")));
        plan.paged = true;
    } else {
        plan.actions.extend(publish(ctx, incident, cause, &view, &key("statuspage"))?);
        plan.published = true;
    }
    let description = ctx.templates.render("jira/incident.txt.j2", &view)?;
    let create = JiraAction::Create {
        incident: format!("incident:{}", incident.id),
        fingerprint: format!("sparky-incident-{}-{}", incident.partner, incident.opened_at),
        summary: format!("[Sparky] {} failing: {} ({} cause)", change.check, ctx.partner.name, cause.kind.as_str())
            .chars()
            .take(250)
            .collect(),
        description: adf(&description),
        priority: incident.priority,
        labels: vec![ctx.partner.id.to_string(), cause.kind.as_str().to_owned()],
    };
    plan.actions.push(action(key("jira"), incident, Action::Jira(create)));
    plan.actions.push(ctx.slack(&view, key("slack"), incident, true)?);
    Ok(plan)
}

fn publish(ctx: &Ctx<'_>, incident: &Incident, cause: &Cause, view: &View<'_>, key: &str) -> Result<Vec<NewAction>, PlanError> {
    let component = ctx.public_component(cause.public_status.unwrap_or(ComponentStatus::DegradedPerformance));
    let open = StatuspageAction::OpenIncident {
        incident: format!("incident:{}", incident.id),
        name: format!("{} integration degraded", ctx.partner.name),
        body: ctx.customer_message(view)?,
        status: IncidentStatus::Identified,
        components: vec![component.clone()],
    };
    Ok(vec![
        action(format!("{key}:component"), incident, Action::Statuspage(StatuspageAction::Component(component))),
        action(format!("{key}:incident"), incident, Action::Statuspage(open)),
    ])
}

/// Another check of the partner fails while its incident is open: one incident, not two; the
/// Jira issue and Slack hear of it.
pub fn attach(ctx: &Ctx<'_>, incident: &Incident, change: &CheckChange) -> Result<Vec<NewAction>, PlanError> {
    let key = |what: &str| format!("incident:{}:attach:{}:{}:{what}", incident.id, change.check, change.at);
    let view = ctx.view("check_added", incident, &change.check, change.reason.as_deref(), None);
    let text = format!("{} is failing too: {}", change.check, change.reason.as_deref().unwrap_or("check failed"));
    Ok(vec![jira_comment(incident, key("jira"), &text), ctx.slack(&view, key("slack"), incident, false)?])
}

/// One check of an incident recovered while others still fail.
pub fn check_recovered(incident: &Incident, change: &CheckChange) -> Vec<NewAction> {
    let key = format!("incident:{}:recovered:{}:{}:jira", incident.id, change.check, change.at);
    vec![jira_comment(incident, key, &format!("{} passes again; still failing: {}", change.check, incident.checks.join(", ")))]
}

/// Every check passes again: resolve the page, the Jira issue, our status page; Slack hears
/// "recovered after 23m" and the opening message is marked resolved.
pub fn resolve(ctx: &Ctx<'_>, incident: &Incident, change: &CheckChange) -> Result<Vec<NewAction>, PlanError> {
    let key = |what: &str| format!("incident:{}:resolve:{what}", incident.id);
    let view = ctx.view("recovered", incident, &change.check, None, None);
    let duration = view.duration.clone().unwrap_or_default();
    let mut actions = Vec::new();
    if incident.paged {
        actions.push(page(ctx, incident, EventAction::Resolve, &change.check, None, key("pagerduty")));
    }
    if incident.published {
        let body = ctx.customer_message(&View { kind: "resolved", ..ctx.view("recovered", incident, &change.check, None, None) })?;
        actions.push(action(
            key("statuspage:component"),
            incident,
            Action::Statuspage(StatuspageAction::Component(ctx.public_component(ComponentStatus::Operational))),
        ));
        actions.push(action(
            key("statuspage:incident"),
            incident,
            Action::Statuspage(StatuspageAction::ResolveIncident { incident: format!("incident:{}", incident.id), body }),
        ));
    }
    let comment = adf(&format!("Recovered after {duration}: every check of {} passes again.", ctx.partner.name));
    actions.push(action(
        key("jira"),
        incident,
        Action::Jira(JiraAction::Resolve { incident: format!("incident:{}", incident.id), comment }),
    ));
    actions.push(ctx.slack(&view, key("slack"), incident, false)?);
    let text = format!("Resolved: {} recovered after {duration}", ctx.partner.name);
    let update = SlackUpdate {
        message: format!("incident:{}", incident.id),
        text: text.clone(),
        blocks: vec![
            serde_json::json!({"type": "section", "text": {"type": "mrkdwn", "text": format!(":white_check_mark: {}", crate::sinks::slack::message::escape_mrkdwn(&text))}}),
        ],
    };
    actions.push(action(key("slack:update"), incident, Action::SlackUpdate(update)));
    Ok(actions)
}

/// The partner's page changed the cause while we still fail: internal -> external resolves the
/// page and tells customers; external -> internal pages on-call and updates our status page.
/// `incident` already carries the new cause and generation.
pub fn recause(ctx: &Ctx<'_>, incident: &Incident, cause: &Cause, check: &str) -> Result<Plan, PlanError> {
    let key = |what: &str| format!("incident:{}:cause{}:{what}", incident.id, incident.generation);
    let view = ctx.view("cause_changed", incident, check, None, Some(cause));
    let mut plan = Plan { actions: Vec::new(), paged: incident.paged, published: incident.published };
    match cause.kind {
        CauseKind::External => {
            if incident.paged {
                plan.actions.push(page(ctx, incident, EventAction::Resolve, check, None, key("pagerduty")));
                plan.paged = false;
            }
            if !incident.published {
                plan.actions.extend(publish(
                    ctx,
                    incident,
                    cause,
                    &ctx.view("opened", incident, check, None, Some(cause)),
                    &key("statuspage"),
                )?);
                plan.published = true;
            }
        }
        CauseKind::Internal => {
            if !incident.paged {
                plan.actions.push(page(ctx, incident, EventAction::Trigger, check, None, key("pagerduty")));
                plan.paged = true;
            }
            if incident.published {
                let body = ctx.customer_message(&view)?;
                let update = StatuspageAction::UpdateIncident {
                    incident: format!("incident:{}", incident.id),
                    body,
                    status: IncidentStatus::Investigating,
                };
                plan.actions.push(action(key("statuspage:incident"), incident, Action::Statuspage(update)));
            }
        }
    }
    plan.actions.push(jira_comment(incident, key("jira"), &format!("Cause changed to {}: {}", cause.kind.as_str(), cause.reason)));
    plan.actions.push(ctx.slack(&view, key("slack"), incident, false)?);
    Ok(plan)
}

#[cfg(test)]
mod tests;
