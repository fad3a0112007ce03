package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/api"
	"github.com/aiccfb/aicc/meta"
	"github.com/aiccfb/aicc/meta/metatest"
)

// serve sends one request straight to handler, past the harness's spec checks: the spec describes the routes,
// not which listener serves them.
func serve(t *testing.T, handler http.Handler, method, path, token string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	return rec
}

// requireNotFound asserts the 404 of a path no route serves, in the error shape.
func requireNotFound(t *testing.T, rec *httptest.ResponseRecorder, what string) {
	t.Helper()
	require.Equal(t, http.StatusNotFound, rec.Code, "%s: %s", what, rec.Body)
	var body struct {
		Error apiError `json:"error"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), "%s: %s", what, rec.Body)
	assert.Equal(t, aicc.ENOTFOUND, body.Error.Code, what)
	assert.Equal(t, "No such route.", body.Error.Message, "%s: the same answer as a path that is no route", what)
}

// The public listener answers Meta's webhooks and /healthz, and 404 to everything the admin listener serves;
// the admin listener serves those and not the webhooks.
func TestListeners(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	c := h.createChannel(tn, channelBody(tn, "fb_main"))
	id := c.Channel.ID
	h.temporal.On("CheckHealth", mock.Anything, mock.Anything).Return(&client.CheckHealthResponse{}, nil)
	h.temporal.On("SignalWorkflow", mock.Anything, mock.Anything, mock.Anything, mock.Anything, mock.Anything).Return(nil).Maybe()

	admin := []string{"/v1/channels", "/v1/channels/" + id, "/metrics", "/openapi.yaml", "/", "/docs",
		"/docs/redoc.standalone.js", "/readyz", "/console/", "/console/app.js"}
	for _, path := range admin {
		requireNotFound(t, serve(t, h.public, http.MethodGet, path, tn.Admin), "public "+path)
		assert.Equal(t, http.StatusOK, serve(t, h.admin, http.MethodGet, path, tn.Admin).Code, "admin %s", path)
	}
	requireNotFound(t, serve(t, h.public, http.MethodPost, "/v1/channels", tn.Admin), "public POST /v1/channels")
	for _, handler := range []http.Handler{h.public, h.admin} {
		rec := serve(t, handler, http.MethodGet, "/healthz", "")
		assert.Equal(t, http.StatusOK, rec.Code)
		assert.JSONEq(t, `{"status":"ok"}`, rec.Body.String())
	}

	verify := verifyURL(id, "subscribe", c.MetaSetup.VerifyToken, "1158201444")
	rec := serve(t, h.public, http.MethodGet, verify, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, "1158201444", rec.Body.String())
	requireNotFound(t, serve(t, h.admin, http.MethodGet, verify, ""), "admin webhook GET")
	requireNotFound(t, serve(t, h.admin, http.MethodPost, "/webhooks/facebook/"+id, ""), "admin webhook POST")
	assert.Equal(t, http.StatusForbidden, serve(t, h.public, http.MethodPost, "/webhooks/facebook/"+id, "").Code,
		"the public POST route is there: an unsigned POST is refused, not unknown")

	// Both listeners count on the one registry the admin listener serves.
	m := h.scrape()
	assert.Contains(t, m, `aicc_http_requests_total{code="4xx",method="GET",route="unmatched"}`)
	assert.Contains(t, m, `aicc_webhook_verifications_total{result="verified"} 1`)
}

// gaugeStore counts the queries of the gauges read from the database.
type gaugeStore struct {
	aicc.Store
	queries atomic.Int64
}

func (s *gaugeStore) ListCertificates(ctx context.Context) ([]*aicc.Certificate, error) {
	s.queries.Add(1)
	return s.Store.ListCertificates(ctx)
}

func (s *gaugeStore) CountPagesByTokenHealth(ctx context.Context) (map[aicc.TokenHealth]int, error) {
	s.queries.Add(1)
	return s.Store.CountPagesByTokenHealth(ctx)
}

func (s *gaugeStore) RotationStats(ctx context.Context) (aicc.RotationStats, error) {
	s.queries.Add(1)
	return s.Store.RotationStats(ctx)
}

func (s *gaugeStore) InboxStats(ctx context.Context) (aicc.InboxStats, error) {
	s.queries.Add(1)
	return s.Store.InboxStats(ctx)
}

// A scrape asks the database nothing: RunGauges refreshes the gauges on its interval, and stops with its
// context.
func TestGaugesRefreshInTheBackground(t *testing.T) {
	var store *gaugeStore
	h := newHarness(t, withServer(func(s *api.Server) {
		store = &gaugeStore{Store: s.Store}
		s.Store = store
		s.GaugeInterval = 20 * time.Millisecond
	}))
	tn := h.newTenant("A")
	ch := h.webhookChannel(tn, "fb_main", aicc.AlgorithmSHA256, "101")
	metrics := func() string {
		t.Helper()
		r := h.get("/metrics", "")
		requireStatus(t, r, http.StatusOK)
		return string(r.Body)
	}
	store.queries.Store(0) // what setting up the channel asked

	for range 20 {
		m := metrics()
		_, ok := metricValue(t, m, "aicc_inbox_undelivered")
		assert.False(t, ok, "never refreshed: left out")
		assert.Zero(t, h.metric(m, "aicc_metrics_refreshed_timestamp_seconds"))
	}
	assert.Zero(t, store.queries.Load(), "scrapes run no query")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); h.server.RunGauges(ctx) }()
	undelivered := func() float64 {
		v, _ := metricValue(t, metrics(), "aicc_inbox_undelivered")
		return v
	}
	require.Eventually(t, func() bool {
		_, ok := metricValue(t, metrics(), "aicc_inbox_undelivered")
		return ok
	}, 5*time.Second, 5*time.Millisecond, "refreshed at once")
	assert.Zero(t, undelivered())
	assert.Equal(t, float64(h.now().UnixMilli())/1e3, h.metric(metrics(), "aicc_metrics_refreshed_timestamp_seconds"))

	requireReceived(t, h.postWebhook(ch, webhookBody("m_1"), signedBy(aicc.AlgorithmSHA256, appSecret, webhookBody("m_1"))))
	require.Eventually(t, func() bool { return undelivered() == 1 }, 5*time.Second, 5*time.Millisecond,
		"refreshed on the interval")

	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("RunGauges did not return after its context was done")
	}
	n := store.queries.Load()
	for range 20 {
		metrics()
	}
	time.Sleep(60 * time.Millisecond)
	assert.Equal(t, n, store.queries.Load(), "no query after RunGauges stopped, whatever the scrapes")
}

// webhookBody is a one-message notification for Page 101.
func webhookBody(mid string) []byte {
	return metatest.NewPayload(metatest.NewEntry("101", metatest.Text("101", "9001", mid, "hi", ts0))).Encode()
}

// metricsDelta returns how each counter series about webhooks and HTTP requests changed from before to after,
// the latency histograms' buckets and sums aside (they measure time, not what was answered).
func metricsDelta(t *testing.T, before, after string) map[string]float64 {
	t.Helper()
	values := func(scrape string) map[string]float64 {
		m := map[string]float64{}
		for _, line := range strings.Split(scrape, "\n") {
			if !strings.HasPrefix(line, "aicc_webhook_") && !strings.HasPrefix(line, "aicc_http_requests_total") {
				continue
			}
			name, _, _ := strings.Cut(strings.Fields(line)[0], "{")
			if strings.HasSuffix(name, "_bucket") || strings.HasSuffix(name, "_sum") {
				continue
			}
			i := strings.LastIndexByte(line, ' ')
			v, err := strconv.ParseFloat(line[i+1:], 64)
			require.NoError(t, err, line)
			m[line[:i]] = v
		}
		return m
	}
	b, a := values(before), values(after)
	delta := map[string]float64{}
	for series, v := range a {
		if d := v - b[series]; d != 0 {
			delta[series] = d
		}
	}
	for series := range b {
		if _, ok := a[series]; !ok {
			delta[series+" (gone)"] = -1
		}
	}
	return delta
}

// No metric tells whether a channel ID exists: a request for one that does not, or for a disabled one, changes
// the metrics exactly as the same request for an existing SHA-256 channel with a wrong signature or verify
// token does.
func TestWebhookMetricsHideChannels(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	existing := h.webhookChannel(tn, "fb_main", aicc.AlgorithmSHA256, "101")
	disabled := h.webhookChannel(tn, "fb_disabled", aicc.AlgorithmSHA256, "102")
	require.NoError(t, h.store.SetOnboarding(context.Background(), disabled,
		aicc.Onboarding{Status: aicc.StatusDisabled, UpdatedAt: h.now()}))
	unknown := aicc.NewID(aicc.PrefixChannel)

	body := webhookBody("m_1")
	post := func(header map[string]string) func(channelID string) {
		return func(channelID string) { requireRefused(t, h.postWebhook(channelID, body, header)) }
	}
	get := func(mode, token string) func(channelID string) {
		return func(channelID string) {
			r := h.get(verifyURL(channelID, mode, token, "42"), "")
			requireStatus(t, r, http.StatusForbidden)
		}
	}
	wrong := signedBy(aicc.AlgorithmSHA256, "not-"+appSecret, body)
	tests := []struct {
		name string
		send func(channelID string)
		// probe is the channel sent to instead of the existing one.
		probe string
	}{
		{"wrong signature", post(wrong), unknown},
		{"missing header", post(nil), unknown},
		{"malformed header", post(map[string]string{meta.HeaderSignature256: "sha256=not-hex"}), unknown},
		// A prober does not know the secret: only the channel's own secret under the other algorithm is
		// other_algorithm (TestWebhookRejections).
		{"other algorithm's header", post(signedBy(aicc.AlgorithmSHA1, "not-"+appSecret, body)), unknown},
		{"wrong signature, disabled channel", post(wrong), disabled},
		{"verification, wrong token", get("subscribe", "not-the-token"), unknown},
		{"verification, wrong mode", get("unsubscribe", "not-the-token"), unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.on(t)
			before := h.scrape()
			tt.send(existing)
			mid := h.scrape()
			tt.send(tt.probe)
			after := h.scrape()
			want, got := metricsDelta(t, before, mid), metricsDelta(t, mid, after)
			require.NotEmpty(t, want, "the request counts somewhere")
			assert.Equal(t, sortedKeys(want), sortedKeys(got))
			assert.Equal(t, want, got, "a request for %s counts as one with a bad signature for a channel that exists", tt.probe)
		})
	}
	// The disabled channel's own secret is no key either: refused, and counted, as a wrong signature.
	before := h.scrape()
	post(signedBy(aicc.AlgorithmSHA256, appSecret, body))(disabled)
	assert.Equal(t, h.metric(before, `aicc_webhook_signature_rejections_total{reason="mismatch"}`)+1,
		h.metric(h.scrape(), `aicc_webhook_signature_rejections_total{reason="mismatch"}`))
	assert.Contains(t, h.logs.String(), "webhook for a channel that does not exist", "the log tells them apart")
	assert.Contains(t, h.logs.String(), "webhook for a disabled channel")
}

func sortedKeys(m map[string]float64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
