//! The status page watcher end to end, in-process against status pages and a fake Slack on
//! loopback (the real binary for `sparky status`'s output).

#![allow(unreachable_pub, clippy::unwrap_used)] // test and bench code: a failed unwrap is a failed run

mod common;

use serde_json::{Value, json};
use sparky::model::{Indicator, Timestamp};
use sparky::store::Store;
use sparky::store::status::events;

use common::fake_feeds::{FakeFeeds, Served};
use common::fake_slack::FakeSlack;
use common::{Db, Sparky};

const JSON: &str = "application/json";

/// A Statuspage v2 `summary.json` with components API and Webhooks.
fn summary(indicator: &str, webhooks: &str, incidents: Value) -> String {
    json!({
        "page": {"id": "acme", "name": "Acme Cloud", "url": "https://status.acme.test", "time_zone": "Etc/UTC", "updated_at": "2026-11-25T10:00:00Z"},
        "status": {"indicator": indicator, "description": if indicator == "none" { "All Systems Operational" } else { "Partial System Outage" }},
        "components": [
            {"id": "c1", "name": "API", "status": "operational", "group": false, "group_id": null},
            {"id": "c2", "name": "Webhooks", "status": webhooks, "group": false, "group_id": null}
        ],
        "incidents": incidents,
        "scheduled_maintenances": []
    })
    .to_string()
}

fn incident(status: &str) -> Value {
    json!([{
        "id": "inc1", "name": "Delayed webhook deliveries", "status": status, "impact": "major",
        "created_at": "2026-11-25T09:00:00Z", "started_at": "2026-11-25T09:00:00Z",
        "shortlink": "https://stspg.io/inc1", "components": [{"id": "c2", "name": "Webhooks", "status": "partial_outage"}],
        "incident_updates": []
    }])
}

async fn setup() -> (Sparky, FakeFeeds, FakeSlack, String) {
    let pages = FakeFeeds::start().await;
    let slack = FakeSlack::start().await;
    let url = pages.serve("/api/v2/summary.json", Served::Body(summary("none", "operational", json!([])), JSON));
    let sparky = Sparky::new(Db::Sqlite).slack(&slack.api_url());
    sparky.write(
        "partners/acme.toml",
        &format!("id = \"acme\"\nname = \"Acme Cloud\"\nslack_channel = \"#acme-integration\"\n[status_page]\nkind = \"statuspage\"\nurl = \"{url}\"\ncomponents = [\"API\"]\n"),
    );
    sparky.write("sparky.toml", "[http]\nretries = 0\ntimeout = \"2s\"\nmax_body = \"1MiB\"\n");
    (sparky, pages, slack, url)
}

async fn event_list(sparky: &Sparky) -> Vec<String> {
    let store = Store::open(&format!("sqlite://{}", sparky.sqlite_path().display())).await.unwrap();
    let list = events(&store, "acme", Timestamp::EPOCH, 1000).await.unwrap();
    store.close().await;
    list.iter()
        .map(|e| {
            format!(
                "{} {} {}->{}",
                e.event.kind.as_str(),
                e.event.subject,
                e.event.old.as_deref().unwrap_or("-"),
                e.event.new.as_deref().unwrap_or("-")
            )
        })
        .collect()
}

#[tokio::test]
async fn a_sequence_of_payloads_gives_exactly_the_expected_events_and_notices() {
    let (sparky, pages, slack, _) = setup().await;
    let path = "/api/v2/summary.json";
    let step = |body: String| {
        pages.serve(path, Served::Body(body, JSON));
        sparky.status()
    };

    step(summary("none", "operational", json!([]))).await;
    assert_eq!(event_list(&sparky).await, vec!["indicator  -->none"]);
    assert!(slack.posted().is_empty(), "an all-green first reading posts nothing");

    let run = step(summary("major", "partial_outage", incident("investigating"))).await;
    let acme = &run.partners[0].status;
    assert_eq!(acme.indicator, Indicator::Major);
    assert_eq!(acme.worst_component().map(|c| c.name.as_str()), Some("Webhooks"));
    assert_eq!(acme.incidents.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(), ["Delayed webhook deliveries"]);
    assert_eq!(run.notices, 1);
    let posted = slack.posted();
    assert_eq!(posted.len(), 1, "incident opened");
    assert_eq!(posted[0].body["channel"], "#acme-integration", "the partner's channel");
    let text = posted[0].all_text();
    assert!(
        text.contains("Acme Cloud reports an incident") && text.contains("<https://stspg.io/inc1|Delayed webhook deliveries>"),
        "{text}"
    );
    assert!(text.contains("major") && text.contains("Webhooks"), "impact and components: {text}");

    step(summary("major", "partial_outage", incident("investigating"))).await;
    assert_eq!(slack.attempts().len(), 1, "a repeated payload posts nothing");

    step(summary("major", "partial_outage", incident("identified"))).await;
    assert_eq!(slack.posted().len(), 2, "incident updated");
    assert!(slack.posted()[1].all_text().contains("investigating → identified"));

    step(summary("none", "operational", json!([]))).await;
    assert_eq!(slack.posted().len(), 3, "incident resolved");
    let resolved = slack.posted()[2].all_text();
    assert!(resolved.contains("incident resolved") && resolved.contains("Lasted"), "{resolved}");

    // Flapping: the incident comes back for one poll and goes again: nothing is posted twice.
    step(summary("major", "partial_outage", incident("identified"))).await;
    step(summary("none", "operational", json!([]))).await;
    assert_eq!(slack.posted().len(), 3, "flapping between two polls is not re-posted");

    assert_eq!(
        event_list(&sparky).await,
        vec![
            "indicator  -->none",
            "indicator  none->major",
            "component Webhooks operational->partial_outage",
            "incident_opened inc1 -->investigating",
            "incident_updated inc1 investigating->identified",
            "indicator  major->none",
            "component Webhooks partial_outage->operational",
            "incident_resolved inc1 identified->resolved",
            "indicator  none->major",
            "component Webhooks operational->partial_outage",
            "incident_opened inc1 -->identified",
            "indicator  major->none",
            "component Webhooks partial_outage->operational",
            "incident_resolved inc1 identified->resolved",
        ]
    );
    assert_eq!(slack.spec_violations(), Vec::<String>::new());
}

#[tokio::test]
async fn an_unchanged_page_costs_a_304_and_records_nothing() {
    let (sparky, pages, _slack, _) = setup().await;
    sparky.status().await;
    sparky.status().await;
    let requests = pages.requests("/api/v2/summary.json").await;
    assert!(requests[1].headers.get("if-none-match").is_some());
    assert_eq!(event_list(&sparky).await.len(), 1);
}

#[tokio::test]
async fn an_outage_of_a_component_we_do_not_use_leaves_us_operational() {
    let (sparky, pages, _slack, _) = setup().await;
    pages.serve("/api/v2/summary.json", Served::Body(summary("major", "partial_outage", incident("investigating")), JSON));
    let run = sparky.cli(&["status", "acme", "--json"]).await;
    run.expect_code(0);
    let view: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(view["status"]["indicator"], "major");
    assert_eq!(view["effective"], "operational", "we depend on API only: {view}");
    let human = sparky.cli(&["status", "acme"]).await.stdout;
    assert!(human.contains("effective status for us (API): operational"), "{human}");
    assert!(human.contains("[major] Delayed webhook deliveries: investigating"), "{human}");
}

#[tokio::test]
async fn a_page_that_cannot_be_read_is_unknown_never_operational() {
    let pages = FakeFeeds::start().await;
    let sparky = Sparky::new(Db::Sqlite);
    sparky.write("sparky.toml", "[http]\nretries = 0\ntimeout = \"2s\"\nmax_body = \"1MiB\"\n");
    let cases = [
        ("html", Served::Body("<!DOCTYPE html><html><body>Please sign in</body></html>".to_owned(), "text/html")),
        ("truncated", Served::Body(summary("none", "operational", json!([]))[..120].to_owned(), JSON)),
        ("huge", Served::Body(format!("{{\"pad\": \"{}\"}}", "x".repeat(10 * 1024 * 1024)), JSON)),
        ("hangs", Served::Hang),
        ("good", Served::Body(summary("none", "operational", json!([])), JSON)),
    ];
    for (id, served) in cases {
        let url = pages.serve(&format!("/{id}/summary.json"), served);
        sparky.write(
            &format!("partners/{id}.toml"),
            &format!("id = \"{id}\"\nname = \"{id}\"\n[status_page]\nkind = \"statuspage\"\nurl = \"{url}\"\n"),
        );
    }
    let run = sparky.status().await;
    let report = |id: &str| run.partners.iter().find(|r| r.partner == id).unwrap_or_else(|| panic!("no report of {id}"));
    for id in ["html", "truncated", "huge", "hangs"] {
        let r = report(id);
        assert_eq!(r.status.indicator, Indicator::Unknown, "{id}: {r:?}");
        assert!(r.status.error.is_some(), "{id}: the error is kept");
    }
    assert_eq!(report("huge").result, "too_large");
    assert_eq!(report("hangs").result, "timeout");
    assert_eq!(report("good").status.indicator, Indicator::None);
    let human = sparky.cli(&["once", "status"]).await;
    human.expect_code(0);
    assert!(human.stdout.contains("status: 5 partners, 4 unreadable"), "{}", human.stdout);
}

#[tokio::test]
async fn a_page_with_nothing_to_read_is_no_status_and_keeps_what_was_known() {
    let (sparky, pages, _slack, _) = setup().await;
    sparky.status().await;
    for body in ["{}", r#"{"status":{}}"#, r#"{"error":"Service Unavailable"}"#, "[]"] {
        pages.serve("/api/v2/summary.json", Served::Body(body.to_owned(), JSON));
        let run = sparky.status().await;
        let acme = &run.partners[0];
        assert_eq!((acme.status.indicator, acme.result.as_str()), (Indicator::Unknown, "no_status"), "{body}: {acme:?}");
        assert!(acme.status.error.as_deref().is_some_and(|e| e.starts_with("nothing to read")), "{body}: {acme:?}");
        assert_eq!(acme.status.components.len(), 2, "{body}: what was known is kept");
    }
    assert_eq!(event_list(&sparky).await, vec!["indicator  -->none", "indicator  none->unknown"], "nothing else changed");
}
