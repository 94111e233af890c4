//! `sparky silence add | list | end`: silences of our own side (DESIGN.md "Interfaces"). While a
//! silence covers a partner or a check, its checks still run and its incidents still open, but
//! pages and public status updates are held; when the silence ends with the incident still open,
//! what it held goes out once (at the next triage round). The rows are in the database, so every
//! replica sees them; `[[maintenance]]` windows of `sparky.toml` hold the same way.
//!
//! Exit codes: 0 done (also nothing to list, and ending a silence already over), 2 a bad
//! argument (unknown partner, check or silence id, a bad duration, `--until` in the past), 1 the
//! database is unusable.

use std::process::ExitCode;

use clap::{ArgGroup, Args, Subcommand};
use serde::Serialize;

use crate::model::{CheckId, PartnerId, Silence, SilenceState, SilenceTarget, Timestamp, human_duration};
use crate::service::App;
use crate::store::silences::{self, Ended, NewSilence};

/// `sparky silence ...`
#[derive(Debug, Subcommand)]
pub enum SilenceCommand {
    /// Silence a partner or one check for a while: its checks still run and its incidents still
    /// open, but pages and public status updates are held until the silence ends.
    Add(AddArgs),
    /// List the silences in force or starting later, soonest end first, one per line, its id
    /// first (`--all`: every silence, newest first).
    List {
        /// Ended and expired ones too.
        #[arg(long)]
        all: bool,
    },
    /// End a silence now; a page (or public update) it held goes out at the next triage round if
    /// its incident is still open.
    End {
        /// The silence id (first column of `sparky silence list`).
        id: i64,
    },
}

/// `sparky silence add (--partner P | --check C) (--for DURATION | --until TIME) --reason TEXT`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("target").required(true).args(["partner", "check"])))]
#[command(group(ArgGroup::new("length").required(true).args(["for", "until"])))]
pub struct AddArgs {
    /// Silence every check of this partner (an id of partners/).
    #[arg(long)]
    partner: Option<String>,
    /// Silence this one check (an id of synthetics/).
    #[arg(long)]
    check: Option<String>,
    /// For how long from now, e.g. 2h, 90m, "1h 30m".
    #[arg(long = "for", id = "for", value_name = "DURATION", value_parser = length)]
    for_: Option<std::time::Duration>,
    /// Until this time (RFC 3339, e.g. 2026-12-02T07:00:00Z), in the future.
    #[arg(long, value_name = "TIME", value_parser = time)]
    until: Option<Timestamp>,
    /// Why (shown in Slack and Jira: "silenced by NAME until T: REASON").
    #[arg(long)]
    reason: String,
    /// Who silences (default: $USER, else sparky).
    #[arg(long, value_name = "NAME", env = "USER", hide_env_values = true)]
    by: Option<String>,
}

fn length(text: &str) -> Result<std::time::Duration, String> {
    match humantime::parse_duration(text.trim()) {
        Ok(d) if d.is_zero() => Err("must be more than zero".to_owned()),
        Ok(d) => Ok(d),
        Err(e) => Err(format!("`{text}` is not a duration ({e}); write e.g. 2h, 90m, \"1h 30m\"")),
    }
}

fn time(text: &str) -> Result<Timestamp, String> {
    Timestamp::parse_rfc3339(text).map_err(|e| format!("`{text}` is not an RFC 3339 time like 2026-12-02T07:00:00Z: {e}"))
}

/// A silence as printed with `--json`: the stored fields (times RFC 3339), and its state now.
#[derive(Debug, Serialize)]
struct Shown<'a> {
    #[serde(flatten)]
    silence: &'a Silence,
    state: SilenceState,
}

/// Runs `sparky silence ...`.
pub(super) async fn run(app: &App, command: &SilenceCommand, json: bool) -> ExitCode {
    let result = match command {
        SilenceCommand::Add(args) => add(app, args, json).await,
        SilenceCommand::List { all } => list(app, *all, json).await,
        SilenceCommand::End { id } => end(app, *id, json).await,
    };
    result.unwrap_or_else(|code| code)
}

fn bad(message: &str) -> ExitCode {
    eprintln!("sparky: {message}");
    ExitCode::from(2)
}

fn unusable(e: &crate::store::StoreError) -> ExitCode {
    eprintln!("sparky: {e}");
    ExitCode::FAILURE
}

fn print_json<T: Serialize>(value: &T) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

fn target(app: &App, args: &AddArgs) -> Result<SilenceTarget, ExitCode> {
    match (&args.partner, &args.check) {
        (Some(p), _) => {
            let id: PartnerId = p.parse().map_err(|e: String| bad(&format!("--partner: {e}")))?;
            if app.config.partner(id.as_str()).is_none() {
                return Err(bad(&format!("no partner `{id}` (see partners/)")));
            }
            Ok(SilenceTarget::Partner(id))
        }
        (None, Some(c)) => {
            let id: CheckId = c.parse().map_err(|e: String| bad(&format!("--check: {e}")))?;
            if !app.config.checks.iter().any(|known| known.id == id) {
                return Err(bad(&format!("no check `{id}` (see synthetics/)")));
            }
            Ok(SilenceTarget::Check(id))
        }
        // invariant: clap's `target` group requires one of them.
        (None, None) => Err(bad("give --partner ID or --check ID")),
    }
}

async fn add(app: &App, args: &AddArgs, json: bool) -> Result<ExitCode, ExitCode> {
    let target = target(app, args)?;
    let now = Timestamp::now();
    let ends_at = match (args.for_, args.until) {
        (Some(d), _) => now + d,
        (None, Some(until)) if until <= now => {
            return Err(bad(&format!("--until {} is in the past (now is {})", until.to_rfc3339_seconds(), now.to_rfc3339_seconds())));
        }
        (None, Some(until)) => until,
        // invariant: clap's `length` group requires one of them.
        (None, None) => return Err(bad("give --for DURATION or --until TIME")),
    };
    let reason = args.reason.trim();
    if reason.is_empty() {
        return Err(bad("--reason must say why (it is shown in Slack and Jira)"));
    }
    let by = args.by.as_deref().map(str::trim).filter(|b| !b.is_empty()).unwrap_or("sparky");
    let new = NewSilence { target: &target, starts_at: now, ends_at, reason, created_by: by, created_at: now };
    let silence = silences::add(&app.store, &new).await.map_err(|e| unusable(&e))?;
    if json {
        print_json(&Shown { silence: &silence, state: silence.state(now) });
    } else {
        println!(
            "silence {} added: {} until {} ({}) by {}: {}",
            silence.id,
            silence.target,
            silence.ends_at.to_rfc3339_seconds(),
            human_duration(silence.ends_at.since(now)),
            silence.created_by,
            silence.reason
        );
        println!("its checks still run and its incidents still open; pages and public status updates are held until then");
    }
    Ok(ExitCode::SUCCESS)
}

async fn list(app: &App, all: bool, json: bool) -> Result<ExitCode, ExitCode> {
    let now = Timestamp::now();
    let rows = silences::list(&app.store, now, all).await.map_err(|e| unusable(&e))?;
    if json {
        let shown: Vec<Shown<'_>> = rows.iter().map(|s| Shown { silence: s, state: s.state(now) }).collect();
        print_json(&shown);
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!("no silences");
        return Ok(ExitCode::SUCCESS);
    }
    for line in table(&rows, now) {
        println!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}

/// One line per silence, columns aligned: `ID  TARGET  STATE  from T  until T  by NAME  REASON`.
fn table(rows: &[Silence], now: Timestamp) -> Vec<String> {
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|s| {
            [
                s.id.to_string(),
                s.target.to_string(),
                s.state(now).to_string(),
                format!("from {}", s.starts_at.to_rfc3339_seconds()),
                format!("until {}", s.until().to_rfc3339_seconds()),
                format!("by {}", s.created_by),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..6).map(|i| cells.iter().map(|c| c[i].chars().count()).max().unwrap_or(0)).collect();
    rows.iter()
        .zip(&cells)
        .map(|(s, c)| {
            let padded: Vec<String> = c.iter().zip(&widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
            format!("{}  {}", padded.join("  "), s.reason)
        })
        .collect()
}

/// What `silence end --json` prints.
#[derive(Debug, Serialize)]
struct EndShown<'a> {
    /// `ended`, or `already_over` (it had already ended or expired: nothing changed).
    result: &'static str,
    silence: Shown<'a>,
}

async fn end(app: &App, id: i64, json: bool) -> Result<ExitCode, ExitCode> {
    let now = Timestamp::now();
    let (result, silence) = match silences::end(&app.store, id, now).await.map_err(|e| unusable(&e))? {
        Ended::NotFound => return Err(bad(&format!("no silence {id} (see sparky silence list --all)"))),
        Ended::Ended(s) => ("ended", s),
        Ended::AlreadyOver(s) => ("already_over", s),
    };
    if json {
        print_json(&EndShown { result, silence: Shown { silence: &silence, state: silence.state(now) } });
    } else if result == "ended" {
        println!(
            "silence {id} ({}) ended at {}; what it held goes out at the next triage round if its incident is still open",
            silence.target,
            silence.until().to_rfc3339_seconds()
        );
    } else {
        println!("silence {id} ({}) had already ended at {}", silence.target, silence.until().to_rfc3339_seconds());
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests;
