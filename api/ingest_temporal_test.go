package api_test

import (
	"log/slog"
	"net"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/meta/metatest"
)

// unreachableTemporal is a real Temporal client, lazy as "aicc api"'s, for a frontend that is not there: a
// loopback port nothing listens on.
func unreachableTemporal(t *testing.T) client.Client {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	tc, err := client.NewLazyClient(client.Options{
		HostPort: addr,
		Logger:   sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
	})
	require.NoError(t, err)
	t.Cleanup(tc.Close)
	return tc
}

// With Temporal down, the API still takes Meta's webhooks: stored in the inbox and answered 200, for the
// dispatcher to deliver once Temporal is back. /readyz stays 200, "degraded", and names Temporal; a route
// that needs Temporal answers 503 UNAVAILABLE.
func TestWebhooksWhileTemporalIsDown(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	ch := h.webhookChannel(tn, "fb_main", aicc.AlgorithmSHA256, "101")

	// Temporal goes away: from now on the server's client reaches nothing.
	h.server.Temporal = unreachableTemporal(t)

	r, body := h.sendWebhook(ch, metatest.NewPayload(metatest.NewEntry("101",
		metatest.Text("101", "9001", "m_1", "Is anyone there?", ts0+1),
		metatest.Text("101", "9001", "m_2", "Hello?", ts0+2),
	)))
	requireReceived(t, r)
	requireReceived(t, h.postWebhook(ch, body, signedBy(aicc.AlgorithmSHA256, appSecret, body))) // Meta's retry
	events := h.events(tn.ID, ch, "101", "9001")
	require.Len(t, events, 2, "stored once")
	for _, e := range events {
		assert.True(t, e.DeliveredAt.IsZero(), "left for the dispatcher")
	}
	assert.Equal(t, 2, h.undelivered())

	r = h.get("/readyz", "")
	requireStatus(t, r, http.StatusOK)
	assert.JSONEq(t, `{"status":"degraded","checks":{"database":"ok","temporal":"unavailable"}}`, string(r.Body))
	assert.Contains(t, h.logs.String(), `"dependency":"temporal"`, "the cause is logged")

	requireError(t, h.get("/v1/channels/"+ch+"/onboarding", tn.Viewer), http.StatusServiceUnavailable, aicc.EUNAVAILABLE)

	m := h.scrape()
	assert.Equal(t, float64(2), h.metric(m, `aicc_webhook_events_total{result="stored"}`))
	assert.Equal(t, float64(2), h.metric(m, `aicc_inbox_undelivered`))
}
