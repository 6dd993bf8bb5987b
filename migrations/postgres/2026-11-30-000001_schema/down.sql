DROP TABLE admin_sessions;
DROP TABLE deliveries;
DROP TABLE articles;
DROP TABLE digests;
DROP TABLE outgoing_emails;
DROP TABLE confirmation_tokens;
DROP TABLE subscribers;
DROP TABLE app_settings;
