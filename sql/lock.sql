-- Serialise writers: one pgpath apply, set, reset or rollback at a time per cluster.
-- Waits at most lock_timeout (set by the caller for this transaction only).
SELECT pg_catalog.pg_advisory_xact_lock(%(key)s::bigint);
