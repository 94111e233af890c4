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
                Err(e) => problems.push(Problem::new("PAGERDUTY_EVENTS_URL", "-", e)),
            }
        }
    }
}
