//! Sparky, the ecosystem reliability watchdog: partner changelogs, status pages and synthetic
//! checks in; Slack digests, incidents, pages and status page updates out (see ARCHITECTURE.md).

pub mod app;
pub mod cli;
pub mod config;
pub mod digest;
pub mod fetch;
pub mod http;
pub mod jobs;
pub mod metrics;
pub mod notices;
pub mod outbox;
pub mod scheduler;
pub mod sinks;
pub mod sources;
pub mod store;
pub mod templates;
pub mod triage;
