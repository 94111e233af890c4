//! What a fresh reading of a partner's page does to its open incident (DESIGN.md "unknown is
//! not evidence"). Pure: the incident as stored, the verdict of the reading, the setting and the
//! time in; the next step out.
//!
//! - An unreadable page never changes the cause: the first unreadable reading is announced to
//!   Jira and Slack ("partner status unknown since T"), later ones change nothing.
//! - A change that stops paging (internal -> external) acts on the first readable reading.
//! - A change that would page on-call (external -> internal) needs the partner's recovered status
//!   on `needed` readable readings in a row; unreadable readings in between neither count nor
//!   break the run (they are no evidence either way).

use super::cause::Verdict;
use crate::model::{Cause, Incident, Timestamp};

/// The next step for an open incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Nothing to do or say.
    Keep,
    /// The page just turned unreadable: keep the cause, tell Jira and Slack since when.
    Unknown {
        /// Since when (the reading's time).
        since: Timestamp,
    },
    /// A readable reading says the partner recovered; the change to internal waits.
    Hold {
        /// Such readings in a row so far.
        polls: u32,
        /// How many the change needs.
        needed: u32,
    },
    /// Apply the verdict's cause (after checking our own egress).
    Change,
}

impl std::fmt::Display for Step {
    /// For logs: `kept`, `status unknown since T`, `held (1 of 2 readable polls)`, `changed`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Keep => f.write_str("kept"),
            Self::Unknown { since } => write!(f, "status unknown since {since}"),
            Self::Hold { polls, needed } => write!(f, "held ({polls} of {needed} readable polls)"),
            Self::Change => f.write_str("changed"),
        }
    }
}

/// The step, and the incident's counters after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Next {
    /// What to do.
    pub step: Step,
    /// `status_unknown_since` after the step.
    pub unknown_since: Option<Timestamp>,
    /// `recovered_polls` after the step.
    pub recovered_polls: u32,
    /// The page was unreadable before this readable reading (Jira hears it can be read again,
    /// whatever the step).
    pub readable_again: bool,
}

/// The step `verdict` (read at `now`) asks of `incident`; `needed`: readable readings in a row
/// before external turns internal (at least 1).
pub fn next(incident: &Incident, verdict: &Verdict, needed: u32, now: Timestamp) -> Next {
    let polls = incident.recovered_polls;
    if !verdict.readable() {
        let step = if incident.status_unknown_since.is_some() { Step::Keep } else { Step::Unknown { since: now } };
        return Next { step, unknown_since: incident.status_unknown_since.or(Some(now)), recovered_polls: polls, readable_again: false };
    }
    let readable_again = incident.status_unknown_since.is_some();
    let settled = |step| Next { step, unknown_since: None, recovered_polls: 0, readable_again };
    if verdict.cause == incident.cause {
        return settled(Step::Keep);
    }
    if verdict.cause == Cause::External {
        return settled(Step::Change);
    }
    let polls = polls + 1;
    let needed = needed.max(1);
    if polls >= needed {
        return settled(Step::Change);
    }
    Next { step: Step::Hold { polls, needed }, unknown_since: None, recovered_polls: polls, readable_again }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Indicator, PartnerId, PartnerStatus, Priority};
    use crate::triage::cause::decide;

    fn incident(cause: Cause) -> Incident {
        Incident {
            id: 1,
            partner: "acme".parse::<PartnerId>().unwrap(),
            cause,
            cause_reason: String::new(),
            priority: Priority::P4,
            dedup_key: "acme-api".into(),
            paged: cause == Cause::Internal,
            published: cause == Cause::External,
            held: Default::default(),
            generation: 0,
            status_unknown_since: None,
            recovered_polls: 0,
            opened_at: Timestamp::EPOCH,
            checks: vec![],
        }
    }

    fn page(indicator: Indicator) -> Verdict {
        let p = PartnerStatus { indicator, description: None, components: vec![], incidents: vec![], maintenances: vec![], error: None };
        decide("Acme", Some(&p), &[])
    }

    fn unreadable() -> Verdict {
        decide("Acme", Some(&PartnerStatus::unreadable("HTTP 500")), &[])
    }

    /// Feeds `readings` to an incident of `cause`, applying each step as the worker does; the
    /// steps taken.
    fn run(cause: Cause, readings: &[Verdict]) -> Vec<Step> {
        let mut i = incident(cause);
        let mut steps = Vec::new();
        for (n, v) in readings.iter().enumerate() {
            let next = next(&i, v, 2, Timestamp::from_millis(i64::try_from(n).unwrap() * 1000));
            (i.status_unknown_since, i.recovered_polls) = (next.unknown_since, next.recovered_polls);
            if next.step == Step::Change {
                i.cause = v.cause;
            }
            steps.push(next.step);
        }
        steps
    }

    #[test]
    fn unknown_never_changes_the_cause_and_is_announced_once() {
        let steps = run(Cause::External, &[unreadable(), unreadable(), unreadable(), page(Indicator::Major)]);
        assert_eq!(steps, vec![Step::Unknown { since: Timestamp::EPOCH }, Step::Keep, Step::Keep, Step::Keep]);
    }

    #[test]
    fn the_first_readable_poll_after_unknown_says_so() {
        let mut i = incident(Cause::External);
        i.status_unknown_since = Some(Timestamp::EPOCH);
        let next = next(&i, &page(Indicator::Major), 2, Timestamp::from_millis(9));
        assert_eq!((next.step, next.unknown_since, next.readable_again), (Step::Keep, None, true));
        assert!(!super::next(&incident(Cause::External), &page(Indicator::Major), 2, Timestamp::EPOCH).readable_again);
    }

    #[test]
    fn external_turns_internal_on_the_second_readable_recovered_poll() {
        let steps = run(Cause::External, &[page(Indicator::None), unreadable(), page(Indicator::None), page(Indicator::None)]);
        assert_eq!(
            steps,
            vec![Step::Hold { polls: 1, needed: 2 }, Step::Unknown { since: Timestamp::from_millis(1000) }, Step::Change, Step::Keep]
        );
    }

    #[test]
    fn a_relapse_restarts_the_count() {
        let steps = run(Cause::External, &[page(Indicator::None), page(Indicator::Major), page(Indicator::None)]);
        assert_eq!(steps, vec![Step::Hold { polls: 1, needed: 2 }, Step::Keep, Step::Hold { polls: 1, needed: 2 }]);
    }

    #[test]
    fn internal_turns_external_on_the_first_readable_poll() {
        assert_eq!(
            run(Cause::Internal, &[unreadable(), page(Indicator::Major)]),
            vec![Step::Unknown { since: Timestamp::EPOCH }, Step::Change]
        );
    }
}
