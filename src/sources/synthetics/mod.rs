//! Synthetic checks: read-only partner API calls on a schedule, with assertions and a
//! healthy/failing state (`synthetics/*.toml`, parsed by [`crate::config::CheckConfig`]).

pub mod assert;
pub mod auth;
pub mod engine;
pub mod run;
pub mod state;
