DROP INDEX subscribers_by_language;
