//! Why an outbound call failed, classified from typed errors: reqwest's own kinds (`is_timeout`,
//! `is_connect`, `is_redirect`, `is_body`, `is_decode`, `is_builder`), `rustls::Error` in the
//! source chain for TLS, and [`DnsError`] from Sparky's resolver for name resolution.

use std::error::Error as StdError;
use std::net::SocketAddr;
use std::time::Duration;

use crate::model::ErrorKind;

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
    /// More redirects than allowed (`[http] max_redirects`).
    #[error("too many redirects (more than [http] max_redirects)")]
    Redirects,
    /// A redirect that was not followed ([`super::redirect`]): a request other than GET or
    /// HEAD, or one to another host that its rule refuses. Names both ends and the fix.
    #[error("HTTP {status}: redirect from {from} to {to} not followed: {refusal}")]
    RedirectRefused {
        /// The status code.
        status: u16,
        /// Where the redirect came from (`scheme://host:port`).
        from: String,
        /// Where it leads (without query).
        to: String,
        /// Why it was refused, and what to do.
        refusal: super::redirect::Refusal,
    },
    /// Credentials could not be obtained (the token endpoint failed); never holds a secret.
    #[error("{0}")]
    Auth(String),
    /// The server refused the credentials: 401 (for OAuth 2.0 even with a new token) or 403.
    #[error("HTTP {status}: {}", refusal(*status))]
    Refused {
        /// 401 or 403.
        status: u16,
    },
    /// The body could not be read (reset mid-body, bad gzip ...).
    #[error("reading the body failed: {0}")]
    Body(String),
}

impl FetchError {
    /// The class: `dns`, `connect`, `tls`, `timeout`, `http`, `too_large`, `redirect`, `body`,
    /// `request`, `auth`.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Request(_) => ErrorKind::Request,
            Self::Dns(_) => ErrorKind::Dns,
            Self::Connect(_) => ErrorKind::Connect,
            Self::Tls(_) => ErrorKind::Tls,
            Self::Timeout(_) => ErrorKind::Timeout,
            Self::Status { .. } => ErrorKind::Http,
            Self::TooLarge { .. } => ErrorKind::TooLarge,
            Self::Redirects | Self::RedirectRefused { .. } => ErrorKind::Redirect,
            Self::Auth(_) | Self::Refused { .. } => ErrorKind::Auth,
            Self::Body(_) => ErrorKind::Body,
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

/// How to fix a refusal of the credentials.
fn refusal(status: u16) -> &'static str {
    if status == 403 {
        "the credentials were accepted but are not allowed here: grant them the permission the endpoint needs (and an administrator's consent where the provider asks for one)"
    } else {
        "the credentials were refused (an OAuth 2.0 token even when fetched anew): check the token, user and password, or client id and secret, and that they belong to this service"
    }
}

/// A name that could not be resolved, as Sparky's resolver reports it (so classification finds
/// it by type, not by the words of a message).
#[derive(Debug, thiserror::Error)]
#[error("{name}: {source}")]
pub struct DnsError {
    /// The host name.
    pub name: String,
    /// What the system resolver said.
    pub source: std::io::Error,
}

/// The system resolver (getaddrinfo, via tokio), its failures typed as [`DnsError`].
pub(super) struct Resolver;

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found = tokio::net::lookup_host((host.as_str(), 0)).await.map(Iterator::collect::<Vec<SocketAddr>>);
            match found {
                Ok(addrs) => Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs),
                Err(source) => Err(Box::new(DnsError { name: host, source }) as Box<dyn StdError + Send + Sync>),
            }
        })
    }
}

/// Classifies a reqwest error (`timeout`: the limit the caller set, for the message).
pub fn classify(err: &reqwest::Error, timeout: Duration) -> FetchError {
    let detail = innermost(err);
    if err.is_timeout() {
        FetchError::Timeout(timeout)
    } else if err.is_redirect() {
        FetchError::Redirects
    } else if find::<DnsError>(err).is_some() {
        FetchError::Dns(detail)
    } else if has_tls_error(err) {
        FetchError::Tls(detail)
    } else if err.is_connect() {
        FetchError::Connect(detail)
    } else if err.is_body() || err.is_decode() {
        FetchError::Body(detail)
    } else if err.is_builder() {
        FetchError::Request(detail)
    } else {
        FetchError::Connect(detail)
    }
}

/// The innermost cause of an error: the most specific words ("Connection refused", "invalid
/// peer certificate: UnknownIssuer"); the outer layers repeat the URL, which the caller logs.
fn innermost(err: &(dyn StdError + 'static)) -> String {
    let mut innermost = err.to_string();
    let mut current = cause(err);
    while let Some(e) = current {
        innermost = e.to_string();
        current = cause(e);
    }
    innermost
}

/// The next cause of `err`: an `io::Error` wrapping another error gives that error (its own
/// `source` would skip it), anything else its `source`.
fn cause<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a (dyn StdError + 'static)> {
    match err.downcast_ref::<std::io::Error>().and_then(std::io::Error::get_ref) {
        Some(inner) => Some(inner),
        None => err.source(),
    }
}

/// The first error of type `T` among `err` and its causes.
fn find<'a, T: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        current = cause(e);
    }
    None
}

/// A `rustls::Error` among the causes (tokio-rustls wraps it in `io::Error`s).
fn has_tls_error(err: &(dyn StdError + 'static)) -> bool {
    find::<rustls::Error>(err).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A loopback server answering plain HTTP to whatever it gets.
    async fn plain_http() -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            while let Ok((mut s, _)) = listener.accept().await {
                let _ = s.write_all(b"HTTP/1.1 500 x\r\ncontent-length: 0\r\n\r\n").await;
            }
        });
        addr
    }

    #[tokio::test]
    async fn failures_are_classified_by_type() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = super::super::client(&crate::config::HttpConfig::default()).unwrap();
        let kind = |url: String| {
            let client = client.clone();
            async move { classify(&client.get(url).send().await.unwrap_err(), Duration::from_secs(5)).kind() }
        };
        assert_eq!(kind(format!("https://{}/", plain_http().await)).await, ErrorKind::Tls, "TLS to a plain HTTP server");
        assert_eq!(kind("http://sparky-check.invalid/".to_owned()).await, ErrorKind::Dns);
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        assert_eq!(kind(format!("http://{closed}/")).await, ErrorKind::Connect);
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
