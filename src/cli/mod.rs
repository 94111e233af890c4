//! The command line (DESIGN.md "Interfaces"): clap commands calling into the library.
//!
//! Exit codes: 0 when the command ran, also when it found nothing (a failing partner is data,
//! reported), 2 for a configuration problem or a bad argument (no such partner, check, action or
//! silence), 1 when Sparky itself cannot work (database unusable), or, for `check-config
//! --online`, when a source did not answer.

mod check_config;
mod compat;
mod logging;
mod online;
mod outbox;
mod report;
mod silence;
mod text;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;

use crate::config::{Config, ConfigError, Secrets};
use crate::service::jobs::{self, Handover};
use crate::service::retention;
use crate::service::{App, StartError};

pub use logging::{LogFormat, init as init_logging};

/// Sparky: the ecosystem reliability watchdog.
#[derive(Debug, Parser)]
#[command(name = "sparky", version, about)]
pub struct Cli {
    /// Config directory holding sparky.toml, partners/, synthetics/ and templates/.
    #[arg(long, global = true, env = "SPARKY_CONFIG_DIR", default_value = ".")]
    pub config: PathBuf,
    /// Print results as JSON.
    #[arg(long, global = true)]
    pub json: bool,
    /// Log lines on standard error as `text` or `json` (one object per line).
    #[arg(long, global = true, env = "SPARKY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the configuration; print each problem as `FILE: key: reason`; exit 2 on error.
    /// Also prints each status page that is not configured, and warns about a `components` name
    /// its page did not list when last read.
    CheckConfig {
        /// Also fetch every feed and status page once and print per source whether it answered
        /// and what it parsed (nothing stored); exit 1 when one failed.
        #[arg(long)]
        online: bool,
    },
    /// Run the daemon: scheduler, delivery worker and HTTP server, until SIGTERM or Ctrl-C.
    Run,
    /// Run one job once and exit.
    Once {
        /// The job.
        job: OnceJob,
    },
    /// Fetch one partner's status page now and print the full normalised view (read only:
    /// nothing is recorded unless `--record`).
    Status {
        /// The partner id.
        partner: String,
        /// Show what the page said at this time (RFC 3339, e.g. 2026-11-25T14:05:00Z) instead.
        #[arg(long)]
        at: Option<String>,
        /// Record the reading as a poll: history, notices of changes, re-decided incident cause.
        #[arg(long, conflicts_with = "at")]
        record: bool,
    },
    /// Run one synthetic check now; print the result assertion by assertion, its success rate
    /// and p95 latency over 1 h / 24 h / 7 d (read only: nothing is recorded unless `--record`).
    Check {
        /// The check id.
        id: String,
        /// Record the result and its state change, and triage it (may open an incident and page).
        #[arg(long)]
        record: bool,
    },
    /// List open incidents and those resolved in the last 7 days (`--all`: 90 days), each with
    /// its history and the evidence its decisions read on the partner's page.
    Incidents {
        /// Resolved ones from the last 90 days too.
        #[arg(long)]
        all: bool,
    },
    /// List the actions not done (pending, retrying, blocked, dead), or requeue a dead one
    /// (which releases the chain it blocked).
    Outbox {
        /// Include delivered and printed actions.
        #[arg(long)]
        all: bool,
        /// `retry ID`: requeue dead action ID.
        #[command(subcommand)]
        action: Option<OutboxCommand>,
    },
    /// Silences of our own side: `add (--partner P | --check C) (--for D | --until T) --reason
    /// TEXT`, `list`, `end ID`. A silenced check still runs and its incident still opens; pages
    /// and public status updates are held until the silence ends.
    Silence {
        /// What to do.
        #[command(subcommand)]
        action: silence::SilenceCommand,
    },
    /// Compatibility runs per partner: each upcoming API version detected (from which entry,
    /// when), its runs (conclusion, attempt, duration, link, failed jobs) and its P2;
    /// `scan PARTNER [--dispatch]` detects in the entries already stored; `run PARTNER
    /// --api-version V` dispatches by hand.
    Compat {
        /// Only this partner.
        #[arg(long)]
        partner: Option<String>,
        /// What to do (nothing: list).
        #[command(subcommand)]
        action: Option<compat::CompatCommand>,
    },
}

/// Jobs of `sparky once`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OnceJob {
    /// Poll every changelog feed, post the digest.
    Changelogs,
    /// Poll every partner's status page once, post notices of changes.
    Status,
    /// Run every enabled synthetic check once (with confirmation re-runs) and print a table.
    Synthetics,
    /// Dispatch the new detections, poll the compatibility runs that are due, send their
    /// outcomes.
    Compat,
    /// Deliver what the outbox holds.
    Deliver,
}

/// `sparky outbox ...`
#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// Requeue a dead action.
    Retry {
        /// The action id (first column of `sparky outbox`).
        id: i64,
    },
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> ExitCode {
    if cli.json {
        crate::service::print_log_sink_to_stderr();
    }
    if let Command::CheckConfig { online } = cli.command {
        return check_config::run(&cli.config, online, cli.json).await;
    }
    let app = match start(&cli).await {
        Ok(app) => app,
        Err(code) => return code,
    };
    let code = match &cli.command {
        Command::CheckConfig { .. } => ExitCode::SUCCESS,
        Command::Run => daemon(app.clone()).await,
        Command::Once { job } => once(&app, *job, cli.json).await,
        Command::Status { partner, at, record } => report::partner_status(&app, partner, at.as_deref(), *record, cli.json).await,
        Command::Check { id, record } => report::check(&app, id, *record, cli.json).await,
        Command::Incidents { all } => report::incidents(&app, *all, cli.json).await,
        Command::Outbox { all, action } => outbox::run(&app, *all, action.as_ref(), cli.json).await,
        Command::Silence { action } => silence::run(&app, action, cli.json).await,
        Command::Compat { partner, action } => compat::run(&app, partner.as_deref(), action.as_ref(), cli.json).await,
    };
    app.store.close().await;
    code
}

async fn start(cli: &Cli) -> Result<App, ExitCode> {
    // Commands that only read what is stored need no check's secrets.
    let secrets = match cli.command {
        Command::Outbox { .. } | Command::Incidents { .. } | Command::Status { .. } | Command::Silence { .. } | Command::Compat { .. } => {
            Secrets::WhereSet
        }
        Command::CheckConfig { .. } | Command::Run | Command::Once { .. } | Command::Check { .. } => Secrets::Required,
    };
    let config = Config::load_for(&cli.config, secrets).map_err(|e| config_failure(&e))?;
    App::start(config).await.map_err(|e| match e {
        StartError::Config(e) => config_failure(&e),
        other => {
            eprintln!("sparky: {other}");
            ExitCode::FAILURE
        }
    })
}

fn config_failure(e: &ConfigError) -> ExitCode {
    for problem in &e.0 {
        eprintln!("{problem}");
    }
    ExitCode::from(2)
}

async fn daemon(app: App) -> ExitCode {
    let listen = app.config.global.server.listen;
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("sparky: cannot listen on {listen}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let shutdown = CancellationToken::new();
    let on_signal = {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            shutdown.cancel();
        })
    };
    let result = crate::service::run(app, listener, shutdown).await;
    on_signal.abort();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sparky: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// `sparky once JOB`, then the day's retention if nobody ran it yet (a failed retention is
/// logged, not an exit code: the job ran).
async fn once(app: &App, job: OnceJob, json: bool) -> ExitCode {
    let hint: Vec<String> = app.config.global.printing_only().iter().map(|(sink, vars)| format!("{sink}: set {vars} to send")).collect();
    let result = match job {
        OnceJob::Changelogs => {
            jobs::changelogs(app, Handover::Drain).await.map(|run| report::changelog_run(&run, json, &hint)).map_err(|e| e.to_string())
        }
        OnceJob::Status => {
            jobs::status(app, Handover::Drain).await.map(|run| report::status_run(&run, json, &hint)).map_err(|e| e.to_string())
        }
        OnceJob::Synthetics => jobs::synthetics(app, None, Handover::Drain)
            .await
            .map(|run| report::synthetics_run(&run, json, &hint))
            .map_err(|e| e.to_string()),
        OnceJob::Compat => jobs::compat(app, Handover::Drain)
            .await
            .map(|round| if json { print_json(&round) } else { compat::print_round(&round, &hint) })
            .map_err(|e| e.to_string()),
        OnceJob::Deliver => app.deliverer().drain().await.map(|r| report::delivery(&r, json, &hint)).map_err(|e| e.to_string()),
    };
    if let Err(e) = result {
        eprintln!("sparky: {e}");
        return ExitCode::FAILURE;
    }
    if let Err(e) = retention::if_due(app).await {
        tracing::error!(error = %e, "retention failed; the next run tries again");
    }
    ExitCode::SUCCESS
}

/// Prints `value` as pretty JSON on standard output (`--json`).
fn print_json(value: &impl serde::Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("sparky: cannot write JSON: {e}"),
    }
}

/// Says why Sparky cannot work (the database failed): exit 1.
fn cannot_work(e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("sparky: {e}");
    ExitCode::FAILURE
}
