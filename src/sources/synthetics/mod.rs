//! Synthetic checks: read-only partner API calls on a schedule, with assertions and a
//! healthy/failing state (`synthetics/*.toml`, parsed by [`crate::config::CheckConfig`]). Their
//! credentials (`[auth]`) are applied by [`crate::fetch::auth`], shared with the status polls.

pub mod assert;
pub mod engine;
pub mod run;
pub mod share;
pub mod state;
mod writer;
