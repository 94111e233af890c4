//! A fake GitHub REST API (2022-11-28) on loopback: the Actions calls of compatibility runs and
//! a GitHub App's installation-token exchange, answering with the real payloads of
//! `../shared/fixtures/github/` (ids, names, statuses and times set per run).
//!
//! It behaves like GitHub where Sparky depends on it:
//! - `POST .../workflows/{workflow}/dispatches` answers 200 with `workflow_run_id`, `run_url`
//!   and `html_url` when asked for `return_run_details` ([`Answer::Details`]), or 204 with no
//!   body ([`Answer::NoContent`], older servers and GitHub Enterprise), the run appearing in the
//!   runs list only after `list_lag` more list requests; 422 with GitHub's real bodies when the
//!   workflow has no `workflow_dispatch` trigger or is sent inputs it does not declare.
//! - a run goes `queued` -> `in_progress` -> `completed` (one step per read of the run), with
//!   the conclusion scripted for its attempt; `rerun-failed-jobs` (201) starts the next attempt;
//! - `GET .../runs/{id}/attempts/{n}/jobs` lists the fixture's jobs, the first one failed at its
//!   "Run tests" step when the attempt did not succeed;
//! - App auth: `GET /repos/{o}/{r}/installation` and `POST /app/installations/{id}/access_tokens`
//!   want a JWT (three dot-separated parts, `iss` the App id), other calls the token issued;
//!   a wrong credential gets 401 `Bad credentials`.
//!
//! Every request is checked against `github_api.github.com.openapi.json` (method, path,
//! required parameters and body properties) and for the API headers.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The inputs the fake's workflow declares.
pub const INPUTS: [&str; 4] = ["partner", "api_version", "changelog_url", "sparky_run_key"];
/// The token issued to the fake App's installation.
pub const INSTALLATION_TOKEN: &str = "ghs_fakeInstallationToken0123456789";

/// How a dispatch is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// 200 with the run's details.
    Details,
    /// 204, the run listed a moment later.
    NoContent,
    /// 422: "Workflow does not have 'workflow_dispatch' trigger".
    NoTrigger,
}

/// A request the fake received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: Value,
    pub status: u16,
}

/// A run the fake started.
#[derive(Debug, Clone)]
pub struct Run {
    pub id: i64,
    pub workflow: String,
    pub name: String,
    pub inputs: Value,
    pub attempt: i64,
    /// 0 queued, 1 in progress, 2 completed.
    pub step: u8,
    /// Conclusions of the attempts to come, first the current one.
    pub conclusions: VecDeque<&'static str>,
    /// List requests still to come before the run is listed.
    pub hidden_for: usize,
    pub created_at: String,
    /// When the current attempt started.
    pub started_at: String,
}

struct State {
    answer: Answer,
    list_lag: usize,
    /// Conclusions of the attempts of each dispatch to come (default: one `success`).
    outcomes: VecDeque<Vec<&'static str>>,
    runs: Vec<Run>,
    received: Vec<Received>,
    violations: Vec<String>,
    /// Statuses answered instead, for the next requests to a path holding the key.
    failures: Vec<(String, u16)>,
    /// The next dispatch is processed and answered only after this long.
    hold_next_dispatch: Option<std::time::Duration>,
    token: String,
    app_id: Option<u64>,
    /// The inputs the workflow declares.
    inputs: Vec<String>,
    /// GitHub's clock ahead of the wall clock (tests that move Sparky's clock move this one).
    ahead: chrono::Duration,
}

/// The fake GitHub.
pub struct FakeGitHub {
    pub server: MockServer,
    state: Arc<Mutex<State>>,
}

impl FakeGitHub {
    /// A fake accepting `token` as `GITHUB_TOKEN`, answering dispatches as `answer`.
    pub async fn start(token: &str, answer: Answer) -> Self {
        Self::with(token, None, answer).await
    }

    /// A fake for GitHub App `app_id`: JWTs on the App endpoints, [`INSTALLATION_TOKEN`] on the
    /// others.
    pub async fn app(app_id: u64, answer: Answer) -> Self {
        Self::with(INSTALLATION_TOKEN, Some(app_id), answer).await
    }

    async fn with(token: &str, app_id: Option<u64>, answer: Answer) -> Self {
        let state = Arc::new(Mutex::new(State {
            answer,
            list_lag: 1,
            outcomes: VecDeque::new(),
            runs: Vec::new(),
            received: Vec::new(),
            violations: Vec::new(),
            failures: Vec::new(),
            hold_next_dispatch: None,
            token: token.to_owned(),
            app_id,
            inputs: INPUTS.iter().map(|i| (*i).to_owned()).collect(),
            ahead: chrono::Duration::zero(),
        }));
        let server = MockServer::start().await;
        Mock::given(wiremock::matchers::any()).respond_with(Api(state.clone())).mount(&server).await;
        Self { server, state }
    }

    /// The base URL (`GITHUB_API_URL`).
    pub fn url(&self) -> String {
        self.server.uri()
    }

    /// The attempts of the next dispatch conclude `conclusions`, in order.
    pub fn next_run_concludes(&self, conclusions: &[&'static str]) {
        self.state.lock().unwrap().outcomes.push_back(conclusions.to_vec());
    }

    /// A 204 dispatch's run is listed after this many list requests (default 1).
    pub fn set_list_lag(&self, lag: usize) {
        self.state.lock().unwrap().list_lag = lag;
    }

    /// Answer dispatches as `answer` from now on.
    pub fn set_answer(&self, answer: Answer) {
        self.state.lock().unwrap().answer = answer;
    }

    /// Moves GitHub's clock `by` ahead, as `common::time_travel` moves Sparky's.
    pub fn advance(&self, by: std::time::Duration) {
        self.state.lock().unwrap().ahead += chrono::Duration::from_std(by).unwrap();
    }

    /// The workflow declares `inputs` instead of [`INPUTS`].
    pub fn declare_inputs(&self, inputs: &[&str]) {
        self.state.lock().unwrap().inputs = inputs.iter().map(|i| (*i).to_owned()).collect();
    }

    /// The next request whose path holds `path_part` gets `status`.
    pub fn fail_next(&self, path_part: &str, status: u16) {
        self.state.lock().unwrap().failures.push((path_part.to_owned(), status));
    }

    /// The next dispatch starts its run at once but is answered only after `delay`.
    pub fn hold_next_dispatch(&self, delay: std::time::Duration) {
        self.state.lock().unwrap().hold_next_dispatch = Some(delay);
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// The requests whose path ends with `suffix`.
    pub fn requests_to(&self, method: &str, suffix: &str) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.method == method && r.path.ends_with(suffix)).collect()
    }

    /// The runs started.
    pub fn runs(&self) -> Vec<Run> {
        self.state.lock().unwrap().runs.clone()
    }

    /// Departures from the description and from GitHub's rules.
    pub fn violations(&self) -> Vec<String> {
        self.state.lock().unwrap().violations.clone()
    }
}

struct Api(Arc<Mutex<State>>);

impl Respond for Api {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.0.lock().unwrap();
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let path = request.url.path().to_owned();
        if let Some(spec) = super::openapi::spec("github_api.github.com.openapi.json") {
            let seen_body = (!body.is_null()).then_some(&body);
            let problems = spec.violations(&super::openapi::Seen::from_wiremock(request, seen_body));
            state.violations.extend(problems);
        }
        for (header, want) in [("accept", "application/vnd.github+json"), ("x-github-api-version", "2022-11-28")] {
            if request.headers.get(header).and_then(|v| v.to_str().ok()) != Some(want) {
                state.violations.push(format!("{} {path}: header {header} is not {want}", request.method));
            }
        }
        let (status, answer, delay) = route(&mut state, request, &path, &body);
        state.received.push(Received {
            method: request.method.to_string(),
            path,
            query: request.url.query().unwrap_or_default().to_owned(),
            body,
            status,
        });
        let mut template = ResponseTemplate::new(status);
        // A scripted 403 is GitHub's primary rate limit, a 429 its secondary one.
        if status == 403 && answer["message"] == "API rate limit exceeded" {
            let reset = chrono::Utc::now().timestamp() + 30;
            template = template.insert_header("x-ratelimit-remaining", "0").insert_header("x-ratelimit-reset", reset.to_string().as_str());
        }
        if status == 429 {
            template = template.insert_header("retry-after", "1");
        }
        if !answer.is_null() {
            template = template.set_body_json(answer);
        }
        match delay {
            Some(d) => template.set_delay(d),
            None => template,
        }
    }
}

type Reply = (u16, Value, Option<std::time::Duration>);

fn route(state: &mut State, request: &Request, path: &str, body: &Value) -> Reply {
    let bearer = request.headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let method = request.method.as_str();
    let app_call = matches!(segments.as_slice(), ["repos", _, _, "installation"] | ["app", "installations", _, "access_tokens"]);
    let authorised = if app_call { state.app_id.is_some_and(|id| jwt_of(bearer, id)) } else { bearer == Some(state.token.as_str()) };
    if !authorised {
        return (401, json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}), None);
    }
    if let Some(i) = state.failures.iter().position(|(part, _)| path.contains(part.as_str())) {
        let (_, status) = state.failures.remove(i);
        let message = match status {
            403 => "API rate limit exceeded",
            429 => "You have exceeded a secondary rate limit",
            _ => "Server Error",
        };
        return (status, json!({"message": message}), None);
    }
    match (method, segments.as_slice()) {
        ("GET", ["repos", owner, repo, "installation"]) => (200, json!({"id": 4242, "account": {"login": owner}, "repository_selection": "selected", "app_slug": repo})),
        ("POST", ["app", "installations", "4242", "access_tokens"]) => {
            let expires = now(state) + chrono::Duration::hours(1);
            (201, json!({"token": INSTALLATION_TOKEN, "expires_at": expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true), "permissions": body["permissions"], "repository_selection": "selected"}))
        }
        ("POST", ["repos", owner, repo, "actions", "workflows", workflow, "dispatches"]) => return dispatch(state, owner, repo, workflow, body),
        ("GET", ["repos", owner, repo, "actions", "workflows", workflow, "runs"]) => list(state, owner, repo, workflow, request),
        ("GET", ["repos", owner, repo, "actions", "runs", id]) => match find(state, id) {
            Some(i) => {
                let updated = stamp(state);
                let run = &mut state.runs[i];
                let shown = run_json(run, owner, repo, &updated);
                run.step = (run.step + 1).min(2);
                (200, shown)
            }
            None => not_found(),
        },
        ("GET", ["repos", owner, repo, "actions", "runs", id, "attempts", attempt, "jobs"]) => match find(state, id) {
            Some(i) => (200, jobs(&state.runs[i], owner, repo, attempt.parse().unwrap_or(1))),
            None => not_found(),
        },
        ("POST", ["repos", _, _, "actions", "runs", id, "rerun-failed-jobs"]) => match find(state, id) {
            Some(i) if state.runs[i].step == 2 => {
                let started = stamp(state);
                let run = &mut state.runs[i];
                run.started_at = started;
                run.attempt += 1;
                run.step = 0;
                run.conclusions.pop_front();
                (201, json!({}))
            }
            Some(_) => (403, json!({"message": "This workflow is already running"})),
            None => not_found(),
        },
        _ => not_found(),
    }
    .into_reply()
}

trait IntoReply {
    fn into_reply(self) -> Reply;
}

impl IntoReply for (u16, Value) {
    fn into_reply(self) -> Reply {
        (self.0, self.1, None)
    }
}

fn not_found() -> (u16, Value) {
    (404, json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}))
}

/// Whether `bearer` is a JWT whose `iss` is `app_id`.
fn jwt_of(bearer: Option<&str>, app_id: u64) -> bool {
    use base64::Engine;
    let Some(parts) = bearer.map(|b| b.split('.').collect::<Vec<_>>()) else { return false };
    let [_, claims, _] = parts.as_slice() else { return false };
    let Ok(claims) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(claims) else { return false };
    serde_json::from_slice::<Value>(&claims).is_ok_and(|c| c["iss"].as_u64() == Some(app_id))
}

fn dispatch(state: &mut State, owner: &str, repo: &str, workflow: &str, body: &Value) -> Reply {
    if state.answer == Answer::NoTrigger {
        return (422, fixture("actions_dispatch_422_no_workflow_dispatch_trigger.json"), None);
    }
    let inputs = body["inputs"].as_object().cloned().unwrap_or_default();
    if let Some(extra) = inputs.keys().find(|k| !state.inputs.contains(k)) {
        return (
            422,
            json!({"message": format!("Unexpected inputs provided: [\"{extra}\"]"), "documentation_url": "https://docs.github.com/rest/actions/workflows#create-a-workflow-dispatch-event"}),
            None,
        );
    }
    if let Some(missing) = state.inputs.iter().find(|k| !inputs.contains_key(k.as_str())) {
        let mut answer = fixture("actions_dispatch_422_unexpected_inputs.json");
        answer["message"] = json!(format!("Required input '{missing}' not provided"));
        return (422, answer, None);
    }
    let id = 9_000_000_000 + state.runs.len() as i64 + 1;
    let key = inputs["sparky_run_key"].as_str().unwrap_or_default();
    let conclusions = state.outcomes.pop_front().unwrap_or_else(|| vec!["success"]);
    state.runs.push(Run {
        id,
        workflow: workflow.to_owned(),
        name: format!(
            "Compatibility {} {} ({key})",
            inputs["partner"].as_str().unwrap_or(""),
            inputs["api_version"].as_str().unwrap_or("")
        ),
        inputs: Value::Object(inputs),
        attempt: 1,
        step: 0,
        conclusions: conclusions.into(),
        hidden_for: if state.answer == Answer::NoContent { state.list_lag } else { 0 },
        created_at: stamp(state),
        started_at: stamp(state),
    });
    let delay = state.hold_next_dispatch.take();
    if state.answer == Answer::NoContent || body["return_run_details"] != json!(true) {
        return (204, Value::Null, delay);
    }
    let mut answer = fixture("actions_dispatch_200_return_run_details.json");
    answer["workflow_run_id"] = json!(id);
    answer["run_url"] = json!(format!("https://api.github.com/repos/{owner}/{repo}/actions/runs/{id}"));
    answer["html_url"] = json!(format!("https://github.com/{owner}/{repo}/actions/runs/{id}"));
    (200, answer, delay)
}

fn list(state: &mut State, owner: &str, repo: &str, workflow: &str, request: &Request) -> (u16, Value) {
    let query: Vec<(String, String)> = request.url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let event = query.iter().find(|(k, _)| k == "event").map(|(_, v)| v.as_str());
    let created = query.iter().find(|(k, _)| k == "created").map(|(_, v)| v.trim_start_matches(">=").to_owned());
    let mut shown = Vec::new();
    let updated = stamp(state);
    for run in state.runs.iter_mut().rev().filter(|r| r.workflow == workflow) {
        if run.hidden_for > 0 {
            run.hidden_for -= 1;
            continue;
        }
        let recent = created.as_deref().is_none_or(|since| run.created_at.as_str() >= since);
        if event.is_none_or(|e| e == "workflow_dispatch") && recent {
            shown.push(run_json(run, owner, repo, &updated));
        }
    }
    (200, json!({"total_count": shown.len(), "workflow_runs": shown}))
}

/// GitHub's clock.
fn now(state: &State) -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now() + state.ahead
}

fn stamp(state: &State) -> String {
    now(state).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn find(state: &State, id: &str) -> Option<usize> {
    let id: i64 = id.parse().ok()?;
    state.runs.iter().position(|r| r.id == id)
}

/// The run as `GET /actions/runs/{id}` shows it: the fixture's run with this run's fields.
fn run_json(run: &Run, owner: &str, repo: &str, updated_at: &str) -> Value {
    let mut v = fixture("actions_get_run.json");
    let (status, conclusion) = match run.step {
        0 => ("queued", Value::Null),
        1 => ("in_progress", Value::Null),
        _ => ("completed", json!(run.conclusions.front().copied().unwrap_or("success"))),
    };
    let fields = [
        ("id", json!(run.id)),
        ("name", json!(run.name)),
        ("display_title", json!(run.name)),
        ("event", json!("workflow_dispatch")),
        ("status", json!(status)),
        ("conclusion", conclusion),
        ("run_attempt", json!(run.attempt)),
        ("html_url", json!(format!("https://github.com/{owner}/{repo}/actions/runs/{}", run.id))),
        ("url", json!(format!("https://api.github.com/repos/{owner}/{repo}/actions/runs/{}", run.id))),
        ("created_at", json!(run.created_at)),
        ("run_started_at", json!(run.started_at)),
        ("updated_at", json!(updated_at)),
        ("path", json!(format!(".github/workflows/{}", run.workflow))),
    ];
    for (k, value) in fields {
        v[k] = value;
    }
    v
}

/// The fixture's jobs as attempt `attempt` of `run` ran them: the first failed at "Run tests"
/// when the attempt's conclusion is not a success.
fn jobs(run: &Run, owner: &str, repo: &str, attempt: i64) -> Value {
    let mut v = fixture("actions_list_run_jobs.json");
    let failed = attempt == run.attempt && run.conclusions.front().is_some_and(|c| *c != "success");
    for (i, job) in v["jobs"].as_array_mut().into_iter().flatten().enumerate() {
        job["run_id"] = json!(run.id);
        job["run_attempt"] = json!(attempt);
        job["html_url"] = json!(format!("https://github.com/{owner}/{repo}/actions/runs/{}/job/{}", run.id, 100 + i));
        if i == 0 && failed {
            job["conclusion"] = json!(run.conclusions[0]);
            for step in job["steps"].as_array_mut().into_iter().flatten() {
                if step["name"] == "Run tests" {
                    step["conclusion"] = json!("failure");
                }
            }
        }
    }
    v
}

/// A real payload from `../shared/fixtures/github/`.
pub fn fixture(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/github").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}
