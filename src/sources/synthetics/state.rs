//! A check's state machine: `healthy` or `failing`, moved only by `failure_threshold`
//! consecutive confirmed failures or `success_threshold` consecutive successes (a `warn` is a
//! success: degraded, not down), and its warn spells ([`warn`]). Pure: no I/O, no clock.

use std::time::Duration;

use crate::model::Transition;
use crate::model::{CheckState, Outcome, StateRecord, Timestamp, WarnChange};

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

/// Applies one counted outcome at `now` to the record's warn spell: a `warn` starts a spell (or
/// continues it), and once it has lasted `warn_after` the spell is noticed once (`Started`); a
/// pass ends the spell, with `Cleared` when it was noticed. A failure leaves the spell as it is:
/// failures have their own path (the state machine and triage), and a check that fails between
/// two warns is still degraded.
pub fn warn(record: StateRecord, outcome: Outcome, warn_after: Duration, now: Timestamp) -> (StateRecord, Option<WarnChange>) {
    let mut next = record;
    match (outcome, record.warn_since) {
        (Outcome::Fail, _) => (next, None),
        (Outcome::Pass, None) => (next, None),
        (Outcome::Pass, Some(_)) => {
            next.warn_since = None;
            next.warn_notified = false;
            (next, record.warn_notified.then_some(WarnChange::Cleared))
        }
        (Outcome::Warn, None) => {
            next.warn_since = Some(now);
            next.warn_notified = false;
            (next, None)
        }
        (Outcome::Warn, Some(since)) => {
            if record.warn_notified || now.since(since) < warn_after {
                return (next, None);
            }
            next.warn_notified = true;
            (next, Some(WarnChange::Started))
        }
    }
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

    const AFTER: Duration = Duration::from_secs(15 * 60);

    fn spell(outcomes: &[(i64, Outcome)]) -> Vec<(i64, WarnChange)> {
        let mut record = StateRecord::new(Timestamp::EPOCH);
        let mut notices = Vec::new();
        for (minute, outcome) in outcomes {
            let (next, change) = warn(record, *outcome, AFTER, Timestamp::from_millis(minute * 60_000));
            notices.extend(change.map(|c| (*minute, c)));
            record = next;
        }
        notices
    }

    #[test]
    fn a_warn_spell_is_noticed_once_after_warn_after_and_once_when_it_clears() {
        let w: Vec<(i64, Outcome)> = (0..=30).step_by(5).map(|m| (m, Warn)).chain([(35, Pass), (40, Pass)]).collect();
        assert_eq!(spell(&w), vec![(15, WarnChange::Started), (35, WarnChange::Cleared)]);
    }

    #[test]
    fn a_short_spell_says_nothing_and_a_pass_restarts_the_clock() {
        assert_eq!(spell(&[(0, Warn), (10, Warn), (12, Pass), (14, Warn), (25, Warn), (28, Pass)]), vec![]);
    }

    #[test]
    fn a_failure_inside_a_spell_neither_ends_nor_restarts_it() {
        assert_eq!(spell(&[(0, Warn), (5, Fail), (15, Warn), (20, Pass)]), vec![(15, WarnChange::Started), (20, WarnChange::Cleared)]);
    }

    #[test]
    fn counts_are_capped_so_a_steady_state_writes_nothing_new() {
        let (a, _) = run(&[Pass; 10]);
        let (b, _) = run(&[Pass; 11]);
        assert_eq!(a.consecutive_successes, 3);
        assert_eq!((a.state, a.consecutive_successes, a.consecutive_failures), (b.state, b.consecutive_successes, b.consecutive_failures));
    }
}
