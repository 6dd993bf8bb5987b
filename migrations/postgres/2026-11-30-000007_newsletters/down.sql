DROP INDEX digests_by_newsletter;
ALTER TABLE digests DROP COLUMN newsletter_id;
DROP TABLE subscriptions;
DROP TABLE newsletters;
