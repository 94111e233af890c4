//! Table `remote_ids`: the ids sinks gave our effects, so nothing is created twice and later
//! actions (a Jira comment, a Statuspage update) find what they refer to.

use sqlx::Row;

use super::{Store, StoreError};
use crate::model::Timestamp;

/// The remote id of `local_key` at `sink`, if known.
pub async fn get(store: &Store, sink: &str, local_key: &str) -> Result<Option<String>, StoreError> {
    let row = sqlx::query("SELECT remote_id FROM remote_ids WHERE sink = $1 AND local_key = $2")
        .bind(sink)
        .bind(local_key)
        .fetch_optional(store.pool())
        .await?;
    Ok(row.map(|r| r.try_get(0)).transpose()?)
}

/// Records that `local_key` is `remote_id` at `sink` (the first record wins).
pub async fn put(store: &Store, sink: &str, local_key: &str, remote_id: &str) -> Result<(), StoreError> {
    write(store, (sink, local_key, remote_id), "DO NOTHING").await
}

/// Records that `local_key` is `remote_id` at `sink` now, replacing an earlier record (a mark
/// that moves, such as the time of a sink's latest create attempt).
pub async fn set(store: &Store, sink: &str, local_key: &str, remote_id: &str) -> Result<(), StoreError> {
    write(store, (sink, local_key, remote_id), "DO UPDATE SET remote_id = $3, at = $4").await
}

/// The INSERT of a record, with `on_conflict` (a constant of this file) for an existing one.
async fn write(store: &Store, (sink, local_key, remote_id): (&str, &str, &str), on_conflict: &'static str) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO remote_ids (sink, local_key, remote_id, at) VALUES ($1, $2, $3, $4) ON CONFLICT (sink, local_key) {on_conflict}"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(sink)
        .bind(local_key)
        .bind(remote_id)
        .bind(Timestamp::now().as_millis())
        .execute(store.pool())
        .await?;
    Ok(())
}
