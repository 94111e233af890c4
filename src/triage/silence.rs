//! Silences of our own side (`sparky silence`, `[[maintenance]]`): which hold an incident's page
//! or public status update ([`covering`], pure), and the round that sends what was held once the
//! silence is over with the incident still open ([`Triage::release_held`]).
//!
//! An incident is held while every one of its failing checks is covered by a silence or a
//! window in force (a partner's silence covers all its checks); a check of the partner that
//! fails uncovered releases it at the next round. A silence never stops what ends an incident
//! (a resolved page, a resolved public incident).

use serde::Serialize;

use super::plan::{self, Ctx};
use super::{Triage, TriageError};
use crate::config::{MaintenanceWindow, Partner};
use crate::metrics::METRICS;
use crate::model::{CheckId, Held, HistoryKind, Outcome, PartnerId, Silence, SilenceTarget, Timestamp};
use crate::outbox::enqueue;
use crate::store::StoreError;
use crate::store::incidents as table;
use crate::store::{silences, status};

/// What holds an incident back: who (a silence's `created_by`, a window's `name`), until when,
/// and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hold {
    /// Who silenced it.
    pub by: String,
    /// Until when (the earliest end among the checks' longest covers).
    pub until: Timestamp,
    /// Why.
    pub reason: String,
}

impl Hold {
    /// `silenced by alice until 2026-12-02T07:00:00Z: database upgrade`.
    pub fn text(&self) -> String {
        format!("silenced by {} until {}: {}", self.by, self.until.to_rfc3339_seconds(), self.reason)
    }
}

/// The hold over an incident of `partner` whose failing checks are `checks`, at `now`: `Some`
/// when each check is covered by a silence or window in force; then `until` is when the first
/// check stops being covered (each check counting its longest cover). `None` for no checks.
pub fn covering(
    silences: &[Silence],
    windows: &[MaintenanceWindow],
    partner: &PartnerId,
    checks: &[CheckId],
    now: Timestamp,
) -> Option<Hold> {
    let from_silences = silences
        .iter()
        .filter(|s| s.in_force(now))
        .map(|s| (&s.target, Hold { by: s.created_by.clone(), until: s.until(), reason: s.reason.clone() }));
    let from_windows = windows
        .iter()
        .filter_map(|w| w.in_force(now).map(|(_, end)| (&w.target, Hold { by: w.name.clone(), until: end, reason: w.reason.clone() })));
    let covers: Vec<(&SilenceTarget, Hold)> = from_silences.chain(from_windows).collect();
    let mut held: Option<Hold> = None;
    for check in checks {
        let longest = covers.iter().filter(|(target, _)| target.covers(partner, check)).map(|(_, h)| h).max_by_key(|h| h.until)?;
        if held.as_ref().is_none_or(|h| longest.until < h.until) {
            held = Some(longest.clone());
        }
    }
    held
}

/// Silences and windows in force at `now` (`sparky_silences_active`).
pub fn active(silences: &[Silence], windows: &[MaintenanceWindow], now: Timestamp) -> usize {
    silences.iter().filter(|s| s.in_force(now)).count() + windows.iter().filter(|w| w.in_force(now).is_some()).count()
}

impl Triage {
    /// The silences in force now (read once per decision).
    pub(super) async fn silences_now(&self, now: Timestamp) -> Result<Vec<Silence>, StoreError> {
        silences::in_force(&self.store, now).await
    }

    /// The hold over `checks` of `partner` now, from `silences` and the configured windows.
    pub(super) fn hold(&self, silences: &[Silence], partner: &PartnerId, checks: &[CheckId], now: Timestamp) -> Option<Hold> {
        covering(silences, &self.config.maintenance, partner, checks, now)
    }

    /// One round (every minute in the daemon, after the triage of `once synthetics` and `once
    /// status`): sets `sparky_silences_active`, then, for each open incident holding something
    /// back whose silence is over, sends what it held, once. Waits while Sparky's own egress is
    /// down (the checks may fail for that). Returns how many incidents were released.
    pub async fn release_held(&self) -> Result<usize, TriageError> {
        let now = Timestamp::now();
        let silences = self.silences_now(now).await?;
        METRICS.silences_active.set(i64::try_from(active(&silences, &self.config.maintenance, now)).unwrap_or(i64::MAX));
        let partners = table::partners_with_held(&self.store).await?;
        if partners.is_empty() {
            return Ok(0);
        }
        if table::egress_down_since(&self.store).await?.is_some() {
            tracing::warn!("Sparky has no egress: held pages wait until it is back");
            return Ok(0);
        }
        let mut released = 0;
        for id in partners {
            let Some(partner) = self.config.partner(&id) else { continue };
            if self.release(partner, &silences, now).await? {
                released += 1;
            }
        }
        if released > 0 {
            self.delivery.notify_one();
        }
        Ok(released)
    }

    /// Releases `partner`'s open incident if it holds something and nothing covers it any more.
    async fn release(&self, partner: &Partner, silences: &[Silence], now: Timestamp) -> Result<bool, TriageError> {
        let mut conn = self.store.pool().acquire().await.map_err(StoreError::from)?;
        let Some(incident) = table::open_incident(&mut conn, partner.id.as_str()).await? else { return Ok(false) };
        drop(conn);
        if !incident.held.any() || self.hold(silences, &partner.id, &incident.checks, now).is_some() {
            return Ok(false);
        }
        // What customers are told follows the partner's page as last read.
        let reading = status::snapshot_at(&self.store, partner.id.as_str(), now).await?.map(|(_, s)| s);
        let verdict = self.decide(partner, reading.as_ref());
        let check = incident.checks.first().map_or_else(|| incident.dedup_key.clone(), ToString::to_string);
        let failure = table::latest_message(&self.store, &check, Outcome::Fail).await?;
        let ctx = Ctx { now, ..self.ctx(partner) };
        let planned = plan::release(&ctx, &incident, &verdict, failure.as_deref())?;
        let mut released = incident.clone();
        (released.paged, released.published, released.held) = (planned.paged, planned.published, Held::default());
        released.generation += 1;
        let mut tx = self.store.pool().begin().await.map_err(StoreError::from)?;
        // The first statement (SQLite takes its write lock at once): only the incident read
        // above, still open and unchanged meanwhile (a hold changes only with the generation);
        // another replica that released it first leaves nothing to do.
        if !table::update(&mut tx, &released, incident.generation).await? {
            return Ok(false);
        }
        let was = incident.held.describe();
        let detail = format!("silence over with {check} still failing: {} released", was.trim_end_matches(" held"));
        table::history(&mut tx, incident.id, now, HistoryKind::Released, &detail, None).await?;
        enqueue(&mut tx, &planned.actions).await?;
        tx.commit().await.map_err(StoreError::from)?;
        tracing::info!(partner = %partner.id, incident = incident.id, held = was, "silence over: what it held goes out");
        Ok(true)
    }
}

#[cfg(test)]
mod tests;
