//! PagerDuty Events API v2 (`POST /v2/enqueue`): triggers, acknowledges and resolves alerts by
//! `dedup_key`, which PagerDuty itself deduplicates on.

mod sink;
#[cfg(test)]
mod tests;

pub use sink::PagerDutySink;
