-- Token lifecycle (issue 13), as in the Postgres migration.
ALTER TABLE api_tokens ADD COLUMN expires_at TEXT;
ALTER TABLE api_tokens ADD COLUMN revoked_at TEXT;
ALTER TABLE api_tokens ADD COLUMN last_used_at TEXT;

CREATE INDEX api_tokens_tenant_created_idx ON api_tokens (tenant_id, created_at, id);
