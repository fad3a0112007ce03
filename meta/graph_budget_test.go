package meta_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/meta"
	"github.com/aiccfb/aicc/meta/metatest"
)

// Meta's budgets: its rate-limit answers, the wait its usage headers announce, and message.metadata.

const (
	budgetPage   = "104000000000077"
	budgetPSID   = "7001000000000077"
	budgetToken  = "EAAG-budget-page-token-0123456789"
	budgetSecret = "budget-app-secret-0123456789"
)

var budgetCall = aicc.PageCall{PageID: budgetPage, AccessToken: budgetToken, AppSecret: budgetSecret}

// budgetClient is a client of baseURL that retries twice with a backoff of a millisecond.
func budgetClient(baseURL string) *meta.Client {
	c := meta.NewClient(baseURL, &http.Client{Timeout: 2 * time.Second})
	c.Backoff = func(int) time.Duration { return time.Millisecond }
	return c
}

// answering returns a server that answers every request with status, the headers and body, and counts them.
func answering(tb testing.TB, status int, header map[string]string, body string) (*httptest.Server, *atomic.Int32) {
	tb.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n.Add(1)
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	tb.Cleanup(srv.Close)
	return srv, &n
}

func graphErrorOf(tb testing.TB, err error) *aicc.GraphError {
	tb.Helper()
	var ge *aicc.GraphError
	require.True(tb, errors.As(err, &ge), "want a *aicc.GraphError, got %T: %v", err, err)
	return ge
}

func errorBody(code, subcode int) string {
	return fmt.Sprintf(`{"error":{"message":"(#%d) limited","type":"OAuthException","code":%d,"error_subcode":%d,"fbtrace_id":"Atrace"}}`,
		code, code, subcode)
}

// Every rate-limit answer Meta gives is META_RATE_LIMITED and retryable: the platform codes, Messenger's own
// (613 for the Send API, 4 with subcode 2018022 for too many sends), the business-use-case ones (80006 is
// Messenger's) and a bare 429.
func TestRateLimitCodes(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
	}{
		{"4 application request limit", 400, errorBody(4, 0)},
		{"4/2018022 too many send requests", 400, errorBody(4, 2018022)},
		{"17 user request limit", 400, errorBody(17, 0)},
		{"32 page request limit", 400, errorBody(32, 0)},
		{"613 send api rate limit", 400, errorBody(613, 0)},
		{"80006 messenger business use case", 400, errorBody(80006, 0)},
		{"80001 pages business use case", 400, errorBody(80001, 0)},
		{"429 without a graph body", 429, "Too Many Requests"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, n := answering(t, tt.status, nil, tt.body)
			_, err := budgetClient(srv.URL).SendMessage(t.Context(), budgetCall,
				aicc.OutboundMessage{RecipientPSID: budgetPSID, Text: "hi", Type: aicc.MessagingResponse})
			ge := graphErrorOf(t, err)
			assert.Equal(t, aicc.EMETARATELIMITED, ge.Code)
			assert.Equal(t, aicc.EMETARATELIMITED, aicc.ErrorCode(err))
			assert.True(t, ge.Retryable)
			assert.Zero(t, ge.RetryAfter, "no usage header, no hint")
			assert.EqualValues(t, 3, n.Load(), "retried by the client with its backoff")
		})
	}
}

// The usage headers say how long a limit lasts, in minutes; the client then returns at once with the hint,
// since its own backoff of milliseconds would only spend another call.
func TestRateLimitRetryAfter(t *testing.T) {
	buc := func(usages ...string) string {
		return `{"` + budgetPage + `":[` + strings.Join(usages, ",") + `]}`
	}
	tests := []struct {
		name     string
		header   map[string]string
		want     time.Duration
		requests int32
	}{
		{"business use case", map[string]string{"X-Business-Use-Case-Usage": buc(
			`{"type":"messenger","call_count":100,"total_cputime":20,"total_time":25,"estimated_time_to_regain_access":19}`)},
			19 * time.Minute, 1},
		{"the largest of several usages", map[string]string{"X-Business-Use-Case-Usage": buc(
			`{"type":"pages","call_count":40,"estimated_time_to_regain_access":0}`,
			`{"type":"messenger","call_count":100,"estimated_time_to_regain_access":7}`)},
			7 * time.Minute, 1},
		{"page usage", map[string]string{"X-Page-Usage": `{"call_count":100,"total_cputime":1,"total_time":1,"estimated_time_to_regain_access":3}`},
			3 * time.Minute, 1},
		{"app usage", map[string]string{"X-App-Usage": `{"call_count":100,"total_cputime":1,"total_time":1,"estimated_time_to_regain_access":2}`},
			2 * time.Minute, 1},
		{"fractions of a minute", map[string]string{"X-App-Usage": `{"estimated_time_to_regain_access":0.5}`},
			30 * time.Second, 1},
		{"absurd values are capped at a day", map[string]string{"X-App-Usage": `{"estimated_time_to_regain_access":1e300}`},
			24 * time.Hour, 1},
		{"usage without an estimate", map[string]string{"X-App-Usage": `{"call_count":100,"total_cputime":1,"total_time":1}`},
			0, 3},
		{"zero estimate", map[string]string{"X-Business-Use-Case-Usage": buc(`{"type":"messenger","estimated_time_to_regain_access":0}`)},
			0, 3},
		{"negative estimate", map[string]string{"X-App-Usage": `{"estimated_time_to_regain_access":-5}`},
			0, 3},
		{"not JSON", map[string]string{"X-Business-Use-Case-Usage": "19 minutes", "X-App-Usage": "{"},
			0, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, n := answering(t, 400, tt.header, errorBody(80006, 0))
			_, err := budgetClient(srv.URL).SendMessage(t.Context(), budgetCall,
				aicc.OutboundMessage{RecipientPSID: budgetPSID, Text: "hi", Type: aicc.MessagingResponse})
			ge := graphErrorOf(t, err)
			assert.Equal(t, aicc.EMETARATELIMITED, ge.Code)
			assert.True(t, ge.Retryable)
			assert.Equal(t, tt.want, ge.RetryAfter)
			assert.Equal(t, tt.requests, n.Load())
		})
	}

	t.Run("only rate limits carry a hint", func(t *testing.T) {
		header := map[string]string{"X-App-Usage": `{"estimated_time_to_regain_access":9}`}
		srv, n := answering(t, 500, header, errorBody(2, 0))
		_, err := budgetClient(srv.URL).SendMessage(t.Context(), budgetCall,
			aicc.OutboundMessage{RecipientPSID: budgetPSID, Text: "hi", Type: aicc.MessagingResponse})
		ge := graphErrorOf(t, err)
		assert.Equal(t, aicc.EMETAUNAVAILABLE, ge.Code)
		assert.Zero(t, ge.RetryAfter)
		assert.EqualValues(t, 3, n.Load())
	})
}

// The fake Meta plays the Page's Messenger limit with its usage header; nothing is sent while it lasts.
func TestFakePageRateLimit(t *testing.T) {
	srv := metatest.NewGraphServer(t, budgetSecret)
	srv.AddPage(budgetPage, "Budget", budgetToken)
	srv.RegainAccess = 3 * time.Minute
	srv.FailNext(1, metatest.FailPageRateLimit)
	c := budgetClient(srv.URL)
	msg := aicc.OutboundMessage{RecipientPSID: budgetPSID, Text: "hi", Type: aicc.MessagingResponse}

	_, err := c.SendMessage(t.Context(), budgetCall, msg)
	ge := graphErrorOf(t, err)
	assert.Equal(t, aicc.EMETARATELIMITED, ge.Code)
	assert.Equal(t, 80006, ge.GraphCode)
	assert.Equal(t, 400, ge.HTTPStatus)
	assert.Equal(t, 3*time.Minute, ge.RetryAfter)
	assert.NotEmpty(t, ge.FBTraceID)
	assert.Len(t, srv.Requests(), 1, "not retried by the client: Meta said how long to wait")
	assert.Empty(t, srv.Sent())
	assert.NotContains(t, err.Error(), budgetToken)

	res, err := c.SendMessage(t.Context(), budgetCall, msg)
	require.NoError(t, err)
	assert.NotEmpty(t, res.MessageID)
	assert.Len(t, srv.Sent(), 1)
}

// message.metadata goes to Meta with the message, which echoes it back; Meta's limit is checked first.
func TestSendMessageMetadata(t *testing.T) {
	srv := metatest.NewGraphServer(t, budgetSecret)
	srv.AddPage(budgetPage, "Budget", budgetToken)
	c := budgetClient(srv.URL)

	msg := aicc.OutboundMessage{RecipientPSID: budgetPSID, Text: "héllo", Type: aicc.MessagingMessageTag,
		Tag: aicc.TagHumanAgent, Metadata: aicc.OutboundMetadata("cv_abc/3")}
	res, err := c.SendMessage(t.Context(), budgetCall, msg)
	require.NoError(t, err)
	sent := srv.Sent()
	require.Len(t, sent, 1)
	assert.Equal(t, "aicc:cv_abc/3", sent[0].Metadata)
	assert.Equal(t, "héllo", sent[0].Text)
	assert.Equal(t, res.MessageID, sent[0].MessageID)

	msg.Metadata = ""
	_, err = c.SendMessage(t.Context(), budgetCall, msg)
	require.NoError(t, err)
	assert.Empty(t, srv.Sent()[1].Metadata, "no metadata, none sent")

	msg.Metadata = strings.Repeat("m", aicc.MaxMessageMetadata+1)
	_, err = c.SendMessage(t.Context(), budgetCall, msg)
	assert.Equal(t, aicc.EINVALID, aicc.ErrorCode(err))
	assert.Len(t, srv.Requests(), 2, "refused before any call")
}
