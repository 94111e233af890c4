//! Every state column is guarded by a `CHECK` constraint whose words are exactly those of its
//! enum in `src/model` (as the migrations leave the schema, on SQLite and on PostgreSQL).

#![allow(unreachable_pub, clippy::unwrap_used)] // test and bench code: a failed unwrap is a failed run

mod common;

use std::collections::BTreeSet;

use regex::Regex;
use sparky::model::statuspage::IncidentStatus;
use sparky::model::{
    ActionState, Cause, CheckState, ComponentStatus, EntryState, ErrorKind, EventKind, HistoryKind, IncidentState, Indicator, Outcome,
    P2State, Priority, RunState, RunTrigger, SinkKind, WarnChange,
};
use sparky::store::{Backend, Store};
use sqlx::Row;

fn words<T: Copy>(all: &[T], word: fn(T) -> &'static str) -> BTreeSet<String> {
    all.iter().map(|w| word(*w).to_owned()).collect()
}

/// (table, column, the enum's words).
fn guarded() -> Vec<(&'static str, &'static str, BTreeSet<String>)> {
    vec![
        ("changelog_entries", "state", words(EntryState::ALL, EntryState::as_str)),
        ("outbox", "state", words(ActionState::ALL, ActionState::as_str)),
        ("outbox", "sink", words(SinkKind::ALL, SinkKind::as_str)),
        ("status_snapshots", "indicator", words(Indicator::ALL, Indicator::as_str)),
        ("status_events", "kind", words(EventKind::ALL, EventKind::as_str)),
        ("check_results", "outcome", words(Outcome::ALL, Outcome::as_str)),
        ("check_results", "error_kind", words(ErrorKind::ALL, ErrorKind::as_str)),
        ("check_state", "state", words(CheckState::ALL, CheckState::as_str)),
        ("check_events", "from_state", words(CheckState::ALL, CheckState::as_str)),
        ("check_events", "to_state", words(CheckState::ALL, CheckState::as_str)),
        ("check_events", "warn", words(WarnChange::ALL, WarnChange::as_str)),
        ("incidents", "state", words(IncidentState::ALL, IncidentState::as_str)),
        ("incidents", "cause", words(Cause::ALL, Cause::as_str)),
        ("incidents", "priority", words(Priority::ALL, Priority::as_str)),
        ("incident_history", "kind", words(HistoryKind::ALL, HistoryKind::as_str)),
        ("public_components", "status", words(ComponentStatus::ALL, ComponentStatus::as_str)),
        ("public_incidents", "status", words(IncidentStatus::ALL, IncidentStatus::as_str)),
        ("public_incidents", "impact", words(Indicator::ALL, Indicator::as_str)),
        ("remote_ids", "sink", words(SinkKind::ALL, SinkKind::as_str)),
        ("compat_runs", "state", words(RunState::ALL, RunState::as_str)),
        ("compat_runs", "requested_by", words(RunTrigger::ALL, RunTrigger::as_str)),
        ("compat_detections", "p2", words(P2State::ALL, P2State::as_str)),
    ]
}

/// The words a CHECK text allows for `column`: `column IN ('a', 'b')`.
fn allowed(check_text: &str, column: &str) -> Option<BTreeSet<String>> {
    let re = Regex::new(&format!(r"\(?\b{column}\b\)?\s+(?:::text\s+)?(?:=\s*ANY\s*\(\s*\(?\s*ARRAY\s*\[|IN\s*\()([^\])]*)")).unwrap();
    let caps = re.captures(check_text)?;
    let word = Regex::new(r"'([^']*)'").unwrap();
    Some(word.captures_iter(&caps[1]).map(|c| c[1].to_owned()).collect())
}

/// Every CHECK text of `table`.
async fn checks(store: &Store, table: &str) -> Vec<String> {
    match store.backend() {
        Backend::Sqlite => {
            let row = sqlx::query("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = $1").bind(table).fetch_one(store.pool()).await.unwrap();
            let sql: String = row.try_get(0).unwrap();
            sql.split("CHECK").skip(1).map(str::to_owned).collect()
        }
        Backend::Postgres => sqlx::query(
            "SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid WHERE t.relname = $1 AND c.contype = 'c'",
        )
        .bind(table)
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<String, _>(0).unwrap())
        .collect(),
    }
}

async fn every_state_column_lists_its_enums_words(store: &Store) {
    let mut problems = Vec::new();
    for (table, column, expected) in guarded() {
        let found = checks(store, table).await.iter().find_map(|c| allowed(c, column));
        match found {
            None => problems.push(format!("{table}.{column}: no CHECK constraint")),
            Some(words) if words != expected => {
                problems.push(format!("{table}.{column}: CHECK allows {words:?}, the enum has {expected:?}"))
            }
            Some(_) => {}
        }
    }
    assert!(problems.is_empty(), "{:?}:\n{}", store.backend(), problems.join("\n"));
}

#[tokio::test]
async fn every_state_column_is_guarded_by_its_enums_words() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::open(&format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display())).await.unwrap();
    every_state_column_lists_its_enums_words(&sqlite).await;
    if let Some(admin) = common::postgres_url("vocabulary") {
        let db = common::fresh_postgres(&admin).await;
        let pg = Store::open(&db.url).await.unwrap();
        every_state_column_lists_its_enums_words(&pg).await;
        pg.close().await;
    }
}

#[tokio::test]
async fn a_word_outside_the_vocabulary_is_refused_by_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display())).await.unwrap();
    let insert = |state: &'static str| {
        sqlx::query("INSERT INTO incidents (partner_id, state, cause, cause_reason, priority, dedup_key, opened_at) VALUES ('p', $1, 'internal', 'r', 'P4', 'k', 0)")
            .bind(state)
    };
    insert("open").execute(store.pool()).await.unwrap();
    assert!(insert("opened").execute(store.pool()).await.is_err(), "`opened` is not an incident state");
}
