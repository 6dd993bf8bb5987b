-- The language of the form a sign-up was made on (issue 16): it travels with the
-- confirmation mail's request and its link, as the typed name does, and becomes the
-- reader's when they confirm; an unconfirmed form never changes a known reader's.
ALTER TABLE outgoing_emails ADD COLUMN subscriber_language TEXT CHECK (subscriber_language IN ('en', 'ru', 'kk'));
ALTER TABLE confirmation_tokens ADD COLUMN subscriber_language TEXT CHECK (subscriber_language IN ('en', 'ru', 'kk'));
