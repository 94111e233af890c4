//! Requests with credentials, for synthetic checks (`[auth]`) and status polls
//! (`[status_page.auth]`) alike: bearer, basic, API key header, and OAuth 2.0 client credentials
//! (RFC 6749 §4.4) with a token cache ([`TokenCache`]), sent by [`Authorized`].
//!
//! A credential is never sent to another host than the configured one: redirects are followed
//! by hand ([`super::redirect`]) as the caller's [`Policy`] says, and the credential's header
//! (`Authorization`, or the API key's own) is removed as soon as a redirect leaves the configured
//! host; a token request (a POST holding the client secret) follows none. Secrets never appear in
//! errors or logs: [`Secret`] prints as `***`, and a token endpoint's error is echoed only when
//! it does not hold the secret.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderName, HeaderValue, LOCATION};
use serde::Deserialize;

use super::redirect::{self, Policy, origin, same_host, without_query};
use super::{FetchError, classify, client};
use crate::config::{AuthConfig, HttpConfig, HttpUrl, Secret};

/// Time allowed for one token request, body included.
pub const TOKEN_TIMEOUT: Duration = Duration::from_secs(10);
/// Most bytes read from a token endpoint.
pub const MAX_TOKEN_RESPONSE: usize = 64 * 1024;
/// Lifetime assumed when the token endpoint gives no `expires_in`.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);
/// A token is renewed this long before it expires (or 10 % of its lifetime, if smaller).
const RENEW_BEFORE: Duration = Duration::from_secs(60);

/// Credentials could not be applied (e.g. the token endpoint failed). The message never holds a
/// secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AuthError(pub String);

impl From<AuthError> for FetchError {
    fn from(e: AuthError) -> Self {
        Self::Auth(e.0)
    }
}

/// The client of requests with credentials (following redirects only by hand) and its token
/// cache. Cheap to clone: clones share the cache, so a token is fetched once and reused until it expires.
#[derive(Debug, Clone)]
pub struct Authorized {
    client: reqwest::Client,
    tokens: Arc<TokenCache>,
}

/// The answer to a request with credentials.
#[derive(Debug)]
pub struct Answered {
    /// The response (a 401 after one token refresh is returned as such, for the caller to judge).
    pub response: reqwest::Response,
    /// When the request that got it was sent (after any token request: not part of its latency).
    pub sent_at: Instant,
}

impl Authorized {
    /// A client of the discipline of `cfg`, with an empty token cache.
    ///
    /// # Errors
    /// [`FetchError::Request`] when the TLS stack cannot be initialised.
    pub fn new(cfg: &HttpConfig) -> Result<Self, FetchError> {
        let client = client(cfg)?;
        Ok(Self { tokens: Arc::new(TokenCache::new(client.clone())), client })
    }

    /// Sends the request `build` makes on this client with the credentials of `auth`, following
    /// its redirects as `policy` says; `sensitive` names further headers that never leave the
    /// configured host (the credential's own header never does). When a request carrying an
    /// OAuth 2.0 token is answered 401 by the configured host, the token is forgotten and the
    /// request sent once more with a new one.
    ///
    /// # Errors
    /// [`FetchError::Auth`] when no token can be had (the token endpoint failed: its message
    /// names the endpoint, never the secret); [`FetchError::RedirectRefused`] for a redirect
    /// `policy` refuses; the transport's failure classified (`timeout` names the limit in its
    /// message).
    pub async fn send(
        &self,
        auth: &AuthConfig,
        timeout: Duration,
        policy: &Policy,
        sensitive: &[HeaderName],
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<Answered, FetchError> {
        let oauth = matches!(auth, AuthConfig::Oauth2ClientCredentials { .. });
        let mut sensitive = sensitive.to_vec();
        sensitive.extend(HeaderName::from_bytes(auth.header().as_bytes()).ok());
        let mut refreshed = false;
        loop {
            let request = self.tokens.authorize(auth, build(&self.client)).await?.build().map_err(|e| classify(&e, timeout))?;
            let configured = request.url().clone();
            let sent_at = Instant::now();
            let response = redirect::send(&self.client, request, policy, &sensitive, timeout).await?;
            let carried_token = same_host(&configured, response.url());
            if response.status() == StatusCode::UNAUTHORIZED && oauth && carried_token && !refreshed {
                tracing::debug!("answered 401 with a cached token: fetching a new one");
                self.tokens.invalidate(auth);
                refreshed = true;
                continue;
            }
            return Ok(Answered { response, sent_at });
        }
    }
}

/// Which token: (token URL, client id, scope, audience).
type TokenKey = (String, String, Option<String>, Option<String>);

/// A token and when to stop using it.
struct Cached {
    token: Secret,
    renew_at: Instant,
}

/// The cache entry of one key: the token, and a lock held by the one caller fetching it.
#[derive(Default)]
struct Slot {
    token: Mutex<Option<Cached>>,
    fetching: tokio::sync::Mutex<()>,
}

impl Slot {
    /// The token if it is still fresh.
    fn fresh(&self) -> Option<Secret> {
        let token = self.token.lock().unwrap_or_else(PoisonError::into_inner);
        token.as_ref().filter(|c| Instant::now() < c.renew_at).map(|c| c.token.clone())
    }
}

/// OAuth 2.0 access tokens by (token URL, client id, scope, audience), shared by every request
/// of one [`Authorized`].
pub struct TokenCache {
    client: reqwest::Client,
    slots: Mutex<HashMap<TokenKey, Arc<Slot>>>,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = self.slots.lock().map_or(0, |s| s.len());
        f.debug_struct("TokenCache").field("keys", &keys).finish_non_exhaustive()
    }
}

impl TokenCache {
    /// A cache fetching tokens with `client` (one of the discipline, following no redirect: the
    /// client secret goes to the token endpoint only).
    pub fn new(client: reqwest::Client) -> Self {
        Self { client, slots: Mutex::new(HashMap::new()) }
    }

    /// Adds the credentials of `auth` to `request` (fetching or reusing a token for OAuth 2.0).
    pub async fn authorize(&self, auth: &AuthConfig, request: reqwest::RequestBuilder) -> Result<reqwest::RequestBuilder, AuthError> {
        match auth {
            AuthConfig::Bearer { token } => Ok(request.bearer_auth(token.expose())),
            AuthConfig::Basic { username, password } => Ok(request.basic_auth(username, Some(password.expose()))),
            AuthConfig::ApiKey { header, value, prefix } => {
                let name = HeaderName::from_bytes(header.as_bytes()).map_err(|_| AuthError(format!("`{header}` is not a header name")))?;
                let mut text = String::with_capacity(prefix.len() + value.expose().len());
                text.push_str(prefix);
                text.push_str(value.expose());
                let mut value = HeaderValue::try_from(text)
                    .map_err(|_| AuthError(format!("the API key for header `{header}` is not a valid header value")))?;
                value.set_sensitive(true);
                Ok(request.header(name, value))
            }
            AuthConfig::Oauth2ClientCredentials { token_url: url, client_id, client_secret: secret, scope, audience } => {
                let c = Credentials { url, client_id, secret, scope: scope.as_deref(), audience: audience.as_deref() };
                Ok(request.bearer_auth(self.token(&c).await?.expose()))
            }
        }
    }

    /// A fresh cached token, or one fetched by this caller while the others for the same key wait.
    async fn token(&self, c: &Credentials<'_>) -> Result<Secret, AuthError> {
        let slot = self.slot(c.key());
        if let Some(token) = slot.fresh() {
            return Ok(token);
        }
        let _fetching = slot.fetching.lock().await;
        // Another caller may have fetched it while this one waited.
        if let Some(token) = slot.fresh() {
            return Ok(token);
        }
        let started = Instant::now();
        let (token, lifetime) = self.fetch(c).await?;
        let renew_at = started + lifetime.saturating_sub(RENEW_BEFORE.min(lifetime / 10));
        *slot.token.lock().unwrap_or_else(PoisonError::into_inner) = Some(Cached { token: token.clone(), renew_at });
        Ok(token)
    }

    /// Forgets the token of `auth` (after a 401), so the next `authorize` fetches a new one.
    pub fn invalidate(&self, auth: &AuthConfig) {
        let Some(key) = Credentials::of(auth).map(|c| c.key()) else { return };
        let slot = self.slots.lock().unwrap_or_else(PoisonError::into_inner).get(&key).cloned();
        if let Some(slot) = slot {
            *slot.token.lock().unwrap_or_else(PoisonError::into_inner) = None;
        }
    }

    fn slot(&self, key: TokenKey) -> Arc<Slot> {
        Arc::clone(self.slots.lock().unwrap_or_else(PoisonError::into_inner).entry(key).or_default())
    }

    /// POSTs the client credentials (client_secret_post) to the token endpoint; gives the token
    /// and its lifetime.
    async fn fetch(&self, c: &Credentials<'_>) -> Result<(Secret, Duration), AuthError> {
        let (token_url, body) = (c.url, c.form());
        let request = self
            .client
            .post(token_url.url().clone())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ACCEPT, "application/json")
            .timeout(TOKEN_TIMEOUT)
            .body(body);
        let read = async {
            let mut response = request.send().await?;
            let status = response.status();
            if status.is_redirection() {
                let to = response.headers().get(LOCATION).and_then(|l| l.to_str().ok()).and_then(|l| response.url().join(l).ok());
                return Ok((status, Err(to)));
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await? {
                if body.len() + chunk.len() > MAX_TOKEN_RESPONSE {
                    return Ok((status, Ok(None)));
                }
                body.extend_from_slice(&chunk);
            }
            Ok::<_, reqwest::Error>((status, Ok(Some(body))))
        };
        let (status, body) = match tokio::time::timeout(TOKEN_TIMEOUT, read).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(e)) => return Err(AuthError(format!("token endpoint {token_url} could not be reached: {}", causes(&e.without_url())))),
            Err(_) => return Err(AuthError(format!("token endpoint {token_url} did not answer within {}s", TOKEN_TIMEOUT.as_secs()))),
        };
        let body = match body {
            Ok(body) => body,
            Err(to) => {
                let to = to.map_or_else(|| "an address it does not give".to_owned(), |t| without_query(&t));
                return Err(AuthError(format!(
                    "token endpoint {token_url} answered {}: redirect from {} to {to} not followed: the client secret is never sent across a redirect; set token_url to the final URL",
                    status.as_u16(),
                    origin(token_url.url())
                )));
            }
        };
        let Some(body) = body else {
            return Err(AuthError(format!(
                "token endpoint {token_url} answered {} with more than {} KiB",
                status.as_u16(),
                MAX_TOKEN_RESPONSE / 1024
            )));
        };
        if !status.is_success() {
            let mut message = format!("token endpoint {token_url} answered {}", status.as_u16());
            if let Ok(e) = serde_json::from_slice::<OAuthError>(&body) {
                for part in [e.error, e.error_description].into_iter().flatten() {
                    // Never echo anything that could hold the secret.
                    if !part.contains(c.secret.expose()) {
                        message.push_str(": ");
                        message.extend(part.chars().take(200));
                    }
                }
            }
            return Err(AuthError(message));
        }
        let answer: TokenAnswer = serde_json::from_slice(&body)
            .map_err(|_| AuthError(format!("token endpoint {token_url} answered {} without a JSON access_token", status.as_u16())))?;
        let lifetime = answer
            .expires_in
            .as_ref()
            .map_or(Some(DEFAULT_LIFETIME), lifetime)
            .ok_or_else(|| AuthError(format!("token endpoint {token_url} gave an expires_in that is not a number of seconds")))?;
        Ok((Secret::new(answer.access_token), lifetime))
    }
}

/// The OAuth 2.0 fields of an [`AuthConfig`].
struct Credentials<'a> {
    url: &'a HttpUrl,
    client_id: &'a str,
    secret: &'a Secret,
    scope: Option<&'a str>,
    audience: Option<&'a str>,
}

impl<'a> Credentials<'a> {
    /// `None` for the other kinds.
    fn of(auth: &'a AuthConfig) -> Option<Self> {
        match auth {
            AuthConfig::Oauth2ClientCredentials { token_url, client_id, client_secret, scope, audience } => {
                Some(Self { url: token_url, client_id, secret: client_secret, scope: scope.as_deref(), audience: audience.as_deref() })
            }
            _ => None,
        }
    }

    fn key(&self) -> TokenKey {
        (self.url.as_str().to_owned(), self.client_id.to_owned(), self.scope.map(str::to_owned), self.audience.map(str::to_owned))
    }

    /// `grant_type=client_credentials&client_id=..&client_secret=..[&scope=..][&audience=..]`
    /// (client_secret_post). Not inlined in an async fn: the serializer is not `Send`.
    fn form(&self) -> String {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "client_credentials")
            .append_pair("client_id", self.client_id)
            .append_pair("client_secret", self.secret.expose());
        for (name, value) in [("scope", self.scope), ("audience", self.audience)] {
            if let Some(value) = value {
                form.append_pair(name, value);
            }
        }
        form.finish()
    }
}

/// A token endpoint's answer (RFC 6749 §5.1). `token_type` is not read: the token is always sent
/// as `Bearer` (RFC 6750), which every supported provider issues.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

/// A token endpoint's error (RFC 6749 §5.2).
#[derive(Deserialize)]
struct OAuthError {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

/// `expires_in` as a number or a numeric string; `None` if it is neither. Negative: 0.
fn lifetime(v: &serde_json::Value) -> Option<Duration> {
    let secs = match v {
        serde_json::Value::Number(n) => n.as_f64()?,
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok()?,
        serde_json::Value::Null => return Some(DEFAULT_LIFETIME),
        _ => return None,
    };
    secs.is_finite().then(|| Duration::from_secs_f64(secs.clamp(0.0, 10.0 * 365.0 * 86_400.0)))
}

/// An error with its causes: `a: b: c`.
fn causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests;
