ALTER TABLE articles DROP COLUMN excluded_at;
DROP TABLE admin_sessions;
