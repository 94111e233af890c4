//! Silences of our own side: a partner or a check whose pages and public status updates are held
//! for a while (`sparky silence add`, `[[maintenance]]` windows). A silenced check still runs and
//! its incidents still open; only what reaches on-call and customers waits.

use serde::Serialize;

use super::{CheckId, PartnerId, Timestamp};

/// What a silence (or a maintenance window) covers: a whole partner, or one check.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SilenceTarget {
    /// Every check of the partner.
    Partner(PartnerId),
    /// One check.
    Check(CheckId),
}

impl SilenceTarget {
    /// True when the target covers `check` of `partner`.
    pub fn covers(&self, partner: &PartnerId, check: &CheckId) -> bool {
        match self {
            Self::Partner(p) => p == partner,
            Self::Check(c) => c == check,
        }
    }
}

impl std::fmt::Display for SilenceTarget {
    /// `partner=acme` or `check=acme-api`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Partner(p) => write!(f, "partner={p}"),
            Self::Check(c) => write!(f, "check={c}"),
        }
    }
}

vocabulary! {
    /// Where a silence is at a given time (computed, not stored).
    pub enum SilenceState {
        /// It starts later.
        Scheduled,
        /// In force.
        Active,
        /// Its end time passed.
        Expired,
        /// Ended early by `sparky silence end`.
        Ended,
    }
}

/// A silence as stored (`silences`); times are the one clock's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Silence {
    /// Row id (what `sparky silence end ID` takes).
    pub id: i64,
    /// What it covers: serialized as `"partner": "acme"` or `"check": "acme-api"`.
    #[serde(flatten)]
    pub target: SilenceTarget,
    /// In force from (inclusive).
    pub starts_at: Timestamp,
    /// In force until (exclusive), as planned.
    pub ends_at: Timestamp,
    /// Why, in words (shown in Slack and Jira).
    pub reason: String,
    /// Who added it (`--by`, `$USER`, else `sparky`).
    pub created_by: String,
    /// When it was added.
    pub created_at: Timestamp,
    /// When `sparky silence end` ended it, if it did.
    pub ended_at: Option<Timestamp>,
}

impl Silence {
    /// When it stops being in force: its end, or when it was ended, whichever is first.
    pub fn until(&self) -> Timestamp {
        self.ended_at.map_or(self.ends_at, |ended| ended.min(self.ends_at))
    }

    /// In force at `now`: started, not past its end, not ended.
    pub fn in_force(&self, now: Timestamp) -> bool {
        self.starts_at <= now && now < self.until()
    }

    /// Its state at `now`.
    pub fn state(&self, now: Timestamp) -> SilenceState {
        if self.ended_at.is_some_and(|ended| ended < self.ends_at && ended <= now) {
            SilenceState::Ended
        } else if now >= self.ends_at {
            SilenceState::Expired
        } else if now < self.starts_at {
            SilenceState::Scheduled
        } else {
            SilenceState::Active
        }
    }
}

/// What an incident has held back while silenced (`incidents.page_held`, `public_held`): owed
/// once when the silence ends with the incident still open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Held {
    /// The PagerDuty trigger.
    pub page: bool,
    /// Our public status page's component and incident.
    pub public: bool,
}

impl Held {
    /// Something is held.
    pub fn any(self) -> bool {
        self.page || self.public
    }

    /// In words: `page held`, `public status update held`.
    pub fn describe(self) -> &'static str {
        match (self.page, self.public) {
            (true, true) => "page and public status update held",
            (true, false) => "page held",
            (false, true) => "public status update held",
            (false, false) => "nothing held",
        }
    }
}

#[cfg(test)]
mod tests;
