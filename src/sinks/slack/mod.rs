//! Slack: messages (Block Kit), limits and escaping, and the Web API sink.

mod config;
pub mod message;
mod sink;
#[cfg(test)]
mod tests;

pub use config::{SlackConfig, check_channel};
pub use sink::{METADATA_EVENT_TYPE, METADATA_KEY, SlackSetupError, SlackSink};
