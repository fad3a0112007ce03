package db_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/db"
	"github.com/aiccfb/aicc/db/dbtest"
)

// requireClaimConflict checks a conflict with another channel's claim, and returns its error whole, so that
// the caller can compare the words of two conflicts.
func requireClaimConflict(tb testing.TB, err error, code, field string) aicc.Error {
	tb.Helper()
	requireField(tb, err, code, field)
	var e *aicc.Error
	require.ErrorAs(tb, err, &e)
	return *e
}

func TestClaimApp(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		a, b := newTenant(t, s, "a", now), newTenant(t, s, "b", now)
		owner := newChannel(t, s, a.ID, "Sales", "1001")
		// Anyone may type the (public) app ID: the channels are stored, and claim nothing.
		squatter := newChannel(t, s, b.ID, "Squat", "1001")
		ownSecond := newChannel(t, s, a.ID, "Support", "1001")

		// The first channel to prove the secret claims the app; claiming again changes nothing.
		require.NoError(t, s.ClaimApp(ctx, a.ID, owner.ID, now))
		require.NoError(t, s.ClaimApp(ctx, a.ID, owner.ID, now.Add(time.Hour)))
		got, err := s.GetChannel(ctx, a.ID, owner.ID)
		require.NoError(t, err)
		require.Equal(t, now.Truncate(time.Microsecond), got.AppClaimedAt)

		// Any other channel of the app is refused in the same words, of the owner's tenant or another.
		foreign := requireClaimConflict(t, s.ClaimApp(ctx, b.ID, squatter.ID, now), aicc.EAPPCONNECTED, "appId")
		own := requireClaimConflict(t, s.ClaimApp(ctx, a.ID, ownSecond.ID, now), aicc.EAPPCONNECTED, "appId")
		require.Equal(t, own, foreign)
		require.Equal(t, aicc.MsgAppConnected, own.Message)
		for _, ch := range []*aicc.Channel{squatter, ownSecond} {
			got, err := s.GetChannel(ctx, ch.TenantID, ch.ID)
			require.NoError(t, err)
			require.Zero(t, got.AppClaimedAt, "a refused claim leaves nothing behind")
		}

		// A channel is claimed by its own tenant only; one being deleted claims nothing.
		requireCode(t, s.ClaimApp(ctx, a.ID, squatter.ID, now), aicc.ENOTFOUND)
		other := newChannel(t, s, a.ID, "Other", "3003")
		require.NoError(t, s.MarkChannelDeleting(ctx, other.ID, now))
		requireCode(t, s.ClaimApp(ctx, a.ID, other.ID, now), aicc.ECHANNELDELETING)

		// The owner's channel deleted, its app is free for whoever proves it next.
		require.NoError(t, s.DeleteChannel(ctx, a.ID, owner.ID))
		require.NoError(t, s.ClaimApp(ctx, b.ID, squatter.ID, now))
		requireCode(t, s.ClaimApp(ctx, a.ID, ownSecond.ID, now), aicc.EAPPCONNECTED)
	})
}

func TestClaimPage(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		a, b := newTenant(t, s, "a", now), newTenant(t, s, "b", now)
		ch := newChannel(t, s, a.ID, "Sales", "1001")
		ch2 := newChannel(t, s, a.ID, "Support", "1002")
		chB := newChannel(t, s, b.ID, "Squat", "2001")
		unproven := newChannel(t, s, b.ID, "Unproven", "2002")

		// The same Page ID on four channels, none claimed: each is its own Page.
		mine := addPage(t, s, ch, "100")
		addPage(t, s, ch2, "100")
		addPageWith(t, s, chB, "100", aicc.PageState{Status: aicc.PageSubscriptionFailed, Reason: aicc.EMETAUNAVAILABLE})
		addPage(t, s, unproven, "100")

		// A channel claims a Page only once it has claimed its app: that app's subscription would serve the
		// channel that holds it.
		refused := s.ClaimPage(ctx, b.ID, unproven.ID, "100", now)
		requireCode(t, refused, aicc.ECONFLICT)
		require.Equal(t, aicc.MsgAppNotClaimed, refused.(*aicc.Error).Message)
		for _, c := range []*aicc.Channel{ch, ch2, chB} {
			require.NoError(t, s.ClaimApp(ctx, c.TenantID, c.ID, now))
		}

		require.NoError(t, s.ClaimPage(ctx, a.ID, ch.ID, "100", now))
		require.NoError(t, s.ClaimPage(ctx, a.ID, ch.ID, "100", now.Add(time.Hour)), "claiming twice changes nothing")
		got, err := s.GetPage(ctx, a.ID, ch.ID, "100")
		require.NoError(t, err)
		want := *mine
		want.ClaimedAt = now.Truncate(time.Microsecond)
		require.Equal(t, &want, got)

		foreign := requireClaimConflict(t, s.ClaimPage(ctx, b.ID, chB.ID, "100", now), aicc.EPAGECONNECTED, "pageId")
		own := requireClaimConflict(t, s.ClaimPage(ctx, a.ID, ch2.ID, "100", now), aicc.EPAGECONNECTED, "pageId")
		require.Equal(t, own, foreign, "the same words whoever holds the claim")
		require.Equal(t, aicc.MsgPageConnected, own.Message)
		got, err = s.GetPage(ctx, b.ID, chB.ID, "100")
		require.NoError(t, err)
		require.Zero(t, got.ClaimedAt)

		// Each Page is named by tenant, channel and Page ID.
		for _, key := range [][3]string{{b.ID, ch.ID, "100"}, {a.ID, chB.ID, "100"}, {a.ID, ch.ID, "999"}} {
			requireCode(t, s.ClaimPage(ctx, key[0], key[1], key[2], now), aicc.ENOTFOUND)
		}
		// Other Pages are untouched by one's state: the unclaimed ones keep theirs.
		require.NoError(t, s.SetPageStatus(ctx, a.ID, ch.ID, "100", aicc.PageSubscribed, "", now))
		got, err = s.GetPage(ctx, b.ID, chB.ID, "100")
		require.NoError(t, err)
		require.Equal(t, aicc.PageSubscriptionFailed, got.State.Status)

		// Removed, the Page is free for whoever proves it next.
		require.NoError(t, s.RemovePage(ctx, a.ID, ch.ID, "100"))
		require.NoError(t, s.ClaimPage(ctx, b.ID, chB.ID, "100", now))
		requireCode(t, s.ClaimPage(ctx, a.ID, ch2.ID, "100", now), aicc.EPAGECONNECTED)
		// And so with the channel deleted.
		require.NoError(t, s.DeleteChannel(ctx, b.ID, chB.ID))
		require.NoError(t, s.ClaimPage(ctx, a.ID, ch2.ID, "100", now))
	})
}

// TestClaimsRace claims one app and one Page from many channels at once: exactly one of each wins.
func TestClaimsRace(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		const n = 8
		var appChannels, pageChannels []*aicc.Channel // the same app; each its own app, claimed, with the same Page
		for i := range n {
			tn := newTenant(t, s, "t"+string(rune('a'+i)), now)
			appChannels = append(appChannels, newChannel(t, s, tn.ID, "Sales", "1001"))
			ch := newChannel(t, s, tn.ID, "Support", "200"+string(rune('0'+i)))
			require.NoError(t, s.ClaimApp(ctx, tn.ID, ch.ID, now))
			addPage(t, s, ch, "100")
			pageChannels = append(pageChannels, ch)
		}
		var wg sync.WaitGroup
		appErrs, pageErrs := make([]error, n), make([]error, n)
		for i := range n {
			wg.Go(func() {
				appErrs[i] = s.ClaimApp(ctx, appChannels[i].TenantID, appChannels[i].ID, now)
				pageErrs[i] = s.ClaimPage(ctx, pageChannels[i].TenantID, pageChannels[i].ID, "100", now)
			})
		}
		wg.Wait()
		for _, errs := range []struct {
			code string
			errs []error
		}{{aicc.EAPPCONNECTED, appErrs}, {aicc.EPAGECONNECTED, pageErrs}} {
			won := 0
			for _, err := range errs.errs {
				if err == nil {
					won++
					continue
				}
				requireCode(t, err, errs.code)
			}
			require.Equal(t, 1, won, errs.code)
		}
	})
}
