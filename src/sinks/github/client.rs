//! The GitHub REST API client (API version `2022-11-28`, docs.github.com/rest/actions): the
//! calls compatibility runs need, over the sinks' HTTP discipline ([`SinkHttp`]: no redirect
//! followed, bounded answers, 429/5xx/rate-limit 403 retried, `Retry-After` honoured).
//!
//! Every request carries `Accept: application/vnd.github+json`, `X-GitHub-Api-Version` and
//! `Authorization: Bearer` with the token of [`super::auth`]. Answers are read leniently (the
//! fields Sparky uses, by name), so a payload that gained or lost other fields still reads.

use reqwest::Method;
use serde_json::{Value, json};

use super::auth::Credentials;
use crate::config::{GitHubConfig, HttpConfig};
use crate::model::{FailedJob, FailedStep, GitHubRun, RunConclusion, Timestamp};
use crate::outbox::DeliveryError;
use crate::outbox::github::DispatchInputs;
use crate::sinks::http::{Answer, SinkHttp};
use crate::sources::compat::follow::{ReadError, Runs, Workflow};

/// The REST API version every request asks for.
pub const API_VERSION: &str = "2022-11-28";
/// Items per page of a list (GitHub's maximum).
const PER_PAGE: usize = 100;
/// Pages read of one list at most: a run's jobs or a day's dispatches fit well within.
const MAX_PAGES: usize = 10;

/// A GitHub API client for one set of credentials.
pub struct GitHubClient {
    http: SinkHttp,
    api: url::Url,
    credentials: Credentials,
}

/// What a dispatch answered: GitHub names the run (200, `return_run_details`) or not (204:
/// older servers, GitHub Enterprise Server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dispatched {
    /// `workflow_run_id` and `html_url`.
    Run {
        /// GitHub's run id.
        id: i64,
        /// The run's page.
        html_url: Option<String>,
    },
    /// Accepted without naming the run: it is found in the workflow's runs by its key.
    Unnamed,
}

impl GitHubClient {
    /// A client for `cfg`'s API and credentials (which it has: see [`GitHubConfig::auth`]).
    ///
    /// # Errors
    /// Permanent: no credentials, a private key that is not an RSA key in PEM, a TLS failure.
    pub fn new(cfg: &GitHubConfig, http: &HttpConfig) -> Result<Self, DeliveryError> {
        let auth =
            cfg.auth().ok_or_else(|| DeliveryError::permanent(format!("GitHub: no credentials ({} not set)", GitHubConfig::VARIABLES)))?;
        let api = cfg.api_url.url().clone();
        if api.cannot_be_a_base() {
            return Err(DeliveryError::permanent("GitHub: [github] api_url cannot hold a path"));
        }
        Ok(Self { http: SinkHttp::new("GitHub", http, cfg.timeout.get())?, api, credentials: Credentials::new(auth)? })
    }

    /// `POST /repos/{owner}/{repo}/actions/workflows/{workflow}/dispatches` with `ref`, `inputs`
    /// and `return_run_details: true`.
    ///
    /// # Errors
    /// The call's: a 422 (no `workflow_dispatch` trigger, inputs the workflow does not declare)
    /// is permanent.
    pub async fn dispatch(&self, workflow: Workflow<'_>, git_ref: &str, inputs: &DispatchInputs) -> Result<Dispatched, DeliveryError> {
        let body = json!({ "ref": git_ref, "inputs": inputs, "return_run_details": true });
        let path = ["actions", "workflows", workflow.workflow, "dispatches"];
        let answer = self.call(Method::POST, workflow.repository, &path, &[], Some(&body)).await?;
        let Some(id) = answer.json.get("workflow_run_id").and_then(Value::as_i64) else { return Ok(Dispatched::Unnamed) };
        Ok(Dispatched::Run { id, html_url: text(&answer.json, "html_url") })
    }

    /// `POST /repos/{owner}/{repo}/actions/runs/{run_id}/rerun-failed-jobs` (201).
    ///
    /// # Errors
    /// The call's (403 when GitHub no longer allows the re-run, e.g. a run over 30 days old).
    pub async fn rerun_failed_jobs(&self, repository: &str, run_id: i64) -> Result<(), DeliveryError> {
        let id = run_id.to_string();
        self.call(Method::POST, repository, &["actions", "runs", &id, "rerun-failed-jobs"], &[], Some(&json!({}))).await.map(drop)
    }

    /// One call under `/repos/{repository}/`: the token of `repository`, the API headers, the
    /// token redacted from any error.
    async fn call(
        &self,
        method: Method,
        repository: &str,
        path: &[&str],
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Answer, DeliveryError> {
        let (owner, name) = split_repository(repository)?;
        let token = self.credentials.token(self, owner, name).await?;
        let url = self.url(&[&["repos", owner, name], path].concat());
        let mut request = self.request(method, url, token.expose()).query(query);
        if let Some(body) = body {
            request = request.json(body);
        }
        self.http.send(request).await.map_err(|e| e.redact(token.expose()))
    }

    /// `api_url` with `segments` appended, each percent-encoded.
    pub(super) fn url(&self, segments: &[&str]) -> url::Url {
        let mut url = self.api.clone();
        url.path_segments_mut().expect("checked in new").pop_if_empty().extend(segments); // invariant: api_url can be a base (checked in new)
        url
    }

    /// A request with the API's headers and `bearer`.
    pub(super) fn request(&self, method: Method, url: url::Url, bearer: &str) -> reqwest::RequestBuilder {
        self.http
            .client()
            .request(method, url)
            .header(reqwest::header::ACCEPT, "application/vnd.github+json")
            .header("X-GitHub-Api-Version", API_VERSION)
            .bearer_auth(bearer)
    }

    /// Sends a request built by [`Self::request`].
    pub(super) async fn send(&self, request: reqwest::RequestBuilder) -> Result<Answer, DeliveryError> {
        self.http.send(request).await
    }

    /// The `workflow_dispatch` runs of `workflow` created at or after `since`, newest first, up
    /// to [`MAX_PAGES`] pages.
    async fn dispatch_runs(&self, workflow: Workflow<'_>, since: Timestamp) -> Result<Vec<Value>, DeliveryError> {
        let path = ["actions", "workflows", workflow.workflow, "runs"];
        let mut runs = Vec::new();
        for page in 1..=MAX_PAGES {
            let query = [
                ("event", "workflow_dispatch".to_owned()),
                ("created", format!(">={}", since.to_rfc3339_seconds())),
                ("per_page", PER_PAGE.to_string()),
                ("page", page.to_string()),
            ];
            let answer = self.call(Method::GET, workflow.repository, &path, &query, None).await?;
            let batch = answer.json.get("workflow_runs").and_then(Value::as_array).cloned().unwrap_or_default();
            let last = batch.len() < PER_PAGE;
            runs.extend(batch);
            if last {
                break;
            }
        }
        Ok(runs)
    }
}

#[async_trait::async_trait]
impl Runs for GitHubClient {
    async fn find(&self, workflow: Workflow<'_>, run_key: &str, since: Timestamp) -> Result<Option<GitHubRun>, ReadError> {
        let runs = self.dispatch_runs(workflow, since).await.map_err(|e| read_error(&e, "listing the workflow's runs"))?;
        Ok(runs.iter().filter(|r| names(r, run_key)).find_map(parse_run))
    }

    async fn get(&self, repository: &str, run_id: i64) -> Result<GitHubRun, ReadError> {
        let id = run_id.to_string();
        let answer = self
            .call(Method::GET, repository, &["actions", "runs", &id], &[], None)
            .await
            .map_err(|e| read_error(&e, "reading the run"))?;
        parse_run(&answer.json).ok_or_else(|| ReadError(format!("GitHub's answer for run {run_id} of {repository} has no id or status")))
    }

    async fn failed_jobs(&self, repository: &str, run_id: i64, attempt: i64) -> Result<Vec<FailedJob>, ReadError> {
        let (id, attempt) = (run_id.to_string(), attempt.to_string());
        let path = ["actions", "runs", &id, "attempts", &attempt, "jobs"];
        let mut failed = Vec::new();
        for page in 1..=MAX_PAGES {
            let query = [("per_page", PER_PAGE.to_string()), ("page", page.to_string())];
            let answer =
                self.call(Method::GET, repository, &path, &query, None).await.map_err(|e| read_error(&e, "listing the run's jobs"))?;
            let jobs = answer.json.get("jobs").and_then(Value::as_array).cloned().unwrap_or_default();
            failed.extend(jobs.iter().filter_map(failed_job));
            if jobs.len() < PER_PAGE {
                break;
            }
        }
        Ok(failed)
    }
}

fn read_error(e: &DeliveryError, doing: &str) -> ReadError {
    ReadError(format!("{doing}: {e}"))
}

/// `owner` and `name` of `owner/name`.
fn split_repository(repository: &str) -> Result<(&str, &str), DeliveryError> {
    match repository.split_once('/') {
        Some((owner, name)) if !owner.is_empty() && !name.is_empty() && !name.contains('/') => Ok((owner, name)),
        _ => Err(DeliveryError::permanent(format!(
            "`{repository}` is not a GitHub repository: write [compat] repository as owner/name in the partner file"
        ))),
    }
}

/// Whether run `r`'s name (`name`, or `display_title` which `run-name` sets) holds `run_key`.
fn names(r: &Value, run_key: &str) -> bool {
    ["display_title", "name"].iter().any(|k| r.get(*k).and_then(Value::as_str).is_some_and(|n| n.contains(run_key)))
}

/// A workflow run object (`GET /repos/{owner}/{repo}/actions/runs/{run_id}`); `None` without
/// `id` or `status`.
pub(super) fn parse_run(v: &Value) -> Option<GitHubRun> {
    Some(GitHubRun {
        id: v.get("id")?.as_i64()?,
        html_url: text(v, "html_url"),
        status: v.get("status")?.as_str()?.to_owned(),
        conclusion: text(v, "conclusion"),
        attempt: v.get("run_attempt").and_then(Value::as_i64).unwrap_or(1),
        started_at: time(v, "run_started_at"),
        updated_at: time(v, "updated_at"),
    })
}

/// A job object that did not succeed (`failure`, `timed_out`, `cancelled`), with its steps that
/// did not either.
fn failed_job(job: &Value) -> Option<FailedJob> {
    let conclusion = text(job, "conclusion")?;
    if !failed(&conclusion) {
        return None;
    }
    let steps = job.get("steps").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    Some(FailedJob {
        name: text(job, "name").unwrap_or_else(|| "(unnamed job)".to_owned()),
        url: text(job, "html_url"),
        conclusion,
        steps: steps
            .iter()
            .filter(|s| text(s, "conclusion").is_some_and(|c| failed(&c)))
            .map(|s| FailedStep {
                name: text(s, "name").unwrap_or_else(|| "(unnamed step)".to_owned()),
                number: s.get("number").and_then(Value::as_i64).unwrap_or(0),
            })
            .collect(),
    })
}

fn failed(conclusion: &str) -> bool {
    conclusion.parse::<RunConclusion>().is_ok_and(|c| c.is_failure() || c.is_rerunnable())
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned)
}

fn time(v: &Value, key: &str) -> Option<Timestamp> {
    Timestamp::parse_rfc3339(v.get(key)?.as_str()?).ok()
}
