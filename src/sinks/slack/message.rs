//! A Slack message as an outbox action, Slack's Block Kit limits and mrkdwn escaping.
//!
//! Limits and escaping follow Slack's docs: "Formatting text for app surfaces" (escape `&`, `<`,
//! `>`), and the Block Kit reference (at most 50 blocks per message, 3000 characters per
//! section text, 150 per header text).

use serde::{Deserialize, Serialize};
use serde_json::Value;

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
    /// What the message is (`digest`, `notice` ...), for metrics.
    pub purpose: String,
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

/// Escapes text for mrkdwn: `&`, `<`, `>` become entities so feed text cannot mention
/// `@channel`, forge links or break formatting.
pub fn escape_mrkdwn(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// A mrkdwn link `<url|text>`, or the escaped text alone when there is no URL.
pub fn link(url: Option<&str>, text: &str) -> String {
    let label = escape_mrkdwn(text).replace('|', "\u{2223}");
    match url.filter(|u| u.starts_with("http://") || u.starts_with("https://")) {
        Some(url) => format!("<{}|{label}>", url.replace('|', "%7C").replace('>', "%3E").replace('<', "%3C")),
        None => label,
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

/// A duration in words for messages, to the minute: "23m", "1h 5m", "under a minute".
pub fn human_duration(d: std::time::Duration) -> String {
    let minutes = d.as_secs() / 60;
    if minutes == 0 {
        return "under a minute".to_owned();
    }
    humantime::format_duration(std::time::Duration::from_secs(minutes * 60)).to_string()
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
    fn durations_read_to_the_minute() {
        assert_eq!(human_duration(std::time::Duration::from_secs(23 * 60 + 20)), "23m");
        assert_eq!(human_duration(std::time::Duration::from_secs(3900)), "1h 5m");
        assert_eq!(human_duration(std::time::Duration::from_secs(30)), "under a minute");
    }

    #[test]
    fn rendered_lines_must_be_blocks() {
        assert_eq!(parse_blocks("{\"type\": \"divider\"}\n\n").unwrap().len(), 1);
        assert_eq!(parse_blocks("{\"type\": \"divider\"}\nnot json").unwrap_err().line, 2);
        assert!(parse_blocks("{\"text\": \"no type\"}").unwrap_err().reason.contains("\"type\""));
    }

    #[test]
    fn mrkdwn_escapes_control_characters() {
        assert_eq!(escape_mrkdwn("a <b> & <!channel>"), "a &lt;b&gt; &amp; &lt;!channel&gt;");
    }

    #[test]
    fn links_escape_their_label_and_url() {
        assert_eq!(link(Some("https://x.test/a|b"), "A <b> | c"), "<https://x.test/a%7Cb|A &lt;b&gt; \u{2223} c>");
        assert_eq!(link(None, "T&C"), "T&amp;C");
        assert_eq!(link(Some("javascript:alert(1)"), "x"), "x");
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
}
