//! The scheduled jobs (tokio-cron-scheduler, UTC). Each tick is claimed through the database
//! (`job_runs`), so it runs once across replicas; a replica killed mid-job loses its lease and
//! the tick can be taken over. A tick missed while Sparky was down runs at start-up.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;
use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};

use crate::app::App;
use crate::config::Cron;
use crate::jobs::{self, Delivery};
use crate::metrics::METRICS;
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
    vec![Scheduled { name: "changelogs", cron: app.config.global.schedules.changelogs.clone(), run: changelogs, running: Arc::default() }]
}

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
    let lease = |now: i64| now + i64::try_from(TICK_LEASE.as_millis()).unwrap_or(i64::MAX / 2);
    match ticks::claim_tick(&app.store, job.name, tick, &app.instance, lease(now_ms())).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::debug!(job = job.name, tick, "tick claimed by another replica");
            return;
        }
        Err(e) => {
            METRICS.error("scheduler", "store");
            tracing::error!(job = job.name, error = %e, "cannot claim tick");
            return;
        }
    }
    let heartbeat = {
        let (store, instance, name) = (app.store.clone(), app.instance.clone(), job.name);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(HEARTBEAT).await;
                if !matches!(ticks::renew(&store, name, tick, &instance, lease(now_ms())).await, Ok(true)) {
                    tracing::warn!(job = name, tick, "lost the lease of this tick");
                }
            }
        })
    };
    let started = Instant::now();
    let result = (job.run)(app.clone()).await;
    heartbeat.abort();
    METRICS.job_duration.with_label_values(&[job.name]).observe(started.elapsed().as_secs_f64());
    let word = if result.is_ok() { "ok" } else { "error" };
    METRICS.job_runs.with_label_values(&[job.name, word]).inc();
    match result {
        Ok(()) => tracing::info!(job = job.name, seconds = started.elapsed().as_secs_f64(), "job finished"),
        Err(e) => tracing::error!(job = job.name, error = %e, "job failed"),
    }
    if let Err(e) = ticks::finish(&app.store, job.name, tick, &app.instance).await {
        tracing::error!(job = job.name, error = %e, "cannot record the end of the tick");
    }
}
