-- Outbound messages (issue 14): one row per message the service sends through the Send API, keyed by the
-- outbound ID the conversation's workflow chose ("<conversationID>/<seq>"). The row is written "sending"
-- before the call and finished after it ("sent" with Meta's message ID, "failed" when Meta did not take the
-- message, "ambiguous" when an attempt ended without knowing), so that a retry never sends a second copy.
-- The text is not kept here: only what the message was and how its sending went. No foreign keys, as in the
-- inbox: the record of what was sent outlives a deleted channel.
CREATE TABLE outbound_messages (
    id              text PRIMARY KEY,
    tenant_id       text NOT NULL,
    channel_id      text NOT NULL,
    page_id         text NOT NULL,
    psid            text NOT NULL,
    conversation_id text NOT NULL,
    purpose         text NOT NULL,
    status          text NOT NULL
        CONSTRAINT outbound_messages_status_check CHECK (status IN ('sending', 'sent', 'ambiguous', 'failed')),
    mid             text NOT NULL DEFAULT '',
    error           text NOT NULL DEFAULT '', -- the code and message of the last failed or ambiguous attempt
    attempts        integer NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
-- A conversation's messages, in the order they were sent, of the tenant.
CREATE INDEX outbound_messages_conversation_idx ON outbound_messages (tenant_id, conversation_id, created_at, id);
