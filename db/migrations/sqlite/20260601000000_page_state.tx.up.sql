-- A Page's connection status and the health of its token (issue 4), as in the Postgres migration. Pages
-- connected before this migration start as connecting with a healthy token, as a new Page does.
ALTER TABLE pages ADD COLUMN status              TEXT NOT NULL DEFAULT 'connecting';
ALTER TABLE pages ADD COLUMN status_reason       TEXT NOT NULL DEFAULT '';
ALTER TABLE pages ADD COLUMN token_health        TEXT NOT NULL DEFAULT 'healthy';
ALTER TABLE pages ADD COLUMN token_health_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE pages ADD COLUMN state_updated_at    TEXT;
CREATE INDEX pages_channel_status_idx ON pages (channel_id, status);
CREATE INDEX pages_token_health_idx ON pages (token_health);
