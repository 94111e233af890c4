//! When things run: the instants of interval schedules, spread over their interval by a stable
//! hash of their id, and the loop that runs a job at each of them. Cron schedules are
//! [`Cron`](crate::config::Cron) (driven by tokio-cron-scheduler in the daemon); both are
//! identified by their schedule instant, so a tick runs once across restarts and replicas.
//!
//! Time is read from the one clock ([`Timestamp::now`]) and waited with tokio's timers, so
//! paused time drives every schedule in tests.

use std::future::Future;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::model::Timestamp;

/// A stable offset in `[0, interval)` for `key`: the first 8 bytes of SHA-256(`key`) modulo the
/// interval in milliseconds, so every replica and every release computes the same instants.
pub fn spread(key: &str, interval: Duration) -> Duration {
    let digest = Sha256::digest(key.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let ms = u64::try_from(interval.as_millis()).unwrap_or(u64::MAX).max(1);
    Duration::from_millis(u64::from_be_bytes(first) % ms)
}

/// An interval schedule: ticks at every `k * period + offset` since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Every {
    period: i64,
    offset: i64,
}

impl Every {
    /// Every `interval`, at `offset` into each (offsets past the interval wrap).
    pub fn new(interval: Duration, offset: Duration) -> Self {
        let period = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX).max(1);
        Self { period, offset: i64::try_from(offset.as_millis()).unwrap_or(0) % period }
    }

    /// Every `interval`, spread by `key` (see [`spread`]).
    pub fn spread(key: &str, interval: Duration) -> Self {
        Self::new(interval, spread(key, interval))
    }

    /// The latest tick at or before `now`.
    pub fn latest(self, now: Timestamp) -> Timestamp {
        Timestamp::from_millis((now.as_millis() - self.offset).div_euclid(self.period) * self.period + self.offset)
    }

    /// The first tick strictly after `now`.
    pub fn next(self, now: Timestamp) -> Timestamp {
        Timestamp::from_millis(self.latest(now).as_millis() + self.period)
    }
}

/// When [`run_every`] runs first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// At once, for the latest tick (a service that starts should know where it stands).
    Now,
    /// At the next tick.
    NextTick,
}

/// Calls `run(tick)` at every tick of `every` until `shutdown`, first as `start` says; a run
/// longer than the interval skips the ticks it overlaps.
pub async fn run_every<F, Fut>(every: Every, start: Start, shutdown: &CancellationToken, mut run: F)
where
    F: FnMut(Timestamp) -> Fut,
    Fut: Future<Output = ()>,
{
    if start == Start::Now {
        run(every.latest(Timestamp::now())).await;
    }
    loop {
        let now = Timestamp::now();
        let next = every.next(now);
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(next.since(now)) => run(next).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[test]
    fn spread_is_stable_and_within_the_interval() {
        let d = Duration::from_secs(300);
        // The same value on every machine and release: a change here moves every replica's ticks.
        assert_eq!(spread("okta-users", d).as_millis(), 152_162);
        assert!((0..50).all(|i| spread(&format!("check-{i}"), d) < d));
        assert_ne!(spread("a", d), spread("b", d));
    }

    #[test]
    fn ticks_fall_on_the_spread_grid() {
        let every = Every::new(Duration::from_secs(60), Duration::from_secs(7));
        let now = Timestamp::from_millis(125_000);
        assert_eq!(every.latest(now), Timestamp::from_millis(67_000));
        assert_eq!(every.next(now), Timestamp::from_millis(127_000));
        assert_eq!(every.latest(Timestamp::from_millis(127_000)), Timestamp::from_millis(127_000));
    }

    #[tokio::test(start_paused = true)]
    async fn a_job_runs_at_each_tick_under_paused_time() {
        let every = Every::new(Duration::from_secs(60), Duration::ZERO);
        let ticks = Arc::new(Mutex::new(Vec::new()));
        let shutdown = CancellationToken::new();
        let task = {
            let (ticks, shutdown) = (ticks.clone(), shutdown.clone());
            tokio::spawn(async move {
                run_every(every, Start::Now, &shutdown, |tick| {
                    ticks.lock().unwrap().push(tick);
                    async {}
                })
                .await;
            })
        };
        tokio::time::sleep(Duration::from_secs(60 * 5 + 1)).await;
        shutdown.cancel();
        task.await.unwrap();
        let ticks = ticks.lock().unwrap();
        assert_eq!(ticks.len(), 6, "the latest tick at start, then five: {ticks:?}");
        assert!(ticks.windows(2).all(|w| w[1].since(w[0]) == Duration::from_secs(60)));
        assert!(ticks.iter().all(|t| t.as_millis() % 60_000 == 0), "on the grid");
    }
}
