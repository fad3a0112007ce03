package db_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/db"
	"github.com/aiccfb/aicc/db/dbtest"
	"github.com/stretchr/testify/require"
)

func TestSystemKeys(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		_, err := s.SystemKey(ctx, aicc.SecretFingerprintKey)
		requireCode(t, err, aicc.ENOTFOUND)

		first, err := keyring.SealFingerprintKey(keyring.KeyIDs()[0], now)
		require.NoError(t, err)
		got, err := s.AddSystemKey(ctx, aicc.SecretFingerprintKey, first)
		require.NoError(t, err)
		require.Equal(t, aicc.SealedSecret{KeyID: first.KeyID, Ciphertext: first.Ciphertext, UpdatedAt: now.Truncate(1000)}, got)

		second, err := keyring.SealFingerprintKey(keyring.KeyIDs()[0], now)
		require.NoError(t, err)
		again, err := s.AddSystemKey(ctx, aicc.SecretFingerprintKey, second)
		require.NoError(t, err)
		require.Equal(t, got, again, "the key stored first stays")
		stored, err := s.SystemKey(ctx, aicc.SecretFingerprintKey)
		require.NoError(t, err)
		require.Equal(t, got, stored)
	})
}

// TestResealSecrets moves every kind of secret from key A (keyring) to key B in small batches and checks
// that only the key ID and ciphertext change, and that B alone opens everything afterwards.
func TestResealSecrets(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		keyA, keyB := make([]byte, aicc.MasterKeySize), bytes.Repeat([]byte{0x42}, aicc.MasterKeySize)
		idA, idB := aicc.KeyID(keyA), aicc.KeyID(keyB)
		rotated, err := aicc.NewKeyring(keyB, keyA)
		require.NoError(t, err)
		onlyB, err := aicc.NewKeyring(keyB)
		require.NoError(t, err)

		tenant := newTenant(t, s, "a", now)
		var channels []*aicc.Channel
		// Channels 1 and 2 hold the same Page ID (unclaimed, it may be on several channels): a batch ends between
		// the two rows, and the next batch must not skip the second.
		pageOf := func(i int) string {
			if i == 2 {
				i = 1
			}
			return fmt.Sprintf("%d", 100+i)
		}
		for i := range 5 {
			ch := newChannel(t, s, tenant.ID, fmt.Sprintf("ch%d", i), fmt.Sprintf("app%d", i))
			addPage(t, s, ch, pageOf(i))
			channels = append(channels, ch)
		}
		fk, err := keyring.SealFingerprintKey(idA, now)
		require.NoError(t, err)
		_, err = s.AddSystemKey(ctx, aicc.SecretFingerprintKey, fk)
		require.NoError(t, err)
		// One secret is under B already, as an API process running with B writes it during the rotation.
		newOwner := aicc.ChannelSecretOwner(channels[0].ID, aicc.SecretVerifyToken)
		require.NoError(t, s.SetChannelSecret(ctx, channels[0].ID, aicc.SecretVerifyToken, rotated.Seal("verify-new", newOwner, now)))

		counts, err := s.CountSealed(ctx)
		require.NoError(t, err)
		require.ElementsMatch(t, []aicc.SealedCount{
			{KeyID: idA, Kind: aicc.SecretAppSecret, Count: 5}, {KeyID: idA, Kind: aicc.SecretVerifyToken, Count: 4},
			{KeyID: idB, Kind: aicc.SecretVerifyToken, Count: 1}, {KeyID: idA, Kind: aicc.SecretPageToken, Count: 5},
			{KeyID: idA, Kind: aicc.SecretFingerprintKey, Count: 1},
		}, counts)
		before := make(map[string]*aicc.Channel)
		for _, ch := range channels {
			got, err := s.GetChannel(ctx, tenant.ID, ch.ID)
			require.NoError(t, err)
			before[ch.ID] = got
		}

		total := 0
		for _, kind := range aicc.SecretKinds {
			b := aicc.ResealBatch{KeyID: idB, Limit: 2, Reseal: rotated.Reseal}
			for batches := 0; ; batches++ {
				require.Less(t, batches, 10, "the walk ends")
				next, n, err := s.ResealSecrets(ctx, kind, b)
				require.NoError(t, err)
				require.LessOrEqual(t, n, 2)
				total += n
				if next == "" {
					break
				}
				b.After = next
			}
		}
		require.Equal(t, 15, total, "every secret not under B, each once")

		counts, err = s.CountSealed(ctx)
		require.NoError(t, err)
		require.ElementsMatch(t, []aicc.SealedCount{
			{KeyID: idB, Kind: aicc.SecretAppSecret, Count: 5}, {KeyID: idB, Kind: aicc.SecretVerifyToken, Count: 5},
			{KeyID: idB, Kind: aicc.SecretPageToken, Count: 5}, {KeyID: idB, Kind: aicc.SecretFingerprintKey, Count: 1},
		}, counts)
		// Again: nothing left to do.
		next, n, err := s.ResealSecrets(ctx, aicc.SecretAppSecret, aicc.ResealBatch{KeyID: idB, Limit: 2, Reseal: rotated.Reseal})
		require.NoError(t, err)
		require.Equal(t, "", next)
		require.Zero(t, n)

		stored, err := s.SystemKey(ctx, aicc.SecretFingerprintKey)
		require.NoError(t, err)
		onlyB, err = onlyB.WithFingerprintKey(stored)
		require.NoError(t, err)
		for i, ch := range channels {
			got, err := s.GetChannel(ctx, tenant.ID, ch.ID)
			require.NoError(t, err)
			require.Equal(t, before[ch.ID], got, "fingerprints and update times stay")
			sealed, err := s.ChannelSecret(ctx, ch.ID, aicc.SecretAppSecret)
			require.NoError(t, err)
			value, err := onlyB.Open(sealed, aicc.ChannelSecretOwner(ch.ID, aicc.SecretAppSecret))
			require.NoError(t, err)
			require.Equal(t, "app-secret-"+ch.ID, value)
			require.Equal(t, got.AppSecret.Fingerprint, onlyB.Fingerprint(value), "B's keyring fingerprints as A's did")
			sealed, err = s.PageToken(ctx, tenant.ID, ch.ID, pageOf(i))
			require.NoError(t, err)
			value, err = onlyB.Open(sealed, aicc.PageTokenOwner(pageOf(i)))
			require.NoError(t, err)
			require.Equal(t, "token-"+pageOf(i), value)
		}
		sealed, err := s.ChannelSecret(ctx, channels[0].ID, aicc.SecretVerifyToken)
		require.NoError(t, err)
		value, err := onlyB.Open(sealed, newOwner)
		require.NoError(t, err)
		require.Equal(t, "verify-new", value, "the secret written under B is left as it was")
	})
}

// TestResealSecretsCompareAndSet replaces a secret between the read and the write of a batch, as an API
// process still sealing under the old key would: the new value is kept, and the next run re-seals it.
func TestResealSecretsCompareAndSet(t *testing.T) {
	s := dbtest.Postgres(t) // SQLite has one connection: nothing can write between the read and the write
	ctx := context.Background()
	keyB := bytes.Repeat([]byte{0x42}, aicc.MasterKeySize)
	rotated, err := aicc.NewKeyring(keyB, make([]byte, aicc.MasterKeySize))
	require.NoError(t, err)
	ch := newChannel(t, s, newTenant(t, s, "a", now).ID, "ch", "app")
	owner := aicc.ChannelSecretOwner(ch.ID, aicc.SecretAppSecret)

	replaced := false
	reseal := func(sealed aicc.SealedSecret, o string) (aicc.SealedSecret, error) {
		if !replaced {
			replaced = true
			require.NoError(t, s.SetChannelSecret(ctx, ch.ID, aicc.SecretAppSecret, keyring.Seal("CANARY-new", owner, now)))
		}
		return rotated.Reseal(sealed, o)
	}
	b := aicc.ResealBatch{KeyID: aicc.KeyID(keyB), Limit: 10, Reseal: reseal}
	_, n, err := s.ResealSecrets(ctx, aicc.SecretAppSecret, b)
	require.NoError(t, err)
	require.Zero(t, n, "the row changed after the read: left alone")
	sealed, err := s.ChannelSecret(ctx, ch.ID, aicc.SecretAppSecret)
	require.NoError(t, err)
	require.Equal(t, keyring.KeyIDs()[0], sealed.KeyID)
	value, err := rotated.Open(sealed, owner)
	require.NoError(t, err)
	require.Equal(t, "CANARY-new", value, "the new value is not overwritten with the old one")

	_, n, err = s.ResealSecrets(ctx, aicc.SecretAppSecret, b)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	sealed, err = s.ChannelSecret(ctx, ch.ID, aicc.SecretAppSecret)
	require.NoError(t, err)
	value, err = rotated.Open(sealed, owner)
	require.NoError(t, err)
	require.Equal(t, "CANARY-new", value)
	require.Equal(t, aicc.KeyID(keyB), sealed.KeyID)
}

func TestResealSecretsStopsOnASecretThatDoesNotOpen(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		ch := newChannel(t, s, newTenant(t, s, "a", now).ID, "ch", "app")
		other, err := aicc.NewKeyring(bytes.Repeat([]byte{0x42}, aicc.MasterKeySize))
		require.NoError(t, err)
		b := aicc.ResealBatch{KeyID: other.KeyIDs()[0], Limit: 10, Reseal: other.Reseal}
		_, _, err = s.ResealSecrets(ctx, aicc.SecretAppSecret, b)
		require.ErrorContains(t, err, "unknown master key")
		require.NotContains(t, err.Error(), "app-secret-")
		sealed, err := s.ChannelSecret(ctx, ch.ID, aicc.SecretAppSecret)
		require.NoError(t, err)
		require.Equal(t, keyring.KeyIDs()[0], sealed.KeyID, "nothing changed")
	})
}
