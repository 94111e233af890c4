//! Retention: [`prune`] deletes the history older than `[retention]` allows, table by table, and
//! keeps what must outlive a row in compact tables, so nothing is ever sent twice because its
//! row is gone:
//!
//! - **outbox**: only done actions (`delivered`, `printed`), by the time they were done. Their
//!   idempotency keys move to `outbox_keys` in the same transaction, and a row is deleted only
//!   once its key is there, so [`super::outbox::insert`] still skips a notice that re-appears
//!   (its key is permanent: `status:PARTNER:incident:ID:opened`). Pending, retrying, blocked and
//!   dead actions are never pruned, whatever their age.
//! - **changelog entries**: an entry is its own dedupe mark (a key is stored once, and only a
//!   new key is posted), and a feed may go on showing an entry for years. So an entry is pruned
//!   only once it is done (never posted, or its digest action done or gone: never one awaiting
//!   a digest or carried by an undone action), and its identity (partner, entry key) moves to
//!   `changelog_marks` first; an entry the feed still shows is then not new again. The digest
//!   keys of its messages stay in `outbox_keys` too.
//! - **status history**: snapshots older than the horizon, except each partner's latest and the
//!   one in force at the horizon (what the next poll compares against, and what `sparky status
//!   --at` answers for the oldest time still kept); events already noticed.
//! - **check results** (all) and **check events** already triaged.
//! - **incidents**: resolved ones, by the time they were resolved, and only when no action of
//!   their chains (`incident:ID:SINK`) is left in the outbox; with them go their history, their
//!   checks, their remote ids (`incident:ID`), the `outbox_keys` of their actions (keys
//!   `incident:ID:...`: ids are never reused and nothing plans an action for an incident that
//!   is gone) and, on the built-in status page, the resolved public incident. Open incidents
//!   and everything of theirs are never pruned.
//! - **job ticks**: finished ones older than a day.
//!
//! The compact tables grow by a few hundred bytes per posted digest, notice and entry; they are
//! the price of "never twice" for keys that can come back.

use serde::Serialize;
use sqlx::{AnyConnection, Row};

use super::{Store, StoreError};
use crate::config::RetentionConfig;
use crate::model::statuspage::IncidentStatus;
use crate::model::{ActionState, EntryState, IncidentState, Timestamp};

/// Finished job ticks are kept this long (the latest tick of each job is what the scheduler's
/// catch-up reads, and it is always younger than its period).
const TICKS: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Webhook delivery ids are kept this long: GitHub redelivers a delivery (by hand, or an app's
/// redelivery job) within 3 days; a replay older than a week is not a replay to worry about.
const DELIVERIES: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// Incidents deleted per statement.
const IDS_PER_STATEMENT: usize = 200;

/// What one [`prune`] deleted, and what it kept in the compact tables, in rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Pruned {
    /// Done outbox actions deleted.
    pub outbox: u64,
    /// Idempotency keys of those actions newly kept in `outbox_keys`.
    pub outbox_keys_kept: u64,
    /// Keys deleted from `outbox_keys` with their incidents.
    pub outbox_keys: u64,
    /// Status snapshots deleted.
    pub status_snapshots: u64,
    /// Status events deleted.
    pub status_events: u64,
    /// Check results deleted.
    pub check_results: u64,
    /// Check events deleted.
    pub check_events: u64,
    /// Resolved incidents deleted.
    pub incidents: u64,
    /// Their history entries.
    pub incident_history: u64,
    /// Their checks.
    pub incident_checks: u64,
    /// Their remote ids.
    pub remote_ids: u64,
    /// Resolved public incidents deleted (built-in status page).
    pub public_incidents: u64,
    /// Changelog entries deleted.
    pub changelog_entries: u64,
    /// Their identities newly kept in `changelog_marks`.
    pub changelog_marks_kept: u64,
    /// Finished job ticks deleted.
    pub job_runs: u64,
    /// Webhook delivery ids deleted.
    pub github_deliveries: u64,
}

impl Pruned {
    /// Rows deleted, by table (the label of `sparky_retention_pruned_rows_total`).
    pub fn deleted(&self) -> [(&'static str, u64); 14] {
        [
            ("outbox", self.outbox),
            ("outbox_keys", self.outbox_keys),
            ("status_snapshots", self.status_snapshots),
            ("status_events", self.status_events),
            ("check_results", self.check_results),
            ("check_events", self.check_events),
            ("incidents", self.incidents),
            ("incident_history", self.incident_history),
            ("incident_checks", self.incident_checks),
            ("remote_ids", self.remote_ids),
            ("public_incidents", self.public_incidents),
            ("changelog_entries", self.changelog_entries),
            ("job_runs", self.job_runs),
            ("github_deliveries", self.github_deliveries),
        ]
    }

    /// Every row deleted.
    pub fn total(&self) -> u64 {
        self.deleted().iter().map(|(_, n)| n).sum()
    }
}

/// Deletes what `retention` no longer keeps at `now` (see the module documentation for what
/// each table keeps whatever its age). Each table family is pruned in its own transaction, so a
/// failure leaves the families already pruned pruned and the rest as they were; running it again
/// is harmless. Cost: a statement or two per table; the big tables are read through an index
/// (check results by time, the outbox through its partial index of done actions), the others
/// hold a few thousand rows once pruned and are scanned (`cargo bench --bench retention_year`:
/// tens of milliseconds a day for the shipped partner set).
///
/// Errors: [`StoreError::Query`] when a statement fails.
pub async fn prune(store: &Store, retention: &RetentionConfig, now: Timestamp) -> Result<Pruned, StoreError> {
    let cutoff = |d: crate::config::Duration| now - d.get();
    let mut pruned = Pruned::default();
    (pruned.outbox, pruned.outbox_keys_kept) = prune_outbox(store, cutoff(retention.delivered_actions)).await?;
    (pruned.changelog_entries, pruned.changelog_marks_kept) = prune_entries(store, cutoff(retention.changelog_entries)).await?;
    (pruned.status_snapshots, pruned.status_events) = prune_status(store, cutoff(retention.status_history)).await?;
    pruned.check_results = super::synthetics::prune_results(store, cutoff(retention.check_results)).await?;
    pruned.check_events = sqlx::query("DELETE FROM check_events WHERE at < $1 AND handled_at IS NOT NULL")
        .bind(cutoff(retention.check_events).as_millis())
        .execute(store.pool())
        .await?
        .rows_affected();
    prune_incidents(store, cutoff(retention.incident_history), &mut pruned).await?;
    pruned.job_runs = super::jobs::prune(store, now - TICKS).await?;
    pruned.github_deliveries = sqlx::query("DELETE FROM github_deliveries WHERE received_at < $1")
        .bind((now - DELIVERIES).as_millis())
        .execute(store.pool())
        .await?
        .rows_affected();
    Ok(pruned)
}

/// `('delivered', 'printed')`: with `state IN` before it, written as the partial index
/// `outbox_done` is, so SQLite and PostgreSQL both read the done actions through it (words of
/// the vocabulary: nothing to escape).
fn done_states() -> String {
    let [delivered, printed] = ActionState::DONE;
    format!("('{}', '{}')", delivered.as_str(), printed.as_str())
}

/// Moves the keys of done actions done before `cutoff` to `outbox_keys`, then deletes those
/// actions whose key is kept, in one transaction: (deleted, keys newly kept).
async fn prune_outbox(store: &Store, cutoff: Timestamp) -> Result<(u64, u64), StoreError> {
    let done = done_states();
    let mut tx = store.pool().begin().await?;
    let kept = sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO outbox_keys (idempotency_key, created_at) SELECT idempotency_key, created_at FROM outbox \
         WHERE state IN {done} AND delivered_at < $1 ON CONFLICT (idempotency_key) DO NOTHING"
    )))
    .bind(cutoff.as_millis())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    // Only rows whose key is kept: one that turned done between the two statements waits for
    // the next run.
    let deleted = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM outbox WHERE state IN {done} AND delivered_at < $1 \
         AND EXISTS (SELECT 1 FROM outbox_keys k WHERE k.idempotency_key = outbox.idempotency_key)"
    )))
    .bind(cutoff.as_millis())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok((deleted, kept))
}

/// Marks, then deletes, the entries first seen before `cutoff` that are done: never to be
/// posted (`seen`), or queued with no undone action carrying them. (deleted, marks newly kept).
async fn prune_entries(store: &Store, cutoff: Timestamp) -> Result<(u64, u64), StoreError> {
    let done = done_states();
    let prunable = format!(
        "changelog_entries.first_seen_at < $1 AND changelog_entries.state <> '{pending}' \
         AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.id = changelog_entries.action_id AND o.state NOT IN {done})",
        pending = EntryState::Pending.as_str()
    );
    let mut tx = store.pool().begin().await?;
    let kept = sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO changelog_marks (partner_id, entry_key, first_seen_at) \
         SELECT partner_id, entry_key, first_seen_at FROM changelog_entries WHERE {prunable} \
         ON CONFLICT (partner_id, entry_key) DO NOTHING"
    )))
    .bind(cutoff.as_millis())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let deleted = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM changelog_entries WHERE {prunable} AND EXISTS (SELECT 1 FROM changelog_marks m \
         WHERE m.partner_id = changelog_entries.partner_id AND m.entry_key = changelog_entries.entry_key)"
    )))
    .bind(cutoff.as_millis())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok((deleted, kept))
}

/// (snapshots, events) deleted: snapshots taken before `cutoff` except each partner's one in
/// force at `cutoff` (its latest when nothing changed since), and noticed events before it.
async fn prune_status(store: &Store, cutoff: Timestamp) -> Result<(u64, u64), StoreError> {
    let snapshots = sqlx::query(
        "DELETE FROM status_snapshots WHERE at < $1 AND at < (SELECT MAX(s.at) FROM status_snapshots s \
         WHERE s.partner_id = status_snapshots.partner_id AND s.at <= $1)",
    )
    .bind(cutoff.as_millis())
    .execute(store.pool())
    .await?
    .rows_affected();
    let events = sqlx::query("DELETE FROM status_events WHERE at < $1 AND noticed_at IS NOT NULL")
        .bind(cutoff.as_millis())
        .execute(store.pool())
        .await?
        .rows_affected();
    Ok((snapshots, events))
}

/// Deletes the incidents resolved before `cutoff` that no outbox action refers to any more,
/// with everything of theirs, and the resolved public incidents whose incident is gone. The
/// candidates are read first, outside the transaction; inside it, each DELETE of incidents comes
/// first (SQLite takes its write lock at once) and checks the condition again.
async fn prune_incidents(store: &Store, cutoff: Timestamp, pruned: &mut Pruned) -> Result<(), StoreError> {
    let sql = format!("SELECT id FROM incidents WHERE {PRUNABLE_INCIDENT} ORDER BY id");
    let candidates: Vec<i64> = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(cutoff.as_millis())
        .bind(IncidentState::Resolved.as_str())
        .fetch_all(store.pool())
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    let mut tx = store.pool().begin().await?;
    for chunk in candidates.chunks(IDS_PER_STATEMENT) {
        delete_incidents(&mut tx, chunk, cutoff, pruned).await?;
    }
    pruned.public_incidents = sqlx::query(
        "DELETE FROM public_incidents WHERE status = $2 AND resolved_at < $1 \
         AND NOT EXISTS (SELECT 1 FROM incidents i WHERE public_incidents.local_key = ('incident:' || CAST(i.id AS TEXT)))",
    )
    .bind(cutoff.as_millis())
    .bind(IncidentStatus::Resolved.as_str())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(())
}

/// An incident retention may delete: resolved before `$1` (`$2` is the word `resolved`), and no
/// action of its chains (`incident:ID:SINK`) left in the outbox, whatever its state.
const PRUNABLE_INCIDENT: &str = "state = $2 AND resolved_at < $1 \
     AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.ordering_key LIKE ('incident:' || CAST(incidents.id AS TEXT) || ':%'))";

/// Deletes those of incidents `ids` (numbers: nothing to escape) still prunable, then what
/// belongs to them.
async fn delete_incidents(conn: &mut AnyConnection, ids: &[i64], cutoff: Timestamp, pruned: &mut Pruned) -> Result<(), StoreError> {
    let list = |ids: &[i64]| ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let sql = format!("DELETE FROM incidents WHERE id IN ({}) AND {PRUNABLE_INCIDENT} RETURNING id", list(ids));
    let deleted: Vec<i64> = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(cutoff.as_millis())
        .bind(IncidentState::Resolved.as_str())
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    if deleted.is_empty() {
        return Ok(());
    }
    pruned.incidents += deleted.len() as u64;
    let ids = list(&deleted);
    let keys = deleted.iter().map(|id| format!("'incident:{id}'")).collect::<Vec<_>>().join(",");
    let key_prefixes = deleted.iter().map(|id| format!("idempotency_key LIKE 'incident:{id}:%'")).collect::<Vec<_>>().join(" OR ");
    let mut run = async |sql: String| -> Result<u64, StoreError> {
        Ok(sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut *conn).await?.rows_affected())
    };
    pruned.incident_history += run(format!("DELETE FROM incident_history WHERE incident_id IN ({ids})")).await?;
    pruned.incident_checks += run(format!("DELETE FROM incident_checks WHERE incident_id IN ({ids})")).await?;
    pruned.remote_ids += run(format!("DELETE FROM remote_ids WHERE local_key IN ({keys})")).await?;
    pruned.outbox_keys += run(format!("DELETE FROM outbox_keys WHERE {key_prefixes}")).await?;
    Ok(())
}
