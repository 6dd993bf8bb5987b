ALTER TABLE digests DROP COLUMN subject_override;
ALTER TABLE articles DROP COLUMN image_url;
