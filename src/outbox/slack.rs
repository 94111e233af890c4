//! Slack messages as outbox actions, and the one place a Slack message is built from its
//! templates: blocks (one JSON block per line of `*.jsonl.j2`, each checked against Block Kit),
//! the notification text (`*.txt.j2`), and Slack's limits, used by the digest, status notices,
//! incident messages and the egress alert.
//!
//! Limits follow Slack's Block Kit reference (at most 50 blocks per message, 3000 characters per
//! section text, 150 per header text); mrkdwn escaping is the templates' `mrkdwn` filter
//! ([`crate::templates`]).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::vocabulary;
use crate::templates::{RenderAsError, TemplateError, Templates};

/// Most blocks Slack accepts in one message.
pub const MAX_BLOCKS: usize = 50;
/// Most characters of a section's (or context element's) text.
pub const MAX_TEXT: usize = 3000;
/// Most characters of a header's plain text.
pub const MAX_HEADER_TEXT: usize = 150;

/// A message to post with `chat.postMessage`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlackPost {
    /// `#name` or a channel id.
    pub channel: String,
    /// Notification text (mrkdwn), shown where blocks are not.
    pub text: String,
    /// Block Kit blocks, as JSON.
    pub blocks: Vec<Value>,
    /// What the message is, for metrics and logs.
    pub purpose: Purpose,
    /// Our key for it (`incident:42`), under which its channel and `ts` are kept so a later
    /// [`SlackUpdate`] can edit it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remember_as: Option<String>,
}

/// An edit of a message posted earlier (`chat.update`); editing twice is harmless.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlackUpdate {
    /// The `remember_as` key of the message.
    pub message: String,
    /// New notification text.
    pub text: String,
    /// New blocks.
    pub blocks: Vec<Value>,
}

vocabulary! {
    /// What a Slack message is.
    pub enum Purpose {
        /// A changelog digest.
        Digest,
        /// A partner status notice.
        Notice,
        /// One of our incidents.
        Incident,
        /// The "Sparky cannot reach the internet" alert.
        Egress,
        /// A compatibility run's outcome.
        Compat,
    }
}

/// The two templates of one kind of message: `NAME.jsonl.j2` (blocks) and `NAME.txt.j2`
/// (notification text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message {
    /// The blocks template.
    pub blocks: &'static str,
    /// The text template.
    pub text: &'static str,
}

/// The digest of new changelog entries.
pub const DIGEST: Message = Message { blocks: "slack/digest.jsonl.j2", text: "slack/digest.txt.j2" };
/// A partner status notice.
pub const STATUS_NOTICE: Message = Message { blocks: "slack/status_notice.jsonl.j2", text: "slack/status_notice.txt.j2" };
/// A check degraded (`warn`) for `warn_after`, and cleared.
pub const CHECK_WARN: Message = Message { blocks: "slack/check_warn.jsonl.j2", text: "slack/check_warn.txt.j2" };
/// A compatibility run's outcome (compatible, not compatible, inconclusive, lost).
pub const COMPAT: Message = Message { blocks: "slack/compat.jsonl.j2", text: "slack/compat.txt.j2" };
/// An incident message (opened, check added, cause changed, recovered) and the egress alert.
pub const INCIDENT: Message = Message { blocks: "slack/incident.jsonl.j2", text: "slack/incident.txt.j2" };

/// A message could not be built from its templates.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A template failed to render.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// The blocks template printed something that is not Block Kit.
    #[error("template {template}: {source}")]
    Blocks {
        /// The blocks template.
        template: &'static str,
        /// What is wrong.
        source: BlocksError,
    },
}

impl Message {
    /// The blocks `view` renders to, as Block Kit JSON (not yet clamped to Slack's limits).
    pub fn blocks<S: Serialize>(self, templates: &Templates, view: &S) -> Result<Vec<Value>, RenderError> {
        templates.render_as(self.blocks, view, parse_blocks).map_err(|e| match e {
            RenderAsError::Template(e) => RenderError::Template(e),
            RenderAsError::Output(source) => RenderError::Blocks { template: self.blocks, source },
        })
    }

    /// The message `view` renders to, for `channel`: blocks clamped to Slack's limits, and the
    /// notification text.
    pub fn post<S: Serialize>(self, templates: &Templates, view: &S, channel: &str, purpose: Purpose) -> Result<SlackPost, RenderError> {
        let mut blocks = self.blocks(templates, view)?;
        clamp_texts(&mut blocks);
        let text = templates.render(self.text, view)?.trim().to_owned();
        Ok(SlackPost { channel: channel.to_owned(), text, blocks, purpose, remember_as: None })
    }
}

/// How far a set of blocks is within Slack's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// Within every limit.
    Fits,
    /// Too many blocks, or a text over its limit.
    TooBig,
}

/// Checks the block count and every text length.
pub fn fit(blocks: &[Value]) -> Fit {
    if blocks.len() > MAX_BLOCKS || blocks.iter().any(|b| longest_text(b) > MAX_TEXT) {
        return Fit::TooBig;
    }
    Fit::Fits
}

fn longest_text(v: &Value) -> usize {
    match v {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) if k == "text" => s.chars().count(),
                other => longest_text(other),
            })
            .max()
            .unwrap_or(0),
        Value::Array(items) => items.iter().map(longest_text).max().unwrap_or(0),
        _ => 0,
    }
}

/// Cuts every text over its limit (headers at 150, others at 3000), as a last resort for a
/// single entry too big for a message of its own.
pub fn clamp_texts(blocks: &mut [Value]) {
    for block in blocks {
        let limit = if block.get("type").and_then(Value::as_str) == Some("header") { MAX_HEADER_TEXT } else { MAX_TEXT };
        clamp(block, limit);
    }
}

fn clamp(v: &mut Value, limit: usize) {
    match v {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                match v {
                    Value::String(s) if k == "text" && s.chars().count() > limit => {
                        let cut: String = s.chars().take(limit - 1).collect();
                        *s = format!("{cut}…");
                    }
                    other => clamp(other, limit),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| clamp(i, limit)),
        _ => {}
    }
}

/// Rendered JSON Lines are not Block Kit blocks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct BlocksError {
    /// 1-based line of the rendered output.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// Parses a template's output, one JSON block per line (blank lines skipped), checking each is a
/// block slack-morphism accepts.
pub fn parse_blocks(rendered: &str) -> Result<Vec<Value>, BlocksError> {
    rendered
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, line)| {
            let bad = |reason: String| BlocksError { line: i + 1, reason };
            let value: Value = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
            if !value.get("type").is_some_and(Value::is_string) {
                return Err(bad("a block is an object with a \"type\"".to_owned()));
            }
            serde_json::from_value::<slack_morphism::prelude::SlackBlock>(value.clone())
                .map_err(|e| bad(format!("not a Block Kit block: {e}")))?;
            Ok(value)
        })
        .collect()
}

/// The message as plain lines (each block's texts), for the log sink.
pub fn plain_text(post: &SlackPost) -> String {
    let mut lines = vec![format!("[slack {}] {}", post.channel, post.text)];
    for block in &post.blocks {
        let mut texts = Vec::new();
        collect_texts(block, &mut texts);
        if block.get("type").and_then(Value::as_str) == Some("divider") {
            lines.push("  ---".to_owned());
        }
        for t in texts {
            lines.extend(t.lines().map(|l| format!("  {l}")));
        }
    }
    lines.join("\n")
}

fn collect_texts(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                match v {
                    Value::String(s) if k == "text" => out.push(s.clone()),
                    other => collect_texts(other, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_texts(i, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rendered_lines_must_be_blocks() {
        assert_eq!(parse_blocks("{\"type\": \"divider\"}\n\n").unwrap().len(), 1);
        assert_eq!(parse_blocks("{\"type\": \"divider\"}\nnot json").unwrap_err().line, 2);
        assert!(parse_blocks("{\"text\": \"no type\"}").unwrap_err().reason.contains("\"type\""));
    }

    #[test]
    fn limits_are_counted_and_clamped() {
        let small = vec![json!({"type": "section", "text": {"type": "mrkdwn", "text": "hi"}})];
        assert_eq!(fit(&small), Fit::Fits);
        let mut big = vec![json!({"type": "section", "text": {"type": "mrkdwn", "text": "x".repeat(3001)}})];
        assert_eq!(fit(&big), Fit::TooBig);
        clamp_texts(&mut big);
        assert_eq!(fit(&big), Fit::Fits);
        assert_eq!(fit(&vec![json!({"type": "divider"}); 51]), Fit::TooBig);
    }

    #[test]
    fn the_log_form_shows_every_text() {
        let post = SlackPost {
            channel: "#c".to_owned(),
            text: "2 new entries".to_owned(),
            blocks: vec![
                json!({"type": "header", "text": {"type": "plain_text", "text": "Digest"}}),
                json!({"type": "divider"}),
                json!({"type": "section", "text": {"type": "mrkdwn", "text": "line one\nline two"}}),
            ],
            purpose: Purpose::Digest,
            remember_as: None,
        };
        assert_eq!(plain_text(&post), "[slack #c] 2 new entries\n  Digest\n  ---\n  line one\n  line two");
    }
}
