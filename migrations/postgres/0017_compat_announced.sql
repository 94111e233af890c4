-- The announcing entry's publication time (issue 13): a compatibility message says when the
-- partner announced the version, not when Sparky noticed it.
ALTER TABLE compat_detections ADD COLUMN first_entry_published_at BIGINT;
