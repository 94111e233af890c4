//! A check's state machine: `healthy` or `failing`, moved only by `failure_threshold`
//! consecutive confirmed failures or `success_threshold` consecutive successes (a `warn` is a
//! success: degraded, not down). Pure: no I/O, no clock.

use serde::{Deserialize, Serialize};

use super::result::Outcome;

/// A check's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckState {
    /// Passing (or not yet failed enough).
    Healthy,
    /// Failed `failure_threshold` times in a row; triage acts on the change.
    Failing,
}

impl CheckState {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Failing => "failing",
        }
    }

    /// Reads the stored word.
    pub fn parse(word: &str) -> Option<Self> {
        match word {
            "healthy" => Some(Self::Healthy),
            "failing" => Some(Self::Failing),
            _ => None,
        }
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
    /// Since when (ms).
    pub since: i64,
}

impl StateRecord {
    /// A check never run: healthy since `now`.
    pub fn new(now: i64) -> Self {
        Self { state: CheckState::Healthy, consecutive_failures: 0, consecutive_successes: 0, since: now }
    }
}

/// Consecutive results needed to change state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// Confirmed failures that turn a check failing.
    pub failure: u32,
    /// Successes that turn it healthy.
    pub success: u32,
}

/// A change of state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// Before.
    pub from: CheckState,
    /// After.
    pub to: CheckState,
}

/// Applies one counted outcome at `now`.
pub fn apply(record: StateRecord, outcome: Outcome, thresholds: Thresholds, now: i64) -> (StateRecord, Option<Transition>) {
    let mut next = record;
    if outcome == Outcome::Fail {
        next.consecutive_failures = (record.consecutive_failures + 1).min(thresholds.failure);
        next.consecutive_successes = 0;
    } else {
        next.consecutive_successes = (record.consecutive_successes + 1).min(thresholds.success);
        next.consecutive_failures = 0;
    }
    let target = match record.state {
        CheckState::Healthy if next.consecutive_failures >= thresholds.failure => CheckState::Failing,
        CheckState::Failing if next.consecutive_successes >= thresholds.success => CheckState::Healthy,
        unchanged => unchanged,
    };
    if target == record.state {
        return (next, None);
    }
    next.state = target;
    next.since = now;
    (next, Some(Transition { from: record.state, to: target }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Thresholds = Thresholds { failure: 2, success: 3 };

    fn run(outcomes: &[Outcome]) -> (StateRecord, Vec<(usize, CheckState)>) {
        let mut record = StateRecord::new(0);
        let mut changes = Vec::new();
        for (i, o) in outcomes.iter().enumerate() {
            let (next, t) = apply(record, *o, T, i as i64);
            if let Some(t) = t {
                changes.push((i, t.to));
            }
            record = next;
        }
        (record, changes)
    }

    use Outcome::{Fail, Pass, Warn};

    #[test]
    fn failing_needs_consecutive_failures() {
        assert_eq!(run(&[Fail, Pass, Fail]).1, vec![], "interrupted by a pass");
        assert_eq!(run(&[Fail, Fail]).1, vec![(1, CheckState::Failing)]);
    }

    #[test]
    fn recovery_needs_consecutive_successes_and_warn_counts_as_success() {
        let (record, changes) = run(&[Fail, Fail, Pass, Warn, Fail, Pass, Pass, Pass]);
        assert_eq!(changes, vec![(1, CheckState::Failing), (7, CheckState::Healthy)]);
        assert_eq!(record.since, 7);
    }

    #[test]
    fn flapping_below_the_thresholds_changes_nothing() {
        assert_eq!(run(&[Fail, Pass, Fail, Pass, Fail, Pass]).1, vec![]);
    }

    #[test]
    fn counts_are_capped_so_a_steady_state_writes_nothing_new() {
        let (a, _) = run(&[Pass; 10]);
        let (b, _) = run(&[Pass; 11]);
        assert_eq!(a.consecutive_successes, 3);
        assert_eq!((a.state, a.consecutive_successes, a.consecutive_failures), (b.state, b.consecutive_successes, b.consecutive_failures));
    }
}
