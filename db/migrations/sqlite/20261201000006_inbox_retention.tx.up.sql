-- Inbox retention (issue 13), as in the Postgres migration: the delivered events by delivery time, so that a
-- purge reads only what it deletes.
CREATE INDEX inbox_delivered_idx ON inbox (delivered_at) WHERE delivered_at IS NOT NULL;
