//! The actions of each triage decision, rendered from the templates: pure (no I/O, no clock:
//! `now` comes in). Every action has an idempotency key naming the incident and the step, and an
//! ordering key per incident and sink (a Jira comment waits for its issue; a page never waits for
//! Jira).

use serde::Serialize;

use super::cause::{Public, Verdict};
use super::silence::Hold;
use crate::config::Partner;
use crate::model::{Cause, CheckId, ComponentStatus, Held, Incident, Indicator, Priority, Timestamp, human_duration};
use crate::outbox::Action;
use crate::outbox::jira::{JiraAction, adf};
use crate::outbox::pagerduty::{EventAction, Link, PagerDutyEvent, Severity};
use crate::outbox::slack::{INCIDENT, Purpose, RenderError, SlackPost};
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
    /// The silence holding this decision's page or public status update, if one covers the
    /// incident's checks (see [`super::silence::covering`]).
    pub hold: Option<Hold>,
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
    /// What a silence holds back afterwards.
    pub held: Held,
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
    /// The partner is in planned maintenance (customers read "maintenance", not "problems").
    maintenance: bool,
    /// Since when the partner's page cannot be read (RFC 3339), for `status_unknown`.
    since: Option<String>,
    /// The silence holding the page or public update back, if one does.
    silence: Option<SilenceView>,
    /// For `recovered`: `paged on-call once, for 1h 3m` or `not paged` (see [`Recap::paging`]).
    paged: Option<String>,
}

/// `silence` of a view: `held` (`page held` or `public status update held`, by the incident's
/// cause), `text` (`silenced by NAME until T: REASON`), and its parts (`until` RFC 3339 UTC).
#[derive(Serialize)]
struct SilenceView {
    by: String,
    until: String,
    reason: String,
    held: &'static str,
    text: String,
}

/// What a hold holds back for an incident of `cause`.
fn held_for(cause: Cause) -> Held {
    Held { page: cause == Cause::Internal, public: cause == Cause::External }
}

impl SilenceView {
    /// The view of `ctx.hold` when it holds `held` back, else none.
    fn of(ctx: &Ctx<'_>, held: Held) -> Option<Self> {
        let h = ctx.hold.as_ref().filter(|_| held.any())?;
        Some(Self {
            by: h.by.clone(),
            until: h.until.to_rfc3339_seconds(),
            reason: h.reason.clone(),
            held: held.describe(),
            text: h.text(),
        })
    }
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
            maintenance: cause.and_then(|c| c.public).is_some_and(|p| p.maintenance),
            since: None,
            silence: None,
            paged: None,
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

/// The Jira summary of an incident: it follows the current cause.
fn jira_summary(ctx: &Ctx<'_>, check: &str, cause: Cause) -> String {
    format!("[Sparky] {check} failing: {} ({} cause)", ctx.partner.name, cause.as_str()).chars().take(250).collect()
}

/// A new incident for `change` with `cause`: external -> our status page (component + incident),
/// Slack, Jira labelled external, no page; internal -> page, Jira, Slack. Under a silence
/// (`ctx.hold`) the page or the status page is held instead, and Slack and Jira say so.
pub fn open(ctx: &Ctx<'_>, incident: &Incident, change: &CheckChange, cause: &Verdict) -> Result<Plan, PlanError> {
    let key = |what: &str| format!("incident:{}:open:{what}", incident.id);
    let mut view = ctx.view("opened", incident, change.check.as_str(), change.reason.as_deref(), Some(cause));
    let mut plan = Plan::default();
    if ctx.hold.is_some() {
        plan.held = held_for(cause.cause);
        view.silence = SilenceView::of(ctx, plan.held);
    } else if cause.cause == Cause::Internal {
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
        summary: jira_summary(ctx, change.check.as_str(), cause.cause),
        description: adf(&description),
        priority: incident.priority,
        labels: vec![ctx.partner.id.to_string(), cause.cause.as_str().to_owned()],
        owner: Default::default(),
    };
    plan.actions.push(action(key("jira"), incident, Action::Jira(create)));
    plan.actions.push(ctx.slack(&view, key("slack"), incident, true)?);
    Ok(plan)
}

/// Our public incident mirrors the partner's words: its impact, and a maintenance is called one.
fn publish(ctx: &Ctx<'_>, incident: &Incident, cause: &Verdict, view: &View<'_>, key: &str) -> Result<Vec<NewAction>, PlanError> {
    let public =
        cause.public.unwrap_or(Public { component: ComponentStatus::DegradedPerformance, impact: Indicator::Minor, maintenance: false });
    let component = ctx.public_component(public.component);
    let name = if public.maintenance {
        format!("{} integration: planned maintenance at {}", ctx.partner.name, ctx.partner.name)
    } else {
        format!("{} integration degraded", ctx.partner.name)
    };
    let open = StatuspageAction::OpenIncident {
        incident: incident.key(),
        name,
        body: ctx.customer_message(view)?,
        status: IncidentStatus::Identified,
        components: vec![component.clone()],
        impact: Some(public.impact),
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
    let view = View {
        silence: SilenceView::of(ctx, incident.held),
        ..ctx.view("check_added", incident, change.check.as_str(), change.reason.as_deref(), None)
    };
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

/// The partner's page changed the cause while we still fail: internal -> external resolves the
/// page and tells customers; external -> internal pages on-call (with `failure`, the check's
/// latest failure) and updates our status page. The Jira issue's summary and cause label follow.
/// `incident` already carries the new cause and generation. Under a silence (`ctx.hold`) the new
/// page or the new public incident is held instead (a resolve, an update of a public incident
/// already open, still goes out); what the old cause held is no longer owed.
pub fn recause(ctx: &Ctx<'_>, incident: &Incident, cause: &Verdict, check: &str, failure: Option<&str>) -> Result<Plan, PlanError> {
    let key = |what: &str| format!("incident:{}:cause{}:{what}", incident.id, incident.generation);
    let mut view = ctx.view("cause_changed", incident, check, failure, Some(cause));
    let mut plan = Plan { actions: Vec::new(), paged: incident.paged, published: incident.published, held: Held::default() };
    let held = ctx.hold.is_some();
    match cause.cause {
        Cause::External => {
            if incident.paged {
                plan.actions.push(page(ctx, incident, EventAction::Resolve, check, None, key("pagerduty")));
                plan.paged = false;
            }
            if !incident.published && held {
                plan.held.public = true;
            } else if !incident.published {
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
            if !incident.paged && held {
                plan.held.page = true;
            } else if !incident.paged {
                plan.actions.push(page(ctx, incident, EventAction::Trigger, check, failure, key("pagerduty")));
                plan.paged = true;
            }
            if incident.published {
                let body = ctx.customer_message(&view)?;
                let update = StatuspageAction::UpdateIncident { incident: incident.key(), body, status: IncidentStatus::Investigating };
                plan.actions.push(action(key("statuspage:incident"), incident, Action::Statuspage(update)));
            }
        }
    }
    let previous = if cause.cause == Cause::External { Cause::Internal } else { Cause::External };
    let update = JiraAction::Update {
        incident: incident.key(),
        summary: jira_summary(ctx, check, cause.cause),
        add_labels: vec![cause.cause.as_str().to_owned()],
        remove_labels: vec![previous.as_str().to_owned()],
    };
    plan.actions.push(action(key("jira:update"), incident, Action::Jira(update)));
    let mut comment = format!("Cause changed to {}: {}", cause.cause.as_str(), cause.reason);
    view.silence = SilenceView::of(ctx, plan.held);
    if let Some(silence) = &view.silence {
        comment.push_str(&format!(". {}: {}", capitalized(silence.held), silence.text));
    }
    plan.actions.push(jira_comment(incident, key("jira"), &comment));
    plan.actions.push(ctx.slack(&view, key("slack"), incident, false)?);
    Ok(plan)
}

/// The partner's page cannot be read (since `since`, `error`) while the incident is open: the
/// cause stays, and Jira and Slack (not customers) hear that the partner's status is unknown.
pub fn status_unknown(ctx: &Ctx<'_>, incident: &Incident, since: Timestamp, error: &str) -> Result<Vec<NewAction>, PlanError> {
    let key = |what: &str| format!("incident:{}:unknown:{}:{what}", incident.id, since.as_millis());
    let check = incident.checks.first().map_or(incident.dedup_key.as_str(), CheckId::as_str);
    let view = View { since: Some(since.to_rfc3339()), ..ctx.view("status_unknown", incident, check, Some(error), None) };
    let text = format!(
        "{}'s status page cannot be read since {} ({error}): partner status unknown. The cause stays {} until it can be read again.",
        ctx.partner.name,
        since.to_rfc3339(),
        incident.cause.as_str()
    );
    Ok(vec![jira_comment(incident, key("jira"), &text), ctx.slack(&view, key("slack"), incident, false)?])
}

/// PagerDuty never accepted the page of `incident` (outbox action `action_id` is dead with
/// `error`): a loud Slack alert in the partner's channel and a Jira comment, each on its own
/// chain (the incident's other messages may be the ones stuck), and the incident not paged.
pub fn page_failed(ctx: &Ctx<'_>, incident: &Incident, action_id: i64, error: &str) -> Result<Plan, PlanError> {
    let key = |what: &str| format!("incident:{}:page-failed:{action_id}:{what}", incident.id);
    let check = incident.checks.first().map_or(incident.dedup_key.as_str(), CheckId::as_str);
    let reason = format!("{error} (outbox action {action_id})");
    let view = ctx.view("page_failed", incident, check, Some(&reason), None);
    let post = INCIDENT.post(ctx.templates, &view, ctx.channel, Purpose::Incident)?;
    let text = format!("PAGE FAILED: PagerDuty never accepted the page for {check} ({error}); on-call was not paged.");
    let comment = JiraAction::Comment { incident: incident.key(), body: adf(&text) };
    let actions = vec![Action::SlackPost(post).queued(key("slack"), key("slack")), Action::Jira(comment).queued(key("jira"), key("jira"))];
    Ok(Plan { actions, paged: false, published: incident.published, held: incident.held })
}

/// The partner's page can be read again (after `status_unknown`); `reason` is what it says now.
pub fn status_readable(ctx: &Ctx<'_>, incident: &Incident, since: Timestamp, reason: &str) -> Vec<NewAction> {
    let key = format!("incident:{}:readable:{}:jira", incident.id, since.as_millis());
    let text = format!("{}'s status page can be read again: {reason}. The cause is {}.", ctx.partner.name, incident.cause.as_str());
    vec![jira_comment(incident, key, &text)]
}

/// The silence that held `incident` back is over while it still fails: the held trigger (with
/// `failure`, the check's latest) or the held public incident (in the words of `verdict`, the
/// partner's page as last read) goes out once, keyed `incident:ID:release:GENERATION:SINK`;
/// Jira and the partner's Slack channel hear "silence ended: paging on-call". `incident` is as
/// stored (its generation not yet moved on); the plan's `held` is empty.
pub fn release(ctx: &Ctx<'_>, incident: &Incident, verdict: &Verdict, failure: Option<&str>) -> Result<Plan, PlanError> {
    let key = |what: &str| format!("incident:{}:release:{}:{what}", incident.id, incident.generation);
    let check = incident.checks.first().map_or(incident.dedup_key.as_str(), CheckId::as_str);
    let mut plan = Plan { actions: Vec::new(), paged: incident.paged, published: incident.published, held: Held::default() };
    let mut said = Vec::new();
    if incident.held.page && !incident.paged {
        plan.actions.push(page(ctx, incident, EventAction::Trigger, check, failure, key("pagerduty")));
        plan.paged = true;
        said.push("paging on-call");
    }
    if incident.held.public && !incident.published {
        let view = ctx.view("opened", incident, check, None, Some(verdict));
        plan.actions.extend(publish(ctx, incident, verdict, &view, &key("statuspage"))?);
        plan.published = true;
        said.push("updating our public status page");
    }
    if said.is_empty() {
        return Ok(plan);
    }
    let line = format!("silence ended: {}", said.join(" and "));
    let failing = incident.checks.iter().map(CheckId::as_str).collect::<Vec<_>>().join(", ");
    let text = format!("{}: {line} ({failing} still failing)", ctx.partner.name);
    let comment = format!("The silence is over and {failing} still fails ({}): {line}.", failure.unwrap_or("check failed"));
    plan.actions.push(jira_comment(incident, key("jira"), &comment));
    let section = format!(
        ":bell: *{}*: {} of {} still failing.",
        escape_mrkdwn(&capitalized(&line)),
        escape_mrkdwn(&failing),
        escape_mrkdwn(&ctx.partner.name)
    );
    let post = SlackPost {
        channel: ctx.channel.to_owned(),
        text: escape_mrkdwn(&text),
        blocks: vec![serde_json::json!({"type": "section", "text": {"type": "mrkdwn", "text": section}})],
        purpose: Purpose::Incident,
        remember_as: None,
    };
    plan.actions.push(action(key("slack"), incident, Action::SlackPost(post)));
    Ok(plan)
}

/// `text` with its first letter upper-case.
fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

mod resolve;

pub use resolve::{Recap, resolve};

#[cfg(test)]
mod held_tests;
#[cfg(test)]
mod tests;
