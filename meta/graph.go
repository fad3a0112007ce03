// Package meta speaks the Meta Messenger Platform protocol: the Graph API client (aicc.Graph over HTTPS, with
// appsecret_proof, bounded retries and error classification by code), the TLS trust built from the uploaded
// Facebook authentication certificate, and the webhook side (signature check, verification challenge and
// parsing of every event of a notification). It imports only the root package.
package meta

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aiccfb/aicc"
)

// Defaults of a Client.
const (
	DefaultBaseURL    = "https://graph.facebook.com"
	DefaultVersion    = "v25.0"
	DefaultTimeout    = 10 * time.Second // per attempt; Meta answers in well under a second when healthy
	DefaultMaxRetries = 2
)

// maxResponse bounds what is read of a Graph response; Graph's answers to these calls are a few hundred bytes.
const maxResponse = 1 << 20

// Client calls the Graph API. The zero value works: it calls DefaultBaseURL at DefaultVersion with a
// DefaultTimeout client and never retries; NewClient also turns retries on.
type Client struct {
	BaseURL string       // scheme and host, DefaultBaseURL when empty
	Version string       // e.g. "v25.0", DefaultVersion when empty
	HTTP    *http.Client // nil: a client with DefaultTimeout that does not follow redirects
	// MaxRetries is how many times a call is repeated after a 5xx, a 429 or a Graph rate-limit code. Nothing
	// else is retried: a 4xx will not change, and a timed-out POST may have been carried out.
	MaxRetries int
	// Backoff returns the wait before retry attempt (1, 2, …); nil means DefaultBackoff.
	Backoff func(attempt int) time.Duration
}

var _ aicc.Graph = (*Client)(nil)

// NewClient returns a client for baseURL ("" for DefaultBaseURL) over hc (nil for the default), with
// DefaultMaxRetries.
func NewClient(baseURL string, hc *http.Client) *Client {
	return &Client{BaseURL: baseURL, HTTP: hc, MaxRetries: DefaultMaxRetries}
}

var defaultHTTP = &http.Client{
	Timeout: DefaultTimeout,
	// Graph never redirects these calls; following one could carry the token's form to another host.
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// DefaultBackoff waits about 250 ms, 500 ms, 1 s, … (at most 5 s), with jitter so that callers rate-limited
// together do not retry together.
func DefaultBackoff(attempt int) time.Duration {
	d := 250 * time.Millisecond << min(max(attempt-1, 0), 5)
	d = min(d, 5*time.Second)
	return d/2 + rand.N(d/2+1)
}

// AppSecretProof returns hex(HMAC-SHA256(key=appSecret, msg=accessToken)), the appsecret_proof Graph checks
// when "Require App Secret" is on.
func AppSecretProof(appSecret, accessToken string) string {
	m := hmac.New(sha256.New, []byte(appSecret))
	m.Write([]byte(accessToken))
	return hex.EncodeToString(m.Sum(nil))
}

// CheckApp implements aicc.Graph: POST /oauth/access_token with the app ID and secret in the form body and
// grant_type=client_credentials. Meta answers an app access token only when the secret is the app's; the token
// is read to tell an answer from an empty one, and dropped. Any refusal that is not Meta being unavailable or
// rate limiting (code 1 "Error validating client secret", 101 "Invalid application ID", …) is
// EMETAAPPINVALID.
func (c *Client) CheckApp(ctx context.Context, call aicc.AppCall) error {
	fe := aicc.FieldErrors{}
	if call.AppID == "" || strings.Trim(call.AppID, "0123456789") != "" {
		fe.Add("appId", "must be the numeric ID of the Meta app")
	}
	if call.AppSecret == "" {
		fe.Add("appSecret", "is required")
	}
	if err := fe.Err(); err != nil {
		return err
	}
	form := url.Values{
		"client_id": {call.AppID}, "client_secret": {call.AppSecret}, "grant_type": {"client_credentials"},
	}
	var out struct {
		AccessToken string `json:"access_token"`
	}
	err := c.call(ctx, http.MethodPost, "oauth/access_token", form, "", scrubberOf(call.AppSecret), repeatable, &out)
	if ge, ok := errors.AsType[*aicc.GraphError](err); ok && !ge.Retryable && ge.HTTPStatus/100 == 4 {
		ge.Code, ge.Message = aicc.EMETAAPPINVALID, messages[aicc.EMETAAPPINVALID]
		return ge
	}
	if err == nil && out.AccessToken == "" {
		err = &aicc.GraphError{Code: aicc.EMETAERROR, Message: "Meta answered without an app access token.", HTTPStatus: http.StatusOK}
	}
	return err
}

// CheckPageToken implements aicc.Graph.
func (c *Client) CheckPageToken(ctx context.Context, call aicc.PageCall) (aicc.PageInfo, error) {
	var out struct{ ID, Name string }
	err := c.do(ctx, call, http.MethodGet, "me", url.Values{"fields": {"id,name"}}, repeatable, &out)
	if err == nil && out.ID != call.PageID {
		err = aicc.Errorf(aicc.EMETATOKENINVALID, "Meta says this token is of Page %s, not of Page %s.", out.ID, call.PageID)
	}
	return aicc.PageInfo{ID: out.ID, Name: out.Name}, err
}

// SubscribeApp implements aicc.Graph.
func (c *Client) SubscribeApp(ctx context.Context, call aicc.PageCall) error {
	form := url.Values{"subscribed_fields": {strings.Join(aicc.SubscribedFields, ",")}}
	return c.success(ctx, call, http.MethodPost, form)
}

// UnsubscribeApp implements aicc.Graph.
func (c *Client) UnsubscribeApp(ctx context.Context, call aicc.PageCall) error {
	return c.success(ctx, call, http.MethodDelete, nil)
}

// SubscribedApps implements aicc.Graph.
func (c *Client) SubscribedApps(ctx context.Context, call aicc.PageCall) ([]aicc.SubscribedApp, error) {
	var out struct {
		Data []struct {
			ID, Name         string
			SubscribedFields []string `json:"subscribed_fields"`
		}
	}
	if err := c.do(ctx, call, http.MethodGet, call.PageID+"/subscribed_apps", nil, repeatable, &out); err != nil {
		return nil, err
	}
	apps := make([]aicc.SubscribedApp, 0, len(out.Data))
	for _, d := range out.Data {
		apps = append(apps, aicc.SubscribedApp{ID: d.ID, Name: d.Name, Fields: d.SubscribedFields})
	}
	return apps, nil
}

// SendMessage implements aicc.Graph. The message is validated first, so that a message Meta would refuse costs
// no call. Its Metadata goes as message.metadata, which Meta echoes back.
func (c *Client) SendMessage(ctx context.Context, call aicc.PageCall, msg aicc.OutboundMessage) (aicc.SendResult, error) {
	if err := msg.Validate(); err != nil {
		return aicc.SendResult{}, err
	}
	recipient, _ := json.Marshal(map[string]string{"id": msg.RecipientPSID})
	body := map[string]string{"text": msg.Text}
	if msg.Metadata != "" {
		body["metadata"] = msg.Metadata
	}
	message, _ := json.Marshal(body)
	form := url.Values{
		"recipient":      {string(recipient)},
		"messaging_type": {string(msg.Type)},
		"message":        {string(message)},
	}
	if msg.Tag != "" {
		form.Set("tag", msg.Tag)
	}
	var out struct {
		RecipientID string `json:"recipient_id"`
		MessageID   string `json:"message_id"`
	}
	err := c.do(ctx, call, http.MethodPost, call.PageID+"/messages", form, once, &out)
	return aicc.SendResult{RecipientID: out.RecipientID, MessageID: out.MessageID}, err
}

// success calls /{page-id}/subscribed_apps and expects {"success":true}.
func (c *Client) success(ctx context.Context, call aicc.PageCall, method string, params url.Values) error {
	var out struct{ Success bool }
	if err := c.do(ctx, call, method, call.PageID+"/subscribed_apps", params, repeatable, &out); err != nil {
		return err
	}
	if !out.Success {
		return &aicc.GraphError{Code: aicc.EMETAERROR, Message: "Meta did not confirm the change.", HTTPStatus: http.StatusOK}
	}
	return nil
}

// do makes one Graph call as the Page of call, with its retries as r allows, and decodes a 2xx answer into out.
func (c *Client) do(ctx context.Context, call aicc.PageCall, method, path string, params url.Values, r retries, out any) error {
	if err := checkCall(call); err != nil {
		return err
	}
	form := url.Values{}
	for k, v := range params {
		form[k] = v
	}
	form.Set("appsecret_proof", AppSecretProof(call.AppSecret, call.AccessToken))
	return c.call(ctx, method, path, form, call.AccessToken, scrubber(call), r, out)
}

// retries says which failed calls may be made again.
type retries bool

const (
	// repeatable: a call that changes nothing, or whose change is the same made twice, is retried on every
	// retryable answer.
	repeatable retries = false
	// once: a call that must not be carried out twice (a message sent) is retried only when Meta's own error
	// body says it was not: a 5xx without one comes from a gateway between, and says nothing of what Meta did.
	once retries = true
)

// call makes one Graph call with its retries and decodes a 2xx answer into out. Nothing secret ever travels in
// the URL, which proxies, load balancers and Meta's own edge may log: the access token goes in the
// Authorization header (Bearer), and every parameter, appsecret_proof and client_secret included, in a form
// body. A GET is sent as a POST that names its method in the body (method=get), Graph's method override, which
// Meta's own JavaScript SDK uses for a GET too long for a URL; a DELETE carries its body as it is.
func (c *Client) call(ctx context.Context, method, path string, form url.Values, token string, scrub func(string) string, r retries, out any) error {
	if method == http.MethodGet {
		form.Set("method", "get")
		method = http.MethodPost
	}
	endpoint := strings.TrimRight(orDefault(c.BaseURL, DefaultBaseURL), "/") + "/" + orDefault(c.Version, DefaultVersion) + "/" + path
	for attempt := 0; ; attempt++ {
		status, header, body, err := c.roundTrip(ctx, method, endpoint, form, token)
		if err != nil {
			return transportError(err, scrub)
		}
		if status/100 == 2 {
			if err := json.Unmarshal(body, out); err != nil {
				return &aicc.GraphError{Code: aicc.EMETAERROR, Message: "Meta answered with a body that is not the expected JSON.", HTTPStatus: status}
			}
			return nil
		}
		ge := classify(status, body, scrub)
		if ge.Code == aicc.EMETARATELIMITED {
			ge.RetryAfter = retryAfter(header)
		}
		// Meta saying how long a rate limit lasts (minutes) makes a retry after a backoff of milliseconds a
		// wasted call, which may extend the penalty: the caller waits instead.
		if !ge.Retryable || attempt >= c.MaxRetries || ge.RetryAfter > 0 || r == once && ge.GraphCode == 0 && status >= 500 {
			return ge
		}
		backoff := c.Backoff
		if backoff == nil {
			backoff = DefaultBackoff
		}
		t := time.NewTimer(backoff(attempt + 1))
		select {
		case <-ctx.Done():
			t.Stop()
			return ge
		case <-t.C:
		}
	}
}

func (c *Client) roundTrip(ctx context.Context, method, endpoint string, form url.Values, token string) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = defaultHTTP
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return 0, nil, nil, err
	}
	return resp.StatusCode, resp.Header, b, nil
}

// maxRetryAfter bounds the wait a usage header may ask for: a value beyond a day is not Meta's estimate but
// a broken header.
const maxRetryAfter = 24 * time.Hour

// retryAfter reads how long a rate limit lasts from Meta's usage headers: the largest
// estimated_time_to_regain_access (in minutes) of X-Business-Use-Case-Usage (a JSON object of business
// object IDs, the Page's among them, each with a list of usages by type: "messenger", "pages", …),
// X-Page-Usage or X-App-Usage (one usage object each). 0 when no header says, or says 0.
func retryAfter(h http.Header) time.Duration {
	type usage struct {
		Minutes float64 `json:"estimated_time_to_regain_access"`
	}
	var minutes float64
	var buc map[string][]usage
	if json.Unmarshal([]byte(h.Get("X-Business-Use-Case-Usage")), &buc) == nil {
		for _, usages := range buc {
			for _, u := range usages {
				minutes = max(minutes, u.Minutes)
			}
		}
	}
	for _, name := range []string{"X-Page-Usage", "X-App-Usage"} {
		var u usage
		if json.Unmarshal([]byte(h.Get(name)), &u) == nil {
			minutes = max(minutes, u.Minutes)
		}
	}
	switch {
	case minutes <= 0:
		return 0
	case minutes >= maxRetryAfter.Minutes():
		return maxRetryAfter
	}
	return time.Duration(minutes * float64(time.Minute))
}

func checkCall(call aicc.PageCall) error {
	fe := aicc.FieldErrors{}
	if call.PageID == "" || strings.Trim(call.PageID, "0123456789") != "" {
		fe.Add("pageId", "must be the numeric ID of the Facebook Page")
	}
	if call.AccessToken == "" {
		fe.Add("tokenSecret", "is required")
	}
	if call.AppSecret == "" {
		fe.Add("appSecret", "is required")
	}
	return fe.Err()
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// graphErrorBody is Graph's error envelope.
type graphErrorBody struct {
	Error *struct {
		Message   string `json:"message"`
		Type      string `json:"type"`
		Code      int    `json:"code"`
		Subcode   int    `json:"error_subcode"`
		FBTraceID string `json:"fbtrace_id"`
		// IsTransient is Meta saying that the same call may succeed later.
		IsTransient bool `json:"is_transient"`
	} `json:"error"`
}

// Graph codes and subcodes, from developers.facebook.com/docs/graph-api/guides/error-handling and the Send
// API reference.
var (
	rateLimitCodes = map[int]bool{4: true, 17: true, 32: true, 613: true}
	// recipientSubcodes are about the person, not the token: 1545041 "this person isn't available right now";
	// 2018278 and 2534022 "sent outside of the allowed window" (with code 10, which would otherwise read as a
	// permission error and wrongly flag the token).
	recipientSubcodes = map[int]bool{1545041: true, 2018278: true, 2534022: true}
)

var messages = map[string]string{
	aicc.EMETATOKENINVALID:    "The Page access token is invalid or has expired; paste a new Page token.",
	aicc.EMETAPERMISSION:      "The Page token or the app lacks a permission Meta requires for this call.",
	aicc.EMETARATELIMITED:     "Meta is rate-limiting calls for this Page or app; retry later.",
	aicc.EMETAINVALIDPARAM:    "Meta rejected a parameter of the call.",
	aicc.EMETAUSERUNAVAILABLE: "The person cannot receive messages from the Page right now.",
	aicc.EMETAUNAVAILABLE:     "Meta is unavailable; retry later.",
	aicc.EMETAERROR:           "Meta refused the call.",
	aicc.EMETAAPPINVALID: "Meta refused the app ID and App Secret: the secret is not this app's, or there is " +
		"no such app. Correct the app ID or the App Secret.",
}

// classify turns a non-2xx answer into a GraphError by HTTP status, error.code and error_subcode; the message
// text is kept for operators only.
func classify(status int, body []byte, scrub func(string) string) *aicc.GraphError {
	var b graphErrorBody
	_ = json.Unmarshal(body, &b)
	ge := &aicc.GraphError{HTTPStatus: status}
	transient := false
	if g := b.Error; g != nil {
		ge.GraphCode, ge.Subcode, ge.Type, ge.FBTraceID = g.Code, g.Subcode, g.Type, g.FBTraceID
		ge.GraphMessage = scrub(truncate(g.Message, 500))
		transient = g.IsTransient
	}
	code := ge.GraphCode
	switch {
	case code == 190 || code == 102:
		ge.Code = aicc.EMETATOKENINVALID
	case code == 551 || recipientSubcodes[ge.Subcode]:
		ge.Code = aicc.EMETAUSERUNAVAILABLE
	case code == 10 || code >= 200 && code <= 299:
		ge.Code = aicc.EMETAPERMISSION
	case rateLimitCodes[code] || code >= 80000 && code <= 80014 || status == http.StatusTooManyRequests:
		ge.Code = aicc.EMETARATELIMITED
	case code == 100:
		ge.Code = aicc.EMETAINVALIDPARAM
	case code == 1 || code == 2 || code == 1200 || transient || status >= 500:
		// 1200: the Send API's "temporary send message failure, please try again later".
		ge.Code = aicc.EMETAUNAVAILABLE
	default:
		ge.Code = aicc.EMETAERROR
	}
	ge.Message = messages[ge.Code]
	ge.Retryable = status >= 500 || status == http.StatusTooManyRequests || ge.Code == aicc.EMETARATELIMITED ||
		code == 1200 || transient
	return ge
}

// transportError classifies a call that got no answer. The *url.Error around it is dropped because its text
// holds the request URL; it holds no secret any more, but a URL is not an operator's business either.
func transportError(err error, scrub func(string) string) *aicc.GraphError {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = ue.Err
	}
	msg := "Meta could not be reached; retry later."
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	switch {
	case errors.As(err, &cv) || errors.As(err, &ua):
		msg = "Meta's TLS certificate is not trusted; upload the Facebook authentication certificate."
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		msg = "Meta did not answer in time; retry later."
	}
	return &aicc.GraphError{Code: aicc.EMETAUNAVAILABLE, Message: msg, Retryable: true, Err: scrubbedError{err, scrub}}
}

func isTimeout(err error) bool {
	t, ok := errors.AsType[interface {
		error
		Timeout() bool
	}](err)
	return ok && t.Timeout()
}

// scrubbedError hides the call's secrets from a transport error's text, belt and braces.
type scrubbedError struct {
	err   error
	scrub func(string) string
}

func (e scrubbedError) Error() string { return e.scrub(e.err.Error()) }
func (e scrubbedError) Unwrap() error { return e.err }

// scrubber returns a function that replaces the call's token, app secret and proof by "[redacted]".
func scrubber(call aicc.PageCall) func(string) string {
	return scrubberOf(call.AccessToken, call.AppSecret, AppSecretProof(call.AppSecret, call.AccessToken))
}

// scrubberOf returns a function that replaces each of secrets, and its query escape, by "[redacted]".
func scrubberOf(secrets ...string) func(string) string {
	for _, s := range secrets {
		secrets = append(secrets, url.QueryEscape(s))
	}
	return func(s string) string {
		for _, secret := range secrets {
			if len(secret) >= 4 { // shorter ones would redact ordinary words, and are not real secrets
				s = strings.ReplaceAll(s, secret, "[redacted]")
			}
		}
		return s
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// NewTLSConfig returns a TLS configuration that trusts the uploaded Facebook authentication certificates (PEM,
// each holding one or more certificates) in addition to the system roots, or instead of them when uploadedOnly
// is set (AICC_GRAPH_TRUST=uploaded-only).
func NewTLSConfig(uploadedPEM [][]byte, uploadedOnly bool) (*tls.Config, error) {
	pool := x509.NewCertPool()
	if !uploadedOnly {
		sys, err := x509.SystemCertPool()
		if err != nil {
			return nil, fmt.Errorf("meta: system roots: %w", err)
		}
		pool = sys
	}
	n := 0
	for _, p := range uploadedPEM {
		if !pool.AppendCertsFromPEM(p) {
			return nil, aicc.Errorf(aicc.EINVALID, "An uploaded certificate is not PEM-encoded X.509.")
		}
		n++
	}
	if uploadedOnly && n == 0 {
		return nil, aicc.Errorf(aicc.EINVALID, "No certificate is uploaded, and only uploaded certificates may be trusted.")
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// NewTransport returns a clone of http.DefaultTransport whose TLS trust is NewTLSConfig's.
func NewTransport(uploadedPEM [][]byte, uploadedOnly bool) (*http.Transport, error) {
	cfg, err := NewTLSConfig(uploadedPEM, uploadedOnly)
	if err != nil {
		return nil, err
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = cfg
	return t, nil
}

// NewHTTPClient returns a client over NewTransport with DefaultTimeout per attempt, not following redirects.
func NewHTTPClient(uploadedPEM [][]byte, uploadedOnly bool) (*http.Client, error) {
	t, err := NewTransport(uploadedPEM, uploadedOnly)
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: t, Timeout: DefaultTimeout, CheckRedirect: defaultHTTP.CheckRedirect}, nil
}
