-- The rows a worker holds, found by its name: renewing a long batch's lease and letting
-- go at shutdown touch those rows only, not every queued one (a renewal used to look
-- through every pending delivery: a quarter second holding the write lock at a million
-- readers, every ten seconds of a batch on a slow server). Only held rows are in these
-- indexes, so they stay as small as what is in flight.
CREATE INDEX deliveries_by_worker ON deliveries (locked_by) WHERE locked_by IS NOT NULL;
CREATE INDEX outgoing_emails_by_worker ON outgoing_emails (locked_by) WHERE locked_by IS NOT NULL;
