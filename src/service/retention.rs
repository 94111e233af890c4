//! Retention as a job: once a day, at the ticks of [`cron`] (03:17 UTC), the history older than
//! `[retention]` is pruned ([`crate::store::retention::prune`]). `sparky run` schedules it like
//! every cron job (a tick missed while down runs at start-up); every `sparky once ...` calls
//! [`if_due`] at its end, which prunes only when nobody ran the latest tick yet. Daemon and
//! `once` runs claim the same tick in `job_runs`, so a day's retention runs once across
//! replicas, processes and restarts, and a `once` run after it costs one statement.

use std::time::Duration;

use tokio::time::Instant;

use super::App;
use crate::config::Cron;
use crate::metrics::METRICS;
use crate::model::Timestamp;
use crate::store::StoreError;
use crate::store::jobs as ticks;
use crate::store::retention::{self, Pruned};

/// The job's name in `job_runs` and in the job metrics.
pub const JOB: &str = "retention";

/// Daily at 03:17 UTC (away from the changelog ticks on the hour).
const CRON: &str = "0 17 3 * * *";

/// How long a `once` run's claim of the tick holds without a heartbeat: longer than any prune,
/// short enough that a run killed mid-prune leaves the day's retention to a later run.
const ONCE_LEASE: Duration = Duration::from_secs(3600);

/// The daily schedule of retention.
pub fn cron() -> Cron {
    CRON.parse().expect("a constant cron") // invariant: a valid literal, tested
}

/// Prunes now with the configured `[retention]`; counts the rows deleted per table in
/// `sparky_retention_pruned_rows_total` and logs them.
///
/// Errors: the store's, when a statement fails (what was pruned before stays pruned).
pub async fn prune(app: &App) -> Result<Pruned, StoreError> {
    let pruned = retention::prune(&app.store, &app.config.global.retention, Timestamp::now()).await?;
    for (table, rows) in pruned.deleted() {
        if rows > 0 {
            METRICS.retention_pruned_rows.with_label_values(&[table]).inc_by(rows);
        }
    }
    if pruned.total() == 0 {
        tracing::debug!("retention: nothing past [retention] to prune");
        return Ok(pruned);
    }
    let deleted: Vec<String> = pruned.deleted().iter().filter(|(_, n)| *n > 0).map(|(t, n)| format!("{t}={n}")).collect();
    tracing::info!(
        deleted = %deleted.join(" "),
        outbox_keys_kept = pruned.outbox_keys_kept,
        changelog_marks_kept = pruned.changelog_marks_kept,
        "retention: pruned {} rows",
        pruned.total()
    );
    Ok(pruned)
}

/// At the end of a `once` run: prunes when the latest daily tick has not been claimed by
/// anyone (daemon or `once` run) yet. `Ok(None)`: not due, nothing done but one statement.
///
/// Errors: the store's. A failed prune leaves its tick unfinished, so a run after
/// [`ONCE_LEASE`] takes it over.
pub async fn if_due(app: &App) -> Result<Option<Pruned>, StoreError> {
    let now = Timestamp::now();
    let Some(tick) = cron().previous(now) else { return Ok(None) };
    if !ticks::claim_tick(&app.store, JOB, tick, &app.instance, now + ONCE_LEASE).await? {
        return Ok(None);
    }
    let started = Instant::now();
    let result = prune(app).await;
    METRICS.job_duration.with_label_values(&[JOB]).observe(started.elapsed().as_secs_f64());
    METRICS.job_runs.with_label_values(&[JOB, if result.is_ok() { "ok" } else { "error" }]).inc();
    let pruned = result?;
    ticks::finish(&app.store, JOB, tick, &app.instance).await?;
    Ok(Some(pruned))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_schedule_is_daily() {
        let cron = super::cron();
        let now = crate::model::Timestamp::parse_rfc3339("2026-11-25T13:10:00Z").unwrap();
        assert_eq!(cron.previous(now).unwrap().to_string(), "2026-11-25T03:17:00.000Z");
        assert_eq!(cron.next(now).unwrap().to_string(), "2026-11-26T03:17:00.000Z");
    }
}
