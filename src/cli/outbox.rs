//! `sparky outbox [--all]` and `sparky outbox retry ID`.

use std::process::ExitCode;

use serde::Serialize;
use serde_json::Value;

use super::OutboxCommand;
use super::text::Table;
use crate::model::{ActionState, SinkKind, Timestamp};
use crate::service::App;
use crate::store::outbox::{self as rows, ActionRow};

/// Most actions listed.
const LISTED: i64 = 1000;

/// An action as `--json` prints it: the payload as the object it is, not a string.
#[derive(Debug, Serialize)]
struct ActionView<'a> {
    id: i64,
    sink: SinkKind,
    state: ActionState,
    attempts: i64,
    idempotency_key: &'a str,
    ordering_key: &'a str,
    created_at: Timestamp,
    next_attempt_at: Timestamp,
    last_error: Option<&'a str>,
    remote_id: Option<&'a str>,
    payload: Value,
}

impl<'a> From<&'a ActionRow> for ActionView<'a> {
    fn from(r: &'a ActionRow) -> Self {
        Self {
            id: r.id,
            sink: r.sink,
            state: r.state,
            attempts: r.attempts,
            idempotency_key: &r.idempotency_key,
            ordering_key: &r.ordering_key,
            created_at: r.created_at,
            next_attempt_at: r.next_attempt_at,
            last_error: r.last_error.as_deref(),
            remote_id: r.remote_id.as_deref(),
            // An unreadable payload is shown as the text it is (it is the action's dead reason).
            payload: serde_json::from_str(&r.payload).unwrap_or_else(|_| Value::String(r.payload.clone())),
        }
    }
}

/// Lists the actions not done (with `all`, done ones too), or requeues a dead one. Exit 2 for an
/// id that is no action; 0 for one that is not dead (nothing to do, said so).
pub(super) async fn run(app: &App, all: bool, action: Option<&OutboxCommand>, json: bool) -> ExitCode {
    if let Some(OutboxCommand::Retry { id }) = action {
        return retry(app, *id, json).await;
    }
    let mut states = vec![ActionState::Pending, ActionState::Retrying, ActionState::Blocked, ActionState::Dead];
    if all {
        states.extend(ActionState::DONE);
    }
    let list = match rows::list(&app.store, &states, LISTED).await {
        Ok(list) => list,
        Err(e) => return super::cannot_work(&e),
    };
    if json {
        let views: Vec<ActionView<'_>> = list.iter().map(ActionView::from).collect();
        super::print_json(&views);
        return ExitCode::SUCCESS;
    }
    if list.is_empty() {
        println!("{}", if all { "outbox empty" } else { "nothing pending, retrying, blocked or dead" });
        return ExitCode::SUCCESS;
    }
    let mut table = Table::with_header(&["id", "sink", "state", "attempts", "created", "key", "last error"]);
    for r in &list {
        table.row(vec![
            r.id.to_string(),
            r.sink.to_string(),
            r.state.to_string(),
            r.attempts.to_string(),
            r.created_at.to_rfc3339_seconds(),
            r.idempotency_key.clone(),
            r.last_error.clone().unwrap_or_default(),
        ]);
    }
    table.print();
    ExitCode::SUCCESS
}

async fn retry(app: &App, id: i64, json: bool) -> ExitCode {
    let row = match rows::get(&app.store, id).await {
        Ok(Some(row)) => row,
        Ok(None) => {
            eprintln!("sparky: no action {id} in the outbox (see sparky outbox --all)");
            return ExitCode::from(2);
        }
        Err(e) => return super::cannot_work(&e),
    };
    let requeued = match rows::requeue(&app.store, id).await {
        Ok(requeued) => requeued,
        Err(e) => return super::cannot_work(&e),
    };
    let said = if requeued {
        format!("action {id} requeued; it goes out with the next delivery (sparky once deliver, or the daemon's worker)")
    } else {
        format!("action {id} is {}, not dead: nothing to retry", row.state)
    };
    if json {
        super::print_json(
            &serde_json::json!({"id": id, "requeued": requeued, "state": if requeued { ActionState::Retrying } else { row.state }}),
        );
    } else {
        println!("{said}");
    }
    ExitCode::SUCCESS
}
