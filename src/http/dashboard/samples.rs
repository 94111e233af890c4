//! Sample views of every dashboard page, rendered by `check-config` through the templates as
//! configured (overrides included, strictly), so a mistake in an override is found before a
//! person opens the page.

use std::time::Duration;

use super::changelog::{self, Changelog, Entry};
use super::compat::{self, Compat};
use super::ops::{self, ActionLine, Ops, ReplicaLine, SourceLine};
use super::overview::{self, CheckRow, CompatRow, EntryRow, IncidentRow, Overview, PageRow, PartnerIncidentRow, PartnerRow, RemoteLink};
use super::partner::{self, CheckWeek, IncidentLine, PartnerPage, StatusLine};
use super::vendor_lag;
use super::view::{Timeline, when};
use crate::compatibility::story::{self, Story};
use crate::model::{ActionState, Cause, CheckState, FailedJob, FailedStep, Indicator, Outcome, P2State, RunState, RunTrigger, Timestamp};
use crate::store::synthetics::Sample;
use crate::templates::{TemplateError, Templates};

/// Renders every dashboard template with a sample.
///
/// # Errors
/// The first template that fails.
pub fn render_all(templates: &Templates) -> Result<(), TemplateError> {
    let now = Timestamp::from_millis(1_764_000_000_000);
    let row = row(now);
    templates.render(overview::TEMPLATE, &Overview { generated_at: when(now, now), partners: vec![row.clone()] })?;
    let page = PartnerPage {
        generated_at: when(now, now),
        checks: vec![CheckWeek { id: "acme-api".to_owned(), success_ratio: Some(99.5), timeline: timeline(now, 168) }],
        status_history: vec![StatusLine {
            at: when(now, now),
            kind: "indicator".to_owned(),
            subject: String::new(),
            old: Some("none".to_owned()),
            new: Some("major".to_owned()),
            indicator: "major".to_owned(),
        }],
        incidents: vec![IncidentLine {
            id: 7,
            cause: Cause::External,
            opened_at: when(now, now),
            resolved_at: Some(when(now + Duration::from_secs(3600), now)),
            vendor_lag_minutes: Some(17),
            history: vec![(when(now, now), "opened".to_owned(), "acme-api failing".to_owned())],
        }],
        vendor_lag: vendor_lag::summary(&[Some(Duration::from_secs(17 * 60)), None]),
        entries: row.entries.clone(),
        compat: Vec::new(),
        summary: row.clone(),
    };
    templates.render(partner::TEMPLATE, &page)?;
    let log = Changelog {
        generated_at: when(now, now),
        partner: Some("acme".to_owned()),
        tag: Some("beta".to_owned()),
        partners: vec![("acme".to_owned(), "Acme Cloud".to_owned())],
        tags: changelog::TAGS.to_vec(),
        entries: vec![Entry {
            partner: "acme".to_owned(),
            partner_name: "Acme Cloud".to_owned(),
            atom_id: "urn:sparky:changelog:acme:0".to_owned(),
            summary: "Try the v2.1 endpoints.".to_owned(),
            updated: now.to_rfc3339_seconds(),
            row: row.entries[0].clone(),
        }],
    };
    templates.render(changelog::TEMPLATE, &log)?;
    templates.render(changelog::ATOM, &log)?;
    templates.render(compat::TEMPLATE, &compat_page(now))?;
    let ops = Ops {
        generated_at: when(now, now),
        admin: ops::Admin::SignedIn,
        actions: vec![ActionLine {
            id: 5,
            sink: "jira".to_owned(),
            state: ActionState::Dead,
            attempts: 8,
            next_attempt_at: when(now, now),
            last_error: Some("Jira answered HTTP 401 (JIRA_USER_EMAIL and JIRA_API_TOKEN are refused)".to_owned()),
        }],
        feeds: vec![source()],
        status_pages: vec![source()],
        replicas: vec![ReplicaLine {
            instance: "host-1-ab12".to_owned(),
            started_at: when(now, now),
            heartbeat_at: when(now, now),
            checks: vec!["acme-api".to_owned()],
            jobs: vec!["changelogs".to_owned()],
            leased_actions: 1,
        }],
    };
    templates.render(ops::TEMPLATE, &ops).map(drop)
}

fn source() -> SourceLine {
    SourceLine {
        partner: "acme".to_owned(),
        url: "https://status.acme.test/api/v2/summary.json".to_owned(),
        last_success: None,
        consecutive_failures: 3,
        last_error: Some("timed out after 10s".to_owned()),
    }
}

fn compat_page(now: Timestamp) -> Compat {
    let story = Story {
        id: 1,
        partner: "acme".to_owned(),
        version: "v2.1".to_owned(),
        detected_at: now,
        entry: story::Entry { key: "e1".to_owned(), title: "API v2.1 beta".to_owned(), link: Some("https://acme.test/v2-1".to_owned()) },
        entries: vec!["e1".to_owned()],
        auto_dispatch: true,
        p2: Some(story::P2 { state: P2State::Open, incident: "compat:k".to_owned(), jira_key: Some("OPS-8".to_owned()) }),
        runs: vec![story::Run {
            run_key: "sparky-acme-1-1-aaaa".to_owned(),
            state: RunState::Completed,
            requested_by: RunTrigger::Detection,
            requested_at: now,
            run_id: Some(7),
            url: Some("https://github.com/acme/compat/actions/runs/7".to_owned()),
            attempt: 1,
            reruns: 0,
            conclusion: Some("failure".to_owned()),
            started_at: Some(now),
            completed_at: Some(now),
            duration_seconds: Some(600),
            failed_jobs: vec![FailedJob {
                name: "suite".to_owned(),
                url: None,
                conclusion: "failure".to_owned(),
                steps: vec![FailedStep { name: "Run tests".to_owned(), number: 5 }],
            }],
            last_error: None,
        }],
    };
    Compat {
        generated_at: when(now, now),
        partner: None,
        team: Some("identity".to_owned()),
        partners: vec![("acme".to_owned(), "Acme Cloud".to_owned())],
        teams: vec!["identity".to_owned()],
        detections: vec![compat::Line {
            partner_name: "Acme Cloud".to_owned(),
            team: Some("identity".to_owned()),
            p2_url: None,
            entry_link: None,
            story,
        }],
    }
}

fn timeline(now: Timestamp, buckets: usize) -> Timeline {
    let samples = [Sample { at: now - Duration::from_secs(600), duration_ms: 120, outcome: Outcome::Pass }];
    Timeline::new(&samples, now - Duration::from_secs(3600 * buckets as u64), Duration::from_secs(3600), buckets, (672, 60))
}

fn row(now: Timestamp) -> PartnerRow {
    PartnerRow {
        id: "acme".to_owned(),
        name: "Acme Cloud".to_owned(),
        severity: 3,
        checks: vec![CheckRow {
            id: "acme-api".to_owned(),
            state: CheckState::Failing,
            last: Some(Outcome::Fail),
            last_at: Some(when(now, now)),
            p95_ms: Some(420),
            success_ratio: Some(97.9),
            sparkline: timeline(now, 48),
        }],
        status: Some(PageRow {
            indicator: Indicator::Major,
            description: Some("Partial System Outage".to_owned()),
            incidents: vec![PartnerIncidentRow {
                name: "Elevated API errors".to_owned(),
                impact: Indicator::Major,
                link: Some("https://stspg.io/p1".to_owned()),
            }],
            read_at: when(now, now),
            consecutive_failures: 0,
        }),
        incident: Some(IncidentRow {
            id: 7,
            cause: Cause::External,
            cause_reason: "Acme Cloud reports API as major_outage".to_owned(),
            evidence: Some("indicator major; API major_outage".to_owned()),
            opened_at: when(now, now),
            links: vec![RemoteLink {
                sink: "jira".to_owned(),
                id: "OPS-7".to_owned(),
                url: Some("https://acme.atlassian.net/browse/OPS-7".to_owned()),
            }],
        }),
        entries: vec![EntryRow {
            title: "API v2.1 beta".to_owned(),
            link: Some("https://acme.test/changelog/v2-1".to_owned()),
            published: Some(when(now, now)),
            tags: vec!["beta".to_owned()],
        }],
        compat: Some(CompatRow {
            version: "v2.1".to_owned(),
            state: "completed".to_owned(),
            conclusion: Some("failure".to_owned()),
            url: None,
            p2: Some("OPS-8".to_owned()),
        }),
    }
}
