package db

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/aiccfb/aicc"
)

// TestClaimPlans checks that the statements which find pending events by conversation or by ID look those up
// by their keys: on Postgres also when the statistics were taken while every event was delivered, as an inbox
// that keeps up has them, and a backlog came after (planned on inbox_pending_idx, a claim would compare every
// pending event with every conversation it leased); on SQLite, which aicc never analyzes, without statistics.
func TestClaimPlans(t *testing.T) {
	for dialect, newURL := range map[string]func(testing.TB) string{SQLite: sqliteURL, Postgres: postgresURL} {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			s, err := Open(ctx, newURL(t))
			require.NoError(t, err)
			t.Cleanup(func() { s.Close() })
			require.NoError(t, s.Migrate(ctx))
			exec := func(query string) {
				t.Helper()
				_, err := s.db.ExecContext(ctx, query)
				require.NoError(t, err)
			}
			blob := "bytea"
			if dialect == SQLite {
				blob = "BLOB"
			}
			insert := func(prefix string) {
				exec(fmt.Sprintf(`WITH RECURSIVE g (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 2000)
					INSERT INTO inbox (tenant_id, channel_id, page_id, psid, kind, mid, watermark, ts, dedup_key, text,
					payload, received_at) SELECT 'tn_1', 'ch_1', 'p1', '%[1]s' || n, 'message', '%[1]s' || n, 0, n,
					'%[1]s' || n, 'hello', CAST('{}' AS %[2]s), '2026-12-01T00:00:00Z' FROM g`, prefix, blob))
			}
			if dialect == Postgres {
				exec("ALTER TABLE inbox SET (autovacuum_enabled = false)")
			}
			insert("old")
			exec("UPDATE inbox SET delivered_at = received_at")
			if dialect == Postgres {
				exec("ANALYZE inbox")
			}
			insert("new") // the backlog, unknown to the statistics

			leased := make([]aicc.ConversationKey, 64)
			for i := range leased {
				leased[i] = aicc.ConversationKey{ChannelID: "ch_1", PageID: "p1", PSID: fmt.Sprint("new", i+1)}
			}
			claimed, explain := pgClaimedEvents, "EXPLAIN "
			if dialect == SQLite {
				claimed, explain = sqliteClaimedEvents, "EXPLAIN QUERY PLAN "
			}
			claimed = s.db.NewRaw(claimed, bun.Safe(inboxColumns), conversationValues(leased), 100).String()
			failed := "UPDATE inbox SET attempts = attempts + 1 WHERE id IN (2001, 2002, 2003) AND " + pendingUnindexed
			for name, query := range map[string]string{"claimed events": claimed, "failed delivery": failed} {
				rows, err := s.db.QueryContext(ctx, explain+query)
				require.NoError(t, err, name)
				plan := planText(t, rows)
				require.NotContains(t, plan, "inbox_pending_idx", name)
				require.NotContains(t, plan, "Seq Scan", name)       // Postgres
				require.NotRegexp(t, `SCAN (i|inbox)\b`, plan, name) // SQLite: a search by key reads "SEARCH"
			}

			events, err := s.ClaimConversations(ctx, "test", 64, 100, time.Minute)
			require.NoError(t, err)
			var got, want []string
			for _, e := range events {
				got = append(got, e.PSID)
			}
			for _, c := range leased {
				want = append(want, c.PSID)
			}
			require.ElementsMatch(t, want, got, "the 64 conversations whose events came first, one event each")
		})
	}
}

// planText joins every column of every row of an EXPLAIN.
func planText(t *testing.T, rows *sql.Rows) string {
	t.Helper()
	defer rows.Close()
	cols, err := rows.Columns()
	require.NoError(t, err)
	var b strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		for i := range vals {
			vals[i] = new(any)
		}
		require.NoError(t, rows.Scan(vals...))
		for _, v := range vals {
			fmt.Fprint(&b, *v.(*any), " ")
		}
		b.WriteString("\n")
	}
	require.NoError(t, rows.Err())
	return b.String()
}
