package db

import (
	"context"
	"io/fs"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun/migrate"

	"github.com/aiccfb/aicc"
)

// TestInboxTextKeptOnce stores events whose text is in the payload as it is (kept once, as where it lies there)
// and events whose text is not (escaped, with a NUL, absent, or not UTF-8: kept in the text column), after a
// row written before 20270101000002_inbox_text_in_payload; every text reads back as stored, and the migration's
// rollback writes the kept-once texts back into the column.
func TestInboxTextKeptOnce(t *testing.T) {
	migratedBefore(t, "20270101000002", func(t *testing.T, s *Store) {
		ctx := context.Background()
		_, err := s.db.NewRaw(`INSERT INTO inbox (tenant_id, channel_id, page_id, psid, kind, mid, watermark, ts,
			dedup_key, text, payload, received_at) VALUES ('ten_a', 'ch_a', 'p1', 'u1', 'message', 'm0', 0, 1,
			'mid|p1|m0', 'written before', ?, ?)`, []byte(`{"message":{"mid":"m0","text":"written before"}}`),
			time.Now()).Exec(ctx)
		require.NoError(t, err)
		require.NoError(t, s.Migrate(ctx))

		message := func(mid, text, payload string) aicc.InboxEvent {
			return aicc.InboxEvent{TenantID: "ten_a", ChannelID: "ch_a", PageID: "p1", PSID: "u1", Kind: aicc.EventMessage,
				MID: mid, Timestamp: 2, DedupKey: "mid|p1|" + mid, Text: text, Payload: []byte(payload)}
		}
		verbatim := "héllo 😀 wörld"
		events := []aicc.InboxEvent{
			message("m1", verbatim, `{"message":{"mid":"m1","text":"`+verbatim+`"}}`),
			message("m2", "two\nlines", `{"message":{"mid":"m2","text":"two\nlines"}}`),
			message("m3", "a\x00b", `{"message":{"mid":"m3","text":"a\u0000b"}}`),
			message("m4", "not in the payload", `{"message":{"mid":"m4"}}`),
		}
		_, err = s.StoreEvents(ctx, events)
		require.NoError(t, err)

		type columns struct {
			MID        string `bun:"mid"`
			Text       string
			TextLength int
		}
		var rows []columns
		require.NoError(t, s.db.NewRaw("SELECT mid, text, text_length FROM inbox ORDER BY id").Scan(ctx, &rows))
		require.Equal(t, []columns{{"m0", "written before", 0}, {"m1", "", len(verbatim)},
			{"m2", "two\nlines", 0}, {"m3", "ab", 0}, {"m4", "not in the payload", 0}}, rows)

		got, err := s.ClaimConversations(ctx, "test", 10, 10, time.Minute)
		require.NoError(t, err)
		texts := make(map[string]string)
		for _, e := range got {
			texts[e.MID] = e.Text
		}
		require.Equal(t, map[string]string{"m0": "written before", "m1": verbatim, "m2": "two\nlines", "m3": "ab",
			"m4": "not in the payload"}, texts)

		// A text that is not UTF-8 is not hidden in the payload: it goes to the column, which Postgres refuses.
		_, err = s.StoreEvents(ctx, []aicc.InboxEvent{message("m5", "\xff", `{"message":{"mid":"m5","text":"`+"\xff"+`"}}`)})
		if s.dialect == Postgres {
			var unstorable *aicc.UnstorableError
			require.ErrorAs(t, err, &unstorable)
		} else {
			require.NoError(t, err)
			var length int
			require.NoError(t, s.db.NewRaw("SELECT text_length FROM inbox WHERE mid = 'm5'").Scan(ctx, &length))
			require.Zero(t, length)
		}

		dir, err := fs.Sub(migrationFiles, "migrations/"+s.dialect)
		require.NoError(t, err)
		ms := migrate.NewMigrations()
		require.NoError(t, ms.Discover(dir))
		group, err := migrate.NewMigrator(s.db, ms).Rollback(ctx)
		require.NoError(t, err)
		var names []string
		for _, m := range group.Migrations {
			names = append(names, m.String())
		}
		require.Contains(t, names, "20270101000002_inbox_text_in_payload", "rolled back, with the later ones")
		var text string
		require.NoError(t, s.db.NewRaw("SELECT text FROM inbox WHERE mid = 'm1'").Scan(ctx, &text))
		require.Equal(t, verbatim, text)
	})
}
