//! Tables `compat_detections` (a partner's new beta / upcoming API version, once per version,
//! with the entry that announced it) and `compat_detection_entries` (every entry about it).

use sqlx::{AnyConnection, Row};

use super::changelogs::EntryRecord;
use super::word;
use super::{Store, StoreError};
use crate::model::{P2State, Timestamp};

/// What [`record`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// A new detection, announced by this entry: the one a dispatch starts from.
    New(i64),
    /// The version was already detected: the entry is added to that detection (once; recording
    /// it again changes nothing), nothing to dispatch.
    Seen(i64),
}

impl Recorded {
    /// The detection's id.
    pub fn id(self) -> i64 {
        match self {
            Self::New(id) | Self::Seen(id) => id,
        }
    }
}

/// A stored detection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detection {
    /// Row id.
    pub id: i64,
    /// The partner.
    pub partner_id: String,
    /// The API version, or the announcing entry's identity when none could be extracted.
    pub version: String,
    /// The identity of the entry that announced it.
    pub first_entry_key: String,
    /// Its title.
    pub first_entry_title: String,
    /// Its link.
    pub first_entry_link: Option<String>,
    /// When that entry was published, when the feed said.
    pub first_entry_published_at: Option<Timestamp>,
    /// When it was detected.
    pub detected_at: Timestamp,
    /// Every entry about this version (the first included), by the time it was added, then key.
    pub entries: Vec<String>,
    /// Where its P2 stands (`None`: no failure yet).
    pub p2: Option<P2State>,
    /// Our key of its P2 (`compat:RUN_KEY` of the run that opened it).
    pub p2_incident: Option<String>,
    /// False for a detection backfilled by `sparky compat scan` without `--dispatch`.
    pub auto_dispatch: bool,
}

/// Records that `entry` of `partner` is about `version`: a new detection when the version is
/// new, else the entry added to the existing one. A new detection dispatches by itself unless
/// `auto_dispatch` is false (a backfill by `sparky compat scan`). Safe against a concurrent
/// writer (the `UNIQUE (partner_id, version)` decides) and idempotent.
///
/// # Errors
/// A query failed.
pub async fn record(
    conn: &mut AnyConnection,
    partner: &str,
    version: &str,
    entry: &EntryRecord,
    auto_dispatch: bool,
) -> Result<Recorded, StoreError> {
    let now = Timestamp::now().as_millis();
    let inserted = sqlx::query(
        "INSERT INTO compat_detections (partner_id, version, first_entry_key, first_entry_title, first_entry_link, detected_at, auto_dispatch, first_entry_published_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (partner_id, version) DO NOTHING RETURNING id",
    )
    .bind(partner)
    .bind(version)
    .bind(&entry.key)
    .bind(&entry.title)
    .bind(entry.link.as_deref())
    .bind(now)
    .bind(i64::from(auto_dispatch))
    .bind(entry.published_at.map(Timestamp::as_millis))
    .fetch_optional(&mut *conn)
    .await?;
    let recorded = match inserted {
        Some(row) => Recorded::New(row.try_get(0)?),
        None => {
            let row = sqlx::query("SELECT id FROM compat_detections WHERE partner_id = $1 AND version = $2")
                .bind(partner)
                .bind(version)
                .fetch_one(&mut *conn)
                .await?;
            Recorded::Seen(row.try_get(0)?)
        }
    };
    sqlx::query(
        "INSERT INTO compat_detection_entries (detection_id, entry_key, added_at) VALUES ($1, $2, $3) \
         ON CONFLICT (detection_id, entry_key) DO NOTHING",
    )
    .bind(recorded.id())
    .bind(&entry.key)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(recorded)
}

/// The detections of `partner` (every partner's with `None`), oldest first, with their entries.
///
/// # Errors
/// A query failed.
pub async fn list(store: &Store, partner: Option<&str>) -> Result<Vec<Detection>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM compat_detections WHERE $1 = '' OR partner_id = $1 ORDER BY id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(partner.unwrap_or("")).fetch_all(store.pool()).await?;
    let mut conn = store.pool().acquire().await?;
    let mut detections = Vec::with_capacity(rows.len());
    for row in &rows {
        detections.push(read(&mut conn, row).await?);
    }
    Ok(detections)
}

/// Detection `id`.
///
/// # Errors
/// A query failed.
pub async fn get(conn: &mut AnyConnection, id: i64) -> Result<Option<Detection>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM compat_detections WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&mut *conn).await?;
    match row {
        Some(row) => Ok(Some(read(conn, &row).await?)),
        None => Ok(None),
    }
}

/// The detections that dispatch by themselves and have no run yet, oldest first.
///
/// # Errors
/// A query failed.
pub async fn undispatched(store: &Store) -> Result<Vec<i64>, StoreError> {
    let rows = sqlx::query(
        "SELECT d.id FROM compat_detections d WHERE d.auto_dispatch = 1 \
         AND NOT EXISTS (SELECT 1 FROM compat_runs r WHERE r.detection_id = d.id) ORDER BY d.id",
    )
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
}

/// Sets detection `id`'s P2 state and incident key, in the caller's transaction.
///
/// # Errors
/// A query failed.
pub async fn set_p2(conn: &mut AnyConnection, id: i64, state: P2State, incident: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE compat_detections SET p2 = $2, p2_incident = $3 WHERE id = $1")
        .bind(id)
        .bind(state.as_str())
        .bind(incident)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

const COLUMNS: &str = "id, partner_id, version, first_entry_key, first_entry_title, first_entry_link, detected_at, p2, p2_incident, auto_dispatch, first_entry_published_at";

async fn read(conn: &mut AnyConnection, row: &sqlx::any::AnyRow) -> Result<Detection, StoreError> {
    let id: i64 = row.try_get(0)?;
    let entries = sqlx::query("SELECT entry_key FROM compat_detection_entries WHERE detection_id = $1 ORDER BY added_at, entry_key")
        .bind(id)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect::<Result<Vec<_>, _>>()?;
    let p2: Option<String> = row.try_get(7)?;
    Ok(Detection {
        id,
        partner_id: row.try_get(1)?,
        version: row.try_get(2)?,
        first_entry_key: row.try_get(3)?,
        first_entry_title: row.try_get(4)?,
        first_entry_link: row.try_get(5)?,
        detected_at: Timestamp::from_millis(row.try_get(6)?),
        entries,
        p2: match p2 {
            Some(_) => Some(word(row, 7, "compat_detections.p2")?),
            None => None,
        },
        p2_incident: row.try_get(8)?,
        auto_dispatch: row.try_get::<i64, _>(9)? != 0,
        first_entry_published_at: row.try_get::<Option<i64>, _>(10)?.map(Timestamp::from_millis),
    })
}
