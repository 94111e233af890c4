//! The built-in page's history, from our own public incidents (`public_incidents`): per
//! component (partner) 90 daily bars and the uptime over those 90 days, and the incidents
//! resolved in the last 14 days with their updates; the same incidents as the Atom feed
//! `/status/history.atom`.
//!
//! A component is down while an incident that lists it is open (from its creation to its
//! `resolved` update); a day's bar shows the worst impact of those incidents that day; uptime
//! is the share of the 90 days (up to now) not covered by one, in percent with two decimals.

use std::time::Duration;

use serde::Serialize;

use crate::model::statuspage::IncidentStatus;
use crate::model::{Indicator, Timestamp};
use crate::store::public_status::IncidentRow;

/// Days of bars.
pub const DAYS: usize = 90;
/// Days of past incidents shown.
pub const PAST_DAYS: u64 = 14;
const DAY_MS: i64 = 24 * 3600 * 1000;

/// One component's bars.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Uptime {
    /// The partner's name.
    pub name: String,
    /// Not covered by an incident, percent.
    pub percent: f64,
    /// Oldest first, the last one today.
    pub days: Vec<Day>,
}

/// One day of a component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Day {
    /// `2026-11-30`.
    pub date: String,
    /// The worst impact of an incident that day (`None`: none).
    pub impact: Option<Indicator>,
}

/// When incident `row` ended (its `resolved` update), `None` while open.
pub fn resolved_at(row: &IncidentRow) -> Option<Timestamp> {
    if row.status != IncidentStatus::Resolved {
        return None;
    }
    Some(row.updates.iter().rev().find(|u| u.status == IncidentStatus::Resolved).map_or(row.updated_at, |u| u.at))
}

/// `partner`'s (named `name`) bars over the [`DAYS`] days up to `now`, from `incidents`.
pub fn uptime(partner: &str, name: &str, incidents: &[IncidentRow], now: Timestamp) -> Uptime {
    let today = now.as_millis() - now.as_millis().rem_euclid(DAY_MS);
    let first = today - (DAYS as i64 - 1) * DAY_MS;
    let mut spans: Vec<(i64, i64, Indicator)> = incidents
        .iter()
        .filter(|i| i.components.iter().any(|c| c.partner == partner))
        .map(|i| (i.created_at.as_millis().max(first), resolved_at(i).unwrap_or(now).as_millis().min(now.as_millis()), i.impact))
        .filter(|(from, to, _)| to > from)
        .collect();
    spans.sort_by_key(|s| s.0);
    let days = (0..DAYS as i64)
        .map(|d| {
            let (from, to) = (first + d * DAY_MS, first + (d + 1) * DAY_MS);
            let impact = spans.iter().filter(|s| s.0 < to && s.1 > from).map(|s| s.2).max_by_key(|i| i.as_component_status());
            Day { date: Timestamp::from_millis(from).to_datetime().format("%Y-%m-%d").to_string(), impact }
        })
        .collect();
    let window = (now.as_millis() - first).max(1);
    Uptime { name: name.to_owned(), percent: percent(window - covered(&spans), window), days }
}

/// Milliseconds covered by the union of `spans` (sorted by start).
fn covered(spans: &[(i64, i64, Indicator)]) -> i64 {
    let mut total = 0;
    let mut end = i64::MIN;
    for &(from, to, _) in spans {
        let from = from.max(end);
        if to > from {
            total += to - from;
        }
        end = end.max(to);
    }
    total
}

fn percent(part: i64, whole: i64) -> f64 {
    (part as f64 * 10_000.0 / whole as f64).round() / 100.0
}

/// The incidents resolved within [`PAST_DAYS`] before `now`, newest first.
pub fn past(incidents: &[IncidentRow], now: Timestamp) -> Vec<&IncidentRow> {
    let since = now - Duration::from_secs(PAST_DAYS * 24 * 3600);
    incidents.iter().filter(|i| resolved_at(i).is_some_and(|t| t >= since)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ComponentStatus;
    use crate::store::public_status::{Affected, Update};

    const NOW: i64 = 1_764_000_000_000 - 1_764_000_000_000 % DAY_MS + 12 * 3600 * 1000; // noon

    fn incident(key: &str, from: i64, to: Option<i64>, impact: Indicator) -> IncidentRow {
        let mut updates = vec![Update { status: IncidentStatus::Identified, body: "b".into(), at: Timestamp::from_millis(from) }];
        if let Some(to) = to {
            updates.push(Update { status: IncidentStatus::Resolved, body: "r".into(), at: Timestamp::from_millis(to) });
        }
        IncidentRow {
            key: key.into(),
            name: key.into(),
            status: if to.is_some() { IncidentStatus::Resolved } else { IncidentStatus::Identified },
            impact,
            components: vec![Affected { partner: "acme".into(), name: "Acme".into(), status: ComponentStatus::MajorOutage }],
            updates,
            created_at: Timestamp::from_millis(from),
            updated_at: Timestamp::from_millis(to.unwrap_or(from)),
        }
    }

    #[test]
    fn bars_show_the_worst_impact_of_each_day_and_uptime_the_union_of_outages() {
        let hour = 3600 * 1000;
        let all = [
            // Yesterday 10:00-12:00 major, overlapping 11:00-13:00 minor: 3 h down.
            incident("a", NOW - DAY_MS - 2 * hour, Some(NOW - DAY_MS), Indicator::Major),
            incident("b", NOW - DAY_MS - hour, Some(NOW - DAY_MS + hour), Indicator::Minor),
            // Today, still open since 11:00.
            incident("c", NOW - hour, None, Indicator::Critical),
        ];
        let u = uptime("acme", "Acme", &all, Timestamp::from_millis(NOW));
        assert_eq!(u.days.len(), DAYS);
        assert_eq!(u.days[DAYS - 1].impact, Some(Indicator::Critical));
        assert_eq!(u.days[DAYS - 2].impact, Some(Indicator::Major));
        assert_eq!(u.days[DAYS - 3].impact, None);
        let window = (DAYS as i64 - 1) * DAY_MS + 12 * hour;
        assert_eq!(u.percent, percent(window - 4 * hour, window), "3 h yesterday and 1 h today");
        assert_eq!(uptime("other", "Other", &all, Timestamp::from_millis(NOW)).percent, 100.0);
        assert_eq!(past(&all, Timestamp::from_millis(NOW)).len(), 2, "the open one is not past");
    }
}
