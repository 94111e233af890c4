//! Pages that PagerDuty never accepted: a trigger whose outbox action went dead (a 400 for a
//! bad routing key, retries spent) means on-call was *not* paged while Slack said "paging
//! on-call". Each such page of an open incident gets, once, a loud Slack alert and a Jira
//! comment ([`plan::page_failed`]), a `page_failed` history entry, and the incident marked not
//! paged.

use super::plan;
use super::{Triage, TriageError};
use crate::model::{ActionState, HistoryKind, SinkKind, Timestamp};
use crate::outbox::Action;
use crate::outbox::enqueue;
use crate::outbox::pagerduty::EventAction;
use crate::store::StoreError;
use crate::store::incidents as table;
use crate::store::outbox::{self, ActionRow};

/// Dead actions looked at per round.
const DEAD_LOOKED_AT: i64 = 200;

impl Triage {
    /// Alerts about every dead page of an open incident not alerted yet; returns how many.
    pub async fn page_failures(&self) -> Result<usize, TriageError> {
        let dead = outbox::list(&self.store, &[ActionState::Dead], DEAD_LOOKED_AT).await?;
        let mut alerted = 0;
        for row in dead.iter().filter(|r| r.sink == SinkKind::PagerDuty) {
            if self.page_failed(row).await? {
                alerted += 1;
            }
        }
        if alerted > 0 {
            self.delivery.notify_one();
        }
        Ok(alerted)
    }

    /// One dead action: true when it was a page of an open incident, alerted now.
    async fn page_failed(&self, row: &ActionRow) -> Result<bool, TriageError> {
        let Ok(Action::PagerDuty(event)) = serde_json::from_str::<Action>(&row.payload) else { return Ok(false) };
        let Some(incident_id) = event.custom_details["sparky_incident"].as_i64() else { return Ok(false) };
        if event.action != EventAction::Trigger {
            return Ok(false);
        }
        let Some(partner) = self.config.partner(&event.source) else { return Ok(false) };
        let mut tx = self.store.pool().begin().await.map_err(StoreError::from)?;
        let Some(mut incident) = table::open_incident(&mut tx, partner.id.as_str()).await?.filter(|i| i.id == incident_id) else {
            return Ok(false);
        };
        let error = row.last_error.as_deref().unwrap_or("no answer");
        let ctx = plan::Ctx { now: Timestamp::now(), ..self.ctx(partner) };
        let planned = plan::page_failed(&ctx, &incident, row.id, error)?;
        // The alert's key says whether this page was alerted before.
        if enqueue(&mut tx, &planned.actions).await?.iter().all(Option::is_none) {
            return Ok(false);
        }
        let read_at = incident.generation;
        incident.paged = planned.paged;
        incident.generation += 1;
        if !table::update(&mut tx, &incident, read_at).await? {
            return Ok(false);
        }
        let detail = format!("PagerDuty never accepted the page (outbox action {}): {error}", row.id);
        table::history(&mut tx, incident.id, ctx.now, HistoryKind::PageFailed, &detail, None).await?;
        tx.commit().await.map_err(StoreError::from)?;
        tracing::error!(partner = %partner.id, incident = incident.id, action = row.id, error, "PAGE FAILED: on-call was not paged; Slack and Jira told");
        Ok(true)
    }
}
