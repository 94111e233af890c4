-- Checks shared by live replicas, warn notices (issue 10), and failed pages (issue 11).
-- * replicas: one row per running replica, its heartbeat renewed every few seconds; the live
--   ones share the checks by rendezvous hashing (src/sources/synthetics/share.rs). It replaces
--   check_owners (a lease row per check, renewed for every check every 10 s).
-- * check_state.warn_since: since when the check's counted results are `warn` (NULL: not warn);
--   warn_notified: 1 once the "still warn after warn_after" notice was decided.
-- * check_events.warn: NULL for a state change; `started` / `cleared` for a warn notice event
--   (from_state = to_state = the check's state then).
CREATE TABLE replicas (
    instance     TEXT   PRIMARY KEY,
    started_at   BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL
);
DROP TABLE check_owners;
ALTER TABLE check_state ADD COLUMN warn_since BIGINT;
ALTER TABLE check_state ADD COLUMN warn_notified BIGINT NOT NULL DEFAULT 0;
ALTER TABLE check_events ADD COLUMN warn TEXT CHECK (warn IN ('started', 'cleared'));

-- incident_history.kind gains `page_failed` (PagerDuty never accepted the page). SQLite cannot
-- alter a CHECK constraint: the history table is rebuilt with the new words.
CREATE TABLE incident_history_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id BIGINT  NOT NULL,
    at          BIGINT  NOT NULL,
    kind        TEXT    NOT NULL,
    detail      TEXT    NOT NULL,
    evidence    TEXT,
    CHECK (kind IN ('opened', 'check_added', 'check_recovered', 'cause_changed', 'cause_held', 'status_unknown', 'status_readable', 'page_failed', 'resolved'))
);
INSERT INTO incident_history_new (id, incident_id, at, kind, detail, evidence) SELECT id, incident_id, at, kind, detail, evidence FROM incident_history;
DROP TABLE incident_history;
ALTER TABLE incident_history_new RENAME TO incident_history;
CREATE INDEX incident_history_incident ON incident_history (incident_id, id);
