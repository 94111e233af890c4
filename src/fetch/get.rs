//! The sources' GET (feeds, status pages): a client of the discipline with `[http]`'s limits,
//! `ETag`/`Last-Modified` conditional requests, and retries with exponential backoff and jitter
//! that honour `Retry-After`. Redirects are followed to any host up to `[http] max_redirects` (a
//! feed or a public page moves; such a request carries no credential); with credentials
//! (`[status_page.auth]`), through [`Authorized`], on the same host only, the OAuth 2.0 token
//! cached and refreshed once on a 401.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};

use super::redirect::{self, Policy};
use super::{Authorized, FetchError, classify, client, parse_retry_after, read_capped};
use crate::config::{AuthConfig, HttpConfig};

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

/// The shared HTTP client of the sources, with the limits of `[http]`. Cheap to clone; one
/// connection pool, so connections to a host are reused, and one token cache.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    authorized: Authorized,
    timeout: Duration,
    max_body: u64,
    retries: usize,
    retry_backoff: Duration,
    max_retry_after: Duration,
    max_redirects: usize,
}

impl Fetcher {
    /// Builds the client. Fails only when the TLS stack cannot be initialised.
    pub fn new(cfg: &HttpConfig) -> Result<Self, FetchError> {
        Ok(Self {
            client: client(cfg)?,
            authorized: Authorized::new(cfg)?,
            timeout: cfg.timeout.get(),
            max_body: cfg.max_body.0,
            retries: cfg.retries,
            retry_backoff: cfg.retry_backoff.get(),
            max_retry_after: cfg.max_retry_after.get(),
            max_redirects: cfg.max_redirects,
        })
    }

    /// The same fetcher without retries and with at most `timeout` per attempt (triage's fresh
    /// look at a partner's page must not wait for a page that hangs).
    pub fn quick(&self, timeout: Duration) -> Self {
        Self { retries: 0, timeout: self.timeout.min(timeout), ..self.clone() }
    }

    /// GET `url` with conditional headers from `validators`, retrying transient failures.
    ///
    /// A `Retry-After` longer than `[http] max_retry_after` ends the retries (the next scheduled
    /// poll comes soon enough); a shorter one replaces the backoff delay when it is longer.
    pub async fn get(&self, url: &url::Url, validators: &Validators) -> Result<Fetched, FetchError> {
        self.get_with(url, validators, None).await
    }

    /// [`Fetcher::get`] with the credentials of `auth`, when given: then only redirects on the
    /// same host are followed (one to another host is [`FetchError::RedirectRefused`]: the
    /// credentials never go there), and a 401 (after one new OAuth 2.0 token) or 403 is
    /// [`FetchError::Refused`], not retried.
    pub async fn get_with(&self, url: &url::Url, validators: &Validators, auth: Option<&AuthConfig>) -> Result<Fetched, FetchError> {
        let backoff = ExponentialBuilder::default().with_min_delay(self.retry_backoff).with_max_times(self.retries).with_jitter();
        let max_retry_after = self.max_retry_after;
        (|| self.get_once(url, validators, auth))
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

    async fn get_once(&self, url: &url::Url, validators: &Validators, auth: Option<&AuthConfig>) -> Result<Fetched, FetchError> {
        let build = |client: &reqwest::Client| {
            let mut request = client.get(url.clone()).timeout(self.timeout);
            if let Some(etag) = &validators.etag {
                request = request.header(header::IF_NONE_MATCH, etag);
            }
            if let Some(lm) = &validators.last_modified {
                request = request.header(header::IF_MODIFIED_SINCE, lm);
            }
            request
        };
        let response = match auth {
            None => {
                let request = build(&self.client).build().map_err(|e| classify(&e, self.timeout))?;
                redirect::send(&self.client, request, &Policy::any(self.max_redirects), &[], self.timeout).await?
            }
            Some(auth) => self.authorized.send(auth, self.timeout, &Policy::same_host(self.max_redirects), &[], build).await?.response,
        };
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        if auth.is_some() {
            refused(&response)?;
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

/// The answer to a request with credentials that refuses them.
fn refused(response: &reqwest::Response) -> Result<(), FetchError> {
    let status = response.status();
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return Err(FetchError::Refused { status: status.as_u16() });
    }
    Ok(())
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}
