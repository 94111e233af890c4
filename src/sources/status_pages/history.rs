//! Status history: the events between two readings of a page (pure; no I/O, no clock).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::model::{ComponentStatus, Incident, Indicator, Maintenance, PartnerStatus};

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The page indicator changed (subject empty).
    Indicator,
    /// A component's status changed (subject: its name).
    Component,
    /// An incident appeared (subject: its id).
    IncidentOpened,
    /// An open incident's status changed (`investigating` -> `identified` ...).
    IncidentUpdated,
    /// An incident was resolved or left the page.
    IncidentResolved,
    /// A maintenance was announced.
    MaintenanceScheduled,
    /// A maintenance began.
    MaintenanceStarted,
    /// A maintenance ended or left the page.
    MaintenanceEnded,
}

impl EventKind {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Indicator => "indicator",
            Self::Component => "component",
            Self::IncidentOpened => "incident_opened",
            Self::IncidentUpdated => "incident_updated",
            Self::IncidentResolved => "incident_resolved",
            Self::MaintenanceScheduled => "maintenance_scheduled",
            Self::MaintenanceStarted => "maintenance_started",
            Self::MaintenanceEnded => "maintenance_ended",
        }
    }

    /// Reads a stored word.
    pub fn parse(word: &str) -> Option<Self> {
        [
            Self::Indicator,
            Self::Component,
            Self::IncidentOpened,
            Self::IncidentUpdated,
            Self::IncidentResolved,
            Self::MaintenanceScheduled,
            Self::MaintenanceStarted,
            Self::MaintenanceEnded,
        ]
        .into_iter()
        .find(|k| k.as_str() == word)
    }
}

/// About the incident or maintenance an event concerns.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventDetail {
    /// Its title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its impact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impact: Option<Indicator>,
    /// The partner's link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// Affected components.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<String>,
    /// When it started (or is scheduled to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
}

/// One change of a partner's page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusEvent {
    /// What changed.
    pub kind: EventKind,
    /// Component name or incident/maintenance id; empty for the indicator.
    pub subject: String,
    /// The value before (status word), if any.
    pub old: Option<String>,
    /// The value after, if any.
    pub new: Option<String>,
    /// About the incident or maintenance.
    pub detail: EventDetail,
}

impl StatusEvent {
    fn new(kind: EventKind, subject: &str, old: Option<&str>, new: Option<&str>, detail: EventDetail) -> Self {
        Self { kind, subject: subject.to_owned(), old: old.map(str::to_owned), new: new.map(str::to_owned), detail }
    }
}

fn incident_detail(i: &Incident) -> EventDetail {
    EventDetail {
        name: Some(i.name.clone()),
        impact: Some(i.impact),
        link: i.shortlink.clone(),
        components: i.components.clone(),
        started_at: i.started_at,
    }
}

fn maintenance_detail(m: &Maintenance) -> EventDetail {
    EventDetail {
        name: Some(m.name.clone()),
        impact: Some(Indicator::Maintenance),
        link: m.shortlink.clone(),
        components: m.components.clone(),
        started_at: m.scheduled_for,
    }
}

/// A page that could not be read keeps what was last known (components, incidents,
/// maintenances) with `unknown` and the error: our own fetch failure is not the partner
/// resolving its incidents, and its return must not read as new incidents.
pub fn carry_over(previous: Option<&PartnerStatus>, unreadable: PartnerStatus) -> PartnerStatus {
    match previous {
        Some(prev) => PartnerStatus { indicator: Indicator::Unknown, description: None, error: unreadable.error, ..prev.clone() },
        None => unreadable,
    }
}

/// The events that lead from `old` (`None`: first reading) to `new`.
pub fn diff(old: Option<&PartnerStatus>, new: &PartnerStatus) -> Vec<StatusEvent> {
    let mut events = Vec::new();
    let old_indicator = old.map(|o| o.indicator.as_str());
    if old_indicator != Some(new.indicator.as_str()) {
        events.push(StatusEvent::new(EventKind::Indicator, "", old_indicator, Some(new.indicator.as_str()), EventDetail::default()));
    }
    if new.indicator == Indicator::Unknown {
        // Nothing else is known to have changed.
        return events;
    }
    components(old, new, &mut events);
    incidents(old, new, &mut events);
    maintenances(old, new, &mut events);
    events
}

fn components(old: Option<&PartnerStatus>, new: &PartnerStatus, events: &mut Vec<StatusEvent>) {
    let before: BTreeMap<&str, ComponentStatus> =
        old.map(|o| o.components.iter().map(|c| (c.name.as_str(), c.status)).collect()).unwrap_or_default();
    for c in &new.components {
        let was = before.get(c.name.as_str()).copied();
        // A component first seen operational is not news; any other appearance or change is.
        let first_and_fine = was.is_none() && c.status == ComponentStatus::Operational;
        if was != Some(c.status) && !first_and_fine {
            events.push(StatusEvent::new(
                EventKind::Component,
                &c.name,
                was.map(ComponentStatus::as_str),
                Some(c.status.as_str()),
                EventDetail::default(),
            ));
        }
    }
}

fn incidents(old: Option<&PartnerStatus>, new: &PartnerStatus, events: &mut Vec<StatusEvent>) {
    let before: BTreeMap<&str, &Incident> = old.map(|o| o.incidents.iter().map(|i| (i.id.as_str(), i)).collect()).unwrap_or_default();
    for i in &new.incidents {
        match before.get(i.id.as_str()) {
            None => events.push(StatusEvent::new(EventKind::IncidentOpened, &i.id, None, Some(&i.status), incident_detail(i))),
            Some(prev) if prev.status != i.status => {
                events.push(StatusEvent::new(EventKind::IncidentUpdated, &i.id, Some(&prev.status), Some(&i.status), incident_detail(i)));
            }
            Some(_) => {}
        }
    }
    for (id, prev) in before {
        if !new.incidents.iter().any(|i| i.id == id) {
            events.push(StatusEvent::new(EventKind::IncidentResolved, id, Some(&prev.status), Some("resolved"), incident_detail(prev)));
        }
    }
}

fn maintenances(old: Option<&PartnerStatus>, new: &PartnerStatus, events: &mut Vec<StatusEvent>) {
    let before: BTreeMap<&str, &Maintenance> = old.map(|o| o.maintenances.iter().map(|m| (m.id.as_str(), m)).collect()).unwrap_or_default();
    for m in &new.maintenances {
        let prev = before.get(m.id.as_str());
        let kind = match (prev, m.in_progress()) {
            (None, false) => Some(EventKind::MaintenanceScheduled),
            (None, true) => Some(EventKind::MaintenanceStarted),
            (Some(p), true) if !p.in_progress() => Some(EventKind::MaintenanceStarted),
            _ => None,
        };
        if let Some(kind) = kind {
            events.push(StatusEvent::new(kind, &m.id, prev.map(|p| p.status.as_str()), Some(&m.status), maintenance_detail(m)));
        }
    }
    for (id, prev) in before {
        if !new.maintenances.iter().any(|m| m.id == id) {
            events.push(StatusEvent::new(EventKind::MaintenanceEnded, id, Some(&prev.status), Some("completed"), maintenance_detail(prev)));
        }
    }
}

#[cfg(test)]
mod tests;
