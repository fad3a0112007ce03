-- The audit log (issue 9): who changed what, when. Append-only: no store method updates or deletes an entry,
-- and the trigger below refuses UPDATE, DELETE and TRUNCATE, so that not even a bug can rewrite history.
--
-- tenant_id is '' for a system entry (certificates, tenants, API tokens). channel_id is '' when the entry
-- concerns no channel. details holds non-secret facts only: IDs, names, changed field names, and for a secret
-- its fingerprint, never its value. There are no foreign keys: a deleted channel keeps its record.
CREATE TABLE audit_log (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id      text NOT NULL,
    channel_id     text NOT NULL,
    actor_type     text NOT NULL,
    actor_token_id text NOT NULL,
    actor_role     text NOT NULL,
    actor_command  text NOT NULL,
    action         text NOT NULL,
    target_type    text NOT NULL,
    target_id      text NOT NULL,
    details        jsonb NOT NULL,
    request_id     text NOT NULL,
    at             timestamptz NOT NULL
);
-- The tenant's list and the system's (tenant_id = ''), newest first by id.
CREATE INDEX audit_log_tenant_idx ON audit_log (tenant_id, id);
-- A channel's list.
CREATE INDEX audit_log_channel_idx ON audit_log (tenant_id, channel_id, id) WHERE channel_id <> '';

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
