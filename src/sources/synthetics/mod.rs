//! Synthetic checks: read-only partner API calls on a schedule, with assertions and a
//! healthy/failing state.

pub mod assert;
pub mod auth;
pub mod config;
pub mod engine;
pub mod result;
pub mod run;
pub mod state;

pub use config::{Assertion, AuthConfig, CheckConfig, Method, Priority, StepConfig};
pub use result::{AssertionResult, ErrorKind, Outcome};
