DROP TABLE outgoing_emails;
DROP TABLE confirmation_tokens;
DROP TABLE subscribers;
DROP TABLE app_settings;
