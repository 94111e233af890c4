use super::*;
use crate::model::Component;

fn page(indicator: Indicator) -> PartnerStatus {
    PartnerStatus { indicator, description: None, components: vec![], incidents: vec![], maintenances: vec![], error: None }
}

fn incident(id: &str, status: &str) -> PartnerIncident {
    PartnerIncident {
        id: id.into(),
        name: format!("Incident {id}"),
        impact: Indicator::Major,
        status: status.into(),
        started_at: None,
        shortlink: None,
        components: vec!["API".into()],
    }
}

fn kinds(events: &[StatusEvent]) -> Vec<(EventKind, &str, Option<&str>, Option<&str>)> {
    events.iter().map(|e| (e.kind, e.subject.as_str(), e.old.as_deref(), e.new.as_deref())).collect()
}

#[test]
fn the_first_reading_records_the_indicator_and_what_is_not_fine() {
    let mut p = page(Indicator::Major);
    p.components = vec![
        Component { name: "API".into(), status: ComponentStatus::PartialOutage, group: None },
        Component { name: "Web".into(), status: ComponentStatus::Operational, group: None },
    ];
    p.incidents = vec![incident("i1", "investigating")];
    assert_eq!(
        kinds(&diff(None, &p)),
        vec![
            (EventKind::Indicator, "", None, Some("major")),
            (EventKind::Component, "API", None, Some("partial_outage")),
            (EventKind::IncidentOpened, "i1", None, Some("investigating")),
        ]
    );
}

#[test]
fn an_incident_opens_updates_and_resolves() {
    let calm = page(Indicator::None);
    let mut open = page(Indicator::Major);
    open.incidents = vec![incident("i1", "investigating")];
    let mut identified = open.clone();
    identified.incidents[0].status = "identified".into();
    assert_eq!(
        kinds(&diff(Some(&calm), &open)),
        vec![(EventKind::Indicator, "", Some("none"), Some("major")), (EventKind::IncidentOpened, "i1", None, Some("investigating"))]
    );
    assert_eq!(kinds(&diff(Some(&open), &identified)), vec![(EventKind::IncidentUpdated, "i1", Some("investigating"), Some("identified"))]);
    let resolved = diff(Some(&identified), &calm);
    assert_eq!(
        kinds(&resolved),
        vec![
            (EventKind::Indicator, "", Some("major"), Some("none")),
            (EventKind::IncidentResolved, "i1", Some("identified"), Some("resolved"))
        ]
    );
    assert_eq!(resolved[1].detail.name.as_deref(), Some("Incident i1"));
}

#[test]
fn a_repeated_reading_changes_nothing() {
    let mut p = page(Indicator::Maintenance);
    p.maintenances = vec![Maintenance {
        id: "m1".into(),
        name: "DB upgrade".into(),
        status: "in_progress".into(),
        scheduled_for: None,
        scheduled_until: None,
        shortlink: None,
        components: vec![],
    }];
    assert!(diff(Some(&p), &p.clone()).is_empty());
}

#[test]
fn maintenances_are_scheduled_started_and_ended() {
    let calm = page(Indicator::None);
    let mut scheduled = calm.clone();
    scheduled.maintenances = vec![Maintenance {
        id: "m1".into(),
        name: "DB".into(),
        status: "scheduled".into(),
        scheduled_for: None,
        scheduled_until: None,
        shortlink: None,
        components: vec![],
    }];
    let mut started = scheduled.clone();
    started.indicator = Indicator::Maintenance;
    started.maintenances[0].status = "in_progress".into();
    assert_eq!(kinds(&diff(Some(&calm), &scheduled)), vec![(EventKind::MaintenanceScheduled, "m1", None, Some("scheduled"))]);
    assert_eq!(kinds(&diff(Some(&scheduled), &started))[1], (EventKind::MaintenanceStarted, "m1", Some("scheduled"), Some("in_progress")));
    assert_eq!(kinds(&diff(Some(&started), &calm))[1], (EventKind::MaintenanceEnded, "m1", Some("in_progress"), Some("completed")));
}

#[test]
fn an_unreadable_page_keeps_what_was_known() {
    let mut open = page(Indicator::Major);
    open.incidents = vec![incident("i1", "investigating")];
    let unreadable = carry_over(Some(&open), PartnerStatus::unreadable("timed out"));
    assert_eq!(unreadable.indicator, Indicator::Unknown);
    assert_eq!(unreadable.incidents.len(), 1);
    assert_eq!(kinds(&diff(Some(&open), &unreadable)), vec![(EventKind::Indicator, "", Some("major"), Some("unknown"))]);
    assert_eq!(
        kinds(&diff(Some(&unreadable), &open)),
        vec![(EventKind::Indicator, "", Some("unknown"), Some("major"))],
        "coming back is not a new incident"
    );
}
