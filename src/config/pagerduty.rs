//! `[pagerduty]` of `sparky.toml`; `PAGERDUTY_ROUTING_KEY` and `PAGERDUTY_EVENTS_URL` override
//! the matching keys. Without a routing key, the log sink stands in.

use serde::Deserialize;

use super::load::{EnvLookup, Problem};
use super::types::{Duration, HttpUrl, Secret};

/// `[pagerduty]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PagerDutyConfig {
    /// The integration's routing key (Events API v2).
    pub routing_key: Option<Secret>,
    /// Events API base; events go to `/v2/enqueue`. Default `https://events.pagerduty.com`.
    pub events_url: HttpUrl,
    /// Time allowed per request. Default 10 s.
    pub timeout: Duration,
}

impl Default for PagerDutyConfig {
    fn default() -> Self {
        Self {
            routing_key: None,
            events_url: "https://events.pagerduty.com".parse().expect("a constant URL"), // invariant: a valid literal
            timeout: Duration::from_secs(10),
        }
    }
}

impl PagerDutyConfig {
    /// Applies `PAGERDUTY_*` from the environment.
    pub fn apply_env(&mut self, env: EnvLookup<'_>, problems: &mut Vec<Problem>) {
        if let Some(v) = env("PAGERDUTY_ROUTING_KEY").filter(|v| !v.is_empty()) {
            self.routing_key = Some(Secret::new(v));
        }
        if let Some(url) = env("PAGERDUTY_EVENTS_URL").filter(|v| !v.is_empty()) {
            match url.parse() {
                Ok(u) => self.events_url = u,
                Err(e) => problems.push(Problem::new("environment", "PAGERDUTY_EVENTS_URL", e)),
            }
        }
    }

    /// An integration key is 32 letters and digits (PagerDuty, "Events API v2 integration
    /// key"); anything else is a typo that would send every page to the dead letter.
    pub fn check_key(&self, problems: &mut Vec<Problem>) {
        let Some(key) = &self.routing_key else { return };
        let key = key.expose();
        if key.len() != ROUTING_KEY_LEN || !key.chars().all(|c| c.is_ascii_alphanumeric()) {
            problems.push(Problem::new(
                "environment",
                "PAGERDUTY_ROUTING_KEY",
                format!(
                    "not an Events API v2 integration key ({} characters; a key is {ROUTING_KEY_LEN} letters and digits): copy it again from the service's Events API v2 integration",
                    key.chars().count()
                ),
            ));
        }
    }

    /// What the PagerDuty sink will do, for `check-config`.
    pub fn mode(&self) -> String {
        match &self.routing_key {
            Some(_) => format!("pagerduty: paging through Events API v2 at {}", self.events_url),
            None => "pagerduty: printing only (PAGERDUTY_ROUTING_KEY not set)".to_owned(),
        }
    }
}

/// Length of an Events API v2 routing (integration) key.
const ROUTING_KEY_LEN: usize = 32;
