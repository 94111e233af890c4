//! `/metrics` right after start-up: every series whose labels are known is there at zero, and
//! the text passes `promtool check metrics` (in its own test binary: the metrics are
//! process-wide, and other daemons' counts would mix in).

#![allow(unreachable_pub, clippy::unwrap_used)] // test and bench code: a failed unwrap is a failed run

mod common;

/// `promtool check metrics` (Debian `prometheus`, installed by `.ci/run`); `None` when it is not
/// on this machine (a failure under `CI=true`).
fn promtool(text: &str) -> Option<std::process::Output> {
    use std::io::Write as _;
    let spawned = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            assert!(std::env::var("CI").is_err(), "promtool is needed under CI=true (apt-get install prometheus): {e}");
            eprintln!("skipped: promtool not found ({e})");
            return None;
        }
    };
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    Some(child.wait_with_output().unwrap())
}

#[tokio::test]
async fn metrics_right_after_start_up_pass_promtool_with_every_known_series_at_zero() {
    let w = common::world::World::new(&["acme-api"], "").await;
    let daemon = w.sparky.boot().await;
    let (status, text) = daemon.get("/metrics").await;
    assert_eq!(status, 200);
    for series in [
        r#"sparky_check_results_total{check="acme-api",outcome="fail",partner="acme"} 0"#,
        r#"sparky_incidents_total{cause="internal",partner="acme"} 0"#,
        r#"sparky_incidents_open{cause="external",partner="acme"} 0"#,
        r#"sparky_feed_fetches_total{partner="acme",result="ok"} 0"#,
        r#"sparky_sink_configured{mode="api",sink="pagerduty"} 1"#,
        r#"sparky_outbox_dead_letters_total{sink="jira"} 0"#,
    ] {
        assert!(text.contains(series), "{series} missing from /metrics:\n{text}");
    }
    for series in [
        r#"sparky_errors_total{kind="timeout",stage="status"} 0"#,
        r#"sparky_errors_total{kind="store",stage="outbox"} 0"#,
        r#"sparky_check_errors_total{error_kind="http",partner="acme"} 0"#,
        r#"sparky_job_runs_total{job="changelogs",result="error"} 0"#,
    ] {
        assert!(text.contains(series), "{series} missing from /metrics:\n{text}");
    }
    // Every counter declared in src/metrics.rs has series from start-up (the encoder leaves out a
    // family without any): an alert on rate() sees 0, not "no data".
    let source = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/metrics.rs")).unwrap();
    let declared: Vec<&str> = source.split('"').filter(|w| w.starts_with("sparky_") && w.ends_with("_total") && !w.contains(' ')).collect();
    assert!(declared.len() >= 12, "{declared:?}");
    let missing: Vec<&&str> = declared.iter().filter(|family| !text.contains(&format!("# TYPE {family} counter"))).collect();
    assert!(missing.is_empty(), "counters absent at start-up: {missing:?}");
    assert!(text.contains("sparky_egress_up 1"), "egress presumed up until the canaries say otherwise:\n{text}");
    assert!(text.contains("sparky_silences_active 0"), "no silence counted before triage's first round:\n{text}");
    if let Some(out) = promtool(&text) {
        assert!(out.status.success(), "promtool: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    }
    daemon.stop().await;

    // A silence in the database and a maintenance window in force: triage's round counts both.
    let now = sparky::model::Timestamp::now();
    let window = format!(
        "[[maintenance]]\ncheck = \"acme-api\"\nreason = \"failover\"\nstart = \"{}\"\nend = \"{}\"\n",
        (now - std::time::Duration::from_secs(60)).to_rfc3339(),
        (now + std::time::Duration::from_secs(3600)).to_rfc3339()
    );
    let w = common::world::World::new(&["acme-api"], &window).await;
    let app = w.sparky.app().await;
    let target = sparky::model::SilenceTarget::Partner("acme".parse().unwrap());
    let new = sparky::store::silences::NewSilence {
        target: &target,
        starts_at: now,
        ends_at: now + std::time::Duration::from_secs(3600),
        reason: "deploy",
        created_by: "alice",
        created_at: now,
    };
    sparky::store::silences::add(&app.store, &new).await.unwrap();
    app.store.close().await;
    let daemon = w.sparky.boot().await;
    let counted = common::eventually_async(10, || async { daemon.get("/metrics").await.1.contains("sparky_silences_active 2") }).await;
    assert!(counted, "one silence and one window in force:\n{}", daemon.get("/metrics").await.1);
    daemon.stop().await;
}
