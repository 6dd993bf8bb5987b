DROP INDEX outgoing_emails_by_worker;
DROP INDEX deliveries_by_worker;
