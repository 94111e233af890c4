//! `[slack]` of `sparky.toml`.

use serde::Deserialize;

use super::types::{Duration, HttpUrl, Secret};

/// `[slack]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlackConfig {
    /// Default channel of digests and notices. Default `#ecosystem-updates`.
    pub channel: String,
    /// Slack Web API base, ending in `/api`. Env: `SLACK_API_URL`. Default `https://slack.com/api`.
    pub api_url: HttpUrl,
    /// Bot token (`xoxb-...`). Env: `SLACK_BOT_TOKEN`. Without it, the log sink prints messages.
    pub token: Option<Secret>,
    /// Total time allowed for one Web API call. Default 10 s.
    pub timeout: Duration,
    /// How far back `conversations.history` is searched for an earlier attempt of a post. Default 24 h.
    pub history_window: Duration,
    /// Messages per second per channel (Slack allows about one). Default 1.
    pub messages_per_second: u32,
}

impl Default for SlackConfig {
    fn default() -> Self {
        Self {
            channel: "#ecosystem-updates".to_owned(),
            api_url: "https://slack.com/api".parse().expect("a constant URL"), // invariant: a valid literal
            token: None,
            timeout: Duration::from_secs(10),
            history_window: Duration::from_secs(24 * 3600),
            messages_per_second: 1,
        }
    }
}

/// A Slack channel is a `#name` or a channel id such as `C0123ABCD`.
pub fn check_channel(channel: &str) -> Result<(), String> {
    let name = channel.strip_prefix('#').unwrap_or(channel);
    if name.is_empty() || name.chars().any(char::is_whitespace) {
        return Err(format!("`{channel}` is not a channel: write `#name` or a channel id"));
    }
    Ok(())
}
