-- Status page watcher. Times are Unix epoch milliseconds.

-- Per partner: conditional-request validators and page health.
CREATE TABLE partner_status (
    partner_id           TEXT   PRIMARY KEY,
    fetched_at           BIGINT NOT NULL,
    last_success_at      BIGINT,
    consecutive_failures BIGINT NOT NULL DEFAULT 0,
    etag                 TEXT,
    last_modified        TEXT
);

-- What each page said, one row per change (the first poll included): "what did Okta say at
-- 14:05?" is the latest row at or before 14:05. snapshot is the normalised model as JSON.
CREATE TABLE status_snapshots (
    partner_id TEXT   NOT NULL,
    at         BIGINT NOT NULL,
    indicator  TEXT   NOT NULL,
    snapshot   TEXT   NOT NULL,
    PRIMARY KEY (partner_id, at)
);

-- Every change, one row each: kind is indicator | component | incident_opened |
-- incident_updated | incident_resolved | maintenance_scheduled | maintenance_started |
-- maintenance_ended; subject is '' (indicator), the component name, or the incident or
-- maintenance id; detail is JSON (name, impact, link, components).
CREATE TABLE status_events (
    id         BIGSERIAL PRIMARY KEY,
    partner_id TEXT    NOT NULL,
    at         BIGINT  NOT NULL,
    kind       TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    old_value  TEXT,
    new_value  TEXT,
    detail     TEXT    NOT NULL
);
CREATE INDEX status_events_partner_at ON status_events (partner_id, at);
