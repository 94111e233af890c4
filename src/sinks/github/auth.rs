//! GitHub credentials: a token as it is, or a GitHub App's installation tokens.
//!
//! App flow (docs.github.com, "Authenticating as a GitHub App installation"): a JWT signed with
//! the App's private key (RS256, by octocrab's `create_jwt`: issued 60 s in the past, valid 9
//! min) finds the repository's installation (`GET /repos/{owner}/{repo}/installation`), then
//! `POST /app/installations/{id}/access_tokens` asks for a token limited to that one repository
//! and to `actions: write` (least privilege; metadata read comes with every token). The token
//! (`{"token", "expires_at"}`, valid one hour) is kept per repository until five minutes before
//! it expires.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::client::GitHubClient;
use crate::config::{GitHubAuth, Secret};
use crate::model::Timestamp;
use crate::outbox::DeliveryError;

/// An installation token is renewed this long before it expires.
const RENEW_BEFORE: Duration = Duration::from_secs(5 * 60);

/// How requests authenticate.
pub(super) enum Credentials {
    /// `GITHUB_TOKEN`.
    Token(Secret),
    /// A GitHub App.
    App {
        /// The App's id (the JWT's `iss`).
        app_id: u64,
        /// Its private key.
        key: octocrab::EncodingKey,
        /// Installation tokens by `owner/name`.
        tokens: Mutex<HashMap<String, (Secret, Timestamp)>>,
    },
}

impl Credentials {
    /// From the configured auth.
    ///
    /// # Errors
    /// Permanent: the App's private key is not an RSA private key in PEM.
    pub(super) fn new(auth: GitHubAuth) -> Result<Self, DeliveryError> {
        match auth {
            GitHubAuth::Token(token) => Ok(Self::Token(token)),
            GitHubAuth::App { app_id, key } => {
                let key = octocrab::EncodingKey::from_rsa_pem(key.expose().as_bytes()).map_err(|e| {
                    DeliveryError::permanent(format!(
                        "GITHUB_APP_PRIVATE_KEY is not an RSA private key in PEM ({e}): give the .pem file GitHub generated for the App (GITHUB_APP_PRIVATE_KEY_FILE)"
                    ))
                })?;
                Ok(Self::App { app_id, key, tokens: Mutex::new(HashMap::new()) })
            }
        }
    }

    /// The token for calls on `owner/name`.
    ///
    /// # Errors
    /// The App cannot sign its JWT, is not installed on the repository, or GitHub refuses the
    /// installation token.
    pub(super) async fn token(&self, client: &GitHubClient, owner: &str, name: &str) -> Result<Secret, DeliveryError> {
        let (app_id, key, tokens) = match self {
            Self::Token(token) => return Ok(token.clone()),
            Self::App { app_id, key, tokens } => (app_id, key, tokens),
        };
        let repository = format!("{owner}/{name}");
        // Held across the exchange: concurrent calls for one repository make one exchange.
        let mut tokens = tokens.lock().await;
        if let Some((token, expires_at)) = tokens.get(&repository)
            && Timestamp::now() + RENEW_BEFORE < *expires_at
        {
            return Ok(token.clone());
        }
        let jwt = octocrab::auth::create_jwt(octocrab::models::AppId(*app_id), key)
            .map_err(|e| DeliveryError::permanent(format!("cannot sign the GitHub App JWT with GITHUB_APP_PRIVATE_KEY: {e}")))?;
        let (token, expires_at) = installation_token(client, *app_id, &jwt, owner, name).await.map_err(|e| e.redact(&jwt))?;
        tokens.insert(repository, (token.clone(), expires_at));
        Ok(token)
    }
}

/// Finds the installation of App `app_id` on `owner/name` and takes a token for that repository.
async fn installation_token(
    client: &GitHubClient,
    app_id: u64,
    jwt: &str,
    owner: &str,
    name: &str,
) -> Result<(Secret, Timestamp), DeliveryError> {
    let found = client.send(client.request(Method::GET, client.url(&["repos", owner, name, "installation"]), jwt)).await.map_err(|e| {
        e.context(&format!(
            "finding GitHub App {app_id}'s installation on {owner}/{name} (install the App on the repository, with Actions: read and write)"
        ))
    })?;
    let Some(installation) = found.json.get("id").and_then(Value::as_i64) else {
        return Err(DeliveryError::retry(format!("GitHub's installation answer for {owner}/{name} has no id")));
    };
    let body = json!({ "repositories": [name], "permissions": { "actions": "write" } });
    let url = client.url(&["app", "installations", &installation.to_string(), "access_tokens"]);
    let answer = client
        .send(client.request(Method::POST, url, jwt).json(&body))
        .await
        .map_err(|e| e.context(&format!("taking an installation token of GitHub App {app_id} for {owner}/{name}")))?;
    let token = answer.json.get("token").and_then(Value::as_str).filter(|t| !t.is_empty());
    let Some(token) = token else {
        return Err(DeliveryError::retry("GitHub's installation token answer has no token"));
    };
    // Without a readable expiry, use it for the 1 h GitHub documents, renewed as usual.
    let expires_at = answer
        .json
        .get("expires_at")
        .and_then(Value::as_str)
        .and_then(|t| Timestamp::parse_rfc3339(t).ok())
        .unwrap_or_else(|| Timestamp::now() + Duration::from_secs(3600));
    Ok((Secret::new(token), expires_at))
}
