package db_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/db"
	"github.com/aiccfb/aicc/db/dbtest"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
)

func TestMarkChannelDeleting(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		a, b := newTenant(t, s, "a", now), newTenant(t, s, "b", now)
		ch := newChannel(t, s, a.ID, "Sales", "1001")
		other := newChannel(t, s, a.ID, "Support", "1002")
		page := addPage(t, s, ch, "100")
		addPage(t, s, other, "200")
		before, err := s.GetChannel(ctx, a.ID, ch.ID)
		require.NoError(t, err)

		marked := now.Add(time.Hour)
		require.NoError(t, s.MarkChannelDeleting(ctx, ch.ID, marked))
		require.NoError(t, s.MarkChannelDeleting(ctx, ch.ID, marked.Add(time.Hour)), "marking twice is fine")
		requireCode(t, s.MarkChannelDeleting(ctx, "ch_missing", now), aicc.ENOTFOUND)
		want := *before
		want.Onboarding.Status, want.Onboarding.UpdatedAt = aicc.StatusDeleting, norm(marked)
		got, err := s.GetChannel(ctx, a.ID, ch.ID)
		require.NoError(t, err)
		require.Equal(t, &want, got, "only the status and its time change; the second mark changes nothing")

		later := now.Add(3 * time.Hour)
		changes := []struct {
			name   string
			change func(c *aicc.Channel, pageID string) error
		}{
			{"UpdateChannel", func(c *aicc.Channel, _ string) error {
				u := *c
				u.Name, u.UpdatedAt = c.Name+"_renamed", later
				return s.UpdateChannel(ctx, &u, c.UpdatedAt)
			}},
			{"SetOnboarding", func(c *aicc.Channel, _ string) error {
				return s.SetOnboarding(ctx, c.ID, aicc.Onboarding{Status: aicc.StatusActive, UpdatedAt: later})
			}},
			{"SetChannelSecret", func(c *aicc.Channel, _ string) error {
				owner := aicc.ChannelSecretOwner(c.ID, aicc.SecretAppSecret)
				return s.SetChannelSecret(ctx, c.ID, aicc.SecretAppSecret, keyring.Seal("rotated", owner, later))
			}},
			{"AddPage", func(c *aicc.Channel, pageID string) error {
				p := &aicc.Page{PageID: pageID + "1", ChannelID: c.ID, TenantID: c.TenantID, CreatedAt: later}
				return s.AddPage(ctx, p, keyring.Seal("token", aicc.PageTokenOwner(p.PageID), later))
			}},
			{"SetPageStatus", func(c *aicc.Channel, pageID string) error {
				return s.SetPageStatus(ctx, c.TenantID, c.ID, pageID, aicc.PageSubscribed, "", later)
			}},
			{"ClaimApp", func(c *aicc.Channel, _ string) error { return s.ClaimApp(ctx, c.TenantID, c.ID, later) }},
			{"ClaimPage", func(c *aicc.Channel, pageID string) error { // once the app is claimed
				return s.ClaimPage(ctx, c.TenantID, c.ID, pageID, later)
			}},
		}
		for _, c := range changes {
			requireCode(t, c.change(ch, page.PageID), aicc.ECHANNELDELETING)
		}
		wrongTenant := want
		wrongTenant.TenantID = b.ID
		requireCode(t, s.UpdateChannel(ctx, &wrongTenant, want.UpdatedAt), aicc.ENOTFOUND) // another tenant learns nothing

		// Nothing changed, and the reads still work.
		got, err = s.GetChannel(ctx, a.ID, ch.ID)
		require.NoError(t, err)
		require.Equal(t, &want, got)
		got, err = s.FindChannel(ctx, ch.ID)
		require.NoError(t, err)
		require.Equal(t, &want, got)
		listed, _, err := s.ListChannels(ctx, a.ID, aicc.ChannelFilter{Status: aicc.StatusDeleting})
		require.NoError(t, err)
		require.Equal(t, []*aicc.Channel{&want}, listed)
		pages, _, err := s.ListPages(ctx, a.ID, ch.ID, aicc.ListOptions{})
		require.NoError(t, err)
		require.Equal(t, []*aicc.Page{page}, pages, "no Page added, none changed")
		sealed, err := s.ChannelSecret(ctx, ch.ID, aicc.SecretAppSecret)
		require.NoError(t, err)
		value, err := keyring.Open(sealed, aicc.ChannelSecretOwner(ch.ID, aicc.SecretAppSecret))
		require.NoError(t, err)
		require.Equal(t, "app-secret-"+ch.ID, value)

		// The other channel takes every change.
		for _, c := range changes {
			require.NoError(t, c.change(other, "200"), c.name)
		}
		got, err = s.GetChannel(ctx, a.ID, other.ID)
		require.NoError(t, err)
		require.Equal(t, "Support_renamed", got.Name)
		require.Equal(t, aicc.StatusActive, got.Onboarding.Status)
		require.Equal(t, keyring.Fingerprint("rotated"), got.AppSecret.Fingerprint)
		otherPages, _, err := s.ListPages(ctx, a.ID, other.ID, aicc.ListOptions{})
		require.NoError(t, err)
		require.Equal(t, []string{"200", "2001"}, pageIDs(otherPages))
		require.Equal(t, aicc.PageSubscribed, otherPages[0].State.Status)

		// The deletion itself still runs.
		require.NoError(t, s.RemovePage(ctx, a.ID, ch.ID, page.PageID))
		require.NoError(t, s.DeleteChannel(ctx, a.ID, ch.ID))
		_, err = s.GetChannel(ctx, a.ID, ch.ID)
		requireCode(t, err, aicc.ENOTFOUND)
		_, err = s.ChannelSecret(ctx, ch.ID, aicc.SecretAppSecret)
		requireCode(t, err, aicc.ENOTFOUND)
		requireCode(t, s.MarkChannelDeleting(ctx, ch.ID, later), aicc.ENOTFOUND)
	})
}

func TestChannelsInStatus(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		a, b := newTenant(t, s, "a", now), newTenant(t, s, "b", now)
		// Whole seconds and fractions of different lengths, which SQLite stores as text of different lengths.
		base := now.Truncate(time.Second)
		before := base.Add(2 * time.Second)
		inStatus := func(tenantID, name string, status aicc.ChannelStatus, at time.Time) *aicc.Channel {
			t.Helper()
			ch := newChannel(t, s, tenantID, name, "app-"+name)
			require.NoError(t, s.SetOnboarding(ctx, ch.ID, aicc.Onboarding{Status: status, UpdatedAt: at}))
			got, err := s.GetChannel(ctx, tenantID, ch.ID)
			require.NoError(t, err)
			return got
		}
		p1 := inStatus(a.ID, "p1", aicc.StatusPending, base.Add(1250*time.Millisecond))
		p2 := inStatus(b.ID, "p2", aicc.StatusPending, base.Add(500*time.Millisecond))
		p3 := inStatus(a.ID, "p3", aicc.StatusPending, base)
		p4 := inStatus(b.ID, "p4", aicc.StatusPending, base) // the same time as p3: the ID breaks the tie
		inStatus(a.ID, "at-before", aicc.StatusPending, before)
		inStatus(b.ID, "after", aicc.StatusPending, before.Add(time.Hour))
		active := inStatus(a.ID, "active", aicc.StatusActive, base)
		deleting := inStatus(b.ID, "deleting", aicc.StatusActive, base)
		require.NoError(t, s.MarkChannelDeleting(ctx, deleting.ID, base.Add(time.Second)))
		deleting, err := s.GetChannel(ctx, b.ID, deleting.ID)
		require.NoError(t, err)

		oldest := []*aicc.Channel{p3, p4}
		slices.SortFunc(oldest, func(x, y *aicc.Channel) int { return strings.Compare(x.ID, y.ID) })
		want := append(oldest, p2, p1)
		for _, tc := range []struct {
			status aicc.ChannelStatus
			limit  int
			want   []*aicc.Channel
		}{
			{aicc.StatusPending, 10, want},
			{aicc.StatusPending, 3, want[:3]},
			{aicc.StatusPending, 1, want[:1]},
			{aicc.StatusDeleting, 10, []*aicc.Channel{deleting}},
			{aicc.StatusActive, 10, []*aicc.Channel{active}}, // not the one marked deleting since
			{aicc.StatusFailed, 10, []*aicc.Channel{}},
		} {
			got, err := s.ChannelsInStatus(ctx, tc.status, before, tc.limit)
			require.NoError(t, err)
			require.Equal(t, tc.want, got, "%s, limit %d", tc.status, tc.limit)
		}
		got, err := s.ChannelsInStatus(ctx, aicc.StatusPending, base, 10)
		require.NoError(t, err)
		require.Empty(t, got, "before is exclusive")
	})
}

func TestPagesInStatus(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		a, b := newTenant(t, s, "a", now), newTenant(t, s, "b", now)
		chA := newChannel(t, s, a.ID, "Sales", "1001")
		chA2 := newChannel(t, s, a.ID, "Support", "1002")
		chB := newChannel(t, s, b.ID, "Sales", "2001")
		gone := newChannel(t, s, b.ID, "Gone", "2002")
		base := now.Truncate(time.Second)
		before := base.Add(2 * time.Second)
		page := func(ch *aicc.Channel, id string, status aicc.PageStatus, at time.Time) *aicc.Page {
			t.Helper()
			return addPageWith(t, s, ch, id, aicc.PageState{Status: status, UpdatedAt: at})
		}
		p1 := page(chA, "101", aicc.PageConnecting, base.Add(1250*time.Millisecond))
		p2 := page(chB, "102", aicc.PageConnecting, base.Add(500*time.Millisecond))
		p3 := page(chA2, "104", aicc.PageConnecting, base)
		p4 := page(chA, "103", aicc.PageConnecting, base) // the same time as p3: the Page ID breaks the tie
		page(chB, "105", aicc.PageConnecting, before)
		page(chA, "106", aicc.PageConnecting, before.Add(time.Hour))
		subscribed := page(chB, "107", aicc.PageSubscribed, base)
		page(gone, "108", aicc.PageConnecting, base) // its channel is being deleted: the deletion handles it
		require.NoError(t, s.MarkChannelDeleting(ctx, gone.ID, base))
		// A Page that moves into a status counts from the move.
		moved := page(chB, "109", aicc.PageSubscribed, base)
		require.NoError(t, s.SetPageStatus(ctx, b.ID, chB.ID, moved.PageID, aicc.PageConnecting, "", base.Add(time.Second)))
		moved, err := s.GetPage(ctx, b.ID, chB.ID, moved.PageID)
		require.NoError(t, err)

		want := []*aicc.Page{p4, p3, p2, moved, p1}
		for _, tc := range []struct {
			status aicc.PageStatus
			limit  int
			want   []*aicc.Page
		}{
			{aicc.PageConnecting, 10, want},
			{aicc.PageConnecting, 2, want[:2]},
			{aicc.PageSubscribed, 10, []*aicc.Page{subscribed}},
			{aicc.PageSubscriptionFailed, 10, []*aicc.Page{}},
		} {
			got, err := s.PagesInStatus(ctx, tc.status, before, tc.limit)
			require.NoError(t, err)
			require.Equal(t, tc.want, got, "%s, limit %d", tc.status, tc.limit)
		}
		got, err := s.PagesInStatus(ctx, aicc.PageConnecting, base, 10)
		require.NoError(t, err)
		require.Empty(t, got, "before is exclusive")
	})
}

// TestChangeWaitsForDeletingMark shows that a change reads the channel's status under a row lock on Postgres:
// while a mark is uncommitted, AddPage waits for it and then refuses. A plain read would see the old status
// and add a Page that the deletion, listing the Pages after the mark, would never remove.
func TestChangeWaitsForDeletingMark(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		if s.Dialect() == db.SQLite {
			t.Skip("SQLite runs one write transaction at a time: no change can run beside an uncommitted mark")
		}
		ctx := context.Background()
		ch := newChannel(t, s, newTenant(t, s, "a", now).ID, "Sales", "1001")
		// MarkChannelDeleting, stopped before COMMIT.
		mark, markPID := uncommitted(t, s, "UPDATE channels SET status = ? WHERE id = ?", string(aicc.StatusDeleting), ch.ID)

		added := make(chan error, 1)
		go func() {
			p := &aicc.Page{PageID: "100", ChannelID: ch.ID, TenantID: ch.TenantID}
			added <- s.AddPage(ctx, p, keyring.Seal("token", aicc.PageTokenOwner("100"), now))
		}()
		waitBlockedBy(t, s, markPID, added, "AddPage", "the mark")
		require.NoError(t, mark.Commit())
		requireCode(t, <-added, aicc.ECHANNELDELETING)
		_, err := s.GetPage(ctx, ch.TenantID, ch.ID, "100")
		requireCode(t, err, aicc.ENOTFOUND)
	})
}

// uncommitted runs query in a transaction of its own, left open to hold its row locks (rolled back when the test
// ends), and returns it with its Postgres backend's PID.
func uncommitted(tb testing.TB, s *db.Store, query string, args ...any) (bun.Tx, int) {
	tb.Helper()
	ctx := context.Background()
	tx, err := s.DB().BeginTx(ctx, nil)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = tx.Rollback() })
	_, err = tx.ExecContext(ctx, query, args...)
	require.NoError(tb, err)
	var pid int
	require.NoError(tb, tx.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid))
	return tx, pid
}

// waitBlockedBy waits until a statement waits for a lock that the Postgres backend pid holds; the test fails
// when the statement under test (what, whose result comes on done) returns first, not waiting for holder.
func waitBlockedBy[T any](tb testing.TB, s *db.Store, pid int, done <-chan T, what, holder string) {
	tb.Helper()
	// Asked outside the holder's transaction, where pg_stat_activity would stay the snapshot of its first read.
	deadline := time.Now().Add(10 * time.Second)
	for blocked := false; !blocked; {
		select {
		case r := <-done:
			tb.Fatalf("%s did not wait for %s: %v", what, holder, r)
		case <-time.After(10 * time.Millisecond):
		}
		require.True(tb, time.Now().Before(deadline), "%s never waited on the lock of %s", what, holder)
		err := s.DB().QueryRowContext(context.Background(), "SELECT EXISTS (SELECT 1 FROM pg_stat_activity "+
			"WHERE ? = ANY (pg_blocking_pids(pid)))", pid).Scan(&blocked)
		require.NoError(tb, err)
	}
}

// TestConcurrentChangesQueue runs changes of one channel at once. Each reads the status under the row lock its
// UPDATE takes, so they queue; a weaker read lock (FOR SHARE) that the UPDATE must upgrade deadlocks two of
// them on Postgres (40P01).
func TestConcurrentChangesQueue(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		ch := newChannel(t, s, newTenant(t, s, "a", now).ID, "Sales", "1001")
		var wg sync.WaitGroup
		errs := make(chan error, 40)
		for i := range 8 {
			wg.Go(func() {
				for j := range 5 {
					at := now.Add(time.Duration(i*5+j) * time.Second)
					errs <- s.SetOnboarding(ctx, ch.ID, aicc.Onboarding{Status: aicc.StatusActive, UpdatedAt: at})
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
	})
}

func pageIDs(pages []*aicc.Page) []string {
	ids := []string{}
	for _, p := range pages {
		ids = append(ids, p.PageID)
	}
	return ids
}
