//! Circuit breakers, one per sink: after `failures` failed deliveries in a row a sink is left
//! alone for `cooldown` (its actions wait, nothing is lost), then exactly one trial delivery
//! decides whether it closes again.
//!
//! ```text
//! Closed { failures } --failure x N--> Open { until } --cooldown over--> HalfOpen (one trial)
//!        ^                                  ^                                  |
//!        +------------- success ------------+------------ failure -------------+
//! ```

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::model::SinkKind;

/// One sink's breaker state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Deliveries go through; `failures` in a row so far.
    Closed {
        /// Failed deliveries in a row.
        failures: u32,
    },
    /// Nothing goes through until `until`.
    Open {
        /// End of the cool-down.
        until: Instant,
    },
    /// The cool-down is over: one trial delivery is under way; the others wait for its outcome.
    HalfOpen,
}

/// What the breaker lets a delivery do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Go ahead.
    Go,
    /// Go ahead, as the one trial after a cool-down.
    Trial,
    /// Wait this long before asking again.
    Wait(Duration),
}

impl State {
    /// The admission of a delivery at `now`, and the state after it.
    pub fn admit(self, now: Instant, cooldown: Duration) -> (Self, Admission) {
        match self {
            Self::Closed { .. } => (self, Admission::Go),
            Self::Open { until } if now < until => (self, Admission::Wait(until - now)),
            Self::Open { .. } => (Self::HalfOpen, Admission::Trial),
            Self::HalfOpen => (self, Admission::Wait(cooldown)),
        }
    }

    /// The state after a delivery's outcome at `now`: a success closes the breaker; a failure
    /// counts towards opening it, and a failed trial opens it again at once.
    pub fn record(self, ok: bool, now: Instant, failures_to_open: u32, cooldown: Duration) -> Self {
        if ok {
            return Self::Closed { failures: 0 };
        }
        match self {
            Self::Closed { failures } if failures + 1 < failures_to_open => Self::Closed { failures: failures + 1 },
            Self::Open { until } => Self::Open { until },
            Self::Closed { .. } | Self::HalfOpen => Self::Open { until: now + cooldown },
        }
    }
}

/// The breakers of every sink.
#[derive(Debug)]
pub struct Breakers {
    failures: u32,
    cooldown: Duration,
    state: Mutex<HashMap<SinkKind, State>>,
}

impl Breakers {
    /// Breakers opening after `failures` failures in a row, for `cooldown`.
    pub fn new(failures: u32, cooldown: Duration) -> Self {
        Self { failures: failures.max(1), cooldown, state: Mutex::new(HashMap::new()) }
    }

    /// Whether a delivery to `sink` may go now.
    pub fn admit(&self, sink: SinkKind) -> Admission {
        let mut map = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let state = map.entry(sink).or_insert(State::Closed { failures: 0 });
        let (next, admission) = state.admit(Instant::now(), self.cooldown);
        *state = next;
        admission
    }

    /// Records the outcome of a delivery to `sink` (`ok`: the service answered, even with a
    /// refusal that no retry fixes).
    pub fn record(&self, sink: SinkKind, ok: bool) {
        let mut map = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let state = map.entry(sink).or_insert(State::Closed { failures: 0 });
        let next = state.record(ok, Instant::now(), self.failures, self.cooldown);
        if matches!(next, State::Open { .. }) && !matches!(*state, State::Open { .. }) {
            tracing::warn!(sink = %sink, cooldown = ?self.cooldown, "circuit breaker open: deliveries wait for the cool-down");
            crate::metrics::METRICS.error("outbox", "breaker_open");
        }
        *state = next;
    }

    /// The state of `sink`'s breaker.
    pub fn state(&self, sink: SinkKind) -> State {
        let map = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(&sink).copied().unwrap_or(State::Closed { failures: 0 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COOLDOWN: Duration = Duration::from_secs(30);

    #[tokio::test(start_paused = true)]
    async fn a_breaker_opens_after_repeated_failures_and_one_trial_closes_it() {
        let b = Breakers::new(3, COOLDOWN);
        b.record(SinkKind::Jira, false);
        b.record(SinkKind::Jira, false);
        assert_eq!(b.admit(SinkKind::Jira), Admission::Go, "two failures: still closed");
        b.record(SinkKind::Jira, false);
        assert_eq!(b.admit(SinkKind::Jira), Admission::Wait(COOLDOWN));
        assert_eq!(b.admit(SinkKind::Slack), Admission::Go, "one breaker per sink");
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(b.admit(SinkKind::Jira), Admission::Wait(Duration::from_secs(20)));
        tokio::time::advance(Duration::from_secs(21)).await;
        assert_eq!(b.admit(SinkKind::Jira), Admission::Trial, "cool-down over: one trial");
        assert_eq!(b.admit(SinkKind::Jira), Admission::Wait(COOLDOWN), "the others wait for the trial");
        b.record(SinkKind::Jira, false);
        assert!(matches!(b.state(SinkKind::Jira), State::Open { .. }), "a failed trial opens it again");
        tokio::time::advance(COOLDOWN).await;
        assert_eq!(b.admit(SinkKind::Jira), Admission::Trial);
        b.record(SinkKind::Jira, true);
        assert_eq!(b.state(SinkKind::Jira), State::Closed { failures: 0 }, "a successful trial closes it");
        assert_eq!(b.admit(SinkKind::Jira), Admission::Go);
    }

    #[test]
    fn a_success_resets_the_count() {
        let now = Instant::now();
        let s = State::Closed { failures: 0 }.record(false, now, 3, COOLDOWN).record(false, now, 3, COOLDOWN);
        assert_eq!(s.record(true, now, 3, COOLDOWN), State::Closed { failures: 0 });
    }
}
