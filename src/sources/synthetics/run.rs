//! Running a check once: the request (or the steps of a sandbox check), its timing, the error
//! kind of a failure, and every assertion's outcome. No retries: a failure is confirmed by the
//! engine's re-run, not hidden here.
//!
//! Redirects follow the check's `follow_redirects` (GET and HEAD only; never to another host with
//! the credentials: [`crate::fetch::redirect`]). Every secret the check sends (its `[auth]`'s, the
//! `${VAR}` values of its headers) is replaced by `***` in what the answer shows and in the
//! result, so no secret is stored, printed or logged even when an API echoes it back.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use tokio::time::Instant;

use super::assert::{Observed, evaluate};
use crate::config::{Assertion, CheckConfig, HeaderText, HttpConfig, Method, StepConfig, redact};
use crate::fetch::{Authorized, FetchError, Policy, classify, client, read_capped, redirect};
use crate::model::{AssertionResult, ErrorKind, Outcome, Timestamp, worst};

/// A check's own latency history, for `latency_p95` assertions.
pub trait LatencyHistory: Sync {
    /// The 95th percentile over `window` of the stored latencies plus `this_one`.
    fn p95(&self, window: Duration, this_one: Duration) -> Option<Duration>;
}

/// No history (a one-off run of `sparky check` before any is loaded).
impl LatencyHistory for () {
    fn p95(&self, _: Duration, this_one: Duration) -> Option<Duration> {
        Some(this_one)
    }
}

/// The result of one run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunOutput {
    /// When it started.
    pub started_at: Timestamp,
    /// How long it took (all steps of a sandbox check); `duration_ms` in JSON.
    #[serde(rename = "duration_ms", serialize_with = "as_ms")]
    pub duration: Duration,
    /// The (last) HTTP status, when an answer came.
    pub http_status: Option<u16>,
    /// Pass, warn or fail.
    pub outcome: Outcome,
    /// Why it failed.
    pub error_kind: Option<ErrorKind>,
    /// The first failure (or warning) in words.
    pub message: Option<String>,
    /// Every assertion's outcome (prefixed by the step name in a sandbox check).
    pub assertions: Vec<AssertionResult>,
}

fn as_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// An answer.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: bytes::Bytes,
    latency: Duration,
}

/// A request that got no usable answer.
struct Failure {
    kind: ErrorKind,
    message: String,
}

/// Runs checks: one HTTP client (connections reused per host) and, for checks with `[auth]`,
/// the client of requests with credentials with its token cache shared by every check.
pub struct Runner {
    client: reqwest::Client,
    authorized: Authorized,
    max_body: u64,
    max_redirects: usize,
}

impl Runner {
    /// A runner with the discipline of `http` (following at most `[http] max_redirects`, as
    /// each check's `follow_redirects` says), reading at most `max_body` bytes of a body.
    pub fn new(http: &HttpConfig, max_body: u64) -> Result<Self, FetchError> {
        Ok(Self { client: client(http)?, authorized: Authorized::new(http)?, max_body, max_redirects: http.max_redirects })
    }

    /// Runs `check` once.
    pub async fn run(&self, check: &CheckConfig, history: &dyn LatencyHistory) -> RunOutput {
        let started_at = Timestamp::now();
        let started = Instant::now();
        let (status, assertions, failure) =
            if check.sandbox { self.sandbox(check, history).await } else { self.plain(check, history).await };
        let outcome = match &failure {
            Some(_) => Outcome::Fail,
            None => worst(&assertions),
        };
        let error_kind =
            failure.as_ref().map(|f| f.kind).or_else(|| (outcome == Outcome::Fail).then(|| failure_kind(status, &check.assertions)));
        let message = failure.map(|f| f.message).or_else(|| first_problem(&assertions));
        let secrets = check.secrets();
        let message = message.map(|m| redact(&m, &secrets));
        let assertions = assertions
            .into_iter()
            .map(|a| AssertionResult { assertion: redact(&a.assertion, &secrets), detail: redact(&a.detail, &secrets), ..a })
            .collect();
        RunOutput { started_at, duration: started.elapsed(), http_status: status, outcome, error_kind, message, assertions }
    }

    async fn plain(&self, check: &CheckConfig, history: &dyn LatencyHistory) -> (Option<u16>, Vec<AssertionResult>, Option<Failure>) {
        let Some(url) = &check.url else {
            return (None, Vec::new(), Some(Failure { kind: ErrorKind::Connect, message: "no url".to_owned() }));
        };
        let headers = headers(&check.headers, &HashMap::new());
        match self.send(check, check.method, url.as_str(), headers, check.body.clone()).await {
            Err(f) => (None, Vec::new(), Some(f)),
            Ok(answer) => (Some(answer.status), assess(&check.assertions, &answer.redacted(&check.secrets()), history), None),
        }
    }

    /// The steps in order (stopping at the first failure), then every cleanup step.
    async fn sandbox(&self, check: &CheckConfig, history: &dyn LatencyHistory) -> (Option<u16>, Vec<AssertionResult>, Option<Failure>) {
        let mut captures = HashMap::new();
        let mut results = Vec::new();
        let mut status = None;
        let mut failure = None;
        for (i, step) in check.steps.iter().enumerate() {
            let name = step.name.clone().unwrap_or_else(|| format!("step {}", i + 1));
            match self.step(check, step, &name, &mut captures, history).await {
                Ok((code, step_results)) => {
                    status = Some(code);
                    let failed = worst(&step_results) == Outcome::Fail;
                    if failed {
                        let message = first_problem(&step_results).unwrap_or_default();
                        failure = Some(Failure { kind: failure_kind(Some(code), &step.assertions), message });
                    }
                    results.extend(step_results);
                    if failed {
                        break;
                    }
                }
                Err(f) => {
                    results.push(AssertionResult {
                        assertion: format!("{name}: request"),
                        outcome: Outcome::Fail,
                        detail: f.message.clone(),
                    });
                    failure = Some(f);
                    break;
                }
            }
        }
        for (i, step) in check.cleanup.iter().enumerate() {
            let name = format!("cleanup: {}", step.name.clone().unwrap_or_else(|| format!("step {}", i + 1)));
            // A failed cleanup leaves test data behind: a warning, not the check's failure.
            let outcome = match self.step(check, step, &name, &mut captures, history).await {
                Ok((_, r)) if worst(&r) != Outcome::Fail => None,
                Ok((_, r)) => first_problem(&r),
                Err(f) => Some(f.message),
            };
            if let Some(detail) = outcome {
                results.push(AssertionResult { assertion: format!("{name} succeeds"), outcome: Outcome::Warn, detail });
            }
        }
        (status, results, failure)
    }

    async fn step(
        &self,
        check: &CheckConfig,
        step: &StepConfig,
        name: &str,
        captures: &mut HashMap<String, String>,
        history: &dyn LatencyHistory,
    ) -> Result<(u16, Vec<AssertionResult>), Failure> {
        let missing = |what: String| Failure { kind: ErrorKind::Assertion, message: format!("{name}: {what}") };
        let url = substitute(&step.url, captures).map_err(|v| missing(format!("no captured value for ${{{v}}}")))?;
        let body = step
            .body
            .as_deref()
            .map(|b| substitute(b, captures))
            .transpose()
            .map_err(|v| missing(format!("no captured value for ${{{v}}}")))?;
        let answer = self.send(check, step.method, &url, headers(&step.headers, captures), body).await?;
        let (status, raw_body) = (answer.status, answer.body.clone());
        let mut results = assess(&step.assertions, &answer.redacted(&check.secrets()), history);
        for r in &mut results {
            r.assertion = format!("{name}: {}", r.assertion);
        }
        if !step.capture.is_empty() {
            // Captured from the answer as it came: a later step sends what the API gave.
            results.extend(capture(step, name, &raw_body, captures));
        }
        Ok((status, results))
    }

    /// Sends one request of `check`, with its credentials when it has `[auth]` (on a 401 with
    /// OAuth 2.0 the token is refreshed once), following redirects as its `follow_redirects`
    /// says; `headers` are sent with the secret ones named so they never leave the host.
    async fn send(
        &self,
        check: &CheckConfig,
        method: Method,
        url: &str,
        headers: Headers,
        body: Option<String>,
    ) -> Result<Answer, Failure> {
        let timeout = check.timeout.get();
        let Headers { map: headers, secret } = headers;
        let build = |client: &reqwest::Client| {
            let request = client.request(method.as_reqwest(), url).headers(headers.clone()).timeout(timeout);
            match &body {
                Some(body) => request.body(body.clone()),
                None => request,
            }
        };
        let policy = Policy::check(check.follow_redirects, self.max_redirects);
        let (response, started) = match &check.auth {
            Some(auth) => self.authorized.send(auth, timeout, &policy, &secret, build).await.map(|a| (a.response, a.sent_at)),
            None => {
                let started = Instant::now();
                match build(&self.client).build() {
                    Ok(request) => redirect::send(&self.client, request, &policy, &secret, timeout).await.map(|r| (r, started)),
                    Err(e) => Err(classify(&e, timeout)),
                }
            }
        }
        .map_err(|e| transport(&e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = read_capped(response, self.max_body, timeout).await.map_err(|e| transport(&e))?;
        Ok(Answer { status, headers, body, latency: started.elapsed() })
    }
}

impl Answer {
    /// The answer as assertions see it: every secret in its body and headers replaced by `***`
    /// (an API that echoes a header back must not get it stored in a result).
    fn redacted(self, secrets: &[&str]) -> Self {
        if secrets.is_empty() {
            return self;
        }
        let text = String::from_utf8_lossy(&self.body);
        let body = if secrets.iter().any(|s| text.contains(s)) { bytes::Bytes::from(redact(&text, secrets)) } else { self.body };
        let headers = self
            .headers
            .iter()
            .map(|(name, value)| match value.to_str() {
                Ok(v) if secrets.iter().any(|s| v.contains(s)) => {
                    (name.clone(), HeaderValue::from_str(&redact(v, secrets)).unwrap_or_else(|_| HeaderValue::from_static("***")))
                }
                _ => (name.clone(), value.clone()),
            })
            .collect();
        Self { body, headers, ..self }
    }
}

fn assess(assertions: &[Assertion], answer: &Answer, history: &dyn LatencyHistory) -> Vec<AssertionResult> {
    let observed = Observed { status: answer.status, headers: &answer.headers, body: &answer.body, latency: answer.latency };
    evaluate(assertions, &observed, &|window| history.p95(window, answer.latency))
}

fn transport(e: &FetchError) -> Failure {
    Failure { kind: e.kind(), message: e.to_string() }
}

/// The kind of an assertion failure: `auth` for a refused 401/403, `http` when the status
/// assertion failed (none given: 2xx), `assertion` otherwise.
fn failure_kind(status: Option<u16>, assertions: &[Assertion]) -> ErrorKind {
    let status_ok = |code: u16| {
        if assertions.is_empty() {
            return code / 100 == 2;
        }
        assertions.iter().all(|a| match a {
            Assertion::Status(m) => m.matches(code),
            _ => true,
        })
    };
    match status {
        Some(code @ (401 | 403)) if !status_ok(code) => ErrorKind::Auth,
        Some(code) if !status_ok(code) => ErrorKind::Http,
        _ => ErrorKind::Assertion,
    }
}

fn first_problem(results: &[AssertionResult]) -> Option<String> {
    let worst = worst(results);
    (worst != Outcome::Pass)
        .then(|| results.iter().find(|r| r.outcome == worst).map(|r| format!("{}: {}", r.assertion, r.detail)))
        .flatten()
}

/// Request headers, and the names of those whose value is a secret.
struct Headers {
    map: HeaderMap,
    secret: Vec<HeaderName>,
}

fn headers(configured: &std::collections::BTreeMap<String, HeaderText>, captures: &HashMap<String, String>) -> Headers {
    let mut out = Headers { map: HeaderMap::new(), secret: Vec::new() };
    for (k, v) in configured {
        let value = substitute(v.expose(), captures).unwrap_or_else(|_| v.expose().to_owned());
        let (Ok(name), Ok(mut value)) = (HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(&value)) else { continue };
        if v.is_secret() {
            value.set_sensitive(true);
            out.secret.push(name.clone());
        }
        out.map.insert(name, value);
    }
    out
}

/// Replaces `${name}` with captured values; `Err(name)` for one not captured.
fn substitute(text: &str, captures: &HashMap<String, String>) -> Result<String, String> {
    crate::config::expand(text, &|name| captures.get(name).cloned())
}

fn capture(step: &StepConfig, name: &str, body: &[u8], captures: &mut HashMap<String, String>) -> Vec<AssertionResult> {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    step.capture
        .iter()
        .filter_map(|(var, path)| {
            let node = json.as_ref().and_then(|j| path.path().query(j).first().cloned());
            match node {
                Some(Value::String(s)) => {
                    captures.insert(var.clone(), s);
                    None
                }
                Some(other) => {
                    captures.insert(var.clone(), other.to_string());
                    None
                }
                None => Some(AssertionResult {
                    assertion: format!("{name}: capture {var}"),
                    outcome: Outcome::Fail,
                    detail: "no node in the answer".to_owned(),
                }),
            }
        })
        .collect()
}
