-- A flood guard for changelogs (issue 11): the entries of a poll that found more than
-- max_new unseen entries carry that max_new, so the digest shows them as one section.
ALTER TABLE changelog_entries ADD COLUMN flood_max_new BIGINT;
