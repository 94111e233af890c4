-- Silences and maintenance windows of our own side (issue 12).
-- * silences: `sparky silence add` (and, later, the dashboard). Exactly one of partner_id and
--   check_id is set; in force from starts_at (inclusive) to ends_at (exclusive), or until
--   ended_at when `sparky silence end` ended it early. Times are Unix epoch milliseconds.
--   `[[maintenance]]` windows live in sparky.toml, not here.
-- * incidents.page_held / public_held: 1 while a silence holds back the incident's PagerDuty
--   trigger / its public status update; cleared in the transaction that plans the held action
--   (idempotency key incident:ID:release:GEN:SINK), so it goes out once across restarts and
--   replicas.
-- * incident_history.kind gains `silenced` and `released`.
CREATE TABLE silences (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    partner_id  TEXT,
    check_id    TEXT,
    starts_at   BIGINT  NOT NULL,
    ends_at     BIGINT  NOT NULL,
    reason      TEXT    NOT NULL,
    created_by  TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    ended_at    BIGINT,
    CHECK ((partner_id IS NULL) <> (check_id IS NULL)),
    CHECK (ends_at > starts_at)
);
CREATE INDEX silences_ends ON silences (ends_at);

ALTER TABLE incidents ADD COLUMN page_held BIGINT NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN public_held BIGINT NOT NULL DEFAULT 0;

-- SQLite cannot alter a CHECK constraint: the history table is rebuilt with the new words.
CREATE TABLE incident_history_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id BIGINT  NOT NULL,
    at          BIGINT  NOT NULL,
    kind        TEXT    NOT NULL,
    detail      TEXT    NOT NULL,
    evidence    TEXT,
    CHECK (kind IN ('opened', 'check_added', 'check_recovered', 'cause_changed', 'cause_held', 'status_unknown', 'status_readable', 'page_failed', 'silenced', 'released', 'resolved'))
);
INSERT INTO incident_history_new (id, incident_id, at, kind, detail, evidence) SELECT id, incident_id, at, kind, detail, evidence FROM incident_history;
DROP TABLE incident_history;
ALTER TABLE incident_history_new RENAME TO incident_history;
CREATE INDEX incident_history_incident ON incident_history (incident_id, id);
