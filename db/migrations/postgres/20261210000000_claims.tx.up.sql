-- Ownership before claim (issue 13). A channel claims its Meta app, and a Page its Page ID, only once Meta has
-- confirmed that the channel's App Secret is the app's, or that the Page token is that Page's: the app ID and
-- the Page ID are public, so a claim on the ID alone would let any tenant lock out their owner (and tell it
-- that the ID is taken). The unique keys hold over claimed rows only; a row not claimed blocks no one.
ALTER TABLE channels DROP CONSTRAINT channels_app_id_key;
ALTER TABLE channels ADD COLUMN app_claimed_at timestamptz;
-- A channel that held its app before keeps it where there is evidence that its administrator owns the app: it
-- is active (or disabled after that), or a Page of it is subscribed to the app, which Meta allowed with a token
-- of that app. Any other channel proves its App Secret when its onboarding (re)starts.
UPDATE channels SET app_claimed_at = created_at
 WHERE status IN ('active', 'disabled')
    OR EXISTS (SELECT 1 FROM pages WHERE pages.channel_id = channels.id AND pages.status = 'subscribed');
CREATE UNIQUE INDEX channels_app_claim_key ON channels (app_id) WHERE app_claimed_at IS NOT NULL;

-- A Page row is one channel's: the same Page ID may be on the Pages of several channels until one claims it.
ALTER TABLE pages DROP CONSTRAINT pages_pkey;
ALTER TABLE pages ADD CONSTRAINT pages_pkey PRIMARY KEY (channel_id, page_id);
DROP INDEX pages_channel_idx; -- the primary key's index
ALTER TABLE pages ADD COLUMN claimed_at timestamptz;
-- A subscribed Page was subscribed with its own token (Meta refuses another Page's).
UPDATE pages SET claimed_at = COALESCE(state_updated_at, created_at) WHERE status = 'subscribed';
CREATE UNIQUE INDEX pages_claim_key ON pages (page_id) WHERE claimed_at IS NOT NULL;
