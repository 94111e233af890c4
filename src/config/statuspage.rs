//! `[statuspage]` of `sparky.toml`; `STATUSPAGE_API_KEY`, `STATUSPAGE_PAGE_ID` and
//! `STATUSPAGE_API_URL` override the matching keys. Without key and page id, Sparky's built-in
//! status page is ours.

use serde::Deserialize;

use super::load::{EnvLookup, Problem};
use super::types::{Duration, HttpUrl, Secret};

/// `[statuspage]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StatuspageConfig {
    /// API key (sent as `Authorization: OAuth KEY`).
    pub api_key: Option<Secret>,
    /// The page id.
    pub page_id: Option<String>,
    /// API base. Default `https://api.statuspage.io/v1`.
    pub api_url: HttpUrl,
    /// Time allowed per request. Default 15 s.
    pub timeout: Duration,
    /// Title of the built-in page. Default `Service status`.
    pub title: String,
}

/// `[public_status]` of `sparky.toml`: where customers read our public status page.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PublicPageConfig {
    /// The page's absolute URL, as customers reach it (`https://status.acme.com/`): the
    /// built-in page's `page.url` in `summary.json` and the links of `/status/history.atom`;
    /// with Atlassian Statuspage, where `/status` sends people. Default: none (`/status`).
    pub url: Option<HttpUrl>,
}

impl Default for StatuspageConfig {
    fn default() -> Self {
        Self {
            api_key: None,
            page_id: None,
            api_url: "https://api.statuspage.io/v1".parse().expect("a constant URL"), // invariant: a valid literal
            timeout: Duration::from_secs(15),
            title: "Service status".to_owned(),
        }
    }
}

impl StatuspageConfig {
    /// Applies `STATUSPAGE_*` from the environment.
    pub fn apply_env(&mut self, env: EnvLookup<'_>, problems: &mut Vec<Problem>) {
        if let Some(v) = env("STATUSPAGE_API_KEY").filter(|v| !v.is_empty()) {
            self.api_key = Some(Secret::new(v));
        }
        if let Some(v) = env("STATUSPAGE_PAGE_ID").filter(|v| !v.is_empty()) {
            self.page_id = Some(v);
        }
        if let Some(url) = env("STATUSPAGE_API_URL").filter(|v| !v.is_empty()) {
            match url.parse() {
                Ok(u) => self.api_url = u,
                Err(e) => problems.push(Problem::new("environment", "STATUSPAGE_API_URL", e)),
            }
        }
    }

    /// True when the Atlassian API is ours (else the built-in page).
    pub fn is_configured(&self) -> bool {
        self.api_key.is_some() && self.page_id.is_some()
    }

    /// A key without a page, or a page without a key, is a problem naming the missing variable.
    pub fn check_halves(&self, problems: &mut Vec<Problem>) {
        let missing = match (self.api_key.is_some(), self.page_id.is_some()) {
            (true, false) => "STATUSPAGE_PAGE_ID",
            (false, true) => "STATUSPAGE_API_KEY",
            _ => return,
        };
        problems.push(Problem::new(
            "environment",
            missing,
            format!("Statuspage is configured by halves: {missing} is not set; set it, or unset the other to use the built-in status page"),
        ));
    }

    /// What the status page sink will do, for `check-config`.
    pub fn mode(&self) -> String {
        match &self.page_id {
            Some(page) if self.is_configured() => format!("statuspage: updating Atlassian Statuspage page {page}"),
            _ => "statuspage: the built-in page at /status and /api/v2/summary.json (STATUSPAGE_API_KEY, STATUSPAGE_PAGE_ID not set)"
                .to_owned(),
        }
    }
}
