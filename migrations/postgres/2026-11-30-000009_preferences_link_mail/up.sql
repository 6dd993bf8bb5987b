-- One-off mail of a second kind: a link to the reader's preferences page, asked for on
-- `GET /preferences` (issue 11).
ALTER TABLE outgoing_emails DROP CONSTRAINT outgoing_emails_kind_check;
ALTER TABLE outgoing_emails ADD CONSTRAINT outgoing_emails_kind_check
    CHECK (kind IN ('confirmation', 'preferences'));
