DROP INDEX inbox_dead_idx;
DROP INDEX inbox_pending_idx;
CREATE INDEX inbox_undelivered_idx ON inbox (ts, id) WHERE delivered_at IS NULL;
ALTER TABLE inbox
    DROP COLUMN dead_at,
    DROP COLUMN last_error,
    DROP COLUMN attempts,
    ADD COLUMN lease_owner text,
    ADD COLUMN lease_until timestamptz;
DROP TABLE inbox_leases;
