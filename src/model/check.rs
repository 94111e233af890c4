//! Synthetic check words: outcomes, states, and the record that moves a check between states.

use serde::{Deserialize, Serialize};

use super::Timestamp;

vocabulary! {
    /// The outcome of a check result (DESIGN.md): `pass`, `warn` (degraded, e.g. latency over
    /// `warn_above`), `fail`. Ordered by severity.
    #[derive(PartialOrd, Ord)]
    pub enum Outcome {
        /// Everything held.
        Pass,
        /// Degraded: a warn threshold was crossed.
        Warn,
        /// Failed.
        Fail,
    }
}

vocabulary! {
    /// A check's state.
    pub enum CheckState {
        /// Passing (or not yet failed enough).
        Healthy,
        /// Failed `failure_threshold` times in a row; triage acts on the change.
        Failing,
    }
}

/// The state and the counts that move it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateRecord {
    /// Current state.
    pub state: CheckState,
    /// Confirmed failures in a row (capped at the threshold: counting on changes nothing).
    pub consecutive_failures: u32,
    /// Successes in a row (capped likewise).
    pub consecutive_successes: u32,
    /// Since when.
    pub since: Timestamp,
    /// Since when its counted results are `warn` (`None`: the last one was not).
    pub warn_since: Option<Timestamp>,
    /// The "still warn after `warn_after`" notice of this warn spell was decided.
    pub warn_notified: bool,
}

impl StateRecord {
    /// A check never run: healthy since `now`.
    pub fn new(now: Timestamp) -> Self {
        Self {
            state: CheckState::Healthy,
            consecutive_failures: 0,
            consecutive_successes: 0,
            since: now,
            warn_since: None,
            warn_notified: false,
        }
    }
}

vocabulary! {
    /// A warn spell's notice: a check `warn` for `warn_after` (`started`), and the pass that ends
    /// a spell that was noticed (`cleared`). Stored in `check_events.warn`.
    pub enum WarnChange {
        /// Warn for `warn_after` without a pass.
        Started,
        /// A pass after a noticed spell.
        Cleared,
    }
}

/// A change of state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Transition {
    /// Before.
    pub from: CheckState,
    /// After.
    pub to: CheckState,
}

/// One assertion's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssertionResult {
    /// The assertion in words: `status is 2xx`, `latency under 2s (warn) / 10s (fail)`,
    /// `$.result[0].id exists` ...
    pub assertion: String,
    /// Pass, warn or fail.
    pub outcome: Outcome,
    /// What was observed: `got 503`, `took 2.4s`, `no node` ...
    pub detail: String,
}

/// The worst outcome of a set of assertions (`pass` for none).
pub fn worst(results: &[AssertionResult]) -> Outcome {
    results.iter().map(|r| r.outcome).max().unwrap_or(Outcome::Pass)
}
