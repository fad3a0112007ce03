// Package metatest is a fake Meta for tests and for `aicc dev --fake-meta`: a Graph API server (pages, tokens,
// subscriptions, the Send API, appsecret_proof checks, Graph's error bodies and injected failures) and a
// webhook sender that plays Meta towards our callback URL (verification GET, signed POSTs, retries).
package metatest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aiccfb/aicc/meta"
)

// Defaults of a fake Graph.
const (
	DefaultAppID     = "1234567890123456"
	DefaultAppName   = "AICC"
	DefaultSlowDelay = 5 * time.Second
	// DefaultRegainAccess is how long a FailPageRateLimit says the Page's limit lasts.
	DefaultRegainAccess = 5 * time.Minute
)

// Failure is a failure the fake Graph injects instead of answering (FailNext).
type Failure string

// Failures, each answered as Meta answers it.
const (
	FailRateLimit       Failure = "rate_limit"       // HTTP 400, code 613 "Calls to this api have exceeded the rate limit."
	FailAppRateLimit    Failure = "app_rate_limit"   // HTTP 429, code 4 "Application request limit reached"
	FailServerError     Failure = "server_error"     // HTTP 500, code 2, is_transient
	FailPermission      Failure = "permission"       // HTTP 403, code 200
	FailInvalidParam    Failure = "invalid_param"    // HTTP 400, code 100
	FailUserUnavailable Failure = "user_unavailable" // HTTP 400, code 551 subcode 1545041
	// FailPageRateLimit is the Messenger business-use-case limit of the Page: HTTP 400, code 80006, with an
	// X-Business-Use-Case-Usage header whose estimated_time_to_regain_access (whole minutes, at least 1) is
	// RegainAccess.
	FailPageRateLimit Failure = "page_rate_limit"
	// FailSlow delays the answer by SlowDelay (or until the client gives up), then carries the call out as
	// usual, as Meta may do with a call whose client timed out.
	FailSlow Failure = "slow"
)

// Request is one request the fake Graph received. The token is not kept.
type Request struct {
	Method string // as Graph carries it out: a POST with method=get in its body is a GET
	// HTTPMethod is the method on the wire.
	HTTPMethod string
	Path       string // without the query
	// URLParams are the names of the parameters in the URL's query, sorted: nothing secret belongs there.
	URLParams []string
	// Bearer reports whether the access token came in the Authorization header.
	Bearer bool
	PageID string
	Status int
}

// SentMessage is one message accepted by the fake Send API.
type SentMessage struct {
	PageID        string
	RecipientID   string
	MessagingType string
	Tag           string
	Text          string
	MessageID     string
	Metadata      string // message.metadata, as Meta echoes it back
	At            time.Time
}

// Graph is the fake Graph API, an http.Handler. It serves /{version}/{page-id}, .../subscribed_apps and
// .../messages as Meta does, with "Require App Secret" on unless RequireProof is cleared, and
// /{version}/oauth/access_token for the app credentials grant. The access token may come as the access_token
// parameter or in an "Authorization: Bearer" header, and a parameter in the URL's query or in a form or JSON
// body; a POST whose body says method=get (or delete) is carried out as that method, as Graph does. Use
// NewGraph; the exported fields may be changed before the first request.
type Graph struct {
	// AppID and AppSecret are the app every Page token was issued to: appsecret_proof is checked against
	// AppSecret. Other apps, known to the credentials grant only, are added with AddApp.
	AppID, AppName, AppSecret string
	// AcceptUnknownApps makes the credentials grant take any secret for an app that is neither AppID nor added
	// with AddApp, for tests that make up apps by the dozen; by default such an app is refused as Meta refuses
	// an app it does not know (code 101).
	AcceptUnknownApps bool
	RequireProof      bool
	SlowDelay         time.Duration
	// RegainAccess is how long a FailPageRateLimit says the limit lasts.
	RegainAccess time.Duration
	// OnSent, when set, is called with every message the Send API accepts, after the answer is decided and
	// outside the Graph's lock (so it may call the Graph), before the answer is written: to echo it as Meta
	// does, it should hand the message over rather than block.
	OnSent func(SentMessage)

	mu       sync.Mutex
	apps     map[string]string // app ID → secret of the apps AddApp added
	pages    map[string]*page
	failures []Failure
	sent     []SentMessage
	requests []Request
}

type page struct {
	id, name, token string
	expired         bool
	fields          []string // nil when the app is not subscribed
}

// NewGraph returns a fake Graph for the app with the given secret, with no pages.
func NewGraph(appSecret string) *Graph {
	return &Graph{
		AppID: DefaultAppID, AppName: DefaultAppName, AppSecret: appSecret, RequireProof: true,
		SlowDelay: DefaultSlowDelay, RegainAccess: DefaultRegainAccess, pages: map[string]*page{}, apps: map[string]string{},
	}
}

// AddApp adds another Meta app with its secret, known to the credentials grant (POST /oauth/access_token)
// only: a second tenant's app, say.
func (g *Graph) AddApp(id, secret string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.apps[id] = secret
}

// AddPage adds a Page whose access token is token, or replaces its token (a rotation), which also makes it
// valid again.
func (g *Graph) AddPage(id, name, token string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if p, ok := g.pages[id]; ok {
		p.name, p.token, p.expired = name, token, false
		return
	}
	g.pages[id] = &page{id: id, name: name, token: token}
}

// ResetAppSecret replaces the app secret, as an administrator resetting it in the App Dashboard does: from
// then on every appsecret_proof must be made with the new one.
func (g *Graph) ResetAppSecret(secret string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.AppSecret = secret
}

// ExpireToken makes the Page's token fail with code 190, subcode 463 (expired).
func (g *Graph) ExpireToken(pageID string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if p, ok := g.pages[pageID]; ok {
		p.expired = true
	}
}

// FailNext makes the next n requests, whatever their endpoint, fail with f.
func (g *Graph) FailNext(n int, f Failure) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for range n {
		g.failures = append(g.failures, f)
	}
}

// Subscription returns the fields the app is subscribed to on the Page, nil when it is not.
func (g *Graph) Subscription(pageID string) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if p, ok := g.pages[pageID]; ok {
		return slices.Clone(p.fields)
	}
	return nil
}

// Sent returns the messages accepted by the Send API, oldest first.
func (g *Graph) Sent() []SentMessage {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.sent)
}

// Requests returns every request received, oldest first.
func (g *Graph) Requests() []Request {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.requests)
}

// graphError is Graph's error body.
type graphError struct {
	status    int
	Message   string `json:"message"`
	Type      string `json:"type"`
	Code      int    `json:"code"`
	Subcode   int    `json:"error_subcode,omitempty"`
	Transient bool   `json:"is_transient,omitempty"`
	UserTitle string `json:"error_user_title,omitempty"`
	UserMsg   string `json:"error_user_msg,omitempty"`
	FBTraceID string `json:"fbtrace_id"`
	// header is answered with the error.
	header http.Header
}

var failures = map[Failure]graphError{
	FailRateLimit:    {status: 400, Code: 613, Type: "OAuthException", Message: "(#613) Calls to this api have exceeded the rate limit."},
	FailAppRateLimit: {status: 429, Code: 4, Type: "OAuthException", Message: "(#4) Application request limit reached", Transient: true},
	FailServerError: {status: 500, Code: 2, Type: "OAuthException", Transient: true,
		Message: "An unexpected error has occurred. Please retry your request later."},
	FailPermission: {status: 403, Code: 200, Type: "OAuthException",
		Message: "(#200) Requires pages_messaging permission to manage the object"},
	FailInvalidParam: {status: 400, Code: 100, Type: "OAuthException", Message: "(#100) Invalid parameter"},
	FailUserUnavailable: {status: 400, Code: 551, Subcode: 1545041, Type: "OAuthException",
		Message: "This person isn't available right now.", UserTitle: "Message Not Sent",
		UserMsg: "This person isn't available right now."},
	FailPageRateLimit: {status: 400, Code: 80006, Type: "OAuthException", Transient: true,
		Message: "(#80006) There have been too many messenger api calls to this Page account. Wait a while and try again."},
}

// businessUsage is the X-Business-Use-Case-Usage header of a Page whose Messenger limit is reached for d.
func businessUsage(pageID string, d time.Duration) http.Header {
	minutes := max(int((d+time.Minute-1)/time.Minute), 1)
	v, _ := json.Marshal(map[string][]map[string]any{pageID: {{
		"type": "messenger", "call_count": 100, "total_cputime": 12, "total_time": 14,
		"estimated_time_to_regain_access": minutes,
	}}})
	return http.Header{"X-Business-Use-Case-Usage": {string(v)}}
}

func oauthErr(status, code, subcode int, msg string) *graphError {
	return &graphError{status: status, Code: code, Subcode: subcode, Type: "OAuthException", Message: msg}
}

func paramErr(format string, args ...any) *graphError {
	return &graphError{status: 400, Code: 100, Type: "OAuthException", Message: "(#100) " + fmt.Sprintf(format, args...)}
}

func methodErr(status, code, subcode int, msg string) *graphError {
	return &graphError{status: status, Code: code, Subcode: subcode, Type: "GraphMethodException", Message: msg}
}

var (
	versionRE = regexp.MustCompile(`^v[0-9]+\.[0-9]+$`)
	// messengerFields are the webhook fields a Page subscription accepts.
	messengerFields = []string{
		"message_deliveries", "message_echoes", "message_edits", "message_reactions", "message_reads", "messages",
		"messaging_account_linking", "messaging_feedback", "messaging_game_plays", "messaging_handovers",
		"messaging_optins", "messaging_policy_enforcement", "messaging_postbacks", "messaging_referrals",
		"messaging_seen", "messenger_template_status_update", "response_feedback", "send_cart", "standby",
	}
)

// ServeHTTP answers a Graph request.
func (g *Graph) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	status, body := g.serve(r)
	trace := traceID()
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("X-FB-Trace-ID", trace)
	w.Header().Set("Facebook-API-Version", strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)[0])
	if ge, ok := body.(*graphError); ok {
		for k, v := range ge.header {
			w.Header()[k] = v
		}
		ge.FBTraceID = trace
		if ge.Type == "OAuthException" && ge.Code == 190 {
			w.Header().Set("WWW-Authenticate", `OAuth "Facebook Platform" "invalid_token" "`+ge.Message+`"`)
		}
		body = map[string]any{"error": ge}
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func (g *Graph) serve(r *http.Request) (status int, body any) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	req := Request{Method: r.Method, HTTPMethod: r.Method, Path: r.URL.Path}
	for k := range r.URL.Query() {
		req.URLParams = append(req.URLParams, k)
	}
	slices.Sort(req.URLParams)
	if len(parts) > 1 && parts[1] != "oauth" {
		req.PageID = parts[1]
	}
	var accepted *SentMessage // a message the Send API accepted, for OnSent
	defer func() {
		req.Status = status
		g.mu.Lock()
		g.requests = append(g.requests, req)
		g.mu.Unlock()
		if accepted != nil && g.OnSent != nil {
			g.OnSent(*accepted)
		}
	}()
	answer := func(ge *graphError) (int, any) { return ge.status, ge }

	// The body is read first: only then does the server notice a client that gave up on a slow answer.
	params, ge := formParams(r)
	method := r.Method
	if override := strings.ToUpper(params.Get("method")); method == http.MethodPost && override != "" {
		method = override
		req.Method = method
	}
	if f, ok := g.popFailure(); ok {
		if f != FailSlow {
			ge := failures[f]
			if f == FailPageRateLimit {
				ge.header = businessUsage(req.PageID, g.RegainAccess)
			}
			return answer(&ge)
		}
		select {
		case <-time.After(g.SlowDelay):
		case <-r.Context().Done():
		}
	}
	if len(parts) < 2 || len(parts) > 3 || !versionRE.MatchString(parts[0]) {
		return answer(oauthErr(400, 2500, 0, "Unknown path components: "+r.URL.Path))
	}
	if ge != nil {
		return answer(ge)
	}
	if len(parts) == 3 && parts[1] == "oauth" && parts[2] == "access_token" {
		if method != http.MethodGet && method != http.MethodPost {
			return answer(methodErr(400, 100, 0, "Unsupported "+strings.ToLower(method)+" request."))
		}
		return g.appToken(params)
	}

	g.mu.Lock()
	defer g.mu.Unlock()
	token := params.Get("access_token")
	if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && bearer != "" {
		token, req.Bearer = bearer, true
	}
	if token == "" {
		return answer(oauthErr(400, 104, 0, "An access token is required to request this resource."))
	}
	var owner *page
	for _, p := range g.pages {
		if p.token == token {
			owner = p
		}
	}
	switch {
	case owner == nil:
		return answer(oauthErr(400, 190, 0, "Invalid OAuth access token - Cannot parse access token"))
	case owner.expired:
		return answer(oauthErr(400, 190, 463, "Error validating access token: Session has expired on Friday, "+
			"01-May-26 03:00:00 PDT. The current time is "+time.Now().Format("Monday, 02-Jan-06 15:04:05 MST")+"."))
	}
	proof := params.Get("appsecret_proof")
	switch {
	case proof == "" && g.RequireProof:
		return answer(methodErr(400, 100, 0, "API calls from the server require an appsecret_proof argument"))
	case proof != "" && proof != meta.AppSecretProof(g.AppSecret, token):
		return answer(methodErr(400, 100, 0, "Invalid appsecret_proof provided in the API argument"))
	}

	id := parts[1]
	if id == "me" {
		id, req.PageID = owner.id, owner.id
	}
	p, ok := g.pages[id]
	if !ok {
		return answer(methodErr(400, 100, 33, fmt.Sprintf("Unsupported %s request. Object with ID '%s' does not "+
			"exist, cannot be loaded due to missing permissions, or does not support this operation. Please read "+
			"the Graph API documentation at https://developers.facebook.com/docs/graph-api", strings.ToLower(method), id)))
	}
	if len(parts) == 2 {
		if method != http.MethodGet {
			return answer(methodErr(400, 100, 0, "Unsupported "+strings.ToLower(method)+" request."))
		}
		return g.getPage(p, params)
	}
	if p != owner {
		return answer(oauthErr(403, 210, 0, "(#210) A page access token is required to request this resource."))
	}
	switch edge := parts[2]; {
	case edge == "subscribed_apps" && method == http.MethodPost:
		return g.subscribe(p, params)
	case edge == "subscribed_apps" && method == http.MethodGet:
		apps := []any{}
		if p.fields != nil {
			apps = append(apps, map[string]any{
				"category": "Business", "link": "https://aicc.example/", "name": g.AppName, "id": g.AppID,
				"subscribed_fields": p.fields,
			})
		}
		return 200, map[string]any{"data": apps}
	case edge == "subscribed_apps" && method == http.MethodDelete:
		p.fields = nil
		return 200, map[string]bool{"success": true}
	case edge == "messages" && method == http.MethodPost:
		if status, body = g.send(p, params); status == http.StatusOK {
			m := g.sent[len(g.sent)-1]
			accepted = &m
		}
		return status, body
	case edge == "subscribed_apps" || edge == "messages":
		return answer(methodErr(400, 100, 0, "Unsupported "+strings.ToLower(method)+" request."))
	}
	return answer(oauthErr(400, 2500, 0, "Unknown path components: /"+parts[2]))
}

func (g *Graph) popFailure() (Failure, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.failures) == 0 {
		return "", false
	}
	f := g.failures[0]
	g.failures = g.failures[1:]
	return f, true
}

// formParams merges the query with a form or JSON body, both of which Graph accepts, whatever the method: a
// DELETE may carry a body too.
func formParams(r *http.Request) (url.Values, *graphError) {
	q := r.URL.Query()
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		var body map[string]json.RawMessage
		if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20)).Decode(&body); err != nil {
			return nil, paramErr("Invalid JSON body")
		}
		for k, v := range body {
			var s string
			if json.Unmarshal(v, &s) != nil {
				s = string(v) // objects such as recipient and message travel as their JSON
			}
			q.Set(k, s)
		}
	case "application/x-www-form-urlencoded":
		b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 1<<20))
		if err != nil {
			return nil, paramErr("Invalid request body")
		}
		form, err := url.ParseQuery(string(b))
		if err != nil {
			return nil, paramErr("Invalid request body")
		}
		for k, v := range form {
			q[k] = v // the body wins, as Graph's does
		}
	}
	return q, nil
}

// appToken answers the app credentials grant: an app access token for a client_id and its client_secret, and
// Meta's refusals otherwise.
func (g *Graph) appToken(params url.Values) (int, any) {
	fail := func(ge *graphError) (int, any) { return ge.status, ge }
	if gt := params.Get("grant_type"); gt != "client_credentials" {
		return fail(paramErr("Invalid grant_type: '%s'. Supported types: client_credentials, fb_exchange_token", gt))
	}
	id := params.Get("client_id")
	g.mu.Lock()
	secret, ok := g.apps[id]
	if id == g.AppID {
		secret, ok = g.AppSecret, true
	}
	g.mu.Unlock()
	if !ok && g.AcceptUnknownApps && id != "" {
		secret, ok = params.Get("client_secret"), true
	}
	switch {
	case !ok:
		return fail(oauthErr(400, 101, 0, "Error validating application. Invalid application ID."))
	case params.Get("client_secret") != secret:
		return fail(oauthErr(400, 1, 0, "Error validating client secret."))
	}
	return 200, map[string]string{"access_token": params.Get("client_id") + "|" + randomString(27), "token_type": "bearer"}
}

func (g *Graph) getPage(p *page, params url.Values) (int, any) {
	fields := params.Get("fields")
	if fields == "" {
		fields = "name,id"
	}
	out := map[string]string{}
	for f := range strings.SplitSeq(fields, ",") {
		switch f = strings.TrimSpace(f); f {
		case "id":
			out["id"] = p.id
		case "name":
			out["name"] = p.name
		default:
			ge := paramErr("Tried accessing nonexisting field (%s) on node type (Page)", f)
			return ge.status, ge
		}
	}
	return 200, out
}

func (g *Graph) subscribe(p *page, params url.Values) (int, any) {
	raw := params.Get("subscribed_fields")
	var fields []string
	if json.Unmarshal([]byte(raw), &fields) != nil {
		fields = strings.Split(raw, ",")
	}
	if raw == "" {
		ge := paramErr("The parameter subscribed_fields is required.")
		return ge.status, ge
	}
	var got []string
	for i, f := range fields {
		f = strings.TrimSpace(f)
		if !slices.Contains(messengerFields, f) {
			ge := paramErr("Param subscribed_fields[%d] must be one of {%s} - got \"%s\".", i, strings.Join(messengerFields, ", "), f)
			return ge.status, ge
		}
		if !slices.Contains(got, f) {
			got = append(got, f)
		}
	}
	p.fields = got
	return 200, map[string]bool{"success": true}
}

func (g *Graph) send(p *page, params url.Values) (int, any) {
	fail := func(ge *graphError) (int, any) { return ge.status, ge }
	var recipient struct{ ID string }
	if json.Unmarshal([]byte(params.Get("recipient")), &recipient) != nil || recipient.ID == "" {
		return fail(paramErr("param recipient must be non-empty."))
	}
	mt, tag := params.Get("messaging_type"), params.Get("tag")
	switch mt {
	case "RESPONSE", "UPDATE":
	case "MESSAGE_TAG":
		if tag == "" {
			return fail(paramErr("Tag is required for MESSAGE_TAG messaging type."))
		}
		if tag != "HUMAN_AGENT" && tag != "CUSTOMER_FEEDBACK" {
			// Meta retired ACCOUNT_UPDATE, CONFIRMED_EVENT_UPDATE and POST_PURCHASE_UPDATE on 2026-04-27.
			return fail(paramErr("Param tag must be one of {HUMAN_AGENT, CUSTOMER_FEEDBACK} - got \"%s\".", tag))
		}
	default:
		return fail(paramErr("param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG} - got \"%s\".", mt))
	}
	var message struct{ Text, Metadata string }
	if json.Unmarshal([]byte(params.Get("message")), &message) != nil || message.Text == "" {
		return fail(paramErr("param message must be non-empty."))
	}
	if utf8.RuneCountInString(message.Text) > 2000 {
		return fail(paramErr("Length of param message[text] must be less than or equal to 2000"))
	}
	if utf8.RuneCountInString(message.Metadata) > 1000 {
		return fail(paramErr("Length of param message[metadata] must be less than or equal to 1000"))
	}
	m := SentMessage{
		PageID: p.id, RecipientID: recipient.ID, MessagingType: mt, Tag: tag, Text: message.Text,
		MessageID: "m_" + randomString(48), Metadata: message.Metadata, At: time.Now(),
	}
	g.sent = append(g.sent, m)
	return 200, map[string]string{"recipient_id": m.RecipientID, "message_id": m.MessageID}
}

func traceID() string { return randomString(11) }

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}

// GraphServer is a fake Graph listening on 127.0.0.1.
type GraphServer struct {
	*Graph
	URL    string // base URL for meta.Client.BaseURL
	Server *httptest.Server
	// CertPEM is the TLS server's self-signed certificate, PEM-encoded; it is in no system root store, so a
	// client trusts it only once it is "uploaded" (meta.NewTLSConfig). Empty for a plain HTTP server.
	CertPEM []byte
}

// NewGraphServer starts a fake Graph over plain HTTP for the app with the given secret; it stops with the test.
func NewGraphServer(tb testing.TB, appSecret string) *GraphServer {
	tb.Helper()
	g := NewGraph(appSecret)
	srv := httptest.NewServer(g)
	tb.Cleanup(srv.Close)
	return &GraphServer{Graph: g, URL: srv.URL, Server: srv}
}

// NewTLSGraphServer starts a fake Graph over HTTPS with a certificate no system trusts.
func NewTLSGraphServer(tb testing.TB, appSecret string) *GraphServer {
	tb.Helper()
	g := NewGraph(appSecret)
	srv := httptest.NewTLSServer(g)
	tb.Cleanup(srv.Close)
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	return &GraphServer{Graph: g, URL: srv.URL, Server: srv, CertPEM: cert}
}
