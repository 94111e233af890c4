//! Table `outbox`: durable actions, claimed with a lease, delivered at least once.

use std::fmt;
use std::str::FromStr;

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{Backend, Store, StoreError, now_ms};

/// The state of an outbox row. A row is *in flight* while its lease is ahead of now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionState {
    /// Written, never attempted.
    Pending,
    /// Attempted and failed; `next_attempt_at` says when it goes again.
    Retrying,
    /// The sink confirmed it.
    Delivered,
    /// Failed `max_attempts` times or permanently; waits for `sparky outbox retry ID`.
    Dead,
}

impl ActionState {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Retrying => "retrying",
            Self::Delivered => "delivered",
            Self::Dead => "dead",
        }
    }
}

impl FromStr for ActionState {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "pending" => Self::Pending,
            "retrying" => Self::Retrying,
            "delivered" => Self::Delivered,
            "dead" => Self::Dead,
            other => return Err(StoreError::Corrupt { what: "outbox.state", reason: format!("unknown state `{other}`") }),
        })
    }
}

impl fmt::Display for ActionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An action to write to the outbox.
#[derive(Debug, Clone)]
pub struct NewAction {
    /// Makes a second write and a second delivery of the same effect a no-op.
    pub idempotency_key: String,
    /// Actions with the same ordering key are delivered one after the other, in id order.
    pub ordering_key: String,
    /// The sink name (`slack`, `jira`, ...).
    pub sink: String,
    /// The action itself, JSON.
    pub payload: String,
}

/// A stored action.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ActionRow {
    /// Row id, shown by `sparky outbox`.
    pub id: i64,
    /// See [`NewAction::idempotency_key`].
    pub idempotency_key: String,
    /// See [`NewAction::ordering_key`].
    pub ordering_key: String,
    /// The sink name.
    pub sink: String,
    /// The action, JSON.
    pub payload: String,
    /// The state (before the claim, for a claimed row).
    pub state: ActionState,
    /// Attempts made (counting the current one, for a claimed row).
    pub attempts: i64,
    /// Written at (ms).
    pub created_at: i64,
    /// Next attempt not before (ms).
    pub next_attempt_at: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// The id the sink gave the effect (Slack `ts`, Jira key, ...).
    pub remote_id: Option<String>,
}

impl ActionRow {
    /// The row a deliverer holds on attempt `attempts` of action `key` for `sink` (attempt 1:
    /// never tried before; later ones: retrying). For sink tests and tools.
    pub fn attempt(sink: &str, key: &str, attempts: i64) -> Self {
        Self {
            id: 1,
            idempotency_key: key.to_owned(),
            ordering_key: format!("{sink}:test"),
            sink: sink.to_owned(),
            payload: String::new(),
            state: if attempts > 1 { ActionState::Retrying } else { ActionState::Pending },
            attempts,
            created_at: crate::store::now_ms(),
            next_attempt_at: 0,
            last_error: None,
            remote_id: None,
        }
    }

    /// True when an earlier attempt may have reached the sink (its answer never came back, or
    /// the process died): the sink must look for that effect before creating it again.
    pub fn maybe_delivered_before(&self) -> bool {
        self.state != ActionState::Pending || self.attempts > 1
    }
}

const COLUMNS: &str =
    "id, idempotency_key, ordering_key, sink, payload, state, attempts, created_at, next_attempt_at, last_error, remote_id";

fn from_row(row: &AnyRow) -> Result<ActionRow, StoreError> {
    let state: String = row.try_get(5)?;
    Ok(ActionRow {
        id: row.try_get(0)?,
        idempotency_key: row.try_get(1)?,
        ordering_key: row.try_get(2)?,
        sink: row.try_get(3)?,
        payload: row.try_get(4)?,
        state: state.parse()?,
        attempts: row.try_get(6)?,
        created_at: row.try_get(7)?,
        next_attempt_at: row.try_get(8)?,
        last_error: row.try_get(9)?,
        remote_id: row.try_get(10)?,
    })
}

/// Writes an action in the caller's transaction. Returns its id, or `None` when an action with
/// the same idempotency key exists already (the effect is already on its way).
pub async fn insert(conn: &mut AnyConnection, action: &NewAction) -> Result<Option<i64>, StoreError> {
    let now = now_ms();
    let row = sqlx::query(
        "INSERT INTO outbox (idempotency_key, ordering_key, sink, payload, state, attempts, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
    )
    .bind(&action.idempotency_key)
    .bind(&action.ordering_key)
    .bind(&action.sink)
    .bind(&action.payload)
    .bind(now)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| r.try_get(0)).transpose()?)
}

/// Claims up to `limit` due actions for `owner` until `lease_until`, incrementing their attempts.
///
/// Due: pending or retrying, `next_attempt_at <= now`, not leased by a live deliverer, not in
/// `exclude`, and no earlier action of the same ordering key still undelivered (so an incident's
/// actions go out in order). PostgreSQL replicas claim disjoint rows (`FOR UPDATE SKIP LOCKED`);
/// on SQLite the single UPDATE is atomic.
pub async fn claim_due(store: &Store, owner: &str, lease_until: i64, limit: i64, exclude: &[i64]) -> Result<Vec<ActionRow>, StoreError> {
    let now = now_ms();
    let exclude_sql = if exclude.is_empty() {
        String::new()
    } else {
        format!(" AND o.id NOT IN ({})", exclude.iter().map(i64::to_string).collect::<Vec<_>>().join(","))
    };
    let lock = if store.backend() == Backend::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
    let sql = format!(
        "UPDATE outbox SET lease_owner = $1, lease_until = $2, attempts = attempts + 1 \
         WHERE id IN (SELECT o.id FROM outbox o \
           WHERE o.state IN ('pending', 'retrying') AND o.next_attempt_at <= $3 \
             AND (o.lease_until IS NULL OR o.lease_until < $3){exclude_sql} \
             AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.ordering_key = o.ordering_key AND e.id < o.id \
                             AND e.state IN ('pending', 'retrying')) \
           ORDER BY o.id LIMIT $4{lock}) \
         RETURNING {COLUMNS}"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(owner).bind(lease_until).bind(now).bind(limit).fetch_all(store.pool()).await?;
    let mut claimed = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    claimed.sort_by_key(|r| r.id);
    Ok(claimed)
}

/// How one delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempted {
    /// The sink confirmed it.
    Delivered {
        /// The id the sink gave it.
        remote_id: Option<String>,
    },
    /// It failed: `retrying` from `next_attempt_at`, or `dead` when that is `None`.
    Failed {
        /// Why.
        error: String,
        /// When to try again.
        next_attempt_at: Option<i64>,
    },
}

/// Records the outcomes of a batch of attempts in one transaction (one commit, not one per
/// action). Each entry is `true` when `owner` still held that action's lease.
pub async fn record(store: &Store, owner: &str, outcomes: &[(i64, Attempted)]) -> Result<Vec<bool>, StoreError> {
    let now = now_ms();
    let mut tx = store.pool().begin().await?;
    let mut kept = Vec::with_capacity(outcomes.len());
    for (id, outcome) in outcomes {
        let query = match outcome {
            Attempted::Delivered { remote_id } => sqlx::query(
                "UPDATE outbox SET state = 'delivered', delivered_at = $3, remote_id = COALESCE($4, remote_id), \
                 lease_owner = NULL, lease_until = NULL, last_error = NULL WHERE id = $1 AND lease_owner = $2",
            )
            .bind(*id)
            .bind(owner)
            .bind(now)
            .bind(remote_id.as_deref()),
            Attempted::Failed { error, next_attempt_at } => {
                let state = if next_attempt_at.is_some() { ActionState::Retrying } else { ActionState::Dead };
                sqlx::query(
                    "UPDATE outbox SET state = $3, next_attempt_at = COALESCE($4, next_attempt_at), last_error = $5, \
                     lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2",
                )
                .bind(*id)
                .bind(owner)
                .bind(state.as_str())
                .bind(*next_attempt_at)
                .bind(error.as_str())
            }
        };
        kept.push(query.execute(&mut *tx).await?.rows_affected() == 1);
    }
    tx.commit().await?;
    Ok(kept)
}

/// Marks a claimed action delivered; false when `owner` no longer holds it.
pub async fn mark_delivered(store: &Store, id: i64, owner: &str, remote_id: Option<&str>) -> Result<bool, StoreError> {
    let done = record(store, owner, &[(id, Attempted::Delivered { remote_id: remote_id.map(str::to_owned) })]).await?;
    Ok(done.first().copied().unwrap_or(false))
}

/// Records a failed attempt: `retrying` from `next_attempt_at`, or `dead` when that is `None`.
pub async fn mark_failed(store: &Store, id: i64, owner: &str, error: &str, next_attempt_at: Option<i64>) -> Result<bool, StoreError> {
    let done = record(store, owner, &[(id, Attempted::Failed { error: error.to_owned(), next_attempt_at })]).await?;
    Ok(done.first().copied().unwrap_or(false))
}

/// Makes every pending or retrying action due now (a manual run delivers what it can at once).
pub async fn make_all_due(store: &Store) -> Result<u64, StoreError> {
    let result = sqlx::query("UPDATE outbox SET next_attempt_at = $1 WHERE state IN ('pending', 'retrying') AND next_attempt_at > $1")
        .bind(now_ms())
        .execute(store.pool())
        .await?;
    Ok(result.rows_affected())
}

/// Requeues a dead action with a fresh attempt budget; false when `id` is not dead.
pub async fn requeue(store: &Store, id: i64) -> Result<bool, StoreError> {
    let result = sqlx::query("UPDATE outbox SET state = 'retrying', attempts = 0, next_attempt_at = $2 WHERE id = $1 AND state = 'dead'")
        .bind(id)
        .bind(now_ms())
        .execute(store.pool())
        .await?;
    Ok(result.rows_affected() == 1)
}

/// Actions in the given states, oldest first, at most `limit`.
pub async fn list(store: &Store, states: &[ActionState], limit: i64) -> Result<Vec<ActionRow>, StoreError> {
    let states = states.iter().map(|s| format!("'{}'", s.as_str())).collect::<Vec<_>>().join(",");
    let sql = format!("SELECT {COLUMNS} FROM outbox WHERE state IN ({states}) ORDER BY id LIMIT $1");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(limit).fetch_all(store.pool()).await?;
    rows.iter().map(from_row).collect()
}

/// One action by id.
pub async fn get(store: &Store, id: i64) -> Result<Option<ActionRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM outbox WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(store.pool()).await?;
    row.as_ref().map(from_row).transpose()
}

/// The earliest `next_attempt_at` of undelivered actions not in `exclude` and not leased by
/// another deliverer, if any.
pub async fn next_due_at(store: &Store, exclude: &[i64]) -> Result<Option<i64>, StoreError> {
    let exclude_sql = if exclude.is_empty() {
        String::new()
    } else {
        format!(" AND id NOT IN ({})", exclude.iter().map(i64::to_string).collect::<Vec<_>>().join(","))
    };
    let sql = format!(
        "SELECT MIN(next_attempt_at) FROM outbox WHERE state IN ('pending', 'retrying') \
         AND (lease_until IS NULL OR lease_until < $1){exclude_sql}"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now_ms()).fetch_one(store.pool()).await?;
    Ok(row.try_get(0)?)
}

/// Number of actions per state, for gauges.
pub async fn count_by_state(store: &Store) -> Result<Vec<(ActionState, i64)>, StoreError> {
    let rows = sqlx::query("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetch_all(store.pool()).await?;
    rows.iter().map(|r| Ok((r.try_get::<String, _>(0)?.parse()?, r.try_get(1)?))).collect()
}

/// Undelivered actions currently leased by a deliverer (this process or another).
pub async fn count_leased(store: &Store) -> Result<i64, StoreError> {
    let row = sqlx::query("SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'retrying') AND lease_until >= $1")
        .bind(now_ms())
        .fetch_one(store.pool())
        .await?;
    Ok(row.try_get(0)?)
}
