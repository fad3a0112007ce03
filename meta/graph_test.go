package meta_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
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
	"github.com/aiccfb/aicc/meta"
	"github.com/aiccfb/aicc/meta/metatest"
)

// Canaries: if any of these shows up in an error text, a secret leaked.
const (
	pageID       = "104000000000001"
	pageName     = "Acme Support"
	psid         = "7001000000000001"
	canaryToken  = "EAAGcanaryPAGEtoken0123456789abcdef"
	canarySecret = "canary-app-secret-0123456789abcdef"
)

func newClient(tb testing.TB, baseURL string, hc *http.Client) *meta.Client {
	tb.Helper()
	if hc == nil {
		hc = &http.Client{Timeout: 2 * time.Second}
	}
	c := meta.NewClient(baseURL, hc)
	c.Backoff = func(int) time.Duration { return time.Millisecond }
	return c
}

func setup(tb testing.TB) (*metatest.GraphServer, *meta.Client, aicc.PageCall) {
	tb.Helper()
	srv := metatest.NewGraphServer(tb, canarySecret)
	srv.AddPage(pageID, pageName, canaryToken)
	return srv, newClient(tb, srv.URL, nil), aicc.PageCall{PageID: pageID, AccessToken: canaryToken, AppSecret: canarySecret}
}

// requireGraphError checks err's code, that the detail and the domain error are both reachable, and that no
// secret is in its text.
func requireGraphError(tb testing.TB, err error, code string, retryable bool) *aicc.GraphError {
	tb.Helper()
	require.Error(tb, err)
	assert.Equal(tb, code, aicc.ErrorCode(err))
	var ge *aicc.GraphError
	require.True(tb, errors.As(err, &ge), "want a *aicc.GraphError, got %T", err)
	assert.Equal(tb, retryable, ge.Retryable)
	var de *aicc.Error
	require.True(tb, errors.As(err, &de))
	assert.Equal(tb, code, de.Code)
	assert.NotEmpty(tb, de.Message)
	requireNoSecret(tb, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err), ge.GraphMessage)
	return ge
}

func requireNoSecret(tb testing.TB, texts ...string) {
	tb.Helper()
	proof := meta.AppSecretProof(canarySecret, canaryToken)
	for _, s := range texts {
		for _, secret := range []string{canaryToken, canarySecret, proof, "canary"} {
			require.NotContains(tb, s, secret)
		}
	}
}

// recorder remembers the URL of every request.
type recorder struct {
	mu   sync.Mutex
	urls []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.urls = append(r.urls, req.Method+" "+req.URL.String())
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

func TestClientCalls(t *testing.T) {
	srv, _, call := setup(t)
	rec := &recorder{}
	c := newClient(t, srv.URL, &http.Client{Transport: rec, Timeout: 2 * time.Second})
	ctx := t.Context()

	info, err := c.CheckPageToken(ctx, call)
	require.NoError(t, err)
	assert.Equal(t, aicc.PageInfo{ID: pageID, Name: pageName}, info)

	require.NoError(t, c.SubscribeApp(ctx, call))
	assert.Equal(t, aicc.SubscribedFields, srv.Subscription(pageID))

	apps, err := c.SubscribedApps(ctx, call)
	require.NoError(t, err)
	assert.Equal(t, []aicc.SubscribedApp{{ID: metatest.DefaultAppID, Name: metatest.DefaultAppName, Fields: aicc.SubscribedFields}}, apps)

	res, err := c.SendMessage(ctx, call, aicc.OutboundMessage{RecipientPSID: psid, Text: "Grüße 👋", Type: aicc.MessagingResponse})
	require.NoError(t, err)
	assert.Equal(t, psid, res.RecipientID)
	assert.True(t, strings.HasPrefix(res.MessageID, "m_"), res.MessageID)
	sent := srv.Sent()
	require.Len(t, sent, 1)
	assert.Equal(t, metatest.SentMessage{
		PageID: pageID, RecipientID: psid, MessagingType: "RESPONSE", Text: "Grüße 👋", MessageID: res.MessageID, At: sent[0].At,
	}, sent[0])

	require.NoError(t, c.UnsubscribeApp(ctx, call))
	assert.Nil(t, srv.Subscription(pageID))
	apps, err = c.SubscribedApps(ctx, call)
	require.NoError(t, err)
	assert.Empty(t, apps)

	// Nothing secret is in a URL, which proxies and Meta's edge may log: the token travels in the Authorization
	// header, the proof in the body; a GET is a POST that says method=get, Graph's method override.
	for _, u := range rec.urls {
		assert.False(t, strings.Contains(u, "?"), "no query at all: %s", u)
		requireNoSecret(t, u)
		assert.NotContains(t, u, meta.AppSecretProof(canarySecret, canaryToken))
	}

	var got []string
	for _, r := range srv.Requests() {
		assert.Equal(t, http.StatusOK, r.Status, r.Path)
		assert.Empty(t, r.URLParams, r.Path)
		assert.True(t, r.Bearer, "the token in the Authorization header: %s", r.Path)
		got = append(got, r.HTTPMethod+" as "+r.Method+" "+r.Path)
	}
	base := "/" + meta.DefaultVersion + "/" + pageID
	assert.Equal(t, []string{
		"POST as GET /" + meta.DefaultVersion + "/me", "POST as POST " + base + "/subscribed_apps",
		"POST as GET " + base + "/subscribed_apps", "POST as POST " + base + "/messages",
		"DELETE as DELETE " + base + "/subscribed_apps", "POST as GET " + base + "/subscribed_apps",
	}, got)
}

func TestCheckApp(t *testing.T) {
	srv := metatest.NewGraphServer(t, canarySecret)
	srv.AddApp("2000000000000002", "other-app-secret-0123")
	rec := &recorder{}
	c := newClient(t, srv.URL, &http.Client{Transport: rec, Timeout: 2 * time.Second})
	ctx := t.Context()

	require.NoError(t, c.CheckApp(ctx, aicc.AppCall{AppID: metatest.DefaultAppID, AppSecret: canarySecret}))
	require.NoError(t, c.CheckApp(ctx, aicc.AppCall{AppID: "2000000000000002", AppSecret: "other-app-secret-0123"}))

	// Another app's ID with a secret that is not its own, and an app Meta does not know: refused alike.
	for _, call := range []aicc.AppCall{
		{AppID: "2000000000000002", AppSecret: canarySecret},
		{AppID: "3000000000000003", AppSecret: canarySecret},
	} {
		err := c.CheckApp(ctx, call)
		ge := requireGraphError(t, err, aicc.EMETAAPPINVALID, false)
		assert.Equal(t, http.StatusBadRequest, ge.HTTPStatus)
		assert.Contains(t, []int{1, 101}, ge.GraphCode)
		requireNoSecret(t, fmt.Sprint(call), fmt.Sprintf("%#v", call))
	}

	// Meta unavailable is retried, and stays unavailable: it says nothing about the secret.
	srv.FailNext(3, metatest.FailServerError)
	requireGraphError(t, c.CheckApp(ctx, aicc.AppCall{AppID: metatest.DefaultAppID, AppSecret: canarySecret}), aicc.EMETAUNAVAILABLE, true)

	// Checked before any call.
	n := len(srv.Requests())
	for _, call := range []aicc.AppCall{{AppID: "../me", AppSecret: canarySecret}, {AppID: metatest.DefaultAppID}} {
		assert.Equal(t, aicc.EINVALID, aicc.ErrorCode(c.CheckApp(ctx, call)))
	}
	assert.Len(t, srv.Requests(), n)

	// The secret is in the body of a POST, never in a URL.
	for _, u := range rec.urls {
		assert.Equal(t, "POST "+srv.URL+"/"+meta.DefaultVersion+"/oauth/access_token", u)
	}
	for _, r := range srv.Requests() {
		assert.Empty(t, r.URLParams)
		assert.False(t, r.Bearer)
	}
}

func TestClientErrors(t *testing.T) {
	tests := []struct {
		name      string
		arrange   func(*metatest.GraphServer, *aicc.PageCall)
		code      string
		retryable bool
		requests  int // what the fake saw: 1 + MaxRetries (2) for what is retried
		graph     [2]int
	}{
		{"expired token", func(s *metatest.GraphServer, _ *aicc.PageCall) { s.ExpireToken(pageID) },
			aicc.EMETATOKENINVALID, false, 1, [2]int{190, 463}},
		{"unknown token", func(_ *metatest.GraphServer, c *aicc.PageCall) { c.AccessToken += "x" },
			aicc.EMETATOKENINVALID, false, 1, [2]int{190, 0}},
		{"wrong app secret", func(_ *metatest.GraphServer, c *aicc.PageCall) { c.AppSecret = "another-secret-4567" },
			aicc.EMETAINVALIDPARAM, false, 1, [2]int{100, 0}},
		{"rate limit 613", func(s *metatest.GraphServer, _ *aicc.PageCall) { s.FailNext(5, metatest.FailRateLimit) },
			aicc.EMETARATELIMITED, true, 3, [2]int{613, 0}},
		{"app rate limit 4 over 429", func(s *metatest.GraphServer, _ *aicc.PageCall) { s.FailNext(5, metatest.FailAppRateLimit) },
			aicc.EMETARATELIMITED, true, 3, [2]int{4, 0}},
		{"server error 500", func(s *metatest.GraphServer, _ *aicc.PageCall) { s.FailNext(5, metatest.FailServerError) },
			aicc.EMETAUNAVAILABLE, true, 3, [2]int{2, 0}},
		{"invalid parameter 100", func(s *metatest.GraphServer, _ *aicc.PageCall) { s.FailNext(5, metatest.FailInvalidParam) },
			aicc.EMETAINVALIDPARAM, false, 1, [2]int{100, 0}},
		{"permission 200", func(s *metatest.GraphServer, _ *aicc.PageCall) { s.FailNext(5, metatest.FailPermission) },
			aicc.EMETAPERMISSION, false, 1, [2]int{200, 0}},
		{"user unavailable 551", func(s *metatest.GraphServer, _ *aicc.PageCall) { s.FailNext(5, metatest.FailUserUnavailable) },
			aicc.EMETAUSERUNAVAILABLE, false, 1, [2]int{551, 1545041}},
		{"token of another page", func(s *metatest.GraphServer, c *aicc.PageCall) {
			s.AddPage("104000000000002", "Other", "other-page-token")
			c.AccessToken = "other-page-token"
		}, aicc.EMETAPERMISSION, false, 1, [2]int{210, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c, call := setup(t)
			tt.arrange(srv, &call)
			err := c.SubscribeApp(t.Context(), call)
			ge := requireGraphError(t, err, tt.code, tt.retryable)
			assert.Equal(t, tt.graph, [2]int{ge.GraphCode, ge.Subcode})
			assert.NotEmpty(t, ge.FBTraceID)
			assert.NotZero(t, ge.HTTPStatus)
			assert.Len(t, srv.Requests(), tt.requests)
			assert.Nil(t, srv.Subscription(pageID), "nothing subscribed")
		})
	}
}

// A message is posted again only when Meta's own error body says it was not taken (Graph's temporary error,
// code 1200, is_transient): a gateway's 5xx without one may follow a message Meta has, and is not retried. A
// call that changes nothing is retried on either.
func TestSendMessageRetriesOnlyWhatMetaRefused(t *testing.T) {
	msg := aicc.OutboundMessage{RecipientPSID: psid, Text: "hi", Type: aicc.MessagingResponse}
	call := aicc.PageCall{PageID: pageID, AccessToken: canaryToken, AppSecret: canarySecret}
	for _, tc := range []struct {
		name, body    string
		status        int
		sends, checks int32 // requests of SendMessage and of CheckPageToken
	}{
		{"Graph's temporary error", `{"error":{"message":"Service temporarily unavailable","type":"OAuthException","code":2}}`, 503, 3, 3},
		{"send failure 1200", `{"error":{"message":"Temporary send message failure","type":"OAuthException","code":1200}}`, 400, 3, 3},
		{"is_transient", `{"error":{"message":"An unknown error occurred","type":"OAuthException","code":1,"is_transient":true}}`, 400, 3, 3},
		{"a gateway's 502", `<html><body>502 Bad Gateway</body></html>`, 502, 1, 3},
		{"a gateway's 504", ``, 504, 1, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				n.Add(1)
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			c := newClient(t, srv.URL, nil)

			_, err := c.SendMessage(t.Context(), call, msg)
			requireGraphError(t, err, aicc.EMETAUNAVAILABLE, true)
			assert.Equal(t, tc.sends, n.Load(), "SendMessage")
			n.Store(0)
			_, err = c.CheckPageToken(t.Context(), call)
			requireGraphError(t, err, aicc.EMETAUNAVAILABLE, true)
			assert.Equal(t, tc.checks, n.Load(), "CheckPageToken")
		})
	}
}

func TestClientRetriesThenSucceeds(t *testing.T) {
	srv, c, call := setup(t)
	var waits []int
	c.Backoff = func(attempt int) time.Duration { waits = append(waits, attempt); return time.Millisecond }
	srv.FailNext(1, metatest.FailServerError)
	srv.FailNext(1, metatest.FailRateLimit)

	info, err := c.CheckPageToken(t.Context(), call)
	require.NoError(t, err)
	assert.Equal(t, pageName, info.Name)
	assert.Equal(t, []int{1, 2}, waits)
	assert.Len(t, srv.Requests(), 3)
}

func TestClientZeroValueDoesNotRetry(t *testing.T) {
	srv, _, call := setup(t)
	srv.FailNext(5, metatest.FailServerError)
	c := &meta.Client{BaseURL: srv.URL}
	requireGraphError(t, c.SubscribeApp(t.Context(), call), aicc.EMETAUNAVAILABLE, true)
	assert.Len(t, srv.Requests(), 1)
}

func TestClientTimeouts(t *testing.T) {
	t.Run("http client timeout", func(t *testing.T) {
		srv, _, call := setup(t)
		srv.SlowDelay = 2 * time.Second
		srv.FailNext(1, metatest.FailSlow)
		c := newClient(t, srv.URL, &http.Client{Timeout: 100 * time.Millisecond})
		start := time.Now()
		_, err := c.CheckPageToken(t.Context(), call)
		ge := requireGraphError(t, err, aicc.EMETAUNAVAILABLE, true)
		assert.Less(t, time.Since(start), time.Second)
		assert.Contains(t, ge.Message, "in time")
		// A timed-out call may have been carried out, so it is not repeated.
		assert.Eventually(t, func() bool { return len(srv.Requests()) == 1 }, time.Second, 10*time.Millisecond)
		assert.Never(t, func() bool { return len(srv.Requests()) > 1 }, 100*time.Millisecond, 10*time.Millisecond)
	})
	t.Run("context deadline", func(t *testing.T) {
		srv, c, call := setup(t)
		srv.SlowDelay = 2 * time.Second
		srv.FailNext(1, metatest.FailSlow)
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		_, err := c.SendMessage(ctx, call, aicc.OutboundMessage{RecipientPSID: psid, Text: "hi", Type: aicc.MessagingUpdate})
		requireGraphError(t, err, aicc.EMETAUNAVAILABLE, true)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		// Like Meta, the fake may carry the POST out after the client gave up: that is why it is never repeated.
		assert.Never(t, func() bool { return len(srv.Sent()) > 1 || len(srv.Requests()) > 1 }, 100*time.Millisecond, 10*time.Millisecond)
	})
	t.Run("context cancelled during backoff", func(t *testing.T) {
		srv, c, call := setup(t)
		srv.FailNext(5, metatest.FailServerError)
		ctx, cancel := context.WithCancel(t.Context())
		c.Backoff = func(int) time.Duration { cancel(); return time.Hour }
		requireGraphError(t, c.SubscribeApp(ctx, call), aicc.EMETAUNAVAILABLE, true)
		assert.Len(t, srv.Requests(), 1)
	})
}

func TestClientTransportErrorHidesToken(t *testing.T) {
	srv, c, call := setup(t)
	srv.Server.Close() // a *url.Error's text holds the URL: nothing secret, but dropped all the same
	_, err := c.CheckPageToken(t.Context(), call)
	ge := requireGraphError(t, err, aicc.EMETAUNAVAILABLE, true)
	assert.Zero(t, ge.HTTPStatus)
	assert.Error(t, ge.Err)
}

func TestClientValidatesBeforeCalling(t *testing.T) {
	long := strings.Repeat("ä", aicc.MaxMessageText)
	tests := []struct {
		name  string
		msg   aicc.OutboundMessage
		field string // "" when the message is valid
	}{
		{"2,000 characters", aicc.OutboundMessage{RecipientPSID: psid, Text: long, Type: aicc.MessagingResponse}, ""},
		{"2,001 characters", aicc.OutboundMessage{RecipientPSID: psid, Text: long + "a", Type: aicc.MessagingResponse}, "text"},
		{"empty text", aicc.OutboundMessage{RecipientPSID: psid, Type: aicc.MessagingResponse}, "text"},
		{"human agent", aicc.OutboundMessage{RecipientPSID: psid, Text: "hi", Type: aicc.MessagingMessageTag, Tag: aicc.TagHumanAgent}, ""},
		{"tag missing", aicc.OutboundMessage{RecipientPSID: psid, Text: "hi", Type: aicc.MessagingMessageTag}, "tag"},
		{"retired tag", aicc.OutboundMessage{RecipientPSID: psid, Text: "hi", Type: aicc.MessagingMessageTag, Tag: "ACCOUNT_UPDATE"}, "tag"},
		{"tag on a response", aicc.OutboundMessage{RecipientPSID: psid, Text: "hi", Type: aicc.MessagingResponse, Tag: aicc.TagHumanAgent}, "tag"},
		{"no messaging type", aicc.OutboundMessage{RecipientPSID: psid, Text: "hi"}, "messagingType"},
		{"no recipient", aicc.OutboundMessage{Text: "hi", Type: aicc.MessagingResponse}, "recipientPsid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c, call := setup(t)
			_, err := c.SendMessage(t.Context(), call, tt.msg)
			if tt.field == "" {
				require.NoError(t, err)
				sent := srv.Sent()
				require.Len(t, sent, 1)
				assert.Equal(t, tt.msg.Tag, sent[0].Tag)
				assert.Equal(t, tt.msg.Text, sent[0].Text)
				return
			}
			var e *aicc.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, aicc.EINVALID, e.Code)
			assert.Contains(t, e.Fields, tt.field)
			assert.Empty(t, srv.Requests(), "no call for an invalid message")
		})
	}

	t.Run("page call", func(t *testing.T) {
		srv, c, _ := setup(t)
		for _, call := range []aicc.PageCall{
			{PageID: pageID, AppSecret: canarySecret},
			{PageID: pageID, AccessToken: canaryToken},
			{PageID: "../me", AccessToken: canaryToken, AppSecret: canarySecret},
		} {
			err := c.SubscribeApp(t.Context(), call)
			assert.Equal(t, aicc.EINVALID, aicc.ErrorCode(err))
			requireNoSecret(t, err.Error(), fmt.Sprint(call), fmt.Sprintf("%#v", call))
		}
		assert.Empty(t, srv.Requests())
	})
}

func TestAppSecretProof(t *testing.T) {
	// PHP's hash_hmac('sha256', 'token', 'secret'), as in Meta's example.
	assert.Equal(t, "e941110e3d2bfe82621f0e3e1434730d7305d106c5f68c87165d0b27a4611a4a", meta.AppSecretProof("secret", "token"))
	assert.Len(t, meta.AppSecretProof(canarySecret, canaryToken), 64)
	assert.NotEqual(t, meta.AppSecretProof(canarySecret, canaryToken), meta.AppSecretProof(canarySecret, canaryToken+"x"))

	srv, c, call := setup(t)
	srv.RequireProof = true
	call.AppSecret = "rotated-secret-not-yet-at-meta"
	_, err := c.CheckPageToken(t.Context(), call)
	ge := requireGraphError(t, err, aicc.EMETAINVALIDPARAM, false)
	assert.Contains(t, ge.GraphMessage, "appsecret_proof")
}

func TestTLSTrust(t *testing.T) {
	srv := metatest.NewTLSGraphServer(t, canarySecret)
	srv.AddPage(pageID, pageName, canaryToken)
	call := aicc.PageCall{PageID: pageID, AccessToken: canaryToken, AppSecret: canarySecret}

	t.Run("system roots only", func(t *testing.T) {
		hc, err := meta.NewHTTPClient(nil, false)
		require.NoError(t, err)
		_, err = newClient(t, srv.URL, hc).CheckPageToken(t.Context(), call)
		ge := requireGraphError(t, err, aicc.EMETAUNAVAILABLE, true)
		var ua x509.UnknownAuthorityError
		assert.ErrorAs(t, err, &ua)
		assert.Contains(t, ge.Message, "certificate")
		assert.Empty(t, srv.Requests(), "the handshake failed before any request")
	})
	for _, only := range []bool{false, true} {
		t.Run(fmt.Sprintf("uploaded, uploadedOnly=%v", only), func(t *testing.T) {
			hc, err := meta.NewHTTPClient([][]byte{srv.CertPEM}, only)
			require.NoError(t, err)
			info, err := newClient(t, srv.URL, hc).CheckPageToken(t.Context(), call)
			require.NoError(t, err)
			assert.Equal(t, pageName, info.Name)
		})
	}
	t.Run("uploadedOnly without a certificate", func(t *testing.T) {
		_, err := meta.NewTLSConfig(nil, true)
		assert.Equal(t, aicc.EINVALID, aicc.ErrorCode(err))
	})
	t.Run("not PEM", func(t *testing.T) {
		_, err := meta.NewTransport([][]byte{[]byte("-----BEGIN NOTHING-----")}, false)
		assert.Equal(t, aicc.EINVALID, aicc.ErrorCode(err))
	})
	t.Run("system roots kept", func(t *testing.T) {
		cfg, err := meta.NewTLSConfig([][]byte{srv.CertPEM}, false)
		require.NoError(t, err)
		sys, err := x509.SystemCertPool()
		require.NoError(t, err)
		assert.False(t, cfg.RootCAs.Equal(sys), "the uploaded certificate is added")
		only, err := meta.NewTLSConfig([][]byte{srv.CertPEM}, true)
		require.NoError(t, err)
		assert.False(t, only.RootCAs.Equal(cfg.RootCAs))
	})
}

func TestNextTokenHealth(t *testing.T) {
	graphErr := func(code string) error { return &aicc.GraphError{Code: code, Message: "m"} }
	tests := []struct {
		current aicc.TokenHealth
		err     error
		want    aicc.TokenHealth
	}{
		{"", nil, aicc.TokenHealthy},
		{aicc.TokenReauthRequired, nil, aicc.TokenHealthy},
		{aicc.TokenHealthy, graphErr(aicc.EMETATOKENINVALID), aicc.TokenReauthRequired},
		{aicc.TokenDegraded, graphErr(aicc.EMETAPERMISSION), aicc.TokenReauthRequired},
		{aicc.TokenHealthy, graphErr(aicc.EMETARATELIMITED), aicc.TokenDegraded},
		{aicc.TokenHealthy, graphErr(aicc.EMETAUNAVAILABLE), aicc.TokenDegraded},
		{aicc.TokenReauthRequired, graphErr(aicc.EMETAUNAVAILABLE), aicc.TokenReauthRequired},
		{aicc.TokenHealthy, graphErr(aicc.EMETAINVALIDPARAM), aicc.TokenHealthy},
		{aicc.TokenDegraded, graphErr(aicc.EMETAUSERUNAVAILABLE), aicc.TokenDegraded},
		{aicc.TokenHealthy, graphErr(aicc.EMETAERROR), aicc.TokenHealthy},
		{aicc.TokenHealthy, aicc.Errorf(aicc.EINVALID, "bad"), aicc.TokenHealthy},
		{aicc.TokenHealthy, context.Canceled, aicc.TokenHealthy},
		{aicc.TokenHealthy, errors.New("boom"), aicc.TokenHealthy},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, aicc.NextTokenHealth(tt.current, tt.err), "%s after %v", tt.current, tt.err)
	}

	// End to end: an expired token flags reauth, the new token clears it.
	srv, c, call := setup(t)
	srv.ExpireToken(pageID)
	_, err := c.CheckPageToken(t.Context(), call)
	h := aicc.NextTokenHealth(aicc.TokenHealthy, err)
	assert.Equal(t, aicc.TokenReauthRequired, h)
	srv.AddPage(pageID, pageName, canaryToken+"2")
	call.AccessToken += "2"
	_, err = c.CheckPageToken(t.Context(), call)
	assert.Equal(t, aicc.TokenHealthy, aicc.NextTokenHealth(h, err))
}
