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
}

func TestAPIToken(t *testing.T) {
	secret, tok := aicc.NewAPIToken("ten_1", aicc.RoleTenantAdmin, "ci", time.Now())
	require.True(t, len(secret) > 40)
	require.Equal(t, aicc.HashToken(secret), tok.Hash)
	other, _ := aicc.NewAPIToken("ten_1", aicc.RoleTenantAdmin, "ci", time.Now())
	require.NotEqual(t, secret, other)
}
