//! The one clock and its time type.
//!
//! [`Timestamp::now`] reads tokio's clock, so everything on the daemon's path (scheduler, leases,
//! breakers, triage, outbox) follows `tokio::time::pause` and `advance` in tests: the wall time
//! is the process's start wall time plus the tokio time elapsed since. Stored times are
//! [`Timestamp`]s: Unix epoch milliseconds in BIGINT columns, RFC 3339 in JSON and in print.

use std::fmt;
use std::ops::{Add, Sub};
use std::sync::LazyLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time: Unix epoch milliseconds, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

/// The wall time and tokio instant the clock counts from (the first read of the process).
static ORIGIN: LazyLock<(i64, std::time::Instant)> = LazyLock::new(|| {
    let wall = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    (wall, tokio::time::Instant::now().into_std())
});

impl Timestamp {
    /// The epoch.
    pub const EPOCH: Self = Self(0);
    /// The latest representable time (for "no upper bound" queries).
    pub const MAX: Self = Self(i64::MAX);

    /// Now, by the one clock (tokio's, so paused time drives it).
    pub fn now() -> Self {
        let (wall, origin) = *ORIGIN;
        let now = tokio::time::Instant::now().into_std();
        let offset = match now.checked_duration_since(origin) {
            Some(ahead) => millis(ahead),
            None => -millis(origin.duration_since(now)),
        };
        Self(wall.saturating_add(offset))
    }

    /// From Unix epoch milliseconds.
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }

    /// Unix epoch milliseconds (the stored form).
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// From a chrono time.
    pub fn from_datetime(t: DateTime<Utc>) -> Self {
        Self(t.timestamp_millis())
    }

    /// As a chrono time (the epoch for values out of range).
    pub fn to_datetime(self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.0).unwrap_or_default()
    }

    /// RFC 3339 in UTC with milliseconds: `2026-11-25T14:05:00.000Z`.
    pub fn to_rfc3339(self) -> String {
        self.to_datetime().to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    /// RFC 3339 in UTC to the second, for people: `2026-12-02T07:00:00Z`.
    pub fn to_rfc3339_seconds(self) -> String {
        self.to_datetime().to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    /// Parses RFC 3339 (any offset).
    pub fn parse_rfc3339(text: &str) -> Result<Self, chrono::ParseError> {
        DateTime::parse_from_rfc3339(text.trim()).map(|t| Self(t.timestamp_millis()))
    }

    /// The time elapsed from `earlier` to `self` (zero when `earlier` is later).
    pub fn since(self, earlier: Self) -> Duration {
        Duration::from_millis(u64::try_from(self.0.saturating_sub(earlier.0)).unwrap_or(0))
    }

    /// `self` truncated to whole seconds (a cron tick's identity).
    pub fn whole_seconds(self) -> Self {
        Self(self.0.div_euclid(1000) * 1000)
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Add<Duration> for Timestamp {
    type Output = Self;
    fn add(self, d: Duration) -> Self {
        Self(self.0.saturating_add(millis(d)))
    }
}

impl Sub<Duration> for Timestamp {
    type Output = Self;
    fn sub(self, d: Duration) -> Self {
        Self(self.0.saturating_sub(millis(d)))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

/// Reads RFC 3339, or epoch milliseconds (what earlier versions stored in JSON).
impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Millis(i64),
            Text(String),
        }
        match Either::deserialize(d)? {
            Either::Millis(ms) => Ok(Self(ms)),
            Either::Text(text) => {
                Self::parse_rfc3339(&text).map_err(|e| serde::de::Error::custom(format!("`{text}` is not RFC 3339: {e}")))
            }
        }
    }
}

/// A duration in words for messages, in its two largest units (humantime's words): "1m 55s",
/// "23m 20s", "2h 3m", "3days 1h"; whole seconds below a minute ("45s").
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs < 60 {
        return format!("{secs}s");
    }
    // Cut to a whole number of the unit below the largest one: humantime then prints two units.
    let below = match secs {
        86_400.. => 3_600,
        3_600.. => 60,
        _ => 1,
    };
    humantime::format_duration(Duration::from_secs(secs - secs % below)).to_string()
}

/// For tests under paused time that also wait on real I/O (a database on its own thread):
/// holds the paused clock, so it moves only when the test advances it, never by itself while
/// a task waits on the other thread (tokio would jump to the next timer, e.g. a pool's acquire
/// timeout). It holds by keeping one blocking task open, which tokio counts as work under way.
/// Dropping it lets the clock go.
#[cfg(test)]
pub(crate) struct HeldClock {
    _stop: std::sync::mpsc::Sender<()>,
}

#[cfg(test)]
impl HeldClock {
    /// Holds the (already paused) clock.
    pub(crate) fn hold() -> Self {
        let (stop, wait) = std::sync::mpsc::channel::<()>();
        drop(tokio::task::spawn_blocking(move || {
            let _ = wait.recv();
        }));
        Self { _stop: stop }
    }
}

/// Waits until `cond` holds, moving the held clock on by `step` between looks; panics after
/// ten seconds of real time.
#[cfg(test)]
pub(crate) async fn until<F, Fut>(what: &str, step: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !cond().await {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::advance(step).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_clock_follows_paused_time() {
        let before = Timestamp::now();
        tokio::time::advance(Duration::from_secs(90)).await;
        assert_eq!(Timestamp::now().since(before), Duration::from_secs(90));
    }

    #[test]
    fn timestamps_print_and_read_rfc3339_and_read_millis() {
        let t = Timestamp::from_millis(1_764_072_300_000);
        assert_eq!(t.to_string(), "2025-11-25T12:05:00.000Z");
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"2025-11-25T12:05:00.000Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>("\"2025-11-25T13:05:00+01:00\"").unwrap(), t);
        assert_eq!(serde_json::from_str::<Timestamp>("1764072300000").unwrap(), t);
        assert_eq!(Timestamp::from_millis(1_999).whole_seconds(), Timestamp::from_millis(1_000));
    }

    #[test]
    fn durations_read_in_their_two_largest_units() {
        assert_eq!(human_duration(Duration::from_secs(23 * 60 + 20)), "23m 20s");
        assert_eq!(human_duration(Duration::from_secs(115)), "1m 55s");
        assert_eq!(human_duration(Duration::from_secs(2 * 3600 + 3 * 60 + 10)), "2h 3m");
        assert_eq!(human_duration(Duration::from_secs(3 * 86_400 + 3600)), "3days 1h");
        assert_eq!(human_duration(Duration::from_secs(7200)), "2h");
        assert_eq!(human_duration(Duration::from_secs(3900)), "1h 5m");
        assert_eq!(human_duration(Duration::from_secs(30)), "30s");
    }
}
