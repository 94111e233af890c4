//! Vendor lag: how long a partner's own status page takes to admit an outage we already saw.
//!
//! For one of our incidents, opened at our first confirmed failure `T` and open until `U`: the
//! page *admits* the outage at the first poll, at or after `T` and no later than `U`, after which
//! its indicator reads `minor`, `major` or `critical` (a status event of that poll); when the page
//! already said so at `T`, the lag is 0. An incident the page never admitted has no lag (it is
//! counted apart: the partner stayed silent). Resolution: the status page poll interval.
//! Pure functions; `partner` reads the events.

use std::time::Duration;

use serde::Serialize;

use crate::model::{Indicator, Timestamp};

/// Whether `indicator` admits an outage.
pub fn admits(indicator: Indicator) -> bool {
    matches!(indicator, Indicator::Minor | Indicator::Major | Indicator::Critical)
}

/// One incident's lag, given whether the page showed an outage at `opened` and the times of the
/// polls after which it did (any order).
pub fn lag(opened: Timestamp, until: Timestamp, already: bool, admissions: &[Timestamp]) -> Option<Duration> {
    if already {
        return Some(Duration::ZERO);
    }
    admissions.iter().filter(|a| **a >= opened && **a <= until).min().map(|a| a.since(opened))
}

/// The lags of a partner's incidents over a window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// The median lag in whole minutes, over the incidents the page admitted.
    pub median_minutes: Option<u64>,
    /// Incidents the page admitted.
    pub admitted: usize,
    /// Incidents it never admitted.
    pub silent: usize,
}

/// The summary of `lags` (one per incident; `None`: never admitted).
pub fn summary(lags: &[Option<Duration>]) -> Summary {
    let mut minutes: Vec<u64> = lags.iter().flatten().map(|d| d.as_secs() / 60).collect();
    minutes.sort_unstable();
    let median = match minutes.len() {
        0 => None,
        n if n % 2 == 1 => Some(minutes[n / 2]),
        n => Some((minutes[n / 2 - 1] + minutes[n / 2]) / 2),
    };
    Summary { median_minutes: median, admitted: minutes.len(), silent: lags.iter().filter(|l| l.is_none()).count() }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_791_374_400_000;
    const MIN: i64 = 60_000;

    fn at(minutes: i64) -> Timestamp {
        Timestamp::from_millis(T + minutes * MIN)
    }

    #[test]
    fn our_failure_at_t_and_the_page_admitting_it_at_t_plus_17_minutes_is_a_17_minute_lag() {
        let lag = lag(at(0), at(60), false, &[at(-300), at(17), at(25)]);
        assert_eq!(lag, Some(Duration::from_secs(17 * 60)), "the earlier outage and the later polls do not count");
    }

    #[test]
    fn a_page_that_said_so_first_has_no_lag_and_a_silent_one_none() {
        assert_eq!(lag(at(0), at(60), true, &[]), Some(Duration::ZERO));
        assert_eq!(lag(at(0), at(60), false, &[at(61)]), None, "admitted after we recovered: not this outage");
    }

    #[test]
    fn the_median_is_over_the_admitted_incidents() {
        let m = |n: u64| Some(Duration::from_secs(n * 60));
        assert_eq!(summary(&[m(17), None, m(5), m(40)]), Summary { median_minutes: Some(17), admitted: 3, silent: 1 });
        assert_eq!(summary(&[m(10), m(20)]).median_minutes, Some(15));
        assert_eq!(summary(&[None]).median_minutes, None);
    }

    #[test]
    fn only_an_outage_indicator_admits() {
        assert!(admits(Indicator::Major) && admits(Indicator::Minor) && admits(Indicator::Critical));
        assert!(!admits(Indicator::None) && !admits(Indicator::Maintenance) && !admits(Indicator::Unknown));
    }
}
