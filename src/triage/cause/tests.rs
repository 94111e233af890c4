use super::*;
use crate::model::{Component, Maintenance, PartnerIncident};

fn page(indicator: Indicator, components: &[(&str, ComponentStatus)]) -> PartnerStatus {
    PartnerStatus {
        indicator,
        description: None,
        components: components.iter().map(|(n, s)| Component { name: (*n).to_owned(), status: *s, group: None }).collect(),
        incidents: vec![],
        maintenances: vec![],
        error: None,
    }
}

fn incident(id: &str, impact: Indicator, components: &[&str]) -> PartnerIncident {
    PartnerIncident {
        id: id.into(),
        name: format!("incident {id}"),
        impact,
        status: "investigating".into(),
        started_at: None,
        shortlink: Some(format!("https://stspg.io/{id}")),
        components: components.iter().map(|c| (*c).to_owned()).collect(),
    }
}

fn maintenance(id: &str, status: &str, components: &[&str]) -> Maintenance {
    Maintenance {
        id: id.into(),
        name: format!("maintenance {id}"),
        status: status.into(),
        scheduled_for: None,
        scheduled_until: None,
        shortlink: None,
        components: components.iter().map(|c| (*c).to_owned()).collect(),
    }
}

fn deps(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn an_outage_of_a_component_we_depend_on_is_external() {
    let p = page(Indicator::Major, &[("API", ComponentStatus::PartialOutage), ("Web", ComponentStatus::Operational)]);
    let c = decide("Okta", Some(&p), &deps(&["API"]));
    assert_eq!(c.cause, Cause::External);
    assert_eq!(c.reason, "Okta reports API as partial_outage");
    assert_eq!(c.public.map(|p| p.component), Some(ComponentStatus::PartialOutage));
    let evidence = c.evidence().unwrap();
    assert_eq!(evidence.describe(), "indicator major; API partial_outage");
}

#[test]
fn an_outage_elsewhere_leaves_the_cause_internal() {
    let p = page(Indicator::Major, &[("API", ComponentStatus::Operational), ("Web", ComponentStatus::MajorOutage)]);
    assert_eq!(decide("Okta", Some(&p), &deps(&["API"])).cause, Cause::Internal);
    assert_eq!(decide("Okta", Some(&p), &[]).cause, Cause::External, "no components named: the whole page");
}

#[test]
fn an_unreadable_page_is_internal_and_says_so() {
    let c = decide("Okta", Some(&PartnerStatus::unreadable("timed out after 15s")), &[]);
    assert_eq!(c.cause, Cause::Internal);
    assert!(c.reason.contains("could not be read (timed out after 15s): treated as internal"), "{}", c.reason);
    assert_eq!(c.basis, Basis::Unreadable { error: "timed out after 15s".into() });
    assert!(!c.readable());
    assert_eq!(decide("Okta", None, &[]).basis, Basis::NoPage);
}

#[test]
fn an_incident_on_a_green_page_is_external_and_mirrors_its_impact() {
    let mut p = page(Indicator::None, &[("API", ComponentStatus::Operational)]);
    p.incidents.push(incident("i", Indicator::Minor, &["API"]));
    let c = decide("Okta", Some(&p), &deps(&["API"]));
    assert_eq!(c.cause, Cause::External);
    assert_eq!(c.public, Some(Public { component: ComponentStatus::DegradedPerformance, impact: Indicator::Minor, maintenance: false }));
    assert_eq!(c.partner_incident, Some(("incident i".to_owned(), Some("https://stspg.io/i".to_owned()))));
}

#[test]
fn a_major_partner_incident_stays_major_on_our_page() {
    let mut p = page(Indicator::Major, &[("API", ComponentStatus::MajorOutage)]);
    p.incidents.push(incident("p1", Indicator::Major, &["API"]));
    let c = decide("Acme", Some(&p), &deps(&["API"]));
    assert_eq!(c.public, Some(Public { component: ComponentStatus::MajorOutage, impact: Indicator::Major, maintenance: false }));
    let whole = decide("Acme", Some(&page(Indicator::Major, &[("API", ComponentStatus::MajorOutage)])), &[]);
    assert_eq!(whole.public.map(|p| p.impact), Some(Indicator::Major), "without an incident: the page's own indicator");
}

#[test]
fn news_about_other_components_does_not_count() {
    let mut p =
        page(Indicator::Maintenance, &[("API Requests", ComponentStatus::Operational), ("Codespaces", ComponentStatus::Operational)]);
    p.maintenances.push(maintenance("m1", "in_progress", &["Codespaces"]));
    p.incidents.push(incident("i1", Indicator::Major, &["Codespaces"]));
    let c = decide("GitHub", Some(&p), &deps(&["API Requests"]));
    assert_eq!(c.cause, Cause::Internal, "{}", c.reason);
    let evidence = c.evidence().unwrap();
    assert_eq!((evidence.counted.clone(), evidence.ignored.clone()), (vec![], vec!["i1".to_owned(), "m1".to_owned()]));
    assert!(c.reason.contains("API Requests operational") && c.reason.contains("ignored"), "{}", c.reason);
    assert_eq!(decide("GitHub", Some(&p), &[]).cause, Cause::External, "the whole page counts without components");
}

#[test]
fn news_naming_no_component_counts_and_says_so() {
    let mut p = page(Indicator::Minor, &[("API Requests", ComponentStatus::Operational)]);
    p.incidents.push(incident("i1", Indicator::Minor, &[]));
    let c = decide("GitHub", Some(&p), &deps(&["API Requests"]));
    assert_eq!(c.cause, Cause::External);
    assert!(c.reason.ends_with("(not tied to a component)"), "{}", c.reason);
    let mut m = page(Indicator::Maintenance, &[("API Requests", ComponentStatus::Operational)]);
    m.maintenances.push(maintenance("m1", "in_progress", &[]));
    let c = decide("GitHub", Some(&m), &deps(&["API Requests"]));
    assert_eq!((c.cause, c.public.map(|p| p.maintenance)), (Cause::External, Some(true)));
    assert!(c.reason.contains("maintenance in progress") && c.reason.ends_with("(not tied to a component)"), "{}", c.reason);
}

#[test]
fn notices_count_only_when_they_name_our_components() {
    let mut p = page(Indicator::None, &[]);
    p.incidents.push(incident("n1", Indicator::None, &["Messaging"]));
    assert_eq!(decide("Slack", Some(&p), &[]).cause, Cause::Internal, "a notice is not an outage");
    assert_eq!(decide("Slack", Some(&p), &deps(&["Calls"])).cause, Cause::Internal);
    let c = decide("Slack", Some(&p), &deps(&["Messaging"]));
    assert_eq!((c.cause, c.public.map(|p| p.impact)), (Cause::External, Some(Indicator::Minor)));
}

#[test]
fn a_scheduled_maintenance_never_counts() {
    let mut p = page(Indicator::None, &[("API", ComponentStatus::Operational)]);
    p.maintenances.push(maintenance("m1", "scheduled", &["API"]));
    assert_eq!(decide("Okta", Some(&p), &deps(&["API"])).cause, Cause::Internal);
    assert_eq!(decide("Okta", Some(&p), &[]).cause, Cause::Internal);
}

#[test]
fn all_operational_is_internal() {
    let c = decide("Okta", Some(&page(Indicator::None, &[("API", ComponentStatus::Operational)])), &deps(&["API"]));
    assert_eq!((c.cause, c.reason.as_str()), (Cause::Internal, "Okta reports API operational"));
    let c = decide("Okta", Some(&page(Indicator::None, &[])), &[]);
    assert_eq!(c.reason, "Okta reports all operational");
}
