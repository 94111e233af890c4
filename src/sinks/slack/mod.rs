//! Slack Web API: `chat.postMessage` (Block Kit, the action's idempotency key in message
//! metadata), `chat.update`, and `conversations.history` to find an earlier attempt whose answer
//! never came back, so a message is posted once.

mod errors;
mod sink;

pub use sink::{METADATA_EVENT_TYPE, METADATA_KEY, SlackSink};
