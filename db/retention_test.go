package db_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/db"
	"github.com/aiccfb/aicc/db/dbtest"
)

func TestPurgeInbox(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		const day = 24 * time.Hour
		store := func(n int, prefix string, receivedAt time.Time) []aicc.InboxEvent {
			t.Helper()
			events := make([]aicc.InboxEvent, n)
			for i := range events {
				events[i] = event("ch_1", "p1", fmt.Sprintf("u%d", i%2), fmt.Sprintf("%s%d", prefix, i), int64(i))
				events[i].ReceivedAt = receivedAt
			}
			_, err := s.StoreEvents(ctx, events)
			require.NoError(t, err)
			return events
		}
		deliver := func(events []aicc.InboxEvent, at time.Time) {
			t.Helper()
			require.NoError(t, s.MarkDelivered(ctx, "test", ids(events), nil, at))
		}
		purge := func(deliveredBefore, deadBefore time.Time, limit int) int {
			t.Helper()
			n, err := s.PurgeInbox(ctx, deliveredBefore, deadBefore, limit)
			require.NoError(t, err)
			return n
		}

		oldDelivered := store(5, "old", now.Add(-41*day))
		deliver(oldDelivered, now.Add(-40*day))
		recent := store(2, "recent", now.Add(-2*day))
		deliver(recent, now.Add(-day))
		// Pending events older than any cut-off, one of them after a failed attempt, are never purged.
		oldPending := store(2, "pending", now.Add(-400*day))
		// Failed as a dispatcher fails it, under the conversation's lease; retried at once, as the test claims it
		// again.
		_, err := s.ClaimConversations(ctx, "test", 10, 10, time.Millisecond)
		require.NoError(t, err)
		_, err = s.FailDelivery(ctx, aicc.DeliveryFailure{Owner: "test", Conversation: oldPending[0].Conversation(),
			IDs: ids(oldPending[:1]), Error: "signal refused", MaxAttempts: 10})
		require.NoError(t, err)
		var attempts int
		require.NoError(t, s.DB().NewRaw("SELECT attempts FROM inbox WHERE id = ?", oldPending[0].ID).Scan(ctx, &attempts))
		require.Equal(t, 1, attempts)
		dead := store(2, "dead", now.Add(-400*day))
		for _, e := range dead {
			kill(t, s, e, "poison") // dead at now
		}
		requireUndelivered(t, s, 2)

		require.Zero(t, purge(now, now, 0), "no limit, nothing deleted")
		require.Zero(t, purge(time.Time{}, time.Time{}, 10), "zero times delete nothing")

		// Delivered more than 30 days ago, in batches of at most 2; the dead letters are younger than their age.
		cutoff, deadCutoff := now.Add(-30*day), now.Add(-time.Hour)
		require.Equal(t, 2, purge(cutoff, deadCutoff, 2))
		require.Equal(t, 2, purge(cutoff, deadCutoff, 2))
		require.Equal(t, 1, purge(cutoff, deadCutoff, 2), "the last batch is short")
		require.Zero(t, purge(cutoff, deadCutoff, 2))
		require.Equal(t, ids(concat(recent, oldPending, dead)), inboxIDs(t, s))
		requireUndelivered(t, s, 2)

		// Dead letters go by their own age; a zero delivery cut-off keeps every delivered event.
		require.Equal(t, 2, purge(time.Time{}, now.Add(time.Millisecond), 10))
		require.Equal(t, ids(concat(recent, oldPending)), inboxIDs(t, s))

		// Both kinds in one batch, bounded all the same; the pending events stay claimable.
		more := store(3, "more", now.Add(-61*day))
		deliver(more[:2], now.Add(-60*day))
		kill(t, s, more[2], "poison")
		require.Equal(t, 2, purge(cutoff, now.Add(time.Millisecond), 2))
		require.Equal(t, 1, purge(cutoff, now.Add(time.Millisecond), 2))
		require.Equal(t, 2, purge(now, time.Time{}, 10), "the recent ones, once older than the cut-off")
		require.Equal(t, ids(oldPending), inboxIDs(t, s))
		require.Equal(t, ids(oldPending), ids(claim(t, s, "test-2", 10, 10)))
	})
}

// A dead letter that a retry makes pending while a purge deletes it stays: on Postgres the purge's DELETE waits
// for the retry's row lock, then must look at the row anew. (SQLite runs one write at a time.)
func TestPurgeSparesADeadLetterRetriedMeanwhile(t *testing.T) {
	s := dbtest.Postgres(t)
	ctx := context.Background()
	events := []aicc.InboxEvent{event("ch_1", "p1", "u1", "m1", 1)}
	_, err := s.StoreEvents(ctx, events)
	require.NoError(t, err)
	kill(t, s, events[0], "poison")
	// RetryDeadLetter, stopped before COMMIT.
	retry, retryPID := uncommitted(t, s, "UPDATE inbox SET dead_at = NULL, attempts = 0 WHERE id = ?", events[0].ID)

	type result struct {
		n   int
		err error
	}
	purged := make(chan result, 1)
	go func() {
		n, err := s.PurgeInbox(ctx, time.Time{}, now.Add(time.Hour), 10)
		purged <- result{n, err}
	}()
	waitBlockedBy(t, s, retryPID, purged, "the purge", "the retry")
	require.NoError(t, retry.Commit())
	r := <-purged
	require.NoError(t, r.err)
	require.Zero(t, r.n)
	require.Equal(t, ids(events), inboxIDs(t, s))
	requireUndelivered(t, s, 1)
}

// inboxIDs lists the IDs of every inbox row, in order.
func inboxIDs(tb testing.TB, s *db.Store) []int64 {
	tb.Helper()
	var got []int64
	require.NoError(tb, s.DB().NewSelect().TableExpr("inbox").Column("id").OrderExpr("id").Scan(context.Background(), &got))
	return got
}

func concat(lists ...[]aicc.InboxEvent) []aicc.InboxEvent {
	var all []aicc.InboxEvent
	for _, l := range lists {
		all = append(all, l...)
	}
	return all
}
