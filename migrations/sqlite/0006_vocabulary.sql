-- The vocabulary of every state column, guarded: each CHECK lists the words of one enum of
-- src/model (tests/vocabulary.rs compares them). SQLite cannot add a constraint to a table,
-- so each table is rebuilt with its checks and its rows copied. And status events carry
-- `noticed_at`: when the notices stage turned them into Slack notices (events already there
-- count as noticed).

CREATE TABLE changelog_entries_new (
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
    PRIMARY KEY (partner_id, entry_key),
    CHECK (state IN ('seen', 'pending', 'queued'))
);
INSERT INTO changelog_entries_new SELECT * FROM changelog_entries;
DROP TABLE changelog_entries;
ALTER TABLE changelog_entries_new RENAME TO changelog_entries;
CREATE INDEX changelog_entries_state ON changelog_entries (state);
CREATE INDEX changelog_entries_action ON changelog_entries (action_id);

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
    CHECK (state IN ('pending', 'retrying', 'delivered', 'dead')),
    CHECK (sink IN ('slack', 'jira', 'pagerduty', 'statuspage'))
);
INSERT INTO outbox_new SELECT * FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_order ON outbox (ordering_key, id);
CREATE INDEX outbox_undelivered ON outbox (id) WHERE state IN ('pending', 'retrying');
CREATE INDEX outbox_undelivered_order ON outbox (ordering_key, id) WHERE state IN ('pending', 'retrying');

CREATE TABLE status_snapshots_new (
    partner_id TEXT   NOT NULL,
    at         BIGINT NOT NULL,
    indicator  TEXT   NOT NULL,
    snapshot   TEXT   NOT NULL,
    PRIMARY KEY (partner_id, at),
    CHECK (indicator IN ('none', 'minor', 'major', 'critical', 'maintenance', 'unknown'))
);
INSERT INTO status_snapshots_new SELECT * FROM status_snapshots;
DROP TABLE status_snapshots;
ALTER TABLE status_snapshots_new RENAME TO status_snapshots;

CREATE TABLE status_events_new (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    partner_id TEXT    NOT NULL,
    at         BIGINT  NOT NULL,
    kind       TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    old_value  TEXT,
    new_value  TEXT,
    detail     TEXT    NOT NULL,
    noticed_at BIGINT,
    CHECK (kind IN ('indicator', 'component', 'incident_opened', 'incident_updated', 'incident_resolved', 'maintenance_scheduled', 'maintenance_started', 'maintenance_ended'))
);
INSERT INTO status_events_new SELECT *, at FROM status_events;
DROP TABLE status_events;
ALTER TABLE status_events_new RENAME TO status_events;
CREATE INDEX status_events_partner_at ON status_events (partner_id, at);
CREATE INDEX status_events_unnoticed ON status_events (id) WHERE noticed_at IS NULL;

CREATE TABLE check_results_new (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    check_id     TEXT    NOT NULL,
    partner_id   TEXT    NOT NULL,
    at           BIGINT  NOT NULL,
    duration_ms  BIGINT  NOT NULL,
    http_status  BIGINT,
    outcome      TEXT    NOT NULL,
    error_kind   TEXT,
    message      TEXT,
    assertions   TEXT    NOT NULL,
    confirmation BIGINT  NOT NULL DEFAULT 0,
    counted      BIGINT  NOT NULL DEFAULT 1,
    CHECK (outcome IN ('pass', 'warn', 'fail')),
    CHECK ((error_kind IS NULL OR error_kind IN ('dns', 'connect', 'tls', 'timeout', 'http', 'too_large', 'redirect', 'body', 'request', 'empty', 'malformed', 'html_not_feed', 'html_not_json', 'json_not_html', 'not_text', 'not_status', 'unrecognised', 'assertion', 'auth', 'config', 'store', 'template')))
);
INSERT INTO check_results_new SELECT * FROM check_results;
DROP TABLE check_results;
ALTER TABLE check_results_new RENAME TO check_results;
CREATE INDEX check_results_check_at ON check_results (check_id, at);
CREATE INDEX check_results_at ON check_results (at);

CREATE TABLE check_state_new (
    check_id              TEXT   PRIMARY KEY,
    partner_id            TEXT   NOT NULL,
    state                 TEXT   NOT NULL,
    consecutive_failures  BIGINT NOT NULL,
    consecutive_successes BIGINT NOT NULL,
    since                 BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL,
    CHECK (state IN ('healthy', 'failing'))
);
INSERT INTO check_state_new SELECT * FROM check_state;
DROP TABLE check_state;
ALTER TABLE check_state_new RENAME TO check_state;

CREATE TABLE check_events_new (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    check_id   TEXT    NOT NULL,
    partner_id TEXT    NOT NULL,
    at         BIGINT  NOT NULL,
    from_state TEXT    NOT NULL,
    to_state   TEXT    NOT NULL,
    handled_at BIGINT,
    CHECK (from_state IN ('healthy', 'failing')),
    CHECK (to_state IN ('healthy', 'failing'))
);
INSERT INTO check_events_new SELECT * FROM check_events;
DROP TABLE check_events;
ALTER TABLE check_events_new RENAME TO check_events;
CREATE INDEX check_events_unhandled ON check_events (handled_at, id);

CREATE TABLE incidents_new (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    partner_id   TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    cause        TEXT    NOT NULL,
    cause_reason TEXT    NOT NULL,
    priority     TEXT    NOT NULL,
    dedup_key    TEXT    NOT NULL,
    paged        BIGINT  NOT NULL DEFAULT 0,
    published    BIGINT  NOT NULL DEFAULT 0,
    generation   BIGINT  NOT NULL DEFAULT 0,
    opened_at    BIGINT  NOT NULL,
    resolved_at  BIGINT,
    CHECK (state IN ('open', 'resolved')),
    CHECK (cause IN ('internal', 'external')),
    CHECK (priority IN ('P1', 'P2', 'P3', 'P4', 'P5'))
);
INSERT INTO incidents_new SELECT * FROM incidents;
DROP TABLE incidents;
ALTER TABLE incidents_new RENAME TO incidents;
CREATE INDEX incidents_partner_state ON incidents (partner_id, state);

CREATE TABLE incident_history_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id BIGINT  NOT NULL,
    at          BIGINT  NOT NULL,
    kind        TEXT    NOT NULL,
    detail      TEXT    NOT NULL,
    CHECK (kind IN ('opened', 'check_added', 'check_recovered', 'cause_changed', 'resolved'))
);
INSERT INTO incident_history_new SELECT * FROM incident_history;
DROP TABLE incident_history;
ALTER TABLE incident_history_new RENAME TO incident_history;
CREATE INDEX incident_history_incident ON incident_history (incident_id, id);

CREATE TABLE public_components_new (
    partner_id TEXT   PRIMARY KEY,
    name       TEXT   NOT NULL,
    status     TEXT   NOT NULL,
    updated_at BIGINT NOT NULL,
    CHECK (status IN ('operational', 'under_maintenance', 'degraded_performance', 'partial_outage', 'major_outage'))
);
INSERT INTO public_components_new SELECT * FROM public_components;
DROP TABLE public_components;
ALTER TABLE public_components_new RENAME TO public_components;

CREATE TABLE public_incidents_new (
    local_key   TEXT   PRIMARY KEY,
    name        TEXT   NOT NULL,
    status      TEXT   NOT NULL,
    impact      TEXT   NOT NULL,
    components  TEXT   NOT NULL,
    updates     TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    resolved_at BIGINT,
    CHECK (status IN ('investigating', 'identified', 'monitoring', 'resolved')),
    CHECK (impact IN ('none', 'minor', 'major', 'critical', 'maintenance', 'unknown'))
);
INSERT INTO public_incidents_new SELECT * FROM public_incidents;
DROP TABLE public_incidents;
ALTER TABLE public_incidents_new RENAME TO public_incidents;

CREATE TABLE remote_ids_new (
    sink      TEXT   NOT NULL,
    local_key TEXT   NOT NULL,
    remote_id TEXT   NOT NULL,
    at        BIGINT NOT NULL,
    PRIMARY KEY (sink, local_key),
    CHECK (sink IN ('slack', 'jira', 'pagerduty', 'statuspage'))
);
INSERT INTO remote_ids_new SELECT * FROM remote_ids;
DROP TABLE remote_ids;
ALTER TABLE remote_ids_new RENAME TO remote_ids;
