//! The log sink: stands in for any sink without credentials and prints what it would have sent,
//! so Sparky runs on a fresh machine with no secrets.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::outbox::{Action, Delivered};
use crate::sinks::slack::message::plain_text;

/// Set when standard output carries JSON for scripts (`--json`): the log sink then prints to
/// standard error, so the JSON stays parseable.
static TO_STDERR: AtomicBool = AtomicBool::new(false);

/// Sends what the log sink prints to standard error instead of standard output.
pub fn print_to_stderr() {
    TO_STDERR.store(true, Ordering::Relaxed);
}

/// Prints actions to standard output (standard error under `--json`).
#[derive(Debug, Default, Clone, Copy)]
pub struct LogSink;

impl LogSink {
    /// Prints `action`; always delivered.
    pub fn deliver(&self, action: &Action, sink: &str) -> Delivered {
        let text = match action {
            Action::SlackPost(post) => plain_text(post),
            Action::SlackUpdate(update) => format!("[slack update of {}] {}", update.message, update.text),
            other => format!("[{sink}] {}", serde_json::to_string(other).unwrap_or_default()),
        };
        // A closed stream must not fail delivery: the log line below records it anyway.
        if TO_STDERR.load(Ordering::Relaxed) {
            let _ = writeln!(std::io::stderr().lock(), "{text}\n");
        } else {
            let _ = writeln!(std::io::stdout().lock(), "{text}\n");
        }
        tracing::info!(sink, "log sink: printed instead of sending (no credentials for {sink})");
        Delivered { remote_id: Some("log".to_owned()) }
    }
}
