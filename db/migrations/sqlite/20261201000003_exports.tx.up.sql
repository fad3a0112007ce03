-- Channel configuration exports (issue 10), as in the Postgres migration: one row per export task, with the
-- progress its workflow records and, once it succeeded, its files.
CREATE TABLE exports (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants (id),
    selection    TEXT NOT NULL, -- JSON: the aicc.ExportSelection
    format       TEXT NOT NULL,
    status       TEXT NOT NULL,
    error_code   TEXT NOT NULL DEFAULT '',
    total        INTEGER NOT NULL DEFAULT 0,
    records_done INTEGER NOT NULL DEFAULT 0,
    files_done   INTEGER NOT NULL DEFAULT 0,
    files        TEXT NOT NULL DEFAULT '[]', -- JSON: the aicc.ExportFile array, in order
    created_by   TEXT NOT NULL, -- JSON: the audit actor, {type, tokenId, role, command}
    created_at   TEXT NOT NULL,
    started_at   TEXT,
    finished_at  TEXT,
    expires_at   TEXT,
    updated_at   TEXT NOT NULL
) STRICT;
CREATE INDEX exports_tenant_created_idx ON exports (tenant_id, created_at DESC, id DESC);
CREATE INDEX exports_status_idx ON exports (status, updated_at);
CREATE INDEX channels_tenant_id_idx ON channels (tenant_id, id);
