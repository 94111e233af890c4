//! A check's state machine: `healthy` or `failing`, moved only by `failure_threshold`
//! consecutive confirmed failures or `success_threshold` consecutive successes (a `warn` is a
//! success: degraded, not down). Pure: no I/O, no clock.

use crate::model::{CheckState, Outcome, StateRecord, Timestamp, Transition};

/// Consecutive results needed to change state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// Confirmed failures that turn a check failing.
    pub failure: u32,
    /// Successes that turn it healthy.
    pub success: u32,
}

/// Applies one counted outcome at `now`.
pub fn apply(record: StateRecord, outcome: Outcome, thresholds: Thresholds, now: Timestamp) -> (StateRecord, Option<Transition>) {
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
        let mut record = StateRecord::new(Timestamp::EPOCH);
        let mut changes = Vec::new();
        for (i, o) in outcomes.iter().enumerate() {
            let (next, t) = apply(record, *o, T, Timestamp::from_millis(i as i64));
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
        assert_eq!(record.since, Timestamp::from_millis(7));
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
