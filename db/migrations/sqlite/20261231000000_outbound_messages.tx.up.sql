-- Outbound messages (issue 14), as in the Postgres migration: one row per message the service sends through
-- the Send API, keyed by the outbound ID the conversation's workflow chose, written "sending" before the call
-- and finished after it, so that a retry never sends a second copy.
CREATE TABLE outbound_messages (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    channel_id      TEXT NOT NULL,
    page_id         TEXT NOT NULL,
    psid            TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    purpose         TEXT NOT NULL,
    status          TEXT NOT NULL
        CONSTRAINT outbound_messages_status_check CHECK (status IN ('sending', 'sent', 'ambiguous', 'failed')),
    mid             TEXT NOT NULL DEFAULT '',
    error           TEXT NOT NULL DEFAULT '',
    attempts        INTEGER NOT NULL DEFAULT 1,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
) STRICT;
CREATE INDEX outbound_messages_conversation_idx ON outbound_messages (tenant_id, conversation_id, created_at, id);
