//! Every template rendered through the code that uses it, with sample data, on a strict copy of
//! the templates ([`Templates::strict`]): what `sparky check-config` reports as
//! `templates/FILE: line N: …` (an undefined value in an override, a block that is not Block
//! Kit), before a real digest, notice or incident needs it.

use crate::compatibility::plan::{self as compat_plan, Context as CompatContext};
use crate::config::{Partner, Problem};
use crate::digest::{DigestError, PartnerGroup, partner_groups, render_digest};
use crate::model::statuspage::Summary;
use crate::model::{
    Cause, CheckId, ComponentStatus, EventDetail, EventKind, Evidence, FailedJob, FailedStep, GitHubRun, Held, Incident, Indicator,
    P2State, Priority, RunState, RunTrigger, StatusEvent, Timestamp, WarnChange,
};
use crate::notices::notices;
use crate::notices::warn::{self, Warned};
use crate::outbox::pagerduty::EventAction;
use crate::outbox::slack::RenderError;
use crate::sources::compat::follow::Observation;
use crate::store::changelogs::{ClaimedEntry, EntryRecord};
use crate::store::compat::Detection;
use crate::store::compat_runs::CompatRun;
use crate::templates::{TemplateError, Templates};
use crate::triage::cause::{Basis, Public, Verdict};
use crate::triage::egress;
use crate::triage::plan::{self, CheckChange, Ctx, PlanError};
use crate::triage::silence::Hold;

/// The problems of the templates of `templates` (as configured: overrides included).
pub fn template_problems(templates: &Templates) -> Vec<Problem> {
    let strict = templates.strict();
    let mut problems: Vec<Problem> = Vec::new();
    let results = [
        digest(&strict),
        status_notices(&strict),
        warn_notices(&strict),
        incidents(&strict),
        egress_alert(&strict),
        status_page(&strict),
        compat_outcomes(&strict),
        crate::http::dashboard::samples::render_all(&strict).map_err(|e| e.problem()),
    ];
    for problem in results.into_iter().filter_map(Result::err) {
        if !problems.contains(&problem) {
            problems.push(problem);
        }
    }
    problems
}

fn render_problem(e: &RenderError) -> Problem {
    match e {
        RenderError::Template(e) => e.problem(),
        RenderError::Blocks { template, source } => Problem::new(std::path::Path::new("templates").join(template), "-", source.to_string()),
    }
}

fn plan_problem(e: &PlanError) -> Problem {
    match e {
        PlanError::Slack(e) => render_problem(e),
        PlanError::Template(e) => e.problem(),
    }
}

fn partner() -> Partner {
    let text = "id = \"acme\"\nname = \"Acme Cloud\"\nowner_team = \"integrations\"\n\
                [status_page]\nkind = \"statuspage\"\nurl = \"https://status.acme.test/api/v2/summary.json\"\ncomponents = [\"API\"]\n\
                [public_status]\ncomponent_id = \"cmp1\"\n";
    toml::from_str(text).expect("the sample partner parses") // invariant: a constant partner file, read by the test below
}

fn digest(templates: &Templates) -> Result<(), Problem> {
    let entry = EntryRecord {
        key: "https://acme.test/changelog/v2".into(),
        title: "API v2 beta <announced>".into(),
        link: Some("https://acme.test/changelog/v2".into()),
        published_at: Some(Timestamp::from_millis(1_764_000_000_000)),
        summary: "The v2 API enters beta & brings *webhooks*.".into(),
        tags: vec!["beta".into()],
    };
    let claimed = |entry: EntryRecord, flood: Option<usize>| ClaimedEntry {
        partner_id: "acme".into(),
        feed_url: "https://acme.test/changelog.xml".into(),
        flood,
        entry,
    };
    let group = PartnerGroup { id: "acme".into(), name: "Acme Cloud".into(), entries: vec![claimed(entry.clone(), None)], flood: None };
    // A flood section too: a feed that brought more than max_new entries at once.
    let flooded = (0..7).map(|i| claimed(EntryRecord { key: format!("{}#{i}", entry.key), ..entry.clone() }, Some(5))).collect();
    let mut groups = vec![group];
    groups.extend(partner_groups("acme", "Acme Cloud", flooded));
    match render_digest(templates, "#ecosystem-updates", &groups) {
        Ok(_) => Ok(()),
        Err(DigestError::Render(e)) => Err(render_problem(&e)),
        Err(DigestError::Store(_)) => Ok(()),
    }
}

fn status_notices(templates: &Templates) -> Result<(), Problem> {
    let partner = partner();
    let page = partner.status_page.as_ref().ok_or_else(|| Problem::new("templates", "-", "sample partner without a page"))?;
    let detail = EventDetail {
        name: Some("Elevated API errors".into()),
        impact: Some(Indicator::Major),
        link: Some("https://stspg.io/p1".into()),
        components: vec!["API".into()],
        started_at: Some(Timestamp::from_millis(1_764_000_000_000).to_datetime()),
    };
    let steps = [
        (EventKind::IncidentOpened, None, Some("investigating")),
        (EventKind::IncidentUpdated, Some("investigating"), Some("identified")),
        (EventKind::IncidentResolved, Some("identified"), Some("resolved")),
        (EventKind::MaintenanceScheduled, None, Some("scheduled")),
        (EventKind::MaintenanceStarted, Some("scheduled"), Some("in_progress")),
        (EventKind::MaintenanceEnded, Some("in_progress"), Some("completed")),
    ];
    let events: Vec<StatusEvent> = steps.iter().map(|(kind, old, new)| StatusEvent::new(*kind, "p1", *old, *new, detail.clone())).collect();
    let now = Timestamp::from_millis(1_764_000_600_000).to_datetime();
    notices(templates, &partner, page, "#acme", &events, Indicator::Major, now).map(|_| ()).map_err(|e| render_problem(&e))
}

fn warn_notices(templates: &Templates) -> Result<(), Problem> {
    let partner = partner();
    let at = Timestamp::from_millis(1_764_000_000_000);
    let started = Warned { event: 1, check: "acme-api", change: WarnChange::Started, at, reason: Some("latency 2.4 s > warn_above 2 s") };
    let cleared = Warned { change: WarnChange::Cleared, reason: None, ..started };
    for warned in [started, cleared] {
        warn::notice(templates, &partner, "#acme", &warned, at + std::time::Duration::from_secs(900)).map_err(|e| render_problem(&e))?;
    }
    Ok(())
}

/// Every compatibility outcome: compatible, not compatible (P2 opened, and commented on),
/// compatible again (P2 resolved), inconclusive, lost.
fn compat_outcomes(templates: &Templates) -> Result<(), Problem> {
    let mut partner = partner();
    let compat: crate::config::CompatConfig =
        toml::from_str("repository = \"acme/integration-tests\"\nworkflow = \"acme-compat.yml\"\n").expect("a constant [compat]"); // invariant: a constant table
    partner.compat = Some(compat.clone());
    partner.owner_slack = Some("<!subteam^S0123>".to_owned());
    let github = crate::config::GitHubConfig::default();
    let at = Timestamp::from_millis(1_764_000_000_000);
    let mut detection = Detection {
        id: 1,
        partner_id: "acme".to_owned(),
        version: "v2.1".to_owned(),
        first_entry_key: "e1".to_owned(),
        first_entry_title: "API v2.1 beta".to_owned(),
        first_entry_link: Some("https://acme.test/changelog/v2-1".to_owned()),
        first_entry_published_at: Some(at),
        detected_at: at,
        entries: vec!["e1".to_owned()],
        p2: None,
        p2_incident: None,
        auto_dispatch: true,
    };
    let run = CompatRun {
        id: 1,
        detection_id: 1,
        partner_id: "acme".to_owned(),
        version: "v2.1".to_owned(),
        run_key: "sparky-acme-1-1-0a1b2c3d".to_owned(),
        state: RunState::InProgress,
        requested_by: RunTrigger::Detection,
        requested_at: at,
        run_id: Some(7),
        html_url: Some("https://github.com/acme/integration-tests/actions/runs/7".to_owned()),
        attempt: 1,
        decided_attempt: 0,
        reruns: 1,
        conclusion: None,
        started_at: Some(at),
        completed_at: None,
        failed_jobs: vec![],
        polls: 3,
        next_poll_at: at,
        last_error: None,
    };
    let job = FailedJob {
        name: "suite".to_owned(),
        url: Some("https://github.com/acme/j/1".to_owned()),
        conclusion: "failure".to_owned(),
        steps: vec![FailedStep { name: "Run tests".to_owned(), number: 4 }],
    };
    let completed = |conclusion: &str| GitHubRun {
        id: 7,
        html_url: run.html_url.clone(),
        status: "completed".to_owned(),
        conclusion: Some(conclusion.to_owned()),
        attempt: 1,
        started_at: Some(at),
        updated_at: Some(at + std::time::Duration::from_secs(250)),
    };
    let mut seen = vec![
        (Observation::Run { run: completed("success"), failed_jobs: vec![] }, None),
        (Observation::Run { run: completed("failure"), failed_jobs: vec![job.clone()] }, None),
        (Observation::Run { run: completed("action_required"), failed_jobs: vec![] }, None),
        (Observation::NotFound, None),
        (Observation::Run { run: completed("success"), failed_jobs: vec![] }, Some(P2State::Open)),
        (Observation::Run { run: completed("failure"), failed_jobs: vec![job] }, Some(P2State::Open)),
    ];
    for (observation, p2) in seen.drain(..) {
        detection.p2 = p2;
        detection.p2_incident = p2.map(|_| "compat:sparky-acme-1-1-0a1b2c3d".to_owned());
        let ctx =
            CompatContext { partner: &partner, compat: &compat, team: None, channel: "#acme", github: &github, detection: &detection };
        // Lost: past the follow timeout.
        let now = at + github.follow_timeout.get() + std::time::Duration::from_secs(1);
        compat_plan::next(templates, &ctx, &run, &observation, now).map_err(|e| render_problem(&e))?;
    }
    Ok(())
}

fn verdicts() -> [Verdict; 3] {
    let evidence = |indicator| Basis::Read(Evidence { indicator, components: vec![], counted: vec!["p1".into()], ignored: vec![] });
    let link = Some(("Elevated API errors".to_owned(), Some("https://stspg.io/p1".to_owned())));
    [
        Verdict {
            cause: Cause::Internal,
            reason: "Acme Cloud reports API operational".into(),
            public: None,
            partner_incident: None,
            basis: evidence(Indicator::None),
        },
        Verdict {
            cause: Cause::External,
            reason: "Acme Cloud reports API as major_outage".into(),
            public: Some(Public { component: ComponentStatus::MajorOutage, impact: Indicator::Major, maintenance: false }),
            partner_incident: link.clone(),
            basis: evidence(Indicator::Major),
        },
        Verdict {
            cause: Cause::External,
            reason: "Acme Cloud has a maintenance in progress: Database upgrade".into(),
            public: Some(Public { component: ComponentStatus::UnderMaintenance, impact: Indicator::Maintenance, maintenance: true }),
            partner_incident: link,
            basis: evidence(Indicator::Maintenance),
        },
    ]
}

fn incidents(templates: &Templates) -> Result<(), Problem> {
    let partner = partner();
    let ctx = Ctx { templates, partner: &partner, channel: "#acme", now: Timestamp::from_millis(1_764_001_380_000), hold: None };
    let hold = Hold { by: "alice".into(), until: Timestamp::from_millis(1_764_008_580_000), reason: "database upgrade".into() };
    let silenced = Ctx { templates, partner: &partner, channel: "#acme", now: ctx.now, hold: Some(hold) };
    let check: CheckId = "acme-api".parse().map_err(|e: String| Problem::new("templates", "-", e))?;
    let change = CheckChange { check: check.clone(), priority: Priority::P4, reason: Some("status is 2xx: got 503".into()), at: ctx.now };
    let incident = |cause: Cause| Incident {
        id: 7,
        partner: partner.id.clone(),
        cause,
        cause_reason: "Acme Cloud reports API operational".into(),
        priority: Priority::P4,
        dedup_key: check.to_string(),
        paged: cause == Cause::Internal,
        published: cause == Cause::External,
        held: Held::default(),
        generation: 1,
        status_unknown_since: None,
        recovered_polls: 0,
        opened_at: Timestamp::from_millis(1_764_000_000_000),
        checks: vec![check.clone()],
    };
    let run = || -> Result<(), PlanError> {
        for verdict in &verdicts() {
            let i = incident(verdict.cause);
            plan::open(&ctx, &i, &change, verdict)?;
            plan::recause(&ctx, &i, verdict, check.as_str(), change.reason.as_deref())?;
            plan::attach(&ctx, &i, &change)?;
            let recap = plan::Recap {
                checks: vec![check.clone()],
                pages: vec![(EventAction::Trigger, i.opened_at)],
                original: plan::open(&ctx, &i, &change, verdict)?.actions.iter().find_map(|a| match serde_json::from_str(&a.payload) {
                    Ok(crate::outbox::Action::SlackPost(post)) => Some(post),
                    _ => None,
                }),
            };
            plan::resolve(&ctx, &i, &change, &recap)?;
            plan::status_unknown(&ctx, &i, ctx.now, "HTTP 503")?;
            // Under a silence: the held page or public update said, then released.
            let opened = plan::open(&silenced, &i, &change, verdict)?;
            plan::recause(&silenced, &Incident { paged: false, published: false, ..i.clone() }, verdict, check.as_str(), None)?;
            plan::attach(&silenced, &Incident { held: opened.held, ..i.clone() }, &change)?;
            plan::release(&ctx, &Incident { paged: false, published: false, held: opened.held, ..i.clone() }, verdict, None)?;
        }
        Ok(())
    };
    run().map_err(|e| plan_problem(&e))
}

fn egress_alert(templates: &Templates) -> Result<(), Problem> {
    let since = Timestamp::from_millis(1_764_000_000_000);
    egress::down(templates, "#ops", since, &["https://canary.test/: timed out".into()])
        .and_then(|_| egress::up(templates, "#ops", since, Timestamp::from_millis(1_764_000_300_000)))
        .map(|_| ())
        .map_err(|e| plan_problem(&e))
}

fn status_page(templates: &Templates) -> Result<(), Problem> {
    let sample = r#"{"page": {"id": "sparky", "name": "Acme status", "url": "/status", "updated_at": "2026-11-25T09:00:00Z"},
        "components": [{"id": "acme", "name": "Acme Cloud", "status": "partial_outage", "position": 1}],
        "incidents": [{"id": "incident:7", "name": "Acme Cloud integration degraded", "status": "identified", "impact": "major",
          "created_at": "2026-11-25T09:00:00Z", "updated_at": "2026-11-25T09:05:00Z",
          "incident_updates": [{"id": "u1", "status": "identified", "body": "Acme Cloud is having problems.", "created_at": "2026-11-25T09:00:00Z"}],
          "components": [{"id": "acme", "name": "Acme Cloud", "status": "partial_outage"}]}],
        "scheduled_maintenances": [], "status": {"indicator": "major", "description": "Partial System Outage"}}"#;
    let summary: Summary = serde_json::from_str(sample).map_err(|e| Problem::new("templates", "-", e.to_string()))?;
    crate::http::status_page::render_samples(templates, &summary).map(|_| ()).map_err(|e: TemplateError| e.problem())
}

#[cfg(test)]
mod tests;
