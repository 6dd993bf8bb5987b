-- The name typed with each sign-up travels with its confirmation request and its link,
-- and becomes the reader's name only when that link is used: a stranger typing an
-- address cannot rename its reader, and the reader's own sign-up sets their name.
ALTER TABLE outgoing_emails ADD COLUMN subscriber_name TEXT;
ALTER TABLE confirmation_tokens ADD COLUMN subscriber_name TEXT;
