-- The system's own keys, sealed under the master key like every secret (issue 9), as in the Postgres
-- migration. The first is the fingerprint key, stored so that fingerprints stay the same when the master key
-- rotates.
CREATE TABLE system_keys (
    name       TEXT PRIMARY KEY,
    key_id     TEXT NOT NULL,
    ciphertext BLOB NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;
