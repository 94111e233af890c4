//! Posting to Slack with slack-morphism: `chat.postMessage` (Block Kit) with the action's
//! idempotency key in message metadata, and `conversations.history` to find an earlier attempt
//! whose answer never came back, so a message is posted once.
//!
//! Follows the Slack Web API: chat.postMessage (`channel`, `text`, `blocks`, `metadata` with
//! `event_type` and `event_payload`), conversations.history (`channel` id, `oldest`, `limit`,
//! `cursor`, `include_all_metadata`), conversations.list (`types`, `cursor`, `limit`).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;

use super::config::SlackConfig;
use super::message::{SlackPost, SlackUpdate};
use crate::config::Secret;
use crate::outbox::{Delivered, DeliveryError};
use crate::store::outbox::ActionRow;
use crate::store::{Store, remote_ids, slack as channels};

/// `event_type` of the metadata Sparky attaches to its messages.
pub const METADATA_EVENT_TYPE: &str = "sparky_action";
/// Key of the idempotency key in the metadata's `event_payload`.
pub const METADATA_KEY: &str = "idempotency_key";
/// History pages read when looking for an earlier attempt.
const HISTORY_PAGES: usize = 10;

type Connector = SlackClientHyperConnector<hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>>;

/// The Slack Web API sink.
pub struct SlackSink {
    client: SlackClient<Connector>,
    token: SlackApiToken,
    timeout: Duration,
    history_window: Duration,
    store: Store,
    limiter: DefaultKeyedRateLimiter<String>,
}

/// The Slack client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the Slack client: {0}")]
pub struct SlackSetupError(String);

impl SlackSink {
    /// A sink posting with `token` to `cfg.api_url`; `store` keeps channel ids.
    pub fn new(cfg: &SlackConfig, token: &Secret, store: Store) -> Result<Self, SlackSetupError> {
        // https_or_http: the same connector serves slack.com and a fake Slack on loopback.
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| SlackSetupError(e.to_string()))?
            .https_or_http()
            .enable_http1()
            .build();
        let connector = SlackClientHyperConnector::with_connector(https).with_slack_api_url(cfg.api_url.as_str().trim_end_matches('/'));
        let per_second = NonZeroU32::new(cfg.messages_per_second.max(1)).unwrap_or(NonZeroU32::MIN);
        Ok(Self {
            client: SlackClient::new(connector),
            token: SlackApiToken::new(SlackApiTokenValue::new(token.expose().to_owned())),
            timeout: cfg.timeout.get(),
            history_window: cfg.history_window.get(),
            store,
            limiter: RateLimiter::keyed(Quota::per_second(per_second)),
        })
    }

    /// Posts `post` once: when an earlier attempt may have reached Slack, its message is looked
    /// up by idempotency key first, and found means delivered. Returns the message `ts`.
    pub async fn post(&self, post: &SlackPost, row: &ActionRow) -> Result<Delivered, DeliveryError> {
        if row.maybe_delivered_before() {
            let since = row.created_at - i64::try_from(self.history_window.as_millis()).unwrap_or(0);
            if let Some(ts) = self.find_earlier(&post.channel, &row.idempotency_key, since).await? {
                tracing::info!(action = row.id, ts = %ts, "Slack already has this message (found by idempotency key); not posting again");
                return Ok(Delivered { remote_id: Some(ts) });
            }
        }
        self.limiter.until_key_ready(&post.channel).await;
        let request = post_request(post, &row.idempotency_key)?;
        let session = self.client.open_session(&self.token);
        let answer = self.call(session.chat_post_message(&request)).await?;
        if let Err(e) = channels::remember_channel(&self.store, &post.channel, &answer.channel.0).await {
            tracing::warn!(error = %e, "cannot remember the Slack channel id");
        }
        if let Some(key) = &post.remember_as {
            // Kept as "CHANNEL_ID TS": chat.update needs both.
            remote_ids::put(&self.store, "slack", key, &format!("{} {}", answer.channel.0, answer.ts.0))
                .await
                .map_err(|e| DeliveryError::retry(format!("posted, but cannot record its ts: {e}")))?;
        }
        Ok(Delivered { remote_id: Some(answer.ts.0) })
    }

    /// Edits the message remembered as `update.message` (`chat.update`).
    pub async fn update(&self, update: &SlackUpdate) -> Result<Delivered, DeliveryError> {
        let remote = remote_ids::get(&self.store, "slack", &update.message).await.map_err(|e| DeliveryError::retry(e.to_string()))?;
        let Some((channel, ts)) = remote.as_deref().and_then(|r| r.split_once(' ')) else {
            return Err(DeliveryError::retry(format!("no posted message `{}` yet", update.message)));
        };
        let blocks = blocks(&update.blocks)?;
        let content = SlackMessageContent::new().with_text(update.text.clone()).with_blocks(blocks);
        let request = SlackApiChatUpdateRequest::new(SlackChannelId(channel.to_owned()), content, SlackTs(ts.to_owned()));
        let session = self.client.open_session(&self.token);
        let answer = self.call(session.chat_update(&request)).await?;
        Ok(Delivered { remote_id: Some(answer.ts.0) })
    }

    async fn call<T>(&self, fut: impl Future<Output = ClientResult<T>>) -> Result<T, DeliveryError> {
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => Err(delivery_error(e)),
            Err(_) => Err(DeliveryError::retry(format!("Slack did not answer within {:?}", self.timeout))),
        }
    }

    /// The `ts` of a message in `channel` since `since_ms` carrying `key` in its metadata.
    async fn find_earlier(&self, channel: &str, key: &str, since_ms: i64) -> Result<Option<String>, DeliveryError> {
        let id = self.channel_id(channel).await?;
        let session = self.client.open_session(&self.token);
        let mut cursor = None;
        for _ in 0..HISTORY_PAGES {
            let request = SlackApiConversationsHistoryRequest::new()
                .with_channel(SlackChannelId(id.clone()))
                .with_oldest(SlackTs(format!("{}.{:03}000", since_ms.max(0) / 1000, since_ms.max(0) % 1000)))
                .with_limit(200)
                .with_include_all_metadata(true)
                .opt_cursor(cursor);
            let page = self.call(session.conversations_history(&request)).await?;
            if let Some(found) = page.messages.iter().find(|m| carries_key(&m.content, key)) {
                return Ok(Some(found.origin.ts.0.clone()));
            }
            cursor = page.response_metadata.and_then(|m| m.next_cursor).filter(|c| !c.0.is_empty());
            if cursor.is_none() {
                break;
            }
        }
        Ok(None)
    }

    /// conversations.history takes channel ids: a known id, else a name resolved with
    /// conversations.list, else the configured value as it is.
    async fn channel_id(&self, channel: &str) -> Result<String, DeliveryError> {
        if let Ok(Some(id)) = channels::channel_id(&self.store, channel).await {
            return Ok(id);
        }
        let Some(name) = channel.strip_prefix('#') else { return Ok(channel.to_owned()) };
        match self.resolve(name).await {
            Ok(Some(id)) => {
                let _ = channels::remember_channel(&self.store, channel, &id).await;
                Ok(id)
            }
            Ok(None) => Ok(channel.to_owned()),
            Err(e) => {
                tracing::debug!(error = %e, channel, "conversations.list failed; using the channel name");
                Ok(channel.to_owned())
            }
        }
    }

    async fn resolve(&self, name: &str) -> Result<Option<String>, DeliveryError> {
        let session = self.client.open_session(&self.token);
        let mut cursor = None;
        for _ in 0..HISTORY_PAGES {
            let request = SlackApiConversationsListRequest::new()
                .with_limit(1000)
                .with_exclude_archived(true)
                .with_types(vec![SlackConversationType::Public, SlackConversationType::Private])
                .opt_cursor(cursor);
            let page = self.call(session.conversations_list(&request)).await?;
            if let Some(found) = page.channels.iter().find(|c| c.name.as_deref() == Some(name)) {
                return Ok(Some(found.id.0.clone()));
            }
            cursor = page.response_metadata.and_then(|m| m.next_cursor).filter(|c| !c.0.is_empty());
            if cursor.is_none() {
                break;
            }
        }
        Ok(None)
    }
}

fn carries_key(content: &SlackMessageContent, key: &str) -> bool {
    content
        .metadata
        .as_ref()
        .filter(|m| m.event_type == METADATA_EVENT_TYPE)
        .and_then(|m| m.event_payload.as_ref())
        .and_then(|p| p.get(METADATA_KEY))
        .is_some_and(|k| k == key)
}

fn blocks(blocks: &[serde_json::Value]) -> Result<Vec<SlackBlock>, DeliveryError> {
    blocks
        .iter()
        .map(|b| serde_json::from_value::<SlackBlock>(b.clone()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| DeliveryError::Permanent { reason: format!("stored blocks are not Block Kit: {e}") })
}

fn post_request(post: &SlackPost, key: &str) -> Result<SlackApiChatPostMessageRequest, DeliveryError> {
    let blocks = blocks(&post.blocks)?;
    let metadata = SlackMessageMetadata::new(METADATA_EVENT_TYPE.to_owned())
        .with_event_payload(HashMap::from([(METADATA_KEY.to_owned(), key.to_owned())]));
    let content = SlackMessageContent::new().with_text(post.text.clone()).with_blocks(blocks).with_metadata(metadata);
    Ok(SlackApiChatPostMessageRequest::new(SlackChannelId(post.channel.clone()), content).with_unfurl_links(false).with_unfurl_media(false))
}

/// Every Slack failure is worth another attempt: 5xx, 429 (with its `Retry-After`), and
/// `ok: false` (which the attempt budget eventually sends to the dead letter state).
fn delivery_error(e: SlackClientError) -> DeliveryError {
    match e {
        SlackClientError::RateLimitError(r) => {
            DeliveryError::Retry { reason: "Slack rate limit (HTTP 429)".to_owned(), retry_after: r.retry_after }
        }
        SlackClientError::ApiError(a) => DeliveryError::retry(format!("Slack answered ok: false, error `{}`", a.code)),
        SlackClientError::HttpError(h) => DeliveryError::retry(format!("Slack answered HTTP {}", h.status_code)),
        other => DeliveryError::retry(format!("Slack request failed: {}", one_line(&other.to_string()))),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(300).collect()
}
