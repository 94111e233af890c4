//! The scheduled jobs. Cron jobs (changelogs, retention) are driven by tokio-cron-scheduler (UTC);
//! each partner's status page is polled on its own interval ([`crate::schedule`]). Every tick is
//! identified by its schedule instant and claimed through the database (`job_runs`), so it runs
//! once across restarts and replicas; a replica killed mid-job loses its lease and the tick can
//! be taken over. A cron tick missed while Sparky was down runs at start-up.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};
use tokio_util::sync::CancellationToken;

use super::App;
use super::jobs::{self, Handover};
use crate::config::Cron;
use crate::metrics::METRICS;
use crate::model::Timestamp;
use crate::schedule::{Every, Start, run_every};
use crate::store::jobs as ticks;
use crate::triage::Triage;

/// How long a claimed tick stays reserved without a heartbeat.
const TICK_LEASE: Duration = Duration::from_secs(300);
/// How often a running tick renews its lease.
const HEARTBEAT: Duration = Duration::from_secs(60);

type JobFn = Arc<dyn Fn(App) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// One cron job.
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

/// The running cron jobs.
pub struct CronJobs {
    scheduler: JobScheduler,
    catch_ups: Vec<JoinHandle<()>>,
}

impl CronJobs {
    /// Stops the cron driver and waits for the missed ticks it was running.
    pub async fn shutdown(mut self) {
        if let Err(e) = self.scheduler.shutdown().await {
            tracing::warn!(error = %e, "scheduler shutdown");
        }
        for task in self.catch_ups {
            let _ = task.await;
        }
    }
}

fn scheduled_jobs(app: &App) -> Vec<Scheduled> {
    let changelogs: JobFn =
        Arc::new(|app: App| Box::pin(async move { jobs::changelogs(&app, Handover::Wake).await.map(|_| ()).map_err(|e| e.to_string()) }));
    let retention: JobFn =
        Arc::new(|app: App| Box::pin(async move { super::retention::prune(&app).await.map(|_| ()).map_err(|e| e.to_string()) }));
    vec![
        Scheduled { name: "changelogs", cron: app.config.global.schedules.changelogs.clone(), run: changelogs, running: Arc::default() },
        Scheduled { name: super::retention::JOB, cron: super::retention::cron(), run: retention, running: Arc::default() },
    ]
}

/// Starts every cron job, and runs at once the ticks missed while Sparky was down.
pub async fn start(app: &App) -> Result<CronJobs, SchedulerError> {
    let scheduler = JobScheduler::new().await?;
    let mut catch_ups = Vec::new();
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
        catch_ups.push(tokio::spawn(async move { catch_up(&app, &job).await }));
    }
    scheduler.start().await?;
    Ok(CronJobs { scheduler, catch_ups })
}

/// Runs the latest tick now when nobody ran it (Sparky was down, or is new).
async fn catch_up(app: &App, job: &Scheduled) {
    let Some(previous) = job.cron.previous(Timestamp::now()) else { return };
    match ticks::latest_tick(&app.store, job.name).await {
        Ok(Some(latest)) if latest >= previous => {}
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
    let Some(tick) = job.cron.previous(Timestamp::now()) else { return };
    run_claimed(app, job.name, job.name, tick, (job.run)(app.clone())).await;
}

/// Runs `work` for tick `tick` of `claim_name` if this replica claims it, renewing the claim
/// while it runs; `metric_name` labels the job metrics (bounded cardinality).
async fn run_claimed(
    app: &App,
    metric_name: &'static str,
    claim_name: &str,
    tick: Timestamp,
    work: impl Future<Output = Result<(), String>>,
) {
    match ticks::claim_tick(&app.store, claim_name, tick, &app.instance, Timestamp::now() + TICK_LEASE).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::debug!(job = claim_name, tick = %tick, "tick claimed by another replica");
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
                if !matches!(ticks::renew(&store, &name, tick, &instance, Timestamp::now() + TICK_LEASE).await, Ok(true)) {
                    tracing::warn!(job = name, tick = %tick, "lost the lease of this tick");
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
/// same instants on every replica, so each is claimed once. After each poll, its notices are
/// queued and, while we fail, the cause of the partner's incident is re-decided.
pub fn start_status_polls(app: &App, triage: &Triage, shutdown: &CancellationToken) -> Vec<JoinHandle<()>> {
    (0..app.config.partners.len())
        .filter(|&i| app.config.partners[i].status_page.is_some())
        .map(|i| {
            let (app, triage, shutdown) = (app.clone(), triage.clone(), shutdown.clone());
            tokio::spawn(async move {
                let partner = &app.config.partners[i];
                let Some(page) = &partner.status_page else { return };
                let claim_name = format!("status:{}", partner.id);
                let every = Every::spread(partner.id.as_str(), page.interval());
                run_every(every, Start::Now, &shutdown, |tick| {
                    run_claimed(&app, "status", &claim_name, tick, async {
                        jobs::status_of(&app, partner, &triage).await.map_err(|e| e.to_string())?;
                        app.wake.notify_one();
                        Ok(())
                    })
                })
                .await;
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
