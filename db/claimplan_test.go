package db

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/aiccfb/aicc"
)

// TestClaimPlansWithStaleStatistics checks on Postgres that the statements which find pending events by
// conversation or by ID keep to those keys when the statistics were taken while every event was delivered, as
// an inbox that keeps up has them, and a backlog came after: planned on inbox_pending_idx, a claim would compare
// every pending event with every conversation it leased.
func TestClaimPlansWithStaleStatistics(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, postgresURL(t))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	require.NoError(t, s.Migrate(ctx))
	exec := func(query string) {
		t.Helper()
		_, err := s.db.ExecContext(ctx, query)
		require.NoError(t, err)
	}
	exec("ALTER TABLE inbox SET (autovacuum_enabled = false)")
	insert := func(prefix string) {
		exec(fmt.Sprintf(`INSERT INTO inbox (tenant_id, channel_id, page_id, psid, kind, mid, watermark, ts, dedup_key,
			text, payload, received_at) SELECT 'tn_1', 'ch_1', 'p1', '%[1]s' || g, 'message', '%[1]s' || g, 0, g,
			'%[1]s' || g, 'hello', '{}', now() FROM generate_series(1, 2000) g`, prefix))
	}
	insert("old")
	exec("UPDATE inbox SET delivered_at = now()")
	exec("ANALYZE inbox")
	insert("new") // the backlog, unknown to the statistics

	leased := make([]aicc.ConversationKey, 64)
	for i := range leased {
		leased[i] = aicc.ConversationKey{ChannelID: "ch_1", PageID: "p1", PSID: fmt.Sprint("new", i+1)}
	}
	claimed := s.db.NewRaw(pgClaimedEvents, bun.Safe(inboxColumns), conversationValues(leased), 100).String()
	failed := "UPDATE inbox SET attempts = attempts + 1 WHERE id IN (2001, 2002, 2003) AND " + pendingUnindexed
	for name, query := range map[string]string{"claimed events": claimed, "failed delivery": failed} {
		var plan []string
		require.NoError(t, s.db.NewRaw("EXPLAIN "+query).Scan(ctx, &plan), name)
		text := strings.Join(plan, "\n")
		require.NotContains(t, text, "inbox_pending_idx", name)
		require.NotContains(t, text, "Seq Scan", name)
	}

	events, err := s.ClaimConversations(ctx, "test", 64, 100, time.Minute)
	require.NoError(t, err)
	var got []string
	for _, e := range events {
		got = append(got, e.PSID)
	}
	var want []string
	for _, c := range leased {
		want = append(want, c.PSID)
	}
	require.ElementsMatch(t, want, got, "the 64 conversations whose events came first, one event each")
}
