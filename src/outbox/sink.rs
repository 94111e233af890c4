//! The one interface every sink implements, and the registry of this process's sinks.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::Action;
use crate::model::{SinkKind, Timestamp};

/// A sink's confirmation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivered {
    /// The id the sink gave the effect (Slack `ts`, Jira issue key ...).
    pub remote_id: Option<String>,
}

impl Delivered {
    /// Delivered, with the sink's id of the effect.
    pub fn with_id(id: impl Into<String>) -> Self {
        Self { remote_id: Some(id.into()) }
    }
}

/// Why a delivery attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Another attempt may succeed (timeout, 5xx, 429, a transient `ok: false`).
    #[error("{reason}")]
    Retry {
        /// What happened.
        reason: String,
        /// The sink's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// No attempt will succeed (the request is refused as it is); straight to the dead letter
    /// state.
    #[error("{reason}")]
    Permanent {
        /// What happened, and what to fix.
        reason: String,
    },
}

impl DeliveryError {
    /// A retryable failure without `Retry-After`.
    pub fn retry(reason: impl Into<String>) -> Self {
        Self::Retry { reason: reason.into(), retry_after: None }
    }

    /// A failure no retry can fix.
    pub fn permanent(reason: impl Into<String>) -> Self {
        Self::Permanent { reason: reason.into() }
    }

    /// The same error with what was being done in front of its reason.
    pub fn context(self, doing: &str) -> Self {
        match self {
            Self::Retry { reason, retry_after } => Self::Retry { reason: format!("{doing}: {reason}"), retry_after },
            Self::Permanent { reason } => Self::Permanent { reason: format!("{doing}: {reason}") },
        }
    }

    /// The same error with every occurrence of `secret` replaced by `***` (should an answer
    /// have echoed a credential).
    pub fn redact(self, secret: &str) -> Self {
        if secret.is_empty() {
            return self;
        }
        match self {
            Self::Retry { reason, retry_after } => Self::Retry { reason: reason.replace(secret, "***"), retry_after },
            Self::Permanent { reason } => Self::Permanent { reason: reason.replace(secret, "***") },
        }
    }
}

/// One delivery attempt of an action, as the worker hands it to a sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The outbox row id (for logs).
    pub action_id: i64,
    /// The action's idempotency key.
    pub key: String,
    /// This attempt's number, from 1.
    pub number: i64,
    /// When the action was written.
    pub created_at: Timestamp,
    /// True when an earlier attempt may have reached the sink (its answer never came back, or
    /// the process died): the worker then asks [`Sink::find_earlier`] before delivering again.
    pub uncertain: bool,
}

impl Attempt {
    /// The first attempt of action `key` (for sink tests and tools).
    pub fn first(key: impl Into<String>) -> Self {
        Self { action_id: 0, key: key.into(), number: 1, created_at: Timestamp::now(), uncertain: false }
    }

    /// Attempt `number` of action `key` (for sink tests and tools): uncertain after the first.
    pub fn numbered(key: impl Into<String>, number: i64) -> Self {
        Self { number, uncertain: number > 1, ..Self::first(key) }
    }
}

/// Where actions go: one implementation per external service (`sinks/`), or the log sink
/// standing in for a service without credentials.
#[async_trait::async_trait]
pub trait Sink: Send + Sync {
    /// Looks for the effect of an earlier attempt of `action` that may have reached the service
    /// (`attempt.uncertain`): `Some` when it is there, so it is not sent again. A sink whose
    /// service deduplicates by itself (PagerDuty's `dedup_key`) or whose writes are idempotent
    /// answers `None`.
    async fn find_earlier(&self, action: &Action, attempt: &Attempt) -> Result<Option<Delivered>, DeliveryError>;

    /// Delivers `action` once.
    async fn deliver(&self, action: &Action, attempt: &Attempt) -> Result<Delivered, DeliveryError>;
}

/// One attempt as the worker makes it: after an uncertain attempt, the earlier effect when the
/// sink finds it; else a delivery.
pub async fn attempt(sink: &dyn Sink, action: &Action, attempt: &Attempt) -> Result<Delivered, DeliveryError> {
    if attempt.uncertain
        && let Some(found) = sink.find_earlier(action, attempt).await?
    {
        tracing::info!(action = attempt.action_id, sink = %action.sink(), "the sink already has this action's effect (earlier attempt); not sending it again");
        return Ok(found);
    }
    sink.deliver(action, attempt).await
}

/// How a sink delivers: to the real service, printed by the log sink, or into our own
/// database (the built-in status page).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The service's API.
    Api,
    /// Printed instead of sent (no credentials).
    Log,
    /// Sparky's own built-in status page.
    Builtin,
}

impl Mode {
    /// The word (`api`, `log`, `builtin`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Log => "log",
            Self::Builtin => "builtin",
        }
    }
}

/// The sinks of this process, by kind (assembled by the service).
#[derive(Clone, Default)]
pub struct Sinks {
    by_kind: BTreeMap<SinkKind, (Arc<dyn Sink>, Mode)>,
}

impl Sinks {
    /// No sinks yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `sink` for `kind`, delivering in `mode`.
    pub fn with(mut self, kind: SinkKind, sink: Arc<dyn Sink>, mode: Mode) -> Self {
        self.by_kind.insert(kind, (sink, mode));
        self
    }

    /// The sink of `kind`.
    pub fn get(&self, kind: SinkKind) -> Option<&Arc<dyn Sink>> {
        self.by_kind.get(&kind).map(|(sink, _)| sink)
    }

    /// How `kind` delivers (`None`: no sink registered).
    pub fn mode(&self, kind: SinkKind) -> Option<Mode> {
        self.by_kind.get(&kind).map(|(_, mode)| *mode)
    }

    /// Every sink and its mode, for the start-up log.
    pub fn describe(&self) -> Vec<(SinkKind, Mode)> {
        self.by_kind.iter().map(|(kind, (_, mode))| (*kind, *mode)).collect()
    }
}
