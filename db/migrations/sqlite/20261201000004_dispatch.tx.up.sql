-- Inbox delivery at Temporal's speed (issue 12), as in the Postgres migration.
CREATE TABLE inbox_leases (
    channel_id TEXT NOT NULL,
    page_id    TEXT NOT NULL,
    psid       TEXT NOT NULL,
    tenant_id  TEXT NOT NULL,
    owner      TEXT NOT NULL,
    until_ms   INTEGER NOT NULL,
    PRIMARY KEY (channel_id, page_id, psid)
) STRICT;

ALTER TABLE inbox DROP COLUMN lease_owner;
ALTER TABLE inbox DROP COLUMN lease_until;
ALTER TABLE inbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE inbox ADD COLUMN last_error TEXT NOT NULL DEFAULT '';
ALTER TABLE inbox ADD COLUMN dead_at TEXT;

DROP INDEX inbox_undelivered_idx;
CREATE INDEX inbox_pending_idx ON inbox (tenant_id, id) WHERE delivered_at IS NULL AND dead_at IS NULL;
CREATE INDEX inbox_dead_idx ON inbox (tenant_id, id) WHERE dead_at IS NOT NULL;
