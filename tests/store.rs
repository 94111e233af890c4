//! The store, on SQLite and on PostgreSQL (when `SPARKY_TEST_POSTGRES_URL` is set): the same
//! assertions against both backends.

#![allow(unreachable_pub, clippy::unwrap_used)] // test and bench code: a failed unwrap is a failed run

mod common;

use std::time::Duration;

use sparky::model::{
    ActionState, CheckState, ErrorKind, FailedJob, FailedStep, Outcome, RunState, RunTrigger, SinkKind, StateRecord, Timestamp,
};
use sparky::store::changelogs::{self, EntryRecord};
use sparky::store::compat;
use sparky::store::compat_runs::{self, NewRun, RunUpdate};
use sparky::store::outbox::{self, Attempted, NewAction};
use sparky::store::{Store, jobs};

use common::{fresh_postgres, postgres_url};

/// Runs `check` on a fresh SQLite database, then on a fresh PostgreSQL one when available.
macro_rules! on_both_backends {
    ($name:ident, $check:ident) => {
        #[tokio::test]
        async fn $name() {
            let dir = tempfile::tempdir().unwrap();
            let sqlite = Store::open(&format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display())).await.unwrap();
            $check(&sqlite).await;
            if let Some(admin) = postgres_url(stringify!($name)) {
                let db = fresh_postgres(&admin).await;
                let pg = Store::open(&db.url).await.unwrap();
                $check(&pg).await;
                pg.close().await;
            }
        }
    };
}

fn action(key: &str, order: &str) -> NewAction {
    NewAction { idempotency_key: key.to_owned(), ordering_key: order.to_owned(), sink: SinkKind::Slack, payload: "{}".to_owned() }
}

async fn insert(store: &Store, a: &NewAction) -> Option<i64> {
    let mut tx = store.pool().begin().await.unwrap();
    let id = outbox::insert(&mut tx, a).await.unwrap();
    tx.commit().await.unwrap();
    id
}

fn lease() -> Timestamp {
    Timestamp::now() + Duration::from_secs(60)
}

fn past() -> Timestamp {
    Timestamp::now() - Duration::from_millis(1)
}

/// Records one outcome as `owner`; true when it still held the lease.
async fn record(store: &Store, id: i64, owner: &str, outcome: Attempted) -> bool {
    outbox::record(store, owner, id, &outcome).await.unwrap()
}

/// Claims up to `limit` due actions as `owner` until `until`, none of `exclude`.
async fn claim(store: &Store, owner: &str, until: Timestamp, limit: i64, exclude: &[i64]) -> Vec<outbox::ActionRow> {
    outbox::claim_due(store, owner, until, limit, &outbox::ClaimFilter { exclude, ..Default::default() }).await.unwrap()
}

fn delivered(remote_id: Option<&str>) -> Attempted {
    Attempted::Delivered { remote_id: remote_id.map(str::to_owned) }
}

fn failed(error: &str, next_attempt_at: Option<Timestamp>) -> Attempted {
    Attempted::Failed { error: error.to_owned(), next_attempt_at }
}

async fn outbox_is_idempotent_and_claims_are_exclusive(store: &Store) {
    let first = insert(store, &action("k1", "o1")).await.expect("inserted");
    assert_eq!(insert(store, &action("k1", "o1")).await, None, "same idempotency key: no second action");
    insert(store, &action("k2", "o2")).await.unwrap();

    let a = claim(store, "owner-a", lease(), 10, &[]).await;
    let b = claim(store, "owner-b", lease(), 10, &[]).await;
    assert_eq!(a.len(), 2);
    assert!(b.is_empty(), "leased rows are not claimed twice");
    assert_eq!(a[0].id, first);
    assert_eq!(a[0].attempts, 1);
    assert!(!a[0].maybe_delivered_before());

    assert!(!record(store, first, "owner-b", delivered(Some("ts"))).await, "only the lease holder records");
    assert!(record(store, first, "owner-a", delivered(Some("1700000000.1"))).await);
    let row = outbox::get(store, first).await.unwrap().unwrap();
    assert_eq!((row.state, row.remote_id.as_deref()), (ActionState::Delivered, Some("1700000000.1")));
}
on_both_backends!(outbox_idempotency_and_exclusive_claims, outbox_is_idempotent_and_claims_are_exclusive);

async fn failures_retry_then_die_and_can_be_requeued(store: &Store) {
    let id = insert(store, &action("k", "o")).await.unwrap();
    let claimed = claim(store, "w", lease(), 10, &[]).await;
    assert_eq!(claimed.len(), 1);
    assert!(record(store, id, "w", failed("HTTP 500", Some(lease()))).await);
    assert!(claim(store, "w", lease(), 10, &[]).await.is_empty(), "not due before its backoff");
    common::time_travel(Duration::from_secs(120)).await;
    let again = claim(store, "w", lease(), 10, &[]).await;
    assert_eq!(again[0].state, ActionState::Retrying);
    assert!(again[0].maybe_delivered_before());
    assert_eq!(again[0].last_error.as_deref(), Some("HTTP 500"));
    assert!(record(store, id, "w", failed("HTTP 500", None)).await);
    assert_eq!(outbox::get(store, id).await.unwrap().unwrap().state, ActionState::Dead);
    assert_eq!(outbox::list(store, &[ActionState::Dead], 10).await.unwrap().len(), 1);
    assert!(outbox::requeue(store, id).await.unwrap());
    assert!(!outbox::requeue(store, id).await.unwrap(), "only dead actions requeue");
    let requeued = claim(store, "w", lease(), 10, &[]).await;
    assert_eq!(requeued[0].attempts, 1, "a fresh attempt budget");
    assert!(requeued[0].maybe_delivered_before(), "it was attempted before: look before re-sending");
}
on_both_backends!(failures_retry_die_and_requeue, failures_retry_then_die_and_can_be_requeued);

async fn one_ordering_key_goes_out_in_order(store: &Store) {
    let first = insert(store, &action("a1", "incident:1")).await.unwrap();
    let second = insert(store, &action("a2", "incident:1")).await.unwrap();
    let other = insert(store, &action("b1", "incident:2")).await.unwrap();
    let claimed: Vec<i64> = claim(store, "w", lease(), 10, &[]).await.iter().map(|r| r.id).collect();
    assert_eq!(claimed, vec![first, other], "the second action of incident 1 waits for the first");
    record(store, first, "w", delivered(None)).await;
    let next: Vec<i64> = claim(store, "w", lease(), 10, &[]).await.iter().map(|r| r.id).collect();
    assert_eq!(next, vec![second]);
}
on_both_backends!(ordering_per_key, one_ordering_key_goes_out_in_order);

async fn an_expired_lease_is_taken_over(store: &Store) {
    let id = insert(store, &action("k", "o")).await.unwrap();
    claim(store, "dead-process", past(), 10, &[]).await;
    let taken = claim(store, "survivor", lease(), 10, &[]).await;
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].id, id);
    assert!(taken[0].maybe_delivered_before(), "the dead process may have sent it");
    assert!(claim(store, "third", lease(), 10, &[id]).await.is_empty());
}
on_both_backends!(expired_leases_are_taken_over, an_expired_lease_is_taken_over);

fn entry(key: &str, published: i64) -> EntryRecord {
    EntryRecord {
        key: key.to_owned(),
        title: format!("title {key}"),
        link: None,
        published_at: Some(Timestamp::from_millis(published)),
        summary: "s".to_owned(),
        tags: vec!["beta".to_owned()],
    }
}

async fn entries_are_stored_once_and_claimed_once(store: &Store) {
    let state = changelogs::feed_state(store, "okta", "https://x.test/feed").await.unwrap();
    assert_eq!(state.first_polled_at, None);
    let entries = [entry("a", 1), entry("b", 2)];
    let stored = changelogs::record_success(store, "okta", "https://x.test/feed", (Some("\"v1\""), None), &entries, |e| e.key == "b", None)
        .await
        .unwrap();
    assert_eq!((stored.new, stored.pending), (vec!["a".to_owned(), "b".to_owned()], vec!["b".to_owned()]));
    let again = changelogs::record_success(store, "okta", "https://x.test/feed", (Some("\"v2\""), None), &entries, |_| true, Some(20))
        .await
        .unwrap();
    assert!(again.new.is_empty(), "known entries are not stored again");
    let state = changelogs::feed_state(store, "okta", "https://x.test/feed").await.unwrap();
    assert_eq!(state.etag.as_deref(), Some("\"v2\""));
    assert!(state.first_polled_at.is_some());

    let mut tx = store.pool().begin().await.unwrap();
    let claimed = changelogs::claim_pending(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(claimed.len(), 1, "only the pending entry");
    assert_eq!(claimed[0].entry.key, "b");
    assert_eq!(claimed[0].entry.tags, vec!["beta"]);
    let mut tx = store.pool().begin().await.unwrap();
    assert!(changelogs::claim_pending(&mut tx).await.unwrap().is_empty(), "claimed once");
    tx.commit().await.unwrap();

    assert_eq!(changelogs::record_failure(store, "okta", "https://x.test/feed", "timeout").await.unwrap(), 1);
    assert_eq!(changelogs::record_failure(store, "okta", "https://x.test/feed", "timeout").await.unwrap(), 2);
    changelogs::record_not_modified(store, "okta", "https://x.test/feed").await.unwrap();
    let health = changelogs::feed_state(store, "okta", "https://x.test/feed").await.unwrap();
    assert_eq!((health.consecutive_failures, health.last_error), (0, None));
    let counts = changelogs::entry_counts(store, Some("okta")).await.unwrap();
    assert_eq!((counts.seen, counts.undelivered, counts.delivered), (1, 1, 0));
}
on_both_backends!(changelog_entries, entries_are_stored_once_and_claimed_once);

/// A feed that rewrites its ids: same links (or, without links, same title and date) under new
/// guids are recorded as seen, never pending; a poll past `max_new` marks its entries.
async fn rewritten_ids_are_recorded_not_posted_and_a_flood_is_marked(store: &Store) {
    let feed = "https://x.test/feed";
    let with_link = |key: &str, link: &str| EntryRecord { link: Some(link.to_owned()), ..entry(key, 1) };
    let first = [with_link("g1", "https://x.test/1"), entry("h1", 5)];
    changelogs::record_success(store, "okta", feed, (None, None), &first, |_| true, None).await.unwrap();
    // New guids; the same link; the same title and date; a new title; a new link.
    let rewritten = [
        with_link("g1-new", "https://x.test/1"),
        EntryRecord { key: "h1-new".to_owned(), ..entry("h1", 5) },
        EntryRecord { key: "h2".to_owned(), ..entry("h1-other-title", 5) },
        with_link("g2", "https://x.test/2"),
    ];
    let recorded = changelogs::record_success(store, "okta", feed, (None, None), &rewritten, |_| true, Some(20)).await.unwrap();
    assert_eq!(recorded.new.len(), 4, "every entry is recorded");
    assert_eq!(recorded.duplicates, ["g1-new", "h1-new"]);
    assert_eq!(recorded.pending, ["h2", "g2"]);
    assert_eq!(recorded.flood, None);
    // Another partner's entries are not this one's.
    let other =
        changelogs::record_success(store, "slack", feed, (None, None), &[with_link("g1-new", "https://x.test/1")], |_| true, Some(20))
            .await
            .unwrap();
    assert_eq!(other.pending, ["g1-new"]);

    let many: Vec<EntryRecord> = (0..30).map(|i| with_link(&format!("m{i}"), &format!("https://x.test/m{i}"))).collect();
    let flood = changelogs::record_success(store, "okta", feed, (None, None), &many, |_| true, Some(20)).await.unwrap();
    assert_eq!((flood.pending.len(), flood.flood), (30, Some(20)));
    let mut tx = store.pool().begin().await.unwrap();
    let claimed = changelogs::claim_pending(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    let flooded: Vec<_> = claimed.iter().filter(|c| c.flood == Some(20)).collect();
    assert_eq!(flooded.len(), 30);
    assert!(flooded.iter().all(|c| c.feed_url == feed && c.partner_id == "okta"));
    assert_eq!(claimed.iter().filter(|c| c.flood.is_none()).count(), 5, "g1, h1, h2, g2 and the other partner's");
}

on_both_backends!(changelog_duplicates_and_floods, rewritten_ids_are_recorded_not_posted_and_a_flood_is_marked);

async fn a_tick_runs_once_and_a_dead_holder_is_replaced(store: &Store) {
    let (t1, t2) = (Timestamp::from_millis(1000), Timestamp::from_millis(2000));
    assert!(jobs::claim_tick(store, "changelogs", t1, "replica-a", lease()).await.unwrap());
    assert!(!jobs::claim_tick(store, "changelogs", t1, "replica-b", lease()).await.unwrap(), "claimed once");
    assert!(jobs::claim_tick(store, "changelogs", t2, "replica-b", past()).await.unwrap());
    assert!(jobs::claim_tick(store, "changelogs", t2, "replica-a", lease()).await.unwrap(), "an expired lease is taken over");
    assert!(!jobs::renew(store, "changelogs", t2, "replica-b", lease()).await.unwrap(), "the old holder lost it");
    jobs::finish(store, "changelogs", t2, "replica-a").await.unwrap();
    assert_eq!(jobs::latest_tick(store, "changelogs").await.unwrap(), Some(t2));
}
on_both_backends!(job_ticks, a_tick_runs_once_and_a_dead_holder_is_replaced);

async fn check_results_are_written_in_batches(store: &Store) {
    use sparky::store::synthetics::{self as checks, Batch, EventRow, ResultRow, StateRow};
    let now = Timestamp::now();
    let results = (0..300)
        .map(|i| ResultRow {
            check_id: format!("c{}", i % 3),
            partner_id: "okta".to_owned(),
            at: Timestamp::from_millis(now.as_millis() - 1000 + i),
            duration_ms: i,
            http_status: Some(200),
            outcome: if i == 299 { Outcome::Fail } else { Outcome::Pass },
            error_kind: (i == 299).then_some(ErrorKind::Http),
            message: None,
            assertions: "[]".to_owned(),
            confirmation: false,
            counted: true,
        })
        .collect();
    let failing = StateRecord {
        state: CheckState::Failing,
        consecutive_failures: 1,
        consecutive_successes: 0,
        since: now,
        warn_since: None,
        warn_notified: false,
    };
    let batch = Batch {
        results,
        states: vec![StateRow { check_id: "c2".to_owned(), partner_id: "okta".to_owned(), record: failing }],
        events: vec![EventRow {
            check_id: "c2".to_owned(),
            partner_id: "okta".to_owned(),
            at: now,
            from: CheckState::Healthy,
            to: CheckState::Failing,
            warn: None,
        }],
    };
    checks::write_batch(store, &batch).await.unwrap();
    let samples = checks::samples(store, "c2", Timestamp::EPOCH).await.unwrap();
    assert_eq!(samples.len(), 100, "300 rows in chunks of 128, 128, 32, 8, 4");
    assert_eq!(samples.last().map(|s| s.outcome), Some(Outcome::Fail));
    assert_eq!(checks::states(store).await.unwrap().get("c2"), Some(&failing));
    let events = sparky::store::incidents::unhandled_events(store, 10).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!((events[0].check_id.as_str(), events[0].to), ("c2", CheckState::Failing));
}
on_both_backends!(check_results_in_batches, check_results_are_written_in_batches);

async fn one_partner_has_at_most_one_open_incident(store: &Store) {
    use sparky::model::{Cause, CheckId, PartnerId, Priority};
    use sparky::store::incidents::{self as incidents, NewIncident};
    let (partner, check): (PartnerId, CheckId) = ("acme".parse().unwrap(), "acme-api".parse().unwrap());
    let new = NewIncident {
        partner: &partner,
        cause: Cause::Internal,
        reason: "r",
        priority: Priority::P4,
        check: &check,
        at: Timestamp::now(),
        evidence: None,
    };
    let mut tx = store.pool().begin().await.unwrap();
    let first = incidents::insert(&mut tx, &new).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.pool().begin().await.unwrap();
    let second = incidents::insert(&mut tx, &new).await.expect_err("a second open incident is refused");
    assert!(second.is_conflict(), "classified as a conflict, so triage attaches instead: {second}");
    drop(tx);
    // Once the first is resolved, the partner may have a new one; a resolved incident stays put.
    let mut tx = store.pool().begin().await.unwrap();
    assert!(incidents::resolve(&mut tx, first.id, Timestamp::now()).await.unwrap());
    assert!(!incidents::resolve(&mut tx, first.id, Timestamp::now()).await.unwrap(), "only an open incident is resolved");
    let mut stale = first.clone();
    stale.cause = Cause::External;
    assert!(!incidents::update(&mut tx, &stale, first.generation).await.unwrap(), "a resolved incident is not rewritten");
    incidents::insert(&mut tx, &new).await.unwrap();
    tx.commit().await.unwrap();
}
on_both_backends!(one_open_incident, one_partner_has_at_most_one_open_incident);

async fn a_dead_action_blocks_its_chain_until_it_is_retried(store: &Store) {
    let create = insert(store, &action("jira:create", "incident:7:jira")).await.unwrap();
    let comment = insert(store, &action("jira:comment", "incident:7:jira")).await.unwrap();
    let other = insert(store, &action("slack:post", "incident:7:slack")).await.unwrap();
    let claimed: Vec<i64> = claim(store, "w", lease(), 10, &[]).await.iter().map(|r| r.id).collect();
    assert_eq!(claimed, vec![create, other]);
    assert!(record(store, create, "w", failed("HTTP 400: project OPS does not exist", None)).await);
    let state = |id| async move { outbox::get(store, id).await.unwrap().unwrap().state };
    assert_eq!(state(comment).await, ActionState::Blocked, "the comment waits for its issue instead of failing in turn");
    let resolve = insert(store, &action("jira:resolve", "incident:7:jira")).await.unwrap();
    assert_eq!(state(resolve).await, ActionState::Blocked, "an action joining a broken chain waits too");
    assert!(claim(store, "w", lease(), 10, &[]).await.is_empty(), "nothing of the chain is claimed");
    assert!(outbox::requeue(store, create).await.unwrap());
    assert_eq!((state(comment).await, state(resolve).await), (ActionState::Pending, ActionState::Pending), "the chain is released");
    let next: Vec<i64> = claim(store, "w", lease(), 10, &[]).await.iter().map(|r| r.id).collect();
    assert_eq!(next, vec![create], "in order: the retried create first");
}
on_both_backends!(dead_actions_block_their_chain, a_dead_action_blocks_its_chain_until_it_is_retried);

async fn leases_are_renewed_and_an_open_breaker_is_not_claimed_from(store: &Store) {
    let id = insert(store, &action("k", "o")).await.unwrap();
    let mut jira = action("j", "o2");
    jira.sink = SinkKind::Jira;
    let jira = insert(store, &jira).await.unwrap();
    let filter = outbox::ClaimFilter { skip_sinks: &[SinkKind::Jira], ..Default::default() };
    let claimed: Vec<i64> = outbox::claim_due(store, "w", past(), 10, &filter).await.unwrap().iter().map(|r| r.id).collect();
    assert_eq!(claimed, vec![id], "the held sink's action stays unclaimed");
    assert_eq!(outbox::get(store, jira).await.unwrap().unwrap().attempts, 0, "no attempt spent");
    assert_eq!(outbox::renew(store, "w", &[id], lease()).await.unwrap(), 1);
    assert!(claim(store, "other", lease(), 10, &[jira]).await.is_empty(), "a renewed lease is not taken over");
    assert_eq!(outbox::defer_sink(store, SinkKind::Jira, lease()).await.unwrap(), 1);
    assert!(claim(store, "w", lease(), 10, &[]).await.is_empty(), "deferred to the breaker's reopening");
}
on_both_backends!(lease_renewal_and_breaker_holds, leases_are_renewed_and_an_open_breaker_is_not_claimed_from);

/// A compatibility detection is stored once per (partner, version): a second entry about the same
/// version is added to it, the same entry again changes nothing, another partner's is its own.
async fn one_detection_per_partner_and_version(store: &Store) {
    let with_link = |key: &str| EntryRecord { link: Some(format!("https://x.test/{key}")), ..entry(key, 1) };
    let mut tx = store.pool().begin().await.unwrap();
    let first = compat::record(&mut tx, "okta", "2026.41.0", &with_link("a"), true).await.unwrap();
    let second = compat::record(&mut tx, "okta", "2026.41.0", &with_link("b"), true).await.unwrap();
    let again = compat::record(&mut tx, "okta", "2026.41.0", &with_link("a"), true).await.unwrap();
    let other = compat::record(&mut tx, "slack", "2026.41.0", &with_link("a"), true).await.unwrap();
    let other_version = compat::record(&mut tx, "okta", "2026.42.0", &with_link("c"), true).await.unwrap();
    tx.commit().await.unwrap();
    assert!(matches!(first, compat::Recorded::New(_)), "{first:?}");
    assert_eq!(second, compat::Recorded::Seen(first.id()));
    assert_eq!(again, compat::Recorded::Seen(first.id()));
    assert!(matches!(other, compat::Recorded::New(id) if id != first.id()), "{other:?}");
    assert!(matches!(other_version, compat::Recorded::New(id) if id != first.id() && id != other.id()), "{other_version:?}");

    let okta = compat::list(store, Some("okta")).await.unwrap();
    assert_eq!(okta.len(), 2);
    let d = &okta[0];
    assert_eq!((d.id, d.partner_id.as_str(), d.version.as_str()), (first.id(), "okta", "2026.41.0"));
    assert_eq!((d.first_entry_key.as_str(), d.first_entry_title.as_str()), ("a", "title a"));
    assert_eq!(d.first_entry_link.as_deref(), Some("https://x.test/a"));
    assert_eq!(d.entries, ["a", "b"], "one detection, two entries");
    assert_eq!(okta[1].entries, ["c"]);
    assert_eq!(compat::list(store, None).await.unwrap().len(), 3);
}
on_both_backends!(compat_detections, one_detection_per_partner_and_version);

/// A compatibility run: written once per key, found (GitHub's id recorded once), updated only by
/// the poll that read it, hurried by a webhook (a completed run followed again only for a later
/// attempt), and each webhook delivery taken once.
async fn compat_runs_follow_their_run(store: &Store) {
    let mut conn = store.pool().acquire().await.unwrap();
    let detection = compat::record(&mut conn, "okta", "2026.41.0", &entry("a", 1_791_374_400_000), true).await.unwrap().id();
    let d = compat::get(&mut conn, detection).await.unwrap().unwrap();
    assert_eq!(d.first_entry_published_at, Some(Timestamp::from_millis(1_791_374_400_000)), "the announcing entry's publication");
    let later = Timestamp::now() + Duration::from_secs(3600);
    let new = NewRun {
        detection_id: detection,
        run_key: "sparky-okta-1-1-aaaa",
        requested_by: RunTrigger::Detection,
        requested_at: Timestamp::now(),
        next_poll_at: later,
    };
    let id = compat_runs::insert(&mut conn, &new).await.unwrap().expect("a new run");
    assert_eq!(compat_runs::insert(&mut conn, &new).await.unwrap(), None, "one run per key");
    drop(conn);

    compat_runs::found(store, "sparky-okta-1-1-aaaa", 77, Some("https://github.com/acme/compat/actions/runs/77")).await.unwrap();
    compat_runs::found(store, "sparky-okta-1-1-aaaa", 78, None).await.unwrap();
    let run = compat_runs::by_key(store, "sparky-okta-1-1-aaaa").await.unwrap().unwrap();
    assert_eq!((run.state, run.run_id), (RunState::Queued, Some(77)), "found once: the first id stays");

    assert_eq!(compat_runs::hurry(store, 77, 1).await.unwrap(), 1);
    assert_eq!(compat_runs::due(store, Timestamp::now()).await.unwrap().len(), 1, "due now");

    let mut done = RunUpdate::from_run(&run);
    done.state = RunState::Completed;
    done.conclusion = Some("failure".to_owned());
    done.decided_attempt = 1;
    done.attempt = 1;
    done.failed_jobs = vec![FailedJob {
        name: "suite".to_owned(),
        url: None,
        conclusion: "failure".to_owned(),
        steps: vec![FailedStep { name: "Run tests".to_owned(), number: 5 }],
    }];
    let mut conn = store.pool().acquire().await.unwrap();
    assert!(compat_runs::update(&mut conn, id, run.polls, &done).await.unwrap());
    assert!(!compat_runs::update(&mut conn, id, run.polls, &done).await.unwrap(), "a poll that read an older row writes nothing");
    drop(conn);
    let stored = compat_runs::by_key(store, "sparky-okta-1-1-aaaa").await.unwrap().unwrap();
    assert_eq!(stored.failed_jobs, done.failed_jobs);

    assert_eq!(compat_runs::hurry(store, 77, 1).await.unwrap(), 0, "the decided attempt is not followed again");
    assert_eq!(compat_runs::hurry(store, 77, 2).await.unwrap(), 1, "a re-run on GitHub is");
    assert_eq!(compat_runs::by_key(store, "sparky-okta-1-1-aaaa").await.unwrap().unwrap().state, RunState::Queued);

    assert!(compat_runs::take_delivery(store, "delivery-1").await.unwrap());
    assert!(!compat_runs::take_delivery(store, "delivery-1").await.unwrap(), "a replay");
}
on_both_backends!(compat_runs_on_both_backends, compat_runs_follow_their_run);
