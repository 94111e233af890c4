//! The database: one sqlx `Any` pool over SQLite (embedded default) or PostgreSQL (several
//! replicas), migrations applied at start-up, one file per table family.
//!
//! Queries are written once for both backends: `$N` placeholders (SQLite accepts them),
//! times as Unix epoch milliseconds in BIGINT columns, JSON as TEXT.

pub mod changelogs;
pub mod incidents;
pub mod jobs;
pub mod outbox;
pub mod remote_ids;
pub mod slack;
pub mod status;
pub mod synthetics;

use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

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

/// The store handle; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Store {
    /// Opens (creating a SQLite file on first use) and migrates the database at `url`.
    ///
    /// Errors: [`StoreError::UnsupportedUrl`], [`StoreError::Connect`] (also after 10 s without a
    /// PostgreSQL connection), [`StoreError::Migrate`].
    pub async fn open(url: &str) -> Result<Self, StoreError> {
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
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 10 })
            .acquire_timeout(Duration::from_secs(10))
            // A local SQLite file needs no liveness ping per acquire (a round trip to its worker
            // thread for every query); a PostgreSQL connection may have died since last use.
            .test_before_acquire(backend == Backend::Postgres)
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
        let migrate_err = |source| StoreError::Migrate { url: redact(url), source };
        match backend {
            // PostgreSQL's migrator takes an advisory lock; SQLite's does not, so two processes
            // starting together would both apply migration 1. A file lock serialises them.
            Backend::Sqlite => {
                let _lock = migration_lock(url).await.map_err(|e| migrate_err(sqlx::migrate::MigrateError::Source(e.into())))?;
                SQLITE_MIGRATIONS.run(&pool).await.map_err(migrate_err)?;
            }
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&pool).await.map_err(migrate_err)?,
        }
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
        let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(format!("{path}.migrate.lock"))?;
        file.lock()?;
        Ok(Some(file))
    })
    .await
    .map_err(std::io::Error::other)?
}

/// Now as Unix epoch milliseconds, the unit of every stored time.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A millisecond timestamp as a UTC time (the epoch for values out of range).
pub fn ms_to_time(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
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
