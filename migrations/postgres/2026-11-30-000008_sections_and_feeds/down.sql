DROP TABLE newsletter_articles;
DROP TABLE feeds;
ALTER TABLE articles DROP COLUMN sections;
