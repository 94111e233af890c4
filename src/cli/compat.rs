//! `sparky compat`: the compatibility runs per partner (detections, runs, conclusions, P2s);
//! `compat scan PARTNER [--dispatch]` detects upcoming versions in the entries already stored;
//! `compat run PARTNER --api-version V` dispatches by hand. `once compat` is in `report`.

use std::process::ExitCode;

use clap::Subcommand;

use super::report::delivery;
use super::text::{Table, plural};
use crate::compatibility::story::{Story, stories};
use crate::compatibility::{CompatError, dispatch_by_hand};
use crate::model::{RunState, human_duration};
use crate::service::App;
use crate::service::jobs::{self, CompatRound, Handover};
use crate::sources::compat::scan;

/// `sparky compat ...`
#[derive(Debug, Subcommand)]
pub enum CompatCommand {
    /// Detect upcoming API versions in PARTNER's changelog entries already stored (a backfill:
    /// nothing is dispatched unless `--dispatch`).
    Scan {
        /// The partner id.
        partner: String,
        /// Dispatch the workflow for each new detection.
        #[arg(long)]
        dispatch: bool,
    },
    /// Dispatch PARTNER's compatibility workflow against an API version now.
    Run {
        /// The partner id.
        partner: String,
        /// The API version (the workflow's `api_version` input).
        #[arg(long, value_name = "V")]
        api_version: String,
    },
}

/// Runs `sparky compat [--partner P]` or one of its commands.
pub(super) async fn run(app: &App, partner: Option<&str>, command: Option<&CompatCommand>, json: bool) -> ExitCode {
    if let Some(p) = partner.or(match command {
        Some(CompatCommand::Scan { partner, .. } | CompatCommand::Run { partner, .. }) => Some(partner.as_str()),
        None => None,
    }) && app.config.partner(p).is_none()
    {
        eprintln!("sparky: no partner `{p}` (see partners/)");
        return ExitCode::from(2);
    }
    match command {
        None => list(app, partner, json).await,
        Some(CompatCommand::Scan { partner, dispatch }) => scan_entries(app, partner, *dispatch, json).await,
        Some(CompatCommand::Run { partner, api_version }) => by_hand(app, partner, api_version, json).await,
    }
}

async fn list(app: &App, partner: Option<&str>, json: bool) -> ExitCode {
    let all = match stories(&app.store, partner).await {
        Ok(all) => all,
        Err(e) => return super::cannot_work(&e),
    };
    if json {
        super::print_json(&serde_json::json!({ "detections": all }));
        return ExitCode::SUCCESS;
    }
    if all.is_empty() {
        println!("no upcoming API version detected yet (partners with [compat]: {})", with_compat(app));
        return ExitCode::SUCCESS;
    }
    print_stories(&all);
    ExitCode::SUCCESS
}

fn with_compat(app: &App) -> String {
    let ids: Vec<&str> = app.config.partners.iter().filter(|p| p.compat.is_some()).map(|p| p.id.as_str()).collect();
    if ids.is_empty() { "none".to_owned() } else { ids.join(", ") }
}

/// One row per run (a detection without runs: one row), then the failed jobs of failed runs.
fn print_stories(all: &[Story]) {
    let mut table =
        Table::with_header(&["PARTNER", "VERSION", "DETECTED", "RUN", "STATE", "CONCLUSION", "ATTEMPT", "DURATION", "P2", "URL"]);
    let mut failures = Vec::new();
    for story in all {
        let p2 =
            story.p2.as_ref().map_or_else(|| "-".to_owned(), |p| format!("{} {}", p.jira_key.as_deref().unwrap_or("(filing)"), p.state));
        let head = [story.partner.clone(), story.version.clone(), story.detected_at.to_rfc3339_seconds()];
        if story.runs.is_empty() {
            let why = if story.auto_dispatch { "(dispatch pending)" } else { "(backfill: not dispatched)" };
            table.row(
                [head.to_vec(), vec![why.to_owned(), "-".into(), "-".into(), "-".into(), "-".into(), p2.clone(), "-".into()]].concat(),
            );
        }
        for run in &story.runs {
            let state =
                if run.state == RunState::Dispatching && run.run_id.is_none() { "dispatching".to_owned() } else { run.state.to_string() };
            table.row(
                [
                    head.to_vec(),
                    vec![
                        run.run_key.clone(),
                        state,
                        run.conclusion.clone().unwrap_or_else(|| "-".to_owned()),
                        run.attempt.to_string(),
                        run.duration_seconds.map_or_else(|| "-".to_owned(), |s| human_duration(std::time::Duration::from_secs(s))),
                        p2.clone(),
                        run.url.clone().unwrap_or_else(|| "-".to_owned()),
                    ],
                ]
                .concat(),
            );
            if !run.failed_jobs.is_empty() {
                failures.push((run.run_key.as_str(), &run.failed_jobs));
            }
        }
    }
    table.print();
    for (key, jobs) in failures {
        println!("\n{key} failed:");
        for job in jobs {
            let steps: Vec<String> = job.steps.iter().map(|s| format!("step {} {}", s.number, s.name)).collect();
            let steps = if steps.is_empty() { String::new() } else { format!(": {}", steps.join(", ")) };
            println!("  {} ({}){steps} {}", job.name, job.conclusion, job.url.as_deref().unwrap_or(""));
        }
    }
    let entries: Vec<String> = all.iter().map(|s| format!("{} {}: announced in \"{}\"", s.partner, s.version, s.entry.title)).collect();
    println!("\n{}", entries.join("\n"));
}

async fn scan_entries(app: &App, partner: &str, dispatch: bool, json: bool) -> ExitCode {
    let Some(p) = app.config.partner(partner) else { return ExitCode::from(2) };
    if p.compat.is_none() {
        eprintln!("sparky: {}", CompatError::NoCompat(partner.to_owned()));
        return ExitCode::from(2);
    }
    let scanned = match scan(&app.store, p, dispatch).await {
        Ok(s) => s,
        Err(e) => return super::cannot_work(&e),
    };
    let round = if dispatch { Some(jobs::compat(app, Handover::Drain).await) } else { None };
    if json {
        let round = round.as_ref().and_then(|r| r.as_ref().ok());
        super::print_json(
            &serde_json::json!({"entries": scanned.entries, "matching": scanned.matching, "new": scanned.new, "round": round}),
        );
        return ExitCode::SUCCESS;
    }
    println!(
        "{partner}: {} read, {} announcing an upcoming version, {} new{}",
        plural(scanned.entries, "entry"),
        scanned.matching,
        plural(scanned.new, "detection"),
        if dispatch || scanned.new == 0 { "" } else { " (not dispatched: add --dispatch, or sparky compat run PARTNER --api-version V)" }
    );
    match round {
        Some(Ok(round)) => print_round(&round, &[]),
        Some(Err(e)) => {
            eprintln!("sparky: {e}");
            return ExitCode::FAILURE;
        }
        None => {}
    }
    ExitCode::SUCCESS
}

async fn by_hand(app: &App, partner: &str, version: &str, json: bool) -> ExitCode {
    let version = version.trim();
    if version.is_empty() {
        eprintln!("sparky: --api-version must name a version");
        return ExitCode::from(2);
    }
    let run = match dispatch_by_hand(&app.store, &app.config, partner, version).await {
        Ok(run) => run,
        Err(e @ (CompatError::NoCompat(_) | CompatError::UnknownPartner(_))) => {
            eprintln!("sparky: {e}");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("sparky: {e}");
            return ExitCode::FAILURE;
        }
    };
    let delivered = app.deliverer().drain().await;
    let now = crate::store::compat_runs::by_key(&app.store, &run.run_key).await.ok().flatten().unwrap_or(run);
    if json {
        super::print_json(&serde_json::json!({"run": crate::compatibility::story::Run::from(now), "delivery": delivered.ok()}));
        return ExitCode::SUCCESS;
    }
    println!(
        "{partner} {version}: dispatched as {} ({})",
        now.run_key,
        now.run_id.map_or_else(|| "run not found yet: sparky once compat follows it".to_owned(), |id| format!("run {id}"))
    );
    if let Some(url) = &now.html_url {
        println!("run: {url}");
    }
    if let Ok(report) = &delivered {
        delivery(report, false, &hint(app));
    }
    ExitCode::SUCCESS
}

fn hint(app: &App) -> Vec<String> {
    app.config.global.printing_only().iter().map(|(sink, vars)| format!("{sink}: set {vars} to send")).collect()
}

/// `sparky once compat`: what the round did, then delivery.
pub(super) fn print_round(round: &CompatRound, hint: &[String]) {
    let following = if round.following { "" } else { " (no GitHub credentials: dispatches are printed, runs are not followed)" };
    println!(
        "compat: {} dispatched, {} polled, {} decided, {} failed{following}",
        plural(round.dispatched, "run"),
        plural(round.polled, "run"),
        round.decided,
        round.failed
    );
    if let Some(report) = &round.delivery {
        delivery(report, false, hint);
    }
}
