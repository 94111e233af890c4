//! Redirects, followed by hand, request by request. No client of the discipline follows one by
//! itself ([`super::client`] builds every client with reqwest's `Policy::none()`), so each request
//! decides what may cross one ([`send`] with a [`Policy`]):
//!
//! - a request of any method but GET and HEAD follows none: a write, a read-only POST's body or a
//!   token request's client secret is never replayed to the address a redirect names
//!   ([`Refusal::Write`]); the sinks' calls follow none either (`sinks::http`);
//! - [`FollowRedirects::SameHost`]: redirects on the same host are followed with the request's
//!   credentials; one to another host is refused with an error naming both and the fix;
//! - [`FollowRedirects::Any`]: followed; as soon as the request leaves the configured host its
//!   credentials are removed (`Authorization`, `Proxy-Authorization`, `Cookie` and the caller's
//!   sensitive headers: an API key header, a header whose value is a `${VAR}` secret), and they
//!   are not put back;
//! - [`FollowRedirects::None`]: the 3xx is the answer.
//!
//! At most `max` hops ([`FetchError::Redirects`] beyond). A 3xx without a usable `Location` is
//! the answer.

use std::fmt;
use std::time::Duration;

use reqwest::header::{self, HeaderName};
use reqwest::{Method, Request, Response};
use url::Url;

use super::{FetchError, classify};
pub use crate::config::FollowRedirects;

/// Who asks, for the fix a refusal names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asker {
    /// A synthetic check (it has a `follow_redirects` key).
    Check,
    /// A source's fetch with credentials (`[status_page.auth]`).
    Source,
}

/// What a request may do with a redirect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Which redirects a GET or HEAD follows.
    pub follow: FollowRedirects,
    /// Most hops (`[http] max_redirects`).
    pub max: usize,
    /// For the fix of a refusal.
    pub asker: Asker,
}

impl Policy {
    /// Follows to any host (feeds and status pages without credentials: a public document moves).
    pub fn any(max: usize) -> Self {
        Self { follow: FollowRedirects::Any, max, asker: Asker::Source }
    }

    /// Follows on the same host only (a source with credentials).
    pub fn same_host(max: usize) -> Self {
        Self { follow: FollowRedirects::SameHost, max, asker: Asker::Source }
    }

    /// A check's rule `follow` (its `follow_redirects`).
    pub fn check(follow: FollowRedirects, max: usize) -> Self {
        Self { follow, max, asker: Asker::Check }
    }
}

/// Why a redirect was not followed; its `Display` says what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The request is not a GET or HEAD.
    Write {
        /// Its method.
        method: String,
    },
    /// A check's redirect to another host, under `same_host`.
    CheckHost,
    /// A redirect to another host of a request with credentials (a status page's).
    CredentialHost,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Write { method } => write!(
                f,
                "a {method} request follows no redirect (no write and no secret is replayed to another address): configure the final URL"
            ),
            Self::CheckHost => f.write_str(
                "a check follows redirects on its own host only: set follow_redirects = \"any\" to follow it (its credentials stay on the configured host), or configure the final URL",
            ),
            Self::CredentialHost => f.write_str("credentials are never sent to another host: configure the address it leads to"),
        }
    }
}

/// Whether `to` is on the host of `from`: the same host name (ignoring case), scheme and port,
/// or the upgrade from `http` on port 80 to `https` on port 443 of the same name.
pub fn same_host(from: &Url, to: &Url) -> bool {
    let (Some(a), Some(b)) = (from.host_str(), to.host_str()) else { return false };
    if !a.eq_ignore_ascii_case(b) {
        return false;
    }
    let (pa, pb) = (from.port_or_known_default(), to.port_or_known_default());
    (from.scheme() == to.scheme() && pa == pb) || (from.scheme() == "http" && to.scheme() == "https" && pa == Some(80) && pb == Some(443))
}

/// `scheme://host:port`, for messages.
pub fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// `url` without its query and fragment (which may carry tokens), for messages.
pub fn without_query(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

/// Sends `request` on `client` (one that follows no redirect) and follows its redirects as
/// `policy` says; `sensitive` names the headers, besides `Authorization`, `Proxy-Authorization`
/// and `Cookie`, that never leave the configured host. `timeout` is the per-request limit (for
/// messages). Gives the last answer.
///
/// # Errors
/// The transport's failure classified; [`FetchError::RedirectRefused`] for a redirect the
/// policy refuses; [`FetchError::Redirects`] after `policy.max` hops.
pub async fn send(
    client: &reqwest::Client,
    request: Request,
    policy: &Policy,
    sensitive: &[HeaderName],
    timeout: Duration,
) -> Result<Response, FetchError> {
    let configured = request.url().clone();
    let mut request = request;
    let mut hops = 0;
    loop {
        let method = request.method().clone();
        let reads = method == Method::GET || method == Method::HEAD;
        // Kept to follow a redirect: only a read that may follow one.
        let again = if reads && policy.follow != FollowRedirects::None { request.try_clone() } else { None };
        let response = client.execute(request).await.map_err(|e| classify(&e, timeout))?;
        let Some(target) = target(&response) else { return Ok(response) };
        if policy.follow == FollowRedirects::None {
            return Ok(response);
        }
        let refuse = |refusal: Refusal| FetchError::RedirectRefused {
            status: response.status().as_u16(),
            from: origin(response.url()),
            to: without_query(&target),
            refusal,
        };
        if !reads {
            return Err(refuse(Refusal::Write { method: method.to_string() }));
        }
        if policy.follow == FollowRedirects::SameHost && !same_host(response.url(), &target) {
            let refusal = if policy.asker == Asker::Check { Refusal::CheckHost } else { Refusal::CredentialHost };
            return Err(refuse(refusal));
        }
        hops += 1;
        if hops > policy.max {
            return Err(FetchError::Redirects);
        }
        // A GET or HEAD has no body to stream: it can always be sent again.
        let Some(mut next) = again else { return Ok(response) };
        if !same_host(&configured, &target) {
            let headers = next.headers_mut();
            for name in [header::AUTHORIZATION, header::PROXY_AUTHORIZATION, header::COOKIE].iter().chain(sensitive) {
                headers.remove(name);
            }
        }
        tracing::debug!(from = %origin(response.url()), to = %without_query(&target), status = response.status().as_u16(), "following a redirect");
        *next.url_mut() = target;
        request = next;
    }
}

/// Where a redirect answer leads: its `Location` resolved against its URL, when it is an
/// `http(s)` URL; `None` for any other answer.
fn target(response: &Response) -> Option<Url> {
    if !response.status().is_redirection() {
        return None;
    }
    let location = response.headers().get(header::LOCATION)?.to_str().ok()?;
    let target = response.url().join(location).ok()?;
    matches!(target.scheme(), "http" | "https").then_some(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn same_host_is_name_scheme_and_port_or_the_https_upgrade() {
        assert!(same_host(&url("https://api.acme.test/a"), &url("https://API.acme.test/b?x")));
        assert!(same_host(&url("http://api.acme.test/a"), &url("https://api.acme.test/a")), "the upgrade");
        assert!(!same_host(&url("https://api.acme.test/a"), &url("http://api.acme.test/a")), "no downgrade");
        assert!(!same_host(&url("http://127.0.0.1:80/"), &url("http://127.0.0.1:81/")));
        assert!(!same_host(&url("https://api.acme.test/"), &url("https://cdn.acme.test/")));
        assert!(!same_host(&url("http://127.0.0.1:8080/"), &url("http://127.0.0.2:8080/")));
    }

    #[test]
    fn messages_show_no_query() {
        assert_eq!(without_query(&url("https://a.test/p?token=x#f")), "https://a.test/p");
        assert_eq!(origin(&url("https://a.test:8443/p")), "https://a.test:8443");
        let e = FetchError::RedirectRefused {
            status: 307,
            from: "https://a.test".into(),
            to: "https://b.test/x".into(),
            refusal: Refusal::CheckHost,
        };
        assert_eq!(e.kind(), crate::model::ErrorKind::Redirect);
        let text = e.to_string();
        assert!(text.starts_with("HTTP 307: redirect from https://a.test to https://b.test/x not followed: "), "{text}");
        assert!(text.contains("follow_redirects = \"any\""), "{text}");
    }
}
