//! What the commands print: for people one line per item, `--json` for scripts.

use std::process::ExitCode;

use std::time::Duration;

use super::text::{Table, plural};
use crate::config::StatusPageConfig;
use crate::digest::FLOOD_LISTED;
use crate::fetch::Validators;
use crate::model::{IncidentState, Indicator, Outcome, PartnerStatus, Timestamp, human_duration};
use crate::outbox::DeliveryReport;
use crate::service::App;
use crate::service::jobs::{self, ChangelogRun, Handover, StatusRun, SyntheticsRun};
use crate::sources::changelogs::FeedOutcome;
use crate::sources::status_pages::{self as status_pages, Reading};
use crate::sources::synthetics::engine::{Engine, Executed, percentile};
use crate::sources::synthetics::run::RunOutput;
use crate::store::status as status_table;
use crate::store::synthetics as check_table;

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);

pub(super) fn changelog_run(run: &ChangelogRun, json: bool, hint: &[String]) {
    if json {
        super::print_json(run);
        return;
    }
    let mut table = Table::default();
    let (mut ok, mut unchanged, mut failed) = (0, 0, Vec::<(&str, usize)>::new());
    for feed in &run.feeds {
        let text = match &feed.outcome {
            FeedOutcome::Ok { entries, new, to_post, duplicates, flood } => {
                ok += 1;
                let mut text = format!("ok: {}, {new} new, {to_post} to post", plural(*entries, "entry"));
                if *duplicates > 0 {
                    text.push_str(&format!(", {duplicates} already seen under another id (not posted)"));
                }
                if let Some(max) = flood {
                    text.push_str(&format!(" (more than {max} new at once: one digest section listing the newest {FLOOD_LISTED})"));
                }
                text
            }
            FeedOutcome::NotModified => {
                unchanged += 1;
                "ok: not modified (304)".to_owned()
            }
            FeedOutcome::Failed { kind, error, consecutive_failures } => {
                match failed.last_mut() {
                    Some((name, n)) if *name == feed.partner => *n += 1,
                    _ => failed.push((feed.partner.as_str(), 1)),
                }
                format!("FAILED ({kind}, {consecutive_failures} in a row): {error}")
            }
        };
        table.row(vec![feed.partner.clone(), feed.url.clone(), text]);
    }
    table.print();
    let names: Vec<String> =
        failed.iter().map(|(name, n)| if *n > 1 { format!("{name} ({n} feeds)") } else { (*name).to_owned() }).collect();
    let failed_note = if names.is_empty() { String::new() } else { format!(": {}", names.join(", ")) };
    println!(
        "changelogs: {}: {ok} ok, {unchanged} not modified, {} failed{failed_note}",
        plural(run.feeds.len(), "feed"),
        run.feeds.len() - ok - unchanged
    );
    match &run.digest.error {
        Some(e) => println!("digest: not built, entries stay pending: {e}"),
        None => println!("digest: {} in {}", plural(run.digest.entries, "entry"), plural(run.digest.messages, "message")),
    }
    if let Some(report) = &run.delivery {
        delivery(report, false, hint);
    }
}

/// `delivery: ...`, then, when something was printed instead of sent, which variable changes it.
pub(super) fn delivery(report: &DeliveryReport, json: bool, hint: &[String]) {
    if json {
        super::print_json(report);
        return;
    }
    let leased =
        if report.leased_elsewhere > 0 { format!(", {} held by another deliverer", report.leased_elsewhere) } else { String::new() };
    println!(
        "delivery: {} delivered, {} printed, {} left for the next run, {} dead{leased}",
        report.delivered, report.printed, report.retrying, report.dead
    );
    if report.printed > 0 && !hint.is_empty() {
        println!("printed instead of sent: {}", hint.join("; "));
    }
    if report.dead > 0 {
        println!("dead actions wait for a fix: see sparky outbox (last error) and sparky outbox retry ID");
    }
}

/// `sparky once status`: one line per partner naming its page indicator.
pub(super) fn status_run(run: &StatusRun, json: bool, hint: &[String]) {
    if json {
        super::print_json(run);
        return;
    }
    let width = run.partners.iter().map(|r| r.partner.len()).max().unwrap_or(0);
    for r in &run.partners {
        let line = if r.is_not_configured() { r.status.error.clone().unwrap_or_default() } else { summary_line(&r.status, &r.result) };
        println!("{:width$}  {:11}  {line}", r.partner, r.status.indicator.as_str());
    }
    let not_configured = run.partners.iter().filter(|r| r.is_not_configured()).count();
    let unknown = run.partners.iter().filter(|r| r.status.indicator == Indicator::Unknown).count() - not_configured;
    println!(
        "status: {}, {unknown} unreadable, {not_configured} not configured, {}",
        plural(run.partners.len(), "partner"),
        plural(run.notices, "notice")
    );
    if let Some(report) = &run.delivery {
        delivery(report, false, hint);
    }
}

fn summary_line(status: &PartnerStatus, result: &str) -> String {
    if status.indicator == Indicator::Unknown {
        return format!("could not read ({result}): {}", status.error.as_deref().unwrap_or("unknown error"));
    }
    let worst = status
        .worst_component()
        .map_or_else(|| "all components operational".to_owned(), |c| format!("worst component: {} {}", c.name, c.status.as_str()));
    let names: Vec<&str> = status.incidents.iter().map(|i| i.name.as_str()).collect();
    let incidents = if names.is_empty() {
        "no open incidents".to_owned()
    } else {
        format!("{} ({})", plural(names.len(), "open incident"), names.join("; "))
    };
    let maintenance = if status.maintenance_in_progress() { ", maintenance in progress" } else { "" };
    format!("{worst}, {incidents}{maintenance}")
}

/// `sparky status PARTNER [--at TIME] [--record]`: the full normalised view, read now (and
/// recorded with `--record`) or as recorded at a time.
pub(super) async fn partner_status(app: &App, id: &str, at: Option<&str>, record: bool, json: bool) -> ExitCode {
    let Some(partner) = app.config.partner(id) else {
        eprintln!("sparky: no partner `{id}` (see partners/)");
        return ExitCode::from(2);
    };
    let Some(page) = &partner.status_page else {
        match &partner.status_page_not_configured {
            Some(why) => eprintln!("sparky: the status page of `{id}` is {why}"),
            None => eprintln!("sparky: partner `{id}` has no [status_page]"),
        }
        return ExitCode::from(2);
    };
    let found = match (at, record) {
        (Some(at), _) => recorded(app, id, at, json).await,
        (None, false) => read_now(app, id, page).await,
        (None, true) => record_now(app, partner).await,
    };
    let (status, when) = match found {
        Ok(found) => found,
        Err(code) => return code,
    };
    if json {
        let effective = status.effective(&page.components).map(|s| s.as_str());
        let view = serde_json::json!({"partner": id, "when": when, "effective": effective, "status": status});
        super::print_json(&view);
        return ExitCode::SUCCESS;
    }
    print_status(partner.name.as_str(), id, &status, &when, page);
    print_recent_events(app, id).await;
    ExitCode::SUCCESS
}

/// A read of the page that records nothing.
async fn read_now(app: &App, id: &str, page: &StatusPageConfig) -> Result<(PartnerStatus, String), ExitCode> {
    let previous = status_table::page_state(&app.store, id).await.map_err(|e| {
        eprintln!("sparky: {e}");
        ExitCode::FAILURE
    })?;
    let last = previous.latest.as_ref().map(|(_, s)| s);
    let Reading { status, result, .. } = status_pages::read_page(&app.fetcher, page, last, &Validators::default()).await;
    Ok((status, format!("read now ({result}; not recorded)")))
}

/// A read of the page recorded as a poll, with its notices and the re-decided cause.
async fn record_now(app: &App, partner: &crate::config::Partner) -> Result<(PartnerStatus, String), ExitCode> {
    let fail = |e: &dyn std::fmt::Display| {
        eprintln!("sparky: {e}");
        ExitCode::FAILURE
    };
    let triage = app.triage().map_err(|e| fail(&e))?;
    let report = jobs::status_of(app, partner, &triage).await.map_err(|e| fail(&e))?.ok_or(ExitCode::from(2))?;
    if let Err(e) = app.deliverer().drain().await {
        return Err(fail(&e));
    }
    Ok((report.status, format!("read now ({}; recorded)", report.result)))
}

async fn recorded(app: &App, id: &str, at: &str, json: bool) -> Result<(PartnerStatus, String), ExitCode> {
    let time = Timestamp::parse_rfc3339(at).map_err(|e| {
        eprintln!("sparky: --at `{at}` is not an RFC 3339 time ({e}), e.g. 2026-11-25T14:05:00Z");
        ExitCode::from(2)
    })?;
    match status_table::snapshot_at(&app.store, id, time).await {
        Ok(Some((taken, status))) => {
            Ok((status, format!("as recorded at {} (in force at {})", taken.to_rfc3339_seconds(), time.to_rfc3339_seconds())))
        }
        Ok(None) => {
            // Nothing found is an answer, not a failure (exit 0).
            let at = time.to_rfc3339_seconds();
            if json {
                super::print_json(&serde_json::json!({"partner": id, "at": at, "status": null}));
            } else {
                println!("nothing recorded for {id} at or before {at}: its page was first read later, or not kept that long");
            }
            Err(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("sparky: {e}");
            Err(ExitCode::FAILURE)
        }
    }
}

fn print_status(name: &str, id: &str, status: &PartnerStatus, when: &str, page: &StatusPageConfig) {
    let description = status.description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default();
    println!("{name} ({id}): {}{description}, {when}", status.indicator.as_str());
    println!("page: {}", page.url);
    if let Some(error) = &status.error {
        println!("error: {error}");
    }
    let depends = if page.components.is_empty() { "the page indicator".to_owned() } else { page.components.join(", ") };
    let effective = status.effective(&page.components).map_or("unknown", |s| s.as_str());
    println!("effective status for us ({depends}): {effective}");
    println!("components ({}):", status.components.len());
    for c in &status.components {
        let group = c.group.as_deref().map(|g| format!("  [{g}]")).unwrap_or_default();
        println!("  {:22} {}{group}", c.status.as_str(), c.name);
    }
    println!("open incidents ({}):", status.incidents.len());
    for i in &status.incidents {
        let since = i.started_at.map(|t| format!(" since {}", Timestamp::from_datetime(t).to_rfc3339_seconds())).unwrap_or_default();
        let link = i.shortlink.as_deref().map(|l| format!(" {l}")).unwrap_or_default();
        let components = if i.components.is_empty() { String::new() } else { format!(" (components: {})", i.components.join(", ")) };
        println!("  [{}] {}: {}{since}{link}{components}", i.impact.as_str(), i.name, i.status);
    }
    println!("maintenances ({}):", status.maintenances.len());
    for m in &status.maintenances {
        let window = m.scheduled_for.map(|t| format!(" from {}", Timestamp::from_datetime(t).to_rfc3339_seconds())).unwrap_or_default();
        println!("  {}: {}{window}", m.name, m.status);
    }
}

async fn print_recent_events(app: &App, id: &str) {
    let week_ago = Timestamp::now() - DAY * 7;
    let Ok(events) = status_table::events(&app.store, id, week_ago, 20).await else { return };
    println!("recent changes ({}):", events.len());
    for e in events {
        let subject = e.event.detail.name.as_deref().unwrap_or(&e.event.subject);
        let subject = if subject.is_empty() { String::new() } else { format!(" {subject}") };
        println!(
            "  {} {}{subject}: {} -> {}",
            e.at.to_rfc3339_seconds(),
            e.event.kind.as_str(),
            e.event.old.as_deref().unwrap_or("-"),
            e.event.new.as_deref().unwrap_or("-")
        );
    }
}

/// `sparky once synthetics`: one line per check with its id and outcome.
pub(super) fn synthetics_run(run: &SyntheticsRun, json: bool, hint: &[String]) {
    if json {
        super::print_json(run);
        return;
    }
    let mut table = Table::with_header(&["check", "partner", "outcome", "ms", "reason"]);
    for e in &run.checks {
        let out = e.counted();
        let reason = match (&out.message, out.error_kind) {
            (Some(m), Some(k)) => format!("{}: {m}", k.as_str()),
            (Some(m), None) => m.clone(),
            _ => String::new(),
        };
        let confirmed = if e.confirmation.is_some() { " (confirmed by a re-run)" } else { "" };
        table.row(vec![
            e.check.to_string(),
            e.partner.to_string(),
            out.outcome.to_string(),
            out.duration.as_millis().to_string(),
            format!("{reason}{confirmed}"),
        ]);
    }
    table.print();
    let count = |o: Outcome| run.checks.iter().filter(|e| e.counted().outcome == o).count();
    use Outcome::{Fail, Pass, Warn};
    let changes: Vec<String> =
        run.checks.iter().filter_map(|e| e.transition.map(|t| format!("{}: {} -> {}", e.check, t.from.as_str(), t.to.as_str()))).collect();
    let changes = if changes.is_empty() { String::new() } else { format!("; state changes: {}", changes.join(", ")) };
    println!(
        "synthetics: {}: {} pass, {} warn, {} fail{changes}",
        plural(run.checks.len(), "check"),
        count(Pass),
        count(Warn),
        count(Fail)
    );
    for t in &run.triage {
        println!("triage: {}: {}", t.check, t.decision);
    }
    if let Some(report) = &run.delivery {
        delivery(report, false, hint);
    }
}

/// `sparky incidents`: open incidents and recent ones, one per line, each followed by its
/// history (indented), decisions with the evidence they read on the partner's page.
pub(super) async fn incidents(app: &App, all: bool, json: bool) -> ExitCode {
    let since = Timestamp::now() - DAY * if all { 90 } else { 7 };
    let list = match crate::store::incidents::list(&app.store, since).await {
        Ok(list) => list,
        Err(e) => {
            eprintln!("sparky: {e}");
            return ExitCode::FAILURE;
        }
    };
    if json {
        super::print_json(&list);
        return ExitCode::SUCCESS;
    }
    if list.is_empty() {
        println!("no incidents (open, or resolved in the last {} days)", if all { 90 } else { 7 });
    }
    let mut table = Table::with_header(&["id", "partner", "state", "cause", "opened", "duration", "checks", "remote ids"]);
    for s in &list {
        let i = &s.incident;
        let end = s.resolved_at.unwrap_or_else(Timestamp::now);
        let lasted = human_duration(end.since(i.opened_at));
        let remote: Vec<String> = s.remote.iter().map(|r| format!("{}={}", r.sink, r.id)).collect();
        let state = if i.held.any() { format!("{} silenced ({})", s.state, i.held.describe()) } else { s.state.to_string() };
        table.row(vec![
            i.id.to_string(),
            i.partner.to_string(),
            state,
            i.cause.to_string(),
            i.opened_at.to_rfc3339_seconds(),
            format!("{} {lasted}", if s.state == IncidentState::Open { "for" } else { "lasted" }),
            s.all_checks.iter().map(ToString::to_string).collect::<Vec<_>>().join(","),
            remote.join(" "),
        ]);
    }
    table.print();
    for s in &list {
        let i = &s.incident;
        println!();
        println!("incident {} ({}, {} cause: {}):", i.id, i.partner, i.cause, i.cause_reason);
        let mut history = Table::default();
        for h in &s.history {
            let evidence = h.evidence.as_ref().map(|e| format!("  [{}]", e.describe())).unwrap_or_default();
            history.row(vec![format!("  {}", h.at.to_rfc3339_seconds()), h.kind.to_string(), format!("{}{evidence}", h.detail)]);
        }
        history.print();
    }
    ExitCode::SUCCESS
}

/// `sparky check ID [--record]`: the full result and the check's record over 1 h / 24 h / 7 d.
/// Read only unless `record`: then the result and its state change are stored and triaged.
pub(super) async fn check(app: &App, id: &str, record: bool, json: bool) -> ExitCode {
    let Some(config) = app.config.checks.iter().find(|c| c.id.as_str() == id) else {
        eprintln!("sparky: no check `{id}` (see synthetics/)");
        return ExitCode::from(2);
    };
    if !config.enabled {
        eprintln!("sparky: check `{id}` is disabled (enabled = false in its file)");
        return ExitCode::from(2);
    }
    let executed = if record { run_recorded(app, config).await } else { run_unrecorded(app, config).await };
    let executed = match executed {
        Ok(executed) => executed,
        Err(e) => {
            eprintln!("sparky: {e}");
            return ExitCode::FAILURE;
        }
    };
    let windows = match window_stats(app, id).await {
        Ok(w) => w,
        Err(e) => {
            eprintln!("sparky: {e}");
            return ExitCode::FAILURE;
        }
    };
    if json {
        let view = serde_json::json!({"result": executed, "recorded": record, "record": windows});
        super::print_json(&view);
        return ExitCode::SUCCESS;
    }
    print_executed(&executed);
    if !record {
        println!("(not recorded: run with --record to store the result and triage it)");
    }
    for w in &windows {
        match w.runs {
            0 => println!("last {:>3}: no results", w.window),
            n => println!("last {:>3}: {n} runs, success rate {:.1} %, p95 latency {} ms", w.window, w.success_rate * 100.0, w.p95_ms),
        }
    }
    ExitCode::SUCCESS
}

async fn run_recorded(app: &App, config: &crate::config::CheckConfig) -> Result<Executed, jobs::JobError> {
    let run = jobs::synthetics(app, Some(std::slice::from_ref(config)), Handover::Drain).await?;
    Ok(run.checks.into_iter().next().ok_or(crate::store::StoreError::Corrupt { what: "check run", reason: "no result".to_owned() })?)
}

async fn run_unrecorded(app: &App, config: &crate::config::CheckConfig) -> Result<Executed, jobs::JobError> {
    let (engine, _writer) = Engine::start(&app.store, &app.config.global.http, &app.config.global.synthetics, app.triage_wake.clone())?;
    let runtimes = Engine::load(&app.store, std::slice::from_ref(config)).await?;
    let Some(runtime) = runtimes.first() else {
        return Err(crate::store::StoreError::Corrupt { what: "check run", reason: "no runtime".to_owned() }.into());
    };
    Ok(engine.probe(runtime).await)
}

fn print_executed(e: &Executed) {
    let print_run = |title: &str, out: &RunOutput| {
        let status = out.http_status.map_or_else(|| "no answer".to_owned(), |s| format!("HTTP {s}"));
        let kind = out.error_kind.map(|k| format!(" ({})", k.as_str())).unwrap_or_default();
        println!("{title}: {}{kind} in {} ms, {status}", out.outcome.as_str(), out.duration.as_millis());
        if let Some(m) = &out.message {
            println!("  reason: {m}");
        }
        for a in &out.assertions {
            println!("  [{}] {}: {}", a.outcome.as_str(), a.assertion, a.detail);
        }
    };
    println!("check {} ({})", e.check, e.partner);
    print_run("run", &e.first);
    if let Some(c) = &e.confirmation {
        print_run("confirmation re-run", c);
    }
    println!("state: {} since {}", e.state.state.as_str(), e.state.since.to_rfc3339_seconds());
}

/// A check's record over one window.
#[derive(Debug, Clone, serde::Serialize)]
pub(super) struct WindowStats {
    /// `1h`, `24h` or `7d`.
    pub window: &'static str,
    /// Counted runs.
    pub runs: usize,
    /// Share of runs that passed or warned.
    pub success_rate: f64,
    /// 95th percentile latency (ms).
    pub p95_ms: u128,
}

async fn window_stats(app: &App, id: &str) -> Result<Vec<WindowStats>, crate::store::StoreError> {
    let now = Timestamp::now();
    let samples = check_table::samples(&app.store, id, now - DAY * 7).await?;
    Ok([("1h", HOUR), ("24h", DAY), ("7d", DAY * 7)]
        .into_iter()
        .map(|(window, span)| {
            let within: Vec<_> = samples.iter().filter(|s| s.at >= now - span).collect();
            let ok = within.iter().filter(|s| s.outcome != Outcome::Fail).count();
            let mut latencies: Vec<Duration> =
                within.iter().map(|s| Duration::from_millis(u64::try_from(s.duration_ms).unwrap_or(0))).collect();
            let runs = within.len();
            WindowStats {
                window,
                runs,
                success_rate: if runs == 0 { 0.0 } else { ok as f64 / runs as f64 },
                p95_ms: percentile(&mut latencies, 95).as_millis(),
            }
        })
        .collect())
}
