//! Status history: the events between two readings of a page (pure; no I/O, no clock).

use std::collections::BTreeMap;

use crate::model::{ComponentStatus, EventDetail, EventKind, Indicator, Maintenance, PartnerIncident, PartnerStatus, StatusEvent};

fn incident_detail(i: &PartnerIncident) -> EventDetail {
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
    let before: BTreeMap<&str, &PartnerIncident> =
        old.map(|o| o.incidents.iter().map(|i| (i.id.as_str(), i)).collect()).unwrap_or_default();
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
