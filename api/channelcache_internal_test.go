package api

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestChannelCache(t *testing.T) {
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	var loads atomic.Int64
	fail := atomic.Bool{}
	c := newChannelCache(func(_ context.Context, id string) (*webhookChannel, error) {
		loads.Add(1)
		if fail.Load() {
			return nil, errors.New("database down")
		}
		return &webhookChannel{id: id, found: true}, nil
	}, func() time.Time { return now })
	ctx := context.Background()

	t.Run("a failed lookup is not cached", func(t *testing.T) {
		fail.Store(true)
		_, err := c.get(ctx, "ch_a", time.Time{})
		require.Error(t, err)
		fail.Store(false)
		ch, err := c.get(ctx, "ch_a", time.Time{})
		require.NoError(t, err)
		assert.Equal(t, "ch_a", ch.id)
		assert.Equal(t, int64(2), loads.Load())
	})

	t.Run("bounded", func(t *testing.T) {
		for i := range webhookCacheSize + 10 {
			_, err := c.get(ctx, fmt.Sprint("ch_", i), time.Time{})
			require.NoError(t, err)
		}
		assert.LessOrEqual(t, len(c.entries), webhookCacheSize)
		// Expired entries go first.
		now = now.Add(webhookCacheTTL)
		_, err := c.get(ctx, "ch_new", time.Time{})
		require.NoError(t, err)
		assert.Len(t, c.entries, 1)
	})

	t.Run("a waiter leaves when its request ends", func(t *testing.T) {
		release := make(chan struct{})
		started := make(chan struct{})
		slow := newChannelCache(func(_ context.Context, id string) (*webhookChannel, error) {
			close(started)
			<-release
			return &webhookChannel{id: id, found: true}, nil
		}, func() time.Time { return now })
		done := make(chan error, 1)
		go func() {
			_, err := slow.get(ctx, "ch_a", time.Time{})
			done <- err
		}()
		<-started
		wctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := slow.get(wctx, "ch_a", time.Time{})
		assert.ErrorIs(t, err, context.Canceled)
		close(release)
		require.NoError(t, <-done)
		ch, err := slow.get(ctx, "ch_a", time.Time{})
		require.NoError(t, err)
		assert.Equal(t, "ch_a", ch.id)
	})
}
