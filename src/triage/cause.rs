//! Internal or external cause (DESIGN.md "Triage"): what the partner's own status page says
//! about the components we depend on. Pure.

use serde::{Deserialize, Serialize};

use crate::model::{Cause, ComponentStatus, Indicator, PartnerStatus};

/// A decided cause and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// Internal or external.
    pub cause: Cause,
    /// In words, e.g. "Okta reports a partial outage of API" or "Okta reports all operational".
    pub reason: String,
    /// What our public status page should show for the partner's component (external only).
    pub public_status: Option<ComponentStatus>,
    /// The partner's incident to link, if it declared one: (name, link).
    pub partner_incident: Option<(String, Option<String>)>,
}

/// Decides the cause of a failure of `partner_name`'s checks from its status page (`None`: it
/// has none), for the components in `depends_on` (empty: the page indicator).
///
/// External when the effective status is not operational, or an incident touching our
/// components or a maintenance is in progress; internal when all is operational; a page that
/// could not be read is treated as internal, and the reason says so.
pub fn decide(partner_name: &str, status: Option<&PartnerStatus>, depends_on: &[String]) -> Verdict {
    let internal = |reason: String| Verdict { cause: Cause::Internal, reason, public_status: None, partner_incident: None };
    let Some(status) = status else {
        return internal(format!("{partner_name} has no status page configured: treated as internal"));
    };
    if status.indicator == Indicator::Unknown {
        let why = status.error.as_deref().unwrap_or("unknown error");
        return internal(format!("{partner_name}'s status page could not be read ({why}): treated as internal"));
    }
    let incident = status.incidents_affecting(depends_on).max_by_key(|i| i.impact.as_component_status());
    let partner_incident = incident.map(|i| (i.name.clone(), i.shortlink.clone()));
    if let Some(m) = status.maintenances.iter().find(|m| m.in_progress()) {
        let reason = format!("{partner_name} has a maintenance in progress: {}", m.name);
        return Verdict {
            cause: Cause::External,
            reason,
            public_status: Some(ComponentStatus::UnderMaintenance),
            partner_incident: Some((m.name.clone(), m.shortlink.clone())),
        };
    }
    let effective = status.effective(depends_on).unwrap_or(ComponentStatus::Operational);
    if effective != ComponentStatus::Operational {
        let what = worst_named(status, depends_on)
            .map_or_else(|| format!("its status as {}", status.indicator.as_str()), |c| format!("{} as {}", c, effective.as_str()));
        return Verdict {
            cause: Cause::External,
            reason: format!("{partner_name} reports {what}"),
            public_status: Some(effective),
            partner_incident,
        };
    }
    if let Some(i) = incident {
        // An open incident on a page still all green: the partner is on it.
        let public =
            i.impact.as_component_status().filter(|s| *s != ComponentStatus::Operational).unwrap_or(ComponentStatus::DegradedPerformance);
        return Verdict {
            cause: Cause::External,
            reason: format!("{partner_name} reports an incident: {}", i.name),
            public_status: Some(public),
            partner_incident,
        };
    }
    internal(format!("{partner_name} reports all operational"))
}

fn worst_named<'a>(status: &'a PartnerStatus, depends_on: &[String]) -> Option<&'a str> {
    status
        .components
        .iter()
        .filter(|c| c.status != ComponentStatus::Operational)
        .filter(|c| depends_on.is_empty() || depends_on.iter().any(|d| d.eq_ignore_ascii_case(&c.name)))
        .max_by_key(|c| c.status)
        .map(|c| c.name.as_str())
}

#[cfg(test)]
mod tests {
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

    fn deps(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn an_outage_of_a_component_we_depend_on_is_external() {
        let p = page(Indicator::Major, &[("API", ComponentStatus::PartialOutage), ("Web", ComponentStatus::Operational)]);
        let c = decide("Okta", Some(&p), &deps(&["API"]));
        assert_eq!(c.cause, Cause::External);
        assert_eq!(c.reason, "Okta reports API as partial_outage");
        assert_eq!(c.public_status, Some(ComponentStatus::PartialOutage));
    }

    #[test]
    fn an_outage_elsewhere_leaves_the_cause_internal() {
        let p = page(Indicator::Major, &[("API", ComponentStatus::Operational), ("Web", ComponentStatus::MajorOutage)]);
        assert_eq!(decide("Okta", Some(&p), &deps(&["API"])).cause, Cause::Internal);
        assert_eq!(decide("Okta", Some(&p), &[]).cause, Cause::External, "no components named: the indicator decides");
    }

    #[test]
    fn an_unreadable_page_is_internal_and_says_so() {
        let c = decide("Okta", Some(&PartnerStatus::unreadable("timed out after 15s")), &[]);
        assert_eq!(c.cause, Cause::Internal);
        assert!(c.reason.contains("could not be read (timed out after 15s): treated as internal"), "{}", c.reason);
        assert_eq!(decide("Okta", None, &[]).cause, Cause::Internal);
    }

    #[test]
    fn an_incident_or_a_maintenance_in_progress_is_external_even_on_a_green_page() {
        let mut p = page(Indicator::None, &[("API", ComponentStatus::Operational)]);
        p.incidents.push(PartnerIncident {
            id: "i".into(),
            name: "Login failures".into(),
            impact: Indicator::Minor,
            status: "investigating".into(),
            started_at: None,
            shortlink: Some("https://stspg.io/i".into()),
            components: vec![],
        });
        let c = decide("Okta", Some(&p), &deps(&["API"]));
        assert_eq!((c.cause, c.public_status), (Cause::External, Some(ComponentStatus::DegradedPerformance)));
        assert_eq!(c.partner_incident, Some(("Login failures".to_owned(), Some("https://stspg.io/i".to_owned()))));
        let mut m = page(Indicator::Maintenance, &[]);
        m.maintenances.push(Maintenance {
            id: "m".into(),
            name: "DB upgrade".into(),
            status: "in_progress".into(),
            scheduled_for: None,
            scheduled_until: None,
            shortlink: None,
            components: vec![],
        });
        let c = decide("Okta", Some(&m), &[]);
        assert_eq!((c.cause, c.public_status), (Cause::External, Some(ComponentStatus::UnderMaintenance)));
    }

    #[test]
    fn all_operational_is_internal() {
        let c = decide("Okta", Some(&page(Indicator::None, &[("API", ComponentStatus::Operational)])), &deps(&["API"]));
        assert_eq!((c.cause, c.reason.as_str()), (Cause::Internal, "Okta reports all operational"));
    }
}
