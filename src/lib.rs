//! Sparky, the ecosystem reliability watchdog: partner changelogs, status pages and synthetic
//! checks in; Slack digests, incidents, pages and status page updates out (see
//! `ARCHITECTURE.md`).
//!
//! # Layout
//!
//! Layers, bottom up; a module imports only from its own layer's lower modules and the layers
//! below (`tests/layering.rs` holds it). Data flows sources -> decisions -> outbox -> sinks.
//!
//! - The vocabulary and config: [`model`] (the shared domain words and types, the one clock),
//!   [`config`] (`sparky.toml`, `partners/`, `synthetics/`), and what every layer uses:
//!   [`metrics`], [`templates`], [`fetch`] (the one outbound HTTP discipline), [`schedule`]
//!   (when things run).
//! - [`store`]: the database (SQLite or PostgreSQL), one file per table family.
//! - [`outbox`]: the actions (what a side effect is), their queue, the [`outbox::Sink`] trait and
//!   the delivery worker with its retries, rate limits and breakers.
//! - [`sources`]: changelogs, status pages, synthetic checks, connectivity: the outside world
//!   turned into stored events.
//! - The decisions: [`digest`], [`notices`], [`triage`]: stored events turned into actions.
//! - [`sinks`]: Slack, Jira, PagerDuty, Statuspage (or the built-in page), the log sink.
//! - The service: [`http`] (axum), [`service`] (the assembly, jobs, scheduler and
//!   [`service::run`]), [`cli`].

pub mod model;

pub mod config;

pub mod fetch;
pub mod metrics;
pub mod schedule;
pub mod templates;

pub mod store;

pub mod outbox;

pub mod sources;

pub mod compatibility;
pub mod digest;
pub mod notices;
pub mod triage;

pub mod sinks;

pub mod http;
pub mod service;

pub mod cli;
