//! Synthetic checks end to end, in-process against fake partner APIs on loopback (the real binary
//! for what its output must show or hide).

#![allow(unreachable_pub, clippy::unwrap_used)] // test and bench code: a failed unwrap is a failed run

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use sqlx::Row;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use common::{Db, Sparky, eventually_async};

/// A Sparky with partner `acme` (sandbox host 127.0.0.1) and fast confirmations.
fn sparky() -> Sparky {
    let sparky = Sparky::new(Db::Sqlite);
    sparky.write("partners/acme.toml", "id = \"acme\"\nname = \"Acme\"\nsandbox_hosts = [\"127.0.0.1\"]\n");
    sparky
}

fn check(sparky: &Sparky, id: &str, body: &str) {
    let timeout = if body.contains("timeout =") { "" } else { "timeout = \"2s\"\n" };
    sparky
        .write(&format!("synthetics/{id}.toml"), &format!("id = \"{id}\"\npartner = \"acme\"\nconfirm_after = \"100ms\"\n{timeout}{body}"));
}

async fn once(sparky: &Sparky) -> HashMap<String, Value> {
    let v = serde_json::to_value(sparky.synthetics().await).unwrap();
    v["checks"].as_array().unwrap().iter().map(|c| (c["check"].as_str().unwrap().to_owned(), c.clone())).collect()
}

fn counted(executed: &Value) -> &Value {
    if executed["confirmation"].is_null() { &executed["first"] } else { &executed["confirmation"] }
}

async fn db_rows(sparky: &Sparky, sql: &str) -> Vec<Vec<String>> {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", sparky.sqlite_path().display())).await.unwrap();
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())).fetch_all(&pool).await.unwrap();
    let out = rows
        .iter()
        .map(|r| {
            (0..r.len())
                .map(|i| r.try_get::<String, _>(i).or_else(|_| r.try_get::<i64, _>(i).map(|n| n.to_string())).unwrap_or_default())
                .collect()
        })
        .collect();
    pool.close().await;
    out
}

#[tokio::test]
async fn every_assertion_kind_passes_and_fails_and_each_is_reported() {
    let api = MockServer::start().await;
    Mock::given(path("/api/status"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-api-version", "2")
                .set_body_json(json!({"status": "ok", "items": [{"id": 7}], "version": "1.4.2"})),
        )
        .mount(&api)
        .await;
    let sparky = sparky();
    let asserts = |status: &str, word: &str, id: &str, header_value: &str, contains: &str, ms: &str| {
        format!(
            "url = \"{}/api/status\"\n\
             [[assert]]\nstatus = {status}\n\
             [[assert]]\nlatency = {{ warn_above = \"{ms}\", fail_above = \"{ms}\" }}\n\
             [[assert]]\njson_path = \"$.items[0].id\"\nexists = {id}\n\
             [[assert]]\njson_path = \"$.status\"\nequals = \"{word}\"\n\
             [[assert]]\njson_path = \"$.version\"\nmatches = '^1\\.'\n\
             [[assert]]\nheader = \"X-API-Version\"\nequals = \"{header_value}\"\n\
             [[assert]]\nbody_contains = \"{contains}\"\n\
             [[assert]]\nlatency_p95 = {{ window = \"1h\", warn_above = \"{ms}\" }}\n",
            api.uri()
        )
    };
    check(&sparky, "all-good", &asserts("\"2xx\"", "ok", "true", "2", "items", "5s"));
    check(&sparky, "all-bad", &asserts("[201, 204]", "degraded", "false", "3", "nowhere", "0ms"));
    let results = once(&sparky).await;

    let good = counted(&results["all-good"]);
    assert_eq!(good["outcome"], "pass", "{good}");
    assert_eq!(good["assertions"].as_array().unwrap().len(), 8);
    assert!(good["assertions"].as_array().unwrap().iter().all(|a| a["outcome"] == "pass"), "{good}");

    let bad = counted(&results["all-bad"]);
    assert_eq!(bad["outcome"], "fail");
    assert_eq!(bad["error_kind"], "http", "the status assertion failed");
    let outcomes: Vec<&str> = bad["assertions"].as_array().unwrap().iter().map(|a| a["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, vec!["fail", "fail", "fail", "fail", "pass", "fail", "fail", "warn"], "every assertion reported: {bad}");
}

/// Answers from a script, one entry per request, then the last entry forever.
struct Script(Mutex<Vec<u16>>, AtomicUsize);

impl Respond for Script {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.1.fetch_add(1, Ordering::SeqCst);
        let script = self.0.lock().unwrap();
        let status = *script.get(n).or(script.last()).unwrap();
        ResponseTemplate::new(status).set_body_json(json!({"ok": status == 200}))
    }
}

fn script(statuses: &[u16]) -> Script {
    Script(Mutex::new(statuses.to_vec()), AtomicUsize::new(0))
}

#[tokio::test]
async fn each_error_kind_is_produced_for_real() {
    let api = MockServer::start().await;
    Mock::given(path("/500")).respond_with(ResponseTemplate::new(500)).mount(&api).await;
    Mock::given(path("/401")).respond_with(ResponseTemplate::new(401)).mount(&api).await;
    Mock::given(path("/json")).respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "degraded"}))).mount(&api).await;
    Mock::given(path("/hang")).respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30))).mount(&api).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = api.uri();
    let sparky = sparky();
    check(&sparky, "refused", &format!("url = \"http://127.0.0.1:{closed}/\""));
    check(&sparky, "hangs", &format!("url = \"{base}/hang\"\ntimeout = \"500ms\""));
    check(&sparky, "bad-tls", &format!("url = \"{}/500\"", base.replace("http://", "https://")));
    check(&sparky, "no-dns", "url = \"http://sparky-check.invalid/\"");
    check(&sparky, "server-error", &format!("url = \"{base}/500\""));
    check(&sparky, "unauthorized", &format!("url = \"{base}/401\""));
    check(&sparky, "wrong-json", &format!("url = \"{base}/json\"\n[[assert]]\njson_path = \"$.status\"\nequals = \"ok\""));
    let results = once(&sparky).await;
    for (id, kind) in [
        ("refused", "connect"),
        ("hangs", "timeout"),
        ("bad-tls", "tls"),
        ("no-dns", "dns"),
        ("server-error", "http"),
        ("unauthorized", "auth"),
        ("wrong-json", "assertion"),
    ] {
        let out = counted(&results[id]);
        assert_eq!((out["outcome"].as_str(), out["error_kind"].as_str()), (Some("fail"), Some(kind)), "{id}: {out}");
        assert!(!results[id]["confirmation"].is_null(), "{id}: a failure is confirmed by a re-run");
    }
}

#[tokio::test]
async fn a_401_refreshes_the_oauth_token_once() {
    let api = MockServer::start().await;
    let issued = Arc::new(AtomicUsize::new(0));
    struct Tokens(Arc<AtomicUsize>);
    impl Respond for Tokens {
        fn respond(&self, _: &Request) -> ResponseTemplate {
            let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": format!("token-{n}"), "token_type": "Bearer", "expires_in": 3600}))
        }
    }
    Mock::given(method("POST")).and(path("/oauth2/token")).respond_with(Tokens(issued.clone())).mount(&api).await;
    Mock::given(path("/v1.0/organization"))
        .and(header("authorization", "Bearer token-1"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&api)
        .await;
    Mock::given(path("/v1.0/organization"))
        .and(header("authorization", "Bearer token-2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": []})))
        .mount(&api)
        .await;
    let sparky = sparky().env("SPARKY_TEST_CLIENT_SECRET", "client-secret-do-not-log");
    check(
        &sparky,
        "graph",
        &format!(
            "url = \"{0}/v1.0/organization\"\n[auth]\nkind = \"oauth2_client_credentials\"\ntoken_url = \"{0}/oauth2/token\"\nclient_id = \"app\"\nclient_secret = \"${{SPARKY_TEST_CLIENT_SECRET}}\"\nscope = \"https://graph.microsoft.com/.default\"\n",
            api.uri()
        ),
    );
    let results = once(&sparky).await;
    assert_eq!(counted(&results["graph"])["outcome"], "pass", "{}", results["graph"]);
    assert!(results["graph"]["confirmation"].is_null(), "the refresh happened inside the run");
    assert_eq!(issued.load(Ordering::SeqCst), 2, "one token, one refresh after the 401");
}

#[tokio::test]
async fn a_failure_then_a_pass_counts_as_a_pass() {
    let api = MockServer::start().await;
    Mock::given(path("/flaky")).respond_with(script(&[503, 200])).mount(&api).await;
    let sparky = sparky();
    check(&sparky, "flaky", &format!("url = \"{}/flaky\"", api.uri()));
    let results = once(&sparky).await;
    assert_eq!(results["flaky"]["first"]["outcome"], "fail");
    assert_eq!(results["flaky"]["confirmation"]["outcome"], "pass");
    assert_eq!(results["flaky"]["state"]["state"], "healthy");
    let rows = db_rows(&sparky, "SELECT outcome, confirmation, counted FROM check_results ORDER BY id").await;
    assert_eq!(rows, vec![vec!["fail", "0", "0"], vec!["pass", "1", "1"]], "both stored; only the confirmation counts");
    assert!(db_rows(&sparky, "SELECT * FROM check_events").await.is_empty());
}

#[tokio::test]
async fn thresholds_recovery_and_flapping_move_the_state_only_as_configured() {
    let api = MockServer::start().await;
    // One entry per request; a failed run takes two (the run and its confirmation).
    let runs: [&[u16]; 8] = [&[500, 500], &[500, 500], &[200], &[200], &[500, 500], &[200], &[500, 500], &[200]];
    let statuses: Vec<u16> = runs.iter().flat_map(|r| r.iter().copied()).collect();
    Mock::given(path("/api")).respond_with(script(&statuses)).mount(&api).await;
    let sparky = sparky();
    check(&sparky, "api", &format!("url = \"{}/api\"\nfailure_threshold = 2\nsuccess_threshold = 2", api.uri()));
    let mut states = Vec::new();
    for _ in 0..runs.len() {
        states.push(once(&sparky).await["api"]["state"]["state"].as_str().unwrap().to_owned());
    }
    assert_eq!(states, vec!["healthy", "failing", "failing", "healthy", "healthy", "healthy", "healthy", "healthy"]);
    let events = db_rows(&sparky, "SELECT from_state, to_state FROM check_events ORDER BY id").await;
    assert_eq!(events, vec![vec!["healthy", "failing"], vec!["failing", "healthy"]], "flapping below the thresholds records nothing");
}

/// A fake ServiceNow Table API recording the requests it got.
async fn servicenow(update_status: u16) -> (MockServer, String) {
    let api = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/now/table/incident"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"result": {"sys_id": "abc123", "number": "INC0010001"}})))
        .mount(&api)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/api/now/table/incident/abc123"))
        .respond_with(ResponseTemplate::new(update_status).set_body_json(json!({"result": {"sys_id": "abc123"}})))
        .mount(&api)
        .await;
    Mock::given(method("DELETE")).and(path("/api/now/table/incident/abc123")).respond_with(ResponseTemplate::new(204)).mount(&api).await;
    let body = format!(
        "sandbox = true\n[auth]\nkind = \"basic\"\nusername = \"sparky\"\npassword = \"sandbox-password-do-not-log\"\n\
         [[step]]\nname = \"create\"\nmethod = \"POST\"\nurl = \"{0}/api/now/table/incident\"\nbody = '{{\"short_description\": \"Sparky\"}}'\ncapture = {{ sys_id = \"$.result.sys_id\" }}\n[[step.assert]]\nstatus = 201\n\
         [[step]]\nname = \"update\"\nmethod = \"PATCH\"\nurl = \"{0}/api/now/table/incident/${{sys_id}}\"\nbody = '{{\"work_notes\": \"x\"}}'\n[[step.assert]]\nstatus = 200\n\
         [[cleanup]]\nname = \"delete\"\nmethod = \"DELETE\"\nurl = \"{0}/api/now/table/incident/${{sys_id}}\"\n[[cleanup.assert]]\nstatus = [200, 204]\n",
        api.uri()
    );
    (api, body)
}

async fn requests(api: &MockServer) -> Vec<String> {
    api.received_requests().await.unwrap().iter().map(|r| format!("{} {}", r.method, r.url.path())).collect()
}

#[tokio::test]
async fn a_sandbox_check_creates_updates_and_cleans_up() {
    let (api, body) = servicenow(200).await;
    let sparky = sparky();
    check(&sparky, "snow-incident", &body);
    let results = once(&sparky).await;
    assert_eq!(counted(&results["snow-incident"])["outcome"], "pass", "{}", results["snow-incident"]);
    assert_eq!(
        requests(&api).await,
        vec!["POST /api/now/table/incident", "PATCH /api/now/table/incident/abc123", "DELETE /api/now/table/incident/abc123"]
    );
    let auth = &api.received_requests().await.unwrap()[0].headers["authorization"];
    assert!(auth.to_str().unwrap().starts_with("Basic "));
}

#[tokio::test]
async fn cleanup_runs_after_a_failed_step() {
    let (api, body) = servicenow(500).await;
    let sparky = sparky();
    check(&sparky, "snow-incident", &body);
    let results = once(&sparky).await;
    let out = counted(&results["snow-incident"]);
    assert_eq!((out["outcome"].as_str(), out["error_kind"].as_str()), (Some("fail"), Some("http")), "{out}");
    let seen = requests(&api).await;
    assert_eq!(
        seen.iter().filter(|r| r.starts_with("DELETE")).count(),
        2,
        "cleanup after the failed run and after its confirmation: {seen:?}"
    );
}

#[tokio::test]
async fn check_config_rejects_writes_outside_the_rules() {
    let sparky = sparky();
    check(&sparky, "post", "url = \"https://api.acme.test/v1/users\"\nmethod = \"POST\"");
    check(&sparky, "post-no-reason", "url = \"https://api.acme.test/graphql\"\nmethod = \"POST\"\nread_only_post = true");
    check(
        &sparky,
        "graphql",
        "url = \"https://api.acme.test/graphql\"\nmethod = \"POST\"\nread_only_post = true\nreason = \"GraphQL query, no mutation\"\nbody = '{\"query\": \"{ viewer { id } }\"}'",
    );
    check(&sparky, "delete", "url = \"https://api.acme.test/v1/users/1\"\nmethod = \"DELETE\"");
    check(
        &sparky,
        "prod-write",
        "sandbox = true\n[[step]]\nmethod = \"POST\"\nurl = \"https://acme.service-now.com/api/now/table/incident\"",
    );
    let run = sparky.cli(&["check-config"]).await;
    run.expect_code(2);
    let out = &run.stdout;
    assert!(out.contains("synthetics/post.toml: method: POST is not read-only"), "{out}");
    assert!(out.contains("synthetics/post-no-reason.toml: reason: read_only_post = true needs a reason"), "{out}");
    assert!(out.contains("synthetics/delete.toml: method: DELETE is not read-only"), "{out}");
    assert!(
        out.contains("synthetics/prod-write.toml: step[0].url: host `acme.service-now.com` is not in sandbox_hosts of partners/acme.toml"),
        "{out}"
    );
    assert!(!out.contains("graphql.toml"), "a read-only POST with a reason is fine: {out}");
}

#[tokio::test]
async fn secrets_never_appear_in_logs_output_or_stored_results() {
    let api = MockServer::start().await;
    Mock::given(path("/echo")).respond_with(ResponseTemplate::new(401).set_body_string("denied")).mount(&api).await;
    Mock::given(path("/token"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"error": "invalid_client", "error_description": "bad secret client-secret-do-not-log"})),
        )
        .mount(&api)
        .await;
    let sparky = sparky()
        .env("SPARKY_TEST_TOKEN", "bearer-token-do-not-log")
        .env("SPARKY_TEST_SECRET", "client-secret-do-not-log")
        .env("RUST_LOG", "debug");
    check(&sparky, "bearer", &format!("url = \"{}/echo\"\n[auth]\nkind = \"bearer\"\ntoken = \"${{SPARKY_TEST_TOKEN}}\"", api.uri()));
    check(
        &sparky,
        "oauth",
        &format!(
            "url = \"{0}/echo\"\n[auth]\nkind = \"oauth2_client_credentials\"\ntoken_url = \"{0}/token\"\nclient_id = \"app\"\nclient_secret = \"${{SPARKY_TEST_SECRET}}\"",
            api.uri()
        ),
    );
    let run = sparky.cli(&["once", "synthetics"]).await;
    run.expect_code(0);
    let db = std::fs::read(sparky.sqlite_path()).unwrap();
    let wal = std::fs::read(sparky.sqlite_path().with_extension("db-wal")).unwrap_or_default();
    for secret in ["bearer-token-do-not-log", "client-secret-do-not-log"] {
        assert!(!run.stdout.contains(secret) && !run.stderr.contains(secret), "{secret} in output");
        assert!(!contains(&db, secret) && !contains(&wal, secret), "{secret} stored");
    }
    assert!(run.stdout.contains("invalid_client"), "the error is still clear: {}", run.stdout);
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn hundreds_of_checks_run_on_schedule_and_a_hanging_partner_delays_no_other() {
    common::crypto();
    let api = MockServer::start().await;
    Mock::given(path("/ok")).respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true}))).mount(&api).await;
    Mock::given(path("/hang")).respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30))).mount(&api).await;
    let sparky = sparky();
    sparky.write("partners/slowco.toml", "id = \"slowco\"\nname = \"Slow Co\"\n");
    for i in 0..200 {
        check(&sparky, &format!("fast-{i}"), &format!("url = \"{}/ok\"\ninterval = \"2s\"", api.uri()));
    }
    for i in 0..20 {
        sparky.write(&format!("synthetics/slow-{i}.toml"), &format!("id = \"slow-{i}\"\npartner = \"slowco\"\nurl = \"{}/hang\"\ninterval = \"2s\"\ntimeout = \"1s\"\nconfirm_after = \"100ms\"\n", api.uri()));
    }
    let daemon = sparky.boot().await;
    let ran_thrice =
        "SELECT COUNT(*) FROM (SELECT check_id FROM check_results WHERE partner_id = 'acme' GROUP BY check_id HAVING COUNT(*) >= 3) t";
    let all_ran = || async { db_rows(&sparky, ran_thrice).await[0][0] == "200" };
    assert!(eventually_async(30, all_ran).await, "every check ran three times");
    let metrics = daemon.get("/metrics").await.1;
    daemon.stop().await;

    let rows = db_rows(&sparky, "SELECT check_id, at FROM check_results WHERE partner_id = 'acme' ORDER BY check_id, at").await;
    let mut times: HashMap<String, Vec<i64>> = HashMap::new();
    for row in rows {
        times.entry(row[0].clone()).or_default().push(row[1].parse().unwrap());
    }
    assert_eq!(times.len(), 200, "every check ran");
    for (id, at) in &times {
        assert!(at.len() >= 3, "{id} ran {} times", at.len());
        for pair in at.windows(2) {
            let gap = pair[1] - pair[0];
            assert!((1800..=2300).contains(&gap), "{id}: runs {gap} ms apart, not on its 2 s schedule");
        }
    }
    let first_runs: std::collections::BTreeSet<i64> = times.values().map(|at| at[0] % 2000 / 100).collect();
    assert!(first_runs.len() >= 10, "checks are spread over the interval, not fired together: {first_runs:?}");
    let slow = db_rows(&sparky, "SELECT COUNT(*) FROM check_results WHERE partner_id = 'slowco' AND error_kind = 'timeout'").await;
    assert!(slow[0][0].parse::<i64>().unwrap() >= 20, "the hanging partner's checks time out: {slow:?}");
    // Lateness is recorded for every run; how small it is, is the bench's to say
    // (`cargo bench --bench synthetics`), not a timed assertion's.
    let count = metrics.lines().find_map(|l| l.strip_prefix("sparky_check_schedule_lateness_seconds_count ")).unwrap();
    assert!(count.parse::<f64>().unwrap() > 500.0, "lateness observed for each run: {count}");
}

#[tokio::test]
async fn check_id_prints_each_assertion_and_the_record_over_three_windows() {
    let api = MockServer::start().await;
    Mock::given(path("/ok")).respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 1}))).mount(&api).await;
    let sparky = sparky();
    check(&sparky, "api", &format!("url = \"{}/ok\"\n[[assert]]\nstatus = 200\n[[assert]]\njson_path = \"$.id\"\nequals = 1", api.uri()));
    sparky.cli(&["check", "api", "--record"]).await.expect_code(0);
    sparky.cli(&["check", "api", "--record"]).await.expect_code(0);
    let run = sparky.cli(&["check", "api"]).await;
    run.expect_code(0);
    let out = &run.stdout;
    assert!(out.contains("(not recorded: run with --record"), "read only by default: {out}");
    assert!(out.contains("run: pass in"), "{out}");
    assert!(out.contains("[pass] status is 200: got 200"), "{out}");
    assert!(out.contains("[pass] $.id equals 1"), "{out}");
    assert!(out.contains("state: healthy since"), "{out}");
    for window in ["last  1h: 2 runs, success rate 100.0 %", "last 24h: 2 runs", "last  7d: 2 runs"] {
        assert!(out.contains(window), "missing {window:?} in {out}");
    }
    let unknown = sparky.cli(&["check", "nope"]).await;
    unknown.expect_code(2);
    assert!(unknown.stderr.contains("no check `nope`"));
}
