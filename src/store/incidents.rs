//! Tables `incidents`, `incident_checks`, `incident_history`, `check_events` (as triage consumes
//! them) and `egress`. Functions taking a connection run inside the caller's transaction.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{Store, StoreError};
use crate::sources::synthetics::Priority;
use crate::sources::synthetics::state::CheckState;
use crate::triage::cause::CauseKind;
use crate::triage::plan::Incident;

/// A check state change not yet triaged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckEvent {
    /// Row id.
    pub id: i64,
    /// Check id.
    pub check_id: String,
    /// Partner id.
    pub partner_id: String,
    /// When (ms; the `at` of the result that caused it).
    pub at: i64,
    /// New state.
    pub to: CheckState,
}

/// State changes not triaged yet, oldest first.
pub async fn unhandled_events(store: &Store, limit: i64) -> Result<Vec<CheckEvent>, StoreError> {
    let rows = sqlx::query("SELECT id, check_id, partner_id, at, to_state FROM check_events WHERE handled_at IS NULL ORDER BY id LIMIT $1")
        .bind(limit)
        .fetch_all(store.pool())
        .await?;
    rows.iter()
        .map(|r| {
            let to: String = r.try_get(4)?;
            let to = CheckState::parse(&to).ok_or_else(|| StoreError::Corrupt { what: "check_events.to_state", reason: to.clone() })?;
            Ok(CheckEvent { id: r.try_get(0)?, check_id: r.try_get(1)?, partner_id: r.try_get(2)?, at: r.try_get(3)?, to })
        })
        .collect()
}

/// Marks an event triaged; false when another triager did it first (then roll back). The first
/// statement of a triage transaction, so SQLite takes its write lock at once.
pub async fn claim_event(conn: &mut AnyConnection, id: i64, at: i64) -> Result<bool, StoreError> {
    let r =
        sqlx::query("UPDATE check_events SET handled_at = $2 WHERE id = $1 AND handled_at IS NULL").bind(id).bind(at).execute(conn).await?;
    Ok(r.rows_affected() == 1)
}

/// The message of the result that caused an event.
pub async fn result_message(store: &Store, check: &str, at: i64) -> Result<Option<String>, StoreError> {
    let row = sqlx::query("SELECT message FROM check_results WHERE check_id = $1 AND at = $2 AND counted = 1 LIMIT 1")
        .bind(check)
        .bind(at)
        .fetch_optional(store.pool())
        .await?;
    Ok(row.map(|r| r.try_get::<Option<String>, _>(0)).transpose()?.flatten())
}

const COLUMNS: &str = "id, partner_id, cause, cause_reason, priority, dedup_key, paged, published, generation, opened_at";

fn incident(row: &AnyRow, checks: Vec<String>) -> Result<Incident, StoreError> {
    let cause: String = row.try_get(2)?;
    let priority: String = row.try_get(4)?;
    Ok(Incident {
        id: row.try_get(0)?,
        partner: row.try_get(1)?,
        cause: CauseKind::parse(&cause).ok_or_else(|| StoreError::Corrupt { what: "incidents.cause", reason: cause.clone() })?,
        cause_reason: row.try_get(3)?,
        priority: serde_json::from_value(serde_json::Value::String(priority.clone()))
            .map_err(|_| StoreError::Corrupt { what: "incidents.priority", reason: priority })?,
        dedup_key: row.try_get(5)?,
        paged: row.try_get::<i64, _>(6)? == 1,
        published: row.try_get::<i64, _>(7)? == 1,
        generation: row.try_get(8)?,
        opened_at: row.try_get(9)?,
        checks,
    })
}

async fn failing_checks(conn: &mut AnyConnection, id: i64) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query("SELECT check_id FROM incident_checks WHERE incident_id = $1 AND failing = 1 ORDER BY since")
        .bind(id)
        .fetch_all(conn)
        .await?;
    Ok(rows.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?)
}

/// The partner's open incident, if any.
pub async fn open_incident(conn: &mut AnyConnection, partner: &str) -> Result<Option<Incident>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM incidents WHERE partner_id = $1 AND state = 'open' ORDER BY id DESC LIMIT 1");
    let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(partner).fetch_optional(&mut *conn).await? else { return Ok(None) };
    let id: i64 = row.try_get(0)?;
    let checks = failing_checks(conn, id).await?;
    incident(&row, checks).map(Some)
}

/// Opens an incident; returns it with its id.
pub async fn insert(
    conn: &mut AnyConnection,
    partner: &str,
    cause: (CauseKind, &str),
    priority: Priority,
    dedup_key: &str,
    check: &str,
    at: i64,
) -> Result<Incident, StoreError> {
    let row = sqlx::query(
        "INSERT INTO incidents (partner_id, state, cause, cause_reason, priority, dedup_key, opened_at) VALUES ($1, 'open', $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(partner)
    .bind(cause.0.as_str())
    .bind(cause.1)
    .bind(priority.as_str())
    .bind(dedup_key)
    .bind(at)
    .fetch_one(&mut *conn)
    .await?;
    let id: i64 = row.try_get(0)?;
    set_check(conn, id, check, true, at).await?;
    history(conn, id, at, "opened", &format!("{check} failing; cause {}: {}", cause.0.as_str(), cause.1)).await?;
    Ok(Incident {
        id,
        partner: partner.to_owned(),
        cause: cause.0,
        cause_reason: cause.1.to_owned(),
        priority,
        dedup_key: dedup_key.to_owned(),
        paged: false,
        published: false,
        generation: 0,
        opened_at: at,
        checks: vec![check.to_owned()],
    })
}

/// Marks `check` failing (or recovered) in incident `id`.
pub async fn set_check(conn: &mut AnyConnection, id: i64, check: &str, failing: bool, at: i64) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO incident_checks (incident_id, check_id, failing, since) VALUES ($1, $2, $3, $4) ON CONFLICT (incident_id, check_id) DO UPDATE SET failing = $3, since = $4")
        .bind(id)
        .bind(check)
        .bind(i64::from(failing))
        .bind(at)
        .execute(conn)
        .await?;
    Ok(())
}

/// Stores the incident's cause, flags and generation.
pub async fn update(conn: &mut AnyConnection, incident: &Incident) -> Result<(), StoreError> {
    sqlx::query("UPDATE incidents SET cause = $2, cause_reason = $3, paged = $4, published = $5, generation = $6 WHERE id = $1")
        .bind(incident.id)
        .bind(incident.cause.as_str())
        .bind(&incident.cause_reason)
        .bind(i64::from(incident.paged))
        .bind(i64::from(incident.published))
        .bind(incident.generation)
        .execute(conn)
        .await?;
    Ok(())
}

/// Closes incident `id`.
pub async fn resolve(conn: &mut AnyConnection, id: i64, at: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE incidents SET state = 'resolved', resolved_at = $2, paged = 0, published = 0 WHERE id = $1")
        .bind(id)
        .bind(at)
        .execute(&mut *conn)
        .await?;
    history(conn, id, at, "resolved", "every check passes again").await
}

/// Appends to an incident's history.
pub async fn history(conn: &mut AnyConnection, id: i64, at: i64, kind: &str, detail: &str) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO incident_history (incident_id, at, kind, detail) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(at)
        .bind(kind)
        .bind(detail)
        .execute(conn)
        .await?;
    Ok(())
}

/// An incident as `sparky incidents` lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IncidentSummary {
    /// The incident.
    #[serde(flatten)]
    pub incident: Incident,
    /// `open` or `resolved`.
    pub state: String,
    /// Resolved at (ms).
    pub resolved_at: Option<i64>,
    /// Every check it ever had.
    pub all_checks: Vec<String>,
    /// Remote ids: (sink, id).
    pub remote: Vec<(String, String)>,
    /// History: (at ms, kind, detail).
    pub history: Vec<(i64, String, String)>,
}

/// Open incidents and those resolved since `since` (ms), newest first.
pub async fn list(store: &Store, since: i64) -> Result<Vec<IncidentSummary>, StoreError> {
    let mut conn = store.pool().acquire().await?;
    let sql = format!("SELECT {COLUMNS}, state, resolved_at FROM incidents WHERE state = 'open' OR resolved_at >= $1 ORDER BY id DESC");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(since).fetch_all(&mut *conn).await?;
    let mut out = Vec::new();
    for row in &rows {
        let id: i64 = row.try_get(0)?;
        let checks = failing_checks(&mut conn, id).await?;
        let all: Vec<String> = sqlx::query("SELECT check_id FROM incident_checks WHERE incident_id = $1 ORDER BY since")
            .bind(id)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        let local = format!("incident:{id}");
        let remote = sqlx::query("SELECT sink, remote_id FROM remote_ids WHERE local_key = $1 ORDER BY sink")
            .bind(&local)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_, sqlx::Error>>()?;
        let history = sqlx::query("SELECT at, kind, detail FROM incident_history WHERE incident_id = $1 ORDER BY id")
            .bind(id)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect::<Result<_, sqlx::Error>>()?;
        out.push(IncidentSummary {
            incident: incident(row, checks)?,
            state: row.try_get(10)?,
            resolved_at: row.try_get(11)?,
            all_checks: all,
            remote,
            history,
        });
    }
    Ok(out)
}

/// Partners with an open incident.
pub async fn partners_with_open_incidents(store: &Store) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query("SELECT DISTINCT partner_id FROM incidents WHERE state = 'open'").fetch_all(store.pool()).await?;
    Ok(rows.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?)
}

/// Checks failing now (per `check_state`) with no open incident and no pending event: those a
/// suppressed triage (no egress) left behind.
pub async fn failing_without_incident(store: &Store) -> Result<Vec<(String, String, i64)>, StoreError> {
    let rows = sqlx::query(
        "SELECT s.check_id, s.partner_id, s.since FROM check_state s WHERE s.state = 'failing' \
         AND NOT EXISTS (SELECT 1 FROM incident_checks c JOIN incidents i ON i.id = c.incident_id \
                         WHERE c.check_id = s.check_id AND c.failing = 1 AND i.state = 'open') \
         AND NOT EXISTS (SELECT 1 FROM check_events e WHERE e.check_id = s.check_id AND e.handled_at IS NULL)",
    )
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))).collect()
}

/// The egress alert: `Some(since)` while Sparky is offline.
pub async fn egress_down_since(store: &Store) -> Result<Option<i64>, StoreError> {
    let row = sqlx::query("SELECT down, since FROM egress WHERE id = 1").fetch_optional(store.pool()).await?;
    Ok(row.and_then(|r| (r.try_get::<i64, _>(0).ok() == Some(1)).then(|| r.try_get(1).ok()).flatten()))
}

/// Records the egress state; true when it changed.
pub async fn set_egress(conn: &mut AnyConnection, down: bool, at: i64) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "INSERT INTO egress (id, down, since, checked_at) VALUES (1, $1, $2, $2) \
         ON CONFLICT (id) DO UPDATE SET down = $1, since = CASE WHEN egress.down = $1 THEN egress.since ELSE $2 END, checked_at = $2 \
         RETURNING since",
    )
    .bind(i64::from(down))
    .bind(at)
    .fetch_one(conn)
    .await?;
    Ok(r.try_get::<i64, _>(0)? == at)
}
