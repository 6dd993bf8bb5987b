-- Composing a digest asks, for each language other than its own, whether any confirmed
-- reader of the newsletter reads it (`db::digests::any_reader_in`). Without this index
-- that walks the newsletter's readers until one matches: all of them, a million, when
-- nobody reads the language. With it the question starts from the readers of that
-- language: one index probe when there are none.
CREATE INDEX subscribers_by_language ON subscribers (language);
