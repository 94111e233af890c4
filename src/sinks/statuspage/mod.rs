//! Our public status page: Atlassian Statuspage's REST API (component status, incidents) when
//! `STATUSPAGE_API_KEY` and `STATUSPAGE_PAGE_ID` are set, else Sparky's built-in page (served on
//! `/status` and `/api/v2/summary.json`).

pub mod builtin;
mod config;
mod sink;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use config::StatuspageConfig;
pub use sink::StatuspageSink;

use crate::sources::status_pages::ComponentStatus;

/// An incident's status on the page (Statuspage `incident.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
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

impl IncidentStatus {
    /// The Statuspage word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Investigating => "investigating",
            Self::Identified => "identified",
            Self::Monitoring => "monitoring",
            Self::Resolved => "resolved",
        }
    }
}

/// A partner's component on our page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicComponent {
    /// Partner id.
    pub partner: String,
    /// Component name (the partner's `name`).
    pub name: String,
    /// Statuspage component id (`[public_status] component_id`); the built-in page needs none.
    pub component_id: Option<String>,
    /// Its status.
    pub status: ComponentStatus,
}

/// What the status page sink does. `incident` is our key (`incident:42`), under which the page's
/// incident id is kept (`remote_ids`, sink `statuspage`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum StatuspageAction {
    /// Set a component's status.
    Component(PublicComponent),
    /// Open an incident naming the affected components.
    OpenIncident {
        /// Our incident key.
        incident: String,
        /// Title.
        name: String,
        /// The message for customers.
        body: String,
        /// Its status.
        status: IncidentStatus,
        /// Affected components and their status.
        components: Vec<PublicComponent>,
    },
    /// Post an update.
    UpdateIncident {
        /// Our incident key.
        incident: String,
        /// The message.
        body: String,
        /// New status.
        status: IncidentStatus,
    },
    /// Resolve it.
    ResolveIncident {
        /// Our incident key.
        incident: String,
        /// The message.
        body: String,
    },
}
