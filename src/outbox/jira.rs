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
        /// Who owns it (a compatibility P2: the partner's owner team); empty for an incident of
        /// ours.
        #[serde(default, skip_serializing_if = "Owner::is_empty")]
        owner: Owner,
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

/// The owner fields of a new issue (`[teams.NAME]`): `fields.assignee.id` (an Atlassian account
/// id), `fields.components[].name`, and any other field as Jira's create takes it (a Team
/// custom field: `customfield_10001`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Owner {
    /// Assignee account id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// Component names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<String>,
    /// Other fields by id.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub fields: serde_json::Map<String, Value>,
}

impl Owner {
    /// No owner field at all.
    pub fn is_empty(&self) -> bool {
        self.assignee.is_none() && self.components.is_empty() && self.fields.is_empty()
    }

    /// Adds the owner fields to an issue's `fields` object (a field set there already wins).
    pub fn fill(&self, fields: &mut serde_json::Map<String, Value>) {
        if let Some(id) = &self.assignee {
            fields.entry("assignee").or_insert_with(|| serde_json::json!({"id": id}));
        }
        if !self.components.is_empty() {
            let names: Vec<Value> = self.components.iter().map(|c| serde_json::json!({"name": c})).collect();
            fields.entry("components").or_insert(Value::Array(names));
        }
        for (id, value) in &self.fields {
            fields.entry(id.clone()).or_insert_with(|| value.clone());
        }
    }
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
