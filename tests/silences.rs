//! Silences and maintenance windows of our own side (issue 12), in-process against the loopback
//! fakes: a silenced check still runs and its incident still opens, but the page (PagerDuty
//! trigger) and the public status update are held, Slack and Jira say "silenced by NAME until T:
//! REASON", and what was held goes out once when the silence ends with the incident still open.
//! Time moves with `time_travel` (the one clock, paused and advanced), never by sleeping. And
//! `sparky silence add | list | end` through the real binary: its output and exit codes.

#![allow(unreachable_pub, clippy::unwrap_used)] // test and bench code: a failed unwrap is a failed run

mod common;

use std::time::Duration;

use common::fake_jira::adf_text;
use common::time_travel;
use common::world::World;
use common::{Db, Sparky};
use regex::Regex;
use serde_json::Value;
use sparky::model::{Silence, SilenceTarget, Timestamp};
use sparky::store::silences::{self, NewSilence};

const HOUR: Duration = Duration::from_secs(3600);
const MINUTE: Duration = Duration::from_secs(60);

/// A silence by alice over `target`, from now for `length`, added as the admin actions will add
/// it (the store function).
async fn silence(w: &World, target: SilenceTarget, length: Duration) -> Silence {
    let app = w.sparky.app().await;
    let now = Timestamp::now();
    let new = NewSilence {
        target: &target,
        starts_at: now,
        ends_at: now + length,
        reason: "database upgrade",
        created_by: "alice",
        created_at: now,
    };
    let added = silences::add(&app.store, &new).await.unwrap();
    app.store.close().await;
    added
}

fn acme() -> SilenceTarget {
    SilenceTarget::Partner("acme".parse().unwrap())
}

fn slack_text(w: &World) -> String {
    w.slack.posted().iter().map(common::fake_slack::Post::all_text).collect::<Vec<_>>().join("\n---\n")
}

fn jira_text(w: &World) -> String {
    let issue = &w.jira.created()[0];
    let mut text = adf_text(&issue.fields["description"]);
    for comment in w.jira.comments(&issue.key) {
        text.push('\n');
        text.push_str(&comment);
    }
    text
}

#[tokio::test]
async fn a_silence_on_a_failing_check_holds_the_page_and_its_end_sends_exactly_one_trigger() {
    let w = World::new(&["acme-api"], "").await;
    let s = silence(&w, acme(), 2 * HOUR).await;
    w.partner_api(500);
    let out = w.once("synthetics").await;
    assert!(out.contains("\"decision\":\"opened\"") && out.contains("\"cause\":\"internal\""), "the incident still opens: {out}");
    assert!(w.pages("trigger").is_empty(), "no page while the silence lasts");
    assert!(w.statuspage.incidents().is_empty() && w.statuspage.component_updates().is_empty());
    let said = format!("silenced by alice until {}: database upgrade", s.ends_at.to_rfc3339_seconds());
    assert!(jira_text(&w).contains(&format!("Page held: {said}")), "the Jira issue says silenced:\n{}", jira_text(&w));
    assert!(slack_text(&w).contains(&format!("page held: {said}")), "Slack says silenced:\n{}", slack_text(&w));
    let incidents = w.sparky.cli(&["incidents"]).await;
    assert!(incidents.stdout.contains("acme     open silenced (page held)  internal"), "{}", incidents.stdout);
    assert!(incidents.stdout.contains(&format!("silenced  {said}; page held")), "its history: {}", incidents.stdout);
    let json: Value = serde_json::from_str(&w.sparky.cli(&["--json", "incidents"]).await.stdout).unwrap();
    assert_eq!(json[0]["held"], serde_json::json!({"page": true, "public": false}));

    // Still failing, still silenced: another run changes nothing.
    w.once("synthetics").await;
    assert!(w.pages("trigger").is_empty());

    time_travel(2 * HOUR + MINUTE).await;
    w.once("synthetics").await;
    let triggers = w.pages("trigger");
    assert_eq!(triggers.len(), 1, "the held page goes out when the silence ends with the check still failing");
    assert_eq!(triggers[0]["dedup_key"], "acme-api");
    assert!(slack_text(&w).contains("Acme Cloud: silence ended: paging on-call (acme-api still failing)"), "{}", slack_text(&w));
    assert!(jira_text(&w).contains("silence ended: paging on-call"), "{}", jira_text(&w));
    w.once("synthetics").await;
    w.once("status").await;
    assert_eq!(w.pages("trigger").len(), 1, "exactly one trigger");
    let incidents = w.sparky.cli(&["incidents"]).await.stdout;
    assert!(!incidents.contains("silenced (page held)") && incidents.contains("released"), "{incidents}");
    w.no_spec_violations();
}

#[tokio::test]
async fn a_maintenance_window_holds_the_page_until_it_ends_under_paused_time() {
    // A daily window that started this minute and lasts ten minutes.
    let now = Timestamp::now().to_datetime();
    let cron = now.format("%-M %-H * * *").to_string();
    let window = format!(
        "[[maintenance]]\nname = \"db-upgrade\"\npartner = \"acme\"\nreason = \"planned failover\"\ncron = \"{cron}\"\nduration = \"10m\"\n"
    );
    let w = World::new(&["acme-api"], &window).await;
    w.partner_api(500);
    w.once("synthetics").await;
    assert_eq!(w.jira.created().len(), 1, "the incident opens");
    assert!(w.pages("trigger").is_empty(), "no page while the window lasts");
    let until = now.format("%Y-%m-%dT%H:%M:00Z").to_string();
    let until = Timestamp::parse_rfc3339(&until).unwrap() + 10 * MINUTE;
    let said = format!("silenced by db-upgrade until {}: planned failover", until.to_rfc3339_seconds());
    assert!(jira_text(&w).contains(&said), "{}", jira_text(&w));
    assert!(slack_text(&w).contains(&said), "{}", slack_text(&w));

    time_travel(5 * MINUTE).await;
    w.once("synthetics").await;
    assert!(w.pages("trigger").is_empty(), "five minutes in, still held");

    time_travel(6 * MINUTE).await;
    w.once("synthetics").await;
    assert_eq!(w.pages("trigger").len(), 1, "one trigger once the window is over");
    w.once("synthetics").await;
    assert_eq!(w.pages("trigger").len(), 1, "exactly one");
}

#[tokio::test]
async fn an_external_incident_under_silence_publishes_nothing_and_publishes_once_at_the_end() {
    let w = World::new(&["acme-api"], "").await;
    silence(&w, SilenceTarget::Check("acme-api".parse().unwrap()), HOUR).await;
    w.partner_api(503);
    w.partner_page("major", "major_outage", true);
    let out = w.once("synthetics").await;
    assert!(out.contains("\"cause\":\"external\""), "{out}");
    assert!(w.statuspage.component_updates().is_empty() && w.statuspage.incidents().is_empty(), "no public update while silenced");
    assert!(w.pages("trigger").is_empty());
    assert!(slack_text(&w).contains("public status update held: silenced by alice"), "{}", slack_text(&w));
    assert!(jira_text(&w).contains("Public status update held: silenced by alice"), "{}", jira_text(&w));
    w.once("status").await;
    assert!(w.statuspage.incidents().is_empty(), "a status poll under the silence publishes nothing either");

    time_travel(HOUR + MINUTE).await;
    w.once("status").await;
    assert_eq!(w.statuspage.component_updates(), vec![("cmp-acme".to_owned(), "major_outage".to_owned())], "published once at the end");
    let incidents = w.statuspage.incidents();
    assert_eq!(incidents.len(), 1);
    assert!(incidents[0].to_string().contains("https://stspg.io/p1"), "in the partner's words: {}", incidents[0]);
    assert!(slack_text(&w).contains("silence ended: updating our public status page"), "{}", slack_text(&w));
    w.once("synthetics").await;
    assert_eq!((w.statuspage.incidents().len(), w.statuspage.component_updates().len()), (1, 1), "once");
    assert!(w.pages("trigger").is_empty(), "an external cause pages nobody, silenced or not");
    w.no_spec_violations();
}

#[tokio::test]
async fn a_silence_that_ends_after_the_incident_recovered_sends_nothing() {
    let w = World::new(&["acme-api"], "").await;
    silence(&w, acme(), HOUR).await;
    w.partner_api(500);
    w.once("synthetics").await;
    assert_eq!(w.jira.created().len(), 1);
    w.partner_api(200);
    let out = w.once("synthetics").await;
    assert!(out.contains("\"decision\":\"resolved\""), "{out}");
    let key = w.jira.created()[0].key.clone();
    assert_eq!(w.jira.issue_status(&key).as_deref(), Some("Done"));

    time_travel(HOUR + MINUTE).await;
    w.once("synthetics").await;
    w.once("status").await;
    assert!(w.pagerduty.accepted().is_empty(), "no trigger and nothing to resolve: on-call was never paged");
    assert!(w.statuspage.requests() == 0, "nothing public either");
    assert!(!slack_text(&w).contains("silence ended"), "{}", slack_text(&w));
}

#[tokio::test]
async fn silence_end_sends_the_held_page_at_the_next_triage_round() {
    let w = World::new(&["acme-api"], "").await;
    let added = w.sparky.cli(&["silence", "add", "--partner", "acme", "--for", "2h", "--reason", "deploy of v2", "--by", "bob"]).await;
    added.expect_code(0);
    let id = Regex::new(r"^silence (\d+) added").unwrap().captures(&added.stdout).unwrap()[1].to_owned();
    w.partner_api(500);
    w.once("synthetics").await;
    assert!(w.pages("trigger").is_empty(), "held");
    assert!(slack_text(&w).contains("silenced by bob until"), "{}", slack_text(&w));

    let ended = w.sparky.cli(&["silence", "end", &id]).await;
    ended.expect_code(0);
    assert!(ended.stdout.contains(&format!("silence {id} (partner=acme) ended at")), "{}", ended.stdout);
    assert!(w.pages("trigger").is_empty(), "ending it sends nothing by itself");
    w.once("synthetics").await;
    assert_eq!(w.pages("trigger").len(), 1, "the next triage round pages");
    w.once("synthetics").await;
    assert_eq!(w.pages("trigger").len(), 1, "once");

    let again = w.sparky.cli(&["silence", "end", &id]).await;
    again.expect_code(0);
    assert!(again.stdout.contains(&format!("silence {id} (partner=acme) had already ended at")), "{}", again.stdout);
}

const RFC3339_UTC: &str = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ";

/// Every string in `v`, recursively: none may hold JSON.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|i| strings(i, out)),
        Value::Object(m) => m.values().for_each(|i| strings(i, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_silence_commands_print_aligned_lines_and_json_and_exit_0_2_or_1() {
    let w = World::new(&["acme-api"], "").await;
    let sparky = &w.sparky;
    let run = sparky.cli(&["silence", "list"]).await;
    run.expect_code(0);
    assert_eq!(run.stdout, "no silences\n");

    let run = sparky.cli(&["silence", "add", "--partner", "acme", "--for", "2h", "--reason", "deploy of v2", "--by", "alice"]).await;
    run.expect_code(0);
    let added = Regex::new(&format!(r"^silence 1 added: partner=acme until ({RFC3339_UTC}) \(2h\) by alice: deploy of v2\n")).unwrap();
    assert!(added.is_match(&run.stdout), "{}", run.stdout);
    let until = (Timestamp::now() + HOUR).to_datetime().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let mut by_user = sparky.command(&["silence", "add", "--check", "acme-api", "--until", &until, "--reason", "flaky upstream"]);
    by_user.env("USER", "carol");
    common::Run::from(by_user.output().await.unwrap()).expect_code(0);

    let run = sparky.cli(&["silence", "list"]).await;
    run.expect_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", run.stdout);
    let line = Regex::new(&format!(
        r"^(\d+) +(partner=acme|check=acme-api) +active +from {RFC3339_UTC} +until ({RFC3339_UTC}) +by (alice|carol) +(deploy of v2|flaky upstream)$"
    ))
    .unwrap();
    for l in &lines {
        assert!(line.is_match(l), "{l:?}");
    }
    assert!(lines[0].starts_with("2 ") && lines[0].contains(&format!("until {until}")), "soonest end first: {}", run.stdout);
    for word in ["active", "from", "until", "by "] {
        let at: Vec<Option<usize>> = lines.iter().map(|l| l.find(word)).collect();
        assert!(at[0].is_some() && at[0] == at[1], "`{word}` aligned: {}", run.stdout);
    }

    let run = sparky.cli(&["--json", "silence", "list"]).await;
    run.expect_code(0);
    let json: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
    let list = json.as_array().unwrap();
    assert_eq!(list.len(), 2);
    let carol = &list[0];
    assert_eq!((carol["id"].as_i64(), carol["check"].as_str(), carol["created_by"].as_str()), (Some(2), Some("acme-api"), Some("carol")));
    assert!(carol.get("partner").is_none(), "one target key: {carol}");
    assert_eq!(
        (carol["state"].as_str(), carol["reason"].as_str(), carol["ended_at"].is_null()),
        (Some("active"), Some("flaky upstream"), true)
    );
    assert_eq!(Timestamp::parse_rfc3339(carol["ends_at"].as_str().unwrap()).unwrap(), Timestamp::parse_rfc3339(&until).unwrap());
    assert_eq!(list[1]["partner"], "acme");
    let mut all = Vec::new();
    strings(&json, &mut all);
    assert!(
        all.iter().all(|s| serde_json::from_str::<Value>(s).map_or(true, |v| !v.is_object() && !v.is_array())),
        "no JSON inside strings: {all:?}"
    );

    // Bad arguments and configuration: exit 2, nothing added.
    for args in [
        &["silence", "add", "--partner", "nope", "--for", "1h", "--reason", "x"][..],
        &["silence", "add", "--check", "nope", "--for", "1h", "--reason", "x"],
        &["silence", "add", "--partner", "acme", "--for", "soon", "--reason", "x"],
        &["silence", "add", "--partner", "acme", "--for", "0s", "--reason", "x"],
        &["silence", "add", "--partner", "acme", "--until", "2020-01-01T00:00:00Z", "--reason", "x"],
        &["silence", "add", "--partner", "acme", "--until", "tomorrow", "--reason", "x"],
        &["silence", "add", "--partner", "acme", "--check", "acme-api", "--for", "1h", "--reason", "x"],
        &["silence", "add", "--partner", "acme", "--for", "1h"],
        &["silence", "add", "--partner", "acme", "--for", "1h", "--reason", "  "],
        &["silence", "end", "99"],
        &["silence", "end", "first"],
    ] {
        let run = sparky.cli(args).await;
        assert_eq!(run.code, 2, "{args:?}: {}{}", run.stdout, run.stderr);
        assert!(!run.stderr.is_empty(), "{args:?} says why");
    }
    let run = sparky.cli(&["silence", "add", "--partner", "nope", "--for", "1h", "--reason", "x"]).await;
    assert!(run.stderr.contains("no partner `nope`"), "{}", run.stderr);
    let run = sparky.cli(&["silence", "add", "--partner", "acme", "--until", "2020-01-01T00:00:00Z", "--reason", "x"]).await;
    assert!(run.stderr.contains("--until 2020-01-01T00:00:00Z is in the past"), "{}", run.stderr);
    let run = sparky.cli(&["silence", "end", "99"]).await;
    assert!(run.stderr.contains("no silence 99"), "{}", run.stderr);

    let run = sparky.cli(&["--json", "silence", "end", "1"]).await;
    run.expect_code(0);
    let ended: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!((ended["result"].as_str(), ended["silence"]["state"].as_str()), (Some("ended"), Some("ended")));
    assert!(ended["silence"]["ended_at"].is_string());
    let run = sparky.cli(&["silence", "end", "1"]).await;
    run.expect_code(0);
    assert!(
        Regex::new(&format!(r"^silence 1 \(partner=acme\) had already ended at {RFC3339_UTC}\n$")).unwrap().is_match(&run.stdout),
        "{}",
        run.stdout
    );
    let run = sparky.cli(&["silence", "list"]).await;
    assert_eq!(run.stdout.lines().count(), 1, "an ended silence is not listed: {}", run.stdout);
    let run = sparky.cli(&["silence", "list", "--all"]).await;
    assert!(run.stdout.lines().any(|l| l.starts_with("1 ") && l.contains(" ended ")), "--all lists it: {}", run.stdout);

    // Read-mostly: no check secret is needed.
    sparky.write(
        "synthetics/secret.toml",
        "id = \"acme-secret\"\npartner = \"acme\"\nurl = \"https://api.acme.test/\"\n[auth]\nkind = \"bearer\"\ntoken = \"${SPARKY_TEST_UNSET_SILENCE_TOKEN}\"\n",
    );
    sparky.cli(&["silence", "list"]).await.expect_code(0);
    sparky.cli(&["silence", "add", "--check", "acme-secret", "--for", "1h", "--reason", "rotating its token"]).await.expect_code(0);

    // The database unusable: exit 1.
    let broken = Sparky::new(Db::Sqlite).env("SPARKY_DATABASE_URL", "sqlite:///proc/sparky-no-such-dir/s.db");
    let run = broken.cli(&["silence", "list"]).await;
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
}

#[tokio::test]
async fn maintenance_problems_are_reported_by_file_and_key() {
    let sparky = Sparky::new(Db::Sqlite);
    sparky.write("partners/acme.toml", "id = \"acme\"\nname = \"Acme\"\n");
    sparky.write(
        "sparky.toml",
        "[[maintenance]]\npartner = \"acme\"\nreason = \"x\"\ncron = \"61 * * * *\"\nduration = \"1h\"\n\
         [[maintenance]]\ncheck = \"ghost\"\nreason = \"x\"\nstart = \"2026-12-02T05:00:00Z\"\nend = \"2026-12-02T06:00:00Z\"\n",
    );
    let run = sparky.cli(&["check-config"]).await;
    run.expect_code(2);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(all.contains("sparky.toml: maintenance[0].cron: `61 * * * *` is not a valid cron schedule"), "{all}");
    assert!(all.contains("sparky.toml: maintenance[1].check: no check `ghost` in synthetics/"), "{all}");
    let run = sparky.cli(&["silence", "list"]).await;
    assert_eq!(run.code, 2, "a bad configuration: {}{}", run.stdout, run.stderr);
}

/// Two replicas on one database end the same silence's hold at the same time: the held page
/// goes out once (the held flag is cleared in the transaction that plans it).
async fn two_replicas_release_a_held_page_once(db: Db) {
    let w = World::on(db, &["acme-api"], "").await;
    silence(&w, acme(), HOUR).await;
    w.partner_api(500);
    w.once("synthetics").await;
    assert!(w.pages("trigger").is_empty());
    let app = w.sparky.app().await;
    let listed = silences::in_force(&app.store, Timestamp::now()).await.unwrap();
    assert_eq!(listed.len(), 1, "every replica reads the same silences");
    let ended = silences::end(&app.store, listed[0].id, Timestamp::now()).await.unwrap();
    assert!(matches!(ended, silences::Ended::Ended(_)), "{ended:?}");
    let (a, b) = (w.sparky.app().await, w.sparky.app().await);
    let (ta, tb) = (a.triage().unwrap(), b.triage().unwrap());
    let (ra, rb) = tokio::join!(ta.release_held(), tb.release_held());
    assert_eq!(ra.unwrap() + rb.unwrap(), 1, "one replica releases it");
    assert_eq!((ta.release_held().await.unwrap(), tb.release_held().await.unwrap()), (0, 0), "and only once");
    for app in [a, b, app] {
        app.store.close().await;
    }
    w.once("deliver").await;
    assert_eq!(w.pages("trigger").len(), 1);
}

#[tokio::test]
async fn two_replicas_release_a_held_page_once_on_sqlite_and_postgresql() {
    two_replicas_release_a_held_page_once(Db::Sqlite).await;
    if let Some(admin) = common::postgres_url("silences") {
        two_replicas_release_a_held_page_once(Db::Postgres(common::fresh_postgres(&admin).await)).await;
    }
}
