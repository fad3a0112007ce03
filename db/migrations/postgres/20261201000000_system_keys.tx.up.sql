-- The system's own keys, sealed under the master key like every secret (issue 9). The first is the
-- fingerprint key, stored so that fingerprints stay the same when the master key rotates.
CREATE TABLE system_keys (
    name       text PRIMARY KEY,
    key_id     text NOT NULL,
    ciphertext bytea NOT NULL,
    updated_at timestamptz NOT NULL
);
