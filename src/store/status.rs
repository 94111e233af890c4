//! Tables `partner_status` (validators, page health), `status_snapshots` (what each page said,
//! one row per change) and `status_events` (every change; `noticed_at` once the notices stage
//! has turned it into Slack notices).

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{Store, StoreError, corrupt, word};
use crate::model::{EventDetail, Indicator, PartnerStatus, StatusEvent, Timestamp};

/// What is stored about one partner's page.
#[derive(Debug, Clone, Default)]
pub struct PageState {
    /// `ETag` of the last 200 answer.
    pub etag: Option<String>,
    /// `Last-Modified` of the last 200 answer.
    pub last_modified: Option<String>,
    /// Failed polls in a row.
    pub consecutive_failures: i64,
    /// Last successful poll.
    pub last_success_at: Option<Timestamp>,
    /// The latest snapshot and when it was taken.
    pub latest: Option<(Timestamp, PartnerStatus)>,
}

/// How the fetch of a poll went.
#[derive(Debug, Clone)]
pub enum Fetch {
    /// 200 with these validators.
    Fresh {
        /// `ETag`.
        etag: Option<String>,
        /// `Last-Modified`.
        last_modified: Option<String>,
    },
    /// 304: the page did not change.
    NotModified,
    /// The page could not be fetched or parsed.
    Failed,
}

/// Everything one poll writes, in one transaction.
#[derive(Debug)]
pub struct PollRecord<'a> {
    /// The partner.
    pub partner: &'a str,
    /// When.
    pub at: Timestamp,
    /// How the fetch went.
    pub fetch: Fetch,
    /// The new snapshot, when it differs from the stored one.
    pub changed: Option<&'a PartnerStatus>,
    /// The changes.
    pub events: &'a [StatusEvent],
}

/// Reads a partner's page state.
pub async fn page_state(store: &Store, partner: &str) -> Result<PageState, StoreError> {
    let mut state = PageState::default();
    let row = sqlx::query("SELECT etag, last_modified, consecutive_failures, last_success_at FROM partner_status WHERE partner_id = $1")
        .bind(partner)
        .fetch_optional(store.pool())
        .await?;
    if let Some(row) = row {
        state.etag = row.try_get(0)?;
        state.last_modified = row.try_get(1)?;
        state.consecutive_failures = row.try_get(2)?;
        state.last_success_at = row.try_get::<Option<i64>, _>(3)?.map(Timestamp::from_millis);
    }
    state.latest = snapshot_at(store, partner, Timestamp::MAX).await?;
    Ok(state)
}

/// The snapshot in force at `at`: the latest taken at or before it.
pub async fn snapshot_at(store: &Store, partner: &str, at: Timestamp) -> Result<Option<(Timestamp, PartnerStatus)>, StoreError> {
    let row = sqlx::query("SELECT at, snapshot FROM status_snapshots WHERE partner_id = $1 AND at <= $2 ORDER BY at DESC LIMIT 1")
        .bind(partner)
        .bind(at.as_millis())
        .fetch_optional(store.pool())
        .await?;
    let Some(row) = row else { return Ok(None) };
    let json: String = row.try_get(1)?;
    let status = serde_json::from_str(&json).map_err(|e| corrupt("status_snapshots.snapshot", e.to_string()))?;
    Ok(Some((Timestamp::from_millis(row.try_get(0)?), status)))
}

/// Writes a poll: page health, the new snapshot and its events, atomically.
pub async fn record_poll(store: &Store, rec: &PollRecord<'_>) -> Result<(), StoreError> {
    let mut tx = store.pool().begin().await?;
    // The health row is written first, so SQLite takes its write lock before any read.
    let (success, etag, last_modified) = match &rec.fetch {
        Fetch::Fresh { etag, last_modified } => (true, etag.as_deref(), last_modified.as_deref()),
        Fetch::NotModified => (true, None, None),
        Fetch::Failed => (false, None, None),
    };
    let keep_validators = matches!(rec.fetch, Fetch::NotModified | Fetch::Failed);
    sqlx::query(
        "INSERT INTO partner_status (partner_id, fetched_at, last_success_at, consecutive_failures, etag, last_modified) \
         VALUES ($1, $2, CASE WHEN $3 = 1 THEN $2 ELSE NULL END, CASE WHEN $3 = 1 THEN 0 ELSE 1 END, $4, $5) \
         ON CONFLICT (partner_id) DO UPDATE SET fetched_at = $2, \
           last_success_at = CASE WHEN $3 = 1 THEN $2 ELSE partner_status.last_success_at END, \
           consecutive_failures = CASE WHEN $3 = 1 THEN 0 ELSE partner_status.consecutive_failures + 1 END, \
           etag = CASE WHEN $6 = 1 THEN partner_status.etag ELSE $4 END, \
           last_modified = CASE WHEN $6 = 1 THEN partner_status.last_modified ELSE $5 END",
    )
    .bind(rec.partner)
    .bind(rec.at.as_millis())
    .bind(i64::from(success))
    .bind(etag)
    .bind(last_modified)
    .bind(i64::from(keep_validators))
    .execute(&mut *tx)
    .await?;
    if let Some(snapshot) = rec.changed {
        let json = serde_json::to_string(snapshot).map_err(|e| corrupt("status_snapshots.snapshot", e.to_string()))?;
        sqlx::query(
            "INSERT INTO status_snapshots (partner_id, at, indicator, snapshot) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (partner_id, at) DO UPDATE SET indicator = $3, snapshot = $4",
        )
        .bind(rec.partner)
        .bind(rec.at.as_millis())
        .bind(snapshot.indicator.as_str())
        .bind(json)
        .execute(&mut *tx)
        .await?;
    }
    for event in rec.events {
        let detail = serde_json::to_string(&event.detail).map_err(|e| corrupt("status_events.detail", e.to_string()))?;
        sqlx::query(
            "INSERT INTO status_events (partner_id, at, kind, subject, old_value, new_value, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(rec.partner)
        .bind(rec.at.as_millis())
        .bind(event.kind.as_str())
        .bind(&event.subject)
        .bind(event.old.as_deref())
        .bind(event.new.as_deref())
        .bind(detail)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A stored event.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StoredEvent {
    /// The partner.
    pub partner: String,
    /// When.
    pub at: Timestamp,
    /// The event.
    #[serde(flatten)]
    pub event: StatusEvent,
    /// The page indicator after the poll that found it (`unknown` if no snapshot says).
    pub indicator: Indicator,
}

const EVENT_COLUMNS: &str = "e.partner_id, e.at, e.kind, e.subject, e.old_value, e.new_value, e.detail, s.indicator";
const EVENT_FROM: &str = "status_events e LEFT JOIN status_snapshots s ON s.partner_id = e.partner_id AND s.at = e.at";

fn event(row: &AnyRow) -> Result<StoredEvent, StoreError> {
    let detail: String = row.try_get(6)?;
    let detail: EventDetail = serde_json::from_str(&detail).map_err(|e| corrupt("status_events.detail", e.to_string()))?;
    let indicator: Option<String> = row.try_get(7)?;
    Ok(StoredEvent {
        partner: row.try_get(0)?,
        at: Timestamp::from_millis(row.try_get(1)?),
        event: StatusEvent {
            kind: word(row, 2, "status_events.kind")?,
            subject: row.try_get(3)?,
            old: row.try_get(4)?,
            new: row.try_get(5)?,
            detail,
        },
        indicator: indicator.and_then(|w| w.parse().ok()).unwrap_or(Indicator::Unknown),
    })
}

/// A partner's events from `since`, oldest first, at most `limit` (the newest ones).
pub async fn events(store: &Store, partner: &str, since: Timestamp, limit: i64) -> Result<Vec<StoredEvent>, StoreError> {
    let sql = format!("SELECT {EVENT_COLUMNS} FROM {EVENT_FROM} WHERE e.partner_id = $1 AND e.at >= $2 ORDER BY e.id DESC LIMIT $3");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(partner).bind(since.as_millis()).bind(limit).fetch_all(store.pool()).await?;
    let mut events = rows.iter().map(event).collect::<Result<Vec<_>, _>>()?;
    events.reverse();
    Ok(events)
}

/// Marks every event not yet noticed as noticed at `now` and returns them, oldest first: the
/// first statement of the notices stage's transaction (two replicas never claim one event).
pub async fn claim_unnoticed(conn: &mut AnyConnection, now: Timestamp) -> Result<Vec<StoredEvent>, StoreError> {
    let ids: Vec<i64> = sqlx::query("UPDATE status_events SET noticed_at = $1 WHERE noticed_at IS NULL RETURNING id")
        .bind(now.as_millis())
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let sql = format!("SELECT {EVENT_COLUMNS} FROM {EVENT_FROM} WHERE e.id IN ({list}) ORDER BY e.id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&mut *conn).await?;
    rows.iter().map(event).collect()
}
