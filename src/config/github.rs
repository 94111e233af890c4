//! `[github]` of `sparky.toml` (compatibility runs on GitHub Actions) and `[teams]` (who owns a
//! partner's compatibility P2). `GITHUB_TOKEN`, `GITHUB_APP_ID`, `GITHUB_APP_PRIVATE_KEY`,
//! `GITHUB_APP_PRIVATE_KEY_FILE`, `GITHUB_API_URL` and `GITHUB_WEBHOOK_SECRET` override the
//! matching keys. Without a token or an App, the log sink prints what would be dispatched.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::load::{EnvLookup, Problem};
use super::types::{Duration, HttpUrl, Secret};

/// `[github]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GitHubConfig {
    /// REST API base. Default `https://api.github.com` (GitHub Enterprise Server:
    /// `https://HOST/api/v3`).
    pub api_url: HttpUrl,
    /// A fine-grained personal access token (Actions: read and write on the test repositories,
    /// Metadata: read).
    pub token: Option<Secret>,
    /// A GitHub App's id, with `app_private_key` or `app_private_key_file`: Sparky signs a JWT
    /// and takes an installation token for each repository.
    pub app_id: Option<u64>,
    /// The App's private key (PEM).
    pub app_private_key: Option<Secret>,
    /// A file holding the App's private key (PEM), relative to the config directory.
    pub app_private_key_file: Option<PathBuf>,
    /// Verifies `POST /webhooks/github` (`X-Hub-Signature-256`); without it the endpoint
    /// refuses every delivery.
    pub webhook_secret: Option<Secret>,
    /// Time allowed per request. Default 15 s.
    pub timeout: Duration,
    /// How long after a dispatch GitHub may take to list its run (a dispatch answered 204 does
    /// not name it): an uncertain dispatch is not sent again before this has passed without the
    /// run appearing. Default 60 s.
    pub run_lag: Duration,
    /// First wait between two polls of a run; doubles up to `poll_max`. Default 30 s.
    pub poll_min: Duration,
    /// Longest wait between two polls of a run. Default 5 min.
    pub poll_max: Duration,
    /// How long Sparky follows one run before it gives up on it (and says so). Default 6 h.
    pub follow_timeout: Duration,
}

impl Default for GitHubConfig {
    fn default() -> Self {
        Self {
            api_url: "https://api.github.com".parse().expect("a constant URL"), // invariant: a valid literal
            token: None,
            app_id: None,
            app_private_key: None,
            app_private_key_file: None,
            webhook_secret: None,
            timeout: Duration::from_secs(15),
            run_lag: Duration::from_secs(60),
            poll_min: Duration::from_secs(30),
            poll_max: Duration::from_secs(5 * 60),
            follow_timeout: Duration::from_secs(6 * 3600),
        }
    }
}

/// How Sparky authenticates to GitHub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitHubAuth {
    /// A token (`GITHUB_TOKEN`), sent as `Authorization: Bearer`.
    Token(Secret),
    /// A GitHub App: a JWT signed with the key, exchanged for an installation token of the
    /// repository's installation.
    App {
        /// The App's id.
        app_id: u64,
        /// The private key, PEM.
        key: Secret,
    },
}

impl GitHubConfig {
    /// The variables that configure the GitHub sink, as `check-config` names them.
    pub const VARIABLES: &'static str = "GITHUB_TOKEN, or GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY";

    /// Applies `GITHUB_*` from the environment.
    pub fn apply_env(&mut self, env: EnvLookup<'_>, problems: &mut Vec<Problem>) {
        if let Some(url) = env("GITHUB_API_URL").filter(|v| !v.is_empty()) {
            match url.parse() {
                Ok(u) => self.api_url = u,
                Err(e) => problems.push(Problem::new("environment", "GITHUB_API_URL", e)),
            }
        }
        if let Some(v) = env("GITHUB_TOKEN").filter(|v| !v.is_empty()) {
            self.token = Some(Secret::new(v));
        }
        if let Some(v) = env("GITHUB_APP_ID").filter(|v| !v.is_empty()) {
            match v.trim().parse() {
                Ok(id) => self.app_id = Some(id),
                Err(_) => problems.push(Problem::new(
                    "environment",
                    "GITHUB_APP_ID",
                    format!("`{v}` is not a number: give the App ID from the App's settings page"),
                )),
            }
        }
        if let Some(v) = env("GITHUB_APP_PRIVATE_KEY").filter(|v| !v.is_empty()) {
            self.app_private_key = Some(Secret::new(v));
        }
        if let Some(v) = env("GITHUB_APP_PRIVATE_KEY_FILE").filter(|v| !v.is_empty()) {
            self.app_private_key_file = Some(PathBuf::from(v));
        }
        if let Some(v) = env("GITHUB_WEBHOOK_SECRET").filter(|v| !v.is_empty()) {
            self.webhook_secret = Some(Secret::new(v));
        }
    }

    /// Reads `app_private_key_file` (relative to `config_dir`) into `app_private_key`.
    pub fn read_key_file(&mut self, config_dir: &std::path::Path, problems: &mut Vec<Problem>) {
        let Some(file) = &self.app_private_key_file else { return };
        let path = config_dir.join(file);
        match std::fs::read_to_string(&path) {
            Ok(pem) => self.app_private_key = Some(Secret::new(pem)),
            Err(e) => {
                problems.push(Problem::new("sparky.toml", "github.app_private_key_file", format!("cannot read {}: {e}", path.display())))
            }
        }
    }

    /// The credentials, when there are any (else the log sink stands in).
    pub fn auth(&self) -> Option<GitHubAuth> {
        if let Some(token) = &self.token {
            return Some(GitHubAuth::Token(token.clone()));
        }
        match (self.app_id, &self.app_private_key) {
            (Some(app_id), Some(key)) => Some(GitHubAuth::App { app_id, key: key.clone() }),
            _ => None,
        }
    }

    /// An App id without its key (or the reverse) is a problem: half an App would silently
    /// print instead of dispatching; so is a key that is not an RSA private key in PEM (found
    /// here, not when the daemon starts).
    pub fn check_halves(&self, problems: &mut Vec<Problem>) {
        if self.poll_max < self.poll_min {
            problems.push(Problem::new("sparky.toml", "github.poll_max", "shorter than github.poll_min"));
        }
        if self.token.is_some() {
            return;
        }
        match (self.app_id, &self.app_private_key) {
            (Some(_), None) => problems.push(Problem::new(
                "environment",
                "GITHUB_APP_PRIVATE_KEY",
                "GITHUB_APP_ID is set without the App's private key: set GITHUB_APP_PRIVATE_KEY (PEM) or GITHUB_APP_PRIVATE_KEY_FILE, or unset GITHUB_APP_ID",
            )),
            (None, Some(_)) => problems.push(Problem::new(
                "environment",
                "GITHUB_APP_ID",
                "the App's private key is set without GITHUB_APP_ID: set it, or unset the key",
            )),
            (Some(_), Some(key)) => {
                if let Err(e) = octocrab::EncodingKey::from_rsa_pem(key.expose().as_bytes()) {
                    problems.push(Problem::new(
                        "environment",
                        "GITHUB_APP_PRIVATE_KEY",
                        format!("not an RSA private key in PEM ({e}): give the .pem file GitHub generated for the App (GITHUB_APP_PRIVATE_KEY_FILE)"),
                    ));
                }
            }
            (None, None) => {}
        }
    }

    /// What the GitHub sink will do, for `check-config`.
    pub fn mode(&self) -> String {
        match self.auth() {
            Some(GitHubAuth::Token(_)) => format!("github: dispatching compatibility workflows at {} with GITHUB_TOKEN", self.api_url),
            Some(GitHubAuth::App { app_id, .. }) => {
                format!("github: dispatching compatibility workflows at {} as GitHub App {app_id}", self.api_url)
            }
            None => format!("github: printing only ({} not set)", Self::VARIABLES),
        }
    }
}

/// `[teams.NAME]`: how a partner's `owner_team` appears on its compatibility P2 in Jira, and
/// whom its Slack notice mentions.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TeamConfig {
    /// The assignee's Atlassian account id (`fields.assignee.id`).
    pub jira_assignee: Option<String>,
    /// Component names (`fields.components[].name`).
    pub jira_components: Vec<String>,
    /// Other fields, as Jira's create takes them, e.g. a Team custom field:
    /// `{ customfield_10001 = "team-uuid" }`.
    pub jira_fields: BTreeMap<String, toml::Value>,
    /// Whom the Slack notice of a failure mentions, e.g. `<!subteam^S0123>` (a user group);
    /// a partner's `owner_slack` wins.
    pub slack: Option<String>,
}
