//! The GitHub sink: delivers [`GitHubAction`]s (dispatch a compatibility workflow, re-run a
//! run's failed jobs) through [`GitHubClient`].
//!
//! Nothing is dispatched twice for one `sparky_run_key`: before any dispatch after the first
//! attempt (`remote_ids` keeps its time as `dispatch-attempt:KEY`), the sink looks for the run:
//! known to `compat_runs`, or listed among the workflow's `workflow_dispatch` runs with the key
//! in its name. A dispatch answered 204 (no run details) lists its run only after a moment, so
//! while `[github] run_lag` has not passed since that attempt, the sink retries at that time
//! instead of dispatching again. A re-run is found by the run's `run_attempt` having moved past
//! the attempt it re-runs.

use reqwest::StatusCode;

use super::client::{Dispatched, GitHubClient};
use crate::config::{GitHubConfig, HttpConfig};
use crate::model::Timestamp;
use crate::outbox::github::{DispatchInputs, GitHubAction};
use crate::outbox::{Action, Attempt, Delivered, DeliveryError, Sink};
use crate::sinks::http::wait_until;
use crate::sources::compat::follow::{Runs, Workflow};
use crate::store::{Store, compat_runs, remote_ids};

/// The sink name under which dispatch attempts are kept in `remote_ids`.
const SINK: &str = "github";

/// Dispatches compatibility workflows and re-runs failed jobs.
pub struct GitHubSink {
    client: GitHubClient,
    store: Store,
    run_lag: std::time::Duration,
}

/// The fields of a dispatch action.
struct Dispatch<'a> {
    workflow: Workflow<'a>,
    git_ref: &'a str,
    inputs: &'a DispatchInputs,
    requested_at: Timestamp,
}

impl GitHubSink {
    /// A sink for the credentials of `cfg` (which has some), with the discipline of `http`.
    ///
    /// # Errors
    /// See [`GitHubClient::new`].
    pub fn new(cfg: &GitHubConfig, http: &HttpConfig, store: Store) -> Result<Self, DeliveryError> {
        Ok(Self { client: GitHubClient::new(cfg, http)?, store, run_lag: cfg.run_lag.get() })
    }

    /// Dispatches `d` unless an earlier attempt's run is there; the remote id is the run id
    /// when GitHub names it.
    async fn dispatch(&self, d: &Dispatch<'_>, look_first: bool) -> Result<Delivered, DeliveryError> {
        if look_first && let Some(found) = self.earlier_dispatch(d).await? {
            return Ok(found);
        }
        let key = &d.inputs.sparky_run_key;
        remote_ids::set(&self.store, SINK, &attempt_mark(key), &Timestamp::now().as_millis().to_string())
            .await
            .map_err(|e| DeliveryError::retry(format!("cannot record the dispatch attempt of run {key}: {e}")))?;
        let dispatched = self.client.dispatch(d.workflow, d.git_ref, d.inputs).await.map_err(|e| dispatch_error(e, d))?;
        tracing::info!(
            run = key.as_str(),
            repository = d.workflow.repository,
            workflow = d.workflow.workflow,
            "GitHub accepted the workflow dispatch"
        );
        match dispatched {
            Dispatched::Run { id, html_url } => self.record(key, id, html_url.as_deref()).await,
            // Found by its key in the workflow's runs, by the next poll.
            Dispatched::Unnamed => Ok(Delivered::default()),
        }
    }

    /// The run an earlier attempt of `d` started: recorded, or found by its key; a retry at the
    /// end of `run_lag` while GitHub may not list it yet; `None` when none was attempted or none
    /// appeared in time.
    async fn earlier_dispatch(&self, d: &Dispatch<'_>) -> Result<Option<Delivered>, DeliveryError> {
        let key = &d.inputs.sparky_run_key;
        let store_error = |e| DeliveryError::retry(format!("cannot read run {key}: {e}"));
        let Some(mark) = remote_ids::get(&self.store, SINK, &attempt_mark(key)).await.map_err(store_error)? else { return Ok(None) };
        if let Some(id) = compat_runs::by_key(&self.store, key).await.map_err(store_error)?.and_then(|r| r.run_id) {
            return Ok(Some(Delivered::with_id(id.to_string())));
        }
        let since = d.requested_at - std::time::Duration::from_secs(60);
        let found = self.client.find(d.workflow, key, since).await.map_err(|e| DeliveryError::retry(e.0))?;
        if let Some(run) = found {
            tracing::info!(
                run = key.as_str(),
                run_id = run.id,
                "the dispatch of an earlier attempt started the run; not dispatching again"
            );
            return self.record(key, run.id, run.html_url.as_deref()).await.map(Some);
        }
        let attempted = mark.parse::<i64>().map_or(Timestamp::EPOCH, Timestamp::from_millis);
        wait_until(attempted + self.run_lag, |at| {
            format!(
                "an earlier dispatch of run {key} may have started it; GitHub can take [github] run_lag to list a run, so Sparky looks again at {at} before dispatching again"
            )
        })?;
        Ok(None)
    }

    /// Records GitHub's id of run `key`.
    async fn record(&self, key: &str, id: i64, html_url: Option<&str>) -> Result<Delivered, DeliveryError> {
        compat_runs::found(&self.store, key, id, html_url)
            .await
            .map_err(|e| DeliveryError::retry(format!("cannot record GitHub's run {id} of {key}: {e}")))?;
        Ok(Delivered::with_id(id.to_string()))
    }

    /// Whether run `run_id` is past `attempt`: its re-run was made.
    async fn rerun_made(&self, repository: &str, run_id: i64, attempt: i64) -> Result<bool, DeliveryError> {
        let run = self.client.get(repository, run_id).await.map_err(|e| DeliveryError::retry(e.0))?;
        Ok(run.attempt > attempt)
    }
}

#[async_trait::async_trait]
impl Sink for GitHubSink {
    async fn find_earlier(&self, action: &Action, _: &Attempt) -> Result<Option<Delivered>, DeliveryError> {
        match op(action)? {
            Op::Dispatch(d) => self.earlier_dispatch(&d).await,
            Op::Rerun { repository, run_id, attempt, .. } => {
                Ok(self.rerun_made(repository, run_id, attempt).await?.then(|| Delivered::with_id(run_id.to_string())))
            }
        }
    }

    async fn deliver(&self, action: &Action, attempt: &Attempt) -> Result<Delivered, DeliveryError> {
        match op(action)? {
            // After an uncertain attempt `find_earlier` has looked already.
            Op::Dispatch(d) => self.dispatch(&d, !attempt.uncertain).await,
            Op::Rerun { repository, run_key, run_id, .. } => {
                self.client
                    .rerun_failed_jobs(repository, run_id)
                    .await
                    .map_err(|e| e.context(&format!("re-running the failed jobs of {run_key}")))?;
                tracing::info!(run = run_key, run_id, "GitHub re-runs the run's failed jobs");
                Ok(Delivered::with_id(run_id.to_string()))
            }
        }
    }
}

/// A GitHub action, borrowed.
enum Op<'a> {
    Dispatch(Dispatch<'a>),
    Rerun { repository: &'a str, run_key: &'a str, run_id: i64, attempt: i64 },
}

fn op(action: &Action) -> Result<Op<'_>, DeliveryError> {
    match action {
        Action::GitHub(GitHubAction::Dispatch { repository, workflow, git_ref, inputs, requested_at }) => {
            Ok(Op::Dispatch(Dispatch { workflow: Workflow { repository, workflow }, git_ref, inputs, requested_at: *requested_at }))
        }
        Action::GitHub(GitHubAction::Rerun { repository, run_key, run_id, attempt }) => {
            Ok(Op::Rerun { repository, run_key, run_id: *run_id, attempt: *attempt })
        }
        other => Err(DeliveryError::permanent(format!("the GitHub sink cannot deliver a {} action", other.sink()))),
    }
}

/// A refused dispatch says what to fix, in which partner file.
fn dispatch_error(e: DeliveryError, d: &Dispatch<'_>) -> DeliveryError {
    let Dispatch { workflow: Workflow { repository, workflow }, git_ref, inputs, .. } = d;
    let file = format!("partners/{}.toml", inputs.partner);
    let e = e.context(&format!("dispatching workflow {workflow} of {repository} at {git_ref}"));
    let DeliveryError::Permanent { reason } = e else { return e };
    let fix = if reason.contains(&format!("HTTP {}", StatusCode::UNPROCESSABLE_ENTITY.as_u16())) {
        if reason.contains("workflow_dispatch") {
            format!(
                "the workflow has no `on: workflow_dispatch` trigger on {git_ref}: add it with inputs partner, api_version, changelog_url and sparky_run_key (see examples/compat-workflow.yml), or point [compat] workflow / ref in {file} at the compatibility workflow"
            )
        } else {
            format!(
                "the workflow must declare exactly the inputs partner, api_version, changelog_url and sparky_run_key (see examples/compat-workflow.yml), on the ref [compat] ref of {file} names ({git_ref})"
            )
        }
    } else {
        format!("check [compat] repository, workflow and ref in {file}")
    };
    DeliveryError::permanent(format!("{reason}; fix: {fix}"))
}

fn attempt_mark(run_key: &str) -> String {
    format!("dispatch-attempt:{run_key}")
}
