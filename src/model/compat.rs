//! Compatibility words: how far Sparky got with a compatibility run, how GitHub concluded it,
//! and where a detection's P2 stands.

vocabulary! {
    /// Where one compatibility run (`compat_runs.state`) stands, as Sparky follows it.
    pub enum RunState {
        /// The dispatch is in the outbox, or sent and the run not found yet.
        Dispatching,
        /// GitHub has the run, not started (`requested`, `waiting`, `pending`, `queued`).
        Queued,
        /// Running.
        InProgress,
        /// Finished; `conclusion` says how.
        Completed,
        /// Not completed within `[github] follow_timeout` (or never found after the dispatch):
        /// Sparky stopped following it and said so.
        Lost,
    }
}

impl RunState {
    /// The states Sparky still polls.
    pub const FOLLOWED: [Self; 3] = [Self::Dispatching, Self::Queued, Self::InProgress];

    /// Our state for GitHub's `status` of a workflow run (`requested`, `waiting`, `pending`,
    /// `queued`, `in_progress`, `completed`; REST "Workflow runs" docs); an unknown word reads as
    /// queued, so a new status never ends a run early.
    pub fn from_github(status: &str) -> Self {
        match status {
            "completed" => Self::Completed,
            "in_progress" => Self::InProgress,
            _ => Self::Queued,
        }
    }
}

vocabulary! {
    /// GitHub's `conclusion` of a completed workflow run (REST "Workflow runs": `success`,
    /// `failure`, `neutral`, `cancelled`, `skipped`, `timed_out`, `action_required`, `stale`,
    /// `startup_failure`).
    pub enum RunConclusion {
        /// Every job passed: compatible.
        Success,
        /// A job failed: not compatible.
        Failure,
        /// The workflow could not start (a broken workflow file): counted as a failure.
        StartupFailure,
        /// Someone or something cancelled it: re-run once, then say so.
        Cancelled,
        /// A job ran out of time: re-run once, then say so.
        TimedOut,
        /// Waits for someone (an environment's reviewers).
        ActionRequired,
        /// Neither passed nor failed.
        Neutral,
        /// Skipped.
        Skipped,
        /// Superseded.
        Stale,
    }
}

impl RunConclusion {
    /// Whether the run says the partner's version breaks our integration.
    pub fn is_failure(self) -> bool {
        matches!(self, Self::Failure | Self::StartupFailure)
    }

    /// Whether one re-run of the failed jobs may give an answer (a cancelled or timed out run
    /// says nothing about compatibility).
    pub fn is_rerunnable(self) -> bool {
        matches!(self, Self::Cancelled | Self::TimedOut)
    }
}

vocabulary! {
    /// A detection's P2 Jira incident (`compat_detections.p2`).
    pub enum P2State {
        /// A run failed: the owner team's P2 is open.
        Open,
        /// A later run passed: the P2 was commented on and resolved.
        Resolved,
    }
}

vocabulary! {
    /// What dispatched a compatibility run (`compat_runs.requested_by`).
    pub enum RunTrigger {
        /// A new detection in a changelog entry.
        Detection,
        /// `sparky compat run PARTNER --api-version V` (or `compat scan --dispatch`).
        Hand,
    }
}

/// A workflow run as Sparky reads it from GitHub (`GET /repos/{owner}/{repo}/actions/runs/{id}`,
/// or an item of `.../workflows/{workflow}/runs`): only the fields Sparky uses, so a run whose
/// other fields changed shape still reads.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GitHubRun {
    /// `id`.
    pub id: i64,
    /// `html_url`: the run's page.
    pub html_url: Option<String>,
    /// `status`: `requested`, `waiting`, `pending`, `queued`, `in_progress`, `completed`.
    pub status: String,
    /// `conclusion` once completed (GitHub's word, see [`RunConclusion`]).
    pub conclusion: Option<String>,
    /// `run_attempt`, from 1.
    pub attempt: i64,
    /// `run_started_at`: when this attempt started.
    pub started_at: Option<crate::model::Timestamp>,
    /// `updated_at`: for a completed run, when it completed.
    pub updated_at: Option<crate::model::Timestamp>,
}

/// A failed job of a run (`GET /repos/{owner}/{repo}/actions/runs/{id}/attempts/{n}/jobs`: a
/// job whose `conclusion` is `failure`, `timed_out` or `cancelled`), with its failed steps.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FailedJob {
    /// `name`.
    pub name: String,
    /// `html_url`: the job's log page.
    pub url: Option<String>,
    /// The job's `conclusion`.
    pub conclusion: String,
    /// Its steps whose `conclusion` is `failure` (or `timed_out`, `cancelled`).
    pub steps: Vec<FailedStep>,
}

/// A failed step of a job.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FailedStep {
    /// `name`.
    pub name: String,
    /// `number`, from 1.
    pub number: i64,
}

vocabulary! {
    /// What `POST /webhooks/github` did with a delivery (`sparky_webhook_requests_total{outcome}`).
    pub enum WebhookOutcome {
        /// A `workflow_run` event, verified: the run's next poll hurried (202).
        Accepted,
        /// Verified, but nothing to do: `ping`, another event, a run Sparky does not follow (200).
        Ignored,
        /// Verified, its `X-GitHub-Delivery` id seen before (200, nothing done).
        Replayed,
        /// No `X-Hub-Signature-256` (401).
        Unsigned,
        /// A signature that does not match the body (401).
        BadSignature,
        /// No `GITHUB_WEBHOOK_SECRET` configured: every delivery refused (401).
        NoSecret,
        /// A body over the 1 MiB limit, refused before it was read whole (413).
        TooLarge,
        /// Verified, but not JSON or without the fields a `workflow_run` event has (400).
        Malformed,
        /// The database failed (503: GitHub redelivers on request).
        Unavailable,
    }
}
