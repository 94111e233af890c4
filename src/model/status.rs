//! The one normalised model every status page adapter produces, in the terms of Atlassian
//! Statuspage v2 (https://developer.statuspage.io, "status", "components", "incidents",
//! "scheduled_maintenances" of `/api/v2/summary.json`), and the events between two readings.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

vocabulary! {
    /// The page-level status indicator (Statuspage `status.indicator`), plus `unknown` when the
    /// page could not be read. Also used for an incident's impact.
    pub enum Indicator {
        /// All operational.
        None,
        /// Minor: degraded performance somewhere.
        Minor,
        /// Major: a partial outage.
        Major,
        /// Critical: a major outage.
        Critical,
        /// A maintenance is in progress.
        Maintenance,
        /// The page could not be fetched or parsed.
        Unknown,
    }
}

impl Indicator {
    /// Reads a page's indicator or impact word leniently (`ok`, `green`, `high`, component status
    /// words ...); `None` for a word that means nothing known.
    pub fn read_word(word: &str) -> Option<Self> {
        let w = normalise_word(word);
        Some(match w.as_str() {
            "none" | "ok" | "operational" | "good" | "green" => Self::None,
            "minor" | "low" | "degraded_performance" | "degraded" => Self::Minor,
            "major" | "medium" | "partial_outage" => Self::Major,
            "critical" | "high" | "major_outage" | "full_outage" | "outage" => Self::Critical,
            "maintenance" | "under_maintenance" => Self::Maintenance,
            _ => return None,
        })
    }

    /// An open incident's impact as it counts: at least `minor`, whatever it declares (`none`,
    /// `unknown`).
    pub fn at_least_minor(self) -> Self {
        match self {
            Self::None | Self::Unknown => Self::Minor,
            other => other,
        }
    }

    /// The component status of the same severity (`None` for `unknown`).
    pub fn as_component_status(self) -> Option<ComponentStatus> {
        Some(match self {
            Self::None => ComponentStatus::Operational,
            Self::Minor => ComponentStatus::DegradedPerformance,
            Self::Major => ComponentStatus::PartialOutage,
            Self::Critical => ComponentStatus::MajorOutage,
            Self::Maintenance => ComponentStatus::UnderMaintenance,
            Self::Unknown => return None,
        })
    }
}

vocabulary! {
    /// A component's status (Statuspage `components[].status`). Ordered by severity, so the worst
    /// of several is their maximum. incident.io's `full_outage` reads as `major_outage`.
    #[derive(PartialOrd, Ord)]
    pub enum ComponentStatus {
        /// Working.
        Operational,
        /// Planned work.
        UnderMaintenance,
        /// Slow or erroring sometimes.
        DegradedPerformance,
        /// Down for some.
        PartialOutage,
        /// Down.
        MajorOutage,
    }
}

impl ComponentStatus {
    /// Reads a page's component status word leniently; also accepts indicator words (`minor`
    /// -> degraded ...).
    pub fn read_word(word: &str) -> Option<Self> {
        Indicator::read_word(word).and_then(Indicator::as_component_status)
    }

    /// The page indicator of the same severity.
    pub fn as_indicator(self) -> Indicator {
        match self {
            Self::Operational => Indicator::None,
            Self::UnderMaintenance => Indicator::Maintenance,
            Self::DegradedPerformance => Indicator::Minor,
            Self::PartialOutage => Indicator::Major,
            Self::MajorOutage => Indicator::Critical,
        }
    }
}

/// Lower case, spaces and dashes as underscores: "Partial Outage" -> "partial_outage".
fn normalise_word(word: &str) -> String {
    word.trim().to_lowercase().replace([' ', '-'], "_")
}

/// One component of the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Component {
    /// Display name, as the partner writes it.
    pub name: String,
    /// Its status.
    pub status: ComponentStatus,
    /// The group it belongs to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// An unresolved incident of a partner's page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartnerIncident {
    /// The partner's id (stable across polls).
    pub id: String,
    /// Title.
    pub name: String,
    /// Impact (`none`, `minor`, `major`, `critical`, `maintenance`).
    pub impact: Indicator,
    /// Latest status word, lower case (`investigating`, `identified`, `monitoring`, ...).
    pub status: String,
    /// When it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    /// The partner's link to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shortlink: Option<String>,
    /// Names of the affected components.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<String>,
}

/// A scheduled maintenance in progress or upcoming.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Maintenance {
    /// The partner's id.
    pub id: String,
    /// Title.
    pub name: String,
    /// `scheduled`, `in_progress` or `verifying`.
    pub status: String,
    /// Planned start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_for: Option<DateTime<Utc>>,
    /// Planned end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_until: Option<DateTime<Utc>>,
    /// The partner's link to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shortlink: Option<String>,
    /// Names of the affected components.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<String>,
}

impl Maintenance {
    /// True while the work is under way (`in_progress` or `verifying`).
    pub fn in_progress(&self) -> bool {
        matches!(self.status.as_str(), "in_progress" | "verifying")
    }
}

/// What a partner's status page says, normalised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartnerStatus {
    /// Page indicator; `unknown` when the page could not be read (never `none` then).
    pub indicator: Indicator,
    /// The page's own words for it ("Partial System Outage").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Every component.
    #[serde(default)]
    pub components: Vec<Component>,
    /// Unresolved incidents.
    #[serde(default)]
    pub incidents: Vec<PartnerIncident>,
    /// Maintenances in progress or upcoming.
    #[serde(default)]
    pub maintenances: Vec<Maintenance>,
    /// Why the page could not be read (with `indicator = unknown`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl PartnerStatus {
    /// A page that could not be read: `unknown`, with the reason kept.
    pub fn unreadable(error: impl Into<String>) -> Self {
        Self {
            indicator: Indicator::Unknown,
            description: None,
            components: Vec::new(),
            incidents: Vec::new(),
            maintenances: Vec::new(),
            error: Some(error.into()),
        }
    }

    /// The indicator the content implies, for pages that do not state one: the worst of the
    /// components, the open incidents' impacts and a maintenance in progress.
    pub fn derived_indicator(&self) -> Indicator {
        let worst_component = self.components.iter().map(|c| c.status).max().unwrap_or(ComponentStatus::Operational);
        let worst_incident = self
            .incidents
            .iter()
            // An open incident is at least minor, whatever impact it declares.
            .map(|i| {
                i.impact.as_component_status().unwrap_or(ComponentStatus::DegradedPerformance).max(ComponentStatus::DegradedPerformance)
            })
            .max()
            .unwrap_or(ComponentStatus::Operational);
        let maintenance = if self.maintenance_in_progress() { ComponentStatus::UnderMaintenance } else { ComponentStatus::Operational };
        worst_component.max(worst_incident).max(maintenance).as_indicator()
    }

    /// The worst component (first of equals), if any is not operational.
    pub fn worst_component(&self) -> Option<&Component> {
        self.components.iter().filter(|c| c.status != ComponentStatus::Operational).max_by_key(|c| c.status)
    }

    /// True when a maintenance is under way.
    pub fn maintenance_in_progress(&self) -> bool {
        self.maintenances.iter().any(Maintenance::in_progress)
    }

    /// The partner's effective status for triage: the worst of the components we depend on
    /// (names compared case-insensitively), or the page indicator when none are named or none
    /// of the named ones is on the page. `None` when the page could not be read.
    pub fn effective(&self, depends_on: &[String]) -> Option<ComponentStatus> {
        if self.indicator == Indicator::Unknown {
            return None;
        }
        let named: Vec<ComponentStatus> =
            self.components.iter().filter(|c| depends_on.iter().any(|d| d.eq_ignore_ascii_case(&c.name))).map(|c| c.status).collect();
        match named.into_iter().max() {
            Some(worst) => Some(worst),
            None => self.indicator.as_component_status(),
        }
    }
}

vocabulary! {
    /// What changed between two readings of a partner's page.
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
    /// An event of `kind` about `subject`, from `old` to `new`.
    pub fn new(kind: EventKind, subject: &str, old: Option<&str>, new: Option<&str>, detail: EventDetail) -> Self {
        Self { kind, subject: subject.to_owned(), old: old.map(str::to_owned), new: new.map(str::to_owned), detail }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn component(name: &str, status: ComponentStatus) -> Component {
        Component { name: name.to_owned(), status, group: None }
    }

    fn page(indicator: Indicator, components: Vec<Component>) -> PartnerStatus {
        PartnerStatus { indicator, description: None, components, incidents: vec![], maintenances: vec![], error: None }
    }

    #[test]
    fn words_parse_leniently() {
        assert_eq!(ComponentStatus::read_word("full_outage"), Some(ComponentStatus::MajorOutage));
        assert_eq!(ComponentStatus::read_word("Partial Outage"), Some(ComponentStatus::PartialOutage));
        assert_eq!(Indicator::read_word("critical"), Some(Indicator::Critical));
        assert_eq!(Indicator::read_word("banana"), None);
    }

    #[test]
    fn effective_status_is_the_worst_named_component_else_the_indicator() {
        let p = page(
            Indicator::Minor,
            vec![component("API", ComponentStatus::Operational), component("Webhooks", ComponentStatus::PartialOutage)],
        );
        assert_eq!(p.effective(&["api".to_owned()]), Some(ComponentStatus::Operational), "an outage elsewhere does not count");
        assert_eq!(p.effective(&["API".to_owned(), "Webhooks".to_owned()]), Some(ComponentStatus::PartialOutage));
        assert_eq!(p.effective(&[]), Some(ComponentStatus::DegradedPerformance), "no names: the indicator");
        assert_eq!(PartnerStatus::unreadable("timeout").effective(&[]), None);
    }

    #[test]
    fn the_derived_indicator_counts_components_incidents_and_maintenance() {
        let mut p = page(Indicator::Unknown, vec![component("API", ComponentStatus::Operational)]);
        assert_eq!(p.derived_indicator(), Indicator::None);
        p.maintenances.push(Maintenance {
            id: "m".into(),
            name: "m".into(),
            status: "in_progress".into(),
            scheduled_for: None,
            scheduled_until: None,
            shortlink: None,
            components: vec![],
        });
        assert_eq!(p.derived_indicator(), Indicator::Maintenance);
        p.incidents.push(PartnerIncident {
            id: "i".into(),
            name: "i".into(),
            impact: Indicator::None,
            status: "investigating".into(),
            started_at: None,
            shortlink: None,
            components: vec![],
        });
        assert_eq!(p.derived_indicator(), Indicator::Minor, "an open incident is at least minor");
        p.components[0].status = ComponentStatus::MajorOutage;
        assert_eq!(p.derived_indicator(), Indicator::Critical);
    }
}
