//! Partner status notices: status events (incident opened / updated / resolved, maintenance
//! scheduled / started / ended) become Slack messages for the partner's channel.
//!
//! Each lifecycle step of an incident or maintenance has its own idempotency key, so a page
//! that flaps between two polls (an incident vanishing and coming back) is not posted again.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Partner;
use crate::outbox::Action;
use crate::sinks::slack::message::{BlocksError, SlackPost, clamp_texts, human_duration, parse_blocks};
use crate::sources::status_pages::history::{EventKind, StatusEvent};
use crate::sources::status_pages::{Indicator, StatusPageConfig};
use crate::store::outbox::NewAction;
use crate::templates::{TemplateError, Templates};

const BLOCKS_TEMPLATE: &str = "slack/status_notice.jsonl.j2";
const TEXT_TEMPLATE: &str = "slack/status_notice.txt.j2";

/// A notice could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum NoticeError {
    /// A template failed.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// The blocks template printed something that is not Block Kit.
    #[error("template {BLOCKS_TEMPLATE}: {0}")]
    Blocks(#[from] BlocksError),
}

#[derive(Serialize)]
struct PartnerView<'a> {
    id: &'a str,
    name: &'a str,
}

#[derive(Serialize)]
struct ItemView<'a> {
    id: &'a str,
    name: &'a str,
    impact: Option<&'a str>,
    status: Option<&'a str>,
    old_status: Option<&'a str>,
    link: Option<&'a str>,
    components: &'a [String],
    started_at: Option<String>,
}

#[derive(Serialize)]
struct NoticeView<'a> {
    kind: &'a str,
    partner: PartnerView<'a>,
    item: ItemView<'a>,
    duration: Option<String>,
    page_link: String,
    indicator: &'a str,
}

/// The notices for `events` of `partner`, ready for the outbox. `indicator` is the page
/// indicator after the events; `now` dates durations ("resolved after 23m").
pub fn notices(
    templates: &Templates,
    partner: &Partner,
    page: &StatusPageConfig,
    channel: &str,
    events: &[StatusEvent],
    indicator: Indicator,
    now: DateTime<Utc>,
) -> Result<Vec<NewAction>, NoticeError> {
    events
        .iter()
        .filter_map(|event| idempotency_key(partner.id.as_str(), event).map(|key| (event, key)))
        .map(|(event, key)| {
            let view = view(partner, page, event, indicator, now);
            let mut blocks = parse_blocks(&templates.render(BLOCKS_TEMPLATE, &view)?)?;
            clamp_texts(&mut blocks);
            let text = templates.render(TEXT_TEMPLATE, &view)?.trim().to_owned();
            let action =
                Action::SlackPost(SlackPost { channel: channel.to_owned(), text, blocks, purpose: "notice".to_owned(), remember_as: None });
            Ok(NewAction {
                idempotency_key: key,
                ordering_key: format!("slack:{channel}"),
                sink: action.sink().to_owned(),
                payload: action.to_json(),
            })
        })
        .collect()
}

/// The key of the notice an event deserves, if any: one per incident step, one per
/// maintenance step. Indicator and component changes are history, not notices.
fn idempotency_key(partner: &str, event: &StatusEvent) -> Option<String> {
    let id = &event.subject;
    let step = match event.kind {
        EventKind::IncidentOpened => format!("incident:{id}:opened"),
        EventKind::IncidentUpdated => format!("incident:{id}:status:{}", event.new.as_deref().unwrap_or_default()),
        EventKind::IncidentResolved => format!("incident:{id}:resolved"),
        EventKind::MaintenanceScheduled => format!("maintenance:{id}:scheduled"),
        EventKind::MaintenanceStarted => format!("maintenance:{id}:started"),
        EventKind::MaintenanceEnded => format!("maintenance:{id}:ended"),
        EventKind::Indicator | EventKind::Component => return None,
    };
    Some(format!("status:{partner}:{step}"))
}

fn view<'a>(
    partner: &'a Partner,
    page: &StatusPageConfig,
    event: &'a StatusEvent,
    indicator: Indicator,
    now: DateTime<Utc>,
) -> NoticeView<'a> {
    let detail = &event.detail;
    let ended = matches!(event.kind, EventKind::IncidentResolved | EventKind::MaintenanceEnded);
    let duration = detail.started_at.filter(|_| ended).and_then(|start| (now - start).to_std().ok()).map(human_duration);
    NoticeView {
        kind: event.kind.as_str(),
        partner: PartnerView { id: partner.id.as_str(), name: &partner.name },
        item: ItemView {
            id: &event.subject,
            name: detail.name.as_deref().unwrap_or(&event.subject),
            impact: detail.impact.map(Indicator::as_str),
            status: event.new.as_deref(),
            old_status: event.old.as_deref(),
            link: detail.link.as_deref(),
            components: &detail.components,
            started_at: detail.started_at.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
        },
        duration,
        page_link: page.human_link(),
        indicator: indicator.as_str(),
    }
}

#[cfg(test)]
mod tests;
