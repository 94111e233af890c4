//! Actions and their delivery: every side effect is an [`Action`] written to the outbox table
//! (see [`crate::store::outbox`]) in the transaction of the state change that caused it, then
//! delivered by the [`worker`] with retries, backoff with jitter, `Retry-After`, leases and a
//! dead letter state.

pub mod breaker;
pub mod worker;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::sinks::jira::JiraAction;
use crate::sinks::pagerduty::PagerDutyEvent;
use crate::sinks::slack::message::{SlackPost, SlackUpdate};
use crate::sinks::statuspage::StatuspageAction;

pub use worker::{Deliverer, DeliveryReport};

/// A side effect, as stored in the outbox payload (JSON, tagged by `type`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    /// Post a Slack message (`chat.postMessage`).
    SlackPost(SlackPost),
    /// Edit a message posted earlier (`chat.update`).
    SlackUpdate(SlackUpdate),
    /// Create, comment on or resolve a Jira issue.
    Jira(JiraAction),
    /// A PagerDuty Events v2 event.
    PagerDuty(PagerDutyEvent),
    /// A change of our public status page.
    Statuspage(StatuspageAction),
}

impl Action {
    /// The sink that delivers it.
    pub fn sink(&self) -> &'static str {
        match self {
            Self::SlackPost(_) | Self::SlackUpdate(_) => "slack",
            Self::Jira(_) => "jira",
            Self::PagerDuty(_) => "pagerduty",
            Self::Statuspage(_) => "statuspage",
        }
    }

    /// The payload JSON.
    pub fn to_json(&self) -> String {
        // Serialising plain data structures to a string cannot fail.
        serde_json::to_string(self).unwrap_or_else(|e| unreachable!("action serialises: {e}"))
    }
}

/// A sink's confirmation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivered {
    /// The id the sink gave the effect (Slack `ts`, Jira issue key ...).
    pub remote_id: Option<String>,
}

/// Why a delivery attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Another attempt may succeed (timeout, 5xx, 429, `ok: false`).
    #[error("{reason}")]
    Retry {
        /// What happened.
        reason: String,
        /// The sink's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// No attempt will succeed (the payload cannot be read); straight to the dead letter state.
    #[error("{reason}")]
    Permanent {
        /// What happened.
        reason: String,
    },
}

impl DeliveryError {
    /// A retryable failure without `Retry-After`.
    pub fn retry(reason: impl Into<String>) -> Self {
        Self::Retry { reason: reason.into(), retry_after: None }
    }
}
