package db_test

import (
	"context"
	"encoding/base64"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/db"
	"github.com/aiccfb/aicc/db/dbtest"
)

// reject returns a malformed item kept aside from a POST of the tenant's channel.
func reject(tenantID, channelID, location string) aicc.WebhookReject {
	return aicc.WebhookReject{
		TenantID: tenantID, ChannelID: channelID, Kind: aicc.MalformedItem, Location: location,
		Reason: "a number, want an object", Payload: []byte("42"),
	}
}

// rejects lists every reject of the tenant (of the channel unless it is ""), the latest first.
func rejects(tb testing.TB, s *db.Store, tenantID, channelID string) []aicc.WebhookReject {
	tb.Helper()
	return listAll(tb, 2, func(opt aicc.ListOptions) ([]aicc.WebhookReject, string, error) {
		return s.WebhookRejects(context.Background(), tenantID, channelID, opt)
	})
}

func TestStoreWebhook(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		dup, err := s.StoreWebhook(ctx, nil, nil)
		require.NoError(t, err)
		require.Zero(t, dup)

		// A POST of three good items and one malformed item: the events and the reject, together.
		events := []aicc.InboxEvent{event("ch_1", "p1", "u1", "m1", 1), event("ch_1", "p1", "u1", "m2", 2), event("ch_1", "p1", "u2", "m3", 3)}
		bad := reject("ten_1", "ch_1", "entry[0].messaging[3]")
		bad.ReceivedAt = now
		// Bytes kept as sent, NUL and invalid UTF-8 included; the strings lose their NULs as the inbox's do.
		bad.Payload = []byte("{\"message\":{\"text\":\"a\\u0000b\xff\"},\"x\":[}")
		bad.Reason = "a\x00b"
		kept := []aicc.WebhookReject{bad}
		dup, err = s.StoreWebhook(ctx, events, kept)
		require.NoError(t, err)
		require.Zero(t, dup)
		require.Positive(t, events[0].ID)
		requireUndelivered(t, s, 3)
		require.Equal(t, norm(now), kept[0].ReceivedAt)

		// Meta's retry of the same POST: the events are duplicates, the reject is kept again (it has no key).
		dup, err = s.StoreWebhook(ctx, []aicc.InboxEvent{event("ch_1", "p1", "u1", "m1", 1)}, []aicc.WebhookReject{reject("ten_1", "ch_1", "entry[0].messaging[3]")})
		require.NoError(t, err)
		require.Equal(t, 1, dup)
		requireUndelivered(t, s, 3)

		// A whole body, without events, as the handler keeps an unstorable one.
		body := aicc.WebhookReject{TenantID: "ten_1", ChannelID: "ch_2", Kind: aicc.UnstorableBody,
			Reason: "SQLSTATE 54000 (program limit exceeded)", Payload: []byte(`{"object":"page","entry":[]}`)}
		_, err = s.StoreWebhook(ctx, nil, []aicc.WebhookReject{body})
		require.NoError(t, err)
		// Another tenant's.
		_, err = s.StoreWebhook(ctx, nil, []aicc.WebhookReject{reject("ten_2", "ch_9", "entry[1]")})
		require.NoError(t, err)

		all := rejects(t, s, "ten_1", "")
		require.Len(t, all, 3)
		require.Greater(t, all[0].ID, all[1].ID, "the latest first")
		require.Greater(t, all[1].ID, all[2].ID)
		got := all[2]
		require.Positive(t, got.ID)
		got.ID = 0
		want := kept[0]
		want.Reason = "ab"
		require.Equal(t, want, got)
		require.Equal(t, aicc.UnstorableBody, all[0].Kind)
		require.Empty(t, all[0].Location)
		require.False(t, all[0].ReceivedAt.IsZero(), "a zero ReceivedAt is now")

		require.Len(t, rejects(t, s, "ten_1", "ch_1"), 2, "one channel's")
		require.Len(t, rejects(t, s, "ten_1", "ch_2"), 1)
		require.Empty(t, rejects(t, s, "ten_1", "ch_9"), "another tenant's channel has none for this tenant")
		require.Empty(t, rejects(t, s, "ten_3", ""))
		require.Len(t, rejects(t, s, "ten_2", ""), 1)

		for _, cursor := range []string{"x", base64.RawURLEncoding.EncodeToString([]byte(`{"d":5}`)),
			base64.RawURLEncoding.EncodeToString([]byte(`{"w":0}`))} {
			_, _, err := s.WebhookRejects(ctx, "ten_1", "", aicc.ListOptions{Cursor: cursor})
			requireCode(t, err, aicc.EINVALID)
		}
	})
}

// TestStoreWebhookIsAtomic: the events and the rejects of a POST are stored together or not at all.
func TestStoreWebhookIsAtomic(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		keyless := event("ch_1", "p1", "u1", "m2", 2)
		keyless.DedupKey = ""
		_, err := s.StoreWebhook(ctx, []aicc.InboxEvent{event("ch_1", "p1", "u1", "m1", 1), keyless},
			[]aicc.WebhookReject{reject("ten_1", "ch_1", "entry[0].messaging[2]")})
		require.Error(t, err)
		requireUndelivered(t, s, 0)
		require.Empty(t, rejects(t, s, "ten_1", ""), "the reject is not kept without the events")

		odd := reject("ten_1", "ch_1", "entry[0].messaging[2]")
		odd.Kind = "odd"
		_, err = s.StoreWebhook(ctx, []aicc.InboxEvent{event("ch_1", "p1", "u1", "m1", 1)}, []aicc.WebhookReject{odd})
		require.Error(t, err)
		requireUndelivered(t, s, 0)
		require.Empty(t, rejects(t, s, "ten_1", ""))

		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		_, err = s.StoreWebhook(cancelled, []aicc.InboxEvent{event("ch_1", "p1", "u1", "m1", 1)},
			[]aicc.WebhookReject{reject("ten_1", "ch_1", "entry[0].messaging[2]")})
		require.ErrorIs(t, err, context.Canceled)
		var unstorable *aicc.UnstorableError
		require.False(t, errors.As(err, &unstorable), "a cancelled write may succeed when retried")

		_, err = s.StoreWebhook(ctx, []aicc.InboxEvent{event("ch_1", "p1", "u1", "m1", 1)},
			[]aicc.WebhookReject{reject("ten_1", "ch_1", "entry[0].messaging[2]")})
		require.NoError(t, err)
		requireUndelivered(t, s, 1)
		require.Len(t, rejects(t, s, "ten_1", ""), 1)
	})
}

// TestUnstorable: an error of the database that no retry fixes is an *aicc.UnstorableError naming its class, never
// a value of the data; the rest keeps its meaning.
func TestUnstorable(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		requireUnstorable := func(t *testing.T, err error, want string) {
			t.Helper()
			var unstorable *aicc.UnstorableError
			require.ErrorAs(t, err, &unstorable)
			require.Contains(t, unstorable.Class, want)
			require.Equal(t, "the database refuses the data: "+unstorable.Class, err.Error())
			require.NotContains(t, err.Error(), "secret-text")
		}

		// A broken CHECK constraint, on both databases.
		keyless := event("ch_1", "p1", "u1", "m1", 1)
		keyless.DedupKey, keyless.Text = "", "secret-text"
		_, err := s.StoreEvents(ctx, []aicc.InboxEvent{keyless})
		want := map[string]string{db.Postgres: "SQLSTATE 23514 (integrity constraint violation) on inbox_dedup_key_check",
			db.SQLite: "SQLITE_CONSTRAINT_CHECK"}[s.Dialect()]
		requireUnstorable(t, err, want)
		odd := reject("ten_1", "ch_1", "")
		odd.Kind = "odd"
		_, err = s.StoreWebhook(ctx, nil, []aicc.WebhookReject{odd})
		requireUnstorable(t, err, map[string]string{db.Postgres: "webhook_rejects_kind_check", db.SQLite: "SQLITE_CONSTRAINT_CHECK"}[s.Dialect()])

		// A message ID Meta would never send, too large for the unique index of the dedup key on Postgres
		// (btree entries are at most 2704 bytes, after compression: random text does not compress). SQLite
		// has no such limit and stores it.
		huge := event("ch_1", "p1", "u1", randomText(4000), 1)
		_, err = s.StoreEvents(ctx, []aicc.InboxEvent{huge})
		if s.Dialect() == db.Postgres {
			requireUnstorable(t, err, "SQLSTATE 54000 (program limit exceeded) on inbox_page_dedup_key")
			requireUndelivered(t, s, 0)
		} else {
			require.NoError(t, err)
			requireUndelivered(t, s, 1)
		}

		// A NUL in text, which Postgres refuses with "invalid byte sequence" (22021), is dropped before the
		// insert: the event is stored.
		nul := event("ch_1", "p1", "u1", "m\x00nul", 1)
		nul.Text, nul.PSID = "a\x00b", "u\x001"
		_, err = s.StoreEvents(ctx, []aicc.InboxEvent{nul})
		require.NoError(t, err)
	})
}

// randomText is n letters that do not compress.
func randomText(n int) string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	var b strings.Builder
	for range n {
		b.WriteByte(letters[rand.IntN(len(letters))])
	}
	return b.String()
}

func TestPurgeWebhookRejects(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		const day = 24 * time.Hour
		keep := func(n int, receivedAt time.Time) {
			t.Helper()
			batch := make([]aicc.WebhookReject, n)
			for i := range batch {
				batch[i] = reject("ten_1", "ch_1", "entry[0]")
				batch[i].ReceivedAt = receivedAt
			}
			_, err := s.StoreWebhook(ctx, nil, batch)
			require.NoError(t, err)
		}
		purge := func(deliveredBefore, deadBefore time.Time, limit int) int {
			t.Helper()
			n, err := s.PurgeInbox(ctx, deliveredBefore, deadBefore, limit)
			require.NoError(t, err)
			return n
		}
		keep(3, now.Add(-100*day))
		keep(1, now.Add(-day))
		old := []aicc.InboxEvent{event("ch_1", "p1", "u1", "m1", 1)}
		_, err := s.StoreEvents(ctx, old)
		require.NoError(t, err)
		require.NoError(t, s.MarkDelivered(ctx, "test", ids(old), nil, now.Add(-100*day)))

		cutoff := now.Add(-90 * day)
		require.Equal(t, 1, purge(cutoff, time.Time{}, 2), "no dead-letter cut-off: the rejects stay")
		require.Len(t, rejects(t, s, "ten_1", ""), 4)
		require.Equal(t, 2, purge(cutoff, cutoff, 2), "in batches")
		require.Equal(t, 1, purge(cutoff, cutoff, 2), "the last batch is short")
		require.Zero(t, purge(cutoff, cutoff, 2))
		got := rejects(t, s, "ten_1", "")
		require.Len(t, got, 1, "the recent reject stays")
		require.Equal(t, norm(now.Add(-day)), got[0].ReceivedAt)

		// Inbox rows first, then rejects, one batch bounded all the same.
		keep(2, now.Add(-100*day))
		more := []aicc.InboxEvent{event("ch_1", "p1", "u1", "m2", 2)}
		_, err = s.StoreEvents(ctx, more)
		require.NoError(t, err)
		require.NoError(t, s.MarkDelivered(ctx, "test", ids(more), nil, now.Add(-100*day)))
		require.Equal(t, 2, purge(cutoff, cutoff, 2))
		require.Equal(t, 1, purge(cutoff, cutoff, 2))
		require.Len(t, rejects(t, s, "ten_1", ""), 1)
	})
}
