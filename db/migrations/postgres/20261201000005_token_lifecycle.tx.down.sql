DROP INDEX api_tokens_tenant_created_idx;
ALTER TABLE api_tokens
    DROP COLUMN last_used_at,
    DROP COLUMN revoked_at,
    DROP COLUMN expires_at;
