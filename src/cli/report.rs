//! What the commands print: for people one line per item, `--json` for scripts.

use std::process::ExitCode;

use crate::app::App;
use crate::jobs::{self, ChangelogRun, StatusRun, SyntheticsRun};
use crate::outbox::DeliveryReport;
use crate::sources::changelogs::FeedOutcome;
use crate::sources::status_pages::{self as status_pages, Indicator, PartnerStatus};
use crate::sources::synthetics::engine::{Executed, percentile};
use crate::store::status as status_table;
use crate::store::synthetics as check_table;
use crate::store::{ms_to_time, now_ms};

pub fn changelog_run(run: &ChangelogRun, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(run).unwrap_or_default());
        return;
    }
    let width = run.feeds.iter().map(|f| f.partner.len()).max().unwrap_or(0);
    let (mut ok, mut unchanged, mut failed) = (0, 0, Vec::new());
    for feed in &run.feeds {
        let text = match &feed.outcome {
            FeedOutcome::Ok { entries, new, to_post } => {
                ok += 1;
                format!("ok: {entries} entries, {new} new, {to_post} to post")
            }
            FeedOutcome::NotModified => {
                unchanged += 1;
                "ok: not modified (304)".to_owned()
            }
            FeedOutcome::Failed { kind, error, consecutive_failures } => {
                failed.push(feed.partner.as_str());
                format!("FAILED ({kind}, {consecutive_failures} in a row): {error}")
            }
        };
        println!("{:width$}  {}  {text}", feed.partner, feed.url);
    }
    failed.dedup();
    let failed_note = if failed.is_empty() { String::new() } else { format!(" ({})", failed.join(", ")) };
    println!(
        "changelogs: {} feeds: {ok} ok, {unchanged} not modified, {} failed{failed_note}",
        run.feeds.len(),
        run.feeds.len() - ok - unchanged
    );
    match &run.digest.error {
        Some(e) => println!("digest: not built, entries stay pending: {e}"),
        None => println!("digest: {} entries in {} messages", run.digest.entries, run.digest.messages),
    }
    if let Some(report) = &run.delivery {
        delivery(report, false);
    }
}

pub fn delivery(report: &DeliveryReport, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(report).unwrap_or_default());
        return;
    }
    let leased =
        if report.leased_elsewhere > 0 { format!(", {} held by another deliverer", report.leased_elsewhere) } else { String::new() };
    println!("delivery: {} delivered, {} left for the next run, {} dead{leased}", report.delivered, report.retrying, report.dead);
}

/// `sparky once status`: one line per partner naming its page indicator.
pub fn status_run(run: &StatusRun, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(run).unwrap_or_default());
        return;
    }
    let width = run.partners.iter().map(|r| r.partner.len()).max().unwrap_or(0);
    for r in &run.partners {
        println!("{:width$}  {:11}  {}", r.partner, r.status.indicator.as_str(), summary_line(&r.status, &r.result));
    }
    let unknown = run.partners.iter().filter(|r| r.status.indicator == Indicator::Unknown).count();
    let notices: usize = run.partners.iter().map(|r| r.notices).sum();
    println!("status: {} partners, {unknown} unreadable, {notices} notices", run.partners.len());
    if let Some(report) = &run.delivery {
        delivery(report, false);
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
    let incidents =
        if names.is_empty() { "no open incidents".to_owned() } else { format!("{} open incidents ({})", names.len(), names.join("; ")) };
    let maintenance = if status.maintenance_in_progress() { ", maintenance in progress" } else { "" };
    format!("{worst}, {incidents}{maintenance}")
}

/// `sparky status PARTNER [--at TIME]`: the full normalised view, fetched now or as recorded.
pub async fn partner_status(app: &App, id: &str, at: Option<&str>, json: bool) -> ExitCode {
    let Some(partner) = app.config.partner(id) else {
        eprintln!("sparky: no partner `{id}` (see partners/)");
        return ExitCode::from(2);
    };
    let Some(page) = &partner.status_page else {
        eprintln!("sparky: partner `{id}` has no [status_page]");
        return ExitCode::from(2);
    };
    let (status, when) = match at {
        Some(at) => match recorded(app, id, at).await {
            Ok(found) => found,
            Err(code) => return code,
        },
        None => match status_pages::poll_partner(app, partner).await {
            Ok(Some(report)) => (report.status, format!("read now ({})", report.result)),
            Ok(None) => return ExitCode::from(2),
            Err(e) => {
                eprintln!("sparky: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    if json {
        let effective = status.effective(&page.components).map(|s| s.as_str());
        let view = serde_json::json!({"partner": id, "when": when, "effective": effective, "status": status});
        println!("{}", serde_json::to_string_pretty(&view).unwrap_or_default());
        return ExitCode::SUCCESS;
    }
    print_status(partner.name.as_str(), id, &status, &when, page);
    print_recent_events(app, id).await;
    ExitCode::SUCCESS
}

async fn recorded(app: &App, id: &str, at: &str) -> Result<(PartnerStatus, String), ExitCode> {
    let time = chrono::DateTime::parse_from_rfc3339(at).map_err(|e| {
        eprintln!("sparky: --at `{at}` is not an RFC 3339 time ({e}), e.g. 2026-11-25T14:05:00Z");
        ExitCode::from(2)
    })?;
    match status_table::snapshot_at(&app.store, id, time.timestamp_millis()).await {
        Ok(Some((taken, status))) => Ok((status, format!("as recorded at {} (in force at {at})", ms_to_time(taken).to_rfc3339()))),
        Ok(None) => {
            eprintln!("sparky: nothing recorded for `{id}` at or before {at}");
            Err(ExitCode::from(1))
        }
        Err(e) => {
            eprintln!("sparky: {e}");
            Err(ExitCode::FAILURE)
        }
    }
}

fn print_status(name: &str, id: &str, status: &PartnerStatus, when: &str, page: &status_pages::StatusPageConfig) {
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
        let since = i.started_at.map(|t| format!(" since {}", t.format("%Y-%m-%d %H:%M UTC"))).unwrap_or_default();
        let link = i.shortlink.as_deref().map(|l| format!(" {l}")).unwrap_or_default();
        let components = if i.components.is_empty() { String::new() } else { format!(" (components: {})", i.components.join(", ")) };
        println!("  [{}] {}: {}{since}{link}{components}", i.impact.as_str(), i.name, i.status);
    }
    println!("maintenances ({}):", status.maintenances.len());
    for m in &status.maintenances {
        let window = m.scheduled_for.map(|t| format!(" from {}", t.format("%Y-%m-%d %H:%M UTC"))).unwrap_or_default();
        println!("  {}: {}{window}", m.name, m.status);
    }
}

async fn print_recent_events(app: &App, id: &str) {
    let week_ago = now_ms() - 7 * 24 * 3600 * 1000;
    let Ok(events) = status_table::events(&app.store, id, week_ago, 20).await else { return };
    println!("recent changes ({}):", events.len());
    for e in events {
        let subject = e.event.detail.name.as_deref().unwrap_or(&e.event.subject);
        let subject = if subject.is_empty() { String::new() } else { format!(" {subject}") };
        println!(
            "  {} {}{subject}: {} -> {}",
            ms_to_time(e.at).format("%Y-%m-%d %H:%M:%S"),
            e.event.kind.as_str(),
            e.event.old.as_deref().unwrap_or("-"),
            e.event.new.as_deref().unwrap_or("-")
        );
    }
}

/// `sparky once synthetics`: one line per check with its id and outcome.
pub fn synthetics_run(run: &SyntheticsRun, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(run).unwrap_or_default());
        return;
    }
    let width = run.checks.iter().map(|e| e.check.len()).max().unwrap_or(5).max(5);
    let pwidth = run.checks.iter().map(|e| e.partner.len()).max().unwrap_or(7).max(7);
    println!("{:width$}  {:pwidth$}  outcome  {:>7}  reason", "check", "partner", "ms");
    for e in &run.checks {
        let out = e.counted();
        let reason = match (&out.message, out.error_kind) {
            (Some(m), Some(k)) => format!("{}: {m}", k.as_str()),
            (Some(m), None) => m.clone(),
            _ => String::new(),
        };
        let confirmed = if e.confirmation.is_some() { " (confirmed by a re-run)" } else { "" };
        println!(
            "{:width$}  {:pwidth$}  {:7}  {:>7}  {reason}{confirmed}",
            e.check,
            e.partner,
            out.outcome.as_str(),
            out.duration.as_millis()
        );
    }
    let count = |o: crate::sources::synthetics::Outcome| run.checks.iter().filter(|e| e.counted().outcome == o).count();
    use crate::sources::synthetics::Outcome::{Fail, Pass, Warn};
    let changes: Vec<String> =
        run.checks.iter().filter_map(|e| e.transition.map(|t| format!("{}: {} -> {}", e.check, t.from.as_str(), t.to.as_str()))).collect();
    let changes = if changes.is_empty() { String::new() } else { format!("; state changes: {}", changes.join(", ")) };
    println!("synthetics: {} checks: {} pass, {} warn, {} fail{changes}", run.checks.len(), count(Pass), count(Warn), count(Fail));
    for (check, decision) in &run.triage {
        println!("triage: {check}: {}", serde_json::to_string(decision).unwrap_or_default());
    }
    if let Some(report) = &run.delivery {
        delivery(report, false);
    }
}

/// `sparky incidents`: open incidents and recent ones, one per line.
pub async fn incidents(app: &App, all: bool, json: bool) -> ExitCode {
    const DAY: i64 = 24 * 3600 * 1000;
    let since = now_ms() - if all { 90 } else { 7 } * DAY;
    let list = match crate::store::incidents::list(&app.store, since).await {
        Ok(list) => list,
        Err(e) => {
            eprintln!("sparky: {e}");
            return ExitCode::FAILURE;
        }
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&list).unwrap_or_default());
        return ExitCode::SUCCESS;
    }
    if list.is_empty() {
        println!("no incidents (open, or resolved in the last {} days)", if all { 90 } else { 7 });
    }
    for s in &list {
        let i = &s.incident;
        let end = s.resolved_at.unwrap_or_else(now_ms);
        let lasted =
            crate::sinks::slack::message::human_duration(std::time::Duration::from_millis(u64::try_from(end - i.opened_at).unwrap_or(0)));
        let remote: Vec<String> = s.remote.iter().map(|(sink, id)| format!("{sink}={id}")).collect();
        println!(
            "{}  {}  {}  {}  opened {}  {} {lasted}  checks: {}  {}  ({})",
            i.id,
            i.partner,
            s.state,
            i.cause.as_str(),
            ms_to_time(i.opened_at).format("%Y-%m-%d %H:%M"),
            if s.state == "open" { "for" } else { "lasted" },
            s.all_checks.join(","),
            remote.join(" "),
            i.cause_reason
        );
    }
    ExitCode::SUCCESS
}

/// `sparky check ID`: the full result and the check's record over 1 h / 24 h / 7 d.
pub async fn check(app: &App, id: &str, json: bool) -> ExitCode {
    let Some(config) = app.config.checks.iter().find(|c| c.id.as_str() == id) else {
        eprintln!("sparky: no check `{id}` (see synthetics/)");
        return ExitCode::from(2);
    };
    if !config.enabled {
        eprintln!("sparky: check `{id}` is disabled (enabled = false in its file)");
        return ExitCode::from(2);
    }
    let run = match jobs::synthetics(app, Some(std::slice::from_ref(config)), jobs::Delivery::Drain).await {
        Ok(run) => run,
        Err(e) => {
            eprintln!("sparky: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Some(executed) = run.checks.first() else { return ExitCode::FAILURE };
    let windows = match record(app, id).await {
        Ok(w) => w,
        Err(e) => {
            eprintln!("sparky: {e}");
            return ExitCode::FAILURE;
        }
    };
    if json {
        let view = serde_json::json!({"result": executed, "record": windows});
        println!("{}", serde_json::to_string_pretty(&view).unwrap_or_default());
        return ExitCode::SUCCESS;
    }
    print_executed(executed);
    for w in &windows {
        match w.runs {
            0 => println!("last {:>3}: no results", w.window),
            n => println!("last {:>3}: {n} runs, success rate {:.1} %, p95 latency {} ms", w.window, w.success_rate * 100.0, w.p95_ms),
        }
    }
    ExitCode::SUCCESS
}

fn print_executed(e: &Executed) {
    let print_run = |title: &str, out: &crate::sources::synthetics::run::RunOutput| {
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
    println!("state: {} since {}", e.state.state.as_str(), ms_to_time(e.state.since).format("%Y-%m-%d %H:%M:%S UTC"));
}

/// A check's record over one window.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WindowStats {
    /// `1h`, `24h` or `7d`.
    pub window: &'static str,
    /// Counted runs.
    pub runs: usize,
    /// Share of runs that passed or warned.
    pub success_rate: f64,
    /// 95th percentile latency (ms).
    pub p95_ms: u128,
}

async fn record(app: &App, id: &str) -> Result<Vec<WindowStats>, crate::store::StoreError> {
    const HOUR: i64 = 3600 * 1000;
    let samples = check_table::samples(&app.store, id, now_ms() - 7 * 24 * HOUR).await?;
    let now = now_ms();
    Ok([("1h", HOUR), ("24h", 24 * HOUR), ("7d", 7 * 24 * HOUR)]
        .into_iter()
        .map(|(window, span)| {
            let within: Vec<_> = samples.iter().filter(|s| s.at >= now - span).collect();
            let ok = within.iter().filter(|s| s.outcome != crate::sources::synthetics::Outcome::Fail).count();
            let mut latencies: Vec<std::time::Duration> =
                within.iter().map(|s| std::time::Duration::from_millis(u64::try_from(s.duration_ms).unwrap_or(0))).collect();
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
