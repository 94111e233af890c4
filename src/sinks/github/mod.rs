//! GitHub Actions (REST API 2022-11-28): dispatches partners' compatibility workflows and
//! re-runs failed jobs ([`GitHubSink`]), and reads runs for the compatibility decisions
//! ([`GitHubClient`] implements `sources::compat::follow::Runs`), with a fine-grained token or
//! a GitHub App's installation tokens ([`auth`]).

mod auth;
mod client;
mod sink;

use std::sync::Arc;

pub use client::{API_VERSION, Dispatched, GitHubClient};
pub use sink::GitHubSink;

use crate::config::Config;
use crate::outbox::DeliveryError;
use crate::sources::compat::follow::Runs;

/// The run reader of `config`'s GitHub credentials; `None` without credentials (runs are not
/// followed).
///
/// # Errors
/// See [`GitHubClient::new`].
pub fn runs(config: &Config) -> Result<Option<Arc<dyn Runs>>, DeliveryError> {
    let g = &config.global;
    if g.github.auth().is_none() {
        return Ok(None);
    }
    Ok(Some(Arc::new(GitHubClient::new(&g.github, &g.http)?)))
}
