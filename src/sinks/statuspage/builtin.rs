//! Sparky's built-in public status page, used when no Atlassian Statuspage key is set: our
//! components (one per partner) and incidents live in the tables `public_components` and
//! `public_incidents`, and [`summary`] serves them as a Statuspage v2 `summary.json` (the shape of
//! a real page's `/api/v2/summary.json`, readable by any Statuspage client, Sparky's own
//! `statuspage` adapter included). `GET /status` renders the same data as HTML.
//!
//! Deliveries are idempotent: opening an incident twice keeps the first, and an update equal to
//! the latest one (same status and text) is not appended again.

use std::collections::HashMap;

use chrono::SecondsFormat;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::Row;

use super::{IncidentStatus, PublicComponent, StatuspageAction, StatuspageConfig};
use crate::outbox::{Delivered, DeliveryError};
use crate::sources::status_pages::{ComponentStatus, Indicator};
use crate::store::{Store, StoreError, ms_to_time, now_ms};

/// `page.id` of the built-in page.
pub const PAGE_ID: &str = "sparky";
/// Attempts at an update that races another writer of the same incident.
const CAS_ATTEMPTS: usize = 5;

/// Keeps our public components and incidents in the database.
pub struct BuiltinStatusPage {
    store: Store,
}

/// One update of an incident, as stored in `public_incidents.updates`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredUpdate {
    status: String,
    body: String,
    /// When (ms).
    at: i64,
}

impl BuiltinStatusPage {
    /// The page stored in `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Applies one action; the remote id is the partner id (component) or our incident key.
    pub async fn deliver(&self, action: &StatuspageAction) -> Result<Delivered, DeliveryError> {
        let now = now_ms();
        let retry = |e: StoreError| DeliveryError::retry(format!("built-in status page: {e}"));
        match action {
            StatuspageAction::Component(c) => {
                upsert_component(&self.store, c, now).await.map_err(retry)?;
                Ok(Delivered { remote_id: Some(c.partner.clone()) })
            }
            StatuspageAction::OpenIncident { incident, name, body, status, components } => {
                open_incident(&self.store, incident, name, body, *status, components, now).await.map_err(retry)?;
                Ok(Delivered { remote_id: Some(incident.clone()) })
            }
            StatuspageAction::UpdateIncident { incident, body, status } => self.update(incident, body, *status, now).await,
            StatuspageAction::ResolveIncident { incident, body } => self.update(incident, body, IncidentStatus::Resolved, now).await,
        }
    }

    async fn update(&self, key: &str, body: &str, status: IncidentStatus, now: i64) -> Result<Delivered, DeliveryError> {
        match append_update(&self.store, key, body, status, now).await {
            Ok(true) => Ok(Delivered { remote_id: Some(key.to_owned()) }),
            Ok(false) => Err(DeliveryError::retry(format!("built-in status page: incident `{key}` not opened yet"))),
            Err(e) => Err(DeliveryError::retry(format!("built-in status page: {e}"))),
        }
    }
}

async fn upsert_component(store: &Store, c: &PublicComponent, now: i64) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO public_components (partner_id, name, status, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (partner_id) DO UPDATE SET name = $2, status = $3, updated_at = $4",
    )
    .bind(&c.partner)
    .bind(&c.name)
    .bind(c.status.as_str())
    .bind(now)
    .execute(store.pool())
    .await?;
    Ok(())
}

/// The impact of an incident on `components`: their worst status as an indicator word
/// (degraded -> minor, partial -> major, major outage -> critical, maintenance -> maintenance).
pub fn impact(components: &[PublicComponent]) -> Indicator {
    components.iter().map(|c| c.status).max().unwrap_or(ComponentStatus::Operational).as_indicator()
}

/// Inserts the incident (a second open of the same key changes nothing); on first insert the
/// affected components take their stated status, as Statuspage applies `components` on create.
async fn open_incident(
    store: &Store,
    key: &str,
    name: &str,
    body: &str,
    status: IncidentStatus,
    components: &[PublicComponent],
    now: i64,
) -> Result<(), StoreError> {
    let corrupt = |e: serde_json::Error| StoreError::Corrupt { what: "public_incidents", reason: e.to_string() };
    let components_json = serde_json::to_string(components).map_err(corrupt)?;
    let updates = vec![StoredUpdate { status: status.as_str().to_owned(), body: body.to_owned(), at: now }];
    let updates_json = serde_json::to_string(&updates).map_err(corrupt)?;
    let resolved_at = (status == IncidentStatus::Resolved).then_some(now);
    let mut tx = store.pool().begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO public_incidents (local_key, name, status, impact, components, updates, created_at, updated_at, resolved_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8) ON CONFLICT (local_key) DO NOTHING",
    )
    .bind(key)
    .bind(name)
    .bind(status.as_str())
    .bind(impact(components).as_str())
    .bind(&components_json)
    .bind(&updates_json)
    .bind(now)
    .bind(resolved_at)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 1 {
        for c in components {
            sqlx::query(
                "INSERT INTO public_components (partner_id, name, status, updated_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (partner_id) DO UPDATE SET name = $2, status = $3, updated_at = $4",
            )
            .bind(&c.partner)
            .bind(&c.name)
            .bind(c.status.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Appends an update and sets the status (`resolved` sets `resolved_at` once; another status
/// clears it). An update equal to the latest one is not appended twice. `false` when the
/// incident is unknown. Compare-and-swap on `updates`, so concurrent writers lose nothing.
async fn append_update(store: &Store, key: &str, body: &str, status: IncidentStatus, now: i64) -> Result<bool, StoreError> {
    for _ in 0..CAS_ATTEMPTS {
        let row =
            sqlx::query("SELECT status, updates FROM public_incidents WHERE local_key = $1").bind(key).fetch_optional(store.pool()).await?;
        let Some(row) = row else { return Ok(false) };
        let current: String = row.try_get(0)?;
        let old_json: String = row.try_get(1)?;
        let mut updates = parse_updates(&old_json)?;
        if current == status.as_str() && updates.last().is_some_and(|u| u.status == status.as_str() && u.body == body) {
            return Ok(true);
        }
        updates.push(StoredUpdate { status: status.as_str().to_owned(), body: body.to_owned(), at: now });
        let new_json =
            serde_json::to_string(&updates).map_err(|e| StoreError::Corrupt { what: "public_incidents.updates", reason: e.to_string() })?;
        let resolved = i64::from(status == IncidentStatus::Resolved);
        let changed = sqlx::query(
            "UPDATE public_incidents SET status = $2, updates = $3, updated_at = $4, \
             resolved_at = CASE WHEN $5 = 1 THEN COALESCE(resolved_at, $4) ELSE NULL END \
             WHERE local_key = $1 AND updates = $6",
        )
        .bind(key)
        .bind(status.as_str())
        .bind(&new_json)
        .bind(now)
        .bind(resolved)
        .bind(&old_json)
        .execute(store.pool())
        .await?
        .rows_affected();
        if changed == 1 {
            return Ok(true);
        }
    }
    Err(StoreError::Corrupt {
        what: "public_incidents.updates",
        reason: format!("incident `{key}` kept changing under concurrent updates"),
    })
}

fn parse_updates(json: &str) -> Result<Vec<StoredUpdate>, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt { what: "public_incidents.updates", reason: e.to_string() })
}

/// Statuspage's words for a page indicator.
pub fn describe(indicator: Indicator) -> &'static str {
    match indicator {
        Indicator::None => "All Systems Operational",
        Indicator::Minor => "Minor Service Outage",
        Indicator::Major => "Partial System Outage",
        Indicator::Critical => "Major System Outage",
        Indicator::Maintenance => "Service Under Maintenance",
        Indicator::Unknown => "Status Unknown",
    }
}

/// A stored time in Statuspage's format (`2026-08-17T13:40:03.629Z`).
fn time(ms: i64) -> String {
    ms_to_time(ms).to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The built-in page as a Statuspage v2 `summary.json`: `page`, `components` (one per partner of
/// `partners` (id, name), in that order, named by the partner's name, `operational` until told
/// otherwise), `incidents` (unresolved, newest first, each with `incident_updates` newest first),
/// `scheduled_maintenances` (always empty) and `status` (the worst component's indicator).
pub async fn summary(store: &Store, page: &StatuspageConfig, partners: &[(String, String)]) -> Result<Value, StoreError> {
    let rows = sqlx::query("SELECT partner_id, status, updated_at FROM public_components").fetch_all(store.pool()).await?;
    let mut stored: HashMap<String, (ComponentStatus, i64)> = HashMap::new();
    for row in rows {
        let id: String = row.try_get(0)?;
        let word: String = row.try_get(1)?;
        let status = ComponentStatus::parse(&word)
            .ok_or_else(|| StoreError::Corrupt { what: "public_components.status", reason: format!("unknown status `{word}`") })?;
        stored.insert(id, (status, row.try_get(2)?));
    }
    let mut latest: Option<i64> = None;
    let mut worst = ComponentStatus::Operational;
    let mut components = Vec::with_capacity(partners.len());
    for (position, (id, name)) in partners.iter().enumerate() {
        let (status, at) = stored.get(id).map_or((ComponentStatus::Operational, None), |(s, at)| (*s, Some(*at)));
        worst = worst.max(status);
        latest = latest.max(at);
        components.push(component_json(id, name, status, at, position + 1));
    }
    let names: HashMap<&str, (&str, usize)> =
        partners.iter().enumerate().map(|(i, (id, name))| (id.as_str(), (name.as_str(), i + 1))).collect();

    let rows = sqlx::query(
        "SELECT local_key, name, status, impact, components, updates, created_at, updated_at FROM public_incidents \
         WHERE status <> 'resolved' ORDER BY created_at DESC, local_key",
    )
    .fetch_all(store.pool())
    .await?;
    let mut incidents = Vec::with_capacity(rows.len());
    for row in rows {
        let key: String = row.try_get(0)?;
        let affected: Vec<PublicComponent> = serde_json::from_str(&row.try_get::<String, _>(4)?)
            .map_err(|e| StoreError::Corrupt { what: "public_incidents.components", reason: e.to_string() })?;
        let updates = parse_updates(&row.try_get::<String, _>(5)?)?;
        let created_at: i64 = row.try_get(6)?;
        let updated_at: i64 = row.try_get(7)?;
        latest = latest.max(Some(updated_at));
        let status: String = row.try_get(2)?;
        let incident_components: Vec<Value> = affected
            .iter()
            .map(|c| {
                let (name, position) = names.get(c.partner.as_str()).copied().unwrap_or((c.name.as_str(), 0));
                let (status, at) = stored.get(&c.partner).map_or((c.status, None), |(s, at)| (*s, Some(*at)));
                component_json(&c.partner, name, status, at, position)
            })
            .collect();
        let incident_updates: Vec<Value> = updates
            .iter()
            .enumerate()
            .rev()
            .map(|(i, u)| {
                json!({
                    "id": format!("{key}-{}", i + 1),
                    "status": u.status,
                    "body": u.body,
                    "incident_id": key,
                    "created_at": time(u.at),
                    "updated_at": time(u.at),
                    "display_at": time(u.at),
                    "deliver_notifications": true,
                    "custom_tweet": null,
                    "tweet_id": null,
                })
            })
            .collect();
        let monitoring_at = updates.iter().find(|u| u.status == "monitoring").map(|u| time(u.at));
        incidents.push(json!({
            "id": key,
            "name": row.try_get::<String, _>(1)?,
            "status": status,
            "created_at": time(created_at),
            "updated_at": time(updated_at),
            "monitoring_at": monitoring_at,
            "resolved_at": null,
            "impact": row.try_get::<String, _>(3)?,
            "shortlink": null,
            "started_at": time(created_at),
            "page_id": PAGE_ID,
            "incident_updates": incident_updates,
            "components": incident_components,
        }));
    }
    let indicator = worst.as_indicator();
    Ok(json!({
        "page": {
            "id": PAGE_ID,
            "name": page.title,
            "url": "/status",
            "time_zone": "Etc/UTC",
            "updated_at": time(latest.unwrap_or_else(now_ms)),
        },
        "components": components,
        "incidents": incidents,
        "scheduled_maintenances": [],
        "status": {"indicator": indicator.as_str(), "description": describe(indicator)},
    }))
}

fn component_json(id: &str, name: &str, status: ComponentStatus, at: Option<i64>, position: usize) -> Value {
    let at = at.map(time);
    json!({
        "id": id,
        "name": name,
        "status": status.as_str(),
        "created_at": at,
        "updated_at": at,
        "position": position,
        "description": null,
        "showcase": false,
        "start_date": null,
        "group_id": null,
        "page_id": PAGE_ID,
        "group": false,
        "only_show_if_degraded": false,
    })
}
