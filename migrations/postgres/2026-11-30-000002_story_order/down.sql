ALTER TABLE articles DROP COLUMN story_order;
