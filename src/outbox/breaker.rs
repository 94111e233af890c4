//! Circuit breakers, one per sink: after `failures` failed deliveries in a row a sink is left
//! alone for `cooldown`: its actions stay unclaimed (no attempt is spent, `next_attempt_at` moves
//! to the reopening), nothing is lost; then exactly one trial delivery decides whether it closes
//! again.
//!
//! ```text
//! Closed { failures } --failure x N--> Open { until } --cooldown over, trial claimed--> HalfOpen
//!        ^                                  ^                                            |
//!        +------------- success ------------+-------------------- failure ---------------+
//! ```

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::metrics::METRICS;
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

/// What the worker may claim for a sink now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Claim as usual.
    Claim,
    /// Claim one action, the trial of a breaker whose cool-down is over.
    Trial,
    /// Claim nothing (open, or a trial under way).
    Hold,
}

impl State {
    /// What may be claimed at `now`.
    pub fn gate(self, now: Instant) -> Gate {
        match self {
            Self::Closed { .. } => Gate::Claim,
            Self::Open { until } if now < until => Gate::Hold,
            Self::Open { .. } => Gate::Trial,
            Self::HalfOpen => Gate::Hold,
        }
    }

    /// The state once the trial is claimed.
    pub fn start_trial(self, now: Instant) -> Self {
        match self {
            Self::Open { until } if now >= until => Self::HalfOpen,
            other => other,
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

    /// The value of `sparky_sink_breaker_state`: 0 closed, 1 open, 2 half-open.
    fn metric(self) -> i64 {
        match self {
            Self::Closed { .. } => 0,
            Self::Open { .. } => 1,
            Self::HalfOpen => 2,
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

    fn with<R>(&self, sink: SinkKind, f: impl FnOnce(&mut State) -> R) -> R {
        let mut map = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let state = map.entry(sink).or_insert(State::Closed { failures: 0 });
        let out = f(state);
        METRICS.sink_breaker_state.with_label_values(&[sink.as_str()]).set(state.metric());
        out
    }

    /// What may be claimed for `sink` now.
    pub fn gate(&self, sink: SinkKind) -> Gate {
        self.with(sink, |s| s.gate(Instant::now()))
    }

    /// The trial of `sink` was claimed: the others wait for its outcome.
    pub fn start_trial(&self, sink: SinkKind) {
        self.with(sink, |s| *s = s.start_trial(Instant::now()));
    }

    /// Records the outcome of a delivery to `sink` (`ok`: the service answered, even with a
    /// refusal that no retry fixes). `Some(until)` when this outcome opened the breaker (its
    /// waiting actions are then moved to `until`).
    pub fn record(&self, sink: SinkKind, ok: bool) -> Option<Duration> {
        let (failures, cooldown) = (self.failures, self.cooldown);
        self.with(sink, |state| {
            let now = Instant::now();
            let next = state.record(ok, now, failures, cooldown);
            let opened = matches!(next, State::Open { .. }) && !matches!(*state, State::Open { .. });
            *state = next;
            if !opened {
                return None;
            }
            tracing::warn!(sink = %sink, cooldown = ?cooldown, "circuit breaker open: deliveries wait for the cool-down, no attempt spent");
            METRICS.error("outbox", "breaker_open");
            Some(cooldown)
        })
    }

    /// How long until `sink`'s open breaker lets its trial through (`None`: not open).
    pub fn reopens_in(&self, sink: SinkKind) -> Option<Duration> {
        self.with(sink, |s| match *s {
            State::Open { until } => Some(until.saturating_duration_since(Instant::now())),
            State::Closed { .. } | State::HalfOpen => None,
        })
    }

    /// The state of `sink`'s breaker.
    pub fn state(&self, sink: SinkKind) -> State {
        self.with(sink, |s| *s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COOLDOWN: Duration = Duration::from_secs(30);

    #[tokio::test(start_paused = true)]
    async fn a_breaker_opens_after_repeated_failures_and_one_trial_closes_it() {
        let b = Breakers::new(3, COOLDOWN);
        assert_eq!(b.record(SinkKind::Jira, false), None);
        assert_eq!(b.record(SinkKind::Jira, false), None);
        assert_eq!(b.gate(SinkKind::Jira), Gate::Claim, "two failures: still closed");
        assert_eq!(b.record(SinkKind::Jira, false), Some(COOLDOWN), "the third opens it");
        assert_eq!(b.gate(SinkKind::Jira), Gate::Hold);
        assert_eq!(b.gate(SinkKind::Slack), Gate::Claim, "one breaker per sink");
        tokio::time::advance(Duration::from_secs(29)).await;
        assert_eq!(b.gate(SinkKind::Jira), Gate::Hold);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(b.gate(SinkKind::Jira), Gate::Trial, "cool-down over: one trial");
        b.start_trial(SinkKind::Jira);
        assert_eq!(b.gate(SinkKind::Jira), Gate::Hold, "the others wait for the trial");
        assert_eq!(b.record(SinkKind::Jira, false), Some(COOLDOWN), "a failed trial opens it again");
        tokio::time::advance(COOLDOWN).await;
        assert_eq!(b.gate(SinkKind::Jira), Gate::Trial);
        b.start_trial(SinkKind::Jira);
        assert_eq!(b.record(SinkKind::Jira, true), None);
        assert_eq!(b.state(SinkKind::Jira), State::Closed { failures: 0 }, "a successful trial closes it");
        assert_eq!(b.gate(SinkKind::Jira), Gate::Claim);
        assert!(METRICS.render().contains("sparky_sink_breaker_state{sink=\"jira\"} 0"));
    }

    #[test]
    fn a_success_resets_the_count() {
        let now = Instant::now();
        let s = State::Closed { failures: 0 }.record(false, now, 3, COOLDOWN).record(false, now, 3, COOLDOWN);
        assert_eq!(s.record(true, now, 3, COOLDOWN), State::Closed { failures: 0 });
    }
}
