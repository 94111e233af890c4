//! The check engine's result writer: batches of results, states and events, each batch one
//! transaction; a batch the database refuses is retried until it is stored, without bound, so
//! no state change is ever lost. While it waits, later batches are merged into it (the engine
//! never blocks on a full channel); past [`MAX_HELD_RESULTS`], results that change nothing are
//! dropped and counted (`sparky_check_results_dropped_total`).

use std::sync::Arc;
use std::time::Duration;

use backon::BackoffBuilder as _;
use tokio::sync::mpsc;

use crate::metrics::METRICS;
use crate::store::Store;
use crate::store::synthetics::{self as table, Batch};

/// Batches the engine may queue before it waits for the writer.
pub(super) const CHANNEL_BATCHES: usize = BATCH_ROWS * 4;
/// Results buffered before a write.
const BATCH_ROWS: usize = 500;
/// Longest a result that changes nothing waits in the buffer: at 10,000 checks every 5 minutes
/// (33 results a second) a batch then holds about 33 results, not one or two, and the cost of a
/// transaction is shared accordingly. A batch with a state change is written at once.
const BATCH_WAIT: Duration = Duration::from_secs(1);
/// Results held while the database refuses writes; beyond, results are dropped (counted).
const MAX_HELD_RESULTS: usize = 50_000;
/// Longest wait between two attempts of a refused write.
const MAX_WRITE_BACKOFF: Duration = Duration::from_secs(5);

/// Writes queued results in batches: up to [`BATCH_ROWS`] or [`BATCH_WAIT`], whichever first,
/// and at once for a state change;
/// a batch the database refuses is retried until it is stored, with the batches that arrive
/// meanwhile merged into it.
pub(super) async fn write_results(store: Store, mut rx: mpsc::Receiver<Batch>, triage: Arc<tokio::sync::Notify>) {
    while let Some(first) = rx.recv().await {
        let mut batch = first;
        let deadline = tokio::time::Instant::now() + BATCH_WAIT;
        while batch.results.len() < BATCH_ROWS && batch.events.is_empty() {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(more)) => absorb(&mut batch, more),
                Ok(None) | Err(_) => break,
            }
        }
        write_until_stored(&store, &mut rx, &mut batch).await;
        if !batch.events.is_empty() {
            triage.notify_one();
        }
    }
}

/// Adds `more` to `held`. Past [`MAX_HELD_RESULTS`] held results, the results of a batch that
/// changes nothing are dropped (counted); states, events and the results that caused them stay.
fn absorb(held: &mut Batch, more: Batch) {
    let changes = !more.states.is_empty() || !more.events.is_empty();
    if changes || held.results.len() + more.results.len() <= MAX_HELD_RESULTS {
        held.results.extend(more.results);
    } else {
        METRICS.check_results_dropped.inc_by(u64::try_from(more.results.len()).unwrap_or(u64::MAX));
    }
    held.states.extend(more.states);
    held.events.extend(more.events);
}

/// Writes `batch`, retrying with backoff (jittered, up to [`MAX_WRITE_BACKOFF`]) for as long as
/// the database refuses it: a state change is never lost. Batches that arrive while it waits
/// are merged into it, so the engine never blocks on a full channel.
async fn write_until_stored(store: &Store, rx: &mut mpsc::Receiver<Batch>, batch: &mut Batch) {
    let mut delays = backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(MAX_WRITE_BACKOFF)
        .with_jitter()
        .without_max_times()
        .build();
    let mut failures = 0u32;
    loop {
        let Err(e) = table::write_batch(store, batch).await else {
            if failures > 0 {
                tracing::warn!(
                    failures,
                    results = batch.results.len(),
                    states = batch.states.len(),
                    "check results stored after the database refused them"
                );
            }
            return;
        };
        failures += 1;
        METRICS.error("synthetics", "store");
        tracing::error!(error = %e, failures, results = batch.results.len(), states = batch.states.len(), "the database refuses check results; retrying until it takes them");
        let wait = tokio::time::sleep(delays.next().unwrap_or(MAX_WRITE_BACKOFF));
        tokio::pin!(wait);
        loop {
            tokio::select! {
                () = &mut wait => break,
                more = rx.recv() => match more {
                    Some(more) => absorb(batch, more),
                    None => { (&mut wait).await; break; }
                },
            }
        }
    }
}

#[cfg(test)]
mod tests;
