//! Tables `incidents`, `incident_checks`, `incident_history`, `check_events` (as triage consumes
//! them) and `egress`. Functions taking a connection run inside the caller's transaction.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{Store, StoreError, corrupt, word};
use crate::model::{
    Cause, CheckId, CheckState, Evidence, Held, HistoryKind, Incident, IncidentState, Outcome, PartnerId, Priority, Timestamp, WarnChange,
};

/// A check state change not yet triaged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckEvent {
    /// Row id.
    pub id: i64,
    /// Check id.
    pub check_id: String,
    /// Partner id.
    pub partner_id: String,
    /// When (the `at` of the result that caused it).
    pub at: Timestamp,
    /// New state (a warn notice: the state it happened in).
    pub to: CheckState,
    /// A warn notice to post, not a state change.
    pub warn: Option<WarnChange>,
}

/// State changes (and warn notices) not triaged yet, oldest first.
pub async fn unhandled_events(store: &Store, limit: i64) -> Result<Vec<CheckEvent>, StoreError> {
    let rows =
        sqlx::query("SELECT id, check_id, partner_id, at, to_state, warn FROM check_events WHERE handled_at IS NULL ORDER BY id LIMIT $1")
            .bind(limit)
            .fetch_all(store.pool())
            .await?;
    rows.iter()
        .map(|r| {
            Ok(CheckEvent {
                id: r.try_get(0)?,
                check_id: r.try_get(1)?,
                partner_id: r.try_get(2)?,
                at: Timestamp::from_millis(r.try_get(3)?),
                to: word(r, 4, "check_events.to_state")?,
                warn: r
                    .try_get::<Option<String>, _>(5)?
                    .map(|w| w.parse().map_err(|e: crate::model::UnknownWord| corrupt("check_events.warn", e.to_string())))
                    .transpose()?,
            })
        })
        .collect()
}

/// Marks an event triaged; false when another triager did it first (then roll back). The first
/// statement of a triage transaction, so SQLite takes its write lock at once.
pub async fn claim_event(conn: &mut AnyConnection, id: i64, at: Timestamp) -> Result<bool, StoreError> {
    let r = sqlx::query("UPDATE check_events SET handled_at = $2 WHERE id = $1 AND handled_at IS NULL")
        .bind(id)
        .bind(at.as_millis())
        .execute(conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// The message of the result that caused an event.
pub async fn result_message(store: &Store, check: &str, at: Timestamp) -> Result<Option<String>, StoreError> {
    let row = sqlx::query("SELECT message FROM check_results WHERE check_id = $1 AND at = $2 AND counted = 1 LIMIT 1")
        .bind(check)
        .bind(at.as_millis())
        .fetch_optional(store.pool())
        .await?;
    Ok(row.map(|r| r.try_get::<Option<String>, _>(0)).transpose()?.flatten())
}

const COLUMNS: &str = "id, partner_id, cause, cause_reason, priority, dedup_key, paged, published, generation, opened_at, status_unknown_since, recovered_polls, page_held, public_held";

fn parse_id<T: std::str::FromStr<Err = String>>(text: String, what: &'static str) -> Result<T, StoreError> {
    text.parse().map_err(|e: String| corrupt(what, e))
}

fn incident(row: &AnyRow, checks: Vec<CheckId>) -> Result<Incident, StoreError> {
    Ok(Incident {
        id: row.try_get(0)?,
        partner: parse_id::<PartnerId>(row.try_get(1)?, "incidents.partner_id")?,
        cause: word(row, 2, "incidents.cause")?,
        cause_reason: row.try_get(3)?,
        priority: word(row, 4, "incidents.priority")?,
        dedup_key: row.try_get(5)?,
        paged: row.try_get::<i64, _>(6)? == 1,
        published: row.try_get::<i64, _>(7)? == 1,
        generation: row.try_get(8)?,
        opened_at: Timestamp::from_millis(row.try_get(9)?),
        status_unknown_since: row.try_get::<Option<i64>, _>(10)?.map(Timestamp::from_millis),
        recovered_polls: u32::try_from(row.try_get::<i64, _>(11)?).unwrap_or(0),
        held: Held { page: row.try_get::<i64, _>(12)? == 1, public: row.try_get::<i64, _>(13)? == 1 },
        checks,
    })
}

async fn check_ids(conn: &mut AnyConnection, id: i64, only_failing: bool) -> Result<Vec<CheckId>, StoreError> {
    let sql = if only_failing {
        "SELECT check_id FROM incident_checks WHERE incident_id = $1 AND failing = 1 ORDER BY since"
    } else {
        "SELECT check_id FROM incident_checks WHERE incident_id = $1 ORDER BY since"
    };
    let rows = sqlx::query(sql).bind(id).fetch_all(conn).await?;
    rows.iter().map(|r| parse_id::<CheckId>(r.try_get(0)?, "incident_checks.check_id")).collect()
}

/// Every check that failed during incident `id`, recovered ones included, in the order they
/// failed.
pub async fn all_checks(conn: &mut AnyConnection, id: i64) -> Result<Vec<CheckId>, StoreError> {
    check_ids(conn, id, false).await
}

/// The partner's open incident, if any (at most one: `incidents_one_open`). On PostgreSQL the
/// row is locked until the caller's transaction ends, so two replicas deciding for one partner
/// take turns (SQLite's single writer does the same for a transaction that wrote first).
pub async fn open_incident(conn: &mut AnyConnection, partner: &str) -> Result<Option<Incident>, StoreError> {
    let lock = if conn.backend_name().eq_ignore_ascii_case("postgresql") { " FOR UPDATE" } else { "" };
    let sql = format!("SELECT {COLUMNS} FROM incidents WHERE partner_id = $1 AND state = $2{lock}");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(partner).bind(IncidentState::Open.as_str()).fetch_optional(&mut *conn).await?;
    let Some(row) = row else { return Ok(None) };
    let checks = check_ids(conn, row.try_get(0)?, true).await?;
    incident(&row, checks).map(Some)
}

/// What a new incident starts with.
#[derive(Debug, Clone)]
pub struct NewIncident<'a> {
    /// The partner.
    pub partner: &'a PartnerId,
    /// Its cause.
    pub cause: Cause,
    /// Why.
    pub reason: &'a str,
    /// Jira priority.
    pub priority: Priority,
    /// The check that opens it (also its PagerDuty dedup key).
    pub check: &'a CheckId,
    /// When.
    pub at: Timestamp,
    /// What the cause was decided on.
    pub evidence: Option<&'a Evidence>,
}

/// Opens an incident; returns it with its id. Fails with a unique violation
/// ([`StoreError::is_conflict`]) when another triager opened one for the partner meanwhile.
pub async fn insert(conn: &mut AnyConnection, new: &NewIncident<'_>) -> Result<Incident, StoreError> {
    let row = sqlx::query(
        "INSERT INTO incidents (partner_id, state, cause, cause_reason, priority, dedup_key, opened_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(new.partner.as_str())
    .bind(IncidentState::Open.as_str())
    .bind(new.cause.as_str())
    .bind(new.reason)
    .bind(new.priority.as_str())
    .bind(new.check.as_str())
    .bind(new.at.as_millis())
    .fetch_one(&mut *conn)
    .await?;
    let id: i64 = row.try_get(0)?;
    set_check(conn, id, new.check, true, new.at).await?;
    let detail = format!("{} failing; cause {}: {}", new.check, new.cause, new.reason);
    history(conn, id, new.at, HistoryKind::Opened, &detail, new.evidence).await?;
    Ok(Incident {
        id,
        partner: new.partner.clone(),
        cause: new.cause,
        cause_reason: new.reason.to_owned(),
        priority: new.priority,
        dedup_key: new.check.to_string(),
        paged: false,
        published: false,
        held: Held::default(),
        generation: 0,
        status_unknown_since: None,
        recovered_polls: 0,
        opened_at: new.at,
        checks: vec![new.check.clone()],
    })
}

/// Marks `check` failing (or recovered) in incident `id`.
pub async fn set_check(conn: &mut AnyConnection, id: i64, check: &CheckId, failing: bool, at: Timestamp) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO incident_checks (incident_id, check_id, failing, since) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (incident_id, check_id) DO UPDATE SET failing = $3, since = $4",
    )
    .bind(id)
    .bind(check.as_str())
    .bind(i64::from(failing))
    .bind(at.as_millis())
    .execute(conn)
    .await?;
    Ok(())
}

/// Stores the incident's cause, flags (held ones too), generation and status watch, if it is still open and
/// still at generation `read_at` (what the caller read): false when it was resolved or changed
/// meanwhile (then roll back and leave it alone).
pub async fn update(conn: &mut AnyConnection, incident: &Incident, read_at: i64) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE incidents SET cause = $2, cause_reason = $3, paged = $4, published = $5, generation = $6, \
         status_unknown_since = $7, recovered_polls = $8, page_held = $11, public_held = $12 \
         WHERE id = $1 AND state = $9 AND generation = $10",
    )
    .bind(incident.id)
    .bind(incident.cause.as_str())
    .bind(&incident.cause_reason)
    .bind(i64::from(incident.paged))
    .bind(i64::from(incident.published))
    .bind(incident.generation)
    .bind(incident.status_unknown_since.map(Timestamp::as_millis))
    .bind(i64::from(incident.recovered_polls))
    .bind(IncidentState::Open.as_str())
    .bind(read_at)
    .bind(i64::from(incident.held.page))
    .bind(i64::from(incident.held.public))
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Closes incident `id` if it is still open; false when it was not.
pub async fn resolve(conn: &mut AnyConnection, id: i64, at: Timestamp) -> Result<bool, StoreError> {
    let r = sqlx::query("UPDATE incidents SET state = $3, resolved_at = $2, paged = 0, published = 0, page_held = 0, public_held = 0 WHERE id = $1 AND state = $4")
        .bind(id)
        .bind(at.as_millis())
        .bind(IncidentState::Resolved.as_str())
        .bind(IncidentState::Open.as_str())
        .execute(&mut *conn)
        .await?;
    if r.rows_affected() == 0 {
        return Ok(false);
    }
    history(conn, id, at, HistoryKind::Resolved, "every check passes again", None).await?;
    Ok(true)
}

/// Appends to an incident's history, with the evidence of the decision if there is one.
pub async fn history(
    conn: &mut AnyConnection,
    id: i64,
    at: Timestamp,
    kind: HistoryKind,
    detail: &str,
    evidence: Option<&Evidence>,
) -> Result<(), StoreError> {
    let evidence = evidence.map(serde_json::to_string).transpose().map_err(|e| corrupt("incident_history.evidence", e.to_string()))?;
    sqlx::query("INSERT INTO incident_history (incident_id, at, kind, detail, evidence) VALUES ($1, $2, $3, $4, $5)")
        .bind(id)
        .bind(at.as_millis())
        .bind(kind.as_str())
        .bind(detail)
        .bind(evidence)
        .execute(conn)
        .await?;
    Ok(())
}

/// One line of an incident's history.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HistoryEntry {
    /// When.
    pub at: Timestamp,
    /// What happened.
    pub kind: HistoryKind,
    /// In words.
    pub detail: String,
    /// What the decision read on the partner's page, if it was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
}

/// A remote id of an incident's effect.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RemoteId {
    /// The sink (`jira`, `statuspage`, `slack` ...).
    pub sink: String,
    /// Its id there.
    pub id: String,
}

/// An incident as `sparky incidents` lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IncidentSummary {
    /// The incident.
    #[serde(flatten)]
    pub incident: Incident,
    /// Open or resolved.
    pub state: IncidentState,
    /// Resolved at.
    pub resolved_at: Option<Timestamp>,
    /// Every check it ever had.
    pub all_checks: Vec<CheckId>,
    /// Remote ids.
    pub remote: Vec<RemoteId>,
    /// History, oldest first.
    pub history: Vec<HistoryEntry>,
}

/// Open incidents and those resolved since `since`, newest first.
pub async fn list(store: &Store, since: Timestamp) -> Result<Vec<IncidentSummary>, StoreError> {
    let mut conn = store.pool().acquire().await?;
    let sql = format!("SELECT {COLUMNS}, state, resolved_at FROM incidents WHERE state = $2 OR resolved_at >= $1 ORDER BY id DESC");
    let rows =
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(since.as_millis()).bind(IncidentState::Open.as_str()).fetch_all(&mut *conn).await?;
    let mut out = Vec::new();
    for row in &rows {
        let id: i64 = row.try_get(0)?;
        let checks = check_ids(&mut conn, id, true).await?;
        let all_checks = check_ids(&mut conn, id, false).await?;
        let remote = sqlx::query("SELECT sink, remote_id FROM remote_ids WHERE local_key = $1 ORDER BY sink")
            .bind(format!("incident:{id}"))
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| Ok(RemoteId { sink: r.try_get(0)?, id: r.try_get(1)? }))
            .collect::<Result<_, sqlx::Error>>()?;
        let history = sqlx::query("SELECT at, kind, detail, evidence FROM incident_history WHERE incident_id = $1 ORDER BY id")
            .bind(id)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| {
                Ok(HistoryEntry {
                    at: Timestamp::from_millis(r.try_get(0)?),
                    kind: word(r, 1, "incident_history.kind")?,
                    detail: r.try_get(2)?,
                    evidence: r
                        .try_get::<Option<String>, _>(3)?
                        .map(|text| serde_json::from_str(&text).map_err(|e| corrupt("incident_history.evidence", e.to_string())))
                        .transpose()?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        out.push(IncidentSummary {
            incident: incident(row, checks)?,
            state: word(row, 14, "incidents.state")?,
            resolved_at: row.try_get::<Option<i64>, _>(15)?.map(Timestamp::from_millis),
            all_checks,
            remote,
            history,
        });
    }
    Ok(out)
}

/// Partners with an open incident.
pub async fn partners_with_open_incidents(store: &Store) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query("SELECT DISTINCT partner_id FROM incidents WHERE state = $1")
        .bind(IncidentState::Open.as_str())
        .fetch_all(store.pool())
        .await?;
    Ok(rows.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?)
}

/// Partners whose open incident holds something back for a silence (a page, a public update).
pub async fn partners_with_held(store: &Store) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query("SELECT partner_id FROM incidents WHERE state = $1 AND (page_held = 1 OR public_held = 1) ORDER BY id")
        .bind(IncidentState::Open.as_str())
        .fetch_all(store.pool())
        .await?;
    Ok(rows.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?)
}

/// A check failing now (per `check_state`) with no open incident and no pending event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Orphan {
    /// The check.
    pub check: String,
    /// Its partner.
    pub partner: String,
    /// Failing since.
    pub since: Timestamp,
}

/// Checks failing now with no open incident and no pending event: those a suppressed triage
/// (no egress) left behind.
pub async fn failing_without_incident(store: &Store) -> Result<Vec<Orphan>, StoreError> {
    let rows = sqlx::query(
        "SELECT s.check_id, s.partner_id, s.since FROM check_state s WHERE s.state = $1 \
         AND NOT EXISTS (SELECT 1 FROM incident_checks c JOIN incidents i ON i.id = c.incident_id \
                         WHERE c.check_id = s.check_id AND c.failing = 1 AND i.state = $2) \
         AND NOT EXISTS (SELECT 1 FROM check_events e WHERE e.check_id = s.check_id AND e.handled_at IS NULL)",
    )
    .bind(CheckState::Failing.as_str())
    .bind(IncidentState::Open.as_str())
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(|r| Ok(Orphan { check: r.try_get(0)?, partner: r.try_get(1)?, since: Timestamp::from_millis(r.try_get(2)?) })).collect()
}

/// A check of an open incident, still marked failing there, as the engine last stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentCheck {
    /// The check.
    pub check: String,
    /// Its partner.
    pub partner: String,
    /// Its state in `check_state` (`None`: never stored, e.g. a check removed from the config).
    pub state: Option<CheckState>,
    /// Since when it is in that state.
    pub since: Option<Timestamp>,
}

/// The checks still failing in open incidents, with no pending event: what start-up and
/// take-over compare with `check_state` (a recovery whose event was lost leaves them behind).
pub async fn open_incident_checks(store: &Store) -> Result<Vec<IncidentCheck>, StoreError> {
    let rows = sqlx::query(
        "SELECT c.check_id, i.partner_id, s.state, s.since FROM incidents i \
         JOIN incident_checks c ON c.incident_id = i.id AND c.failing = 1 \
         LEFT JOIN check_state s ON s.check_id = c.check_id \
         WHERE i.state = $1 AND NOT EXISTS (SELECT 1 FROM check_events e WHERE e.check_id = c.check_id AND e.handled_at IS NULL)",
    )
    .bind(IncidentState::Open.as_str())
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let state = r
                .try_get::<Option<String>, _>(2)?
                .map(|w| w.parse().map_err(|e: crate::model::UnknownWord| corrupt("check_state.state", e.to_string())));
            Ok(IncidentCheck {
                check: r.try_get(0)?,
                partner: r.try_get(1)?,
                state: state.transpose()?,
                since: r.try_get::<Option<i64>, _>(3)?.map(Timestamp::from_millis),
            })
        })
        .collect()
}

/// Queues a state change of `check` for triage to look at again (a suppressed failure, a lost
/// recovery): the same row the check engine writes.
pub async fn requeue_event(conn: &mut AnyConnection, check: &str, partner: &str, at: Timestamp, to: CheckState) -> Result<(), StoreError> {
    let from = if to == CheckState::Failing { CheckState::Healthy } else { CheckState::Failing };
    sqlx::query("INSERT INTO check_events (check_id, partner_id, at, from_state, to_state) VALUES ($1, $2, $3, $4, $5)")
        .bind(check)
        .bind(partner)
        .bind(at.as_millis())
        .bind(from.as_str())
        .bind(to.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

/// The message of `check`'s latest counted result with `outcome` (why it fails, or why it
/// warns).
pub async fn latest_message(store: &Store, check: &str, outcome: Outcome) -> Result<Option<String>, StoreError> {
    let row =
        sqlx::query("SELECT message FROM check_results WHERE check_id = $1 AND counted = 1 AND outcome = $2 ORDER BY at DESC LIMIT 1")
            .bind(check)
            .bind(outcome.as_str())
            .fetch_optional(store.pool())
            .await?;
    Ok(row.map(|r| r.try_get::<Option<String>, _>(0)).transpose()?.flatten())
}

/// Open incidents counted by partner and cause (a handful of rows: one per open incident).
pub async fn open_counts(store: &Store) -> Result<Vec<(String, Cause, i64)>, StoreError> {
    let rows = sqlx::query("SELECT partner_id, cause, COUNT(*) FROM incidents WHERE state = $1 GROUP BY partner_id, cause")
        .bind(IncidentState::Open.as_str())
        .fetch_all(store.pool())
        .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, word(r, 1, "incidents.cause")?, r.try_get(2)?))).collect()
}

/// The egress alert: `Some(since)` while Sparky is offline.
pub async fn egress_down_since(store: &Store) -> Result<Option<Timestamp>, StoreError> {
    let row = sqlx::query("SELECT down, since FROM egress WHERE id = 1").fetch_optional(store.pool()).await?;
    let Some(row) = row else { return Ok(None) };
    let down: i64 = row.try_get(0)?;
    Ok((down == 1).then(|| row.try_get::<i64, _>(1).map(Timestamp::from_millis)).transpose()?)
}

/// Records the egress state; true when it changed.
pub async fn set_egress(conn: &mut AnyConnection, down: bool, at: Timestamp) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "INSERT INTO egress (id, down, since, checked_at) VALUES (1, $1, $2, $2) \
         ON CONFLICT (id) DO UPDATE SET down = $1, since = CASE WHEN egress.down = $1 THEN egress.since ELSE $2 END, checked_at = $2 \
         RETURNING since",
    )
    .bind(i64::from(down))
    .bind(at.as_millis())
    .fetch_one(conn)
    .await?;
    Ok(r.try_get::<i64, _>(0)? == at.as_millis())
}
