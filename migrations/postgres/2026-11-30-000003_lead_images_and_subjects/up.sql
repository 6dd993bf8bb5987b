-- An article's lead image (an https URL the site published: from its feed or the API),
-- shown for the digest's top story; NULL when it has none.
ALTER TABLE articles ADD COLUMN image_url TEXT;
-- The subject the editor gave a digest in place of the one its template makes; NULL
-- when the template's went out. (`subject` is always what the readers got.)
ALTER TABLE digests ADD COLUMN subject_override TEXT;
