-- Inbox delivery at Temporal's speed (issue 12).
--
-- The dispatcher leases conversations, not events: inbox_leases holds one row per conversation a dispatcher is
-- delivering, so that in any number of processes one conversation's events are signalled by one dispatcher at a
-- time, in order. until_ms is on the database's clock (ms since the epoch), never a process's.
CREATE TABLE inbox_leases (
    channel_id text NOT NULL,
    page_id    text NOT NULL,
    psid       text NOT NULL,
    tenant_id  text NOT NULL,
    owner      text NOT NULL,
    until_ms   bigint NOT NULL,
    PRIMARY KEY (channel_id, page_id, psid)
);

-- Events are no longer leased one by one. A delivery that fails counts an attempt and keeps its error; after
-- the last attempt (or at once, when the event can never be delivered) the event is a dead letter.
ALTER TABLE inbox
    DROP COLUMN lease_owner,
    DROP COLUMN lease_until,
    ADD COLUMN attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN last_error text NOT NULL DEFAULT '',
    ADD COLUMN dead_at timestamptz;

-- The dispatcher's queue: pending events by tenant in arrival order (inbox ID, never Meta's timestamp).
DROP INDEX inbox_undelivered_idx;
CREATE INDEX inbox_pending_idx ON inbox (tenant_id, id) WHERE delivered_at IS NULL AND dead_at IS NULL;
CREATE INDEX inbox_dead_idx ON inbox (tenant_id, id) WHERE dead_at IS NOT NULL;
