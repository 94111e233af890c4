//! What the dashboard's pages share: times for people, safe links, and the check timeline
//! (outcome cells and latency lines, drawn by the templates as inline SVG).

use std::time::Duration;

use serde::Serialize;

use crate::model::{Outcome, Timestamp, human_duration};
use crate::store::synthetics::Sample;

/// A time as the pages show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct When {
    /// RFC 3339 (for `<time datetime>` and the JSON).
    pub iso: String,
    /// `2026-12-02 16:50 UTC`.
    pub text: String,
    /// `5m ago` (or `in 5m`).
    pub ago: String,
}

/// `at` for people, relative to `now`.
pub fn when(at: Timestamp, now: Timestamp) -> When {
    let ago = if at <= now { format!("{} ago", human_duration(now.since(at))) } else { format!("in {}", human_duration(at.since(now))) };
    When { iso: at.to_rfc3339_seconds(), text: at.to_datetime().format("%Y-%m-%d %H:%M UTC").to_string(), ago }
}

/// `link` when it is an `http` or `https` URL (a partner's feed may hold `javascript:`).
pub fn safe_link(link: Option<&str>) -> Option<String> {
    let url = url::Url::parse(link?).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| url.to_string())
}

/// The share of `samples` that passed or warned, in percent with one decimal (`None` without
/// samples).
pub fn success_ratio(samples: &[Sample]) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let ok = samples.iter().filter(|s| s.outcome != Outcome::Fail).count();
    Some((ok as f64 * 1000.0 / samples.len() as f64).round() / 10.0)
}

/// The `q` quantile (0..=1) of `values` by nearest rank.
pub fn quantile(values: &mut [i64], q: f64) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    Some(values[rank - 1])
}

/// A check's results over a window cut into equal buckets: the worst outcome of each bucket
/// (`None`: no result), and the p50 / p95 latency lines as SVG polyline points in a
/// `width` x `height` box (latency 0 at the bottom, `max_ms` at the top).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timeline {
    /// Per bucket, oldest first.
    pub cells: Vec<Option<Outcome>>,
    /// `x,y x,y ...` of the p50 per bucket that has results.
    pub p50: String,
    /// Likewise the p95.
    pub p95: String,
    /// The p95 points as `(x, y)`, for dots (a lone point draws no line).
    pub dots: Vec<(f64, f64)>,
    /// The top of the latency scale, ms.
    pub max_ms: i64,
    /// Box width.
    pub width: u32,
    /// Box height.
    pub height: u32,
}

impl Timeline {
    /// `samples` (oldest first) from `start` over `buckets` buckets of `bucket` each.
    pub fn new(samples: &[Sample], start: Timestamp, bucket: Duration, buckets: usize, (width, height): (u32, u32)) -> Self {
        let mut outcomes: Vec<Option<Outcome>> = vec![None; buckets];
        let mut durations: Vec<Vec<i64>> = vec![Vec::new(); buckets];
        let span = i64::try_from(bucket.as_millis()).unwrap_or(i64::MAX).max(1);
        for s in samples {
            let Ok(i) = usize::try_from((s.at.as_millis() - start.as_millis()) / span) else { continue };
            if i >= buckets {
                continue;
            }
            outcomes[i] = Some(outcomes[i].map_or(s.outcome, |o| o.max(s.outcome)));
            durations[i].push(s.duration_ms);
        }
        let mut p50 = Vec::new();
        let mut p95 = Vec::new();
        for (i, d) in durations.iter_mut().enumerate() {
            if let (Some(a), Some(b)) = (quantile(d, 0.5), quantile(d, 0.95)) {
                p50.push((i, a));
                p95.push((i, b));
            }
        }
        let max_ms = p95.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
        let step = f64::from(width) / buckets.max(1) as f64;
        let xy = |(i, v): &(usize, i64)| {
            let round = |f: f64| (f * 10.0).round() / 10.0;
            (round((*i as f64 + 0.5) * step), round(f64::from(height) * (1.0 - *v as f64 / max_ms as f64)))
        };
        let points = |line: &[(usize, i64)]| line.iter().map(&xy).map(|(x, y)| format!("{x:.1},{y:.1}")).collect::<Vec<_>>().join(" ");
        Self { p50: points(&p50), p95: points(&p95), dots: p95.iter().map(xy).collect(), cells: outcomes, max_ms, width, height }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at: i64, ms: i64, outcome: Outcome) -> Sample {
        Sample { at: Timestamp::from_millis(at), duration_ms: ms, outcome }
    }

    #[test]
    fn only_web_links_are_kept() {
        assert_eq!(safe_link(Some("https://acme.test/a?b=1")).as_deref(), Some("https://acme.test/a?b=1"));
        assert_eq!(safe_link(Some("javascript:alert(1)")), None);
        assert_eq!(safe_link(Some("data:text/html,x")), None);
        assert_eq!(safe_link(Some("not a url")), None);
    }

    #[test]
    fn a_timeline_keeps_the_worst_outcome_of_each_bucket_and_its_latency_quantiles() {
        let samples = [
            sample(0, 100, Outcome::Pass),
            sample(10, 300, Outcome::Fail),
            sample(1_000, 50, Outcome::Warn),
            sample(5_000, 9, Outcome::Pass),
        ];
        let t = Timeline::new(&samples, Timestamp::EPOCH, Duration::from_secs(1), 3, (30, 10));
        assert_eq!(t.cells, [Some(Outcome::Fail), Some(Outcome::Warn), None], "the sample past the window is left out");
        assert_eq!(t.max_ms, 300);
        assert_eq!(t.p95, "5.0,0.0 15.0,8.3");
        assert_eq!(t.p50, "5.0,6.7 15.0,8.3");
        assert_eq!(t.dots, [(5.0, 0.0), (15.0, 8.3)]);
    }

    #[test]
    fn ratio_and_quantiles() {
        assert_eq!(success_ratio(&[sample(0, 1, Outcome::Pass), sample(0, 1, Outcome::Warn), sample(0, 1, Outcome::Fail)]), Some(66.7));
        assert_eq!(success_ratio(&[]), None);
        assert_eq!(quantile(&mut [5, 1, 3, 2, 4], 0.95), Some(5));
        assert_eq!(quantile(&mut [5, 1, 3, 2, 4], 0.5), Some(3));
    }
}
