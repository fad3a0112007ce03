-- The same tables and columns as the Postgres schema. Times are TEXT: bun writes them in UTC as
-- 'YYYY-MM-DD HH:MM:SS.ffffff+00:00', which sorts and compares as time. JSON columns are TEXT. Tables are
-- STRICT, so a value of the wrong type fails as it would on Postgres.

CREATE TABLE tenants (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL CONSTRAINT tenants_name_key UNIQUE,
    created_at TEXT NOT NULL
) STRICT;

CREATE TABLE api_tokens (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT REFERENCES tenants (id),
    role       TEXT NOT NULL,
    name       TEXT NOT NULL,
    hash       BLOB NOT NULL CONSTRAINT api_tokens_hash_key UNIQUE,
    created_at TEXT NOT NULL
) STRICT;

CREATE TABLE ous (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    name       TEXT NOT NULL,
    parent_id  TEXT,
    created_at TEXT NOT NULL,
    CONSTRAINT ous_tenant_name_key UNIQUE (tenant_id, name)
) STRICT;
CREATE INDEX ous_tenant_created_idx ON ous (tenant_id, created_at, id);

CREATE TABLE skill_queues (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants (id),
    name             TEXT NOT NULL,
    access_code      TEXT NOT NULL,
    ou_id            TEXT NOT NULL,
    max_wait_seconds INTEGER NOT NULL,
    max_queued       INTEGER NOT NULL,
    wrap_up_seconds  INTEGER NOT NULL,
    created_at       TEXT NOT NULL,
    CONSTRAINT skill_queues_tenant_access_code_key UNIQUE (tenant_id, access_code)
) STRICT;
CREATE INDEX skill_queues_tenant_created_idx ON skill_queues (tenant_id, created_at, id);

CREATE TABLE service_calendars (
    id                      TEXT PRIMARY KEY,
    tenant_id               TEXT NOT NULL REFERENCES tenants (id),
    name                    TEXT NOT NULL,
    time_zone               TEXT NOT NULL,
    weekly_non_working_days TEXT NOT NULL,
    rest_dates              TEXT NOT NULL,
    make_up_work_dates      TEXT NOT NULL,
    created_at              TEXT NOT NULL,
    CONSTRAINT service_calendars_tenant_name_key UNIQUE (tenant_id, name)
) STRICT;
CREATE INDEX service_calendars_tenant_created_idx ON service_calendars (tenant_id, created_at, id);

CREATE TABLE channels (
    id                    TEXT PRIMARY KEY,
    tenant_id             TEXT NOT NULL REFERENCES tenants (id),
    name                  TEXT NOT NULL,
    app_id                TEXT NOT NULL,
    algorithm             TEXT NOT NULL,
    basic                 TEXT NOT NULL,
    robot                 TEXT NOT NULL,
    status                TEXT NOT NULL,
    step                  TEXT NOT NULL DEFAULT '',
    error_code            TEXT NOT NULL DEFAULT '',
    verified_at           TEXT,
    activated_at          TEXT,
    onboarding_updated_at TEXT,
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL,
    CONSTRAINT channels_tenant_name_key UNIQUE (tenant_id, name),
    -- One Meta app feeds one channel in the whole system, or its messages would arrive twice.
    CONSTRAINT channels_app_id_key UNIQUE (app_id)
) STRICT;
CREATE INDEX channels_tenant_status_idx ON channels (tenant_id, status);

CREATE TABLE channel_secrets (
    channel_id  TEXT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    key_id      TEXT NOT NULL,
    ciphertext  BLOB NOT NULL,
    fingerprint TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (channel_id, kind)
) STRICT;

-- page_id is the primary key: a Page belongs to at most one channel in the whole system.
CREATE TABLE pages (
    page_id           TEXT PRIMARY KEY,
    channel_id        TEXT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    tenant_id         TEXT NOT NULL REFERENCES tenants (id),
    name              TEXT NOT NULL,
    token_key_id      TEXT NOT NULL,
    token_ciphertext  BLOB NOT NULL,
    token_fingerprint TEXT NOT NULL,
    token_updated_at  TEXT NOT NULL,
    created_at        TEXT NOT NULL
) STRICT;
CREATE INDEX pages_channel_idx ON pages (channel_id, page_id);

CREATE TABLE system_certificates (
    id         TEXT PRIMARY KEY,
    subject    TEXT NOT NULL,
    issuer     TEXT NOT NULL,
    not_before TEXT NOT NULL,
    not_after  TEXT NOT NULL,
    sha256     TEXT NOT NULL CONSTRAINT system_certificates_sha256_key UNIQUE,
    pem        TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;
