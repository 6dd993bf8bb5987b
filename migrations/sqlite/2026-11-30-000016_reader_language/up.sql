-- The reader's language (issue 16): `en`, `ru` or `kk`, chosen on the sign-up page and
-- on the preferences page. NULL for readers from before: DEFAULT_LANGUAGE.
ALTER TABLE subscribers ADD COLUMN language TEXT CHECK (language IN ('en', 'ru', 'kk'));

-- A newsletter tied to one language (a Russian-language edition): its digests' own words
-- are in it whatever the reader's. NULL: each reader's own language.
ALTER TABLE newsletters ADD COLUMN language TEXT CHECK (language IN ('en', 'ru', 'kk'));

-- A digest rendered in the other languages its readers read: `digests` keeps the
-- render in the newsletter's language (or DEFAULT_LANGUAGE), this table one row per
-- other language that occurs among its readers. Per-reader parts are placeholders, as
-- in `digests`.
CREATE TABLE digest_translations (
    digest_id INTEGER NOT NULL REFERENCES digests (id) ON DELETE CASCADE,
    language  TEXT NOT NULL CHECK (language IN ('en', 'ru', 'kk')),
    subject   TEXT NOT NULL,
    html_body TEXT NOT NULL,
    text_body TEXT NOT NULL,
    PRIMARY KEY (digest_id, language)
);
