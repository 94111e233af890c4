//! The Jira Cloud REST v3 client: create an incident's issue once, comment once, resolve.
//!
//! Follows the Jira Cloud platform REST API v3: `POST /issue` (`fields`: project, issuetype,
//! summary, description (ADF), priority, labels), `GET /search/jql` (`jql`, `fields`,
//! `maxResults`), `GET|POST /issue/{key}/comment` (`orderBy=-created`, `maxResults`; `body` ADF),
//! `GET|POST /issue/{key}/transitions` (`transition.id`), `GET /issue/{key}` (`fields=status`,
//! `fields=summary,labels`), `PUT /issue/{key}` (`fields.summary`, `update.labels` add/remove).
//!
//! Nothing is done twice: the issue carries the incident's fingerprint as a label and its key is
//! kept in `remote_ids`; after an attempt whose answer never came back the issue is looked up by
//! that label, once Jira's search has caught up (`[jira] search_lag` after the attempt, whose time
//! `remote_ids` keeps as `create-attempt:INCIDENT`), and once more before creating again. Every comment ends with a marker paragraph (`sparky ref` + 12 hex digits of the
//! action's idempotency key) looked for among the issue's newest comments before posting again.

use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::config::{HttpConfig, JiraConfig, Secret};
use crate::model::{Priority, Timestamp};
use crate::outbox::jira::{JiraAction, Owner, adf};
use crate::outbox::{Action, Attempt, Delivered, DeliveryError, Sink};
use crate::sinks::http::{SinkHttp, wait_until};
use crate::store::{Store, remote_ids};

/// The sink name under which issue keys are kept in `remote_ids`.
const SINK: &str = "jira";
/// Comments read when looking for an earlier attempt's comment.
const COMMENTS_LOOKED_AT: u32 = 50;
/// The second look for an issue an uncertain create may have made, after the first found none.
const LOOK_AGAIN: std::time::Duration = std::time::Duration::from_secs(5);
/// Start of the marker paragraph of every comment.
pub(super) const MARKER_PREFIX: &str = "sparky ref ";

/// Creates, comments on and resolves incident issues.
pub struct JiraSink {
    http: SinkHttp,
    base: url::Url,
    user: String,
    token: Secret,
    project: String,
    cfg: JiraConfig,
    store: Store,
}

/// The fields of a create action.
struct NewIssue<'a> {
    incident: &'a str,
    fingerprint: &'a str,
    summary: &'a str,
    description: &'a Value,
    priority: Priority,
    labels: &'a [String],
    owner: &'a Owner,
}

/// The fields of an update action.
struct Edit<'a> {
    summary: &'a str,
    add: &'a [String],
    remove: &'a [String],
}

impl JiraSink {
    /// A sink for the site of `cfg` (which `is_configured`), with the discipline of `http`.
    pub fn new(cfg: &JiraConfig, http: &HttpConfig, store: Store) -> Result<Self, DeliveryError> {
        let missing = |what: &str| DeliveryError::Permanent { reason: format!("Jira is not configured: {what} is missing") };
        let base = cfg.base_url.as_ref().ok_or_else(|| missing("base_url (JIRA_BASE_URL)"))?.url().clone();
        if base.cannot_be_a_base() {
            return Err(DeliveryError::Permanent { reason: "Jira base_url cannot hold a path".to_owned() });
        }
        Ok(Self {
            http: SinkHttp::new("Jira", http, cfg.timeout.get())?,
            base,
            user: cfg.user_email.clone().ok_or_else(|| missing("user_email (JIRA_USER_EMAIL)"))?,
            token: cfg.api_token.clone().ok_or_else(|| missing("api_token (JIRA_API_TOKEN)"))?,
            project: cfg.project_key.clone().ok_or_else(|| missing("project_key (JIRA_PROJECT_KEY)"))?,
            cfg: cfg.clone(),
            store,
        })
    }

    /// Delivers one Jira action. The remote id is the issue key, for every kind of action.
    async fn send(&self, action: &JiraAction, attempt: &Attempt) -> Result<Delivered, DeliveryError> {
        let key = match action {
            JiraAction::Create { incident, fingerprint, summary, description, priority, labels, owner } => {
                let issue = NewIssue { incident, fingerprint, summary, description, priority: *priority, labels, owner };
                self.create(&issue).await?
            }
            JiraAction::Update { incident, summary, add_labels, remove_labels } => {
                let key = self.issue_key(incident).await?;
                self.edit(&key, &Edit { summary, add: add_labels, remove: remove_labels }).await?;
                key
            }
            JiraAction::Comment { incident, body } => {
                let key = self.issue_key(incident).await?;
                self.comment_once(&key, body, attempt).await?;
                key
            }
            JiraAction::Resolve { incident, comment } => {
                let key = self.issue_key(incident).await?;
                self.comment_once(&key, comment, attempt).await?;
                self.resolve(&key, attempt).await?;
                key
            }
        };
        Ok(Delivered::with_id(key))
    }

    /// What an earlier attempt left: the issue (known, or found by its fingerprint label), the
    /// comment (found by its marker), the issue already done.
    async fn earlier(&self, action: &JiraAction, attempt: &Attempt) -> Result<Option<Delivered>, DeliveryError> {
        match action {
            JiraAction::Create { incident, fingerprint, .. } => {
                if let Some(key) = self.known_key(incident).await? {
                    return Ok(Some(Delivered::with_id(key)));
                }
                let Some(key) = self.find_created(incident, &label(fingerprint)).await? else { return Ok(None) };
                self.remember(incident, &key).await?;
                Ok(Some(Delivered::with_id(key)))
            }
            JiraAction::Update { incident, summary, add_labels, remove_labels } => {
                let Some(key) = self.known_key(incident).await? else { return Ok(None) };
                let done = self.is_edited(&key, &Edit { summary, add: add_labels, remove: remove_labels }).await?;
                Ok(done.then(|| Delivered::with_id(key)))
            }
            JiraAction::Comment { incident, .. } => {
                let Some(key) = self.known_key(incident).await? else { return Ok(None) };
                let found = self.has_comment(&key, &marker(&attempt.key)).await?;
                Ok(found.then(|| Delivered::with_id(key)))
            }
            JiraAction::Resolve { incident, .. } => {
                let Some(key) = self.known_key(incident).await? else { return Ok(None) };
                let done = self.is_done(&key).await?;
                Ok(done.then(|| Delivered::with_id(key)))
            }
        }
    }

    /// The issue an earlier create of `incident` may have made, looked up by `fingerprint`
    /// once Jira's search has caught up with that attempt (`[jira] search_lag` after it; until
    /// then a retry at that time), and once more [`LOOK_AGAIN`] (at most `search_lag`) later
    /// before giving up.
    async fn find_created(&self, incident: &str, fingerprint: &str) -> Result<Option<String>, DeliveryError> {
        let mark = remote_ids::get(&self.store, SINK, &attempt_mark(incident))
            .await
            .map_err(|e| DeliveryError::retry(format!("cannot read when the Jira issue of {incident} was last created: {e}")))?;
        // Without a recorded attempt (an action written before the mark was), search at once.
        let attempted = mark.and_then(|m| m.parse::<i64>().ok()).map_or(Timestamp::EPOCH, Timestamp::from_millis);
        wait_until(attempted + self.cfg.search_lag.get(), |at| {
            format!(
                "an earlier create of the Jira issue may have succeeded; Jira's search can lag, so Sparky looks for label {fingerprint} at {at} before creating it again"
            )
        })?;
        if let Some(key) = self.find_by_label(fingerprint).await? {
            return Ok(Some(key));
        }
        tokio::time::sleep(LOOK_AGAIN.min(self.cfg.search_lag.get())).await;
        self.find_by_label(fingerprint).await
    }

    /// The issue of `issue.incident`: known, or created now.
    async fn create(&self, issue: &NewIssue<'_>) -> Result<String, DeliveryError> {
        if let Some(key) = self.known_key(issue.incident).await? {
            return Ok(key);
        }
        // When this attempt was made: an answer lost on the way back is looked up after it.
        remote_ids::set(&self.store, SINK, &attempt_mark(issue.incident), &Timestamp::now().as_millis().to_string())
            .await
            .map_err(|e| DeliveryError::retry(format!("cannot record the Jira create attempt of {}: {e}", issue.incident)))?;
        let fingerprint = label(issue.fingerprint);
        let body = json!({ "fields": self.issue_fields(issue, &fingerprint) });
        let answer =
            self.http.send(self.request(Method::POST, &["issue"])?.json(&body)).await.map_err(|e| e.context("creating the issue"))?;
        let Some(key) = answer.json["key"].as_str().filter(|k| !k.is_empty()) else {
            return Err(DeliveryError::retry("Jira created the issue but its answer carries no key"));
        };
        self.remember(issue.incident, key).await?;
        Ok(key.to_owned())
    }

    fn issue_fields(&self, issue: &NewIssue<'_>, fingerprint: &str) -> Value {
        let mut labels: Vec<String> = Vec::new();
        for l in self.cfg.labels.iter().chain(issue.labels).map(|l| label(l)).chain([fingerprint.to_owned()]) {
            if !l.is_empty() && !labels.contains(&l) {
                labels.push(l);
            }
        }
        let mut fields = serde_json::Map::new();
        fields.insert("project".to_owned(), json!({ "key": self.project }));
        fields.insert("issuetype".to_owned(), json!({ "name": self.cfg.issue_type }));
        fields.insert("summary".to_owned(), json!(summary(issue.summary)));
        fields.insert("description".to_owned(), issue.description.clone());
        fields.insert("priority".to_owned(), json!({ "name": self.cfg.priority_name(issue.priority) }));
        fields.insert("labels".to_owned(), json!(labels));
        issue.owner.fill(&mut fields);
        Value::Object(fields)
    }

    /// Sets the summary and the labels of `key` (Jira's edit: `fields` sets, `update` adds and
    /// removes, so labels a person added stay).
    async fn edit(&self, key: &str, edit: &Edit<'_>) -> Result<(), DeliveryError> {
        let labels: Vec<Value> =
            edit.add.iter().map(|l| json!({"add": label(l)})).chain(edit.remove.iter().map(|l| json!({"remove": label(l)}))).collect();
        let body = json!({"fields": {"summary": summary(edit.summary)}, "update": {"labels": labels}});
        let request = self.request(Method::PUT, &["issue", key])?.json(&body);
        self.http.send(request).await.map_err(|e| e.context(&format!("editing {key}")))?;
        Ok(())
    }

    /// True when `key` already has the summary and labels of `edit`.
    async fn is_edited(&self, key: &str, edit: &Edit<'_>) -> Result<bool, DeliveryError> {
        let request = self.get(&["issue", key], &[("fields", "summary,labels")])?;
        let answer = self.http.send(request).await.map_err(|e| e.context(&format!("reading {key}")))?;
        let fields = &answer.json["fields"];
        let has = |l: &String| fields["labels"].as_array().is_some_and(|all| all.iter().any(|x| x.as_str() == Some(label(l).as_str())));
        Ok(fields["summary"].as_str() == Some(summary(edit.summary).as_str()) && edit.add.iter().all(has) && !edit.remove.iter().any(has))
    }

    /// The key of the first issue of the project labelled `label` (JQL search).
    async fn find_by_label(&self, label: &str) -> Result<Option<String>, DeliveryError> {
        let jql = format!("project = {} AND labels = {} ORDER BY created ASC", jql_string(&self.project), jql_string(label));
        let request = self.get(&["search", "jql"], &[("jql", jql.as_str()), ("fields", "labels"), ("maxResults", "5")])?;
        let answer = self.http.send(request).await.map_err(|e| e.context("searching the issue by fingerprint"))?;
        let first = answer.json["issues"].as_array().and_then(|issues| issues.first());
        Ok(first.and_then(|i| i["key"].as_str().or_else(|| i["id"].as_str())).map(str::to_owned))
    }

    /// Posts `body` on `key` with the action's marker, unless an earlier attempt did (a resolve
    /// whose comment went out before its transition failed).
    async fn comment_once(&self, key: &str, body: &Value, attempt: &Attempt) -> Result<(), DeliveryError> {
        let marker = marker(&attempt.key);
        if attempt.uncertain && self.has_comment(key, &marker).await? {
            tracing::info!(action = attempt.action_id, key, "Jira already has this comment (found by marker); not posting it again");
            return Ok(());
        }
        let body = json!({ "body": with_marker(body, &marker)? });
        let request = self.request(Method::POST, &["issue", key, "comment"])?.json(&body);
        self.http.send(request).await.map_err(|e| e.context(&format!("commenting on {key}")))?;
        Ok(())
    }

    /// True when one of the newest comments of `key` carries `marker`.
    async fn has_comment(&self, key: &str, marker: &str) -> Result<bool, DeliveryError> {
        let max = COMMENTS_LOOKED_AT.to_string();
        let request = self.get(&["issue", key, "comment"], &[("orderBy", "-created"), ("maxResults", max.as_str())])?;
        let answer = self.http.send(request).await.map_err(|e| e.context(&format!("reading the comments of {key}")))?;
        let comments = answer.json["comments"].as_array().map(Vec::as_slice).unwrap_or_default();
        Ok(comments.iter().any(|c| c["body"].to_string().contains(marker)))
    }

    /// Moves `key` through the resolve transition (or the first one into a done status).
    async fn resolve(&self, key: &str, attempt: &Attempt) -> Result<(), DeliveryError> {
        if attempt.uncertain && self.is_done(key).await? {
            return Ok(());
        }
        let request = self.get(&["issue", key, "transitions"], &[])?;
        let answer = self.http.send(request).await.map_err(|e| e.context(&format!("reading the transitions of {key}")))?;
        let transitions = answer.json["transitions"].as_array().map(Vec::as_slice).unwrap_or_default();
        let Some(id) = pick_transition(transitions, &self.cfg.resolve_transition) else {
            if self.is_done(key).await? {
                return Ok(());
            }
            return Err(DeliveryError::Permanent {
                reason: format!(
                    "Jira issue {key} has no transition `{}` nor one into a done status (available: {})",
                    self.cfg.resolve_transition,
                    names(transitions)
                ),
            });
        };
        let body = json!({ "transition": { "id": id } });
        let request = self.request(Method::POST, &["issue", key, "transitions"])?.json(&body);
        self.http.send(request).await.map_err(|e| e.context(&format!("resolving {key}")))?;
        Ok(())
    }

    /// True when `key` is in a status of the done category.
    async fn is_done(&self, key: &str) -> Result<bool, DeliveryError> {
        let request = self.get(&["issue", key], &[("fields", "status")])?;
        let answer = self.http.send(request).await.map_err(|e| e.context(&format!("reading the status of {key}")))?;
        Ok(answer.json["fields"]["status"]["statusCategory"]["key"] == "done")
    }

    /// The issue key of `incident`; an incident whose issue is not created yet is retried.
    async fn issue_key(&self, incident: &str) -> Result<String, DeliveryError> {
        self.known_key(incident).await?.ok_or_else(|| DeliveryError::retry(format!("the issue of {incident} is not created yet")))
    }

    async fn known_key(&self, incident: &str) -> Result<Option<String>, DeliveryError> {
        remote_ids::get(&self.store, SINK, incident)
            .await
            .map_err(|e| DeliveryError::retry(format!("cannot read the Jira key of {incident}: {e}")))
    }

    async fn remember(&self, incident: &str, key: &str) -> Result<(), DeliveryError> {
        remote_ids::put(&self.store, SINK, incident, key)
            .await
            .map_err(|e| DeliveryError::retry(format!("Jira has issue {key} for {incident}, but it cannot be recorded: {e}")))
    }

    /// A GET of `{base_url}/rest/api/3/{segments}?{query}` with basic auth.
    fn get(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<reqwest::RequestBuilder, DeliveryError> {
        let mut url = self.url(segments)?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(self.authorized(Method::GET, url))
    }

    /// A request to `{base_url}/rest/api/3/{segments}` with basic auth.
    fn request(&self, method: Method, segments: &[&str]) -> Result<reqwest::RequestBuilder, DeliveryError> {
        Ok(self.authorized(method, self.url(segments)?))
    }

    fn url(&self, segments: &[&str]) -> Result<url::Url, DeliveryError> {
        let mut url = self.base.clone();
        url.set_query(None);
        url.path_segments_mut()
            .map_err(|()| DeliveryError::Permanent { reason: "Jira base_url cannot hold a path".to_owned() })?
            .pop_if_empty()
            .extend(["rest", "api", "3"])
            .extend(segments);
        Ok(url)
    }

    fn authorized(&self, method: Method, url: url::Url) -> reqwest::RequestBuilder {
        self.http
            .client()
            .request(method, url)
            .basic_auth(&self.user, Some(self.token.expose()))
            .header(reqwest::header::ACCEPT, "application/json")
    }
}

/// The transition named `wanted` (case-insensitive), else the first into a done status.
fn pick_transition(transitions: &[Value], wanted: &str) -> Option<String> {
    let id = |t: &Value| t["id"].as_str().map(str::to_owned);
    let named = transitions.iter().find(|t| t["name"].as_str().is_some_and(|n| n.trim().eq_ignore_ascii_case(wanted.trim())));
    named.or_else(|| transitions.iter().find(|t| t["to"]["statusCategory"]["key"] == "done")).and_then(id)
}

fn names(transitions: &[Value]) -> String {
    let names: Vec<&str> = transitions.iter().filter_map(|t| t["name"].as_str()).collect();
    if names.is_empty() { "none".to_owned() } else { names.join(", ") }
}

/// The marker of the comment of the action with idempotency key `key`.
pub(super) fn marker(key: &str) -> String {
    let digest = hex::encode(Sha256::digest(key.as_bytes()));
    format!("{MARKER_PREFIX}{}", &digest[..12])
}

/// `body` (an ADF document, or plain text) with a last paragraph holding `marker`.
fn with_marker(body: &Value, marker: &str) -> Result<Value, DeliveryError> {
    let mut doc = match body {
        Value::String(text) => adf(text),
        other => other.clone(),
    };
    let Some(content) = doc.get_mut("content").and_then(Value::as_array_mut) else {
        return Err(DeliveryError::Permanent { reason: "the stored Jira comment is not an Atlassian Document Format document".to_owned() });
    };
    content.push(json!({"type": "paragraph", "content": [{"type": "text", "text": marker}]}));
    Ok(doc)
}

/// A Jira label: no whitespace (Jira refuses it), at most 255 characters.
fn label(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join("_").chars().take(255).collect()
}

/// A summary: one line, at most 255 characters (Jira's limit).
fn summary(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(255).collect()
}

/// `text` as a quoted JQL string.
fn jql_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The `remote_ids` key of the time of the latest create attempt for `incident`.
fn attempt_mark(incident: &str) -> String {
    format!("create-attempt:{incident}")
}

#[async_trait::async_trait]
impl Sink for JiraSink {
    async fn find_earlier(&self, action: &Action, attempt: &Attempt) -> Result<Option<Delivered>, DeliveryError> {
        let Action::Jira(action) = action else { return Ok(None) };
        self.earlier(action, attempt).await
    }

    async fn deliver(&self, action: &Action, attempt: &Attempt) -> Result<Delivered, DeliveryError> {
        let Action::Jira(action) = action else {
            return Err(DeliveryError::permanent(format!("the Jira sink cannot deliver a {} action", action.sink())));
        };
        self.send(action, attempt).await
    }
}
