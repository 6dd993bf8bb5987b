ALTER TABLE confirmation_tokens DROP COLUMN subscriber_name;
ALTER TABLE outgoing_emails DROP COLUMN subscriber_name;
