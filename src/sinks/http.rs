//! The sinks' use of the one HTTP discipline: a client that follows no redirect (no write and no
//! credential crosses one: a 3xx is a permanent error naming where it leads and the setting to
//! fix, [`redirect_error`]), a total timeout per request, a bounded response size, and the
//! mapping of answers to delivery outcomes (retry 408/409/429/5xx, GitHub's rate-limit 403 and
//! transport errors, honouring `Retry-After` and `x-ratelimit-reset`; any other 4xx is
//! permanent: retrying the same request cannot help).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::config::HttpConfig;
use crate::fetch::redirect::{origin, without_query};
use crate::fetch::{classify, client, parse_retry_after, read_capped};
use crate::outbox::DeliveryError;

/// Largest answer a sink reads.
const MAX_ANSWER: u64 = 1024 * 1024;

/// A sink's HTTP client.
#[derive(Debug, Clone)]
pub struct SinkHttp {
    client: reqwest::Client,
    timeout: Duration,
    /// The service's name in errors (`Jira`, `PagerDuty` ...).
    service: &'static str,
}

/// A successful answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Status.
    pub status: StatusCode,
    /// Body as JSON (`Null` when empty or not JSON).
    pub json: Value,
}

impl SinkHttp {
    /// A client for `service` with the discipline of `http` and a total `timeout` per request.
    pub fn new(service: &'static str, http: &HttpConfig, timeout: Duration) -> Result<Self, DeliveryError> {
        let client = client(http).map_err(|e| DeliveryError::permanent(format!("cannot build the {service} client: {e}")))?;
        Ok(Self { client, timeout, service })
    }

    /// The underlying client, to build requests.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends `request`; a 2xx answer is `Ok`, anything else the matching delivery error.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Result<Answer, DeliveryError> {
        let service = self.service;
        let response = request
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| DeliveryError::retry(format!("{service}: {}", classify(&e, self.timeout))))?;
        let status = response.status();
        if status.is_redirection() {
            return Err(redirect_error(service, &response));
        }
        let retry_after = parse_retry_after(response.headers()).or_else(|| rate_limit_reset(response.headers()));
        let rate_limited = status == StatusCode::FORBIDDEN && rate_limited(response.headers());
        let body = read_capped(response, MAX_ANSWER, self.timeout).await.map_err(|e| DeliveryError::retry(format!("{service}: {e}")))?;
        let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(Answer { status, json });
        }
        let reason = format!("{service} answered HTTP {}{}", status.as_u16(), error_detail(&json));
        if status == StatusCode::TOO_MANY_REQUESTS
            || status == StatusCode::REQUEST_TIMEOUT
            || status == StatusCode::CONFLICT
            || status.is_server_error()
            || rate_limited
        {
            return Err(DeliveryError::Retry { reason, retry_after });
        }
        let fix = fix(service, status.as_u16()).map(|f| format!(" ({f})")).unwrap_or_default();
        Err(DeliveryError::Permanent { reason: format!("{reason}{fix}") })
    }
}

/// `Ok` once `ready` has come; until then a retry at that time, whose reason `why` gives from
/// the time (RFC 3339): how a sink waits for a service's index to show an uncertain attempt's
/// effect (Jira's search, GitHub's runs list) before making it again.
///
/// # Errors
/// `Retry` with `retry_after` until `ready`.
pub fn wait_until(ready: crate::model::Timestamp, why: impl FnOnce(&str) -> String) -> Result<(), DeliveryError> {
    let now = crate::model::Timestamp::now();
    if now >= ready {
        return Ok(());
    }
    Err(DeliveryError::Retry { reason: why(&ready.to_rfc3339()), retry_after: Some(ready.since(now)) })
}

/// The permanent error of a sink call answered with a redirect, which is never followed (its
/// body is a write and its headers hold the credentials): names both ends and the setting to fix.
pub fn redirect_error(service: &str, response: &reqwest::Response) -> DeliveryError {
    let to = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .and_then(|l| response.url().join(l).ok())
        .map_or_else(|| "an address it does not give".to_owned(), |t| without_query(&t));
    DeliveryError::permanent(format!(
        "{service} answered HTTP {}: redirect from {} to {to} not followed: a sink call never follows a redirect (no write and no credential crosses one); the sink URL redirects: configure the final URL ({})",
        response.status().as_u16(),
        origin(response.url()),
        url_setting(service)
    ))
}

/// The setting that holds `service`'s base URL.
fn url_setting(service: &str) -> &'static str {
    match service {
        "Slack" => "SLACK_API_URL or [slack] api_url",
        "Jira" => "JIRA_BASE_URL or [jira] base_url",
        "PagerDuty" => "PAGERDUTY_EVENTS_URL or [pagerduty] events_url",
        "Statuspage" => "STATUSPAGE_API_URL or [statuspage] api_url",
        "GitHub" => "GITHUB_API_URL or [github] api_url",
        _ => "its base URL",
    }
}

/// GitHub's primary rate limit: a 403 with `x-ratelimit-remaining: 0` (its secondary limits
/// send `Retry-After`), retried like a 429 (docs.github.com, "Rate limits for the REST API").
fn rate_limited(headers: &reqwest::header::HeaderMap) -> bool {
    headers.contains_key(reqwest::header::RETRY_AFTER)
        || headers.get("x-ratelimit-remaining").and_then(|v| v.to_str().ok()).is_some_and(|v| v.trim() == "0")
}

/// How long until GitHub's `x-ratelimit-reset` (epoch seconds), when the limit is spent.
fn rate_limit_reset(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    if headers.get("x-ratelimit-remaining")?.to_str().ok()?.trim() != "0" {
        return None;
    }
    let reset: i64 = headers.get("x-ratelimit-reset")?.to_str().ok()?.trim().parse().ok()?;
    let now = crate::model::Timestamp::now().as_millis() / 1000;
    Some(Duration::from_secs(u64::try_from(reset - now).unwrap_or(0).max(1)))
}

/// What to fix when `service` refuses a request with `status` (from each vendor's API
/// documentation of its error answers).
fn fix(service: &str, status: u16) -> Option<&'static str> {
    Some(match (service, status) {
        ("Jira", 400) => "Jira refused a field: check [jira] issue_type, priorities and labels against the project",
        ("Jira", 401) => "JIRA_USER_EMAIL and JIRA_API_TOKEN are refused: create an API token at id.atlassian.com and set both",
        ("Jira", 403) => "the Jira user may not do this in the project: grant it Browse, Create and Transition issues",
        ("Jira", 404) => "check JIRA_BASE_URL and JIRA_PROJECT_KEY",
        ("PagerDuty", 400) => "PagerDuty refused the event: check PAGERDUTY_ROUTING_KEY (an Events API v2 integration key)",
        ("PagerDuty", 401 | 403 | 404) => "check PAGERDUTY_EVENTS_URL and PAGERDUTY_ROUTING_KEY",
        ("Statuspage", 401 | 403) => "STATUSPAGE_API_KEY is refused: create a key under API info in Statuspage",
        ("Statuspage", 404) => "check STATUSPAGE_PAGE_ID and the partner's [public_status] component_id",
        ("Statuspage", 400 | 422) => "Statuspage refused the request as it is (see its error)",
        ("GitHub", 401) => {
            "GitHub refuses the credentials: set GITHUB_TOKEN to a fine-grained token (Actions: read and write on the test repositories, Metadata: read), or check GITHUB_APP_ID and its private key"
        }
        ("GitHub", 403) => "the token or App may not do this: grant it Actions: read and write on the repository",
        ("GitHub", 404) => {
            "GitHub answers 404 for what the token cannot see: check [compat] repository and workflow in the partner file, and that the token or App has access to that repository"
        }
        _ => return None,
    })
}

/// The error words an API put in its JSON answer (Jira `errorMessages` / `errors`, PagerDuty
/// `errors`, Statuspage `error`), short.
fn error_detail(json: &Value) -> String {
    let parts: Vec<String> = ["errorMessages", "errors", "error", "message"]
        .iter()
        .filter_map(|k| json.get(*k))
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .filter(|s| !s.is_empty() && s != "[]" && s != "{}")
        .collect();
    if parts.is_empty() { String::new() } else { format!(": {}", parts.join("; ").chars().take(300).collect::<String>()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_says_what_to_fix() {
        assert!(fix("Jira", 401).is_some_and(|f| f.contains("JIRA_API_TOKEN")));
        assert!(fix("PagerDuty", 400).is_some_and(|f| f.contains("PAGERDUTY_ROUTING_KEY")));
        assert!(fix("Statuspage", 404).is_some_and(|f| f.contains("STATUSPAGE_PAGE_ID")));
        assert!(fix("GitHub", 401).is_some_and(|f| f.contains("GITHUB_TOKEN")));
        assert_eq!(fix("Jira", 418), None);
    }
}
