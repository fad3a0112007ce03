package robot

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aiccfb/aicc"
)

// Defaults of the HTTP robot. A call takes at most (1+DefaultRetries)×DefaultTimeout plus the backoffs
// (0.2 s and 0.4 s, up to half more each): about 16 s, which the caller's own deadline (an activity's
// start-to-close timeout) should exceed.
const (
	DefaultTimeout          = 5 * time.Second
	DefaultRetries          = 2
	DefaultBackoff          = 200 * time.Millisecond
	DefaultBreakerThreshold = 5
	// DefaultBreakerCooldown is how long an open breaker refuses calls: long enough to spare a failing robot
	// and the customers waiting for it, short enough that a recovered robot is back within a minute.
	DefaultBreakerCooldown = 30 * time.Second
	// MaxResponseBytes bounds a robot's response body: five answers of 2,000 characters are 40 KiB at most in
	// UTF-8 with JSON escapes.
	MaxResponseBytes = 64 << 10
)

// HTTP is a robot served over HTTP, in the wire format of the package doc. It is safe for concurrent use; its
// circuit breaker counts the calls of all of them.
type HTTP struct {
	accessCode string
	url        string
	client     *http.Client
	timeout    time.Duration
	retries    int
	backoff    time.Duration
	breaker    *breaker
	metrics    *Metrics
}

// HTTPOptions tune an HTTP robot; a zero field is its default.
type HTTPOptions struct {
	// Client sends the requests; nil is a new client. Redirects are never followed.
	Client *http.Client
	// Timeout bounds one attempt; DefaultTimeout when zero.
	Timeout time.Duration
	// Retries is how many times a call is tried again after a timeout, a failed connection or a 5xx;
	// DefaultRetries when zero, none when negative.
	Retries int
	// Backoff is the wait before the first retry, doubled for each next one; DefaultBackoff when zero.
	Backoff time.Duration
	// BreakerThreshold is how many calls in a row must fail to open the circuit breaker, and BreakerCooldown
	// how long it stays open; DefaultBreakerThreshold and DefaultBreakerCooldown when zero.
	BreakerThreshold int
	BreakerCooldown  time.Duration
	// Now is the breaker's clock; nil is time.Now.
	Now func() time.Time
	// Metrics counts the robot's calls and breaker openings; nil counts nothing.
	Metrics *Metrics
}

// NewHTTP returns the HTTP robot of the access code, called at rawURL.
func NewHTTP(accessCode, rawURL string, o HTTPOptions) *HTTP {
	client := &http.Client{}
	if o.Client != nil {
		c := *o.Client
		client = &c
	}
	// A redirect could take what the customer wrote elsewhere, even to plain http: it is a failure.
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	h := &HTTP{
		accessCode: accessCode, url: rawURL, client: client,
		timeout: o.Timeout, retries: o.Retries, backoff: o.Backoff,
		breaker: &breaker{threshold: o.BreakerThreshold, cooldown: o.BreakerCooldown, now: o.Now},
		metrics: o.Metrics,
	}
	h.metrics.add(accessCode)
	if h.timeout <= 0 {
		h.timeout = DefaultTimeout
	}
	switch {
	case h.retries == 0:
		h.retries = DefaultRetries
	case h.retries < 0:
		h.retries = 0
	}
	if h.backoff <= 0 {
		h.backoff = DefaultBackoff
	}
	if h.breaker.threshold <= 0 {
		h.breaker.threshold = DefaultBreakerThreshold
	}
	if h.breaker.cooldown <= 0 {
		h.breaker.cooldown = DefaultBreakerCooldown
	}
	if h.breaker.now == nil {
		h.breaker.now = time.Now
	}
	return h
}

// Answer asks the robot to answer the customer (mode "answer").
func (h *HTTP) Answer(ctx context.Context, q aicc.RobotQuestion) (aicc.RobotAnswer, error) {
	var out struct {
		Answers  []string `json:"answers"`
		Transfer bool     `json:"transfer"`
	}
	if err := h.call(ctx, "answer", q, &out); err != nil {
		return aicc.RobotAnswer{}, err
	}
	return aicc.RobotAnswer{Texts: capTexts(out.Answers, aicc.MaxRobotAnswers), Transfer: out.Transfer}, nil
}

// Suggest asks the robot for replies an agent could send (mode "suggest").
func (h *HTTP) Suggest(ctx context.Context, q aicc.RobotQuestion) ([]string, error) {
	var out struct {
		Suggestions []string `json:"suggestions"`
	}
	if err := h.call(ctx, "suggest", q, &out); err != nil {
		return nil, err
	}
	return capTexts(out.Suggestions, aicc.MaxRobotSuggestions), nil
}

// wireRequest is the body of every call.
type wireRequest struct {
	Mode           string `json:"mode"`
	AccessCode     string `json:"accessCode"`
	ChannelID      string `json:"channelId"`
	ConversationID string `json:"conversationId"`
	CustomerID     string `json:"customerId"`
	Text           string `json:"text"`
}

// call makes one call, with its retries, through the breaker, decodes the response into out, and counts it.
func (h *HTTP) call(ctx context.Context, mode string, q aicc.RobotQuestion, out any) error {
	result, err := h.try(ctx, mode, q, out)
	h.metrics.request(h.accessCode, mode, result)
	return err
}

// try is call but for counting it: it returns the call's result label.
func (h *HTTP) try(ctx context.Context, mode string, q aicc.RobotQuestion, out any) (string, error) {
	if !h.breaker.allow() {
		return resultBreakerOpen, h.unavailable("The robot of access code %q failed repeatedly; it is not asked again for a while.",
			errors.New("circuit breaker open"))
	}
	body, err := json.Marshal(wireRequest{
		Mode: mode, AccessCode: h.accessCode, ChannelID: q.ChannelID, ConversationID: q.ConversationID,
		CustomerID: q.PSID, Text: q.Text,
	})
	if err != nil {
		h.breaker.abandon()
		return resultFailed, err
	}
	for attempt := 0; ; attempt++ {
		retryable, err := h.attempt(ctx, body, out)
		if err == nil {
			h.breaker.record(true)
			return resultOK, nil
		}
		if ctx.Err() != nil { // the caller gave up: no verdict on the robot
			h.breaker.abandon()
			return resultTimeout, h.unavailable("The robot of access code %q did not answer in time.", err)
		}
		if !retryable || attempt == h.retries {
			if h.breaker.record(false) {
				h.metrics.breakerOpened(h.accessCode)
			}
			return resultFailed, h.unavailable("The robot of access code %q did not answer.", fmt.Errorf("attempt %d: %w", attempt+1, err))
		}
		wait := h.backoff << attempt
		wait += rand.N(wait/2 + 1) // jitter, so that workers retrying together spread out
		select {
		case <-ctx.Done():
			h.breaker.abandon()
			return resultTimeout, h.unavailable("The robot of access code %q did not answer in time.", err)
		case <-time.After(wait):
		}
	}
}

// attempt posts body once and decodes the response into out. retryable says whether another attempt may
// succeed: after a timeout, a failed connection or a 5xx.
func (h *HTTP) attempt(ctx context.Context, body []byte, out any) (retryable bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return false, errors.New("the URL is not valid")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "aicc-robot/1")
	res, err := h.client.Do(req)
	if err != nil {
		// The url.Error names the URL, which may hold a key: keep only what went wrong.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return !certificateError(err), err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, MaxResponseBytes+1))
	switch {
	case res.StatusCode >= 500:
		return true, fmt.Errorf("HTTP %d", res.StatusCode)
	case res.StatusCode < 200 || res.StatusCode > 299:
		return false, fmt.Errorf("HTTP %d", res.StatusCode)
	case err != nil:
		return true, fmt.Errorf("reading the response: %w", err)
	case len(data) > MaxResponseBytes:
		return false, fmt.Errorf("the response is over %d bytes", MaxResponseBytes)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return false, fmt.Errorf("the response is not the robot's JSON object: %w", err)
	}
	return false, nil
}

// unavailable is the EROBOTUNAVAILABLE error with the safe message format (of the access code); cause is for
// the logs, never for the caller.
func (h *HTTP) unavailable(format string, cause error) error {
	return fmt.Errorf("%w: %w", aicc.Errorf(aicc.EROBOTUNAVAILABLE, format, h.accessCode), cause)
}

// certificateError reports whether err is a TLS certificate the client refused: no retry changes that.
func certificateError(err error) bool {
	var (
		verify    *tls.CertificateVerificationError
		authority x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
	)
	return errors.As(err, &verify) || errors.As(err, &authority) || errors.As(err, &hostname) || errors.As(err, &invalid)
}

// capTexts keeps the first n texts that are not blank, each cut to aicc.MaxMessageText characters.
func capTexts(texts []string, n int) []string {
	out := make([]string, 0, min(len(texts), n))
	for _, t := range texts {
		if len(out) == n {
			break
		}
		if strings.TrimSpace(t) == "" {
			continue
		}
		if utf8.RuneCountInString(t) > aicc.MaxMessageText {
			t = string([]rune(t)[:aicc.MaxMessageText])
		}
		out = append(out, t)
	}
	return out
}

// breaker is a circuit breaker. It is closed while fewer than threshold calls in a row failed. Then it is
// open: it refuses calls until cooldown has passed; the first call after that is a trial (half-open), and the
// others are refused meanwhile. The trial's success closes it; its failure opens it for another cooldown. A
// trial that never reports frees the way for another after a cooldown.
type breaker struct {
	threshold int
	cooldown  time.Duration
	now       func() time.Time

	mu        sync.Mutex
	failures  int       // calls in a row that failed
	openUntil time.Time // while failures >= threshold: no call before it
	trial     bool      // a trial call is under way
}

// allow reports whether a call may go ahead now.
func (b *breaker) allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failures < b.threshold {
		return true
	}
	now := b.now()
	if now.Before(b.openUntil) {
		return false
	}
	b.openUntil, b.trial = now.Add(b.cooldown), true // this call is the trial: refuse the others until it reports
	return true
}

// record counts a call's outcome, and reports whether a failure opened the breaker (again, after a trial).
func (b *breaker) record(ok bool) (opened bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.trial = false
	if ok {
		b.failures = 0
		return false
	}
	b.failures++
	if b.failures >= b.threshold {
		b.openUntil = b.now().Add(b.cooldown)
		return true
	}
	return false
}

// abandon says that a call ended without a verdict on the robot (its caller gave up): a trial's turn goes to
// the next call.
func (b *breaker) abandon() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.trial {
		b.openUntil, b.trial = b.now(), false
	}
}
