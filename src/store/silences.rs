//! Table `silences`: the silences of our own side, added by `sparky silence add` (and, later,
//! the dashboard's admin actions), listed, and ended early. Every replica reads the same rows.
//! (`[[maintenance]]` windows are configuration, not stored.)

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, corrupt};
use crate::model::{Silence, SilenceTarget, Timestamp};

/// A silence to add.
#[derive(Debug, Clone)]
pub struct NewSilence<'a> {
    /// What it covers.
    pub target: &'a SilenceTarget,
    /// In force from.
    pub starts_at: Timestamp,
    /// In force until (exclusive); after `starts_at`.
    pub ends_at: Timestamp,
    /// Why.
    pub reason: &'a str,
    /// Who.
    pub created_by: &'a str,
    /// When it is added.
    pub created_at: Timestamp,
}

/// What [`end`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// No silence has this id.
    NotFound,
    /// Ended now.
    Ended(Silence),
    /// It had already ended (by an earlier `end`, or its end time passed): unchanged.
    AlreadyOver(Silence),
}

const COLUMNS: &str = "id, partner_id, check_id, starts_at, ends_at, reason, created_by, created_at, ended_at";

fn silence(row: &AnyRow) -> Result<Silence, StoreError> {
    let partner: Option<String> = row.try_get(1)?;
    let check: Option<String> = row.try_get(2)?;
    let target = match (partner, check) {
        (Some(p), None) => SilenceTarget::Partner(p.parse().map_err(|e: String| corrupt("silences.partner_id", e))?),
        (None, Some(c)) => SilenceTarget::Check(c.parse().map_err(|e: String| corrupt("silences.check_id", e))?),
        _ => return Err(corrupt("silences.partner_id", "exactly one of partner_id and check_id must be set")),
    };
    Ok(Silence {
        id: row.try_get(0)?,
        target,
        starts_at: Timestamp::from_millis(row.try_get(3)?),
        ends_at: Timestamp::from_millis(row.try_get(4)?),
        reason: row.try_get(5)?,
        created_by: row.try_get(6)?,
        created_at: Timestamp::from_millis(row.try_get(7)?),
        ended_at: row.try_get::<Option<i64>, _>(8)?.map(Timestamp::from_millis),
    })
}

/// Adds a silence; returns it with its id.
///
/// Errors: the database, or a row the `CHECK` constraints refuse (`ends_at` not after
/// `starts_at`).
pub async fn add(store: &Store, new: &NewSilence<'_>) -> Result<Silence, StoreError> {
    let (partner, check) = match new.target {
        SilenceTarget::Partner(p) => (Some(p.as_str()), None),
        SilenceTarget::Check(c) => (None, Some(c.as_str())),
    };
    let sql = format!(
        "INSERT INTO silences (partner_id, check_id, starts_at, ends_at, reason, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(partner)
        .bind(check)
        .bind(new.starts_at.as_millis())
        .bind(new.ends_at.as_millis())
        .bind(new.reason)
        .bind(new.created_by)
        .bind(new.created_at.as_millis())
        .fetch_one(store.pool())
        .await?;
    silence(&row)
}

/// The silences not over at `now` (in force, or starting later), soonest end first; with
/// `all`, every silence, newest first.
pub async fn list(store: &Store, now: Timestamp, all: bool) -> Result<Vec<Silence>, StoreError> {
    let sql = if all {
        format!("SELECT {COLUMNS} FROM silences ORDER BY id DESC")
    } else {
        format!("SELECT {COLUMNS} FROM silences WHERE ends_at > $1 AND (ended_at IS NULL OR ended_at > $1) ORDER BY ends_at, id")
    };
    let query = sqlx::query(sqlx::AssertSqlSafe(sql));
    let query = if all { query } else { query.bind(now.as_millis()) };
    query.fetch_all(store.pool()).await?.iter().map(silence).collect()
}

/// The silences in force at `now`.
pub async fn in_force(store: &Store, now: Timestamp) -> Result<Vec<Silence>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM silences WHERE starts_at <= $1 AND ends_at > $1 AND (ended_at IS NULL OR ended_at > $1) ORDER BY id"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now.as_millis()).fetch_all(store.pool()).await?.iter().map(silence).collect()
}

/// Silence `id`, if there is one.
pub async fn get(store: &Store, id: i64) -> Result<Option<Silence>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM silences WHERE id = $1");
    sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(store.pool()).await?.as_ref().map(silence).transpose()
}

/// Ends silence `id` at `at`, unless it is already over (ended, or past its end): what it held
/// goes out at the next triage round. A silence that has not started yet ends too (it never
/// will be in force).
pub async fn end(store: &Store, id: i64, at: Timestamp) -> Result<Ended, StoreError> {
    let sql = format!("UPDATE silences SET ended_at = $2 WHERE id = $1 AND ended_at IS NULL AND ends_at > $2 RETURNING {COLUMNS}");
    if let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).bind(at.as_millis()).fetch_optional(store.pool()).await? {
        return Ok(Ended::Ended(silence(&row)?));
    }
    Ok(get(store, id).await?.map_or(Ended::NotFound, Ended::AlreadyOver))
}
