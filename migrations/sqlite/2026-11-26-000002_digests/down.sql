ALTER TABLE subscribers DROP COLUMN hard_bounces;
DROP TABLE deliveries;
DROP TABLE articles;
DROP TABLE digests;
