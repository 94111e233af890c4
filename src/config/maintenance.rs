//! `[[maintenance]]` in `sparky.toml`: planned windows of our own side during which a partner's
//! (or one check's) pages and public status updates are held, like a `sparky silence add`
//! written down in advance.
//!
//! ```toml
//! [[maintenance]]
//! name = "db-upgrade"               # optional, default "maintenance": "silenced by NAME"
//! partner = "okta"                  # or check = "okta-users" (exactly one)
//! reason = "database upgrade"
//! start = "2026-12-02T05:00:00Z"    # RFC 3339, with end; or:
//! end = "2026-12-02T07:00:00Z"
//! # cron = "0 5 * * SUN"            # 5 or 6 fields (seconds first), UTC, as in [schedules]
//! # duration = "2h"                 # how long each window lasts
//! ```
//!
//! The table is read as written ([`MaintenanceTable`]) and turned, with the partners and checks
//! known, into a [`MaintenanceWindow`]; each mistake is a `sparky.toml: maintenance[N].KEY:
//! reason` problem.

use std::path::Path;

use serde::Deserialize;

use super::check::CheckConfig;
use super::load::Problem;
use super::partner::Partner;
use super::types::{Cron, Duration};
use crate::model::{CheckId, PartnerId, SilenceTarget, Timestamp};

/// One `[[maintenance]]` table as written (see the module doc); checked into a
/// [`MaintenanceWindow`] by the loader.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceTable {
    /// Who holds the pages, in messages ("silenced by NAME"). Default `maintenance`.
    pub name: Option<String>,
    /// The partner it covers.
    pub partner: Option<PartnerId>,
    /// Or the one check it covers.
    pub check: Option<CheckId>,
    /// Why, in words.
    pub reason: String,
    /// Start (RFC 3339, a string or a TOML date-time), with `end`.
    pub start: Option<toml::Value>,
    /// End (RFC 3339), after `start`.
    pub end: Option<toml::Value>,
    /// Or a cron schedule of the window's starts (UTC), with `duration`.
    pub cron: Option<Cron>,
    /// How long each window of `cron` lasts.
    pub duration: Option<Duration>,
}

/// When a window is in force.
#[derive(Debug, Clone)]
pub enum WindowSchedule {
    /// Once, from `start` (inclusive) to `end` (exclusive).
    Once {
        /// Start.
        start: Timestamp,
        /// End, after `start`.
        end: Timestamp,
    },
    /// From every fire time of `cron` for `duration`.
    Cron {
        /// The starts (UTC); boxed, a parsed schedule is large.
        cron: Box<Cron>,
        /// The length of each window, more than zero.
        duration: std::time::Duration,
    },
}

/// A `[[maintenance]]` window, checked: its target exists, its schedule is whole.
#[derive(Debug, Clone)]
pub struct MaintenanceWindow {
    /// Its name ("silenced by NAME").
    pub name: String,
    /// What it covers.
    pub target: SilenceTarget,
    /// Why.
    pub reason: String,
    /// When.
    pub schedule: WindowSchedule,
}

impl MaintenanceWindow {
    /// `Some((start, end))` of the window in force at `now` (start inclusive, end exclusive);
    /// for a cron window, the latest fire time at or before `now` (searched back a year) when
    /// `now` is within `duration` of it.
    pub fn in_force(&self, now: Timestamp) -> Option<(Timestamp, Timestamp)> {
        match &self.schedule {
            WindowSchedule::Once { start, end } => (*start <= now && now < *end).then_some((*start, *end)),
            WindowSchedule::Cron { cron, duration } => {
                let fired = cron.previous(now)?;
                let end = fired + *duration;
                (now < end).then_some((fired, end))
            }
        }
    }
}

/// The windows of `tables` (from `file`), problems pushed for each mistake: a target missing,
/// doubled or unknown, a schedule that is neither `start` + `end` nor `cron` + `duration`.
pub(super) fn windows(
    tables: &[MaintenanceTable],
    partners: &[Partner],
    checks: &[CheckConfig],
    file: &Path,
    problems: &mut Vec<Problem>,
) -> Vec<MaintenanceWindow> {
    tables
        .iter()
        .enumerate()
        .filter_map(|(i, table)| {
            let mut problem = |key: &str, reason: String| problems.push(Problem::new(file, format!("maintenance[{i}].{key}"), reason));
            window(table, partners, checks, &mut problem)
        })
        .collect()
}

fn window(
    t: &MaintenanceTable,
    partners: &[Partner],
    checks: &[CheckConfig],
    problem: &mut impl FnMut(&str, String),
) -> Option<MaintenanceWindow> {
    let name = t.name.as_deref().map_or("maintenance", str::trim).to_owned();
    let mut ok = true;
    if name.is_empty() {
        problem("name", "must not be empty (leave it out for \"maintenance\")".to_owned());
        ok = false;
    }
    if t.reason.trim().is_empty() {
        problem("reason", "must say why (it is shown in Slack and Jira)".to_owned());
        ok = false;
    }
    let target = match (&t.partner, &t.check) {
        (Some(_), Some(_)) => {
            problem("check", "set `partner` or `check`, not both".to_owned());
            None
        }
        (None, None) => {
            problem("partner", "a window needs `partner = \"ID\"` or `check = \"ID\"`".to_owned());
            None
        }
        (Some(p), None) if !partners.iter().any(|known| &known.id == p) => {
            problem("partner", format!("no partner `{p}` in partners/"));
            None
        }
        (None, Some(c)) if !checks.iter().any(|known| &known.id == c) => {
            problem("check", format!("no check `{c}` in synthetics/"));
            None
        }
        (Some(p), None) => Some(SilenceTarget::Partner(p.clone())),
        (None, Some(c)) => Some(SilenceTarget::Check(c.clone())),
    };
    let schedule = schedule(t, problem);
    Some(MaintenanceWindow { name, target: target?, reason: t.reason.trim().to_owned(), schedule: schedule? }).filter(|_| ok)
}

fn schedule(t: &MaintenanceTable, problem: &mut impl FnMut(&str, String)) -> Option<WindowSchedule> {
    if let Some(cron) = &t.cron {
        if t.start.is_some() || t.end.is_some() {
            let key = if t.start.is_some() { "start" } else { "end" };
            problem(key, "a window has either `start` and `end`, or `cron` and `duration`, not both".to_owned());
            return None;
        }
        return match t.duration {
            None => {
                problem("duration", "a cron window needs a duration, e.g. \"2h\"".to_owned());
                None
            }
            Some(d) if d.get().is_zero() => {
                problem("duration", "must be more than zero".to_owned());
                None
            }
            Some(d) => Some(WindowSchedule::Cron { cron: Box::new(cron.clone()), duration: d.get() }),
        };
    }
    if t.duration.is_some() {
        problem("duration", "only a cron window has a duration; a start-end window has `start` and `end`".to_owned());
        return None;
    }
    let (start, end) = match (&t.start, &t.end) {
        (Some(start), Some(end)) => (time(start, "start", problem)?, time(end, "end", problem)?),
        (None, _) => {
            problem("start", "a window needs `start` and `end` (RFC 3339), or `cron` and `duration`".to_owned());
            return None;
        }
        (Some(_), None) => {
            problem("end", "a window with a `start` needs an `end` (RFC 3339)".to_owned());
            return None;
        }
    };
    if end <= start {
        problem("end", format!("must be after start ({})", start.to_rfc3339_seconds()));
        return None;
    }
    Some(WindowSchedule::Once { start, end })
}

/// An RFC 3339 time written as a string or as a TOML date-time (which then needs an offset).
fn time(value: &toml::Value, key: &str, problem: &mut impl FnMut(&str, String)) -> Option<Timestamp> {
    let text = match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Datetime(d) => d.to_string(),
        other => {
            problem(key, format!("expected an RFC 3339 time like \"2026-12-02T05:00:00Z\", found a {}", other.type_str()));
            return None;
        }
    };
    match Timestamp::parse_rfc3339(&text) {
        Ok(t) => Some(t),
        Err(e) => {
            problem(key, format!("`{text}` is not an RFC 3339 time with an offset, like \"2026-12-02T05:00:00Z\": {e}"));
            None
        }
    }
}

#[cfg(test)]
mod tests;
