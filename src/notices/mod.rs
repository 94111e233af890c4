//! Partner status notices: the status events the status page watcher stored (incident opened /
//! updated / resolved, maintenance scheduled / started / ended) become Slack messages for the
//! partner's channel.
//!
//! [`queue`] claims the events not yet noticed and writes their notices to the outbox in one
//! transaction. Each lifecycle step of an incident or maintenance has its own idempotency key,
//! so a page that flaps between two polls (an incident vanishing and coming back) is not posted
//! again.

pub mod warn;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::{Config, Partner, StatusPageConfig};
use crate::metrics::METRICS;
use crate::model::{EventKind, Indicator, StatusEvent, Timestamp, human_duration};
use crate::outbox::slack::{Purpose, RenderError, STATUS_NOTICE};
use crate::outbox::{Action, enqueue};
use crate::store::outbox::NewAction;
use crate::store::status::claim_unnoticed;
use crate::store::{Store, StoreError};
use crate::templates::Templates;

/// Claims every status event not yet noticed and queues the notices they deserve, atomically.
/// Returns how many notices were written. A notice that cannot be rendered is counted and
/// logged, and its event stays noticed (a bad template must not hold back the others).
pub async fn queue(store: &Store, config: &Config, templates: &Templates) -> Result<usize, StoreError> {
    let mut tx = store.pool().begin().await?;
    let events = claim_unnoticed(&mut tx, Timestamp::now()).await?;
    let mut actions = Vec::new();
    for stored in &events {
        let Some(partner) = config.partner(&stored.partner) else { continue };
        let Some(page) = &partner.status_page else { continue };
        let channel = partner.channel(&config.global.slack.channel);
        match notices(templates, partner, page, channel, std::slice::from_ref(&stored.event), stored.indicator, stored.at.to_datetime()) {
            Ok(mut rendered) => actions.append(&mut rendered),
            Err(e) => {
                METRICS.error("notices", "template");
                tracing::error!(partner = %stored.partner, error = %e, "cannot render a status notice");
            }
        }
    }
    let written = enqueue(&mut tx, &actions).await?.into_iter().flatten().count();
    tx.commit().await?;
    Ok(written)
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
/// indicator after the events; `now` dates durations ("resolved after 23m"). Pure.
pub fn notices(
    templates: &Templates,
    partner: &Partner,
    page: &StatusPageConfig,
    channel: &str,
    events: &[StatusEvent],
    indicator: Indicator,
    now: DateTime<Utc>,
) -> Result<Vec<NewAction>, RenderError> {
    events
        .iter()
        .filter_map(|event| idempotency_key(partner.id.as_str(), event).map(|key| (event, key)))
        .map(|(event, key)| {
            let view = view(partner, page, event, indicator, now);
            let post = STATUS_NOTICE.post(templates, &view, channel, Purpose::Notice)?;
            // Its own chain: a notice that keeps failing holds back no other message.
            Ok(Action::SlackPost(post).queued(key.clone(), key))
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
