DELETE FROM outgoing_emails WHERE kind = 'preferences';
ALTER TABLE outgoing_emails DROP CONSTRAINT outgoing_emails_kind_check;
ALTER TABLE outgoing_emails ADD CONSTRAINT outgoing_emails_kind_check
    CHECK (kind IN ('confirmation'));
