-- The audit log (issue 9), as in the Postgres migration. Append-only: no store method updates or deletes an
-- entry, and the triggers refuse UPDATE and DELETE. AUTOINCREMENT keeps IDs increasing, so that the newest-first
-- keyset lists never see an ID again.
CREATE TABLE audit_log (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id      TEXT NOT NULL, -- '' for a system entry
    channel_id     TEXT NOT NULL, -- '' when the entry concerns no channel
    actor_type     TEXT NOT NULL,
    actor_token_id TEXT NOT NULL,
    actor_role     TEXT NOT NULL,
    actor_command  TEXT NOT NULL,
    action         TEXT NOT NULL,
    target_type    TEXT NOT NULL,
    target_id      TEXT NOT NULL,
    details        TEXT NOT NULL, -- JSON: non-secret facts, for a secret its fingerprint only
    request_id     TEXT NOT NULL,
    at             TEXT NOT NULL
) STRICT;
CREATE INDEX audit_log_tenant_idx ON audit_log (tenant_id, id);
CREATE INDEX audit_log_channel_idx ON audit_log (tenant_id, channel_id, id) WHERE channel_id <> '';
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
