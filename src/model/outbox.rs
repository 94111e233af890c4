//! Outbox words: where an action goes and how far it got.

vocabulary! {
    /// The state of an outbox action. A row is *in flight* while its lease is ahead of now.
    pub enum ActionState {
        /// Written, never attempted.
        Pending,
        /// Attempted and failed; `next_attempt_at` says when it goes again.
        Retrying,
        /// An earlier action of its chain (ordering key) is dead: it waits for that one's
        /// `sparky outbox retry ID` instead of failing in turn.
        Blocked,
        /// The sink confirmed it.
        Delivered,
        /// The log sink printed it (no credentials for the real sink): done, but never sent.
        Printed,
        /// Failed `max_attempts` times or permanently; waits for `sparky outbox retry ID`.
        Dead,
    }
}

impl ActionState {
    /// The states of an action not delivered yet, that a deliverer may claim.
    pub const UNDELIVERED: [Self; 2] = [Self::Pending, Self::Retrying];
    /// The states of an action that will not go out by itself: someone has to act.
    pub const STUCK: [Self; 2] = [Self::Blocked, Self::Dead];
    /// The states that end an action.
    pub const DONE: [Self; 2] = [Self::Delivered, Self::Printed];
}

vocabulary! {
    /// A sink: the service an action goes to.
    #[derive(PartialOrd, Ord)]
    pub enum SinkKind {
        /// Slack Web API (digests, notices, incident messages).
        Slack,
        /// Jira Service Management / Jira Cloud.
        Jira,
        /// PagerDuty Events API v2.
        #[strum(serialize = "pagerduty")]
        PagerDuty,
        /// Our public status page (Atlassian Statuspage, or the built-in page).
        Statuspage,
        /// GitHub Actions (compatibility runs: dispatch, re-run).
        #[strum(serialize = "github")]
        GitHub,
    }
}
