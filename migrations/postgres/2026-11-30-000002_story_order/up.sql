-- The editor's order of the waiting stories (1 leads); NULL for stories the editor has
-- not placed, which follow the placed ones, newest first.
ALTER TABLE articles ADD COLUMN story_order INTEGER;
