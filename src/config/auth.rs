//! `[auth]` of a synthetic check and `[status_page.auth]` of a partner: one shape of
//! credentials for every authenticated request (applied by [`crate::fetch::auth`]).

use std::path::Path;

use serde::Deserialize;

use super::load::Problem;
use super::types::{HttpUrl, Secret};

/// `[auth]` / `[status_page.auth]`: credentials come from the environment (`${VAR}`), never from
/// the file itself.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthConfig {
    /// `Authorization: Bearer TOKEN`.
    Bearer {
        /// The token.
        token: Secret,
    },
    /// `Authorization: Basic base64(username:password)` (ServiceNow, Workday).
    Basic {
        /// User.
        username: String,
        /// Password.
        password: Secret,
    },
    /// An API key header (`Authorization: SSWS ...` for Okta: header = "Authorization", prefix = "SSWS ").
    ApiKey {
        /// Header name.
        header: String,
        /// Key.
        value: Secret,
        /// Written before the key, e.g. `SSWS `.
        #[serde(default)]
        prefix: String,
    },
    /// OAuth 2.0 client credentials (RFC 6749 §4.4): Microsoft identity platform, Okta,
    /// ServiceNow, Workday. The token is cached until shortly before it expires and refreshed
    /// once on a 401.
    Oauth2ClientCredentials {
        /// Token endpoint, e.g. `https://login.microsoftonline.com/TENANT/oauth2/v2.0/token`.
        token_url: HttpUrl,
        /// Client id.
        client_id: String,
        /// Client secret.
        client_secret: Secret,
        /// Scope, e.g. `https://graph.microsoft.com/.default`.
        #[serde(default)]
        scope: Option<String>,
        /// Audience, for providers that want one.
        #[serde(default)]
        audience: Option<String>,
    },
}

impl AuthConfig {
    /// The secrets it holds (token, password, API key, client secret), for redaction.
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        let secret = match self {
            Self::Bearer { token } => token,
            Self::Basic { password, .. } => password,
            Self::ApiKey { value, .. } => value,
            Self::Oauth2ClientCredentials { client_secret, .. } => client_secret,
        };
        std::iter::once(secret.expose())
    }

    /// The header that carries the credential: `Authorization`, or an API key's own header.
    pub fn header(&self) -> &str {
        match self {
            Self::ApiKey { header, .. } => header,
            _ => "authorization",
        }
    }

    /// The token endpoint, for OAuth 2.0 (the other kinds send their credentials only with the
    /// request itself).
    pub fn token_url(&self) -> Option<&HttpUrl> {
        match self {
            Self::Oauth2ClientCredentials { token_url, .. } => Some(token_url),
            _ => None,
        }
    }

    /// Credentials go only over HTTPS, or to a loopback address (a test server): `url` (the
    /// request's, at `url_key`) and the token endpoint (at `key.token_url`).
    pub(super) fn check_transport(&self, key: &str, url: &HttpUrl, url_key: &str, file: &Path, problems: &mut Vec<Problem>) {
        let token = self.token_url().map(|t| (format!("{key}.token_url"), t));
        for (at, target) in std::iter::once((url_key.to_owned(), url)).chain(token) {
            if !encrypted_or_local(target.url()) {
                problems.push(Problem::new(
                    file,
                    at,
                    format!("`{target}`: credentials ({key}) are sent only over https (or to a loopback address)"),
                ));
            }
        }
    }
}

/// `https`, or a loopback host (`localhost`, `127.0.0.0/8`, `::1`).
fn encrypted_or_local(url: &url::Url) -> bool {
    match url.host() {
        _ if url.scheme() == "https" => true,
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}
