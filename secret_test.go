package aicc_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc"
)

func newKey(b byte) []byte { return bytes.Repeat([]byte{b}, aicc.MasterKeySize) }

func TestKeyringSealOpen(t *testing.T) {
	k, err := aicc.NewKeyring(newKey(1))
	require.NoError(t, err)
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	owner := aicc.ChannelSecretOwner("ch_1", aicc.SecretAppSecret)

	sealed := k.Seal("CANARY-secret", owner, now)
	require.Equal(t, aicc.KeyID(newKey(1)), sealed.KeyID)
	require.NotContains(t, string(sealed.Ciphertext), "CANARY")
	require.Len(t, sealed.Fingerprint, 16)
	require.Equal(t, aicc.SecretInfo{Set: true, Fingerprint: sealed.Fingerprint, UpdatedAt: now}, sealed.Info())

	got, err := k.Open(sealed, owner)
	require.NoError(t, err)
	require.Equal(t, "CANARY-secret", got)

	again := k.Seal("CANARY-secret", owner, now)
	require.NotEqual(t, sealed.Ciphertext, again.Ciphertext, "every seal uses a fresh nonce")
	require.Equal(t, sealed.Fingerprint, again.Fingerprint, "the fingerprint identifies the value")
}

func TestKeyringRejectsMovedOrTamperedSecrets(t *testing.T) {
	k, err := aicc.NewKeyring(newKey(1))
	require.NoError(t, err)
	sealed := k.Seal("CANARY-secret", aicc.PageTokenOwner("111"), time.Now())

	_, err = k.Open(sealed, aicc.PageTokenOwner("222"))
	require.Error(t, err, "a value copied to another owner must not open")
	require.NotContains(t, err.Error(), "CANARY")

	sealed.Ciphertext[len(sealed.Ciphertext)-1] ^= 1
	_, err = k.Open(sealed, aicc.PageTokenOwner("111"))
	require.Error(t, err)
}

func TestKeyringRotation(t *testing.T) {
	old, err := aicc.NewKeyring(newKey(1))
	require.NoError(t, err)
	sealed := old.Seal("value", "owner", time.Now())

	rotated, err := aicc.NewKeyring(newKey(2), newKey(1))
	require.NoError(t, err)
	got, err := rotated.Open(sealed, "owner")
	require.NoError(t, err)
	require.Equal(t, "value", got)
	require.Equal(t, aicc.KeyID(newKey(2)), rotated.Seal("value", "owner", time.Now()).KeyID)

	fresh, err := aicc.NewKeyring(newKey(3))
	require.NoError(t, err)
	_, err = fresh.Open(sealed, "owner")
	require.ErrorContains(t, err, "unknown master key")
}

func TestNewKeyringChecksKeys(t *testing.T) {
	_, err := aicc.NewKeyring()
	require.Error(t, err)
	_, err = aicc.NewKeyring([]byte("short"))
	require.ErrorContains(t, err, "want 32")
	_, err = aicc.NewKeyring(newKey(1), newKey(1))
	require.ErrorContains(t, err, "twice")
}

func TestKeyringReseal(t *testing.T) {
	old, err := aicc.NewKeyring(newKey(1))
	require.NoError(t, err)
	rotated, err := aicc.NewKeyring(newKey(2), newKey(1))
	require.NoError(t, err)
	require.Equal(t, []string{aicc.KeyID(newKey(2)), aicc.KeyID(newKey(1))}, rotated.KeyIDs())
	onlyNew, err := aicc.NewKeyring(newKey(2))
	require.NoError(t, err)
	owner := aicc.PageTokenOwner("111")
	sealed := old.Seal("CANARY-token", owner, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))

	got, err := rotated.Reseal(sealed, owner)
	require.NoError(t, err)
	require.Equal(t, aicc.KeyID(newKey(2)), got.KeyID)
	require.Equal(t, sealed.Fingerprint, got.Fingerprint, "the fingerprint stays")
	require.Equal(t, sealed.UpdatedAt, got.UpdatedAt, "the value did not change")
	value, err := onlyNew.Open(got, owner)
	require.NoError(t, err)
	require.Equal(t, "CANARY-token", value)

	same, err := rotated.Reseal(got, owner)
	require.NoError(t, err)
	require.Equal(t, got, same, "a secret under the current key is left as it is")

	_, err = rotated.Reseal(sealed, aicc.PageTokenOwner("222"))
	require.Error(t, err, "the owner is checked")
	require.NotContains(t, err.Error(), "CANARY")
	_, err = onlyNew.Reseal(sealed, owner)
	require.ErrorContains(t, err, "unknown master key")
	require.NotContains(t, err.Error(), "CANARY")
}

// TestFingerprintKeySurvivesRotation: the fingerprint key stored under key 1 (derived from it) is re-sealed
// under key 2, and a keyring holding key 2 alone makes the fingerprints key 1 made.
func TestFingerprintKeySurvivesRotation(t *testing.T) {
	old, err := aicc.NewKeyring(newKey(1))
	require.NoError(t, err)
	stored, err := old.SealFingerprintKey(aicc.KeyID(newKey(1)), time.Now())
	require.NoError(t, err)
	require.Empty(t, stored.Fingerprint)
	withStored, err := old.WithFingerprintKey(stored)
	require.NoError(t, err)
	require.Equal(t, old.Fingerprint("CANARY"), withStored.Fingerprint("CANARY"),
		"the stored key is the one the keyring derived, so fingerprints made before it was stored stay valid")

	rotated, err := aicc.NewKeyring(newKey(2), newKey(1))
	require.NoError(t, err)
	require.NotEqual(t, old.Fingerprint("CANARY"), rotated.Fingerprint("CANARY"), "without the stored key")
	resealed, err := rotated.Reseal(stored, aicc.FingerprintKeyOwner)
	require.NoError(t, err)
	onlyNew, err := aicc.NewKeyring(newKey(2))
	require.NoError(t, err)
	onlyNew, err = onlyNew.WithFingerprintKey(resealed)
	require.NoError(t, err)
	require.Equal(t, old.Fingerprint("CANARY"), onlyNew.Fingerprint("CANARY"))
	require.Equal(t, old.Seal("CANARY", "o", time.Now()).Fingerprint, onlyNew.Seal("CANARY", "o", time.Now()).Fingerprint)

	// Derived from the previous key: what the first start stores when most secrets are sealed under it.
	fromOld, err := rotated.SealFingerprintKey(aicc.KeyID(newKey(1)), time.Now())
	require.NoError(t, err)
	require.Equal(t, aicc.KeyID(newKey(2)), fromOld.KeyID, "sealed under the current key")
	fromOldKR, err := rotated.WithFingerprintKey(fromOld)
	require.NoError(t, err)
	require.Equal(t, old.Fingerprint("CANARY"), fromOldKR.Fingerprint("CANARY"))

	_, err = rotated.SealFingerprintKey("00000000", time.Now())
	require.ErrorContains(t, err, "unknown master key")
	_, err = onlyNew.WithFingerprintKey(stored)
	require.ErrorContains(t, err, "unknown master key", "sealed under key 1, which this keyring lacks")
	_, err = old.WithFingerprintKey(old.Seal("short", aicc.FingerprintKeyOwner, time.Now()))
	require.ErrorContains(t, err, "want 32")
}

func TestAPIToken(t *testing.T) {
	secret, tok := aicc.NewAPIToken("ten_1", aicc.RoleTenantAdmin, "ci", time.Now())
	require.True(t, len(secret) > 40)
	require.Equal(t, aicc.HashToken(secret), tok.Hash)
	other, _ := aicc.NewAPIToken("ten_1", aicc.RoleTenantAdmin, "ci", time.Now())
	require.NotEqual(t, secret, other)
}
