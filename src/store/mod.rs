//! The database: one sqlx `Any` pool over SQLite (embedded default) or PostgreSQL (several
//! replicas), migrations applied at start-up, one file per table family.
//!
//! Queries are written once for both backends: `$N` placeholders (SQLite accepts them),
//! times as Unix epoch milliseconds in BIGINT columns, JSON as TEXT.

pub mod changelogs;
pub mod compat;
pub mod compat_runs;
pub mod incidents;
pub mod jobs;
pub mod outbox;
pub mod public_status;
pub mod remote_ids;
pub mod replicas;
pub mod retention;
pub mod silences;
pub mod slack;
pub mod status;
pub mod synthetics;

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One instance, file on local disk.
    Sqlite,
    /// Shared by replicas; row claims use `FOR UPDATE SKIP LOCKED`.
    Postgres,
}

/// Errors of the store; the URL in them never carries a password.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL is neither `sqlite:` nor `postgres://`.
    #[error("unsupported database URL `{0}`: use sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
    /// The database could not be opened or reached.
    #[error("cannot open database {url}: {source}")]
    Connect {
        /// The URL, password removed.
        url: String,
        /// The driver error.
        source: sqlx::Error,
    },
    /// A migration failed.
    #[error("cannot migrate database {url}: {source}")]
    Migrate {
        /// The URL, password removed.
        url: String,
        /// The migrator error.
        source: sqlx::migrate::MigrateError,
    },
    /// A query failed.
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    /// A stored value could not be decoded (e.g. an action payload written by a newer version).
    #[error("corrupt stored value in {what}: {reason}")]
    Corrupt {
        /// Table and column.
        what: &'static str,
        /// The decode error.
        reason: String,
    },
}

impl StoreError {
    /// True for a unique-constraint violation: another writer inserted the same row first
    /// (e.g. a second open incident for one partner, `incidents_one_open`).
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Query(sqlx::Error::Database(e)) if e.is_unique_violation())
    }
}

/// The store handle; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

/// Longest wait for a database connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Store {
    /// Opens (creating a SQLite file on first use) and migrates the database at `url`.
    ///
    /// Errors: [`StoreError::UnsupportedUrl`], [`StoreError::Connect`] (also after 10 s without a
    /// PostgreSQL connection), [`StoreError::Migrate`].
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_with(url, ACQUIRE_TIMEOUT, false).await
    }

    /// [`Store::open`] with `acquire_timeout` as the longest wait for a connection, and with
    /// `warm`, every connection of the pool opened before it returns and kept open (no later
    /// connection to wait for). Tests under paused time use both.
    pub async fn open_with(url: &str, acquire_timeout: Duration, warm: bool) -> Result<Self, StoreError> {
        let store = Self::connect(url, acquire_timeout, warm).await?;
        let migrate_err = |source| StoreError::Migrate { url: redact(url), source };
        match store.backend {
            // PostgreSQL's migrator takes an advisory lock; SQLite's does not, so two processes
            // starting together would both apply migration 1. A file lock serialises them.
            Backend::Sqlite => {
                let _lock = migration_lock(url).await.map_err(|e| migrate_err(sqlx::migrate::MigrateError::Source(e.into())))?;
                SQLITE_MIGRATIONS.run(&store.pool).await.map_err(migrate_err)?;
            }
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&store.pool).await.map_err(migrate_err)?,
        }
        if warm {
            let max = store.pool.options().get_max_connections();
            while store.pool.size() < max {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        Ok(store)
    }

    /// Opens the database at `url` as it is, for reading: no migration, and no SQLite file
    /// created (`Ok(None)` when it does not exist: nothing was ever recorded). `sparky
    /// check-config` reads the last status snapshots this way, leaving a database it may not
    /// own untouched.
    ///
    /// Errors: as [`Store::open`], but never [`StoreError::Migrate`].
    pub async fn open_existing(url: &str, acquire_timeout: Duration) -> Result<Option<Self>, StoreError> {
        let Some(path) = url.strip_prefix("sqlite:") else { return Self::connect(url, acquire_timeout, false).await.map(Some) };
        let path = path.trim_start_matches("//");
        let (file, _) = path.split_once('?').unwrap_or((path, ""));
        if file == ":memory:" || !std::path::Path::new(file).is_file() {
            return Ok(None);
        }
        // Read-write without create: the pool's WAL pragma needs to write the journal mode.
        Self::connect(&format!("sqlite://{file}?mode=rw"), acquire_timeout, false).await.map(Some)
    }

    /// The pool over `url`, nothing migrated.
    async fn connect(url: &str, acquire_timeout: Duration, warm: bool) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(redact(url)));
        };
        let connect_err = |source| StoreError::Connect { url: redact(url), source };
        let options: AnyConnectOptions = url.parse().map_err(connect_err)?;
        let max_connections = if backend == Backend::Sqlite { 4 } else { 10 };
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .min_connections(if warm { max_connections } else { 0 })
            .acquire_timeout(acquire_timeout)
            // A local SQLite file needs no liveness ping per acquire (a round trip to its worker
            // thread for every query); a PostgreSQL connection may have died since last use.
            .test_before_acquire(backend == Backend::Postgres)
            // A local SQLite file has no connection to go stale: kept open for the process's life
            // (no reaper timers either, which paused-time tests would fire at once).
            .idle_timeout((backend == Backend::Postgres).then_some(Duration::from_secs(600)))
            .max_lifetime((backend == Backend::Postgres).then_some(Duration::from_secs(1800)))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the one writer; the busy timeout makes a
                        // second process wait for the write lock instead of failing.
                        conn.execute("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 15000; PRAGMA synchronous = NORMAL;").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(connect_err)?;
        Ok(Self { pool, backend })
    }

    /// The pool, for the table-family modules.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A round trip to the database (for `/healthz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes the pool, waiting for connections in use.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Holds an exclusive lock on `DB.migrate.lock` beside a SQLite file (none for `:memory:`).
async fn migration_lock(url: &str) -> std::io::Result<Option<std::fs::File>> {
    let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = path.split('?').next().unwrap_or_default().to_owned();
    if path.is_empty() || path == ":memory:" {
        return Ok(None);
    }
    tokio::task::spawn_blocking(move || {
        // The database file itself (created empty if missing, which SQLite takes for a new
        // database) carries the lock: no lock file is left beside it. flock(2) and SQLite's own
        // fcntl(2) locks do not interact on Linux.
        let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path)?;
        file.lock()?;
        Ok(Some(file))
    })
    .await
    .map_err(std::io::Error::other)?
}

/// Reads column `index` of `row` as a vocabulary word; `what` names table and column in the
/// error of a word this version does not know.
pub(crate) fn word<T: FromStr<Err = crate::model::UnknownWord>>(row: &AnyRow, index: usize, what: &'static str) -> Result<T, StoreError> {
    let text: String = row.try_get(index)?;
    text.parse().map_err(|e: crate::model::UnknownWord| corrupt(what, e.to_string()))
}

/// A stored value that cannot be decoded.
pub(crate) fn corrupt(what: &'static str, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt { what, reason: reason.into() }
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_never_show() {
        assert_eq!(super::redact("postgres://sparky:hunter2@db:5432/sparky"), "postgres://sparky:***@db:5432/sparky");
        assert_eq!(super::redact("sqlite:///tmp/x.db"), "sqlite:///tmp/x.db");
    }
}
