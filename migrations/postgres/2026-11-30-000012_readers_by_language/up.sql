-- Readers by language, for `db::digests::any_reader_in`; see
-- migrations/sqlite/2026-11-30-000018_readers_by_language for why.
CREATE INDEX subscribers_by_language ON subscribers (language);
