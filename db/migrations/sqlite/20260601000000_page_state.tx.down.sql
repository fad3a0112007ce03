DROP INDEX pages_token_health_idx;
DROP INDEX pages_channel_status_idx;
ALTER TABLE pages DROP COLUMN state_updated_at;
ALTER TABLE pages DROP COLUMN token_health_reason;
ALTER TABLE pages DROP COLUMN token_health;
ALTER TABLE pages DROP COLUMN status_reason;
ALTER TABLE pages DROP COLUMN status;
