-- Partial batches (issue 13), as in the Postgres migration: the parts of Meta's webhook POSTs kept aside
-- instead of the inbox. AUTOINCREMENT keeps IDs increasing after the newest rows are purged, so that a page of
-- the list, which goes by ID, never shows a new row among older ones.
CREATE TABLE webhook_rejects (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   TEXT NOT NULL,
    channel_id  TEXT NOT NULL,
    kind        TEXT NOT NULL CONSTRAINT webhook_rejects_kind_check CHECK (kind IN ('malformed_item', 'unstorable_body')),
    location    TEXT NOT NULL,
    reason      TEXT NOT NULL,
    payload     BLOB NOT NULL,
    received_at TEXT NOT NULL
) STRICT;
CREATE INDEX webhook_rejects_tenant_idx ON webhook_rejects (tenant_id, id);
CREATE INDEX webhook_rejects_channel_idx ON webhook_rejects (tenant_id, channel_id, id);
CREATE INDEX webhook_rejects_received_idx ON webhook_rejects (received_at);
