-- What the world told us about our mail after it left (issue 13): bounces that came
-- back by mail or webhook, complaints, unsubscribe requests by mail. One row an event,
-- kept for the admin pages and the soft-bounce rule (three digests in a row). Erasing a
-- reader erases their events.
CREATE TABLE feedback_events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    subscriber_id BIGINT NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    digest_id     BIGINT,
    kind          TEXT NOT NULL CHECK (kind IN ('hard_bounce', 'soft_bounce', 'complaint', 'unsubscribe')),
    detail        TEXT NOT NULL,
    source        TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL
);
CREATE INDEX feedback_events_by_subscriber ON feedback_events (subscriber_id, digest_id);
CREATE INDEX feedback_events_by_digest ON feedback_events (digest_id);
CREATE INDEX feedback_events_recent ON feedback_events (created_at);
