//! A fake Slack Web API on loopback: `chat.postMessage`, `chat.update`, `conversations.history`
//! and `conversations.list`, answering the real shapes, with a script of failures. Like Slack, it
//! keeps messages per channel (a `#name` is resolved to its channel id, as Slack does for
//! `chat.postMessage`), and `conversations.history` honours `channel` (an id; a name is
//! `channel_not_found`), `oldest` (exclusive), `limit` with a `next_cursor`, and
//! `include_all_metadata` (without it, no message carries its `metadata`).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// How the fake answers the next `chat.postMessage`.
#[derive(Debug, Clone)]
#[allow(dead_code)]
pub enum Reply {
    /// `ok: true`; the message is in the channel.
    Ok,
    /// An HTTP error status; nothing posted.
    Status(u16),
    /// HTTP 429 with `Retry-After: secs`; nothing posted.
    RateLimited(u64),
    /// `ok: false` with this error; nothing posted.
    NotOk(&'static str),
    /// The message is posted, but the answer comes only after this long (a hung request).
    Hold(Duration),
    /// The message is posted; the answer is `ok: true` with `ts` and `channel` but without the
    /// `message` field (a success in a shape a strict parser refuses).
    OkWithoutMessage,
}

/// A message the fake received.
#[derive(Debug, Clone)]
#[allow(dead_code)]
pub struct Post {
    /// The request body.
    pub body: Value,
    /// The idempotency key from `metadata.event_payload`.
    pub key: Option<String>,
    /// Whether Slack posted it (visible in history).
    pub posted: bool,
    /// Its `ts`.
    pub ts: String,
    /// The id of the channel it went to.
    pub channel_id: String,
    /// The `Authorization` header.
    pub authorization: Option<String>,
}

impl Post {
    /// Every `text` in the blocks and the top-level text, joined.
    #[allow(dead_code)]
    pub fn all_text(&self) -> String {
        let mut out = vec![self.body["text"].as_str().unwrap_or_default().to_owned()];
        collect(&self.body["blocks"], &mut out);
        out.join("\n")
    }
}

fn collect(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => m.iter().for_each(|(k, v)| match v {
            Value::String(s) if k == "text" => out.push(s.clone()),
            other => collect(other, out),
        }),
        Value::Array(a) => a.iter().for_each(|i| collect(i, out)),
        _ => {}
    }
}

#[derive(Default)]
struct State {
    script: VecDeque<Reply>,
    posts: Vec<Post>,
    history_calls: usize,
    violations: Vec<String>,
    /// Channel name (without `#`) -> id.
    channels: Vec<(String, String)>,
    /// The `chat.update` requests that edited a message.
    updates: Vec<Value>,
    /// The next post that would answer `ok` is posted and answered only after this long.
    hold_next: Option<Duration>,
}

impl State {
    /// The id of channel `name_or_id` (`#name`, `name` or an id), created on first post.
    fn channel_id(&mut self, name_or_id: &str) -> String {
        if let Some((_, id)) = self.channels.iter().find(|(n, id)| id == name_or_id || n == name_or_id.trim_start_matches('#')) {
            return id.clone();
        }
        let name = name_or_id.trim_start_matches('#').to_owned();
        let id = if name == "ecosystem-updates" { "C0ECOSYSTEM".to_owned() } else { format!("C0{}", name.to_uppercase().replace('-', "")) };
        self.channels.push((name, id.clone()));
        id
    }
}

impl State {
    /// Checks a request against Slack's Web API description (`slack_web_openapi_v2.json`).
    fn check(&mut self, request: &Request, body: Option<&Value>) {
        if let Some(spec) = super::openapi::spec("slack_web_openapi_v2.json") {
            self.violations.extend(spec.violations(&super::openapi::Seen::from_wiremock(request, body)));
        }
    }
}

/// The fake Slack.
pub struct FakeSlack {
    pub server: MockServer,
    state: Arc<Mutex<State>>,
}

struct PostMessage(Arc<Mutex<State>>);
struct History(Arc<Mutex<State>>);

impl Respond for PostMessage {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.0.lock().unwrap();
        let reply = match state.script.pop_front().unwrap_or(Reply::Ok) {
            Reply::Ok => state.hold_next.take().filter(|d| !d.is_zero()).map_or(Reply::Ok, Reply::Hold),
            other => other,
        };
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        state.check(request, Some(&body));
        let key = body["metadata"]["event_payload"]["idempotency_key"].as_str().map(str::to_owned);
        let posted = matches!(reply, Reply::Ok | Reply::Hold(_) | Reply::OkWithoutMessage);
        // Slack's ts: seconds since the epoch (now), then a sequence.
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let ts = format!("{now}.{:06}", state.posts.len() + 1);
        let authorization = request.headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let channel_id = state.channel_id(body["channel"].as_str().unwrap_or_default());
        state.posts.push(Post { body: body.clone(), key, posted, ts: ts.clone(), authorization, channel_id: channel_id.clone() });
        let ok = json!({"ok": true, "channel": channel_id, "ts": ts, "message": {"type": "message", "ts": ts, "text": body["text"]}});
        match reply {
            Reply::Ok => ResponseTemplate::new(200).set_body_json(ok),
            Reply::OkWithoutMessage => ResponseTemplate::new(200).set_body_json(json!({"ok": true, "channel": channel_id, "ts": ts})),
            Reply::Hold(d) => ResponseTemplate::new(200).set_body_json(ok).set_delay(d),
            Reply::Status(code) => ResponseTemplate::new(code).set_body_string("upstream error"),
            Reply::RateLimited(secs) => ResponseTemplate::new(429)
                .insert_header("Retry-After", secs.to_string().as_str())
                .set_body_json(json!({"ok": false, "error": "ratelimited"})),
            Reply::NotOk(error) => ResponseTemplate::new(200).set_body_json(json!({"ok": false, "error": error})),
        }
    }
}

impl Respond for History {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.0.lock().unwrap();
        state.check(request, None);
        state.history_calls += 1;
        let query: std::collections::HashMap<String, String> = request.url.query_pairs().into_owned().collect();
        let channel = query.get("channel").cloned().unwrap_or_default();
        if !state.channels.iter().any(|(_, id)| *id == channel) {
            return ResponseTemplate::new(200).set_body_json(json!({"ok": false, "error": "channel_not_found"}));
        }
        let oldest: f64 = query.get("oldest").and_then(|o| o.parse().ok()).unwrap_or(0.0);
        let limit: usize = query.get("limit").and_then(|l| l.parse().ok()).unwrap_or(100).clamp(1, 999);
        let offset: usize = query.get("cursor").and_then(|c| c.strip_prefix("offset:")).and_then(|o| o.parse().ok()).unwrap_or(0);
        let metadata = query.get("include_all_metadata").is_some_and(|v| v == "true" || v == "1");
        // Newest first, as Slack returns them.
        let all: Vec<Value> = state
            .posts
            .iter()
            .rev()
            .filter(|p| p.posted && p.channel_id == channel && p.ts.parse::<f64>().unwrap_or(0.0) > oldest)
            .map(|p| {
                let mut m = json!({"type": "message", "ts": p.ts, "text": p.body["text"]});
                if metadata && !p.body["metadata"].is_null() {
                    m["metadata"] = p.body["metadata"].clone();
                }
                m
            })
            .collect();
        let page: Vec<Value> = all.iter().skip(offset).take(limit).cloned().collect();
        let more = offset + page.len() < all.len();
        let cursor = if more { format!("offset:{}", offset + page.len()) } else { String::new() };
        ResponseTemplate::new(200)
            .set_body_json(json!({"ok": true, "messages": page, "has_more": more, "response_metadata": {"next_cursor": cursor}}))
    }
}

struct Update(Arc<Mutex<State>>);

/// `chat.update`: `channel` (an id) and `ts` of a posted message; `message_not_found` otherwise.
impl Respond for Update {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.0.lock().unwrap();
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        state.check(request, Some(&body));
        let (channel, ts) = (body["channel"].as_str().unwrap_or_default(), body["ts"].as_str().unwrap_or_default());
        if !state.posts.iter().any(|p| p.posted && p.channel_id == channel && p.ts == ts) {
            return ResponseTemplate::new(200).set_body_json(json!({"ok": false, "error": "message_not_found"}));
        }
        state.updates.push(body.clone());
        ResponseTemplate::new(200).set_body_json(json!({"ok": true, "channel": channel, "ts": ts, "text": body["text"]}))
    }
}

struct List(Arc<Mutex<State>>);

impl Respond for List {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.0.lock().unwrap();
        state.check(request, None);
        let channels: Vec<Value> = state.channels.iter().map(|(name, id)| json!({"id": id, "name": name, "is_channel": true})).collect();
        ResponseTemplate::new(200).set_body_json(json!({"ok": true, "channels": channels, "response_metadata": {"next_cursor": ""}}))
    }
}

#[allow(dead_code)]
impl FakeSlack {
    /// Starts the fake, answering `ok` until scripted otherwise.
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State::default()));
        Mock::given(method("POST")).and(path("/api/chat.postMessage")).respond_with(PostMessage(state.clone())).mount(&server).await;
        Mock::given(path("/api/conversations.history")).respond_with(History(state.clone())).mount(&server).await;
        Mock::given(path("/api/conversations.list")).respond_with(List(state.clone())).mount(&server).await;
        Mock::given(method("POST")).and(path("/api/chat.update")).respond_with(Update(state.clone())).mount(&server).await;
        state.lock().unwrap().channel_id("#ecosystem-updates");
        Self { server, state }
    }

    /// `SLACK_API_URL` for Sparky.
    pub fn api_url(&self) -> String {
        format!("{}/api", self.server.uri())
    }

    /// Answers the next posts with `replies`, in order.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.lock().unwrap().script.extend(replies);
    }

    /// The next post that would be answered `ok` is posted at once (visible in history) but
    /// answered only after `delay` (zero: no hold): a deliverer killed meanwhile never learns
    /// its `ts`.
    pub fn hold_next_post(&self, delay: Duration) {
        self.state.lock().unwrap().hold_next = Some(delay);
    }

    /// Every `chat.postMessage` received, posted or not.
    pub fn attempts(&self) -> Vec<Post> {
        self.state.lock().unwrap().posts.clone()
    }

    /// The messages Slack posted.
    pub fn posted(&self) -> Vec<Post> {
        self.attempts().into_iter().filter(|p| p.posted).collect()
    }

    /// Requests that departed from Slack's official Web API description.
    pub fn spec_violations(&self) -> Vec<String> {
        self.state.lock().unwrap().violations.clone()
    }

    /// The `chat.update` bodies that edited a message, in order.
    pub fn updates(&self) -> Vec<Value> {
        self.state.lock().unwrap().updates.clone()
    }

    /// How often `conversations.history` was read.
    pub fn history_calls(&self) -> usize {
        self.state.lock().unwrap().history_calls
    }
}
