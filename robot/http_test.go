package robot_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/robot"
)

// fakeRobot is a robot service: handle answers each request, by its number from 1; the requests are kept.
type fakeRobot struct {
	*httptest.Server
	calls  atomic.Int32
	mu     sync.Mutex
	bodies []map[string]any
}

func newFakeRobot(t *testing.T, handle func(n int, w http.ResponseWriter, r *http.Request)) *fakeRobot {
	t.Helper()
	f := &fakeRobot{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(f.calls.Add(1))
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err == nil {
			f.mu.Lock()
			f.bodies = append(f.bodies, body)
			f.mu.Unlock()
		}
		handle(n, w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

// reply answers with a JSON body.
func reply(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func question() aicc.RobotQuestion {
	return aicc.RobotQuestion{
		TenantID: "tn_1", ChannelID: "ch_1", ConversationID: "cv_1", AccessCode: "r1", PSID: "7001", Text: "opening hours?",
	}
}

// fast are options without waits worth the name.
func fast(o robot.HTTPOptions) robot.HTTPOptions {
	o.Backoff = time.Millisecond
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Second
	}
	return o
}

func requireUnavailable(tb testing.TB, err error) {
	tb.Helper()
	require.Error(tb, err)
	require.Equal(tb, aicc.EROBOTUNAVAILABLE, aicc.ErrorCode(err), "error: %v", err)
}

func TestHTTPAnswer(t *testing.T) {
	f := newFakeRobot(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			reply(w, http.StatusMethodNotAllowed, `{}`)
			return
		}
		reply(w, http.StatusOK, `{"answers": ["We are open from 9 to 18.", "Anything else?"], "transfer": true, "extra": 1}`)
	})
	rb := robot.NewHTTP("r1", f.URL+"/aicc", fast(robot.HTTPOptions{}))

	got, err := rb.Answer(context.Background(), question())
	require.NoError(t, err)
	assert.Equal(t, aicc.RobotAnswer{Texts: []string{"We are open from 9 to 18.", "Anything else?"}, Transfer: true}, got)
	require.Len(t, f.bodies, 1)
	assert.Equal(t, map[string]any{
		"mode": "answer", "accessCode": "r1", "channelId": "ch_1", "conversationId": "cv_1", "customerId": "7001",
		"text": "opening hours?",
	}, f.bodies[0])
}

func TestHTTPSuggest(t *testing.T) {
	f := newFakeRobot(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		reply(w, http.StatusOK, `{"suggestions": ["Hello!", " ", "How can I help?"]}`)
	})
	rb := robot.NewHTTP("r1", f.URL, fast(robot.HTTPOptions{}))

	got, err := rb.Suggest(context.Background(), question())
	require.NoError(t, err)
	assert.Equal(t, []string{"Hello!", "How can I help?"}, got, "blank suggestions are dropped")
	assert.Equal(t, "suggest", f.bodies[0]["mode"])
}

// A robot may answer nothing: no texts, no transfer.
func TestHTTPEmptyAnswer(t *testing.T) {
	f := newFakeRobot(t, func(_ int, w http.ResponseWriter, _ *http.Request) { reply(w, http.StatusOK, `{}`) })
	got, err := robot.NewHTTP("r1", f.URL, fast(robot.HTTPOptions{})).Answer(context.Background(), question())
	require.NoError(t, err)
	assert.Empty(t, got.Texts)
	assert.False(t, got.Transfer)
}

func TestHTTPAnswersCapped(t *testing.T) {
	long := strings.Repeat("ä", aicc.MaxMessageText+500)
	answers := []string{"1", "", long, "3", "   ", "4", "5", "6", "7"}
	body, err := json.Marshal(map[string]any{"answers": answers})
	require.NoError(t, err)
	f := newFakeRobot(t, func(_ int, w http.ResponseWriter, _ *http.Request) { reply(w, http.StatusOK, string(body)) })

	got, err := robot.NewHTTP("r1", f.URL, fast(robot.HTTPOptions{})).Answer(context.Background(), question())
	require.NoError(t, err)
	require.Len(t, got.Texts, aicc.MaxRobotAnswers)
	assert.Equal(t, []string{"1", long[:2*aicc.MaxMessageText], "3", "4", "5"}, got.Texts)
	assert.Equal(t, aicc.MaxMessageText, utf8.RuneCountInString(got.Texts[1]))
}

func TestHTTPRetries5xxThenSucceeds(t *testing.T) {
	f := newFakeRobot(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n <= robot.DefaultRetries {
			reply(w, http.StatusServiceUnavailable, `{"error": "busy"}`)
			return
		}
		reply(w, http.StatusOK, `{"answers": ["at last"]}`)
	})
	got, err := robot.NewHTTP("r1", f.URL, fast(robot.HTTPOptions{})).Answer(context.Background(), question())
	require.NoError(t, err)
	assert.Equal(t, []string{"at last"}, got.Texts)
	assert.EqualValues(t, 1+robot.DefaultRetries, f.calls.Load())
}

func TestHTTP5xxRetriesAreBounded(t *testing.T) {
	f := newFakeRobot(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		reply(w, http.StatusBadGateway, `{}`)
	})
	_, err := robot.NewHTTP("r1", f.URL, fast(robot.HTTPOptions{Retries: 3})).Answer(context.Background(), question())
	requireUnavailable(t, err)
	assert.EqualValues(t, 4, f.calls.Load(), "the first attempt and three retries")
	assert.Contains(t, err.Error(), "HTTP 502")
}

func TestHTTPNotRetried(t *testing.T) {
	for name, handle := range map[string]func(w http.ResponseWriter){
		"4xx": func(w http.ResponseWriter) { reply(w, http.StatusBadRequest, `{"error": "bad"}`) },
		"429": func(w http.ResponseWriter) { reply(w, http.StatusTooManyRequests, `{}`) },
		"redirect": func(w http.ResponseWriter) {
			w.Header().Set("Location", "http://elsewhere.test/")
			w.WriteHeader(http.StatusFound)
		},
		"oversize": func(w http.ResponseWriter) {
			reply(w, http.StatusOK, `{"answers": ["`+strings.Repeat("x", robot.MaxResponseBytes)+`"]}`)
		},
		"not JSON":         func(w http.ResponseWriter) { reply(w, http.StatusOK, `<html>hello</html>`) },
		"wrong types":      func(w http.ResponseWriter) { reply(w, http.StatusOK, `{"answers": "one", "transfer": "yes"}`) },
		"trailing data":    func(w http.ResponseWriter) { reply(w, http.StatusOK, `{"answers": []} {}`) },
		"array not object": func(w http.ResponseWriter) { reply(w, http.StatusOK, `["hello"]`) },
	} {
		t.Run(name, func(t *testing.T) {
			f := newFakeRobot(t, func(_ int, w http.ResponseWriter, _ *http.Request) { handle(w) })
			_, err := robot.NewHTTP("r1", f.URL, fast(robot.HTTPOptions{})).Answer(context.Background(), question())
			requireUnavailable(t, err)
			assert.EqualValues(t, 1, f.calls.Load(), "no retry")
		})
	}
}

// A body of exactly the limit is read.
func TestHTTPBodyAtTheLimit(t *testing.T) {
	prefix, suffix := `{"answers": ["x"], "padding": "`, `"}`
	body := prefix + strings.Repeat("y", robot.MaxResponseBytes-len(prefix)-len(suffix)) + suffix
	f := newFakeRobot(t, func(_ int, w http.ResponseWriter, _ *http.Request) { reply(w, http.StatusOK, body) })
	got, err := robot.NewHTTP("r1", f.URL, fast(robot.HTTPOptions{})).Answer(context.Background(), question())
	require.NoError(t, err)
	assert.Equal(t, []string{"x"}, got.Texts)
}

func TestHTTPTimeout(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	f := newFakeRobot(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	rb := robot.NewHTTP("r1", f.URL, fast(robot.HTTPOptions{Timeout: 50 * time.Millisecond, Retries: 1}))
	start := time.Now()
	_, err := rb.Answer(context.Background(), question())
	requireUnavailable(t, err)
	assert.EqualValues(t, 2, f.calls.Load(), "a timeout is retried")
	assert.Less(t, time.Since(start), 2*time.Second)
}

// An attempt that times out and a retry that succeeds.
func TestHTTPTimeoutThenSuccess(t *testing.T) {
	f := newFakeRobot(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			<-r.Context().Done()
			return
		}
		reply(w, http.StatusOK, `{"answers": ["second try"]}`)
	})
	got, err := robot.NewHTTP("r1", f.URL, fast(robot.HTTPOptions{Timeout: 50 * time.Millisecond})).Answer(context.Background(), question())
	require.NoError(t, err)
	assert.Equal(t, []string{"second try"}, got.Texts)
}

// The URL may hold a key: no error says it.
func TestHTTPErrorsNameNoURL(t *testing.T) {
	f := newFakeRobot(t, func(int, http.ResponseWriter, *http.Request) {})
	url := f.URL + "/aicc?key=s3cr3t"
	f.Close() // connection refused
	_, err := robot.NewHTTP("r1", url, fast(robot.HTTPOptions{Retries: -1})).Answer(context.Background(), question())
	requireUnavailable(t, err)
	assert.NotContains(t, err.Error(), "s3cr3t")
	assert.NotContains(t, err.Error(), "/aicc")
	var e *aicc.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, `The robot of access code "r1" did not answer.`, e.Message)
}

// clock is a settable time for the breaker.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestHTTPCircuitBreaker(t *testing.T) {
	var healthy atomic.Bool
	f := newFakeRobot(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		if healthy.Load() {
			reply(w, http.StatusOK, `{"answers": ["ok"]}`)
			return
		}
		reply(w, http.StatusInternalServerError, `{}`)
	})
	clk := &clock{now: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	metrics := robot.NewMetrics()
	rb := robot.NewHTTP("r1", f.URL, fast(robot.HTTPOptions{
		Retries: -1, BreakerThreshold: 3, BreakerCooldown: time.Minute, Now: clk.Now, Metrics: metrics,
	}))
	ask := func() error { _, err := rb.Answer(context.Background(), question()); return err }

	// Two failures, a success: the count starts again.
	requireUnavailable(t, ask())
	requireUnavailable(t, ask())
	healthy.Store(true)
	require.NoError(t, ask())
	healthy.Store(false)

	// Three failures in a row open it: the next calls fail at once, without a request.
	for range 3 {
		requireUnavailable(t, ask())
	}
	require.EqualValues(t, 6, f.calls.Load())
	err := ask()
	requireUnavailable(t, err)
	assert.Contains(t, err.Error(), "failed repeatedly")
	clk.Add(time.Minute - time.Second)
	requireUnavailable(t, ask())
	assert.EqualValues(t, 6, f.calls.Load(), "open: no request")

	// Half-open after the cool-down: one trial, which fails and opens it again for a cool-down.
	clk.Add(time.Second)
	requireUnavailable(t, ask())
	assert.EqualValues(t, 7, f.calls.Load(), "the trial")
	requireUnavailable(t, ask())
	assert.EqualValues(t, 7, f.calls.Load(), "open again")

	// The next trial succeeds and closes it.
	clk.Add(time.Minute)
	healthy.Store(true)
	require.NoError(t, ask())
	require.NoError(t, ask())
	assert.EqualValues(t, 9, f.calls.Load())

	// 3 answered, 6 failed (two of them opening the breaker), 3 refused while it was open.
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(metrics)
	got := gather(t, reg)
	assert.Equal(t, 2.0, got[`aicc_robot_breaker_opens_total{robot="r1"}`])
	for series, want := range map[string]float64{
		`aicc_robot_requests_total{mode="answer",result="ok",robot="r1"}`:           3,
		`aicc_robot_requests_total{mode="answer",result="failed",robot="r1"}`:       6,
		`aicc_robot_requests_total{mode="answer",result="breaker_open",robot="r1"}`: 3,
		`aicc_robot_requests_total{mode="answer",result="timeout",robot="r1"}`:      0,
		`aicc_robot_requests_total{mode="suggest",result="ok",robot="r1"}`:          0,
	} {
		value, ok := got[series]
		assert.True(t, ok, "%s is not exported", series)
		assert.Equal(t, want, value, series)
	}
}

// gather returns the counters of reg by series, name{label="value",…} with the labels sorted by name.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, mf := range families {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() { // sorted by name
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			out[mf.GetName()+"{"+strings.Join(labels, ",")+"}"] = m.GetCounter().GetValue()
		}
	}
	return out
}

// While the half-open trial is under way, the other calls are refused.
func TestHTTPCircuitBreakerOneTrial(t *testing.T) {
	inTrial, release := make(chan struct{}), make(chan struct{})
	f := newFakeRobot(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			reply(w, http.StatusBadRequest, `{}`)
			return
		}
		close(inTrial)
		<-release
		reply(w, http.StatusOK, `{"answers": ["back"]}`)
	})
	clk := &clock{now: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	rb := robot.NewHTTP("r1", f.URL, fast(robot.HTTPOptions{BreakerThreshold: 1, BreakerCooldown: time.Minute, Now: clk.Now}))
	_, err := rb.Answer(context.Background(), question())
	requireUnavailable(t, err)

	clk.Add(time.Minute)
	trial := make(chan error, 1)
	go func() { _, err := rb.Answer(context.Background(), question()); trial <- err }()
	<-inTrial
	_, err = rb.Suggest(context.Background(), question())
	requireUnavailable(t, err)
	close(release)
	require.NoError(t, <-trial)
	assert.EqualValues(t, 2, f.calls.Load())
}

// A call its caller gave up on says nothing about the robot: it does not count as a failure.
func TestHTTPCallerCancelIsNoFailure(t *testing.T) {
	var blocking atomic.Bool
	blocking.Store(true)
	f := newFakeRobot(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if blocking.Load() {
			<-r.Context().Done()
			return
		}
		reply(w, http.StatusOK, `{"answers": ["ok"]}`)
	})
	rb := robot.NewHTTP("r1", f.URL, fast(robot.HTTPOptions{BreakerThreshold: 1}))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := rb.Answer(ctx, question())
	requireUnavailable(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	blocking.Store(false)
	_, err = rb.Answer(context.Background(), question())
	require.NoError(t, err, "the breaker stayed closed")
}

func ExampleNewHTTP() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"answers": ["Hello from the robot."], "transfer": false}`))
	}))
	defer srv.Close()
	rb := robot.NewHTTP("r1", srv.URL, robot.HTTPOptions{})
	answer, err := rb.Answer(context.Background(), aicc.RobotQuestion{AccessCode: "r1", PSID: "7001", Text: "hi"})
	fmt.Println(answer.Texts, answer.Transfer, err)
	// Output: [Hello from the robot.] false <nil>
}

// A registry counts the calls of its HTTP robots, and exports them as a collector.
func TestRegistryCountsItsHTTPRobots(t *testing.T) {
	f := newFakeRobot(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		reply(w, http.StatusOK, `{"suggestions": ["Hi"]}`)
	})
	robots := robot.NewRegistry(map[string]aicc.Robot{"r1": robot.NewHTTP("r1", f.URL, fast(robot.HTTPOptions{})), "builtin": robot.Rules{}})
	rb, err := robots.Robot("r1")
	require.NoError(t, err)
	_, err = rb.Suggest(context.Background(), question())
	require.NoError(t, err)

	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(robots)
	got := gather(t, reg)
	assert.Equal(t, 1.0, got[`aicc_robot_requests_total{mode="suggest",result="ok",robot="r1"}`])
	assert.Contains(t, got, `aicc_robot_breaker_opens_total{robot="r1"}`)
	assert.Len(t, got, 9, "the series of r1 alone: the built-in robot makes no request") // 2 modes x 4 results, 1 breaker
}
