-- Triage on messy input (issue 10).
-- * incidents.status_unknown_since: since when the partner's page has been unreadable while the
--   incident is open (NULL: readable); unknown is not evidence, the cause is kept meanwhile.
-- * incidents.recovered_polls: consecutive readable polls saying the partner recovered while the
--   incident is external; the change to internal (which pages) waits for `[triage] recovered_polls`.
-- * incident_history.evidence: the evidence of a decision as JSON (indicator, components,
--   incident and maintenance ids), NULL for entries without one.
-- * one open incident per partner, enforced: duplicates left by earlier versions are resolved
--   into the newest first.
ALTER TABLE incidents ADD COLUMN status_unknown_since BIGINT;
ALTER TABLE incidents ADD COLUMN recovered_polls BIGINT NOT NULL DEFAULT 0;

INSERT INTO incident_history (incident_id, at, kind, detail)
SELECT i.id, i.opened_at, 'resolved', 'merged into the newest open incident of the partner (one open incident per partner)'
FROM incidents i
WHERE i.state = 'open' AND i.id <> (SELECT MAX(j.id) FROM incidents j WHERE j.partner_id = i.partner_id AND j.state = 'open');
UPDATE incidents SET state = 'resolved', resolved_at = opened_at, paged = 0, published = 0
WHERE state = 'open' AND id <> (SELECT MAX(j.id) FROM incidents j WHERE j.partner_id = incidents.partner_id AND j.state = 'open');
CREATE UNIQUE INDEX incidents_one_open ON incidents (partner_id) WHERE state = 'open';

-- SQLite cannot alter a CHECK constraint: the history table is rebuilt with the new words and
-- the evidence column.
CREATE TABLE incident_history_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id BIGINT  NOT NULL,
    at          BIGINT  NOT NULL,
    kind        TEXT    NOT NULL,
    detail      TEXT    NOT NULL,
    evidence    TEXT,
    CHECK (kind IN ('opened', 'check_added', 'check_recovered', 'cause_changed', 'cause_held', 'status_unknown', 'status_readable', 'resolved'))
);
INSERT INTO incident_history_new (id, incident_id, at, kind, detail) SELECT id, incident_id, at, kind, detail FROM incident_history;
DROP TABLE incident_history;
ALTER TABLE incident_history_new RENAME TO incident_history;
CREATE INDEX incident_history_incident ON incident_history (incident_id, id);
