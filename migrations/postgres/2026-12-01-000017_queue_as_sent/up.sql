-- A digest's readers are queued as it goes out, a chunk at a time by the worker that
-- runs short of deliveries, not all while it is composed. While it is, the readers
-- counted when it was rendered and not queued yet (beyond `digests.queue_cursor`) are
-- kept here: they are in `recipient_count`, pending, before their row is. When the
-- cursor reaches the end, the recipients become the readers queued (those counted and
-- never queued left before their turn), and the row goes. No row for a digest being queued: its readers are counted as they are
-- queued (one an earlier version began queueing).
CREATE TABLE digest_queue_left (
    digest_id BIGINT PRIMARY KEY NOT NULL REFERENCES digests (id) ON DELETE CASCADE,
    readers   INTEGER NOT NULL
);
-- The digests still being queued, found without reading every digest ever sent (and,
-- on SQLite, the bodies stored before these columns): a worker asks at every claim
-- that runs short.
CREATE INDEX digests_queueing ON digests (id) WHERE queue_end IS NOT NULL;
