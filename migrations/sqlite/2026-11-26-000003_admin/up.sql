-- Admin sessions, kept on the server: the cookie holds only a random id, and only its
-- SHA-256 is stored here.
CREATE TABLE admin_sessions (
    id_hash    TEXT PRIMARY KEY NOT NULL,
    csrf_token TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);

-- An article the editor left out of the next digest.
ALTER TABLE articles ADD COLUMN excluded_at TIMESTAMP;
