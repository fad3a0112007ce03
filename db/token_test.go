package db_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/db"
	"github.com/aiccfb/aicc/db/dbtest"
)

func TestTokenLifecycle(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		tn := newTenant(t, s, "acme", now)

		// An expiring token: accepted until its expiry, then refused like an unknown one.
		expiring, tok := aicc.NewAPIToken(tn.ID, aicc.RoleTenantViewer, "ci", now)
		tok.ExpiresAt = now.Add(time.Hour)
		require.NoError(t, s.CreateToken(ctx, tok))
		require.Equal(t, 123456000, tok.ExpiresAt.Nanosecond(), "stored to the microsecond")
		got, err := s.FindToken(ctx, aicc.HashToken(expiring), now.Add(time.Hour-time.Microsecond))
		require.NoError(t, err)
		require.Equal(t, tok, got)
		for _, at := range []time.Time{now.Add(time.Hour), now.Add(48 * time.Hour)} {
			_, err = s.FindToken(ctx, aicc.HashToken(expiring), at)
			requireCode(t, err, aicc.ENOTFOUND)
		}

		// A revoked token is refused at once, and kept with its revocation time.
		revoked, rtok := aicc.NewAPIToken(tn.ID, aicc.RoleTenantAdmin, "console", now.Add(time.Millisecond))
		require.NoError(t, s.CreateToken(ctx, rtok))
		_, err = s.FindToken(ctx, aicc.HashToken(revoked), now)
		require.NoError(t, err)
		at := now.Add(time.Minute)
		gotRevoked, first, err := s.RevokeToken(ctx, tn.ID, rtok.ID, at)
		require.NoError(t, err)
		require.True(t, first)
		require.Equal(t, at.Truncate(time.Microsecond), gotRevoked.RevokedAt)
		_, err = s.FindToken(ctx, aicc.HashToken(revoked), now)
		requireCode(t, err, aicc.ENOTFOUND)
		// Revoking again keeps the first time.
		again, first, err := s.RevokeToken(ctx, aicc.AnyTenant, rtok.ID, at.Add(time.Hour))
		require.NoError(t, err)
		require.False(t, first)
		require.Equal(t, gotRevoked, again)

		// Scopes: another tenant's token and the sysadmins' are out of a tenant's reach.
		other := newTenant(t, s, "other", now)
		_, otherTok := aicc.NewAPIToken(other.ID, aicc.RoleTenantAdmin, "theirs", now.Add(time.Second))
		_, sysTok := aicc.NewAPIToken("", aicc.RoleSysadmin, "ops", now.Add(2*time.Second))
		require.NoError(t, s.CreateToken(ctx, otherTok))
		require.NoError(t, s.CreateToken(ctx, sysTok))
		for _, c := range []struct{ tenant, id string }{
			{tn.ID, otherTok.ID}, {tn.ID, sysTok.ID}, {"", otherTok.ID}, {other.ID, "tok_missing"}, {aicc.AnyTenant, "tok_missing"},
		} {
			_, _, err := s.RevokeToken(ctx, c.tenant, c.id, at)
			requireCode(t, err, aicc.ENOTFOUND)
		}
		_, err = s.FindToken(ctx, otherTok.Hash, now)
		require.NoError(t, err, "a refused revocation changes nothing")

		ids := func(tenantID string) []string {
			t.Helper()
			var out []string
			for _, tok := range listAll(t, 1, func(opt aicc.ListOptions) ([]*aicc.APIToken, string, error) {
				return s.ListTokens(ctx, tenantID, opt)
			}) {
				out = append(out, tok.ID)
			}
			return out
		}
		require.Equal(t, []string{tok.ID, rtok.ID}, ids(tn.ID), "revoked and expired tokens are listed")
		require.Equal(t, []string{otherTok.ID}, ids(other.ID))
		require.Equal(t, []string{sysTok.ID}, ids(""))
		require.ElementsMatch(t, []string{tok.ID, rtok.ID, otherTok.ID, sysTok.ID}, ids(aicc.AnyTenant))
		listed, _, err := s.ListTokens(ctx, tn.ID, aicc.ListOptions{})
		require.NoError(t, err)
		require.Equal(t, []*aicc.APIToken{tok, gotRevoked}, listed)
		_, _, err = s.ListTokens(ctx, tn.ID, aicc.ListOptions{Cursor: "nope"})
		requireCode(t, err, aicc.EINVALID)

		// Revocation joins the audit transaction: when the audited change fails, the token stays valid.
		entry := &aicc.AuditEntry{Actor: aicc.CLIActor("aicc tokens revoke"), Action: aicc.AuditTokenRevoke,
			Target: aicc.AuditTarget{Type: aicc.TargetToken, ID: otherTok.ID}}
		boom := errors.New("boom")
		require.ErrorIs(t, s.Audited(ctx, entry, func(ctx context.Context) error {
			if _, _, err := s.RevokeToken(ctx, other.ID, otherTok.ID, at); err != nil {
				return err
			}
			return boom
		}), boom)
		_, err = s.FindToken(ctx, otherTok.Hash, now)
		require.NoError(t, err, "rolled back with the audit entry")
		require.NoError(t, s.Audited(ctx, entry, func(ctx context.Context) error {
			_, _, err := s.RevokeToken(ctx, other.ID, otherTok.ID, at)
			return err
		}))
		_, err = s.FindToken(ctx, otherTok.Hash, now)
		requireCode(t, err, aicc.ENOTFOUND)
	})
}

// TestTokenTouch checks that the last use is written at most once per aicc.TokenTouchInterval.
func TestTokenTouch(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		tn := newTenant(t, s, "acme", now)
		secret, tok := aicc.NewAPIToken(tn.ID, aicc.RoleTenantAdmin, "console", now)
		require.NoError(t, s.CreateToken(ctx, tok))
		lastUsed := func() time.Time {
			t.Helper()
			got, err := s.FindToken(ctx, aicc.HashToken(secret), now)
			require.NoError(t, err)
			return got.LastUsedAt
		}
		require.True(t, lastUsed().IsZero(), "never used")
		norm := func(t time.Time) time.Time { return t.Truncate(time.Microsecond) }

		require.NoError(t, s.TouchToken(ctx, tok.ID, now))
		require.Equal(t, norm(now), lastUsed())
		// Within the interval nothing is written, however often.
		for _, d := range []time.Duration{time.Second, 30 * time.Second, aicc.TokenTouchInterval - time.Microsecond} {
			require.NoError(t, s.TouchToken(ctx, tok.ID, now.Add(d)))
			require.Equal(t, norm(now), lastUsed(), "touched %v later", d)
		}
		later := now.Add(aicc.TokenTouchInterval)
		require.NoError(t, s.TouchToken(ctx, tok.ID, later))
		require.Equal(t, norm(later), lastUsed())
		// An older time never moves it back.
		require.NoError(t, s.TouchToken(ctx, tok.ID, now))
		require.Equal(t, norm(later), lastUsed())
		require.NoError(t, s.TouchToken(ctx, "tok_missing", now), "an unknown token is a no-op")

		got, err := s.FindToken(ctx, aicc.HashToken(secret), later)
		require.NoError(t, err)
		require.False(t, got.NeedsTouch(later.Add(aicc.TokenTouchInterval-time.Microsecond)))
		require.True(t, got.NeedsTouch(later.Add(aicc.TokenTouchInterval)))
	})
}
