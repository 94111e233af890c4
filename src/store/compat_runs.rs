//! Tables `compat_runs` (each dispatch of a detection's compatibility workflow, followed to its
//! conclusion) and `github_deliveries` (the webhook deliveries taken, so a replay is ignored).

use sqlx::{AnyConnection, Row};

use super::{Store, StoreError, corrupt, word};
use crate::model::{FailedJob, RunState, RunTrigger, Timestamp};

/// A new run to follow: written with its dispatch action, in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRun<'a> {
    /// The detection it tests.
    pub detection_id: i64,
    /// Its `sparky_run_key`.
    pub run_key: &'a str,
    /// What dispatched it.
    pub requested_by: RunTrigger,
    /// When.
    pub requested_at: Timestamp,
    /// First poll.
    pub next_poll_at: Timestamp,
}

/// A stored run, with its detection's partner and version.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CompatRun {
    /// Row id.
    pub id: i64,
    /// Its detection.
    pub detection_id: i64,
    /// The detection's partner.
    pub partner_id: String,
    /// The detection's API version.
    pub version: String,
    /// The `sparky_run_key` input.
    pub run_key: String,
    /// How far it got.
    pub state: RunState,
    /// What dispatched it.
    pub requested_by: RunTrigger,
    /// When it was dispatched (decided).
    pub requested_at: Timestamp,
    /// GitHub's run id, once known.
    pub run_id: Option<i64>,
    /// The run's page.
    pub html_url: Option<String>,
    /// GitHub's `run_attempt` last seen.
    pub attempt: i64,
    /// The attempt whose outcome was planned (0: none yet).
    pub decided_attempt: i64,
    /// Re-runs of failed jobs requested.
    pub reruns: i64,
    /// GitHub's conclusion, once completed.
    pub conclusion: Option<String>,
    /// When the latest attempt started.
    pub started_at: Option<Timestamp>,
    /// When it completed.
    pub completed_at: Option<Timestamp>,
    /// The failed jobs and steps of a failed attempt.
    pub failed_jobs: Vec<FailedJob>,
    /// Polls made.
    pub polls: i64,
    /// Next poll.
    pub next_poll_at: Timestamp,
    /// The last poll's error.
    pub last_error: Option<String>,
}

impl CompatRun {
    /// How long the latest attempt ran, when it completed.
    pub fn duration(&self) -> Option<std::time::Duration> {
        Some(self.completed_at?.since(self.started_at?))
    }
}

/// What one poll changes of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunUpdate {
    /// The new state.
    pub state: RunState,
    /// GitHub's run id (found).
    pub run_id: Option<i64>,
    /// The run's page.
    pub html_url: Option<String>,
    /// `run_attempt`.
    pub attempt: i64,
    /// The attempt whose outcome is now planned.
    pub decided_attempt: i64,
    /// Re-runs requested.
    pub reruns: i64,
    /// Conclusion.
    pub conclusion: Option<String>,
    /// Started.
    pub started_at: Option<Timestamp>,
    /// Completed.
    pub completed_at: Option<Timestamp>,
    /// Failed jobs.
    pub failed_jobs: Vec<FailedJob>,
    /// Next poll.
    pub next_poll_at: Timestamp,
    /// The poll's error, if it failed.
    pub last_error: Option<String>,
}

impl RunUpdate {
    /// The run as it is, to change field by field.
    pub fn from_run(run: &CompatRun) -> Self {
        Self {
            state: run.state,
            run_id: run.run_id,
            html_url: run.html_url.clone(),
            attempt: run.attempt,
            decided_attempt: run.decided_attempt,
            reruns: run.reruns,
            conclusion: run.conclusion.clone(),
            started_at: run.started_at,
            completed_at: run.completed_at,
            failed_jobs: run.failed_jobs.clone(),
            next_poll_at: run.next_poll_at,
            last_error: run.last_error.clone(),
        }
    }
}

const COLUMNS: &str = "r.id, r.detection_id, d.partner_id, d.version, r.run_key, r.state, r.requested_by, r.requested_at, r.run_id, \
     r.html_url, r.attempt, r.decided_attempt, r.reruns, r.conclusion, r.started_at, r.completed_at, r.failed_jobs, r.polls, \
     r.next_poll_at, r.last_error";

/// Writes `run` (a second write of the same `run_key` is skipped); returns its id, `None` when
/// it existed.
///
/// # Errors
/// A query failed.
pub async fn insert(conn: &mut AnyConnection, run: &NewRun<'_>) -> Result<Option<i64>, StoreError> {
    let row = sqlx::query(
        "INSERT INTO compat_runs (detection_id, run_key, state, requested_by, requested_at, next_poll_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (run_key) DO NOTHING RETURNING id",
    )
    .bind(run.detection_id)
    .bind(run.run_key)
    .bind(RunState::Dispatching.as_str())
    .bind(run.requested_by.as_str())
    .bind(run.requested_at.as_millis())
    .bind(run.next_poll_at.as_millis())
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| r.try_get(0)).transpose()?)
}

/// How many runs `detection` has had.
///
/// # Errors
/// A query failed.
pub async fn count(conn: &mut AnyConnection, detection: i64) -> Result<i64, StoreError> {
    let row = sqlx::query("SELECT COUNT(*) FROM compat_runs WHERE detection_id = $1").bind(detection).fetch_one(&mut *conn).await?;
    Ok(row.try_get(0)?)
}

/// Records the GitHub run of `run_key` (the dispatch answer named it, or the runs list showed
/// it); the first record wins. A run that is still `dispatching` becomes `queued`.
///
/// # Errors
/// A query failed.
pub async fn found(store: &Store, run_key: &str, run_id: i64, html_url: Option<&str>) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE compat_runs SET run_id = $2, html_url = COALESCE(html_url, $3), \
         state = CASE WHEN state = $4 THEN $5 ELSE state END WHERE run_key = $1 AND run_id IS NULL",
    )
    .bind(run_key)
    .bind(run_id)
    .bind(html_url)
    .bind(RunState::Dispatching.as_str())
    .bind(RunState::Queued.as_str())
    .execute(store.pool())
    .await?;
    Ok(())
}

/// The run of `run_key`.
///
/// # Errors
/// A query failed.
pub async fn by_key(store: &Store, run_key: &str) -> Result<Option<CompatRun>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM compat_runs r JOIN compat_detections d ON d.id = r.detection_id WHERE r.run_key = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(run_key).fetch_optional(store.pool()).await?;
    row.as_ref().map(read).transpose()
}

/// The followed runs whose next poll is due at `now`, oldest first.
///
/// # Errors
/// A query failed.
pub async fn due(store: &Store, now: Timestamp) -> Result<Vec<CompatRun>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM compat_runs r JOIN compat_detections d ON d.id = r.detection_id \
         WHERE r.state IN ($1, $2, $3) AND r.next_poll_at <= $4 ORDER BY r.next_poll_at, r.id"
    );
    let [a, b, c] = RunState::FOLLOWED;
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(a.as_str())
        .bind(b.as_str())
        .bind(c.as_str())
        .bind(now.as_millis())
        .fetch_all(store.pool())
        .await?;
    rows.iter().map(read).collect()
}

/// Every run of `partner` (all partners' with `None`), by detection then dispatch.
///
/// # Errors
/// A query failed.
pub async fn list(store: &Store, partner: Option<&str>) -> Result<Vec<CompatRun>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM compat_runs r JOIN compat_detections d ON d.id = r.detection_id \
         WHERE $1 = '' OR d.partner_id = $1 ORDER BY r.detection_id, r.id"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(partner.unwrap_or("")).fetch_all(store.pool()).await?;
    rows.iter().map(read).collect()
}

/// Writes what a poll found of run `id`, in the caller's transaction, only when the run was not
/// changed since it was read (`polls` still `read_polls`): two replicas polling the same run
/// write once. Returns whether it wrote.
///
/// # Errors
/// A query failed.
pub async fn update(conn: &mut AnyConnection, id: i64, read_polls: i64, u: &RunUpdate) -> Result<bool, StoreError> {
    let failed = serde_json::to_string(&u.failed_jobs).expect("failed jobs serialise"); // invariant: plain strings and numbers
    let done = sqlx::query(
        "UPDATE compat_runs SET state = $3, run_id = $4, html_url = $5, attempt = $6, decided_attempt = $7, reruns = $8, \
         conclusion = $9, started_at = $10, completed_at = $11, failed_jobs = $12, next_poll_at = $13, last_error = $14, \
         polls = polls + 1 WHERE id = $1 AND polls = $2",
    )
    .bind(id)
    .bind(read_polls)
    .bind(u.state.as_str())
    .bind(u.run_id)
    .bind(u.html_url.as_deref())
    .bind(u.attempt)
    .bind(u.decided_attempt)
    .bind(u.reruns)
    .bind(u.conclusion.as_deref())
    .bind(u.started_at.map(Timestamp::as_millis))
    .bind(u.completed_at.map(Timestamp::as_millis))
    .bind(failed)
    .bind(u.next_poll_at.as_millis())
    .bind(u.last_error.as_deref())
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Makes the next poll of the followed runs that GitHub's run `run_id` may be (its own, and
/// those whose run id is not known yet, since a webhook may name a run Sparky has not found yet)
/// due now, and follows again a completed run of `run_id` that GitHub re-ran (`attempt` past the
/// one decided: a re-run started by hand can still resolve a P2). A `workflow_run` webhook calls
/// it; returns how many runs it hurried.
///
/// # Errors
/// A query failed.
pub async fn hurry(store: &Store, run_id: i64, attempt: i64) -> Result<u64, StoreError> {
    let now = Timestamp::now().as_millis();
    let [a, b, c] = RunState::FOLLOWED;
    let followed = sqlx::query(
        "UPDATE compat_runs SET next_poll_at = $1 WHERE state IN ($2, $3, $4) AND (run_id = $5 OR run_id IS NULL) AND next_poll_at > $1",
    )
    .bind(now)
    .bind(a.as_str())
    .bind(b.as_str())
    .bind(c.as_str())
    .bind(run_id)
    .execute(store.pool())
    .await?;
    let rerun =
        sqlx::query("UPDATE compat_runs SET state = $1, next_poll_at = $2 WHERE state = $3 AND run_id = $4 AND decided_attempt < $5")
            .bind(RunState::Queued.as_str())
            .bind(now)
            .bind(RunState::Completed.as_str())
            .bind(run_id)
            .bind(attempt)
            .execute(store.pool())
            .await?;
    Ok(followed.rows_affected() + rerun.rows_affected())
}

/// Takes webhook delivery `id` (`X-GitHub-Delivery`): `false` when it was taken before (a
/// replay, ignored).
///
/// # Errors
/// A query failed.
pub async fn take_delivery(store: &Store, id: &str) -> Result<bool, StoreError> {
    let done = sqlx::query("INSERT INTO github_deliveries (delivery_id, received_at) VALUES ($1, $2) ON CONFLICT (delivery_id) DO NOTHING")
        .bind(id)
        .bind(Timestamp::now().as_millis())
        .execute(store.pool())
        .await?;
    Ok(done.rows_affected() == 1)
}

fn read(row: &sqlx::any::AnyRow) -> Result<CompatRun, StoreError> {
    let ts = |i: usize| -> Result<Option<Timestamp>, StoreError> { Ok(row.try_get::<Option<i64>, _>(i)?.map(Timestamp::from_millis)) };
    let failed: Option<String> = row.try_get(16)?;
    Ok(CompatRun {
        id: row.try_get(0)?,
        detection_id: row.try_get(1)?,
        partner_id: row.try_get(2)?,
        version: row.try_get(3)?,
        run_key: row.try_get(4)?,
        state: word(row, 5, "compat_runs.state")?,
        requested_by: word(row, 6, "compat_runs.requested_by")?,
        requested_at: Timestamp::from_millis(row.try_get(7)?),
        run_id: row.try_get(8)?,
        html_url: row.try_get(9)?,
        attempt: row.try_get(10)?,
        decided_attempt: row.try_get(11)?,
        reruns: row.try_get(12)?,
        conclusion: row.try_get(13)?,
        started_at: ts(14)?,
        completed_at: ts(15)?,
        failed_jobs: failed
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| corrupt("compat_runs.failed_jobs", e.to_string()))?
            .unwrap_or_default(),
        polls: row.try_get(17)?,
        next_poll_at: Timestamp::from_millis(row.try_get(18)?),
        last_error: row.try_get(19)?,
    })
}
