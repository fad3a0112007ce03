-- Secret rotation, as in the Postgres migration: a channel's app secret changes with an overlap window in
-- which the previous one stays accepted, then each Page gets a new token.
--
-- secret_versions holds each new value, sealed by the API, until the channel's rotation workflow puts it in
-- use and removes it. page_id is the Page of a token, '' for an app secret.
CREATE TABLE secret_versions (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    channel_id  TEXT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    page_id     TEXT NOT NULL DEFAULT '',
    key_id      TEXT NOT NULL,
    ciphertext  BLOB NOT NULL,
    fingerprint TEXT NOT NULL,
    created_at  TEXT NOT NULL
) STRICT;
CREATE INDEX secret_versions_channel_idx ON secret_versions (channel_id);

-- The version a secret or token came from, so that putting a version in use twice changes nothing. expires_at
-- is when the previous_app_secret stops being accepted; NULL on every other secret.
ALTER TABLE channel_secrets ADD COLUMN version_id TEXT NOT NULL DEFAULT '';
ALTER TABLE channel_secrets ADD COLUMN expires_at TEXT;
ALTER TABLE pages ADD COLUMN token_version_id TEXT NOT NULL DEFAULT '';

-- The channel's latest rotation, as its workflow records it. '' is a channel whose app secret never changed.
ALTER TABLE channels ADD COLUMN rotation_status         TEXT NOT NULL DEFAULT '';
ALTER TABLE channels ADD COLUMN rotation_started_at     TEXT;
ALTER TABLE channels ADD COLUMN rotation_previous_until TEXT;
ALTER TABLE channels ADD COLUMN rotation_pages_missing  INTEGER NOT NULL DEFAULT 0;
ALTER TABLE channels ADD COLUMN rotation_reminded_at    TEXT;
ALTER TABLE channels ADD COLUMN rotation_updated_at     TEXT;
-- The rotation metrics, over the channels that rotated.
CREATE INDEX channels_rotation_idx ON channels (rotation_status, rotation_started_at) WHERE rotation_status <> '';
