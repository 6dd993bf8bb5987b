-- Articles waiting for a digest, and the digests they went out in.
CREATE TABLE digests (
    id              INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    subject         TEXT NOT NULL,
    -- Rendered once; per-reader parts are placeholders filled in at send time.
    html_body       TEXT NOT NULL,
    text_body       TEXT NOT NULL,
    -- 'sending' while deliveries are pending, then 'sent' (some may have failed).
    status          TEXT NOT NULL CHECK (status IN ('sending', 'sent')),
    article_count   INTEGER NOT NULL,
    recipient_count INTEGER NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    completed_at    TIMESTAMP
);

CREATE TABLE articles (
    id           INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    url          TEXT NOT NULL UNIQUE,
    -- The feed entry's id (guid), when the article came from a feed.
    guid         TEXT UNIQUE,
    title        TEXT NOT NULL,
    -- Plain text, already shortened for the digest.
    summary      TEXT,
    -- Sanitised HTML.
    body         TEXT,
    author       TEXT,
    published_at TIMESTAMP,
    created_at   TIMESTAMP NOT NULL,
    digest_id    INTEGER REFERENCES digests (id)
);
CREATE INDEX articles_waiting ON articles (digest_id, published_at);

-- One row per (digest, reader): the unit of delivery, retried until sent or given up.
CREATE TABLE deliveries (
    digest_id       INTEGER NOT NULL REFERENCES digests (id) ON DELETE CASCADE,
    subscriber_id   INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'skipped')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    -- The worker holding the row and until when; a lapsed lease frees it.
    locked_by       TEXT,
    locked_until    TIMESTAMP,
    last_error      TEXT,
    sent_at         TIMESTAMP,
    PRIMARY KEY (digest_id, subscriber_id)
);
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
CREATE INDEX deliveries_by_subscriber ON deliveries (subscriber_id);
CREATE INDEX deliveries_by_digest_status ON deliveries (digest_id, status);

-- Consecutive hard bounces; past a threshold the subscriber is marked bounced.
ALTER TABLE subscribers ADD COLUMN hard_bounces INTEGER NOT NULL DEFAULT 0;
