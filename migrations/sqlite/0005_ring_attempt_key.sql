-- One ring attempt is one operator rung for one call from one moment: the idempotency key
-- that lets a batch of register writes be applied again (replayed from the outage spool
-- after a commit whose acknowledgement was lost) without counting an attempt twice.
-- Duplicates are impossible before this migration in practice; drop any all the same,
-- keeping the first written, so the index can be built.
DELETE FROM ring_attempts WHERE rowid NOT IN
    (SELECT MIN(rowid) FROM ring_attempts GROUP BY call_id, operator_id, started_at);
CREATE UNIQUE INDEX ring_attempts_key ON ring_attempts (call_id, operator_id, started_at);
