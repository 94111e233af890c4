//! Circuit breakers, one per sink: after `failures` failed deliveries in a row a sink is left
//! alone for `cooldown` (its actions wait, nothing is lost), then one trial delivery decides.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// One sink's breaker.
#[derive(Debug, Clone, Copy, Default)]
struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
}

/// The breakers of every sink.
#[derive(Debug)]
pub struct Breakers {
    failures: u32,
    cooldown: Duration,
    state: Mutex<HashMap<&'static str, Breaker>>,
}

impl Breakers {
    /// Breakers opening after `failures` failures in a row, for `cooldown`.
    pub fn new(failures: u32, cooldown: Duration) -> Self {
        Self { failures: failures.max(1), cooldown, state: Mutex::new(HashMap::new()) }
    }

    /// How long `sink` stays closed to deliveries, if its breaker is open. Once the cooldown is
    /// over, the next delivery goes through as a trial.
    pub fn open_for(&self, sink: &'static str) -> Option<Duration> {
        let state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let until = state.get(sink)?.open_until?;
        let now = Instant::now();
        (until > now).then(|| until - now)
    }

    /// Records a delivery to `sink`: a success closes the breaker, a failure counts towards
    /// opening it (a failed trial opens it again at once).
    pub fn record(&self, sink: &'static str, ok: bool) {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let breaker = state.entry(sink).or_default();
        if ok {
            *breaker = Breaker::default();
            return;
        }
        breaker.failures += 1;
        if breaker.failures >= self.failures {
            if breaker.open_until.is_none() {
                tracing::warn!(sink, failures = breaker.failures, cooldown = ?self.cooldown, "circuit breaker open");
                crate::metrics::METRICS.error("outbox", "breaker_open");
            }
            breaker.open_until = Some(Instant::now() + self.cooldown);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_breaker_opens_after_repeated_failures_and_a_trial_closes_it() {
        let b = Breakers::new(3, Duration::from_secs(30));
        b.record("jira", false);
        b.record("jira", false);
        assert_eq!(b.open_for("jira"), None, "two failures: still closed");
        b.record("jira", false);
        assert_eq!(b.open_for("jira"), Some(Duration::from_secs(30)));
        assert_eq!(b.open_for("slack"), None, "one breaker per sink");
        tokio::time::advance(Duration::from_secs(31)).await;
        assert_eq!(b.open_for("jira"), None, "cooldown over: a trial may go");
        b.record("jira", false);
        assert!(b.open_for("jira").is_some(), "a failed trial opens it again");
        tokio::time::advance(Duration::from_secs(31)).await;
        b.record("jira", true);
        b.record("jira", false);
        assert_eq!(b.open_for("jira"), None, "a success resets the count");
    }
}
