-- Running counts of a digest's settled deliveries, kept as outcomes are recorded, so a
-- progress poll and the "anything left?" check after each batch read one row instead
-- of counting every delivery of the digest (which made a send quadratic in the list).
ALTER TABLE digests ADD COLUMN sent_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE digests ADD COLUMN failed_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE digests ADD COLUMN skipped_count INTEGER NOT NULL DEFAULT 0;

UPDATE digests SET
    sent_count = (SELECT count(*) FROM deliveries d WHERE d.digest_id = digests.id AND d.status = 'sent'),
    failed_count = (SELECT count(*) FROM deliveries d WHERE d.digest_id = digests.id AND d.status = 'failed'),
    skipped_count = (SELECT count(*) FROM deliveries d WHERE d.digest_id = digests.id AND d.status = 'skipped'),
    recipient_count = (SELECT count(*) FROM deliveries d WHERE d.digest_id = digests.id);
