package db_test

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/db"
	"github.com/aiccfb/aicc/db/dbtest"
	"github.com/stretchr/testify/require"
)

func TestStoreEvents(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		dup, err := s.StoreEvents(ctx, nil)
		require.NoError(t, err)
		require.Zero(t, dup)

		e1 := event("ch_1", "p1", "u1", "m1", 100)
		// The payload is kept byte for byte: key order, spaces, escapes and a NUL that text columns refuse.
		e1.Payload = []byte(`{ "timestamp":100,"sender" : {"id":"u1"},"message":{"mid":"m1","text":"a\u0000b"}}`)
		e1.Text = "a\x00b"
		e1.ReceivedAt = now
		e2 := event("ch_1", "p1", "u1", "m2", 200)
		e1again := event("ch_1", "p1", "u1", "m1", 100)
		e1again.Text = "Meta's retry"
		samekeyOtherPage := event("ch_1", "p2", "u1", "m1", 100)
		batch := []aicc.InboxEvent{e1, e2, e1again, samekeyOtherPage}
		dup, err = s.StoreEvents(ctx, batch)
		require.NoError(t, err)
		require.Equal(t, 1, dup, "the same key twice in a batch is one event")
		require.Positive(t, batch[0].ID)
		require.Greater(t, batch[1].ID, batch[0].ID)
		require.Zero(t, batch[2].ID, "a duplicate gets no ID")
		require.Greater(t, batch[3].ID, batch[1].ID)
		require.Equal(t, norm(now), batch[0].ReceivedAt)
		require.False(t, batch[1].ReceivedAt.IsZero(), "a zero ReceivedAt is now")

		e3 := event("ch_1", "p1", "u1", "m3", 50)
		again := []aicc.InboxEvent{e2, e3, e1}
		dup, err = s.StoreEvents(ctx, again)
		require.NoError(t, err)
		require.Equal(t, 2, dup, "events stored by an earlier call are duplicates")
		require.Equal(t, []int64{0, again[1].ID, 0}, ids(again))
		require.Greater(t, again[1].ID, batch[3].ID)

		want := []aicc.InboxEvent{again[1], batch[0], batch[1], batch[3]} // by conversation, timestamp, ID
		want[1].Text = "ab"                                               // NULs are dropped from text
		got := claim(t, s, "test", 10, 100)
		require.Equal(t, want, got)
		require.Equal(t, e1.Payload, got[1].Payload)
	})
}

func TestStoreEventsIsAtomic(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		bad := event("ch_1", "p1", "u1", "", 2)
		bad.DedupKey = "" // refused by the database: keyless events would all be duplicates of the first
		_, err := s.StoreEvents(ctx, []aicc.InboxEvent{event("ch_1", "p1", "u1", "m1", 1), bad, event("ch_1", "p1", "u1", "m3", 3)})
		require.Error(t, err)
		require.Equal(t, aicc.EINTERNAL, aicc.ErrorCode(err), "a database error is no domain error: %v", err)
		requireUndelivered(t, s, 0)

		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		_, err = s.StoreEvents(cancelled, []aicc.InboxEvent{event("ch_1", "p1", "u1", "m1", 1)})
		require.ErrorIs(t, err, context.Canceled)
		requireUndelivered(t, s, 0)

		dup, err := s.StoreEvents(ctx, []aicc.InboxEvent{event("ch_1", "p1", "u1", "m1", 1)})
		require.NoError(t, err)
		require.Zero(t, dup, "nothing of the failed batches was stored")
		requireUndelivered(t, s, 1)
	})
}

// A batch larger than one SQLite statement (16 events) is one transaction all the same: a bad event in its
// last statement stores nothing, and a repeat in a later statement is a duplicate of the event of an earlier one.
func TestStoreEventsManyStatements(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		batch := make([]aicc.InboxEvent, 100)
		for i := range batch {
			batch[i] = event("ch_1", "p1", fmt.Sprint("u", i%7), fmt.Sprint("m", i), int64(i))
		}
		bad := slices.Clone(batch)
		bad[99].DedupKey = ""
		_, err := s.StoreEvents(ctx, bad)
		require.Error(t, err)
		requireUndelivered(t, s, 0)

		batch[80] = event("ch_1", "p1", "u3", "m3", 3) // the event of batch[3], in the sixth statement
		dup, err := s.StoreEvents(ctx, batch)
		require.NoError(t, err)
		require.Equal(t, 1, dup)
		require.Zero(t, batch[80].ID)
		require.Positive(t, batch[3].ID)
		require.Greater(t, batch[99].ID, batch[40].ID)
		requireUndelivered(t, s, 99)
	})
}

func TestClaimAndDeliver(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		st, err := s.InboxStats(ctx)
		require.NoError(t, err)
		require.Equal(t, aicc.InboxStats{}, st)
		require.Empty(t, claim(t, s, "a", 10, 100))

		// Conversation u1's events are stored out of timestamp order; two share a timestamp and go by ID.
		var events []aicc.InboxEvent
		for i, ts := range []int64{300, 100, 200, 100} {
			e := event("ch_1", "p1", "u1", fmt.Sprintf("m%d", i), ts)
			e.ReceivedAt = now.Add(time.Duration(i) * time.Second)
			events = append(events, e)
		}
		events = append(events, event("ch_1", "p1", "u2", "m4", 50))
		_, err = s.StoreEvents(ctx, events)
		require.NoError(t, err)
		u1 := []aicc.InboxEvent{events[1], events[3], events[2], events[0]}
		convU1, convU2 := events[0].Conversation(), events[4].Conversation()

		a := claim(t, s, "a", 10, 100)
		require.Equal(t, append(slices.Clone(u1), events[4]), a, "grouped by conversation, each by timestamp then ID")
		require.Empty(t, claim(t, s, "b", 10, 100), "leased conversations are not claimed again")

		lateBatch := []aicc.InboxEvent{event("ch_1", "p1", "u1", "m5", 10)}
		_, err = s.StoreEvents(ctx, lateBatch)
		require.NoError(t, err)
		late := lateBatch[0]
		require.Empty(t, claim(t, s, "b", 10, 100), "a new event of a leased conversation waits for the lease")

		n, err := s.ExtendLeases(ctx, "a", []aicc.ConversationKey{convU1, convU2}, time.Minute)
		require.NoError(t, err)
		require.Equal(t, 2, n)
		n, err = s.ExtendLeases(ctx, "b", []aicc.ConversationKey{convU1}, time.Minute)
		require.NoError(t, err)
		require.Zero(t, n, "only the owner extends a lease")

		delivered := now.Add(2 * time.Minute)
		require.NoError(t, s.MarkDelivered(ctx, "a", ids(u1[:2]), nil, delivered))
		require.Empty(t, claim(t, s, "b", 10, 100), "marking alone keeps the lease")
		require.NoError(t, s.MarkDelivered(ctx, "a", append(ids(u1), 999999), []aicc.ConversationKey{convU1, convU2},
			delivered.Add(time.Hour)), "again, and unknown")
		require.NoError(t, s.MarkDelivered(ctx, "a", nil, nil, delivered))
		st, err = s.InboxStats(ctx)
		require.NoError(t, err)
		require.Equal(t, 2, st.Undelivered)

		b := claim(t, s, "b", 10, 1)
		require.Equal(t, ids([]aicc.InboxEvent{events[4]}), ids(b[1:]))
		require.Equal(t, late.ID, b[0].ID, "released conversations are claimed again, with what came meanwhile")
		require.NoError(t, s.MarkDelivered(ctx, "b", ids(b), []aicc.ConversationKey{convU1, convU2}, time.Time{}))
		st, err = s.InboxStats(ctx)
		require.NoError(t, err)
		require.Equal(t, aicc.InboxStats{}, st)
		require.Empty(t, claim(t, s, "b", 10, 100), "delivered events never come back")

		conv := &aicc.Conversation{TenantID: "ten_1", ChannelID: "ch_1", PageID: "p1", PSID: "u1", UpdatedAt: now}
		require.NoError(t, s.SaveConversation(ctx, conv))
		all, _, err := s.ConversationEvents(ctx, "ten_1", conv.ID, aicc.ListOptions{})
		require.NoError(t, err)
		require.Equal(t, append([]int64{late.ID}, ids(u1)...), ids(all))
		require.Equal(t, norm(delivered), all[1].DeliveredAt, "the first delivery time stays")
		require.Equal(t, norm(delivered), all[2].DeliveredAt)
		require.Equal(t, norm(delivered.Add(time.Hour)), all[3].DeliveredAt)
	})
}

func TestClaimPerConversationLimit(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		events := []aicc.InboxEvent{event("ch_1", "p1", "u1", "m1", 30), event("ch_1", "p1", "u1", "m2", 20),
			event("ch_1", "p1", "u1", "m3", 10)}
		_, err := s.StoreEvents(ctx, events)
		require.NoError(t, err)
		got := claim(t, s, "a", 10, 2)
		require.Equal(t, []int64{events[2].ID, events[1].ID}, ids(got), "the oldest by timestamp")
		require.NoError(t, s.MarkDelivered(ctx, "a", ids(got), []aicc.ConversationKey{events[0].Conversation()}, time.Time{}))
		require.Equal(t, []int64{events[0].ID}, ids(claim(t, s, "b", 10, 2)))
	})
}

func TestLeaseExpires(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		e := event("ch_1", "p1", "u1", "m1", 1)
		_, err := s.StoreEvents(ctx, []aicc.InboxEvent{e})
		require.NoError(t, err)
		got, err := s.ClaimConversations(ctx, "crashed", 10, 10, 50*time.Millisecond)
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Empty(t, claim(t, s, "b", 10, 10))
		require.Eventually(t, func() bool { return len(claim(t, s, "b", 10, 10)) == 1 }, 5*time.Second, 20*time.Millisecond,
			"another claimer takes the conversation once the lease is over, on the database's clock")
		n, err := s.ExtendLeases(ctx, "crashed", []aicc.ConversationKey{e.Conversation()}, time.Minute)
		require.NoError(t, err)
		require.Zero(t, n, "a lease taken over is no longer the first owner's")
	})
}

func TestClaimTakesTenantsInTurn(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		var burst []aicc.InboxEvent
		for i := range 40 {
			for j := range 3 {
				burst = append(burst, event("ch_1", "p1", fmt.Sprintf("u%d", i), fmt.Sprintf("m%d_%d", i, j), int64(1000+j)))
			}
		}
		_, err := s.StoreEvents(ctx, burst)
		require.NoError(t, err)
		// A payload timestamp far in the past does not put a conversation ahead of those that came first.
		early := event("ch_1", "p1", "early", "m_early", -5)
		_, err = s.StoreEvents(ctx, []aicc.InboxEvent{early})
		require.NoError(t, err)
		other := event("ch_2", "p2", "v1", "n1", 2000)
		other.TenantID = "ten_2"
		_, err = s.StoreEvents(ctx, []aicc.InboxEvent{other})
		require.NoError(t, err)

		got := claim(t, s, "a", 2, 10)
		convs := map[string]bool{}
		for _, e := range got {
			convs[e.TenantID+"/"+e.PSID] = true
		}
		require.Equal(t, map[string]bool{"ten_1/u0": true, "ten_2/v1": true}, convs,
			"the first claim takes ten_1's oldest conversation and ten_2's, despite ten_1's burst")
	})
}

func TestClaimConcurrently(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		const n = 300
		events := make([]aicc.InboxEvent, n)
		for i := range events {
			events[i] = event("ch_1", fmt.Sprintf("p%d", i%3), fmt.Sprintf("u%d", i%7), fmt.Sprintf("m%d", i), int64(i%50))
		}
		_, err := s.StoreEvents(ctx, events)
		require.NoError(t, err)

		const claimers = 4
		claimed := make([][]int64, claimers)
		errs := make([]error, claimers)
		var wg sync.WaitGroup
		for c := range claimers {
			wg.Go(func() {
				owner := fmt.Sprintf("claimer%d", c)
				for {
					got, err := s.ClaimConversations(ctx, owner, 2, 100, time.Minute)
					if err != nil || len(got) == 0 {
						errs[c] = err
						return
					}
					if !slices.IsSortedFunc(got, func(a, b aicc.InboxEvent) int {
						return cmp.Or(cmp.Compare(a.ChannelID, b.ChannelID), cmp.Compare(a.PageID, b.PageID),
							cmp.Compare(a.PSID, b.PSID), cmp.Compare(a.Timestamp, b.Timestamp), cmp.Compare(a.ID, b.ID))
					}) {
						errs[c] = fmt.Errorf("claimed out of order: %v", got)
						return
					}
					var convs []aicc.ConversationKey
					for _, e := range got {
						claimed[c] = append(claimed[c], e.ID)
						if k := e.Conversation(); !slices.Contains(convs, k) {
							convs = append(convs, k)
						}
					}
					if errs[c] = s.MarkDelivered(ctx, owner, ids(got), convs, time.Time{}); errs[c] != nil {
						return
					}
				}
			})
		}
		wg.Wait()
		var all []int64
		for c := range claimers {
			require.NoError(t, errs[c])
			all = append(all, claimed[c]...)
		}
		slices.Sort(all)
		require.Equal(t, ids(events), all, "each event is claimed by exactly one claimer")
	})
}

func TestFailDelivery(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		events := []aicc.InboxEvent{event("ch_1", "p1", "u1", "m1", 1), event("ch_1", "p1", "u1", "m2", 2),
			event("ch_1", "p1", "u1", "m3", 3)}
		_, err := s.StoreEvents(ctx, events)
		require.NoError(t, err)
		conv := events[0].Conversation()
		pending := func(appliedUpTo int64) bool {
			ok, err := s.HasUnappliedEvents(ctx, "ten_1", conv, appliedUpTo)
			require.NoError(t, err)
			return ok
		}
		require.True(t, pending(0))
		ok, err := s.HasUnappliedEvents(ctx, "ten_2", conv, 0)
		require.NoError(t, err)
		require.False(t, ok, "another tenant's conversation")

		fail := aicc.DeliveryFailure{Owner: "a", Conversation: conv, IDs: ids(events[:1]), Error: "boom",
			MaxAttempts: 2, RetryIn: time.Minute}
		require.Len(t, claim(t, s, "a", 10, 10), 3)
		dead, err := s.FailDelivery(ctx, fail)
		require.NoError(t, err)
		require.Empty(t, dead)
		require.Empty(t, claim(t, s, "b", 10, 10), "the conversation stays leased until its retry")

		fail.RetryIn = 0
		dead, err = s.FailDelivery(ctx, fail)
		require.NoError(t, err)
		require.Equal(t, ids(events[:1]), dead, "the last attempt makes a dead letter")
		got := claim(t, s, "b", 10, 10)
		require.Equal(t, ids(events[1:]), ids(got), "the rest of the conversation goes on; its lease was released")

		dead, err = s.FailDelivery(ctx, aicc.DeliveryFailure{Owner: "b", Conversation: conv, IDs: ids(events[1:2]),
			Error: "never", MaxAttempts: 10, Permanent: true, RetryIn: time.Minute})
		require.NoError(t, err)
		require.Equal(t, ids(events[1:2]), dead, "a permanent failure is a dead letter at once")
		got = claim(t, s, "c", 10, 10)
		require.Equal(t, ids(events[2:]), ids(got), "with no event to retry, the lease was released")
		require.NoError(t, s.MarkDelivered(ctx, "c", ids(got), []aicc.ConversationKey{conv}, time.Time{}))
		require.True(t, pending(events[2].ID-1), "delivered after the newest applied: its signal may be on its way")
		require.False(t, pending(events[2].ID), "dead letters do not count")
		st, err := s.InboxStats(ctx)
		require.NoError(t, err)
		require.Equal(t, aicc.InboxStats{}, st)

		all, _, err := s.ConversationEvents(ctx, "ten_1", saveConversation(t, s, conv), aicc.ListOptions{})
		require.NoError(t, err)
		require.Equal(t, 2, all[0].Attempts)
		require.Equal(t, "boom", all[0].LastError)
		require.False(t, all[0].DeadAt.IsZero())
		require.Equal(t, 1, all[1].Attempts)
		require.False(t, all[1].DeadAt.IsZero())
		require.True(t, all[2].DeadAt.IsZero())
		require.Zero(t, all[2].Attempts)
	})
}

// A dispatcher whose lease was taken over records no failure: the new owner delivers the events. An event
// delivered after all is no dead letter, whoever made it one.
func TestFailDeliveryNeedsTheLease(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		events := []aicc.InboxEvent{event("ch_1", "p1", "u1", "m1", 1)}
		_, err := s.StoreEvents(ctx, events)
		require.NoError(t, err)
		conv := events[0].Conversation()
		_, err = s.ClaimConversations(ctx, "a", 10, 10, 50*time.Millisecond)
		require.NoError(t, err)
		require.Eventually(t, func() bool { return len(claim(t, s, "b", 10, 10)) == 1 }, 5*time.Second,
			20*time.Millisecond, "b takes the conversation over once a's lease is over")

		failure := aicc.DeliveryFailure{Owner: "a", Conversation: conv, IDs: ids(events), Error: "stalled",
			MaxAttempts: 10, Permanent: true, RetryIn: time.Minute}
		dead, err := s.FailDelivery(ctx, failure)
		requireCode(t, err, aicc.ECONFLICT)
		require.Empty(t, dead, "a no longer holds the lease")
		id := saveConversation(t, s, conv)
		all, _, err := s.ConversationEvents(ctx, "ten_1", id, aicc.ListOptions{})
		require.NoError(t, err)
		require.Zero(t, all[0].Attempts)
		require.True(t, all[0].DeadAt.IsZero())
		require.Empty(t, claim(t, s, "c", 10, 10), "the lease stays b's")

		failure.Owner = "b"
		dead, err = s.FailDelivery(ctx, failure)
		require.NoError(t, err)
		require.Equal(t, ids(events), dead)
		// a's signal, stalled until now, went through after all.
		require.NoError(t, s.MarkDelivered(ctx, "a", ids(events), nil, time.Time{}))
		all, _, err = s.ConversationEvents(ctx, "ten_1", id, aicc.ListOptions{})
		require.NoError(t, err)
		require.False(t, all[0].DeliveredAt.IsZero())
		require.True(t, all[0].DeadAt.IsZero(), "delivered, so no dead letter")
		letters, _, err := s.DeadLetters(ctx, "ten_1", aicc.ListOptions{})
		require.NoError(t, err)
		require.Empty(t, letters)
	})
}

// saveConversation saves the read model of ten_1's conversation and returns its ID.
func saveConversation(tb testing.TB, s *db.Store, c aicc.ConversationKey) string {
	tb.Helper()
	conv := &aicc.Conversation{TenantID: "ten_1", ChannelID: c.ChannelID, PageID: c.PageID, PSID: c.PSID, UpdatedAt: now}
	require.NoError(tb, s.SaveConversation(context.Background(), conv))
	return conv.ID
}

func TestConversations(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		a, b := newTenant(t, s, "a", now), newTenant(t, s, "b", now)
		chA, chB := newChannel(t, s, a.ID, "A", "app-a"), newChannel(t, s, b.ID, "B", "app-b")
		empty := newChannel(t, s, a.ID, "Empty", "app-empty")

		var convs []*aicc.Conversation
		for i, at := range []time.Duration{3, 1, 4, 1, 5} { // two updated at the same time: the ID breaks the tie
			c := &aicc.Conversation{
				TenantID: a.ID, ChannelID: chA.ID, PageID: "p1", PSID: fmt.Sprintf("u%d", i),
				MessageCount: i, LastCustomerMessage: "hello", LastCustomerMessageAt: now,
				StartedAt: now, UpdatedAt: now.Add(at * time.Minute), AppliedInboxIDs: []int64{int64(i) + 7, 3},
			}
			require.NoError(t, s.SaveConversation(ctx, c))
			require.Equal(t, aicc.ConversationID(chA.ID, "p1", c.PSID), c.ID)
			require.Equal(t, aicc.ConversationOpen, c.Status)
			convs = append(convs, c)
		}
		other := &aicc.Conversation{TenantID: b.ID, ChannelID: chB.ID, PageID: "p9", PSID: "u0"}
		require.NoError(t, s.SaveConversation(ctx, other))
		require.Equal(t, other.UpdatedAt, other.StartedAt)

		got, err := s.GetConversation(ctx, a.ID, convs[0].ID)
		require.NoError(t, err)
		require.Equal(t, convs[0], got)
		_, err = s.GetConversation(ctx, b.ID, convs[0].ID)
		requireCode(t, err, aicc.ENOTFOUND)
		_, err = s.GetConversation(ctx, a.ID, "cv_missing")
		requireCode(t, err, aicc.ENOTFOUND)

		// A save replaces every field, and saving it again changes nothing.
		ended := *convs[2]
		ended.Status, ended.MessageCount, ended.LastAgentMessage = aicc.ConversationEnded, 9, "bye"
		ended.LastAgentMessageAt, ended.EndedAt, ended.UpdatedAt = now.Add(time.Hour), now.Add(time.Hour), now.Add(time.Hour)
		ended.LastCustomerMessage, ended.LastCustomerMessageAt = "", time.Time{}
		for range 2 {
			c := ended
			require.NoError(t, s.SaveConversation(ctx, &c))
			got, err = s.GetConversation(ctx, a.ID, ended.ID)
			require.NoError(t, err)
			require.Equal(t, &c, got)
		}
		convs[2] = got
		stolen := *convs[0]
		stolen.TenantID = b.ID
		requireCode(t, s.SaveConversation(ctx, &stolen), aicc.ECONFLICT)
		got, err = s.GetConversation(ctx, a.ID, convs[0].ID)
		require.NoError(t, err)
		require.Equal(t, convs[0], got, "untouched by another tenant's save")

		want := []*aicc.Conversation{convs[2], convs[4], convs[0]}
		tied := []*aicc.Conversation{convs[1], convs[3]}
		slices.SortFunc(tied, func(x, y *aicc.Conversation) int { return strings.Compare(y.ID, x.ID) })
		want = append(want, tied...)
		require.Equal(t, want, listAll(t, 2, func(opt aicc.ListOptions) ([]*aicc.Conversation, string, error) {
			return s.ListConversations(ctx, a.ID, chA.ID, opt)
		}))
		list, next, err := s.ListConversations(ctx, a.ID, empty.ID, aicc.ListOptions{})
		require.NoError(t, err)
		require.Empty(t, list)
		require.Empty(t, next)
		_, _, err = s.ListConversations(ctx, b.ID, chA.ID, aicc.ListOptions{})
		requireCode(t, err, aicc.ENOTFOUND)
		_, _, err = s.ListConversations(ctx, a.ID, chA.ID, aicc.ListOptions{Cursor: "nope"})
		requireCode(t, err, aicc.EINVALID)
	})
}

func TestConversationEvents(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		a, b := newTenant(t, s, "a", now), newTenant(t, s, "b", now)
		ch := newChannel(t, s, a.ID, "A", "app-a")
		var mine, others []aicc.InboxEvent
		for i, ts := range []int64{5, 1, 4, 1, 2} {
			e := event(ch.ID, "p1", "u1", fmt.Sprintf("m%d", i), ts)
			e.TenantID = a.ID
			mine = append(mine, e)
		}
		for i, key := range [][2]string{{"p1", "u2"}, {"p2", "u1"}} {
			e := event(ch.ID, key[0], key[1], fmt.Sprintf("o%d", i), 3)
			e.TenantID = a.ID
			others = append(others, e)
		}
		_, err := s.StoreEvents(ctx, append(mine, others...))
		require.NoError(t, err)
		_, err = s.StoreEvents(ctx, others)
		require.NoError(t, err)

		c := &aicc.Conversation{TenantID: a.ID, ChannelID: ch.ID, PageID: "p1", PSID: "u1", UpdatedAt: now}
		require.NoError(t, s.SaveConversation(ctx, c))
		want := []aicc.InboxEvent{mine[1], mine[3], mine[4], mine[2], mine[0]}
		require.Equal(t, want, listAll(t, 2, func(opt aicc.ListOptions) ([]aicc.InboxEvent, string, error) {
			return s.ConversationEvents(ctx, a.ID, c.ID, opt)
		}))

		_, _, err = s.ConversationEvents(ctx, b.ID, c.ID, aicc.ListOptions{})
		requireCode(t, err, aicc.ENOTFOUND)
		_, _, err = s.ConversationEvents(ctx, a.ID, aicc.ConversationID(ch.ID, "p1", "u2"), aicc.ListOptions{})
		requireCode(t, err, aicc.ENOTFOUND)                                // no conversation was saved for these events
		for _, cur := range []string{"nope", "eyJ0IjoxfQ", "eyJzIjoxfQ"} { // junk, {"t":1}, {"s":1}
			_, _, err = s.ConversationEvents(ctx, a.ID, c.ID, aicc.ListOptions{Cursor: cur})
			requireCode(t, err, aicc.EINVALID)
		}
	})
}

// batchSeq keeps the dedup keys of benchmark runs apart: the benchmark functions run more than once per store.
var batchSeq atomic.Int64

// BenchmarkStoreEvents measures StoreEvents, with batches of 1 and 10 new events and a batch of 10
// duplicates, against the floor of durable ingest: one plain INSERT of one row. The parallel variants run
// 4×GOMAXPROCS callers at once, as concurrent webhook POSTs do.
func BenchmarkStoreEvents(b *testing.B) {
	for _, dialect := range []struct {
		name string
		open func(testing.TB) *db.Store
	}{{db.SQLite, dbtest.SQLite}, {db.Postgres, dbtest.Postgres}} {
		b.Run(dialect.name, func(b *testing.B) {
			s := dialect.open(b)
			ctx := context.Background()
			newBatch := func(n int) []aicc.InboxEvent {
				batch := make([]aicc.InboxEvent, n)
				for i := range batch {
					seq := batchSeq.Add(1)
					batch[i] = event("ch_bench", "p1", fmt.Sprintf("u%d", seq%100), fmt.Sprintf("m.%d", seq), seq)
					batch[i].Payload = fmt.Appendf(nil, `{"sender":{"id":"u%d"},"recipient":{"id":"p1"},"timestamp":%d,`+
						`"message":{"mid":"m.%d","text":"Hello, I would like to know the status of my order."}}`, seq%100, seq, seq)
				}
				return batch
			}
			store := func(n int) func() error {
				return func() error { _, err := s.StoreEvents(ctx, newBatch(n)); return err }
			}
			dups := newBatch(10)
			if _, err := s.StoreEvents(ctx, dups); err != nil {
				b.Fatal(err)
			}
			baseline := func() error {
				e := newBatch(1)[0]
				_, err := s.DB().NewRaw(`INSERT INTO inbox (tenant_id, channel_id, page_id, psid, kind, mid, watermark, ts,
					dedup_key, text, payload, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
					e.TenantID, e.ChannelID, e.PageID, e.PSID, string(e.Kind), e.MID, e.Watermark, e.Timestamp, e.DedupKey,
					e.Text, e.Payload, time.Now().UTC()).Exec(ctx)
				return err
			}
			for _, bench := range []struct {
				name   string
				events int
				op     func() error
			}{
				{"batch=1", 1, store(1)},
				{"batch=10", 10, store(10)},
				{"batch=10-duplicates", 10, func() error { _, err := s.StoreEvents(ctx, slices.Clone(dups)); return err }},
				{"baseline-insert", 1, baseline},
			} {
				b.Run(bench.name, func(b *testing.B) {
					for b.Loop() {
						if err := bench.op(); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(b.N*bench.events)/b.Elapsed().Seconds(), "events/s")
				})
				b.Run(bench.name+"/parallel", func(b *testing.B) {
					b.SetParallelism(4)
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							if err := bench.op(); err != nil {
								b.Error(err)
								return
							}
						}
					})
					b.ReportMetric(float64(b.N*bench.events)/b.Elapsed().Seconds(), "events/s")
				})
			}
		})
	}
}

// event returns a new message event of tenant ten_1 with a dedup key from its MID.
func event(channelID, pageID, psid, mid string, ts int64) aicc.InboxEvent {
	return aicc.InboxEvent{
		TenantID: "ten_1", ChannelID: channelID, PageID: pageID, PSID: psid, Kind: aicc.EventMessage, MID: mid,
		Timestamp: ts, DedupKey: "mid:" + mid, Text: "text of " + mid,
		Payload: fmt.Appendf(nil, `{"sender":{"id":%q},"timestamp":%d,"message":{"mid":%q}}`, psid, ts, mid),
	}
}

// claim claims conversations for a minute and fails the test on error.
func claim(tb testing.TB, s *db.Store, owner string, limit, perConversation int) []aicc.InboxEvent {
	tb.Helper()
	got, err := s.ClaimConversations(context.Background(), owner, limit, perConversation, time.Minute)
	require.NoError(tb, err)
	return got
}

func requireUndelivered(tb testing.TB, s *db.Store, want int) {
	tb.Helper()
	st, err := s.InboxStats(context.Background())
	require.NoError(tb, err)
	require.Equal(tb, want, st.Undelivered)
}

func ids(events []aicc.InboxEvent) []int64 {
	out := make([]int64, len(events))
	for i, e := range events {
		out[i] = e.ID
	}
	return out
}

// norm is the time as the store keeps it.
func norm(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// The runtime's fields round-trip, and CountConversations counts every tenant's conversations by state.
func TestConversationRuntimeFields(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		a, b := newTenant(t, s, "a", now), newTenant(t, s, "b", now)
		chA, chB := newChannel(t, s, a.ID, "A", "app-a"), newChannel(t, s, b.ID, "B", "app-b")
		counts, err := s.CountConversations(ctx)
		require.NoError(t, err)
		require.Empty(t, counts)

		assigned := &aicc.Conversation{
			TenantID: a.ID, ChannelID: chA.ID, PageID: "p1", PSID: "u1", UpdatedAt: now,
			Stage: aicc.StageAssigned, QueueID: "sq_1", AgentID: "ann", LastAgentID: "ann", LastAgentAt: now,
			Timers: []aicc.ConversationTimer{{Kind: aicc.TimerNoAgentReply, At: now.Add(time.Minute)}},
		}
		require.NoError(t, s.SaveConversation(ctx, assigned))
		got, err := s.GetConversation(ctx, a.ID, assigned.ID)
		require.NoError(t, err)
		require.Equal(t, assigned, got)
		for i, c := range []aicc.Conversation{
			{TenantID: a.ID, ChannelID: chA.ID, PageID: "p1", PSID: "u2", Stage: aicc.StageQueued, QueueID: "sq_1"},
			{TenantID: b.ID, ChannelID: chB.ID, PageID: "p2", PSID: "u3", Stage: aicc.StageQueued, QueueID: "sq_2"},
			{TenantID: b.ID, ChannelID: chB.ID, PageID: "p2", PSID: "u4"},
			{TenantID: b.ID, ChannelID: chB.ID, PageID: "p2", PSID: "u5", Status: aicc.ConversationEnded, EndReason: aicc.EndClosed},
		} {
			c.UpdatedAt = now.Add(time.Duration(i) * time.Second)
			require.NoError(t, s.SaveConversation(ctx, &c))
		}
		counts, err = s.CountConversations(ctx)
		require.NoError(t, err)
		require.Equal(t, map[aicc.ConversationState]int{
			aicc.ConversationState(aicc.StageAssigned): 1, aicc.ConversationState(aicc.StageQueued): 2,
			aicc.StateNew: 1, aicc.StateEnded: 1,
		}, counts)
	})
}
