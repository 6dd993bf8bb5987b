-- One-off mail of a second kind: a link to the reader's preferences page, asked for on
-- `GET /preferences` (issue 11). SQLite changes a CHECK constraint only by making the
-- table anew; the rows, ids and indexes stay as they were.
CREATE TABLE outgoing_emails_new (
    id              INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('confirmation', 'preferences')),
    subscriber_id   INTEGER REFERENCES subscribers (id) ON DELETE CASCADE,
    recipient       TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'failed', 'cancelled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    -- A worker that claimed the row holds it until then; after a crash it lapses.
    locked_until    TIMESTAMP,
    last_error      TEXT,
    created_at      TIMESTAMP NOT NULL,
    sent_at         TIMESTAMP,
    locked_by       TEXT,
    subscriber_name TEXT
);
INSERT INTO outgoing_emails_new (id, kind, subscriber_id, recipient, status, attempts,
    next_attempt_at, locked_until, last_error, created_at, sent_at, locked_by, subscriber_name)
SELECT id, kind, subscriber_id, recipient, status, attempts, next_attempt_at, locked_until,
    last_error, created_at, sent_at, locked_by, subscriber_name
FROM outgoing_emails;
DROP TABLE outgoing_emails;
ALTER TABLE outgoing_emails_new RENAME TO outgoing_emails;
CREATE INDEX outgoing_emails_due ON outgoing_emails (status, next_attempt_at);
CREATE INDEX outgoing_emails_by_recipient ON outgoing_emails (recipient, created_at);
