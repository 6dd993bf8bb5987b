ALTER TABLE outgoing_emails DROP COLUMN locked_by;
ALTER TABLE deliveries DROP COLUMN failing_since;
