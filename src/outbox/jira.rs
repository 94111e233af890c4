//! Jira actions: create an incident's issue, edit, comment on and resolve it (delivered by
//! `sinks::jira`, Jira Cloud REST v3).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::Priority;

/// What the Jira sink does. `incident` is our key of the incident (`incident:42`), under which
/// the issue key is kept (`remote_ids`, sink `jira`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum JiraAction {
    /// Create the issue (`POST /rest/api/3/issue`), unless one labelled `fingerprint` exists.
    Create {
        /// Our incident key.
        incident: String,
        /// A label unique to this incident, found by JQL after an uncertain attempt.
        fingerprint: String,
        /// Summary.
        summary: String,
        /// Description, Atlassian Document Format.
        description: Value,
        /// P1..P5, mapped to the site's priority names by `[jira] priorities`.
        priority: Priority,
        /// Labels (the fingerprint is added).
        labels: Vec<String>,
    },
    /// Edit the issue (`PUT /rest/api/3/issue/{key}`): set the summary, add and remove labels,
    /// so the issue follows the incident's current cause. Editing twice changes nothing.
    Update {
        /// Our incident key.
        incident: String,
        /// The new summary.
        summary: String,
        /// Labels to add.
        add_labels: Vec<String>,
        /// Labels to remove.
        remove_labels: Vec<String>,
    },
    /// Comment on the incident's issue (`POST /rest/api/3/issue/{key}/comment`).
    Comment {
        /// Our incident key.
        incident: String,
        /// Body, Atlassian Document Format.
        body: Value,
    },
    /// Comment, then move the issue through the `[jira] resolve_transition` transition.
    Resolve {
        /// Our incident key.
        incident: String,
        /// Comment, Atlassian Document Format.
        comment: Value,
    },
}

/// Plain text as an Atlassian Document Format document: one paragraph per line.
pub fn adf(text: &str) -> Value {
    let paragraphs: Vec<Value> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .map(|line| serde_json::json!({"type": "paragraph", "content": [{"type": "text", "text": line}]}))
        .collect();
    serde_json::json!({"type": "doc", "version": 1, "content": paragraphs})
}
