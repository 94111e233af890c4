//! The Slack sink: slack-morphism's request and Block Kit types, sent through Sparky's own HTTP
//! client (the one discipline: timeout, size cap, no redirect followed: a 3xx is permanent), answers read leniently (`ok`,
//! `error`, `ts`, `channel`: a success is a success even when other fields are missing).
//!
//! Follows the Slack Web API: chat.postMessage (`channel`, `text`, `blocks`, `metadata` with
//! `event_type` and `event_payload`), chat.update (`channel`, `ts`, `text`, `blocks`),
//! conversations.history (`channel` id, `oldest`, `limit`, `cursor`, `include_all_metadata`),
//! conversations.list (`types`, `exclude_archived`, `cursor`, `limit`). The token goes in the
//! `Authorization: Bearer` header, never in a URL.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;
use slack_morphism::prelude::*;

use crate::config::{HttpConfig, Secret, SlackConfig};
use crate::fetch::{classify, client, parse_retry_after, read_capped};
use crate::outbox::slack::{SlackPost, SlackUpdate};
use crate::outbox::{Action, Attempt, Delivered, DeliveryError, Sink};
use crate::store::{Store, remote_ids, slack as channels};

use super::errors;

/// `event_type` of the metadata Sparky attaches to its messages.
pub const METADATA_EVENT_TYPE: &str = "sparky_action";
/// Key of the idempotency key in the metadata's `event_payload`.
pub const METADATA_KEY: &str = "idempotency_key";
/// History pages read when looking for an earlier attempt.
const HISTORY_PAGES: usize = 10;
/// Largest Web API answer read.
const MAX_ANSWER: u64 = 2 * 1024 * 1024;

/// The Slack Web API sink.
pub struct SlackSink {
    http: reqwest::Client,
    /// The Web API base, without a trailing `/`.
    api: String,
    token: Secret,
    timeout: Duration,
    history_window: Duration,
    store: Store,
}

impl SlackSink {
    /// A sink posting with `token` to `cfg.api_url`, with the discipline of `http`; `store`
    /// keeps channel ids and message `ts`.
    pub fn new(cfg: &SlackConfig, token: &Secret, http: &HttpConfig, store: Store) -> Result<Self, DeliveryError> {
        let http = client(http).map_err(|e| DeliveryError::permanent(format!("cannot build the Slack client: {e}")))?;
        Ok(Self {
            http,
            api: cfg.api_url.as_str().trim_end_matches('/').to_owned(),
            token: token.clone(),
            timeout: cfg.timeout.get(),
            history_window: cfg.history_window.get(),
            store,
        })
    }

    /// Posts `post`; returns the message `ts`.
    async fn post(&self, post: &SlackPost, key: &str) -> Result<Delivered, DeliveryError> {
        let answer = self.call_post("chat.postMessage", &post.channel, &post_request(post, key)?).await?;
        let (channel, ts) = posted(&answer)?;
        if let Err(e) = channels::remember_channel(&self.store, &post.channel, &channel).await {
            tracing::warn!(error = %e, "cannot remember the Slack channel id");
        }
        self.remember(post, &channel, &ts).await?;
        Ok(Delivered::with_id(ts))
    }

    /// Keeps "CHANNEL_ID TS" under the post's `remember_as` key: chat.update needs both.
    async fn remember(&self, post: &SlackPost, channel: &str, ts: &str) -> Result<(), DeliveryError> {
        let Some(key) = &post.remember_as else { return Ok(()) };
        remote_ids::put(&self.store, "slack", key, &format!("{channel} {ts}"))
            .await
            .map_err(|e| DeliveryError::retry(format!("posted, but cannot record its ts: {e}")))
    }

    /// Edits the message remembered as `update.message` (`chat.update`).
    async fn update(&self, update: &SlackUpdate) -> Result<Delivered, DeliveryError> {
        let remote = remote_ids::get(&self.store, "slack", &update.message).await.map_err(|e| DeliveryError::retry(e.to_string()))?;
        let Some((channel, ts)) = remote.as_deref().and_then(|r| r.split_once(' ')) else {
            return Err(DeliveryError::retry(format!("no posted message `{}` yet", update.message)));
        };
        let content = SlackMessageContent::new().with_text(update.text.clone()).with_blocks(blocks(&update.blocks)?);
        let request = SlackApiChatUpdateRequest::new(SlackChannelId(channel.to_owned()), content, SlackTs(ts.to_owned()));
        let answer = self.call_post("chat.update", channel, &request).await?;
        let (_, ts) = posted(&answer)?;
        Ok(Delivered::with_id(ts))
    }

    /// The channel id and `ts` of a message in `channel` since `since` carrying `key` in its
    /// metadata.
    async fn find(&self, channel: &str, key: &str, since: crate::model::Timestamp) -> Result<Option<(String, String)>, DeliveryError> {
        let id = self.channel_id(channel).await?;
        let since = since.as_millis().max(0);
        let oldest = format!("{}.{:03}000", since / 1000, since % 1000);
        let mut cursor: Option<String> = None;
        for _ in 0..HISTORY_PAGES {
            let mut query = vec![("channel", id.clone()), ("oldest", oldest.clone()), ("limit", "200".to_owned())];
            query.push(("include_all_metadata", "true".to_owned()));
            if let Some(c) = &cursor {
                query.push(("cursor", c.clone()));
            }
            let page = self.call_get("conversations.history", channel, &query).await?;
            let messages = page["messages"].as_array().map(Vec::as_slice).unwrap_or_default();
            if let Some(found) = messages.iter().find(|m| carries_key(m, key)) {
                return Ok(found["ts"].as_str().map(|ts| (id.clone(), ts.to_owned())));
            }
            cursor = next_cursor(&page);
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
        let mut cursor: Option<String> = None;
        for _ in 0..HISTORY_PAGES {
            let mut query = vec![("limit", "1000".to_owned()), ("exclude_archived", "true".to_owned())];
            query.push(("types", "public_channel,private_channel".to_owned()));
            if let Some(c) = &cursor {
                query.push(("cursor", c.clone()));
            }
            let page = self.call_get("conversations.list", name, &query).await?;
            let found = page["channels"].as_array().into_iter().flatten().find(|c| c["name"].as_str() == Some(name));
            if let Some(id) = found.and_then(|c| c["id"].as_str()) {
                return Ok(Some(id.to_owned()));
            }
            cursor = next_cursor(&page);
            if cursor.is_none() {
                break;
            }
        }
        Ok(None)
    }

    async fn call_post(&self, method: &str, channel: &str, body: &impl serde::Serialize) -> Result<Value, DeliveryError> {
        let request = self.http.post(format!("{}/{method}", self.api)).json(body);
        self.call(method, channel, request).await
    }

    async fn call_get(&self, method: &str, channel: &str, query: &[(&str, String)]) -> Result<Value, DeliveryError> {
        let request = self.http.get(format!("{}/{method}", self.api)).query(query);
        self.call(method, channel, request).await
    }

    /// Sends a Web API call about `channel`; the answer's JSON when Slack says `ok: true`. An
    /// error no retry fixes ([`errors`]) is permanent and says what to do.
    async fn call(&self, method: &str, channel: &str, request: reqwest::RequestBuilder) -> Result<Value, DeliveryError> {
        let request = request.bearer_auth(self.token.expose()).timeout(self.timeout);
        let response = request.send().await.map_err(|e| DeliveryError::retry(format!("Slack {method}: {}", classify(&e, self.timeout))))?;
        let status = response.status();
        if status.is_redirection() {
            return Err(crate::sinks::http::redirect_error("Slack", &response));
        }
        let retry_after = parse_retry_after(response.headers());
        let body =
            read_capped(response, MAX_ANSWER, self.timeout).await.map_err(|e| DeliveryError::retry(format!("Slack {method}: {e}")))?;
        if status.as_u16() == 429 {
            return Err(DeliveryError::Retry { reason: "Slack rate limit (HTTP 429)".to_owned(), retry_after });
        }
        let json: Option<Value> = serde_json::from_slice(&body).ok();
        if let Some(error) = json.as_ref().filter(|j| j["ok"].as_bool() == Some(false)).and_then(|j| j["error"].as_str()) {
            let needed = json.as_ref().and_then(|j| j["needed"].as_str());
            return Err(errors::delivery_error(method, error, channel, needed));
        }
        if !status.is_success() {
            let reason = format!("Slack {method} answered HTTP {}", status.as_u16());
            return Err(match errors::http_class(status.as_u16()) {
                errors::Class::Retry => DeliveryError::retry(reason),
                errors::Class::Permanent(fix) => DeliveryError::permanent(format!("{reason}: {fix}")),
            });
        }
        let Some(json) = json else {
            return Err(DeliveryError::retry(format!("Slack {method}: the answer is not JSON")));
        };
        if json["ok"].as_bool() != Some(true) {
            return Err(DeliveryError::retry(format!("Slack {method} answered without `ok: true`")));
        }
        Ok(json)
    }
}

#[async_trait::async_trait]
impl Sink for SlackSink {
    /// A post found by its metadata counts like a fresh one: its `ts` is recorded, so a later
    /// `chat.update` of it works.
    async fn find_earlier(&self, action: &Action, attempt: &Attempt) -> Result<Option<Delivered>, DeliveryError> {
        let Action::SlackPost(post) = action else { return Ok(None) };
        let since = attempt.created_at - self.history_window;
        let Some((channel, ts)) = self.find(&post.channel, &attempt.key, since).await? else { return Ok(None) };
        self.remember(post, &channel, &ts).await?;
        Ok(Some(Delivered::with_id(ts)))
    }

    async fn deliver(&self, action: &Action, attempt: &Attempt) -> Result<Delivered, DeliveryError> {
        match action {
            Action::SlackPost(post) => self.post(post, &attempt.key).await,
            Action::SlackUpdate(update) => self.update(update).await,
            other => Err(DeliveryError::permanent(format!("the Slack sink cannot deliver a {} action", other.sink()))),
        }
    }
}

/// The channel id and `ts` of a successful post or update.
fn posted(answer: &Value) -> Result<(String, String), DeliveryError> {
    let ts = answer["ts"].as_str().filter(|t| !t.is_empty());
    let channel = answer["channel"].as_str().unwrap_or_default();
    match ts {
        Some(ts) => Ok((channel.to_owned(), ts.to_owned())),
        None => Err(DeliveryError::retry("Slack answered ok: true without the message's ts")),
    }
}

fn next_cursor(page: &Value) -> Option<String> {
    page["response_metadata"]["next_cursor"].as_str().filter(|c| !c.is_empty()).map(str::to_owned)
}

fn carries_key(message: &Value, key: &str) -> bool {
    let metadata = &message["metadata"];
    metadata["event_type"] == METADATA_EVENT_TYPE && metadata["event_payload"][METADATA_KEY] == key
}

fn blocks(blocks: &[Value]) -> Result<Vec<SlackBlock>, DeliveryError> {
    blocks
        .iter()
        .map(|b| serde_json::from_value::<SlackBlock>(b.clone()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| DeliveryError::permanent(format!("stored blocks are not Block Kit: {e}")))
}

fn post_request(post: &SlackPost, key: &str) -> Result<SlackApiChatPostMessageRequest, DeliveryError> {
    let metadata = SlackMessageMetadata::new(METADATA_EVENT_TYPE.to_owned())
        .with_event_payload(HashMap::from([(METADATA_KEY.to_owned(), key.to_owned())]));
    let content = SlackMessageContent::new().with_text(post.text.clone()).with_blocks(blocks(&post.blocks)?).with_metadata(metadata);
    Ok(SlackApiChatPostMessageRequest::new(SlackChannelId(post.channel.clone()), content).with_unfurl_links(false).with_unfurl_media(false))
}
