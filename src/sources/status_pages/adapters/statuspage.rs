//! Atlassian Statuspage v2 public API (https://developer.statuspage.io, "Public API" of a page:
//! `/api/v2/summary.json`, `status.json`, `components.json`, `incidents.json`,
//! `scheduled-maintenances.json`), and incident.io's Statuspage-compatible `summary.json`.
//!
//! Accepted shape (every key optional, so each single endpoint parses, but there must be
//! something to read: a known `status.indicator`, a named component, or an `incidents` or
//! `scheduled_maintenances` list; else `no_status`, e.g. for `{}`, `{"status": {}}`,
//! `{"error": "..."}` or `[]`, which would otherwise read as all operational):
//!
//! ```json
//! { "status": { "indicator": "major", "description": "Partial System Outage" },
//!   "components": [ { "id": "c1", "name": "API", "status": "partial_outage", "group_id": "g1", "group": false } ],
//!   "incidents": [ { "id": "i1", "name": "...", "status": "investigating", "impact": "major",
//!                    "started_at": "2026-08-17T13:40:03.620Z", "shortlink": "https://stspg.io/x",
//!                    "components": [ { "name": "API" } ] } ],
//!   "scheduled_maintenances": [ { "id": "m1", "name": "...", "status": "in_progress",
//!        "scheduled_for": "...", "scheduled_until": "...", "shortlink": "...", "components": [] } ] }
//! ```
//!
//! - Indicator: `status.indicator` when present and known, else [`PartnerStatus::derived_indicator`].
//! - Components: a child of a group (`group_id`) gets the group's name as `group`; groups stay
//!   components too (their status is their worst child's). A status word that does not map (see
//!   [`ComponentStatus::read_word`]) reads as `degraded_performance`: an unknown state is never
//!   silently operational. A component without a name is skipped.
//! - Incidents: only unresolved ones (status not `resolved`/`postmortem`/`completed`), so
//!   `incidents.json` (all recent incidents) gives the open ones; an unknown impact reads `minor`.
//! - Maintenances: only those not over (status not `completed`/`resolved`/`postmortem`/`cancelled`).

use std::collections::HashMap;

use crate::config::StatusPageConfig;
use crate::model::statuspage::{self as v2, Summary};
use crate::model::{Component, ComponentStatus, ErrorKind, Indicator, Maintenance, PartnerIncident, PartnerStatus};

use super::{StatusParseError, json_value, no_status, parse_time};

/// Incident statuses that mean it is over.
const INCIDENT_OVER: &[&str] = &["resolved", "postmortem", "completed"];
/// Maintenance statuses that mean it is over.
const MAINTENANCE_OVER: &[&str] = &["completed", "resolved", "postmortem", "cancelled", "canceled"];

/// Parses a Statuspage v2 payload (see the module doc).
///
/// # Errors
/// `empty`, `html_not_json`, `malformed` (see [`super::json_value`]); `no_status` when there is
/// nothing to read (see the module doc); `not_status` when the JSON has another shape (a
/// `components` that is not a list ...).
pub fn parse(cfg: &StatusPageConfig, body: &[u8], content_type: Option<&str>) -> Result<PartnerStatus, StatusParseError> {
    let _ = cfg;
    let value = json_value(body, content_type)?;
    const NOTHING: &str = "no Statuspage v2 indicator, component, incident or maintenance list";
    if value.as_array().is_some_and(Vec::is_empty) || value.as_object().is_some_and(|o| !SUMMARY_KEYS.iter().any(|k| o.contains_key(*k))) {
        return Err(no_status(NOTHING, &value));
    }
    let summary: Summary = serde_json::from_value(value.clone())
        .map_err(|e| StatusParseError::new(ErrorKind::NotStatus, format!("not a Statuspage v2 payload: {e}")))?;
    let status = summary.status.unwrap_or_default();
    let declared = status.indicator.as_deref().and_then(Indicator::read_word);
    let lists = summary.incidents.is_some() || summary.scheduled_maintenances.is_some();
    let mut page = PartnerStatus {
        indicator: Indicator::Unknown,
        description: status.description,
        components: components(summary.components.unwrap_or_default()),
        incidents: summary.incidents.unwrap_or_default().into_iter().filter_map(incident).collect(),
        maintenances: summary.scheduled_maintenances.unwrap_or_default().into_iter().filter_map(maintenance).collect(),
        error: None,
    };
    if declared.is_none() && page.components.is_empty() && !lists {
        return Err(no_status(NOTHING, &value));
    }
    page.indicator = declared.unwrap_or_else(|| page.derived_indicator());
    Ok(page)
}

/// The top-level keys of the Statuspage v2 endpoints.
const SUMMARY_KEYS: &[&str] = &["status", "components", "incidents", "scheduled_maintenances"];

fn components(raw: Vec<v2::Component>) -> Vec<Component> {
    let names: HashMap<String, String> = raw.iter().filter_map(|c| Some((c.id.clone()?, c.name.clone()?))).collect();
    raw.into_iter()
        .filter_map(|c| {
            let status = c.status.as_deref().and_then(ComponentStatus::read_word).unwrap_or(ComponentStatus::DegradedPerformance);
            let group = c.group_id.and_then(|g| names.get(&g).cloned());
            Some(Component { name: c.name?, status, group })
        })
        .collect()
}

fn is_over(status: Option<&str>, over: &[&str]) -> bool {
    status.is_some_and(|s| over.iter().any(|o| s.eq_ignore_ascii_case(o)))
}

/// The names of an incident's components.
fn names(components: Vec<v2::Component>) -> Vec<String> {
    components.into_iter().filter_map(|c| c.name).collect()
}

fn incident(raw: v2::Incident) -> Option<PartnerIncident> {
    if is_over(raw.status.as_deref(), INCIDENT_OVER) {
        return None;
    }
    let name = raw.name.clone().unwrap_or_else(|| "untitled incident".to_owned());
    Some(PartnerIncident {
        id: raw.id.or_else(|| raw.shortlink.clone()).unwrap_or_else(|| name.clone()),
        impact: raw.impact.as_deref().and_then(Indicator::read_word).unwrap_or(Indicator::Minor),
        status: raw.status.map_or_else(|| "unknown".to_owned(), |s| s.to_lowercase()),
        started_at: parse_time(raw.started_at.as_deref()).or_else(|| parse_time(raw.created_at.as_deref())),
        shortlink: raw.shortlink,
        components: names(raw.components),
        name,
    })
}

fn maintenance(raw: v2::Incident) -> Option<Maintenance> {
    if is_over(raw.status.as_deref(), MAINTENANCE_OVER) {
        return None;
    }
    let name = raw.name.clone().unwrap_or_else(|| "untitled maintenance".to_owned());
    Some(Maintenance {
        id: raw.id.or_else(|| raw.shortlink.clone()).unwrap_or_else(|| name.clone()),
        status: raw.status.map_or_else(|| "scheduled".to_owned(), |s| s.to_lowercase()),
        scheduled_for: parse_time(raw.scheduled_for.as_deref()),
        scheduled_until: parse_time(raw.scheduled_until.as_deref()),
        shortlink: raw.shortlink,
        components: names(raw.components),
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> StatusPageConfig {
        toml::from_str("kind = \"statuspage\"\nurl = \"https://status.example.test/api/v2/summary.json\"").unwrap_or_else(|e| panic!("{e}"))
    }

    fn read(body: &str) -> PartnerStatus {
        parse(&cfg(), body.as_bytes(), Some("application/json")).unwrap_or_else(|e| panic!("{e}: {body}"))
    }

    fn summary(indicator: &str, api: &str, webhooks: &str, incidents: &str, maintenances: &str) -> String {
        format!(
            r#"{{"page":{{"id":"p1","name":"Example","url":"https://status.example.test","time_zone":"Etc/UTC","updated_at":"2026-01-05T10:00:00.000Z"}},
              "components":[
                {{"id":"c1","name":"API","status":"{api}","group_id":null,"group":false,"only_show_if_degraded":false}},
                {{"id":"c2","name":"Webhooks","status":"{webhooks}","group_id":"g1","group":false}},
                {{"id":"g1","name":"Delivery","status":"{webhooks}","group_id":null,"group":true,"components":["c2"]}}],
              "incidents":[{incidents}],
              "scheduled_maintenances":[{maintenances}],
              "status":{{"indicator":"{indicator}","description":"words"}}}}"#
        )
    }

    const INCIDENT: &str = r#"{"id":"inc1","name":"Elevated API errors","status":"investigating","impact":"major",
        "created_at":"2026-01-05T09:58:00.000Z","started_at":"2026-01-05T09:55:00.000Z","shortlink":"https://stspg.io/abc",
        "components":[{"id":"c1","name":"API","status":"partial_outage"}],"incident_updates":[]}"#;
    const RESOLVED: &str = r#"{"id":"inc0","name":"Old","status":"resolved","impact":"minor","components":[]}"#;
    const MAINTENANCE: &str = r#"{"id":"m1","name":"Database upgrade","status":"in_progress","impact":"maintenance",
        "scheduled_for":"2026-01-05T09:00:00.000Z","scheduled_until":"2026-01-05T11:00:00.000Z","shortlink":"https://stspg.io/m1",
        "components":[{"name":"Webhooks"}]}"#;

    #[test]
    fn every_indicator_reads_as_declared() {
        for (word, expected) in [
            ("none", Indicator::None),
            ("minor", Indicator::Minor),
            ("major", Indicator::Major),
            ("critical", Indicator::Critical),
            ("maintenance", Indicator::Maintenance),
        ] {
            assert_eq!(read(&summary(word, "operational", "operational", "", "")).indicator, expected, "{word}");
        }
    }

    #[test]
    fn a_partial_outage_counts_only_on_a_component_we_depend_on() {
        let page = read(&summary("major", "operational", "partial_outage", "", ""));
        assert_eq!(page.effective(&["api".to_owned()]), Some(ComponentStatus::Operational));
        assert_eq!(page.effective(&["Webhooks".to_owned()]), Some(ComponentStatus::PartialOutage));
        let webhooks = page.components.iter().find(|c| c.name == "Webhooks").map(|c| c.group.clone());
        assert_eq!(webhooks, Some(Some("Delivery".to_owned())), "a child gets its group's name");
    }

    #[test]
    fn an_open_incident_is_listed_and_a_resolved_one_is_not() {
        let page = read(&summary("major", "partial_outage", "operational", &format!("{INCIDENT},{RESOLVED}"), ""));
        assert_eq!(page.incidents.len(), 1);
        let i = &page.incidents[0];
        assert_eq!((i.id.as_str(), i.status.as_str(), i.impact), ("inc1", "investigating", Indicator::Major));
        assert_eq!(i.started_at.map(|t| t.to_rfc3339()), Some("2026-01-05T09:55:00+00:00".to_owned()));
        assert_eq!(i.components, vec!["API".to_owned()]);
        assert_eq!(i.shortlink.as_deref(), Some("https://stspg.io/abc"));
    }

    #[test]
    fn a_maintenance_in_progress_is_listed_and_a_completed_one_is_not() {
        let completed = r#"{"id":"m0","name":"Done","status":"completed","scheduled_for":"2026-01-01T00:00:00Z"}"#;
        let page = read(&summary("maintenance", "operational", "under_maintenance", "", &format!("{MAINTENANCE},{completed}")));
        assert_eq!(page.maintenances.len(), 1);
        assert!(page.maintenances[0].in_progress());
        assert_eq!(page.maintenances[0].components, vec!["Webhooks".to_owned()]);
        assert_eq!(page.derived_indicator(), Indicator::Maintenance);
    }

    #[test]
    fn single_endpoints_parse() {
        let page = read(r#"{"page":{"id":"p"},"status":{"indicator":"minor","description":"Minor Service Outage"}}"#);
        assert_eq!((page.indicator, page.description.as_deref()), (Indicator::Minor, Some("Minor Service Outage")));
        let page = read(r#"{"page":{"id":"p"},"components":[{"id":"c","name":"API","status":"major_outage","group":false}]}"#);
        assert_eq!(page.indicator, Indicator::Critical, "components.json: derived");
        let page = read(&format!(r#"{{"page":{{"id":"p"}},"incidents":[{RESOLVED}]}}"#));
        assert_eq!((page.indicator, page.incidents.len()), (Indicator::None, 0), "incidents.json: only resolved ones");
        let page = read(&format!(r#"{{"page":{{"id":"p"}},"scheduled_maintenances":[{MAINTENANCE}]}}"#));
        assert_eq!(page.indicator, Indicator::Maintenance);
    }

    #[test]
    fn incident_io_words_and_unknown_words() {
        let page = read(
            r#"{"status":{"indicator":"bogus"},"components":[{"id":"a","name":"Chat","status":"full_outage"},{"id":"b","name":"Odd","status":"sparkly"}],
                "incidents":[{"id":"01J","name":"x","status":"investigating","impact":"none","created_at":"2026-09-29T17:52:52Z"}]}"#,
        );
        assert_eq!(page.components[0].status, ComponentStatus::MajorOutage);
        assert_eq!(page.components[1].status, ComponentStatus::DegradedPerformance, "unknown words are never operational");
        assert_eq!(page.indicator, Indicator::Critical, "unknown indicator: derived");
        assert!(page.incidents[0].started_at.is_some(), "created_at when there is no started_at");
    }

    #[test]
    fn garbage_is_an_error_with_a_clear_message() {
        let err = |body: &[u8]| parse(&cfg(), body, Some("text/html")).err().map(|e| (e.kind.as_str(), e.message)).unwrap_or_default();
        assert_eq!(err(b"").0, "empty");
        assert!(err(b"<html><body>Service Unavailable</body></html>").1.contains("expected JSON, got an HTML page"));
        let truncated = summary("none", "operational", "operational", "", "");
        assert!(err(&truncated.as_bytes()[..truncated.len() / 2]).1.contains("truncated JSON"));
        assert_eq!(err(&[0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0xff]).0, "malformed");
        assert_eq!(err(b"[1,2,3]").0, "not_status");
        assert_eq!(err(b"{\"components\": 3}").0, "not_status");
    }

    #[test]
    fn a_body_with_nothing_to_read_is_no_status_never_operational() {
        for body in ["{}", r#"{"status":{}}"#, r#"{"error":"x"}"#, "[]", r#"{"ok":true}"#, r#"{"status":{"indicator":"bogus"}}"#] {
            let err = parse(&cfg(), body.as_bytes(), None).err().unwrap_or_else(|| panic!("{body}: parsed"));
            assert_eq!(err.kind, ErrorKind::NoStatus, "{body}: {}", err.message);
            assert!(err.message.starts_with("nothing to read: no Statuspage v2 indicator"), "{body}: {}", err.message);
        }
        let err = parse(&cfg(), br#"{"error":"Unauthorized"}"#, None).err().map(|e| e.message).unwrap_or_default();
        assert!(err.ends_with("the answer is an object with keys error, saying \"Unauthorized\""), "{err}");
        let page = read(r#"{"status":{"indicator":"none"}}"#);
        assert_eq!(page.indicator, Indicator::None, "a known indicator alone is a reading");
        let page = read(r#"{"incidents":[]}"#);
        assert_eq!(page.indicator, Indicator::None, "an empty incidents.json is a reading: nothing open");
    }
}
