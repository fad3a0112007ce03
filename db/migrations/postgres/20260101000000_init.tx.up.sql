CREATE TABLE tenants (
    id         text PRIMARY KEY,
    name       text NOT NULL CONSTRAINT tenants_name_key UNIQUE,
    created_at timestamptz NOT NULL
);

CREATE TABLE api_tokens (
    id         text PRIMARY KEY,
    tenant_id  text REFERENCES tenants (id),
    role       text NOT NULL,
    name       text NOT NULL,
    hash       bytea NOT NULL CONSTRAINT api_tokens_hash_key UNIQUE,
    created_at timestamptz NOT NULL
);

CREATE TABLE ous (
    id         text PRIMARY KEY,
    tenant_id  text NOT NULL REFERENCES tenants (id),
    name       text NOT NULL,
    parent_id  text,
    created_at timestamptz NOT NULL,
    CONSTRAINT ous_tenant_name_key UNIQUE (tenant_id, name)
);
CREATE INDEX ous_tenant_created_idx ON ous (tenant_id, created_at, id);

CREATE TABLE skill_queues (
    id               text PRIMARY KEY,
    tenant_id        text NOT NULL REFERENCES tenants (id),
    name             text NOT NULL,
    access_code      text NOT NULL,
    ou_id            text NOT NULL,
    max_wait_seconds integer NOT NULL,
    max_queued       integer NOT NULL,
    wrap_up_seconds  integer NOT NULL,
    created_at       timestamptz NOT NULL,
    CONSTRAINT skill_queues_tenant_access_code_key UNIQUE (tenant_id, access_code)
);
CREATE INDEX skill_queues_tenant_created_idx ON skill_queues (tenant_id, created_at, id);

CREATE TABLE service_calendars (
    id                      text PRIMARY KEY,
    tenant_id               text NOT NULL REFERENCES tenants (id),
    name                    text NOT NULL,
    time_zone               text NOT NULL,
    weekly_non_working_days jsonb NOT NULL,
    rest_dates              jsonb NOT NULL,
    make_up_work_dates      jsonb NOT NULL,
    created_at              timestamptz NOT NULL,
    CONSTRAINT service_calendars_tenant_name_key UNIQUE (tenant_id, name)
);
CREATE INDEX service_calendars_tenant_created_idx ON service_calendars (tenant_id, created_at, id);

CREATE TABLE channels (
    id                    text PRIMARY KEY,
    tenant_id             text NOT NULL REFERENCES tenants (id),
    name                  text NOT NULL,
    app_id                text NOT NULL,
    algorithm             text NOT NULL,
    basic                 jsonb NOT NULL,
    robot                 jsonb NOT NULL,
    status                text NOT NULL,
    step                  text NOT NULL DEFAULT '',
    error_code            text NOT NULL DEFAULT '',
    verified_at           timestamptz,
    activated_at          timestamptz,
    onboarding_updated_at timestamptz,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    CONSTRAINT channels_tenant_name_key UNIQUE (tenant_id, name),
    -- One Meta app feeds one channel in the whole system, or its messages would arrive twice.
    CONSTRAINT channels_app_id_key UNIQUE (app_id)
);
CREATE INDEX channels_tenant_status_idx ON channels (tenant_id, status);

CREATE TABLE channel_secrets (
    channel_id  text NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    kind        text NOT NULL,
    key_id      text NOT NULL,
    ciphertext  bytea NOT NULL,
    fingerprint text NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (channel_id, kind)
);

-- page_id is the primary key: a Page belongs to at most one channel in the whole system.
CREATE TABLE pages (
    page_id           text PRIMARY KEY,
    channel_id        text NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    tenant_id         text NOT NULL REFERENCES tenants (id),
    name              text NOT NULL,
    token_key_id      text NOT NULL,
    token_ciphertext  bytea NOT NULL,
    token_fingerprint text NOT NULL,
    token_updated_at  timestamptz NOT NULL,
    created_at        timestamptz NOT NULL
);
CREATE INDEX pages_channel_idx ON pages (channel_id, page_id);

CREATE TABLE system_certificates (
    id         text PRIMARY KEY,
    subject    text NOT NULL,
    issuer     text NOT NULL,
    not_before timestamptz NOT NULL,
    not_after  timestamptz NOT NULL,
    sha256     text NOT NULL CONSTRAINT system_certificates_sha256_key UNIQUE,
    pem        text NOT NULL,
    created_at timestamptz NOT NULL
);
