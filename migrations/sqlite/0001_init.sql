-- Sparky schema, SQLite flavour. Times are Unix epoch milliseconds (BIGINT) so both backends
-- read them the same way; JSON is stored as TEXT.

-- One row per (partner, feed URL): conditional-request validators and feed health.
CREATE TABLE feeds (
    partner_id           TEXT    NOT NULL,
    url                  TEXT    NOT NULL,
    etag                 TEXT,
    last_modified        TEXT,
    first_polled_at      BIGINT,
    last_attempt_at      BIGINT,
    last_success_at      BIGINT,
    consecutive_failures BIGINT  NOT NULL DEFAULT 0,
    last_error           TEXT,
    PRIMARY KEY (partner_id, url)
);

-- Every changelog entry ever seen. state: seen (never posted) | pending (awaits a digest) |
-- queued (carried by the outbox action action_id; delivered when that action is).
CREATE TABLE changelog_entries (
    partner_id    TEXT   NOT NULL,
    entry_key     TEXT   NOT NULL,
    feed_url      TEXT   NOT NULL,
    title         TEXT   NOT NULL,
    link          TEXT,
    published_at  BIGINT,
    summary       TEXT   NOT NULL,
    tags          TEXT   NOT NULL,
    first_seen_at BIGINT NOT NULL,
    state         TEXT   NOT NULL,
    action_id     BIGINT,
    PRIMARY KEY (partner_id, entry_key)
);
CREATE INDEX changelog_entries_state ON changelog_entries (state);
CREATE INDEX changelog_entries_action ON changelog_entries (action_id);

-- The outbox: every side effect, delivered at least once, made idempotent by its key.
-- state: pending | retrying | delivered | dead. A row is in flight while lease_until is ahead.
CREATE TABLE outbox (
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
    delivered_at     BIGINT
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_order ON outbox (ordering_key, id);

-- Scheduled job ticks, claimed once across replicas; a holder renews lease_until while it runs.
CREATE TABLE job_runs (
    job         TEXT   NOT NULL,
    tick        BIGINT NOT NULL,
    holder      TEXT   NOT NULL,
    lease_until BIGINT NOT NULL,
    started_at  BIGINT NOT NULL,
    finished_at BIGINT,
    PRIMARY KEY (job, tick)
);

-- Slack channel names resolved to ids (conversations.history takes ids only).
CREATE TABLE slack_channels (
    name       TEXT PRIMARY KEY,
    channel_id TEXT NOT NULL
);
