-- Partial batches (issue 13): the parts of Meta's webhook POSTs kept aside instead of the inbox, for operators.
--
-- A malformed item (not an object of an item's shape, of an entry without an id, or an entry that is not an
-- entry) is kept here, in the transaction that stores the POST's other events, and Meta gets its 200; so is a
-- whole body whose events the database refuses whatever the retry (an unstorable body), so that Meta stops
-- sending it again. payload is the item or the body byte for byte, as in the inbox. No foreign keys, as in the
-- inbox: the rejects of a deleted channel stay as a record of what Meta sent. They are deleted after the dead
-- letters' retention (AICC_DEAD_LETTER_RETENTION), by the inbox purge.
CREATE TABLE webhook_rejects (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   text NOT NULL,
    channel_id  text NOT NULL,
    kind        text NOT NULL CONSTRAINT webhook_rejects_kind_check CHECK (kind IN ('malformed_item', 'unstorable_body')),
    location    text NOT NULL, -- where the item was in the body, e.g. entry[0].messaging[2]; '' for a body
    reason      text NOT NULL,
    payload     bytea NOT NULL,
    received_at timestamptz NOT NULL
);
-- The tenant's list, the latest first, of all its channels or of one.
CREATE INDEX webhook_rejects_tenant_idx ON webhook_rejects (tenant_id, id);
CREATE INDEX webhook_rejects_channel_idx ON webhook_rejects (tenant_id, channel_id, id);
-- The purge reads only what it deletes.
CREATE INDEX webhook_rejects_received_idx ON webhook_rejects (received_at);
