//! Table `job_runs`: each scheduled tick of a job runs once across replicas.

use sqlx::Row;

use super::{Store, StoreError, now_ms};

/// Claims tick `tick` (ms) of `job` for `holder` until `lease_until` (ms).
///
/// True when this holder now runs the tick: it inserted the row, or the earlier holder's lease
/// ran out before it finished (a replica killed mid-job), in which case the work is taken over.
pub async fn claim_tick(store: &Store, job: &str, tick: i64, holder: &str, lease_until: i64) -> Result<bool, StoreError> {
    let now = now_ms();
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
pub async fn renew(store: &Store, job: &str, tick: i64, holder: &str, lease_until: i64) -> Result<bool, StoreError> {
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
pub async fn finish(store: &Store, job: &str, tick: i64, holder: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE job_runs SET finished_at = $4 WHERE job = $1 AND tick = $2 AND holder = $3")
        .bind(job)
        .bind(tick)
        .bind(holder)
        .bind(now_ms())
        .execute(store.pool())
        .await?;
    Ok(())
}

/// The latest tick (ms) of `job` that was claimed, finished or not.
pub async fn latest_tick(store: &Store, job: &str) -> Result<Option<i64>, StoreError> {
    let row = sqlx::query("SELECT MAX(tick) FROM job_runs WHERE job = $1").bind(job).fetch_one(store.pool()).await?;
    Ok(row.try_get(0)?)
}

/// Deletes finished ticks started before `before` (ms); returns how many.
pub async fn prune(store: &Store, before: i64) -> Result<u64, StoreError> {
    let result =
        sqlx::query("DELETE FROM job_runs WHERE finished_at IS NOT NULL AND started_at < $1").bind(before).execute(store.pool()).await?;
    Ok(result.rows_affected())
}
