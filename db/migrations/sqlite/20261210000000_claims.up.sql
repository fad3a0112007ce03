-- Ownership before claim (issue 13), as in the Postgres migration: the unique keys on channels.app_id and
-- pages.page_id hold over claimed rows only. SQLite can neither drop a UNIQUE constraint nor change a primary
-- key, so both tables are made again, by SQLite's own procedure (https://sqlite.org/lang_altertable.html,
-- "Making Other Kinds Of Table Schema Changes"): with foreign keys off, so that dropping the old channels
-- cascades to nothing and the foreign keys of channel_secrets, pages and secret_versions, which name
-- "channels", name the new table once it is renamed. foreign_keys cannot change inside a transaction, so this
-- migration is not run in one; it opens its own, and the database has one connection.
PRAGMA foreign_keys = OFF;
--bun:split
BEGIN IMMEDIATE;

CREATE TABLE channels_new (
    id                      TEXT PRIMARY KEY,
    tenant_id               TEXT NOT NULL REFERENCES tenants (id),
    name                    TEXT NOT NULL,
    app_id                  TEXT NOT NULL,
    algorithm               TEXT NOT NULL,
    basic                   TEXT NOT NULL,
    robot                   TEXT NOT NULL,
    status                  TEXT NOT NULL,
    step                    TEXT NOT NULL DEFAULT '',
    error_code              TEXT NOT NULL DEFAULT '',
    verified_at             TEXT,
    activated_at            TEXT,
    onboarding_updated_at   TEXT,
    created_at              TEXT NOT NULL,
    updated_at              TEXT NOT NULL,
    rotation_status         TEXT NOT NULL DEFAULT '',
    rotation_started_at     TEXT,
    rotation_previous_until TEXT,
    rotation_pages_missing  INTEGER NOT NULL DEFAULT 0,
    rotation_reminded_at    TEXT,
    rotation_updated_at     TEXT,
    app_claimed_at          TEXT,
    CONSTRAINT channels_tenant_name_key UNIQUE (tenant_id, name)
) STRICT;
-- Every column by name: a column some other migration added and this list lacks fails here, loudly.
INSERT INTO channels_new (id, tenant_id, name, app_id, algorithm, basic, robot, status, step, error_code, verified_at,
        activated_at, onboarding_updated_at, created_at, updated_at, rotation_status, rotation_started_at,
        rotation_previous_until, rotation_pages_missing, rotation_reminded_at, rotation_updated_at, app_claimed_at)
    SELECT id, tenant_id, name, app_id, algorithm, basic, robot, status, step, error_code, verified_at,
        activated_at, onboarding_updated_at, created_at, updated_at, rotation_status, rotation_started_at,
        rotation_previous_until, rotation_pages_missing, rotation_reminded_at, rotation_updated_at,
        CASE WHEN status IN ('active', 'disabled') OR EXISTS (
            SELECT 1 FROM pages WHERE pages.channel_id = channels.id AND pages.status = 'subscribed')
        THEN created_at END
    FROM channels;
DROP TABLE channels;
ALTER TABLE channels_new RENAME TO channels;
CREATE INDEX channels_tenant_status_idx ON channels (tenant_id, status);
CREATE INDEX channels_rotation_idx ON channels (rotation_status, rotation_started_at) WHERE rotation_status <> '';
CREATE INDEX channels_tenant_id_idx ON channels (tenant_id, id);
CREATE UNIQUE INDEX channels_app_claim_key ON channels (app_id) WHERE app_claimed_at IS NOT NULL;

CREATE TABLE pages_new (
    page_id             TEXT NOT NULL,
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
    token_version_id    TEXT NOT NULL DEFAULT '',
    claimed_at          TEXT,
    PRIMARY KEY (channel_id, page_id)
) STRICT;
INSERT INTO pages_new (page_id, channel_id, tenant_id, name, token_key_id, token_ciphertext, token_fingerprint,
        token_updated_at, created_at, status, status_reason, token_health, token_health_reason, state_updated_at,
        token_version_id, claimed_at)
    SELECT page_id, channel_id, tenant_id, name, token_key_id, token_ciphertext, token_fingerprint,
        token_updated_at, created_at, status, status_reason, token_health, token_health_reason, state_updated_at,
        token_version_id, CASE WHEN status = 'subscribed' THEN COALESCE(state_updated_at, created_at) END
    FROM pages;
DROP TABLE pages;
ALTER TABLE pages_new RENAME TO pages;
CREATE INDEX pages_channel_status_idx ON pages (channel_id, status);
CREATE INDEX pages_token_health_idx ON pages (token_health);
CREATE UNIQUE INDEX pages_claim_key ON pages (page_id) WHERE claimed_at IS NOT NULL;

COMMIT;
--bun:split
PRAGMA foreign_keys = ON;
