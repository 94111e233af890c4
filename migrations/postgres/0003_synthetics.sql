-- Synthetic checks. Times are Unix epoch milliseconds.

-- Every run. counted = 0 for a failed run that a confirmation re-run superseded; the re-run
-- (confirmation = 1) is the one that counts for the state and the success rate.
CREATE TABLE check_results (
    id           BIGSERIAL PRIMARY KEY,
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
    counted      BIGINT  NOT NULL DEFAULT 1
);
CREATE INDEX check_results_check_at ON check_results (check_id, at);
CREATE INDEX check_results_at ON check_results (at);

-- Each check's state: healthy | failing, with the consecutive counts that move it.
CREATE TABLE check_state (
    check_id              TEXT   PRIMARY KEY,
    partner_id            TEXT   NOT NULL,
    state                 TEXT   NOT NULL,
    consecutive_failures  BIGINT NOT NULL,
    consecutive_successes BIGINT NOT NULL,
    since                 BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);

-- State changes, for triage: healthy -> failing and back; `at` is that of the result that
-- caused it (check_results.check_id + at).
CREATE TABLE check_events (
    id         BIGSERIAL PRIMARY KEY,
    check_id   TEXT    NOT NULL,
    partner_id TEXT    NOT NULL,
    at         BIGINT  NOT NULL,
    from_state TEXT    NOT NULL,
    to_state   TEXT    NOT NULL,
    handled_at BIGINT
);
CREATE INDEX check_events_unhandled ON check_events (handled_at, id);

-- Which replica runs which checks: the owner renews its lease; an expired lease is taken over.
CREATE TABLE check_owners (
    check_id    TEXT   PRIMARY KEY,
    owner       TEXT   NOT NULL,
    lease_until BIGINT NOT NULL
);
