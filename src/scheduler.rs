//! The scheduled jobs (tokio-cron-scheduler, UTC). Each tick is claimed through the database
//! (`job_runs`), so it runs once across replicas; a replica killed mid-job loses its lease and
//! the tick can be taken over. A tick missed while Sparky was down runs at start-up. Jobs with
//! an interval rather than a cron schedule (status page polls) run on [`every`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;
use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::config::Cron;
use crate::jobs::{self, Delivery};
use crate::metrics::METRICS;
use crate::sources::status_pages;
use crate::store::{jobs as ticks, now_ms};

/// How long a claimed tick stays reserved without a heartbeat.
const TICK_LEASE: Duration = Duration::from_secs(300);
/// How often a running tick renews its lease.
const HEARTBEAT: Duration = Duration::from_secs(60);

type JobFn = Arc<dyn Fn(App) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// One scheduled job.
#[derive(Clone)]
struct Scheduled {
    name: &'static str,
    cron: Cron,
    run: JobFn,
    /// Serialises ticks in this process: a run longer than the interval skips the next tick.
    running: Arc<Mutex<()>>,
}

/// The scheduler could not start.
#[derive(Debug, thiserror::Error)]
#[error("scheduler: {0}")]
pub struct SchedulerError(#[from] JobSchedulerError);

fn scheduled_jobs(app: &App) -> Vec<Scheduled> {
    let changelogs: JobFn =
        Arc::new(|app: App| Box::pin(async move { jobs::changelogs(&app, Delivery::Wake).await.map(|_| ()).map_err(|e| e.to_string()) }));
    let prune: JobFn = Arc::new(|app: App| Box::pin(async move { prune(&app).await }));
    vec![
        Scheduled { name: "changelogs", cron: app.config.global.schedules.changelogs.clone(), run: changelogs, running: Arc::default() },
        Scheduled {
            name: "prune",
            cron: PRUNE_CRON.parse().unwrap_or_else(|_| unreachable!("constant cron")),
            run: prune,
            running: Arc::default(),
        },
    ]
}

/// Job history pruning, hourly.
const PRUNE_CRON: &str = "0 17 * * * *";

/// Starts every job; returns the running scheduler (stop it with `shutdown`).
pub async fn start(app: &App) -> Result<JobScheduler, SchedulerError> {
    let scheduler = JobScheduler::new().await?;
    for job in scheduled_jobs(app) {
        let (app_for_job, job_for_cron) = (app.clone(), job.clone());
        scheduler
            .add(Job::new_async(job.cron.as_six_fields(), move |_, _| {
                let (app, job) = (app_for_job.clone(), job_for_cron.clone());
                Box::pin(async move { run_tick(&app, &job).await })
            })?)
            .await?;
        tracing::info!(job = job.name, cron = job.cron.as_six_fields(), "scheduled");
        let (app, job) = (app.clone(), job.clone());
        tokio::spawn(async move { catch_up(&app, &job).await });
    }
    scheduler.start().await?;
    Ok(scheduler)
}

/// Runs the latest tick now when nobody ran it (Sparky was down, or is new).
async fn catch_up(app: &App, job: &Scheduled) {
    let Some(previous) = job.cron.previous(chrono::Utc::now()) else { return };
    match ticks::latest_tick(&app.store, job.name).await {
        Ok(Some(latest)) if latest >= previous.timestamp_millis() => {}
        Ok(_) => {
            tracing::info!(job = job.name, tick = %previous, "running the missed tick now");
            run_tick(app, job).await;
        }
        Err(e) => tracing::error!(job = job.name, error = %e, "cannot read job history"),
    }
}

async fn run_tick(app: &App, job: &Scheduled) {
    let Ok(_guard) = job.running.try_lock() else {
        tracing::warn!(job = job.name, "previous run still going; skipping this tick");
        METRICS.job_runs.with_label_values(&[job.name, "skipped"]).inc();
        return;
    };
    let Some(tick) = job.cron.previous(chrono::Utc::now()).map(|t| t.timestamp_millis()) else { return };
    run_claimed(app, job.name, job.name, tick, (job.run)(app.clone())).await;
}

/// Runs `work` for tick `tick` of `claim_name` if this replica claims it, renewing the claim
/// while it runs; `metric_name` labels the job metrics (bounded cardinality).
async fn run_claimed(app: &App, metric_name: &'static str, claim_name: &str, tick: i64, work: impl Future<Output = Result<(), String>>) {
    let lease = |now: i64| now + i64::try_from(TICK_LEASE.as_millis()).unwrap_or(i64::MAX / 2);
    match ticks::claim_tick(&app.store, claim_name, tick, &app.instance, lease(now_ms())).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::debug!(job = claim_name, tick, "tick claimed by another replica");
            return;
        }
        Err(e) => {
            METRICS.error("scheduler", "store");
            tracing::error!(job = claim_name, error = %e, "cannot claim tick");
            return;
        }
    }
    let heartbeat = {
        let (store, instance, name) = (app.store.clone(), app.instance.clone(), claim_name.to_owned());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(HEARTBEAT).await;
                if !matches!(ticks::renew(&store, &name, tick, &instance, lease(now_ms())).await, Ok(true)) {
                    tracing::warn!(job = name, tick, "lost the lease of this tick");
                }
            }
        })
    };
    let started = Instant::now();
    let result = work.await;
    heartbeat.abort();
    METRICS.job_duration.with_label_values(&[metric_name]).observe(started.elapsed().as_secs_f64());
    let word = if result.is_ok() { "ok" } else { "error" };
    METRICS.job_runs.with_label_values(&[metric_name, word]).inc();
    match result {
        Ok(()) => tracing::debug!(job = claim_name, seconds = started.elapsed().as_secs_f64(), "job finished"),
        Err(e) => tracing::error!(job = claim_name, error = %e, "job failed"),
    }
    if let Err(e) = ticks::finish(&app.store, claim_name, tick, &app.instance).await {
        tracing::error!(job = claim_name, error = %e, "cannot record the end of the tick");
    }
}

/// Polls every partner's status page on its own interval, each at its own offset inside the
/// interval (from its id), so pages are not all fetched in the same second; ticks fall on the
/// same instants on every replica, so each is claimed once.
pub fn start_status_polls(app: &App, triage: &crate::triage::Triage, shutdown: &CancellationToken) -> Vec<tokio::task::JoinHandle<()>> {
    (0..app.config.partners.len())
        .filter(|&i| app.config.partners[i].status_page.is_some())
        .map(|i| {
            let (app, triage, shutdown) = (app.clone(), triage.clone(), shutdown.clone());
            tokio::spawn(async move {
                let partner = &app.config.partners[i];
                let Some(page) = &partner.status_page else { return };
                let claim_name = format!("status:{}", partner.id);
                every(page.interval(), spread(partner.id.as_str(), page.interval()), Start::Now, &shutdown, |tick| {
                    run_claimed(&app, "status", &claim_name, tick, async {
                        let report = status_pages::poll_partner(&app, partner).await.map_err(|e| e.to_string())?;
                        // While we fail, each reading of the partner's page may change the cause.
                        if let Some(report) = report {
                            triage.recheck(partner, &report.status).await.map_err(|e| e.to_string())?;
                        }
                        Ok(())
                    })
                })
                .await;
            })
        })
        .collect()
}

/// A stable offset in `[0, interval)` for `key`.
pub fn spread(key: &str, interval: Duration) -> Duration {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut hasher);
    let ms = u64::try_from(interval.as_millis()).unwrap_or(u64::MAX).max(1);
    Duration::from_millis(hasher.finish() % ms)
}

/// When [`every`] runs first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// At once, for the latest tick (a service that starts should know where it stands).
    Now,
    /// At the next tick.
    NextTick,
}

/// Calls `run(tick_ms)` at every `k * interval + offset` (Unix time) until `shutdown`, first as
/// `start` says; a run longer than the interval skips the ticks it overlaps.
pub async fn every<F, Fut>(interval: Duration, offset: Duration, start: Start, shutdown: &CancellationToken, mut run: F)
where
    F: FnMut(i64) -> Fut,
    Fut: Future<Output = ()>,
{
    let period = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX).max(1);
    let offset = i64::try_from(offset.as_millis()).unwrap_or(0) % period;
    if start == Start::Now {
        run(((now_ms() - offset).div_euclid(period)) * period + offset).await;
    }
    loop {
        let now = now_ms();
        let next = ((now - offset) / period + 1) * period + offset;
        let wait = Duration::from_millis(u64::try_from(next - now).unwrap_or(0));
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(wait) => run(next).await,
        }
    }
}

/// Hourly: finished ticks older than a day, and check results older than 8 days (the longest
/// window `sparky check` reports is 7 days), are deleted.
async fn prune(app: &App) -> Result<(), String> {
    const DAY: i64 = 24 * 3600 * 1000;
    let ticks = ticks::prune(&app.store, now_ms() - DAY).await.map_err(|e| e.to_string())?;
    let results = crate::store::synthetics::prune_results(&app.store, now_ms() - 8 * DAY).await.map_err(|e| e.to_string())?;
    tracing::debug!(ticks, results, "pruned history");
    Ok(())
}
