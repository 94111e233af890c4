//! The one helper that runs Sparky against fakes on loopback: in-process (the jobs of `sparky
//! once`, the daemon of `sparky run` through [`sparky::service::run`] on a listener bound to
//! port 0), and the real binary for what only a process shows (CLI output, exit codes, signals).

#![allow(dead_code)]

pub mod fake_feeds;
pub mod fake_github;
pub mod fake_jira;
pub mod fake_pagerduty;
pub mod fake_slack;
pub mod fake_statuspage;
pub mod openapi;
pub mod schema;
pub mod world;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use sparky::config::Config;
use sparky::outbox::DeliveryReport;
use sparky::service::App;
use sparky::service::jobs::{self, ChangelogRun, Handover, StatusRun, SyntheticsRun};
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;

/// The database a test runs on.
pub enum Db {
    /// A SQLite file in the test's temp dir.
    Sqlite,
    /// A fresh PostgreSQL database (dropped at the end).
    Postgres(PgDatabase),
}

/// A PostgreSQL database created for one test, dropped when this is dropped.
pub struct PgDatabase {
    pub url: String,
    admin_url: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let _ = std::process::Command::new("psql")
            .arg(&self.admin_url)
            .arg("-qc")
            .arg(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// `SPARKY_TEST_POSTGRES_URL`, or `None` with a message saying the PostgreSQL half is skipped.
/// Under `CI=true` a missing PostgreSQL is a failure, not a skip.
pub fn postgres_url(test: &str) -> Option<String> {
    match std::env::var("SPARKY_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(std::env::var("CI").map_or(true, |v| v != "true"), "{test}: CI=true but SPARKY_TEST_POSTGRES_URL is not set");
            eprintln!("{test}: SPARKY_TEST_POSTGRES_URL is not set; PostgreSQL half skipped");
            None
        }
    }
}

/// `../shared/fixtures/SUB`, or `None` with a message saying the corpus half is skipped. Under
/// `CI=true` a missing folder is a failure, not a skip.
pub fn shared_fixtures(sub: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures").join(sub);
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(std::env::var("CI").map_or(true, |v| v != "true"), "CI=true but {} is missing", dir.display());
    eprintln!("{} is missing; corpus half skipped", dir.display());
    None
}

/// Creates a fresh database on the server of `admin_url`.
pub async fn fresh_postgres(admin_url: &str) -> PgDatabase {
    use sqlx::Connection;
    let name = format!("sparky_test_{}_{:08x}", std::process::id(), rand::random::<u32>());
    let mut conn = sqlx::PgConnection::connect(admin_url).await.expect("connect to SPARKY_TEST_POSTGRES_URL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await.expect("create test database");
    let mut url = url::Url::parse(admin_url).expect("postgres URL");
    url.set_path(&format!("/{name}"));
    PgDatabase { url: url.to_string(), admin_url: admin_url.to_owned(), name }
}

/// A Sparky config directory and the environment to run the binary in it.
pub struct Sparky {
    pub dir: TempDir,
    db: Db,
    env: Vec<(String, String)>,
}

impl Sparky {
    /// An empty config directory on `db`.
    pub fn new(db: Db) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("partners")).expect("partners dir");
        Self { dir, db, env: Vec::new() }
    }

    /// Sets an environment variable for every run.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Removes an environment variable set before.
    pub fn unset(&mut self, key: &str) {
        self.env.retain(|(k, _)| k != key);
    }

    /// Points Slack at `api_url` with a test token.
    pub fn slack(self, api_url: &str) -> Self {
        self.env("SLACK_API_URL", api_url).env("SLACK_BOT_TOKEN", "xoxb-test-secret-token")
    }

    /// Writes `rel` (relative to the config dir).
    pub fn write(&self, rel: &str, content: &str) {
        let path = self.dir.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, content).expect("write");
    }

    /// Writes `partners/ID.toml` with one `[[feeds]]` per URL.
    pub fn partner(&self, id: &str, name: &str, feeds: &[&str]) {
        let feeds: String = feeds.iter().map(|u| format!("\n[[feeds]]\nurl = \"{u}\"\n")).collect();
        self.write(&format!("partners/{id}.toml"), &format!("id = \"{id}\"\nname = \"{name}\"\n{feeds}"));
    }

    /// The config dir.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    fn database_url(&self) -> String {
        match &self.db {
            Db::Sqlite => format!("sqlite://{}", self.dir.path().join("sparky.db").display()),
            Db::Postgres(pg) => pg.url.clone(),
        }
    }

    /// The environment Sparky sees: the variables set with [`Sparky::env`] and the database.
    pub fn lookup(&self) -> impl Fn(&str) -> Option<String> + '_ {
        move |name: &str| {
            if name == "SPARKY_DATABASE_URL" {
                return Some(self.database_url());
            }
            self.env.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        }
    }

    /// The configuration, loaded as `sparky` would load it in this directory and environment.
    pub fn config(&self) -> Config {
        Config::load_with_env(self.dir.path(), &self.lookup()).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A started service, as one `sparky` process would start it (its own pool and instance id).
    pub async fn app(&self) -> App {
        crypto();
        App::start(self.config()).await.unwrap_or_else(|e| panic!("{e}"))
    }

    /// `sparky once changelogs`, in-process.
    pub async fn changelogs(&self) -> ChangelogRun {
        let app = self.app().await;
        let run = jobs::changelogs(&app, Handover::Drain).await.unwrap();
        app.store.close().await;
        run
    }

    /// `sparky once status`, in-process.
    pub async fn status(&self) -> StatusRun {
        let app = self.app().await;
        let run = jobs::status(&app, Handover::Drain).await.unwrap();
        app.store.close().await;
        run
    }

    /// `sparky once synthetics`, in-process.
    pub async fn synthetics(&self) -> SyntheticsRun {
        let app = self.app().await;
        let run = jobs::synthetics(&app, None, Handover::Drain).await.unwrap();
        app.store.close().await;
        run
    }

    /// `sparky once deliver`, in-process.
    pub async fn deliver(&self) -> DeliveryReport {
        let app = self.app().await;
        let report = app.deliverer().drain().await.unwrap();
        app.store.close().await;
        report
    }

    /// `sparky run`, in-process, on a listener bound to port 0.
    pub async fn boot(&self) -> Daemon {
        let app = self.app().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(sparky::service::run(app.clone(), listener, shutdown.clone()));
        Daemon { app, base, shutdown, task }
    }

    /// The binary, ready to run: `sparky ARGS` in this config dir and environment.
    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_sparky"));
        for var in ["SLACK_BOT_TOKEN", "SLACK_API_URL", "SPARKY_DATABASE_URL", "SPARKY_LISTEN", "SPARKY_CONFIG_DIR", "RUST_LOG"] {
            cmd.env_remove(var);
        }
        cmd.args(args)
            .env("SPARKY_CONFIG_DIR", self.dir.path())
            .env("SPARKY_DATABASE_URL", self.database_url())
            .env("RUST_LOG", "info,sqlx=warn")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    /// Runs the binary `sparky ARGS` to completion (at most 120 s).
    pub async fn cli(&self, args: &[&str]) -> Run {
        let child = self.command(args).spawn().expect("spawn sparky");
        let output = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
            .await
            .expect("sparky finished within 120 s")
            .expect("sparky output");
        Run::from(output)
    }

    /// Where the SQLite database is (for tests that inspect it).
    pub fn sqlite_path(&self) -> PathBuf {
        self.dir.path().join("sparky.db")
    }
}

/// An in-process daemon.
pub struct Daemon {
    /// Its service.
    pub app: App,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), sparky::service::StartError>>,
}

impl Daemon {
    /// GET `path` on the daemon's HTTP server: (status, body).
    pub async fn get(&self, path: &str) -> (u16, String) {
        let response = reqwest::get(format!("{}{path}", self.base)).await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// Stops it as SIGTERM would, and waits until everything has stopped.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap();
        self.app.store.close().await;
    }
}

/// A finished run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Self {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Panics with both streams unless the exit code is `code`.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "exit code\n--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr);
        self
    }
}

/// Installs the rustls crypto provider (needed before any reqwest client in a test binary).
pub fn crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Moves the one clock (tokio's) `by` ahead at once, as if that much time had passed: the way
/// a test lets a lease run out without sleeping. Needs a current-thread runtime.
pub async fn time_travel(by: Duration) {
    tokio::time::pause();
    tokio::time::advance(by).await;
    tokio::time::resume();
}

/// Waits until the asynchronous `cond` holds, polling every 100 ms, at most `secs` seconds.
pub async fn eventually_async<F, Fut>(secs: u64, mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < deadline {
        if cond().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cond().await
}

/// Waits until `cond` holds, polling every 50 ms, at most `secs` seconds.
pub async fn eventually(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cond()
}
