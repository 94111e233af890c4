//! The outbox owns the actions: what a side effect is ([`Action`] and its payloads, one module
//! per sink), how it is queued ([`enqueue`], in the transaction of the state change that caused
//! it, with an idempotency key), the one [`Sink`] trait every sink implements, and the delivery
//! [`worker`] with its policy: leases, retries with backoff ([`retry`]), `Retry-After`, per-sink
//! rate limits ([`limits`]), circuit breakers ([`breaker`]) and the dead letter state.
//!
//! Adding a sink is one directory under `sinks/`, one [`SinkKind`] word and one [`Action`]
//! variant.

pub mod breaker;
pub mod github;
pub mod jira;
pub mod limits;
pub mod pagerduty;
pub mod retry;
pub mod sink;
pub mod slack;
pub mod statuspage;
pub mod worker;

use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;

use crate::model::SinkKind;
use crate::store::StoreError;
use crate::store::outbox::{NewAction, insert};

pub use sink::{Attempt, Delivered, DeliveryError, Sink, Sinks, attempt};
pub use worker::{Deliverer, DeliveryReport};

use self::github::GitHubAction;
use self::jira::JiraAction;
use self::pagerduty::PagerDutyEvent;
use self::slack::{SlackPost, SlackUpdate};
use self::statuspage::StatuspageAction;

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
    /// Dispatch or re-run a compatibility workflow.
    #[serde(rename = "github")]
    GitHub(GitHubAction),
}

impl Action {
    /// The sink that delivers it.
    pub fn sink(&self) -> SinkKind {
        match self {
            Self::SlackPost(_) | Self::SlackUpdate(_) => SinkKind::Slack,
            Self::Jira(_) => SinkKind::Jira,
            Self::PagerDuty(_) => SinkKind::PagerDuty,
            Self::Statuspage(_) => SinkKind::Statuspage,
            Self::GitHub(_) => SinkKind::GitHub,
        }
    }

    /// The action as a row to write: `key` makes a second write (and a second delivery) of the
    /// same effect a no-op; actions of one `ordering` key go out one after the other.
    pub fn queued(&self, key: impl Into<String>, ordering: impl Into<String>) -> NewAction {
        NewAction { idempotency_key: key.into(), ordering_key: ordering.into(), sink: self.sink(), payload: self.to_json() }
    }

    /// The payload JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an action serialises") // invariant: plain data (strings, numbers, JSON values)
    }
}

macro_rules! action_from {
    ($($payload:ty => $variant:ident),+ $(,)?) => {
        $(impl From<$payload> for Action {
            fn from(payload: $payload) -> Self {
                Self::$variant(payload)
            }
        })+
    };
}

action_from!(SlackPost => SlackPost, SlackUpdate => SlackUpdate, JiraAction => Jira, PagerDutyEvent => PagerDuty, StatuspageAction => Statuspage, GitHubAction => GitHub);

/// Writes `actions` in the caller's transaction; an action whose idempotency key exists already
/// is skipped (its effect is already on its way). Returns the ids of the rows written, `None`
/// for skipped ones.
pub async fn enqueue(tx: &mut AnyConnection, actions: &[NewAction]) -> Result<Vec<Option<i64>>, StoreError> {
    let mut ids = Vec::with_capacity(actions.len());
    for action in actions {
        ids.push(insert(tx, action).await?);
    }
    Ok(ids)
}
