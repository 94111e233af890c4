//! Corpus test over the real status payloads and pages in `../shared/fixtures/statuspages` and
//! `../shared/fixtures/html` (read in place, never copied): every file goes through the adapter its
//! name implies and must give the indicator, incidents and maintenances written in [`EXPECTED`]
//! (the payload's own `status.indicator` where it has one; otherwise the value read by hand
//! from the file, with the reason). Every file must be listed and every listed file must exist,
//! so a new fixture cannot slip through unchecked.
//!
//! When the folders are absent (a checkout without the shared fixtures) the test says so and
//! passes.

#![allow(unreachable_pub, clippy::unwrap_used)] // test and bench code: a failed unwrap is a failed run

mod common;

use std::path::{Path, PathBuf};

use sparky::config::StatusPageConfig;
use sparky::model::Indicator::{Maintenance, Major, Minor, None as Operational};
use sparky::model::{Indicator, PartnerStatus};
use sparky::sources::status_pages::adapters::parse;

/// What a file must give.
enum Expect {
    /// Parses into this indicator, and these numbers of components, incidents, maintenances.
    Ok { indicator: Indicator, components: usize, incidents: usize, maintenances: usize },
    /// Fails with this error kind.
    Err(&'static str),
}

const fn ok(indicator: Indicator, components: usize, incidents: usize, maintenances: usize) -> Expect {
    Expect::Ok { indicator, components, incidents, maintenances }
}

/// Every corpus file (path under `fixtures/`) and what it must give.
const EXPECTED: &[(&str, Expect)] = &[
    // A 0-byte body: an error, never "operational".
    ("statuspages/edge_githubstatus_summary_empty_body_2023-12-19.json", Expect::Err("empty")),
    // GCP incidents.json: all 157 incidents have an `end`, so none is open; nothing declares an
    // indicator: derived from no open incident = none. (All 157 are read: see `gcp_reads_every_incident`.)
    ("statuspages/gcp_status_incidents_2022-07.json", ok(Operational, 0, 0, 0)),
    // components.json: no `status`; both components operational: derived none.
    ("statuspages/githubstatus_components_2024-09-17.json", ok(Operational, 2, 0, 0)),
    // history.atom: all 25 entries' newest update is "Resolved": none.
    ("statuspages/githubstatus_history_2026-08-22.atom", ok(Operational, 0, 0, 0)),
    // history.atom "active investigating": its newest entry (Incident/20910208) shows
    // "Investigating - Codespaces is operating normally." above "Resolved - This incident has been
    // resolved." of the same minute (May 28, 21:24), and the feed was written two days later with
    // no newer update: resolved (same-minute rule). Incident/20498552 (Apr 10) likewise ("Update",
    // "Investigating", "Resolved", all at 19:03). So nothing is open: none.
    ("statuspages/githubstatus_history_active_investigating_2024-05-30.atom", ok(Operational, 0, 0, 0)),
    // history.atom: newest entry "Codespaces Scheduled Maintenance", newest word "Scheduled"
    // (upcoming, not in progress); the older maintenances are "Completed", incidents "Resolved": none.
    ("statuspages/githubstatus_history_maintenance_scheduled_2025-05-27.atom", ok(Operational, 0, 0, 1)),
    // incidents.json: both incidents "resolved": none open, derived none.
    ("statuspages/githubstatus_incidents_2024-09-17.json", ok(Operational, 0, 0, 0)),
    // status.json: declares the indicator.
    ("statuspages/githubstatus_status_major_2026-08-17.json", ok(Major, 0, 0, 0)),
    ("statuspages/githubstatus_status_none_2026-08-22.json", ok(Operational, 0, 0, 0)),
    // summary.json: declares the indicator; the counts are those of the payload.
    ("statuspages/githubstatus_summary_maintenance_in_progress_2025-05-31.json", ok(Maintenance, 11, 0, 1)),
    // 3 in_progress + 1 scheduled (two entries "Migrations to GitHub are Paused").
    ("statuspages/githubstatus_summary_maintenance_inprogress_and_scheduled_2022-03-25.json", ok(Maintenance, 10, 0, 4)),
    ("statuspages/githubstatus_summary_maintenance_plus_incident_2025-05-30.json", ok(Maintenance, 11, 1, 1)),
    ("statuspages/githubstatus_summary_major_investigating_2026-08-17.json", ok(Major, 12, 1, 0)),
    ("statuspages/githubstatus_summary_major_outage_2020-04-02.json", ok(Major, 9, 1, 0)),
    ("statuspages/githubstatus_summary_minor_investigating_2026-08-17.json", ok(Minor, 12, 1, 0)),
    ("statuspages/githubstatus_summary_none_2019-12-30.json", ok(Operational, 9, 0, 0)),
    ("statuspages/githubstatus_summary_none_2026-08-22.json", ok(Operational, 12, 0, 0)),
    ("statuspages/githubstatus_summary_none_incident_investigating_2026-08-20.json", ok(Operational, 12, 1, 0)),
    ("statuspages/githubstatus_summary_none_incident_monitoring_2026-08-18.json", ok(Operational, 12, 1, 0)),
    ("statuspages/githubstatus_summary_none_maintenance_scheduled_2025-05-29.json", ok(Operational, 11, 0, 1)),
    // incident.io summary: declares minor; 2 incidents investigating.
    ("statuspages/openai_incidentio_summary_minor_2026-09-29.json", ok(Minor, 25, 2, 0)),
    // Slack: "active" with one `type: incident` -> minor (rule in partners/slack.toml).
    ("statuspages/slack_status_current_active_incident_2024-02-27.json", ok(Minor, 0, 1, 0)),
    // Slack: one `type: notice` (2FA SMS via an upstream partner): informational, none; still listed.
    ("statuspages/slack_status_current_active_notice_2022-02-17.json", ok(Operational, 0, 1, 0)),
    // Slack: one `type: outage` -> major.
    ("statuspages/slack_status_current_active_outage_2023-07-27.json", ok(Major, 0, 1, 0)),
    // Microsoft 365 Service Health (Graph healthOverviews): three services, one "ServiceRestored"
    // (operational again), no issue listed.
    ("statuspages/m365_service_health_overviews_example.json", ok(Operational, 3, 0, 0)),
    // With `$expand=issues`: one service whose one issue is resolved: nothing open.
    ("statuspages/m365_service_health_overviews_with_issues_example.json", ok(Operational, 1, 0, 0)),
    // Slack: "ok", no incidents: none.
    ("statuspages/slack_status_current_ok_2024-02-27.json", ok(Operational, 0, 0, 0)),
    // Statuspage HTML: banner "All Systems Operational" (page-status status-none); 39 component rows.
    ("html/statuspage_1password_all_operational_2021-01.html", ok(Operational, 39, 0, 0)),
    // Statuspage HTML: no banner (replaced by the unresolved incident "PyPI XMLRPC Search Disabled",
    // impact-major); "PyPI" group and "pypi.org - Backends" partial_outage: derived major.
    ("html/statuspage_python_infra_unresolved_major_2021-01.html", ok(Major, 105, 1, 0)),
];

/// Statuspage-hosted HTML pages.
const STATUSPAGE_HTML: &str = r#"
kind = "html"
url = "https://status.example.test/"
overall = ".page-status"
component = ".component-inner-container"
component_name = ".name"
component_status = ".component-status"
incident = ".unresolved-incident"
incident_name = ".actual-title"
"#;

/// Google Cloud's incidents.json: an array; open = no `end`.
const GCP: &str = r#"
kind = "json"
url = "https://status.cloud.google.com/incidents.json"
[json]
incidents = "$[?!@.end || @.end == null]"
incident_name = "$.external_desc"
incident_status = "$.most_recent_update.status"
incident_impact = "$.severity"
incident_started = "$.begin"
incident_link = "$.uri"
incident_components = "$.affected_products[*].title"
"#;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures")
}

fn config(text: &str) -> StatusPageConfig {
    toml::from_str(text).unwrap_or_else(|e| panic!("config: {e}"))
}

/// The `[status_page]` of a shipped partner file, as written: the test reads the shipped config.
fn shipped_table(file: &str) -> toml::Table {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("partners").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut partner: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    match partner.remove("status_page") {
        Some(toml::Value::Table(page)) => page,
        _ => panic!("no [status_page] in {file}"),
    }
}

/// [`shipped_table`] parsed (`${VAR}`s are left as written: the adapters do not read them).
fn shipped(file: &str) -> StatusPageConfig {
    toml::Value::Table(shipped_table(file)).try_into().unwrap_or_else(|e| panic!("{file} [status_page]: {e}"))
}

/// The adapter config a file's name implies.
fn config_for(file: &str) -> StatusPageConfig {
    let name = file.rsplit('/').next().unwrap_or(file);
    if file.starts_with("html/") {
        config(STATUSPAGE_HTML)
    } else if name.ends_with(".atom") {
        config("kind = \"feed\"\nurl = \"https://www.githubstatus.com/history.atom\"")
    } else if name.starts_with("slack_status_") {
        shipped("slack.toml")
    } else if name.starts_with("gcp_") {
        config(GCP)
    } else if name.starts_with("m365_") {
        // Microsoft 365 Service Health through Graph (`healthOverviews?$expand=issues`).
        shipped("microsoft-graph.toml")
    } else {
        config("kind = \"statuspage\"\nurl = \"https://www.githubstatus.com/api/v2/summary.json\"")
    }
}

/// Files present under `fixtures/statuspages` and `fixtures/html`, as `dir/name`.
fn present(root: &Path) -> Vec<String> {
    let mut files = Vec::new();
    for dir in ["statuspages", "html"] {
        let entries = std::fs::read_dir(root.join(dir)).unwrap_or_else(|e| panic!("cannot list {dir}: {e}"));
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type().is_ok_and(|t| t.is_file()) && !name.starts_with('.') {
                files.push(format!("{dir}/{name}"));
            }
        }
    }
    files.sort();
    files
}

/// Content checks that hold for any parsed page.
fn well_formed(file: &str, page: &PartnerStatus) {
    assert_ne!(page.indicator, Indicator::Unknown, "{file}: a parsed page is never unknown");
    for i in &page.incidents {
        assert!(!i.id.is_empty() && !i.name.is_empty() && !i.status.is_empty(), "{file}: incident without id/name/status: {i:?}");
        assert!(!matches!(i.status.as_str(), "resolved" | "postmortem" | "completed"), "{file}: a closed incident is listed: {i:?}");
    }
    for m in &page.maintenances {
        assert!(matches!(m.status.as_str(), "scheduled" | "in_progress" | "verifying"), "{file}: maintenance status {:?}", m.status);
    }
    for c in &page.components {
        assert!(!c.name.is_empty(), "{file}: a component without a name");
    }
}

#[test]
fn every_status_page_fixture_gives_the_indicator_it_declares() {
    let root = fixtures();
    if common::shared_fixtures("statuspages").is_none() || common::shared_fixtures("html").is_none() {
        return;
    }
    let files = present(&root);
    let listed: Vec<&str> = EXPECTED.iter().map(|(f, _)| *f).collect();
    let unlisted: Vec<&String> = files.iter().filter(|f| !listed.contains(&f.as_str())).collect();
    assert!(unlisted.is_empty(), "fixtures without an expected value in EXPECTED: {unlisted:?}");
    let mut failures = Vec::new();
    for (file, expect) in EXPECTED {
        let body = std::fs::read(root.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let result = parse(&config_for(file), &body, None);
        match (expect, result) {
            (Expect::Err(kind), Err(e)) => {
                println!("{file}: Err({}) {}", e.kind, e.message);
                assert!(!e.message.is_empty(), "{file}: an error without a message");
                if e.kind.as_str() != *kind {
                    failures.push(format!("{file}: error kind {} ({}), expected {kind}", e.kind, e.message));
                }
            }
            (Expect::Err(kind), Ok(page)) => {
                failures.push(format!("{file}: parsed ({}), expected the error {kind}", page.indicator.as_str()))
            }
            (Expect::Ok { .. }, Err(e)) => failures.push(format!("{file}: {} ({})", e.message, e.kind)),
            (Expect::Ok { indicator, components, incidents, maintenances }, Ok(page)) => {
                well_formed(file, &page);
                let got = (page.indicator, page.components.len(), page.incidents.len(), page.maintenances.len());
                println!("{file}: {} components={} incidents={} maintenances={}", got.0.as_str(), got.1, got.2, got.3);
                if got != (*indicator, *components, *incidents, *maintenances) {
                    failures.push(format!("{file}: got {got:?}, expected {:?}", (indicator, components, incidents, maintenances)));
                }
            }
        }
    }
    assert!(failures.is_empty(), "corpus failures:\n{}", failures.join("\n"));
}

#[test]
fn the_content_is_read_not_just_counted() {
    let root = fixtures();
    if common::shared_fixtures("statuspages").is_none() || common::shared_fixtures("html").is_none() {
        return;
    }
    let read = |file: &str| {
        let body = std::fs::read(root.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        parse(&config_for(file), &body, None).unwrap_or_else(|e| panic!("{file}: {e}"))
    };
    let p = read("statuspages/githubstatus_summary_major_investigating_2026-08-17.json");
    let i = &p.incidents[0];
    assert_eq!((i.id.as_str(), i.impact, i.status.as_str()), ("zkxwbgr0cnmx", Indicator::Critical, "investigating"));
    assert!(i.components.iter().any(|c| c == "Copilot") && i.shortlink.is_some() && i.started_at.is_some());
    assert_eq!(p.worst_component().map(|c| c.name.as_str()), Some("Copilot"));
    let p = read("statuspages/githubstatus_history_maintenance_scheduled_2025-05-27.atom");
    let m = &p.maintenances[0];
    assert_eq!((m.name.as_str(), m.status.as_str()), ("Codespaces Scheduled Maintenance", "scheduled"));
    assert_eq!(m.scheduled_for.map(|t| t.to_rfc3339()), Some("2025-05-28T16:30:00+00:00".to_owned()));
    let p = read("statuspages/slack_status_current_active_outage_2023-07-27.json");
    let i = &p.incidents[0];
    assert_eq!((i.id.as_str(), i.impact, i.components.len()), ("1247", Indicator::Major, 4));
    assert_eq!(i.shortlink.as_deref(), Some("https://status.slack.com/2023-07/08e3781ccbef33d5"));
    let p = read("html/statuspage_python_infra_unresolved_major_2021-01.html");
    let i = &p.incidents[0];
    assert_eq!((i.name.as_str(), i.impact, i.status.as_str()), ("PyPI XMLRPC Search Disabled", Indicator::Major, "monitoring"));
    assert_eq!(i.shortlink.as_deref(), Some("https://status.example.test/incidents/grk0k7sz6zkp"));
    assert_eq!(p.effective(&["pypi.org - CDN".to_owned()]).map(|s| s.as_str()), Some("operational"));
    assert_eq!(p.effective(&["pypi.org - Backends".to_owned()]).map(|s| s.as_str()), Some("partial_outage"));
    let p = read("html/statuspage_1password_all_operational_2021-01.html");
    assert_eq!(p.description.as_deref(), Some("All Systems Operational"));
}

#[test]
fn gcp_reads_every_incident() {
    let file = fixtures().join("statuspages/gcp_status_incidents_2022-07.json");
    if common::shared_fixtures("statuspages").is_none() {
        return;
    }
    let body = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    // The shipped GCP config with every incident taken as open: all 157 are read, with their
    // severity (low/medium/high) as minor/major/critical, so an open one would count.
    let all = config(&GCP.replace("$[?!@.end || @.end == null]", "$[*]"));
    let page = parse(&all, &body, None).unwrap_or_else(|e| panic!("gcp: {e}"));
    assert_eq!(page.incidents.len(), 157);
    let count = |i: Indicator| page.incidents.iter().filter(|x| x.impact == i).count();
    assert_eq!((count(Minor), count(Major), count(Indicator::Critical)), (19, 118, 20));
    assert!(
        page.incidents.iter().all(|i| i.shortlink.as_deref().is_some_and(|l| l.starts_with("https://status.cloud.google.com/incidents/")))
    );
    assert_eq!(page.indicator, Indicator::Critical);
}

#[test]
fn both_microsoft_partners_read_service_health_the_same_way() {
    let (mut graph, mut m365) = (shipped_table("microsoft-graph.toml"), shipped_table("microsoft-365.toml"));
    let (graph_names, m365_names) = (graph.remove("components"), m365.remove("components"));
    assert_eq!(graph, m365, "the two files' [status_page] differ in more than `components`");
    assert_ne!(graph_names, m365_names);
    let page = shipped("microsoft-365.toml");
    assert!(page.optional && page.auth.is_some(), "credentials from the environment, optional");
}
