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
ALTER TABLE check_events ADD COLUMN warn TEXT CONSTRAINT check_events_warn_words CHECK (warn IN ('started', 'cleared'));

-- incident_history.kind gains `page_failed` (PagerDuty never accepted the page).
ALTER TABLE incident_history DROP CONSTRAINT incident_history_kind_words;
ALTER TABLE incident_history ADD CONSTRAINT incident_history_kind_words CHECK (kind IN ('opened', 'check_added', 'check_recovered', 'cause_changed', 'cause_held', 'status_unknown', 'status_readable', 'page_failed', 'resolved'));
