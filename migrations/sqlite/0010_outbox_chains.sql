-- Delivery you can kill at any moment (issue 11).
-- * outbox.state gains `blocked` (an earlier action of its chain is dead) and `printed` (the log
--   sink printed it: done, never sent).
-- * outbox_keys: the idempotency keys of actions pruned by retention, so an effect whose row is
--   gone is still never sent twice (a notice re-appearing after 30 days).
-- SQLite cannot alter a CHECK constraint: the outbox is rebuilt with the new words.
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
    CHECK (state IN ('pending', 'retrying', 'blocked', 'delivered', 'printed', 'dead')),
    CHECK (sink IN ('slack', 'jira', 'pagerduty', 'statuspage'))
);
INSERT INTO outbox_new SELECT * FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_order ON outbox (ordering_key, id);
CREATE INDEX outbox_undelivered ON outbox (id) WHERE state IN ('pending', 'retrying');
CREATE INDEX outbox_undelivered_order ON outbox (ordering_key, id) WHERE state IN ('pending', 'retrying');
CREATE INDEX outbox_done ON outbox (delivered_at) WHERE state IN ('delivered', 'printed');

CREATE TABLE outbox_keys (
    idempotency_key TEXT   PRIMARY KEY,
    created_at      BIGINT NOT NULL
);
CREATE INDEX outbox_keys_created ON outbox_keys (created_at);
