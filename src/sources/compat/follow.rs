//! Compatibility runs, run tracking: what GitHub says of a run Sparky dispatched. [`Runs`] is
//! the read side of the GitHub Actions API (implemented by `sinks::github`, handed in by the
//! service: the client lives with the sink that writes through it); [`observe`] makes one
//! poll's reads of a stored run.

use crate::model::{FailedJob, GitHubRun, RunConclusion, Timestamp};
use crate::store::compat_runs::CompatRun;

/// A read of the GitHub API failed (timeout, 5xx, 401 ...): the reason names what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ReadError(pub String);

/// The workflow a run was dispatched to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workflow<'a> {
    /// `owner/name`.
    pub repository: &'a str,
    /// File name or id.
    pub workflow: &'a str,
}

/// The read side of the GitHub Actions REST API (2022-11-28).
#[async_trait::async_trait]
pub trait Runs: Send + Sync {
    /// The `workflow_dispatch` run of `workflow` created at or after `since` whose name
    /// (`name` or `display_title`, set by the workflow's `run-name`) holds `run_key`
    /// (`GET /repos/{owner}/{repo}/actions/workflows/{workflow}/runs?event=workflow_dispatch&created=>=...`).
    async fn find(&self, workflow: Workflow<'_>, run_key: &str, since: Timestamp) -> Result<Option<GitHubRun>, ReadError>;

    /// Run `run_id` of `repository` (`GET /repos/{owner}/{repo}/actions/runs/{run_id}`).
    async fn get(&self, repository: &str, run_id: i64) -> Result<GitHubRun, ReadError>;

    /// The failed jobs of attempt `attempt` of run `run_id`, with their failed steps
    /// (`GET /repos/{owner}/{repo}/actions/runs/{run_id}/attempts/{attempt}/jobs`, every page).
    async fn failed_jobs(&self, repository: &str, run_id: i64, attempt: i64) -> Result<Vec<FailedJob>, ReadError>;
}

/// What one poll found of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    /// GitHub does not list the run (yet).
    NotFound,
    /// The run, and for a failed attempt its failed jobs.
    Run {
        /// The run.
        run: GitHubRun,
        /// Failed jobs, read only for a completed attempt that did not succeed.
        failed_jobs: Vec<FailedJob>,
    },
    /// A read failed.
    Failed(ReadError),
}

/// One poll of `run`, dispatched to `workflow`: found by its key while GitHub's id is unknown
/// (from one minute before the dispatch, for clocks that differ), else read by id; the failed
/// jobs of a completed attempt that did not succeed.
pub async fn observe(runs: &dyn Runs, workflow: Workflow<'_>, run: &CompatRun) -> Observation {
    let found = match run.run_id {
        Some(id) => runs.get(workflow.repository, id).await.map(Some),
        None => runs.find(workflow, &run.run_key, run.requested_at - std::time::Duration::from_secs(60)).await,
    };
    let found = match found {
        Ok(Some(found)) => found,
        Ok(None) => return Observation::NotFound,
        Err(e) => return Observation::Failed(e),
    };
    let unsuccessful = found.status == "completed"
        && found.conclusion.as_deref().and_then(|c| c.parse::<RunConclusion>().ok()) != Some(RunConclusion::Success);
    if !unsuccessful {
        return Observation::Run { run: found, failed_jobs: Vec::new() };
    }
    match runs.failed_jobs(workflow.repository, found.id, found.attempt).await {
        Ok(failed_jobs) => Observation::Run { run: found, failed_jobs },
        Err(e) => Observation::Failed(e),
    }
}
