//! `[jira]` of `sparky.toml`; `JIRA_BASE_URL`, `JIRA_USER_EMAIL`, `JIRA_API_TOKEN` and
//! `JIRA_PROJECT_KEY` override the matching keys. Without all four, the log sink stands in.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::load::{EnvLookup, Problem};
use super::types::{Duration, HttpUrl, Secret};
use crate::model::Priority;

/// `[jira]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JiraConfig {
    /// The site, e.g. `https://acme.atlassian.net` (REST v3 under `/rest/api/3/`).
    pub base_url: Option<HttpUrl>,
    /// The account of the API token (basic auth).
    pub user_email: Option<String>,
    /// API token.
    pub api_token: Option<Secret>,
    /// Project key, e.g. `OPS`.
    pub project_key: Option<String>,
    /// Issue type name. Default `Incident` (Jira Service Management).
    pub issue_type: String,
    /// Sparky's priorities to the site's priority names; default `P1`..`P5` as they are.
    pub priorities: BTreeMap<Priority, String>,
    /// The transition that resolves an issue; when the issue has no transition of that name,
    /// the first one into a "done" status is used. Default `Resolve`.
    pub resolve_transition: String,
    /// Labels on every issue (the incident's fingerprint is added). Default `sparky`.
    pub labels: Vec<String>,
    /// Time allowed per request. Default 15 s.
    pub timeout: Duration,
    /// How far Jira's search may lag behind a create: after an attempt to create an issue whose
    /// answer was lost, Sparky waits this long from that attempt before it looks the issue up by
    /// its label (and looks once more before creating it again). Default 60 s.
    pub search_lag: Duration,
}

impl Default for JiraConfig {
    fn default() -> Self {
        Self {
            base_url: None,
            user_email: None,
            api_token: None,
            project_key: None,
            issue_type: "Incident".to_owned(),
            priorities: BTreeMap::new(),
            resolve_transition: "Resolve".to_owned(),
            labels: vec!["sparky".to_owned()],
            timeout: Duration::from_secs(15),
            search_lag: Duration::from_secs(60),
        }
    }
}

impl JiraConfig {
    /// Applies `JIRA_*` from the environment.
    pub fn apply_env(&mut self, env: EnvLookup<'_>, problems: &mut Vec<Problem>) {
        if let Some(url) = env("JIRA_BASE_URL").filter(|v| !v.is_empty()) {
            match url.parse() {
                Ok(u) => self.base_url = Some(u),
                Err(e) => problems.push(Problem::new("environment", "JIRA_BASE_URL", e)),
            }
        }
        if let Some(v) = env("JIRA_USER_EMAIL").filter(|v| !v.is_empty()) {
            self.user_email = Some(v);
        }
        if let Some(v) = env("JIRA_API_TOKEN").filter(|v| !v.is_empty()) {
            self.api_token = Some(Secret::new(v));
        }
        if let Some(v) = env("JIRA_PROJECT_KEY").filter(|v| !v.is_empty()) {
            self.project_key = Some(v);
        }
    }

    /// True when every credential is there (else the log sink stands in).
    pub fn is_configured(&self) -> bool {
        self.missing().is_empty()
    }

    /// The variables of the four that are not set.
    fn missing(&self) -> Vec<&'static str> {
        let set = [
            ("JIRA_BASE_URL", self.base_url.is_some()),
            ("JIRA_USER_EMAIL", self.user_email.is_some()),
            ("JIRA_API_TOKEN", self.api_token.is_some()),
            ("JIRA_PROJECT_KEY", self.project_key.is_some()),
        ];
        set.iter().filter(|(_, is)| !is).map(|(name, _)| *name).collect()
    }

    /// A Jira configured by halves (some of its four settings, not all) is a problem naming
    /// each missing variable: half a configuration would silently print instead of filing.
    pub fn check_halves(&self, problems: &mut Vec<Problem>) {
        let missing = self.missing();
        if missing.is_empty() || missing.len() == 4 {
            return;
        }
        for name in &missing {
            problems.push(Problem::new(
                "environment",
                *name,
                format!("Jira is configured by halves: {name} is not set while the others are; set it (or the [jira] key), or unset the others to print Jira actions instead"),
            ));
        }
    }

    /// The variables that configure the Jira sink, as `check-config` names them.
    pub const VARIABLES: &'static str = "JIRA_BASE_URL, JIRA_USER_EMAIL, JIRA_API_TOKEN, JIRA_PROJECT_KEY";

    /// What the Jira sink will do, for `check-config`.
    pub fn mode(&self) -> String {
        match (&self.base_url, &self.project_key) {
            (Some(url), Some(project)) if self.is_configured() => format!("jira: filing issues in project {project} at {url}"),
            _ => format!("jira: printing only ({} not set)", Self::VARIABLES),
        }
    }

    /// The site's name of `priority`.
    pub fn priority_name(&self, priority: Priority) -> String {
        self.priorities.get(&priority).cloned().unwrap_or_else(|| priority.as_str().to_owned())
    }
}
