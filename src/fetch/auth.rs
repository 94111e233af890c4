//! Requests with credentials, for synthetic checks (`[auth]`) and status polls
//! (`[status_page.auth]`) alike: bearer, basic, API key header, and OAuth 2.0 client credentials
//! (RFC 6749 §4.4) with a token cache ([`TokenCache`]), sent by [`Authorized`].
//!
//! A request with credentials follows no redirect (its client is built with
//! [`Redirects::None`]): a credential is never sent to another address than the configured one
//! (reqwest drops `Authorization` on a cross-host redirect, but not an API key in another
//! header, nor a client secret in a re-posted token request). Secrets never appear in errors or
//! logs: [`Secret`] prints as `***`, and a token endpoint's error is echoed only when it does not
//! hold the secret.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderName, HeaderValue};
use serde::Deserialize;

use super::{FetchError, Redirects, classify, client};
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

/// The client of requests with credentials (following no redirect) and its token cache. Cheap
/// to clone: clones share the cache, so a token is fetched once and reused until it expires.
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
    /// A client of the discipline of `cfg` that follows no redirect, with an empty token cache.
    ///
    /// # Errors
    /// [`FetchError::Request`] when the TLS stack cannot be initialised.
    pub fn new(cfg: &HttpConfig) -> Result<Self, FetchError> {
        let client = client(cfg, Redirects::None)?;
        Ok(Self { tokens: Arc::new(TokenCache::new(client.clone())), client })
    }

    /// Sends the request `build` makes on this client with the credentials of `auth`. When a
    /// request carrying an OAuth 2.0 token is answered 401, the token is forgotten and the
    /// request sent once more with a new one.
    ///
    /// # Errors
    /// [`FetchError::Auth`] when no token can be had (the token endpoint failed: its message
    /// names the endpoint, never the secret); the transport's failure classified (`timeout`
    /// names the limit in its message).
    pub async fn send(
        &self,
        auth: &AuthConfig,
        timeout: Duration,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<Answered, FetchError> {
        let oauth = matches!(auth, AuthConfig::Oauth2ClientCredentials { .. });
        let mut refreshed = false;
        loop {
            let request = self.tokens.authorize(auth, build(&self.client)).await?;
            let sent_at = Instant::now();
            let response = request.send().await.map_err(|e| classify(&e, timeout))?;
            if response.status() == StatusCode::UNAUTHORIZED && oauth && !refreshed {
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
    /// A cache fetching tokens with `client` (one that follows no redirect: the client secret
    /// goes to the token endpoint only).
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
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await? {
                if body.len() + chunk.len() > MAX_TOKEN_RESPONSE {
                    return Ok((status, None));
                }
                body.extend_from_slice(&chunk);
            }
            Ok::<_, reqwest::Error>((status, Some(body)))
        };
        let (status, body) = match tokio::time::timeout(TOKEN_TIMEOUT, read).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(e)) => return Err(AuthError(format!("token endpoint {token_url} could not be reached: {}", causes(&e.without_url())))),
            Err(_) => return Err(AuthError(format!("token endpoint {token_url} did not answer within {}s", TOKEN_TIMEOUT.as_secs()))),
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
mod tests {
    use std::sync::Arc;

    use wiremock::matchers::{body_string_contains, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;

    const SECRET: &str = "s3cr3t-value";

    fn client() -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::new()
    }

    fn authorized() -> Authorized {
        let _ = client(); // the crypto provider
        Authorized::new(&HttpConfig::default()).unwrap()
    }

    fn auth(toml: &str) -> AuthConfig {
        toml::from_str(toml).unwrap()
    }

    fn oauth(server: &MockServer, extra: &str) -> AuthConfig {
        auth(&format!(
            "kind = \"oauth2_client_credentials\"\ntoken_url = \"{}/token\"\nclient_id = \"app 1\"\nclient_secret = \"{SECRET}\"\n{extra}",
            server.uri()
        ))
    }

    async fn token_mock(server: &MockServer, answer: serde_json::Value) {
        Mock::given(method("POST")).and(path("/token")).respond_with(ResponseTemplate::new(200).set_body_json(answer)).mount(server).await;
    }

    /// Sends an authorised GET to `server` and gives the request the API received.
    async fn applied(cache: &TokenCache, auth: &AuthConfig, server: &MockServer) -> Result<wiremock::Request, AuthError> {
        let request = cache.authorize(auth, cache.client.get(format!("{}/api", server.uri()))).await?;
        request.send().await.unwrap();
        let received = server.received_requests().await.unwrap();
        Ok(received.into_iter().rev().find(|r| r.url.path() == "/api").unwrap())
    }

    /// Authorises a request that is never sent.
    async fn go(cache: &TokenCache, auth: &AuthConfig) -> Result<(), AuthError> {
        cache.authorize(auth, cache.client.get("http://localhost/")).await.map(|_| ())
    }

    async fn token_requests(server: &MockServer) -> Vec<wiremock::Request> {
        server.received_requests().await.unwrap().into_iter().filter(|r| r.url.path() == "/token").collect()
    }

    fn header_of(r: &wiremock::Request, name: &str) -> String {
        r.headers.get(name).unwrap().to_str().unwrap().to_owned()
    }

    #[tokio::test]
    async fn bearer_basic_and_api_key_set_their_headers() {
        let server = MockServer::start().await;
        let cache = TokenCache::new(client());
        let r = applied(&cache, &auth("kind = \"bearer\"\ntoken = \"tok\""), &server).await.unwrap();
        assert_eq!(header_of(&r, "authorization"), "Bearer tok");
        let r = applied(&cache, &auth("kind = \"basic\"\nusername = \"admin\"\npassword = \"pw\""), &server).await.unwrap();
        assert_eq!(header_of(&r, "authorization"), "Basic YWRtaW46cHc=");
        let r = applied(&cache, &auth("kind = \"api_key\"\nheader = \"Authorization\"\nvalue = \"k\"\nprefix = \"SSWS \""), &server)
            .await
            .unwrap();
        assert_eq!(header_of(&r, "authorization"), "SSWS k");
        let r = applied(&cache, &auth("kind = \"api_key\"\nheader = \"X-Api-Key\"\nvalue = \"k2\""), &server).await.unwrap();
        assert_eq!(header_of(&r, "x-api-key"), "k2");
        let bad = go(&cache, &auth("kind = \"api_key\"\nheader = \"bad header\"\nvalue = \"k\"")).await;
        assert!(bad.is_err());
    }

    #[tokio::test]
    async fn oauth2_token_is_fetched_once_and_reused() {
        let server = MockServer::start().await;
        token_mock(&server, serde_json::json!({"access_token": "at-1", "token_type": "Bearer", "expires_in": 3599})).await;
        let cache = TokenCache::new(client());
        let auth = oauth(&server, "scope = \"https://graph.microsoft.com/.default\"\naudience = \"api://x\"");
        for _ in 0..3 {
            let r = applied(&cache, &auth, &server).await.unwrap();
            assert_eq!(header_of(&r, "authorization"), "Bearer at-1");
        }
        let tokens = token_requests(&server).await;
        assert_eq!(tokens.len(), 1);
        assert_eq!(header_of(&tokens[0], "content-type"), "application/x-www-form-urlencoded");
        let form: HashMap<String, String> = url::form_urlencoded::parse(&tokens[0].body).into_owned().collect();
        let want = [
            ("grant_type", "client_credentials"),
            ("client_id", "app 1"),
            ("client_secret", SECRET),
            ("scope", "https://graph.microsoft.com/.default"),
            ("audience", "api://x"),
        ];
        assert_eq!(form, want.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect());
    }

    #[tokio::test]
    async fn short_lived_tokens_are_refetched() {
        let server = MockServer::start().await;
        // A numeric string; 0 s is stale at once.
        token_mock(&server, serde_json::json!({"access_token": "at", "expires_in": "0"})).await;
        let cache = TokenCache::new(client());
        let auth = oauth(&server, "");
        go(&cache, &auth).await.unwrap();
        go(&cache, &auth).await.unwrap();
        assert_eq!(token_requests(&server).await.len(), 2);

        let server = MockServer::start().await;
        token_mock(&server, serde_json::json!({"access_token": "at", "expires_in": 1})).await;
        let auth = oauth(&server, "");
        go(&cache, &auth).await.unwrap();
        go(&cache, &auth).await.unwrap();
        assert_eq!(token_requests(&server).await.len(), 1);
        // Renewed 10 % of its 1 s lifetime before it expires.
        tokio::time::sleep(Duration::from_millis(950)).await;
        go(&cache, &auth).await.unwrap();
        assert_eq!(token_requests(&server).await.len(), 2);
    }

    #[tokio::test]
    async fn invalidate_forces_a_new_token() {
        let server = MockServer::start().await;
        token_mock(&server, serde_json::json!({"access_token": "at"})).await;
        let cache = TokenCache::new(client());
        let auth = oauth(&server, "");
        go(&cache, &auth).await.unwrap();
        cache.invalidate(&auth);
        go(&cache, &auth).await.unwrap();
        go(&cache, &auth).await.unwrap();
        assert_eq!(token_requests(&server).await.len(), 2);
        // Other kinds have nothing to forget.
        cache.invalidate(&super::tests::auth("kind = \"bearer\"\ntoken = \"t\""));
    }

    #[tokio::test]
    async fn token_endpoint_errors_name_the_endpoint_not_the_secret() {
        let server = MockServer::start().await;
        let answer = serde_json::json!({"error": "invalid_client", "error_description": format!("bad secret {SECRET}")});
        Mock::given(method("POST"))
            .and(path("/token"))
            .and(body_string_contains("grant_type=client_credentials"))
            .respond_with(ResponseTemplate::new(401).set_body_json(answer))
            .mount(&server)
            .await;
        let cache = TokenCache::new(client());
        let auth = oauth(&server, "");
        let err = go(&cache, &auth).await.unwrap_err();
        assert_eq!(err.0, format!("token endpoint {}/token answered 401: invalid_client", server.uri()));
        assert!(!format!("{err:?} {cache:?} {auth:?}").contains(SECRET));

        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let closed = super::tests::auth(&format!(
            "kind = \"oauth2_client_credentials\"\ntoken_url = \"http://127.0.0.1:{port}/token\"\nclient_id = \"a\"\nclient_secret = \"{SECRET}\""
        ));
        let err = go(&cache, &closed).await.unwrap_err();
        assert!(err.0.contains("could not be reached"), "{err}");
        assert!(!err.0.contains(SECRET));
    }

    #[tokio::test]
    async fn token_answers_without_a_token_or_too_big_fail() {
        let server = MockServer::start().await;
        token_mock(&server, serde_json::json!({"token_type": "Bearer"})).await;
        let cache = TokenCache::new(client());
        let err = go(&cache, &oauth(&server, "")).await.unwrap_err();
        assert!(err.0.contains("without a JSON access_token"), "{err}");

        let server = MockServer::start().await;
        let huge = "x".repeat(MAX_TOKEN_RESPONSE + 1);
        Mock::given(method("POST")).respond_with(ResponseTemplate::new(200).set_body_string(huge)).mount(&server).await;
        let err = go(&cache, &oauth(&server, "")).await.unwrap_err();
        assert!(err.0.contains("more than 64 KiB"), "{err}");
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_fetch() {
        let server = MockServer::start().await;
        let answer = serde_json::json!({"access_token": "at", "expires_in": 3600});
        Mock::given(method("POST"))
            .and(path("/token"))
            .respond_with(ResponseTemplate::new(200).set_body_json(answer).set_delay(Duration::from_millis(200)))
            .mount(&server)
            .await;
        let cache = Arc::new(TokenCache::new(client()));
        let auth = Arc::new(oauth(&server, ""));
        let tasks = (0..10).map(|_| {
            let (cache, auth) = (Arc::clone(&cache), Arc::clone(&auth));
            tokio::spawn(async move { go(&cache, &auth).await })
        });
        for done in futures::future::join_all(tasks).await {
            done.unwrap().unwrap();
        }
        assert_eq!(token_requests(&server).await.len(), 1);
    }

    #[tokio::test]
    async fn a_401_with_an_oauth_token_refreshes_it_once_and_other_kinds_are_answered_as_is() {
        let server = MockServer::start().await;
        token_mock(&server, serde_json::json!({"access_token": "at", "expires_in": 3600})).await;
        Mock::given(path("/api")).respond_with(ResponseTemplate::new(401)).up_to_n_times(1).with_priority(1).mount(&server).await;
        Mock::given(path("/api")).respond_with(ResponseTemplate::new(200)).with_priority(2).mount(&server).await;
        let authorized = authorized();
        let api = format!("{}/api", server.uri());
        let timeout = Duration::from_secs(5);
        let answered = authorized.send(&oauth(&server, ""), timeout, |c| c.get(&api)).await.unwrap();
        assert_eq!(answered.response.status(), 200, "refreshed once, then answered");
        assert_eq!(token_requests(&server).await.len(), 2);

        Mock::given(path("/refuses")).respond_with(ResponseTemplate::new(401)).mount(&server).await;
        let refuses = format!("{}/refuses", server.uri());
        let answered = authorized.send(&oauth(&server, ""), timeout, |c| c.get(&refuses)).await.unwrap();
        assert_eq!(answered.response.status(), 401, "a second 401 is the answer");
        assert_eq!(token_requests(&server).await.len(), 3, "one refresh, not a loop");
        let answered = authorized.send(&auth("kind = \"bearer\"\ntoken = \"t\""), timeout, |c| c.get(&refuses)).await.unwrap();
        assert_eq!(answered.response.status(), 401, "nothing to refresh for a fixed token");
    }

    #[tokio::test]
    async fn requests_with_credentials_follow_no_redirect() {
        let server = MockServer::start().await;
        let elsewhere = MockServer::start().await;
        let to = format!("{}/landing", elsewhere.uri());
        Mock::given(path("/moved")).respond_with(ResponseTemplate::new(307).insert_header("Location", to.as_str())).mount(&server).await;
        let authorized = authorized();
        let moved = format!("{}/moved", server.uri());
        let key = auth("kind = \"api_key\"\nheader = \"X-Api-Key\"\nvalue = \"k\"");
        let answered = authorized.send(&key, Duration::from_secs(5), |c| c.get(&moved)).await.unwrap();
        assert_eq!(answered.response.status(), 307);
        assert!(elsewhere.received_requests().await.unwrap().is_empty(), "the key went nowhere else");
    }

    #[test]
    fn expires_in_forms() {
        assert_eq!(lifetime(&serde_json::json!(3600)), Some(Duration::from_secs(3600)));
        assert_eq!(lifetime(&serde_json::json!("86399")), Some(Duration::from_secs(86399)));
        assert_eq!(lifetime(&serde_json::json!(-5)), Some(Duration::ZERO));
        assert_eq!(lifetime(&serde_json::json!(null)), Some(DEFAULT_LIFETIME));
        assert_eq!(lifetime(&serde_json::json!("soon")), None);
        fn send_sync<T: Send + Sync>() {}
        send_sync::<TokenCache>();
    }
}
