-- The webhook inbox and the conversations read model (issue 5), as in the Postgres migration. payload is a
-- BLOB: the messaging item byte for byte as Meta sent it. AUTOINCREMENT keeps IDs increasing even after the
-- newest rows are deleted: the conversation workflows recognise redelivered events by inbox ID.
CREATE TABLE inbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id    TEXT NOT NULL,
    channel_id   TEXT NOT NULL,
    page_id      TEXT NOT NULL,
    psid         TEXT NOT NULL,
    kind         TEXT NOT NULL,
    mid          TEXT NOT NULL,
    watermark    INTEGER NOT NULL,
    ts           INTEGER NOT NULL, -- Meta's timestamp of the event, in ms
    -- An empty key would make every keyless event of a Page a duplicate of the first one.
    dedup_key    TEXT NOT NULL CONSTRAINT inbox_dedup_key_check CHECK (dedup_key <> ''),
    text         TEXT NOT NULL,
    payload      BLOB NOT NULL,
    received_at  TEXT NOT NULL,
    delivered_at TEXT,
    lease_owner  TEXT,
    lease_until  TEXT,
    CONSTRAINT inbox_page_dedup_key UNIQUE (page_id, dedup_key)
) STRICT;
CREATE INDEX inbox_undelivered_idx ON inbox (ts, id) WHERE delivered_at IS NULL;
CREATE INDEX inbox_conversation_idx ON inbox (channel_id, page_id, psid, ts, id);

CREATE TABLE conversations (
    id                       TEXT PRIMARY KEY,
    tenant_id                TEXT NOT NULL,
    channel_id               TEXT NOT NULL,
    page_id                  TEXT NOT NULL,
    psid                     TEXT NOT NULL,
    status                   TEXT NOT NULL,
    message_count            INTEGER NOT NULL,
    last_customer_message    TEXT NOT NULL,
    last_customer_message_at TEXT,
    last_agent_message       TEXT NOT NULL,
    last_agent_message_at    TEXT,
    started_at               TEXT NOT NULL,
    ended_at                 TEXT,
    updated_at               TEXT NOT NULL
) STRICT;
CREATE INDEX conversations_channel_updated_idx ON conversations (tenant_id, channel_id, updated_at DESC, id DESC);
