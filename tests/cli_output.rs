//! Golden tests of what every command prints, for people and with `--json`, and of the exit
//! codes of the README's table (0 ran, also when nothing was found; 2 a configuration problem or
//! a bad argument; 1 Sparky itself cannot work), through the real binary against fakes on
//! loopback: a partner whose feed, status page and API are ours to script, and Slack, Jira,
//! PagerDuty and Statuspage faked.
//!
//! The golden files are `tests/golden/*.txt`: the output with what changes from run to run (times,
//! ports, milliseconds, temp paths) replaced by `<TIME>`, `<PORT>`, `<MS>`, `<DIR>`.
//! `SPARKY_BLESS=1 cargo test --test cli_output` rewrites them; review the diff before committing.

#![allow(unreachable_pub, clippy::unwrap_used)] // test and bench code: a failed unwrap is a failed run

mod common;

use std::path::Path;

use common::Run;
use common::fake_feeds::Served;
use common::world::World;
use regex::Regex;
use serde_json::Value;

const FEED: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Acme changelog</title><link>https://acme.test/changelog</link>
<item><title>API v2 is generally available</title><link>https://acme.test/changelog/v2</link>
<guid>acme-v2</guid><pubDate>Tue, 24 Nov 2026 10:00:00 GMT</pubDate>
<description>Version 2 of the Acme API is now generally available.</description></item>
<item><title>Deprecation: the v1 users endpoint</title><link>https://acme.test/changelog/v1-users</link>
<guid>acme-v1-users</guid><pubDate>Mon, 23 Nov 2026 10:00:00 GMT</pubDate>
<description>GET /v1/users is deprecated and will be removed on 2027-03-01.</description></item>
</channel></rss>"#;

/// Replaces what changes between runs.
fn normalise(text: &str, dir: &Path) -> String {
    let text = text.replace(&dir.display().to_string(), "<DIR>");
    let rules = [
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", "<TIME>"),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:<PORT>"),
        (r#""(duration_ms|latency_ms|p95_ms)": \d+"#, "\"$1\": <MS>"),
        (r"\b\d+ ms\b", "<MS> ms"),
        (r"(?m)^(acme-api +acme +\w+ +)\d+", "$1<MS>"),
        (r"\b\d{10}\.\d{6}\b", "<TS>"),
        (r"digest:#ecosystem-updates:[0-9a-f]+", "digest:#ecosystem-updates:<HASH>"),
        (r"sparky-incident-acme-\d+", "sparky-incident-acme-<MILLIS>"),
        (r"(for|lasted|after) \d+(ms|s)\b", "$1 <SHORT>"),
        (r"(once, for|in all, for) \d+s\b", "$1 <SHORT>"),
    ];
    rules.iter().fold(text, |t, (re, with)| Regex::new(re).unwrap().replace_all(&t, *with).into_owned())
}

/// Every JSON string in `value` (to check none holds JSON).
fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
        Value::Object(o) => o.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

/// The checks every JSON output must pass: it parses, its times are RFC 3339 strings (no epoch
/// milliseconds), and no string holds JSON.
fn json_checks(name: &str, run: &Run) {
    if run.code != 0 && run.stdout.is_empty() {
        return;
    }
    let value: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{name}: not JSON ({e}):\n{}", run.stdout));
    let mut all = Vec::new();
    strings(&value, &mut all);
    for s in &all {
        let nested = serde_json::from_str::<Value>(s).is_ok_and(|v| v.is_object() || v.is_array());
        assert!(!nested, "{name}: JSON inside a string: {s}");
    }
    let epoch = Regex::new(r#""[a-z_]*(_at|time|since)": \d{10,}"#).unwrap();
    assert!(!epoch.is_match(&run.stdout), "{name}: a time as epoch milliseconds:\n{}", run.stdout);
}

struct Golden {
    dir: std::path::PathBuf,
    bless: bool,
    failures: Vec<String>,
}

impl Golden {
    fn new() -> Self {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
        Self { dir, bless: std::env::var("SPARKY_BLESS").is_ok_and(|v| v == "1"), failures: Vec::new() }
    }

    /// Compares `run` (exit code, stdout) with `tests/golden/NAME.txt`.
    fn check(&mut self, name: &str, run: &Run, config_dir: &Path) {
        let mut stdout = normalise(&run.stdout, config_dir);
        if !name.ends_with(".json") {
            // Column widths follow what changes between runs (a duration's digits): the golden
            // files hold the words; alignment is held by `cli::text`'s and the silence tests.
            stdout = Regex::new(r"(\S) {2,}").unwrap().replace_all(&stdout, "$1  ").into_owned();
        }
        let mut got = format!("exit {}\n{stdout}", run.code);
        if run.code != 0 {
            // The reason of a failed command is on standard error, under --json too.
            got.push_str(&format!("--- stderr\n{}", normalise(&run.stderr, config_dir)));
        }
        let path = self.dir.join(format!("{name}.txt"));
        if self.bless {
            std::fs::create_dir_all(&self.dir).unwrap();
            std::fs::write(&path, &got).unwrap();
            return;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        if want != got {
            self.failures.push(format!(
                "{name}: output differs from {}\n--- want\n{want}\n--- got\n{got}\n--- stderr\n{}",
                path.display(),
                run.stderr
            ));
        }
    }

    fn finish(self) {
        assert!(self.failures.is_empty(), "{}\n(SPARKY_BLESS=1 rewrites the golden files)", self.failures.join("\n"));
    }
}

#[tokio::test]
async fn every_command_prints_what_the_golden_files_say_and_exits_per_the_readme() {
    let w = World::new(&["acme-api"], "").await;
    let feed = w.page.serve("/changelog.xml", Served::Body(FEED.to_owned(), "application/rss+xml"));
    let partner = std::fs::read_to_string(w.sparky.path().join("partners/acme.toml")).unwrap();
    w.sparky.write("partners/acme.toml", &format!("{partner}\n[[feeds]]\nurl = \"{feed}\"\n"));
    let dir = w.sparky.path().to_owned();
    let mut golden = Golden::new();
    let both = async |name: &str, args: &[&str], code: i32, golden: &mut Golden| {
        let run = w.sparky.cli(args).await;
        assert_eq!(run.code, code, "{name}: exit code\n--- stdout\n{}\n--- stderr\n{}", run.stdout, run.stderr);
        golden.check(name, &run, &dir);
        let mut json_args = vec!["--json"];
        json_args.extend_from_slice(args);
        let run = w.sparky.cli(&json_args).await;
        assert_eq!(run.code, code, "{name} --json: exit code\n--- stdout\n{}\n--- stderr\n{}", run.stdout, run.stderr);
        json_checks(name, &run);
        golden.check(&format!("{name}.json"), &run, &dir);
    };

    both("check-config", &["check-config"], 0, &mut golden).await;
    both("once-changelogs", &["once", "changelogs"], 0, &mut golden).await;
    both("once-status", &["once", "status"], 0, &mut golden).await;
    both("status", &["status", "acme"], 0, &mut golden).await;
    both("status-at-nothing-recorded", &["status", "acme", "--at", "2020-01-01T00:00:00Z"], 0, &mut golden).await;
    w.partner_api(503);
    both("check", &["check", "acme-api"], 0, &mut golden).await;
    // The first run opens the incident (and pages); the --json run finds the check failing.
    both("once-synthetics-failing", &["once", "synthetics"], 0, &mut golden).await;
    both("incidents-open", &["incidents"], 0, &mut golden).await;
    both("outbox-empty", &["outbox"], 0, &mut golden).await;
    both("outbox-all", &["outbox", "--all"], 0, &mut golden).await;
    both("once-deliver", &["once", "deliver"], 0, &mut golden).await;
    w.partner_api(200);
    both("once-synthetics-recovered", &["once", "synthetics"], 0, &mut golden).await;
    both("incidents-resolved", &["incidents"], 0, &mut golden).await;
    // Bad arguments: exit 2.
    both("outbox-retry-unknown", &["outbox", "retry", "999"], 2, &mut golden).await;
    both("status-unknown-partner", &["status", "nope"], 2, &mut golden).await;
    both("check-unknown", &["check", "nope"], 2, &mut golden).await;
    both("status-at-bad-time", &["status", "acme", "--at", "yesterday"], 2, &mut golden).await;
    golden.finish();
    w.no_spec_violations();
}

#[tokio::test]
async fn a_configuration_problem_exits_2_and_check_config_json_lists_it_as_an_object() {
    let w = World::new(&[], "").await;
    w.sparky.write("sparky.toml", "[outbox]\nmax_attempts = \"ten\"\n");
    let run = w.sparky.cli(&["--json", "check-config"]).await;
    run.expect_code(2);
    json_checks("check-config problems", &run);
    let value: Value = serde_json::from_str(&run.stdout).unwrap();
    let problem = &value["problems"][0];
    assert_eq!(problem["file"], "sparky.toml", "{value}");
    assert_eq!(problem["key"], "outbox.max_attempts", "{value}");
    assert!(problem["reason"].as_str().is_some_and(|r| !r.is_empty()), "{value}");
    assert_eq!(value["ok"], false);
    let run = w.sparky.cli(&["once", "status"]).await;
    run.expect_code(2);
    assert!(run.stderr.contains("sparky.toml: outbox.max_attempts:"), "{}", run.stderr);
}

#[tokio::test]
async fn an_unusable_database_exits_1() {
    let w = World::new(&[], "").await;
    // A directory where the database file should be: SQLite cannot open it.
    let run = w.sparky.command(&["outbox"]).env("SPARKY_DATABASE_URL", format!("sqlite://{}", w.sparky.path().display())).output().await;
    let run = Run::from(run.unwrap());
    run.expect_code(1);
    assert!(run.stderr.starts_with("sparky: "), "{}", run.stderr);
}

#[tokio::test]
async fn a_first_run_says_each_outcome_once_and_what_turns_printing_into_sending() {
    let feeds = common::fake_feeds::FakeFeeds::start().await;
    let ok = feeds.serve("/feed.xml", Served::Body(FEED.to_owned(), "application/rss+xml"));
    let broken = feeds.serve("/broken.xml", Served::Status(503));
    let sparky = common::Sparky::new(common::Db::Sqlite);
    sparky.partner("acme", "Acme Cloud", &[&ok, &broken]);
    sparky.write("sparky.toml", "[http]\nretries = 0\n");
    let mut cmd = sparky.command(&["once", "changelogs"]);
    cmd.env_remove("RUST_LOG");
    let run = Run::from(cmd.output().await.unwrap());
    run.expect_code(0);
    assert!(run.stdout.contains("changelogs: 2 feeds: 1 ok, 0 not modified, 1 failed: acme\n"), "{}", run.stdout);
    assert!(run.stdout.contains("digest: 2 entries in 1 message\n"), "{}", run.stdout);
    assert!(
        run.stdout.contains("printed instead of sent: slack: set SLACK_BOT_TOKEN to send; jira: set JIRA_BASE_URL, JIRA_USER_EMAIL, JIRA_API_TOKEN, JIRA_PROJECT_KEY to send; pagerduty: set PAGERDUTY_ROUTING_KEY to send; github: set GITHUB_TOKEN, or GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY to send\n"),
        "{}",
        run.stdout
    );
    assert_eq!(run.stdout.matches("FAILED (http").count(), 1, "{}", run.stdout);
    assert!(!run.stderr.contains("feed poll failed") && !run.stderr.contains("feed polled"), "said once, on stdout: {}", run.stderr);
    // Asked for, the per-feed log lines are there.
    let mut cmd = sparky.command(&["--log-format", "json", "once", "changelogs"]);
    cmd.env("RUST_LOG", "debug,sqlx=warn");
    let run = Run::from(cmd.output().await.unwrap());
    run.expect_code(0);
    let line = run.stderr.lines().find(|l| l.contains("feed poll failed")).unwrap_or_else(|| panic!("{}", run.stderr));
    let object: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!((object["level"].as_str(), object["target"].as_str()), (Some("WARN"), Some("sparky::outcome")), "{object}");
    assert_eq!(object["fields"]["partner"], "acme");
    assert!(!sparky.path().join("sparky.db.migrate.lock").exists(), "no stray lock file");
}
