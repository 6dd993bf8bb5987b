-- The reader's language (issue 16); see migrations/sqlite/2026-11-30-000016_reader_language
-- for what each part is for.
ALTER TABLE subscribers ADD COLUMN language TEXT CHECK (language IN ('en', 'ru', 'kk'));
ALTER TABLE newsletters ADD COLUMN language TEXT CHECK (language IN ('en', 'ru', 'kk'));
CREATE TABLE digest_translations (
    digest_id BIGINT NOT NULL REFERENCES digests (id) ON DELETE CASCADE,
    language  TEXT NOT NULL CHECK (language IN ('en', 'ru', 'kk')),
    subject   TEXT NOT NULL,
    html_body TEXT NOT NULL,
    text_body TEXT NOT NULL,
    PRIMARY KEY (digest_id, language)
);
