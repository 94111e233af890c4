//! Compatibility runs, the source side: a partner's new changelog entries matched against its
//! `[compat]` patterns ([`detect`]), each new beta / upcoming API version stored once per
//! (partner, version) with the entry that announced it (`store::compat`); [`scan`] runs the same
//! over the entries already stored; [`follow`] reads what GitHub says of a dispatched run. The
//! dispatch and the outcomes are decided by `compatibility` (the decisions layer).

pub mod detect;
pub mod follow;

use crate::config::Partner;
use crate::metrics::METRICS;
use crate::store::Store;
use crate::store::changelogs::EntryRecord;
use crate::store::compat::{self as table, Recorded};

use super::changelogs::parse::ParsedEntry;
use super::changelogs::summary::html_to_text;

pub use self::detect::{Detected, Detector};

/// The plain text the detector reads of an entry: its title, and its whole body with its
/// categories (Microsoft Graph marks a beta change by its `beta` category only).
pub fn entry_text(entry: &ParsedEntry) -> (String, String) {
    let title = html_to_text(&entry.title);
    let text = format!("{} {}", html_to_text(&entry.body), entry.categories.join(" "));
    (title, text.trim().to_owned())
}

/// Runs `partner`'s detector over its newly stored `entries` (each with its stored record) and
/// records what it finds; returns how many new versions were detected. A partner without
/// `[compat]` does nothing. A store error is logged and counted (`compat`, `store`), never
/// returned: the poll goes on.
pub async fn record_new(store: &Store, partner: &Partner, entries: &[(&ParsedEntry, &EntryRecord)]) -> usize {
    let Some(config) = &partner.compat else { return 0 };
    let detector = Detector::new(config);
    let found: Vec<(String, &EntryRecord)> = entries
        .iter()
        .filter_map(|(parsed, record)| {
            let (title, text) = entry_text(parsed);
            let detected = detector.detect(&title, &text)?;
            Some((detected.version.unwrap_or_else(|| record.key.clone()), *record))
        })
        .collect();
    if found.is_empty() {
        return 0;
    }
    let id = partner.id.as_str();
    match store_all(store, id, &found, true).await {
        Ok(new) => new,
        Err(e) => {
            METRICS.error("compat", "store");
            tracing::error!(partner = id, error = %e, "cannot record compatibility detections");
            0
        }
    }
}

/// What [`scan`] found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scanned {
    /// Stored entries read.
    pub entries: usize,
    /// Entries that announce an upcoming version.
    pub matching: usize,
    /// New detections among them.
    pub new: usize,
}

/// Runs `partner`'s detector over every entry already stored (title, then summary and tags:
/// the stored text of an entry) and records what it finds; new detections dispatch by
/// themselves only with `dispatch` (a backfill otherwise).
///
/// # Errors
/// A query failed.
pub async fn scan(store: &Store, partner: &Partner, dispatch: bool) -> Result<Scanned, crate::store::StoreError> {
    let detector = match &partner.compat {
        Some(config) => Detector::new(config),
        None => return Ok(Scanned::default()),
    };
    let entries = crate::store::changelogs::entries(store, partner.id.as_str()).await?;
    let found: Vec<(String, &EntryRecord)> = entries
        .iter()
        .filter_map(|entry| {
            let text = format!("{} {}", entry.summary, entry.tags.join(" "));
            let detected = detector.detect(&entry.title, &text)?;
            Some((detected.version.unwrap_or_else(|| entry.key.clone()), entry))
        })
        .collect();
    let new = store_all(store, partner.id.as_str(), &found, dispatch).await?;
    Ok(Scanned { entries: entries.len(), matching: found.len(), new })
}

async fn store_all(
    store: &Store,
    partner: &str,
    found: &[(String, &EntryRecord)],
    dispatch: bool,
) -> Result<usize, crate::store::StoreError> {
    let mut tx = store.pool().begin().await?;
    let mut new = 0;
    for (version, entry) in found {
        match table::record(&mut tx, partner, version, entry, dispatch).await? {
            Recorded::New(_) => {
                new += 1;
                tracing::info!(partner, version = version.as_str(), entry = entry.key.as_str(), "new upcoming API version detected");
            }
            Recorded::Seen(_) => {
                tracing::info!(
                    partner,
                    version = version.as_str(),
                    entry = entry.key.as_str(),
                    "another entry about a detected API version"
                );
            }
        }
    }
    tx.commit().await?;
    Ok(new)
}
