//! Tables `public_components` and `public_incidents`: Sparky's built-in public status page (used
//! when no Atlassian Statuspage key is set), one component per partner and our incidents as
//! customers see them. Writes are idempotent: opening an incident twice keeps the first, and an
//! update equal to the latest one is not appended again.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{Store, StoreError, corrupt, word};
use crate::model::statuspage::IncidentStatus;
use crate::model::{ComponentStatus, Indicator, Timestamp};

/// Attempts at an update that races another writer of the same incident.
const CAS_ATTEMPTS: usize = 5;

/// A partner's component on our page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentRow {
    /// Partner id.
    pub partner: String,
    /// Its status.
    pub status: ComponentStatus,
    /// Last change.
    pub updated_at: Timestamp,
}

/// One update of an incident, as stored in `public_incidents.updates`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Update {
    /// The incident's status with this update.
    pub status: IncidentStatus,
    /// The message.
    pub body: String,
    /// When.
    pub at: Timestamp,
}

/// An affected component, as stored in `public_incidents.components`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Affected {
    /// Partner id.
    pub partner: String,
    /// Component name (the partner's `name`).
    pub name: String,
    /// Its status when the incident opened.
    pub status: ComponentStatus,
}

/// One of our public incidents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentRow {
    /// Our key (`incident:42`).
    pub key: String,
    /// Title.
    pub name: String,
    /// Its status.
    pub status: IncidentStatus,
    /// Impact.
    pub impact: Indicator,
    /// Affected components.
    pub components: Vec<Affected>,
    /// Updates, oldest first.
    pub updates: Vec<Update>,
    /// Opened.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

fn json<T: Serialize>(value: &T, what: &'static str) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| corrupt(what, e.to_string()))
}

fn parse<T: for<'de> Deserialize<'de>>(text: &str, what: &'static str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt(what, e.to_string()))
}

/// Sets a partner's component.
pub async fn set_component(store: &Store, partner: &str, name: &str, status: ComponentStatus, now: Timestamp) -> Result<(), StoreError> {
    let mut conn = store.pool().acquire().await?;
    upsert_component(&mut conn, partner, name, status, now).await
}

async fn upsert_component(
    conn: &mut sqlx::AnyConnection,
    partner: &str,
    name: &str,
    status: ComponentStatus,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO public_components (partner_id, name, status, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (partner_id) DO UPDATE SET name = $2, status = $3, updated_at = $4",
    )
    .bind(partner)
    .bind(name)
    .bind(status.as_str())
    .bind(now.as_millis())
    .execute(conn)
    .await?;
    Ok(())
}

/// A new public incident.
#[derive(Debug, Clone)]
pub struct NewIncident<'a> {
    /// Our key.
    pub key: &'a str,
    /// Title.
    pub name: &'a str,
    /// The first update's message.
    pub body: &'a str,
    /// Its status.
    pub status: IncidentStatus,
    /// Affected components and their status.
    pub components: &'a [Affected],
    /// The impact to show; `None`: the worst affected component's.
    pub impact: Option<Indicator>,
    /// When.
    pub at: Timestamp,
}

/// Inserts the incident (a second open of the same key changes nothing); on first insert the
/// affected components take their stated status, as Statuspage applies `components` on create.
/// The impact is the stated one, else the worst affected component's, as an indicator.
pub async fn open_incident(store: &Store, new: &NewIncident<'_>) -> Result<(), StoreError> {
    let worst = || new.components.iter().map(|c| c.status).max().unwrap_or(ComponentStatus::Operational).as_indicator();
    let impact = new.impact.unwrap_or_else(worst);
    let updates = vec![Update { status: new.status, body: new.body.to_owned(), at: new.at }];
    let resolved_at = (new.status == IncidentStatus::Resolved).then_some(new.at.as_millis());
    let mut tx = store.pool().begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO public_incidents (local_key, name, status, impact, components, updates, created_at, updated_at, resolved_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8) ON CONFLICT (local_key) DO NOTHING",
    )
    .bind(new.key)
    .bind(new.name)
    .bind(new.status.as_str())
    .bind(impact.as_str())
    .bind(json(&new.components, "public_incidents.components")?)
    .bind(json(&updates, "public_incidents.updates")?)
    .bind(new.at.as_millis())
    .bind(resolved_at)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 1 {
        for c in new.components {
            upsert_component(&mut tx, &c.partner, &c.name, c.status, new.at).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Appends an update and sets the status (`resolved` sets `resolved_at` once; another status
/// clears it). An update equal to the latest one is not appended twice. `false` when the
/// incident is unknown. Compare-and-swap on `updates`, so concurrent writers lose nothing.
pub async fn append_update(store: &Store, key: &str, body: &str, status: IncidentStatus, now: Timestamp) -> Result<bool, StoreError> {
    for _ in 0..CAS_ATTEMPTS {
        let row =
            sqlx::query("SELECT status, updates FROM public_incidents WHERE local_key = $1").bind(key).fetch_optional(store.pool()).await?;
        let Some(row) = row else { return Ok(false) };
        let current: IncidentStatus = word(&row, 0, "public_incidents.status")?;
        let old_json: String = row.try_get(1)?;
        let mut updates: Vec<Update> = parse(&old_json, "public_incidents.updates")?;
        if current == status && updates.last().is_some_and(|u| u.status == status && u.body == body) {
            return Ok(true);
        }
        updates.push(Update { status, body: body.to_owned(), at: now });
        let changed = sqlx::query(
            "UPDATE public_incidents SET status = $2, updates = $3, updated_at = $4, \
             resolved_at = CASE WHEN $5 = 1 THEN COALESCE(resolved_at, $4) ELSE NULL END \
             WHERE local_key = $1 AND updates = $6",
        )
        .bind(key)
        .bind(status.as_str())
        .bind(json(&updates, "public_incidents.updates")?)
        .bind(now.as_millis())
        .bind(i64::from(status == IncidentStatus::Resolved))
        .bind(&old_json)
        .execute(store.pool())
        .await?
        .rows_affected();
        if changed == 1 {
            return Ok(true);
        }
    }
    Err(corrupt("public_incidents.updates", format!("incident `{key}` kept changing under concurrent updates")))
}

/// Every stored component.
pub async fn components(store: &Store) -> Result<Vec<ComponentRow>, StoreError> {
    let rows = sqlx::query("SELECT partner_id, status, updated_at FROM public_components").fetch_all(store.pool()).await?;
    rows.iter()
        .map(|r| {
            Ok(ComponentRow {
                partner: r.try_get(0)?,
                status: word(r, 1, "public_components.status")?,
                updated_at: Timestamp::from_millis(r.try_get(2)?),
            })
        })
        .collect()
}

/// Unresolved incidents, newest first.
pub async fn open_incidents(store: &Store) -> Result<Vec<IncidentRow>, StoreError> {
    let sql = format!("SELECT {INCIDENT_COLUMNS} FROM public_incidents WHERE status <> $1 ORDER BY created_at DESC, local_key");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(IncidentStatus::Resolved.as_str()).fetch_all(store.pool()).await?;
    rows.iter().map(incident_row).collect()
}

/// Every incident open at or after `since` (unresolved, or last changed since), newest first:
/// the page's history.
pub async fn incidents_since(store: &Store, since: Timestamp) -> Result<Vec<IncidentRow>, StoreError> {
    let sql = format!(
        "SELECT {INCIDENT_COLUMNS} FROM public_incidents WHERE status <> $1 OR updated_at >= $2 ORDER BY created_at DESC, local_key"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(IncidentStatus::Resolved.as_str())
        .bind(since.as_millis())
        .fetch_all(store.pool())
        .await?;
    rows.iter().map(incident_row).collect()
}

const INCIDENT_COLUMNS: &str = "local_key, name, status, impact, components, updates, created_at, updated_at";

fn incident_row(r: &sqlx::any::AnyRow) -> Result<IncidentRow, StoreError> {
    Ok(IncidentRow {
        key: r.try_get(0)?,
        name: r.try_get(1)?,
        status: word(r, 2, "public_incidents.status")?,
        impact: word(r, 3, "public_incidents.impact")?,
        components: parse(&r.try_get::<String, _>(4)?, "public_incidents.components")?,
        updates: parse(&r.try_get::<String, _>(5)?, "public_incidents.updates")?,
        created_at: Timestamp::from_millis(r.try_get(6)?),
        updated_at: Timestamp::from_millis(r.try_get(7)?),
    })
}
