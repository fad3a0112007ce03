-- Back to one row per Page ID and one channel per app ID: the rows that claim nothing go, as they would have
-- been refused.
DELETE FROM pages WHERE claimed_at IS NULL AND EXISTS (
    SELECT 1 FROM pages AS other WHERE other.page_id = pages.page_id AND other.channel_id <> pages.channel_id
       AND (other.claimed_at IS NOT NULL OR other.channel_id < pages.channel_id));
DROP INDEX pages_claim_key;
ALTER TABLE pages DROP COLUMN claimed_at;
ALTER TABLE pages DROP CONSTRAINT pages_pkey;
ALTER TABLE pages ADD CONSTRAINT pages_pkey PRIMARY KEY (page_id);
CREATE INDEX pages_channel_idx ON pages (channel_id, page_id);
DROP INDEX channels_app_claim_key;
ALTER TABLE channels DROP COLUMN app_claimed_at;
ALTER TABLE channels ADD CONSTRAINT channels_app_id_key UNIQUE (app_id);
