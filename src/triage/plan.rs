//! The actions of each triage decision, rendered from the templates: pure (no I/O, no clock:
//! `now` comes in). Every action has an idempotency key naming the incident and the step, and an
//! ordering key per incident and sink (a Jira comment waits for its issue; a page never waits for
//! Jira).

use serde::Serialize;

use super::cause::Verdict;
use crate::config::Partner;
use crate::model::{Cause, CheckId, ComponentStatus, Incident, Priority, Timestamp, human_duration};
use crate::outbox::Action;
use crate::outbox::jira::{JiraAction, adf};
use crate::outbox::pagerduty::{EventAction, Link, PagerDutyEvent, Severity};
use crate::outbox::slack::{INCIDENT, Purpose, RenderError, SlackUpdate};
use crate::outbox::statuspage::{IncidentStatus, PublicComponent, StatuspageAction};
use crate::store::outbox::NewAction;
use crate::templates::{TemplateError, Templates, escape_mrkdwn};

/// A template failed while planning.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A Slack message's templates failed.
    #[error(transparent)]
    Slack(#[from] RenderError),
    /// Another template failed to render.
    #[error(transparent)]
    Template(#[from] TemplateError),
}

/// A check that turned failing (or recovered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckChange {
    /// Check id.
    pub check: CheckId,
    /// Its priority.
    pub priority: Priority,
    /// Why it fails (the result's message), if it does.
    pub reason: Option<String>,
    /// When.
    pub at: Timestamp,
}

/// What decisions need besides the incident.
pub struct Ctx<'a> {
    /// Templates.
    pub templates: &'a Templates,
    /// The partner.
    pub partner: &'a Partner,
    /// Its Slack channel.
    pub channel: &'a str,
    /// Now.
    pub now: Timestamp,
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
        cause: Option<&'a Verdict>,
    ) -> View<'a> {
        let p = self.partner;
        View {
            kind,
            partner: PartnerView { id: p.id.as_str(), name: &p.name, owner_team: p.owner_team.as_deref() },
            incident,
            check,
            reason,
            partner_incident: cause.and_then(|c| c.partner_incident.as_ref()).map(|(name, link)| LinkView { name, link: link.as_deref() }),
            duration: Some(human_duration(self.now.since(incident.opened_at))),
            status_page: p.status_page.as_ref().map(|s| s.human_link()),
        }
    }

    fn slack(&self, view: &View<'_>, key: String, incident: &Incident, remember: bool) -> Result<NewAction, PlanError> {
        let mut post = INCIDENT.post(self.templates, view, self.channel, Purpose::Incident)?;
        post.remember_as = remember.then(|| incident.key());
        Ok(action(key, incident, Action::SlackPost(post)))
    }

    fn public_component(&self, status: ComponentStatus) -> PublicComponent {
        let p = self.partner;
        PublicComponent {
            partner: p.id.clone(),
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
    let ordering = format!("{}:{}", incident.key(), action.sink());
    action.queued(key, ordering)
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
        severity: Severity::of(incident.priority),
        component: Some(check.to_owned()),
        group: Some(ctx.partner.id.to_string()),
        class: Some("synthetic-check".to_owned()),
        custom_details: serde_json::json!({"check": check, "partner": ctx.partner.name, "cause": incident.cause.as_str(), "cause_reason": incident.cause_reason, "failure": reason, "sparky_incident": incident.id}),
        links,
    };
    action(key, incident, Action::PagerDuty(event))
}

fn jira_comment(incident: &Incident, key: String, text: &str) -> NewAction {
    action(key, incident, Action::Jira(JiraAction::Comment { incident: incident.key(), body: adf(text) }))
}

/// A new incident for `change` with `cause`: external -> our status page (component + incident),
/// Slack, Jira labelled external, no page; internal -> page, Jira, Slack.
pub fn open(ctx: &Ctx<'_>, incident: &Incident, change: &CheckChange, cause: &Verdict) -> Result<Plan, PlanError> {
    let key = |what: &str| format!("incident:{}:open:{what}", incident.id);
    let view = ctx.view("opened", incident, change.check.as_str(), change.reason.as_deref(), Some(cause));
    let mut plan = Plan::default();
    if cause.cause == Cause::Internal {
        plan.actions.push(page(ctx, incident, EventAction::Trigger, change.check.as_str(), change.reason.as_deref(), key("pagerduty")));
        plan.paged = true;
    } else {
        plan.actions.extend(publish(ctx, incident, cause, &view, &key("statuspage"))?);
        plan.published = true;
    }
    let description = ctx.templates.render("jira/incident.txt.j2", &view)?;
    let create = JiraAction::Create {
        incident: incident.key(),
        fingerprint: format!("sparky-incident-{}-{}", incident.partner, incident.opened_at.as_millis()),
        summary: format!("[Sparky] {} failing: {} ({} cause)", change.check, ctx.partner.name, cause.cause.as_str())
            .chars()
            .take(250)
            .collect(),
        description: adf(&description),
        priority: incident.priority,
        labels: vec![ctx.partner.id.to_string(), cause.cause.as_str().to_owned()],
    };
    plan.actions.push(action(key("jira"), incident, Action::Jira(create)));
    plan.actions.push(ctx.slack(&view, key("slack"), incident, true)?);
    Ok(plan)
}

fn publish(ctx: &Ctx<'_>, incident: &Incident, cause: &Verdict, view: &View<'_>, key: &str) -> Result<Vec<NewAction>, PlanError> {
    let component = ctx.public_component(cause.public_status.unwrap_or(ComponentStatus::DegradedPerformance));
    let open = StatuspageAction::OpenIncident {
        incident: incident.key(),
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
    let view = ctx.view("check_added", incident, change.check.as_str(), change.reason.as_deref(), None);
    let text = format!("{} is failing too: {}", change.check, change.reason.as_deref().unwrap_or("check failed"));
    Ok(vec![jira_comment(incident, key("jira"), &text), ctx.slack(&view, key("slack"), incident, false)?])
}

/// One check of an incident recovered while others still fail.
pub fn check_recovered(incident: &Incident, change: &CheckChange) -> Vec<NewAction> {
    let key = format!("incident:{}:recovered:{}:{}:jira", incident.id, change.check, change.at);
    vec![jira_comment(
        incident,
        key,
        &format!(
            "{} passes again; still failing: {}",
            change.check,
            incident.checks.iter().map(CheckId::as_str).collect::<Vec<_>>().join(", ")
        ),
    )]
}

/// Every check passes again: resolve the page, the Jira issue, our status page; Slack hears
/// "recovered after 23m" and the opening message is marked resolved.
pub fn resolve(ctx: &Ctx<'_>, incident: &Incident, change: &CheckChange) -> Result<Vec<NewAction>, PlanError> {
    let key = |what: &str| format!("incident:{}:resolve:{what}", incident.id);
    let view = ctx.view("recovered", incident, change.check.as_str(), None, None);
    let duration = view.duration.clone().unwrap_or_default();
    let mut actions = Vec::new();
    if incident.paged {
        actions.push(page(ctx, incident, EventAction::Resolve, change.check.as_str(), None, key("pagerduty")));
    }
    if incident.published {
        let body =
            ctx.customer_message(&View { kind: "resolved", ..ctx.view("recovered", incident, change.check.as_str(), None, None) })?;
        actions.push(action(
            key("statuspage:component"),
            incident,
            Action::Statuspage(StatuspageAction::Component(ctx.public_component(ComponentStatus::Operational))),
        ));
        actions.push(action(
            key("statuspage:incident"),
            incident,
            Action::Statuspage(StatuspageAction::ResolveIncident { incident: incident.key(), body }),
        ));
    }
    let comment = adf(&format!("Recovered after {duration}: every check of {} passes again.", ctx.partner.name));
    actions.push(action(key("jira"), incident, Action::Jira(JiraAction::Resolve { incident: incident.key(), comment })));
    actions.push(ctx.slack(&view, key("slack"), incident, false)?);
    let text = format!("Resolved: {} recovered after {duration}", ctx.partner.name);
    let update = SlackUpdate {
        message: incident.key(),
        text: text.clone(),
        blocks: vec![
            serde_json::json!({"type": "section", "text": {"type": "mrkdwn", "text": format!(":white_check_mark: {}", escape_mrkdwn(&text))}}),
        ],
    };
    actions.push(action(key("slack:update"), incident, Action::SlackUpdate(update)));
    Ok(actions)
}

/// The partner's page changed the cause while we still fail: internal -> external resolves the
/// page and tells customers; external -> internal pages on-call and updates our status page.
/// `incident` already carries the new cause and generation.
pub fn recause(ctx: &Ctx<'_>, incident: &Incident, cause: &Verdict, check: &str) -> Result<Plan, PlanError> {
    let key = |what: &str| format!("incident:{}:cause{}:{what}", incident.id, incident.generation);
    let view = ctx.view("cause_changed", incident, check, None, Some(cause));
    let mut plan = Plan { actions: Vec::new(), paged: incident.paged, published: incident.published };
    match cause.cause {
        Cause::External => {
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
        Cause::Internal => {
            if !incident.paged {
                plan.actions.push(page(ctx, incident, EventAction::Trigger, check, None, key("pagerduty")));
                plan.paged = true;
            }
            if incident.published {
                let body = ctx.customer_message(&view)?;
                let update = StatuspageAction::UpdateIncident { incident: incident.key(), body, status: IncidentStatus::Investigating };
                plan.actions.push(action(key("statuspage:incident"), incident, Action::Statuspage(update)));
            }
        }
    }
    plan.actions.push(jira_comment(incident, key("jira"), &format!("Cause changed to {}: {}", cause.cause.as_str(), cause.reason)));
    plan.actions.push(ctx.slack(&view, key("slack"), incident, false)?);
    Ok(plan)
}

#[cfg(test)]
mod tests;
