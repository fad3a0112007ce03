package api_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/api"
)

func TestHealth(t *testing.T) {
	h := newHarness(t)
	r := h.get("/healthz", "")
	requireStatus(t, r, http.StatusOK)
	assert.JSONEq(t, `{"status":"ok"}`, string(r.Body))

	h.temporal.On("CheckHealth", mock.Anything, mock.Anything).Return(&client.CheckHealthResponse{}, nil)
	r = h.get("/readyz", "")
	requireStatus(t, r, http.StatusOK)
	assert.JSONEq(t, `{"status":"ok","checks":{"database":"ok","temporal":"ok"}}`, string(r.Body))
}

// downStore is a store whose database does not answer pings.
type downStore struct{ aicc.Store }

func (downStore) Ping(context.Context) error {
	return errors.New("dial tcp 10.0.0.7:5432: connection refused")
}

func TestReadyWhenDatabaseIsDown(t *testing.T) {
	h := newHarness(t, withServer(func(s *api.Server) { s.Store = downStore{s.Store} }))
	h.temporal.On("CheckHealth", mock.Anything, mock.Anything).Return(&client.CheckHealthResponse{}, nil)
	r := h.get("/readyz", "")
	requireStatus(t, r, http.StatusServiceUnavailable)
	assert.JSONEq(t, `{"status":"unavailable","checks":{"database":"unavailable","temporal":"ok"}}`, string(r.Body))
	assert.Contains(t, h.logs.String(), "connection refused", "the cause is logged")

	h.temporal.ExpectedCalls = nil
	h.temporal.On("CheckHealth", mock.Anything, mock.Anything).Return(nil, errors.New("temporal down"))
	r = h.get("/readyz", "")
	requireStatus(t, r, http.StatusServiceUnavailable)
	assert.JSONEq(t, `{"status":"unavailable","checks":{"database":"unavailable","temporal":"unavailable"}}`, string(r.Body))
}

func TestMetrics(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	c := h.createChannel(tn, channelBody(tn, "fb_main"))
	requireStatus(t, h.get("/v1/channels/"+c.Channel.ID, tn.Viewer), http.StatusOK)
	requireError(t, h.get("/v1/channels/ch_missing", tn.Viewer), http.StatusNotFound, aicc.ENOTFOUND)
	requireError(t, h.get("/nowhere", ""), http.StatusNotFound, aicc.ENOTFOUND)

	r := h.get("/metrics", "")
	requireStatus(t, r, http.StatusOK)
	m := string(r.Body)
	assert.Contains(t, m, `aicc_http_requests_total{code="2xx",method="GET",route="/v1/channels/:channelID"} 1`)
	assert.Contains(t, m, `aicc_http_requests_total{code="4xx",method="GET",route="/v1/channels/:channelID"} 1`)
	assert.Contains(t, m, `aicc_http_requests_total{code="2xx",method="POST",route="/v1/channels"} 1`)
	assert.Contains(t, m, `aicc_http_requests_total{code="4xx",method="GET",route="unmatched"} 1`)
	assert.Contains(t, m, `aicc_http_request_duration_seconds_count{method="GET",route="/v1/channels/:channelID"} 2`)
	assert.NotContains(t, m, c.Channel.ID, "labels are route templates, never IDs")
}

func TestErrorShapes(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")

	e := requireError(t, h.get("/v2/channels", tn.Admin), http.StatusNotFound, aicc.ENOTFOUND)
	assert.NotEmpty(t, e.Message)
	requireError(t, h.do(request{method: http.MethodPut, path: "/v1/channels", token: tn.Admin, body: "{}"}),
		http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED")

	for name, body := range map[string]string{
		"malformed":     `{"name": `,
		"not an object": `["name"]`,
		"trailing data": `{"name":"x"} {"name":"y"}`,
		"empty":         ``,
	} {
		t.Run(name, func(t *testing.T) {
			h := h.on(t)
			r := h.do(request{method: http.MethodPost, path: "/v1/ous", token: tn.Admin, body: []byte(body)})
			requireError(t, r, http.StatusBadRequest, aicc.EINVALID)
		})
	}
	e = requireError(t, h.post("/v1/skill-queues", tn.Admin, map[string]any{"name": "Q", "accessCode": "1", "ouId": tn.OU,
		"maxQueued": "many"}), http.StatusBadRequest, aicc.EINVALID)
	assert.Equal(t, map[string]string{"maxQueued": "must be an integer"}, e.Fields)
}

func TestBodyLimit(t *testing.T) {
	h := newHarness(t, withServer(func(s *api.Server) { s.MaxBodyBytes = 1024 }))
	tn := h.newTenant("A")
	big := map[string]any{"name": strings.Repeat("x", 2048)}
	requireError(t, h.post("/v1/ous", tn.Admin, big), http.StatusRequestEntityTooLarge, aicc.ETOOLARGE)
	r := h.do(request{method: http.MethodPost, path: "/v1/ous", token: tn.Admin, body: big, chunked: true})
	requireError(t, r, http.StatusRequestEntityTooLarge, aicc.ETOOLARGE)
}

func TestDefaultBodyLimit(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	big := map[string]any{"name": strings.Repeat("x", api.DefaultMaxBodyBytes)}
	requireError(t, h.post("/v1/ous", tn.Admin, big), http.StatusRequestEntityTooLarge, aicc.ETOOLARGE)
}

func TestRequestIDAndLogs(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")

	r := h.do(request{method: http.MethodGet, path: "/v1/channels", token: tn.Admin, header: map[string]string{"X-Request-ID": "req-42.a:b"}})
	requireStatus(t, r, http.StatusOK)
	assert.Equal(t, "req-42.a:b", r.Header.Get("X-Request-ID"))

	r = h.do(request{method: http.MethodGet, path: "/healthz", header: map[string]string{"X-Request-ID": `evil" id`}})
	assert.Regexp(t, regexp.MustCompile(`^[0-9a-f]{24}$`), r.Header.Get("X-Request-ID"))

	lines := h.logs.lines(t)
	require.NotEmpty(t, lines)
	var found bool
	for _, l := range lines {
		assert.NotEmpty(t, l["request_id"], "every line has the request ID: %v", l)
		if l["request_id"] == "req-42.a:b" && l["msg"] == "request" {
			found = true
			assert.Equal(t, "/v1/channels", l["route"])
			assert.Equal(t, "GET", l["method"])
			assert.EqualValues(t, http.StatusOK, l["status"])
			assert.Equal(t, tn.ID, l["tenant_id"])
		}
	}
	assert.True(t, found, "the request is logged")
}

func TestInternalErrorsAreNotEchoed(t *testing.T) {
	h := newHarness(t, withServer(func(s *api.Server) { s.Store = brokenStore{s.Store} }))
	tn := h.newTenant("A")
	r := h.do(request{method: http.MethodGet, path: "/v1/channels", token: tn.Admin, header: map[string]string{"X-Request-ID": "req-500"}})
	e := requireError(t, r, http.StatusInternalServerError, aicc.EINTERNAL)
	assert.Equal(t, "Internal error.", e.Message)
	assert.NotContains(t, string(r.Body), "secret_table")
	assert.Contains(t, h.logs.String(), "secret_table")
	assert.Contains(t, h.logs.String(), `"request_id":"req-500"`)
}

// brokenStore fails channel lists with a driver-like error.
type brokenStore struct{ aicc.Store }

func (brokenStore) ListChannels(context.Context, string, aicc.ChannelFilter) ([]*aicc.Channel, string, error) {
	return nil, "", errors.New(`pq: relation "secret_table" does not exist`)
}

// TestSpecCoversEveryRoute checks that every gin route of the two listeners is in api/openapi.yaml and every
// operation there is a route of one of them.
func TestSpecCoversEveryRoute(t *testing.T) {
	h := newHarness(t)
	public, ok := h.public.(*gin.Engine)
	require.True(t, ok)
	admin, ok := h.admin.(*gin.Engine)
	require.True(t, ok)
	param := regexp.MustCompile(`[:*]([A-Za-z]+)`) // :name and gin's catch-all *name
	routes := map[string]bool{}
	for _, r := range append(public.Routes(), admin.Routes()...) {
		path := param.ReplaceAllString(r.Path, "{$1}")
		routes[r.Method+" "+path] = true
		item := h.doc.Paths.Value(path)
		require.NotNil(t, item, "%s is not in the spec", path)
		assert.NotNil(t, item.GetOperation(r.Method), "%s %s is not in the spec", r.Method, path)
	}
	for path, item := range h.doc.Paths.Map() {
		for method := range item.Operations() {
			assert.True(t, routes[method+" "+path], "the spec describes %s %s, which is no route", method, path)
		}
	}
}

func TestServesItsSpec(t *testing.T) {
	h := newHarness(t)
	r := h.get("/openapi.yaml", "")
	requireStatus(t, r, http.StatusOK)
	want, err := os.ReadFile("openapi.yaml")
	require.NoError(t, err)
	assert.Equal(t, want, r.Body)
}

func TestServe(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- api.Serve(ctx, "admin", "127.0.0.1:0", h.admin, h.server.Logger) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after its context was done")
	}

	assert.Error(t, api.Serve(context.Background(), "admin", "127.0.0.1:-1", h.admin, h.server.Logger))
}

func TestPanicsAreInternalErrors(t *testing.T) {
	h := newHarness(t, withServer(func(s *api.Server) { s.Store = panickyStore{s.Store} }))
	tn := h.newTenant("A")
	e := requireError(t, h.get("/v1/ous", tn.Viewer), http.StatusInternalServerError, aicc.EINTERNAL)
	assert.Equal(t, "Internal error.", e.Message)
	assert.Contains(t, h.logs.String(), "panic: nil map")
	assert.Contains(t, string(h.get("/metrics", "").Body), `aicc_http_requests_total{code="5xx",method="GET",route="/v1/ous"} 1`)
}

// panickyStore panics on OU lists.
type panickyStore struct{ aicc.Store }

func (panickyStore) ListOUs(context.Context, string, aicc.ListOptions) ([]*aicc.OU, string, error) {
	panic("nil map")
}

// metricValue returns the value of the series named exactly series (name and labels) in a scrape, and
// whether it is there.
func metricValue(t *testing.T, scrape, series string) (float64, bool) {
	t.Helper()
	for _, line := range strings.Split(scrape, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			require.NoError(t, err, line)
			return f, true
		}
	}
	return 0, false
}

func TestStoreMetrics(t *testing.T) {
	h := newHarness(t, withoutCertificate())
	tn := h.newTenant("A")
	sys := h.token("", aicc.RoleSysadmin)
	scrape := h.scrape

	m := scrape()
	for _, health := range []string{"healthy", "degraded", "reauth_required"} {
		v, ok := metricValue(t, m, `aicc_pages{token_health="`+health+`"}`)
		assert.True(t, ok, "every health is always present: %s", health)
		assert.Zero(t, v)
	}
	_, ok := metricValue(t, m, "aicc_certificate_expiry_seconds")
	assert.False(t, ok, "no certificate, no series")
	for _, series := range []string{"aicc_inbox_undelivered", "aicc_inbox_oldest_undelivered_seconds"} {
		v, ok := metricValue(t, m, series)
		assert.True(t, ok, "an empty inbox is 0: %s", series)
		assert.Zero(t, v)
	}

	requireStatus(t, h.post("/v1/system/certificates", sys,
		map[string]any{"pem": selfSigned(t, h.now().Add(-time.Hour), h.now().Add(90*24*time.Hour))}), http.StatusCreated)
	requireStatus(t, h.post("/v1/system/certificates", sys,
		map[string]any{"pem": selfSigned(t, h.now().Add(-time.Hour), h.now().Add(10*24*time.Hour))}), http.StatusCreated)
	ch := h.createChannel(tn, channelBody(tn, "fb_main")).Channel.ID
	requireStatus(t, h.post("/v1/channels/"+ch+"/pages", tn.Admin, map[string]any{"pageId": "61", "tokenSecret": "t"}),
		http.StatusCreated)
	require.NoError(t, h.store.SetPageTokenHealth(context.Background(), tn.ID, ch, "61", aicc.TokenDegraded, aicc.EMETARATELIMITED, h.now()))
	requireStatus(t, h.post("/v1/channels/"+ch+"/pages", tn.Admin, map[string]any{"pageId": "62", "tokenSecret": "t"}),
		http.StatusCreated)

	m = scrape()
	v, ok := metricValue(t, m, "aicc_certificate_expiry_seconds")
	require.True(t, ok)
	assert.Equal(t, float64(90*24*3600), v, "the certificate that expires last")
	for health, want := range map[string]float64{"healthy": 1, "degraded": 1, "reauth_required": 0} {
		v, _ := metricValue(t, m, `aicc_pages{token_health="`+health+`"}`)
		assert.Equal(t, want, v, health)
	}

	*h.clock = h.now().Add(100 * 24 * time.Hour)
	v, _ = metricValue(t, scrape(), "aicc_certificate_expiry_seconds")
	assert.Equal(t, float64(-10*24*3600), v, "negative once expired")
}

// unreachableStore is a store whose database does not answer the metrics' queries.
type unreachableStore struct{ aicc.Store }

func (unreachableStore) ListCertificates(context.Context) ([]*aicc.Certificate, error) {
	return nil, errors.New("dial tcp 10.0.0.7:5432: connection refused")
}

func (unreachableStore) CountPagesByTokenHealth(context.Context) (map[aicc.TokenHealth]int, error) {
	return nil, errors.New("dial tcp 10.0.0.7:5432: i/o timeout")
}

func (unreachableStore) InboxStats(context.Context) (aicc.InboxStats, error) {
	return aicc.InboxStats{}, errors.New("dial tcp 10.0.0.7:5432: no route to host")
}

// A database that has never answered the gauges' queries: their series are left out, the rest still answers,
// the failures are counted and logged, and the refresh time stays 0.
func TestStoreMetricsWhenDatabaseIsDown(t *testing.T) {
	h := newHarness(t, withServer(func(s *api.Server) { s.Store = unreachableStore{s.Store} }))
	requireStatus(t, h.get("/healthz", ""), http.StatusOK)
	require.Error(t, api.RefreshGauges(context.Background(), h.server))
	r := h.get("/metrics", "")
	requireStatus(t, r, http.StatusOK)
	m := string(r.Body)
	assert.Contains(t, m, `aicc_http_requests_total{code="2xx",method="GET",route="/healthz"} 1`, "the rest still answers")
	assert.NotContains(t, m, "aicc_pages{")
	_, ok := metricValue(t, m, "aicc_certificate_expiry_seconds")
	assert.False(t, ok)
	_, ok = metricValue(t, m, "aicc_inbox_undelivered")
	assert.False(t, ok)
	_, ok = metricValue(t, m, "aicc_secret_rotations_reminded")
	assert.True(t, ok, "a query that answers is served")
	assert.Equal(t, float64(1), h.metric(m, "aicc_metrics_refresh_errors_total"))
	assert.Zero(t, h.metric(m, "aicc_metrics_refreshed_timestamp_seconds"), "no refresh has answered in full")
	assert.Contains(t, h.logs.String(), "connection refused")
	assert.Contains(t, h.logs.String(), "i/o timeout")
	assert.Contains(t, h.logs.String(), "no route to host")
}
