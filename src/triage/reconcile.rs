//! Reconciling incidents with the checks' stored states (at start-up, every minute, and before a
//! `once synthetics` triage): a state change whose event never reached triage (a database that
//! refused writes, an older version, a replica that died) is queued again, so an open incident
//! whose checks all pass is resolved, and a failing check with no open incident is triaged.
//! Also the lost-egress loop: while Sparky is offline, failures are not blamed; when it is back,
//! the alert is resolved and the checks that failed meanwhile are triaged.

use super::{Triage, TriageError};
use crate::model::{CheckState, Timestamp};
use crate::outbox::enqueue;
use crate::sources::connectivity::Egress;
use crate::store::StoreError;
use crate::store::incidents::{self as table, IncidentCheck, Orphan};

/// A state change to queue again for triage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requeue {
    /// The check.
    pub check: String,
    /// Its partner.
    pub partner: String,
    /// When it changed (the stored `since`, else now).
    pub at: Timestamp,
    /// Its state now.
    pub to: CheckState,
}

/// The state changes to queue again. Pure. `configured`: whether a check id is still in the
/// configuration; `egress_down`: failures are not queued while Sparky is offline (the egress
/// loop queues them when it is back).
///
/// - a check still failing in an open incident but stored healthy, or no longer configured (its
///   incident must not stay open forever), recovers;
/// - a check stored failing with no open incident is triaged as failing.
pub fn plan(
    open: &[IncidentCheck],
    orphans: &[Orphan],
    configured: impl Fn(&str) -> bool,
    egress_down: bool,
    now: Timestamp,
) -> Vec<Requeue> {
    let recovered = open.iter().filter_map(|c| {
        let gone = !configured(&c.check) || c.state.is_none();
        (gone || c.state == Some(CheckState::Healthy)).then(|| Requeue {
            check: c.check.clone(),
            partner: c.partner.clone(),
            at: if gone { now } else { c.since.unwrap_or(now) },
            to: CheckState::Healthy,
        })
    });
    let failing = orphans.iter().filter(|_| !egress_down).filter(|o| configured(&o.check)).map(|o| Requeue {
        check: o.check.clone(),
        partner: o.partner.clone(),
        at: o.since,
        to: CheckState::Failing,
    });
    recovered.chain(failing).collect()
}

impl Triage {
    /// Queues again the state changes that [`plan`] finds; returns how many.
    pub async fn reconcile(&self) -> Result<usize, TriageError> {
        let open = table::open_incident_checks(&self.store).await?;
        let orphans = table::failing_without_incident(&self.store).await?;
        let egress_down = table::egress_down_since(&self.store).await?.is_some();
        let configured = |id: &str| self.config.checks.iter().any(|c| c.enabled && c.id.as_str() == id);
        let requeues = plan(&open, &orphans, configured, egress_down, Timestamp::now());
        if requeues.is_empty() {
            return Ok(0);
        }
        let mut tx = self.store.pool().begin().await.map_err(StoreError::from)?;
        for r in &requeues {
            table::requeue_event(&mut tx, &r.check, &r.partner, r.at, r.to).await?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        tracing::warn!(count = requeues.len(), "state changes that never reached triage queued again");
        Ok(requeues.len())
    }

    /// While egress is down: when the canaries answer again, resolves the alert and queues the
    /// checks that failed meanwhile (triaged by the next round).
    pub async fn egress_tick(&self) -> Result<(), TriageError> {
        let Some(since) = table::egress_down_since(&self.store).await? else { return Ok(()) };
        let verdict = self.connectivity.check().await;
        *self.egress.lock().await = Some((tokio::time::Instant::now(), verdict.clone()));
        if matches!(verdict, Egress::Down(_)) {
            return Ok(());
        }
        let now = Timestamp::now();
        let mut tx = self.store.pool().begin().await.map_err(StoreError::from)?;
        if table::set_egress(&mut tx, false, now).await? {
            enqueue(&mut tx, &super::egress::up(&self.templates, &self.config.global.slack.channel, since, now)?).await?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        tracing::info!("Sparky reaches the internet again; triaging the checks that failed meanwhile");
        self.reconcile().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(id: &str, state: Option<CheckState>) -> IncidentCheck {
        IncidentCheck { check: id.into(), partner: "acme".into(), state, since: Some(Timestamp::from_millis(5)) }
    }

    #[test]
    fn a_lost_recovery_resolves_and_a_lost_failure_is_triaged() {
        let open = [check("a", Some(CheckState::Healthy)), check("b", Some(CheckState::Failing)), check("gone", None)];
        let orphans = [Orphan { check: "c".into(), partner: "acme".into(), since: Timestamp::from_millis(7) }];
        let now = Timestamp::from_millis(100);
        let got: Vec<(String, i64, CheckState)> =
            plan(&open, &orphans, |id| id != "gone", false, now).into_iter().map(|r| (r.check, r.at.as_millis(), r.to)).collect();
        assert_eq!(
            got,
            vec![("a".into(), 5, CheckState::Healthy), ("gone".into(), 100, CheckState::Healthy), ("c".into(), 7, CheckState::Failing)]
        );
        assert_eq!(plan(&[], &orphans, |_| true, true, now), vec![], "no failure is blamed while Sparky is offline");
        assert_eq!(plan(&[], &orphans, |_| false, false, now), vec![], "a check no longer configured is not triaged");
    }
}
