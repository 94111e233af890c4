//! Tables `partner_status` (validators, page health), `status_snapshots` (what each page said,
//! one row per change) and `status_events` (every change).

use sqlx::Row;

use super::outbox::{NewAction, insert as insert_action};
use super::{Store, StoreError};
use crate::sources::status_pages::PartnerStatus;
use crate::sources::status_pages::history::{EventDetail, EventKind, StatusEvent};

/// What is stored about one partner's page.
#[derive(Debug, Clone, Default)]
pub struct PageState {
    /// `ETag` of the last 200 answer.
    pub etag: Option<String>,
    /// `Last-Modified` of the last 200 answer.
    pub last_modified: Option<String>,
    /// Failed polls in a row.
    pub consecutive_failures: i64,
    /// Last successful poll (ms).
    pub last_success_at: Option<i64>,
    /// The latest snapshot and when it was taken (ms).
    pub latest: Option<(i64, PartnerStatus)>,
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
    /// When (ms).
    pub at: i64,
    /// How the fetch went.
    pub fetch: Fetch,
    /// The new snapshot, when it differs from the stored one.
    pub changed: Option<&'a PartnerStatus>,
    /// The changes.
    pub events: &'a [StatusEvent],
    /// Notices to deliver.
    pub notices: &'a [NewAction],
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
        state.last_success_at = row.try_get(3)?;
    }
    state.latest = snapshot_at(store, partner, i64::MAX).await?;
    Ok(state)
}

/// The snapshot in force at `at` (ms): the latest taken at or before it.
pub async fn snapshot_at(store: &Store, partner: &str, at: i64) -> Result<Option<(i64, PartnerStatus)>, StoreError> {
    let row = sqlx::query("SELECT at, snapshot FROM status_snapshots WHERE partner_id = $1 AND at <= $2 ORDER BY at DESC LIMIT 1")
        .bind(partner)
        .bind(at)
        .fetch_optional(store.pool())
        .await?;
    let Some(row) = row else { return Ok(None) };
    let json: String = row.try_get(1)?;
    let status =
        serde_json::from_str(&json).map_err(|e| StoreError::Corrupt { what: "status_snapshots.snapshot", reason: e.to_string() })?;
    Ok(Some((row.try_get(0)?, status)))
}

/// Writes a poll: page health, the new snapshot, its events and notices, atomically.
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
    .bind(rec.at)
    .bind(i64::from(success))
    .bind(etag)
    .bind(last_modified)
    .bind(i64::from(keep_validators))
    .execute(&mut *tx)
    .await?;
    if let Some(snapshot) = rec.changed {
        let json = serde_json::to_string(snapshot)
            .map_err(|e| StoreError::Corrupt { what: "status_snapshots.snapshot", reason: e.to_string() })?;
        sqlx::query("INSERT INTO status_snapshots (partner_id, at, indicator, snapshot) VALUES ($1, $2, $3, $4) ON CONFLICT (partner_id, at) DO UPDATE SET indicator = $3, snapshot = $4")
            .bind(rec.partner)
            .bind(rec.at)
            .bind(snapshot.indicator.as_str())
            .bind(json)
            .execute(&mut *tx)
            .await?;
    }
    for event in rec.events {
        let detail = serde_json::to_string(&event.detail).unwrap_or_else(|_| "{}".to_owned());
        sqlx::query(
            "INSERT INTO status_events (partner_id, at, kind, subject, old_value, new_value, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(rec.partner)
        .bind(rec.at)
        .bind(event.kind.as_str())
        .bind(&event.subject)
        .bind(event.old.as_deref())
        .bind(event.new.as_deref())
        .bind(detail)
        .execute(&mut *tx)
        .await?;
    }
    for notice in rec.notices {
        insert_action(&mut tx, notice).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A stored event.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StoredEvent {
    /// When (ms).
    pub at: i64,
    /// The event.
    #[serde(flatten)]
    pub event: StatusEvent,
}

/// A partner's events from `since` (ms), oldest first, at most `limit`.
pub async fn events(store: &Store, partner: &str, since: i64, limit: i64) -> Result<Vec<StoredEvent>, StoreError> {
    let rows = sqlx::query(
        "SELECT at, kind, subject, old_value, new_value, detail FROM status_events WHERE partner_id = $1 AND at >= $2 ORDER BY id DESC LIMIT $3",
    )
    .bind(partner)
    .bind(since)
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    let mut events = rows
        .iter()
        .map(|row| {
            let kind: String = row.try_get(1)?;
            let detail: String = row.try_get(5)?;
            let kind = EventKind::parse(&kind).ok_or_else(|| StoreError::Corrupt { what: "status_events.kind", reason: kind.clone() })?;
            let detail: EventDetail = serde_json::from_str(&detail).unwrap_or_default();
            Ok(StoredEvent {
                at: row.try_get(0)?,
                event: StatusEvent { kind, subject: row.try_get(2)?, old: row.try_get(3)?, new: row.try_get(4)?, detail },
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    events.reverse();
    Ok(events)
}
