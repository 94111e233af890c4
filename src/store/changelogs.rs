//! Tables `feeds` (validators and health per feed), `changelog_entries` (every entry seen) and
//! `changelog_marks` (the identities of entries pruned by retention, never taken for new again).

use sqlx::{AnyConnection, Row};

use super::{Store, StoreError};
use crate::model::{ActionState, EntryState, Timestamp};

/// What is stored about one feed between polls.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedState {
    /// `ETag` of the last 200 answer, sent back as `If-None-Match`.
    pub etag: Option<String>,
    /// `Last-Modified` of the last 200 answer, sent back as `If-Modified-Since`.
    pub last_modified: Option<String>,
    /// When the first successful poll happened; `None`: the next success is the first.
    pub first_polled_at: Option<Timestamp>,
    /// Last successful poll, 304 included.
    pub last_success_at: Option<Timestamp>,
    /// Failed polls since the last success.
    pub consecutive_failures: i64,
    /// The last error, kept until the next success.
    pub last_error: Option<String>,
}

/// An entry as the changelog watcher hands it to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryRecord {
    /// Stable identity within the partner (guid/id, else link, else a hash of title + date).
    pub key: String,
    /// Plain-text title.
    pub title: String,
    /// Absolute link, when the feed gives one.
    pub link: Option<String>,
    /// Publication (else update) time.
    pub published_at: Option<Timestamp>,
    /// Plain-text summary, already cut to length.
    pub summary: String,
    /// Tags from the keyword rules.
    pub tags: Vec<String>,
}

/// An entry claimed for a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedEntry {
    /// The partner.
    pub partner_id: String,
    /// The feed it came from.
    pub feed_url: String,
    /// Set when the poll that found it found more than `max_new` unseen entries (then this
    /// `max_new`): the digest shows the poll's entries as one section, the newest few listed.
    pub flood: Option<usize>,
    /// The entry.
    pub entry: EntryRecord,
}

/// What [`record_success`] stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recorded {
    /// Keys of the entries stored for the first time, in feed order.
    pub new: Vec<String>,
    /// Of those, the ones left `pending` for the digest.
    pub pending: Vec<String>,
    /// Of those, the ones recorded as `seen`, never posted, because an entry of the partner
    /// already stored has the same link (or, without a link, the same title and date): a feed
    /// that rewrote its ids.
    pub duplicates: Vec<String>,
    /// Set when more than `max_new` entries were left pending (then that `max_new`): they are
    /// marked for one digest section ([`ClaimedEntry::flood`]).
    pub flood: Option<usize>,
}

/// Reads the stored state of a feed (default when never polled).
pub async fn feed_state(store: &Store, partner: &str, url: &str) -> Result<FeedState, StoreError> {
    let row = sqlx::query(
        "SELECT etag, last_modified, first_polled_at, last_success_at, consecutive_failures, last_error \
         FROM feeds WHERE partner_id = $1 AND url = $2",
    )
    .bind(partner)
    .bind(url)
    .fetch_optional(store.pool())
    .await?;
    let Some(row) = row else { return Ok(FeedState::default()) };
    Ok(FeedState {
        etag: row.try_get(0)?,
        last_modified: row.try_get(1)?,
        first_polled_at: row.try_get::<Option<i64>, _>(2)?.map(Timestamp::from_millis),
        last_success_at: row.try_get::<Option<i64>, _>(3)?.map(Timestamp::from_millis),
        consecutive_failures: row.try_get(4)?,
        last_error: row.try_get(5)?,
    })
}

/// Records a failed poll; returns the number of consecutive failures.
pub async fn record_failure(store: &Store, partner: &str, url: &str, error: &str) -> Result<i64, StoreError> {
    let now = Timestamp::now().as_millis();
    let row = sqlx::query(
        "INSERT INTO feeds (partner_id, url, last_attempt_at, consecutive_failures, last_error) VALUES ($1, $2, $3, 1, $4) \
         ON CONFLICT (partner_id, url) DO UPDATE SET last_attempt_at = $3, \
         consecutive_failures = feeds.consecutive_failures + 1, last_error = $4 \
         RETURNING consecutive_failures",
    )
    .bind(partner)
    .bind(url)
    .bind(now)
    .bind(error)
    .fetch_one(store.pool())
    .await?;
    Ok(row.try_get(0)?)
}

/// Records a 304 answer: the feed is healthy and nothing changed.
pub async fn record_not_modified(store: &Store, partner: &str, url: &str) -> Result<(), StoreError> {
    let now = Timestamp::now().as_millis();
    sqlx::query(
        "UPDATE feeds SET last_attempt_at = $3, last_success_at = $3, consecutive_failures = 0, last_error = NULL \
         WHERE partner_id = $1 AND url = $2",
    )
    .bind(partner)
    .bind(url)
    .bind(now)
    .execute(store.pool())
    .await?;
    Ok(())
}

/// Records a successful poll and its entries in one transaction.
///
/// Entries already stored (by an earlier poll, another feed of the partner or another process),
/// or stored once and pruned by retention since (`changelog_marks`), are left as they are; new
/// ones are stored as `pending` when `pending(entry)` says so, else `seen`. A new entry whose
/// link (or, without one, title and date) is that of an entry of the partner already stored is a
/// duplicate under a new id: stored as `seen`. When more than `max_new` entries are left pending
/// (`None`: no limit, a first poll bounded by its backfill), each is marked with `max_new` for
/// the digest's flood section. Every entry is recorded either way, so the next poll finds it
/// known.
pub async fn record_success(
    store: &Store,
    partner: &str,
    url: &str,
    validators: (Option<&str>, Option<&str>),
    entries: &[EntryRecord],
    pending: impl Fn(&EntryRecord) -> bool,
    max_new: Option<usize>,
) -> Result<Recorded, StoreError> {
    let now = Timestamp::now().as_millis();
    let mut tx = store.pool().begin().await?;
    // The feed row is written first so SQLite takes its write lock before any read.
    sqlx::query(
        "INSERT INTO feeds (partner_id, url, etag, last_modified, first_polled_at, last_attempt_at, last_success_at, consecutive_failures) \
         VALUES ($1, $2, $3, $4, $5, $5, $5, 0) \
         ON CONFLICT (partner_id, url) DO UPDATE SET etag = $3, last_modified = $4, \
         first_polled_at = COALESCE(feeds.first_polled_at, $5), last_attempt_at = $5, last_success_at = $5, \
         consecutive_failures = 0, last_error = NULL",
    )
    .bind(partner)
    .bind(url)
    .bind(validators.0)
    .bind(validators.1)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let mut recorded = Recorded::default();
    for entry in entries {
        let state = if pending(entry) { EntryState::Pending } else { EntryState::Seen };
        if !insert_entry(&mut tx, partner, url, entry, state, now).await? {
            continue;
        }
        recorded.new.push(entry.key.clone());
        if state != EntryState::Pending {
            continue;
        }
        if is_duplicate(&mut tx, partner, entry).await? {
            set_state(&mut tx, partner, &entry.key, EntryState::Seen).await?;
            recorded.duplicates.push(entry.key.clone());
        } else {
            recorded.pending.push(entry.key.clone());
        }
    }
    if let Some(max) = max_new.filter(|max| recorded.pending.len() > *max) {
        for key in &recorded.pending {
            sqlx::query("UPDATE changelog_entries SET flood_max_new = $3 WHERE partner_id = $1 AND entry_key = $2")
                .bind(partner)
                .bind(key)
                .bind(i64::try_from(max).unwrap_or(i64::MAX))
                .execute(&mut *tx)
                .await?;
        }
        recorded.flood = Some(max);
    }
    tx.commit().await?;
    Ok(recorded)
}

/// Whether another entry of `partner` has the link of `e` or, when `e` has none, its title and
/// date (an entry with neither link nor date has nothing to compare by).
async fn is_duplicate(conn: &mut AnyConnection, partner: &str, e: &EntryRecord) -> Result<bool, StoreError> {
    let found =
        match (e.link.as_deref(), e.published_at) {
            (Some(link), _) => {
                sqlx::query("SELECT 1 FROM changelog_entries WHERE partner_id = $1 AND link = $2 AND entry_key <> $3 LIMIT 1")
                    .bind(partner)
                    .bind(link)
                    .bind(&e.key)
                    .fetch_optional(conn)
                    .await?
            }
            (None, Some(at)) => sqlx::query(
                "SELECT 1 FROM changelog_entries WHERE partner_id = $1 AND title = $2 AND published_at = $3 AND entry_key <> $4 LIMIT 1",
            )
            .bind(partner)
            .bind(&e.title)
            .bind(at.as_millis())
            .bind(&e.key)
            .fetch_optional(conn)
            .await?,
            (None, None) => None,
        };
    Ok(found.is_some())
}

async fn set_state(conn: &mut AnyConnection, partner: &str, key: &str, state: EntryState) -> Result<(), StoreError> {
    sqlx::query("UPDATE changelog_entries SET state = $3 WHERE partner_id = $1 AND entry_key = $2")
        .bind(partner)
        .bind(key)
        .bind(state.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

async fn insert_entry(
    conn: &mut AnyConnection,
    partner: &str,
    url: &str,
    e: &EntryRecord,
    state: EntryState,
    now: i64,
) -> Result<bool, StoreError> {
    // An entry pruned by retention left its mark: it is not new, whatever the feed shows.
    let result = sqlx::query(
        "INSERT INTO changelog_entries (partner_id, entry_key, feed_url, title, link, published_at, summary, tags, first_seen_at, state) \
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 \
         WHERE NOT EXISTS (SELECT 1 FROM changelog_marks WHERE partner_id = $1 AND entry_key = $2) \
         ON CONFLICT (partner_id, entry_key) DO NOTHING",
    )
    .bind(partner)
    .bind(&e.key)
    .bind(url)
    .bind(&e.title)
    .bind(e.link.as_deref())
    .bind(e.published_at.map(Timestamp::as_millis))
    .bind(&e.summary)
    .bind(e.tags.join(","))
    .bind(now)
    .bind(state.as_str())
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Moves every `pending` entry to `queued` and returns them.
///
/// A single UPDATE, so two processes never claim the same entry; call it inside the transaction
/// that also writes the digest actions and [`attach_action`].
pub async fn claim_pending(conn: &mut AnyConnection) -> Result<Vec<ClaimedEntry>, StoreError> {
    let rows = sqlx::query(
        "UPDATE changelog_entries SET state = $1 WHERE state = $2 \
         RETURNING partner_id, entry_key, title, link, published_at, summary, tags, feed_url, flood_max_new",
    )
    .bind(EntryState::Queued.as_str())
    .bind(EntryState::Pending.as_str())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            let tags: String = row.try_get(6)?;
            let entry = EntryRecord {
                key: row.try_get(1)?,
                title: row.try_get(2)?,
                link: row.try_get(3)?,
                published_at: row.try_get::<Option<i64>, _>(4)?.map(Timestamp::from_millis),
                summary: row.try_get(5)?,
                tags: tags.split(',').filter(|t| !t.is_empty()).map(str::to_owned).collect(),
            };
            let flood: Option<i64> = row.try_get(8)?;
            Ok(ClaimedEntry {
                partner_id: row.try_get(0)?,
                feed_url: row.try_get(7)?,
                flood: flood.and_then(|m| usize::try_from(m).ok()),
                entry,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map_err(StoreError::from)
}

/// Links a claimed entry to the outbox action that carries it.
pub async fn attach_action(conn: &mut AnyConnection, partner: &str, key: &str, action_id: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE changelog_entries SET action_id = $3 WHERE partner_id = $1 AND entry_key = $2")
        .bind(partner)
        .bind(key)
        .bind(action_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Counts of entries by delivery status, derived from the entry state and its action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EntryCounts {
    /// Never posted (beyond a first poll's backfill).
    pub seen: i64,
    /// Awaiting a digest, or carried by an action not yet delivered.
    pub undelivered: i64,
    /// Posted.
    pub delivered: i64,
}

/// Entry counts for one partner (all partners with `None`).
pub async fn entry_counts(store: &Store, partner: Option<&str>) -> Result<EntryCounts, StoreError> {
    // Posted: its action is done (delivered, or printed by the log sink), or was pruned by
    // retention (only done actions are pruned: `store::retention`). Entries pruned themselves
    // (their marks in `changelog_marks`) are no longer counted.
    let row = sqlx::query(
        "SELECT \
           COALESCE(SUM(CASE WHEN e.state = $2 THEN 1 ELSE 0 END), 0), \
           COALESCE(SUM(CASE WHEN e.state <> $2 AND NOT (COALESCE(o.state, '') IN ($3, $4) OR (e.action_id IS NOT NULL AND o.id IS NULL)) THEN 1 ELSE 0 END), 0), \
           COALESCE(SUM(CASE WHEN o.state IN ($3, $4) OR (e.action_id IS NOT NULL AND o.id IS NULL) THEN 1 ELSE 0 END), 0) \
         FROM changelog_entries e LEFT JOIN outbox o ON o.id = e.action_id \
         WHERE $1 = '' OR e.partner_id = $1",
    )
    .bind(partner.unwrap_or(""))
    .bind(EntryState::Seen.as_str())
    .bind(ActionState::Delivered.as_str())
    .bind(ActionState::Printed.as_str())
    .fetch_one(store.pool())
    .await?;
    Ok(EntryCounts { seen: row.try_get(0)?, undelivered: row.try_get(1)?, delivered: row.try_get(2)? })
}

/// Every stored entry of `partner`, oldest first (`sparky compat scan` reads them again).
///
/// # Errors
/// A query failed.
pub async fn entries(store: &Store, partner: &str) -> Result<Vec<EntryRecord>, StoreError> {
    let rows = sqlx::query(
        "SELECT entry_key, title, link, published_at, summary, tags FROM changelog_entries WHERE partner_id = $1 \
         ORDER BY first_seen_at, entry_key",
    )
    .bind(partner)
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(entry_record).collect()
}

/// The newest `limit` entries of every partner (`partner` only, when given), newest first by
/// publication (first seen when the feed gives no date): `(partner, entry)`.
///
/// # Errors
/// A query failed.
pub async fn recent(store: &Store, partner: Option<&str>, limit: i64) -> Result<Vec<(String, EntryRecord)>, StoreError> {
    let rows = sqlx::query(
        "SELECT entry_key, title, link, published_at, summary, tags, partner_id FROM changelog_entries \
         WHERE ($1 IS NULL OR partner_id = $1) ORDER BY COALESCE(published_at, first_seen_at) DESC, entry_key LIMIT $2",
    )
    .bind(partner)
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(|row| Ok((row.try_get(6)?, entry_record(row)?))).collect()
}

fn entry_record(row: &sqlx::any::AnyRow) -> Result<EntryRecord, StoreError> {
    let tags: String = row.try_get(5)?;
    Ok(EntryRecord {
        key: row.try_get(0)?,
        title: row.try_get(1)?,
        link: row.try_get(2)?,
        published_at: row.try_get::<Option<i64>, _>(3)?.map(Timestamp::from_millis),
        summary: row.try_get(4)?,
        tags: tags.split(',').filter(|t| !t.is_empty()).map(str::to_owned).collect(),
    })
}
