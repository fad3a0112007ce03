package api

import (
	"context"
	"errors"
	"fmt"
	"strings"
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
		if strings.HasPrefix(id, "unknown_") {
			return decoyChannel(id), nil
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

	t.Run("bounded: a flood of unknown IDs evicts no channel", func(t *testing.T) {
		for i := range webhookCacheSize + 10 {
			_, err := c.get(ctx, fmt.Sprint("ch_", i), time.Time{})
			require.NoError(t, err)
		}
		known, unknown := c.len()
		assert.Equal(t, webhookCacheSize, known)
		assert.Zero(t, unknown)
		for i := range webhookUnknownCacheSize + 10 {
			_, err := c.get(ctx, fmt.Sprint("unknown_", i), time.Time{})
			require.NoError(t, err)
		}
		known, unknown = c.len()
		assert.Equal(t, webhookCacheSize, known)
		assert.Equal(t, webhookUnknownCacheSize, unknown)
		before := loads.Load()
		_, err := c.get(ctx, fmt.Sprint("ch_", webhookCacheSize+9), time.Time{})
		require.NoError(t, err)
		assert.Equal(t, before, loads.Load(), "the most recent channel is still cached")
		_, err = c.get(ctx, "ch_0", time.Time{})
		require.NoError(t, err)
		assert.Equal(t, before+1, loads.Load(), "the least recently used channel went")
	})

	t.Run("expired entries are dropped", func(t *testing.T) {
		now = now.Add(webhookCacheTTL - time.Millisecond)
		_, err := c.get(ctx, "ch_fresh", time.Time{})
		require.NoError(t, err)
		now = now.Add(time.Millisecond)
		c.dropExpired()
		known, unknown := c.len()
		assert.Equal(t, 1, known, "only the entry loaded less than the TTL ago is left")
		assert.Zero(t, unknown)
		before := loads.Load()
		_, err = c.get(ctx, "ch_fresh", time.Time{})
		require.NoError(t, err)
		assert.Equal(t, before, loads.Load())

		now = now.Add(webhookCacheTTL)
		_, err = c.get(ctx, "ch_fresh", time.Time{})
		require.NoError(t, err)
		assert.Equal(t, before+1, loads.Load(), "an expired entry is looked up again")
		now = now.Add(webhookCacheTTL)
		c.dropExpired()
		known, unknown = c.len()
		assert.Zero(t, known+unknown)
		c.mu.Lock()
		assert.Nil(t, c.sweep, "the sweep stops with the cache empty")
		c.mu.Unlock()
	})

	t.Run("forget", func(t *testing.T) {
		_, err := c.get(ctx, "ch_a", time.Time{})
		require.NoError(t, err)
		before := loads.Load()
		c.forget("ch_a")
		_, err = c.get(ctx, "ch_a", time.Time{})
		require.NoError(t, err)
		assert.Equal(t, before+1, loads.Load())
	})

	t.Run("a channel that stops taking events moves to the decoys", func(t *testing.T) {
		decoys := newChannelCache(func(_ context.Context, id string) (*webhookChannel, error) {
			if fail.Load() {
				return &webhookChannel{id: id, found: true, disabled: true}, nil
			}
			return &webhookChannel{id: id, found: true}, nil
		}, func() time.Time { return now })
		_, err := decoys.get(ctx, "ch_a", time.Time{})
		require.NoError(t, err)
		fail.Store(true)
		defer fail.Store(false)
		ch, err := decoys.get(ctx, "ch_a", now.Add(time.Nanosecond))
		require.NoError(t, err)
		assert.False(t, ch.takesEvents())
		known, unknown := decoys.len()
		assert.Equal(t, [2]int{0, 1}, [2]int{known, unknown})
	})

	t.Run("a lookup under way when forgotten is not cached", func(t *testing.T) {
		release, started := make(chan struct{}), make(chan struct{})
		var n atomic.Int64
		slow := newChannelCache(func(_ context.Context, id string) (*webhookChannel, error) {
			if n.Add(1) == 1 {
				close(started)
				<-release
			}
			return &webhookChannel{id: id, found: true}, nil
		}, func() time.Time { return now })
		done := make(chan error, 1)
		go func() {
			_, err := slow.get(ctx, "ch_a", time.Time{})
			done <- err
		}()
		<-started
		slow.forget("ch_a")
		close(release)
		require.NoError(t, <-done)
		known, _ := slow.len()
		assert.Zero(t, known)
		_, err := slow.get(ctx, "ch_a", time.Time{})
		require.NoError(t, err)
		assert.Equal(t, int64(2), n.Load())
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
