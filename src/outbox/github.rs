//! GitHub Actions actions: dispatch a partner's compatibility workflow, re-run a run's failed
//! jobs (delivered by `sinks::github`, GitHub REST API 2022-11-28).

use serde::{Deserialize, Serialize};

use crate::model::Timestamp;

/// What the GitHub sink does. `run_key` is the run's `sparky_run_key` (`compat_runs.run_key`),
/// under which the sink records the run it finds or starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum GitHubAction {
    /// `POST /repos/{owner}/{repo}/actions/workflows/{workflow}/dispatches` with `ref`, `inputs`
    /// and `return_run_details: true`, unless a `workflow_dispatch` run whose name holds
    /// `inputs.sparky_run_key` exists already.
    Dispatch {
        /// `owner/name`.
        repository: String,
        /// Workflow file name (`okta-compat.yml`) or id.
        workflow: String,
        /// Branch or tag the run uses.
        git_ref: String,
        /// The workflow's inputs.
        inputs: DispatchInputs,
        /// When the dispatch was decided: runs created before it are not looked at.
        requested_at: Timestamp,
    },
    /// `POST /repos/{owner}/{repo}/actions/runs/{run_id}/rerun-failed-jobs`, unless the run is
    /// past `attempt` already.
    Rerun {
        /// `owner/name`.
        repository: String,
        /// Our key of the run.
        run_key: String,
        /// GitHub's run id.
        run_id: i64,
        /// The attempt being re-run (`run_attempt`).
        attempt: i64,
    },
}

/// The `workflow_dispatch` inputs every compatibility workflow declares
/// (`examples/compat-workflow.yml`): strings, as GitHub passes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispatchInputs {
    /// Partner id.
    pub partner: String,
    /// The API version to test against.
    pub api_version: String,
    /// The changelog entry that announced it (empty when it has no link).
    pub changelog_url: String,
    /// Unique per dispatch; the example workflow puts it in `run-name`, so the run can be found
    /// when the dispatch answer does not name it.
    pub sparky_run_key: String,
}
