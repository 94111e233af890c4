//! The log sink: stands in for any sink without credentials and prints what it would have sent,
//! so Sparky runs on a fresh machine with no secrets.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::outbox::slack::plain_text;
use crate::outbox::{Action, Attempt, Delivered, DeliveryError, Sink};

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
    /// The printed form of `action`.
    pub fn text(action: &Action) -> String {
        match action {
            Action::SlackPost(post) => plain_text(post),
            Action::SlackUpdate(update) => format!("[slack update of {}] {}", update.message, update.text),
            other => format!("[{}] {}", other.sink(), other.to_json()),
        }
    }
}

#[async_trait::async_trait]
impl Sink for LogSink {
    async fn find_earlier(&self, _: &Action, _: &Attempt) -> Result<Option<Delivered>, DeliveryError> {
        Ok(None)
    }

    /// Prints `action`; always delivered.
    async fn deliver(&self, action: &Action, _: &Attempt) -> Result<Delivered, DeliveryError> {
        let text = Self::text(action);
        // A closed stream must not fail delivery: the log line below records it anyway.
        if TO_STDERR.load(Ordering::Relaxed) {
            let _ = writeln!(std::io::stderr().lock(), "{text}\n");
        } else {
            let _ = writeln!(std::io::stdout().lock(), "{text}\n");
        }
        let sink = action.sink();
        tracing::info!(sink = %sink, "log sink: printed instead of sending (no credentials for {sink})");
        Ok(Delivered::with_id("log"))
    }
}
