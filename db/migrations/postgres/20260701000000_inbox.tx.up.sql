-- The webhook inbox and the conversations read model (issue 5).
--
-- inbox keeps every event of Meta's webhook POSTs, stored before Meta gets its 200 and kept after delivery.
-- payload is bytea, not jsonb: it is the messaging item byte for byte as Meta sent it (jsonb would reorder its
-- keys and drop its whitespace). There are no foreign keys: an insert on the hot path checks no other table,
-- and the events of a deleted channel stay as a record of what Meta sent.
CREATE TABLE inbox (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id    text NOT NULL,
    channel_id   text NOT NULL,
    page_id      text NOT NULL,
    psid         text NOT NULL,
    kind         text NOT NULL,
    mid          text NOT NULL,
    watermark    bigint NOT NULL,
    ts           bigint NOT NULL, -- Meta's timestamp of the event, in ms
    -- An empty key would make every keyless event of a Page a duplicate of the first one.
    dedup_key    text NOT NULL CONSTRAINT inbox_dedup_key_check CHECK (dedup_key <> ''),
    text         text NOT NULL,
    payload      bytea NOT NULL,
    received_at  timestamptz NOT NULL,
    delivered_at timestamptz,
    lease_owner  text,
    lease_until  timestamptz,
    CONSTRAINT inbox_page_dedup_key UNIQUE (page_id, dedup_key)
);
-- The dispatcher's queue: only undelivered rows, in the order it claims them.
CREATE INDEX inbox_undelivered_idx ON inbox (ts, id) WHERE delivered_at IS NULL;
CREATE INDEX inbox_conversation_idx ON inbox (channel_id, page_id, psid, ts, id);

-- conversations is written by the conversation workflows; no foreign keys, so that a workflow's last write
-- after its channel is deleted does not fail.
CREATE TABLE conversations (
    id                       text PRIMARY KEY,
    tenant_id                text NOT NULL,
    channel_id               text NOT NULL,
    page_id                  text NOT NULL,
    psid                     text NOT NULL,
    status                   text NOT NULL,
    message_count            integer NOT NULL,
    last_customer_message    text NOT NULL,
    last_customer_message_at timestamptz,
    last_agent_message       text NOT NULL,
    last_agent_message_at    timestamptz,
    started_at               timestamptz NOT NULL,
    ended_at                 timestamptz,
    updated_at               timestamptz NOT NULL
);
CREATE INDEX conversations_channel_updated_idx ON conversations (tenant_id, channel_id, updated_at DESC, id DESC);
