-- Token lifecycle (issue 13): an optional expiry, revocation and the last use of each API token.
--
-- A revoked token keeps its row (revoked_at set) so that the token list and the audit log can still name it;
-- lookups by hash refuse revoked and expired tokens. last_used_at is written at most once a minute per token
-- (aicc.TokenTouchInterval), never on every request.
ALTER TABLE api_tokens
    ADD COLUMN expires_at timestamptz,
    ADD COLUMN revoked_at timestamptz,
    ADD COLUMN last_used_at timestamptz;

-- A tenant's token list, in creation order. The sysadmin's list of every token sorts the whole table, which
-- stays small: people and scripts hold tokens, not events.
CREATE INDEX api_tokens_tenant_created_idx ON api_tokens (tenant_id, created_at, id);
