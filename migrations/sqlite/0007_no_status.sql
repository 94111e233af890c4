-- Two error kinds join the vocabulary (src/model/error.rs): `no_status` (a status page adapter
-- read nothing) and `not_configured` (a source whose settings are not given). SQLite cannot
-- change a constraint, so check_results is rebuilt as 0006 left it, with the new word list, and
-- its rows and indexes copied.

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
    CHECK ((error_kind IS NULL OR error_kind IN ('dns', 'connect', 'tls', 'timeout', 'http', 'too_large', 'redirect', 'body', 'request', 'empty', 'malformed', 'html_not_feed', 'html_not_json', 'json_not_html', 'not_text', 'not_status', 'unrecognised', 'no_status', 'not_configured', 'assertion', 'auth', 'config', 'store', 'template')))
);
INSERT INTO check_results_new SELECT * FROM check_results;
DROP TABLE check_results;
ALTER TABLE check_results_new RENAME TO check_results;
CREATE INDEX check_results_check_at ON check_results (check_id, at);
CREATE INDEX check_results_at ON check_results (at);
