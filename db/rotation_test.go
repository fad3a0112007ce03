package db_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/db"
	"github.com/aiccfb/aicc/db/dbtest"
)

func TestSecretVersions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		a, b := newTenant(t, s, "a", now), newTenant(t, s, "b", now)
		ch := newChannel(t, s, a.ID, "Sales", "1001")
		other := newChannel(t, s, a.ID, "Support", "1002")
		addPage(t, s, ch, "100")
		addPage(t, s, other, "200")

		app := addVersion(t, s, ch, "", "secret-1", now)
		require.Equal(t, norm(now), app.CreatedAt, "a zero CreatedAt is the seal's time")
		got, err := s.SecretVersion(ctx, ch.ID, app.ID)
		require.NoError(t, err)
		require.Equal(t, app, got)
		value, err := keyring.Open(got.Sealed, aicc.SecretVersionOwner(app.ID))
		require.NoError(t, err)
		require.Equal(t, "secret-1", value)
		token := addVersion(t, s, ch, "100", "token-1", now)
		got, err = s.SecretVersion(ctx, ch.ID, token.ID)
		require.NoError(t, err)
		require.Equal(t, aicc.SecretPageToken, got.Kind)
		require.Equal(t, "100", got.PageID)

		_, err = s.SecretVersion(ctx, other.ID, app.ID)
		requireCode(t, err, aicc.ENOTFOUND)
		_, err = s.SecretVersion(ctx, ch.ID, "sv_missing")
		requireCode(t, err, aicc.ENOTFOUND)

		version := func(channelID, tenantID string, kind aicc.SecretKind, pageID string) *aicc.SecretVersion {
			id := aicc.NewID("sv")
			return &aicc.SecretVersion{
				ID: id, TenantID: tenantID, ChannelID: channelID, Kind: kind, PageID: pageID,
				Sealed: keyring.Seal("v", aicc.SecretVersionOwner(id), now),
			}
		}
		requireCode(t, s.AddSecretVersion(ctx, version(ch.ID, a.ID, aicc.SecretPageToken, "200")), aicc.ENOTFOUND)
		requireCode(t, s.AddSecretVersion(ctx, version(ch.ID, a.ID, aicc.SecretPageToken, "999")), aicc.ENOTFOUND)
		requireCode(t, s.AddSecretVersion(ctx, version(ch.ID, b.ID, aicc.SecretAppSecret, "")), aicc.ENOTFOUND)
		requireCode(t, s.AddSecretVersion(ctx, version("ch_missing", a.ID, aicc.SecretAppSecret, "")), aicc.ENOTFOUND)
		for _, bad := range []*aicc.SecretVersion{
			version(ch.ID, a.ID, aicc.SecretVerifyToken, ""),
			version(ch.ID, a.ID, aicc.SecretPageToken, ""),
			version(ch.ID, a.ID, aicc.SecretAppSecret, "100"),
			{ID: "sv_x", TenantID: a.ID, ChannelID: ch.ID, Kind: aicc.SecretAppSecret},
		} {
			err := s.AddSecretVersion(ctx, bad)
			require.Error(t, err, "%+v", bad)
			require.Equal(t, aicc.EINTERNAL, aicc.ErrorCode(err), "a caller's bug, no domain error")
		}

		require.NoError(t, s.DeleteSecretVersion(ctx, other.ID, app.ID), "another channel's: nothing to delete")
		_, err = s.SecretVersion(ctx, ch.ID, app.ID)
		require.NoError(t, err)
		require.NoError(t, s.DeleteSecretVersion(ctx, ch.ID, app.ID))
		_, err = s.SecretVersion(ctx, ch.ID, app.ID)
		requireCode(t, err, aicc.ENOTFOUND)
		require.NoError(t, s.DeleteSecretVersion(ctx, ch.ID, app.ID), "deleting twice is fine")

		require.NoError(t, s.MarkChannelDeleting(ctx, ch.ID, now))
		requireCode(t, s.AddSecretVersion(ctx, version(ch.ID, a.ID, aicc.SecretAppSecret, "")), aicc.ECHANNELDELETING)
		require.NoError(t, s.DeleteChannel(ctx, a.ID, ch.ID))
		_, err = s.SecretVersion(ctx, ch.ID, token.ID)
		requireCode(t, err, aicc.ENOTFOUND)
	})
}

func TestChangeAppSecret(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		a := newTenant(t, s, "a", now)
		ch := newChannel(t, s, a.ID, "Sales", "1001")
		other := newChannel(t, s, a.ID, "Support", "1002")
		addPage(t, s, ch, "100")
		original := "app-secret-" + ch.ID
		t1, t2 := now.Add(time.Hour), now.Add(2*time.Hour)

		v1 := addVersion(t, s, ch, "", "secret-1", t1)
		c1 := appSecretChange(ch.ID, v1.ID, "secret-1", original, t1.Add(aicc.DefaultRotationOverlap), t1)
		require.NoError(t, s.ChangeAppSecret(ctx, c1))
		require.Equal(t, "secret-1", openChannelSecret(t, s, ch.ID, aicc.SecretAppSecret))
		value, until := openPrevious(t, s, ch.ID)
		require.Equal(t, original, value)
		require.Equal(t, norm(t1.Add(aicc.DefaultRotationOverlap)), until)
		_, err := s.SecretVersion(ctx, ch.ID, v1.ID)
		requireCode(t, err, aicc.ENOTFOUND) // the version is in use
		got, err := s.GetChannel(ctx, a.ID, ch.ID)
		require.NoError(t, err)
		require.Equal(t, aicc.SecretInfo{Set: true, Fingerprint: keyring.Fingerprint("secret-1"), UpdatedAt: norm(t1)}, got.AppSecret)
		require.Equal(t, ch.VerifyToken, got.VerifyToken)

		// A retry changes nothing, even with other values.
		retry := appSecretChange(ch.ID, v1.ID, "not-used", "not-used", t2, t2)
		require.NoError(t, s.ChangeAppSecret(ctx, retry))
		require.Equal(t, "secret-1", openChannelSecret(t, s, ch.ID, aicc.SecretAppSecret))
		value, until = openPrevious(t, s, ch.ID)
		require.Equal(t, original, value)
		require.Equal(t, norm(t1.Add(aicc.DefaultRotationOverlap)), until)

		// A second change within the window: the secret it replaces is the previous one, with the new window.
		v2 := addVersion(t, s, ch, "", "secret-2", t2)
		c2 := appSecretChange(ch.ID, v2.ID, "secret-2", "secret-1", t2.Add(time.Hour), t2)
		require.NoError(t, s.ChangeAppSecret(ctx, c2))
		require.Equal(t, "secret-2", openChannelSecret(t, s, ch.ID, aicc.SecretAppSecret))
		value, until = openPrevious(t, s, ch.ID)
		require.Equal(t, "secret-1", value)
		require.Equal(t, norm(t2.Add(time.Hour)), until)
		// A window needs the secret it keeps.
		require.Error(t, s.ChangeAppSecret(ctx, appSecretChange(ch.ID, addVersion(t, s, ch, "", "secret-x", t2).ID, "secret-x", "",
			t2.Add(time.Hour), t2)))

		// Versions that are not this channel's app secrets are not found, and change nothing.
		otherVersion := addVersion(t, s, other, "", "other", t2)
		tokenVersion := addVersion(t, s, ch, "100", "token", t2)
		for _, id := range []string{"sv_missing", otherVersion.ID, tokenVersion.ID} {
			requireCode(t, s.ChangeAppSecret(ctx, appSecretChange(ch.ID, id, "x", "x", t2, t2)), aicc.ENOTFOUND)
		}
		requireCode(t, s.ChangeAppSecret(ctx, appSecretChange("ch_missing", v2.ID, "x", "", t2, t2)), aicc.ENOTFOUND)
		require.Equal(t, "secret-2", openChannelSecret(t, s, ch.ID, aicc.SecretAppSecret))
		// The IDs alone tell a retry whether the change was made: not for a version that is gone.
		requireCode(t, s.ChangeAppSecret(ctx, aicc.AppSecretChange{ChannelID: ch.ID, VersionID: "sv_x"}), aicc.ENOTFOUND)
		require.NoError(t, s.ChangeAppSecret(ctx, aicc.AppSecretChange{ChannelID: ch.ID, VersionID: v2.ID}), "made already")
		require.Error(t, s.ChangeAppSecret(ctx, aicc.AppSecretChange{ChannelID: ch.ID, VersionID: addVersion(t, s, ch, "", "unused", t2).ID}),
			"no ciphertext for a version that is there")

		// A zero PreviousUntil accepts no previous secret.
		v3 := addVersion(t, s, ch, "", "secret-3", t2)
		require.NoError(t, s.ChangeAppSecret(ctx, appSecretChange(ch.ID, v3.ID, "secret-3", "secret-2", time.Time{}, t2)))
		require.Equal(t, "secret-3", openChannelSecret(t, s, ch.ID, aicc.SecretAppSecret))
		_, _, err = s.PreviousAppSecret(ctx, ch.ID)
		requireCode(t, err, aicc.ENOTFOUND)

		// Retiring the previous secret is idempotent.
		v4 := addVersion(t, s, ch, "", "secret-4", t2)
		require.NoError(t, s.ChangeAppSecret(ctx, appSecretChange(ch.ID, v4.ID, "secret-4", "secret-3", t2.Add(time.Hour), t2)))
		value, _ = openPrevious(t, s, ch.ID)
		require.Equal(t, "secret-3", value)
		for range 2 {
			require.NoError(t, s.RetirePreviousAppSecret(ctx, ch.ID))
			_, _, err = s.PreviousAppSecret(ctx, ch.ID)
			requireCode(t, err, aicc.ENOTFOUND)
		}
		require.Equal(t, "secret-4", openChannelSecret(t, s, ch.ID, aicc.SecretAppSecret), "the current secret stays")
		require.NoError(t, s.RetirePreviousAppSecret(ctx, "ch_missing"))

		// A channel being deleted takes no new secret.
		v5 := addVersion(t, s, ch, "", "secret-5", t2)
		require.NoError(t, s.MarkChannelDeleting(ctx, ch.ID, t2))
		requireCode(t, s.ChangeAppSecret(ctx, appSecretChange(ch.ID, v5.ID, "secret-5", "secret-4", t2, t2)),
			aicc.ECHANNELDELETING)
		require.Equal(t, "secret-4", openChannelSecret(t, s, ch.ID, aicc.SecretAppSecret))
	})
}

func TestChangePageToken(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		a := newTenant(t, s, "a", now)
		ch := newChannel(t, s, a.ID, "Sales", "1001")
		other := newChannel(t, s, a.ID, "Support", "1002")
		page := addPageWith(t, s, ch, "100", aicc.PageState{Status: aicc.PageSubscribed, Reason: "why", UpdatedAt: now})
		require.NoError(t, s.SetPageTokenHealth(ctx, a.ID, ch.ID, "100", aicc.TokenReauthRequired, aicc.EMETATOKENINVALID, now))
		addPage(t, s, other, "200")
		t1 := now.Add(time.Hour)

		v := addVersion(t, s, ch, "100", "token-new", t1)
		require.NoError(t, s.ChangePageToken(ctx, pageTokenChange(ch.ID, "100", v.ID, "token-new", t1)))
		require.Equal(t, "token-new", openPageToken(t, s, ch, "100"))
		got, err := s.GetPage(ctx, a.ID, ch.ID, "100")
		require.NoError(t, err)
		want := *page
		want.Token = aicc.SecretInfo{Set: true, Fingerprint: keyring.Fingerprint("token-new"), UpdatedAt: norm(t1)}
		want.State = aicc.PageState{
			Status: aicc.PageSubscribed, Reason: "why", TokenHealth: aicc.TokenHealthy, UpdatedAt: norm(t1),
		}
		require.Equal(t, &want, got, "the status stays; the token is healthy")
		_, err = s.SecretVersion(ctx, ch.ID, v.ID)
		requireCode(t, err, aicc.ENOTFOUND) // the version is in use

		require.NoError(t, s.ChangePageToken(ctx, pageTokenChange(ch.ID, "100", v.ID, "not-used", t1.Add(time.Hour))),
			"a retry")
		require.NoError(t, s.ChangePageToken(ctx, aicc.PageTokenChange{ChannelID: ch.ID, PageID: "100", VersionID: v.ID}),
			"a retry that has the IDs only")
		require.Equal(t, "token-new", openPageToken(t, s, ch, "100"))
		got, err = s.GetPage(ctx, a.ID, ch.ID, "100")
		require.NoError(t, err)
		require.Equal(t, &want, got, "the retry changes nothing")

		v2 := addVersion(t, s, ch, "100", "token-2", t1)
		otherVersion := addVersion(t, s, other, "200", "token-200", t1)
		appVersion := addVersion(t, s, ch, "", "secret", t1)
		for _, c := range []aicc.PageTokenChange{
			pageTokenChange(other.ID, "100", v2.ID, "token-2", t1),        // another channel's Page
			pageTokenChange(ch.ID, "999", v2.ID, "token-2", t1),           // no such Page
			pageTokenChange(ch.ID, "100", "sv_missing", "token-2", t1),    // no such version
			pageTokenChange(ch.ID, "100", otherVersion.ID, "token-2", t1), // another Page's version
			pageTokenChange(ch.ID, "100", appVersion.ID, "token-2", t1),   // not a token
			pageTokenChange(other.ID, "200", v2.ID, "token-2", t1),        // another channel's version
			pageTokenChange("ch_missing", "100", v2.ID, "token-2", t1),    // no such channel
		} {
			requireCode(t, s.ChangePageToken(ctx, c), aicc.ENOTFOUND)
		}
		require.Equal(t, "token-new", openPageToken(t, s, ch, "100"))
		require.Equal(t, "token-200", openPageToken(t, s, other, "200"), "untouched")
		// The IDs alone tell a retry whether the change was made.
		requireCode(t, s.ChangePageToken(ctx, aicc.PageTokenChange{ChannelID: ch.ID, PageID: "100", VersionID: "sv_gone"}), aicc.ENOTFOUND)

		require.NoError(t, s.MarkChannelDeleting(ctx, ch.ID, t1))
		requireCode(t, s.ChangePageToken(ctx, pageTokenChange(ch.ID, "100", v2.ID, "token-2", t1)), aicc.ECHANNELDELETING)
		require.Equal(t, "token-new", openPageToken(t, s, ch, "100"))
	})
}

func TestPagesWithoutNewToken(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		a := newTenant(t, s, "a", now)
		ch := newChannel(t, s, a.ID, "Sales", "1001")
		other := newChannel(t, s, a.ID, "Support", "1002")
		// Whole seconds and fractions of different lengths, which SQLite stores as text of different lengths.
		base := now.Truncate(time.Second).Add(time.Hour)
		for id, at := range map[string]time.Time{
			"400": base, "300": base.Add(250 * time.Millisecond), "200": base.Add(500 * time.Millisecond),
			"100": base.Add(750 * time.Millisecond),
		} {
			p := &aicc.Page{PageID: id, ChannelID: ch.ID, TenantID: a.ID, CreatedAt: now}
			require.NoError(t, s.AddPage(ctx, p, keyring.Seal("token-"+id, aicc.PageTokenOwner(id), at)))
		}
		addPage(t, s, other, "900")

		n, ids, err := s.PagesWithoutNewToken(ctx, ch.ID, 10)
		require.NoError(t, err)
		require.Zero(t, n, "every token is newer than the app secret")
		require.Empty(t, ids)

		v := addVersion(t, s, ch, "", "secret-1", base.Add(500*time.Millisecond))
		require.NoError(t, s.ChangeAppSecret(ctx, appSecretChange(ch.ID, v.ID, "secret-1", "", time.Time{},
			base.Add(500*time.Millisecond))))
		for _, tc := range []struct {
			limit int
			want  []string
		}{{10, []string{"300", "400"}}, {1, []string{"300"}}, {0, []string{}}} {
			n, ids, err = s.PagesWithoutNewToken(ctx, ch.ID, tc.limit)
			require.NoError(t, err)
			require.Equal(t, 2, n, "a token changed with the app secret is new")
			require.Equal(t, tc.want, ids, "limit %d", tc.limit)
		}

		tv := addVersion(t, s, ch, "300", "token-new", base.Add(time.Second))
		require.NoError(t, s.ChangePageToken(ctx, pageTokenChange(ch.ID, "300", tv.ID, "token-new", base.Add(time.Second))))
		n, ids, err = s.PagesWithoutNewToken(ctx, ch.ID, 10)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.Equal(t, []string{"400"}, ids)

		n, ids, err = s.PagesWithoutNewToken(ctx, other.ID, 10)
		require.NoError(t, err)
		require.Zero(t, n, "another channel's secret and Pages")
		require.Empty(t, ids)
		noSecret := &aicc.Channel{TenantID: a.ID, Name: "NoSecret", AppID: "3003", Algorithm: aicc.AlgorithmSHA256}
		require.NoError(t, s.CreateChannel(ctx, noSecret, aicc.ChannelSecrets{}))
		addPage(t, s, noSecret, "500")
		for _, id := range []string{noSecret.ID, "ch_missing"} {
			n, ids, err = s.PagesWithoutNewToken(ctx, id, 10)
			require.NoError(t, err)
			require.Zero(t, n)
			require.Empty(t, ids)
		}
	})
}

func TestSetRotation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		a := newTenant(t, s, "a", now)
		ch := newChannel(t, s, a.ID, "Sales", "1001")
		require.Equal(t, aicc.Rotation{}, ch.Rotation)
		got, err := s.GetChannel(ctx, a.ID, ch.ID)
		require.NoError(t, err)
		require.Equal(t, aicc.Rotation{}, got.Rotation, "never rotated")
		require.NoError(t, s.SetOnboarding(ctx, ch.ID, aicc.Onboarding{Status: aicc.StatusActive, UpdatedAt: now}))

		pending := aicc.Rotation{
			Status: aicc.RotationPending, StartedAt: now, PreviousUntil: now.Add(aicc.DefaultRotationOverlap),
			PagesMissing: 3, RemindedAt: now.Add(time.Hour), UpdatedAt: now.Add(time.Hour),
		}
		for range 2 {
			require.NoError(t, s.SetRotation(ctx, ch.ID, pending))
		}
		want := pending
		for _, at := range []*time.Time{&want.StartedAt, &want.PreviousUntil, &want.RemindedAt, &want.UpdatedAt} {
			*at = norm(*at)
		}
		got, err = s.GetChannel(ctx, a.ID, ch.ID)
		require.NoError(t, err)
		require.Equal(t, want, got.Rotation)
		got, err = s.FindChannel(ctx, ch.ID)
		require.NoError(t, err)
		require.Equal(t, want, got.Rotation)
		listed, _, err := s.ListChannels(ctx, a.ID, aicc.ChannelFilter{})
		require.NoError(t, err)
		require.Len(t, listed, 1)
		require.Equal(t, want, listed[0].Rotation)
		inStatus, err := s.ChannelsInStatus(ctx, aicc.StatusActive, now.Add(time.Hour), 10)
		require.NoError(t, err)
		require.Len(t, inStatus, 1)
		require.Equal(t, want, inStatus[0].Rotation)

		complete := aicc.Rotation{Status: aicc.RotationComplete, StartedAt: now, UpdatedAt: now.Add(2 * time.Hour)}
		require.NoError(t, s.SetRotation(ctx, ch.ID, complete))
		got, err = s.GetChannel(ctx, a.ID, ch.ID)
		require.NoError(t, err)
		require.Equal(t, aicc.Rotation{Status: aicc.RotationComplete, StartedAt: norm(now), UpdatedAt: norm(now.Add(2 * time.Hour))},
			got.Rotation, "zero times and counts clear the columns")

		requireCode(t, s.SetRotation(ctx, "ch_missing", pending), aicc.ENOTFOUND)
		require.NoError(t, s.MarkChannelDeleting(ctx, ch.ID, now))
		requireCode(t, s.SetRotation(ctx, ch.ID, pending), aicc.ECHANNELDELETING)
		got, err = s.GetChannel(ctx, a.ID, ch.ID)
		require.NoError(t, err)
		require.Equal(t, aicc.RotationComplete, got.Rotation.Status)
	})
}

func TestRotationStats(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		stats, err := s.RotationStats(ctx)
		require.NoError(t, err)
		require.Equal(t, aicc.RotationStats{Count: map[aicc.RotationStatus]int{}}, stats)

		a, b := newTenant(t, s, "a", now), newTenant(t, s, "b", now)
		base := now.Truncate(time.Second)
		rotating := func(tenantID, name string, status aicc.RotationStatus, started, reminded time.Time) *aicc.Channel {
			t.Helper()
			ch := newChannel(t, s, tenantID, name, "app-"+name)
			r := aicc.Rotation{Status: status, StartedAt: started, RemindedAt: reminded, UpdatedAt: started}
			require.NoError(t, s.SetRotation(ctx, ch.ID, r))
			return ch
		}
		// Started at whole seconds and fractions of different lengths, which SQLite stores as text of
		// different lengths.
		rotating(a.ID, "p1", aicc.RotationPending, base.Add(2*time.Second), base.Add(time.Hour))
		rotating(b.ID, "p2", aicc.RotationPending, base, time.Time{})
		rotating(a.ID, "p3", aicc.RotationPending, base.Add(500*time.Millisecond), base.Add(time.Hour))
		rotating(a.ID, "complete-a", aicc.RotationComplete, base.Add(-time.Hour), base)
		rotating(b.ID, "complete-b", aicc.RotationComplete, base.Add(-time.Hour), time.Time{})
		newChannel(t, s, b.ID, "never", "app-never")
		deleting := rotating(b.ID, "deleting", aicc.RotationPending, base.Add(-2*time.Hour), base)
		require.NoError(t, s.MarkChannelDeleting(ctx, deleting.ID, base))

		stats, err = s.RotationStats(ctx)
		require.NoError(t, err)
		require.Equal(t, aicc.RotationStats{
			Count:    map[aicc.RotationStatus]int{aicc.RotationPending: 3, aicc.RotationComplete: 2},
			Reminded: 2, OldestPending: base,
		}, stats)
	})
}

// TestAuditedRotation checks that the rotation's changes commit with their audit entry, and roll back with it.
func TestAuditedRotation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		a := newTenant(t, s, "a", now)
		ch := newChannel(t, s, a.ID, "Sales", "1001")
		addPage(t, s, ch, "100")
		target := aicc.AuditTarget{Type: aicc.TargetChannel, ID: ch.ID}
		entries := func() int {
			t.Helper()
			return len(listAudit(t, s, aicc.AuditFilter{TenantID: a.ID}))
		}
		t1 := now.Add(time.Hour)

		v1 := addVersion(t, s, ch, "", "secret-1", t1)
		e := auditEntry(a.ID, ch.ID, aicc.AuditAppSecretChange, target)
		require.NoError(t, s.Audited(ctx, e, func(ctx context.Context) error {
			return s.ChangeAppSecret(ctx, appSecretChange(ch.ID, v1.ID, "secret-1", "app-secret-"+ch.ID, t1.Add(time.Hour), t1))
		}))
		require.Equal(t, "secret-1", openChannelSecret(t, s, ch.ID, aicc.SecretAppSecret))
		require.Equal(t, []*aicc.AuditEntry{e}, listAudit(t, s, aicc.AuditFilter{TenantID: a.ID}))

		// The caller fails after the change: both roll back, the version included.
		v2 := addVersion(t, s, ch, "", "secret-2", t1)
		tv := addVersion(t, s, ch, "100", "token-2", t1)
		errAfter := errors.New("after the change")
		err := s.Audited(ctx, auditEntry(a.ID, ch.ID, aicc.AuditAppSecretChange, target), func(ctx context.Context) error {
			if err := s.ChangeAppSecret(ctx, appSecretChange(ch.ID, v2.ID, "secret-2", "secret-1", t1.Add(time.Hour), t1)); err != nil {
				return err
			}
			if err := s.ChangePageToken(ctx, pageTokenChange(ch.ID, "100", tv.ID, "token-2", t1)); err != nil {
				return err
			}
			if err := s.RetirePreviousAppSecret(ctx, ch.ID); err != nil {
				return err
			}
			return errAfter
		})
		require.ErrorIs(t, err, errAfter)
		require.Equal(t, "secret-1", openChannelSecret(t, s, ch.ID, aicc.SecretAppSecret))
		value, _ := openPrevious(t, s, ch.ID)
		require.Equal(t, "app-secret-"+ch.ID, value)
		require.Equal(t, "token-100", openPageToken(t, s, ch, "100"))
		for _, id := range []string{v2.ID, tv.ID} {
			_, err = s.SecretVersion(ctx, ch.ID, id)
			require.NoError(t, err, "the version is still waiting")
		}
		require.Equal(t, 1, entries())

		// The change fails: no entry.
		err = s.Audited(ctx, auditEntry(a.ID, ch.ID, aicc.AuditAppSecretChange, target), func(ctx context.Context) error {
			return s.ChangeAppSecret(ctx, appSecretChange(ch.ID, "sv_missing", "x", "", t1, t1))
		})
		requireCode(t, err, aicc.ENOTFOUND)
		require.Equal(t, 1, entries())

		// Each change commits with its entry.
		for _, c := range []struct {
			action aicc.AuditAction
			change func(ctx context.Context) error
		}{
			{aicc.AuditAppSecretChange, func(ctx context.Context) error {
				return s.ChangeAppSecret(ctx, appSecretChange(ch.ID, v2.ID, "secret-2", "secret-1", t1.Add(2*time.Hour), t1))
			}},
			{aicc.AuditPageTokenSecretChange, func(ctx context.Context) error {
				return s.ChangePageToken(ctx, pageTokenChange(ch.ID, "100", tv.ID, "token-2", t1))
			}},
			{aicc.AuditRotationRevokePrevious, func(ctx context.Context) error {
				return s.RetirePreviousAppSecret(ctx, ch.ID)
			}},
		} {
			require.NoError(t, s.Audited(ctx, auditEntry(a.ID, ch.ID, c.action, target), c.change), "%s", c.action)
		}
		require.Equal(t, "secret-2", openChannelSecret(t, s, ch.ID, aicc.SecretAppSecret))
		require.Equal(t, "token-2", openPageToken(t, s, ch, "100"))
		_, _, err = s.PreviousAppSecret(ctx, ch.ID)
		requireCode(t, err, aicc.ENOTFOUND)
		require.Equal(t, []aicc.AuditAction{
			aicc.AuditRotationRevokePrevious, aicc.AuditPageTokenSecretChange, aicc.AuditAppSecretChange, aicc.AuditAppSecretChange,
		}, auditActions(listAudit(t, s, aicc.AuditFilter{TenantID: a.ID})))
	})
}

// TestResealRotationSecrets moves previous app secrets and secret versions from key A (keyring) to key B: each
// is re-sealed for its own owner, and B alone opens it afterwards.
func TestResealRotationSecrets(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		keyB := bytes.Repeat([]byte{0x42}, aicc.MasterKeySize)
		idA, idB := keyring.KeyIDs()[0], aicc.KeyID(keyB)
		rotated, err := aicc.NewKeyring(keyB, make([]byte, aicc.MasterKeySize))
		require.NoError(t, err)
		onlyB, err := aicc.NewKeyring(keyB)
		require.NoError(t, err)

		a := newTenant(t, s, "a", now)
		var channels []*aicc.Channel
		var versions []*aicc.SecretVersion
		for i, name := range []string{"ch0", "ch1", "ch2"} {
			ch := newChannel(t, s, a.ID, name, "app-"+name)
			addPage(t, s, ch, name+"-page")
			v := addVersion(t, s, ch, "", "secret-"+name, now)
			if i < 2 { // ch2 keeps its version waiting
				c := appSecretChange(ch.ID, v.ID, "secret-"+name, "app-secret-"+ch.ID, now.Add(time.Hour), now)
				require.NoError(t, s.ChangeAppSecret(ctx, c))
			} else {
				versions = append(versions, v)
			}
			versions = append(versions, addVersion(t, s, ch, name+"-page", "token-"+name, now))
			channels = append(channels, ch)
		}
		counts, err := s.CountSealed(ctx)
		require.NoError(t, err)
		require.Subset(t, counts, []aicc.SealedCount{
			{KeyID: idA, Kind: aicc.SecretPreviousAppSecret, Count: 2}, {KeyID: idA, Kind: aicc.SecretVersionValue, Count: 4},
		})

		total := 0
		for _, kind := range []aicc.SecretKind{aicc.SecretPreviousAppSecret, aicc.SecretVersionValue} {
			b := aicc.ResealBatch{KeyID: idB, Limit: 3, Reseal: rotated.Reseal}
			for batches := 0; ; batches++ {
				require.Less(t, batches, 10, "the walk ends")
				next, n, err := s.ResealSecrets(ctx, kind, b)
				require.NoError(t, err, kind)
				total += n
				if next == "" {
					break
				}
				b.After = next
			}
		}
		require.Equal(t, 6, total)
		counts, err = s.CountSealed(ctx)
		require.NoError(t, err)
		require.Subset(t, counts, []aicc.SealedCount{
			{KeyID: idB, Kind: aicc.SecretPreviousAppSecret, Count: 2}, {KeyID: idB, Kind: aicc.SecretVersionValue, Count: 4},
			{KeyID: idA, Kind: aicc.SecretAppSecret, Count: 3}, // another kind: left for its own walk
		})
		for _, c := range counts {
			if c.Kind == aicc.SecretPreviousAppSecret || c.Kind == aicc.SecretVersionValue {
				require.Equal(t, idB, c.KeyID, "%s left under %s", c.Kind, c.KeyID)
			}
		}

		for _, ch := range channels[:2] {
			sealed, until, err := s.PreviousAppSecret(ctx, ch.ID)
			require.NoError(t, err)
			require.Equal(t, norm(now.Add(time.Hour)), until, "the window stays")
			value, err := onlyB.Open(sealed, aicc.ChannelSecretOwner(ch.ID, aicc.SecretPreviousAppSecret))
			require.NoError(t, err)
			require.Equal(t, "app-secret-"+ch.ID, value)
		}
		for _, v := range versions {
			got, err := s.SecretVersion(ctx, v.ChannelID, v.ID)
			require.NoError(t, err)
			require.Equal(t, idB, got.Sealed.KeyID)
			require.Equal(t, v.Sealed.Fingerprint, got.Sealed.Fingerprint)
			_, err = onlyB.Open(got.Sealed, aicc.SecretVersionOwner(v.ID))
			require.NoError(t, err)
		}
	})
}

// addVersion stores a version of the channel's app secret, or with pageID of that Page's token, sealed at at.
func addVersion(tb testing.TB, s *db.Store, ch *aicc.Channel, pageID, value string, at time.Time) *aicc.SecretVersion {
	tb.Helper()
	kind := aicc.SecretAppSecret
	if pageID != "" {
		kind = aicc.SecretPageToken
	}
	id := aicc.NewID("sv")
	v := &aicc.SecretVersion{
		ID: id, TenantID: ch.TenantID, ChannelID: ch.ID, Kind: kind, PageID: pageID,
		Sealed: keyring.Seal(value, aicc.SecretVersionOwner(id), at),
	}
	require.NoError(tb, s.AddSecretVersion(context.Background(), v))
	return v
}

// appSecretChange makes value the channel's app secret at at, and previous ("" for none given) its previous
// one until until.
func appSecretChange(channelID, versionID, value, previous string, until, at time.Time) aicc.AppSecretChange {
	c := aicc.AppSecretChange{
		ChannelID: channelID, VersionID: versionID, PreviousUntil: until,
		Current: keyring.Seal(value, aicc.ChannelSecretOwner(channelID, aicc.SecretAppSecret), at),
	}
	if previous != "" {
		sealed := keyring.Seal(previous, aicc.ChannelSecretOwner(channelID, aicc.SecretPreviousAppSecret), at)
		c.Previous = &sealed
	}
	return c
}

func pageTokenChange(channelID, pageID, versionID, value string, at time.Time) aicc.PageTokenChange {
	return aicc.PageTokenChange{
		ChannelID: channelID, PageID: pageID, VersionID: versionID,
		Token: keyring.Seal(value, aicc.PageTokenOwner(pageID), at),
	}
}

func openChannelSecret(tb testing.TB, s *db.Store, channelID string, kind aicc.SecretKind) string {
	tb.Helper()
	sealed, err := s.ChannelSecret(context.Background(), channelID, kind)
	require.NoError(tb, err)
	value, err := keyring.Open(sealed, aicc.ChannelSecretOwner(channelID, kind))
	require.NoError(tb, err)
	return value
}

func openPrevious(tb testing.TB, s *db.Store, channelID string) (string, time.Time) {
	tb.Helper()
	sealed, until, err := s.PreviousAppSecret(context.Background(), channelID)
	require.NoError(tb, err)
	value, err := keyring.Open(sealed, aicc.ChannelSecretOwner(channelID, aicc.SecretPreviousAppSecret))
	require.NoError(tb, err)
	return value, until
}

func openPageToken(tb testing.TB, s *db.Store, ch *aicc.Channel, pageID string) string {
	tb.Helper()
	sealed, err := s.PageToken(context.Background(), ch.TenantID, ch.ID, pageID)
	require.NoError(tb, err)
	value, err := keyring.Open(sealed, aicc.PageTokenOwner(pageID))
	require.NoError(tb, err)
	return value
}
