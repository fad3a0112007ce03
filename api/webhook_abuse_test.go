package api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/api"
	"github.com/aiccfb/aicc/meta"
)

// watchedBody is a request body that records whether anything read it.
type watchedBody struct {
	r    io.Reader
	read atomic.Bool
}

func (b *watchedBody) Read(p []byte) (int, error) {
	b.read.Store(true)
	return b.r.Read(p)
}

func (b *watchedBody) Close() error { return nil }

// postWatched posts body to the channel's callback URL from remoteAddr, straight to the handler (the spec's
// checks aside), announcing length as its Content-Length (-1: none, chunked).
func (h *harness) postWatched(channelID, remoteAddr string, body []byte, length int64, header map[string]string) (*httptest.ResponseRecorder, *watchedBody) {
	h.t.Helper()
	wb := &watchedBody{r: bytes.NewReader(body)}
	req := httptest.NewRequest(http.MethodPost, "/webhooks/facebook/"+channelID, wb)
	req.ContentLength = length
	req.RemoteAddr = remoteAddr
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.handler.ServeHTTP(rec, req)
	return rec, wb
}

// withLimits sets the server's WebhookLimits.
func withLimits(l api.WebhookLimits) harnessOption {
	return withServer(func(s *api.Server) { s.WebhookLimits = &l })
}

// noLimits turns the webhook limits off, for tests that fail often from one address.
var noLimits = withLimits(api.WebhookLimits{})

// TestWebhookUnknownChannelBodyUnread checks that a POST for a channel that takes no events is refused without
// its body being read, the unknown channel from the negative cache after its first lookup, and counted as a
// wrong signature for a channel that exists is.
func TestWebhookUnknownChannelBodyUnread(t *testing.T) {
	var counts *countingStore
	h := newHarness(t, noLimits, withServer(func(s *api.Server) { counts = &countingStore{Store: s.Store}; s.Store = counts }))
	tn := h.newTenant("A")
	ch := h.webhookChannel(tn, "fb_main", aicc.AlgorithmSHA256, "101")
	disabled := h.webhookChannel(tn, "fb_disabled", aicc.AlgorithmSHA256, "102")
	require.NoError(t, h.store.SetOnboarding(context.Background(), disabled, aicc.Onboarding{Status: aicc.StatusDisabled, UpdatedAt: h.now()}))
	unknown := aicc.NewID(aicc.PrefixChannel)
	body := webhookBody("m_1")
	good := signedBy(aicc.AlgorithmSHA256, appSecret, body)
	const from = "203.0.113.7:4242"
	counts.finds.Store(0)

	tests := []struct {
		name, channel string
		header        map[string]string
		reason        string
		read          bool
	}{
		{"unknown channel", unknown, good, aicc.RejectMismatch, false},
		{"unknown channel again", unknown, good, aicc.RejectMismatch, false},
		{"unknown channel, no header", unknown, nil, aicc.RejectMissing, false},
		{"unknown channel, malformed header", unknown, map[string]string{meta.HeaderSignature256: "sha256=zz"}, aicc.RejectMalformed, false},
		{"disabled channel", disabled, good, aicc.RejectMismatch, false},
		{"wrong signature", ch, signedBy(aicc.AlgorithmSHA256, "not-"+appSecret, body), aicc.RejectMismatch, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.on(t)
			before := h.scrape()
			rec, wb := h.postWatched(tt.channel, from, body, int64(len(body)), tt.header)
			assert.Equal(t, http.StatusForbidden, rec.Code)
			assert.Empty(t, rec.Body.Bytes())
			assert.Equal(t, tt.read, wb.read.Load(), "body read")
			after := h.scrape()
			series := `aicc_webhook_signature_rejections_total{reason="` + tt.reason + `"}`
			assert.Equal(t, h.metric(before, series)+1, h.metric(after, series))
			series = `aicc_webhook_events_total{result="rejected_signature"}`
			assert.Equal(t, h.metric(before, series)+1, h.metric(after, series))
		})
	}
	assert.Equal(t, int64(3), counts.finds.Load(), "each channel is looked up once: the unknown one too")
	assert.Zero(t, h.undelivered())

	// A correctly signed POST for the channel is read and stored, as before.
	rec, wb := h.postWatched(ch, from, body, int64(len(body)), good)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.True(t, wb.read.Load())
}

// TestWebhookDeclaredTooLarge checks that a Content-Length over the limit is a 413 before anything reads the body
// or looks the channel up, whether the channel exists or not.
func TestWebhookDeclaredTooLarge(t *testing.T) {
	var counts *countingStore
	h := newHarness(t, withServer(func(s *api.Server) {
		s.MaxBodyBytes = 1024
		counts = &countingStore{Store: s.Store}
		s.Store = counts
	}))
	tn := h.newTenant("A")
	ch := h.webhookChannel(tn, "fb_main", aicc.AlgorithmSHA256, "101")
	finds := counts.finds.Load()
	body := bytes.Repeat([]byte("x"), 2048)
	for _, id := range []string{ch, aicc.NewID(aicc.PrefixChannel)} {
		rec, wb := h.postWatched(id, "203.0.113.7:4242", body, int64(len(body)), signedBy(aicc.AlgorithmSHA256, appSecret, body))
		assert.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
		assert.Contains(t, rec.Body.String(), aicc.ETOOLARGE)
		assert.False(t, wb.read.Load(), "the body is not read")
	}
	assert.Equal(t, finds, counts.finds.Load(), "no lookup")
}

// TestWebhookHidesChannelsBeyondTheBody checks that what an unknown channel's unread body could change is the
// same as for a channel that exists: a body of unknown length over the limit is a 413 for both, one within it a
// 403, counted alike.
func TestWebhookHidesChannelsBeyondTheBody(t *testing.T) {
	h := newHarness(t, noLimits, withServer(func(s *api.Server) { s.MaxBodyBytes = 1024 }))
	tn := h.newTenant("A")
	existing := h.webhookChannel(tn, "fb_main", aicc.AlgorithmSHA256, "101")
	unknown := aicc.NewID(aicc.PrefixChannel)
	small := webhookBody("m_1")
	large := bytes.Repeat([]byte("x"), 2048)
	tests := []struct {
		name   string
		body   []byte
		length int64
		status int
	}{
		{"announced", small, int64(len(small)), http.StatusForbidden},
		{"chunked", small, -1, http.StatusForbidden},
		{"chunked, over the limit", large, -1, http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.on(t)
			header := signedBy(aicc.AlgorithmSHA256, "not-"+appSecret, tt.body)
			before := h.scrape()
			rec, _ := h.postWatched(existing, "203.0.113.7:4242", tt.body, tt.length, header)
			require.Equal(t, tt.status, rec.Code)
			mid := h.scrape()
			probe, _ := h.postWatched(unknown, "203.0.113.7:4242", tt.body, tt.length, header)
			after := h.scrape()
			assert.Equal(t, rec.Code, probe.Code)
			assert.Equal(t, rec.Body.String(), probe.Body.String())
			assert.Equal(t, rec.Header().Get("Connection"), probe.Header().Get("Connection"))
			assert.Equal(t, metricsDelta(t, before, mid), metricsDelta(t, mid, after))
		})
	}
}

// TestWebhookClientThrottle checks the client limit: a client that keeps failing is answered 429 before its body
// is read, whether it fails on unknown channels or on wrong signatures, while another client's signed POSTs to
// the same channel are answered 200; and the channel limit, which refuses nothing but stops the log lines.
func TestWebhookClientThrottle(t *testing.T) {
	var counts *countingStore
	h := newHarness(t,
		withLimits(api.WebhookLimits{ClientRate: 1, ClientBurst: 4, ChannelRate: 1, ChannelBurst: 2}),
		withServer(func(s *api.Server) { counts = &countingStore{Store: s.Store}; s.Store = counts }))
	tn := h.newTenant("A")
	ch := h.webhookChannel(tn, "fb_main", aicc.AlgorithmSHA256, "101")
	const flooder, metaAddr = "203.0.113.7:4242", "198.51.100.1:5151"
	n := 0
	signed := func(from string) (*httptest.ResponseRecorder, *watchedBody) {
		n++
		body := webhookBody(fmt.Sprint("m_", n))
		return h.postWatched(ch, from, body, int64(len(body)), signedBy(aicc.AlgorithmSHA256, appSecret, body))
	}
	forged := func(from, channelID string) (*httptest.ResponseRecorder, *watchedBody) {
		body := webhookBody("m_forged")
		return h.postWatched(channelID, from, body, int64(len(body)), signedBy(aicc.AlgorithmSHA256, "forged", body))
	}
	m := h.scrape()
	assert.Zero(t, h.metric(m, `aicc_webhook_throttled_total{scope="client"}`), "every scope is present")
	assert.Zero(t, h.metric(m, `aicc_webhook_throttled_total{scope="channel"}`))

	// Four failures, two on unknown channels, two on the channel: each a 403.
	for i, id := range []string{aicc.NewID(aicc.PrefixChannel), ch, aicc.NewID(aicc.PrefixChannel), ch} {
		rec, _ := forged(flooder, id)
		assert.Equal(t, http.StatusForbidden, rec.Code, "failure %d", i+1)
	}
	finds := counts.finds.Load()
	for i := range 3 {
		for _, id := range []string{ch, aicc.NewID(aicc.PrefixChannel)} {
			rec, wb := forged(flooder, id)
			assert.Equal(t, http.StatusTooManyRequests, rec.Code, "round %d", i)
			assert.Equal(t, "1", rec.Header().Get("Retry-After"))
			assert.Empty(t, rec.Body.Bytes())
			assert.False(t, wb.read.Load(), "a throttled body is not read")
		}
		rec, _ := signed(metaAddr)
		assert.Equal(t, http.StatusOK, rec.Code, "another client's signed POST")
	}
	assert.Equal(t, finds, counts.finds.Load(), "a throttled POST looks nothing up")
	rec, _ := signed(flooder)
	assert.Equal(t, http.StatusTooManyRequests, rec.Code, "the throttled client, even signed")

	m = h.scrape()
	assert.Equal(t, float64(7), h.metric(m, `aicc_webhook_throttled_total{scope="client"}`))
	assert.Equal(t, float64(4), h.metric(m, `aicc_webhook_events_total{result="rejected_signature"}`), "429s are no rejection")
	assert.Equal(t, float64(3), h.metric(m, `aicc_webhook_events_total{result="stored"}`))
	assert.Equal(t, float64(4+7), h.metric(m, `aicc_http_requests_total{code="4xx",method="POST",route="/webhooks/facebook/:channelID"}`))

	// A second later the client may fail once more; then a signed POST forgives its failures.
	*h.clock = h.now().Add(time.Second)
	rec, _ = forged(flooder, ch)
	assert.Equal(t, http.StatusForbidden, rec.Code)
	rec, _ = forged(flooder, ch)
	assert.Equal(t, http.StatusTooManyRequests, rec.Code)
	*h.clock = h.now().Add(time.Second)
	rec, _ = signed(flooder)
	assert.Equal(t, http.StatusOK, rec.Code)
	for range 4 {
		rec, _ = forged(flooder, ch)
		assert.Equal(t, http.StatusForbidden, rec.Code)
	}

	// The channel limit: of the channel's 7 failures, 2 were logged at once and 2 more as its bucket refilled.
	refused := 0
	for _, l := range h.logs.lines(t) {
		if l["msg"] == "webhook refused" && l["channel_id"] == ch {
			refused++
		}
	}
	assert.Equal(t, 4, refused)
	assert.Equal(t, float64(3), h.metric(h.scrape(), `aicc_webhook_throttled_total{scope="channel"}`))

	// Neither a throttled POST nor one refused beyond its channel's log budget has a request line.
	lines := map[float64]int{}
	for _, l := range h.logs.lines(t) {
		if l["msg"] == "request" && l["route"] == "/webhooks/facebook/:channelID" {
			status, _ := l["status"].(float64)
			lines[status]++
		}
	}
	assert.Zero(t, lines[http.StatusTooManyRequests])
	assert.Equal(t, 2+4, lines[http.StatusForbidden], "the 2 failures on unknown channels, the 4 logged of the channel's 7")
	assert.Equal(t, 4, lines[http.StatusOK])
}

// TestWebhookClientAddress checks whose address the client limit counts: the remote address, whatever
// X-Forwarded-For says, unless the remote address is a trusted proxy; an IPv6 client by its /64.
func TestWebhookClientAddress(t *testing.T) {
	limits := withLimits(api.WebhookLimits{ClientRate: 1, ClientBurst: 1})
	// fail sends a forged POST from remote, with X-Forwarded-For xff unless it is empty, and returns the status.
	fail := func(t *testing.T, h *harness, remote, xff string) int {
		t.Helper()
		body := webhookBody("m_1")
		header := signedBy(aicc.AlgorithmSHA256, "forged", body)
		if xff != "" {
			header["X-Forwarded-For"] = xff
		}
		rec, _ := h.postWatched("ch_unknown", remote, body, int64(len(body)), header)
		return rec.Code
	}

	t.Run("no proxy: X-Forwarded-For is ignored", func(t *testing.T) {
		h := newHarness(t, limits)
		assert.Equal(t, http.StatusForbidden, fail(t, h, "203.0.113.7:1", "192.0.2.98"))
		assert.Equal(t, http.StatusTooManyRequests, fail(t, h, "203.0.113.7:2", "192.0.2.99"))
	})
	t.Run("another address", func(t *testing.T) {
		h := newHarness(t, limits)
		assert.Equal(t, http.StatusForbidden, fail(t, h, "203.0.113.7:1", ""))
		assert.Equal(t, http.StatusForbidden, fail(t, h, "203.0.113.8:1", ""))
	})
	t.Run("IPv6 by its /64", func(t *testing.T) {
		h := newHarness(t, limits)
		assert.Equal(t, http.StatusForbidden, fail(t, h, "[2001:db8:0:1::1]:1", ""))
		assert.Equal(t, http.StatusTooManyRequests, fail(t, h, "[2001:db8:0:1:ffff::2]:1", ""))
		assert.Equal(t, http.StatusForbidden, fail(t, h, "[2001:db8:0:2::1]:1", ""))
	})
	t.Run("behind a trusted proxy", func(t *testing.T) {
		h := newHarness(t, limits, withServer(func(s *api.Server) { s.TrustedProxies = []string{"10.0.0.0/8"} }))
		assert.Equal(t, http.StatusForbidden, fail(t, h, "10.1.1.1:1", "192.0.2.98"))
		assert.Equal(t, http.StatusForbidden, fail(t, h, "10.1.1.1:2", "192.0.2.99"), "another client behind the proxy")
		assert.Equal(t, http.StatusTooManyRequests, fail(t, h, "10.1.1.1:3", "192.0.2.99"))
		assert.Equal(t, http.StatusForbidden, fail(t, h, "10.1.1.1:4", "192.0.2.100"))
	})
}

// TestWebhookThrottleSpec checks a 429 against api/openapi.yaml, through the harness's spec checks.
func TestWebhookThrottleSpec(t *testing.T) {
	h := newHarness(t, withLimits(api.WebhookLimits{ClientRate: 1, ClientBurst: 1}))
	body := webhookBody("m_1")
	wrong := signedBy(aicc.AlgorithmSHA256, "forged", body)
	requireRefused(t, h.postWebhook("ch_unknown", body, wrong))
	r := h.postWebhook("ch_unknown", body, wrong)
	requireStatus(t, r, http.StatusTooManyRequests)
	assert.Empty(t, r.Body)
	assert.Equal(t, "1", r.Header.Get("Retry-After"))
}
