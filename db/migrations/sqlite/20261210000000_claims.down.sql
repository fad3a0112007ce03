-- Back to one row per Page ID and one channel per app ID, as in the Postgres migration: the rows that claim
-- nothing go, as they would have been refused. Not in a transaction, for the reason the up migration gives.
PRAGMA foreign_keys = OFF;
--bun:split
BEGIN IMMEDIATE;
DELETE FROM pages WHERE claimed_at IS NULL AND EXISTS (
    SELECT 1 FROM pages AS other WHERE other.page_id = pages.page_id AND other.channel_id <> pages.channel_id
       AND (other.claimed_at IS NOT NULL OR other.channel_id < pages.channel_id));

CREATE TABLE pages_old (
    page_id             TEXT PRIMARY KEY,
    channel_id          TEXT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    tenant_id           TEXT NOT NULL REFERENCES tenants (id),
    name                TEXT NOT NULL,
    token_key_id        TEXT NOT NULL,
    token_ciphertext    BLOB NOT NULL,
    token_fingerprint   TEXT NOT NULL,
    token_updated_at    TEXT NOT NULL,
    created_at          TEXT NOT NULL,
    status              TEXT NOT NULL DEFAULT 'connecting',
    status_reason       TEXT NOT NULL DEFAULT '',
    token_health        TEXT NOT NULL DEFAULT 'healthy',
    token_health_reason TEXT NOT NULL DEFAULT '',
    state_updated_at    TEXT,
    token_version_id    TEXT NOT NULL DEFAULT ''
) STRICT;
INSERT INTO pages_old SELECT page_id, channel_id, tenant_id, name, token_key_id, token_ciphertext, token_fingerprint,
        token_updated_at, created_at, status, status_reason, token_health, token_health_reason, state_updated_at,
        token_version_id
    FROM pages;
DROP TABLE pages;
ALTER TABLE pages_old RENAME TO pages;
CREATE INDEX pages_channel_idx ON pages (channel_id, page_id);
CREATE INDEX pages_channel_status_idx ON pages (channel_id, status);
CREATE INDEX pages_token_health_idx ON pages (token_health);

DROP INDEX channels_app_claim_key;
ALTER TABLE channels DROP COLUMN app_claimed_at;
-- The unique key on app_id alone comes back as an index: SQLite cannot add a table constraint.
CREATE UNIQUE INDEX channels_app_id_key ON channels (app_id);

COMMIT;
--bun:split
PRAGMA foreign_keys = ON;
