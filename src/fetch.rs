//! The one outbound HTTP discipline of the sources: connect and total timeouts, gzip, a body size
//! cap (after decompression), a redirect limit, a clear `User-Agent`, `ETag`/`Last-Modified`
//! conditional requests, and retries with exponential backoff and jitter that honour
//! `Retry-After` (RFC 9110 §10.2.3: delay-seconds or an HTTP date).

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};

use crate::config::HttpConfig;

/// `ETag` / `Last-Modified` of the last answer, sent back to get a 304.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    /// Sent as `If-None-Match`.
    pub etag: Option<String>,
    /// Sent as `If-Modified-Since`.
    pub last_modified: Option<String>,
}

/// A successful answer.
#[derive(Debug, Clone)]
pub enum Fetched {
    /// 304 Not Modified: nothing to parse.
    NotModified,
    /// A 2xx answer with its body.
    Body(Body),
}

/// A 2xx answer, body read in full (at most the size cap).
#[derive(Debug, Clone)]
pub struct Body {
    /// HTTP status.
    pub status: u16,
    /// The URL after redirects.
    pub final_url: url::Url,
    /// `Content-Type`, when given.
    pub content_type: Option<String>,
    /// Validators to store for the next conditional request.
    pub validators: Validators,
    /// The decompressed body.
    pub bytes: Bytes,
}

/// Why a fetch failed. [`FetchError::kind`] names the class for metrics and check results.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    /// The URL could not be requested at all.
    #[error("invalid request: {0}")]
    Request(String),
    /// Name resolution failed.
    #[error("DNS lookup failed: {0}")]
    Dns(String),
    /// TCP connection refused, reset or unreachable.
    #[error("connection failed: {0}")]
    Connect(String),
    /// TLS handshake or certificate failure.
    #[error("TLS failed: {0}")]
    Tls(String),
    /// No complete answer within the timeout.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// A non-2xx, non-304 status.
    #[error("HTTP {status}{}", retry_after.map(|d| format!(" (Retry-After {}s)", d.as_secs())).unwrap_or_default())]
    Status {
        /// The status code.
        status: u16,
        /// `Retry-After`, when the server sent one.
        retry_after: Option<Duration>,
    },
    /// The body exceeded the size cap.
    #[error("body larger than the {limit} byte limit")]
    TooLarge {
        /// The cap, in bytes.
        limit: u64,
    },
    /// More redirects than allowed.
    #[error("too many redirects")]
    Redirects,
    /// The body could not be read (reset mid-body, bad gzip ...).
    #[error("reading the body failed: {0}")]
    Body(String),
}

impl FetchError {
    /// One word for metrics labels and check results: `dns`, `connect`, `tls`, `timeout`,
    /// `http`, `too_large`, `redirect`, `body`, `request`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Request(_) => "request",
            Self::Dns(_) => "dns",
            Self::Connect(_) => "connect",
            Self::Tls(_) => "tls",
            Self::Timeout(_) => "timeout",
            Self::Status { .. } => "http",
            Self::TooLarge { .. } => "too_large",
            Self::Redirects => "redirect",
            Self::Body(_) => "body",
        }
    }

    /// Whether another attempt may succeed: timeouts, connection failures, 408, 429 and 5xx.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Timeout(_) | Self::Connect(_) | Self::Body(_) => true,
            Self::Status { status, .. } => *status == 408 || *status == 429 || *status >= 500,
            _ => false,
        }
    }

    /// The server's `Retry-After`, if it sent one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Classifies a reqwest error by walking its source chain (DNS, TLS, refused connection...).
pub fn classify(err: &reqwest::Error, timeout: Duration) -> FetchError {
    let chain = error_chain(err);
    if err.is_timeout() {
        return FetchError::Timeout(timeout);
    }
    if err.is_redirect() {
        return FetchError::Redirects;
    }
    if has_tls_error(err) {
        return FetchError::Tls(chain);
    }
    if is_dns_error(err) {
        return FetchError::Dns(chain);
    }
    if err.is_connect() {
        return FetchError::Connect(chain);
    }
    if err.is_body() || err.is_decode() {
        return FetchError::Body(chain);
    }
    if err.is_builder() || err.is_request() && !err.is_connect() && err.url().is_none() {
        return FetchError::Request(chain);
    }
    FetchError::Connect(chain)
}

/// The innermost cause of an error: the most specific words ("Connection refused", "invalid
/// peer certificate: UnknownIssuer"); the outer layers repeat the URL, which the caller logs.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut innermost = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        innermost = s.to_string();
        source = s.source();
    }
    innermost
}

fn is_dns_error(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(s) = source {
        let text = s.to_string().to_lowercase();
        if text.contains("dns error") || text.contains("failed to lookup address") || text.contains("name resolution") {
            return true;
        }
        source = s.source();
    }
    false
}

fn has_tls_error(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(s) = source {
        if s.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        // rustls errors reach us wrapped (and sometimes only as text) by hyper-util's connector.
        let text = s.to_string().to_lowercase();
        if ["invalid peer certificate", "received corrupt message", "handshake", "certificate verify", "tls "]
            .iter()
            .any(|t| text.contains(t))
        {
            return true;
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && io.get_ref().is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
        {
            return true;
        }
        source = s.source();
    }
    false
}

/// Parses `Retry-After`: delay-seconds or an HTTP date (then measured from now).
pub fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let delta = date.to_utc() - chrono::Utc::now();
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

/// The shared HTTP client of the sources, with the limits of `[http]`. Cheap to clone; one
/// connection pool, so connections to a host are reused.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    timeout: Duration,
    max_body: u64,
    retries: usize,
    retry_backoff: Duration,
    max_retry_after: Duration,
}

impl Fetcher {
    /// Builds the client. Fails only when the TLS stack cannot be initialised.
    pub fn new(cfg: &HttpConfig) -> Result<Self, FetchError> {
        let client = reqwest::Client::builder()
            .user_agent(&cfg.user_agent)
            .connect_timeout(cfg.connect_timeout.get())
            .timeout(cfg.timeout.get())
            .redirect(reqwest::redirect::Policy::limited(cfg.max_redirects))
            .gzip(true)
            .build()
            .map_err(|e| FetchError::Request(error_chain(&e)))?;
        Ok(Self {
            client,
            timeout: cfg.timeout.get(),
            max_body: cfg.max_body.0,
            retries: cfg.retries,
            retry_backoff: cfg.retry_backoff.get(),
            max_retry_after: cfg.max_retry_after.get(),
        })
    }

    /// The underlying client, for callers that build special requests (same limits).
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The body size cap in bytes.
    pub fn max_body(&self) -> u64 {
        self.max_body
    }

    /// GET `url` with conditional headers from `validators`, retrying transient failures.
    ///
    /// A `Retry-After` longer than `[http] max_retry_after` ends the retries (the next scheduled
    /// poll comes soon enough); a shorter one replaces the backoff delay when it is longer.
    pub async fn get(&self, url: &url::Url, validators: &Validators) -> Result<Fetched, FetchError> {
        let backoff = ExponentialBuilder::default().with_min_delay(self.retry_backoff).with_max_times(self.retries).with_jitter();
        let max_retry_after = self.max_retry_after;
        (|| self.get_once(url, validators))
            .retry(backoff)
            .when(FetchError::is_retryable)
            .adjust(move |err, delay| match (err.retry_after(), delay) {
                (Some(wait), Some(_)) if wait > max_retry_after => None,
                (Some(wait), Some(delay)) => Some(wait.max(delay)),
                (_, delay) => delay,
            })
            .notify(|err, delay| tracing::debug!(%url, error = %err, ?delay, "retrying fetch"))
            .await
    }

    async fn get_once(&self, url: &url::Url, validators: &Validators) -> Result<Fetched, FetchError> {
        let mut request = self.client.get(url.clone());
        if let Some(etag) = &validators.etag {
            request = request.header(header::IF_NONE_MATCH, etag);
        }
        if let Some(lm) = &validators.last_modified {
            request = request.header(header::IF_MODIFIED_SINCE, lm);
        }
        let response = request.send().await.map_err(|e| classify(&e, self.timeout))?;
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        if !status.is_success() {
            return Err(FetchError::Status { status: status.as_u16(), retry_after: parse_retry_after(response.headers()) });
        }
        let final_url = response.url().clone();
        let headers = response.headers().clone();
        let bytes = read_capped(response, self.max_body, self.timeout).await?;
        Ok(Fetched::Body(Body {
            status: status.as_u16(),
            final_url,
            content_type: header_str(&headers, header::CONTENT_TYPE),
            validators: Validators { etag: header_str(&headers, header::ETAG), last_modified: header_str(&headers, header::LAST_MODIFIED) },
            bytes,
        }))
    }
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// Reads a body, failing as soon as it passes `limit` bytes (a declared `Content-Length` over
/// the limit fails before reading anything).
pub async fn read_capped(mut response: reqwest::Response, limit: u64, timeout: Duration) -> Result<Bytes, FetchError> {
    if response.content_length().is_some_and(|len| len > limit) {
        return Err(FetchError::TooLarge { limit });
    }
    let mut buf = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| classify(&e, timeout))? {
        if buf.len() as u64 + chunk.len() as u64 > limit {
            return Err(FetchError::TooLarge { limit });
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(parse_retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(parse_retry_after(&h), Some(Duration::ZERO));
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(parse_retry_after(&h), None);
    }

    #[test]
    fn only_transient_failures_retry() {
        assert!(FetchError::Status { status: 503, retry_after: None }.is_retryable());
        assert!(FetchError::Status { status: 429, retry_after: None }.is_retryable());
        assert!(!FetchError::Status { status: 404, retry_after: None }.is_retryable());
        assert!(!FetchError::TooLarge { limit: 1 }.is_retryable());
        assert!(FetchError::Timeout(Duration::from_secs(1)).is_retryable());
    }
}
