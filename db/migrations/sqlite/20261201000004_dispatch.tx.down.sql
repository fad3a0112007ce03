DROP INDEX inbox_dead_idx;
DROP INDEX inbox_pending_idx;
CREATE INDEX inbox_undelivered_idx ON inbox (ts, id) WHERE delivered_at IS NULL;
ALTER TABLE inbox DROP COLUMN dead_at;
ALTER TABLE inbox DROP COLUMN last_error;
ALTER TABLE inbox DROP COLUMN attempts;
ALTER TABLE inbox ADD COLUMN lease_owner TEXT;
ALTER TABLE inbox ADD COLUMN lease_until TEXT;
DROP TABLE inbox_leases;
