-- Compatibility runs, dispatch and follow-up (issue 13).
-- * outbox.sink and remote_ids.sink gain `github` (GitHub Actions: dispatch, re-run).
-- SQLite cannot alter a CHECK constraint: both tables are rebuilt with the new word.
CREATE TABLE outbox_new (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key  TEXT    NOT NULL UNIQUE,
    ordering_key     TEXT    NOT NULL,
    sink             TEXT    NOT NULL,
    payload          TEXT    NOT NULL,
    state            TEXT    NOT NULL,
    attempts         BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT  NOT NULL,
    lease_owner      TEXT,
    lease_until      BIGINT,
    last_error       TEXT,
    remote_id        TEXT,
    created_at       BIGINT  NOT NULL,
    first_attempt_at BIGINT,
    delivered_at     BIGINT,
    CHECK (state IN ('pending', 'retrying', 'blocked', 'delivered', 'printed', 'dead')),
    CHECK (sink IN ('slack', 'jira', 'pagerduty', 'statuspage', 'github'))
);
INSERT INTO outbox_new SELECT * FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_order ON outbox (ordering_key, id);
CREATE INDEX outbox_undelivered ON outbox (id) WHERE state IN ('pending', 'retrying');
CREATE INDEX outbox_undelivered_order ON outbox (ordering_key, id) WHERE state IN ('pending', 'retrying');
CREATE INDEX outbox_done ON outbox (delivered_at) WHERE state IN ('delivered', 'printed');


CREATE TABLE remote_ids_new (
    sink      TEXT   NOT NULL,
    local_key TEXT   NOT NULL,
    remote_id TEXT   NOT NULL,
    at        BIGINT NOT NULL,
    PRIMARY KEY (sink, local_key),
    CHECK (sink IN ('slack', 'jira', 'pagerduty', 'statuspage', 'github'))
);
INSERT INTO remote_ids_new SELECT * FROM remote_ids;
DROP TABLE remote_ids;
ALTER TABLE remote_ids_new RENAME TO remote_ids;

-- * compat_runs: one row per dispatch of a detection's workflow (the first, a re-dispatch by
--   `sparky compat run`); `run_key` is the `sparky_run_key` input that finds the run when the
--   dispatch answer did not name it. `attempt` is GitHub's `run_attempt`; `decided_attempt` the
--   attempt whose outcome was planned (each attempt's outcome once). `failed_jobs` is JSON:
--   [{"name", "url", "steps": [{"name", "number"}]}]. Times are Unix epoch milliseconds.
-- * compat_detections.p2: the detection's P2 Jira incident (open | resolved), NULL before any
--   failure; p2_incident: our key of that incident (`compat:RUN_KEY` of the run that opened it),
--   under which the sinks keep the Jira issue key. auto_dispatch: 0 for a detection backfilled
--   by `sparky compat scan` without `--dispatch` (never dispatched by itself).
-- * github_deliveries: the `X-GitHub-Delivery` ids of webhooks taken, so a replay is ignored.
CREATE TABLE compat_runs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    detection_id    BIGINT  NOT NULL,
    run_key         TEXT    NOT NULL UNIQUE,
    state           TEXT    NOT NULL,
    requested_by    TEXT    NOT NULL,
    requested_at    BIGINT  NOT NULL,
    run_id          BIGINT,
    html_url        TEXT,
    attempt         BIGINT  NOT NULL DEFAULT 1,
    decided_attempt BIGINT  NOT NULL DEFAULT 0,
    reruns          BIGINT  NOT NULL DEFAULT 0,
    conclusion      TEXT,
    started_at      BIGINT,
    completed_at    BIGINT,
    failed_jobs     TEXT,
    polls           BIGINT  NOT NULL DEFAULT 0,
    next_poll_at    BIGINT  NOT NULL,
    last_error      TEXT,
    CHECK (state IN ('dispatching', 'queued', 'in_progress', 'completed', 'lost')),
    CHECK (requested_by IN ('detection', 'hand'))
);
CREATE INDEX compat_runs_detection ON compat_runs (detection_id, id);
CREATE INDEX compat_runs_due ON compat_runs (next_poll_at) WHERE state IN ('dispatching', 'queued', 'in_progress');

CREATE TABLE github_deliveries (
    delivery_id TEXT   PRIMARY KEY,
    received_at BIGINT NOT NULL
);
CREATE INDEX github_deliveries_received ON github_deliveries (received_at);

ALTER TABLE compat_detections ADD COLUMN p2 TEXT CHECK (p2 IN ('open', 'resolved'));
ALTER TABLE compat_detections ADD COLUMN p2_incident TEXT;
ALTER TABLE compat_detections ADD COLUMN auto_dispatch BIGINT NOT NULL DEFAULT 1;
