//! Status page actions: a partner's component on our public page, and the incidents that tell
//! customers (delivered by `sinks::statuspage`: Atlassian Statuspage or the built-in page).

use serde::{Deserialize, Serialize};

pub use crate::model::statuspage::IncidentStatus;
use crate::model::{ComponentStatus, Indicator, PartnerId};

/// A partner's component on our page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicComponent {
    /// Partner id.
    pub partner: PartnerId,
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
        /// The impact to show, mirroring the partner's (Statuspage `impact_override`); `None`:
        /// the page's own (the worst affected component's).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        impact: Option<Indicator>,
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
