-- Several newsletters (issue 11). An installation that had one list has one newsletter,
-- the default (id 1, slug `digest`): its name and schedule stay NULL, meaning
-- NEWSLETTER_NAME and DIGEST_CRON, as before.
CREATE TABLE newsletters (
    id          INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    -- Lower-case letters, digits and `-`; used in URLs.
    slug        TEXT NOT NULL UNIQUE,
    -- NULL: NEWSLETTER_NAME (the default newsletter's).
    name        TEXT,
    description TEXT NOT NULL DEFAULT '',
    -- A cron string in the DIGEST_CRON format; '' for manual sends only; NULL:
    -- DIGEST_CRON (the default newsletter's).
    schedule    TEXT,
    -- The article sections it takes, lower-case, separated by ','; '' takes every one.
    sections    TEXT NOT NULL DEFAULT '',
    public      BOOLEAN NOT NULL DEFAULT 1,
    preselected BOOLEAN NOT NULL DEFAULT 0,
    -- No longer sent or offered; its history kept.
    archived    BOOLEAN NOT NULL DEFAULT 0,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
INSERT INTO newsletters (id, slug, name, description, schedule, sections, public, preselected, archived, created_at, updated_at)
VALUES (1, 'digest', NULL, '', NULL, '', 1, 1, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP);

-- Which reader is on which newsletter. The reader's own status still rules over it: a
-- bounced or unsubscribed reader gets nothing whatever their subscriptions say.
CREATE TABLE subscriptions (
    newsletter_id INTEGER NOT NULL REFERENCES newsletters (id),
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE
                  ON UPDATE CASCADE,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'confirmed', 'unsubscribed')),
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (newsletter_id, subscriber_id)
);
-- Queueing a digest reads one chunk of a newsletter's confirmed readers by id: a range
-- scan of this index.
CREATE INDEX subscriptions_queue ON subscriptions (newsletter_id, status, subscriber_id);
CREATE INDEX subscriptions_by_subscriber ON subscriptions (subscriber_id);

-- Every reader is on the default newsletter as they were on the one list: confirmed
-- ones confirmed, pending ones pending, leavers left. A bounced reader stays bounced (the
-- reader's status); their subscription stays as it was before the bounce.
INSERT INTO subscriptions (newsletter_id, subscriber_id, status, created_at, updated_at)
SELECT 1, id, CASE status WHEN 'bounced' THEN 'confirmed' ELSE status END, created_at, updated_at
FROM subscribers;

-- The newsletter a digest belongs to; past digests belong to the default. (SQLite adds
-- no REFERENCES column with a non-NULL default; the application keeps it right.)
ALTER TABLE digests ADD COLUMN newsletter_id INTEGER NOT NULL DEFAULT 1;
CREATE INDEX digests_by_newsletter ON digests (newsletter_id, id);
