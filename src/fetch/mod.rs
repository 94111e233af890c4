//! The one outbound HTTP discipline: every call Sparky makes (feeds, status pages, synthetic
//! checks, token requests, canaries, sinks, Slack) goes through a client from [`client`], with
//! the same connect timeout, `User-Agent`, proxy handling (the system's `HTTP(S)_PROXY`, as
//! reqwest reads them), gzip, DNS resolution, and no redirect followed by the client itself
//! ([`redirect`] follows them by hand, per request: none for a write, same host or any host for a
//! read, credentials never to another host); every answer is read with a size cap
//! ([`read_capped`]) and every failure classified from typed errors into one
//! [`ErrorKind`](crate::model::ErrorKind) ([`FetchError::kind`]).
//!
//! On top, [`Fetcher`] is the sources' GET: conditional requests (`ETag`/`Last-Modified`) and
//! retries with backoff and jitter that honour `Retry-After`; [`auth`] sends requests with
//! credentials (checks' `[auth]`, `[status_page.auth]`), with the one OAuth 2.0 token cache.

pub mod auth;
mod error;
mod get;
pub mod redirect;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{self, HeaderMap};

use crate::config::HttpConfig;

pub use auth::Authorized;
pub use error::{DnsError, FetchError, classify};
pub use get::{Body, Fetched, Fetcher, Validators};
pub use redirect::{Policy, Refusal};

/// Builds a client of the discipline: `[http] connect_timeout` and `user_agent`, the typed DNS
/// resolver, gzip, and no redirect followed by itself: a use that follows redirects does so by
/// hand, per request ([`redirect::send`]), so that no write and no credential crosses one.
/// Timeouts of whole requests are set per request by the caller (each use has its own).
///
/// # Errors
/// [`FetchError::Request`] when the TLS stack cannot be initialised.
pub fn client(cfg: &HttpConfig) -> Result<reqwest::Client, FetchError> {
    reqwest::Client::builder()
        .user_agent(&cfg.user_agent)
        .connect_timeout(cfg.connect_timeout.get())
        .dns_resolver(Arc::new(error::Resolver))
        .redirect(reqwest::redirect::Policy::none())
        .gzip(true)
        .pool_idle_timeout(Duration::from_secs(90))
        .build()
        .map_err(|e| FetchError::Request(e.to_string()))
}

/// Reads a body, failing as soon as it passes `limit` bytes (a declared `Content-Length` over
/// the limit fails before reading anything), and after `timeout` in all.
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

/// Parses `Retry-After`: delay-seconds or an HTTP date (then measured from now) (RFC 9110
/// §10.2.3).
pub fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let at = crate::model::Timestamp::from_datetime(date.to_utc());
    Some(at.since(crate::model::Timestamp::now()))
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
}
