//! The command line (DESIGN.md "Interfaces"): clap commands calling into the library.
//!
//! Exit codes: 0 when the job ran (a failing partner is data, reported), 2 for a configuration
//! problem, 1 when Sparky itself cannot work (database unusable).

mod report;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;

use crate::app::{App, StartError};
use crate::config::{Config, ConfigError};
use crate::jobs::{self, Delivery};
use crate::store::outbox::{self as outbox_rows, ActionState};
use crate::templates::Templates;

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
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the configuration; print each problem as `FILE: key: reason`; exit 2 on error.
    CheckConfig,
    /// Run the daemon: scheduler, delivery worker and HTTP server, until SIGTERM or Ctrl-C.
    Run,
    /// Run one job once and exit.
    Once {
        /// The job.
        job: OnceJob,
    },
    /// Fetch one partner's status page now and print the full normalised view.
    Status {
        /// The partner id.
        partner: String,
        /// Show what the page said at this time (RFC 3339, e.g. 2026-11-25T14:05:00Z) instead.
        #[arg(long)]
        at: Option<String>,
    },
    /// Run one synthetic check now; print the result assertion by assertion, its success rate
    /// and p95 latency over 1 h / 24 h / 7 d.
    Check {
        /// The check id.
        id: String,
    },
    /// List open incidents and those resolved in the last 7 days (`--all`: 90 days).
    Incidents {
        /// Resolved ones from the last 90 days too.
        #[arg(long)]
        all: bool,
    },
    /// List undelivered and dead actions, or requeue a dead one.
    Outbox {
        /// Include delivered actions.
        #[arg(long)]
        all: bool,
        /// `retry ID`: requeue dead action ID.
        #[command(subcommand)]
        action: Option<OutboxCommand>,
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
        crate::sinks::log::print_to_stderr();
    }
    if matches!(cli.command, Command::CheckConfig) {
        return check_config(&cli);
    }
    let app = match start(&cli).await {
        Ok(app) => app,
        Err(code) => return code,
    };
    let code = match &cli.command {
        Command::CheckConfig => ExitCode::SUCCESS,
        Command::Run => daemon(app.clone()).await,
        Command::Once { job } => once(&app, *job, cli.json).await,
        Command::Status { partner, at } => report::partner_status(&app, partner, at.as_deref(), cli.json).await,
        Command::Check { id } => report::check(&app, id, cli.json).await,
        Command::Incidents { all } => report::incidents(&app, *all, cli.json).await,
        Command::Outbox { all, action } => outbox(&app, *all, action.as_ref(), cli.json).await,
    };
    app.store.close().await;
    code
}

async fn start(cli: &Cli) -> Result<App, ExitCode> {
    let config = Config::load(&cli.config).map_err(|e| config_failure(&e))?;
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

fn check_config(cli: &Cli) -> ExitCode {
    let mut problems = match Config::load(&cli.config) {
        Ok(config) => {
            let feeds: usize = config.partners.iter().map(|p| p.feeds.len()).sum();
            let enabled = config.checks.iter().filter(|c| c.enabled).count();
            let summary =
                format!("{} partners, {feeds} feeds, {} synthetic checks ({enabled} enabled)", config.partners.len(), config.checks.len());
            match Templates::load(&cli.config) {
                Ok(_) => {
                    println!("configuration ok: {summary}");
                    return ExitCode::SUCCESS;
                }
                Err(problems) => problems,
            }
        }
        Err(ConfigError(problems)) => problems,
    };
    problems.dedup();
    for problem in &problems {
        println!("{problem}");
    }
    ExitCode::from(2)
}

async fn daemon(app: App) -> ExitCode {
    let shutdown = CancellationToken::new();
    let listener = match tokio::net::TcpListener::bind(app.config.global.server.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("sparky: cannot listen on {}: {e}", app.config.global.server.listen);
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(listen = %app.config.global.server.listen, instance = %app.instance, sinks = ?app.sinks.describe(), "sparky running");
    let server = tokio::spawn(crate::http::serve(app.clone(), listener, shutdown.clone()));
    let worker = {
        let (deliverer, wake, shutdown) = (app.deliverer(), app.wake.clone(), shutdown.clone());
        tokio::spawn(async move { deliverer.run(wake, shutdown).await })
    };
    let triage = match crate::triage::Triage::new(&app) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("sparky: {e}");
            return ExitCode::FAILURE;
        }
    };
    let triage_task = {
        let (triage, wake, shutdown) = (triage.clone(), app.triage_wake.clone(), shutdown.clone());
        tokio::spawn(async move { triage.run(wake, shutdown).await })
    };
    let polls = crate::scheduler::start_status_polls(&app, &triage, &shutdown);
    let checks = match start_checks(&app, &shutdown).await {
        Ok(checks) => checks,
        Err(e) => {
            eprintln!("sparky: {e}");
            shutdown.cancel();
            return ExitCode::FAILURE;
        }
    };
    let mut scheduler = match crate::scheduler::start(&app).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sparky: {e}");
            shutdown.cancel();
            return ExitCode::FAILURE;
        }
    };
    crate::app::release_startup_memory();
    wait_for_signal().await;
    tracing::info!("shutting down");
    shutdown.cancel();
    if let Err(e) = scheduler.shutdown().await {
        tracing::warn!(error = %e, "scheduler shutdown");
    }
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        let _ = worker.await;
        let _ = server.await;
        for poll in polls {
            let _ = poll.await;
        }
        let (engine, writer) = checks;
        let _ = engine.await;
        let _ = writer.await;
        let _ = triage_task.await;
    })
    .await;
    ExitCode::SUCCESS
}

/// Starts the synthetic check engine: (its task, its result writer).
async fn start_checks(
    app: &App,
    shutdown: &CancellationToken,
) -> Result<(tokio::task::JoinHandle<()>, tokio::task::JoinHandle<()>), jobs::JobError> {
    use crate::sources::synthetics::engine::Engine;
    let enabled: Vec<_> = app.config.checks.iter().filter(|c| c.enabled).cloned().collect();
    let (engine, writer) = Engine::start(app)?;
    let runtimes = Engine::load(&app.store, &enabled).await?;
    let (app, shutdown) = (app.clone(), shutdown.clone());
    let task = tokio::spawn(async move { engine.run_daemon(&app, runtimes, shutdown).await });
    Ok((task, writer))
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

async fn once(app: &App, job: OnceJob, json: bool) -> ExitCode {
    let result = match job {
        OnceJob::Changelogs => jobs::changelogs(app, Delivery::Drain).await.map(|run| report::changelog_run(&run, json)),
        OnceJob::Status => match jobs::status(app, Delivery::Drain).await {
            Ok(run) => {
                report::status_run(&run, json);
                Ok(())
            }
            Err(e) => {
                eprintln!("sparky: {e}");
                return ExitCode::FAILURE;
            }
        },
        OnceJob::Synthetics => match jobs::synthetics(app, None, Delivery::Drain).await {
            Ok(run) => {
                report::synthetics_run(&run, json);
                Ok(())
            }
            Err(e) => {
                eprintln!("sparky: {e}");
                return ExitCode::FAILURE;
            }
        },
        OnceJob::Deliver => app.deliverer().drain().await.map(|r| report::delivery(&r, json)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sparky: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn outbox(app: &App, all: bool, action: Option<&OutboxCommand>, json: bool) -> ExitCode {
    if let Some(OutboxCommand::Retry { id }) = action {
        return match outbox_rows::requeue(&app.store, *id).await {
            Ok(true) => {
                println!("action {id} requeued; it goes out with the next delivery (sparky once deliver)");
                ExitCode::SUCCESS
            }
            Ok(false) => {
                eprintln!("sparky: action {id} is not dead (see sparky outbox)");
                ExitCode::from(1)
            }
            Err(e) => {
                eprintln!("sparky: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let mut states = vec![ActionState::Pending, ActionState::Retrying, ActionState::Dead];
    if all {
        states.push(ActionState::Delivered);
    }
    match outbox_rows::list(&app.store, &states, 1000).await {
        Ok(rows) if json => {
            println!("{}", serde_json::to_string_pretty(&rows).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Ok(rows) => {
            for row in &rows {
                let error = row.last_error.as_deref().map(|e| format!("  last error: {e}")).unwrap_or_default();
                println!("{}  {}  {}  attempts={}  {}{error}", row.id, row.sink, row.state, row.attempts, row.idempotency_key);
            }
            if rows.is_empty() {
                println!("outbox empty: nothing pending or dead");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sparky: {e}");
            ExitCode::FAILURE
        }
    }
}
