-- Compatibility runs, dispatch and follow-up (issue 13).
-- * outbox.sink and remote_ids.sink gain `github` (GitHub Actions: dispatch, re-run).
ALTER TABLE outbox DROP CONSTRAINT outbox_sink_words;
ALTER TABLE outbox ADD CONSTRAINT outbox_sink_words CHECK (sink IN ('slack', 'jira', 'pagerduty', 'statuspage', 'github'));
ALTER TABLE remote_ids DROP CONSTRAINT remote_ids_sink_words;
ALTER TABLE remote_ids ADD CONSTRAINT remote_ids_sink_words CHECK (sink IN ('slack', 'jira', 'pagerduty', 'statuspage', 'github'));

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
    id              BIGSERIAL PRIMARY KEY,
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
    CONSTRAINT compat_runs_state_words CHECK (state IN ('dispatching', 'queued', 'in_progress', 'completed', 'lost')),
    CONSTRAINT compat_runs_requested_by_words CHECK (requested_by IN ('detection', 'hand'))
);
CREATE INDEX compat_runs_detection ON compat_runs (detection_id, id);
CREATE INDEX compat_runs_due ON compat_runs (next_poll_at) WHERE state IN ('dispatching', 'queued', 'in_progress');

CREATE TABLE github_deliveries (
    delivery_id TEXT   PRIMARY KEY,
    received_at BIGINT NOT NULL
);
CREATE INDEX github_deliveries_received ON github_deliveries (received_at);

ALTER TABLE compat_detections ADD COLUMN p2 TEXT CONSTRAINT compat_detections_p2_words CHECK (p2 IN ('open', 'resolved'));
ALTER TABLE compat_detections ADD COLUMN p2_incident TEXT;
ALTER TABLE compat_detections ADD COLUMN auto_dispatch BIGINT NOT NULL DEFAULT 1;
