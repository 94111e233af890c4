//! Incident words: our record of a failing partner, its cause, priority and history.

use serde::{Deserialize, Serialize};

use super::{CheckId, Component, Held, Indicator, PartnerId, Timestamp};

vocabulary! {
    /// Jira priority `P1`..`P5`.
    #[derive(PartialOrd, Ord, Default)]
    pub enum Priority {
        /// Highest.
        #[strum(serialize = "P1")]
        P1,
        /// High: a compatibility failure.
        #[strum(serialize = "P2")]
        P2,
        /// Medium.
        #[strum(serialize = "P3")]
        P3,
        /// Low: a synthetic failure.
        #[default]
        #[strum(serialize = "P4")]
        P4,
        /// Lowest.
        #[strum(serialize = "P5")]
        P5,
    }
}

vocabulary! {
    /// Whose fault a failure is.
    pub enum Cause {
        /// Ours: page on-call.
        Internal,
        /// The partner's: tell customers, page nobody.
        External,
    }
}

vocabulary! {
    /// An incident's lifecycle.
    pub enum IncidentState {
        /// At least one of its checks fails.
        Open,
        /// Every check passes again.
        Resolved,
    }
}

vocabulary! {
    /// What happened to an incident (`incident_history.kind`).
    pub enum HistoryKind {
        /// It opened.
        Opened,
        /// Another check of the partner failed.
        CheckAdded,
        /// One of its checks passes again.
        CheckRecovered,
        /// The partner's page changed the cause.
        CauseChanged,
        /// A readable poll says the partner recovered, but the change to internal (which pages)
        /// waits for more such polls in a row.
        CauseHeld,
        /// The partner's page could not be read while the incident is open: the cause is kept.
        StatusUnknown,
        /// The partner's page can be read again.
        StatusReadable,
        /// PagerDuty never accepted the page (its action is dead): on-call was not paged, and
        /// Slack was told so loudly.
        PageFailed,
        /// A silence (or maintenance window) held the page or the public status update of a
        /// decision.
        Silenced,
        /// The silence ended with the incident still open: what it held went out.
        Released,
        /// Every check passes again.
        Resolved,
    }
}

/// An incident as the store keeps it and the decisions see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Incident {
    /// Row id.
    pub id: i64,
    /// Partner id.
    pub partner: PartnerId,
    /// Current cause.
    pub cause: Cause,
    /// Its reason.
    pub cause_reason: String,
    /// Jira priority.
    pub priority: Priority,
    /// PagerDuty dedup key: the check that opened it.
    pub dedup_key: String,
    /// A page is open.
    pub paged: bool,
    /// Our status page shows an incident.
    pub published: bool,
    /// What a silence holds back (owed when it ends with the incident still open).
    pub held: Held,
    /// Cause changes so far.
    pub generation: i64,
    /// Since when the partner's page has been unreadable while this incident is open.
    pub status_unknown_since: Option<Timestamp>,
    /// Readable polls in a row saying the partner recovered while the cause is external.
    pub recovered_polls: u32,
    /// Opened at.
    pub opened_at: Timestamp,
    /// Checks failing now.
    pub checks: Vec<CheckId>,
}

impl Incident {
    /// Our key of the incident in actions and remote ids: `incident:42`.
    pub fn key(&self) -> String {
        format!("incident:{}", self.id)
    }
}

/// The evidence of a decision: what the page said and which of its news counted. Stored with
/// the incident's history as JSON (`incident_history.evidence`) and shown by `sparky incidents`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// The page indicator.
    pub indicator: Indicator,
    /// The components we depend on as the page lists them (without `components`: the ones
    /// that are not operational).
    pub components: Vec<Component>,
    /// Ids of the partner incidents and maintenances that counted.
    pub counted: Vec<String>,
    /// Ids of those that did not (other components, impact `none`, only scheduled).
    pub ignored: Vec<String>,
}

impl Evidence {
    /// One line: `indicator major; API Requests major_outage; counted p1; ignored m1`.
    pub fn describe(&self) -> String {
        let mut parts = vec![format!("indicator {}", self.indicator.as_str())];
        parts.extend(self.components.iter().map(|c| format!("{} {}", c.name, c.status.as_str())));
        if !self.counted.is_empty() {
            parts.push(format!("counted {}", self.counted.join(", ")));
        }
        if !self.ignored.is_empty() {
            parts.push(format!("ignored {}", self.ignored.join(", ")));
        }
        parts.join("; ")
    }
}
