-- Claims take due deliveries in (next_attempt_at, digest_id, subscriber_id) order. The
-- old index covered only (status, next_attempt_at), so every claim sorted every pending
-- delivery of the digest to find the first few: work per batch that grew with the list.
CREATE INDEX deliveries_due_in_order ON deliveries (status, next_attempt_at, digest_id, subscriber_id);
DROP INDEX deliveries_due;
