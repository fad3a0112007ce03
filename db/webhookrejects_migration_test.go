package db

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc"
)

// TestOversizedBodyMigration migrates a database with webhook rejects written before the oversized_body kind
// (20270101000000_webhook_oversized_body): the rejects survive with their IDs, a new one of the new kind is
// taken, and IDs go on past the purged newest one (SQLite rebuilds the table, sequence and all).
func TestOversizedBodyMigration(t *testing.T) {
	migratedBefore(t, "20270101000000", func(t *testing.T, s *Store) {
		ctx := context.Background()

		at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
		reject := func(kind aicc.WebhookRejectKind, payload string) aicc.WebhookReject {
			return aicc.WebhookReject{TenantID: "ten_a", ChannelID: "ch_a", Kind: kind, Location: "entry[0]",
				Reason: "r", Payload: []byte(payload), ReceivedAt: at}
		}
		_, err := s.StoreWebhook(ctx, nil, []aicc.WebhookReject{reject(aicc.MalformedItem, "1"),
			reject(aicc.UnstorableBody, "2"), reject(aicc.MalformedItem, "3")})
		require.NoError(t, err)
		_, err = s.StoreWebhook(ctx, nil, []aicc.WebhookReject{reject(aicc.OversizedBody, "4")})
		require.Error(t, err, "the kind is refused before the migration")
		_, err = s.db.ExecContext(ctx, "DELETE FROM webhook_rejects WHERE payload = ?", []byte("3"))
		require.NoError(t, err)

		require.NoError(t, s.Migrate(ctx))
		_, err = s.StoreWebhook(ctx, nil, []aicc.WebhookReject{reject(aicc.OversizedBody, "4")})
		require.NoError(t, err)
		got, _, err := s.WebhookRejects(ctx, "ten_a", "ch_a", aicc.ListOptions{})
		require.NoError(t, err)
		require.Len(t, got, 3)
		var ids []int64
		var kinds []aicc.WebhookRejectKind
		for _, r := range got {
			ids, kinds = append(ids, r.ID), append(kinds, r.Kind)
			require.Equal(t, at, r.ReceivedAt)
		}
		require.Equal(t, []aicc.WebhookRejectKind{aicc.OversizedBody, aicc.UnstorableBody, aicc.MalformedItem}, kinds)
		require.Greater(t, ids[0], int64(3), "the purged reject's ID is not given again")
		require.Equal(t, []int64{2, 1}, ids[1:])
	})
}
