//! Retention on SQLite and on PostgreSQL (when `SPARKY_TEST_POSTGRES_URL` is set): a year and a
//! month of history written through the real paths (status polls and their notices, changelog
//! entries and their digest, delivered and undone actions, check results and events, incidents
//! with their remote ids and public incident), the one clock moved on past each retention in
//! turn (no sleeping), and the daily run of `once` jobs ([`sparky::service::retention::if_due`])
//! at each stage: what is older than its retention is gone, what is younger stays, what is never
//! pruned stays whatever its age, and a notice or an entry that re-appears after its row was
//! pruned is not queued again.

#![allow(unreachable_pub, clippy::unwrap_used)] // test and bench code: a failed unwrap is a failed run

mod common;

use std::time::Duration;

use sparky::config::RetentionConfig;
use sparky::digest;
use sparky::model::statuspage::IncidentStatus;
use sparky::model::{
    ActionState, Cause, CheckId, CheckState, EventDetail, EventKind, Indicator, PartnerId, PartnerIncident, PartnerStatus, Priority,
    SinkKind, StatusEvent, Timestamp,
};
use sparky::notices;
use sparky::service::App;
use sparky::service::retention::{self, JOB};
use sparky::store::changelogs::{self, EntryRecord};
use sparky::store::incidents::{self, NewIncident};
use sparky::store::outbox::{self, Attempted, ClaimFilter, NewAction};
use sparky::store::status::{self, Fetch, PollRecord};
use sparky::store::synthetics::{self, Batch, EventRow, ResultRow};
use sparky::store::{Store, public_status, remote_ids};
use sqlx::Row;

use common::{Db, Sparky, fresh_postgres, postgres_url, time_travel};

const DAY: Duration = Duration::from_secs(24 * 3600);
const NOTICE: &str = "status:okta:incident:inc-1:opened";
const FEED: &str = "https://example.com/okta.xml";

/// Runs `check` in a fresh config directory on SQLite, then on a fresh PostgreSQL database when
/// available.
macro_rules! on_both_backends {
    ($name:ident, $check:ident) => {
        #[tokio::test]
        async fn $name() {
            $check(world(Db::Sqlite).await).await;
            if let Some(admin) = postgres_url(stringify!($name)) {
                $check(world(Db::Postgres(fresh_postgres(&admin).await)).await).await;
            }
        }
    };
}

/// A started service over a config directory with partner `okta` (a status page, never
/// fetched) and no sink credentials: the log sink prints every action (`printed`).
async fn world(db: Db) -> (Sparky, App) {
    let sparky = Sparky::new(db).env("SPARKY_CANARY_URLS", "");
    sparky.write(
        "partners/okta.toml",
        "id = \"okta\"\nname = \"Okta\"\n\n[status_page]\nkind = \"statuspage\"\nurl = \"http://127.0.0.1:9/api/v2/summary.json\"\n",
    );
    let app = sparky.app().await;
    (sparky, app)
}

async fn count(store: &Store, sql: &str) -> i64 {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())).fetch_one(store.pool()).await.unwrap().try_get(0).unwrap()
}

async fn keyed(store: &Store, table: &str, key: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM {table} WHERE idempotency_key = $1");
    sqlx::query(sqlx::AssertSqlSafe(sql)).bind(key).fetch_one(store.pool()).await.unwrap().try_get(0).unwrap()
}

fn page(indicator: Indicator, incidents: &[&str]) -> PartnerStatus {
    let incidents = incidents
        .iter()
        .map(|id| PartnerIncident {
            id: (*id).to_owned(),
            name: "Login failures".to_owned(),
            impact: Indicator::Major,
            status: "investigating".to_owned(),
            started_at: None,
            shortlink: None,
            components: Vec::new(),
        })
        .collect();
    PartnerStatus { indicator, description: None, components: Vec::new(), incidents, maintenances: Vec::new(), error: None }
}

/// A poll of `partner` at `at` that found `status` and these events.
async fn poll(store: &Store, partner: &str, at: Timestamp, status: &PartnerStatus, events: &[StatusEvent]) {
    let fetch = Fetch::Fresh { etag: None, last_modified: None };
    status::record_poll(store, &PollRecord { partner, at, fetch, changed: Some(status), events }).await.unwrap();
}

fn opened(id: &str) -> StatusEvent {
    let detail = EventDetail { name: Some("Login failures".to_owned()), impact: Some(Indicator::Major), ..EventDetail::default() };
    StatusEvent::new(EventKind::IncidentOpened, id, None, Some("investigating"), detail)
}

fn entry(key: &str) -> EntryRecord {
    EntryRecord {
        key: key.to_owned(),
        title: format!("Release {key}"),
        link: Some(format!("https://example.com/{key}")),
        published_at: None,
        summary: "Something changed.".to_owned(),
        tags: Vec::new(),
    }
}

/// Stores `keys` as a successful poll of the feed; returns the keys stored as new.
async fn feed_shows(store: &Store, keys: &[&str], pending: bool) -> Vec<String> {
    let entries: Vec<EntryRecord> = keys.iter().map(|k| entry(k)).collect();
    changelogs::record_success(store, "okta", FEED, (None, None), &entries, |_| pending, None).await.unwrap().new
}

async fn insert(store: &Store, key: &str, ordering: &str) -> Option<i64> {
    let action =
        NewAction { idempotency_key: key.to_owned(), ordering_key: ordering.to_owned(), sink: SinkKind::Jira, payload: "{}".to_owned() };
    let mut tx = store.pool().begin().await.unwrap();
    let id = outbox::insert(&mut tx, &action).await.unwrap();
    tx.commit().await.unwrap();
    id
}

/// Claims every due action and records `outcome` for each; returns how many.
async fn attempt_all(store: &Store, outcome: Attempted) -> usize {
    let claimed = outbox::claim_due(store, "test", Timestamp::now() + Duration::from_secs(60), 100, &ClaimFilter::default()).await.unwrap();
    for row in &claimed {
        assert!(outbox::record(store, "test", row.id, &outcome).await.unwrap());
    }
    claimed.len()
}

fn result(check: &str, at: Timestamp) -> ResultRow {
    ResultRow {
        check_id: check.to_owned(),
        partner_id: "okta".to_owned(),
        at,
        duration_ms: 120,
        http_status: Some(200),
        outcome: sparky::model::Outcome::Pass,
        error_kind: None,
        message: None,
        assertions: "[]".to_owned(),
        confirmation: false,
        counted: true,
    }
}

/// Opens an incident of `partner` for check `check` at now, resolved at once when `resolved`.
async fn incident(store: &Store, partner: &str, check: &str, resolved: bool) -> i64 {
    let (partner, check): (PartnerId, CheckId) = (partner.parse().unwrap(), check.parse().unwrap());
    let mut tx = store.pool().begin().await.unwrap();
    let new = NewIncident {
        partner: &partner,
        cause: Cause::Internal,
        reason: "all green",
        priority: Priority::P4,
        check: &check,
        at: Timestamp::now(),
        evidence: None,
    };
    let id = incidents::insert(&mut tx, &new).await.unwrap().id;
    if resolved {
        assert!(incidents::resolve(&mut tx, id, Timestamp::now()).await.unwrap());
    }
    tx.commit().await.unwrap();
    id
}

/// One `once` run's end: the day's retention runs (and the marker says so), then a second run
/// right after finds nothing due and deletes nothing.
async fn daily_run(app: &App) -> sparky::store::retention::Pruned {
    let pruned = retention::if_due(app).await.unwrap().expect("the day's retention is due");
    assert_eq!(retention::if_due(app).await.unwrap(), None, "a run right after a prune does nothing");
    let tick = retention::cron().previous(Timestamp::now()).unwrap();
    let row = sqlx::query("SELECT COUNT(*), MIN(finished_at) FROM job_runs WHERE job = $1 AND tick = $2")
        .bind(JOB)
        .bind(tick.as_millis())
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert_eq!(row.try_get::<i64, _>(0).unwrap(), 1, "one marker for the day's tick");
    assert!(row.try_get::<Option<i64>, _>(1).unwrap().is_some(), "the marker is finished");
    pruned
}

async fn state_of(store: &Store, key: &str) -> Option<ActionState> {
    let row = sqlx::query("SELECT id FROM outbox WHERE idempotency_key = $1").bind(key).fetch_optional(store.pool()).await.unwrap()?;
    Some(outbox::get(store, row.try_get(0).unwrap()).await.unwrap().unwrap().state)
}

async fn a_year_of_history_is_pruned_table_by_table((_sparky, app): (Sparky, App)) {
    let store = &app.store;
    let t0 = Timestamp::now();

    // Incidents: i1 resolved with a delivered action, remote id and public incident; i2 open;
    // i3 resolved but its chain holds a dead action.
    let i1 = incident(store, "okta", "okta-users", true).await;
    let i2 = incident(store, "slack", "slack-api", false).await;
    let i3 = incident(store, "github", "github-rate", true).await;
    remote_ids::put(store, "jira", &format!("incident:{i1}"), "OPS-1").await.unwrap();
    let public = public_status::NewIncident {
        key: &format!("incident:{i1}"),
        name: "Okta degraded",
        body: "Okta has an outage",
        status: IncidentStatus::Investigating,
        components: &[],
        impact: Some(Indicator::Major),
        at: t0,
    };
    public_status::open_incident(store, &public).await.unwrap();
    assert!(public_status::append_update(store, &format!("incident:{i1}"), "Recovered", IncidentStatus::Resolved, t0).await.unwrap());

    // Status: okta's incident opens (a notice), slack's page is read once.
    poll(store, "okta", t0, &page(Indicator::Major, &["inc-1"]), &[opened("inc-1")]).await;
    poll(store, "slack", t0, &page(Indicator::None, &[]), &[]).await;
    // Changelog: x goes into a digest, z is only seen.
    assert_eq!(feed_shows(store, &["x"], true).await, ["x"]);
    assert_eq!(feed_shows(store, &["z"], false).await, ["z"]);
    assert_eq!(notices::queue(store, &app.config, &app.templates).await.unwrap(), 1);
    assert_eq!(digest::queue_digests(store, &app.config, &app.templates).await.unwrap().messages, 1);
    app.deliverer().drain().await.unwrap();
    assert_eq!(state_of(store, NOTICE).await, Some(ActionState::Printed));
    // y waits for a digest.
    assert_eq!(feed_shows(store, &["y"], true).await, ["y"]);

    // Outbox: delivered ones (one of i1's chain), and undone ones of every state.
    insert(store, "delivered", "delivered").await.unwrap();
    insert(store, &format!("incident:{i1}:open:jira"), &format!("incident:{i1}:jira")).await.unwrap();
    assert_eq!(attempt_all(store, Attempted::Delivered { remote_id: Some("OPS-1".to_owned()) }).await, 2);
    insert(store, &format!("incident:{i3}:open:jira"), &format!("incident:{i3}:jira")).await.unwrap();
    assert_eq!(attempt_all(store, Attempted::Failed { error: "HTTP 400".to_owned(), next_attempt_at: None }).await, 1);
    insert(store, &format!("incident:{i3}:resolve:jira"), &format!("incident:{i3}:jira")).await.unwrap();
    insert(store, "retrying", "retrying").await.unwrap();
    let far = Timestamp::now() + DAY * 1000;
    assert_eq!(attempt_all(store, Attempted::Failed { error: "HTTP 503".to_owned(), next_attempt_at: Some(far) }).await, 1);
    insert(store, "pending", "pending").await.unwrap();
    let undone = [
        (format!("incident:{i3}:open:jira"), ActionState::Dead),
        (format!("incident:{i3}:resolve:jira"), ActionState::Blocked),
        ("retrying".to_owned(), ActionState::Retrying),
        ("pending".to_owned(), ActionState::Pending),
    ];

    // A second okta snapshot a second later (an indicator change: history, no notice).
    time_travel(Duration::from_secs(1)).await;
    let change = StatusEvent::new(EventKind::Indicator, "", Some("major"), Some("minor"), EventDetail::default());
    poll(store, "okta", Timestamp::now(), &page(Indicator::Minor, &["inc-1"]), &[change]).await;
    assert_eq!(notices::queue(store, &app.config, &app.templates).await.unwrap(), 0);

    // Checks: three results, one triaged state change and one not.
    let events = [CheckState::Failing, CheckState::Healthy].map(|to| EventRow {
        check_id: "okta-users".to_owned(),
        partner_id: "okta".to_owned(),
        at: t0,
        from: if to == CheckState::Failing { CheckState::Healthy } else { CheckState::Failing },
        to,
        warn: None,
    });
    let results = (0..3).map(|i| result("okta-users", t0 + Duration::from_secs(i))).collect();
    synthetics::write_batch(store, &Batch { results, states: Vec::new(), events: events.to_vec() }).await.unwrap();
    let first = incidents::unhandled_events(store, 10).await.unwrap()[0].id;
    let mut tx = store.pool().begin().await.unwrap();
    assert!(incidents::claim_event(&mut tx, first, Timestamp::now()).await.unwrap());
    tx.commit().await.unwrap();

    // Day 10: only check results are past their 8 days; a young one stays.
    time_travel(DAY * 10).await;
    synthetics::write_batch(store, &Batch { results: vec![result("okta-users", Timestamp::now())], ..Batch::default() }).await.unwrap();
    let pruned = daily_run(&app).await;
    assert_eq!((pruned.check_results, pruned.outbox, pruned.status_snapshots, pruned.changelog_entries), (3, 0, 0, 0), "{pruned:?}");
    assert_eq!(count(store, "SELECT COUNT(*) FROM check_results").await, 1);

    // Day 35: done actions are past their 30 days; their keys are kept; undone ones stay.
    time_travel(DAY * 25).await;
    let pruned = daily_run(&app).await;
    assert_eq!((pruned.outbox, pruned.outbox_keys_kept, pruned.status_snapshots), (4, 4, 0), "{pruned:?}");
    for key in [NOTICE, "delivered"] {
        assert_eq!((keyed(store, "outbox", key).await, keyed(store, "outbox_keys", key).await), (0, 1), "{key}");
    }
    for (key, state) in &undone {
        assert_eq!(state_of(store, key).await, Some(*state), "{key} is never pruned");
    }
    // The digest's action is gone: its entry still counts as posted.
    let counts = changelogs::entry_counts(store, Some("okta")).await.unwrap();
    assert_eq!((counts.seen, counts.undelivered, counts.delivered), (1, 1, 1), "{counts:?}");
    // Okta's incident re-appears on its page: its notice is not queued again.
    poll(store, "okta", Timestamp::now(), &page(Indicator::Major, &["inc-1"]), &[opened("inc-1")]).await;
    assert_eq!(notices::queue(store, &app.config, &app.templates).await.unwrap(), 0, "the notice was posted 35 days ago");
    assert_eq!(keyed(store, "outbox", NOTICE).await, 0);
    assert_eq!(insert(store, "delivered", "delivered").await, None, "a pruned action's key still makes a repeat a no-op");

    // Day 95: status history past its 90 days, but the snapshot in force at the horizon stays,
    // and slack's only (latest) one.
    time_travel(DAY * 60).await;
    let pruned = daily_run(&app).await;
    assert_eq!((pruned.status_snapshots, pruned.status_events), (1, 2), "{pruned:?}");
    assert_eq!(count(store, "SELECT COUNT(*) FROM status_snapshots WHERE partner_id = 'okta'").await, 2);
    assert_eq!(count(store, "SELECT COUNT(*) FROM status_snapshots WHERE partner_id = 'slack'").await, 1);
    let horizon = Timestamp::now() - DAY * 90;
    let (at, said) = status::snapshot_at(store, "okta", horizon).await.unwrap().expect("what okta said at the horizon");
    assert_eq!((at > t0, said.indicator), (true, Indicator::Minor));
    assert_eq!(count(store, "SELECT COUNT(*) FROM status_events").await, 1, "the event of day 35 stays");

    // Day 405: check events, incidents and changelog entries past their 400 days.
    time_travel(DAY * 310).await;
    let pruned = daily_run(&app).await;
    assert_eq!(pruned.check_events, 1, "the triaged one; the other waits for triage: {pruned:?}");
    assert_eq!(count(store, "SELECT COUNT(*) FROM check_events WHERE handled_at IS NULL").await, 1);
    assert_eq!((pruned.incidents, pruned.incident_history, pruned.incident_checks), (1, 2, 1), "{pruned:?}");
    assert_eq!((pruned.remote_ids, pruned.public_incidents, pruned.outbox_keys), (1, 1, 1), "{pruned:?}");
    let ids = |state: &str| format!("SELECT COUNT(*) FROM incidents WHERE state = '{state}'");
    assert_eq!(
        (count(store, &ids("open")).await, count(store, &ids("resolved")).await),
        (1, 1),
        "i2 open, i3 referenced by its dead action"
    );
    assert_eq!(count(store, &format!("SELECT COUNT(*) FROM incident_history WHERE incident_id IN ({i2}, {i3})")).await, 3);
    assert_eq!(count(store, &format!("SELECT COUNT(*) FROM incident_history WHERE incident_id = {i1}")).await, 0);
    assert_eq!((pruned.changelog_entries, pruned.changelog_marks_kept), (2, 2), "x (posted) and z (seen); y waits: {pruned:?}");
    assert_eq!(keyed(store, "outbox_keys", NOTICE).await, 1, "a notice's key is permanent");
    // The feed still shows x and z: they are not new; w is.
    assert_eq!(feed_shows(store, &["x", "z", "w"], true).await, ["w"]);
    assert_eq!(digest::queue_digests(store, &app.config, &app.templates).await.unwrap().entries, 2, "y and w only");
    for (key, state) in &undone {
        assert_eq!(state_of(store, key).await, Some(*state), "{key} is never pruned");
    }
    app.store.close().await;
}
on_both_backends!(a_year_of_history_is_pruned_table_by_table_on_both_backends, a_year_of_history_is_pruned_table_by_table);

async fn what_is_never_pruned_stays_whatever_its_age((_sparky, app): (Sparky, App)) {
    let store = &app.store;
    insert(store, "pending", "pending").await.unwrap();
    poll(store, "okta", Timestamp::now(), &page(Indicator::Major, &["inc-9"]), &[opened("inc-9")]).await;
    let open = incident(store, "okta", "okta-users", false).await;
    feed_shows(store, &["p"], true).await;
    let event = EventRow {
        check_id: "okta-users".to_owned(),
        partner_id: "okta".to_owned(),
        at: Timestamp::now(),
        from: CheckState::Healthy,
        to: CheckState::Failing,
        warn: None,
    };
    synthetics::write_batch(store, &Batch { events: vec![event], ..Batch::default() }).await.unwrap();

    let in_ten_years = Timestamp::now() + DAY * 3650;
    let pruned = sparky::store::retention::prune(store, &RetentionConfig::default(), in_ten_years).await.unwrap();
    assert_eq!(pruned.total(), 0, "{pruned:?}");
    assert_eq!(state_of(store, "pending").await, Some(ActionState::Pending));
    assert_eq!(count(store, "SELECT COUNT(*) FROM status_events WHERE noticed_at IS NULL").await, 1, "not noticed yet");
    assert_eq!(count(store, "SELECT COUNT(*) FROM status_snapshots").await, 1, "okta's latest snapshot");
    assert_eq!(count(store, &format!("SELECT COUNT(*) FROM incident_history WHERE incident_id = {open}")).await, 1, "an open incident");
    assert_eq!(count(store, "SELECT COUNT(*) FROM check_events").await, 1, "not triaged yet");
    assert_eq!(count(store, "SELECT COUNT(*) FROM changelog_entries").await, 1, "awaits its digest");
    app.store.close().await;
}
on_both_backends!(what_is_never_pruned_stays_on_both_backends, what_is_never_pruned_stays_whatever_its_age);

/// The binary: a `once` job ends with the day's retention, marked once for the day.
#[tokio::test]
async fn a_once_job_runs_the_days_retention_once() {
    let sparky = Sparky::new(Db::Sqlite).env("SPARKY_CANARY_URLS", "");
    for _ in 0..2 {
        sparky.cli(&["once", "deliver"]).await.expect_code(0);
    }
    let store = Store::open(&format!("sqlite://{}", sparky.sqlite_path().display())).await.unwrap();
    let ticks =
        sqlx::query("SELECT COUNT(*), COUNT(finished_at) FROM job_runs WHERE job = $1").bind(JOB).fetch_one(store.pool()).await.unwrap();
    assert_eq!((ticks.try_get::<i64, _>(0).unwrap(), ticks.try_get::<i64, _>(1).unwrap()), (1, 1), "one finished marker for the day");
    store.close().await;
}
