-- The claim reads only undelivered actions: partial indexes keep its cost independent of the
-- delivered history and of the backlog's size.
CREATE INDEX outbox_undelivered ON outbox (id) WHERE state IN ('pending', 'retrying');
CREATE INDEX outbox_undelivered_order ON outbox (ordering_key, id) WHERE state IN ('pending', 'retrying');
