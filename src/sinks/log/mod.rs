//! The log sink: stands in for any sink without credentials and prints what it would have sent,
//! so Sparky runs on a fresh machine with no secrets.

use std::io::Write;

use crate::outbox::{Action, Delivered};
use crate::sinks::slack::message::plain_text;

/// Prints actions to standard output.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogSink;

impl LogSink {
    /// Prints `action`; always delivered.
    pub fn deliver(&self, action: &Action, sink: &str) -> Delivered {
        let text = match action {
            Action::SlackPost(post) => plain_text(post),
        };
        let mut out = std::io::stdout().lock();
        // A closed stdout must not fail delivery: the log line below records it anyway.
        let _ = writeln!(out, "{text}\n");
        tracing::info!(sink, "log sink: printed instead of sending (no credentials for {sink})");
        Delivered { remote_id: Some("log".to_owned()) }
    }
}
