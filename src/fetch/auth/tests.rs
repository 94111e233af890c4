use std::sync::Arc;

use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;

const SECRET: &str = "s3cr3t-value";
const SAME_HOST: Policy = Policy { follow: redirect::FollowRedirects::SameHost, max: 5, asker: redirect::Asker::Source };

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
    let r =
        applied(&cache, &auth("kind = \"api_key\"\nheader = \"Authorization\"\nvalue = \"k\"\nprefix = \"SSWS \""), &server).await.unwrap();
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
    let answered = authorized.send(&oauth(&server, ""), timeout, &SAME_HOST, &[], |c| c.get(&api)).await.unwrap();
    assert_eq!(answered.response.status(), 200, "refreshed once, then answered");
    assert_eq!(token_requests(&server).await.len(), 2);

    Mock::given(path("/refuses")).respond_with(ResponseTemplate::new(401)).mount(&server).await;
    let refuses = format!("{}/refuses", server.uri());
    let answered = authorized.send(&oauth(&server, ""), timeout, &SAME_HOST, &[], |c| c.get(&refuses)).await.unwrap();
    assert_eq!(answered.response.status(), 401, "a second 401 is the answer");
    assert_eq!(token_requests(&server).await.len(), 3, "one refresh, not a loop");
    let answered = authorized.send(&auth("kind = \"bearer\"\ntoken = \"t\""), timeout, &SAME_HOST, &[], |c| c.get(&refuses)).await.unwrap();
    assert_eq!(answered.response.status(), 401, "nothing to refresh for a fixed token");
}

#[tokio::test]
async fn credentials_never_follow_a_redirect_to_another_host() {
    let server = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    let to = format!("{}/landing", elsewhere.uri());
    Mock::given(path("/moved")).respond_with(ResponseTemplate::new(307).insert_header("Location", to.as_str())).mount(&server).await;
    Mock::given(path("/landing")).respond_with(ResponseTemplate::new(200)).mount(&elsewhere).await;
    let authorized = authorized();
    let moved = format!("{}/moved", server.uri());
    let key = auth("kind = \"api_key\"\nheader = \"X-Api-Key\"\nvalue = \"k\"");
    let err = authorized.send(&key, Duration::from_secs(5), &SAME_HOST, &[], |c| c.get(&moved)).await.unwrap_err();
    assert!(matches!(err, FetchError::RedirectRefused { status: 307, .. }), "{err}");
    assert!(elsewhere.received_requests().await.unwrap().is_empty(), "the key went nowhere else");

    // Followed when any host is allowed, without the key.
    let answered = authorized.send(&key, Duration::from_secs(5), &Policy::any(5), &[], |c| c.get(&moved)).await.unwrap();
    assert_eq!(answered.response.status(), 200);
    let received = elsewhere.received_requests().await.unwrap();
    assert_eq!(received.len(), 1);
    assert!(received[0].headers.get("x-api-key").is_none(), "the key stayed on the configured host");
}

#[tokio::test]
async fn a_token_endpoint_that_redirects_gets_no_secret_and_says_so() {
    let server = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    let to = format!("{}/token", elsewhere.uri());
    Mock::given(path("/token")).respond_with(ResponseTemplate::new(308).insert_header("Location", to.as_str())).mount(&server).await;
    let cache = TokenCache::new(authorized().client);
    let err = go(&cache, &oauth(&server, "")).await.unwrap_err();
    assert!(
        err.0.contains("not followed") && err.0.contains("set token_url to the final URL") && err.0.contains(&elsewhere.uri()),
        "{err}"
    );
    assert!(elsewhere.received_requests().await.unwrap().is_empty());
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
