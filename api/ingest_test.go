package api_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/api"
	"github.com/aiccfb/aicc/meta"
	"github.com/aiccfb/aicc/meta/metatest"
)

// appSecret is the app secret of channelBody's channels.
const appSecret = "app-secret-0123456789"

// Meta's timestamps of the test events, in ms.
const ts0 = int64(1_772_445_600_000) // 2026-03-02T10:00:00Z

// webhookChannel creates a channel of the tenant signing with alg, with the given Pages connected.
func (h *harness) webhookChannel(tn tenant, name string, alg aicc.SignatureAlgorithm, pages ...string) string {
	h.t.Helper()
	body := channelBody(tn, name)
	body["algorithm"] = string(alg)
	id := h.createChannel(tn, body).Channel.ID
	for _, p := range pages {
		h.addPage(tn, id, p)
	}
	return id
}

func (h *harness) addPage(tn tenant, channelID, pageID string) {
	h.t.Helper()
	requireStatus(h.t, h.post("/v1/channels/"+channelID+"/pages", tn.Admin,
		map[string]any{"pageId": pageID, "tokenSecret": "token-" + pageID}), http.StatusCreated)
}

// signedBy is the signature header Meta sends for body with alg and secret.
func signedBy(alg aicc.SignatureAlgorithm, secret string, body []byte) map[string]string {
	name, value := meta.Sign(alg, []byte(secret), body)
	return map[string]string{name: value}
}

// postWebhook posts body to the channel's callback URL with the given headers.
func (h *harness) postWebhook(channelID string, body []byte, header map[string]string) *response {
	h.t.Helper()
	return h.do(request{method: http.MethodPost, path: "/webhooks/facebook/" + channelID, body: body, header: header})
}

// sendWebhook posts p as Meta does, signed with appSecret under both algorithms, and returns the bytes sent.
func (h *harness) sendWebhook(channelID string, p metatest.Payload) (*response, []byte) {
	h.t.Helper()
	body := p.Encode()
	header := signedBy(aicc.AlgorithmSHA256, appSecret, body)
	for k, v := range signedBy(aicc.AlgorithmSHA1, appSecret, body) {
		header[k] = v
	}
	return h.postWebhook(channelID, body, header), body
}

// requireReceived asserts Meta's 200.
func requireReceived(tb testing.TB, r *response) {
	tb.Helper()
	requireStatus(tb, r, http.StatusOK)
	assert.Equal(tb, "EVENT_RECEIVED", string(r.Body))
	assert.Equal(tb, "text/plain; charset=utf-8", r.Header.Get("Content-Type"))
}

// requireRefused asserts a bare 403.
func requireRefused(tb testing.TB, r *response) {
	tb.Helper()
	requireStatus(tb, r, http.StatusForbidden)
	assert.Empty(tb, r.Body)
}

// scrape refreshes the gauges read from the database, as the server's RunGauges does on its interval, and
// returns the metrics page. A refresh that fails shows in the page, as it does in production.
func (h *harness) scrape() string {
	h.t.Helper()
	_ = api.RefreshGauges(context.Background(), h.server)
	r := h.get("/metrics", "")
	requireStatus(h.t, r, http.StatusOK)
	return string(r.Body)
}

// metric returns a series of a scrape, which must be there.
func (h *harness) metric(scrape, series string) float64 {
	h.t.Helper()
	v, ok := metricValue(h.t, scrape, series)
	require.True(h.t, ok, "no series %s", series)
	return v
}

// undelivered counts the events in the inbox.
func (h *harness) undelivered() int {
	h.t.Helper()
	st, err := h.store.InboxStats(context.Background())
	require.NoError(h.t, err)
	return st.Undelivered
}

// events returns the stored events of a conversation, saving the conversation first as its workflow would.
func (h *harness) events(tenantID, channelID, pageID, psid string) []aicc.InboxEvent {
	h.t.Helper()
	ctx := context.Background()
	cv := &aicc.Conversation{TenantID: tenantID, ChannelID: channelID, PageID: pageID, PSID: psid, UpdatedAt: h.now()}
	require.NoError(h.t, h.store.SaveConversation(ctx, cv))
	events, _, err := h.store.ConversationEvents(ctx, tenantID, cv.ID, aicc.ListOptions{Limit: aicc.MaxListLimit})
	require.NoError(h.t, err)
	return events
}

func TestWebhookIngest(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	ch := h.webhookChannel(tn, "fb_main", aicc.AlgorithmSHA256, "101", "102")

	// One POST, two Pages, three items each, of several kinds, in Meta's batching.
	p := metatest.NewPayload(
		metatest.NewEntry("101",
			metatest.Text("101", "9001", "m_1", "Hallo, Grüße 😀", ts0+1),
			metatest.Text("101", "9001", "m_2", "second", ts0+2),
			metatest.Echo("101", "9001", "m_3", "Welcome!", ts0+3),
		),
		metatest.NewEntry("102",
			metatest.Postback("102", "9002", "m_4", "Get Started", "GET_STARTED", ts0+4),
			metatest.Delivery("102", "9002", ts0+3, "m_x"),
			metatest.Read("102", "9002", ts0+3),
		),
	)
	r, body := h.sendWebhook(ch, p)
	requireReceived(t, r)
	assert.Equal(t, 6, h.undelivered())

	events := h.events(tn.ID, ch, "101", "9001")
	require.Len(t, events, 3, "the echo shares the customer's conversation")
	kinds := []aicc.EventKind{}
	for _, e := range events {
		kinds = append(kinds, e.Kind)
		assert.Equal(t, tn.ID, e.TenantID)
		assert.Equal(t, ch, e.ChannelID)
		assert.Equal(t, h.now(), e.ReceivedAt.UTC())
		assert.True(t, e.DeliveredAt.IsZero())
	}
	assert.Equal(t, []aicc.EventKind{aicc.EventMessage, aicc.EventMessage, aicc.EventEcho}, kinds)
	assert.Equal(t, "Hallo, Grüße 😀", events[0].Text)
	assert.Len(t, h.events(tn.ID, ch, "102", "9002"), 3)

	// Meta's retry, byte for byte: answered 200, stored once.
	requireReceived(t, h.postWebhook(ch, body, signedBy(aicc.AlgorithmSHA256, appSecret, body)))
	assert.Equal(t, 6, h.undelivered())

	// A retry in another batch with one new event.
	r, _ = h.sendWebhook(ch, metatest.NewPayload(metatest.NewEntry("101",
		metatest.Text("101", "9001", "m_2", "second", ts0+2),
		metatest.Text("101", "9001", "m_5", "third", ts0+5),
	)))
	requireReceived(t, r)
	assert.Equal(t, 7, h.undelivered())

	m := h.scrape()
	assert.Equal(t, float64(7), h.metric(m, `aicc_webhook_events_total{result="stored"}`))
	assert.Equal(t, float64(7), h.metric(m, `aicc_webhook_events_total{result="duplicate"}`))
	for _, result := range []string{"rejected_signature", "rejected_page", "malformed"} {
		assert.Zero(t, h.metric(m, `aicc_webhook_events_total{result="`+result+`"}`), "present from the start: %s", result)
	}
	assert.Equal(t, float64(3), h.metric(m, `aicc_webhook_request_duration_seconds_count`))
	assert.Equal(t, float64(3), h.metric(m, `aicc_http_requests_total{code="2xx",method="POST",route="/webhooks/facebook/:channelID"}`))
	assert.Equal(t, float64(7), h.metric(m, `aicc_inbox_undelivered`))
	assert.Zero(t, h.metric(m, `aicc_inbox_oldest_undelivered_seconds`), "received at the harness's now")
	*h.clock = h.now().Add(90 * time.Second)
	assert.Equal(t, float64(90), h.metric(h.scrape(), `aicc_inbox_oldest_undelivered_seconds`))
}

func TestWebhookAlgorithms(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	sha256Ch := h.webhookChannel(tn, "fb_sha256", aicc.AlgorithmSHA256, "101")
	sha1Ch := h.webhookChannel(tn, "fb_sha1", aicc.AlgorithmSHA1, "201")

	body := metatest.NewPayload(metatest.NewEntry("101", metatest.Text("101", "9001", "m_1", "hi", ts0))).Encode()
	requireReceived(t, h.postWebhook(sha256Ch, body, signedBy(aicc.AlgorithmSHA256, appSecret, body)))
	body = metatest.NewPayload(metatest.NewEntry("201", metatest.Text("201", "9001", "m_2", "hi", ts0))).Encode()
	requireReceived(t, h.postWebhook(sha1Ch, body, signedBy(aicc.AlgorithmSHA1, appSecret, body)))
	// Meta sends both headers; each channel reads its own.
	r, _ := h.sendWebhook(sha1Ch, metatest.NewPayload(metatest.NewEntry("201", metatest.Text("201", "9001", "m_3", "again", ts0+1))))
	requireReceived(t, r)
	assert.Equal(t, 3, h.undelivered())
}

func TestWebhookRejections(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	ch := h.webhookChannel(tn, "fb_main", aicc.AlgorithmSHA256, "101")
	disabled := h.webhookChannel(tn, "fb_disabled", aicc.AlgorithmSHA256, "102")
	require.NoError(t, h.store.SetOnboarding(context.Background(), disabled, aicc.Onboarding{Status: aicc.StatusDisabled, UpdatedAt: h.now()}))

	body := metatest.NewPayload(metatest.NewEntry("101", metatest.Text("101", "9001", "m_1", "hi", ts0))).Encode()
	changed := bytes.Replace(body, []byte(`"hi"`), []byte(`"ho"`), 1)
	require.NotEqual(t, body, changed)
	good := signedBy(aicc.AlgorithmSHA256, appSecret, body)
	tests := []struct {
		name, channel string
		header        map[string]string
		body          []byte
		reason        string
	}{
		// Counted as a wrong signature: no metric tells whether a channel exists (TestWebhookMetricsHideChannels).
		{"unknown channel", "ch_unknown", good, body, aicc.RejectMismatch},
		{"disabled channel", disabled, signedBy(aicc.AlgorithmSHA256, appSecret, body), body, aicc.RejectMismatch},
		{"missing header", ch, nil, body, aicc.RejectMissing},
		{"empty header", ch, map[string]string{meta.HeaderSignature256: ""}, body, aicc.RejectMissing},
		{"malformed header", ch, map[string]string{meta.HeaderSignature256: "sha256=not-hex"}, body, aicc.RejectMalformed},
		{"header without algorithm", ch, map[string]string{meta.HeaderSignature256: strings.TrimPrefix(good[meta.HeaderSignature256], "sha256=")}, body, aicc.RejectMalformed},
		{"other algorithm's header only", ch, signedBy(aicc.AlgorithmSHA1, appSecret, body), body, aicc.RejectOtherAlgorithm},
		// Told apart only with the channel's secret: a stranger learns nothing of the channel from the reason.
		{"other algorithm's header, another secret", ch, signedBy(aicc.AlgorithmSHA1, "not-"+appSecret, body), body, aicc.RejectMismatch},
		{"wrong secret", ch, signedBy(aicc.AlgorithmSHA256, "not-"+appSecret, body), body, aicc.RejectMismatch},
		{"body changed", ch, good, changed, aicc.RejectMismatch},
		{"signature of another body", ch, signedBy(aicc.AlgorithmSHA256, appSecret, changed), body, aicc.RejectMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.on(t)
			before := h.scrape()
			requireRefused(t, h.postWebhook(tt.channel, tt.body, tt.header))
			after := h.scrape()
			series := `aicc_webhook_signature_rejections_total{reason="` + tt.reason + `"}`
			assert.Equal(t, h.metric(before, series)+1, h.metric(after, series))
			series = `aicc_webhook_events_total{result="rejected_signature"}`
			assert.Equal(t, h.metric(before, series)+1, h.metric(after, series))
		})
	}
	assert.Zero(t, h.undelivered(), "nothing refused is stored")
	m := h.scrape()
	assert.Equal(t, float64(len(tests)), h.metric(m, `aicc_webhook_events_total{result="rejected_signature"}`))
	assert.Zero(t, h.metric(m, `aicc_webhook_events_total{result="stored"}`))
	assert.Contains(t, m, `aicc_webhook_signature_rejections_total{reason="malformed"}`, "every reason is present")
	assert.NotContains(t, m, "no_secret")
	assert.NotContains(t, m, "unknown_channel")
	assert.NotContains(t, m, "disabled_channel")
	assert.NotContains(t, h.logs.String(), appSecret)
	assert.NotContains(t, h.logs.String(), `"hi"`, "no body is logged")
}

// TestWebhookSignedBeforeParsed checks that an unsigned malformed body is a 403, not a 400: nothing of an
// unauthenticated body is looked at.
func TestWebhookSignedBeforeParsed(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	ch := h.webhookChannel(tn, "fb_main", aicc.AlgorithmSHA256, "101")
	body := []byte(`{"object":"page","entry":[`)
	requireRefused(t, h.postWebhook(ch, body, signedBy(aicc.AlgorithmSHA256, "wrong", body)))
	requireError(t, h.postWebhook(ch, body, signedBy(aicc.AlgorithmSHA256, appSecret, body)), http.StatusBadRequest, aicc.EINVALID)
}

func TestWebhookMalformed(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	ch := h.webhookChannel(tn, "fb_main", aicc.AlgorithmSHA256, "101")
	for name, body := range map[string]string{
		"malformed JSON":     `{"object":"page","entry":[`,
		"not an object":      `[1,2]`,
		"instagram":          `{"object":"instagram","entry":[]}`,
		"entries not a list": `{"object":"page","entry":{"id":"101","messaging":[]}}`,
		"malformed inside":   `{"object":"page","entry":[{"id":"101","messaging":[{"sender":{"id":"1"},"timestamp":01}]}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			h := h.on(t)
			e := requireError(t, h.postWebhook(ch, []byte(body), signedBy(aicc.AlgorithmSHA256, appSecret, []byte(body))),
				http.StatusBadRequest, aicc.EINVALID)
			assert.NotContains(t, e.Message, "meta:", "no parser detail")
		})
	}
	assert.Zero(t, h.undelivered())
	assert.Equal(t, float64(5), h.metric(h.scrape(), `aicc_webhook_events_total{result="malformed"}`))
}

func TestWebhookPageOfAnotherChannel(t *testing.T) {
	h := newHarness(t)
	a, b := h.newTenant("A"), h.newTenant("B")
	ch := h.webhookChannel(a, "fb_a", aicc.AlgorithmSHA256, "101")
	other := h.webhookChannel(a, "fb_a2", aicc.AlgorithmSHA256, "301")
	otherTenant := h.webhookChannel(b, "fb_b", aicc.AlgorithmSHA256, "401")

	r, _ := h.sendWebhook(ch, metatest.NewPayload(
		metatest.NewEntry("101", metatest.Text("101", "9001", "m_1", "mine", ts0), metatest.Text("101", "9001", "m_2", "mine too", ts0+1)),
		metatest.NewEntry("301", metatest.Text("301", "9001", "m_3", "another channel's", ts0+2)),
		metatest.NewEntry("401", metatest.Text("401", "9001", "m_4", "another tenant's", ts0+3)),
		metatest.NewEntry("999", metatest.Text("999", "9001", "m_5", "no channel's", ts0+4)),
	))
	requireReceived(t, r)
	assert.Equal(t, 2, h.undelivered(), "only the channel's own Page's events are stored")
	assert.Len(t, h.events(a.ID, ch, "101", "9001"), 2)
	assert.Empty(t, h.events(a.ID, other, "301", "9001"))
	assert.Empty(t, h.events(b.ID, otherTenant, "401", "9001"))
	assert.Empty(t, h.events(a.ID, ch, "301", "9001"), "not accepted into this channel either")

	// Only foreign Pages: nothing stored, still 200 (Meta would retry forever otherwise).
	r, _ = h.sendWebhook(ch, metatest.NewPayload(metatest.NewEntry("301", metatest.Text("301", "9001", "m_6", "x", ts0+5))))
	requireReceived(t, r)
	assert.Equal(t, 2, h.undelivered())

	m := h.scrape()
	assert.Equal(t, float64(4), h.metric(m, `aicc_webhook_events_total{result="rejected_page"}`))
	assert.Equal(t, float64(2), h.metric(m, `aicc_webhook_events_total{result="stored"}`))
}

func TestWebhookPageStatusDoesNotMatter(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	ch := h.webhookChannel(tn, "fb_main", aicc.AlgorithmSHA256, "101", "102")
	ctx := context.Background()
	require.NoError(t, h.store.SetPageStatus(ctx, tn.ID, ch, "101", aicc.PageSubscriptionFailed, aicc.EMETAUNAVAILABLE, h.now()))
	require.NoError(t, h.store.SetPageTokenHealth(ctx, tn.ID, ch, "102", aicc.TokenReauthRequired, aicc.EMETATOKENINVALID, h.now()))
	r, _ := h.sendWebhook(ch, metatest.NewPayload(
		metatest.NewEntry("101", metatest.Text("101", "9001", "m_1", "hi", ts0)),
		metatest.NewEntry("102", metatest.Text("102", "9001", "m_2", "hi", ts0)),
	))
	requireReceived(t, r)
	assert.Equal(t, 2, h.undelivered(), "a token problem never costs an inbound message")
}

func TestWebhookUnknownKinds(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	ch := h.webhookChannel(tn, "fb_main", aicc.AlgorithmSHA256, "101")
	r, _ := h.sendWebhook(ch, metatest.NewPayload(metatest.NewEntry("101",
		metatest.Optin("101", "9001", "ref-1", ts0),
		metatest.Reaction("101", "9001", "m_1", "❤", ts0+1),
	)))
	requireReceived(t, r)
	events := h.events(tn.ID, ch, "101", "9001")
	require.Len(t, events, 2)
	assert.Equal(t, aicc.EventUnknown, events[0].Kind)
	assert.Contains(t, string(events[0].Payload), `"optin":{"ref":"ref-1"}`, "kept as Meta sent it")
	assert.Equal(t, aicc.EventReaction, events[1].Kind)
}

func TestWebhookBodyLimit(t *testing.T) {
	h := newHarness(t, withServer(func(s *api.Server) { s.MaxBodyBytes = 1024 }))
	tn := h.newTenant("A")
	ch := h.webhookChannel(tn, "fb_main", aicc.AlgorithmSHA256, "101")
	body := metatest.NewPayload(metatest.NewEntry("101", metatest.Text("101", "9001", "m_1", strings.Repeat("x", 2048), ts0))).Encode()
	header := signedBy(aicc.AlgorithmSHA256, appSecret, body)
	requireError(t, h.postWebhook(ch, body, header), http.StatusRequestEntityTooLarge, aicc.ETOOLARGE)
	r := h.do(request{method: http.MethodPost, path: "/webhooks/facebook/" + ch, body: body, header: header, chunked: true})
	requireError(t, r, http.StatusRequestEntityTooLarge, aicc.ETOOLARGE)
	assert.Zero(t, h.undelivered())
}

// flakyStore is a store whose database can be taken down: every call the webhook makes then fails.
type flakyStore struct {
	aicc.Store
	down atomic.Bool
}

var errDown = errors.New("dial tcp 10.0.0.7:5432: connect: connection refused")

func (s *flakyStore) FindChannel(ctx context.Context, id string) (*aicc.Channel, error) {
	if s.down.Load() {
		return nil, errDown
	}
	return s.Store.FindChannel(ctx, id)
}

func (s *flakyStore) ChannelSecret(ctx context.Context, id string, kind aicc.SecretKind) (aicc.SealedSecret, error) {
	if s.down.Load() {
		return aicc.SealedSecret{}, errDown
	}
	return s.Store.ChannelSecret(ctx, id, kind)
}

func (s *flakyStore) ListPages(ctx context.Context, tenantID, channelID string, opt aicc.ListOptions) ([]*aicc.Page, string, error) {
	if s.down.Load() {
		return nil, "", errDown
	}
	return s.Store.ListPages(ctx, tenantID, channelID, opt)
}

func (s *flakyStore) StoreWebhook(ctx context.Context, events []aicc.InboxEvent, rejects []aicc.WebhookReject) (int, error) {
	if s.down.Load() {
		return 0, errDown
	}
	return s.Store.StoreWebhook(ctx, events, rejects)
}

func (s *flakyStore) InboxStats(ctx context.Context) (aicc.InboxStats, error) {
	if s.down.Load() {
		return aicc.InboxStats{}, errDown
	}
	return s.Store.InboxStats(ctx)
}

func TestWebhookDatabaseDown(t *testing.T) {
	var flaky *flakyStore
	h := newHarness(t, withServer(func(s *api.Server) { flaky = &flakyStore{Store: s.Store}; s.Store = flaky }))
	tn := h.newTenant("A")
	ch := h.webhookChannel(tn, "fb_main", aicc.AlgorithmSHA256, "101")
	payload := func(mid string) metatest.Payload {
		return metatest.NewPayload(metatest.NewEntry("101", metatest.Text("101", "9001", mid, "hi", ts0)))
	}
	requireUnavailable := func(t *testing.T, r *response) {
		t.Helper()
		requireError(t, r, http.StatusServiceUnavailable, aicc.EUNAVAILABLE)
		assert.NotContains(t, string(r.Body), "connection refused")
	}

	t.Run("channel lookup fails", func(t *testing.T) {
		h := h.on(t)
		flaky.down.Store(true)
		r, _ := h.sendWebhook(ch, payload("m_1"))
		requireUnavailable(t, r) // never 403 nor 200: Meta must retry
		flaky.down.Store(false)
		r, _ = h.sendWebhook(ch, payload("m_1"))
		requireReceived(t, r)
	})
	t.Run("insert fails", func(t *testing.T) {
		h := h.on(t)
		before := h.scrape()
		flaky.down.Store(true)
		r, body := h.sendWebhook(ch, payload("m_2")) // the channel is cached: only the insert fails
		requireUnavailable(t, r)
		m := h.scrape()
		assert.Equal(t, float64(1), h.metric(m, "aicc_inbox_undelivered"), "the last values are kept while the database is down")
		assert.Equal(t, h.metric(before, "aicc_metrics_refresh_errors_total")+1, h.metric(m, "aicc_metrics_refresh_errors_total"))
		assert.Equal(t, h.metric(before, "aicc_metrics_refreshed_timestamp_seconds"), h.metric(m, "aicc_metrics_refreshed_timestamp_seconds"),
			"the time of the last complete refresh")

		flaky.down.Store(false)
		assert.Equal(t, 1, h.undelivered(), "nothing of the refused POST is stored")
		requireReceived(t, h.postWebhook(ch, body, signedBy(aicc.AlgorithmSHA256, appSecret, body)))
		assert.Equal(t, 2, h.undelivered(), "Meta's retry is stored")
	})
	assert.Contains(t, h.logs.String(), "connection refused", "the cause is logged")
	assert.Contains(t, h.logs.String(), "metrics: reading inbox stats")
	m := h.scrape()
	assert.Equal(t, float64(2), h.metric(m, `aicc_webhook_events_total{result="stored"}`))
	assert.Equal(t, float64(2), h.metric(m, `aicc_http_requests_total{code="5xx",method="POST",route="/webhooks/facebook/:channelID"}`))
}

func TestWebhookDatabaseClosed(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	ch := h.webhookChannel(tn, "fb_main", aicc.AlgorithmSHA256, "101")
	closer, ok := h.store.(interface{ Close() error })
	require.True(t, ok)
	require.NoError(t, closer.Close())
	r, _ := h.sendWebhook(ch, metatest.NewPayload(metatest.NewEntry("101", metatest.Text("101", "9001", "m_1", "hi", ts0))))
	requireError(t, r, http.StatusServiceUnavailable, aicc.EUNAVAILABLE)
}

// countingStore counts the lookups of the webhook's channel; FindChannel waits for gate when it is set.
type countingStore struct {
	aicc.Store
	finds, secrets, pages atomic.Int64
	gate                  chan struct{}
	entered               chan struct{}
}

func (s *countingStore) FindChannel(ctx context.Context, id string) (*aicc.Channel, error) {
	if s.finds.Add(1) == 1 && s.gate != nil {
		close(s.entered)
		<-s.gate
	}
	return s.Store.FindChannel(ctx, id)
}

func (s *countingStore) ChannelSecret(ctx context.Context, id string, kind aicc.SecretKind) (aicc.SealedSecret, error) {
	s.secrets.Add(1)
	return s.Store.ChannelSecret(ctx, id, kind)
}

func (s *countingStore) ListPages(ctx context.Context, tenantID, channelID string, opt aicc.ListOptions) ([]*aicc.Page, string, error) {
	s.pages.Add(1)
	return s.Store.ListPages(ctx, tenantID, channelID, opt)
}

func TestWebhookChannelCache(t *testing.T) {
	var counts *countingStore
	h := newHarness(t, withServer(func(s *api.Server) { counts = &countingStore{Store: s.Store}; s.Store = counts }))
	tn := h.newTenant("A")
	ch := h.webhookChannel(tn, "fb_main", aicc.AlgorithmSHA256, "101")
	counts.finds.Store(0)
	counts.secrets.Store(0)
	counts.pages.Store(0)
	send := func(mid, page string) *response {
		t.Helper()
		r, _ := h.sendWebhook(ch, metatest.NewPayload(metatest.NewEntry(page, metatest.Text(page, "9001", mid, "hi", ts0))))
		return r
	}
	lookups := func() [3]int64 { return [3]int64{counts.finds.Load(), counts.secrets.Load(), counts.pages.Load()} }

	requireReceived(t, send("m_1", "101"))
	assert.Equal(t, [3]int64{1, 1, 1}, lookups())
	requireReceived(t, send("m_2", "101"))
	requireReceived(t, send("m_2", "101"))
	assert.Equal(t, [3]int64{1, 1, 1}, lookups(), "a cached channel costs no lookup")

	// A Page added a moment ago: its event makes the handler look the channel up again, once it is a
	// second old.
	h.addPage(tn, ch, "102")
	*h.clock = h.now().Add(1500 * time.Millisecond)
	requireReceived(t, send("m_3", "102"))
	assert.Equal(t, [3]int64{2, 2, 2}, lookups())
	assert.Equal(t, 3, h.undelivered())
	// An event for a Page of no channel, again within the second: no lookup.
	requireReceived(t, send("m_4", "999"))
	assert.Equal(t, [3]int64{2, 2, 2}, lookups())

	// A disabled channel is accepted until its entry expires.
	require.NoError(t, h.store.SetOnboarding(context.Background(), ch, aicc.Onboarding{Status: aicc.StatusDisabled, UpdatedAt: h.now()}))
	requireReceived(t, send("m_5", "101"))
	*h.clock = h.now().Add(5 * time.Second)
	requireRefused(t, send("m_6", "101"))
	assert.Equal(t, int64(3), counts.finds.Load())
	requireRefused(t, send("m_6", "101"))
	assert.Equal(t, int64(3), counts.finds.Load(), "the refusal is cached too")

	// A forged signature for a cached channel looks it up again at most once a second.
	other := h.webhookChannel(tn, "fb_other", aicc.AlgorithmSHA256, "201")
	body := metatest.NewPayload(metatest.NewEntry("201", metatest.Text("201", "9001", "m_7", "hi", ts0))).Encode()
	finds := counts.finds.Load()
	for range 5 {
		requireRefused(t, h.postWebhook(other, body, signedBy(aicc.AlgorithmSHA256, "forged", body)))
	}
	assert.Equal(t, finds+1, counts.finds.Load())
}

func TestWebhookCacheCoalescesLookups(t *testing.T) {
	counts := &countingStore{gate: make(chan struct{}), entered: make(chan struct{})}
	h := newHarness(t, withServer(func(s *api.Server) { counts.Store = s.Store; s.Store = counts }))
	tn := h.newTenant("A")
	ch := h.webhookChannel(tn, "fb_main", aicc.AlgorithmSHA256, "101")

	const n = 20
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		wg.Go(func() {
			body := metatest.NewPayload(metatest.NewEntry("101",
				metatest.Text("101", "9001", "m_"+string(rune('a'+i)), "hi", ts0))).Encode()
			req := httptest.NewRequest(http.MethodPost, "/webhooks/facebook/"+ch, bytes.NewReader(body))
			for k, v := range signedBy(aicc.AlgorithmSHA256, appSecret, body) {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.handler.ServeHTTP(rec, req)
			codes[i] = rec.Code
		})
	}
	<-counts.entered
	time.Sleep(50 * time.Millisecond) // let the others pile up behind the lookup
	close(counts.gate)
	wg.Wait()
	for i, code := range codes {
		assert.Equal(t, http.StatusOK, code, "request %d", i)
	}
	assert.Equal(t, int64(1), counts.finds.Load(), "concurrent misses share one lookup")
	assert.Equal(t, n, h.undelivered())
}
