//! Tables `outbox` and `outbox_keys`: durable actions, claimed with a lease renewed while they
//! are in flight, delivered at least once and recorded one by one; a dead action blocks the rest
//! of its chain (its ordering key) until it is retried.

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
/// the same idempotency key exists already, or existed and was pruned (`outbox_keys`): the
/// effect is already on its way, or done. An action joining a chain that holds a dead or
/// blocked action is written `blocked`.
pub async fn insert(conn: &mut AnyConnection, action: &NewAction) -> Result<Option<i64>, StoreError> {
    let now = Timestamp::now().as_millis();
    let [blocked, dead] = ActionState::STUCK;
    let row = sqlx::query(
        "INSERT INTO outbox (idempotency_key, ordering_key, sink, payload, state, attempts, next_attempt_at, created_at) \
         SELECT $1, $2, $3, $4, CASE WHEN EXISTS (SELECT 1 FROM outbox WHERE ordering_key = $2 AND state IN ($7, $8)) \
                THEN $7 ELSE $5 END, 0, $6, $6 \
         WHERE NOT EXISTS (SELECT 1 FROM outbox_keys WHERE idempotency_key = $1) \
         ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
    )
    .bind(&action.idempotency_key)
    .bind(&action.ordering_key)
    .bind(action.sink.as_str())
    .bind(&action.payload)
    .bind(ActionState::Pending.as_str())
    .bind(now)
    .bind(blocked.as_str())
    .bind(dead.as_str())
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| r.try_get(0)).transpose()?)
}

/// Which actions a claim may take, besides being due.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClaimFilter<'a> {
    /// Not these ids (a `once` run's actions that used their attempts).
    pub exclude: &'a [i64],
    /// Not for these sinks (their circuit breaker is open, or its trial is under way).
    pub skip_sinks: &'a [SinkKind],
    /// Only for this sink (the one trial of a half-open breaker).
    pub only_sink: Option<SinkKind>,
}

impl ClaimFilter<'_> {
    /// The SQL conditions on `o` (ids are numbers and sinks words of the vocabulary: nothing to
    /// escape).
    fn clause(&self) -> String {
        let words = |sinks: &[SinkKind]| sinks.iter().map(|s| format!("'{}'", s.as_str())).collect::<Vec<_>>().join(",");
        let mut clause = excluding("o.id", self.exclude);
        if !self.skip_sinks.is_empty() {
            clause.push_str(&format!(" AND o.sink NOT IN ({})", words(self.skip_sinks)));
        }
        if let Some(only) = self.only_sink {
            clause.push_str(&format!(" AND o.sink = '{}'", only.as_str()));
        }
        clause
    }
}

/// Claims up to `limit` due actions for `owner` until `lease_until`, incrementing their attempts.
///
/// Due: pending or retrying, `next_attempt_at <= now`, not leased by a live deliverer, allowed by
/// `filter`, and no earlier action of the same ordering key still undelivered (so an incident's
/// actions go out in order). PostgreSQL replicas claim disjoint rows (`FOR UPDATE SKIP LOCKED`);
/// on SQLite the single UPDATE is atomic.
pub async fn claim_due(
    store: &Store,
    owner: &str,
    lease_until: Timestamp,
    limit: i64,
    filter: &ClaimFilter<'_>,
) -> Result<Vec<ActionRow>, StoreError> {
    let lock = if store.backend() == Backend::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
    let sql = format!(
        "UPDATE outbox SET lease_owner = $1, lease_until = $2, attempts = attempts + 1, \
         first_attempt_at = COALESCE(first_attempt_at, $3) \
         WHERE id IN (SELECT o.id FROM outbox o \
           WHERE o.state IN ($5, $6) AND o.next_attempt_at <= $3 \
             AND (o.lease_until IS NULL OR o.lease_until < $3){} \
             AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.ordering_key = o.ordering_key AND e.id < o.id \
                             AND e.state IN ($5, $6)) \
           ORDER BY o.id LIMIT $4{lock}) \
         RETURNING {COLUMNS}",
        filter.clause()
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
    /// The log sink printed it instead of sending it.
    Printed,
    /// It failed: `retrying` from `next_attempt_at`, or `dead` when that is `None` (and the rest
    /// of its chain is blocked behind it).
    Failed {
        /// Why.
        error: String,
        /// When to try again.
        next_attempt_at: Option<Timestamp>,
    },
}

/// Records the outcome of one attempt as soon as it is known; `false` when `owner` no longer
/// held the action's lease (another deliverer took it over: nothing is written over its claim).
pub async fn record(store: &Store, owner: &str, id: i64, outcome: &Attempted) -> Result<bool, StoreError> {
    let now = Timestamp::now().as_millis();
    let mut tx = store.pool().begin().await?;
    let kept = match outcome {
        Attempted::Delivered { remote_id } => done(&mut tx, id, owner, now, ActionState::Delivered, remote_id.as_deref()).await?,
        Attempted::Printed => done(&mut tx, id, owner, now, ActionState::Printed, Some("log")).await?,
        Attempted::Failed { error, next_attempt_at } => {
            let state = if next_attempt_at.is_some() { ActionState::Retrying } else { ActionState::Dead };
            let r = sqlx::query(
                "UPDATE outbox SET state = $3, next_attempt_at = COALESCE($4, next_attempt_at), last_error = $5, \
                 lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2",
            )
            .bind(id)
            .bind(owner)
            .bind(state.as_str())
            .bind(next_attempt_at.map(Timestamp::as_millis))
            .bind(error.as_str())
            .execute(&mut *tx)
            .await?;
            let kept = r.rows_affected() == 1;
            if kept && state == ActionState::Dead {
                block_chain(&mut tx, id).await?;
            }
            kept
        }
    };
    tx.commit().await?;
    Ok(kept)
}

async fn done(
    conn: &mut AnyConnection,
    id: i64,
    owner: &str,
    now: i64,
    state: ActionState,
    remote_id: Option<&str>,
) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE outbox SET state = $5, delivered_at = $3, remote_id = COALESCE($4, remote_id), \
         lease_owner = NULL, lease_until = NULL, last_error = NULL WHERE id = $1 AND lease_owner = $2",
    )
    .bind(id)
    .bind(owner)
    .bind(now)
    .bind(remote_id)
    .bind(state.as_str())
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// The later undelivered actions of dead action `id`'s chain wait for it: `blocked`.
async fn block_chain(conn: &mut AnyConnection, id: i64) -> Result<u64, StoreError> {
    let [pending, retrying] = ActionState::UNDELIVERED;
    let r = sqlx::query(
        "UPDATE outbox SET state = $2 WHERE state IN ($3, $4) AND id > $1 \
         AND ordering_key = (SELECT ordering_key FROM outbox WHERE id = $1)",
    )
    .bind(id)
    .bind(ActionState::Blocked.as_str())
    .bind(pending.as_str())
    .bind(retrying.as_str())
    .execute(conn)
    .await?;
    Ok(r.rows_affected())
}

/// Extends `owner`'s leases of `ids` (actions still in flight) to `lease_until`; returns how
/// many it still held.
pub async fn renew(store: &Store, owner: &str, ids: &[i64], lease_until: Timestamp) -> Result<u64, StoreError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let sql = format!("UPDATE outbox SET lease_until = $2 WHERE lease_owner = $1 AND id IN ({list})");
    let r = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(owner).bind(lease_until.as_millis()).execute(store.pool()).await?;
    Ok(r.rows_affected())
}

/// Moves the undelivered actions of `sink` due before `until` to `until` (its circuit breaker
/// opened): they wait without spending attempts.
pub async fn defer_sink(store: &Store, sink: SinkKind, until: Timestamp) -> Result<u64, StoreError> {
    let [pending, retrying] = ActionState::UNDELIVERED;
    let r = sqlx::query("UPDATE outbox SET next_attempt_at = $2 WHERE sink = $1 AND state IN ($3, $4) AND next_attempt_at < $2")
        .bind(sink.as_str())
        .bind(until.as_millis())
        .bind(pending.as_str())
        .bind(retrying.as_str())
        .execute(store.pool())
        .await?;
    Ok(r.rows_affected())
}

/// Requeues a dead action with a fresh attempt budget and, when no other action of its chain is
/// dead, releases the chain (the actions it blocked go after it, in order); false when `id` is
/// not dead.
pub async fn requeue(store: &Store, id: i64) -> Result<bool, StoreError> {
    let mut tx = store.pool().begin().await?;
    let result = sqlx::query("UPDATE outbox SET state = $3, attempts = 0, next_attempt_at = $2 WHERE id = $1 AND state = $4")
        .bind(id)
        .bind(Timestamp::now().as_millis())
        .bind(ActionState::Retrying.as_str())
        .bind(ActionState::Dead.as_str())
        .execute(&mut *tx)
        .await?;
    if result.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query(
        "UPDATE outbox SET state = $2 WHERE state = $3 AND ordering_key = (SELECT ordering_key FROM outbox WHERE id = $1) \
         AND NOT EXISTS (SELECT 1 FROM outbox d WHERE d.state = $4 AND d.ordering_key = outbox.ordering_key)",
    )
    .bind(id)
    .bind(ActionState::Pending.as_str())
    .bind(ActionState::Blocked.as_str())
    .bind(ActionState::Dead.as_str())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
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

/// The actions of one chain (`ordering_key`, e.g. `incident:42:pagerduty`), oldest first.
pub async fn chain(conn: &mut AnyConnection, ordering_key: &str) -> Result<Vec<ActionRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM outbox WHERE ordering_key = $1 ORDER BY id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(ordering_key).fetch_all(conn).await?;
    rows.iter().map(from_row).collect()
}

/// One action by id.
pub async fn get(store: &Store, id: i64) -> Result<Option<ActionRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM outbox WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(store.pool()).await?;
    row.as_ref().map(from_row).transpose()
}

/// The earliest `next_attempt_at` of undelivered actions allowed by `filter` (not excluded, not
/// of a held sink) and not leased by another deliverer, if any.
pub async fn next_due_at(store: &Store, filter: &ClaimFilter<'_>) -> Result<Option<Timestamp>, StoreError> {
    let sql = format!(
        "SELECT MIN(o.next_attempt_at) FROM outbox o WHERE o.state IN ($2, $3) AND (o.lease_until IS NULL OR o.lease_until < $1){}",
        filter.clause()
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

/// Number of actions not done, per state (pending, retrying, blocked, dead), for gauges: the
/// delivered history is not counted (counters count deliveries as they happen).
pub async fn count_undone(store: &Store) -> Result<Vec<(ActionState, i64)>, StoreError> {
    let [delivered, printed] = ActionState::DONE;
    let rows = sqlx::query("SELECT state, COUNT(*) FROM outbox WHERE state NOT IN ($1, $2) GROUP BY state")
        .bind(delivered.as_str())
        .bind(printed.as_str())
        .fetch_all(store.pool())
        .await?;
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

/// How many actions each worker holds a lease on at `now`: `(owner, count)`, by owner.
///
/// # Errors
/// A query failed.
pub async fn leases(store: &Store, now: Timestamp) -> Result<Vec<(String, i64)>, StoreError> {
    let rows = sqlx::query(
        "SELECT lease_owner, COUNT(*) FROM outbox WHERE lease_owner IS NOT NULL AND lease_until > $1 GROUP BY lease_owner ORDER BY lease_owner",
    )
    .bind(now.as_millis())
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}
