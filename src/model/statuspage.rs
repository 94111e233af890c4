//! The Atlassian Statuspage v2 public `summary.json`, typed once for the three places that use
//! it: the `statuspage` adapter reads partners' pages with it (every field optional and lenient,
//! so `status.json`, `components.json` and `incidents.json` parse too, and a number where text was
//! expected is read as text), the built-in public page writes it, and `/status` renders it.
//!
//! Follows <https://developer.statuspage.io> ("Public API": `/api/v2/summary.json`): `page`,
//! `status`, `components`, `incidents` (with `incident_updates`), `scheduled_maintenances`.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

vocabulary! {
    /// An incident's status on a Statuspage page (`incident.status`), as we set it on ours.
    pub enum IncidentStatus {
        /// Looking into it.
        Investigating,
        /// Cause known.
        Identified,
        /// Fixed, watching.
        Monitoring,
        /// Over.
        Resolved,
    }
}

/// A summary, or any single endpoint of the public API.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<Page>,
    /// Components (groups included: `group = true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<Component>>,
    /// Incidents: unresolved ones in a summary, recent ones in `incidents.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incidents: Option<Vec<Incident>>,
    /// Maintenances, upcoming or in progress (same shape as incidents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_maintenances: Option<Vec<Incident>>,
    /// The page indicator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
}

/// `page`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Page {
    /// Page id.
    #[serde(default, deserialize_with = "text")]
    pub id: Option<String>,
    /// Page name.
    #[serde(default, deserialize_with = "text")]
    pub name: Option<String>,
    /// The page's public URL.
    #[serde(default, deserialize_with = "text")]
    pub url: Option<String>,
    /// Time zone, e.g. `Etc/UTC`.
    #[serde(default, deserialize_with = "text")]
    pub time_zone: Option<String>,
    /// Last change, RFC 3339.
    #[serde(default, deserialize_with = "text")]
    pub updated_at: Option<String>,
}

/// `status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// `none`, `minor`, `major`, `critical`, `maintenance`.
    #[serde(default, deserialize_with = "text")]
    pub indicator: Option<String>,
    /// Its words, e.g. "Partial System Outage".
    #[serde(default, deserialize_with = "text")]
    pub description: Option<String>,
}

/// A component (also as listed inside an incident).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Component {
    /// Component id.
    #[serde(default, deserialize_with = "text")]
    pub id: Option<String>,
    /// Display name.
    #[serde(default, deserialize_with = "text")]
    pub name: Option<String>,
    /// `operational`, `degraded_performance`, `partial_outage`, `major_outage`, `under_maintenance`.
    #[serde(default, deserialize_with = "text")]
    pub status: Option<String>,
    /// Created, RFC 3339.
    #[serde(default, deserialize_with = "text")]
    pub created_at: Option<String>,
    /// Last change, RFC 3339.
    #[serde(default, deserialize_with = "text")]
    pub updated_at: Option<String>,
    /// Order on the page.
    #[serde(default, deserialize_with = "number")]
    pub position: Option<i64>,
    /// Description.
    #[serde(default, deserialize_with = "text")]
    pub description: Option<String>,
    /// Shown on the page.
    #[serde(default, deserialize_with = "flag")]
    pub showcase: Option<bool>,
    /// Start date.
    #[serde(default, deserialize_with = "text")]
    pub start_date: Option<String>,
    /// The group it belongs to.
    #[serde(default, deserialize_with = "text")]
    pub group_id: Option<String>,
    /// Page id.
    #[serde(default, deserialize_with = "text")]
    pub page_id: Option<String>,
    /// Whether this is a group.
    #[serde(default, deserialize_with = "flag")]
    pub group: Option<bool>,
    /// Shown only when degraded.
    #[serde(default, deserialize_with = "flag")]
    pub only_show_if_degraded: Option<bool>,
}

/// An incident or a scheduled maintenance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// Incident id.
    #[serde(default, deserialize_with = "text")]
    pub id: Option<String>,
    /// Title.
    #[serde(default, deserialize_with = "text")]
    pub name: Option<String>,
    /// `investigating`, `identified`, `monitoring`, `resolved`, `postmortem`; maintenances:
    /// `scheduled`, `in_progress`, `verifying`, `completed`.
    #[serde(default, deserialize_with = "text")]
    pub status: Option<String>,
    /// Created, RFC 3339.
    #[serde(default, deserialize_with = "text")]
    pub created_at: Option<String>,
    /// Last change, RFC 3339.
    #[serde(default, deserialize_with = "text")]
    pub updated_at: Option<String>,
    /// When it went to monitoring, RFC 3339.
    #[serde(default, deserialize_with = "text")]
    pub monitoring_at: Option<String>,
    /// When it was resolved, RFC 3339.
    #[serde(default, deserialize_with = "text")]
    pub resolved_at: Option<String>,
    /// `none`, `minor`, `major`, `critical`, `maintenance`.
    #[serde(default, deserialize_with = "text")]
    pub impact: Option<String>,
    /// A short link to it.
    #[serde(default, deserialize_with = "text")]
    pub shortlink: Option<String>,
    /// When it started, RFC 3339.
    #[serde(default, deserialize_with = "text")]
    pub started_at: Option<String>,
    /// Page id.
    #[serde(default, deserialize_with = "text")]
    pub page_id: Option<String>,
    /// A maintenance's planned start.
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub scheduled_for: Option<String>,
    /// A maintenance's planned end.
    #[serde(default, deserialize_with = "text", skip_serializing_if = "Option::is_none")]
    pub scheduled_until: Option<String>,
    /// Its updates, newest first.
    #[serde(default, deserialize_with = "objects")]
    pub incident_updates: Vec<IncidentUpdate>,
    /// The affected components.
    #[serde(default, deserialize_with = "objects")]
    pub components: Vec<Component>,
}

/// One update of an incident.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IncidentUpdate {
    /// Update id.
    #[serde(default, deserialize_with = "text")]
    pub id: Option<String>,
    /// The incident's status with this update.
    #[serde(default, deserialize_with = "text")]
    pub status: Option<String>,
    /// The message.
    #[serde(default, deserialize_with = "text")]
    pub body: Option<String>,
    /// The incident's id.
    #[serde(default, deserialize_with = "text")]
    pub incident_id: Option<String>,
    /// Created, RFC 3339.
    #[serde(default, deserialize_with = "text")]
    pub created_at: Option<String>,
    /// Last change, RFC 3339.
    #[serde(default, deserialize_with = "text")]
    pub updated_at: Option<String>,
    /// Shown as of, RFC 3339.
    #[serde(default, deserialize_with = "text")]
    pub display_at: Option<String>,
    /// Whether subscribers were notified.
    #[serde(default, deserialize_with = "flag")]
    pub deliver_notifications: Option<bool>,
    /// Tweet text.
    #[serde(default, deserialize_with = "text")]
    pub custom_tweet: Option<String>,
    /// Tweet id.
    #[serde(default, deserialize_with = "text")]
    pub tweet_id: Option<String>,
}

/// A JSON scalar as text: strings (trimmed, non-empty), numbers and booleans; else `None`.
pub fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(scalar_text(&Value::deserialize(d)?))
}

fn number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(Value::deserialize(d)?.as_i64())
}

fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(Value::deserialize(d)?.as_bool())
}

/// A list of objects, items of another shape skipped; anything but a list as empty.
fn objects<'de, D: Deserializer<'de>, T: serde::de::DeserializeOwned>(d: D) -> Result<Vec<T>, D::Error> {
    let Value::Array(items) = Value::deserialize(d)? else { return Ok(Vec::new()) };
    Ok(items.into_iter().filter(Value::is_object).filter_map(|item| serde_json::from_value(item).ok()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_of_another_type_read_leniently() {
        let s: Summary = serde_json::from_str(
            r#"{"status": {"indicator": 3, "description": null}, "components": [{"id": 7, "name": " API ", "position": "x"}],
                "incidents": [{"id": "i", "components": [1, {"name": "API"}], "incident_updates": "none"}]}"#,
        )
        .unwrap();
        assert_eq!(s.status.unwrap().indicator.as_deref(), Some("3"));
        let c = &s.components.unwrap()[0];
        assert_eq!((c.id.as_deref(), c.name.as_deref(), c.position), (Some("7"), Some("API"), None));
        let i = &s.incidents.unwrap()[0];
        assert_eq!(i.components.len(), 1);
        assert!(i.incident_updates.is_empty());
    }

    #[test]
    fn a_list_where_a_list_belongs_is_required() {
        assert!(serde_json::from_str::<Summary>(r#"{"components": 3}"#).is_err());
    }
}
