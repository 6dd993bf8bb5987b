DROP INDEX digests_queueing;
DROP TABLE digest_queue_left;
