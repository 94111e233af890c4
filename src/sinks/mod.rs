//! Sinks: where actions go. One module per external service, each behind the same small
//! interface (`deliver(action, row) -> Delivered | DeliveryError`); a service without
//! credentials is replaced by the [`log`] sink.

pub mod log;
pub mod slack;

use crate::config::Config;
use crate::outbox::{Action, Delivered, DeliveryError};
use crate::store::Store;
use crate::store::outbox::ActionRow;

use self::log::LogSink;
use self::slack::{SlackSetupError, SlackSink};

/// Slack, or the log sink when there is no token.
enum SlackTarget {
    Api(Box<SlackSink>),
    Log(LogSink),
}

/// Every sink of this process.
pub struct Sinks {
    slack: SlackTarget,
}

/// A sink could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Slack.
    #[error(transparent)]
    Slack(#[from] SlackSetupError),
}

impl Sinks {
    /// The sinks the configuration has credentials for; the log sink for the others.
    pub fn from_config(config: &Config, store: &Store) -> Result<Self, SinkError> {
        let slack = match &config.global.slack.token {
            Some(token) => SlackTarget::Api(Box::new(SlackSink::new(&config.global.slack, token, store.clone())?)),
            None => SlackTarget::Log(LogSink),
        };
        Ok(Self { slack })
    }

    /// Delivers one action; `row` carries its idempotency key and attempt history.
    pub async fn deliver(&self, action: &Action, row: &ActionRow) -> Result<Delivered, DeliveryError> {
        match (action, &self.slack) {
            (Action::SlackPost(post), SlackTarget::Api(sink)) => sink.post(post, row).await,
            (action, SlackTarget::Log(log)) => Ok(log.deliver(action, "slack")),
        }
    }

    /// `slack` or `log`: what Slack messages go to.
    pub fn slack_kind(&self) -> &'static str {
        match self.slack {
            SlackTarget::Api(_) => "slack",
            SlackTarget::Log(_) => "log",
        }
    }
}
