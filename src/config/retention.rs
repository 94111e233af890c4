//! `[retention]` of `sparky.toml`: how long each kind of history is kept before the daily
//! retention run (`sparky run`, and the first `sparky once ...` of each day) deletes it.
//!
//! What a row must outlive is kept apart, compact: the idempotency keys of pruned actions
//! (`outbox_keys`) and the identities of pruned changelog entries (`changelog_marks`), so a
//! notice or an entry that re-appears after its row is gone is still never posted twice.

use std::path::Path;

use serde::Deserialize;

use super::check::{Assertion, CheckConfig};
use super::load::Problem;
use super::types::Duration;

const DAY: u64 = 24 * 3600;

/// `[retention]`: every key is a duration (`"30d"`, `"8d"`, `"1y"`, humantime syntax), the age
/// past which a row is deleted.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Outbox actions that are done (`delivered`, `printed`), by the time they were done; their
    /// idempotency keys stay in `outbox_keys`. Pending, retrying, blocked and dead actions are
    /// never pruned. Default 30 d.
    pub delivered_actions: Duration,
    /// Status snapshots (the latest one of each partner, and the one in force at the horizon,
    /// are always kept) and status events already noticed. Default 90 d.
    pub status_history: Duration,
    /// Synthetic check results. Default 8 d (`sparky check` reports 7 d).
    pub check_results: Duration,
    /// Check state changes already triaged. Default 400 d.
    pub check_events: Duration,
    /// Resolved incidents, by the time they were resolved, with their history, checks, remote
    /// ids and public incident (an incident with actions still in the outbox is kept). Open
    /// incidents are never pruned. Default 400 d.
    pub incident_history: Duration,
    /// Changelog entries, by the time they were first seen, once posted or never to be posted;
    /// their identities stay in `changelog_marks`. Entries awaiting a digest are never pruned.
    /// Default 400 d.
    pub changelog_entries: Duration,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            delivered_actions: Duration::from_secs(30 * DAY),
            status_history: Duration::from_secs(90 * DAY),
            check_results: Duration::from_secs(8 * DAY),
            check_events: Duration::from_secs(400 * DAY),
            incident_history: Duration::from_secs(400 * DAY),
            changelog_entries: Duration::from_secs(400 * DAY),
        }
    }
}

impl RetentionConfig {
    /// Every key with its name, in file order.
    pub fn keys(&self) -> [(&'static str, Duration); 6] {
        [
            ("delivered_actions", self.delivered_actions),
            ("status_history", self.status_history),
            ("check_results", self.check_results),
            ("check_events", self.check_events),
            ("incident_history", self.incident_history),
            ("changelog_entries", self.changelog_entries),
        ]
    }

    /// Bounds no type expresses: each retention at least a day (retention runs daily; a
    /// shorter one would empty its table every day), pushed as `retention.KEY` problems of
    /// `file`.
    pub fn check(&self, file: &Path, problems: &mut Vec<Problem>) {
        for (key, value) in self.keys() {
            if value.get() < std::time::Duration::from_secs(DAY) {
                problems.push(Problem::new(file, format!("retention.{key}"), format!("{value} is shorter than a day; write e.g. \"30d\"")));
            }
        }
    }

    /// A check whose `latency_p95` window reaches further back than `check_results` would read
    /// a window partly pruned: pushed as a problem of the check's file.
    pub fn check_windows(&self, check: &CheckConfig, file: &Path, problems: &mut Vec<Problem>) {
        for (i, assertion) in check.assertions.iter().enumerate() {
            if let Assertion::LatencyP95 { window, .. } = assertion
                && *window > self.check_results
            {
                problems.push(Problem::new(
                    file,
                    format!("assert[{i}].latency_p95.window"),
                    format!(
                        "{window} reaches past [retention] check_results ({}) of sparky.toml: older results are pruned",
                        self.check_results
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_toml;

    fn parse(text: &str) -> (Option<crate::config::GlobalConfig>, Vec<String>) {
        let mut problems = Vec::new();
        let parsed: Option<crate::config::GlobalConfig> = parse_toml(text, Path::new("sparky.toml"), &|_| None, &mut problems);
        if let Some(global) = &parsed {
            global.check(Path::new("sparky.toml"), &mut problems);
        }
        (parsed, problems.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn defaults_hold_without_the_table_and_keys_read_as_durations() {
        let (global, problems) = parse("");
        assert!(problems.is_empty(), "{problems:?}");
        let r = global.unwrap().retention;
        assert_eq!(r.delivered_actions.get().as_secs(), 30 * DAY);
        assert_eq!(r.status_history.get().as_secs(), 90 * DAY);
        assert_eq!(r.check_results.get().as_secs(), 8 * DAY);
        assert_eq!(r.check_events.get().as_secs(), 400 * DAY);
        assert_eq!(r.incident_history.get().as_secs(), 400 * DAY);
        assert_eq!(r.changelog_entries.get().as_secs(), 400 * DAY);

        let (global, problems) = parse("[retention]\ndelivered_actions = \"7d\"\nchangelog_entries = \"2y\"\n");
        assert!(problems.is_empty(), "{problems:?}");
        let r = global.unwrap().retention;
        assert_eq!(r.delivered_actions.get().as_secs(), 7 * DAY);
        assert!(r.changelog_entries.get().as_secs() > 700 * DAY);
        assert_eq!(r.status_history, RetentionConfig::default().status_history, "other keys keep their default");
    }

    #[test]
    fn unknown_keys_bad_values_and_short_retentions_are_problems() {
        let (_, problems) = parse("[retention]\ndelivered = \"7d\"\ncheck_results = \"a week\"\nstatus_history = \"2h\"\n");
        assert!(problems.iter().any(|p| p.starts_with("sparky.toml: retention.delivered: unknown key")), "{problems:?}");
        assert!(problems.iter().any(|p| p.starts_with("sparky.toml: retention.check_results: `a week` is not a duration")), "{problems:?}");
        assert!(problems.iter().any(|p| p.starts_with("sparky.toml: retention.status_history: 2h is shorter than a day")), "{problems:?}");
    }
}
