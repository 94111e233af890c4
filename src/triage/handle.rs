//! The I/O around the decisions: one check event (failing, healthy) or one fresh reading of a
//! partner's page against its open incident, each written in one transaction that touches only
//! an incident that is still open (and, on PostgreSQL, locked for the transaction).

use sqlx::AnyConnection;

use super::cause::{self, Verdict};
use super::plan::{self, CheckChange, Ctx, Plan};
use super::recheck::{self, Next, Step};
use super::{Decision, Reading, Triage, TriageError};
use crate::config::Partner;
use crate::metrics::METRICS;
use crate::model::{CheckId, CheckState, Held, HistoryKind, Incident, Outcome, PartnerStatus, Priority, Timestamp, WarnChange};
use crate::notices::warn::{self, Warned};
use crate::outbox::enqueue;
use crate::sources::connectivity::Egress;
use crate::sources::status_pages::PollReport;
use crate::store::StoreError;
use crate::store::incidents::{self as table, CheckEvent, NewIncident};

impl Triage {
    pub(super) async fn handle(&self, event: &CheckEvent, reading: &Reading) -> Result<Decision, TriageError> {
        let Some(partner) = self.config.partner(&event.partner_id) else {
            tracing::warn!(partner = %event.partner_id, "check event of a partner no longer configured");
            return self.mark(event).await;
        };
        if let Some(change) = event.warn {
            return self.warned(event, partner, change).await;
        }
        match event.to {
            CheckState::Failing => self.failing(event, partner, reading).await,
            CheckState::Healthy => self.healthy(event, partner).await,
        }
    }

    /// A warn notice: posted to the partner's channel with the event, in one transaction. A
    /// template that fails falls back to the default (see `Templates`); one that still fails is
    /// logged and the event marked, as for status notices.
    async fn warned(&self, event: &CheckEvent, partner: &Partner, change: WarnChange) -> Result<Decision, TriageError> {
        let reason = match change {
            WarnChange::Started => table::latest_message(&self.store, &event.check_id, Outcome::Warn).await?,
            WarnChange::Cleared => None,
        };
        let ctx = self.ctx(partner);
        let warned = Warned { event: event.id, check: &event.check_id, change, at: event.at, reason: reason.as_deref() };
        let notice = match warn::notice(&self.templates, partner, ctx.channel, &warned, ctx.now) {
            Ok(notice) => vec![notice],
            Err(e) => {
                METRICS.error("triage", "template");
                tracing::error!(check = %event.check_id, error = %e, "cannot render a warn notice");
                Vec::new()
            }
        };
        let mut tx = self.store.pool().begin().await.map_err(StoreError::from)?;
        if !table::claim_event(&mut tx, event.id, ctx.now).await? {
            return Ok(Decision::Nothing);
        }
        enqueue(&mut tx, &notice).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(Decision::Warned)
    }

    async fn mark(&self, event: &CheckEvent) -> Result<Decision, TriageError> {
        let mut tx = self.store.pool().begin().await.map_err(StoreError::from)?;
        table::claim_event(&mut tx, event.id, Timestamp::now()).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(Decision::Nothing)
    }

    pub(super) fn ctx<'a>(&'a self, partner: &'a Partner) -> Ctx<'a> {
        Ctx {
            templates: &self.templates,
            partner,
            channel: partner.channel(&self.config.global.slack.channel),
            now: Timestamp::now(),
            hold: None,
        }
    }

    fn priority(&self, check: &CheckId) -> Priority {
        self.config.checks.iter().find(|c| &c.id == check).map_or(Priority::P4, |c| c.priority)
    }

    pub(super) fn decide(&self, partner: &Partner, status: Option<&PartnerStatus>) -> Verdict {
        let components = partner.status_page.as_ref().map(|s| s.components.as_slice()).unwrap_or_default();
        cause::decide(&partner.name, status, components)
    }

    /// Our own egress first: while most canaries fail, nobody is blamed.
    async fn failing(&self, event: &CheckEvent, partner: &Partner, reading: &Reading) -> Result<Decision, TriageError> {
        let (egress, status) = tokio::join!(self.egress(), self.read(partner, reading));
        if let Egress::Down(failures) = egress {
            return self.suppress(event, &failures).await;
        }
        let verdict = self.decide(partner, status?.as_ref());
        let Ok(check) = event.check_id.parse::<CheckId>() else {
            tracing::warn!(check = %event.check_id, "check event of a check id no longer valid");
            return self.mark(event).await;
        };
        let change = CheckChange {
            priority: self.priority(&check),
            check,
            reason: table::result_message(&self.store, &event.check_id, event.at).await?,
            at: event.at,
        };
        let ctx = self.ctx(partner);
        let silences = self.silences_now(ctx.now).await?;
        let mut tx = self.store.pool().begin().await.map_err(StoreError::from)?;
        if !table::claim_event(&mut tx, event.id, ctx.now).await? {
            return Ok(Decision::Nothing);
        }
        let decision = match table::open_incident(&mut tx, partner.id.as_str()).await? {
            None => {
                let ctx = Ctx { hold: self.hold(&silences, &partner.id, std::slice::from_ref(&change.check), ctx.now), ..ctx };
                open(&mut tx, &ctx, &change, &verdict).await?
            }
            Some(incident) if incident.checks.contains(&change.check) => Decision::Attached { incident: incident.id },
            Some(incident) => {
                let id = incident.id;
                let checks: Vec<CheckId> = incident.checks.iter().chain([&change.check]).cloned().collect();
                let ctx = Ctx { hold: self.hold(&silences, &partner.id, &checks, ctx.now), ..ctx };
                attach(&mut tx, &ctx, incident, &change, &verdict, self.config.global.triage.recovered_polls).await?;
                Decision::Attached { incident: id }
            }
        };
        tx.commit().await.map_err(StoreError::from)?;
        Ok(decision)
    }

    async fn healthy(&self, event: &CheckEvent, partner: &Partner) -> Result<Decision, TriageError> {
        let ctx = self.ctx(partner);
        let mut tx = self.store.pool().begin().await.map_err(StoreError::from)?;
        if !table::claim_event(&mut tx, event.id, ctx.now).await? {
            return Ok(Decision::Nothing);
        }
        let Some(mut incident) = table::open_incident(&mut tx, partner.id.as_str()).await? else {
            tx.commit().await.map_err(StoreError::from)?;
            return Ok(Decision::Nothing);
        };
        let Some(check) = incident.checks.iter().find(|c| c.as_str() == event.check_id).cloned() else {
            tx.commit().await.map_err(StoreError::from)?;
            return Ok(Decision::Nothing);
        };
        let change = CheckChange { check, priority: incident.priority, reason: None, at: event.at };
        table::set_check(&mut tx, incident.id, &change.check, false, ctx.now).await?;
        incident.checks.retain(|c| c != &change.check);
        let decision = if incident.checks.is_empty() {
            let recap = recap(&mut tx, &incident).await?;
            enqueue(&mut tx, &plan::resolve(&ctx, &incident, &change, &recap)?).await?;
            table::resolve(&mut tx, incident.id, ctx.now).await?;
            Decision::Resolved { incident: incident.id }
        } else {
            let detail = format!("{} passes again", change.check);
            table::history(&mut tx, incident.id, ctx.now, HistoryKind::CheckRecovered, &detail, None).await?;
            enqueue(&mut tx, &plan::check_recovered(&incident, &change)).await?;
            Decision::Recovered { incident: incident.id }
        };
        tx.commit().await.map_err(StoreError::from)?;
        Ok(decision)
    }

    async fn suppress(&self, event: &CheckEvent, failures: &[String]) -> Result<Decision, TriageError> {
        let now = Timestamp::now();
        let mut tx = self.store.pool().begin().await.map_err(StoreError::from)?;
        if !table::claim_event(&mut tx, event.id, now).await? {
            return Ok(Decision::Nothing);
        }
        if table::set_egress(&mut tx, true, now).await? {
            tracing::error!(failures = %failures.join("; "), "Sparky cannot reach the internet: partner checks are not blamed");
            enqueue(&mut tx, &super::egress::down(&self.templates, &self.config.global.slack.channel, now, failures)?).await?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        Ok(Decision::Suppressed)
    }

    /// Re-decides the cause of `partner`'s open incident from a fresh reading of its page
    /// (see [`recheck`]: unknown is not evidence; paging again needs several readable polls).
    /// A cause change waits while our own egress is down.
    pub async fn recheck(&self, partner: &Partner, status: &PartnerStatus) -> Result<(), TriageError> {
        let mut conn = self.store.pool().acquire().await.map_err(StoreError::from)?;
        let Some(incident) = table::open_incident(&mut conn, partner.id.as_str()).await? else { return Ok(()) };
        drop(conn);
        let verdict = self.decide(partner, Some(status));
        let now = Timestamp::now();
        let next = recheck::next(&incident, &verdict, self.config.global.triage.recovered_polls, now);
        if next.step == Step::Keep
            && (next.unknown_since, next.recovered_polls) == (incident.status_unknown_since, incident.recovered_polls)
        {
            return Ok(());
        }
        if next.step == Step::Change
            && let Egress::Down(_) = self.egress().await
        {
            tracing::warn!(partner = %partner.id, "Sparky has no egress: the cause of the incident is not changed meanwhile");
            return Ok(());
        }
        let check = incident.checks.first().map_or_else(|| incident.dedup_key.clone(), ToString::to_string);
        let failure = table::latest_message(&self.store, &check, Outcome::Fail).await?;
        let hold = self.hold(&self.silences_now(now).await?, &partner.id, &incident.checks, now);
        let ctx = Ctx { now, hold, ..self.ctx(partner) };
        let mut tx = self.store.pool().begin().await.map_err(StoreError::from)?;
        // Only the incident read above, still open and unchanged meanwhile.
        let Some(current) = table::open_incident(&mut tx, partner.id.as_str()).await? else { return Ok(()) };
        if (current.id, current.generation) != (incident.id, incident.generation) {
            return Ok(());
        }
        let step = next.step;
        if !apply(&mut tx, &ctx, current, &verdict, next, Some(&check), failure.as_deref()).await? {
            return Ok(());
        }
        tx.commit().await.map_err(StoreError::from)?;
        tracing::info!(partner = %partner.id, incident = incident.id, %step, cause = %verdict.cause, reason = %verdict.reason, "incident re-decided");
        self.delivery.notify_one();
        Ok(())
    }

    /// Rechecks every partner with an open incident against its latest reading (`once status`).
    pub async fn recheck_all(&self, reports: &[PollReport]) -> Result<(), TriageError> {
        for partner_id in table::partners_with_open_incidents(&self.store).await? {
            let (Some(partner), Some(report)) = (self.config.partner(&partner_id), reports.iter().find(|r| r.partner == partner_id)) else {
                continue;
            };
            self.recheck(partner, &report.status).await?;
        }
        Ok(())
    }
}

/// A new incident for `change`, with the cause of `verdict`.
async fn open(tx: &mut AnyConnection, ctx: &Ctx<'_>, change: &CheckChange, verdict: &Verdict) -> Result<Decision, TriageError> {
    let new = NewIncident {
        partner: &ctx.partner.id,
        cause: verdict.cause,
        reason: &verdict.reason,
        priority: change.priority,
        check: &change.check,
        at: ctx.now,
        evidence: verdict.evidence(),
    };
    let mut incident = table::insert(tx, &new).await?;
    let plan = plan::open(ctx, &incident, change, verdict)?;
    (incident.paged, incident.published, incident.held) = (plan.paged, plan.published, plan.held);
    table::update(tx, &incident, 0).await?;
    silenced(tx, ctx, &incident, Held::default()).await?;
    enqueue(tx, &plan.actions).await?;
    METRICS.incidents.with_label_values(&[ctx.partner.id.as_str(), verdict.cause.as_str()]).inc();
    Ok(Decision::Opened { incident: incident.id, cause: verdict.cause, reason: verdict.reason.clone() })
}

/// Another check of the partner fails while its incident is open: one incident, not two; the
/// fresh reading counts like a poll.
async fn attach(
    tx: &mut AnyConnection,
    ctx: &Ctx<'_>,
    mut incident: Incident,
    change: &CheckChange,
    verdict: &Verdict,
    needed: u32,
) -> Result<(), TriageError> {
    table::set_check(tx, incident.id, &change.check, true, ctx.now).await?;
    table::history(tx, incident.id, ctx.now, HistoryKind::CheckAdded, &format!("{} failing", change.check), None).await?;
    incident.checks.push(change.check.clone());
    enqueue(tx, &plan::attach(ctx, &incident, change)?).await?;
    let next = recheck::next(&incident, verdict, needed, ctx.now);
    apply(tx, ctx, incident, verdict, next, Some(change.check.as_str()), change.reason.as_deref()).await?;
    Ok(())
}

/// Writes `next` for `incident`: its history (with the evidence), its actions, and its new
/// cause, counters and flags, if it is still open and unchanged; false (roll back) otherwise.
async fn apply(
    tx: &mut AnyConnection,
    ctx: &Ctx<'_>,
    mut incident: Incident,
    verdict: &Verdict,
    next: Next,
    check: Option<&str>,
    failure: Option<&str>,
) -> Result<bool, TriageError> {
    let read_at = incident.generation;
    let previous_unknown = incident.status_unknown_since;
    (incident.status_unknown_since, incident.recovered_polls) = (next.unknown_since, next.recovered_polls);
    let evidence = verdict.evidence();
    let check = check.unwrap_or(&incident.dedup_key).to_owned();
    if next.readable_again {
        table::history(tx, incident.id, ctx.now, HistoryKind::StatusReadable, &verdict.reason, evidence).await?;
        let since = previous_unknown.unwrap_or(ctx.now);
        enqueue(tx, &plan::status_readable(ctx, &incident, since, &verdict.reason)).await?;
    }
    match next.step {
        Step::Keep => {}
        Step::Unknown { since } => {
            let error = match &verdict.basis {
                cause::Basis::Unreadable { error } => error.as_str(),
                _ => "not readable",
            };
            let detail = format!("partner status unknown ({error}); cause stays {}", incident.cause.as_str());
            table::history(tx, incident.id, ctx.now, HistoryKind::StatusUnknown, &detail, None).await?;
            enqueue(tx, &plan::status_unknown(ctx, &incident, since, error)?).await?;
        }
        Step::Hold { polls, needed } => {
            let detail = format!("{polls} of {needed} readable polls say the partner recovered: {}", verdict.reason);
            table::history(tx, incident.id, ctx.now, HistoryKind::CauseHeld, &detail, evidence).await?;
        }
        Step::Change => {
            incident.cause = verdict.cause;
            incident.cause_reason.clone_from(&verdict.reason);
            incident.generation += 1;
            let Plan { actions, paged, published, held } = plan::recause(ctx, &incident, verdict, &check, failure)?;
            let before = incident.held;
            (incident.paged, incident.published, incident.held) = (paged, published, held);
            let detail = format!("{}: {}", verdict.cause, verdict.reason);
            table::history(tx, incident.id, ctx.now, HistoryKind::CauseChanged, &detail, evidence).await?;
            silenced(tx, ctx, &incident, before).await?;
            enqueue(tx, &actions).await?;
        }
    }
    Ok(table::update(tx, &incident, read_at).await?)
}

/// A `silenced` history entry when `incident` holds back more than `before` (what the silence
/// of `ctx` holds, and until when).
async fn silenced(tx: &mut AnyConnection, ctx: &Ctx<'_>, incident: &Incident, before: Held) -> Result<(), TriageError> {
    let newly = Held { page: incident.held.page && !before.page, public: incident.held.public && !before.public };
    let Some(hold) = ctx.hold.as_ref().filter(|_| newly.any()) else { return Ok(()) };
    let detail = format!("{}; {}", hold.text(), newly.describe());
    table::history(tx, incident.id, ctx.now, HistoryKind::Silenced, &detail, None).await?;
    Ok(())
}

/// What the incident did, for its recovery message: its checks and the pages and opening message
/// its chains hold.
async fn recap(conn: &mut AnyConnection, incident: &Incident) -> Result<plan::Recap, StoreError> {
    let checks = table::all_checks(conn, incident.id).await?;
    let pagerduty = crate::store::outbox::chain(conn, &format!("{}:pagerduty", incident.key())).await?;
    let slack = crate::store::outbox::chain(conn, &format!("{}:slack", incident.key())).await?;
    Ok(plan::Recap::from_chains(incident, checks, &pagerduty, &slack))
}
