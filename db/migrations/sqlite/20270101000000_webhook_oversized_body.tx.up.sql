-- As in the Postgres migration: the reject kind oversized_body. SQLite changes a CHECK only by building the
-- table anew.
CREATE TABLE webhook_rejects_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   TEXT NOT NULL,
    channel_id  TEXT NOT NULL,
    kind        TEXT NOT NULL CONSTRAINT webhook_rejects_kind_check CHECK (kind IN ('malformed_item', 'unstorable_body', 'oversized_body')),
    location    TEXT NOT NULL,
    reason      TEXT NOT NULL,
    payload     BLOB NOT NULL,
    received_at TEXT NOT NULL
) STRICT;
INSERT INTO webhook_rejects_new (id, tenant_id, channel_id, kind, location, reason, payload, received_at)
SELECT id, tenant_id, channel_id, kind, location, reason, payload, received_at FROM webhook_rejects;
-- The IDs go on from where they were, purged rows included (see the table's first migration).
DELETE FROM sqlite_sequence WHERE name = 'webhook_rejects_new';
INSERT INTO sqlite_sequence (name, seq) SELECT 'webhook_rejects_new', seq FROM sqlite_sequence WHERE name = 'webhook_rejects';
DROP TABLE webhook_rejects;
ALTER TABLE webhook_rejects_new RENAME TO webhook_rejects;
CREATE INDEX webhook_rejects_tenant_idx ON webhook_rejects (tenant_id, id);
CREATE INDEX webhook_rejects_channel_idx ON webhook_rejects (tenant_id, channel_id, id);
CREATE INDEX webhook_rejects_received_idx ON webhook_rejects (received_at);
