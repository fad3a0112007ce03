-- A Page's connection status and the health of its token (issue 4). Pages connected before this migration
-- start as connecting with a healthy token, as a new Page does.
ALTER TABLE pages ADD COLUMN status              text NOT NULL DEFAULT 'connecting';
ALTER TABLE pages ADD COLUMN status_reason       text NOT NULL DEFAULT '';
ALTER TABLE pages ADD COLUMN token_health        text NOT NULL DEFAULT 'healthy';
ALTER TABLE pages ADD COLUMN token_health_reason text NOT NULL DEFAULT '';
ALTER TABLE pages ADD COLUMN state_updated_at    timestamptz;
CREATE INDEX pages_channel_status_idx ON pages (channel_id, status);
CREATE INDEX pages_token_health_idx ON pages (token_health);
