package api

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
)

// TestThrottleConcurrentClient checks that a client's concurrent POSTs cannot overdraw its failures: with one
// failure left, one of many concurrent POSTs passes.
func TestThrottleConcurrentClient(t *testing.T) {
	th := newWebhookThrottle(WebhookLimits{ClientRate: 1, ClientBurst: 2}, prometheus.NewRegistry())
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	const client = "203.0.113.7"
	assert.False(t, th.refused(client, now), "no failure yet")
	th.failed(client, "ch_a", now)
	assert.False(t, th.refused(client, now), "one failure left")
	th.failed(client, "ch_a", now)
	assert.True(t, th.refused(client, now))

	later := now.Add(time.Second)
	var passed atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if !th.refused(client, later) {
				passed.Add(1)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int64(1), passed.Load(), "a second brings one failure back")

	th.signed(client)
	assert.False(t, th.refused(client, later), "a correctly signed POST forgives the client")
	assert.False(t, th.refused("203.0.113.8", later), "another client")
}
