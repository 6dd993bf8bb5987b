DROP TABLE digest_translations;
ALTER TABLE newsletters DROP COLUMN language;
ALTER TABLE subscribers DROP COLUMN language;
