ALTER TABLE confirmation_tokens DROP COLUMN subscriber_language;
ALTER TABLE outgoing_emails DROP COLUMN subscriber_language;
