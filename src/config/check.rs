//! `synthetics/*.toml`: one synthetic check per file (keys in DESIGN.md).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::auth::AuthConfig;
use super::load::Problem;
use super::partner::Partner;
use super::request::{FollowRedirects, HeaderText};
use super::status_page::JsonPathExpr;
use super::types::{Cron, Duration, HttpUrl, Pattern};
use crate::model::{CheckId, PartnerId, Priority};

/// One check file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckConfig {
    /// `[a-z0-9-]+`, unique across `synthetics/`.
    pub id: CheckId,
    /// The partner it checks (a file in `partners/`).
    pub partner: PartnerId,
    /// A disabled check is validated but never run, and needs none of its environment variables.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The URL (a plain check); a sandbox check gives its URLs per step.
    #[serde(default)]
    pub url: Option<HttpUrl>,
    /// GET, HEAD or OPTIONS; POST only with `read_only_post = true` and a `reason`.
    #[serde(default)]
    pub method: Method,
    /// Request headers; a value holding a `${VAR}` is a secret ([`HeaderText`]).
    #[serde(default)]
    pub headers: BTreeMap<String, HeaderText>,
    /// Which redirects its GET and HEAD requests follow: `same_host` (default), `any` (the
    /// credentials stay on the configured host) or `none`. Other methods follow none.
    #[serde(default)]
    pub follow_redirects: FollowRedirects,
    /// Request body (a read-only POST: a GraphQL query or a search).
    #[serde(default)]
    pub body: Option<String>,
    /// Run every this long. Default 5 min (unless `cron` is set).
    #[serde(default)]
    pub interval: Option<Duration>,
    /// Or run on this cron schedule (UTC).
    #[serde(default)]
    pub cron: Option<Cron>,
    /// Time allowed for one run (a sandbox check: per step). Default 10 s.
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
    /// Consecutive confirmed failures that turn the check failing. Default 1.
    #[serde(default = "one")]
    pub failure_threshold: u32,
    /// Consecutive successes that turn it healthy again. Default 1.
    #[serde(default = "one")]
    pub success_threshold: u32,
    /// Delay of the re-run that confirms a failure. Default 15 s.
    #[serde(default = "default_confirm_after")]
    pub confirm_after: Duration,
    /// A check whose counted results stay `warn` this long posts one Slack notice to the
    /// partner's channel, and one when a pass clears it. Default 15 min.
    #[serde(default = "default_warn_after")]
    pub warn_after: Duration,
    /// Jira priority of its incident. Default P4.
    #[serde(default)]
    pub priority: Priority,
    /// Allows `method = "POST"` for an endpoint that only reads (GraphQL, search).
    #[serde(default)]
    pub read_only_post: bool,
    /// Why a POST is read-only (required with `read_only_post`).
    #[serde(default)]
    pub reason: Option<String>,
    /// A write check against the partner's sandbox (`sandbox_hosts`), as `[[step]]`s.
    #[serde(default)]
    pub sandbox: bool,
    /// How it authenticates.
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    /// Assertions; none means `status = "2xx"`.
    #[serde(default, rename = "assert")]
    pub assertions: Vec<Assertion>,
    /// (sandbox) Requests run in order; a failed step stops the sequence.
    #[serde(default, rename = "step")]
    pub steps: Vec<StepConfig>,
    /// (sandbox) Requests that always run after the steps, even when one failed.
    #[serde(default)]
    pub cleanup: Vec<StepConfig>,
}

fn yes() -> bool {
    true
}
fn one() -> u32 {
    1
}
fn default_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_confirm_after() -> Duration {
    Duration::from_secs(15)
}
fn default_warn_after() -> Duration {
    Duration::from_secs(15 * 60)
}

/// One `[[step]]` or `[[cleanup]]` of a sandbox check. `${name}` in `url`, `headers` and `body`
/// is replaced by a value an earlier step captured.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepConfig {
    /// A name for results ("create", "update" ...).
    #[serde(default)]
    pub name: Option<String>,
    /// Any method (sandbox hosts only).
    #[serde(default)]
    pub method: Method,
    /// The URL, possibly with `${capture}` placeholders.
    pub url: String,
    /// Request headers; a value holding a `${VAR}` of the environment is a secret.
    #[serde(default)]
    pub headers: BTreeMap<String, HeaderText>,
    /// Request body.
    #[serde(default)]
    pub body: Option<String>,
    /// Values to capture from the JSON answer: name -> JSONPath.
    #[serde(default)]
    pub capture: BTreeMap<String, JsonPathExpr>,
    /// Assertions of this step; none means `status = "2xx"`.
    #[serde(default, rename = "assert")]
    pub assertions: Vec<Assertion>,
}

/// An HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    /// GET
    #[default]
    Get,
    /// HEAD
    Head,
    /// OPTIONS
    Options,
    /// POST
    Post,
    /// PUT
    Put,
    /// PATCH
    Patch,
    /// DELETE
    Delete,
}

impl Method {
    /// Methods that never change anything.
    pub fn is_read_only(self) -> bool {
        matches!(self, Self::Get | Self::Head | Self::Options)
    }

    /// As reqwest's method.
    pub fn as_reqwest(self) -> reqwest::Method {
        match self {
            Self::Get => reqwest::Method::GET,
            Self::Head => reqwest::Method::HEAD,
            Self::Options => reqwest::Method::OPTIONS,
            Self::Post => reqwest::Method::POST,
            Self::Put => reqwest::Method::PUT,
            Self::Patch => reqwest::Method::PATCH,
            Self::Delete => reqwest::Method::DELETE,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_reqwest().as_str())
    }
}

/// One `[[assert]]`: exactly one kind of condition.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "RawAssertion")]
pub enum Assertion {
    /// The status code is one of these (value, list or class like `2xx`).
    Status(StatusMatcher),
    /// The response time stays under `warn_above` (else warn) and `fail_above` (else fail).
    Latency(LatencyThresholds),
    /// A JSONPath (RFC 9535) over the JSON body.
    JsonPath {
        /// The expression.
        path: JsonPathExpr,
        /// What must hold of the first node.
        expect: ValueCheck,
    },
    /// A response header.
    Header {
        /// Its name (case-insensitive).
        name: String,
        /// What must hold of its value.
        expect: ValueCheck,
    },
    /// The body contains this text.
    BodyContains(String),
    /// The 95th percentile of this check's own latencies over `window` (stored results plus
    /// this one) stays under the thresholds.
    LatencyP95 {
        /// The window, e.g. 1 h.
        window: Duration,
        /// LatencyThresholds.
        thresholds: LatencyThresholds,
    },
}

/// Warn and fail thresholds of a duration.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyThresholds {
    /// Above this: warn.
    #[serde(default)]
    pub warn_above: Option<Duration>,
    /// Above this: fail.
    #[serde(default)]
    pub fail_above: Option<Duration>,
}

/// `latency_p95 = { window = "1h", warn_above = "2s", fail_above = "5s" }`
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct P95Config {
    /// The window.
    pub window: Duration,
    /// Above this: warn.
    #[serde(default)]
    pub warn_above: Option<Duration>,
    /// Above this: fail.
    #[serde(default)]
    pub fail_above: Option<Duration>,
}

/// What must hold of a value (JSONPath node or header).
#[derive(Debug, Clone)]
pub enum ValueCheck {
    /// It exists (`exists = true`) or does not (`exists = false`).
    Exists(bool),
    /// It equals this (JSON equality; a header compares as text).
    Equals(serde_json::Value),
    /// Its text matches this regular expression.
    Matches(Pattern),
}

/// Status codes that pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusMatcher {
    /// One code.
    Code(u16),
    /// Any of these.
    Codes(Vec<u16>),
    /// A class: `2` for `2xx`.
    Class(u16),
}

impl StatusMatcher {
    /// Whether `status` passes.
    pub fn matches(&self, status: u16) -> bool {
        match self {
            Self::Code(c) => *c == status,
            Self::Codes(cs) => cs.contains(&status),
            Self::Class(c) => status / 100 == *c,
        }
    }
}

impl fmt::Display for StatusMatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Code(c) => write!(f, "{c}"),
            Self::Codes(cs) => write!(f, "{}", cs.iter().map(u16::to_string).collect::<Vec<_>>().join(" or ")),
            Self::Class(c) => write!(f, "{c}xx"),
        }
    }
}

impl TryFrom<toml::Value> for StatusMatcher {
    type Error = String;
    fn try_from(v: toml::Value) -> Result<Self, String> {
        let code = |n: i64| u16::try_from(n).ok().filter(|c| (100..600).contains(c)).ok_or_else(|| format!("{n} is not an HTTP status"));
        match v {
            toml::Value::Integer(n) => code(n).map(Self::Code),
            toml::Value::Array(items) => items
                .into_iter()
                .map(|i| i.as_integer().ok_or_else(|| "a status list holds numbers".to_owned()).and_then(code))
                .collect::<Result<_, _>>()
                .map(Self::Codes),
            toml::Value::String(s) => {
                let t = s.trim().to_ascii_lowercase();
                match t.strip_suffix("xx").and_then(|d| d.parse::<u16>().ok()) {
                    Some(class @ 1..=5) => Ok(Self::Class(class)),
                    _ => t
                        .parse::<i64>()
                        .map_err(|_| format!("`{s}` is not a status, a list or a class like \"2xx\""))
                        .and_then(code)
                        .map(Self::Code),
                }
            }
            other => Err(format!("`{other}` is not a status, a list or a class like \"2xx\"")),
        }
    }
}

/// The table as written; turned into an [`Assertion`] or a clear error.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAssertion {
    status: Option<toml::Value>,
    latency: Option<LatencyThresholds>,
    json_path: Option<JsonPathExpr>,
    header: Option<String>,
    body_contains: Option<String>,
    latency_p95: Option<P95Config>,
    exists: Option<bool>,
    equals: Option<toml::Value>,
    matches: Option<Pattern>,
}

impl TryFrom<RawAssertion> for Assertion {
    type Error = String;
    fn try_from(raw: RawAssertion) -> Result<Self, String> {
        let kinds = [
            raw.status.is_some(),
            raw.latency.is_some(),
            raw.json_path.is_some(),
            raw.header.is_some(),
            raw.body_contains.is_some(),
            raw.latency_p95.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() != 1 {
            return Err("an [[assert]] has exactly one of status, latency, json_path, header, body_contains, latency_p95".to_owned());
        }
        let checks = [raw.exists.is_some(), raw.equals.is_some(), raw.matches.is_some()].iter().filter(|k| **k).count();
        let takes_check = raw.json_path.is_some() || raw.header.is_some();
        if !takes_check && checks > 0 {
            return Err("exists / equals / matches go with json_path or header".to_owned());
        }
        if takes_check && checks > 1 {
            return Err("give one of exists, equals, matches".to_owned());
        }
        let expect = match (raw.exists, raw.equals, raw.matches) {
            (Some(e), _, _) => ValueCheck::Exists(e),
            (_, Some(v), _) => ValueCheck::Equals(serde_json::to_value(v).map_err(|e| e.to_string())?),
            (_, _, Some(p)) => ValueCheck::Matches(p),
            _ => ValueCheck::Exists(true),
        };
        if let Some(status) = raw.status {
            return StatusMatcher::try_from(status).map(Self::Status);
        }
        if let Some(t) = raw.latency {
            return Ok(Self::Latency(t));
        }
        if let Some(path) = raw.json_path {
            return Ok(Self::JsonPath { path, expect });
        }
        if let Some(name) = raw.header {
            return Ok(Self::Header { name, expect });
        }
        if let Some(p) = raw.latency_p95 {
            return Ok(Self::LatencyP95 {
                window: p.window,
                thresholds: LatencyThresholds { warn_above: p.warn_above, fail_above: p.fail_above },
            });
        }
        Ok(Self::BodyContains(raw.body_contains.unwrap_or_default()))
    }
}

/// Shortest interval accepted.
const MIN_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

impl CheckConfig {
    /// The schedule: `cron` if set, else `interval` (default 5 min).
    pub fn interval(&self) -> std::time::Duration {
        self.interval.map_or(std::time::Duration::from_secs(300), Duration::get)
    }

    /// Every secret the check sends (its `[auth]`'s, and the `${VAR}` values of its headers and
    /// its steps' headers), for redaction from its results.
    pub fn secrets(&self) -> Vec<&str> {
        let headers = self.headers.values().chain(self.steps.iter().chain(&self.cleanup).flat_map(|s| s.headers.values()));
        let mut secrets: Vec<&str> = self.auth.iter().flat_map(AuthConfig::secrets).chain(headers.flat_map(HeaderText::secrets)).collect();
        secrets.retain(|s| !s.is_empty());
        secrets
    }

    /// Marks the header values that `raw` (the file before `${VAR}` interpolation) writes with a
    /// variable of the environment as secrets; `captures` are a sandbox check's own
    /// placeholders, not the environment's.
    pub(super) fn mark_secret_headers(&mut self, raw: &toml::Value, captures: &[String], env: super::load::EnvLookup<'_>) {
        let raw_headers = |table: Option<&toml::Value>| -> Vec<(String, String)> {
            table
                .and_then(|h| h.get("headers"))
                .and_then(toml::Value::as_table)
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                .collect()
        };
        let mark = |headers: &mut BTreeMap<String, HeaderText>, raw: Vec<(String, String)>| {
            for (name, text) in raw {
                if let Some(header) = headers.get_mut(&name) {
                    header.mark(&text, captures, env);
                }
            }
        };
        mark(&mut self.headers, raw_headers(Some(raw)));
        for (list, key) in [(&mut self.steps, "step"), (&mut self.cleanup, "cleanup")] {
            let raws = raw.get(key).and_then(toml::Value::as_array);
            for (i, step) in list.iter_mut().enumerate() {
                mark(&mut step.headers, raw_headers(raws.and_then(|r| r.get(i))));
            }
        }
    }

    /// Checks that need more than one key, or the partner file.
    pub fn check(&self, file: &Path, partner: Option<&Partner>, problems: &mut Vec<Problem>) {
        let mut problem = |key: &str, reason: String| problems.push(Problem::new(file, key, reason));
        let Some(partner) = partner else {
            problem("partner", format!("no partner `{}` in partners/", self.partner));
            return;
        };
        if self.interval.is_some() && self.cron.is_some() {
            problem("cron", "give interval or cron, not both".to_owned());
        }
        if self.interval.is_some_and(|i| i.get() < MIN_INTERVAL) {
            problem("interval", "run at most every second".to_owned());
        }
        if self.failure_threshold == 0 || self.success_threshold == 0 {
            problem("failure_threshold", "thresholds are at least 1".to_owned());
        }
        for (name, value) in self.headers.iter().chain(self.steps.iter().chain(&self.cleanup).flat_map(|s| s.headers.iter())) {
            let value = value.expose();
            if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() || reqwest::header::HeaderValue::from_str(value).is_err() {
                problem(&format!("headers.{name}"), "not a valid HTTP header name and value".to_owned());
            }
        }
        if self.sandbox {
            self.check_sandbox(partner, &mut problem);
            return;
        }
        if self.url.is_none() {
            problem("url", "missing: a check needs a url (or sandbox = true with [[step]]s)".to_owned());
        }
        if !self.steps.is_empty() || !self.cleanup.is_empty() {
            problem("step", "[[step]] and [[cleanup]] need sandbox = true".to_owned());
        }
        let allowed_post = self.method == Method::Post && self.read_only_post;
        if !(self.method.is_read_only() || allowed_post) {
            problem(
                "method",
                format!(
                    "{} is not read-only: use GET, HEAD or OPTIONS (a read-only POST needs read_only_post = true and a reason; writes need sandbox = true)",
                    self.method
                ),
            );
        }
        if self.read_only_post && self.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
            problem("reason", "read_only_post = true needs a reason (why this POST changes nothing)".to_owned());
        }
    }

    fn check_sandbox(&self, partner: &Partner, problem: &mut impl FnMut(&str, String)) {
        if self.steps.is_empty() {
            problem("step", "a sandbox check needs at least one [[step]]".to_owned());
        }
        if self.url.is_some() {
            problem("url", "a sandbox check gives its URLs per [[step]]".to_owned());
        }
        let steps = self
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| (format!("step[{i}].url"), s))
            .chain(self.cleanup.iter().enumerate().map(|(i, s)| (format!("cleanup[{i}].url"), s)));
        for (key, step) in steps {
            let probe = step.url.replace("${", "x").replace('}', "x");
            match url::Url::parse(&probe) {
                Ok(u) if partner.sandbox_hosts.iter().any(|h| Some(h.as_str()) == u.host_str()) => {}
                Ok(u) => problem(
                    &key,
                    format!(
                        "host `{}` is not in sandbox_hosts of partners/{}.toml ({}): sandbox checks write only to sandboxes",
                        u.host_str().unwrap_or(""),
                        partner.id,
                        partner.sandbox_hosts.join(", ")
                    ),
                ),
                Err(e) => problem(&key, format!("`{}` is not a URL: {e}", step.url)),
            }
        }
    }
}
