-- Retention (issue 11).
-- * changelog_marks: the identities of changelog entries pruned by retention. An entry is its
--   own dedupe mark (its key is never stored twice); once its row is pruned, its mark keeps an
--   entry that the feed still shows from being taken for new and posted again.
-- (outbox_keys, the twin for the idempotency keys of pruned actions, came with 0010.)
CREATE TABLE changelog_marks (
    partner_id    TEXT   NOT NULL,
    entry_key     TEXT   NOT NULL,
    first_seen_at BIGINT NOT NULL,
    PRIMARY KEY (partner_id, entry_key)
) WITHOUT ROWID;
