-- Delivery you can kill at any moment (issue 11).
-- * outbox.state gains `blocked` (an earlier action of its chain is dead) and `printed` (the log
--   sink printed it: done, never sent).
-- * outbox_keys: the idempotency keys of actions pruned by retention, so an effect whose row is
--   gone is still never sent twice (a notice re-appearing after 30 days).
ALTER TABLE outbox DROP CONSTRAINT outbox_state_words;
ALTER TABLE outbox ADD CONSTRAINT outbox_state_words CHECK (state IN ('pending', 'retrying', 'blocked', 'delivered', 'printed', 'dead'));

CREATE TABLE outbox_keys (
    idempotency_key TEXT   PRIMARY KEY,
    created_at      BIGINT NOT NULL
);
CREATE INDEX outbox_keys_created ON outbox_keys (created_at);
CREATE INDEX outbox_done ON outbox (delivered_at) WHERE state IN ('delivered', 'printed');
