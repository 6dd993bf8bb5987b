-- Secrets and other values the service generates once and keeps (e.g. APP_SECRET).
CREATE TABLE app_settings (
    name  TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

CREATE TABLE subscribers (
    id              INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    -- Stored normalised (trimmed, lower-case), so one address is one row.
    email           TEXT NOT NULL UNIQUE,
    name            TEXT,
    status          TEXT NOT NULL
                    CHECK (status IN ('pending', 'confirmed', 'unsubscribed', 'bounced')),
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    confirmed_at    TIMESTAMP,
    unsubscribed_at TIMESTAMP
);
CREATE INDEX subscribers_by_status ON subscribers (status, id);

-- Only the SHA-256 of a token is kept: a leaked database confirms nobody.
CREATE TABLE confirmation_tokens (
    token_hash    TEXT PRIMARY KEY NOT NULL,
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    created_at    TIMESTAMP NOT NULL,
    expires_at    TIMESTAMP NOT NULL,
    used_at       TIMESTAMP
);
CREATE INDEX confirmation_tokens_by_subscriber ON confirmation_tokens (subscriber_id);

-- One-off mail (confirmations) waiting to be sent, being sent, or done.
-- The message is rendered when it is sent, so no live token sits in this table.
CREATE TABLE outgoing_emails (
    id              INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('confirmation')),
    subscriber_id   INTEGER REFERENCES subscribers (id) ON DELETE CASCADE,
    recipient       TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'failed', 'cancelled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    -- A worker that claimed the row holds it until then; after a crash it lapses.
    locked_until    TIMESTAMP,
    last_error      TEXT,
    created_at      TIMESTAMP NOT NULL,
    sent_at         TIMESTAMP
);
CREATE INDEX outgoing_emails_due ON outgoing_emails (status, next_attempt_at);
CREATE INDEX outgoing_emails_by_recipient ON outgoing_emails (recipient, created_at);
