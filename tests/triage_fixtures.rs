//! Triage as pure functions over real status pages (`../shared/fixtures/statuspages`, see its
//! PROVENANCE.md): for each capture, the cause decided for a check depending on which
//! components; and a sequence of readings against an open incident, under paused time.

#![allow(unreachable_pub, clippy::unwrap_used)] // test and bench code: a failed unwrap is a failed run

mod common;

use std::path::Path;
use std::time::Duration;

use sparky::config::StatusPageConfig;
use sparky::model::{Cause, Incident, PartnerStatus, Priority, Timestamp};
use sparky::sources::status_pages::adapters;
use sparky::triage::cause::{Verdict, decide};
use sparky::triage::recheck::{Step, next};

fn statuspage() -> StatusPageConfig {
    toml::from_str("kind = \"statuspage\"\nurl = \"https://www.githubstatus.com/api/v2/summary.json\"").unwrap()
}

/// The `[status_page]` of the shipped `partners/slack.toml`.
fn slack() -> StatusPageConfig {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("partners/slack.toml")).unwrap();
    let partner: toml::Table = toml::from_str(&text).unwrap();
    partner["status_page"].clone().try_into().unwrap()
}

fn read(dir: &Path, file: &str) -> PartnerStatus {
    let config = if file.starts_with("slack_") { slack() } else { statuspage() };
    let body = std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    adapters::parse(&config, &body, Some("application/json")).unwrap_or_else(|e| PartnerStatus::unreadable(e.message))
}

fn verdict(dir: &Path, file: &str, components: &[&str]) -> Verdict {
    let depends_on: Vec<String> = components.iter().map(|c| (*c).to_owned()).collect();
    decide("Partner", Some(&read(dir, file)), &depends_on)
}

use Cause::{External, Internal};

/// (fixture, components we depend on, expected cause, words the reason must hold).
const CASES: &[(&str, &[&str], Cause, &str)] = &[
    // A maintenance in progress on Codespaces only.
    ("githubstatus_summary_maintenance_in_progress_2025-05-31.json", &["API Requests"], Internal, "API Requests operational"),
    ("githubstatus_summary_maintenance_in_progress_2025-05-31.json", &["Codespaces"], External, "maintenance in progress"),
    ("githubstatus_summary_maintenance_in_progress_2025-05-31.json", &[], External, "maintenance in progress"),
    // Maintenances in progress naming no component, one on Actions, one only scheduled.
    ("githubstatus_summary_maintenance_inprogress_and_scheduled_2022-03-25.json", &["API Requests"], External, "not tied to a component"),
    ("githubstatus_summary_maintenance_inprogress_and_scheduled_2022-03-25.json", &["GitHub Actions"], External, "maintenance in progress"),
    // An incident naming no component beside a maintenance on Codespaces.
    ("githubstatus_summary_maintenance_plus_incident_2025-05-30.json", &["API Requests"], External, "not tied to a component"),
    // A green page with an open incident naming none.
    ("githubstatus_summary_none_incident_investigating_2026-08-20.json", &["API Requests"], External, "not tied to a component"),
    ("githubstatus_summary_none_incident_monitoring_2026-08-18.json", &[], External, "reports an incident"),
    // Only scheduled: never counts.
    ("githubstatus_summary_none_maintenance_scheduled_2025-05-29.json", &["Codespaces"], Internal, "Codespaces operational"),
    ("githubstatus_summary_none_maintenance_scheduled_2025-05-29.json", &[], Internal, "all operational"),
    // A major incident naming API Requests among others; Codespaces is not among them.
    ("githubstatus_summary_major_investigating_2026-08-17.json", &["API Requests"], External, "an incident"),
    ("githubstatus_summary_major_investigating_2026-08-17.json", &["Codespaces"], Internal, "Codespaces operational"),
    ("githubstatus_summary_major_investigating_2026-08-17.json", &[], External, "its status as major (Copilot: major_outage)"),
    ("githubstatus_summary_minor_investigating_2026-08-17.json", &["API Requests"], External, "API Requests as degraded_performance"),
    ("githubstatus_summary_minor_investigating_2026-08-17.json", &["Codespaces"], Internal, "Codespaces operational"),
    ("githubstatus_summary_major_outage_2020-04-02.json", &["Webhooks"], External, "Webhooks as major_outage"),
    ("githubstatus_summary_none_2026-08-22.json", &["API Requests"], Internal, "API Requests operational"),
    // incident.io: a minor incident naming no component counts; its impact-none notice does not.
    ("openai_incidentio_summary_minor_2026-09-29.json", &["Embeddings"], External, "Embeddings as degraded_performance"),
    ("openai_incidentio_summary_minor_2026-09-29.json", &["Ads API"], External, "not tied to a component"),
    // Slack: a notice is not an outage unless it names a service we use.
    ("slack_status_current_active_notice_2022-02-17.json", &[], Internal, "all operational"),
    ("slack_status_current_active_notice_2022-02-17.json", &["Messaging"], Internal, "Messaging operational"),
    ("slack_status_current_active_notice_2022-02-17.json", &["Login/SSO"], External, "an incident"),
    ("slack_status_current_active_incident_2024-02-27.json", &["Messaging"], External, "an incident"),
    ("slack_status_current_active_incident_2024-02-27.json", &["Calls"], Internal, "Calls operational"),
    ("slack_status_current_active_outage_2023-07-27.json", &[], External, "major"),
    ("slack_status_current_ok_2024-02-27.json", &["Messaging"], Internal, "Messaging operational"),
];

#[test]
fn each_real_page_gives_the_cause_the_components_we_use_imply() {
    let Some(dir) = common::shared_fixtures("statuspages") else { return };
    let mut wrong = Vec::new();
    for (file, components, cause, words) in CASES {
        let v = verdict(&dir, file, components);
        if v.cause != *cause || !v.reason.contains(words) {
            wrong.push(format!("{file} {components:?}: {} ({}), expected {cause} with \"{words}\"", v.cause, v.reason));
        }
        assert!(v.readable(), "{file}: read");
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_evidence_names_what_counted_and_what_did_not() {
    let Some(dir) = common::shared_fixtures("statuspages") else { return };
    let v = verdict(&dir, "githubstatus_summary_maintenance_plus_incident_2025-05-30.json", &["API Requests"]);
    let evidence = v.evidence().unwrap();
    assert_eq!(
        (evidence.counted.as_slice(), evidence.ignored.as_slice()),
        (&["p1rf575rlqml".to_owned()][..], &["nwjwwhj118sf".to_owned()][..])
    );
    assert_eq!(v.public.map(|p| p.impact.as_str()), Some("major"), "the partner's major stays major");
}

fn incident(cause: Cause) -> Incident {
    Incident {
        id: 1,
        partner: "github".parse().unwrap(),
        cause,
        cause_reason: String::new(),
        priority: Priority::P4,
        dedup_key: "github-api".into(),
        paged: cause == Cause::Internal,
        published: cause == Cause::External,
        held: Default::default(),
        generation: 0,
        status_unknown_since: None,
        recovered_polls: 0,
        opened_at: Timestamp::now(),
        checks: vec!["github-api".parse().unwrap()],
    }
}

/// An external incident on GitHub's API while githubstatus is down, unreadable, then green:
/// polls every 5 minutes of the one (paused) clock.
#[tokio::test(start_paused = true)]
async fn an_outage_then_an_unreadable_page_then_recovery_on_real_pages() {
    let Some(dir) = common::shared_fixtures("statuspages") else { return };
    let deps = ["API Requests"];
    let opened = verdict(&dir, "githubstatus_summary_minor_investigating_2026-08-17.json", &deps);
    assert_eq!(opened.cause, External);
    let mut i = incident(opened.cause);
    let readings = [
        ("edge_githubstatus_summary_empty_body_2023-12-19.json", "unknown"),
        ("edge_githubstatus_summary_empty_body_2023-12-19.json", "keep"),
        ("githubstatus_summary_none_2026-08-22.json", "hold"),
        ("githubstatus_summary_minor_investigating_2026-08-17.json", "keep"),
        ("githubstatus_summary_none_2026-08-22.json", "hold"),
        ("githubstatus_summary_none_2026-08-22.json", "change"),
    ];
    let mut unknown_at = None;
    for (file, expected) in readings {
        tokio::time::advance(Duration::from_secs(300)).await;
        let v = verdict(&dir, file, &deps);
        let n = next(&i, &v, 2, Timestamp::now());
        let step = match n.step {
            Step::Unknown { since } => {
                unknown_at = Some(since);
                "unknown"
            }
            Step::Keep => "keep",
            Step::Hold { .. } => "hold",
            Step::Change => "change",
        };
        assert_eq!(step, expected, "{file}: {}", v.reason);
        (i.status_unknown_since, i.recovered_polls) = (n.unknown_since, n.recovered_polls);
        if n.step == Step::Change {
            i.cause = v.cause;
        }
    }
    assert_eq!(i.cause, Internal, "internal only after two readable green polls in a row");
    assert_eq!(unknown_at.map(|t| t.since(i.opened_at)), Some(Duration::from_secs(300)), "unknown since the first unreadable poll");
}
