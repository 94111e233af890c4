//! Table `outbox`: durable actions, claimed with a lease, delivered at least once.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{Backend, Store, StoreError, word};
use crate::model::{ActionState, SinkKind, Timestamp};

/// An action to write to the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAction {
    /// Makes a second write and a second delivery of the same effect a no-op.
    pub idempotency_key: String,
    /// Actions with the same ordering key are delivered one after the other, in id order.
    pub ordering_key: String,
    /// The sink.
    pub sink: SinkKind,
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
    /// The sink.
    pub sink: SinkKind,
    /// The action, JSON.
    pub payload: String,
    /// The state (before the claim, for a claimed row).
    pub state: ActionState,
    /// Attempts made (counting the current one, for a claimed row).
    pub attempts: i64,
    /// Written at.
    pub created_at: Timestamp,
    /// Next attempt not before.
    pub next_attempt_at: Timestamp,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// The id the sink gave the effect (Slack `ts`, Jira key, ...).
    pub remote_id: Option<String>,
}

impl ActionRow {
    /// True when an earlier attempt may have reached the sink (its answer never came back, or
    /// the process died): the sink must look for that effect before creating it again.
    pub fn maybe_delivered_before(&self) -> bool {
        self.state != ActionState::Pending || self.attempts > 1
    }
}

const COLUMNS: &str =
    "id, idempotency_key, ordering_key, sink, payload, state, attempts, created_at, next_attempt_at, last_error, remote_id";

fn from_row(row: &AnyRow) -> Result<ActionRow, StoreError> {
    Ok(ActionRow {
        id: row.try_get(0)?,
        idempotency_key: row.try_get(1)?,
        ordering_key: row.try_get(2)?,
        sink: word(row, 3, "outbox.sink")?,
        payload: row.try_get(4)?,
        state: word(row, 5, "outbox.state")?,
        attempts: row.try_get(6)?,
        created_at: Timestamp::from_millis(row.try_get(7)?),
        next_attempt_at: Timestamp::from_millis(row.try_get(8)?),
        last_error: row.try_get(9)?,
        remote_id: row.try_get(10)?,
    })
}

/// `id NOT IN (...)` for `exclude` (ids are numbers: nothing to escape), or nothing.
fn excluding(column: &str, exclude: &[i64]) -> String {
    if exclude.is_empty() {
        return String::new();
    }
    format!(" AND {column} NOT IN ({})", exclude.iter().map(i64::to_string).collect::<Vec<_>>().join(","))
}

/// Writes an action in the caller's transaction. Returns its id, or `None` when an action with
/// the same idempotency key exists already (the effect is already on its way).
pub async fn insert(conn: &mut AnyConnection, action: &NewAction) -> Result<Option<i64>, StoreError> {
    let now = Timestamp::now().as_millis();
    let row = sqlx::query(
        "INSERT INTO outbox (idempotency_key, ordering_key, sink, payload, state, attempts, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, 0, $6, $6) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
    )
    .bind(&action.idempotency_key)
    .bind(&action.ordering_key)
    .bind(action.sink.as_str())
    .bind(&action.payload)
    .bind(ActionState::Pending.as_str())
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
pub async fn claim_due(
    store: &Store,
    owner: &str,
    lease_until: Timestamp,
    limit: i64,
    exclude: &[i64],
) -> Result<Vec<ActionRow>, StoreError> {
    let lock = if store.backend() == Backend::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
    let sql = format!(
        "UPDATE outbox SET lease_owner = $1, lease_until = $2, attempts = attempts + 1 \
         WHERE id IN (SELECT o.id FROM outbox o \
           WHERE o.state IN ($5, $6) AND o.next_attempt_at <= $3 \
             AND (o.lease_until IS NULL OR o.lease_until < $3){} \
             AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.ordering_key = o.ordering_key AND e.id < o.id \
                             AND e.state IN ($5, $6)) \
           ORDER BY o.id LIMIT $4{lock}) \
         RETURNING {COLUMNS}",
        excluding("o.id", exclude)
    );
    let [pending, retrying] = ActionState::UNDELIVERED;
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(owner)
        .bind(lease_until.as_millis())
        .bind(Timestamp::now().as_millis())
        .bind(limit)
        .bind(pending.as_str())
        .bind(retrying.as_str())
        .fetch_all(store.pool())
        .await?;
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
        next_attempt_at: Option<Timestamp>,
    },
}

/// Records the outcomes of a batch of attempts in one transaction (one commit, not one per
/// action). Each entry is `true` when `owner` still held that action's lease.
pub async fn record(store: &Store, owner: &str, outcomes: &[(i64, Attempted)]) -> Result<Vec<bool>, StoreError> {
    let now = Timestamp::now().as_millis();
    let mut tx = store.pool().begin().await?;
    let mut kept = Vec::with_capacity(outcomes.len());
    for (id, outcome) in outcomes {
        let query = match outcome {
            Attempted::Delivered { remote_id } => sqlx::query(
                "UPDATE outbox SET state = $5, delivered_at = $3, remote_id = COALESCE($4, remote_id), \
                 lease_owner = NULL, lease_until = NULL, last_error = NULL WHERE id = $1 AND lease_owner = $2",
            )
            .bind(*id)
            .bind(owner)
            .bind(now)
            .bind(remote_id.as_deref())
            .bind(ActionState::Delivered.as_str()),
            Attempted::Failed { error, next_attempt_at } => {
                let state = if next_attempt_at.is_some() { ActionState::Retrying } else { ActionState::Dead };
                sqlx::query(
                    "UPDATE outbox SET state = $3, next_attempt_at = COALESCE($4, next_attempt_at), last_error = $5, \
                     lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2",
                )
                .bind(*id)
                .bind(owner)
                .bind(state.as_str())
                .bind(next_attempt_at.map(Timestamp::as_millis))
                .bind(error.as_str())
            }
        };
        kept.push(query.execute(&mut *tx).await?.rows_affected() == 1);
    }
    tx.commit().await?;
    Ok(kept)
}

/// Makes every pending or retrying action due now (a manual run delivers what it can at once).
pub async fn make_all_due(store: &Store) -> Result<u64, StoreError> {
    let [pending, retrying] = ActionState::UNDELIVERED;
    let result = sqlx::query("UPDATE outbox SET next_attempt_at = $1 WHERE state IN ($2, $3) AND next_attempt_at > $1")
        .bind(Timestamp::now().as_millis())
        .bind(pending.as_str())
        .bind(retrying.as_str())
        .execute(store.pool())
        .await?;
    Ok(result.rows_affected())
}

/// Requeues a dead action with a fresh attempt budget; false when `id` is not dead.
pub async fn requeue(store: &Store, id: i64) -> Result<bool, StoreError> {
    let result = sqlx::query("UPDATE outbox SET state = $3, attempts = 0, next_attempt_at = $2 WHERE id = $1 AND state = $4")
        .bind(id)
        .bind(Timestamp::now().as_millis())
        .bind(ActionState::Retrying.as_str())
        .bind(ActionState::Dead.as_str())
        .execute(store.pool())
        .await?;
    Ok(result.rows_affected() == 1)
}

/// Actions in the given states, oldest first, at most `limit`.
pub async fn list(store: &Store, states: &[ActionState], limit: i64) -> Result<Vec<ActionRow>, StoreError> {
    let placeholders: Vec<String> = (0..states.len()).map(|i| format!("${}", i + 2)).collect();
    let sql = format!("SELECT {COLUMNS} FROM outbox WHERE state IN ({}) ORDER BY id LIMIT $1", placeholders.join(", "));
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(limit);
    for state in states {
        query = query.bind(state.as_str());
    }
    let rows = query.fetch_all(store.pool()).await?;
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
pub async fn next_due_at(store: &Store, exclude: &[i64]) -> Result<Option<Timestamp>, StoreError> {
    let sql = format!(
        "SELECT MIN(next_attempt_at) FROM outbox WHERE state IN ($2, $3) AND (lease_until IS NULL OR lease_until < $1){}",
        excluding("id", exclude)
    );
    let [pending, retrying] = ActionState::UNDELIVERED;
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(Timestamp::now().as_millis())
        .bind(pending.as_str())
        .bind(retrying.as_str())
        .fetch_one(store.pool())
        .await?;
    Ok(row.try_get::<Option<i64>, _>(0)?.map(Timestamp::from_millis))
}

/// Number of actions per state, for gauges.
pub async fn count_by_state(store: &Store) -> Result<Vec<(ActionState, i64)>, StoreError> {
    let rows = sqlx::query("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetch_all(store.pool()).await?;
    rows.iter().map(|r| Ok((word(r, 0, "outbox.state")?, r.try_get(1)?))).collect()
}

/// Undelivered actions currently leased by a deliverer (this process or another).
pub async fn count_leased(store: &Store) -> Result<i64, StoreError> {
    let [pending, retrying] = ActionState::UNDELIVERED;
    let row = sqlx::query("SELECT COUNT(*) FROM outbox WHERE state IN ($2, $3) AND lease_until >= $1")
        .bind(Timestamp::now().as_millis())
        .bind(pending.as_str())
        .bind(retrying.as_str())
        .fetch_one(store.pool())
        .await?;
    Ok(row.try_get(0)?)
}
