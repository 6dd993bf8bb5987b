-- Sections, several feeds and "sent" per newsletter (issue 11).

-- The sections an article is in, lower-case and trimmed, separated by ',' (as
-- `newsletters.sections`); '' for none.
ALTER TABLE articles ADD COLUMN sections TEXT NOT NULL DEFAULT '';

-- The site's feeds beside FEED_URL; each feed's conditional-GET state (ETag,
-- Last-Modified) is kept by its URL in app_settings, as FEED_URL's is.
CREATE TABLE feeds (
    id         INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    url        TEXT NOT NULL UNIQUE,
    -- Added to every article the feed brings; NULL for none.
    section    TEXT,
    created_at TIMESTAMP NOT NULL
);

-- Which article each newsletter but the default has sent, in which digest: "sent" is
-- per newsletter. The default newsletter's stays `articles.digest_id`, as before.
CREATE TABLE newsletter_articles (
    newsletter_id INTEGER NOT NULL REFERENCES newsletters (id),
    article_id    INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    digest_id     INTEGER NOT NULL REFERENCES digests (id) ON DELETE CASCADE,
    PRIMARY KEY (newsletter_id, article_id)
);
CREATE INDEX newsletter_articles_by_digest ON newsletter_articles (digest_id, article_id);
