//! Tables `check_results`, `check_state` and `check_events` (as the check engine writes them).
//!
//! Results are written in batches (one transaction, multi-row INSERTs): a check run costs a
//! share of one statement, not a transaction of its own.

use std::collections::HashMap;

use sqlx::Row;

use super::{Backend, Store, StoreError, word};
use crate::model::{CheckState, ErrorKind, Outcome, StateRecord, Timestamp, WarnChange};

/// One result to store.
#[derive(Debug, Clone)]
pub struct ResultRow {
    /// Check id.
    pub check_id: String,
    /// Partner id.
    pub partner_id: String,
    /// When the run started.
    pub at: Timestamp,
    /// How long it took (ms).
    pub duration_ms: i64,
    /// HTTP status, when an answer came.
    pub http_status: Option<i64>,
    /// Pass, warn or fail.
    pub outcome: Outcome,
    /// Error kind of a failure.
    pub error_kind: Option<ErrorKind>,
    /// A short reason.
    pub message: Option<String>,
    /// Every assertion's outcome, JSON.
    pub assertions: String,
    /// A confirmation re-run.
    pub confirmation: bool,
    /// Counts for the state and the success rate (false: superseded by its confirmation).
    pub counted: bool,
}

/// A state to store (only written when it changed).
#[derive(Debug, Clone)]
pub struct StateRow {
    /// Check id.
    pub check_id: String,
    /// Partner id.
    pub partner_id: String,
    /// The state.
    pub record: StateRecord,
}

/// A state change (or a warn notice) to store for triage.
#[derive(Debug, Clone)]
pub struct EventRow {
    /// Check id.
    pub check_id: String,
    /// Partner id.
    pub partner_id: String,
    /// The `at` of the result that caused it (a warn notice `started`: when the spell began).
    pub at: Timestamp,
    /// Before.
    pub from: CheckState,
    /// After.
    pub to: CheckState,
    /// A warn notice (`from == to` then), not a state change.
    pub warn: Option<WarnChange>,
}

/// What the engine writes at once.
#[derive(Debug, Default)]
pub struct Batch {
    /// Results.
    pub results: Vec<ResultRow>,
    /// Changed states.
    pub states: Vec<StateRow>,
    /// State changes.
    pub events: Vec<EventRow>,
}

impl Batch {
    /// Nothing to write.
    pub fn is_empty(&self) -> bool {
        self.results.is_empty() && self.states.is_empty() && self.events.is_empty()
    }
}

/// Rows per multi-row INSERT: a batch is cut into these sizes (largest first), so a handful of
/// statement texts serve every batch and stay in the prepared-statement cache. 11 parameters a
/// row, under every backend's limit.
const CHUNKS: [usize; 8] = [128, 64, 32, 16, 8, 4, 2, 1];

/// The INSERT of `rows` results. SQLite gets anonymous `?` placeholders: it looks a numbered
/// `$N` up by scanning every name, which costs the square of the parameter count.
fn insert_sql(rows: usize, backend: Backend) -> String {
    let row = |i: usize| match backend {
        Backend::Sqlite => "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)".to_owned(),
        Backend::Postgres => format!("(${})", (1..=11).map(|j| (i * 11 + j).to_string()).collect::<Vec<_>>().join(", $")),
    };
    let values: Vec<String> = (0..rows).map(row).collect();
    format!(
        "INSERT INTO check_results (check_id, partner_id, at, duration_ms, http_status, outcome, error_kind, message, assertions, confirmation, counted) VALUES {}",
        values.join(", ")
    )
}

/// Writes a batch in one transaction.
pub async fn write_batch(store: &Store, batch: &Batch) -> Result<(), StoreError> {
    if batch.is_empty() {
        return Ok(());
    }
    let mut tx = store.pool().begin().await?;
    let mut rest: &[ResultRow] = &batch.results;
    while !rest.is_empty() {
        let size = CHUNKS.into_iter().find(|c| *c <= rest.len()).unwrap_or(1);
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        let mut query = sqlx::query(sqlx::AssertSqlSafe(insert_sql(size, store.backend())));
        for r in chunk {
            query = query
                .bind(&r.check_id)
                .bind(&r.partner_id)
                .bind(r.at.as_millis())
                .bind(r.duration_ms)
                .bind(r.http_status)
                .bind(r.outcome.as_str())
                .bind(r.error_kind.map(ErrorKind::as_str))
                .bind(r.message.as_deref())
                .bind(&r.assertions)
                .bind(i64::from(r.confirmation))
                .bind(i64::from(r.counted));
        }
        query.execute(&mut *tx).await?;
    }
    for s in &batch.states {
        sqlx::query(
            "INSERT INTO check_state (check_id, partner_id, state, consecutive_failures, consecutive_successes, since, updated_at, warn_since, warn_notified) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (check_id) DO UPDATE SET partner_id = $2, state = $3, \
             consecutive_failures = $4, consecutive_successes = $5, since = $6, updated_at = $7, warn_since = $8, warn_notified = $9",
        )
        .bind(&s.check_id)
        .bind(&s.partner_id)
        .bind(s.record.state.as_str())
        .bind(i64::from(s.record.consecutive_failures))
        .bind(i64::from(s.record.consecutive_successes))
        .bind(s.record.since.as_millis())
        .bind(Timestamp::now().as_millis())
        .bind(s.record.warn_since.map(Timestamp::as_millis))
        .bind(i64::from(s.record.warn_notified))
        .execute(&mut *tx)
        .await?;
    }
    for e in &batch.events {
        sqlx::query("INSERT INTO check_events (check_id, partner_id, at, from_state, to_state, warn) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&e.check_id)
            .bind(&e.partner_id)
            .bind(e.at.as_millis())
            .bind(e.from.as_str())
            .bind(e.to.as_str())
            .bind(e.warn.map(WarnChange::as_str))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

const STATE_COLUMNS: &str = "check_id, state, consecutive_failures, consecutive_successes, since, warn_since, warn_notified";

fn state_record(row: &sqlx::any::AnyRow) -> Result<(String, StateRecord), StoreError> {
    let count = |i: usize| -> Result<u32, StoreError> { Ok(u32::try_from(row.try_get::<i64, _>(i)?).unwrap_or(0)) };
    let record = StateRecord {
        state: word(row, 1, "check_state.state")?,
        consecutive_failures: count(2)?,
        consecutive_successes: count(3)?,
        since: Timestamp::from_millis(row.try_get(4)?),
        warn_since: row.try_get::<Option<i64>, _>(5)?.map(Timestamp::from_millis),
        warn_notified: row.try_get::<i64, _>(6)? != 0,
    };
    Ok((row.try_get(0)?, record))
}

/// Every stored state, by check id.
pub async fn states(store: &Store) -> Result<HashMap<String, StateRecord>, StoreError> {
    let sql = format!("SELECT {STATE_COLUMNS} FROM check_state");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(store.pool()).await?;
    rows.iter().map(state_record).collect()
}

/// The stored state of `check` (`None`: never stored): what a replica taking the check over
/// starts from.
pub async fn state(store: &Store, check: &str) -> Result<Option<StateRecord>, StoreError> {
    let sql = format!("SELECT {STATE_COLUMNS} FROM check_state WHERE check_id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(check).fetch_optional(store.pool()).await?;
    row.as_ref().map(state_record).transpose().map(|r| r.map(|(_, record)| record))
}

/// A counted result's time, duration and outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// When.
    pub at: Timestamp,
    /// Duration (ms).
    pub duration_ms: i64,
    /// Outcome.
    pub outcome: Outcome,
}

/// The counted results of `check` since `since`, oldest first.
pub async fn samples(store: &Store, check: &str, since: Timestamp) -> Result<Vec<Sample>, StoreError> {
    let rows =
        sqlx::query("SELECT at, duration_ms, outcome FROM check_results WHERE check_id = $1 AND at >= $2 AND counted = 1 ORDER BY at")
            .bind(check)
            .bind(since.as_millis())
            .fetch_all(store.pool())
            .await?;
    rows.iter()
        .map(|row| {
            Ok(Sample {
                at: Timestamp::from_millis(row.try_get(0)?),
                duration_ms: row.try_get(1)?,
                outcome: word::<Outcome>(row, 2, "check_results.outcome")?,
            })
        })
        .collect()
}

/// Deletes results older than `before`; returns how many.
pub async fn prune_results(store: &Store, before: Timestamp) -> Result<u64, StoreError> {
    let result = sqlx::query("DELETE FROM check_results WHERE at < $1").bind(before.as_millis()).execute(store.pool()).await?;
    Ok(result.rows_affected())
}
