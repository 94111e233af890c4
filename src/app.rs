//! The assembled service: configuration, store, HTTP client, templates and sinks, built once
//! and shared by the CLI, the scheduler, the HTTP server and the tests.

use std::sync::Arc;

use tokio::sync::Notify;

use crate::config::{Config, ConfigError};
use crate::fetch::{FetchError, Fetcher};
use crate::outbox::Deliverer;
use crate::sinks::{SinkError, Sinks};
use crate::store::{Store, StoreError};
use crate::templates::Templates;

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
    #[error(transparent)]
    Sink(#[from] SinkError),
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
    /// Where actions go.
    pub sinks: Arc<Sinks>,
    /// This process in leases: host, pid and a random part.
    pub instance: String,
    /// Wakes the delivery worker when a job wrote actions.
    pub wake: Arc<Notify>,
    /// Wakes triage when the check engine stored state changes.
    pub triage_wake: Arc<Notify>,
}

impl App {
    /// Opens the database (applying migrations) and builds the clients.
    pub async fn start(config: Config) -> Result<Self, StartError> {
        let templates = Templates::load(&config.dir).map_err(ConfigError)?;
        let store = Store::open(&config.database_url()).await?;
        let fetcher = Fetcher::new(&config.global.http)?;
        let sinks = Sinks::from_config(&config, &store)?;
        Ok(Self {
            config: Arc::new(config),
            store,
            fetcher,
            templates: Arc::new(templates),
            sinks: Arc::new(sinks),
            instance: instance_id(),
            wake: Arc::new(Notify::new()),
            triage_wake: Arc::new(Notify::new()),
        })
    }

    /// A delivery worker of this process.
    pub fn deliverer(&self) -> Deliverer {
        Deliverer::new(self.store.clone(), self.sinks.clone(), self.config.global.outbox.clone(), self.instance.clone())
    }
}

fn instance_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_owned()).unwrap_or_else(|_| "host".to_owned());
    format!("{host}-{}-{:08x}", std::process::id(), rand::random::<u32>())
}

/// Gives back to the system the memory freed after start-up: parsing thousands of check files
/// leaves tens of MB in glibc's free lists, otherwise counted as resident for the process's life.
pub fn release_startup_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the kernel; no pointer is touched.
    unsafe {
        libc::malloc_trim(0);
    }
}
