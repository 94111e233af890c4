//! A fake Jira Cloud (REST v3) on loopback: issue creation (with a script of failures and a held
//! answer), JQL search by label (`GET`/`POST /rest/api/3/search/jql`), comments, transitions and
//! an issue's status and edits (summary, labels). Every request is checked against Atlassian's official description
//! (`jira_cloud_platform_swagger-v3.v3.json`).

#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The transitions every issue offers: (id, name, status reached, its category).
pub const TRANSITIONS: [(&str, &str, &str, &str); 2] =
    [("11", "In Progress", "In Progress", "indeterminate"), ("31", "Resolve", "Done", "done")];

/// An issue the fake created.
#[derive(Debug, Clone)]
pub struct CreatedIssue {
    /// `OPS-1` ...
    pub key: String,
    /// `10001` ...
    pub id: String,
    /// The `fields` of the create request.
    pub fields: Value,
    /// The `Authorization` header of the create request.
    pub authorization: Option<String>,
}

impl CreatedIssue {
    /// `fields.labels`.
    pub fn labels(&self) -> Vec<String> {
        self.fields["labels"].as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect()
    }
}

#[derive(Debug, Clone)]
struct Issue {
    created: CreatedIssue,
    /// (id, ADF body, created).
    comments: Vec<(String, Value, String)>,
    transitions: Vec<String>,
    status: (&'static str, &'static str),
}

#[derive(Default)]
struct State {
    create_failures: VecDeque<u16>,
    /// Creates that are made and then answered with this status (the answer lost).
    lost_creates: VecDeque<u16>,
    /// Searches still to answer as if no issue existed (Jira's index lags behind a create).
    blind_searches: usize,
    hold_next: Option<Duration>,
    create_attempts: usize,
    issues: Vec<Issue>,
    next_comment: u64,
    clock: u64,
    violations: Vec<String>,
}

impl State {
    /// Checks a request against Jira's official REST v3 description.
    fn check(&mut self, request: &Request, body: Option<&Value>) {
        if let Some(spec) = super::openapi::spec("jira_cloud_platform_swagger-v3.v3.json") {
            self.violations.extend(spec.violations(&super::openapi::Seen::from_wiremock(request, body)));
        }
    }

    fn issue_mut(&mut self, key: &str) -> Option<&mut Issue> {
        self.issues.iter_mut().find(|i| i.created.key == key || i.created.id == key)
    }

    /// A timestamp in Jira's format, later than every earlier one.
    fn now(&mut self) -> String {
        self.clock += 1;
        format!("2025-01-01T00:{:02}:{:02}.000+0000", (self.clock / 60) % 60, self.clock % 60)
    }
}

/// The endpoints of the fake.
#[derive(Clone, Copy)]
enum Endpoint {
    Create,
    Search,
    GetIssue,
    EditIssue,
    Comments,
    AddComment,
    Transitions,
    DoTransition,
    Unknown,
}

struct Route(Arc<Mutex<State>>, Endpoint);

impl Respond for Route {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.0.lock().unwrap();
        let body: Option<Value> = serde_json::from_slice(&request.body).ok();
        state.check(request, body.as_ref());
        let body = body.unwrap_or(Value::Null);
        let key = issue_key(request);
        match self.1 {
            Endpoint::Create => create(&mut state, request, &body),
            Endpoint::Search => search(&mut state, request, &body),
            Endpoint::GetIssue => with_issue(&mut state, &key, |i| get_issue(i)),
            Endpoint::EditIssue => with_issue(&mut state, &key, |i| edit_issue(i, &body)),
            Endpoint::Comments => with_issue(&mut state, &key, |i| comments(i, request)),
            Endpoint::AddComment => add_comment(&mut state, &key, &body),
            Endpoint::Transitions => with_issue(&mut state, &key, |_| transitions()),
            Endpoint::DoTransition => with_issue(&mut state, &key, |i| do_transition(i, &body)),
            Endpoint::Unknown => {
                state.violations.push(format!("{} {}: not served by the fake", request.method, request.url.path()));
                error(404, "Not served by the fake Jira.")
            }
        }
    }
}

/// `{issueIdOrKey}` of `/rest/api/3/issue/{issueIdOrKey}/...`.
fn issue_key(request: &Request) -> String {
    request.url.path_segments().and_then(|mut s| s.nth(4)).unwrap_or_default().to_owned()
}

fn error(status: u16, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({"errorMessages": [message], "errors": {}}))
}

fn with_issue(state: &mut State, key: &str, f: impl FnOnce(&mut Issue) -> ResponseTemplate) -> ResponseTemplate {
    match state.issue_mut(key) {
        Some(issue) => f(issue),
        None => error(404, "Issue does not exist or you do not have permission to see it."),
    }
}

fn create(state: &mut State, request: &Request, body: &Value) -> ResponseTemplate {
    state.create_attempts += 1;
    if let Some(status) = state.create_failures.pop_front() {
        return error(status, "Scripted failure of the fake Jira.");
    }
    let fields = &body["fields"];
    let mut errors = serde_json::Map::new();
    for (field, present) in [
        ("project", fields["project"]["key"].is_string() || fields["project"]["id"].is_string()),
        ("issuetype", fields["issuetype"]["name"].is_string() || fields["issuetype"]["id"].is_string()),
        ("summary", fields["summary"].as_str().is_some_and(|s| !s.trim().is_empty())),
    ] {
        if !present {
            errors.insert(field.to_owned(), json!(format!("You must specify {field}.")));
        }
    }
    if let Some(bad) =
        fields["labels"].as_array().into_iter().flatten().find(|l| l.as_str().is_none_or(|l| l.contains(char::is_whitespace)))
    {
        errors.insert("labels".to_owned(), json!(format!("The label '{bad}' contains spaces which is invalid.")));
    }
    if !fields["description"].is_null() && fields["description"]["type"] != "doc" {
        errors.insert("description".to_owned(), json!("Operation value must be an Atlassian Document."));
    }
    if !errors.is_empty() {
        return ResponseTemplate::new(400).set_body_json(json!({"errorMessages": [], "errors": errors}));
    }
    let n = state.issues.len() + 1;
    let project = fields["project"]["key"].as_str().unwrap_or("OPS");
    let created = CreatedIssue {
        key: format!("{project}-{n}"),
        id: (10000 + n).to_string(),
        fields: fields.clone(),
        authorization: request.headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned),
    };
    let answer = json!({"id": created.id, "key": created.key, "self": format!("{}rest/api/3/issue/{}", base(request), created.id)});
    state.issues.push(Issue { created, comments: Vec::new(), transitions: Vec::new(), status: ("To Do", "new") });
    if let Some(status) = state.lost_creates.pop_front() {
        return error(status, "the issue was created; this answer is lost on the way back");
    }
    let response = ResponseTemplate::new(201).set_body_json(answer);
    match state.hold_next.take() {
        Some(delay) => response.set_delay(delay),
        None => response,
    }
}

fn base(request: &Request) -> String {
    let mut url = request.url.clone();
    url.set_path("/");
    url.set_query(None);
    url.to_string()
}

/// The JQL of a search (query parameter of GET, body of POST).
fn search(state: &mut State, request: &Request, body: &Value) -> ResponseTemplate {
    if state.blind_searches > 0 {
        state.blind_searches -= 1;
        return ResponseTemplate::new(200).set_body_json(json!({"issues": [], "isLast": true}));
    }
    let query = |name: &str| request.url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    let jql = body["jql"].as_str().map(str::to_owned).or_else(|| query("jql")).unwrap_or_default();
    let fields: Vec<String> = match &body["fields"] {
        Value::Array(a) => a.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => request
            .url
            .query_pairs()
            .filter(|(k, _)| k == "fields")
            .flat_map(|(_, v)| v.split(',').map(|s| s.trim().to_owned()).collect::<Vec<_>>())
            .collect(),
    };
    let (Some(labels), project) = (clause(&jql, "labels"), clause(&jql, "project")) else {
        return error(400, "The fake Jira only answers JQL with a `labels = \"...\"` clause.");
    };
    let issues: Vec<Value> = state
        .issues
        .iter()
        .filter(|i| i.created.labels().contains(&labels))
        .filter(|i| project.as_ref().is_none_or(|p| i.created.key.starts_with(&format!("{p}-"))))
        .map(|i| {
            let mut found =
                json!({"id": i.created.id, "key": i.created.key, "self": format!("{}rest/api/3/issue/{}", base(request), i.created.id)});
            let wanted: serde_json::Map<String, Value> = fields
                .iter()
                .filter_map(|f| match f.as_str() {
                    "labels" => Some((f.clone(), json!(i.created.labels()))),
                    "summary" => Some((f.clone(), i.created.fields["summary"].clone())),
                    "status" => Some((f.clone(), status_json(i.status))),
                    _ => None,
                })
                .collect();
            if !wanted.is_empty() {
                found["fields"] = Value::Object(wanted);
            }
            found
        })
        .collect();
    ResponseTemplate::new(200).set_body_json(json!({"issues": issues, "isLast": true}))
}

/// The value of `field = "value"` (or `field = value`) in `jql`.
fn clause(jql: &str, field: &str) -> Option<String> {
    let re = regex::Regex::new(&format!(r#"(?i)\b{field}\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s()"]+))"#)).ok()?;
    let caps = re.captures(jql)?;
    let value = caps.get(1).or_else(|| caps.get(2))?.as_str();
    Some(value.replace("\\\"", "\"").replace("\\\\", "\\"))
}

fn status_json((name, category): (&str, &str)) -> Value {
    json!({"name": name, "statusCategory": {"key": category}})
}

fn get_issue(issue: &Issue) -> ResponseTemplate {
    let mut fields = issue.created.fields.clone();
    fields["status"] = status_json(issue.status);
    ResponseTemplate::new(200).set_body_json(json!({"id": issue.created.id, "key": issue.created.key, "fields": fields}))
}

/// `PUT /rest/api/3/issue/{key}`: `fields` set, `update.labels` adds and removes; 204.
fn edit_issue(issue: &mut Issue, body: &Value) -> ResponseTemplate {
    let fields = &mut issue.created.fields;
    if let Some(summary) = body["fields"]["summary"].as_str() {
        fields["summary"] = json!(summary);
    }
    let mut labels: Vec<String> = fields["labels"].as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect();
    for op in body["update"]["labels"].as_array().into_iter().flatten() {
        if let Some(add) = op["add"].as_str().filter(|l| !labels.iter().any(|x| x == l)) {
            labels.push(add.to_owned());
        }
        if let Some(remove) = op["remove"].as_str() {
            labels.retain(|l| l != remove);
        }
    }
    fields["labels"] = json!(labels);
    ResponseTemplate::new(204)
}

fn comments(issue: &Issue, request: &Request) -> ResponseTemplate {
    let query = |name: &str| request.url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    let start: usize = query("startAt").and_then(|v| v.parse().ok()).unwrap_or(0);
    let max: usize = query("maxResults").and_then(|v| v.parse().ok()).unwrap_or(100);
    let mut all: Vec<Value> =
        issue.comments.iter().map(|(id, body, created)| json!({"id": id, "body": body, "created": created})).collect();
    if query("orderBy").as_deref() == Some("-created") {
        all.reverse();
    }
    let page: Vec<Value> = all.iter().skip(start).take(max).cloned().collect();
    ResponseTemplate::new(200).set_body_json(json!({"startAt": start, "maxResults": max, "total": all.len(), "comments": page}))
}

fn add_comment(state: &mut State, key: &str, body: &Value) -> ResponseTemplate {
    if body["body"]["type"] != "doc" {
        return ResponseTemplate::new(400)
            .set_body_json(json!({"errorMessages": [], "errors": {"comment": "Comment body must be an Atlassian Document."}}));
    }
    state.next_comment += 1;
    let id = (10000 + state.next_comment).to_string();
    let created = state.now();
    let Some(issue) = state.issue_mut(key) else {
        return error(404, "Issue does not exist or you do not have permission to see it.");
    };
    issue.comments.push((id.clone(), body["body"].clone(), created.clone()));
    ResponseTemplate::new(201).set_body_json(json!({"id": id, "body": body["body"], "created": created}))
}

fn transitions() -> ResponseTemplate {
    let list: Vec<Value> = TRANSITIONS
        .iter()
        .map(|(id, name, to, category)| json!({"id": id, "name": name, "to": {"name": to, "statusCategory": {"key": category}}}))
        .collect();
    ResponseTemplate::new(200).set_body_json(json!({"transitions": list}))
}

fn do_transition(issue: &mut Issue, body: &Value) -> ResponseTemplate {
    let id = body["transition"]["id"].as_str().unwrap_or_default();
    let Some((_, _, to, category)) = TRANSITIONS.iter().find(|t| t.0 == id) else {
        return ResponseTemplate::new(400)
            .set_body_json(json!({"errorMessages": [format!("Transition id '{id}' is not valid for this issue.")], "errors": {}}));
    };
    issue.transitions.push(id.to_owned());
    issue.status = (*to, *category);
    ResponseTemplate::new(204)
}

/// The text of an ADF document: text nodes, one line per paragraph (or heading, code block).
pub fn adf_text(doc: &Value) -> String {
    fn walk(v: &Value, out: &mut String) {
        match v["type"].as_str() {
            Some("text") => out.push_str(v["text"].as_str().unwrap_or_default()),
            Some("hardBreak") => out.push('\n'),
            kind => {
                v["content"].as_array().into_iter().flatten().for_each(|c| walk(c, out));
                if matches!(kind, Some("paragraph" | "heading" | "codeBlock")) {
                    out.push('\n');
                }
            }
        }
    }
    let mut out = String::new();
    walk(doc, &mut out);
    out.trim_end().to_owned()
}

/// The fake Jira.
pub struct FakeJira {
    pub server: MockServer,
    state: Arc<Mutex<State>>,
}

impl FakeJira {
    /// Starts the fake, creating issues until scripted otherwise.
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State::default()));
        let issue = r"^/rest/api/3/issue/[^/]+";
        let routes = [
            ("POST", "^/rest/api/3/issue$".to_owned(), Endpoint::Create),
            ("GET", "^/rest/api/3/search/jql$".to_owned(), Endpoint::Search),
            ("POST", "^/rest/api/3/search/jql$".to_owned(), Endpoint::Search),
            ("GET", format!("{issue}$"), Endpoint::GetIssue),
            ("PUT", format!("{issue}$"), Endpoint::EditIssue),
            ("GET", format!("{issue}/comment$"), Endpoint::Comments),
            ("POST", format!("{issue}/comment$"), Endpoint::AddComment),
            ("GET", format!("{issue}/transitions$"), Endpoint::Transitions),
            ("POST", format!("{issue}/transitions$"), Endpoint::DoTransition),
        ];
        for (verb, pattern, endpoint) in routes {
            Mock::given(method(verb)).and(path_regex(pattern)).respond_with(Route(state.clone(), endpoint)).mount(&server).await;
        }
        // Anything else is noted as a request the fake (and maybe Jira) does not serve.
        Mock::given(path_regex("^/")).respond_with(Route(state.clone(), Endpoint::Unknown)).with_priority(u8::MAX).mount(&server).await;
        Self { server, state }
    }

    /// `JIRA_BASE_URL` for Sparky.
    pub fn base_url(&self) -> String {
        self.server.uri()
    }

    /// The next `n` creates answer HTTP `status` (with Jira's error shape) and create nothing.
    pub fn fail_creates(&self, n: usize, status: u16) {
        self.state.lock().unwrap().create_failures.extend(std::iter::repeat_n(status, n));
    }

    /// The next `n` creates make their issue and answer HTTP `status` (a 5xx after the commit).
    pub fn lose_create_answers(&self, n: usize, status: u16) {
        self.state.lock().unwrap().lost_creates.extend(std::iter::repeat_n(status, n));
    }

    /// The next `n` searches find nothing, as Jira's lagging index can right after a create.
    pub fn blind_searches(&self, n: usize) {
        self.state.lock().unwrap().blind_searches += n;
    }

    /// The next create that succeeds creates the issue at once (searchable, commentable) but
    /// answers only after `delay`: a deliverer killed meanwhile never learns the key.
    pub fn hold_next_create(&self, delay: Duration) {
        self.state.lock().unwrap().hold_next = Some(delay);
    }

    /// The issues created, in order.
    pub fn created(&self) -> Vec<CreatedIssue> {
        self.state.lock().unwrap().issues.iter().map(|i| i.created.clone()).collect()
    }

    /// Every `POST /rest/api/3/issue` received (failed, held or not).
    pub fn create_attempts(&self) -> usize {
        self.state.lock().unwrap().create_attempts
    }

    /// The text of each comment on `key`, oldest first (see [`adf_text`]).
    pub fn comments(&self, key: &str) -> Vec<String> {
        self.comment_bodies(key).iter().map(adf_text).collect()
    }

    /// The ADF body of each comment on `key`, oldest first.
    pub fn comment_bodies(&self, key: &str) -> Vec<Value> {
        let mut state = self.state.lock().unwrap();
        state.issue_mut(key).map(|i| i.comments.iter().map(|c| c.1.clone()).collect()).unwrap_or_default()
    }

    /// The ids of the transitions applied to `key`, in order.
    pub fn transitions_done(&self, key: &str) -> Vec<String> {
        self.state.lock().unwrap().issue_mut(key).map(|i| i.transitions.clone()).unwrap_or_default()
    }

    /// The status name of `key` (`To Do`, `In Progress`, `Done`); `None` for an unknown issue.
    pub fn issue_status(&self, key: &str) -> Option<String> {
        self.state.lock().unwrap().issue_mut(key).map(|i| i.status.0.to_owned())
    }

    /// Requests that departed from Jira's official REST v3 description (or that the fake does
    /// not serve).
    pub fn spec_violations(&self) -> Vec<String> {
        self.state.lock().unwrap().violations.clone()
    }
}
