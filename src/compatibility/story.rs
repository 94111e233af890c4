//! What `sparky compat` and `GET /api/compat` show: each detection with the entry that announced
//! it, its runs (state, conclusion, attempt, duration, failed jobs, link) and its P2 (state and
//! the Jira issue key, once Jira gave one).

use serde::Serialize;

use crate::model::{FailedJob, P2State, RunState, RunTrigger, SinkKind, Timestamp};
use crate::store::compat::{self as detections, Detection};
use crate::store::compat_runs::{self as runs, CompatRun};
use crate::store::{Store, StoreError, remote_ids};

/// One detection and everything that followed it.
#[derive(Debug, Clone, Serialize)]
pub struct Story {
    /// Detection id.
    pub id: i64,
    /// Partner id.
    pub partner: String,
    /// The API version (or the announcing entry's identity).
    pub version: String,
    /// When it was detected.
    pub detected_at: Timestamp,
    /// The entry that announced it.
    pub entry: Entry,
    /// Every entry about this version, the first included (identities).
    pub entries: Vec<String>,
    /// False for a backfill by `sparky compat scan` without `--dispatch`.
    pub auto_dispatch: bool,
    /// The P2, once a run failed.
    pub p2: Option<P2>,
    /// The runs, oldest first.
    pub runs: Vec<Run>,
}

/// The announcing entry.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// Identity.
    pub key: String,
    /// Title.
    pub title: String,
    /// Link.
    pub link: Option<String>,
}

/// A detection's P2.
#[derive(Debug, Clone, Serialize)]
pub struct P2 {
    /// Open or resolved.
    pub state: P2State,
    /// Our key of it.
    pub incident: String,
    /// The Jira issue key, once Jira created it.
    pub jira_key: Option<String>,
}

/// One run.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    /// The `sparky_run_key`.
    pub run_key: String,
    /// How far it got.
    pub state: RunState,
    /// What dispatched it.
    pub requested_by: RunTrigger,
    /// When it was dispatched.
    pub requested_at: Timestamp,
    /// GitHub's run id.
    pub run_id: Option<i64>,
    /// The run's page.
    pub url: Option<String>,
    /// `run_attempt`.
    pub attempt: i64,
    /// Re-runs Sparky asked for.
    pub reruns: i64,
    /// GitHub's conclusion.
    pub conclusion: Option<String>,
    /// When the latest attempt started.
    pub started_at: Option<Timestamp>,
    /// When it completed.
    pub completed_at: Option<Timestamp>,
    /// How long the latest attempt ran, in seconds.
    pub duration_seconds: Option<u64>,
    /// Failed jobs and steps.
    pub failed_jobs: Vec<FailedJob>,
    /// The last poll's error.
    pub last_error: Option<String>,
}

impl From<CompatRun> for Run {
    fn from(run: CompatRun) -> Self {
        Self {
            duration_seconds: run.duration().map(|d| d.as_secs()),
            run_key: run.run_key,
            state: run.state,
            requested_by: run.requested_by,
            requested_at: run.requested_at,
            run_id: run.run_id,
            url: run.html_url,
            attempt: run.attempt,
            reruns: run.reruns,
            conclusion: run.conclusion,
            started_at: run.started_at,
            completed_at: run.completed_at,
            failed_jobs: run.failed_jobs,
            last_error: run.last_error,
        }
    }
}

/// The stories of `partner` (every partner's with `None`), oldest detection first.
///
/// # Errors
/// A query failed.
pub async fn stories(store: &Store, partner: Option<&str>) -> Result<Vec<Story>, StoreError> {
    let mut all_runs = runs::list(store, partner).await?;
    let mut stories = Vec::new();
    for detection in detections::list(store, partner).await? {
        let (mine, rest): (Vec<CompatRun>, Vec<CompatRun>) = all_runs.into_iter().partition(|r| r.detection_id == detection.id);
        all_runs = rest;
        stories.push(story(store, detection, mine).await?);
    }
    Ok(stories)
}

async fn story(store: &Store, d: Detection, runs: Vec<CompatRun>) -> Result<Story, StoreError> {
    let p2 = match (d.p2, &d.p2_incident) {
        (Some(state), Some(incident)) => {
            Some(P2 { state, incident: incident.clone(), jira_key: remote_ids::get(store, SinkKind::Jira.as_str(), incident).await? })
        }
        _ => None,
    };
    Ok(Story {
        id: d.id,
        partner: d.partner_id,
        version: d.version,
        detected_at: d.detected_at,
        entry: Entry { key: d.first_entry_key, title: d.first_entry_title, link: d.first_entry_link },
        entries: d.entries,
        auto_dispatch: d.auto_dispatch,
        p2,
        runs: runs.into_iter().map(Run::from).collect(),
    })
}
