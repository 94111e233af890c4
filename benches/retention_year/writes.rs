//! The writes of the simulated year, each through the store functions Sparky uses: check
//! results, job ticks, page snapshots, incidents with their actions, and delivery.

use std::time::Duration;

use sparky::model::statuspage::IncidentStatus;
use sparky::model::{
    Cause, CheckId, CheckState, Component, ComponentStatus, ErrorKind, EventDetail, Evidence, HistoryKind, Indicator, Outcome, PartnerId,
    PartnerIncident, PartnerStatus, Priority, SinkKind, Timestamp,
};
use sparky::store::incidents::{self, NewIncident};
use sparky::store::outbox::{self, Attempted, ClaimFilter, NewAction};
use sparky::store::synthetics::{self, Batch, EventRow, ResultRow};
use sparky::store::{Store, public_status, remote_ids};

use super::{COMPONENTS, Open, PARTNERS, Page};

pub(super) fn component_name(c: usize) -> String {
    format!("Component {c:02} (API)")
}

pub(super) fn detail(id: &str) -> EventDetail {
    EventDetail {
        name: Some(format!("Elevated error rates ({id})")),
        impact: Some(Indicator::Major),
        link: Some(format!("https://status.example.com/incidents/{id}")),
        components: vec![component_name(1)],
        started_at: None,
    }
}

pub(super) fn snapshot(page: &Page) -> PartnerStatus {
    let components = (0..COMPONENTS)
        .map(|c| Component {
            name: component_name(c),
            status: if page.flap.is_some_and(|(f, _)| f == c) { ComponentStatus::PartialOutage } else { ComponentStatus::Operational },
            group: Some("Platform".to_owned()),
        })
        .collect();
    let incidents = page
        .incident
        .iter()
        .map(|(id, _)| PartnerIncident {
            id: id.clone(),
            name: format!("Elevated error rates ({id})"),
            impact: Indicator::Major,
            status: "investigating".to_owned(),
            started_at: None,
            shortlink: Some(format!("https://stspg.io/{id}")),
            components: vec![component_name(1)],
        })
        .collect();
    let indicator = if page.incident.is_some() { Indicator::Major } else { Indicator::None };
    PartnerStatus {
        indicator,
        description: Some(if page.incident.is_some() { "Partial System Outage" } else { "All Systems Operational" }.to_owned()),
        components,
        incidents,
        maintenances: Vec::new(),
        error: None,
    }
}

pub(super) fn result(check: &str, partner: &str, at: Timestamp, fail: bool, ms: i64) -> ResultRow {
    let status = if fail { 503 } else { 200 };
    let assertions = format!(
        r#"[{{"assertion":"status is 2xx","outcome":"{o}","detail":"got {status}"}},{{"assertion":"latency under 2s (warn) / 10s (fail)","outcome":"pass","detail":"took {ms}ms"}},{{"assertion":"$.value[0].id exists","outcome":"{o}","detail":"found"}}]"#,
        o = if fail { "fail" } else { "pass" }
    );
    ResultRow {
        check_id: check.to_owned(),
        partner_id: partner.to_owned(),
        at,
        duration_ms: ms,
        http_status: Some(status),
        outcome: if fail { Outcome::Fail } else { Outcome::Pass },
        error_kind: fail.then_some(ErrorKind::Http),
        message: fail.then(|| "status is 2xx: got 503".to_owned()),
        assertions,
        confirmation: false,
        counted: true,
    }
}

/// Rows as `claim_tick` + `finish` leave them, many per statement.
pub(super) async fn insert_ticks(store: &Store, ticks: &[(String, i64)]) {
    let mut tx = store.pool().begin().await.unwrap();
    for chunk in ticks.chunks(100) {
        let values: Vec<String> = chunk
            .iter()
            .map(|(job, at)| format!("('{job}', {at}, 'sparky-bench-1234-abcdef01', {}, {at}, {})", at + 300_000, at + 1500))
            .collect();
        let sql = format!("INSERT INTO job_runs (job, tick, holder, lease_until, started_at, finished_at) VALUES {}", values.join(", "));
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
}

/// A payload of about the size of an incident action (Jira ADF, Slack blocks, PagerDuty event).
pub(super) fn payload(kind: &str, id: i64) -> String {
    let text = "Okta failing (Okta): status is 2xx: got 503. The partner's status page reports all operational: cause internal. ";
    serde_json::json!({"type": kind, "incident": id, "summary": format!("[Sparky] check failing (incident {id})"),
        "body": text.repeat(8), "labels": ["sparky", "internal", format!("sparky-incident-{id}")]})
    .to_string()
}

pub(super) async fn enqueue(store: &Store, id: i64, what: &[(&str, SinkKind)]) {
    let mut tx = store.pool().begin().await.unwrap();
    for (step, sink) in what {
        let action = NewAction {
            idempotency_key: format!("incident:{id}:{step}:{}", sink.as_str()),
            ordering_key: format!("incident:{id}:{}", sink.as_str()),
            sink: *sink,
            payload: payload(step, id),
        };
        outbox::insert(&mut tx, &action).await.unwrap();
    }
    tx.commit().await.unwrap();
}

pub(super) fn evidence() -> Evidence {
    let components = vec![Component { name: component_name(1), status: ComponentStatus::Operational, group: None }];
    Evidence { indicator: Indicator::None, components, counted: Vec::new(), ignored: vec!["m-1".to_owned()] }
}

pub(super) async fn open_incident(store: &Store, partner: &str, check: &str, external: bool, now: Timestamp) -> i64 {
    let (partner_id, check_id): (PartnerId, CheckId) = (partner.parse().unwrap(), check.parse().unwrap());
    let event = EventRow {
        check_id: check.to_owned(),
        partner_id: partner.to_owned(),
        at: now,
        from: CheckState::Healthy,
        to: CheckState::Failing,
        warn: None,
    };
    synthetics::write_batch(store, &Batch { events: vec![event], ..Batch::default() }).await.unwrap();
    let pending = incidents::unhandled_events(store, 10).await.unwrap();
    let mut tx = store.pool().begin().await.unwrap();
    for e in &pending {
        incidents::claim_event(&mut tx, e.id, now).await.unwrap();
    }
    let cause = if external { Cause::External } else { Cause::Internal };
    let evidence = evidence();
    let new = NewIncident {
        partner: &partner_id,
        cause,
        reason: "the partner's page reports all operational",
        priority: Priority::P4,
        check: &check_id,
        at: now,
        evidence: Some(&evidence),
    };
    let id = incidents::insert(&mut tx, &new).await.unwrap().id;
    tx.commit().await.unwrap();
    let sinks: &[(&str, SinkKind)] = if external {
        &[
            ("open:component", SinkKind::Statuspage),
            ("open:incident", SinkKind::Statuspage),
            ("open:jira", SinkKind::Jira),
            ("open:slack", SinkKind::Slack),
        ]
    } else {
        &[("open:page", SinkKind::PagerDuty), ("open:jira", SinkKind::Jira), ("open:slack", SinkKind::Slack)]
    };
    enqueue(store, id, sinks).await;
    remote_ids::put(store, "jira", &format!("incident:{id}"), &format!("OPS-{id}")).await.unwrap();
    remote_ids::put(store, "slack", &format!("incident:{id}"), "C0123456789 1700000000.000100").await.unwrap();
    if external {
        let key = format!("incident:{id}");
        let body = format!("{partner} reports an outage; our integration with {partner} is degraded.");
        let new = public_status::NewIncident {
            key: &key,
            name: "Integration degraded",
            body: &body,
            status: IncidentStatus::Investigating,
            components: &[],
            impact: Some(Indicator::Major),
            at: now,
        };
        public_status::open_incident(store, &new).await.unwrap();
        remote_ids::put(store, "statuspage", &key, &format!("p{id}")).await.unwrap();
    }
    id
}

pub(super) async fn resolve(store: &Store, open: &Open, now: Timestamp) {
    let event = EventRow {
        check_id: open.check.clone(),
        partner_id: PARTNERS[open.partner].0.to_owned(),
        at: now,
        from: CheckState::Failing,
        to: CheckState::Healthy,
        warn: None,
    };
    synthetics::write_batch(store, &Batch { events: vec![event], ..Batch::default() }).await.unwrap();
    let pending = incidents::unhandled_events(store, 10).await.unwrap();
    let mut tx = store.pool().begin().await.unwrap();
    for e in &pending {
        incidents::claim_event(&mut tx, e.id, now).await.unwrap();
    }
    let check: CheckId = open.check.parse().unwrap();
    incidents::set_check(&mut tx, open.id, &check, false, now).await.unwrap();
    incidents::history(&mut tx, open.id, now, HistoryKind::CheckRecovered, &format!("{} passes again", open.check), None).await.unwrap();
    incidents::resolve(&mut tx, open.id, now).await.unwrap();
    tx.commit().await.unwrap();
    let sinks: &[(&str, SinkKind)] = if open.external {
        &[
            ("resolve:component", SinkKind::Statuspage),
            ("resolve:incident", SinkKind::Statuspage),
            ("resolve:jira", SinkKind::Jira),
            ("resolve:slack", SinkKind::Slack),
        ]
    } else {
        &[
            ("resolve:page", SinkKind::PagerDuty),
            ("resolve:jira", SinkKind::Jira),
            ("resolve:comment", SinkKind::Jira),
            ("resolve:slack", SinkKind::Slack),
        ]
    };
    enqueue(store, open.id, sinks).await;
    if open.external {
        public_status::append_update(
            store,
            &format!("incident:{}", open.id),
            "Resolved: the partner recovered.",
            IncidentStatus::Resolved,
            now,
        )
        .await
        .unwrap();
    }
}

/// Claims every due action and records it delivered, as the worker would.
pub(super) async fn deliver_all(store: &Store) {
    loop {
        let lease = Timestamp::now() + Duration::from_secs(60);
        let claimed = outbox::claim_due(store, "bench", lease, 200, &ClaimFilter::default()).await.unwrap();
        if claimed.is_empty() {
            return;
        }
        for row in claimed {
            let outcome = Attempted::Delivered { remote_id: Some(format!("r{}", row.id)) };
            outbox::record(store, "bench", row.id, &outcome).await.unwrap();
        }
    }
}
