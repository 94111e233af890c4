//! Internal or external cause (DESIGN.md "Triage"): what the partner's own status page says
//! about the components we depend on. Pure.
//!
//! Partner news counts only when it is about what we use. With `components` set in the partner
//! file, a degraded component counts when it is one of them; an incident or a maintenance counts
//! when it names one of them, or names no component at all (it may touch anything: the reason
//! then says "not tied to a component"). Without `components`, the whole page counts. Either way
//! an incident of impact `none` (a notice, e.g. Slack's `notice` type) counts only when it names
//! one of our components, and a maintenance that is only scheduled never counts.

use serde::{Deserialize, Serialize};

use crate::model::{Cause, Component, ComponentStatus, Evidence, Indicator, Maintenance, PartnerIncident, PartnerStatus};

/// What a decision read on the partner's page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "read", rename_all = "snake_case")]
pub enum Basis {
    /// The partner has no status page configured.
    NoPage,
    /// The page could not be read (fetch or parse failure, or an adapter that matched nothing).
    Unreadable {
        /// Why, as the poll reported it.
        error: String,
    },
    /// The page was read.
    Read(Evidence),
}

/// What our public status page shows for the partner while the cause is external: it mirrors
/// the partner's own words (a `major` partner incident stays `major`; a maintenance is a
/// maintenance).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Public {
    /// Our component of the partner.
    pub component: ComponentStatus,
    /// Our incident's impact.
    pub impact: Indicator,
    /// The partner is in planned maintenance (not an outage).
    pub maintenance: bool,
}

/// A decided cause and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// Internal or external.
    pub cause: Cause,
    /// In words, e.g. "Okta reports API as partial_outage" or "Okta reports all operational".
    pub reason: String,
    /// What our public status page should show (external only).
    pub public: Option<Public>,
    /// The partner's incident (or maintenance) to link, if one counted: (name, link).
    pub partner_incident: Option<(String, Option<String>)>,
    /// What the decision read.
    pub basis: Basis,
}

impl Verdict {
    /// True when the page was read (a decision on evidence, not on its absence).
    pub fn readable(&self) -> bool {
        matches!(self.basis, Basis::Read(_))
    }

    /// The evidence, when the page was read.
    pub fn evidence(&self) -> Option<&Evidence> {
        match &self.basis {
            Basis::Read(evidence) => Some(evidence),
            Basis::NoPage | Basis::Unreadable { .. } => None,
        }
    }
}

/// The components a partner file says we depend on (empty: the whole page).
struct Scope<'a>(&'a [String]);

impl Scope<'_> {
    fn whole_page(&self) -> bool {
        self.0.is_empty()
    }

    fn is_ours(&self, name: &str) -> bool {
        self.0.iter().any(|d| d.eq_ignore_ascii_case(name))
    }

    fn names_ours(&self, names: &[String]) -> bool {
        names.iter().any(|n| self.is_ours(n))
    }

    /// Whether news naming `names` with `impact` is about what we use.
    fn counts(&self, names: &[String], impact: Indicator) -> bool {
        if impact == Indicator::None {
            return self.names_ours(names);
        }
        self.whole_page() || names.is_empty() || self.names_ours(names)
    }
}

/// Decides the cause of a failure of `partner_name`'s checks from its status page (`None`: it
/// has none), for the components in `depends_on` (empty: the whole page).
///
/// External when one of our components is not operational, or a counted incident or maintenance
/// in progress is open (see the module docs); internal when nothing counts. A page that could not
/// be read is internal here, and the reason says so (an open incident keeps its cause instead:
/// see [`super::recheck`]).
pub fn decide(partner_name: &str, status: Option<&PartnerStatus>, depends_on: &[String]) -> Verdict {
    let Some(status) = status else {
        return unread(format!("{partner_name} has no status page configured: treated as internal"), Basis::NoPage);
    };
    if status.indicator == Indicator::Unknown {
        let why = status.error.as_deref().unwrap_or("unknown error");
        let reason = format!("{partner_name}'s status page could not be read ({why}): treated as internal");
        return unread(reason, Basis::Unreadable { error: why.to_owned() });
    }
    let scope = Scope(depends_on);
    let incidents: Vec<&PartnerIncident> = status.incidents.iter().filter(|i| scope.counts(&i.components, i.impact)).collect();
    let maintenances: Vec<&Maintenance> =
        status.maintenances.iter().filter(|m| m.in_progress() && scope.counts(&m.components, Indicator::Maintenance)).collect();
    let evidence = evidence(status, &scope, &incidents, &maintenances);
    let effective = effective(status, &scope);
    let worst_incident = incidents.iter().copied().max_by_key(|i| i.impact.as_component_status());
    let verdict = |reason: String, public: Public, link: Option<(String, Option<String>)>| Verdict {
        cause: Cause::External,
        reason,
        public: Some(public),
        partner_incident: link,
        basis: Basis::Read(evidence.clone()),
    };
    if let Some(m) = maintenances.first() {
        let public = Public { component: ComponentStatus::UnderMaintenance, impact: Indicator::Maintenance, maintenance: true };
        let reason = format!("{partner_name} has a maintenance in progress: {}{}", m.name, untied(&m.components));
        return verdict(reason, public, Some((m.name.clone(), m.shortlink.clone())));
    }
    let link = worst_incident.map(|i| (i.name.clone(), i.shortlink.clone()));
    if effective != ComponentStatus::Operational {
        let what = match worst_named(status, &scope) {
            Some(c) if !scope.whole_page() => format!("{} as {}", c.name, c.status.as_str()),
            Some(c) => format!("its status as {} ({}: {})", status.indicator.as_str(), c.name, c.status.as_str()),
            None => format!("its status as {}", status.indicator.as_str()),
        };
        let impact = worst_incident.map_or_else(|| headline(status, &scope, effective), |i| i.impact.at_least_minor());
        let public = Public { component: effective, impact, maintenance: effective == ComponentStatus::UnderMaintenance };
        return verdict(format!("{partner_name} reports {what}"), public, link);
    }
    if let Some(i) = worst_incident {
        // An open incident on a page still all green: the partner is on it.
        let impact = i.impact.at_least_minor();
        let component = impact.as_component_status().unwrap_or(ComponentStatus::DegradedPerformance);
        let public = Public { component, impact, maintenance: false };
        return verdict(format!("{partner_name} reports an incident: {}{}", i.name, untied(&i.components)), public, link);
    }
    Verdict {
        cause: Cause::Internal,
        reason: all_clear(partner_name, &scope, &evidence),
        public: None,
        partner_incident: None,
        basis: Basis::Read(evidence),
    }
}

fn unread(reason: String, basis: Basis) -> Verdict {
    Verdict { cause: Cause::Internal, reason, public: None, partner_incident: None, basis }
}

fn untied(components: &[String]) -> &'static str {
    if components.is_empty() { " (not tied to a component)" } else { "" }
}

/// The status that decides, before incidents and maintenances: without `components`, the page
/// indicator (the whole page counts); with them, the worst of ours on the page. A page that lists
/// no components and no news at all (an overall status only) cannot be scoped: its indicator
/// counts. A page with components or news but none of ours is scoped by them: the indicator,
/// which may stand for other components' trouble, does not count.
fn effective(status: &PartnerStatus, scope: &Scope<'_>) -> ComponentStatus {
    let indicator = || status.indicator.as_component_status().unwrap_or(ComponentStatus::Operational);
    if scope.whole_page() {
        return indicator();
    }
    let ours = status.components.iter().filter(|c| scope.is_ours(&c.name)).map(|c| c.status).max();
    let unscoped = status.components.is_empty() && status.incidents.is_empty() && status.maintenances.is_empty();
    ours.unwrap_or_else(|| if unscoped { indicator() } else { ComponentStatus::Operational })
}

/// The impact to show when no incident counted: the page's own indicator when the whole page
/// counts (its words, mirrored), else our components' worst.
fn headline(status: &PartnerStatus, scope: &Scope<'_>, effective: ComponentStatus) -> Indicator {
    if scope.whole_page() && !matches!(status.indicator, Indicator::None | Indicator::Unknown) {
        status.indicator
    } else {
        effective.as_indicator()
    }
}

fn evidence(status: &PartnerStatus, scope: &Scope<'_>, incidents: &[&PartnerIncident], maintenances: &[&Maintenance]) -> Evidence {
    let components = status
        .components
        .iter()
        .filter(|c| if scope.whole_page() { c.status != ComponentStatus::Operational } else { scope.is_ours(&c.name) })
        .cloned()
        .collect();
    let counted: Vec<String> = incidents.iter().map(|i| i.id.clone()).chain(maintenances.iter().map(|m| m.id.clone())).collect();
    let ignored = status
        .incidents
        .iter()
        .map(|i| &i.id)
        .chain(status.maintenances.iter().map(|m| &m.id))
        .filter(|id| !counted.contains(id))
        .cloned()
        .collect();
    Evidence { indicator: status.indicator, components, counted, ignored }
}

fn all_clear(partner_name: &str, scope: &Scope<'_>, evidence: &Evidence) -> String {
    let base = if scope.whole_page() {
        format!("{partner_name} reports all operational")
    } else {
        format!("{partner_name} reports {} operational", scope.0.join(", "))
    };
    match evidence.ignored.len() {
        0 => base,
        n => format!("{base} ({n} incident or maintenance notice(s) not about what we use, or only scheduled, ignored)"),
    }
}

/// The worst component that is not operational (among ours, with `components`).
fn worst_named<'a>(status: &'a PartnerStatus, scope: &Scope<'_>) -> Option<&'a Component> {
    status
        .components
        .iter()
        .filter(|c| c.status != ComponentStatus::Operational)
        .filter(|c| scope.whole_page() || scope.is_ours(&c.name))
        .max_by_key(|c| c.status)
}

#[cfg(test)]
mod tests;
