ALTER TABLE digests DROP COLUMN queue_end;
ALTER TABLE digests DROP COLUMN queue_cursor;
