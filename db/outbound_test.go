package db_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/db"
	"github.com/aiccfb/aicc/db/dbtest"
)

// outbound returns a new record of message seq of the conversation cv_1 of tenant ten_1.
func outbound(seq int, at time.Time) *aicc.OutboundRecord {
	return &aicc.OutboundRecord{
		ID: fmt.Sprintf("cv_1/%d", seq), TenantID: "ten_1", ChannelID: "ch_1", PageID: "104", PSID: "7001",
		ConversationID: "cv_1", Purpose: aicc.PurposeAgent, CreatedAt: at,
	}
}

// listOutbound lists every record of the tenant's conversation, two to a page.
func listOutbound(tb testing.TB, s *db.Store, tenantID, conversationID string) []*aicc.OutboundRecord {
	tb.Helper()
	return listAll(tb, 2, func(opt aicc.ListOptions) ([]*aicc.OutboundRecord, string, error) {
		return s.ListOutbound(context.Background(), tenantID, conversationID, opt)
	})
}

func TestOutbound(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()

		// A new message is claimed: "sending", one attempt.
		r := outbound(1, now)
		existing, err := s.BeginOutbound(ctx, r)
		require.NoError(t, err)
		require.Nil(t, existing)
		want := &aicc.OutboundRecord{
			ID: "cv_1/1", TenantID: "ten_1", ChannelID: "ch_1", PageID: "104", PSID: "7001", ConversationID: "cv_1",
			Purpose: aicc.PurposeAgent, Status: aicc.OutboundSending, Attempts: 1, CreatedAt: norm(now), UpdatedAt: norm(now),
		}
		require.Equal(t, want, r)

		// Begun again before it finished (the attempt's outcome is unknown): not claimed, returned as it is.
		existing, err = s.BeginOutbound(ctx, outbound(1, now.Add(time.Minute)))
		require.NoError(t, err)
		require.Equal(t, want, existing)

		// Sent: a retry gets the MID and is not claimed.
		sentAt := now.Add(2 * time.Second)
		require.NoError(t, s.FinishOutbound(ctx, "cv_1/1", aicc.OutboundSent, "m_1", "", sentAt))
		existing, err = s.BeginOutbound(ctx, outbound(1, now.Add(time.Minute)))
		require.NoError(t, err)
		want.Status, want.MID, want.UpdatedAt = aicc.OutboundSent, "m_1", norm(sentAt)
		require.Equal(t, want, existing)
		// A sent message keeps its outcome whatever a late attempt says.
		require.NoError(t, s.FinishOutbound(ctx, "cv_1/1", aicc.OutboundFailed, "", "META_UNAVAILABLE: late", now.Add(time.Hour)))
		require.NoError(t, s.FinishOutbound(ctx, "cv_1/1", aicc.OutboundAmbiguous, "", "late", now.Add(time.Hour)))
		require.Equal(t, []*aicc.OutboundRecord{want}, listOutbound(t, s, "ten_1", "cv_1"))

		// Failed (Meta refused or rate-limited it): nothing is at Meta, so it is claimed again, one attempt more.
		r2 := outbound(2, now.Add(time.Second))
		_, err = s.BeginOutbound(ctx, r2)
		require.NoError(t, err)
		require.NoError(t, s.FinishOutbound(ctx, r2.ID, aicc.OutboundFailed, "", "META_RATE_LIMITED: slow down", now.Add(2*time.Second)))
		again := outbound(2, now.Add(3*time.Second))
		existing, err = s.BeginOutbound(ctx, again)
		require.NoError(t, err)
		require.Nil(t, existing, "claimed again")
		require.Equal(t, aicc.OutboundSending, again.Status)
		require.Equal(t, 2, again.Attempts)
		require.Equal(t, norm(now.Add(time.Second)), again.CreatedAt, "created when first begun")
		require.Equal(t, norm(now.Add(3*time.Second)), again.UpdatedAt)
		require.Equal(t, "META_RATE_LIMITED: slow down", again.Error, "the last failure stays until the attempt ends")
		require.NoError(t, s.FinishOutbound(ctx, r2.ID, aicc.OutboundSent, "m_2", "", now.Add(4*time.Second)))

		// Ambiguous: never claimed again; an answer that comes late still tells the truth.
		r3 := outbound(3, now.Add(2*time.Second))
		_, err = s.BeginOutbound(ctx, r3)
		require.NoError(t, err)
		require.NoError(t, s.FinishOutbound(ctx, r3.ID, aicc.OutboundAmbiguous, "", "AMBIGUOUS_SEND: timed out", now.Add(5*time.Second)))
		existing, err = s.BeginOutbound(ctx, outbound(3, now.Add(6*time.Second)))
		require.NoError(t, err)
		require.Equal(t, aicc.OutboundAmbiguous, existing.Status)
		require.Equal(t, "AMBIGUOUS_SEND: timed out", existing.Error)
		require.Equal(t, 1, existing.Attempts)
		require.NoError(t, s.FinishOutbound(ctx, r3.ID, aicc.OutboundSent, "m_3", "", now.Add(7*time.Second)))

		got := listOutbound(t, s, "ten_1", "cv_1")
		require.Len(t, got, 3)
		for i, w := range []struct {
			id, mid  string
			attempts int
		}{{"cv_1/1", "m_1", 1}, {"cv_1/2", "m_2", 2}, {"cv_1/3", "m_3", 1}} {
			require.Equal(t, w.id, got[i].ID, "the oldest first")
			require.Equal(t, aicc.OutboundSent, got[i].Status)
			require.Equal(t, w.mid, got[i].MID)
			require.Equal(t, w.attempts, got[i].Attempts)
			require.Empty(t, got[i].Error, "a success clears the error")
		}

		// Tenants: another tenant's ID is a conflict and leaves the record alone; its lists are its own.
		other := outbound(1, now)
		other.TenantID = "ten_2"
		_, err = s.BeginOutbound(ctx, other)
		require.Equal(t, aicc.ECONFLICT, aicc.ErrorCode(err))
		require.Empty(t, listOutbound(t, s, "ten_2", "cv_1"))
		require.Empty(t, listOutbound(t, s, "ten_1", "cv_2"))

		// Errors.
		require.Equal(t, aicc.ENOTFOUND, aicc.ErrorCode(s.FinishOutbound(ctx, "cv_1/99", aicc.OutboundSent, "m", "", now)))
		require.Equal(t, aicc.EINVALID, aicc.ErrorCode(s.FinishOutbound(ctx, "cv_1/1", aicc.OutboundSent, "", "", now)))
		require.Equal(t, aicc.EINVALID, aicc.ErrorCode(s.FinishOutbound(ctx, "cv_1/1", aicc.OutboundSending, "", "", now)))
		bad := outbound(4, now)
		bad.Purpose = "marketing"
		_, err = s.BeginOutbound(ctx, bad)
		require.Equal(t, aicc.EINVALID, aicc.ErrorCode(err))
		_, _, err = s.ListOutbound(ctx, "ten_1", "cv_1", aicc.ListOptions{Cursor: "nope"})
		require.Equal(t, aicc.EINVALID, aicc.ErrorCode(err))
	})
}

func TestOutboundErrorText(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		r := outbound(1, time.Time{})
		_, err := s.BeginOutbound(ctx, r)
		require.NoError(t, err)
		require.False(t, r.CreatedAt.IsZero(), "a zero creation time is now")
		long := "a\x00b" + strings.Repeat("é", 2_000)
		require.NoError(t, s.FinishOutbound(ctx, r.ID, aicc.OutboundFailed, "", long, time.Time{}))
		got := listOutbound(t, s, "ten_1", "cv_1")
		require.Len(t, got, 1)
		require.Equal(t, "ab"+strings.Repeat("é", 998), got[0].Error, "without NULs, cut to 1,000 characters")
	})
}

// Attempts racing for a failed message: exactly one claims it, the others see it being sent.
func TestOutboundClaimRace(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		_, err := s.BeginOutbound(ctx, outbound(1, now))
		require.NoError(t, err)
		require.NoError(t, s.FinishOutbound(ctx, "cv_1/1", aicc.OutboundFailed, "", "META_RATE_LIMITED", now))

		const n = 8
		existing := make([]*aicc.OutboundRecord, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { existing[i], errs[i] = s.BeginOutbound(ctx, outbound(1, now.Add(time.Second))) })
		}
		wg.Wait()
		claimed := 0
		for i := range n {
			require.NoError(t, errs[i])
			if existing[i] == nil {
				claimed++
				continue
			}
			require.Equal(t, aicc.OutboundSending, existing[i].Status)
		}
		require.Equal(t, 1, claimed)
		got := listOutbound(t, s, "ten_1", "cv_1")
		require.Equal(t, 2, got[0].Attempts)
	})
}
