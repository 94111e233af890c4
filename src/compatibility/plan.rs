//! Pure decisions of a compatibility run: its dispatch ([`dispatch`]), and what one poll's
//! observation changes and sends ([`next`]): the run's stored state, the Slack outcome, the P2
//! (opened on a failure, commented on by a later failure, resolved by a later success), one
//! re-run of a cancelled or timed out run.

use std::time::Duration;

use sha2::{Digest, Sha256};

use super::message::{self, Kind};
use crate::config::{CompatConfig, GitHubConfig, Partner, TeamConfig};
use crate::model::{GitHubRun, P2State, Priority, RunConclusion, RunState, Timestamp};
use crate::outbox::Action;
use crate::outbox::github::{DispatchInputs, GitHubAction};
use crate::outbox::jira::{JiraAction, Owner, adf};
use crate::outbox::slack::RenderError;
use crate::sources::compat::follow::Observation;
use crate::store::compat::Detection;
use crate::store::compat_runs::{CompatRun, RunUpdate};
use crate::store::outbox::NewAction;
use crate::templates::Templates;

/// What a decision reads besides the run: the partner, its `[compat]`, its owner team's
/// `[teams.NAME]`, its Slack channel, `[github]` and the detection.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The partner.
    pub partner: &'a Partner,
    /// Its `[compat]`.
    pub compat: &'a CompatConfig,
    /// Its owner team's table, when `sparky.toml` has one.
    pub team: Option<&'a TeamConfig>,
    /// Its Slack channel.
    pub channel: &'a str,
    /// `[github]`: poll backoff and the follow timeout.
    pub github: &'a GitHubConfig,
    /// The detection the run tests.
    pub detection: &'a Detection,
}

/// What one poll decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The run's new stored state.
    pub update: RunUpdate,
    /// The actions to write with it.
    pub actions: Vec<NewAction>,
    /// The detection's new P2 state and incident key, when it changes.
    pub p2: Option<(P2State, String)>,
}

/// The `sparky_run_key` of dispatch `n` (from 1) of `detection`: the partner, the detection and
/// the dispatch, and 8 hex digits of the version and detection time, so a key never repeats
/// after the database is reset. Also a Jira label (no spaces).
pub fn run_key(detection: &Detection, n: i64) -> String {
    let digest = Sha256::digest(format!("{}\n{}\n{}", detection.partner_id, detection.version, detection.detected_at.as_millis()));
    format!("sparky-{}-{}-{n}-{}", detection.partner_id, detection.id, &hex::encode(digest)[..8])
}

/// The dispatch action of run `run_key` of `ctx.detection`, requested at `now`.
pub fn dispatch(ctx: &Context<'_>, run_key: &str, now: Timestamp) -> NewAction {
    let inputs = DispatchInputs {
        partner: ctx.partner.id.to_string(),
        api_version: ctx.detection.version.clone(),
        changelog_url: ctx.detection.first_entry_link.clone().unwrap_or_default(),
        sparky_run_key: run_key.to_owned(),
    };
    let action = GitHubAction::Dispatch {
        repository: ctx.compat.repository.clone(),
        workflow: ctx.compat.workflow.clone(),
        git_ref: ctx.compat.git_ref.clone(),
        inputs,
        requested_at: now,
    };
    Action::GitHub(action).queued(format!("compat:{run_key}:dispatch"), format!("compat:{run_key}"))
}

/// The wait before poll `polls + 1`: `poll_min`, doubled each poll, at most `poll_max`.
pub fn poll_delay(github: &GitHubConfig, polls: i64) -> Duration {
    let doubled = github.poll_min.get().saturating_mul(1u32 << polls.clamp(0, 16));
    doubled.min(github.poll_max.get())
}

/// What `seen` (one poll of `run`, at `now`) changes and sends.
///
/// # Errors
/// A message template failed.
pub fn next(templates: &Templates, ctx: &Context<'_>, run: &CompatRun, seen: &Observation, now: Timestamp) -> Result<Step, RenderError> {
    let mut update = RunUpdate::from_run(run);
    update.next_poll_at = now + poll_delay(ctx.github, run.polls);
    update.last_error = None;
    let step = |update: RunUpdate| Step { update, actions: Vec::new(), p2: None };
    // Followed since its latest attempt started (a re-run restarts the clock), else its dispatch.
    let overdue = |u: &RunUpdate| now.since(u.started_at.unwrap_or(run.requested_at)) > ctx.github.follow_timeout.get();
    let github = match seen {
        Observation::Failed(e) => {
            update.last_error = Some(e.0.clone());
            return if overdue(&update) { lost(templates, ctx, run, update) } else { Ok(step(update)) };
        }
        Observation::NotFound => return if overdue(&update) { lost(templates, ctx, run, update) } else { Ok(step(update)) },
        Observation::Run { run: github, failed_jobs } => {
            observed(&mut update, github);
            update.failed_jobs = failed_jobs.clone();
            github
        }
    };
    // A completed attempt already decided (its re-run not started yet) waits like a queued one.
    if update.state != RunState::Completed || github.attempt <= run.decided_attempt {
        update.state = if update.state == RunState::Completed { RunState::Queued } else { update.state };
        return if overdue(&update) { lost(templates, ctx, run, update) } else { Ok(step(update)) };
    }
    update.decided_attempt = github.attempt;
    let conclusion = github.conclusion.as_deref().and_then(|c| c.parse::<RunConclusion>().ok());
    match conclusion {
        Some(RunConclusion::Success) => compatible(templates, ctx, run, update),
        Some(c) if c.is_failure() => incompatible(templates, ctx, run, update),
        Some(c) if c.is_rerunnable() && run.reruns == 0 => Ok(rerun(ctx, run, update, github)),
        _ => outcome(templates, ctx, run, update, Kind::Inconclusive),
    }
}

/// The run's fields as GitHub gives them.
fn observed(update: &mut RunUpdate, github: &GitHubRun) {
    update.state = RunState::from_github(&github.status);
    update.run_id = Some(github.id);
    update.html_url = github.html_url.clone().or(update.html_url.take());
    update.attempt = github.attempt;
    update.started_at = github.started_at.or(update.started_at);
    update.conclusion = github.conclusion.clone();
    update.completed_at = (update.state == RunState::Completed).then_some(github.updated_at).flatten();
}

fn lost(templates: &Templates, ctx: &Context<'_>, run: &CompatRun, mut update: RunUpdate) -> Result<Step, RenderError> {
    update.state = RunState::Lost;
    let post = message::slack(templates, ctx, &update, Kind::Lost, false)?;
    let key = format!("compat:{}:lost", run.run_key);
    Ok(Step { update, actions: vec![Action::SlackPost(post).queued(key.clone(), key)], p2: None })
}

fn rerun(ctx: &Context<'_>, run: &CompatRun, mut update: RunUpdate, github: &GitHubRun) -> Step {
    update.state = RunState::Queued;
    update.reruns += 1;
    let action = GitHubAction::Rerun {
        repository: ctx.compat.repository.clone(),
        run_key: run.run_key.clone(),
        run_id: github.id,
        attempt: github.attempt,
    };
    let key = format!("compat:{}:rerun:{}", run.run_key, github.attempt);
    Step { update, actions: vec![Action::GitHub(action).queued(key, format!("compat:{}", run.run_key))], p2: None }
}

/// The Slack outcome of a completed attempt, alone.
fn outcome(templates: &Templates, ctx: &Context<'_>, run: &CompatRun, update: RunUpdate, kind: Kind) -> Result<Step, RenderError> {
    let post = message::slack(templates, ctx, &update, kind, kind == Kind::CompatibleAgain)?;
    let key = format!("compat:{}:{}:slack", run.run_key, update.attempt);
    Ok(Step { update, actions: vec![Action::SlackPost(post).queued(key.clone(), key)], p2: None })
}

fn compatible(templates: &Templates, ctx: &Context<'_>, run: &CompatRun, update: RunUpdate) -> Result<Step, RenderError> {
    let open = open_p2(ctx.detection);
    let kind = if open.is_some() { Kind::CompatibleAgain } else { Kind::Compatible };
    let mut step = outcome(templates, ctx, run, update, kind)?;
    if let Some(incident) = open {
        let comment = adf(&message::jira_text(templates, ctx, &step.update, Kind::CompatibleAgain)?);
        let resolve = JiraAction::Resolve { incident: incident.to_owned(), comment };
        let key = format!("compat:{}:{}:p2-resolve", run.run_key, step.update.attempt);
        step.actions.push(Action::Jira(resolve).queued(key, format!("compat:p2:{incident}")));
        step.p2 = Some((P2State::Resolved, incident.to_owned()));
    }
    Ok(step)
}

fn incompatible(templates: &Templates, ctx: &Context<'_>, run: &CompatRun, update: RunUpdate) -> Result<Step, RenderError> {
    let text = message::jira_text(templates, ctx, &update, Kind::Incompatible)?;
    let (jira, key, incident, opens) = match open_p2(ctx.detection) {
        Some(incident) => {
            let comment = JiraAction::Comment { incident: incident.to_owned(), body: adf(&text) };
            (comment, format!("compat:{}:{}:p2-comment", run.run_key, update.attempt), incident.to_owned(), false)
        }
        None => {
            let incident = format!("compat:{}", run.run_key);
            let create = JiraAction::Create {
                incident: incident.clone(),
                fingerprint: run.run_key.clone(),
                summary: message::summary(ctx),
                description: adf(&text),
                priority: Priority::P2,
                labels: vec!["compat".to_owned(), ctx.partner.id.to_string()],
                owner: owner(ctx.team),
            };
            (create, format!("compat:{}:p2", run.run_key), incident, true)
        }
    };
    let post = message::slack(templates, ctx, &update, Kind::Incompatible, opens)?;
    let slack_key = format!("compat:{}:{}:slack", run.run_key, update.attempt);
    let actions =
        vec![Action::SlackPost(post).queued(slack_key.clone(), slack_key), Action::Jira(jira).queued(key, format!("compat:p2:{incident}"))];
    Ok(Step { update, actions, p2: opens.then_some((P2State::Open, incident)) })
}

/// The detection's open P2, if any.
fn open_p2(detection: &Detection) -> Option<&str> {
    match detection.p2 {
        Some(P2State::Open) => detection.p2_incident.as_deref(),
        _ => None,
    }
}

/// The owner fields of `team`'s P2.
fn owner(team: Option<&TeamConfig>) -> Owner {
    let Some(team) = team else { return Owner::default() };
    let fields = team.jira_fields.iter().filter_map(|(k, v)| Some((k.clone(), serde_json::to_value(v).ok()?))).collect();
    Owner { assignee: team.jira_assignee.clone(), components: team.jira_components.clone(), fields }
}

#[cfg(test)]
mod tests;
