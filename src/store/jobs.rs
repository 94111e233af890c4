//! Table `job_runs`: each scheduled tick of a job runs once across replicas.

use sqlx::Row;

use super::{Store, StoreError};
use crate::model::Timestamp;

/// Claims tick `tick` of `job` for `holder` until `lease_until`.
///
/// True when this holder now runs the tick: it inserted the row, or the earlier holder's lease
/// ran out before it finished (a replica killed mid-job), in which case the work is taken over.
pub async fn claim_tick(store: &Store, job: &str, tick: Timestamp, holder: &str, lease_until: Timestamp) -> Result<bool, StoreError> {
    let (tick, lease_until, now) = (tick.as_millis(), lease_until.as_millis(), Timestamp::now().as_millis());
    let inserted = sqlx::query(
        "INSERT INTO job_runs (job, tick, holder, lease_until, started_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (job, tick) DO NOTHING",
    )
    .bind(job)
    .bind(tick)
    .bind(holder)
    .bind(lease_until)
    .bind(now)
    .execute(store.pool())
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(true);
    }
    let taken = sqlx::query(
        "UPDATE job_runs SET holder = $3, lease_until = $4, started_at = $5 \
         WHERE job = $1 AND tick = $2 AND finished_at IS NULL AND lease_until < $5",
    )
    .bind(job)
    .bind(tick)
    .bind(holder)
    .bind(lease_until)
    .bind(now)
    .execute(store.pool())
    .await?;
    Ok(taken.rows_affected() == 1)
}

/// Extends the lease of a running tick; false when another holder took it over.
pub async fn renew(store: &Store, job: &str, tick: Timestamp, holder: &str, lease_until: Timestamp) -> Result<bool, StoreError> {
    let (tick, lease_until) = (tick.as_millis(), lease_until.as_millis());
    let result = sqlx::query("UPDATE job_runs SET lease_until = $4 WHERE job = $1 AND tick = $2 AND holder = $3 AND finished_at IS NULL")
        .bind(job)
        .bind(tick)
        .bind(holder)
        .bind(lease_until)
        .execute(store.pool())
        .await?;
    Ok(result.rows_affected() == 1)
}

/// Marks a tick finished.
pub async fn finish(store: &Store, job: &str, tick: Timestamp, holder: &str) -> Result<(), StoreError> {
    let tick = tick.as_millis();
    sqlx::query("UPDATE job_runs SET finished_at = $4 WHERE job = $1 AND tick = $2 AND holder = $3")
        .bind(job)
        .bind(tick)
        .bind(holder)
        .bind(Timestamp::now().as_millis())
        .execute(store.pool())
        .await?;
    Ok(())
}

/// The latest tick of `job` that was claimed, finished or not.
pub async fn latest_tick(store: &Store, job: &str) -> Result<Option<Timestamp>, StoreError> {
    let row = sqlx::query("SELECT MAX(tick) FROM job_runs WHERE job = $1").bind(job).fetch_one(store.pool()).await?;
    Ok(row.try_get::<Option<i64>, _>(0)?.map(Timestamp::from_millis))
}

/// Deletes finished ticks started before `before`; returns how many.
pub async fn prune(store: &Store, before: Timestamp) -> Result<u64, StoreError> {
    let result = sqlx::query("DELETE FROM job_runs WHERE finished_at IS NOT NULL AND started_at < $1")
        .bind(before.as_millis())
        .execute(store.pool())
        .await?;
    Ok(result.rows_affected())
}

/// The job ticks under way at `now`: `(holder, job)`, by holder then job.
///
/// # Errors
/// A query failed.
pub async fn held(store: &Store, now: Timestamp) -> Result<Vec<(String, String)>, StoreError> {
    let rows = sqlx::query("SELECT holder, job FROM job_runs WHERE finished_at IS NULL AND lease_until > $1 ORDER BY holder, job")
        .bind(now.as_millis())
        .fetch_all(store.pool())
        .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}
