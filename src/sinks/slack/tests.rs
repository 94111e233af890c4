use super::message::{SlackPost, plain_text};
use serde_json::json;

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
        purpose: "digest".to_owned(),
        remember_as: None,
    };
    assert_eq!(plain_text(&post), "[slack #c] 2 new entries\n  Digest\n  ---\n  line one\n  line two");
}
