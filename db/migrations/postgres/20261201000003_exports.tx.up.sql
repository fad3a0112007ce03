-- Channel configuration exports (issue 10): one row per export task, with the progress its workflow records
-- and, once it succeeded, its files.
--
-- selection is the JSON of the aicc.ExportSelection, files a JSON array of aicc.ExportFile in order, and
-- created_by the JSON of the audit actor who asked for the export ({type, tokenId, role, command}).
-- expires_at is when a successful export's files are deleted.
CREATE TABLE exports (
    id           text PRIMARY KEY,
    tenant_id    text NOT NULL REFERENCES tenants (id),
    selection    jsonb NOT NULL,
    format       text NOT NULL,
    status       text NOT NULL,
    error_code   text NOT NULL DEFAULT '',
    total        integer NOT NULL DEFAULT 0,
    records_done integer NOT NULL DEFAULT 0,
    files_done   integer NOT NULL DEFAULT 0,
    files        jsonb NOT NULL DEFAULT '[]',
    created_by   jsonb NOT NULL,
    created_at   timestamptz NOT NULL,
    started_at   timestamptz,
    finished_at  timestamptz,
    expires_at   timestamptz,
    updated_at   timestamptz NOT NULL
);
-- The tenant's list, newest first.
CREATE INDEX exports_tenant_created_idx ON exports (tenant_id, created_at DESC, id DESC);
-- The worker's resumer and the expiry sweep: the exports in a status since before a time.
CREATE INDEX exports_status_idx ON exports (status, updated_at);

-- The export reads a tenant's channels in ID order, a batch after the last ID: a range of this index.
CREATE INDEX channels_tenant_id_idx ON channels (tenant_id, id);
