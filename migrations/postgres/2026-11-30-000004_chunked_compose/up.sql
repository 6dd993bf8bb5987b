-- A digest is queued in chunks of readers, each in its own short transaction, so
-- sign-ups are not kept waiting by a long list. While it is being queued, readers with
-- ids up to `queue_cursor` have their delivery and it goes to the confirmed readers with
-- ids up to `queue_end` (the last reader when it was made); the workers do not close it
-- and the archive does not list it. Both are NULL once it is wholly queued. A digest a
-- crash left half-queued carries on from `queue_cursor`.
ALTER TABLE digests ADD COLUMN queue_cursor BIGINT;
ALTER TABLE digests ADD COLUMN queue_end BIGINT;
