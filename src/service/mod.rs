//! The service, assembled: configuration, store, HTTP client, templates and sinks built once
//! ([`App::start`]), the jobs ([`jobs`]), the scheduler ([`scheduler`]), retention ([`retention`]),
//! and [`run`], the daemon as one library call (`sparky run` calls it; integration tests boot it in-process).

pub mod jobs;
pub mod retention;
pub mod samples;
pub mod scheduler;

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, ConfigError};
use crate::fetch::{FetchError, Fetcher};
use crate::metrics::METRICS;
use crate::outbox::worker::Delivery;
use crate::outbox::{Deliverer, DeliveryError};
use crate::sources::synthetics::engine::Engine;
use crate::store::{Store, StoreError};
use crate::templates::Templates;
use crate::triage::Triage;

/// Sparky could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Bad configuration (also bad templates): exit code 2.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The database cannot be used.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The HTTP client cannot be built.
    #[error("cannot build the HTTP client: {0}")]
    Fetch(#[from] FetchError),
    /// A sink cannot be built.
    #[error("cannot set up a sink: {0}")]
    Sink(#[from] DeliveryError),
    /// The scheduler cannot start.
    #[error(transparent)]
    Scheduler(#[from] scheduler::SchedulerError),
}

/// Everything a job needs; cheap to clone.
#[derive(Clone)]
pub struct App {
    /// The configuration.
    pub config: Arc<Config>,
    /// The database.
    pub store: Store,
    /// The HTTP client of the sources.
    pub fetcher: Fetcher,
    /// Message and page templates.
    pub templates: Arc<Templates>,
    /// Where actions go, with their rate limits and breakers.
    pub delivery: Arc<Delivery>,
    /// This process in leases: host, pid and a random part.
    pub instance: String,
    /// Wakes the delivery worker when a job wrote actions.
    pub wake: Arc<Notify>,
    /// Wakes triage when the check engine stored state changes.
    pub triage_wake: Arc<Notify>,
    /// Wakes the compatibility follow-up when a `workflow_run` webhook hurried a poll.
    pub compat_wake: Arc<Notify>,
    /// The read side of GitHub Actions (`None` without GitHub credentials: runs are not followed).
    pub runs: Option<Arc<dyn crate::sources::compat::follow::Runs>>,
}

impl App {
    /// Opens the database (applying migrations) and builds the clients.
    pub async fn start(config: Config) -> Result<Self, StartError> {
        let store = Store::open(&config.database_url()).await?;
        Self::with_store(config, store)
    }

    /// The service over an open `store` (tests open theirs with a long acquire timeout).
    pub fn with_store(config: Config, store: Store) -> Result<Self, StartError> {
        let templates = Templates::load(&config.dir).map_err(ConfigError)?;
        let fetcher = Fetcher::new(&config.global.http)?;
        let sinks = crate::sinks::from_config(&config, &store)?;
        let runs = crate::sinks::github::runs(&config)?;
        let delivery = Delivery::new(sinks, &config.global.outbox, config.global.slack.messages_per_second);
        initialise_metrics(&config, &delivery);
        Ok(Self {
            config: Arc::new(config),
            store,
            fetcher,
            templates: Arc::new(templates),
            delivery: Arc::new(delivery),
            instance: instance_id(),
            wake: Arc::new(Notify::new()),
            triage_wake: Arc::new(Notify::new()),
            compat_wake: Arc::new(Notify::new()),
            runs,
        })
    }

    /// A delivery worker of this process.
    pub fn deliverer(&self) -> Deliverer {
        Deliverer::new(self.store.clone(), self.delivery.clone(), self.config.global.outbox.clone(), self.instance.clone())
    }

    /// Triage of this process.
    pub fn triage(&self) -> Result<Triage, FetchError> {
        Triage::new(self.store.clone(), self.config.clone(), self.templates.clone(), &self.fetcher, self.wake.clone())
    }

    /// The state of the HTTP server.
    pub fn http_state(&self) -> crate::http::State {
        crate::http::State {
            config: self.config.clone(),
            store: self.store.clone(),
            templates: self.templates.clone(),
            compat_wake: self.compat_wake.clone(),
            wake: self.wake.clone(),
        }
    }
}

/// Under `--json` standard output carries JSON for scripts: the log sink then prints what it
/// would have sent to standard error.
pub fn print_log_sink_to_stderr() {
    crate::sinks::log::print_to_stderr();
}

/// The series known at start-up, at zero (see `Metrics::initialise`).
fn initialise_metrics(config: &Config, delivery: &Delivery) {
    let partners: Vec<&str> = config.partners.iter().map(|p| p.id.as_str()).collect();
    let checks: Vec<(&str, &str)> = config.checks.iter().filter(|c| c.enabled).map(|c| (c.id.as_str(), c.partner.as_str())).collect();
    let modes = delivery.sinks.describe();
    let sinks: Vec<(&str, &str)> = modes.iter().map(|(kind, mode)| (kind.as_str(), mode.as_str())).collect();
    METRICS.initialise(&partners, &checks, &sinks);
    // Label sets the layers above the metrics know.
    for (table, _) in crate::store::retention::Pruned::default().deleted() {
        METRICS.retention_pruned_rows.with_label_values(&[table]);
    }
    for name in crate::templates::NAMES {
        METRICS.template_failures.with_label_values(&[name]);
    }
}

fn instance_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_owned()).unwrap_or_else(|_| "host".to_owned());
    format!("{host}-{}-{:08x}", std::process::id(), rand::random::<u32>())
}

/// How long [`run`] waits for its tasks after `shutdown` before giving up on them.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// The daemon: HTTP server on `listener`, delivery worker, triage, status polls, the check
/// engine and the cron jobs, until `shutdown` is cancelled; returns when everything has stopped
/// (or after a grace period).
///
/// # Errors
/// When a part cannot start (HTTP client, scheduler, database); what started is stopped first.
pub async fn run(app: App, listener: TcpListener, shutdown: CancellationToken) -> Result<(), StartError> {
    let sinks: Vec<String> = app.delivery.sinks.describe().iter().map(|(kind, mode)| format!("{kind}={}", mode.as_str())).collect();
    let listen = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
    tracing::info!(listen = %listen, instance = %app.instance, sinks = %sinks.join(" "), "sparky running");
    for partner in &app.config.partners {
        if let Some(why) = &partner.status_page_not_configured {
            tracing::info!(partner = %partner.id, "status page {why}");
        }
    }
    let stop = shutdown.child_token();
    let result = start_all(&app, listener, &stop).await;
    let tasks = match result {
        Ok(tasks) => tasks,
        Err((e, tasks)) => {
            stop.cancel();
            join(tasks).await;
            return Err(e);
        }
    };
    let cron = match scheduler::start(&app).await {
        Ok(cron) => cron,
        Err(e) => {
            stop.cancel();
            join(tasks).await;
            return Err(e.into());
        }
    };
    stop.cancelled().await;
    tracing::info!("shutting down");
    cron.shutdown().await;
    join(tasks).await;
    Ok(())
}

type Started = Result<Vec<JoinHandle<()>>, (StartError, Vec<JoinHandle<()>>)>;

async fn start_all(app: &App, listener: TcpListener, stop: &CancellationToken) -> Started {
    let mut tasks = Vec::new();
    let server = {
        let (state, stop) = (app.http_state(), stop.clone());
        tokio::spawn(async move {
            if let Err(e) = crate::http::serve(state, listener, stop).await {
                tracing::error!(error = %e, "HTTP server stopped");
            }
        })
    };
    tasks.push(server);
    let worker = {
        let (deliverer, wake, stop) = (app.deliverer(), app.wake.clone(), stop.clone());
        tokio::spawn(async move { deliverer.run(wake, stop).await })
    };
    tasks.push(worker);
    let triage = match app.triage() {
        Ok(t) => t,
        Err(e) => return Err((e.into(), tasks)),
    };
    {
        let (triage, wake, stop) = (triage.clone(), app.triage_wake.clone(), stop.clone());
        tasks.push(tokio::spawn(async move { triage.run(wake, stop).await }));
    }
    tasks.extend(scheduler::start_status_polls(app, &triage, stop));
    tasks.push(start_compat(app, stop));
    match start_checks(app, stop).await {
        Ok(mut checks) => tasks.append(&mut checks),
        Err(e) => return Err((e, tasks)),
    }
    Ok(tasks)
}

/// Starts the compatibility round: every `[schedules] compat`, and at once when a webhook
/// hurried a poll.
fn start_compat(app: &App, stop: &CancellationToken) -> JoinHandle<()> {
    let (app, stop) = (app.clone(), stop.clone());
    tokio::spawn(async move {
        let every = app.config.global.schedules.compat.get();
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = app.compat_wake.notified() => {}
                () = tokio::time::sleep(every) => {}
            }
            if let Err(e) = jobs::compat(&app, jobs::Handover::Wake).await {
                tracing::error!(error = %e, "compatibility round failed; trying again at the next one");
            }
        }
    })
}

/// Starts the synthetic check engine: its task and its result writer.
async fn start_checks(app: &App, stop: &CancellationToken) -> Result<Vec<JoinHandle<()>>, StartError> {
    let enabled: Vec<_> = app.config.checks.iter().filter(|c| c.enabled).cloned().collect();
    let (engine, writer) = Engine::start(&app.store, &app.config.global.http, &app.config.global.synthetics, app.triage_wake.clone())?;
    let runtimes = Engine::load(&app.store, &enabled).await?;
    let (store, instance, stop) = (app.store.clone(), app.instance.clone(), stop.clone());
    let task = tokio::spawn(async move { engine.run_daemon(&store, &instance, runtimes, stop).await });
    Ok(vec![task, writer])
}

async fn join(tasks: Vec<JoinHandle<()>>) {
    let all = futures::future::join_all(tasks);
    if tokio::time::timeout(STOP_GRACE, all).await.is_err() {
        tracing::warn!("some tasks did not stop within {STOP_GRACE:?}");
    }
}
