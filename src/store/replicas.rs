//! Table `replicas`: the live replicas of one database. Each running daemon renews its row
//! every `[synthetics] heartbeat`; the check engine shares the checks among the rows that are
//! fresh (see `sources::synthetics::share`).

use sqlx::Row;

use super::{Store, StoreError};
use crate::model::Timestamp;

/// One replica's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Its instance id (host, pid and a random part).
    pub instance: String,
    /// When it started (its first heartbeat).
    pub started_at: Timestamp,
    /// Its latest heartbeat.
    pub heartbeat_at: Timestamp,
}

/// Renews `instance`'s heartbeat at `now` (inserting its row, started at `started_at`, on the
/// first beat).
pub async fn beat(store: &Store, instance: &str, started_at: Timestamp, now: Timestamp) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO replicas (instance, started_at, heartbeat_at) VALUES ($1, $2, $3) \
         ON CONFLICT (instance) DO UPDATE SET heartbeat_at = $3",
    )
    .bind(instance)
    .bind(started_at.as_millis())
    .bind(now.as_millis())
    .execute(store.pool())
    .await?;
    Ok(())
}

/// Every replica whose heartbeat is at or after `since`, by instance id; rows older than
/// `forget_before` (replicas long gone) are deleted on the way.
pub async fn live(store: &Store, since: Timestamp, forget_before: Timestamp) -> Result<Vec<Member>, StoreError> {
    sqlx::query("DELETE FROM replicas WHERE heartbeat_at < $1").bind(forget_before.as_millis()).execute(store.pool()).await?;
    let rows = sqlx::query("SELECT instance, started_at, heartbeat_at FROM replicas WHERE heartbeat_at >= $1 ORDER BY instance")
        .bind(since.as_millis())
        .fetch_all(store.pool())
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Member {
                instance: r.try_get(0)?,
                started_at: Timestamp::from_millis(r.try_get(1)?),
                heartbeat_at: Timestamp::from_millis(r.try_get(2)?),
            })
        })
        .collect()
}

/// Removes `instance`'s row: a clean shutdown hands its checks over at the others' next beat.
pub async fn leave(store: &Store, instance: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM replicas WHERE instance = $1").bind(instance).execute(store.pool()).await?;
    Ok(())
}
