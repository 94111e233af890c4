//! Incident words: our record of a failing partner, its cause, priority and history.

use serde::Serialize;

use super::{CheckId, PartnerId, Timestamp};

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
    /// Cause changes so far.
    pub generation: i64,
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
