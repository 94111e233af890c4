//! `sparky check-config`: every problem as `FILE: key: reason`, exit 2.

#![allow(unreachable_pub, clippy::unwrap_used)] // test and bench code: a failed unwrap is a failed run

mod common;

use common::fake_feeds::{FakeFeeds, Served, rss};
use common::{Db, Sparky};

#[tokio::test]
async fn the_shipped_configuration_is_valid() {
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_sparky"))
        .args(["check-config", "--config", env!("CARGO_MANIFEST_DIR")])
        .env_remove("SPARKY_DATABASE_URL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}{}", String::from_utf8_lossy(&run.stderr));
    assert!(stdout.contains("configuration ok: 7 partners"), "{stdout}");
}

#[tokio::test]
async fn every_problem_is_reported_with_file_and_key() {
    let sparky = Sparky::new(Db::Sqlite);
    sparky.write("sparky.toml", "[schedules]\nchangelogs = \"every six hours\"\n[slack]\ncolour = \"red\"\n");
    sparky.write("partners/okta.toml", "id = \"okta\"\nname = \"Okta\"\nfavourite = true\n[status_page]\nkind = \"statuspage\"\nurl = \"https://status.okta.com/api/v2/summary.json\"\ninterval = \"often\"\n");
    sparky.write("partners/ftp.toml", "id = \"ftp\"\nname = \"Ftp\"\n[[feeds]]\nurl = \"ftp://developer.okta.com/feed.xml\"\n");
    sparky.write("partners/okta-again.toml", "id = \"okta\"\nname = \"Okta again\"\n");
    sparky.write("partners/secret.toml", "id = \"secret\"\nname = \"${SPARKY_TEST_SURELY_UNSET_VAR}\"\n");
    sparky.write("partners/html.toml", "id = \"html\"\nname = \"Html\"\n[[feeds]]\nurl = \"https://x.test/changelog\"\nkind = \"html\"\n");
    let run = sparky.cli(&["check-config"]).await;
    run.expect_code(2);
    let out = run.stdout;
    for expected in [
        "sparky.toml: schedules.changelogs: `every six hours` has 3 fields",
        "sparky.toml: slack.colour: unknown key",
        "partners/okta.toml: favourite: unknown key",
        "partners/okta.toml: status_page.interval: `often` is not a duration",
        "partners/ftp.toml: feeds[0].url: `ftp://developer.okta.com/feed.xml`: scheme `ftp` is not http or https",
        "partners/okta.toml: id: duplicate partner id `okta` (also in partners/okta-again.toml)",
        "partners/secret.toml: name: environment variable SPARKY_TEST_SURELY_UNSET_VAR is not set",
        "partners/html.toml: feeds[0].entry: a feed of kind = \"html\" needs this CSS selector",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
}

#[tokio::test]
async fn retention_problems_name_their_key() {
    let sparky = Sparky::new(Db::Sqlite);
    sparky.write("sparky.toml", "[retention]\ndelivered = \"7d\"\ncheck_results = \"12h\"\nstatus_history = \"a quarter\"\n");
    sparky.write("partners/okta.toml", "id = \"okta\"\nname = \"Okta\"\n");
    sparky.write(
        "synthetics/okta-users.toml",
        "id = \"okta-users\"\npartner = \"okta\"\nurl = \"https://acme.okta.com/api/v1/users\"\n\n[[assert]]\nlatency_p95 = { window = \"2d\", warn_above = \"2s\" }\n",
    );
    let run = sparky.cli(&["check-config"]).await;
    run.expect_code(2);
    for expected in [
        "sparky.toml: retention.delivered: unknown key",
        "sparky.toml: retention.check_results: 12h is shorter than a day",
        "sparky.toml: retention.status_history: `a quarter` is not a duration",
        "synthetics/okta-users.toml: assert[0].latency_p95.window: 2days reaches past [retention] check_results (12h)",
    ] {
        assert!(run.stdout.contains(expected), "missing {expected:?} in:\n{}", run.stdout);
    }
}

#[tokio::test]
async fn a_github_app_key_that_is_not_one_is_a_problem_before_the_daemon_starts() {
    let sparky = Sparky::new(Db::Sqlite).env("GITHUB_APP_ID", "31337").env("GITHUB_APP_PRIVATE_KEY", "-----BEGIN NOTHING-----");
    sparky.write("partners/okta.toml", "id = \"okta\"\nname = \"Okta\"\n");
    let run = sparky.cli(&["check-config"]).await;
    run.expect_code(2);
    assert!(run.stdout.contains("environment: GITHUB_APP_PRIVATE_KEY: not an RSA private key in PEM"), "{}", run.stdout);
    assert!(!run.stdout.contains("BEGIN NOTHING"), "the key is not shown: {}", run.stdout);
    let key = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/github-app-test-key.pem");
    let good = Sparky::new(Db::Sqlite).env("GITHUB_APP_ID", "31337").env("GITHUB_APP_PRIVATE_KEY_FILE", key);
    good.write("partners/okta.toml", "id = \"okta\"\nname = \"Okta\"\n");
    let run = good.cli(&["check-config"]).await;
    run.expect_code(0);
    assert!(
        run.stdout.contains("github: dispatching compatibility workflows at https://api.github.com/ as GitHub App 31337"),
        "{}",
        run.stdout
    );
}

#[tokio::test]
async fn a_bad_config_stops_every_command_with_exit_2() {
    let sparky = Sparky::new(Db::Sqlite);
    sparky.write("partners/bad.toml", "id = \"Bad Id\"\nname = \"x\"\n");
    let run = sparky.cli(&["once", "changelogs"]).await;
    run.expect_code(2);
    assert!(run.stderr.contains("partners/bad.toml: id: `Bad Id` is not a valid id"), "{}", run.stderr);
}

#[tokio::test]
async fn a_broken_template_override_is_a_config_problem() {
    let sparky = Sparky::new(Db::Sqlite);
    sparky.write("templates/slack/digest.txt.j2", "{{ count }");
    let run = sparky.cli(&["check-config"]).await;
    run.expect_code(2);
    assert!(run.stdout.contains("templates/slack/digest.txt.j2: line 1:"), "{}", run.stdout);
}

/// The shipped file of a partner.
fn shipped(file: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("partners").join(file)).unwrap()
}

#[tokio::test]
async fn a_microsoft_partner_without_its_variables_is_not_configured_not_an_error() {
    let sparky = Sparky::new(Db::Sqlite);
    sparky.write("partners/microsoft-graph.toml", &shipped("microsoft-graph.toml"));
    let run = sparky.cli(&["check-config"]).await;
    run.expect_code(0);
    let lines: Vec<&str> = run.stdout.lines().filter(|l| l.contains("not configured")).collect();
    assert_eq!(
        lines,
        ["partners/microsoft-graph.toml: status_page: not configured: set MS_GRAPH_CLIENT_ID, MS_GRAPH_CLIENT_SECRET, MS_GRAPH_TENANT_ID \
          to read https://graph.microsoft.com/v1.0/admin/serviceAnnouncement/healthOverviews?$expand=issues; until then the partner has no status page"],
        "{}",
        run.stdout
    );
    assert!(run.stdout.starts_with("configuration ok: 1 partner, "), "{}", run.stdout);

    let run = sparky.cli(&["once", "status"]).await;
    run.expect_code(0);
    assert!(run.stdout.contains("microsoft-graph  unknown      not configured: set MS_GRAPH_CLIENT_ID"), "{}", run.stdout);
    assert!(run.stdout.contains("status: 1 partner, 0 unreadable, 1 not configured"), "{}", run.stdout);
    let run = sparky.cli(&["once", "status", "--json"]).await;
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["partners"][0]["result"], "not_configured", "{json}");
    assert_eq!(json["partners"][0]["status"]["indicator"], "unknown");
    let run = sparky.cli(&["status", "microsoft-graph"]).await;
    run.expect_code(2);
    assert!(run.stderr.contains("the status page of `microsoft-graph` is not configured: set MS_GRAPH_CLIENT_ID"), "{}", run.stderr);
}

#[tokio::test]
async fn half_the_variables_of_an_optional_page_is_a_config_error() {
    let sparky = Sparky::new(Db::Sqlite).env("MS_GRAPH_TENANT_ID", "t");
    sparky.write("partners/microsoft-365.toml", &shipped("microsoft-365.toml"));
    let run = sparky.cli(&["check-config"]).await;
    run.expect_code(2);
    for expected in [
        "partners/microsoft-365.toml: status_page: set all of MS_GRAPH_CLIENT_ID, MS_GRAPH_CLIENT_SECRET, MS_GRAPH_TENANT_ID to read this page, \
         or none to leave it not configured (unset: MS_GRAPH_CLIENT_ID, MS_GRAPH_CLIENT_SECRET)",
        "partners/microsoft-365.toml: status_page.auth.client_secret: environment variable MS_GRAPH_CLIENT_SECRET is not set",
    ] {
        assert!(run.stdout.contains(expected), "missing {expected:?} in:\n{}", run.stdout);
    }
}

#[tokio::test]
async fn credentials_go_only_over_https() {
    let sparky = Sparky::new(Db::Sqlite).env("T", "x");
    sparky.write(
        "partners/p.toml",
        "id = \"p\"\nname = \"P\"\n[status_page]\nkind = \"statuspage\"\nurl = \"http://status.p.test/api/v2/summary.json\"\n[status_page.auth]\nkind = \"bearer\"\ntoken = \"${T}\"\n",
    );
    let run = sparky.cli(&["check-config"]).await;
    run.expect_code(2);
    assert!(
        run.stdout.contains("partners/p.toml: status_page.url: `http://status.p.test/api/v2/summary.json`: credentials (status_page.auth) are sent only over https"),
        "{}",
        run.stdout
    );
}

const JSON: &str = "application/json";

/// A Statuspage v2 summary listing these components, all operational.
fn summary(components: &[&str]) -> String {
    let components: Vec<serde_json::Value> = components
        .iter()
        .enumerate()
        .map(|(i, n)| serde_json::json!({"id": format!("c{i}"), "name": n, "status": "operational"}))
        .collect();
    serde_json::json!({"status": {"indicator": "none", "description": "All Systems Operational"}, "components": components, "incidents": []})
        .to_string()
}

fn statuspage_partner(id: &str, url: &str, components: &str) -> String {
    format!("id = \"{id}\"\nname = \"{id}\"\n[status_page]\nkind = \"statuspage\"\nurl = \"{url}\"\ncomponents = {components}\n")
}

#[tokio::test]
async fn a_component_name_not_on_the_page_as_last_read_is_a_warning() {
    let pages = FakeFeeds::start().await;
    let url = pages.serve("/api/v2/summary.json", Served::Body(summary(&["Git Operations", "API Requests", "Webhooks"]), JSON));
    let sparky = Sparky::new(Db::Sqlite);
    sparky.write(
        "partners/github.toml",
        &statuspage_partner("github", &url, "[\"API Request\", \"webhooks\"]").replace("name = \"github\"", "name = \"GitHub\""),
    );
    let run = sparky.cli(&["check-config"]).await;
    run.expect_code(0);
    assert!(!run.stdout.contains("is not on"), "silent before any page was read: {}", run.stdout);
    assert!(!sparky.sqlite_path().exists(), "check-config creates no database");

    sparky.cli(&["once", "status"]).await.expect_code(0);
    let run = sparky.cli(&["check-config"]).await;
    run.expect_code(0);
    let warnings: Vec<&str> = run.stdout.lines().filter(|l| l.contains("is not on")).collect();
    assert_eq!(warnings.len(), 1, "`webhooks` is on the page (case aside): {}", run.stdout);
    assert!(
        warnings[0].starts_with("partners/github.toml: status_page.components: \"API Request\" is not on GitHub's page as last read (20"),
        "{}",
        warnings[0]
    );
    assert!(warnings[0].ends_with("): it has \"API Requests\", \"Git Operations\", \"Webhooks\""), "{}", warnings[0]);
}

#[tokio::test]
async fn online_reads_every_feed_and_page_once_and_stores_nothing() {
    let web = FakeFeeds::start().await;
    let good_feed = web.serve(
        "/good.xml",
        Served::Body(
            rss(&[("a", "A", "Mon, 23 Nov 2026 10:00:00 GMT", "x"), ("b", "B", "Tue, 24 Nov 2026 10:00:00 GMT", "y")]),
            "application/rss+xml",
        ),
    );
    let gone_feed = web.serve("/gone.xml", Served::Status(404));
    let good_page = web.serve("/good/summary.json", Served::Body(summary(&["API", "Webhooks"]), JSON));
    let empty_page = web.serve("/empty/summary.json", Served::Body("{}".to_owned(), JSON));
    let sparky = Sparky::new(Db::Sqlite);
    sparky.write("sparky.toml", "[http]\nretries = 2\ntimeout = \"2s\"\n");
    sparky.write("partners/good.toml", &format!("{}[[feeds]]\nurl = \"{good_feed}\"\n", statuspage_partner("good", &good_page, "[]")));
    sparky.write("partners/bad.toml", &format!("{}[[feeds]]\nurl = \"{gone_feed}\"\n", statuspage_partner("bad", &empty_page, "[]")));
    sparky.write(
        "partners/later.toml",
        &format!("id = \"later\"\nname = \"Later\"\n[status_page]\nkind = \"statuspage\"\nurl = \"{good_page}\"\noptional = true\n[status_page.auth]\nkind = \"bearer\"\ntoken = \"${{SPARKY_TEST_UNSET_STATUS_TOKEN}}\"\n"),
    );
    let run = sparky.cli(&["check-config", "--online"]).await;
    run.expect_code(1);
    for expected in [
        format!("feed         good   {good_feed}  ok: 2 entries"),
        format!("feed         bad    {gone_feed}  FAILED (http): HTTP 404"),
        format!("status_page  good   {good_page}  ok: indicator none, 2 components, 0 incidents, 0 maintenances"),
        format!("status_page  bad    {empty_page}  FAILED (no_status): nothing to read"),
        "status_page  later  not configured: set SPARKY_TEST_UNSET_STATUS_TOKEN to read".to_owned(),
        "online: 2 feeds (1 ok), 3 status pages (1 ok, 1 not configured): 2 failed".to_owned(),
    ] {
        assert!(run.stdout.contains(&expected), "missing {expected:?} in:\n{}", run.stdout);
    }
    assert_eq!(web.requests("/gone.xml").await.len(), 1, "once: no retries");
    assert!(!sparky.sqlite_path().exists(), "nothing stored");

    let run = sparky.cli(&["check-config", "--online", "--json"]).await;
    run.expect_code(1);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: only JSON on stdout: {}", run.stdout));
    assert_eq!(json["ok"], true, "the configuration is fine; a source failed: {json}");
    let results: Vec<(&str, &str, &str)> = json["online"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["source"].as_str().unwrap(), c["partner"].as_str().unwrap(), c["result"].as_str().unwrap()))
        .collect();
    assert_eq!(
        results,
        [
            ("feed", "bad", "http"),
            ("feed", "good", "ok"),
            ("status_page", "bad", "no_status"),
            ("status_page", "good", "ok"),
            ("status_page", "later", "not_configured")
        ]
    );

    std::fs::remove_file(sparky.path().join("partners/bad.toml")).unwrap();
    let run = sparky.cli(&["check-config", "--online"]).await;
    run.expect_code(0);
    assert!(run.stdout.contains("every source answered"), "{}", run.stdout);

    sparky.write("partners/broken.toml", "id = \"broken\"\n");
    let run = sparky.cli(&["check-config", "--online"]).await;
    run.expect_code(2);
    assert!(!run.stdout.contains("online:"), "a bad config fetches nothing: {}", run.stdout);
}

#[tokio::test]
async fn a_sink_configured_by_halves_is_a_problem_naming_the_missing_variable() {
    let halves: [(&[(&str, &str)], &str); 3] = [
        (
            &[("JIRA_BASE_URL", "https://acme.atlassian.net"), ("JIRA_USER_EMAIL", "sparky@acme.test"), ("JIRA_PROJECT_KEY", "OPS")],
            "JIRA_API_TOKEN",
        ),
        (&[("STATUSPAGE_API_KEY", "statuspage-key")], "STATUSPAGE_PAGE_ID"),
        (&[("PAGERDUTY_ROUTING_KEY", "R0UTINGKEY012345678901234567890")], "PAGERDUTY_ROUTING_KEY"),
    ];
    for (set, missing) in halves {
        let sparky = set.iter().fold(Sparky::new(Db::Sqlite), |s, (k, v)| s.env(k, v));
        let run = sparky.cli(&["check-config"]).await;
        run.expect_code(2);
        assert!(run.stdout.contains(&format!("environment: {missing}: ")), "{missing}: {}", run.stdout);
        assert!(!run.stdout.contains("R0UTINGKEY") && !run.stdout.contains("statuspage-key"), "no secret shown: {}", run.stdout);
    }
}

#[tokio::test]
async fn check_config_says_what_each_sink_will_do() {
    let none = Sparky::new(Db::Sqlite).cli(&["check-config"]).await;
    none.expect_code(0);
    for line in [
        "slack: printing only, nothing posted to #ecosystem-updates (SLACK_BOT_TOKEN not set)",
        "jira: printing only (",
        "pagerduty: printing only (PAGERDUTY_ROUTING_KEY not set)",
        "statuspage: the built-in page at /status",
    ] {
        assert!(none.stdout.contains(line), "{line}: {}", none.stdout);
    }
    let full = Sparky::new(Db::Sqlite)
        .env("SLACK_BOT_TOKEN", "xoxb-test-secret-token")
        .env("JIRA_BASE_URL", "https://acme.atlassian.net")
        .env("JIRA_USER_EMAIL", "sparky@acme.test")
        .env("JIRA_API_TOKEN", "jira-token")
        .env("JIRA_PROJECT_KEY", "OPS")
        .env("PAGERDUTY_ROUTING_KEY", "R0UTINGKEY0123456789012345678901")
        .env("STATUSPAGE_API_KEY", "statuspage-key")
        .env("STATUSPAGE_PAGE_ID", "pg1")
        .cli(&["check-config"])
        .await;
    full.expect_code(0);
    for line in [
        "slack: posting to #ecosystem-updates as the token's bot",
        "jira: filing issues in project OPS at https://acme.atlassian.net",
        "pagerduty: paging through Events API v2 at https://events.pagerduty.com",
        "statuspage: updating Atlassian Statuspage page pg1",
    ] {
        assert!(full.stdout.contains(line), "{line}: {}", full.stdout);
    }
    assert!(!full.stdout.contains("jira-token") && !full.stdout.contains("xoxb-test"), "{}", full.stdout);
}

#[tokio::test]
async fn read_only_commands_need_no_check_secret() {
    let sparky = Sparky::new(Db::Sqlite);
    sparky.write("partners/okta.toml", "id = \"okta\"\nname = \"Okta\"\n");
    sparky.write(
        "synthetics/okta-users.toml",
        "id = \"okta-users\"\npartner = \"okta\"\nurl = \"https://acme.okta.com/api/v1/users?limit=1\"\n[auth]\nkind = \"bearer\"\ntoken = \"${SPARKY_TEST_UNSET_OKTA_TOKEN}\"\n",
    );
    for args in [&["outbox"][..], &["incidents"]] {
        let run = sparky.cli(args).await;
        assert_eq!(run.code, 0, "{args:?} without the check's secret: {}{}", run.stdout, run.stderr);
    }
    let check = sparky.cli(&["check-config"]).await;
    check.expect_code(0);
    assert!(
        check.stdout.contains("synthetics/okta-users.toml: SPARKY_TEST_UNSET_OKTA_TOKEN not set: the check cannot run in this environment"),
        "{}",
        check.stdout
    );
    let once = sparky.cli(&["once", "synthetics"]).await;
    once.expect_code(2);
    assert!(once.stderr.contains("SPARKY_TEST_UNSET_OKTA_TOKEN"), "running the check needs it: {}", once.stderr);
}

#[tokio::test]
async fn first_run_rough_edges_are_gone() {
    // A TOML error names its line and column and shows the line.
    let sparky = Sparky::new(Db::Sqlite);
    sparky.write("sparky.toml", "[slack]\nchannel = \n");
    let run = sparky.cli(&["check-config"]).await;
    run.expect_code(2);
    assert!(run.stdout.contains("sparky.toml: line 2, column ") && run.stdout.contains("`channel =`"), "{}", run.stdout);
    // An environment error names the variable as the key; SPARKY_LISTEN takes a host name.
    let sparky = Sparky::new(Db::Sqlite).env("JIRA_BASE_URL", "not a url").env("SPARKY_LISTEN", "localhost:9750");
    let run = sparky.cli(&["check-config"]).await;
    assert!(run.stdout.contains("environment: JIRA_BASE_URL: "), "{}", run.stdout);
    assert!(!run.stdout.contains("SPARKY_LISTEN"), "localhost:9750 is an address: {}", run.stdout);
    // No lock file is left beside the database.
    let sparky = Sparky::new(Db::Sqlite);
    sparky.cli(&["outbox"]).await.expect_code(0);
    let left: Vec<String> =
        std::fs::read_dir(sparky.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(left.iter().all(|name| !name.ends_with(".lock")), "{left:?}");
}
