-- When a delivery first failed temporarily: retries give up a bounded time after this,
-- not after the digest was made (a "retry failed" days later starts a fresh clock).
ALTER TABLE deliveries ADD COLUMN failing_since TIMESTAMP;

-- The worker holding a queued one-off mail, so it renews only its own leases (as
-- deliveries do).
ALTER TABLE outgoing_emails ADD COLUMN locked_by TEXT;
