//! The messages of a compatibility run's outcome: the Slack notice (`slack/compat.*.j2`, through
//! the one Slack message builder) and the P2's Jira text (`jira/compat.txt.j2`), from one view.

use serde::Serialize;

use super::plan::Context;
use crate::model::human_duration;
use crate::outbox::slack::{COMPAT, Purpose, RenderError, SlackPost};
use crate::store::compat::Detection;
use crate::store::compat_runs::RunUpdate;
use crate::templates::{Templates, escape_mrkdwn, slack_link};

/// What an outcome says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The suite passed.
    Compatible,
    /// The suite passed after a failure: the P2 is resolved.
    CompatibleAgain,
    /// The suite failed.
    Incompatible,
    /// The run ended without an answer (cancelled or timed out twice, action required ...).
    Inconclusive,
    /// The run did not finish within `[github] follow_timeout`.
    Lost,
}

impl Kind {
    /// The templates' word.
    fn as_str(self) -> &'static str {
        match self {
            Self::Compatible => "compatible",
            Self::CompatibleAgain => "compatible_again",
            Self::Incompatible => "incompatible",
            Self::Inconclusive => "inconclusive",
            Self::Lost => "lost",
        }
    }
}

#[derive(Serialize)]
struct View<'a> {
    kind: &'static str,
    partner: PartnerView<'a>,
    version: &'a str,
    announced: String,
    entry: EntryView<'a>,
    run: RunView<'a>,
    failed_jobs: Vec<JobView<'a>>,
    mention: Option<&'a str>,
    p2: bool,
    follow_timeout: String,
}

#[derive(Serialize)]
struct PartnerView<'a> {
    id: &'a str,
    name: &'a str,
    owner_team: Option<&'a str>,
}

#[derive(Serialize)]
struct EntryView<'a> {
    title: &'a str,
    link: Option<&'a str>,
}

#[derive(Serialize)]
struct RunView<'a> {
    url: Option<&'a str>,
    attempt: i64,
    conclusion: &'a str,
    duration: Option<String>,
    reruns: i64,
}

#[derive(Serialize)]
struct JobView<'a> {
    name: &'a str,
    url: Option<&'a str>,
    conclusion: &'a str,
    steps: &'a [crate::model::FailedStep],
    /// One mrkdwn line: the job linked, its failed steps.
    line: String,
}

/// `Microsoft Graph beta (announced 2026-10-07): not compatible`: the P2's summary.
pub fn summary(ctx: &Context<'_>) -> String {
    format!("{} {} (announced {}): not compatible", ctx.partner.name, ctx.detection.version, announced(ctx.detection))
}

/// The Slack notice of `kind` for the run as `update` leaves it; `p2` says the notice opens or
/// resolves the P2.
///
/// # Errors
/// A template failed.
pub fn slack(templates: &Templates, ctx: &Context<'_>, update: &RunUpdate, kind: Kind, p2: bool) -> Result<SlackPost, RenderError> {
    COMPAT.post(templates, &view(ctx, update, kind, p2), ctx.channel, Purpose::Compat)
}

/// The P2's description (`Incompatible`) or resolving comment (`CompatibleAgain`), plain text.
///
/// # Errors
/// A template failed.
pub fn jira_text(templates: &Templates, ctx: &Context<'_>, update: &RunUpdate, kind: Kind) -> Result<String, RenderError> {
    Ok(templates.render("jira/compat.txt.j2", &view(ctx, update, kind, false))?)
}

fn view<'a>(ctx: &Context<'a>, update: &'a RunUpdate, kind: Kind, p2: bool) -> View<'a> {
    let detection = ctx.detection;
    let mention = ctx.partner.owner_slack.as_deref().or_else(|| ctx.team.and_then(|t| t.slack.as_deref()));
    let duration = match (update.started_at, update.completed_at) {
        (Some(start), Some(end)) => Some(human_duration(end.since(start))),
        _ => None,
    };
    View {
        kind: kind.as_str(),
        partner: PartnerView { id: ctx.partner.id.as_str(), name: &ctx.partner.name, owner_team: ctx.partner.owner_team.as_deref() },
        version: &detection.version,
        announced: announced(detection),
        entry: EntryView { title: &detection.first_entry_title, link: detection.first_entry_link.as_deref() },
        run: RunView {
            url: update.html_url.as_deref(),
            attempt: update.attempt,
            conclusion: update.conclusion.as_deref().unwrap_or("unknown"),
            duration,
            reruns: update.reruns,
        },
        failed_jobs: update.failed_jobs.iter().map(job).collect(),
        mention,
        p2,
        follow_timeout: human_duration(ctx.github.follow_timeout.get()),
    }
}

fn job(job: &crate::model::FailedJob) -> JobView<'_> {
    let steps: Vec<String> = job.steps.iter().map(|s| format!("step {} {}", s.number, escape_mrkdwn(&s.name))).collect();
    let failed = if steps.is_empty() { String::new() } else { format!(": {}", steps.join(", ")) };
    JobView {
        name: &job.name,
        url: job.url.as_deref(),
        conclusion: &job.conclusion,
        steps: &job.steps,
        line: format!("• {} ({}){failed}", slack_link(job.url.as_deref(), &job.name), escape_mrkdwn(&job.conclusion)),
    }
}

/// The day the partner announced the version: its entry's publication, else when Sparky
/// detected it; `YYYY-MM-DD` UTC.
fn announced(detection: &Detection) -> String {
    detection.first_entry_published_at.unwrap_or(detection.detected_at).to_datetime().format("%Y-%m-%d").to_string()
}
