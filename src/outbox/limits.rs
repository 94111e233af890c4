//! Per-sink rate limits (governor), and Slack's per-channel limit on top of its sink's.

use std::collections::HashMap;
use std::num::NonZeroU32;

use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::Action;
use crate::model::SinkKind;

/// The rate limits of this process's deliveries.
pub struct Limits {
    per_sink: HashMap<SinkKind, DefaultDirectRateLimiter>,
    per_channel: DefaultKeyedRateLimiter<String>,
}

fn quota(per_second: u32) -> Quota {
    Quota::per_second(NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN))
}

impl Limits {
    /// `per_sink` deliveries a second by sink (`[outbox] rate_limits`), and
    /// `slack_per_channel` messages a second per Slack channel (`[slack] messages_per_second`).
    pub fn new(per_sink: impl IntoIterator<Item = (SinkKind, u32)>, slack_per_channel: u32) -> Self {
        Self {
            per_sink: per_sink.into_iter().map(|(sink, n)| (sink, RateLimiter::direct(quota(n)))).collect(),
            per_channel: RateLimiter::keyed(quota(slack_per_channel)),
        }
    }

    /// Waits until `action` may go.
    pub async fn until_ready(&self, action: &Action) {
        if let Some(limit) = self.per_sink.get(&action.sink()) {
            limit.until_ready().await;
        }
        if let Action::SlackPost(post) = action {
            self.per_channel.until_key_ready(&post.channel).await;
        }
    }
}
