-- Compatibility runs, detection (issue 13): a partner's new beta / upcoming API version, found in
-- its new changelog entries by `[compat] beta_patterns` and `version_pattern`.
-- * compat_detections: one row per (partner, version), with the entry that announced it first.
--   version is the extracted API version (`v2.1`, `2026-10-01`, `2026.41.0`, `beta`), else the
--   announcing entry's identity. Times are Unix epoch milliseconds.
-- * compat_detection_entries: every entry about that version, the first one included; a later
--   entry about the same version is added here and dispatches nothing.
CREATE TABLE compat_detections (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    partner_id        TEXT    NOT NULL,
    version           TEXT    NOT NULL,
    first_entry_key   TEXT    NOT NULL,
    first_entry_title TEXT    NOT NULL,
    first_entry_link  TEXT,
    detected_at       BIGINT  NOT NULL,
    UNIQUE (partner_id, version)
);

CREATE TABLE compat_detection_entries (
    detection_id BIGINT NOT NULL,
    entry_key    TEXT   NOT NULL,
    added_at     BIGINT NOT NULL,
    PRIMARY KEY (detection_id, entry_key)
) WITHOUT ROWID;
