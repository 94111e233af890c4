//! The jobs: each runs one source through the decisions to the outbox, and delivers.

use serde::Serialize;

use crate::app::App;
use crate::digest::{self, Queued};
use crate::metrics::METRICS;
use crate::outbox::DeliveryReport;
use crate::sources::changelogs::{self, FeedReport};
use crate::store::StoreError;

/// How a job hands its actions over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Deliver before returning (`sparky once ...`).
    Drain,
    /// Wake the daemon's delivery worker.
    Wake,
}

/// The result of one changelog run.
#[derive(Debug, Clone, Serialize)]
pub struct ChangelogRun {
    /// One report per feed.
    pub feeds: Vec<FeedReport>,
    /// The digest written to the outbox.
    pub digest: DigestSummary,
    /// Delivery, when drained.
    pub delivery: Option<DeliveryReport>,
}

/// The digest part of a run.
#[derive(Debug, Clone, Serialize)]
pub struct DigestSummary {
    /// Entries queued in this run (new ones and earlier ones left pending).
    pub entries: usize,
    /// Messages written.
    pub messages: usize,
    /// Why no digest could be written (entries stay pending).
    pub error: Option<String>,
}

/// Polls every feed, queues the digest of the pending entries, and delivers.
///
/// Errors only when the database fails outside a single feed; a failing partner is data.
pub async fn changelogs(app: &App, delivery: Delivery) -> Result<ChangelogRun, StoreError> {
    let config = &app.config;
    let feeds = changelogs::poll_all(&app.store, &app.fetcher, &config.partners, &config.global.changelogs).await;
    let digest = match digest::queue_digests(&app.store, config, &app.templates).await {
        Ok(Queued { entries, messages }) => DigestSummary { entries, messages, error: None },
        Err(digest::DigestError::Store(e)) => return Err(e),
        Err(e) => {
            METRICS.error("digest", "template");
            tracing::error!(error = %e, "cannot build the digest; entries stay pending");
            DigestSummary { entries: 0, messages: 0, error: Some(e.to_string()) }
        }
    };
    let delivery = match delivery {
        Delivery::Drain => Some(app.deliverer().drain().await?),
        Delivery::Wake => {
            app.wake.notify_one();
            None
        }
    };
    Ok(ChangelogRun { feeds, digest, delivery })
}
