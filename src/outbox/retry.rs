//! When a failed action goes again: exponential backoff from `[outbox] backoff_base`, doubled
//! each attempt up to `backoff_max`, plus jitter, and never before the sink's `Retry-After`.

use std::time::Duration;

use backon::BackoffBuilder;

use crate::config::OutboxConfig;

/// The delay before attempt `attempts + 1` after `attempts` failed ones: backon's exponential
/// backoff (`backoff_base * 2^(attempts - 1)`, capped at `backoff_max`) with its jitter, which
/// adds a random `[0, d)` to a delay `d` after the cap (so a delay is at most twice
/// `backoff_max`); at least `retry_after`.
pub fn delay(cfg: &OutboxConfig, attempts: i64, retry_after: Option<Duration>) -> Duration {
    let n = usize::try_from(attempts.max(1) - 1).unwrap_or(0);
    let backoff = backon::ExponentialBuilder::default()
        .with_min_delay(cfg.backoff_base.get())
        .with_max_delay(cfg.backoff_max.get())
        .with_jitter()
        .without_max_times()
        .build()
        .nth(n)
        .unwrap_or(cfg.backoff_max.get());
    backoff.max(retry_after.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_are_capped_jittered_and_honour_retry_after() {
        let cfg = OutboxConfig::default();
        let base = cfg.backoff_base.get();
        for attempts in 1..=3 {
            let d = delay(&cfg, attempts, None);
            let plain = base * 2u32.pow(u32::try_from(attempts - 1).unwrap());
            assert!(d >= plain && d < plain * 2, "attempt {attempts}: {d:?}");
        }
        let capped = delay(&cfg, 40, None);
        assert!(capped >= cfg.backoff_max.get() && capped < cfg.backoff_max.get() * 2, "{capped:?}");
        assert_eq!(delay(&cfg, 1, Some(Duration::from_secs(3600))), Duration::from_secs(3600));
    }
}
