//! A fake Slack Web API on loopback: `chat.postMessage`, `conversations.history` and
//! `conversations.list`, answering the shapes slack-morphism expects, with a script of failures.

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
        let reply = state.script.pop_front().unwrap_or(Reply::Ok);
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        state.check(request, Some(&body));
        let key = body["metadata"]["event_payload"]["idempotency_key"].as_str().map(str::to_owned);
        let posted = matches!(reply, Reply::Ok | Reply::Hold(_));
        let ts = format!("1700000000.{:06}", state.posts.len() + 1);
        let authorization = request.headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned);
        state.posts.push(Post { body: body.clone(), key, posted, ts: ts.clone(), authorization });
        let ok = json!({"ok": true, "channel": "C0ECOSYSTEM", "ts": ts, "message": {"type": "message", "ts": ts, "text": body["text"]}});
        match reply {
            Reply::Ok => ResponseTemplate::new(200).set_body_json(ok),
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
        // Newest first, as Slack returns them.
        let messages: Vec<Value> = state
            .posts
            .iter()
            .rev()
            .filter(|p| p.posted)
            .map(|p| {
                let mut m = json!({"type": "message", "ts": p.ts, "text": p.body["text"]});
                if !p.body["metadata"].is_null() {
                    m["metadata"] = p.body["metadata"].clone();
                }
                m
            })
            .collect();
        ResponseTemplate::new(200)
            .set_body_json(json!({"ok": true, "messages": messages, "has_more": false, "response_metadata": {"next_cursor": ""}}))
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
        Mock::given(path("/api/conversations.list"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true, "channels": [{"id": "C0ECOSYSTEM", "name": "ecosystem-updates"}], "response_metadata": {"next_cursor": ""}})))
            .mount(&server)
            .await;
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

    /// How often `conversations.history` was read.
    pub fn history_calls(&self) -> usize {
        self.state.lock().unwrap().history_calls
    }
}
