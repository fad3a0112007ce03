package db_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/db"
	"github.com/aiccfb/aicc/db/dbtest"
)

func TestDeadLetters(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		list := func(tenantID string) func(aicc.ListOptions) ([]aicc.InboxEvent, string, error) {
			return func(opt aicc.ListOptions) ([]aicc.InboxEvent, string, error) {
				return s.DeadLetters(ctx, tenantID, opt)
			}
		}
		got, next, err := s.DeadLetters(ctx, "ten_1", aicc.ListOptions{})
		require.NoError(t, err)
		require.Empty(t, got)
		require.Empty(t, next)

		// ten_1 has five events in two conversations, ten_2 one; four of ten_1's and ten_2's die.
		var events []aicc.InboxEvent
		for i := range 5 {
			events = append(events, event("ch_1", "p1", fmt.Sprintf("u%d", i%2), fmt.Sprintf("m%d", i), int64(100-i)))
		}
		foreign := event("ch_9", "p9", "u1", "x1", 1)
		foreign.TenantID = "ten_2"
		events = append(events, foreign)
		_, err = s.StoreEvents(ctx, events)
		require.NoError(t, err)
		foreign = events[5]
		requireUndelivered(t, s, 6)
		dead := []aicc.InboxEvent{events[0], events[1], events[3], events[4]}
		for _, e := range append(dead, foreign) {
			kill(t, s, e, "signal refused: "+e.MID)
		}
		requireUndelivered(t, s, 1)

		// The latest first, by inbox ID, whatever Meta's timestamps; every page as the store keeps the event.
		all := listAll(t, 3, list("ten_1"))
		require.Equal(t, []int64{events[4].ID, events[3].ID, events[1].ID, events[0].ID}, ids(all))
		for i, e := range all {
			require.Equal(t, "ten_1", e.TenantID)
			require.Equal(t, 1, e.Attempts)
			require.Equal(t, "signal refused: "+e.MID, e.LastError)
			require.False(t, e.DeadAt.IsZero())
			require.True(t, e.DeliveredAt.IsZero())
			require.Equal(t, "text of "+e.MID, e.Text, "event %d", i)
		}
		require.Equal(t, all, listAll(t, 1, list("ten_1")))
		require.Equal(t, all, listAll(t, aicc.MaxListLimit+1, list("ten_1")), "the limit is capped, not refused")
		require.Equal(t, ids([]aicc.InboxEvent{foreign}), ids(listAll(t, 10, list("ten_2"))))
		require.Empty(t, listAll(t, 10, list("ten_3")))

		// A cursor of another list, or none at all, is refused.
		_, convNext, err := s.ConversationEvents(ctx, "ten_1", saveConversation(t, s, events[0].Conversation()),
			aicc.ListOptions{Limit: 1})
		require.NoError(t, err)
		require.NotEmpty(t, convNext)
		for _, c := range []string{"nope!", convNext, "e30"} {
			_, _, err = s.DeadLetters(ctx, "ten_1", aicc.ListOptions{Cursor: c})
			requireField(t, err, aicc.EINVALID, "cursor")
		}

		// Another tenant's dead letter, a pending event and an unknown ID are not found, and stay as they are.
		for _, id := range []int64{foreign.ID, events[2].ID, events[5].ID + 1000, 0} {
			_, err := s.RetryDeadLetter(ctx, "ten_1", id)
			requireCode(t, err, aicc.ENOTFOUND)
		}
		require.Len(t, listAll(t, 10, list("ten_2")), 1)
		requireUndelivered(t, s, 1)

		// A retry makes the dead letter pending with no attempt and no error; a second retry finds no dead letter.
		retried, err := s.RetryDeadLetter(ctx, "ten_1", events[1].ID)
		require.NoError(t, err)
		want := all[2]
		want.Attempts, want.LastError, want.DeadAt = 0, "", retried.DeadAt
		require.Equal(t, want, *retried)
		require.True(t, retried.DeadAt.IsZero())
		_, err = s.RetryDeadLetter(ctx, "ten_1", events[1].ID)
		requireCode(t, err, aicc.ENOTFOUND)
		requireUndelivered(t, s, 2)
		pending, err := s.HasUnappliedEvents(ctx, "ten_1", events[1].Conversation(), events[4].ID)
		require.NoError(t, err)
		require.True(t, pending)
		require.Equal(t, []int64{events[4].ID, events[3].ID, events[0].ID}, ids(listAll(t, 10, list("ten_1"))))
	})
}

func TestRetryDeadLetterIsAudited(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		events := []aicc.InboxEvent{event("ch_1", "p1", "u1", "m1", 1), event("ch_1", "p1", "u1", "m2", 2)}
		_, err := s.StoreEvents(ctx, events)
		require.NoError(t, err)
		kill(t, s, events[0], "boom")
		target := func(e aicc.InboxEvent) aicc.AuditTarget {
			return aicc.AuditTarget{Type: aicc.TargetDeadLetter, ID: fmt.Sprint(e.ID)}
		}

		// The retry joins the audit transaction, and may name the event's channel in the entry.
		e := auditEntry("ten_1", "", aicc.AuditDeadLetterRetry, target(events[0]))
		require.NoError(t, s.Audited(ctx, e, func(ctx context.Context) error {
			ev, err := s.RetryDeadLetter(ctx, "ten_1", events[0].ID)
			if err == nil {
				e.ChannelID = ev.ChannelID
			}
			return err
		}))
		require.Equal(t, []*aicc.AuditEntry{e}, listAudit(t, s, aicc.AuditFilter{TenantID: "ten_1", ChannelID: "ch_1"}))
		requireUndelivered(t, s, 2)

		// A retry that finds no dead letter leaves no entry.
		err = s.Audited(ctx, auditEntry("ten_1", "", aicc.AuditDeadLetterRetry, target(events[1])),
			func(ctx context.Context) error {
				_, err := s.RetryDeadLetter(ctx, "ten_1", events[1].ID)
				return err
			})
		requireCode(t, err, aicc.ENOTFOUND)
		require.Len(t, listAudit(t, s, aicc.AuditFilter{TenantID: "ten_1"}), 1)
	})
}

// kill makes the stored event a dead letter after one failed attempt, as the dispatcher's FailDelivery leaves
// it; written directly, so that these tests check the dead-letter routes alone.
func kill(tb testing.TB, s *db.Store, e aicc.InboxEvent, why string) {
	tb.Helper()
	res, err := s.DB().NewRaw("UPDATE inbox SET attempts = 1, last_error = ?, dead_at = ? WHERE id = ? AND dead_at IS NULL",
		why, now, e.ID).Exec(context.Background())
	require.NoError(tb, err)
	n, err := res.RowsAffected()
	require.NoError(tb, err)
	require.EqualValues(tb, 1, n, "event %d", e.ID)
}
