//! PagerDuty actions: one Events API v2 event each (delivered by `sinks::pagerduty`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{Priority, vocabulary};

vocabulary! {
    /// `event_action`.
    pub enum EventAction {
        /// Open (or add to) the alert of `dedup_key`.
        Trigger,
        /// Acknowledge it.
        Acknowledge,
        /// Resolve it.
        Resolve,
    }
}

vocabulary! {
    /// `payload.severity`.
    pub enum Severity {
        /// P1.
        Critical,
        /// P2.
        Error,
        /// P3, P4.
        Warning,
        /// P5.
        Info,
    }
}

impl Severity {
    /// The severity of an incident of `priority`.
    pub fn of(priority: Priority) -> Self {
        match priority {
            Priority::P1 => Self::Critical,
            Priority::P2 => Self::Error,
            Priority::P3 | Priority::P4 => Self::Warning,
            Priority::P5 => Self::Info,
        }
    }
}

/// A link shown with the alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// URL.
    pub href: String,
    /// Text.
    pub text: String,
}

/// One Events API v2 event (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/).
/// `summary`, `source` and `severity` are required for a trigger only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PagerDutyEvent {
    /// trigger / acknowledge / resolve.
    pub action: EventAction,
    /// The alert's key.
    pub dedup_key: String,
    /// One line for the responder.
    pub summary: String,
    /// Where it happens (the partner).
    pub source: String,
    /// Severity.
    pub severity: Severity,
    /// Component (the check).
    #[serde(default)]
    pub component: Option<String>,
    /// Group (the partner).
    #[serde(default)]
    pub group: Option<String>,
    /// Class (`synthetic-check`, `egress`).
    #[serde(default)]
    pub class: Option<String>,
    /// Details (the failing assertions ...).
    #[serde(default)]
    pub custom_details: Value,
    /// Links (the check result, the partner's status page).
    #[serde(default)]
    pub links: Vec<Link>,
}
